//! wgd: the wg-core engine as a userspace WireGuard daemon, a drop-in for
//! wireguard-go: `wgd [-f|--foreground] INTERFACE` creates the TUN
//! interface and serves the cross-platform UAPI on
//! /var/run/wireguard/INTERFACE.sock, so `wg` and `wg-quick` drive it.
//!
//! On Linux it asks for offloads (issue 13): TSO/USO super-packets from the
//! TUN with virtio-net headers, TCP coalescing before the TUN write, UDP
//! GSO/GRO (sendmmsg/recvmmsg where refused). WGD_OFFLOAD=0 in the
//! environment turns them all off; see `offload_from_env` for the list form.

mod daemon;
mod framing;
mod icmp;
mod log;
mod offload;
mod sys;
mod tun;
mod udp;

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use sys::cvt;

const SOCKET_DIR: &str = "/var/run/wireguard";

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Run { foreground: bool, name: String },
    Version,
    Help,
}

fn usage(prog: &str) -> String {
    format!("Usage: {prog} [-f/--foreground] INTERFACE-NAME")
}

/// Parses the arguments after the program name. `env_foreground` is
/// WG_PROCESS_FOREGROUND=1.
fn parse_args(args: &[String], env_foreground: bool) -> Result<Command, String> {
    let mut foreground = env_foreground;
    let mut name: Option<String> = None;
    for a in args {
        match a.as_str() {
            "--version" | "-v" => return Ok(Command::Version),
            "--help" | "-h" => return Ok(Command::Help),
            "-f" | "--foreground" => foreground = true,
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option '{s}'")),
            s => {
                if name.is_some() {
                    return Err("more than one interface name given".into());
                }
                name = Some(s.to_string());
            }
        }
    }
    let name = name.ok_or_else(|| "no interface name given".to_string())?;
    tun::check_name(&name)?;
    Ok(Command::Run { foreground, name })
}

fn version() -> String {
    format!(
        "wgd v{}\n\nUserspace WireGuard daemon (wg-core engine) for {}-{}.\n\
         A drop-in for wireguard-go: configure it with wg(8) or wg-quick(8).",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn socket_path(name: &str) -> PathBuf {
    Path::new(SOCKET_DIR).join(format!("{name}.sock"))
}

/// Creates the UAPI listener (dir 0755, socket 0600), refusing when another
/// daemon answers on it and replacing a stale socket file.
fn uapi_listen(path: &Path) -> io::Result<UnixListener> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(SOCKET_DIR)?;
    // SAFETY: umask(2) cannot fail; restored below.
    let old = unsafe { libc::umask(0o077) };
    let r = (|| match UnixListener::bind(path) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by another daemon", path.display()),
                ));
            }
            fs::remove_file(path)?;
            UnixListener::bind(path)
        }
        Err(e) => Err(e),
    })();
    // SAFETY: restores the umask saved above.
    unsafe { libc::umask(old) };
    r
}

/// Blocks the termination signals in this thread (and the threads it
/// starts), so that the main thread can sigwait for them.
fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use;
    // pthread_sigmask only reads it.
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

/// Asks the main thread to shut down (the TUN device went away).
pub fn request_shutdown() {
    // SAFETY: kill(2) on our own pid with a signal the main thread awaits.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
}

/// Forks; the parent waits until the child reports readiness over a pipe
/// and exits 0 (1 if the child died first). Returns the write end in the
/// child.
fn daemonize() -> io::Result<OwnedFd> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both fds were just created and are owned by no one else.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: no other thread exists yet, so the child is a full copy.
    let pid = cvt(unsafe { libc::fork() })?;
    if pid > 0 {
        drop(wr);
        let mut f = fs::File::from(rd);
        let mut b = [0u8; 1];
        let ok = matches!(f.read(&mut b), Ok(1));
        // SAFETY: _exit skips destructors and atexit handlers, which belong
        // to the child now (the socket file must stay).
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    drop(rd);
    // SAFETY: setsid(2) in the fresh child, which leads no process group.
    unsafe { libc::setsid() };
    Ok(wr)
}

fn redirect_stdio() -> io::Result<()> {
    let null = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, both fds valid.
        cvt(unsafe { libc::dup2(null.as_raw_fd(), fd) })?;
    }
    Ok(())
}

/// Which offloads to ask for, from WGD_OFFLOAD: unset or 1 for all; 0
/// (or off, no, false) for none: no virtio-net headers on the TUN (so no
/// TSO/USO and no GRO), no UDP GSO/GRO, every packet one read or write and
/// every datagram one syscall. A comma list of `tun` (virtio-net headers,
/// TSO/USO), `gro` (coalescing before the TUN write; needs `tun`), `udp`
/// (UDP GSO/GRO) and `threads` (a second thread seals half of each
/// super-packet, and one per UDP socket opens half of each GRO train;
/// needs `tun`, and more than one CPU) picks some, to measure each one's
/// share. `threads` is in the default set only with more than two CPUs: on
/// two, with both tunnel ends and iperf3 on the same machine
/// (bench-tunnel), it gained nothing and cost 15-45% more CPU per GB.
fn offload_from_env() -> daemon::OffloadConf {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let all = daemon::OffloadConf {
        tun: true,
        gro: true,
        udp: true,
        threads: cpus > 2,
    };
    match std::env::var("WGD_OFFLOAD").as_deref() {
        Err(_) | Ok("1") | Ok("on") | Ok("") => all,
        Ok(v) => {
            let has = |k: &str| v.split(',').any(|x| x.trim() == k);
            daemon::OffloadConf {
                tun: has("tun"),
                gro: has("tun") && has("gro"),
                udp: has("udp"),
                threads: has("tun") && has("threads") && cpus > 1,
            }
        }
    }
}

