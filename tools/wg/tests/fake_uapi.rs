//! `wg show` and `wg showconf` against Debian's wireguard-tools, byte for
//! byte, on interfaces served by a fake UAPI server with fixed contents.
//!
//! The server answers `get=1` with a canned configuration (peers with IPv4
//! and IPv6 allowed IPs, a preshared key, keepalives, endpoints of both
//! families, handshakes minutes, hours and years ago, never and in the
//! future, transfer counts at every unit threshold). Both tools then run
//! every show form, every field and showconf, with colour forced on, off
//! and left to detection, keys hidden and shown, and must print the same
//! stdout and stderr and exit alike.
//!
//! The sockets live in a directory of this test's own (on /dev/shm, removed
//! at the end even on failure), not in the real /var/run/wireguard: each
//! run happens in private mount and network namespaces where that
//! directory is bind-mounted on /var/run/wireguard, so the tools see
//! exactly the fake interfaces (no live ones from other tests, no kernel
//! ones), and nobody else ever sees the fakes. This needs root, Debian's
//! /usr/bin/wg, unshare(1) and bash; without them the test says "skipped"
//! and passes.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment words for one run.
type Env = Vec<(&'static str, &'static str)>;

const DEBIAN_WG: &str = "/usr/bin/wg";
const OUR_WG: &str = env!("CARGO_BIN_EXE_wg");

fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn key(seed: u8) -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = seed
            .wrapping_mul(31)
            .wrapping_add((i as u8).wrapping_mul(7));
    }
    k
}

struct FakePeer {
    key: u8,
    psk: Option<u8>,
    endpoint: Option<&'static str>,
    handshake: i64,
    handshake_nsec: u32,
    rx: u64,
    tx: u64,
    keepalive: u16,
    allowed: &'static [&'static str],
}

/// The `get=1` answer, in the order wireguard-go writes it.
fn response(
    private: Option<u8>,
    port: Option<u16>,
    fwmark: Option<u32>,
    peers: &[FakePeer],
) -> String {
    let mut s = String::new();
    if let Some(k) = private {
        s += &format!("private_key={}\n", hex(&key(k)));
    }
    if let Some(p) = port {
        s += &format!("listen_port={p}\n");
    }
    if let Some(m) = fwmark {
        s += &format!("fwmark={m}\n");
    }
    for p in peers {
        s += &format!("public_key={}\n", hex(&key(p.key)));
        // A peer without a preshared key is sent as all zeroes.
        s += &format!("preshared_key={}\n", hex(&p.psk.map_or([0; 32], key)));
        s += "protocol_version=1\n";
        if let Some(e) = p.endpoint {
            s += &format!("endpoint={e}\n");
        }
        s += &format!(
            "last_handshake_time_sec={}\nlast_handshake_time_nsec={}\n",
            p.handshake, p.handshake_nsec
        );
        s += &format!("tx_bytes={}\nrx_bytes={}\n", p.tx, p.rx);
        s += &format!("persistent_keepalive_interval={}\n", p.keepalive);
        for a in p.allowed {
            s += &format!("allowed_ip={a}\n");
        }
    }
    s += "errno=0\n\n";
    s
}

