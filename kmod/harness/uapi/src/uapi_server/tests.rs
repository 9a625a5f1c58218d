//! The bridge against a fake kernel behind a fake control door: the door
//! decodes SIOCSWG nvlists with nvconfig::decode_set, applies them to a
//! DeviceInfo, and answers SIOCGWG with nvconfig::encode_get, with
//! FreeBSD's size negotiation (size 0 or NULL data: the size; too small:
//! ENOSPC).

use super::*;
use crate::ctl::{Req, Resp, MAGIC};
use kharness_ctl::testutil::{fake_door, TempDir};
use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use wg_core::allowedips::IpPrefix;
use wg_core::config::{Limits, PeerInfo};
use wg_core::endpoint::Endpoint;
use wg_core::uapi::parse_get;

/// FreeBSD errno values the fake kernel answers.
const ENXIO: i32 = 6;
const EINVAL: i32 = 22;
const ENOSPC: i32 = 28;
const EADDRINUSE: i32 = 48;

struct FakeKernel {
    info: DeviceInfo,
    /// How many of the next size queries are each followed by a new peer
    /// (the configuration grows between the size query and the fetch).
    grow_after_queries: usize,
    /// (op, flags, size, buflen) of every request.
    calls: Vec<(u32, u32, u64, u64)>,
    /// Every SIOCSWG request, decoded.
    sets: Vec<DeviceUpdate>,
}

fn empty_info() -> DeviceInfo {
    DeviceInfo {
        private_key: None,
        public_key: None,
        listen_port: 0,
        user_cookie: 0,
        peers: vec![],
    }
}

fn apply(info: &mut DeviceInfo, u: &DeviceUpdate) {
    if let Some(k) = u.private_key {
        info.private_key = k;
        info.public_key = k.as_ref().map(wg_core::crypto::public_key);
    }
    if let Some(p) = u.listen_port {
        info.listen_port = p;
    }
    if let Some(c) = u.user_cookie {
        info.user_cookie = c;
    }
    if u.replace_peers {
        info.peers.clear();
    }
    for p in &u.peers {
        assert!(!p.update_only, "the nvlist cannot say update_only");
        if p.remove {
            info.peers.retain(|q| q.public_key != p.public_key);
            continue;
        }
        let i = match info.peers.iter().position(|q| q.public_key == p.public_key) {
            Some(i) => i,
            None => {
                info.peers.push(PeerInfo {
                    public_key: p.public_key,
                    preshared_key: None,
                    endpoint: None,
                    last_handshake: (0, 0),
                    rx_bytes: 0,
                    tx_bytes: 0,
                    persistent_keepalive: 0,
                    allowed_ips: vec![],
                });
                info.peers.len() - 1
            }
        };
        let q = &mut info.peers[i];
        if let Some(k) = p.preshared_key {
            q.preshared_key = k;
        }
        if let Some(e) = p.endpoint {
            q.endpoint = Some(e);
        }
        if let Some(k) = p.persistent_keepalive {
            q.persistent_keepalive = k;
        }
        if p.replace_allowed_ips {
            q.allowed_ips.clear();
        }
        for a in &p.allowed_ips {
            q.allowed_ips.retain(|x| *x != a.prefix);
            if !a.remove {
                q.allowed_ips.push(a.prefix);
            }
        }
    }
}

