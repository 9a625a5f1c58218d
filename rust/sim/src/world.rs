//! One run: the event loop that drives every host and the network on the
//! virtual clock, checking the invariants at every step.
//!
//! Hosts behave as wgd does (tools/wgd/src/daemon.rs): packets the engine
//! stages are kept per peer (at most MAX_STAGED_PACKETS, oldest dropped),
//! flushed in order when told, dropped when told; a peer is polled until
//! idle whenever a result says `poll`, when its one deadline passes, and
//! after configuration touches it.

use crate::clock::{
    KEEPALIVE_TIMEOUT, NSEC, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX, T0_MONO, T0_REAL,
};
use crate::cookies::{Issue, Ledger};
use crate::host::Host;
use crate::meter;
use crate::model::{site_addr, DevModel, PeerView};
use crate::net::{self, Addr, Net};
use crate::oracle::{Check, Fate, Oracle, PeerKey, Seal};
use crate::packet;
use crate::prng::Prng;
use crate::scenario::{Family, FaultKind, Scenario, FOREVER, MS};
use crate::trace::{Ev, Trace};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use wg_core::config::{DeviceUpdate, PeerUpdate};
use wg_core::consts::MAX_STAGED_PACKETS;
use wg_core::cookie::CookieMaker;
use wg_core::device::{DATA_HEADROOM, DATA_TAILROOM, MAX_HANDSHAKE_LEN};
use wg_core::messages;
use wg_core::testutil::SeededRng;
use wg_core::timers::MAX_TIMER_HANDSHAKES;
use wg_core::Instant;
use wg_core::{Decap, Device, Encap, Endpoint, PeerAction, PeerId, Time};

/// After the heal every directed pair sends at least this often.
pub const HEAL_PERIOD: u64 = NSEC;
/// Largest one-way delay of a healed link (scenario links: up to 80 ms).
const MAX_HEAL_DELAY: u64 = 80 * MS;
/// How long after the liveness bound packets are watched, and how long
/// the last of them get to arrive.
const CHECK_WINDOW: u64 = 10 * NSEC;
const DRAIN: u64 = 5 * NSEC;
/// After the liveness bound: the longest a pair may go without a
/// delivery, and the packets it may lose (see `finish`).
const MAX_OUTAGE: u64 = 3 * HEAL_PERIOD;
const MAX_LOSSES_PER_PAIR: usize = 3;
/// How often the retransmission watchdog looks.
const WATCHDOG: u64 = 250 * MS;
/// A handshake attempt gives up within this long of the last event that
/// restarted it. After that event a retransmission is due within
/// REKEY_TIMEOUT + jitter of the last initiation (no later than the event
/// itself); retransmissions 1 to MAX_TIMER_HANDSHAKES + 1 each come within
/// REKEY_TIMEOUT + jitter of the one before, and the next expiry gives up:
/// MAX_TIMER_HANDSHAKES + 2 expiries in all (Linux's timers.c).
pub const GIVE_UP_BOUND: u64 =
    (MAX_TIMER_HANDSHAKES as u64 + 2) * (REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX) + MS;
/// After a give-up, an initiation may still come from the new-handshake
/// timer armed by data sent before it.
const NEW_HANDSHAKE_DUE: u64 = KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX;
/// Extra time to re-establish when devices are under load (see
/// `liveness_bound`).
pub const LOAD_EXTRA: u64 = 4 * (REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX + 2 * MAX_HEAL_DELAY);
/// The attacker's datagrams go out in batches this far apart.
const FLOOD_TICK: u64 = 100 * MS;
/// Source addresses the attacker floods from; the first ATTACKER_OWNED of
/// them reach it back (it reads its cookie replies), the rest are forged.
const ATTACKER_ADDRS: u64 = 64;
const ATTACKER_OWNED: u64 = 16;
/// A run that needs more events than this is stuck in a loop.
const MAX_EVENTS: u64 = 20_000_000;

/// How long after the heal every packet must get through.
///
/// At the heal, a sender may hold a session its peer no longer has (the
/// peer restarted, re-added or re-keyed it, or the handshake that made it
/// never completed on the other side). Its first packet after the heal
/// leaves within HEAL_PERIOD; unanswered, it arms the new-handshake timer,
/// which fires KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter later. That
/// initiation may be refused by the rate limit (one per REKEY_TIMEOUT)
/// because an attempt from before the heal is still running, whose
/// retransmission comes within REKEY_TIMEOUT + jitter; and one more
/// retransmission covers an initiation lost or refused at the heal's edge.
/// An initiation is refused while the initiator's real clock is behind
/// the last timestamp its peer accepted: a backward jump adds its size.
/// The handshake and the data then take two round trips.
///
/// Under load (the Load family: a device forced or tripped into it, which
/// its low load threshold lets even legitimate handshakes do after the
/// heal) an initiation or a response without a valid MAC2 draws a cookie
/// reply instead of an answer, and nothing resends until the initiator's
/// retransmission, REKEY_TIMEOUT + jitter later: one for the initiation
/// (responder loaded), one for the response (initiator loaded). A cookie
/// goes stale when its maker's secret rotates (every two minutes); the
/// whole exchange takes well under two minutes, so each side's secret
/// rotates at most once during it: one more each. Four retransmissions,
/// each with its round trip: LOAD_EXTRA.
pub fn liveness_bound(sc: &Scenario) -> u64 {
    let load = if sc.family == Family::Load {
        LOAD_EXTRA
    } else {
        0
    };
    HEAL_PERIOD
        + KEEPALIVE_TIMEOUT
        + 3 * (REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX)
        + 4 * MAX_HEAL_DELAY
        + sc.back_jump()
        + load
}

/// Deliberate mistakes of the host, to show the oracle catches them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sabotage {
    /// Hands every decapsulated packet to the oracle twice.
    DeliverTwice,
    /// The network drops everything after the heal.
    BlackholeHeal,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub trace_len: usize,
    pub sabotage: Option<Sabotage>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            trace_len: 30,
            sabotage: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub packets: u64,
    pub delivered: u64,
    pub sessions: u64,
    pub data_checked: u64,
    pub virtual_ns: u64,
    /// How long after the heal the slowest pair delivered its first
    /// packet sent after the heal: how long re-establishing took.
    pub recovery_ns: u64,
    pub cookie_replies: u64,
    /// Inner IPv6 packets delivered, datagrams sent over IPv6.
    pub delivered_v6: u64,
    pub datagrams_v6: u64,
    pub bogus: u64,
    /// Cookies the attacker got and could make MAC2s from.
    pub attacker_cookies: u64,
    pub give_ups: u64,
    pub rekeys_checked: u64,
    /// Refusals of MAC2 judged against the cookie secret's rotation.
    pub refusals_judged: u64,
}

#[derive(Clone, Debug)]
pub struct Failure {
    pub at_ns: u64,
    pub message: String,
    pub trace: Vec<String>,
}

pub struct Outcome {
    pub scenario: Scenario,
    pub result: Result<Stats, Failure>,
}

enum Kind {
    Deliver {
        src: Addr,
        dst: Addr,
        bytes: Vec<u8>,
        corrupted: bool,
        /// The peer entry that sent it (None: an attacker's replay).
        origin: Option<PeerKey>,
    },
    Timer {
        dev: usize,
        inc: u32,
        peer: PeerId,
        at: u64,
    },
    Traffic {
        from: usize,
        to: usize,
    },
    Fault(FaultKind),
    Readd {
        dev: usize,
        peer: usize,
    },
    NewKey {
        on: usize,
        of: usize,
    },
    NewPrefix {
        on: usize,
        of: usize,
    },
    Unpartition {
        a: usize,
        b: usize,
    },
    Thaw {
        dev: usize,
    },
    Unload {
        dev: usize,
    },
    FloodTick {
        dev: usize,
        per_sec: u32,
        until: u64,
    },
    Unblock {
        a: usize,
        b: usize,
    },
    /// A datagram from the attacker reaches a device.
    Bogus {
        src: Addr,
        dst: Addr,
        bytes: Vec<u8>,
    },
    /// A device's answer reaches an address the attacker owns.
    ToAttacker {
        from: usize,
        dst: Addr,
        bytes: Vec<u8>,
    },
    Watchdog,
    Heal,
    End,
}