/// Three interfaces: a full one (peers listed out of handshake order), a
/// bare one and one with a key and a single empty peer.
fn interfaces(now: i64) -> Vec<(&'static str, String)> {
    const KIB: u64 = 1024;
    let full = vec![
        FakePeer {
            key: 1,
            psk: None,
            endpoint: None,
            handshake: 0,
            handshake_nsec: 0,
            rx: 0,
            tx: 0,
            keepalive: 0,
            allowed: &[],
        },
        FakePeer {
            key: 2,
            psk: Some(9),
            endpoint: Some("192.0.2.1:51820"),
            handshake: now - 3 * 3600,
            handshake_nsec: 1,
            rx: 1023,
            tx: KIB,
            keepalive: 25,
            allowed: &["10.0.0.0/24", "fd00:1::/64", "10.9.0.1/32"],
        },
        FakePeer {
            key: 3,
            psk: None,
            endpoint: Some("[2001:db8::1]:51821"),
            handshake: now - 65,
            handshake_nsec: 500,
            rx: 1152,
            tx: KIB * KIB - 1,
            keepalive: 1,
            allowed: &["0.0.0.0/0", "::/0"],
        },
        FakePeer {
            key: 4,
            psk: Some(10),
            endpoint: Some("[fe80::1%1]:51822"),
            handshake: now - (365 * 86400 + 2 * 86400 + 3661),
            handshake_nsec: 0,
            rx: KIB * KIB,
            tx: 4_781_506,
            keepalive: 65535,
            allowed: &["::1.2.3.4/128", "2001:db8:0:1::/96"],
        },
        FakePeer {
            key: 5,
            psk: None,
            endpoint: Some("198.51.100.200:1"),
            handshake: now + 3600,
            handshake_nsec: 0,
            rx: KIB * KIB * KIB,
            tx: KIB * KIB * KIB * KIB,
            keepalive: 0,
            allowed: &["192.168.0.0/16"],
        },
        FakePeer {
            key: 6,
            psk: None,
            endpoint: None,
            handshake: now - 7200,
            handshake_nsec: 0,
            rx: 0,
            tx: u64::MAX,
            keepalive: 3600,
            allowed: &["172.16.0.0/12"],
        },
    ];
    let lone = vec![FakePeer {
        key: 7,
        psk: None,
        endpoint: None,
        handshake: 0,
        handshake_nsec: 0,
        rx: 0,
        tx: 0,
        keepalive: 0,
        allowed: &[],
    }];
    vec![
        (
            "wgfake0",
            response(Some(11), Some(51820), Some(0x1234ab), &full),
        ),
        ("wgfake1", response(None, None, None, &[])),
        ("wgfake2", response(Some(12), Some(1), Some(0), &lone)),
    ]
}

/// Answers every connection on `listener` with `answer` once the client
/// has sent its request (connections that only probe are just closed).
fn serve(listener: UnixListener, answer: String) {
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let answer = answer.clone();
            thread::spawn(move || answer_one(conn, &answer));
        }
    });
}

fn answer_one(conn: UnixStream, answer: &str) {
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut request = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\n" => break,
            Ok(_) => request.push_str(&line),
        }
    }
    if request == "get=1\n" {
        let _ = writer.write_all(answer.as_bytes());
    } else {
        let _ = writer.write_all(b"errno=22\n\n");
    }
}

/// The socket directory; removed when the test ends, failing or not.
struct SocketDir(PathBuf);

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `bin` as "wg" with `args` where /var/run/wireguard is `dir`.
fn run(dir: &Path, bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--net", "--propagation", "private", "bash", "-c"])
        .arg(r#"mount --bind "$1" /var/run/wireguard || exit 97; shift; exec -a wg "$@""#)
        .arg("bash")
        .arg(dir)
        .arg(bin)
        .args(args)
        .env_remove("WG_COLOR_MODE")
        .env_remove("WG_HIDE_KEYS")
        .envs(env.iter().copied());
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run unshare: {e}"),
    }
}

fn describe(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout)
            .escape_debug()
            .to_string()
            .replace("\\n", "\\n\n"),
        String::from_utf8_lossy(&o.stderr)
            .escape_debug()
            .to_string()
            .replace("\\n", "\\n\n"),
    )
}