impl FakeKernel {
    /// FreeBSD's if_wg for interface "wg0", as the door runs it.
    fn ioctl(&mut self, req: &Req, mut buf: Vec<u8>) -> (Resp, Vec<u8>) {
        self.calls.push((req.op, req.flags, req.size, req.buflen));
        let mut size = req.size;
        let error = if req.name != ctl::ifname("wg0").unwrap() {
            ENXIO
        } else if req.op == Op::SiocSwg as u32 {
            match nvconfig::decode_set(&buf, &Limits::default()) {
                Ok(u) => {
                    let e = if u.listen_port == Some(1) {
                        EADDRINUSE
                    } else {
                        apply(&mut self.info, &u);
                        0
                    };
                    self.sets.push(u);
                    e
                }
                Err(_) => EINVAL,
            }
        } else if req.op == Op::SiocGwg as u32 {
            let packed = nvconfig::encode_get(&self.info).unwrap();
            if req.size == 0 || req.flags & ctl::F_NULLDATA != 0 {
                size = packed.len() as u64;
                if self.grow_after_queries > 0 {
                    self.grow_after_queries -= 1;
                    let n = self.info.peers.len() as u8;
                    self.info.peers.push(PeerInfo {
                        public_key: [0xc0 ^ n; 32],
                        preshared_key: None,
                        endpoint: None,
                        last_handshake: (0, 0),
                        rx_bytes: 0,
                        tx_bytes: 0,
                        persistent_keepalive: 0,
                        allowed_ips: vec![IpPrefix::new_v4([10, n, 0, 0], 16).unwrap()],
                    });
                }
                0
            } else if req.size < packed.len() as u64 || buf.len() < packed.len() {
                ENOSPC
            } else {
                buf[..packed.len()].copy_from_slice(&packed);
                size = packed.len() as u64;
                0
            }
        } else {
            EINVAL
        };
        let resp = Resp {
            magic: MAGIC,
            error,
            size,
            buflen: buf.len() as u64,
        };
        (resp, buf)
    }
}

struct Setup {
    kernel: Arc<Mutex<FakeKernel>>,
    bridge: Arc<Bridge>,
    lost: Arc<AtomicUsize>,
    _dir: TempDir,
}

fn setup(info: DeviceInfo) -> Setup {
    let dir = TempDir::new();
    let kernel = Arc::new(Mutex::new(FakeKernel {
        info,
        grow_after_queries: 0,
        calls: vec![],
        sets: vec![],
    }));
    let k = kernel.clone();
    let (path, _t) = fake_door(&dir.0, move |req, buf| k.lock().unwrap().ioctl(req, buf));
    let lost = Arc::new(AtomicUsize::new(0));
    let l = lost.clone();
    let bridge = Arc::new(Bridge::new(
        ctl::ifname("wg0").unwrap(),
        Door::connect(&path).unwrap(),
        Box::new(move || {
            l.fetch_add(1, Ordering::SeqCst);
        }),
    ));
    Setup {
        kernel,
        bridge,
        lost,
        _dir: dir,
    }
}

/// A UAPI client on a connection the bridge serves.
struct Client {
    stream: UnixStream,
    reader: std::io::BufReader<UnixStream>,
}

impl Client {
    fn new(bridge: &Arc<Bridge>) -> Client {
        let (a, b) = UnixStream::pair().unwrap();
        let br = bridge.clone();
        thread::spawn(move || br.serve(b));
        Client {
            reader: std::io::BufReader::new(a.try_clone().unwrap()),
            stream: a,
        }
    }

    /// Sends `request`, returns the whole answer (up to its blank line).
    fn ask(&mut self, request: &str) -> String {
        self.ask_bytes(request.as_bytes())
    }

    fn ask_bytes(&mut self, request: &[u8]) -> String {
        (&self.stream).write_all(request).unwrap();
        let mut answer = String::new();
        loop {
            let mut line = String::new();
            assert!(self.reader.read_line(&mut line).unwrap() > 0, "{answer}");
            answer.push_str(&line);
            if line.starts_with("errno=") {
                let mut blank = String::new();
                self.reader.read_line(&mut blank).unwrap();
                assert_eq!(blank, "\n");
                answer.push('\n');
                return answer;
            }
        }
    }

    /// True when the bridge closed the connection.
    fn closed(&mut self) -> bool {
        let mut rest = String::new();
        matches!(self.reader.read_to_string(&mut rest), Ok(0))
    }
}

