//! The running daemon: the engine, the TUN device, the UDP sockets and the
//! host's per-peer state, shared by all threads.
//!
//! Threads: one TUN reader, one reader per UDP socket, one timer thread,
//! the UAPI listener and one thread per UAPI connection. Locks, always
//! taken one at a time (never nested, never across an engine call): `hosts`
//! (staged packets), `pool` (recycled packet buffers), `timers`, `bind`
//! (read-locked per send), `conf` (serialises configuration changes).

use crate::framing::{read_request, Request};
use crate::icmp;
use crate::log;
use crate::offload::{self, Coalescer, VnetHdr, VNET_HDR_LEN};
use crate::sys::{mono_ns, now};
use crate::tun::Offloads;
use crate::udp::{send_trains, Bind, Datagram, Received, RecvBatch, RECV_SLOT};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufReader, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread;
use std::time::Duration;
use wg_core::consts::MAX_STAGED_PACKETS;
use wg_core::device::{DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::uapi::{format_errno, format_get, parse_set, UapiError};
use wg_core::{Decap, Device, Encap, Endpoint, Error, PeerAction, PeerId};

/// Largest packet read from the TUN device: a super-packet's skb may hold
/// 64 KiB (GSO_LEGACY_MAX_SIZE), and an IPv6 one carries its 40-byte
/// header outside the 65535 bytes its length field counts.
const MAX_PACKET: usize = 65536 + 256;
/// TUN read errors in a row that end the daemon (one that says the device
/// is gone ends it at once).
const MAX_READ_ERRORS: u32 = 100;
/// Recycled staging buffers kept for reuse.
const POOL_MAX: usize = 1024;
/// The TUN reader's buffer of sealed datagrams, sent as trains once a read
/// (up to one 64 KiB super-packet) is sealed.
const TX_BUF: usize = 256 << 10;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct PeerHost {
    /// Plaintext packets waiting for a session, each laid out as
    /// `[headroom][packet]` so that it can be sealed in place.
    staged: VecDeque<Vec<u8>>,
}

/// The interface's error counters (logged at shutdown and, per event, at
/// debug level).
#[derive(Default)]
pub struct Counters {
    /// Packets from the TUN no peer's allowed IPs cover.
    pub no_route: AtomicU64,
    /// Packets from the TUN whose peer has no endpoint.
    pub no_endpoint: AtomicU64,
    /// ICMP unreachables written back into the TUN for those.
    pub icmp_sent: AtomicU64,
    /// Unreachables not sent: over the rate limit.
    pub icmp_limited: AtomicU64,
    /// Packets from the TUN dropped for a bad virtio-net header.
    pub vnet_malformed: AtomicU64,
}

impl Counters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// The offloads asked for (WGD_OFFLOAD, main.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffloadConf {
    /// Virtio-net headers and TSO/USO on the TUN.
    pub tun: bool,
    /// Coalescing of TCP segments before the TUN write.
    pub gro: bool,
    /// UDP GSO and GRO.
    pub udp: bool,
    /// A second thread seals half of each super-packet.
    pub threads: bool,
}

/// The TUN reader's sealed datagrams, back to back in `buf[..w]`.
struct TxBatch {
    buf: Vec<u8>,
    w: usize,
    dgrams: Vec<Datagram>,
    polls: Vec<PeerId>,
    /// Packets to stage (no session yet), kept in the buffer as
    /// `[headroom][packet]` at `start` until the batch is sent, so that
    /// they are staged in their order: (peer, start, packet length).
    staged: Vec<(PeerId, usize, usize)>,
}

impl Default for TxBatch {
    fn default() -> Self {
        TxBatch {
            buf: vec![0u8; TX_BUF],
            w: 0,
            dgrams: Vec::with_capacity(256),
            polls: Vec::with_capacity(8),
            staged: Vec::new(),
        }
    }
}

/// Half of a super-packet for the sealing helper: segments `from..to` of
/// `pkt[pre..n]`, sealed into `tx`, which comes back.
struct SealJob {
    pkt: Arc<Vec<u8>>,
    pre: usize,
    n: usize,
    plan: offload::Plan,
    from: usize,
    to: usize,
    t: wg_core::Time,
    tx: TxBatch,
}

