//! FreeBSD errno numbers in, the numbers UAPI clients expect out.
//!
//! The kernel behind the control door is FreeBSD's if_wg, so its answers
//! carry FreeBSD's errno values (`struct kh_ctl_resp.error`). A UAPI
//! answer carries Linux's: wireguard-go on Linux writes
//! `errno=-EADDRINUSE` as -98, and wg(8) on Linux prints
//! `strerror(98)`. 1..=34 agree (except 11: EDEADLK on FreeBSD, EAGAIN
//! on Linux); from 35 on the two systems numbered independently. A
//! FreeBSD value with no Linux counterpart (EAUTH, ECAPMODE, ...) becomes
//! 55 (ENOANO), wireguard-go's `IpcErrorUnknown`.

/// wireguard-go's `IpcErrorUnknown`: a literal 55 (Linux's ENOANO).
pub const UNKNOWN: i32 = 55;

/// (FreeBSD value, Linux value) for every FreeBSD errno up to
/// ELAST (97) that differs from Linux's or has no counterpart there
/// (second value [`UNKNOWN`]). Values 1..=34 not listed are equal.
const TABLE: &[(i32, i32)] = &[
    (11, 35),      // EDEADLK
    (35, 11),      // EAGAIN, EWOULDBLOCK
    (36, 115),     // EINPROGRESS
    (37, 114),     // EALREADY
    (38, 88),      // ENOTSOCK
    (39, 89),      // EDESTADDRREQ
    (40, 90),      // EMSGSIZE
    (41, 91),      // EPROTOTYPE
    (42, 92),      // ENOPROTOOPT
    (43, 93),      // EPROTONOSUPPORT
    (44, 94),      // ESOCKTNOSUPPORT
    (45, 95),      // EOPNOTSUPP, ENOTSUP
    (46, 96),      // EPFNOSUPPORT
    (47, 97),      // EAFNOSUPPORT
    (48, 98),      // EADDRINUSE
    (49, 99),      // EADDRNOTAVAIL
    (50, 100),     // ENETDOWN
    (51, 101),     // ENETUNREACH
    (52, 102),     // ENETRESET
    (53, 103),     // ECONNABORTED
    (54, 104),     // ECONNRESET
    (55, 105),     // ENOBUFS
    (56, 106),     // EISCONN
    (57, 107),     // ENOTCONN
    (58, 108),     // ESHUTDOWN
    (59, 109),     // ETOOMANYREFS
    (60, 110),     // ETIMEDOUT
    (61, 111),     // ECONNREFUSED
    (62, 40),      // ELOOP
    (63, 36),      // ENAMETOOLONG
    (64, 112),     // EHOSTDOWN
    (65, 113),     // EHOSTUNREACH
    (66, 39),      // ENOTEMPTY
    (67, UNKNOWN), // EPROCLIM
    (68, 87),      // EUSERS
    (69, 122),     // EDQUOT
    (70, 116),     // ESTALE
    (71, 66),      // EREMOTE
    (72, UNKNOWN), // EBADRPC
    (73, UNKNOWN), // ERPCMISMATCH
    (74, UNKNOWN), // EPROGUNAVAIL
    (75, UNKNOWN), // EPROGMISMATCH
    (76, UNKNOWN), // EPROCUNAVAIL
    (77, 37),      // ENOLCK
    (78, 38),      // ENOSYS
    (79, UNKNOWN), // EFTYPE
    (80, UNKNOWN), // EAUTH
    (81, UNKNOWN), // ENEEDAUTH
    (82, 43),      // EIDRM
    (83, 42),      // ENOMSG
    (84, 75),      // EOVERFLOW
    (85, 125),     // ECANCELED
    (86, 84),      // EILSEQ
    (87, 61),      // ENOATTR (Linux's ENODATA, what getxattr answers)
    (88, UNKNOWN), // EDOOFUS
    (89, 74),      // EBADMSG
    (90, 72),      // EMULTIHOP
    (91, 67),      // ENOLINK
    (92, 71),      // EPROTO
    (93, UNKNOWN), // ENOTCAPABLE
    (94, UNKNOWN), // ECAPMODE
    (95, 131),     // ENOTRECOVERABLE
    (96, 130),     // EOWNERDEAD
    (97, UNKNOWN), // EINTEGRITY
];