fn hex(k: &[u8; 32]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

const PEER_A: [u8; 32] = [0xa1; 32];
const PEER_B: [u8; 32] = [0xb2; 32];
const PSK: [u8; 32] = [0x5c; 32];
const PRIV: [u8; 32] = [0x48; 32];

fn two_peers_request() -> String {
    format!(
        "set=1\nprivate_key={}\nlisten_port=51820\nfwmark=42\nreplace_peers=true\n\
         public_key={}\npreshared_key={}\nendpoint=[2001:db8::1]:51820\n\
         persistent_keepalive_interval=25\nreplace_allowed_ips=true\n\
         allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n\
         public_key={}\nendpoint=192.0.2.7:1234\nallowed_ip=10.0.1.1/32\n\n",
        hex(&PRIV),
        hex(&PEER_A),
        hex(&PSK),
        hex(&PEER_B)
    )
}

#[test]
fn set_then_get_round_trips() {
    let s = setup(empty_info());
    let mut c = Client::new(&s.bridge);
    assert_eq!(c.ask(&two_peers_request()), "errno=0\n\n");
    {
        let k = s.kernel.lock().unwrap();
        let info = &k.info;
        assert_eq!(info.private_key, Some(PRIV));
        assert_eq!(info.listen_port, 51820);
        // fwmark is FreeBSD's user-cookie.
        assert_eq!(info.user_cookie, 42);
        assert_eq!(info.peers.len(), 2);
        let a = &info.peers[0];
        assert_eq!(a.public_key, PEER_A);
        assert_eq!(a.preshared_key, Some(PSK));
        assert_eq!(
            a.endpoint,
            Some(Endpoint::V6 {
                addr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                port: 51820,
                flowinfo: 0,
                scope_id: 0,
            })
        );
        assert_eq!(a.persistent_keepalive, 25);
        assert_eq!(
            a.allowed_ips,
            vec![
                IpPrefix::new_v4([10, 0, 0, 0], 24).unwrap(),
                IpPrefix::new_v6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 64).unwrap()
            ]
        );
        assert_eq!(info.peers[1].public_key, PEER_B);
        assert!(k.sets[0].replace_peers && k.sets[0].peers[0].replace_allowed_ips);
    }

    let answer = c.ask("get=1\n\n");
    let k = s.kernel.lock().unwrap();
    // Exactly what wgd would print for that configuration.
    let mut want = String::new();
    format_get(&k.info, &mut want);
    format_errno(0, &mut want);
    assert_eq!(answer, want);
    assert!(answer.contains("listen_port=51820\nfwmark=42\n"));
    assert!(answer.contains("endpoint=[2001:db8::1]:51820\n"));
    assert_eq!(parse_get(answer.as_bytes()).unwrap(), k.info);
    // The get asked the size (NULL data, size 0), then fetched it.
    let gets: Vec<_> = k.calls.iter().filter(|c| c.0 == 2).collect();
    assert_eq!(gets.len(), 2);
    assert_eq!((gets[0].1, gets[0].2, gets[0].3), (ctl::F_NULLDATA, 0, 0));
    assert_eq!(gets[1].2, gets[1].3);
    assert_eq!(s.lost.load(Ordering::SeqCst), 0);
}

#[test]
fn get_retries_when_the_config_grows() {
    let s = setup(empty_info());
    let mut c = Client::new(&s.bridge);
    assert_eq!(c.ask(&two_peers_request()), "errno=0\n\n");
    {
        let mut k = s.kernel.lock().unwrap();
        k.grow_after_queries = 1;
        k.calls.clear();
    }

    let answer = c.ask("get=1\n\n");
    let k = s.kernel.lock().unwrap();
    assert_eq!(k.info.peers.len(), 3);
    assert_eq!(parse_get(answer.as_bytes()).unwrap(), k.info);
    // Size, short fetch (ENOSPC), size, fetch.
    let ops: Vec<_> = k.calls.iter().map(|c| (c.0, c.1)).collect();
    assert_eq!(
        ops,
        [(2, ctl::F_NULLDATA), (2, 0), (2, ctl::F_NULLDATA), (2, 0)]
    );
    // The second fetch had room for the grown configuration.
    assert!(k.calls[3].2 > k.calls[1].2);
}