fn listing_names(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Whether two runs agree, byte for byte. For a name no one serves both
/// ask this machine's kernel (generic netlink) and print its answer:
/// EPROTONOSUPPORT without the wireguard family, ENODEV with it.
fn same(a: &Output, b: &Output) -> bool {
    if a.status.code() != b.status.code() || a.stdout != b.stdout {
        return false;
    }
    a.stderr == b.stderr
}

fn skip_reason(dir: &Path) -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !Path::new(DEBIAN_WG).exists() {
        return Some(format!("{DEBIAN_WG} is missing"));
    }
    if fs::create_dir_all("/var/run/wireguard").is_err() {
        return Some("cannot create /var/run/wireguard".into());
    }
    let probe = run(dir, "true", &[], &[]);
    if !probe.status.success() {
        return Some(format!(
            "no private namespaces here (unshare/mount failed: {})",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    None
}

#[test]
fn show_and_showconf_match_wireguard_tools() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    // tmpfs, where the order of directory entries can be controlled.
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = SocketDir(base.join(format!("wg-fake-uapi-{}-{}", std::process::id(), now)));
    if let Err(e) = fs::create_dir_all(&dir.0) {
        println!("skipped: cannot create {}: {e}", dir.0.display());
        return;
    }
    if let Some(why) = skip_reason(&dir.0) {
        println!("skipped: {why}");
        return;
    }
    let ifaces = interfaces(now);
    let mut sorted_names: Vec<&str> = ifaces.iter().map(|(n, _)| *n).collect();
    sorted_names.sort();
    for (name, answer) in &ifaces {
        let path = dir.0.join(format!("{name}.sock"));
        let _ = fs::remove_file(&path);
        match UnixListener::bind(&path) {
            Ok(l) => serve(l, answer.clone()),
            Err(e) => panic!("cannot listen on {}: {e}", path.display()),
        }
    }
    // Debian's wg must see the fakes, or nothing is proved. Both tools list
    // them in directory order, so the forms showing several interfaces are
    // compared as they come.
    let listed = run(&dir.0, DEBIAN_WG, &["show", "interfaces"], &[]);
    let mut seen: Vec<String> = listing_names(&listed);
    seen.sort();
    assert_eq!(
        seen,
        sorted_names,
        "Debian's wg does not see the fake interfaces: {}",
        describe(&listed)
    );
    let fields = [
        "public-key",
        "private-key",
        "listen-port",
        "fwmark",
        "peers",
        "preshared-keys",
        "endpoints",
        "allowed-ips",
        "latest-handshakes",
        "persistent-keepalive",
        "transfer",
        "dump",
    ];
    let mut plain: Vec<Vec<&str>> = vec![
        vec!["showconf", "wgfake0"],
        vec!["showconf", "wgfake1"],
        vec!["showconf", "wgfake2"],
        // Errors and usage.
        vec!["show", "nosuchwg"],
        vec!["show", "nosuchwg", "dump"],
        vec!["show", "wgfake0", "bogus"],
        vec!["show", "all", "bogus"],
        vec!["show", "interfaces", "extra"],
        vec!["show", "wgfake0", "dump", "extra"],
        vec!["show", "-h"],
        vec!["show", "help"],
        vec!["showconf"],
        vec!["showconf", "nosuchwg"],
        vec!["showconf", "wgfake0", "extra"],
    ];
    for f in fields {
        for iface in ["wgfake0", "wgfake1", "wgfake2"] {
            plain.push(vec!["show", iface, f]);
        }
        plain.push(vec!["show", "all", f]);
    }
    let mut pretty: Vec<Vec<&str>> = vec![
        vec!["show", "wgfake0"],
        vec!["show", "wgfake1"],
        vec!["show", "wgfake2"],
    ];
    plain.push(vec!["show", "interfaces"]);
    pretty.push(vec!["show"]);
    pretty.push(vec!["show", "all"]);
    let envs: Vec<Env> = vec![
        vec![],
        vec![("WG_COLOR_MODE", "always")],
        vec![("WG_COLOR_MODE", "never")],
        vec![("WG_HIDE_KEYS", "never")],
        vec![("WG_COLOR_MODE", "always"), ("WG_HIDE_KEYS", "never")],
        vec![("WG_COLOR_MODE", "never"), ("WG_HIDE_KEYS", "never")],
    ];

    let mut cases: Vec<(Vec<&str>, Env)> = Vec::new();
    for args in &plain {
        cases.push((args.clone(), Vec::new()));
    }
    for args in &pretty {
        for env in &envs {
            cases.push((args.clone(), env.clone()));
        }
    }

    let mut failures = Vec::new();
    for (args, env) in &cases {
        let mut pair = (
            run(&dir.0, DEBIAN_WG, args, env),
            run(&dir.0, OUR_WG, args, env),
        );
        if !same(&pair.0, &pair.1) {
            // Handshake ages move with the clock: a second may have ticked
            // between the two runs.
            pair = (
                run(&dir.0, DEBIAN_WG, args, env),
                run(&dir.0, OUR_WG, args, env),
            );
        }
        if !same(&pair.0, &pair.1) {
            failures.push(format!(
                "=== wg {} (env {:?})\n>>> Debian's wg: {}\n>>> ours: {}",
                args.join(" "),
                env,
                describe(&pair.0),
                describe(&pair.1)
            ));
        }
    }
    println!("{} comparisons, {} differ", cases.len(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} outputs differ from Debian's wg:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
