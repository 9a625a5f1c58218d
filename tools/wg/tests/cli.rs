//! Our `wg` against Debian's wireguard-tools on the same command lines,
//! inputs and files: usage texts, key commands, and every way `set`,
//! `setconf`, `addconf` and `syncconf` can refuse their input. Both tools
//! run with the same argv[0], so the program name they print agrees.
//!
//! The interface named here does not exist, so nothing is changed and no
//! root or network is needed; when the input is good, both tools get as
//! far as the backend and fail there, with the same error: on Linux a
//! name without a UAPI socket goes to the kernel's generic netlink family
//! `wireguard` in both, so the errno is whatever this machine's kernel
//! answers (EPROTONOSUPPORT without the family, ENODEV with it). Without
//! /usr/bin/wg each comparison prints "skipped".

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const DEBIAN_WG: &str = "/usr/bin/wg";
const OUR_WG: &str = env!("CARGO_BIN_EXE_wg");
const IFACE: &str = "wgclitest0";

const K1: &str = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
const K2: &str = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=";
const PRIV: &str = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=";

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

struct Run<'a> {
    args: &'a [&'a str],
    stdin: &'a [u8],
    env: &'a [(&'a str, &'a str)],
}

impl<'a> Run<'a> {
    fn args(args: &'a [&'a str]) -> Self {
        Run {
            args,
            stdin: b"",
            env: &[],
        }
    }

    fn exec(&self, binary: &str) -> Outcome {
        let mut cmd = Command::new(binary);
        cmd.arg0("wg")
            .args(self.args)
            .env_remove("WG_ENDPOINT_RESOLUTION_RETRIES")
            .env_remove("WG_HIDE_KEYS")
            .env_remove("WG_COLOR_MODE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn");
        if let Some(mut input) = child.stdin.take() {
            // A tool may exit before reading all of it; that is its right.
            let _ = input.write_all(self.stdin);
        }
        let out = child.wait_with_output().expect("wait");
        Outcome {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn have_debian() -> bool {
    if Path::new(DEBIAN_WG).exists() {
        true
    } else {
        println!("skipped: {DEBIAN_WG} is not installed");
        false
    }
}

/// Both tools must print and exit exactly alike.
fn same(run: Run) -> Outcome {
    let ours = run.exec(OUR_WG);
    if have_debian() {
        let theirs = run.exec(DEBIAN_WG);
        assert_eq!(ours, theirs, "args {:?}", run.args);
    }
    ours
}

/// The lines a backend prints when the interface is missing.
fn backend_line(line: &str) -> bool {
    line.starts_with("Unable to modify interface: ")
        || line.starts_with("Unable to retrieve current interface configuration: ")
}

/// Both tools accept the input and fail only at the backend: everything
/// before that last line (warnings) must agree, and so must the status.
fn same_until_backend(run: Run) {
    let ours = run.exec(OUR_WG);
    let split = |o: &Outcome| -> (Vec<String>, String) {
        let mut lines: Vec<String> = o.stderr.lines().map(str::to_string).collect();
        let last = lines.pop().unwrap_or_default();
        (lines, last)
    };
    let (ours_before, ours_last) = split(&ours);
    assert!(backend_line(&ours_last), "args {:?}: {ours:?}", run.args);
    assert_eq!(ours.status, Some(1));
    assert_eq!(ours.stdout, "");
    if have_debian() {
        let theirs = run.exec(DEBIAN_WG);
        let (theirs_before, theirs_last) = split(&theirs);
        assert!(
            backend_line(&theirs_last),
            "args {:?}: {theirs:?}",
            run.args
        );
        assert_eq!(ours_before, theirs_before, "args {:?}", run.args);
        // The backend's errno too: both pick the UAPI socket or the
        // kernel alike, and the kernel answers both alike.
        assert_eq!(ours_last, theirs_last, "args {:?}", run.args);
        assert_eq!(ours.status, theirs.status);
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A file removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn with(contents: &[u8]) -> Temp {
        Self::with_mode(contents, 0o600)
    }

    fn with_mode(contents: &[u8], mode: u32) -> Temp {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("wg-cli-{}-{n}", std::process::id()));
        let _ = fs::remove_file(&path);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .expect("temp file");
        f.write_all(contents).expect("write temp file");
        Temp(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {text}"),
        }
    };
    let body = text.trim_end_matches('=').as_bytes();
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for &c in body {
        bits = (bits << 6) | value(c);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn usage_and_unknown_subcommands() {
    for args in [&["help"][..], &["--help"], &["-h"]] {
        let out = same(Run::args(args));
        assert_eq!(out.status, Some(0));
        assert!(out.stdout.starts_with("Usage: wg <cmd> [<args>]\n"));
    }
    for args in [
        &["frobnicate"][..],
        &["help", "me"],
        &["--version", "x"],
        &["SHOW"],
        &[""],
        &["-v", "-h"],
    ] {
        let out = same(Run::args(args));
        assert_eq!(out.status, Some(1));
        assert!(out.stderr.starts_with("Invalid subcommand: `"));
    }
}

#[test]
fn version_is_ours() {
    for arg in ["--version", "-v", "version"] {
        let out = Run::args(&[arg]).exec(OUR_WG);
        assert_eq!(out.status, Some(0));
        assert!(out.stdout.starts_with("wg (if_wg in Rust) v"), "{out:?}");
        assert!(out.stdout.ends_with('\n'));
        assert_eq!(out.stderr, "");
    }
}

#[test]
fn subcommand_usage() {
    let cases: &[&[&str]] = &[
        &["genkey", "x"],
        &["genpsk", "--help"],
        &["pubkey", "x", "y"],
        &["set"],
        &["set", IFACE],
        &["set", "--help"],
        &["setconf"],
        &["setconf", IFACE],
        &["addconf", IFACE, "a", "b"],
        &["syncconf", "--help"],
    ];
    for args in cases {
        let out = same(Run::args(args));
        assert_eq!(out.status, Some(1));
        assert!(out.stderr.starts_with("Usage: wg "), "{out:?}");
    }
}

#[test]
fn pubkey_of_good_keys() {
    let keys = [
        PRIV.to_string(),
        K1.to_string(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string(),
        "//////////////////////////////////////////8=".to_string(),
        "YIXVmgQ/bQp8sPpf45YDhaeVpPcl7oqzS3oP+0JUMGg=".to_string(),
    ];
    for key in &keys {
        for input in [
            key.clone(),
            format!("{key}\n"),
            format!("{key} \t\r\n\x0b\x0c\0\n"),
        ] {
            let out = same(Run {
                args: &["pubkey"],
                stdin: input.as_bytes(),
                env: &[],
            });
            assert_eq!(out.status, Some(0), "{input:?}");
            assert_eq!(out.stdout.len(), 45);
        }
    }
    let out = Run {
        args: &["pubkey"],
        stdin: PRIV.as_bytes(),
        env: &[],
    }
    .exec(OUR_WG);
    assert_eq!(out.stdout, format!("{K1}\n"));
}

#[test]
fn pubkey_of_bad_input() {
    let inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\n".to_vec(),
        PRIV.as_bytes()[..43].to_vec(),
        format!(" {PRIV}").into_bytes(),
        format!("{PRIV}x").into_bytes(),
        format!("{PRIV}\n{PRIV}\n").into_bytes(),
        b"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ=".to_vec(),
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_vec(),
        b"AAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAA=".to_vec(),
        b"AAAAAAAAAAAAAAAAAAAA\0AAAAAAAAAAAAAAAAAAAAAA=".to_vec(),
        b"AAAAAAAAAAAAAAAAAAAA\xffAAAAAAAAAAAAAAAAAAAAAA=".to_vec(),
        b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==".to_vec(),
    ];
    for input in &inputs {
        let out = same(Run {
            args: &["pubkey"],
            stdin: input,
            env: &[],
        });
        assert_eq!(out.status, Some(1), "{input:?}");
        assert!(out.stderr.starts_with("wg: "), "{out:?}");
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn generated_keys() {
    for cmd in ["genkey", "genpsk"] {
        let mut seen = Vec::new();
        for _ in 0..8 {
            let out = Run::args(&[cmd]).exec(OUR_WG);
            assert_eq!(out.status, Some(0));
            assert_eq!(out.stderr, "");
            let text = out.stdout.strip_suffix('\n').expect("newline").to_string();
            assert_eq!(text.len(), 44);
            assert!(text.ends_with('='));
            let bytes = decode_base64(&text);
            assert_eq!(bytes.len(), 32);
            if cmd == "genkey" {
                assert_eq!(bytes[0] & 7, 0, "{text}");
                assert_eq!(bytes[31] & 0xc0, 0x40, "{text}");
            }
            // Debian's decoder takes it, so the encoding is canonical.
            if have_debian() {
                let check = Run {
                    args: &["pubkey"],
                    stdin: out.stdout.as_bytes(),
                    env: &[],
                };
                assert_eq!(check.exec(DEBIAN_WG).status, Some(0));
            }
            seen.push(text);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 8);
    }
}

/// Runs a key command with stdout in a file of the given mode.
fn genkey_into_file(binary: &str, cmd: &str, mode: u32) -> (Option<i32>, String, usize) {
    let file = Temp::with_mode(b"", mode);
    // The mode given at creation is cut by the umask; set it outright.
    fs::set_permissions(&file.0, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .expect("chmod");
    let out = fs::OpenOptions::new()
        .write(true)
        .open(&file.0)
        .expect("open");
    let result = Command::new(binary)
        .arg0("wg")
        .arg(cmd)
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    let written = fs::read(&file.0).map(|b| b.len()).unwrap_or(0);
    (
        result.status.code(),
        String::from_utf8_lossy(&result.stderr).into_owned(),
        written,
    )
}

#[test]
fn world_accessible_key_files_are_warned_about() {
    for cmd in ["genkey", "genpsk"] {
        for mode in [0o600, 0o640, 0o644, 0o601, 0o602, 0o666] {
            let ours = genkey_into_file(OUR_WG, cmd, mode);
            assert_eq!(ours.0, Some(0));
            assert_eq!(ours.2, 45);
            assert_eq!(
                ours.1.is_empty(),
                mode & 0o7 == 0,
                "mode {mode:o}: {}",
                ours.1
            );
            if have_debian() {
                let theirs = genkey_into_file(DEBIAN_WG, cmd, mode);
                assert_eq!(
                    (ours.0, &ours.1, ours.2),
                    (theirs.0, &theirs.1, theirs.2),
                    "mode {mode:o}"
                );
            }
        }
    }
}

#[test]
fn set_argument_errors() {
    let cases: &[&[&str]] = &[
        &["bogus"],
        &["listen-port"],
        &["listen-port", ""],
        &["listen-port", "abc"],
        &["listen-port", "-1"],
        &["fwmark", ""],
        &["fwmark", "0x"],
        &["fwmark", "0X1"],
        &["fwmark", "4294967296"],
        &["fwmark", "-5"],
        &["private-key"],
        &["private-key", "/nonexistent/wg-key"],
        &["peer"],
        &["peer", "abc"],
        &["peer", K1, "listen-port", "1"],
        &["peer", K1, "private-key", "/dev/null"],
        &["remove"],
        &["endpoint", "1.2.3.4:5"],
        &["peer", K1, "endpoint"],
        &["peer", K1, "endpoint", ""],
        &["peer", K1, "endpoint", "1.2.3.4"],
        &["peer", K1, "endpoint", "1.2.3.4:"],
        &["peer", K1, "endpoint", "[::1"],
        &["peer", K1, "endpoint", "[::1]"],
        &["peer", K1, "endpoint", "[::1]5"],
        &["peer", K1, "endpoint", "1.2.3.4:notaport"],
        &["peer", K1, "allowed-ips", "10.0.0.0/33"],
        &["peer", K1, "allowed-ips", "10.0.0.0/"],
        &["peer", K1, "allowed-ips", "10.0.0/8"],
        &["peer", K1, "allowed-ips", "-10.0.0.0/8"],
        &["peer", K1, "allowed-ips", "10.0.0.0/8,"],
        &["peer", K1, "allowed-ips", "::/129"],
        &["peer", K1, "allowed-ips", "fe80::1%lo/64"],
        &["peer", K1, "allowed-ips", "10.1.1.1/24,zz"],
        &["peer", K1, "persistent-keepalive", "65536"],
        &["peer", K1, "persistent-keepalive", ""],
        &["peer", K1, "persistent-keepalive", "on"],
        &["peer", K1, "preshared-key", "/nonexistent/wg-psk"],
        &["peer", K1, "remove", "bogus"],
        &["peer", K1, "allowed-ips"],
    ];
    for rest in cases {
        let mut args = vec!["set", IFACE];
        args.extend_from_slice(rest);
        // A bad port name is a transient getaddrinfo error: no retries.
        let out = same(Run {
            args: &args,
            stdin: b"",
            env: &[("WG_ENDPOINT_RESOLUTION_RETRIES", "0")],
        });
        assert_eq!(out.status, Some(1));
        assert!(
            !backend_line(out.stderr.lines().last().unwrap_or("")),
            "{args:?}: {out:?}"
        );
    }
}

#[test]
fn set_key_files() {
    let files = [
        Temp::with(b"\n"),
        Temp::with(&PRIV.as_bytes()[..43]),
        Temp::with(format!("{PRIV}\nx").as_bytes()),
        Temp::with(format!("{PRIV}\0").as_bytes()),
        Temp::with(format!(" {}", &PRIV[..43]).as_bytes()),
        Temp::with(b"ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ="),
        Temp::with(format!("{PRIV}{PRIV}").as_bytes()),
    ];
    for f in &files {
        for args in [
            vec!["set", IFACE, "private-key", f.path()],
            vec!["set", IFACE, "peer", K1, "preshared-key", f.path()],
        ] {
            let out = same(Run::args(&args));
            assert_eq!(out.status, Some(1));
        }
    }
    let dir = std::env::temp_dir();
    let out = same(Run::args(&[
        "set",
        IFACE,
        "private-key",
        dir.to_str().expect("utf-8"),
    ]));
    assert_eq!(out.status, Some(1));

    let good = Temp::with(format!("{PRIV}\n\n  ").as_bytes());
    let empty = Temp::with(b"");
    for path in [good.path(), empty.path(), "/dev/null"] {
        same_until_backend(Run::args(&["set", IFACE, "private-key", path]));
        same_until_backend(Run::args(&[
            "set",
            IFACE,
            "peer",
            K2,
            "preshared-key",
            path,
        ]));
    }
}

#[test]
fn set_good_arguments_reach_the_backend() {
    let cases: &[&[&str]] = &[
        &["listen-port", "51820"],
        &["listen-port", "0"],
        &["listen-port", " 7"],
        &["listen-port", "domain"],
        &["fwmark", "off"],
        &["fwmark", "0x0000ff"],
        &["fwmark", "4294967295"],
        &["peer", K1],
        &["peer", K1, "remove"],
        &["peer", K1, "allowed-ips", ""],
        &["peer", K1, "allowed-ips", " 10.0.0.0/8 , fd00::/64 "],
        &["peer", K1, "allowed-ips", "10.1.2.3/8,fd00::1/64,10.0.0.1"],
        &["peer", K1, "endpoint", "192.0.2.1:51820"],
        &["peer", K1, "endpoint", "[2001:db8::1]:51820"],
        &["peer", K1, "endpoint", "2001:db8::1:51820"],
        &["peer", K1, "persistent-keepalive", "off"],
        &["peer", K1, "persistent-keepalive", "025"],
        &[
            "peer",
            K1,
            "persistent-keepalive",
            "25",
            "peer",
            K2,
            "remove",
        ],
    ];
    for rest in cases {
        let mut args = vec!["set", IFACE];
        args.extend_from_slice(rest);
        same_until_backend(Run::args(&args));
    }
}

#[test]
fn resolution_retries_setting() {
    for value in ["x", "-1", "5x", "2147483648", " "] {
        let env = [("WG_ENDPOINT_RESOLUTION_RETRIES", value)];
        let out = same(Run {
            args: &["set", IFACE, "peer", K1, "endpoint", ""],
            stdin: b"",
            env: &env,
        });
        assert_eq!(out.status, Some(1));
        assert!(out
            .stderr
            .starts_with("Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES"));
        let conf = Temp::with(format!("[Peer]\nPublicKey={K1}\nEndpoint=1.2.3.4:5\n").as_bytes());
        let out = same(Run {
            args: &["setconf", IFACE, conf.path()],
            stdin: b"",
            env: &env,
        });
        assert_eq!(out.status, Some(1));
    }
    // One retry: the warning, a one-second pause, then the error.
    let out = same(Run {
        args: &["set", IFACE, "peer", K1, "endpoint", "192.0.2.1:notaport"],
        stdin: b"",
        env: &[("WG_ENDPOINT_RESOLUTION_RETRIES", "1")],
    });
    assert_eq!(out.stderr.lines().count(), 2, "{out:?}");
    assert!(out.stderr.contains("Trying again in 1.00 seconds..."));
    for value in ["infinity", "0", "", "+3"] {
        same_until_backend(Run {
            args: &["set", IFACE, "peer", K1, "endpoint", "192.0.2.1:1"],
            stdin: b"",
            env: &[("WG_ENDPOINT_RESOLUTION_RETRIES", value)],
        });
    }
}

fn bad_configs() -> Vec<String> {
    vec![
        "ListenPort = 1\n".into(),
        "[Interface]\nListenPort =\n".into(),
        "[Interface]\nListenPort = nope\n".into(),
        "[Interface]\nListenPort\n".into(),
        "[Interface]\nPublicKey = x\n".into(),
        "[Interface]\nAddress = 10.0.0.1/24\n".into(),
        "[Interface]\nDNS = 1.1.1.1\n".into(),
        "[Interface]\nFwMark = 0x\n".into(),
        "[Interface]\nPrivateKey = abc\n".into(),
        format!("[Interface]\nPrivateKey = {}\n", &PRIV[..43]),
        "[Interfaces]\n".into(),
        "[Peer]\nListenPort = 1\n".into(),
        "[Peer]\n".into(),
        "[Peer]\nAllowedIPs = 10.0.0.1\n".into(),
        format!("[Peer]\nPublicKey = {K1}\n[Peer]\n"),
        format!("[Peer]\nPublicKey = {K1}\nAllowedIPs = 10.0.0.1/33\n"),
        format!("[Peer]\nPublicKey = {K1}\nAllowedIPs = 10.0.0.0/8,\n"),
        format!("[Peer]\nPublicKey = {K1}\nAllowedIPs =\n"),
        format!("[Peer]\nPublicKey = {K1}\nAllowedIPs = 10.1.1.1/8, 1.2.3\n"),
        format!("[Peer]\nPublicKey = {K1}\nEndpoint = 1.2.3.4\n"),
        format!("[Peer]\nPublicKey = {K1}\nEndpoint = [::1\n"),
        format!("[Peer]\nPublicKey = {K1}\nEndpoint = [::1]:\n"),
        format!("[Peer]\nPublicKey = {K1}\nPersistentKeepalive = 65536\n"),
        format!("[Peer]\nPublicKey = {K1}\nPresharedKey = {K1}x\n"),
        format!("[Peer]\nPublicKey = {K1}\nPersistent Keepalive = on # no\n"),
        "[Peer]\nPublicKey = ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ=\n".into(),
        "[Interface]\nX=\u{e9}\n".into(),
        format!("[Peer]\nPublicKey = {K1}\n\\\nAllowedIPs = 10.0.0.1\n"),
    ]
}

fn good_configs() -> Vec<String> {
    vec![
        "".into(),
        "# nothing\n\n   \n".into(),
        format!(
            "[Interface]\nPrivateKey = {PRIV}\nListenPort = 51820\nFwMark = 0x1\n\n\
             [Peer]\nPublicKey = {K1}\nPresharedKey = {K2}\nAllowedIPs = 10.0.0.0/24, fd00::/64\n\
             AllowedIPs = 10.9.0.1\nEndpoint = 192.0.2.7:51820\nPersistentKeepalive = 25\n\
             [peer]\npublickey={K2}\r\n"
        ),
        format!("  [ INTERFACE ]  # c\n\tlisten port = 5 1\n[Peer]\nPublic Key = {K1} # k\nAllowedIPs = 10.1.2.3/8\n"),
        format!("[Peer]\nPublicKey = {K1}\nAllowedIPs = fd00::1/64, 10.0.0.1/31\nEndpoint = [::1]:7\n"),
        format!("[Interface]\nListenPort = 1\n[Peer]\nPublicKey = {K1}\nEndpoint = 1.2.3.4:5\0junk\n"),
        format!("[Peer]\nPublicKey = {K1}\nPersistentKeepalive = off\n[Interface]\nFwMark = off\n"),
        format!("[Interface]\nPrivateKey = {PRIV}"),
    ]
}

#[test]
fn config_file_errors() {
    for cmd in ["setconf", "addconf", "syncconf"] {
        for text in bad_configs() {
            let conf = Temp::with(text.as_bytes());
            let out = same(Run::args(&[cmd, IFACE, conf.path()]));
            assert_eq!(out.status, Some(1), "{text:?}");
            let last = out.stderr.lines().last().unwrap_or("");
            assert!(
                last == "Configuration parsing error" || last == "Invalid configuration",
                "{cmd} {text:?}: {out:?}"
            );
        }
        let out = same(Run::args(&[cmd, IFACE, "/nonexistent/wg.conf"]));
        assert_eq!(out.stderr, "fopen: No such file or directory\n");
    }
}

#[test]
fn good_config_files_reach_the_backend() {
    for cmd in ["setconf", "addconf", "syncconf"] {
        for text in good_configs() {
            let conf = Temp::with(text.as_bytes());
            same_until_backend(Run::args(&[cmd, IFACE, conf.path()]));
        }
    }
}

#[test]
fn manual_page_is_clean() {
    let page = concat!(env!("CARGO_MANIFEST_DIR"), "/wg.8");
    let Ok(out) = Command::new("mandoc")
        .args(["-Tlint", "-Wwarning", page])
        .output()
    else {
        println!("skipped: mandoc is not installed");
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// glibc reads a numeric port modulo 65536, so Debian's wg takes 65536
/// as "any port"; ours refuses it, as wg does on FreeBSD.
#[test]
fn ports_beyond_65535_are_refused() {
    for port in ["65536", "70000", "99999999999"] {
        let out = Run::args(&["set", IFACE, "listen-port", port]).exec(OUR_WG);
        assert_eq!(out.status, Some(1));
        assert_eq!(
            out.stderr,
            format!("Servname not supported for ai_socktype: `{port}'\n")
        );
        let conf = Temp::with(format!("[Interface]\nListenPort = {port}\n").as_bytes());
        let out = Run::args(&["setconf", IFACE, conf.path()]).exec(OUR_WG);
        assert_eq!(
            out.stderr,
            format!(
                "Servname not supported for ai_socktype: `{port}'\nConfiguration parsing error\n"
            )
        );
    }
}

/// Issue 15, item 12: for a name without a UAPI socket both tools ask the
/// kernel, and print the same error whatever this machine's kernel has
/// ("Protocol not supported" without the `wireguard` family, "No such
/// device" with it), for every command that reaches the backend.
#[test]
fn missing_interfaces_fail_as_debian_says() {
    let long = "abcdefghijklmnopqrstuvwxyz";
    let cases: &[&[&str]] = &[
        &["show", "nosuch0"],
        &["show", "nosuch0", "dump"],
        &["show", "nosuch0", "public-key"],
        &["show", "nosuch0", "peers"],
        &["show", "nosuch0", "endpoints"],
        &["showconf", "nosuch0"],
        &["set", "nosuch0", "listen-port", "1"],
        &["set", "nosuch0", "peer", K1, "remove"],
        &["setconf", "nosuch0", "/dev/null"],
        &["addconf", "nosuch0", "/dev/null"],
        &["syncconf", "nosuch0", "/dev/null"],
        &["show", "a/b"],
        &["showconf", "a/b"],
        &["set", "a/b", "listen-port", "1"],
        &["show", long],
        &["showconf", long],
        &["set", long, "listen-port", "1"],
        &["show", "nosuch0", "dump"],
    ];
    for args in cases {
        let out = same(Run::args(args));
        assert_eq!(out.status, Some(1), "args {args:?}: {out:?}");
        assert!(
            out.stderr.starts_with("Unable to access interface: ")
                || out.stderr.starts_with("Unable to modify interface: "),
            "args {args:?}: {out:?}"
        );
    }
}

/// A socket file nobody listens on (the daemon is gone) is removed and the
/// name goes to the kernel; a plain file with a socket's name is not a
/// UAPI interface either. Needs a writable /var/run/wireguard (root).
#[test]
fn stale_uapi_sockets_fall_through_to_the_kernel() {
    let dir = Path::new("/var/run/wireguard");
    if fs::create_dir_all(dir).is_err() || !have_debian() {
        println!("skipped: /var/run/wireguard is not writable");
        return;
    }
    let name = format!("wgst{}", std::process::id() % 1_000_000);
    let path = dir.join(format!("{name}.sock"));
    let stale = || {
        let _ = fs::remove_file(&path);
        // Dropped at once: the file stays, connecting is refused.
        std::os::unix::net::UnixListener::bind(&path).is_ok()
    };
    if !stale() {
        println!("skipped: cannot bind {}", path.display());
        return;
    }
    let run = |binary: &str| {
        let args = ["show", name.as_str()];
        Run::args(&args).exec(binary)
    };
    let ours = run(OUR_WG);
    let ours_removed = !path.exists();
    assert!(stale());
    let theirs = run(DEBIAN_WG);
    let theirs_removed = !path.exists();
    let _ = fs::remove_file(&path);
    assert_eq!(ours, theirs);
    assert_eq!(ours_removed, theirs_removed);
    assert!(ours_removed, "the stale socket stays: {ours:?}");
    // A regular file with a socket's name.
    fs::write(&path, b"").unwrap();
    let ours = run(OUR_WG);
    let theirs = run(DEBIAN_WG);
    let _ = fs::remove_file(&path);
    assert_eq!(ours, theirs);
}