#[test]
fn get_gives_up_when_the_config_keeps_growing() {
    let s = setup(empty_info());
    s.kernel.lock().unwrap().grow_after_queries = usize::MAX;
    let mut c = Client::new(&s.bridge);
    assert_eq!(c.ask("get=1\n\n"), "errno=-28\n\n");
    assert_eq!(s.kernel.lock().unwrap().calls.len(), 2 * MAX_TRIES);
}

#[test]
fn update_only_on_a_missing_peer_creates_nothing() {
    let s = setup(empty_info());
    let mut c = Client::new(&s.bridge);
    assert_eq!(c.ask(&two_peers_request()), "errno=0\n\n");
    s.kernel.lock().unwrap().calls.clear();
    let missing = [0xdd; 32];
    let req = format!(
        "set=1\npublic_key={}\nupdate_only=true\npreshared_key={}\nallowed_ip=10.7.0.0/16\n\
         public_key={}\nupdate_only=true\npersistent_keepalive_interval=7\n\n",
        hex(&missing),
        hex(&PSK),
        hex(&PEER_B)
    );
    assert_eq!(c.ask(&req), "errno=0\n\n");
    let k = s.kernel.lock().unwrap();
    // A GET to learn the peers (size, fetch), then the SIOCSWG.
    let ops: Vec<u32> = k.calls.iter().map(|c| c.0).collect();
    assert_eq!(ops, [2, 2, 1]);
    let sent = k.sets.last().unwrap();
    assert_eq!(sent.peers.len(), 1);
    assert_eq!(sent.peers[0].public_key, PEER_B);
    assert_eq!(k.info.peers.len(), 2);
    assert!(k.info.peers.iter().all(|p| p.public_key != missing));
    assert_eq!(k.info.peers[1].persistent_keepalive, 7);
}

#[test]
fn update_only_follows_the_request_order() {
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let peer = |k: [u8; 32], update_only: bool, remove: bool| wg_core::config::PeerUpdate {
        public_key: k,
        update_only,
        remove,
        ..Default::default()
    };
    // b is created earlier in the request, a removed earlier, c unknown.
    let mut u = DeviceUpdate {
        peers: vec![
            peer(b, false, false),
            peer(b, true, false),
            peer(a, false, true),
            peer(a, true, false),
            peer(c, true, false),
        ],
        ..Default::default()
    };
    resolve_update_only(&mut u, || Ok(vec![a])).unwrap();
    let got: Vec<_> = u
        .peers
        .iter()
        .map(|p| (p.public_key, p.update_only, p.remove))
        .collect();
    assert_eq!(
        got,
        [(b, false, false), (b, false, false), (a, false, true)]
    );
    // replace_peers: nothing exists, and the kernel is not asked.
    let mut u = DeviceUpdate {
        replace_peers: true,
        peers: vec![peer(a, true, false)],
        ..Default::default()
    };
    resolve_update_only(&mut u, || panic!("asked")).unwrap();
    assert!(u.peers.is_empty());
    // No update_only: not asked either; a failed GET fails the set.
    let mut u = DeviceUpdate {
        peers: vec![peer(a, false, false)],
        ..Default::default()
    };
    resolve_update_only(&mut u, || panic!("asked")).unwrap();
    let mut u = DeviceUpdate {
        peers: vec![peer(a, true, false)],
        ..Default::default()
    };
    assert_eq!(
        resolve_update_only(&mut u, || Err(UapiError::IO)),
        Err(UapiError::IO)
    );
}

