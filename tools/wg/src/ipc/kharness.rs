//! kharness's control door as the FreeBSD backend's ioctl(2): with
//! `WG_KHARNESS_SOCKET=PATH`, the SIOCGWG/SIOCSWG/SIOCGIFGMEMB calls of
//! freebsd.rs (its size negotiations, nvlist encoding, errno handling,
//! listing) go to kmod/if_wg.c running in kharness (kmod/harness/), the
//! module's code in a userspace model of the FreeBSD kernel, instead of
//! to a FreeBSD kernel. On Linux this is how our FreeBSD backend runs for
//! real; on FreeBSD without the variable nothing changes.
//!
//! The door speaks kmod/harness/ctl.h (mirrored for the bridge in
//! kmod/harness/uapi/src/ctl.rs; the few lines of framing are repeated
//! here rather than shared, as the bridge depends on this crate's
//! neighbours, not the other way round): a 48-byte request header
//! (little-endian, magic "khw1"), then the caller's buffer; a 24-byte
//! answer header, then that buffer as the kernel left it. The door runs
//! `wg_ioctl` with the buffer as user memory, so `wgd_size`, a NULL
//! `wgd_data` and the errors are the kernel's own, in FreeBSD's
//! numbering: [`host_error`] turns them into the host's errno, so that a
//! message reads as wg(8) on FreeBSD prints it (same errno, this libc's
//! text).
//!
//! What is modelled rather than passed through:
//! - SIOCGIFGMEMB: the door lists group "wg" as NUL-ended names
//!   (KH_CTL_LIST); [`Door::group_members`] gives them to freebsd.rs as
//!   FreeBSD's `ifg_req` records with FreeBSD's rules (size query, EINVAL
//!   when the buffer is short, ENOENT for an empty group).
//! - The credential: as FreeBSD's priv_check(PRIV_NET_WG) fails for a
//!   process without root, a caller whose effective uid is not 0 asks
//!   unprivileged (KH_CTL_F_UNPRIV): no private or preshared keys in
//!   answers, EPERM for SIOCSWG.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use wg_core::config::{DeviceInfo, DeviceUpdate};

use super::freebsd;

/// The environment variable that names the door.
pub const SOCKET_ENV: &str = "WG_KHARNESS_SOCKET";

/// The door named by `WG_KHARNESS_SOCKET`, if it names one.
pub fn door_from_env() -> Option<PathBuf> {
    door_from(std::env::var_os(SOCKET_ENV))
}

fn door_from(v: Option<OsString>) -> Option<PathBuf> {
    v.filter(|v| !v.is_empty()).map(PathBuf::from)
}

const MAGIC: u32 = 0x3177_686b; // "khw1"
const NAMSIZ: usize = 16; // IFNAMSIZ
/// The door's own limit on a buffer (KH_CTL_BUFMAX).
const BUFMAX: u64 = 64 << 20;
const REQ_LEN: usize = 48;
const RESP_LEN: usize = 24;

/// `enum kh_ctl_op`: the operations we send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Op {
    SiocSwg = 1,
    SiocGwg = 2,
    List = 3,
}

/// Caller lacks PRIV_NET_WG.
const F_UNPRIV: u32 = 0x1;
/// `wgd_data` is NULL (not the buffer).
const F_NULLDATA: u32 = 0x2;

/// The `sizeof(struct ifg_req)` records SIOCGIFGMEMB fills.
const IFG_REQ_LEN: usize = 16;

/// FreeBSD's errno numbers, as far as `wg_ioctl` and the door can answer.
mod fbsd {
    pub const EINVAL: i32 = 22;
    pub const ENOENT: i32 = 2;
}

