//! FreeBSD's kernel interfaces: `SIOCGWG`/`SIOCSWG` on a datagram socket
//! with a packed nvlist in `struct wg_data_io`, and the members of the
//! interface group "wg" for the list, as wireguard-tools' `ipc-freebsd.h`
//! uses them.
//!
//! The size negotiations (ask for the size, allocate, fetch, start again
//! if it grew meanwhile) take the ioctl as a closure, so that they are
//! tested here against a fake kernel and run on Linux against kharness
//! (the module's code in a userspace model of the kernel, reached through
//! its control door: see kharness.rs); only [`sys`] makes system calls.
//! A closure's error is the host's: [`sys`] passes errno on, the door
//! translates FreeBSD's numbers.
//!
//! Where we differ from wireguard-tools, and why:
//! - A configuration that grows between the size query and the fetch
//!   (ENOSPC), or a group that gains a member (EINVAL), is asked for
//!   again, a few times, instead of failing.
//! - A name that does not fit `IFNAMSIZ` is ENXIO (no such interface)
//!   rather than silently truncated to some other interface's name.

use std::io;

use wg_core::config::{DeviceInfo, DeviceUpdate};
use wg_core::nvconfig;

use abi::IFNAMSIZ;

/// FreeBSD's ABI: ioctl numbers and the structs they carry. Off FreeBSD
/// only the tests use them (sizes and numbers checked on any 64-bit host).
#[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
mod abi {
    pub const IFNAMSIZ: usize = 16;

    /// FreeBSD's `_IOWR(group, num, type)` for a parameter of `len` bytes.
    pub const fn iowr(group: u8, num: u8, len: usize) -> u64 {
        const IOC_INOUT: u64 = 0x8000_0000 | 0x4000_0000;
        const IOCPARM_MASK: u64 = 0x1fff;
        IOC_INOUT | (((len as u64) & IOCPARM_MASK) << 16) | ((group as u64) << 8) | num as u64
    }

    /// `struct wg_data_io` (sys/dev/wg/if_wg.h).
    #[repr(C)]
    pub struct WgDataIo {
        pub name: [libc::c_char; IFNAMSIZ],
        pub data: *mut libc::c_void,
        pub size: usize,
    }

    /// `struct ifg_req` (net/if.h): a union of two name arrays.
    #[repr(C)]
    pub struct IfgReq {
        pub member: [libc::c_char; IFNAMSIZ],
    }

    /// The union in `struct ifgroupreq`: a group name or the member array.
    #[repr(C)]
    pub union IfgrIfgru {
        pub group: [libc::c_char; IFNAMSIZ],
        pub groups: *mut IfgReq,
    }

    /// `struct ifgroupreq` (net/if.h).
    #[repr(C)]
    pub struct IfGroupReq {
        pub name: [libc::c_char; IFNAMSIZ],
        pub len: libc::c_uint,
        pub ifgru: IfgrIfgru,
    }

    #[cfg(target_pointer_width = "64")]
    const _: () = {
        assert!(core::mem::size_of::<WgDataIo>() == 32);
        assert!(core::mem::size_of::<IfgReq>() == 16);
        assert!(core::mem::size_of::<IfGroupReq>() == 40);
        assert!(core::mem::offset_of!(IfGroupReq, ifgru) == 24);
    };

    pub const SIOCSWG: u64 = iowr(b'i', 210, core::mem::size_of::<WgDataIo>());
    pub const SIOCGWG: u64 = iowr(b'i', 211, core::mem::size_of::<WgDataIo>());
    pub const SIOCGIFGMEMB: u64 = iowr(b'i', 138, core::mem::size_of::<IfGroupReq>());

    /// The group every if_wg interface joins (its cloner's name).
    pub const WG_GROUP: &str = "wg";
}

/// How often a size negotiation starts again before giving up.
const MAX_TRIES: usize = 8;
/// Beyond any configuration the core allows (see `wg_core::config::Limits`);
/// a kernel asking for more is broken.
const MAX_SIZE: usize = 1 << 30;

fn errno(n: i32) -> io::Error {
    io::Error::from_raw_os_error(n)
}

/// Best-effort wipe of bytes that held keys.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&buf);
}

