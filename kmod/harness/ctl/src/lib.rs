//! kharness-ctl: the client of kharness's control door (kmod/harness/ctl.h),
//! the "system calls" of the harness process on a unix stream socket.
//!
//! In: an operation (SIOCGWG/SIOCSWG on one interface, the list of group
//! wg, ...) and the caller's buffer. Out: the harness's answer — a FreeBSD
//! errno, the `wgd_size` after the call and the buffer as the kernel left
//! it. Framing: `struct kh_ctl_req` (48 bytes, little-endian) + `buflen`
//! bytes, answered by `struct kh_ctl_resp` (24 bytes) + `buflen` bytes,
//! one request after another on one connection.
//!
//! Used by kharness-uapi (the UAPI bridge) and by wg's FreeBSD backend
//! (`WG_KHARNESS_SOCKET`). [`errno`] holds FreeBSD's errno numbers with
//! their Linux counterparts; `testutil` (feature `testutil`) a fake door
//! for those crates' tests.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub mod errno;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;

pub const MAGIC: u32 = 0x3177_686b; // "khw1"
pub const NAMSIZ: usize = 16; // IFNAMSIZ
/// The door's own limit on a buffer (KH_CTL_BUFMAX).
pub const BUFMAX: u64 = 64 << 20;

/// `enum kh_ctl_op`, the whole of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    SiocSwg = 1,
    SiocGwg = 2,
    List = 3,
    Create = 4,
    Destroy = 5,
    SetUp = 6,
    SetMtu = 7,
    Rename = 8,
    Stats = 9,
}

/// Caller lacks PRIV_NET_WG.
pub const F_UNPRIV: u32 = 0x1;
/// `wgd_data` is NULL (not the buffer).
pub const F_NULLDATA: u32 = 0x2;

/// `struct kh_ctl_req`; on the wire through [`Req::to_bytes`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Req {
    pub magic: u32,
    pub op: u32,
    pub name: [u8; NAMSIZ],
    pub flags: u32,
    pub arg: u32,
    /// `wgd_size` as the caller sets it.
    pub size: u64,
    /// Bytes of the caller's buffer that follow.
    pub buflen: u64,
}

/// `struct kh_ctl_resp`; from the wire through [`Resp::from_bytes`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resp {
    pub magic: u32,
    /// FreeBSD errno; 0: success.
    pub error: i32,
    /// `wgd_size` after the call.
    pub size: u64,
    pub buflen: u64,
}

pub const REQ_LEN: usize = 48;
pub const RESP_LEN: usize = 24;

const _: () = {
    assert!(core::mem::size_of::<Req>() == REQ_LEN);
    assert!(core::mem::size_of::<Resp>() == RESP_LEN);
    assert!(core::mem::offset_of!(Req, name) == 8);
    assert!(core::mem::offset_of!(Req, flags) == 24);
    assert!(core::mem::offset_of!(Req, arg) == 28);
    assert!(core::mem::offset_of!(Req, size) == 32);
    assert!(core::mem::offset_of!(Req, buflen) == 40);
    assert!(core::mem::offset_of!(Resp, error) == 4);
    assert!(core::mem::offset_of!(Resp, size) == 8);
    assert!(core::mem::offset_of!(Resp, buflen) == 16);
};

/// Splits `b` into the fixed-size fields, in order.
fn take<const N: usize>(b: &[u8], at: &mut usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(s) = b.get(*at..*at + N) {
        out.copy_from_slice(s);
    }
    *at += N;
    out
}

impl Req {
    pub fn to_bytes(self) -> [u8; REQ_LEN] {
        let mut b = [0u8; REQ_LEN];
        let fields: [&[u8]; 7] = [
            &self.magic.to_le_bytes(),
            &self.op.to_le_bytes(),
            &self.name,
            &self.flags.to_le_bytes(),
            &self.arg.to_le_bytes(),
            &self.size.to_le_bytes(),
            &self.buflen.to_le_bytes(),
        ];
        let mut at = 0;
        for f in fields {
            b[at..at + f.len()].copy_from_slice(f);
            at += f.len();
        }
        b
    }

    /// The door's side (the fake door of the tests).
    pub fn from_bytes(b: &[u8; REQ_LEN]) -> Req {
        let mut at = 0;
        Req {
            magic: u32::from_le_bytes(take(b, &mut at)),
            op: u32::from_le_bytes(take(b, &mut at)),
            name: take(b, &mut at),
            flags: u32::from_le_bytes(take(b, &mut at)),
            arg: u32::from_le_bytes(take(b, &mut at)),
            size: u64::from_le_bytes(take(b, &mut at)),
            buflen: u64::from_le_bytes(take(b, &mut at)),
        }
    }
}

