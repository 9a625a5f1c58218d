//! kharness-uapi: wireguard-go's UAPI socket in front of kharness.
//!
//! `kharness-uapi --ctl PATH IFNAME` connects to the harness's control
//! door at PATH (kmod/harness/ctl.h), checks that IFNAME answers SIOCGWG
//! there, then serves the cross-platform UAPI on
//! /var/run/wireguard/IFNAME.sock (dir 0755, socket 0600; a live socket
//! there is refused, a stale one replaced) as wireguard-go and wgd do. In:
//! UAPI requests from wg(8), wg-quick or tests. Out: SIOCGWG/SIOCSWG
//! requests through the door (see uapi_server.rs). Why: so that the
//! FreeBSD module running in the harness is driven by the same tools as
//! a userspace WireGuard.
//!
//! It stays in the foreground. Ready: the socket accepts connections and
//! "ready" is printed on stdout. It ends on SIGTERM, SIGINT or SIGHUP
//! (exit 0) or when the door closes or fails (exit 1), removing its socket.

// The control door's client (framing, Door, FreeBSD errno numbers) is
// shared with wg's FreeBSD backend.
use kharness_ctl as ctl;
use kharness_ctl::errno;
// The request framing is wgd's own reader, so that malformed requests get
// exactly wgd's answers.
#[path = "../../../../tools/wgd/src/framing.rs"]
mod framing;
mod uapi_server;

use std::fs;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use uapi_server::Bridge;

const SOCKET_DIR: &str = "/var/run/wireguard";

/// Set when the door closed or failed: the exit status is then 1.
static DOOR_LOST: AtomicBool = AtomicBool::new(false);

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Run { ctl: PathBuf, name: String },
    Help,
}

fn usage(prog: &str) -> String {
    format!("Usage: {prog} --ctl CONTROL-SOCKET INTERFACE-NAME")
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut ctl: Option<PathBuf> = None;
    let mut name: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--ctl" => {
                let p = it.next().ok_or("--ctl needs a path")?;
                ctl = Some(PathBuf::from(p));
            }
            s if s.starts_with("--ctl=") => ctl = Some(PathBuf::from(&s[6..])),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option '{s}'")),
            s => {
                if name.replace(s.to_string()).is_some() {
                    return Err("more than one interface name given".into());
                }
            }
        }
    }
    let ctl = ctl.ok_or("no control socket given (--ctl PATH)")?;
    let name = name.ok_or("no interface name given")?;
    if ctl::ifname(&name).is_none() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("invalid interface name '{name}'"));
    }
    Ok(Command::Run { ctl, name })
}

/// Creates the UAPI listener `dir/name.sock` (dir 0755, socket 0600),
/// refusing when something answers on it and replacing a stale file.
fn uapi_listen(dir: &Path, name: &str) -> io::Result<(UnixListener, PathBuf)> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    let path = dir.join(format!("{name}.sock"));
    // SAFETY: umask(2) cannot fail; the old mask is restored below.
    let old = unsafe { libc::umask(0o077) };
    let r = match UnixListener::bind(&path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            if UnixStream::connect(&path).is_ok() {
                Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by another daemon", path.display()),
                ))
            } else {
                fs::remove_file(&path).and_then(|()| UnixListener::bind(&path))
            }
        }
        r => r,
    }
    // bind(2) made it 0700 under our umask; wg(8) only needs rw.
    .and_then(|l| {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        Ok(l)
    });
    // SAFETY: restores the umask saved above.
    unsafe { libc::umask(old) };
    Ok((r?, path))
}

/// Blocks the termination signals in this thread and the threads it
/// starts, so that the main thread can sigwait for them.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before
    // use; pthread_sigmask only reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// The door is gone: note it and wake the main thread.
fn door_lost() {
    DOOR_LOST.store(true, Ordering::SeqCst);
    // SAFETY: kill(2) on our own pid with a signal the main thread awaits.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
}

/// Waits until the harness hangs up the door connection (POLLHUP or
/// POLLRDHUP on a second handle; nothing is read, so requests in flight
/// are not disturbed).
fn watch_door(stream: UnixStream) {
    let mut pfd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    loop {
        // SAFETY: `pfd` is one valid pollfd whose fd `stream` keeps open.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if n < 0 || pfd.revents & (libc::POLLHUP | libc::POLLRDHUP | libc::POLLERR) != 0 {
            eprintln!("kharness-uapi: the control door closed");
            door_lost();
            return;
        }
    }
}