struct Event {
    at: u64,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    /// Reversed: BinaryHeap pops the earliest event, ties in order queued.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

struct World {
    sc: Scenario,
    opts: Options,
    now: u64,
    rng: Prng,
    queue: BinaryHeap<Event>,
    seq: u64,
    hosts: Vec<Host>,
    models: Vec<DevModel>,
    periods: BTreeMap<(usize, usize), u64>,
    net: Net,
    oracle: Oracle,
    trace: Trace,
    /// Recent datagrams an attacker may replay.
    history: VecDeque<(Addr, Addr, Vec<u8>)>,
    heal_at: u64,
    bound: u64,
    stop_traffic: u64,
    events: u64,
    /// The attacker's cookie state per (source address, victim).
    attacker: BTreeMap<(Addr, usize), CookieMaker>,
    attacker_sent: BTreeMap<(Addr, usize), u64>,
    cookie_replies: u64,
    attacker_cookies: u64,
    ledger: Ledger,
    datagrams_v6: u64,
    bogus: u64,
    give_ups: u64,
}

pub fn run(seed: u64, opts: &Options) -> Outcome {
    let sc = Scenario::generate(seed);
    let mut w = World::new(sc, seed, opts.clone());
    let result = match w.setup().and_then(|_| w.run()) {
        Ok(()) => Ok(w.stats()),
        Err(message) => Err(Failure {
            at_ns: w.now - T0_MONO,
            message,
            trace: w.trace.lines(),
        }),
    };
    Outcome {
        scenario: w.sc,
        result,
    }
}

fn core_seed(seed: u64, dev: usize, inc: u32) -> u64 {
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ ((dev as u64) << 32) ^ inc as u64
}

fn new_device(sc: &Scenario, dev: usize, inc: u32) -> Result<Device, String> {
    let d = Device::new(Box::new(SeededRng::new(core_seed(sc.seed, dev, inc))))
        .map_err(|e| format!("Device::new: {e:?}"))?;
    if let Some(t) = sc.load_threshold {
        d.set_load_threshold(t);
    }
    Ok(d)
}

/// An address of the attacker's pool, in either family.
fn attacker_addr(i: u64, v6: bool) -> Addr {
    let a = if v6 {
        let mut a = [
            0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        a[15] = i as u8 + 1;
        a
    } else {
        net::mapped([203, 0, 113, i as u8 + 1])
    };
    (a, 40000 + i as u16)
}

/// The attacker's MAC2 state per (address, victim), named as a peer entry
/// in the cookie ledger (device numbers count down from usize::MAX there).
fn attacker_key(a: &Addr, victim: usize) -> PeerKey {
    let i = attacker_index(a).unwrap_or(0) as u32 + if net::is_v4(a) { 0 } else { 1000 };
    (usize::MAX - victim, i, PeerId(u32::MAX))
}

/// Which of the pool `a` is, if it is the attacker's.
fn attacker_index(a: &Addr) -> Option<u64> {
    let i = a.1.checked_sub(40000)? as u64;
    (i < ATTACKER_ADDRS && (*a == attacker_addr(i, false) || *a == attacker_addr(i, true)))
        .then_some(i)
}

fn with_room(pkt: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; DATA_HEADROOM + pkt.len() + DATA_TAILROOM];
    buf[DATA_HEADROOM..DATA_HEADROOM + pkt.len()].copy_from_slice(pkt);
    buf
}

impl World {
    fn new(sc: Scenario, seed: u64, opts: Options) -> World {
        let n = sc.devices.len();
        let heal_at = T0_MONO + sc.fault_ns;
        let bound = liveness_bound(&sc);
        World {
            trace: Trace::new(opts.trace_len, T0_MONO),
            opts,
            now: T0_MONO,
            rng: Prng::new(seed).fork(1),
            queue: BinaryHeap::new(),
            seq: 0,
            hosts: Vec::with_capacity(n),
            models: Vec::with_capacity(n),
            periods: BTreeMap::new(),
            net: Net::new(
                &sc.devices
                    .iter()
                    .map(|d| (d.outer.v4, d.outer.v6))
                    .collect::<Vec<_>>(),
            ),
            oracle: Oracle::default(),
            history: VecDeque::new(),
            heal_at,
            bound,
            stop_traffic: heal_at + bound + CHECK_WINDOW,
            events: 0,
            attacker: BTreeMap::new(),
            attacker_sent: BTreeMap::new(),
            cookie_replies: 0,
            attacker_cookies: 0,
            ledger: Ledger::default(),
            datagrams_v6: 0,
            bogus: 0,
            give_ups: 0,
            sc,
        }
    }

    fn at(&mut self, at: u64, kind: Kind) {
        self.seq += 1;
        self.queue.push(Event {
            at: at.max(self.now),
            seq: self.seq,
            kind,
        });
    }

    fn time(&self, dev: usize) -> Time {
        let since = (self.now - T0_MONO) as i128;
        let real = T0_REAL as i128 + since + self.models[dev].real_offset as i128;
        Time::from_nanos(self.now, real.max(0) as u64)
    }

    fn inc(&self, dev: usize) -> u32 {
        self.hosts[dev].inc
    }

    fn pk(&self, dev: usize, peer: PeerId) -> PeerKey {
        (dev, self.inc(dev), peer)
    }

    fn note(&mut self, s: String) {
        let now = self.now;
        self.trace.push(now, Ev::Note(s));
    }

    fn setup(&mut self) -> Check {
        let n = self.sc.devices.len();
        for _ in 0..n {
            let mut k = [0u8; 32];
            self.rng.bytes(&mut k);
            self.models.push(DevModel::new(k));
        }
        for e in self.sc.edges.clone() {
            for (me, other, setup, link, period) in [
                (e.a, e.b, e.a_of_b, e.ab, e.period_ab),
                (e.b, e.a, e.b_of_a, e.ba, e.period_ba),
            ] {
                let view = PeerView {
                    key: self.models[other].public,
                    gen: 0,
                    inner: self.sc.devices[other].inner,
                    knows_endpoint: setup.knows_endpoint,
                    ep6: setup.ep6,
                    keepalive: setup.keepalive,
                    present: true,
                    added_at: self.now,
                    id: None,
                };
                self.models[me].peers.insert(other, view);
                self.net.set_link(me, other, link);
                self.periods.insert((me, other), period);
                let first = if period == 0 {
                    self.heal_at
                } else {
                    self.now + self.rng.below(period)
                };
                self.at(
                    first,
                    Kind::Traffic {
                        from: me,
                        to: other,
                    },
                );
            }
        }
        for dev in 0..n {
            self.hosts.push(Host::new(new_device(&self.sc, dev, 0)?, 0));
        }
        for dev in 0..n {
            let update = self.models[dev].full_update();
            self.apply(dev, &update)?;
        }
        for f in self.sc.faults.clone() {
            self.at(T0_MONO + f.at_ns, Kind::Fault(f.kind));
        }
        self.at(self.heal_at, Kind::Heal);
        self.at(self.now + WATCHDOG, Kind::Watchdog);
        self.at(self.stop_traffic + DRAIN, Kind::End);
        Ok(())
    }

