//! FreeBSD's errno numbers, as the door answers them, and what they are
//! on Linux.
//!
//! The kernel behind the control door is FreeBSD's if_wg, so its answers
//! carry FreeBSD's errno values (`struct kh_ctl_resp.error`). 1..=34
//! agree with Linux (except 11: EDEADLK on FreeBSD, EAGAIN on Linux);
//! from 35 on the two systems numbered independently, and some of
//! FreeBSD's errors have no Linux counterpart (EAUTH, ECAPMODE, ...).
//!
//! Two users: a UAPI answer carries Linux's number ([`to_linux`],
//! [`uapi_value`]: wireguard-go on Linux writes `errno=-EADDRINUSE` as
//! -98; a FreeBSD-only error becomes 55, wireguard-go's
//! `IpcErrorUnknown`); wg(8)'s messages want the host's error
//! ([`host_error`]: the same errno on FreeBSD and Linux, FreeBSD's own
//! strerror text for a FreeBSD-only one).

use std::io;

/// wireguard-go's `IpcErrorUnknown`: a literal 55 (Linux's ENOANO).
pub const UNKNOWN: i32 = 55;

/// One FreeBSD errno value (sys/sys/errno.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno {
    /// FreeBSD's number.
    pub freebsd: i32,
    /// FreeBSD's name.
    pub name: &'static str,
    /// Linux's number for the same error; [`UNKNOWN`] for one Linux does
    /// not have, or the nearest one (ENOATTR: ENODATA, what getxattr(2)
    /// answers).
    pub linux: i32,
    /// FreeBSD's strerror text (lib/libc/gen/errlst.c) when Linux has no
    /// error of this name; `None`: Linux's is the same error.
    pub freebsd_only: Option<&'static str>,
}

const fn e(freebsd: i32, name: &'static str, linux: i32) -> Errno {
    Errno {
        freebsd,
        name,
        linux,
        freebsd_only: None,
    }
}

const fn only(freebsd: i32, name: &'static str, linux: i32, text: &'static str) -> Errno {
    Errno {
        freebsd,
        name,
        linux,
        freebsd_only: Some(text),
    }
}

