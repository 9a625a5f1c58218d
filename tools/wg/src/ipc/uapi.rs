//! The cross-platform UAPI socket (wireguard-go, wgd): one stream socket
//! per interface at `/var/run/wireguard/NAME.sock`, used the way
//! wireguard-tools' `ipc-uapi-unix.h` and `ipc-uapi.h` use it, so that
//! errors and side effects (removing a stale socket) are the same.
//!
//! Every function takes the socket directory so that tests can point it at
//! a temporary one; wireguard-tools fixes it at build time and reads no
//! environment variable for it, so neither do we.

use std::ffi::CString;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use wg_core::config::{DeviceInfo, DeviceUpdate};
use wg_core::uapi;

/// wireguard-tools' `RUNSTATEDIR "/wireguard"` with its default RUNSTATEDIR.
pub const SOCKET_DIR: &str = "/var/run/wireguard";
const SUFFIX: &str = ".sock";

/// More than any daemon's answer for the largest device we allow (see
/// `wg_core::config::Limits`); a daemon that sends more is broken.
const MAX_ANSWER: u64 = 1 << 30;

fn errno(n: i32) -> io::Error {
    io::Error::from_raw_os_error(n)
}

/// Errors std builds without an errno (a path too long for `sun_path`,
/// for one) get EINVAL, so that callers always have an errno to print.
fn with_errno(e: io::Error) -> io::Error {
    if e.raw_os_error().is_some() {
        e
    } else {
        errno(libc::EINVAL)
    }
}

fn socket_path(dir: &Path, name: &str) -> io::Result<PathBuf> {
    // A name is one path component, as wg(8) insists.
    if name.contains('/') {
        return Err(errno(libc::EINVAL));
    }
    Ok(dir.join(format!("{name}{SUFFIX}")))
}

/// Connects to `name`'s socket with wg(8)'s checks: it must exist and be a
/// socket (EBADF otherwise). A socket nobody listens on is left over from
/// a daemon that died: it is removed, and the connect error returned.
fn connect(dir: &Path, name: &str) -> io::Result<UnixStream> {
    let path = socket_path(dir, name)?;
    let meta = fs::metadata(&path).map_err(with_errno)?;
    if !meta.file_type().is_socket() {
        return Err(errno(libc::EBADF));
    }
    UnixStream::connect(&path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ECONNREFUSED) {
            let _ = fs::remove_file(&path);
        }
        with_errno(e)
    })
}

/// Whether `name` is served by a live userspace daemon, as wg(8) decides
/// it: a socket is there and a connect to it is not refused (a daemon too
/// busy to accept is still there). A refused socket is left over from a
/// daemon that died, and is removed.
pub fn has_interface(dir: &Path, name: &str) -> bool {
    let Ok(path) = socket_path(dir, name) else {
        return false;
    };
    if !fs::metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
        return false;
    }
    match UnixStream::connect(&path) {
        Ok(_) => true,
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
            let _ = fs::remove_file(&path);
            false
        }
        Err(_) => true,
    }
}