    fn run(&mut self) -> Check {
        while let Some(ev) = self.queue.pop() {
            self.now = ev.at;
            self.events += 1;
            if self.events > MAX_EVENTS {
                return Err("runaway: too many events".into());
            }
            match ev.kind {
                Kind::Deliver {
                    src,
                    dst,
                    bytes,
                    corrupted,
                    origin,
                } => self.deliver(src, dst, bytes, corrupted, origin)?,
                Kind::Timer { dev, inc, peer, at } => {
                    let h = &self.hosts[dev];
                    if h.inc == inc && h.deadlines.get(&peer) == Some(&at) && !h.frozen(at) {
                        self.hosts[dev].deadlines.remove(&peer);
                        self.poll(dev, peer)?;
                    }
                }
                Kind::Traffic { from, to } => self.traffic(from, to)?,
                Kind::Fault(f) => self.fault(f)?,
                Kind::Readd { dev, peer } => self.readd(dev, peer)?,
                Kind::NewKey { on, of } => self.new_key(on, of)?,
                Kind::NewPrefix { on, of } => self.new_prefix(on, of)?,
                Kind::Unpartition { a, b } => self.net.set_down(a, b, false),
                Kind::Thaw { dev } => self.thaw(dev)?,
                Kind::Unload { dev } => {
                    if self.hosts[dev].loaded_until <= self.now {
                        self.hosts[dev].dev.set_under_load(false);
                    }
                }
                Kind::FloodTick {
                    dev,
                    per_sec,
                    until,
                } => self.flood(dev, per_sec, until),
                Kind::Unblock { a, b } => self.net.set_blocked(a, b, false),
                Kind::Bogus { src, dst, bytes } => self.bogus(src, dst, bytes)?,
                Kind::ToAttacker { from, dst, bytes } => self.attacker_gets(from, dst, &bytes),
                Kind::Watchdog => self.watchdog()?,
                Kind::Heal => {
                    self.net.healed = true;
                    self.note("network healed".into());
                    for d in 0..self.hosts.len() {
                        self.structure(d)?;
                    }
                }
                Kind::End => return self.finish(),
            }
            self.oracle.rekeyed()?;
        }
        Err("event queue ran dry before the end".into())
    }

    fn stats(&self) -> Stats {
        let delivered = self
            .oracle
            .packets
            .iter()
            .filter(|p| matches!(p.fate, Fate::Delivered(_)))
            .count() as u64;
        let mut first: BTreeMap<(usize, usize), u64> = BTreeMap::new();
        for p in &self.oracle.packets {
            if let (Fate::Delivered(t), false) = (p.fate, p.spoof) {
                if p.sent_at >= self.heal_at {
                    first.entry((p.from, p.to)).or_insert(t - self.heal_at);
                }
            }
        }
        let recovery_ns = first.values().copied().max().unwrap_or(0);
        Stats {
            events: self.events,
            packets: self.oracle.packets.len() as u64,
            delivered,
            sessions: self.oracle.sessions,
            data_checked: self.oracle.data_checked,
            virtual_ns: self.now - T0_MONO,
            recovery_ns,
            cookie_replies: self.cookie_replies,
            delivered_v6: self
                .oracle
                .packets
                .iter()
                .filter(|p| matches!(p.fate, Fate::Delivered(_)) && p.bytes[0] >> 4 == 6)
                .count() as u64,
            datagrams_v6: self.datagrams_v6,
            bogus: self.bogus,
            attacker_cookies: self.attacker_cookies,
            give_ups: self.give_ups,
            rekeys_checked: self.oracle.rekeys_checked,
            refusals_judged: self.ledger.refusals_judged,
        }
    }

    // ---- configuration -------------------------------------------------

    /// Applies an update as wgd does: the engine's answer says which peers
    /// went (their host state goes too) and which to poll.
    fn apply(&mut self, dev: usize, update: &DeviceUpdate) -> Check {
        let t = self.time(dev);
        let changes = self.hosts[dev]
            .dev
            .set_config(t, update)
            .map_err(|e| format!("dev {dev}: configuration refused: {e:?}"))?;
        for p in &changes.removed {
            let staged = self.hosts[dev].staged.remove(p).unwrap_or_default();
            for id in staged {
                self.oracle.dropped(id, "peer removed");
            }
            self.hosts[dev].forget(*p);
            let pk = self.pk(dev, *p);
            self.ledger.forget_peer(pk);
            self.oracle.forget_peer(pk);
        }
        let ids: Vec<(usize, Option<PeerId>)> = self.models[dev]
            .peers
            .iter()
            .filter(|(_, v)| v.present)
            .map(|(of, v)| (*of, self.hosts[dev].dev.peer_by_key(&v.key)))
            .collect();
        for (of, id) in ids {
            if id.is_none() {
                return Err(format!("dev {dev}: configured peer {of} is missing"));
            }
            if let Some(v) = self.models[dev].peers.get_mut(&of) {
                v.id = id;
            }
        }
        let present = self.models[dev].present_peers();
        let h = &mut self.hosts[dev];
        h.peak_peers = h.peak_peers.max(present);
        let now = self.now;
        for p in &changes.touched {
            self.hosts[dev].reset(*p, now);
            self.hosts[dev].roamed.remove(p);
            self.poll(dev, *p)?;
        }
        self.structure(dev)
    }

    /// Bounded state: the engine holds exactly the configured peers and
    /// routes, reuses peer slots, and the host keeps nothing for peers that
    /// are gone and at most MAX_STAGED_PACKETS per peer.
    fn structure(&self, dev: usize) -> Check {
        let h = &self.hosts[dev];
        let m = &self.models[dev];
        let st = h.dev.stats(self.time(dev));
        let (want, routes) = (m.present_peers(), m.routes());
        if st.peers != want || st.allowed_ips != routes {
            return Err(format!(
                "dev {dev}: engine holds {} peers and {} routes, configured {want} and {routes}",
                st.peers, st.allowed_ips
            ));
        }
        for id in h.dev.peer_ids() {
            if id.0 as usize >= h.peak_peers.max(1) {
                return Err(format!(
                    "dev {dev}: peer slot {} while at most {} peers ever existed",
                    id.0, h.peak_peers
                ));
            }
        }
        for (p, q) in &h.staged {
            if q.len() > MAX_STAGED_PACKETS {
                return Err(format!("dev {dev}: {} packets staged", q.len()));
            }
            if !q.is_empty() && m.dev_of(*p).is_none() {
                return Err(format!("dev {dev}: packets staged for gone peer {}", p.0));
            }
        }
        Ok(())
    }