/// The second half of a UDP GRO train for a UDP reader's opening helper:
/// datagrams of `seg` bytes in `buf` from `from`; `opened` comes back with
/// where each packet for the TUN is in `buf`, in order.
struct OpenJob {
    buf: Vec<u8>,
    seg: usize,
    from: SocketAddr,
    t: wg_core::Time,
    opened: Vec<(usize, usize)>,
}

/// A UDP reader's line to its opening helper.
struct OpenHelper {
    jobs: mpsc::SyncSender<OpenJob>,
    done: mpsc::Receiver<OpenJob>,
    spare: Option<OpenJob>,
}

/// The TUN reader's line to its sealing helper.
struct Helper {
    jobs: mpsc::SyncSender<SealJob>,
    done: mpsc::Receiver<TxBatch>,
    spare: Option<TxBatch>,
}

impl TxBatch {
    /// Where a packet of `len` bytes goes (after the headroom), if the
    /// sealed datagram will fit.
    fn room(&mut self, len: usize) -> Option<&mut [u8]> {
        let start = self.w + DATA_HEADROOM;
        if start + len + DATA_TAILROOM > self.buf.len() {
            return None;
        }
        Some(&mut self.buf[start..start + len])
    }
}

#[derive(Default)]
struct TimerQueue {
    by_time: BTreeSet<(u64, PeerId)>,
    by_peer: HashMap<PeerId, u64>,
}

pub struct Daemon {
    pub dev: Device,
    tun: File,
    hosts: Mutex<HashMap<PeerId, PeerHost>>,
    pool: Mutex<Vec<Vec<u8>>>,
    timers: Mutex<TimerQueue>,
    timer_cv: Condvar,
    bind: RwLock<Option<Arc<Bind>>>,
    conf: Mutex<()>,
    stopping: AtomicBool,
    pub counters: Counters,
    icmp_bucket: Mutex<icmp::TokenBucket>,
    /// What the TUN does (tun.rs) and what was asked for.
    offloads: Offloads,
    offload: OffloadConf,
}

impl Daemon {
    pub fn new(dev: Device, tun: File, offloads: Offloads, offload: OffloadConf) -> Daemon {
        Daemon {
            dev,
            tun,
            hosts: Mutex::new(HashMap::new()),
            pool: Mutex::new(Vec::new()),
            timers: Mutex::new(TimerQueue::default()),
            timer_cv: Condvar::new(),
            bind: RwLock::new(None),
            conf: Mutex::new(()),
            stopping: AtomicBool::new(false),
            counters: Counters::default(),
            icmp_bucket: Mutex::new(icmp::TokenBucket::new(icmp::RATE_PER_SEC, icmp::RATE_BURST)),
            offloads,
            offload,
        }
    }

    /// Binds the initial sockets (the configured port, 0 at start) and
    /// starts every thread but the UAPI listener's.
    pub fn start(self: &Arc<Self>) -> io::Result<()> {
        let b = Arc::new(Bind::open(
            self.dev.listen_port(),
            self.dev.user_cookie(),
            self.offload.udp,
        )?);
        self.dev.set_bound_port(b.port);
        log::info(format_args!("listening on UDP port {}", b.port));
        self.install_bind(b);
        let d = self.clone();
        thread::Builder::new()
            .name("wgd-tun".into())
            .spawn(move || d.tun_loop())?;
        let d = self.clone();
        thread::Builder::new()
            .name("wgd-timers".into())
            .spawn(move || d.timer_loop())?;
        Ok(())
    }

    /// Makes `b` the current sockets, starts its readers and stops the old.
    fn install_bind(self: &Arc<Self>, b: Arc<Bind>) {
        let old = self
            .bind
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .replace(b.clone());
        for v6 in [false, true] {
            let has = if v6 { b.v6.is_some() } else { b.v4.is_some() };
            if !has {
                continue;
            }
            let d = self.clone();
            let bb = b.clone();
            let r = thread::Builder::new()
                .name(if v6 { "wgd-udp6" } else { "wgd-udp4" }.into())
                .spawn(move || d.udp_loop(bb, v6));
            if let Err(e) = r {
                log::error(format_args!("cannot start a UDP reader: {e}"));
            }
        }
        if let Some(o) = old {
            o.close();
        }
    }