fn run(ctl_path: &Path, name: &str) -> Result<(), String> {
    let sigset = block_signals();
    let ifname = ctl::ifname(name).ok_or_else(|| format!("invalid interface name '{name}'"))?;
    let door = ctl::Door::connect(ctl_path).map_err(|e| {
        format!(
            "cannot connect to the control door {}: {e}",
            ctl_path.display()
        )
    })?;
    let watch = door
        .try_clone_stream()
        .map_err(|e| format!("cannot watch the control door: {e}"))?;
    let bridge = Arc::new(Bridge::new(ifname, door, Box::new(door_lost)));
    bridge.probe().map_err(|e| {
        let linux = i32::try_from(-e.errno).unwrap_or(errno::UNKNOWN);
        format!("{name}: {}", io::Error::from_raw_os_error(linux))
    })?;
    let (listener, path) = uapi_listen(Path::new(SOCKET_DIR), name)
        .map_err(|e| format!("failed to open UAPI socket for {name}: {e}"))?;

    thread::Builder::new()
        .name("door-watch".into())
        .spawn(move || watch_door(watch))
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let b = bridge.clone();
    thread::Builder::new()
        .name("uapi-accept".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(s) = conn else { continue };
                let b = b.clone();
                let _ = thread::Builder::new()
                    .name("uapi-conn".into())
                    .spawn(move || b.serve(s));
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    eprintln!(
        "kharness-uapi: {name}: UAPI at {} over {}",
        path.display(),
        ctl_path.display()
    );
    let mut out = io::stdout();
    let _ = writeln!(out, "ready").and_then(|()| out.flush());

    let mut sig: libc::c_int = 0;
    // SAFETY: `sigset` is initialised and `sig` is writable.
    while unsafe { libc::sigwait(&sigset, &mut sig) } != 0 {}
    let _ = fs::remove_file(&path);
    if DOOR_LOST.load(Ordering::SeqCst) {
        return Err(format!("{name}: control door lost; socket removed"));
    }
    Ok(())
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv.first().map_or("kharness-uapi", String::as_str);
    match parse_args(argv.get(1..).unwrap_or_default()) {
        Ok(Command::Help) => println!("{}", usage(prog)),
        Ok(Command::Run { ctl, name }) => {
            if let Err(e) = run(&ctl, &name) {
                eprintln!("kharness-uapi: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("kharness-uapi: {e}\n{}", usage(prog));
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse() {
        let run = |c: &str, n: &str| Command::Run {
            ctl: c.into(),
            name: n.into(),
        };
        assert_eq!(
            parse_args(&args(&["--ctl", "/a", "wg0"])),
            Ok(run("/a", "wg0"))
        );
        assert_eq!(
            parse_args(&args(&["wg0", "--ctl=/b"])),
            Ok(run("/b", "wg0"))
        );
        assert_eq!(parse_args(&args(&["-h"])), Ok(Command::Help));
        for bad in [
            &["wg0"][..],
            &["--ctl", "/a"],
            &["--ctl"],
            &["--ctl", "/a", "wg0", "wg1"],
            &["--ctl", "/a", "-f", "wg0"],
            &["--ctl", "/a", "sixteen_chars_xx"],
            &["--ctl", "/a", "a/b"],
            &["--ctl", "/a", ".."],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn listen_socket() {
        let tmp = kharness_ctl::testutil::TempDir::new();
        let dir = tmp.0.join("run/wireguard");
        let (l, path) = uapi_listen(&dir, "wg0").unwrap();
        assert_eq!(path, dir.join("wg0.sock"));
        let meta = fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // 0755 as created (less only under a stricter umask).
        let dmode = fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(dmode & !0o755, 0, "{dmode:o}");
        assert_eq!(dmode & 0o700, 0o700, "{dmode:o}");
        // A live socket is refused and left alone.
        let e = uapi_listen(&dir, "wg0").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(path.exists());
        // A stale one is replaced.
        drop(l);
        let (_l, again) = uapi_listen(&dir, "wg0").unwrap();
        assert_eq!(again, path);
        UnixStream::connect(&path).unwrap();
    }
}