impl Resp {
    /// The door's side (the fake door of the tests).
    pub fn to_bytes(self) -> [u8; RESP_LEN] {
        let mut b = [0u8; RESP_LEN];
        b[0..4].copy_from_slice(&self.magic.to_le_bytes());
        b[4..8].copy_from_slice(&self.error.to_le_bytes());
        b[8..16].copy_from_slice(&self.size.to_le_bytes());
        b[16..24].copy_from_slice(&self.buflen.to_le_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; RESP_LEN]) -> Resp {
        let mut at = 0;
        Resp {
            magic: u32::from_le_bytes(take(b, &mut at)),
            error: i32::from_le_bytes(take(b, &mut at)),
            size: u64::from_le_bytes(take(b, &mut at)),
            buflen: u64::from_le_bytes(take(b, &mut at)),
        }
    }
}

/// An interface name as the door takes it: NUL-padded, at most 15 bytes.
pub fn ifname(name: &str) -> Option<[u8; NAMSIZ]> {
    if name.is_empty() || name.len() >= NAMSIZ || name.bytes().any(|b| b == 0) {
        return None;
    }
    let mut out = [0u8; NAMSIZ];
    out[..name.len()].copy_from_slice(name.as_bytes());
    Some(out)
}

/// What the harness answered.
#[derive(Debug)]
pub struct Answer {
    /// FreeBSD errno; 0: success.
    pub error: i32,
    /// `wgd_size` after the call.
    pub size: u64,
    /// The caller's buffer after the call.
    pub buf: Vec<u8>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        // It may hold keys.
        self.buf.fill(0);
        std::hint::black_box(&self.buf);
    }
}

/// An answer that breaks the protocol (`InvalidData`).
pub fn protocol(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("kharness control door: {what}"),
    )
}

/// One connection to the door. Any error leaves it out of step with the
/// harness: the caller must drop it.
pub struct Door {
    stream: UnixStream,
    /// Added to every request's flags.
    flags: u32,
}

impl Door {
    pub fn connect(path: &Path) -> io::Result<Door> {
        Ok(Door::new(UnixStream::connect(path)?))
    }

    pub fn new(stream: UnixStream) -> Door {
        Door { stream, flags: 0 }
    }

    /// The same door with `flags` (e.g. [`F_UNPRIV`]) in every request.
    pub fn with_flags(mut self, flags: u32) -> Door {
        self.flags |= flags;
        self
    }

    /// A second handle on the same connection (to watch it for a hangup).
    pub fn try_clone_stream(&self) -> io::Result<UnixStream> {
        self.stream.try_clone()
    }