/// What a FreeBSD errno is on this host.
#[cfg(not(target_os = "freebsd"))]
enum Host {
    /// The same error under this host's number.
    Errno(i32),
    /// FreeBSD's own error: no counterpart here, so FreeBSD's strerror.
    Text(&'static str),
}

/// FreeBSD's errno values 1..=ELAST (97), from sys/sys/errno.h, with the
/// host's constant of the same name or, for those only FreeBSD has,
/// FreeBSD's strerror text (lib/libc/gen/errlst.c).
#[cfg(not(target_os = "freebsd"))]
const TABLE: &[(i32, Host)] = {
    use libc::*;
    use Host::{Errno as E, Text as T};
    &[
        (1, E(EPERM)),
        (2, E(ENOENT)),
        (3, E(ESRCH)),
        (4, E(EINTR)),
        (5, E(EIO)),
        (6, E(ENXIO)),
        (7, E(E2BIG)),
        (8, E(ENOEXEC)),
        (9, E(EBADF)),
        (10, E(ECHILD)),
        (11, E(EDEADLK)),
        (12, E(ENOMEM)),
        (13, E(EACCES)),
        (14, E(EFAULT)),
        (15, E(ENOTBLK)),
        (16, E(EBUSY)),
        (17, E(EEXIST)),
        (18, E(EXDEV)),
        (19, E(ENODEV)),
        (20, E(ENOTDIR)),
        (21, E(EISDIR)),
        (22, E(EINVAL)),
        (23, E(ENFILE)),
        (24, E(EMFILE)),
        (25, E(ENOTTY)),
        (26, E(ETXTBSY)),
        (27, E(EFBIG)),
        (28, E(ENOSPC)),
        (29, E(ESPIPE)),
        (30, E(EROFS)),
        (31, E(EMLINK)),
        (32, E(EPIPE)),
        (33, E(EDOM)),
        (34, E(ERANGE)),
        (35, E(EAGAIN)),
        (36, E(EINPROGRESS)),
        (37, E(EALREADY)),
        (38, E(ENOTSOCK)),
        (39, E(EDESTADDRREQ)),
        (40, E(EMSGSIZE)),
        (41, E(EPROTOTYPE)),
        (42, E(ENOPROTOOPT)),
        (43, E(EPROTONOSUPPORT)),
        (44, E(ESOCKTNOSUPPORT)),
        (45, E(EOPNOTSUPP)),
        (46, E(EPFNOSUPPORT)),
        (47, E(EAFNOSUPPORT)),
        (48, E(EADDRINUSE)),
        (49, E(EADDRNOTAVAIL)),
        (50, E(ENETDOWN)),
        (51, E(ENETUNREACH)),
        (52, E(ENETRESET)),
        (53, E(ECONNABORTED)),
        (54, E(ECONNRESET)),
        (55, E(ENOBUFS)),
        (56, E(EISCONN)),
        (57, E(ENOTCONN)),
        (58, E(ESHUTDOWN)),
        (59, E(ETOOMANYREFS)),
        (60, E(ETIMEDOUT)),
        (61, E(ECONNREFUSED)),
        (62, E(ELOOP)),
        (63, E(ENAMETOOLONG)),
        (64, E(EHOSTDOWN)),
        (65, E(EHOSTUNREACH)),
        (66, E(ENOTEMPTY)),
        (67, T("Too many processes")),
        (68, E(EUSERS)),
        (69, E(EDQUOT)),
        (70, E(ESTALE)),
        (71, E(EREMOTE)),
        (72, T("RPC struct is bad")),
        (73, T("RPC version wrong")),
        (74, T("RPC program not available")),
        (75, T("Program version wrong")),
        (76, T("Bad procedure for program")),
        (77, E(ENOLCK)),
        (78, E(ENOSYS)),
        (79, T("Inappropriate file type or format")),
        (80, T("Authentication error")),
        (81, T("Need authenticator")),
        (82, E(EIDRM)),
        (83, E(ENOMSG)),
        (84, E(EOVERFLOW)),
        (85, E(ECANCELED)),
        (86, E(EILSEQ)),
        (87, T("Attribute not found")), // ENOATTR
        (88, T("Programming error")),   // EDOOFUS
        (89, E(EBADMSG)),
        (90, E(EMULTIHOP)),
        (91, E(ENOLINK)),
        (92, E(EPROTO)),
        (93, T("Capabilities insufficient")),
        (94, T("Not permitted in capability mode")),
        (95, E(ENOTRECOVERABLE)),
        (96, E(EOWNERDEAD)),
        (97, T("Integrity check failed")),
    ]
};

/// The host's error for FreeBSD's errno `n` (positive) from the door.
pub fn host_error(n: i32) -> io::Error {
    // At home the numbers are the host's.
    #[cfg(target_os = "freebsd")]
    return io::Error::from_raw_os_error(n);
    #[cfg(not(target_os = "freebsd"))]
    match TABLE.iter().find(|(f, _)| *f == n) {
        Some((_, Host::Errno(e))) => io::Error::from_raw_os_error(*e),
        Some((_, Host::Text(t))) => io::Error::other(*t),
        // FreeBSD's strerror for a number it does not define.
        None => io::Error::other(format!("Unknown error: {n}")),
    }
}

fn protocol(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("kharness control door: {what}"),
    )
}