/// `name` as a C interface name, or ENXIO when it cannot be one.
pub fn ifname(name: &str) -> io::Result<[libc::c_char; IFNAMSIZ]> {
    let mut out = [0 as libc::c_char; IFNAMSIZ];
    // One byte stays for the NUL.
    if name.len() >= IFNAMSIZ || name.bytes().any(|b| b == 0) {
        return Err(errno(libc::ENXIO));
    }
    for (o, b) in out.iter_mut().zip(name.bytes()) {
        *o = b as libc::c_char;
    }
    Ok(out)
}

/// The two-step fetch both SIOCGWG and SIOCGIFGMEMB need. `ioctl(None)`
/// asks for the size; `ioctl(Some(buf))` fills `buf` and says how many
/// bytes it used. When the fetch fails with `grew` (the data outgrew the
/// buffer between the two calls) it starts over.
pub fn fetch<F>(mut ioctl: F, grew: i32) -> io::Result<Vec<u8>>
where
    F: FnMut(Option<&mut [u8]>) -> io::Result<usize>,
{
    for _ in 0..MAX_TRIES {
        let need = ioctl(None)?;
        if need > MAX_SIZE {
            return Err(errno(libc::E2BIG));
        }
        let mut buf = Vec::new();
        buf.try_reserve_exact(need)
            .map_err(|_| errno(libc::ENOMEM))?;
        buf.resize(need, 0);
        match ioctl(Some(&mut buf)) {
            Ok(used) => {
                buf.truncate(used);
                return Ok(buf);
            }
            Err(e) => {
                wipe(&mut buf);
                if e.raw_os_error() != Some(grew) {
                    return Err(e);
                }
            }
        }
    }
    Err(errno(grew))
}

fn core_errno(e: wg_core::Error) -> io::Error {
    errno(match e {
        wg_core::Error::NoMemory => libc::ENOMEM,
        wg_core::Error::TooBig => libc::E2BIG,
        _ => libc::EINVAL,
    })
}

/// The device a SIOCGWG answer describes. FreeBSD sends the public key;
/// should a kernel not, it is derived from the private key.
pub fn decode_answer(answer: &[u8]) -> io::Result<DeviceInfo> {
    let mut info = nvconfig::decode_get(answer).map_err(core_errno)?;
    if info.public_key.is_none() {
        info.public_key = info.private_key.as_ref().map(wg_core::crypto::public_key);
    }
    Ok(info)
}

/// The SIOCSWG request for `update`, as wg(8) packs it (a removed private
/// key goes as 32 zero bytes: nvconfig writes it so).
pub fn encode_request(update: &DeviceUpdate) -> io::Result<Vec<u8>> {
    nvconfig::encode_set(update).map_err(core_errno)
}

/// The member names in a SIOCGIFGMEMB answer: `ifg_req` records of
/// NUL-padded names. Records left empty (the group shrank between the two
/// calls) are skipped, as are names that are not text.
pub fn member_names(answer: &[u8]) -> Vec<String> {
    answer
        .chunks_exact(core::mem::size_of::<abi::IfgReq>())
        .filter_map(|rec| {
            let end = rec.iter().position(|&b| b == 0).unwrap_or(rec.len());
            let name = rec.get(..end)?;
            if name.is_empty() {
                return None;
            }
            String::from_utf8(name.to_vec()).ok()
        })
        .collect()
}