    /// Sends one request (`buf` as the caller's memory) and reads its
    /// answer. An I/O error or an answer that breaks the protocol is an
    /// `Err`; the kernel's errno is in [`Answer::error`].
    pub fn call(
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
        let req = Req {
            magic: MAGIC,
            op: op as u32,
            name: *name,
            flags: self.flags | flags,
            arg: 0,
            size,
            buflen,
        };
        self.stream.write_all(&req.to_bytes())?;
        self.stream.write_all(buf)?;
        let mut head = [0u8; RESP_LEN];
        self.stream.read_exact(&mut head)?;
        let resp = Resp::from_bytes(&head);
        if resp.magic != MAGIC {
            return Err(protocol("bad magic in an answer"));
        }
        if resp.buflen > BUFMAX {
            return Err(protocol("answer longer than the door's limit"));
        }
        let len = usize::try_from(resp.buflen).map_err(|_| protocol("answer too long"))?;
        let mut answer = Answer {
            error: resp.error,
            size: resp.size,
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
}

#[cfg(test)]
mod tests {
    use super::testutil::{answer, fake_door, read_request, FakeDoor, TempDir};
    use super::*;
    use std::thread;

    #[test]
    fn header_bytes() {
        let req = Req {
            magic: MAGIC,
            op: Op::SiocGwg as u32,
            name: ifname("wg0").unwrap(),
            flags: F_NULLDATA,
            arg: 7,
            size: 0x0102_0304_0506_0708,
            buflen: 3,
        };
        let b = req.to_bytes();
        assert_eq!(&b[0..4], b"khw1");
        assert_eq!(&b[4..8], &[2, 0, 0, 0]);
        assert_eq!(&b[8..12], b"wg0\0");
        assert_eq!(&b[24..28], &[2, 0, 0, 0]);
        assert_eq!(&b[28..32], &[7, 0, 0, 0]);
        assert_eq!(&b[32..40], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[40..48], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Req::from_bytes(&b), req);
        let resp = Resp {
            magic: MAGIC,
            error: -1,
            size: 0x1122_3344_5566_7788,
            buflen: 6,
        };
        let b = resp.to_bytes();
        assert_eq!(&b[0..4], b"khw1");
        assert_eq!(&b[4..8], &[0xff; 4]);
        assert_eq!(&b[8..16], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&b[16..24], &[6, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Resp::from_bytes(&b), resp);
        // ctl.h's numbers.
        assert_eq!(Op::SiocSwg as u32, 1);
        assert_eq!(Op::List as u32, 3);
        assert_eq!(Op::Stats as u32, 9);
        assert_eq!((F_UNPRIV, F_NULLDATA), (1, 2));
        assert_eq!(BUFMAX, 64 << 20);
    }

    #[test]
    fn names() {
        assert!(ifname("fifteen_chars_x").is_some());
        assert!(ifname("sixteen_chars_xx").is_none());
        assert!(ifname("").is_none());
        assert!(ifname("a\0b").is_none());
    }

    #[test]
    fn requests_and_answers_against_a_fake_door() {
        let dir = TempDir::new();
        let (path, t) = fake_door(&dir.0, |req, buf| {
            assert_eq!(&req.name[..4], b"wg7\0");
            assert_eq!(req.arg, 0);
            match req.op {
                // Echo the buffer reversed, size doubled.
                2 => answer(0, req.size * 2, buf.into_iter().rev().collect()),
                _ => answer(45, req.size, vec![]),
            }
        });
        let mut door = Door::connect(&path).unwrap();
        let name = ifname("wg7").unwrap();
        let a = door.call(Op::SiocGwg, &name, 0, 21, b"abc").unwrap();
        assert_eq!((a.error, a.size, &a.buf[..]), (0, 42, &b"cba"[..]));
        let a = door.call(Op::Stats, &name, 0, 1, &[]).unwrap();
        assert_eq!((a.error, a.size, a.buf.len()), (45, 1, 0));
        // A large buffer goes through whole.
        let big = vec![0x5a; 1 << 20];
        let a = door.call(Op::SiocGwg, &name, 0, 1, &big).unwrap();
        assert_eq!(a.buf, big);
        drop(door);
        t.join().unwrap();
    }

    #[test]
    fn flags_go_with_every_request() {
        let dir = TempDir::new();
        let door = FakeDoor::new(&dir.0, |req, buf| answer(0, req.size, buf));
        let name = ifname("wg0").unwrap();
        let mut d = Door::connect(&door.path).unwrap();
        d.call(Op::SiocGwg, &name, F_NULLDATA, 0, &[]).unwrap();
        // The fake door serves one connection after the other.
        drop(d);
        let mut d = Door::connect(&door.path).unwrap().with_flags(F_UNPRIV);
        d.call(Op::SiocGwg, &name, F_NULLDATA, 0, &[]).unwrap();
        d.call(Op::SiocSwg, &name, 0, 2, b"ab").unwrap();
        drop(d);
        let r = door.requests();
        let flags: Vec<u32> = r.iter().map(|(q, _)| q.flags).collect();
        assert_eq!(flags, [F_NULLDATA, F_UNPRIV | F_NULLDATA, F_UNPRIV]);
        assert_eq!((r[2].0.op, r[2].0.size, &r[2].1[..]), (1, 2, &b"ab"[..]));
    }

    #[test]
    fn broken_doors_are_errors() {
        let dir = TempDir::new();
        let (path, t) = fake_door(&dir.0, |_, _| {
            (
                Resp {
                    magic: 0xdead_beef,
                    error: 0,
                    size: 0,
                    buflen: 0,
                },
                vec![],
            )
        });
        let mut door = Door::connect(&path).unwrap();
        let name = ifname("wg0").unwrap();
        let e = door.call(Op::SiocGwg, &name, 0, 0, &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        drop(door);
        t.join().unwrap();
        // A door that hangs up mid-answer.
        let (a, b) = UnixStream::pair().unwrap();
        let t = thread::spawn(move || {
            let mut b = b;
            read_request(&mut b).unwrap();
            let r = Resp {
                magic: MAGIC,
                error: 0,
                size: 10,
                buflen: 10,
            };
            b.write_all(&r.to_bytes()).unwrap();
            b.write_all(b"abc").unwrap();
        });
        let mut door = Door::new(a);
        let e = door.call(Op::SiocGwg, &name, 0, 0, &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        t.join().unwrap();
        // Nobody there: connect's errno.
        let e = Door::connect(&dir.0.join("none.ctl")).err().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