/// Errors std builds without an errno (a path too long for `sun_path`)
/// get EINVAL, so that callers always have an errno to print.
fn with_errno(e: io::Error) -> io::Error {
    if e.raw_os_error().is_some() {
        e
    } else {
        io::Error::from_raw_os_error(libc::EINVAL)
    }
}

/// `struct kh_ctl_req` on the wire.
fn request_header(
    op: Op,
    name: &[u8; NAMSIZ],
    flags: u32,
    size: u64,
    buflen: u64,
) -> [u8; REQ_LEN] {
    let mut b = [0u8; REQ_LEN];
    b[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    b[4..8].copy_from_slice(&(op as u32).to_le_bytes());
    b[8..24].copy_from_slice(name);
    b[24..28].copy_from_slice(&flags.to_le_bytes());
    // 28..32: arg, unused by these operations.
    b[32..40].copy_from_slice(&size.to_le_bytes());
    b[40..48].copy_from_slice(&buflen.to_le_bytes());
    b
}

/// `struct kh_ctl_resp` from the wire: (magic, error, size, buflen).
fn answer_header(b: &[u8; RESP_LEN]) -> (u32, i32, u64, u64) {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let u64_at = |i: usize| u64::from(u32_at(i)) | u64::from(u32_at(i + 4)) << 32;
    (u32_at(0), u32_at(4) as i32, u64_at(8), u64_at(16))
}

/// What the kernel answered: its errno (FreeBSD's), `wgd_size` after the
/// call, and the caller's buffer after it.
struct Answer {
    error: i32,
    size: u64,
    buf: Vec<u8>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        // It may hold keys.
        self.buf.fill(0);
        std::hint::black_box(&self.buf);
    }
}

/// One connection to the door. An I/O or protocol error leaves it out of
/// step with the harness; it is then not used again.
pub struct Door {
    stream: UnixStream,
    flags: u32,
}

impl Door {
    /// Connects, with the caller's privilege (see the module's notes).
    pub fn connect(path: &Path) -> io::Result<Door> {
        let stream = UnixStream::connect(path).map_err(with_errno)?;
        // SAFETY: geteuid(2) takes nothing and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        Ok(Door::new(stream, !root))
    }

    fn new(stream: UnixStream, unprivileged: bool) -> Door {
        Door {
            stream,
            flags: if unprivileged { F_UNPRIV } else { 0 },
        }
    }

    /// One request: the header, then `buf` as the caller's memory.
    fn call(
        &mut self,
        op: Op,
        name: &[u8; NAMSIZ],
        flags: u32,
        size: u64,
        buf: &[u8],
    ) -> io::Result<Answer> {
        let buflen = buf.len() as u64;
        if buflen > BUFMAX {
            return Err(io::Error::from_raw_os_error(libc::E2BIG));
        }
        let head = request_header(op, name, self.flags | flags, size, buflen);
        self.stream.write_all(&head).map_err(with_errno)?;
        self.stream.write_all(buf).map_err(with_errno)?;
        let mut head = [0u8; RESP_LEN];
        self.stream.read_exact(&mut head)?;
        let (magic, error, size, buflen) = answer_header(&head);
        if magic != MAGIC {
            return Err(protocol("bad magic in an answer"));
        }
        if buflen > BUFMAX {
            return Err(protocol("answer longer than the door's limit"));
        }
        let len = usize::try_from(buflen).map_err(|_| protocol("answer too long"))?;
        let mut answer = Answer {
            error,
            size,
            buf: Vec::new(),
        };
        answer
            .buf
            .try_reserve_exact(len)
            .map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
        answer.buf.resize(len, 0);
        self.stream.read_exact(&mut answer.buf)?;
        Ok(answer)
    }