/// The members of group "wg", given the SIOCGIFGMEMB ioctl. No such group
/// (ENOENT: no interface was ever created, or the module is not loaded)
/// means none.
pub fn list_with<F>(ioctl: F) -> io::Result<Vec<String>>
where
    F: FnMut(Option<&mut [u8]>) -> io::Result<usize>,
{
    match fetch(ioctl, libc::EINVAL) {
        Ok(answer) => Ok(member_names(&answer)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// `name`'s configuration, given its SIOCGWG ioctl.
pub fn get_with<F>(ioctl: F) -> io::Result<DeviceInfo>
where
    F: FnMut(Option<&mut [u8]>) -> io::Result<usize>,
{
    let mut answer = fetch(ioctl, libc::ENOSPC)?;
    let info = decode_answer(&answer);
    wipe(&mut answer);
    info
}

/// Applies `update`, given the SIOCSWG ioctl (which takes the packed
/// request). The request, which may hold keys, is wiped afterwards.
pub fn set_with<F>(update: &DeviceUpdate, ioctl: F) -> io::Result<()>
where
    F: FnOnce(&mut [u8]) -> io::Result<()>,
{
    let mut request = encode_request(update)?;
    let result = ioctl(&mut request);
    wipe(&mut request);
    result
}

pub fn list() -> io::Result<Vec<String>> {
    list_with(sys::group_members)
}

// On Linux the kernel's get/set are netlink's (linux.rs).
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub fn get(name: &str) -> io::Result<DeviceInfo> {
    let name = ifname(name)?;
    get_with(|buf| sys::get_wg(&name, buf))
}

#[cfg_attr(target_os = "linux", allow(dead_code))]
pub fn set(name: &str, update: &DeviceUpdate) -> io::Result<()> {
    let name = ifname(name)?;
    set_with(update, |request| sys::set_wg(&name, request))
}

/// The system calls. Each takes the buffer as [`fetch`] hands it over:
/// None to ask for the size.
#[cfg(target_os = "freebsd")]
mod sys {
    use super::abi::{
        IfGroupReq, IfgReq, IfgrIfgru, WgDataIo, IFNAMSIZ, SIOCGIFGMEMB, SIOCGWG, SIOCSWG, WG_GROUP,
    };
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A socket to aim interface ioctls at, as wg(8) uses.
    fn socket() -> io::Result<OwnedFd> {
        // SAFETY: socket(2) takes no pointers; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_LOCAL, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// ioctl(2) with a pointer to `arg`, which stays borrowed throughout.
    fn ioctl<T>(fd: &OwnedFd, request: u64, arg: &mut T) -> io::Result<()> {
        // SAFETY: `arg` is a live, exclusively borrowed #[repr(C)] struct
        // of the size encoded in `request`; any buffer it points to is
        // owned by our caller and outlives the call.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::c_ulong, arg as *mut T) };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    pub fn get_wg(name: &[libc::c_char; IFNAMSIZ], buf: Option<&mut [u8]>) -> io::Result<usize> {
        let s = socket()?;
        let (data, size) = match buf {
            Some(b) => (b.as_mut_ptr().cast(), b.len()),
            None => (std::ptr::null_mut(), 0),
        };
        let mut wgd = WgDataIo {
            name: *name,
            data,
            size,
        };
        ioctl(&s, SIOCGWG, &mut wgd)?;
        Ok(wgd.size)
    }

    pub fn set_wg(name: &[libc::c_char; IFNAMSIZ], request: &mut [u8]) -> io::Result<()> {
        let s = socket()?;
        let mut wgd = WgDataIo {
            name: *name,
            data: request.as_mut_ptr().cast(),
            size: request.len(),
        };
        ioctl(&s, SIOCSWG, &mut wgd)
    }

    pub fn group_members(buf: Option<&mut [u8]>) -> io::Result<usize> {
        let s = socket()?;
        let mut name = [0 as libc::c_char; IFNAMSIZ];
        for (o, b) in name.iter_mut().zip(WG_GROUP.bytes()) {
            *o = b as libc::c_char;
        }
        let (groups, len) = match buf {
            Some(b) => (b.as_mut_ptr().cast::<IfgReq>(), b.len()),
            None => (std::ptr::null_mut(), 0),
        };
        let mut req = IfGroupReq {
            name,
            len: libc::c_uint::try_from(len).map_err(|_| super::errno(libc::E2BIG))?,
            ifgru: IfgrIfgru { groups },
        };
        ioctl(&s, SIOCGIFGMEMB, &mut req)?;
        // The size query answers in ifgr_len; a fetch leaves it as given.
        Ok(req.len as usize)
    }
}

/// Elsewhere there is no FreeBSD kernel to ask: no interfaces, and every
/// name unknown to it (what Linux's wg(8) says for a name its kernel does
/// not know).
#[cfg(not(target_os = "freebsd"))]
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod sys {
    use super::{errno, IFNAMSIZ};
    use std::io;

    pub fn get_wg(_: &[libc::c_char; IFNAMSIZ], _: Option<&mut [u8]>) -> io::Result<usize> {
        Err(errno(libc::ENODEV))
    }

    pub fn set_wg(_: &[libc::c_char; IFNAMSIZ], _: &mut [u8]) -> io::Result<()> {
        Err(errno(libc::ENODEV))
    }

    pub fn group_members(_: Option<&mut [u8]>) -> io::Result<usize> {
        Err(errno(libc::ENOENT))
    }
}

#[cfg(test)]
mod tests {
    use super::abi::*;
    use super::*;
    use wg_core::config::{PeerInfo, PeerUpdate};
    use wg_core::endpoint::Endpoint;

    #[test]
    fn abi_numbers() {
        // The values FreeBSD's headers give on amd64 and arm64.
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(SIOCSWG, 0xc020_69d2);
            assert_eq!(SIOCGWG, 0xc020_69d3);
            assert_eq!(SIOCGIFGMEMB, 0xc028_698a);
        }
        assert_eq!(iowr(b'i', 1, 0x2000), 0xc000_6901);
    }

    #[test]
    fn names() {
        let n = ifname("wg0").unwrap();
        assert_eq!(&n[..4], &[b'w' as libc::c_char, b'g' as _, b'0' as _, 0]);
        assert!(ifname("fifteen_chars_x").is_ok());
        for bad in ["sixteen_chars_xx", "a\0b"] {
            assert_eq!(ifname(bad).unwrap_err().raw_os_error(), Some(libc::ENXIO));
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
                preshared_key: None,
                endpoint: Some(Endpoint::V4 {
                    addr: [192, 0, 2, 1],
                    port: 51820,
                }),
                last_handshake: (0, 0),
                rx_bytes: 1,
                tx_bytes: 2,
                persistent_keepalive: 0,
                allowed_ips: vec![],
            }],
        }
    }

    /// A kernel holding `answers` in turn: each size query moves on to the
    /// next one, as if the configuration changed between calls. It
    /// behaves as FreeBSD's wgc_get: size 0 asks, a short buffer is
    /// ENOSPC, else copy and report the size.
    struct FakeKernel {
        answers: Vec<Vec<u8>>,
        at: usize,
        calls: usize,
        /// After the size query, the config changes before the fetch.
        grow_after_query: usize,
    }

    impl FakeKernel {
        fn new(answers: Vec<Vec<u8>>) -> Self {
            FakeKernel {
                answers,
                at: 0,
                calls: 0,
                grow_after_query: 0,
            }
        }

        fn ioctl(&mut self, buf: Option<&mut [u8]>) -> io::Result<usize> {
            self.calls += 1;
            let now = self.answers.get(self.at).ok_or_else(|| errno(libc::EIO))?;
            let Some(buf) = buf else {
                let n = now.len();
                if self.grow_after_query > 0 {
                    self.grow_after_query -= 1;
                    self.at += 1;
                }
                return Ok(n);
            };
            if buf.len() < now.len() {
                return Err(errno(libc::ENOSPC));
            }
            buf[..now.len()].copy_from_slice(now);
            Ok(now.len())
        }
    }

    #[test]
    fn get_asks_size_then_fetches() {
        let bytes = nvconfig::encode_get(&info()).unwrap();
        let mut k = FakeKernel::new(vec![bytes]);
        assert_eq!(get_with(|b| k.ioctl(b)).unwrap(), info());
        assert_eq!(k.calls, 2);
    }

    #[test]
    fn get_retries_when_the_config_grew() {
        let small = nvconfig::encode_get(&info()).unwrap();
        let mut bigger = info();
        bigger.peers[0].allowed_ips =
            vec![wg_core::allowedips::IpPrefix::new_v4([10, 0, 0, 0], 8).unwrap()];
        let big = nvconfig::encode_get(&bigger).unwrap();
        assert!(big.len() > small.len());
        let mut k = FakeKernel::new(vec![small.clone(), big.clone(), big]);
        k.grow_after_query = 1;
        assert_eq!(get_with(|b| k.ioctl(b)).unwrap(), bigger);
        // Query, short fetch (ENOSPC), query, fetch.
        assert_eq!(k.calls, 4);
        // A config that keeps growing gives up with ENOSPC.
        let mut answers = Vec::new();
        for i in 0..=MAX_TRIES {
            answers.push(vec![0u8; 19 + i]);
        }
        let mut k = FakeKernel::new(answers);
        k.grow_after_query = usize::MAX;
        let e = get_with(|b| k.ioctl(b)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(k.calls, 2 * MAX_TRIES);
    }

    #[test]
    fn get_maps_errors() {
        // The kernel's errno, unchanged, from either call.
        let e = get_with(|_| Err(errno(libc::ENXIO))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO));
        let e = get_with(|b| {
            if b.is_none() {
                Ok(19)
            } else {
                Err(errno(libc::EPERM))
            }
        })
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        // A size nobody could mean.
        let e = get_with(|_| Ok(MAX_SIZE + 1)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::E2BIG));
        // Bytes that are no nvlist, and an empty answer.
        let mut k = FakeKernel::new(vec![vec![0x6c; 40]]);
        let e = get_with(|b| k.ioctl(b)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let mut k = FakeKernel::new(vec![vec![]]);
        let e = get_with(|b| k.ioctl(b)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn public_key_is_derived_when_missing() {
        let mut i = info();
        i.public_key = None;
        let got = decode_answer(&nvconfig::encode_get(&i).unwrap()).unwrap();
        assert_eq!(got.public_key, info().public_key);
        // Unprivileged: no private key, the kernel's public key stands.
        let mut i = info();
        i.private_key = None;
        i.public_key = Some([7; 32]);
        let got = decode_answer(&nvconfig::encode_get(&i).unwrap()).unwrap();
        assert_eq!(got.public_key, Some([7; 32]));
    }

    #[test]
    fn set_requests() {
        let u = DeviceUpdate {
            listen_port: Some(51820),
            peers: vec![PeerUpdate {
                public_key: [0x11; 32],
                ..Default::default()
            }],
            ..Default::default()
        };
        let bytes = encode_request(&u).unwrap();
        assert_eq!(
            nvconfig::decode_set(&bytes, &Default::default()).unwrap(),
            u
        );
        // Removing the private key is 32 zeros, as wg(8) sends it.
        let r = DeviceUpdate {
            private_key: Some(None),
            ..Default::default()
        };
        let l = wg_core::nvlist::unpack(&encode_request(&r).unwrap(), &Default::default()).unwrap();
        assert_eq!(l.get_binary("private-key"), Some(&[0u8; 32][..]));
        // What FreeBSD cannot say is refused before any ioctl.
        let o = DeviceUpdate {
            peers: vec![PeerUpdate {
                update_only: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            encode_request(&o).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }

    fn records(names: &[&str]) -> Vec<u8> {
        let mut b = Vec::new();
        for n in names {
            let mut rec = [0u8; 16];
            rec[..n.len()].copy_from_slice(n.as_bytes());
            b.extend_from_slice(&rec);
        }
        b
    }

    #[test]
    fn lists_group_members() {
        let mut k = FakeKernel::new(vec![records(&["wg0", "wg1", "fifteen_chars_x"])]);
        assert_eq!(
            list_with(|b| k.ioctl(b)).unwrap(),
            ["wg0", "wg1", "fifteen_chars_x"]
        );
        // No group yet: no interfaces, not an error.
        assert_eq!(
            list_with(|_| Err(errno(libc::ENOENT))).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            list_with(|_| Err(errno(libc::EPERM)))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EPERM)
        );
        // A member came between the calls: FreeBSD says EINVAL; ask again.
        let mut calls = 0;
        let got = list_with(|b| {
            calls += 1;
            let now = if calls == 1 {
                records(&["wg0"])
            } else {
                records(&["wg0", "wg1"])
            };
            match b {
                None => Ok(now.len()),
                Some(b) if b.len() < now.len() => Err(errno(libc::EINVAL)),
                Some(b) => {
                    b[..now.len()].copy_from_slice(&now);
                    Ok(b.len())
                }
            }
        });
        assert_eq!(got.unwrap(), ["wg0", "wg1"]);
        assert_eq!(calls, 4);
        // One left: its record stays zero and is skipped; a bad name too.
        let mut b = records(&["wg0", ""]);
        b.extend_from_slice(&[0xff; 16]);
        assert_eq!(member_names(&b), ["wg0"]);
    }

    #[cfg(not(target_os = "freebsd"))]
    #[test]
    fn no_kernel_here() {
        assert_eq!(list().unwrap(), Vec::<String>::new());
        assert_eq!(get("wg0").unwrap_err().raw_os_error(), Some(libc::ENODEV));
    }
}
