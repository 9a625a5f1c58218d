//! kharness's control door as the FreeBSD backend's ioctl(2): with
//! `WG_KHARNESS_SOCKET=PATH`, the SIOCGWG/SIOCSWG/SIOCGIFGMEMB calls of
//! freebsd.rs (its size negotiations, nvlist encoding, errno handling,
//! listing) go to kmod/if_wg.c running in kharness (kmod/harness/), the
//! module's code in a userspace model of the FreeBSD kernel, instead of
//! to a FreeBSD kernel. On Linux this is how our FreeBSD backend runs for
//! real; on FreeBSD without the variable nothing changes.
//!
//! The door speaks kmod/harness/ctl.h through the kharness-ctl crate
//! (kmod/harness/ctl), which the UAPI bridge uses too: a 48-byte request
//! header (little-endian, magic "khw1"), then the caller's buffer; a
//! 24-byte answer header, then that buffer as the kernel left it. The
//! door runs `wg_ioctl` with the buffer as user memory, so `wgd_size`, a
//! NULL `wgd_data` and the errors are the kernel's own, in FreeBSD's
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
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use kharness_ctl::errno::host_error;
use kharness_ctl::{protocol, Op, BUFMAX, F_NULLDATA, F_UNPRIV, NAMSIZ};
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

/// The `sizeof(struct ifg_req)` records SIOCGIFGMEMB fills.
const IFG_REQ_LEN: usize = 16;

/// FreeBSD's errno numbers, as far as `wg_ioctl` and the door can answer.
mod fbsd {
    pub const EINVAL: i32 = 22;
    pub const ENOENT: i32 = 2;
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

/// One connection to the door. An I/O or protocol error leaves it out of
/// step with the harness; it is then not used again.
pub struct Door {
    door: kharness_ctl::Door,
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
        let door = kharness_ctl::Door::new(stream);
        Door {
            door: door.with_flags(if unprivileged { F_UNPRIV } else { 0 }),
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
    ) -> io::Result<kharness_ctl::Answer> {
        self.door.call(op, name, flags, size, buf)
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
    use kharness_ctl::testutil::{self, read_request, TempDir};
    use kharness_ctl::{MAGIC, RESP_LEN};
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use wg_core::config::{PeerInfo, PeerUpdate};
    use wg_core::endpoint::Endpoint;
    use wg_core::nvconfig;

    /// One request as the door reads it.
    #[derive(Debug, Clone)]
    struct Req {
        op: u32,
        name: String,
        flags: u32,
        size: u64,
        buf: Vec<u8>,
    }

    fn view(req: &kharness_ctl::Req, buf: Vec<u8>) -> Req {
        // These operations leave it unused.
        assert_eq!(req.arg, 0, "arg");
        let end = req.name.iter().position(|&b| b == 0).unwrap_or(NAMSIZ);
        Req {
            op: req.op,
            name: String::from_utf8(req.name[..end].to_vec()).unwrap(),
            flags: req.flags,
            size: req.size,
            buf,
        }
    }

    /// What the fake door answers: (FreeBSD errno, size, buffer).
    type Handler = dyn FnMut(&Req) -> (i32, u64, Vec<u8>) + Send;

    /// A fake door at `dir/door.ctl` serving every connection in turn
    /// with `handle`; remembers the requests. Stops on drop.
    struct FakeDoor {
        path: PathBuf,
        door: testutil::FakeDoor,
    }

    impl FakeDoor {
        fn new(dir: &Path, mut handle: Box<Handler>) -> FakeDoor {
            let door = testutil::FakeDoor::new(dir, move |req, buf| {
                let (error, size, out) = handle(&view(req, buf));
                testutil::answer(error, size, out)
            });
            FakeDoor {
                path: door.path.clone(),
                door,
            }
        }

        fn requests(&self) -> Vec<Req> {
            let r = self.door.requests().into_iter();
            r.map(|(req, buf)| view(&req, buf)).collect()
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
    fn environment() {
        assert_eq!(door_from(None), None);
        assert_eq!(door_from(Some("".into())), None);
        assert_eq!(
            door_from(Some("/run/k/wg0.ctl".into())),
            Some(PathBuf::from("/run/k/wg0.ctl"))
        );
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
            let _ = read_request(&mut b);
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
            let _ = read_request(&mut b);
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
            let (r, _) = read_request(&mut b).unwrap();
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