/// FreeBSD's errno values 1..=ELAST (97), in order.
pub const TABLE: &[Errno] = &[
    e(1, "EPERM", 1),
    e(2, "ENOENT", 2),
    e(3, "ESRCH", 3),
    e(4, "EINTR", 4),
    e(5, "EIO", 5),
    e(6, "ENXIO", 6),
    e(7, "E2BIG", 7),
    e(8, "ENOEXEC", 8),
    e(9, "EBADF", 9),
    e(10, "ECHILD", 10),
    e(11, "EDEADLK", 35),
    e(12, "ENOMEM", 12),
    e(13, "EACCES", 13),
    e(14, "EFAULT", 14),
    e(15, "ENOTBLK", 15),
    e(16, "EBUSY", 16),
    e(17, "EEXIST", 17),
    e(18, "EXDEV", 18),
    e(19, "ENODEV", 19),
    e(20, "ENOTDIR", 20),
    e(21, "EISDIR", 21),
    e(22, "EINVAL", 22),
    e(23, "ENFILE", 23),
    e(24, "EMFILE", 24),
    e(25, "ENOTTY", 25),
    e(26, "ETXTBSY", 26),
    e(27, "EFBIG", 27),
    e(28, "ENOSPC", 28),
    e(29, "ESPIPE", 29),
    e(30, "EROFS", 30),
    e(31, "EMLINK", 31),
    e(32, "EPIPE", 32),
    e(33, "EDOM", 33),
    e(34, "ERANGE", 34),
    e(35, "EAGAIN", 11), // = EWOULDBLOCK
    e(36, "EINPROGRESS", 115),
    e(37, "EALREADY", 114),
    e(38, "ENOTSOCK", 88),
    e(39, "EDESTADDRREQ", 89),
    e(40, "EMSGSIZE", 90),
    e(41, "EPROTOTYPE", 91),
    e(42, "ENOPROTOOPT", 92),
    e(43, "EPROTONOSUPPORT", 93),
    e(44, "ESOCKTNOSUPPORT", 94),
    e(45, "EOPNOTSUPP", 95), // = ENOTSUP
    e(46, "EPFNOSUPPORT", 96),
    e(47, "EAFNOSUPPORT", 97),
    e(48, "EADDRINUSE", 98),
    e(49, "EADDRNOTAVAIL", 99),
    e(50, "ENETDOWN", 100),
    e(51, "ENETUNREACH", 101),
    e(52, "ENETRESET", 102),
    e(53, "ECONNABORTED", 103),
    e(54, "ECONNRESET", 104),
    e(55, "ENOBUFS", 105),
    e(56, "EISCONN", 106),
    e(57, "ENOTCONN", 107),
    e(58, "ESHUTDOWN", 108),
    e(59, "ETOOMANYREFS", 109),
    e(60, "ETIMEDOUT", 110),
    e(61, "ECONNREFUSED", 111),
    e(62, "ELOOP", 40),
    e(63, "ENAMETOOLONG", 36),
    e(64, "EHOSTDOWN", 112),
    e(65, "EHOSTUNREACH", 113),
    e(66, "ENOTEMPTY", 39),
    only(67, "EPROCLIM", UNKNOWN, "Too many processes"),
    e(68, "EUSERS", 87),
    e(69, "EDQUOT", 122),
    e(70, "ESTALE", 116),
    e(71, "EREMOTE", 66),
    only(72, "EBADRPC", UNKNOWN, "RPC struct is bad"),
    only(73, "ERPCMISMATCH", UNKNOWN, "RPC version wrong"),
    only(74, "EPROGUNAVAIL", UNKNOWN, "RPC program not available"),
    only(75, "EPROGMISMATCH", UNKNOWN, "Program version wrong"),
    only(76, "EPROCUNAVAIL", UNKNOWN, "Bad procedure for program"),
    e(77, "ENOLCK", 37),
    e(78, "ENOSYS", 38),
    only(79, "EFTYPE", UNKNOWN, "Inappropriate file type or format"),
    only(80, "EAUTH", UNKNOWN, "Authentication error"),
    only(81, "ENEEDAUTH", UNKNOWN, "Need authenticator"),
    e(82, "EIDRM", 43),
    e(83, "ENOMSG", 42),
    e(84, "EOVERFLOW", 75),
    e(85, "ECANCELED", 125),
    e(86, "EILSEQ", 84),
    // Linux's ENODATA (61) is what getxattr(2) answers there.
    only(87, "ENOATTR", 61, "Attribute not found"),
    only(88, "EDOOFUS", UNKNOWN, "Programming error"),
    e(89, "EBADMSG", 74),
    e(90, "EMULTIHOP", 72),
    e(91, "ENOLINK", 67),
    e(92, "EPROTO", 71),
    only(93, "ENOTCAPABLE", UNKNOWN, "Capabilities insufficient"),
    only(94, "ECAPMODE", UNKNOWN, "Not permitted in capability mode"),
    e(95, "ENOTRECOVERABLE", 131),
    e(96, "EOWNERDEAD", 130),
    only(97, "EINTEGRITY", UNKNOWN, "Integrity check failed"),
];

/// FreeBSD's errno `freebsd`, if FreeBSD defines it.
pub fn lookup(freebsd: i32) -> Option<&'static Errno> {
    usize::try_from(freebsd)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| TABLE.get(i))
}

/// The Linux errno for FreeBSD's `freebsd` (positive; 0 stays 0). Values
/// FreeBSD does not define (negative, or above ELAST) are [`UNKNOWN`].
pub fn to_linux(freebsd: i32) -> i32 {
    match lookup(freebsd) {
        Some(e) => e.linux,
        None if freebsd == 0 => 0,
        None => UNKNOWN,
    }
}

/// The "errno=N" value of a UAPI answer for the kernel's `freebsd`:
/// negative, as wireguard-go writes it.
pub fn uapi_value(freebsd: i32) -> i64 {
    -i64::from(to_linux(freebsd))
}