/// The interfaces with a live socket in `dir`, in directory order. A
/// missing directory means none.
pub fn list(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(with_errno(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(with_errno)?;
        // Interface names are text; a name that is not cannot be one of
        // ours to show.
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        let Some(name) = file.strip_suffix(SUFFIX) else {
            continue;
        };
        if !name.is_empty() && has_interface(dir, name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Reads lines up to and including the first empty one (or the end, or
/// the size cap), as wg(8)'s getline loops do.
fn read_answer(stream: &UnixStream) -> io::Result<Vec<u8>> {
    let mut r = BufReader::new(stream.take(MAX_ANSWER));
    let mut buf = Vec::new();
    loop {
        let start = buf.len();
        if r.read_until(b'\n', &mut buf)? == 0 {
            return Ok(buf);
        }
        if buf.get(start..) == Some(b"\n") {
            return Ok(buf);
        }
    }
}

/// Best-effort wipe of text that held keys: the writes are kept alive by
/// black_box so the compiler cannot drop them as dead.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&buf);
}

/// An interface name's index, for reading endpoints whose IPv6 zone is a
/// name (wireguard-go prints zones as they were given to it).
fn if_index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

pub fn get(dir: &Path, name: &str) -> io::Result<DeviceInfo> {
    let mut stream = connect(dir, name)?;
    stream.write_all(b"get=1\n\n").map_err(with_errno)?;
    // wg(8) turns every failure to read the answer into EPROTO.
    let mut answer = read_answer(&stream).unwrap_or_default();
    let info = uapi::parse_get_with(&answer, &if_index);
    wipe(&mut answer);
    info.map_err(|e| errno(os_errno(e.errno)))
}

pub fn set(dir: &Path, name: &str, update: &DeviceUpdate) -> io::Result<()> {
    let mut stream = connect(dir, name)?;
    let mut request = uapi::format_set_request(update).into_bytes();
    let sent = stream.write_all(&request);
    wipe(&mut request);
    sent.map_err(with_errno)?;
    let answer = read_answer(&stream);
    set_status(answer.as_deref().map_err(|e| e.raw_os_error()))
}

/// A daemon's errno (negative by convention, though wg(8)'s arithmetic
/// also turns a positive one into an errno) as a positive OS errno.
fn os_errno(n: i64) -> i32 {
    i32::try_from(n.unsigned_abs()).unwrap_or(libc::EPROTO)
}

/// The outcome of a set from the daemon's answer, as wireguard-tools reads
/// it: lines of key=value up to a blank line, of which only a signed
/// "errno" (within an int) counts and the last one wins. No blank line,
/// or a malformed line before it, is the read error if there was one,
/// else EPROTO; a blank line without "errno" is EPROTO.
fn set_status(answer: Result<&[u8], Option<i32>>) -> io::Result<()> {
    let read_error = match answer {
        Ok(bytes) => match set_errno(bytes) {
            Some(0) => return Ok(()),
            Some(n) => return Err(errno(os_errno(n))),
            None => None,
        },
        Err(e) => e,
    };
    Err(errno(read_error.unwrap_or(libc::EPROTO)))
}

/// Some(errno line's value, or -EPROTO without one) when the answer ends
/// in a blank line after well-formed lines; None when it does not.
fn set_errno(bytes: &[u8]) -> Option<i64> {
    let mut status = -i64::from(libc::EPROTO);
    let mut rest = bytes;
    loop {
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let (line, tail) = rest.split_at(nl);
        rest = tail.get(1..).unwrap_or_default();
        if line.is_empty() {
            return Some(status);
        }
        if line.contains(&0) {
            return None;
        }
        let eq = line.iter().position(|&b| b == b'=')?;
        let (key, value) = line.split_at(eq);
        if key == b"errno" {
            status = parse_int(value.get(1..).unwrap_or_default())?;
        }
    }
}

/// strtoll in base 10 without leading blanks or '+', as wg(8) takes it
/// (first char '-' or a digit, all of it used, within an int).
fn parse_int(v: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(v).ok()?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = text.parse().ok()?;
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&n)
        .then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;
    use wg_core::config::{PeerInfo, PeerUpdate};
    use wg_core::endpoint::Endpoint;

    /// A fresh directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "wg-tool-uapi-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Serves one connection on `dir/name.sock`: reads the request up to
    /// its blank line, answers `reply`, and hands back the request.
    fn serve_once(dir: &Path, name: &str, reply: &'static [u8]) -> thread::JoinHandle<Vec<u8>> {
        let l = UnixListener::bind(dir.join(format!("{name}.sock"))).unwrap();
        thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let req = read_answer(&s).unwrap();
            (&s).write_all(reply).unwrap();
            req
        })
    }

    fn hex(b: u8) -> String {
        format!("{b:02x}").repeat(32)
    }

    fn os(e: io::Error) -> Option<i32> {
        e.raw_os_error()
    }

    #[test]
    fn get_talks_like_wg() {
        let d = TempDir::new();
        let text = format!(
            "private_key={}\nlisten_port=51820\npublic_key={}\n\
             preshared_key={}\nprotocol_version=1\nendpoint=192.0.2.1:51820\n\
             last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=1\n\
             rx_bytes=2\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.0/24\n\
             errno=0\n\n",
            hex(0xe8),
            hex(0x11),
            hex(0)
        );
        let h = serve_once(&d.0, "wg0", Box::leak(text.into_boxed_str()).as_bytes());
        let info = get(&d.0, "wg0").unwrap();
        assert_eq!(h.join().unwrap(), b"get=1\n\n");
        assert_eq!(info.private_key, Some([0xe8; 32]));
        // UAPI sends no public key: it is derived.
        assert_eq!(
            info.public_key,
            Some(wg_core::crypto::public_key(&[0xe8; 32]))
        );
        assert_eq!(info.listen_port, 51820);
        let want = PeerInfo {
            public_key: [0x11; 32],
            preshared_key: None,
            endpoint: Some(Endpoint::V4 {
                addr: [192, 0, 2, 1],
                port: 51820,
            }),
            last_handshake: (0, 0),
            rx_bytes: 2,
            tx_bytes: 1,
            persistent_keepalive: 25,
            allowed_ips: vec![wg_core::allowedips::IpPrefix::new_v4([10, 0, 0, 0], 24).unwrap()],
        };
        assert_eq!(info.peers, vec![want]);
    }

    #[test]
    fn get_errors() {
        let d = TempDir::new();
        let h = serve_once(&d.0, "wg0", b"errno=-19\n\n");
        assert_eq!(os(get(&d.0, "wg0").unwrap_err()), Some(libc::ENODEV));
        h.join().unwrap();
        // A daemon that hangs up mid-answer.
        let h = serve_once(&d.0, "wg1", b"listen_port=1\n");
        assert_eq!(os(get(&d.0, "wg1").unwrap_err()), Some(libc::EPROTO));
        h.join().unwrap();
        assert_eq!(os(get(&d.0, "nope").unwrap_err()), Some(libc::ENOENT));
        assert_eq!(os(get(&d.0, "a/b").unwrap_err()), Some(libc::EINVAL));
        fs::write(d.0.join("file.sock"), b"").unwrap();
        assert_eq!(os(get(&d.0, "file").unwrap_err()), Some(libc::EBADF));
        let long = "x".repeat(200);
        assert_eq!(os(get(&d.0, &long).unwrap_err()), Some(libc::ENOENT));
    }

    #[test]
    fn stale_sockets_are_removed() {
        let d = TempDir::new();
        drop(UnixListener::bind(d.0.join("old.sock")).unwrap());
        assert!(d.0.join("old.sock").exists());
        assert_eq!(os(get(&d.0, "old").unwrap_err()), Some(libc::ECONNREFUSED));
        assert!(!d.0.join("old.sock").exists());
        drop(UnixListener::bind(d.0.join("old.sock")).unwrap());
        assert!(!has_interface(&d.0, "old"));
        assert!(!d.0.join("old.sock").exists());
    }

    #[test]
    fn set_sends_what_wg_sends() {
        let d = TempDir::new();
        let h = serve_once(&d.0, "wg0", b"errno=0\n\n");
        let p = PeerUpdate {
            public_key: [0x11; 32],
            replace_allowed_ips: true,
            allowed_ips: vec![wg_core::config::AllowedIpChange {
                prefix: wg_core::allowedips::IpPrefix::new_v4([10, 0, 0, 0], 24).unwrap(),
                remove: false,
            }],
            ..Default::default()
        };
        let u = DeviceUpdate {
            private_key: Some(Some([0xe8; 32])),
            listen_port: Some(51820),
            replace_peers: true,
            peers: vec![p],
            ..Default::default()
        };
        set(&d.0, "wg0", &u).unwrap();
        let want = format!(
            "set=1\nprivate_key={}\nlisten_port=51820\nreplace_peers=true\n\
             public_key={}\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/24\n\n",
            hex(0xe8),
            hex(0x11)
        );
        assert_eq!(String::from_utf8(h.join().unwrap()).unwrap(), want);
    }

    #[test]
    fn set_errors() {
        let d = TempDir::new();
        let u = DeviceUpdate::default();
        for (i, (reply, want)) in [
            (&b"errno=-22\n\n"[..], libc::EINVAL),
            (b"errno=-98\n\n", 98),
            (b"", libc::EPROTO),
            (b"errno=0\n", libc::EPROTO),
            (b"\n", libc::EPROTO),
            (b"errno=x\n\n", libc::EPROTO),
        ]
        .into_iter()
        .enumerate()
        {
            let name = format!("wg{i}");
            let h = serve_once(&d.0, &name, reply);
            assert_eq!(
                os(set(&d.0, &name, &u).unwrap_err()),
                Some(want),
                "{reply:?}"
            );
            h.join().unwrap();
        }
    }

    #[test]
    fn set_answers() {
        assert_eq!(set_errno(b"errno=0\n\n"), Some(0));
        assert_eq!(set_errno(b"other=1\nerrno=-5\n\n"), Some(-5));
        assert_eq!(set_errno(b"errno=-5\nerrno=0\n\n"), Some(0));
        assert_eq!(set_errno(b"\n"), Some(-i64::from(libc::EPROTO)));
        assert_eq!(set_errno(b"errno=0\n"), None);
        assert_eq!(set_errno(b"junk\n\n"), None);
        assert_eq!(set_errno(b"errno=+1\n\n"), None);
        assert_eq!(set_errno(b"errno=2147483648\n\n"), None);
        assert_eq!(set_errno(b"errno=-2147483648\n\n"), Some(-2147483648));
        assert_eq!(set_errno(b"errno=\n\n"), None);
        assert_eq!(set_errno(b"errno=-\n\n"), None);
        assert!(
            set_status(Err(Some(libc::ECONNRESET))).is_err_and(|e| os(e) == Some(libc::ECONNRESET))
        );
        assert!(set_status(Ok(b"errno=7\n\n")).is_err_and(|e| os(e) == Some(7)));
    }

    #[test]
    fn lists_live_sockets_only() {
        let d = TempDir::new();
        let _a = UnixListener::bind(d.0.join("wg0.sock")).unwrap();
        let _b = UnixListener::bind(d.0.join("tun.x.sock")).unwrap();
        drop(UnixListener::bind(d.0.join("stale.sock")).unwrap());
        let _c = UnixListener::bind(d.0.join("nosuffix")).unwrap();
        let _e = UnixListener::bind(d.0.join(".sock")).unwrap();
        fs::write(d.0.join("file.sock"), b"").unwrap();
        let mut names = list(&d.0).unwrap();
        names.sort();
        assert_eq!(names, ["tun.x", "wg0"]);
        assert!(!d.0.join("stale.sock").exists());
        assert!(has_interface(&d.0, "wg0"));
        assert!(!has_interface(&d.0, "file"));
        assert!(!has_interface(&d.0, "missing"));
        assert_eq!(list(&d.0.join("missing")).unwrap(), Vec::<String>::new());
    }
}