    fn fault(&mut self, f: FaultKind) -> Check {
        self.note(format!("fault: {f:?}"));
        match f {
            FaultKind::NatRebind { dev } => {
                let forget = self.sc.devices[dev].nat_forgets;
                if let Some(a) = self.net.rebind(&mut self.rng, dev, forget) {
                    let e = net::endpoint(a);
                    self.note(format!("dev {dev} now appears as {e:?}"));
                }
            }
            FaultKind::Restart { dev } => self.restart(dev)?,
            FaultKind::ClockJump { dev, delta_ns } => self.models[dev].real_offset += delta_ns,
            FaultKind::RemoveReadd { dev, peer, gap_ns } => {
                let v = &self.models[dev].peers[&peer];
                if v.present {
                    let update = DeviceUpdate {
                        peers: vec![PeerUpdate {
                            public_key: v.key,
                            remove: true,
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    if let Some(v) = self.models[dev].peers.get_mut(&peer) {
                        v.present = false;
                    }
                    self.apply(dev, &update)?;
                    self.at(self.now + gap_ns, Kind::Readd { dev, peer });
                }
            }
            FaultKind::RotateKey { dev, stagger_ns } => {
                let mut k = [0u8; 32];
                self.rng.bytes(&mut k);
                self.models[dev].set_key(k);
                let update = DeviceUpdate {
                    private_key: Some(Some(k)),
                    ..Default::default()
                };
                self.apply(dev, &update)?;
                for of in self.models[dev].peers.keys().copied().collect::<Vec<_>>() {
                    let when = self.now + self.rng.below(stagger_ns + 1);
                    self.at(when, Kind::NewKey { on: of, of: dev });
                }
            }
            FaultKind::Renumber { dev, stagger_ns } => {
                self.models[dev].gen = self.models[dev].gen.wrapping_add(1);
                for of in self.models[dev].peers.keys().copied().collect::<Vec<_>>() {
                    let when = self.now + self.rng.below(stagger_ns + 1);
                    self.at(when, Kind::NewPrefix { on: of, of: dev });
                }
            }
            FaultKind::Partition { a, b, dur_ns } => {
                self.net.set_down(a, b, true);
                self.at(self.now + dur_ns, Kind::Unpartition { a, b });
            }
            FaultKind::Freeze { dev, dur_ns } => {
                self.hosts[dev].frozen_until = self.now + dur_ns;
                self.at(self.now + dur_ns, Kind::Thaw { dev });
            }
            FaultKind::Overload { dev, dur_ns } => {
                let until = self.now.saturating_add(dur_ns);
                let h = &mut self.hosts[dev];
                h.loaded_until = h.loaded_until.max(until);
                h.dev.set_under_load(true);
                if dur_ns != FOREVER {
                    self.at(until, Kind::Unload { dev });
                }
            }
            FaultKind::Flood {
                dev,
                per_sec,
                dur_ns,
            } => {
                let until = self.now.saturating_add(dur_ns);
                self.flood(dev, per_sec, until);
            }
            FaultKind::HandshakeBlock { a, b, dur_ns } => {
                self.net.set_blocked(a, b, true);
                self.at(self.now + dur_ns, Kind::Unblock { a, b });
            }
            FaultKind::FamilySwitch { dev, peer } => {
                let Some(v) = self.models[dev].peers.get_mut(&peer) else {
                    return Ok(());
                };
                v.ep6 = !v.ep6;
                if v.present {
                    let mut p = v.update(peer);
                    p.update_only = true;
                    p.replace_allowed_ips = false;
                    p.allowed_ips.clear();
                    p.persistent_keepalive = None;
                    let update = DeviceUpdate {
                        peers: vec![p],
                        ..Default::default()
                    };
                    self.apply(dev, &update)?;
                }
            }
            FaultKind::Quiet { dev, dur_ns } => {
                let h = &mut self.hosts[dev];
                h.quiet_until = h.quiet_until.max(self.now + dur_ns);
            }
        }
        Ok(())
    }

    /// A fresh engine with the same keys and configuration; the host's
    /// staged packets and timers die with the old one.
    fn restart(&mut self, dev: usize) -> Check {
        let inc = self.inc(dev) + 1;
        let mut fresh = Host::new(new_device(&self.sc, dev, inc)?, inc);
        fresh.quiet_until = self.hosts[dev].quiet_until;
        fresh.loaded_until = self.hosts[dev].loaded_until;
        if fresh.loaded_until > self.now {
            fresh.dev.set_under_load(true);
        }
        let old = std::mem::replace(&mut self.hosts[dev], fresh);
        for id in old.staged.into_values().flatten() {
            self.oracle.dropped(id, "device restarted");
        }
        let now = self.now;
        for v in self.models[dev].peers.values_mut() {
            v.added_at = now;
            v.id = None;
        }
        let update = self.models[dev].full_update();
        self.apply(dev, &update)
    }

    fn readd(&mut self, dev: usize, peer: usize) -> Check {
        let now = self.now;
        let Some(v) = self.models[dev].peers.get_mut(&peer) else {
            return Ok(());
        };
        v.present = true;
        v.added_at = now;
        let update = DeviceUpdate {
            peers: vec![v.update(peer)],
            ..Default::default()
        };
        self.note(format!("dev {dev} re-adds peer dev {peer}"));
        self.apply(dev, &update)
    }

    /// `on` learns `of`'s new public key: the old peer goes, a new one
    /// with the same settings comes.
    fn new_key(&mut self, on: usize, of: usize) -> Check {
        let now = self.now;
        let key = self.models[of].public;
        let Some(v) = self.models[on].peers.get_mut(&of) else {
            return Ok(());
        };
        let old = v.key;
        if old == key {
            return Ok(());
        }
        v.key = key;
        if !v.present {
            return Ok(());
        }
        v.added_at = now;
        let update = DeviceUpdate {
            peers: vec![
                PeerUpdate {
                    public_key: old,
                    remove: true,
                    ..Default::default()
                },
                v.update(of),
            ],
            ..Default::default()
        };
        self.note(format!("dev {on} learns dev {of}'s new key"));
        self.apply(on, &update)
    }

    fn new_prefix(&mut self, on: usize, of: usize) -> Check {
        let gen = self.models[of].gen;
        let Some(v) = self.models[on].peers.get_mut(&of) else {
            return Ok(());
        };
        v.gen = gen;
        if !v.present {
            return Ok(());
        }
        let mut p = v.update(of);
        p.update_only = true;
        p.endpoint = None;
        p.persistent_keepalive = None;
        let update = DeviceUpdate {
            peers: vec![p],
            ..Default::default()
        };
        self.note(format!(
            "dev {on} replaces dev {of}'s allowed IPs (gen {gen})"
        ));
        self.apply(on, &update)
    }

    fn thaw(&mut self, dev: usize) -> Check {
        let now = self.now;
        // Its timers were late by the freeze: judge them from now.
        for t in self.hosts[dev].attempts.values_mut() {
            *t = now;
        }
        for t in self.hosts[dev].last_reset.values_mut() {
            *t = now;
        }
        let due: Vec<PeerId> = self.hosts[dev]
            .deadlines
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in due {
            self.hosts[dev].deadlines.remove(&p);
            self.poll(dev, p)?;
        }
        Ok(())
    }

    // ---- the host's packet paths ----------------------------------------

    fn traffic(&mut self, from: usize, to: usize) -> Check {
        if self.now >= self.stop_traffic {
            return Ok(());
        }
        let healed = self.net.healed;
        let h = &self.hosts[from];
        if !h.frozen(self.now) && self.now >= h.quiet_until {
            let n = if !healed && self.rng.chance(self.sc.burst) {
                self.rng.range(2, 200)
            } else {
                1
            };
            for _ in 0..n {
                self.send_packet(from, to)?;
            }
        }
        let period = self.periods[&(from, to)];
        let next = if healed {
            self.rng.range(HEAL_PERIOD / 2, HEAL_PERIOD)
        } else if period == 0 {
            self.heal_at - self.now + self.rng.below(HEAL_PERIOD)
        } else {
            self.rng.range(period / 2, period * 3 / 2)
        };
        self.at(self.now + next.max(1), Kind::Traffic { from, to });
        Ok(())
    }

    /// A packet from `from`'s site to `to`'s, as `from` sees the
    /// numbering, in a family both sites have; sometimes with a forged
    /// source.
    fn send_packet(&mut self, from: usize, to: usize) -> Check {
        let spoof = self.rng.chance(self.sc.spoof);
        let host = self.rng.range(1, 254) as u8;
        let view = &self.models[from].peers[&to];
        let (dst_gen, shared) = (view.gen, view.inner.both(self.sc.devices[from].inner));
        let v6 = *self.rng.pick(&shared.list());
        let src = if spoof {
            let n = self.models.len() as u64;
            let other = (from as u64 + self.rng.range(1, n.max(2) - 1)) % n;
            if other as usize != from && self.rng.chance(500) {
                site_addr(other as usize, self.rng.below(3) as u8, host, v6)
            } else {
                site_addr(199, self.rng.below(256) as u8, host, v6)
            }
        } else {
            site_addr(from, self.models[from].gen, host, v6)
        };
        let dst = site_addr(to, dst_gen, self.rng.range(1, 254) as u8, v6);
        let extra = if self.rng.chance(50) {
            1300
        } else {
            self.rng.below(100) as usize
        };
        let id = self.oracle.packets.len() as u64;
        let pkt = packet::build(src, dst, id, extra);
        let mut buf = with_room(&pkt);
        self.oracle.new_packet(from, to, self.now, spoof, pkt);
        let t = self.time(from);
        let len = buf.len() - DATA_HEADROOM - DATA_TAILROOM;
        match self.hosts[from].dev.encapsulate(t, &mut buf, len) {
            Ok(Encap::Send {
                peer,
                endpoint,
                len,
                poll,
            }) => {
                self.traffic_for(from, peer);
                self.sealed(from, peer, id)?;
                buf.truncate(len);
                self.transmit(from, Some(peer), endpoint, buf)?;
                if poll {
                    self.poll(from, peer)?;
                }
            }
            Ok(Encap::Staged { peer }) => {
                self.traffic_for(from, peer);
                self.stage(from, peer, id)?;
                self.poll(from, peer)?;
            }
            Err(e) => {
                self.oracle.dropped(id, "refused by encapsulate");
                let now = self.now;
                self.trace.push(
                    now,
                    Ev::Packet {
                        from,
                        to,
                        id,
                        what: "refused",
                        err: Some(e),
                    },
                );
            }
        }
        Ok(())
    }

    /// The peer an engine chose for a packet must be the packet's
    /// destination device, as the sender's configuration routes it.
    fn routed(&self, dev: usize, peer: PeerId, id: u64) -> Result<usize, String> {
        let to = self.oracle.packets[id as usize].to;
        match self.models[dev].dev_of(peer) {
            Some(d) if d == to => Ok(d),
            other => Err(format!(
                "dev {dev}: packet #{id} for dev {to} went to peer {} (dev {other:?})",
                peer.0
            )),
        }
    }

    fn traffic_for(&mut self, dev: usize, peer: PeerId) {
        let now = self.now;
        let h = &mut self.hosts[dev];
        h.reset(peer, now);
        h.last_traffic.insert(peer, now);
    }

    fn stage(&mut self, dev: usize, peer: PeerId, id: u64) -> Check {
        self.routed(dev, peer, id)?;
        let q = self.hosts[dev].staged.entry(peer).or_default();
        let dropped = if q.len() >= MAX_STAGED_PACKETS {
            q.pop_front()
        } else {
            None
        };
        q.push_back(id);
        if let Some(old) = dropped {
            self.oracle.dropped(old, "staged queue full");
        }
        Ok(())
    }

    fn sealed(&mut self, dev: usize, peer: PeerId, id: u64) -> Check {
        let to = self.routed(dev, peer, id)?;
        let seal = Seal {
            at: self.now,
            sender_key: self.models[dev].public,
            receiver_key: self.models[dev].peers[&to].key,
        };
        self.oracle.sealed(id, seal)
    }

    fn poll(&mut self, dev: usize, peer: PeerId) -> Check {
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        for _ in 0..10_000 {
            let t = self.time(dev);
            let action = self.hosts[dev].dev.poll_peer(peer, t, &mut out);
            let now = self.now;
            let name = match &action {
                Ok(PeerAction::Send { .. }) => "send",
                Ok(PeerAction::FlushStaged) => "flush staged",
                Ok(PeerAction::DropStaged) => "drop staged",
                Ok(PeerAction::Idle { .. }) => "idle",
                Err(_) => "error",
            };
            if name != "idle" {
                self.trace.push(
                    now,
                    Ev::Poll {
                        dev,
                        peer,
                        action: name,
                    },
                );
            }
            match action {
                Ok(PeerAction::Send { endpoint, len }) => {
                    self.transmit(dev, Some(peer), endpoint, out[..len].to_vec())?
                }
                Ok(PeerAction::FlushStaged) => {
                    self.hosts[dev].attempts.remove(&peer);
                    self.flush(dev, peer)?
                }
                Ok(PeerAction::DropStaged) => {
                    self.give_ups += 1;
                    self.hosts[dev].attempts.remove(&peer);
                    self.hosts[dev].gave_up.insert(peer, now);
                    let q = self.hosts[dev].staged.remove(&peer).unwrap_or_default();
                    for id in q {
                        self.oracle.dropped(id, "handshake gave up");
                    }
                }
                Ok(PeerAction::Idle { next_deadline }) => {
                    match next_deadline.map(Instant::as_nanos) {
                        Some(d) if d <= now => {
                            return Err(format!(
                                "dev {dev} peer {}: idle with a deadline already due",
                                peer.0
                            ))
                        }
                        Some(d) => {
                            let inc = self.inc(dev);
                            self.hosts[dev].deadlines.insert(peer, d);
                            self.at(
                                d,
                                Kind::Timer {
                                    dev,
                                    inc,
                                    peer,
                                    at: d,
                                },
                            );
                        }
                        None => {
                            self.hosts[dev].deadlines.remove(&peer);
                        }
                    }
                    return Ok(());
                }
                Err(_) => {
                    self.hosts[dev].deadlines.remove(&peer);
                    return Ok(());
                }
            }
        }
        Err(format!("dev {dev} peer {}: poll_peer never idles", peer.0))
    }

    fn flush(&mut self, dev: usize, peer: PeerId) -> Check {
        loop {
            let Some(id) = self.hosts[dev]
                .staged
                .get_mut(&peer)
                .and_then(|q| q.pop_front())
            else {
                return Ok(());
            };
            let mut buf = with_room(&self.oracle.packets[id as usize].bytes);
            let len = buf.len() - DATA_HEADROOM - DATA_TAILROOM;
            let t = self.time(dev);
            match self.hosts[dev].dev.encapsulate_to(peer, t, &mut buf, len) {
                Ok(Encap::Send { endpoint, len, .. }) => {
                    self.sealed(dev, peer, id)?;
                    buf.truncate(len);
                    self.transmit(dev, Some(peer), endpoint, buf)?;
                }
                Ok(Encap::Staged { .. }) => {
                    // The session went away again: keep it, in order.
                    self.hosts[dev]
                        .staged
                        .entry(peer)
                        .or_default()
                        .push_front(id);
                    return Ok(());
                }
                Err(_) => self.oracle.dropped(id, "refused by encapsulate_to"),
            }
        }
    }

    // ---- the network ------------------------------------------------------

    /// Every datagram an engine asks to send passes the oracle first.
    fn transmit(
        &mut self,
        dev: usize,
        peer: Option<PeerId>,
        to: Endpoint,
        bytes: Vec<u8>,
    ) -> Check {
        let pk = peer.map(|p| self.pk(dev, p));
        let check = self.oracle.on_send(pk, &bytes, self.now);
        let Some(dst) = net::addr(&to) else {
            return check;
        };
        let kind = bytes.first().copied().unwrap_or(0);
        let now = self.now;
        self.trace.push(
            now,
            Ev::Send {
                dev,
                to: dst,
                kind,
                len: bytes.len(),
                index: messages::receiver_index(&bytes).unwrap_or(0),
                counter: messages::data_counter(&bytes).unwrap_or(0),
            },
        );
        check?;
        let Some(src) = self.net.source(dev, &dst) else {
            self.trace.push(
                now,
                Ev::Lost {
                    from: dev,
                    to: dst,
                    why: "from a device with no address of that family",
                },
            );
            return Ok(());
        };
        if let Some(&want) = peer.and_then(|p| self.hosts[dev].roamed.get(&p)) {
            if want != dst {
                return Err(format!(
                    "dev {dev} peer {}: sends to {:?}, but its last authenticated datagram \
                     came from {:?} (roaming)",
                    peer.map_or(0, |p| p.0),
                    net::endpoint(dst),
                    net::endpoint(want)
                ));
            }
        }
        if let (1, Some(p)) = (kind, peer) {
            self.after_give_up(dev, p)?;
            self.hosts[dev].attempts.insert(p, now);
        }
        if kind == 3 {
            self.cookie_replies += 1;
        }
        if !net::is_v4(&dst) {
            self.datagrams_v6 += 1;
        }
        self.launch(dev, pk, src, dst, bytes);
        Ok(())
    }

    fn launch(
        &mut self,
        from: usize,
        origin: Option<PeerKey>,
        src: Addr,
        dst: Addr,
        bytes: Vec<u8>,
    ) {
        let now = self.now;
        let Some(to) = self.net.route(&dst) else {
            if attacker_index(&dst).is_some_and(|i| i < ATTACKER_OWNED) {
                self.at(now + 10 * MS, Kind::ToAttacker { from, dst, bytes });
                return;
            }
            self.trace.push(
                now,
                Ev::Lost {
                    from,
                    to: dst,
                    why: "to an address nobody has",
                },
            );
            return;
        };
        if !self.net.healed && self.sc.replay > 0 {
            if self.history.len() == 64 {
                self.history.pop_front();
            }
            self.history.push_back((src, dst, bytes.clone()));
        }
        if self.net.healed && self.opts.sabotage == Some(Sabotage::BlackholeHeal) {
            return;
        }
        let copies = self.net.carry(&mut self.rng, from, to, bytes);
        if copies.is_empty() {
            self.trace.push(
                now,
                Ev::Lost {
                    from,
                    to: dst,
                    why: "lost",
                },
            );
        }
        for c in copies {
            self.at(
                now + c.delay,
                Kind::Deliver {
                    src,
                    dst,
                    bytes: c.bytes,
                    corrupted: c.corrupted,
                    origin,
                },
            );
        }
    }

    /// An attacker on the path sends an old datagram again, to where it
    /// went or to another device.
    fn replay_attack(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let i = self.rng.below(self.history.len() as u64) as usize;
        let (src, mut dst, bytes) = self.history[i].clone();
        if self.rng.chance(200) {
            let n = self.net.external.len() as u64;
            let d = self.rng.below(n) as usize;
            dst = self.net.any_addr(&mut self.rng, d).unwrap_or(dst);
        }
        let delay = self.rng.below(2 * NSEC);
        self.at(
            self.now + delay,
            Kind::Deliver {
                src,
                dst,
                bytes,
                corrupted: false,
                origin: None,
            },
        );
    }

    fn deliver(
        &mut self,
        src: Addr,
        dst: Addr,
        bytes: Vec<u8>,
        corrupted: bool,
        origin: Option<PeerKey>,
    ) -> Check {
        if !self.net.healed && self.rng.chance(self.sc.replay) {
            self.replay_attack();
        }
        let now = self.now;
        let Some(to) = self.net.route(&dst) else {
            self.trace.push(
                now,
                Ev::Lost {
                    from: usize::MAX,
                    to: dst,
                    why: "arrived at an address nobody has",
                },
            );
            return Ok(());
        };
        if self.hosts[to].frozen(now) {
            return Ok(());
        }
        let kind = bytes.first().copied().unwrap_or(0);
        let len = bytes.len();
        let index = messages::receiver_index(&bytes).unwrap_or(0);
        let counter = messages::data_counter(&bytes).unwrap_or(0);
        let sender = messages::sender_index(&bytes).unwrap_or(0);
        let loaded = self.hosts[to].dev.stats(self.time(to)).under_load;
        let mut buf = bytes;
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let t = self.time(to);
        let r = self.hosts[to]
            .dev
            .decapsulate(t, net::endpoint(src), &mut buf, &mut out);
        self.load_answer(to, &buf, loaded, &r, &out)?;
        self.cookie_ledger(to, src, &buf, (loaded, corrupted), &r, &out, origin)?;
        let rcv = match r {
            Err(e) => {
                // Authenticated data whose inner source is refused still
                // moved the peer's endpoint; which peer it was is not told.
                if e == wg_core::Error::SourceNotAllowed {
                    self.hosts[to].roamed.clear();
                }
                self.trace.push(
                    now,
                    Ev::Recv {
                        dev: to,
                        from: src,
                        kind,
                        len,
                        result: Err(e),
                    },
                );
                return Ok(());
            }
            Ok(rcv) => rcv,
        };
        let what = match rcv.action {
            Decap::Reply { .. } => "reply",
            Decap::Tunnel { .. } => "tunnel packet",
            Decap::Done => "consumed",
        };
        self.trace.push(
            now,
            Ev::Recv {
                dev: to,
                from: src,
                kind,
                len,
                result: Ok((what, rcv.peer)),
            },
        );
        if corrupted && kind == 4 {
            return Err(format!("dev {to} accepted a corrupted data message"));
        }
        let pk = rcv.peer.map(|p| self.pk(to, p));
        if let Some(p) = rcv.peer {
            self.hosts[to].reset(p, now);
            if matches!(kind, 1 | 2 | 4) {
                self.hosts[to].roamed.insert(p, src);
            }
        }
        match rcv.action {
            Decap::Reply { len } => {
                let reply = out[..len].to_vec();
                if reply[0] == 2 {
                    let pk = pk.ok_or("a response without a peer")?;
                    let local = messages::sender_index(&reply).unwrap_or(0);
                    let remote = messages::receiver_index(&reply).unwrap_or(0);
                    self.oracle.session(pk, local, remote, now, false);
                }
                self.transmit(to, rcv.peer, net::endpoint(src), reply)?;
            }
            Decap::Tunnel { offset, len } => {
                let pk = pk.ok_or("a tunnel packet without a peer")?;
                self.oracle.on_accept(pk, index, counter, now)?;
                let pkt = buf[offset..offset + len].to_vec();
                self.delivered(to, pk.2, &pkt)?;
                if self.opts.sabotage == Some(Sabotage::DeliverTwice) {
                    self.delivered(to, pk.2, &pkt)?;
                }
            }
            Decap::Done => match kind {
                2 => {
                    let pk = pk.ok_or("a response consumed without a peer")?;
                    self.oracle.session(pk, index, sender, now, true);
                    self.hosts[to].attempts.remove(&pk.2);
                }
                4 => {
                    let pk = pk.ok_or("a keepalive without a peer")?;
                    self.oracle.on_accept(pk, index, counter, now)?;
                }
                3 => {}
                _ => return Err(format!("dev {to} consumed a datagram of type {kind}")),
            },
        }
        if let (true, Some(p)) = (rcv.poll, rcv.peer) {
            self.poll(to, p)?;
        }
        Ok(())
    }

    /// Invariants 1 and 2: a packet is delivered once, by the device it
    /// was sealed for, through the peer entry of the device that sent it,
    /// made after the entry was, from a source that entry allows.
    fn delivered(&mut self, to: usize, peer: PeerId, pkt: &[u8]) -> Check {
        let id =
            packet::id_of(pkt).ok_or_else(|| format!("dev {to} delivered a foreign packet"))?;
        let now = self.now;
        self.trace.push(now, Ev::Delivered { dev: to, peer, id });
        let rec = self
            .oracle
            .packets
            .get(id as usize)
            .ok_or_else(|| format!("dev {to} delivered packet #{id}, never sent"))?;
        if rec.bytes != pkt {
            return Err(format!("dev {to} delivered packet #{id} altered"));
        }
        if let Fate::Delivered(t) = rec.fate {
            return Err(format!(
                "packet #{id} delivered twice (first at {:.6} s)",
                (t - T0_MONO) as f64 / 1e9
            ));
        }
        let seal = rec
            .seal
            .ok_or_else(|| format!("packet #{id} delivered but never sealed"))?;
        let m = &self.models[to];
        let of = m.dev_of(peer).ok_or_else(|| {
            format!(
                "dev {to} delivered packet #{id} through peer {}, not configured",
                peer.0
            )
        })?;
        let v = &m.peers[&of];
        if of != rec.from {
            return Err(format!(
                "packet #{id} from dev {} delivered as from dev {of}",
                rec.from
            ));
        }
        if v.key != seal.sender_key {
            return Err(format!(
                "packet #{id} sealed under dev {}'s key {:02x?}.., delivered through an entry for key {:02x?}..",
                rec.from,
                &seal.sender_key[..4],
                &v.key[..4]
            ));
        }
        if seal.at < v.added_at {
            return Err(format!(
                "packet #{id} sealed at {:.6} s delivered through a peer entry added at {:.6} s: \
                 a session of a removed peer",
                (seal.at - T0_MONO) as f64 / 1e9,
                (v.added_at - T0_MONO) as f64 / 1e9
            ));
        }
        if !m.keys_held.contains(&seal.receiver_key) {
            return Err(format!(
                "packet #{id} sealed for key {:02x?}.. opened by dev {to}, which never had it",
                &seal.receiver_key[..4]
            ));
        }
        let src = packet::src_of(pkt).ok_or_else(|| format!("packet #{id}: no source"))?;
        if !v.allows(of, src) || rec.spoof {
            return Err(format!(
                "packet #{id} from dev {of} with source {src:?} delivered by dev {to}, \
                 whose allowed IPs for it are {:?} (gen {})",
                v.inner, v.gen
            ));
        }
        self.oracle.packets[id as usize].fate = Fate::Delivered(now);
        Ok(())
    }

    /// Timers fire within their bounds: while a peer has packets staged and
    /// its last initiation is unanswered, the retransmission leaves within
    /// REKEY_TIMEOUT + jitter (until the attempt gives up and drops them).
    fn watchdog(&mut self) -> Check {
        let now = self.now;
        let limit = REKEY_TIMEOUT + REKEY_TIMEOUT_JITTER_MAX + MS;
        for (dev, h) in self.hosts.iter().enumerate() {
            if h.frozen(now) {
                continue;
            }
            for (p, t) in &h.attempts {
                let staged = h.staged.get(p).is_some_and(|q| !q.is_empty());
                let reset = h.last_reset.get(p).copied().unwrap_or(0);
                let keepalive = self.models[dev]
                    .dev_of(*p)
                    .map_or(0, |of| self.models[dev].peers[&of].keepalive);
                if staged && keepalive == 0 && now > reset + GIVE_UP_BOUND {
                    return Err(format!(
                        "dev {dev} peer {}: packets staged and the handshake neither done nor \
                         given up {} ms after the last reason to start it (bound {} ms)",
                        p.0,
                        (now - reset) / MS,
                        GIVE_UP_BOUND / MS
                    ));
                }
                if staged && now > t + limit {
                    return Err(format!(
                        "dev {dev} peer {}: packets staged and no initiation for {} ms \
                         since an unanswered one (retransmission due after {} ms)",
                        p.0,
                        (now - t) / MS,
                        limit / MS
                    ));
                }
            }
        }
        if now < self.stop_traffic {
            self.at(now + WATCHDOG, Kind::Watchdog);
        }
        Ok(())
    }

    /// REKEY_ATTEMPT_TIME: once a handshake gave up, no initiation leaves
    /// for the peer until something asks for one (a packet for the peer,
    /// a datagram from it, configuration, a persistent keepalive), or the
    /// new-handshake timer armed by data sent before the give-up expires.
    fn after_give_up(&self, dev: usize, p: PeerId) -> Check {
        let h = &self.hosts[dev];
        let Some(&at) = h.gave_up.get(&p) else {
            return Ok(());
        };
        let keepalive = self.models[dev]
            .dev_of(p)
            .map_or(0, |of| self.models[dev].peers[&of].keepalive);
        let traffic = h.last_traffic.get(&p).copied().unwrap_or(0);
        if keepalive != 0 || self.now <= traffic + NEW_HANDSHAKE_DUE {
            return Ok(());
        }
        Err(format!(
            "dev {dev} peer {}: an initiation {} ms after the handshake gave up, \
             with no new reason to start one",
            p.0,
            (self.now - at) / MS
        ))
    }

    // ---- the attacker -----------------------------------------------------

    /// One batch of bogus initiations: random bodies with a valid MAC1 for
    /// the victim's key (public, so any attacker has it), and a MAC2 where
    /// the source is one the attacker owns and got a cookie for.
    fn flood(&mut self, dev: usize, per_sec: u32, until: u64) {
        if self.now >= until || self.now >= self.stop_traffic {
            return;
        }
        let per_tick = per_sec as u64 * FLOOD_TICK / NSEC;
        let n = per_tick
            + u64::from(
                self.rng
                    .chance(((per_sec as u64 * FLOOD_TICK / MS) % 1000) as u32),
            );
        let public = self.models[dev].public;
        for _ in 0..n {
            let Some(dst) = self.net.any_addr(&mut self.rng, dev) else {
                return;
            };
            let mut src = attacker_addr(self.rng.below(ATTACKER_ADDRS), !net::is_v4(&dst));
            // A cookie reply answers one message (its MAC1): from an
            // address it owns, the attacker waits for the reply before
            // sending again, so that it gets the cookie.
            if let Some(i) = attacker_index(&src).filter(|&i| i < ATTACKER_OWNED) {
                let last = self.attacker_sent.get(&(src, dev)).copied();
                if last.is_some_and(|t| self.now < t + 2 * FLOOD_TICK) {
                    src = attacker_addr(ATTACKER_OWNED + i, !net::is_v4(&dst));
                } else {
                    self.attacker_sent.insert((src, dev), self.now);
                }
            }
            let mut msg = vec![0u8; messages::INITIATION_LEN];
            self.rng.bytes(&mut msg);
            msg[..4].copy_from_slice(&1u32.to_le_bytes());
            let maker = self
                .attacker
                .entry((src, dev))
                .or_insert_with(|| CookieMaker::new(&public));
            maker.add_macs(&mut msg, Instant::from_nanos(self.now));
            let delay = self.rng.range(MS, FLOOD_TICK);
            self.at(
                self.now + delay,
                Kind::Bogus {
                    src,
                    dst,
                    bytes: msg,
                },
            );
        }
        self.at(
            self.now + FLOOD_TICK,
            Kind::FloodTick {
                dev,
                per_sec,
                until,
            },
        );
    }

    fn attacker_gets(&mut self, from: usize, dst: Addr, bytes: &[u8]) {
        let Ok(reply) = <&[u8; messages::COOKIE_REPLY_LEN]>::try_from(bytes) else {
            return;
        };
        if let Some(m) = self.attacker.get_mut(&(dst, from)) {
            if m.consume_reply(reply, Instant::from_nanos(self.now))
                .is_ok()
            {
                self.attacker_cookies += 1;
                self.ledger.taken(attacker_key(&dst, from), bytes);
            }
        }
    }

    /// The attacker gets no session, no delivery, and leaves nothing
    /// allocated in the engine: a bogus initiation is refused, or answered
    /// with a cookie reply under load.
    fn bogus(&mut self, src: Addr, dst: Addr, bytes: Vec<u8>) -> Check {
        let now = self.now;
        let Some(to) = self.net.route(&dst) else {
            return Ok(());
        };
        if self.hosts[to].frozen(now) {
            return Ok(());
        }
        self.bogus += 1;
        let t = self.time(to);
        let loaded = self.hosts[to].dev.stats(t).under_load;
        let mut buf = bytes;
        let mut out = [0u8; MAX_HANDSHAKE_LEN];
        let before = meter::live();
        let r = self.hosts[to]
            .dev
            .decapsulate(t, net::endpoint(src), &mut buf, &mut out);
        let grown = meter::live() - before;
        self.trace.push(
            now,
            Ev::Recv {
                dev: to,
                from: src,
                kind: 1,
                len: buf.len(),
                result: r.map(|x| ("from the attacker", x.peer)),
            },
        );
        if grown != 0 {
            return Err(format!(
                "dev {to}: a bogus initiation from {:?} left {grown} bytes allocated",
                net::endpoint(src)
            ));
        }
        self.load_answer(to, &buf, loaded, &r, &out)?;
        // The attacker's MAC2s are judged as a peer's: a cookie it got is
        // as valid as anyone's until the secret rotates.
        let key = attacker_key(&src, to);
        self.cookie_ledger(to, src, &buf, (loaded, false), &r, &out, Some(key))?;
        match r {
            Err(_) => Ok(()),
            Ok(rcv) => match (rcv.action, rcv.peer) {
                (Decap::Reply { len }, None) if out[0] == 3 => {
                    self.transmit(to, None, net::endpoint(src), out[..len].to_vec())
                }
                _ => Err(format!(
                    "dev {to}: a bogus initiation from {:?} was taken: {rcv:?}",
                    net::endpoint(src)
                )),
            },
        }
    }

    /// Feeds the cookie ledger: cookie replies sent and taken, and a
    /// loaded device's refusal of a MAC2 made from one of its cookies.
    #[allow(clippy::too_many_arguments)]
    fn cookie_ledger(
        &mut self,
        dev: usize,
        src: Addr,
        msg: &[u8],
        (loaded, corrupted): (bool, bool),
        r: &Result<wg_core::Received, wg_core::Error>,
        out: &[u8],
        origin: Option<PeerKey>,
    ) -> Check {
        let Ok(rcv) = r else {
            return Ok(());
        };
        let inc = self.inc(dev);
        let kind = msg.first().copied().unwrap_or(0);
        match rcv.action {
            Decap::Reply { len } if out[0] == 3 => {
                self.ledger.issued(
                    &out[..len],
                    Issue {
                        dev,
                        inc,
                        to: src,
                        at: self.now,
                    },
                );
                let mac2 = msg.len().checked_sub(16).map_or(&[][..], |o| &msg[o..]);
                if let (true, false, Some(from)) = (loaded, corrupted, origin) {
                    if mac2.iter().any(|&b| b != 0) {
                        self.ledger.refused(dev, inc, from, src, self.now)?;
                    }
                }
            }
            Decap::Done if kind == 3 => {
                if let Some(p) = rcv.peer {
                    self.ledger.taken((dev, inc, p), msg);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Cookie replies exactly under load: a device under load answers an
    /// initiation or response that carries no MAC2 with a cookie reply (or
    /// refuses it), never with work; a device not under load never sends
    /// one.
    fn load_answer(
        &self,
        dev: usize,
        msg: &[u8],
        loaded_before: bool,
        r: &Result<wg_core::Received, wg_core::Error>,
        out: &[u8],
    ) -> Check {
        let kind = msg.first().copied().unwrap_or(0);
        if !matches!(kind, 1 | 2) {
            return Ok(());
        }
        let cookie = matches!(r, Ok(x) if matches!(x.action, Decap::Reply { .. }) && out[0] == 3);
        let no_mac2 = match msg.len() {
            messages::INITIATION_LEN | messages::RESPONSE_LEN => {
                msg[msg.len() - 16..].iter().all(|&b| b == 0)
            }
            _ => false,
        };
        if loaded_before && no_mac2 && r.is_ok() && !cookie {
            return Err(format!(
                "dev {dev} under load answered a handshake message without MAC2 \
                 with something else than a cookie reply"
            ));
        }
        if cookie && !self.hosts[dev].dev.stats(self.time(dev)).under_load {
            return Err(format!(
                "dev {dev} sent a cookie reply while not under load"
            ));
        }
        Ok(())
    }

    /// Invariant 3 and the final state: after the liveness bound every
    /// pair delivers, with no outage longer than MAX_OUTAGE and at most
    /// MAX_LOSSES_PER_PAIR packets lost; nothing is left staged; the
    /// engines hold what was configured.
    ///
    /// Not every packet: a packet in flight under the responder's current
    /// keypair is lost when the initiator's rekey completes while it still
    /// holds an unconfirmed `next` keypair (left over from a handshake
    /// whose confirmation never came): the new keypair then demotes `next`
    /// to `previous` and drops `current`, as Linux's add_new_keypair does.
    fn finish(&mut self) -> Check {
        let from = self.heal_at + self.bound;
        let mut by_pair: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
        for (id, p) in self.oracle.packets.iter().enumerate() {
            if !p.spoof && p.sent_at >= from && p.sent_at < self.stop_traffic {
                by_pair.entry((p.from, p.to)).or_default().push(id);
            }
        }
        let delivered = |id: usize| matches!(self.oracle.packets[id].fate, Fate::Delivered(_));
        for &(a, b) in self.periods.keys() {
            let ids = by_pair.get(&(a, b)).map(Vec::as_slice).unwrap_or_default();
            if ids.is_empty() {
                return Err(format!("liveness: no traffic dev {a} -> dev {b} to judge"));
            }
            let mut lost = 0;
            for (i, &id) in ids.iter().enumerate() {
                if delivered(id) {
                    continue;
                }
                lost += 1;
                let p = &self.oracle.packets[id];
                let limit = p.sent_at + MAX_OUTAGE;
                let recovered = ids[i + 1..]
                    .iter()
                    .take_while(|&&j| self.oracle.packets[j].sent_at <= limit)
                    .any(|&j| delivered(j));
                if (!recovered && limit < self.stop_traffic) || lost > MAX_LOSSES_PER_PAIR {
                    return Err(format!(
                        "liveness: packet #{id} dev {a} -> dev {b} sent {:.3} s after the heal \
                         (bound {:.3} s) was not delivered ({:?}), {}",
                        (p.sent_at - self.heal_at) as f64 / 1e9,
                        self.bound as f64 / 1e9,
                        p.fate,
                        if recovered {
                            format!("{lost} lost on this pair")
                        } else {
                            "nor anything after it for MAX_OUTAGE".to_string()
                        }
                    ));
                }
            }
        }
        if self.sc.family == Family::GiveUp && self.give_ups == 0 {
            return Err("family GiveUp: no handshake gave up".into());
        }
        for d in 0..self.hosts.len() {
            if let Some((p, q)) = self.hosts[d].staged.iter().find(|(_, q)| !q.is_empty()) {
                return Err(format!(
                    "dev {d}: {} packets still staged for peer {} at the end",
                    q.len(),
                    p.0
                ));
            }
            self.structure(d)?;
        }
        Ok(())
    }
}