fn run(name: &str, foreground: bool) -> Result<(), String> {
    let offload = offload_from_env();
    let (tun_file, ifname, offloads) = tun::create(name, offload.tun)
        .map_err(|e| format!("failed to create TUN device {name}: {e}"))?;
    log::info(format_args!(
        "offloads asked: {offload:?}; TUN has {offloads:?}"
    ));
    if let Err(e) = tun::set_mtu(&ifname, tun::DEFAULT_MTU) {
        log::error(format_args!("cannot set the MTU of {ifname}: {e}"));
    }
    let path = socket_path(&ifname);
    let listener = uapi_listen(&path)
        .map_err(|e| format!("failed to open UAPI socket {}: {e}", path.display()))?;

    let ready = if foreground {
        None
    } else {
        Some(daemonize().map_err(|e| format!("failed to daemonize: {e}"))?)
    };
    let sigset = block_signals();

    let dev = wg_core::Device::new(Box::new(sys::GetRandom))
        .map_err(|e| format!("cannot create the device: {e}"))?;
    dev.set_mtu(tun::get_mtu(&ifname).unwrap_or(tun::DEFAULT_MTU));
    let d = Arc::new(daemon::Daemon::new(dev, tun_file, offloads, offload));
    let started = d
        .start()
        .map_err(|e| format!("cannot start the device: {e}"));
    if let Err(e) = started {
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    let dd = d.clone();
    thread::Builder::new()
        .name("wgd-uapi".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(s) => {
                        let d = dd.clone();
                        let _ = thread::Builder::new()
                            .name("wgd-uapi-conn".into())
                            .spawn(move || d.serve_uapi(s));
                    }
                    Err(e) => log::debug(format_args!("UAPI accept: {e}")),
                }
            }
        })
        .map_err(|e| format!("cannot start the UAPI thread: {e}"))?;
    log::info(format_args!(
        "interface {ifname} is up; UAPI at {}",
        path.display()
    ));

    if let Some(w) = ready {
        let _ = redirect_stdio();
        let mut f = fs::File::from(w);
        let _ = f.write_all(b"1");
    }

    let mut sig: libc::c_int = 0;
    loop {
        // SAFETY: `sigset` is initialised and `sig` is writable.
        let rc = unsafe { libc::sigwait(&sigset, &mut sig) };
        if rc == 0 {
            break;
        }
    }
    log::info(format_args!("signal {sig}: shutting down"));
    d.stop();
    let _ = fs::remove_file(&path);
    Ok(())
}

fn main() {
    log::set_level_from_env();
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv
        .first()
        .map(String::as_str)
        .unwrap_or("wgd")
        .to_string();
    let env_fg = std::env::var("WG_PROCESS_FOREGROUND").as_deref() == Ok("1");
    match parse_args(&argv[1..], env_fg) {
        Ok(Command::Version) => println!("{}", version()),
        Ok(Command::Help) => println!("{}", usage(&prog)),
        Ok(Command::Run { foreground, name }) => {
            if let Err(e) = run(&name, foreground) {
                eprintln!("wgd: {e}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("wgd: {e}\n{}", usage(&prog));
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parse() {
        let run = |fg, n: &str| Command::Run {
            foreground: fg,
            name: n.into(),
        };
        assert_eq!(parse_args(&args(&["wg0"]), false), Ok(run(false, "wg0")));
        assert_eq!(parse_args(&args(&["wg0"]), true), Ok(run(true, "wg0")));
        assert_eq!(
            parse_args(&args(&["-f", "wg0"]), false),
            Ok(run(true, "wg0"))
        );
        assert_eq!(
            parse_args(&args(&["--foreground", "wg0"]), false),
            Ok(run(true, "wg0"))
        );
        assert_eq!(
            parse_args(&args(&["wg0", "-f"]), false),
            Ok(run(true, "wg0"))
        );
        assert_eq!(
            parse_args(&args(&["--version"]), false),
            Ok(Command::Version)
        );
        assert_eq!(parse_args(&args(&["--help"]), false), Ok(Command::Help));
        assert!(parse_args(&args(&[]), false).is_err());
        assert!(parse_args(&args(&["-x", "wg0"]), false).is_err());
        assert!(parse_args(&args(&["wg0", "wg1"]), false).is_err());
        assert!(parse_args(&args(&["averyveryverylongname"]), false).is_err());
    }
}