/// The Linux errno for FreeBSD's `freebsd` (positive; 0 stays 0). Values
/// FreeBSD does not define (negative, or above ELAST) are [`UNKNOWN`].
pub fn to_linux(freebsd: i32) -> i32 {
    if let Some(&(_, linux)) = TABLE.iter().find(|(f, _)| *f == freebsd) {
        return linux;
    }
    match freebsd {
        0..=34 => freebsd,
        _ => UNKNOWN,
    }
}

/// The "errno=N" value of a UAPI answer for the kernel's `freebsd`:
/// negative, as wireguard-go writes it.
pub fn uapi_value(freebsd: i32) -> i64 {
    -i64::from(to_linux(freebsd))
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
    }

    #[test]
    fn table_is_sane() {
        // Each FreeBSD value once, every one of 35..=97 present.
        for (i, (f, _)) in TABLE.iter().enumerate() {
            assert!(TABLE[i + 1..].iter().all(|(g, _)| g != f), "{f} twice");
        }
        for f in 35..=97 {
            assert!(TABLE.iter().any(|(g, _)| *g == f), "{f} missing");
        }
        // No two FreeBSD values share a real Linux value.
        for (i, (_, l)) in TABLE.iter().enumerate() {
            if *l != UNKNOWN {
                assert!(TABLE[i + 1..].iter().all(|(_, m)| m != l), "{l} twice");
            }
        }
    }

    /// Where we build, the right-hand column is the host's own numbering.
    #[cfg(target_os = "linux")]
    #[test]
    fn linux_column_matches_libc() {
        use libc::*;
        for (freebsd, linux) in [
            (11, EDEADLK),
            (35, EAGAIN),
            (36, EINPROGRESS),
            (37, EALREADY),
            (38, ENOTSOCK),
            (39, EDESTADDRREQ),
            (40, EMSGSIZE),
            (41, EPROTOTYPE),
            (42, ENOPROTOOPT),
            (43, EPROTONOSUPPORT),
            (44, ESOCKTNOSUPPORT),
            (45, EOPNOTSUPP),
            (45, ENOTSUP),
            (46, EPFNOSUPPORT),
            (47, EAFNOSUPPORT),
            (48, EADDRINUSE),
            (49, EADDRNOTAVAIL),
            (50, ENETDOWN),
            (51, ENETUNREACH),
            (52, ENETRESET),
            (53, ECONNABORTED),
            (54, ECONNRESET),
            (55, ENOBUFS),
            (56, EISCONN),
            (57, ENOTCONN),
            (58, ESHUTDOWN),
            (59, ETOOMANYREFS),
            (60, ETIMEDOUT),
            (61, ECONNREFUSED),
            (62, ELOOP),
            (63, ENAMETOOLONG),
            (64, EHOSTDOWN),
            (65, EHOSTUNREACH),
            (66, ENOTEMPTY),
            (68, EUSERS),
            (69, EDQUOT),
            (70, ESTALE),
            (71, EREMOTE),
            (77, ENOLCK),
            (78, ENOSYS),
            (82, EIDRM),
            (83, ENOMSG),
            (84, EOVERFLOW),
            (85, ECANCELED),
            (86, EILSEQ),
            (87, ENODATA),
            (89, EBADMSG),
            (90, EMULTIHOP),
            (91, ENOLINK),
            (92, EPROTO),
            (95, ENOTRECOVERABLE),
            (96, EOWNERDEAD),
            (1, EPERM),
            (2, ENOENT),
            (6, ENXIO),
            (7, E2BIG),
            (14, EFAULT),
            (22, EINVAL),
            (28, ENOSPC),
        ] {
            assert_eq!(to_linux(freebsd), linux, "FreeBSD errno {freebsd}");
        }
        assert_eq!(UNKNOWN, ENOANO);
    }
}