    /// `ioctl(s, SIOCGWG, &wgd)` on `name`: `None` asks for the size
    /// (`wgd_data` NULL, `wgd_size` 0), `Some(buf)` fetches into it. The
    /// answer is `wgd_size` after the call.
    pub fn siocgwg(&mut self, name: &[u8; NAMSIZ], buf: Option<&mut [u8]>) -> io::Result<usize> {
        let a = match buf {
            None => self.call(Op::SiocGwg, name, F_NULLDATA, 0, &[])?,
            Some(buf) => {
                let a = self.call(Op::SiocGwg, name, 0, buf.len() as u64, buf)?;
                // The door hands back the whole buffer; copyout(9) wrote
                // into it (or, on error, maybe nothing).
                if a.buf.len() != buf.len() {
                    return Err(protocol("answer of another length than the buffer"));
                }
                if a.error == 0 {
                    buf.copy_from_slice(&a.buf);
                }
                a
            }
        };
        if a.error != 0 {
            return Err(host_error(a.error));
        }
        usize::try_from(a.size).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))
    }

    /// `ioctl(s, SIOCSWG, &wgd)` on `name` with the packed request.
    pub fn siocswg(&mut self, name: &[u8; NAMSIZ], request: &[u8]) -> io::Result<()> {
        let a = self.call(Op::SiocSwg, name, 0, request.len() as u64, request)?;
        match a.error {
            0 => Ok(()),
            e => Err(host_error(e)),
        }
    }

    /// The members of group "wg" as the door lists them, asking again
    /// when the list outgrew the buffer meanwhile.
    fn names(&mut self) -> io::Result<Vec<String>> {
        let mut cap = 0usize;
        for _ in 0..8 {
            let a = self.call(Op::List, &[0; NAMSIZ], 0, 0, &vec![0; cap])?;
            if a.error != 0 {
                return Err(host_error(a.error));
            }
            let need = usize::try_from(a.size).map_err(|_| protocol("list too long"))?;
            if need as u64 > BUFMAX {
                return Err(protocol("list longer than the door's limit"));
            }
            if need <= cap && a.buf.len() >= need {
                return Ok(a.buf[..need]
                    .split(|&b| b == 0)
                    .filter(|n| !n.is_empty())
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect());
            }
            cap = need;
        }
        Err(io::Error::from_raw_os_error(libc::EAGAIN))
    }

    /// SIOCGIFGMEMB on group "wg" as FreeBSD's if_getgroupmembers answers
    /// it: `None` (`ifgr_len` 0) asks for the size of the `ifg_req`
    /// records, `Some(buf)` fills them (EINVAL when they do not fit; the
    /// answer is the length given, as FreeBSD leaves `ifgr_len`); a group
    /// without members does not exist (ENOENT).
    pub fn group_members(&mut self, buf: Option<&mut [u8]>) -> io::Result<usize> {
        let names = self.names()?;
        if names.is_empty() {
            return Err(host_error(fbsd::ENOENT));
        }
        let need = names.len() * IFG_REQ_LEN;
        let Some(buf) = buf else {
            return Ok(need);
        };
        if buf.len() < need {
            return Err(host_error(fbsd::EINVAL));
        }
        for (rec, name) in buf.chunks_exact_mut(IFG_REQ_LEN).zip(&names) {
            // strlcpy(ifgrq_member, if_xname, IFNAMSIZ) into a zeroed record.
            rec.fill(0);
            let n = name.len().min(IFG_REQ_LEN - 1);
            rec[..n].copy_from_slice(&name.as_bytes()[..n]);
        }
        Ok(buf.len())
    }
}