#[test]
fn kernel_errors_are_translated() {
    let s = setup(empty_info());
    let mut c = Client::new(&s.bridge);
    // FreeBSD's EADDRINUSE (48) is Linux's 98, as wireguard-go answers.
    assert_eq!(c.ask("set=1\nlisten_port=1\n\n"), "errno=-98\n\n");
    // An interface the kernel does not know: ENXIO.
    let dir = TempDir::new();
    let k = s.kernel.clone();
    let (path, _t) = fake_door(&dir.0, move |req, buf| k.lock().unwrap().ioctl(req, buf));
    let other = Arc::new(Bridge::new(
        ctl::ifname("wg9").unwrap(),
        Door::connect(&path).unwrap(),
        Box::new(|| {}),
    ));
    assert_eq!(other.probe(), Err(kernel_error(ENXIO)));
    let mut c9 = Client::new(&other);
    assert_eq!(c9.ask("get=1\n\n"), "errno=-6\n\n");
    assert_eq!(c9.ask("set=1\nlisten_port=5\n\n"), "errno=-6\n\n");
    assert_eq!(s.bridge.probe(), Ok(()));
}

#[test]
fn malformed_requests_get_wgds_answers() {
    let s = setup(empty_info());
    // Parser errors, the connection stays open.
    let mut c = Client::new(&s.bridge);
    assert_eq!(c.ask("set=1\nbogus=1\n\n"), "errno=-22\n\n");
    assert_eq!(c.ask("set=1\nno equals sign\n\n"), "errno=-71\n\n");
    assert_eq!(c.ask("set=1\nlisten_port=70000\n\n"), "errno=-22\n\n");
    assert_eq!(
        c.ask(&format!(
            "set=1\npublic_key={}\nupdate_only=yes\n\n",
            hex(&PEER_A)
        )),
        "errno=-22\n\n"
    );
    assert_eq!(c.ask("get=1\n\n"), "errno=0\n\n");
    // Nothing reached the kernel but the get.
    assert!(s.kernel.lock().unwrap().sets.is_empty());
    // Framing errors: answered, then the connection closes.
    for bad in ["hello\n", "get=1\nx\n", "get=2\n\n"] {
        let mut c = Client::new(&s.bridge);
        assert_eq!(c.ask(bad), "errno=-22\n\n", "{bad:?}");
        assert!(c.closed());
    }
    // A body that is not UTF-8: EINVAL, then closed.
    let mut c = Client::new(&s.bridge);
    assert_eq!(
        c.ask_bytes(b"set=1\nprivate_key=\xff\xfe\n\n"),
        "errno=-22\n\n"
    );
    assert!(c.closed());
    let mut c = Client::new(&s.bridge);
    // A line longer than wgd accepts: EIO, then closed.
    let long = format!("set=1\nprivate_key={}\n\n", "a".repeat(1 << 17));
    assert_eq!(c.ask(&long), "errno=-5\n\n");
    assert!(c.closed());
    assert_eq!(s.lost.load(Ordering::SeqCst), 0);
}

#[test]
fn a_lost_door_is_eio_and_reported_once() {
    let dir = TempDir::new();
    // A door that hangs up at the first request.
    let path = dir.0.join("door.ctl");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let t = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = [0u8; ctl::REQ_LEN];
        let _ = std::io::Read::read_exact(&mut s, &mut head);
    });
    let lost = Arc::new(AtomicUsize::new(0));
    let l = lost.clone();
    let bridge = Arc::new(Bridge::new(
        ctl::ifname("wg0").unwrap(),
        Door::connect(&path).unwrap(),
        Box::new(move || {
            l.fetch_add(1, Ordering::SeqCst);
        }),
    ));
    let mut c = Client::new(&bridge);
    assert_eq!(c.ask("get=1\n\n"), "errno=-5\n\n");
    t.join().unwrap();
    assert_eq!(c.ask("set=1\nlisten_port=5\n\n"), "errno=-5\n\n");
    assert_eq!(lost.load(Ordering::SeqCst), 1);
}