/// The host's error for FreeBSD's errno `n` (positive) from the door, so
/// that a message reads as wg(8) on FreeBSD prints it (same errno, this
/// libc's text; FreeBSD's text for an error only FreeBSD has).
pub fn host_error(n: i32) -> io::Error {
    // At home the numbers are the host's.
    #[cfg(target_os = "freebsd")]
    return io::Error::from_raw_os_error(n);
    #[cfg(not(target_os = "freebsd"))]
    match lookup(n) {
        Some(Errno {
            freebsd_only: Some(text),
            ..
        }) => io::Error::other(*text),
        #[cfg(target_os = "linux")]
        Some(e) => io::Error::from_raw_os_error(e.linux),
        // Neither FreeBSD nor Linux: no numbers known for this host.
        #[cfg(not(target_os = "linux"))]
        Some(e) => io::Error::other(e.name),
        // FreeBSD's strerror for a number it does not define.
        None => io::Error::other(format!("Unknown error: {n}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_the_bridge_meets() {
        for (freebsd, linux) in [
            (0, 0),
            (1, 1),   // EPERM
            (2, 2),   // ENOENT
            (6, 6),   // ENXIO
            (7, 7),   // E2BIG
            (12, 12), // ENOMEM
            (14, 14), // EFAULT
            (17, 17), // EEXIST
            (22, 22), // EINVAL
            (28, 28), // ENOSPC
            (45, 95), // EOPNOTSUPP = ENOTSUP
            (48, 98), // EADDRINUSE
            (49, 99), // EADDRNOTAVAIL
            (89, 74), // EBADMSG
            (92, 71), // EPROTO
            (35, 11), // EAGAIN
            (11, 35), // EDEADLK
            (87, 61), // ENOATTR: ENODATA
        ] {
            assert_eq!(to_linux(freebsd), linux, "FreeBSD errno {freebsd}");
        }
        assert_eq!(uapi_value(48), -98);
        assert_eq!(uapi_value(0), 0);
    }

    #[test]
    fn unknown_values() {
        for v in [-1, 98, 200, i32::MIN, i32::MAX, 80, 97] {
            assert_eq!(to_linux(v), UNKNOWN, "FreeBSD errno {v}");
        }
        assert_eq!(lookup(0), None);
        assert_eq!(lookup(98), None);
        assert_eq!(lookup(-1), None);
        assert_eq!(lookup(48).unwrap().name, "EADDRINUSE");
    }

    #[test]
    fn table_is_sane() {
        // Every value once, in order, up to ELAST.
        assert_eq!(TABLE.len(), 97);
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.freebsd, i as i32 + 1);
            assert!(e.name.starts_with('E'), "{}", e.name);
            // No counterpart on Linux: FreeBSD's own text.
            if e.linux == UNKNOWN {
                assert!(e.freebsd_only.is_some(), "{}", e.name);
            }
        }
        // 1..=34 agree, but for EDEADLK.
        for e in &TABLE[..34] {
            assert!(e.linux == e.freebsd || e.freebsd == 11, "{}", e.name);
        }
        // No two FreeBSD values share a real Linux value.
        for (i, e) in TABLE.iter().enumerate() {
            if e.linux != UNKNOWN {
                assert!(
                    TABLE[i + 1..].iter().all(|f| f.linux != e.linux),
                    "{} twice",
                    e.linux
                );
            }
        }
    }

    /// Where we build, the Linux column is the host's own numbering, name
    /// for name.
    #[cfg(target_os = "linux")]
    #[test]
    fn linux_column_matches_libc() {
        use libc::*;
        let same = [
            EPERM,
            ENOENT,
            ESRCH,
            EINTR,
            EIO,
            ENXIO,
            E2BIG,
            ENOEXEC,
            EBADF,
            ECHILD,
            EDEADLK,
            ENOMEM,
            EACCES,
            EFAULT,
            ENOTBLK,
            EBUSY,
            EEXIST,
            EXDEV,
            ENODEV,
            ENOTDIR,
            EISDIR,
            EINVAL,
            ENFILE,
            EMFILE,
            ENOTTY,
            ETXTBSY,
            EFBIG,
            ENOSPC,
            ESPIPE,
            EROFS,
            EMLINK,
            EPIPE,
            EDOM,
            ERANGE,
            EAGAIN,
            EINPROGRESS,
            EALREADY,
            ENOTSOCK,
            EDESTADDRREQ,
            EMSGSIZE,
            EPROTOTYPE,
            ENOPROTOOPT,
            EPROTONOSUPPORT,
            ESOCKTNOSUPPORT,
            EOPNOTSUPP,
            EPFNOSUPPORT,
            EAFNOSUPPORT,
            EADDRINUSE,
            EADDRNOTAVAIL,
            ENETDOWN,
            ENETUNREACH,
            ENETRESET,
            ECONNABORTED,
            ECONNRESET,
            ENOBUFS,
            EISCONN,
            ENOTCONN,
            ESHUTDOWN,
            ETOOMANYREFS,
            ETIMEDOUT,
            ECONNREFUSED,
            ELOOP,
            ENAMETOOLONG,
            EHOSTDOWN,
            EHOSTUNREACH,
            ENOTEMPTY,
            -1, // EPROCLIM
            EUSERS,
            EDQUOT,
            ESTALE,
            EREMOTE,
            -1, // EBADRPC
            -1, // ERPCMISMATCH
            -1, // EPROGUNAVAIL
            -1, // EPROGMISMATCH
            -1, // EPROCUNAVAIL
            ENOLCK,
            ENOSYS,
            -1, // EFTYPE
            -1, // EAUTH
            -1, // ENEEDAUTH
            EIDRM,
            ENOMSG,
            EOVERFLOW,
            ECANCELED,
            EILSEQ,
            -1, // ENOATTR
            -1, // EDOOFUS
            EBADMSG,
            EMULTIHOP,
            ENOLINK,
            EPROTO,
            -1, // ENOTCAPABLE
            -1, // ECAPMODE
            ENOTRECOVERABLE,
            EOWNERDEAD,
            -1, // EINTEGRITY
        ];
        assert_eq!(same.len(), TABLE.len());
        for (e, &host) in TABLE.iter().zip(&same) {
            if host == -1 {
                assert!(e.freebsd_only.is_some(), "{}", e.name);
            } else {
                assert_eq!((e.linux, e.freebsd_only), (host, None), "{}", e.name);
            }
        }
        assert_eq!(to_linux(45), ENOTSUP);
        assert_eq!(to_linux(87), ENODATA);
        assert_eq!(UNKNOWN, ENOANO);
    }

    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    #[test]
    fn freebsd_errnos_on_this_host() {
        for (freebsd, host) in [
            (1, libc::EPERM),
            (2, libc::ENOENT),
            (6, libc::ENXIO),
            (7, libc::E2BIG),
            (11, libc::EDEADLK),
            (12, libc::ENOMEM),
            (14, libc::EFAULT),
            (22, libc::EINVAL),
            (28, libc::ENOSPC),
            (35, libc::EAGAIN),
            (45, libc::EOPNOTSUPP),
            (48, libc::EADDRINUSE),
            (49, libc::EADDRNOTAVAIL),
            (89, libc::EBADMSG),
            (92, libc::EPROTO),
        ] {
            assert_eq!(
                host_error(freebsd).raw_os_error(),
                Some(host),
                "FreeBSD errno {freebsd}"
            );
        }
        #[cfg(not(target_os = "freebsd"))]
        {
            let e = host_error(80);
            assert_eq!(
                (e.raw_os_error(), e.to_string()),
                (None, "Authentication error".into())
            );
            assert_eq!(host_error(87).to_string(), "Attribute not found");
            assert_eq!(host_error(200).to_string(), "Unknown error: 200");
            assert_eq!(host_error(-1).to_string(), "Unknown error: -1");
        }
    }
}