/// `name` as the door takes it.
fn door_name(name: &str) -> io::Result<[u8; NAMSIZ]> {
    let c = freebsd::ifname(name)?;
    Ok(c.map(|b| b as u8))
}

/// Every interface of group "wg" behind the door.
pub fn list(door: &Path) -> io::Result<Vec<String>> {
    let mut d = Door::connect(door)?;
    freebsd::list_with(|buf| d.group_members(buf))
}

/// `name`'s configuration, through freebsd.rs's SIOCGWG negotiation.
pub fn get(door: &Path, name: &str) -> io::Result<DeviceInfo> {
    let name = door_name(name)?;
    let mut d = Door::connect(door)?;
    freebsd::get_with(|buf| d.siocgwg(&name, buf))
}

/// Applies `update` to `name`, through freebsd.rs's SIOCSWG request.
pub fn set(door: &Path, name: &str, update: &DeviceUpdate) -> io::Result<()> {
    let name = door_name(name)?;
    let mut d = Door::connect(door)?;
    freebsd::set_with(update, |request| d.siocswg(&name, request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use wg_core::config::{PeerInfo, PeerUpdate};
    use wg_core::endpoint::Endpoint;
    use wg_core::nvconfig;

    /// A fresh directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "wg-kharness-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// One request as the door reads it.
    #[derive(Debug, Clone)]
    struct Req {
        op: u32,
        name: String,
        flags: u32,
        size: u64,
        buf: Vec<u8>,
    }

    /// What the fake door answers: (FreeBSD errno, size, buffer).
    type Handler = dyn FnMut(&Req) -> (i32, u64, Vec<u8>) + Send;

    /// A fake door at `dir/door.ctl` serving every connection in turn
    /// with `handle`; remembers the requests. Stops on drop.
    struct FakeDoor {
        path: PathBuf,
        seen: Arc<Mutex<Vec<Req>>>,
        stop: Arc<AtomicBool>,
        thread: Option<thread::JoinHandle<()>>,
    }

    fn read_req(s: &mut UnixStream) -> Option<Req> {
        let mut h = [0u8; REQ_LEN];
        s.read_exact(&mut h).ok()?;
        let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap());
        assert_eq!(u32_at(0), MAGIC);
        assert_eq!(u32_at(28), 0, "arg");
        let end = h[8..24].iter().position(|&b| b == 0).unwrap_or(16);
        let mut buf = vec![0u8; u64_at(40) as usize];
        s.read_exact(&mut buf).ok()?;
        Some(Req {
            op: u32_at(4),
            name: String::from_utf8(h[8..8 + end].to_vec()).unwrap(),
            flags: u32_at(24),
            size: u64_at(32),
            buf,
        })
    }

    impl FakeDoor {
        fn new(dir: &Path, mut handle: Box<Handler>) -> FakeDoor {
            let path = dir.join("door.ctl");
            let listener = UnixListener::bind(&path).unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let (seen2, stop2) = (seen.clone(), stop.clone());
            let thread = thread::spawn(move || {
                for s in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    let mut s = s.unwrap();
                    while let Some(req) = read_req(&mut s) {
                        seen2.lock().unwrap().push(req.clone());
                        let (error, size, out) = handle(&req);
                        let mut h = [0u8; RESP_LEN];
                        h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
                        h[4..8].copy_from_slice(&error.to_le_bytes());
                        h[8..16].copy_from_slice(&size.to_le_bytes());
                        h[16..24].copy_from_slice(&(out.len() as u64).to_le_bytes());
                        if s.write_all(&h).is_err() || s.write_all(&out).is_err() {
                            break;
                        }
                    }
                }
            });
            FakeDoor {
                path,
                seen,
                stop,
                thread: Some(thread),
            }
        }

        fn requests(&self) -> Vec<Req> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl Drop for FakeDoor {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            // Wakes the accept; if that fails, the thread is left behind
            // rather than joined forever.
            if UnixStream::connect(&self.path).is_ok() {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
        }
    }

    fn info() -> DeviceInfo {
        DeviceInfo {
            private_key: Some([0xe8; 32]),
            public_key: Some(wg_core::crypto::public_key(&[0xe8; 32])),
            listen_port: 51820,
            user_cookie: 0,
            peers: vec![PeerInfo {
                public_key: [0x11; 32],
                preshared_key: Some([0x22; 32]),
                endpoint: Some(Endpoint::V4 {
                    addr: [192, 0, 2, 1],
                    port: 51820,
                }),
                last_handshake: (0, 0),
                rx_bytes: 1,
                tx_bytes: 2,
                persistent_keepalive: 25,
                allowed_ips: vec![],
            }],
        }
    }

    /// A kernel behind the door as kharness runs if_wg: interfaces
    /// "wg0" and "wg1", SIOCGWG as wgc_get (size 0 or NULL data asks,
    /// short is ENOSPC), SIOCSWG as wgc_set (a bad nvlist is EBADMSG),
    /// unknown names ENXIO, LIST as kh_if_list; FreeBSD's numbers.
    fn kernel(config: Vec<u8>, set: Arc<Mutex<Option<DeviceUpdate>>>) -> Box<Handler> {
        let ifs = ["wg0", "wg1"];
        Box::new(move |req: &Req| match req.op {
            3 => {
                let mut all = Vec::new();
                for n in ifs {
                    all.extend_from_slice(n.as_bytes());
                    all.push(0);
                }
                let n = all.len().min(req.buf.len());
                (0, all.len() as u64, all[..n].to_vec())
            }
            _ if !ifs.contains(&req.name.as_str()) => (6, req.size, req.buf.clone()),
            2 if req.flags & F_NULLDATA != 0 || req.size == 0 => {
                (0, config.len() as u64, req.buf.clone())
            }
            2 if (req.size as usize) < config.len() => (28, req.size, req.buf.clone()),
            2 => {
                let mut out = req.buf.clone();
                out[..config.len()].copy_from_slice(&config);
                (0, config.len() as u64, out)
            }
            1 => match nvconfig::decode_set(&req.buf, &Default::default()) {
                Ok(u) => {
                    *set.lock().unwrap() = Some(u);
                    (0, req.size, req.buf.clone())
                }
                Err(_) => (89, req.size, req.buf.clone()),
            },
            _ => (22, 0, vec![]),
        })
    }

    #[test]
    fn header_bytes() {
        let mut name = [0u8; NAMSIZ];
        name[..3].copy_from_slice(b"wg0");
        let b = request_header(Op::SiocGwg, &name, F_NULLDATA, 0x0102_0304_0506_0708, 3);
        assert_eq!(&b[0..4], b"khw1");
        assert_eq!(&b[4..8], &[2, 0, 0, 0]);
        assert_eq!(&b[8..12], b"wg0\0");
        assert_eq!(&b[24..28], &[2, 0, 0, 0]);
        assert_eq!(&b[28..32], &[0; 4]);
        assert_eq!(&b[32..40], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[40..48], &[3, 0, 0, 0, 0, 0, 0, 0]);
        let mut r = [0u8; RESP_LEN];
        r[0..4].copy_from_slice(b"khw1");
        r[4..8].copy_from_slice(&(-1i32).to_le_bytes());
        r[8..16].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        r[16..24].copy_from_slice(&6u64.to_le_bytes());
        assert_eq!(answer_header(&r), (MAGIC, -1, 0x1122_3344_5566_7788, 6));
        assert_eq!(Op::SiocSwg as u32, 1);
        assert_eq!(Op::List as u32, 3);
    }

    #[test]
    fn environment() {
        assert_eq!(door_from(None), None);
        assert_eq!(door_from(Some("".into())), None);
        assert_eq!(
            door_from(Some("/run/k/wg0.ctl".into())),
            Some(PathBuf::from("/run/k/wg0.ctl"))
        );
    }

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
            assert_eq!(host_error(200).to_string(), "Unknown error: 200");
            assert_eq!(host_error(-1).to_string(), "Unknown error: -1");
            // Every value once, in order; no two share a host errno.
            for (i, (f, h)) in TABLE.iter().enumerate() {
                assert_eq!(*f, i as i32 + 1);
                if let Host::Errno(h) = h {
                    let twice = TABLE[i + 1..]
                        .iter()
                        .any(|(_, g)| matches!(g, Host::Errno(g) if g == h));
                    assert!(!twice, "host errno {h} twice");
                }
            }
            assert_eq!(TABLE.len(), 97);
        }
    }

    #[test]
    fn get_negotiates_through_the_door() {
        let dir = TempDir::new();
        let config = nvconfig::encode_get(&info()).unwrap();
        let door = FakeDoor::new(&dir.0, kernel(config.clone(), Default::default()));
        assert_eq!(get(&door.path, "wg1").unwrap(), info());
        let r = door.requests();
        // The size query (NULL data), then the fetch with that size.
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].op, &r[0].name[..], r[0].size), (2, "wg1", 0));
        assert_eq!(r[0].flags & F_NULLDATA, F_NULLDATA);
        assert!(r[0].buf.is_empty());
        assert_eq!(
            (r[1].op, r[1].size, r[1].buf.len()),
            (2, config.len() as u64, config.len())
        );
        assert_eq!(r[1].flags & F_NULLDATA, 0);
        // Root or not, as the tests run: the credential goes along.
        let root = unsafe { libc::geteuid() } == 0;
        assert_eq!(r[0].flags & F_UNPRIV == 0, root);
        // A name the kernel does not know: its ENXIO.
        let e = get(&door.path, "wg9").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO));
        // One it cannot be: ENXIO without asking.
        let n = door.requests().len();
        let e = get(&door.path, "sixteen_chars_xx").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO));
        assert_eq!(door.requests().len(), n);
    }

    #[test]
    fn get_asks_again_when_the_config_grew() {
        let dir = TempDir::new();
        let small = nvconfig::encode_get(&info()).unwrap();
        let mut bigger = info();
        bigger.peers[0].allowed_ips =
            vec![wg_core::allowedips::IpPrefix::new_v4([10, 0, 0, 0], 8).unwrap()];
        let big = nvconfig::encode_get(&bigger).unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let q = queries.clone();
        let door = FakeDoor::new(
            &dir.0,
            Box::new(move |req: &Req| {
                // The first size query sees the small config, then it grows.
                let now = if req.size == 0 && q.fetch_add(1, Ordering::SeqCst) == 0 {
                    &small
                } else {
                    &big
                };
                if req.size == 0 {
                    (0, now.len() as u64, vec![])
                } else if (req.size as usize) < big.len() {
                    (28, req.size, req.buf.clone())
                } else {
                    let mut out = req.buf.clone();
                    out[..big.len()].copy_from_slice(&big);
                    (0, big.len() as u64, out)
                }
            }),
        );
        assert_eq!(get(&door.path, "wg0").unwrap(), bigger);
        assert_eq!(door.requests().len(), 4);
    }

    #[test]
    fn set_sends_the_nvlist() {
        let dir = TempDir::new();
        let got = Arc::new(Mutex::new(None));
        let door = FakeDoor::new(&dir.0, kernel(vec![], got.clone()));
        let u = DeviceUpdate {
            private_key: Some(Some([3; 32])),
            listen_port: Some(51999),
            replace_peers: true,
            peers: vec![PeerUpdate {
                public_key: [0x11; 32],
                preshared_key: Some(Some([4; 32])),
                endpoint: Some(Endpoint::V6 {
                    addr: [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                    port: 1234,
                    flowinfo: 0,
                    scope_id: 0,
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        set(&door.path, "wg0", &u).unwrap();
        assert_eq!(got.lock().unwrap().take().unwrap(), u);
        let r = door.requests();
        assert_eq!((r[0].op, &r[0].name[..]), (1, "wg0"));
        assert_eq!(r[0].size, r[0].buf.len() as u64);
        // The kernel's EBADMSG (89 on FreeBSD) as the host's.
        let dir2 = TempDir::new();
        let bad = FakeDoor::new(
            &dir2.0,
            Box::new(|req: &Req| (89, req.size, req.buf.clone())),
        );
        let e = set(&bad.path, "wg0", &u).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADMSG));
        let e = set(&door.path, "wg7", &u).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO));
    }

    #[test]
    fn lists_through_the_door() {
        let dir = TempDir::new();
        let door = FakeDoor::new(&dir.0, kernel(vec![], Default::default()));
        assert_eq!(list(&door.path).unwrap(), ["wg0", "wg1"]);
        // Empty group: FreeBSD's ENOENT, which the listing takes as none.
        let dir2 = TempDir::new();
        let empty = FakeDoor::new(&dir2.0, Box::new(|_: &Req| (0, 0, vec![])));
        assert_eq!(list(&empty.path).unwrap(), Vec::<String>::new());
        // A list that grows between the door's size and its fetch.
        let dir3 = TempDir::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let growing = FakeDoor::new(
            &dir3.0,
            Box::new(move |req: &Req| {
                let all: &[u8] = if c.fetch_add(1, Ordering::SeqCst) < 1 {
                    b"wg0\0"
                } else {
                    b"wg0\0wg12\0"
                };
                let n = all.len().min(req.buf.len());
                (0, all.len() as u64, all[..n].to_vec())
            }),
        );
        assert_eq!(list(&growing.path).unwrap(), ["wg0", "wg12"]);
    }

    #[test]
    fn group_members_as_freebsd_answers() {
        let dir = TempDir::new();
        let door = FakeDoor::new(&dir.0, kernel(vec![], Default::default()));
        let mut d = Door::connect(&door.path).unwrap();
        assert_eq!(d.group_members(None).unwrap(), 32);
        let mut short = [0u8; 16];
        let e = d.group_members(Some(&mut short)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let mut buf = [0xffu8; 48];
        assert_eq!(d.group_members(Some(&mut buf)).unwrap(), 48);
        assert_eq!(&buf[..4], b"wg0\0");
        assert_eq!(&buf[4..16], &[0; 12]);
        assert_eq!(&buf[16..20], b"wg1\0");
        // The unused record stays as it was.
        assert_eq!(&buf[32..], &[0xff; 16]);
    }

    #[test]
    fn broken_doors_are_errors() {
        // Nobody there: connect's errno.
        let dir = TempDir::new();
        let e = get(&dir.0.join("none.ctl"), "wg0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        // Bad magic.
        let (a, b) = UnixStream::pair().unwrap();
        let t = thread::spawn(move || {
            let mut b = b;
            let _ = read_req(&mut b);
            b.write_all(&[0u8; RESP_LEN]).unwrap();
        });
        let mut d = Door::new(a, false);
        let e = d.siocgwg(&[0; NAMSIZ], None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        t.join().unwrap();
        // Hung up mid-answer.
        let (a, b) = UnixStream::pair().unwrap();
        let t = thread::spawn(move || {
            let mut b = b;
            let _ = read_req(&mut b);
            let mut h = [0u8; RESP_LEN];
            h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
            h[16..24].copy_from_slice(&10u64.to_le_bytes());
            b.write_all(&h).unwrap();
            b.write_all(b"abc").unwrap();
        });
        let mut d = Door::new(a, true);
        let mut buf = [0u8; 10];
        let e = d.siocgwg(&[0; NAMSIZ], Some(&mut buf)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        t.join().unwrap();
        // An answer of the wrong length for the buffer given.
        let (a, b) = UnixStream::pair().unwrap();
        let t = thread::spawn(move || {
            let mut b = b;
            let r = read_req(&mut b).unwrap();
            assert_eq!(r.flags & F_UNPRIV, F_UNPRIV);
            let mut h = [0u8; RESP_LEN];
            h[0..4].copy_from_slice(&MAGIC.to_le_bytes());
            h[16..24].copy_from_slice(&2u64.to_le_bytes());
            b.write_all(&h).unwrap();
            b.write_all(b"ab").unwrap();
        });
        let mut d = Door::new(a, true);
        let e = d.siocgwg(&[0; NAMSIZ], Some(&mut buf)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        t.join().unwrap();
    }
}