    pub fn stop(&self) {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        log::info(format_args!(
            "counters: no route {}, no endpoint {}, ICMP unreachables sent {}, rate-limited {}, \
             bad vnet headers {}",
            get(&c.no_route),
            get(&c.no_endpoint),
            get(&c.icmp_sent),
            get(&c.icmp_limited),
            get(&c.vnet_malformed)
        ));
        self.stopping.store(true, Ordering::SeqCst);
        self.timer_cv.notify_all();
        if let Some(b) = self.bind.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            b.close();
        }
    }

    fn send(&self, endpoint: Endpoint, data: &[u8]) {
        let g = self.bind.read().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = g.as_ref() {
            if let Err(e) = b.send(data, SocketAddr::from(endpoint)) {
                log::debug(format_args!(
                    "send to {} failed: {e}",
                    SocketAddr::from(endpoint)
                ));
            }
        }
    }

    /// Writes one packet into the TUN, after its virtio-net header when
    /// the device takes them.
    fn tun_write(&self, hdr: &[u8; VNET_HDR_LEN], pkt: &[u8]) -> io::Result<()> {
        if !self.offloads.vnet_hdr {
            return (&self.tun).write_all(pkt);
        }
        let n = (&self.tun).write_vectored(&[IoSlice::new(hdr), IoSlice::new(pkt)])?;
        if n != VNET_HDR_LEN + pkt.len() {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        Ok(())
    }

    /// Starts the sealing helper of the TUN reader (None: one thread).
    fn start_helper(self: &Arc<Self>) -> Option<Helper> {
        if !self.offload.threads || !self.offloads.tso {
            return None;
        }
        let (jobs, job_rx) = mpsc::sync_channel::<SealJob>(1);
        let (done_tx, done) = mpsc::sync_channel::<TxBatch>(1);
        let d = self.clone();
        let r = thread::Builder::new()
            .name("wgd-seal".into())
            .spawn(move || d.seal_helper(job_rx, done_tx));
        match r {
            Ok(_) => Some(Helper {
                jobs,
                done,
                spare: Some(TxBatch::default()),
            }),
            Err(e) => {
                log::error(format_args!("cannot start the sealing thread: {e}"));
                None
            }
        }
    }

    fn seal_helper(
        self: Arc<Self>,
        jobs: mpsc::Receiver<SealJob>,
        done: mpsc::SyncSender<TxBatch>,
    ) {
        while let Ok(mut j) = jobs.recv() {
            if let Some(pkt) = j.pkt.get(j.pre..j.n) {
                self.seal_segments(&mut j.tx, &j.plan, pkt, j.from..j.to, j.t);
            }
            // The reader reuses its buffer once this reference is gone.
            drop(j.pkt);
            if done.send(j.tx).is_err() {
                return;
            }
        }
    }

    /// Cuts segments `range` of the super-packet `pkt` into `tx` and seals
    /// each.
    fn seal_segments(
        &self,
        tx: &mut TxBatch,
        p: &offload::Plan,
        pkt: &[u8],
        range: std::ops::Range<usize>,
        t: wg_core::Time,
    ) {
        for i in range {
            let len = p.seg_len(i);
            if tx.room(len).is_none() {
                self.send_batch(tx);
            }
            let Some(dst) = tx.room(len) else {
                break;
            };
            // The segments share one destination: one unreachable is
            // enough (Linux sends one per packet the stack hands it).
            if offload::write_segment(p, pkt, i, dst).is_some() && !self.seal(tx, t, len) {
                break;
            }
        }
    }

    /// Reads packets (or super-packets) from the TUN, cuts super-packets
    /// into segments, seals each (half of them in the helper thread when
    /// there is one), and sends what one read made as UDP trains, in
    /// order.
    fn tun_loop(self: Arc<Self>) {
        let vnet = self.offloads.vnet_hdr;
        let pre = if vnet { VNET_HDR_LEN } else { 0 };
        let mut rbuf = Arc::new(vec![0u8; pre + MAX_PACKET]);
        let mut tx = TxBatch::default();
        let mut helper = self.start_helper();
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let mut errors = 0u32;
        loop {
            if Arc::get_mut(&mut rbuf).is_none() {
                // The helper still holds it (it died mid-job): a new one.
                rbuf = Arc::new(vec![0u8; pre + MAX_PACKET]);
            }
            let Some(rb) = Arc::get_mut(&mut rbuf) else {
                return;
            };
            let n = match (&self.tun).read(rb) {
                Ok(n) => {
                    errors = 0;
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if !matches!(
                        e.raw_os_error(),
                        Some(libc::EBADFD) | Some(libc::EBADF) | Some(libc::ENODEV)
                    ) && errors < MAX_READ_ERRORS
                        && !self.stopping.load(Ordering::SeqCst) =>
                {
                    // One bad packet (EFAULT, EINVAL on a packet larger than
                    // the buffer) must not end the daemon.
                    errors += 1;
                    log::debug(format_args!("TUN read: {e}"));
                    continue;
                }
                Err(e) => {
                    if !self.stopping.load(Ordering::SeqCst) {
                        log::info(format_args!("TUN device closed ({e}): shutting down"));
                        crate::request_shutdown();
                    }
                    return;
                }
            };
            if n <= pre {
                continue;
            }
            let hdr = if vnet {
                VnetHdr::parse(rb).unwrap_or_default()
            } else {
                VnetHdr::default()
            };
            let pkt = &mut rb[pre..n];
            let t = now();
            if hdr.gso_type == offload::GSO_NONE {
                if hdr.flags & offload::F_NEEDS_CSUM != 0
                    && offload::complete_csum(&hdr, pkt).is_err()
                {
                    Counters::bump(&self.counters.vnet_malformed);
                    continue;
                }
                if let Some(dst) = tx.room(pkt.len()) {
                    dst.copy_from_slice(pkt);
                    let _ = self.seal(&mut tx, t, pkt.len());
                }
            } else {
                let p = match offload::plan(&hdr, pkt) {
                    Ok(p) => p,
                    Err(e) => {
                        Counters::bump(&self.counters.vnet_malformed);
                        log::debug(format_args!("TUN super-packet dropped: {e:?} {hdr:?}"));
                        continue;
                    }
                };
                let count = p.count();
                let mid = count / 2;
                // The helper's half must fit its buffer in one go.
                let fits = (count - mid) * (DATA_HEADROOM + p.seg_len(0) + DATA_TAILROOM) <= TX_BUF;
                let mut sent = false;
                let mut dead = false;
                if let Some(h) = helper.as_mut().filter(|_| count >= 4 && fits) {
                    if let Some(htx) = h.spare.take() {
                        let job = SealJob {
                            pkt: rbuf.clone(),
                            pre,
                            n,
                            plan: p,
                            from: mid,
                            to: count,
                            t,
                            tx: htx,
                        };
                        match h.jobs.send(job) {
                            Ok(()) => sent = true,
                            // The helper is gone: everything here from now on.
                            Err(_) => dead = true,
                        }
                    }
                }
                if dead {
                    helper = None;
                }
                let own = if sent { 0..mid } else { 0..count };
                self.seal_segments(&mut tx, &p, &rbuf[pre..n], own, t);
                if sent {
                    self.send_batch(&mut tx);
                    match helper.as_mut().map(|h| h.done.recv()) {
                        Some(Ok(mut htx)) => {
                            self.send_batch(&mut htx);
                            for peer in htx.polls.drain(..) {
                                if !tx.polls.contains(&peer) {
                                    tx.polls.push(peer);
                                }
                            }
                            if let Some(h) = helper.as_mut() {
                                h.spare = Some(htx);
                            }
                        }
                        _ => helper = None,
                    }
                }
            }
            self.send_batch(&mut tx);
            for peer in tx.polls.drain(..) {
                self.poll(peer, &mut out);
            }
        }
    }

    /// Seals the packet of `len` bytes at the batch's write position;
    /// false when no peer could take it (no route or no endpoint), which
    /// holds for the rest of its super-packet too.
    fn seal(&self, tx: &mut TxBatch, t: wg_core::Time, len: usize) -> bool {
        let w = tx.w;
        let end = w + DATA_HEADROOM + len + DATA_TAILROOM;
        match self.dev.encapsulate(t, &mut tx.buf[w..end], len) {
            Ok(Encap::Send {
                peer,
                endpoint,
                len,
                poll,
            }) => {
                tx.dgrams.push(Datagram {
                    to: SocketAddr::from(endpoint),
                    start: w,
                    len,
                });
                tx.w += len;
                if poll && !tx.polls.contains(&peer) {
                    tx.polls.push(peer);
                }
            }
            Ok(Encap::Staged { peer }) => {
                tx.staged.push((peer, w, len));
                tx.w += DATA_HEADROOM + len;
                if !tx.polls.contains(&peer) {
                    tx.polls.push(peer);
                }
            }
            Err(e @ (Error::NoRoute | Error::NoEndpoint)) => {
                let c = &self.counters;
                Counters::bump(if e == Error::NoRoute {
                    &c.no_route
                } else {
                    &c.no_endpoint
                });
                self.unreachable(&tx.buf[w + DATA_HEADROOM..w + DATA_HEADROOM + len]);
                return false;
            }
            Err(_) => {} // not IP: drop
        }
        true
    }

    /// Sends the batch's sealed datagrams, stages its packets waiting for
    /// a session, and empties it.
    fn send_batch(&self, tx: &mut TxBatch) {
        for (peer, start, len) in tx.staged.drain(..) {
            self.stage(peer, &tx.buf[start..start + DATA_HEADROOM + len]);
        }
        if !tx.dgrams.is_empty() {
            let g = self.bind.read().unwrap_or_else(|e| e.into_inner());
            if let Some(b) = g.as_ref() {
                if let Err(e) = send_trains(&**b, &tx.buf[..tx.w], &tx.dgrams) {
                    log::debug(format_args!("send: {e}"));
                }
            }
        }
        tx.dgrams.clear();
        tx.w = 0;
    }

    /// Answers a packet the tunnel cannot carry with an ICMP unreachable
    /// written back into the TUN (icmp.rs says which and why).
    fn unreachable(&self, pkt: &[u8]) {
        let mut out = [0u8; icmp::V6_MAX];
        let Some(len) = icmp::unreachable(pkt, &mut out) else {
            return;
        };
        if !lock(&self.icmp_bucket).take(mono_ns()) {
            Counters::bump(&self.counters.icmp_limited);
            return;
        }
        match self.tun_write(&[0; VNET_HDR_LEN], &out[..len]) {
            Ok(_) => Counters::bump(&self.counters.icmp_sent),
            Err(e) => log::debug(format_args!("TUN write (ICMP unreachable): {e}")),
        }
    }

    fn stage(&self, peer: PeerId, pkt: &[u8]) {
        let mut v = lock(&self.pool).pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(pkt);
        let dropped = {
            let mut hosts = lock(&self.hosts);
            let h = hosts.entry(peer).or_default();
            let d = if h.staged.len() >= MAX_STAGED_PACKETS {
                h.staged.pop_front()
            } else {
                None
            };
            h.staged.push_back(v);
            d
        };
        if let Some(d) = dropped {
            self.recycle(d);
        }
    }

    fn recycle(&self, v: Vec<u8>) {
        let mut pool = lock(&self.pool);
        if pool.len() < POOL_MAX {
            pool.push(v);
        }
    }

    /// Receives datagrams (GRO trains when the socket coalesces), opens
    /// each, and writes the packets into the TUN, TCP segments of one flow
    /// merged into super-packets when the TUN takes virtio-net headers.
    fn udp_loop(self: Arc<Self>, bind: Arc<Bind>, v6: bool) {
        let mut rb = RecvBatch::default();
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let mut pout = [0u8; MAX_HANDSHAKE_LEN];
        let mut gro = Coalescer::new();
        let vnet = self.offloads.vnet_hdr && self.offload.gro;
        let mut helper = self.start_open_helper(&bind, v6);
        let mut write = |h: &[u8; VNET_HDR_LEN], p: &[u8]| self.tun_write(h, p);
        loop {
            let r = bind.recv_batch(v6, &mut rb);
            if bind.is_closed() {
                return;
            }
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug(format_args!("UDP receive: {e}"));
                    // ICMP errors (ECONNREFUSED) and the like: keep going.
                    continue;
                }
            }
            let t = now();
            let mut deliver = |pkt: &[u8]| {
                let r = if vnet {
                    gro.push(pkt, &mut write)
                } else {
                    write(&[0; VNET_HDR_LEN], pkt)
                };
                if let Err(e) = r {
                    log::debug(format_args!("TUN write: {e}"));
                }
            };
            for k in 0..rb.got.len() {
                let Received {
                    start,
                    len: n,
                    from: src,
                    seg,
                } = rb.got[k];
                let seg = seg.max(1);
                let buf = &mut rb.buf[start..start + n];
                // A long train: its second half opens in the helper, in
                // parallel, and is delivered after the first.
                let count = n.div_ceil(seg);
                let mut here = n;
                let mut sent = false;
                let mut dead = false;
                if let Some(h) = helper.as_mut().filter(|_| count >= 4) {
                    if let Some(mut job) = h.spare.take() {
                        let mid = (count / 2) * seg;
                        job.buf.clear();
                        job.buf.extend_from_slice(&buf[mid..]);
                        job.seg = seg;
                        job.from = src;
                        job.t = t;
                        job.opened.clear();
                        match h.jobs.send(job) {
                            Ok(()) => {
                                sent = true;
                                here = mid;
                            }
                            Err(_) => dead = true,
                        }
                    }
                }
                if dead {
                    helper = None;
                }
                let mut off = 0;
                while off < here {
                    let end = here.min(off + seg);
                    let dg = &mut buf[off..end];
                    if let Some((o, l)) = self.open_one(t, src, &bind, dg, &mut out, &mut pout) {
                        deliver(&buf[off + o..off + o + l]);
                    }
                    off = end;
                }
                if sent {
                    match helper.as_mut().map(|h| h.done.recv()) {
                        Some(Ok(job)) => {
                            for &(o, l) in &job.opened {
                                if let Some(p) = job.buf.get(o..o + l) {
                                    deliver(p);
                                }
                            }
                            if let Some(h) = helper.as_mut() {
                                h.spare = Some(job);
                            }
                        }
                        _ => helper = None,
                    }
                }
            }
            if let Err(e) = gro.flush(&mut write) {
                log::debug(format_args!("TUN write: {e}"));
            }
        }
    }

    /// Opens one datagram in place, answering handshakes and polling its
    /// peer as it asks; returns where the packet for the TUN is in `dg`.
    fn open_one(
        &self,
        t: wg_core::Time,
        src: SocketAddr,
        bind: &Bind,
        dg: &mut [u8],
        out: &mut [u8; MAX_HANDSHAKE_LEN],
        pout: &mut [u8; MAX_HANDSHAKE_LEN],
    ) -> Option<(usize, usize)> {
        let rcv = self.dev.decapsulate(t, Endpoint::from(src), dg, out).ok()?;
        let r = match rcv.action {
            Decap::Tunnel { offset, len } => Some((offset, len)),
            Decap::Reply { len } => {
                if let Err(e) = bind.send(&out[..len], src) {
                    log::debug(format_args!("reply to {src}: {e}"));
                }
                None
            }
            Decap::Done => None,
        };
        if rcv.poll {
            if let Some(p) = rcv.peer {
                self.poll(p, pout);
            }
        }
        r
    }

    /// Starts the opening helper of a UDP reader (None: one thread).
    fn start_open_helper(self: &Arc<Self>, bind: &Arc<Bind>, v6: bool) -> Option<OpenHelper> {
        if !self.offload.threads || !bind.gro[usize::from(v6)] {
            return None;
        }
        let (jobs, job_rx) = mpsc::sync_channel::<OpenJob>(1);
        let (done_tx, done) = mpsc::sync_channel::<OpenJob>(1);
        let d = self.clone();
        let b = bind.clone();
        let r = thread::Builder::new()
            .name(if v6 { "wgd-open6" } else { "wgd-open4" }.into())
            .spawn(move || d.open_helper(b, job_rx, done_tx));
        match r {
            Ok(_) => Some(OpenHelper {
                jobs,
                done,
                spare: Some(OpenJob {
                    buf: Vec::with_capacity(RECV_SLOT),
                    seg: 1,
                    from: SocketAddr::from(([0, 0, 0, 0], 0)),
                    t: now(),
                    opened: Vec::with_capacity(64),
                }),
            }),
            Err(e) => {
                log::error(format_args!("cannot start an opening thread: {e}"));
                None
            }
        }
    }

    fn open_helper(
        self: Arc<Self>,
        bind: Arc<Bind>,
        jobs: mpsc::Receiver<OpenJob>,
        done: mpsc::SyncSender<OpenJob>,
    ) {
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let mut pout = [0u8; MAX_HANDSHAKE_LEN];
        while let Ok(mut j) = jobs.recv() {
            let n = j.buf.len();
            let mut off = 0;
            while off < n {
                let end = n.min(off + j.seg.max(1));
                let dg = &mut j.buf[off..end];
                if let Some((o, l)) = self.open_one(j.t, j.from, &bind, dg, &mut out, &mut pout) {
                    j.opened.push((off + o, l));
                }
                off = end;
            }
            if done.send(j).is_err() {
                return;
            }
        }
    }

    /// Polls `peer` until it is idle, doing what it asks.
    fn poll(&self, peer: PeerId, out: &mut [u8; MAX_HANDSHAKE_LEN]) {
        loop {
            match self.dev.poll_peer(peer, now(), out) {
                Ok(PeerAction::Send { endpoint, len }) => self.send(endpoint, &out[..len]),
                Ok(PeerAction::FlushStaged) => self.flush(peer),
                Ok(PeerAction::DropStaged) => self.drop_staged(peer),
                Ok(PeerAction::Idle { next_deadline }) => {
                    self.schedule(peer, next_deadline.map(wg_core::Instant::as_nanos));
                    return;
                }
                Err(_) => {
                    self.schedule(peer, None);
                    return;
                }
            }
        }
    }

    fn flush(&self, peer: PeerId) {
        loop {
            let Some(mut pkt) = lock(&self.hosts)
                .get_mut(&peer)
                .and_then(|h| h.staged.pop_front())
            else {
                return;
            };
            let len = pkt.len() - DATA_HEADROOM;
            pkt.resize(DATA_HEADROOM + len + DATA_TAILROOM, 0);
            match self.dev.encapsulate_to(peer, now(), &mut pkt, len) {
                Ok(Encap::Send { endpoint, len, .. }) => {
                    // The caller keeps polling, so `poll` needs no action.
                    self.send(endpoint, &pkt[..len]);
                    self.recycle(pkt);
                }
                Ok(Encap::Staged { .. }) => {
                    // The session went away again: keep it, in order.
                    pkt.truncate(DATA_HEADROOM + len);
                    lock(&self.hosts)
                        .entry(peer)
                        .or_default()
                        .staged
                        .push_front(pkt);
                    return;
                }
                Err(_) => self.recycle(pkt),
            }
        }
    }

    fn drop_staged(&self, peer: PeerId) {
        let staged = lock(&self.hosts)
            .get_mut(&peer)
            .map(|h| std::mem::take(&mut h.staged));
        for v in staged.into_iter().flatten() {
            self.recycle(v);
        }
    }

    /// `deadline` in monotonic ns, the unit of this loop's clock (`mono_ns`).
    fn schedule(&self, peer: PeerId, deadline: Option<u64>) {
        let mut q = lock(&self.timers);
        if let Some(old) = q.by_peer.remove(&peer) {
            q.by_time.remove(&(old, peer));
        }
        if let Some(d) = deadline {
            q.by_peer.insert(peer, d);
            q.by_time.insert((d, peer));
            if q.by_time.first() == Some(&(d, peer)) {
                self.timer_cv.notify_one();
            }
        }
    }

    fn timer_loop(self: Arc<Self>) {
        let mut expired: Vec<PeerId> = Vec::with_capacity(64);
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        loop {
            {
                let mut q = lock(&self.timers);
                loop {
                    if self.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let t = mono_ns();
                    while let Some(&(d, p)) = q.by_time.first() {
                        if d > t {
                            break;
                        }
                        q.by_time.pop_first();
                        q.by_peer.remove(&p);
                        expired.push(p);
                    }
                    if !expired.is_empty() {
                        break;
                    }
                    q = match q.by_time.first() {
                        Some(&(d, _)) => {
                            self.timer_cv
                                .wait_timeout(q, Duration::from_nanos(d - t))
                                .unwrap_or_else(|e| e.into_inner())
                                .0
                        }
                        None => self.timer_cv.wait(q).unwrap_or_else(|e| e.into_inner()),
                    };
                }
            }
            for p in expired.drain(..) {
                self.poll(p, &mut out);
            }
        }
    }

    /// Applies a UAPI `set` body: all or nothing.
    pub fn uapi_set(self: &Arc<Self>, body: &str) -> Result<(), UapiError> {
        let _serial = lock(&self.conf);
        let mut update = parse_set(body)?;
        let r = self.apply(&update);
        update.zeroize_secrets();
        r
    }

    fn apply(self: &Arc<Self>, update: &wg_core::config::DeviceUpdate) -> Result<(), UapiError> {
        let (port, mark) = self.dev.check_config(update)?;
        let cur_port = self.dev.listen_port();
        let cur_mark = self.dev.user_cookie();
        let cur = self.bind.read().unwrap_or_else(|e| e.into_inner()).clone();
        let rebind = match &cur {
            None => true,
            Some(b) => port != cur_port && !(port != 0 && port == b.port),
        };
        // Bind first: a port in use fails the request with nothing changed.
        let fresh = if rebind {
            match Bind::open(port, mark, self.offload.udp) {
                Ok(b) => Some(Arc::new(b)),
                Err(e) => {
                    log::error(format_args!("cannot bind UDP port {port}: {e}"));
                    // wireguard-go answers any bind failure so.
                    return Err(UapiError::PORT_IN_USE);
                }
            }
        } else {
            None
        };
        let changes = self.dev.set_config(now(), update)?;
        match fresh {
            Some(b) => {
                if port == 0 {
                    self.dev.set_bound_port(b.port);
                }
                log::info(format_args!("listening on UDP port {}", b.port));
                self.install_bind(b);
            }
            None if mark != cur_mark => {
                if let Some(b) = &cur {
                    if let Err(e) = b.set_mark(mark) {
                        log::error(format_args!("cannot set fwmark {mark}: {e}"));
                    }
                }
            }
            None => {}
        }
        for p in &changes.removed {
            self.drop_staged(*p);
            lock(&self.hosts).remove(p);
            self.schedule(*p, None);
        }
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        for p in &changes.touched {
            self.poll(*p, &mut out);
        }
        Ok(())
    }

    /// Serves one UAPI connection until it closes or misbehaves.
    pub fn serve_uapi(self: Arc<Self>, stream: UnixStream) {
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        let mut out = String::new();
        loop {
            let req = match read_request(&mut reader, &mut line) {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    log::debug(format_args!("UAPI read: {e}"));
                    return;
                }
            };
            out.clear();
            let close = match req {
                Request::Get => {
                    match self.dev.config(true) {
                        Ok(info) => {
                            format_get(&info, &mut out);
                            format_errno(0, &mut out);
                        }
                        Err(e) => format_errno(UapiError::from(e).errno, &mut out),
                    }
                    false
                }
                Request::Set(body) => {
                    let r = self.uapi_set(&body);
                    // The body may carry keys: wipe it.
                    body.into_bytes().fill(0);
                    match r {
                        Ok(()) => format_errno(0, &mut out),
                        Err(e) => {
                            log::error(format_args!("UAPI set failed: errno {}", e.errno));
                            format_errno(e.errno, &mut out);
                        }
                    }
                    false
                }
                Request::Bad => {
                    format_errno(UapiError::INVALID.errno, &mut out);
                    true
                }
                Request::Failed(errno) => {
                    format_errno(errno, &mut out);
                    true
                }
            };
            if (&stream).write_all(out.as_bytes()).is_err() {
                return;
            }
            if close {
                // Answer first, then swallow what the client is still
                // sending (bounded), so closing with unread input does not
                // reset the connection before the answer is read.
                let _ = stream.shutdown(std::net::Shutdown::Write);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(1)));
                let _ = std::io::copy(
                    &mut std::io::Read::take(reader, 16 << 20),
                    &mut std::io::sink(),
                );
                return;
            }
        }
    }
}
