//! What one seed means: the topology, each device's situation, the links'
//! faults, the schedule of disruptions and the traffic. Everything here is
//! drawn up front from the seed, so the summary printed on failure says
//! what the run was.

use crate::clock::NSEC;
use crate::prng::Prng;
use std::fmt;

pub const MS: u64 = NSEC / 1000;

/// Which address families something has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fams {
    pub v4: bool,
    pub v6: bool,
}

impl Fams {
    pub const V4: Fams = Fams {
        v4: true,
        v6: false,
    };

    pub fn count(self) -> usize {
        usize::from(self.v4) + usize::from(self.v6)
    }

    pub fn both(self, o: Fams) -> Fams {
        Fams {
            v4: self.v4 && o.v4,
            v6: self.v6 && o.v6,
        }
    }

    pub fn either(self, o: Fams) -> Fams {
        Fams {
            v4: self.v4 || o.v4,
            v6: self.v6 || o.v6,
        }
    }

    /// The families as a list, IPv4 first (false = IPv4).
    pub fn list(self) -> Vec<bool> {
        [(self.v4, false), (self.v6, true)]
            .into_iter()
            .filter_map(|(has, v6)| has.then_some(v6))
            .collect()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Independent site-to-site tunnels: devices 2k and 2k+1.
    Pairs(usize),
    /// Device 0 is the hub; the others are spokes talking only to it.
    HubSpoke(usize),
    /// Every device talks to every other.
    Mesh(usize),
}

impl Topology {
    pub fn devices(&self) -> usize {
        match *self {
            Topology::Pairs(k) => 2 * k,
            Topology::HubSpoke(s) => s + 1,
            Topology::Mesh(n) => n,
        }
    }

    /// Pairs of devices configured as each other's peers (a < b).
    pub fn edges(&self) -> Vec<(usize, usize)> {
        match *self {
            Topology::Pairs(k) => (0..k).map(|i| (2 * i, 2 * i + 1)).collect(),
            Topology::HubSpoke(s) => (1..=s).map(|i| (0, i)).collect(),
            Topology::Mesh(n) => (0..n)
                .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                .collect(),
        }
    }
}

/// Per-direction faults of a link, in per mille and nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkFaults {
    pub loss: u32,
    pub dup: u32,
    /// Datagrams held back by up to `reorder_ns` more than the others.
    pub reorder: u32,
    pub reorder_ns: u64,
    pub corrupt: u32,
    pub delay_ns: u64,
    pub jitter_ns: u64,
}

/// How one side of an edge is configured for the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerSetup {
    /// The other side's public address is configured (otherwise it is
    /// learnt from its first authenticated packet, as for a road warrior).
    pub knows_endpoint: bool,
    /// Persistent keepalive in seconds, 0 = off.
    pub keepalive: u16,
    /// The configured endpoint is the other side's IPv6 address.
    pub ep6: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub a: usize,
    pub b: usize,
    /// a's configuration of b, b's of a.
    pub a_of_b: PeerSetup,
    pub b_of_a: PeerSetup,
    pub ab: LinkFaults,
    pub ba: LinkFaults,
    /// Mean gap between packets a->b and b->a during the faulty phase
    /// (0: silent until the network heals).
    pub period_ab: u64,
    pub period_ba: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Behind a NAT whose mapping may change.
    pub natted: bool,
    /// A rebinding NAT forgets the old mapping (inbound to it is lost).
    pub nat_forgets: bool,
    /// The families of its outer addresses and of its site.
    pub outer: Fams,
    pub inner: Fams,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    NatRebind {
        dev: usize,
    },
    /// Fresh engine, same keys and configuration; staged packets lost.
    Restart {
        dev: usize,
    },
    /// Real time jumps by `delta_ns`; monotonic time does not.
    ClockJump {
        dev: usize,
        delta_ns: i64,
    },
    /// `dev` removes its peer `peer`, then adds it back after `gap_ns`.
    RemoveReadd {
        dev: usize,
        peer: usize,
        gap_ns: u64,
    },
    /// `dev` takes a new private key; each of its peers learns the new
    /// public key within `stagger_ns`.
    RotateKey {
        dev: usize,
        stagger_ns: u64,
    },
    /// `dev`'s site moves to a new prefix; its peers replace its allowed
    /// IPs within `stagger_ns`.
    Renumber {
        dev: usize,
        stagger_ns: u64,
    },
    /// Nothing passes between `a` and `b` for `dur_ns`.
    Partition {
        a: usize,
        b: usize,
        dur_ns: u64,
    },
    /// `dev` stops (suspended): it neither receives nor runs timers.
    Freeze {
        dev: usize,
        dur_ns: u64,
    },
    /// The host tells `dev`'s engine it is under load (its handshake queue
    /// is deep) for `dur_ns`: handshakes need a cookie.
    Overload {
        dev: usize,
        dur_ns: u64,
    },
    /// An attacker sends `dev` bogus initiations with a valid MAC1 from
    /// many source addresses, `per_sec` of them a second for `dur_ns`.
    Flood {
        dev: usize,
        per_sec: u32,
        dur_ns: u64,
    },
    /// A middlebox between `a` and `b` drops handshake messages (data
    /// passes) for `dur_ns`: sessions age without being replaced.
    HandshakeBlock {
        a: usize,
        b: usize,
        dur_ns: u64,
    },
    /// `dev`'s users send nothing for `dur_ns`.
    Quiet {
        dev: usize,
        dur_ns: u64,
    },
    /// `dev` is told to reach `peer` at its address of the other family
    /// (both have both): `peer` sees it roam from IPv4 to IPv6 or back.
    FamilySwitch {
        dev: usize,
        peer: usize,
    },
}

/// What a seed is mostly about; every family keeps every invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Any mix of the faults above but the long ones.
    Classic,
    /// Devices under load (forced, or tripped by a flood), sometimes past
    /// the heal: cookie replies, MAC2, the cookie secret's rotation.
    Load,
    /// Handshakes blocked for longer than REJECT_AFTER_TIME under steady
    /// traffic: sessions must stop at REJECT_AFTER_TIME, rekeys be tried
    /// from REKEY_AFTER_TIME.
    Stale,
    /// A partition longer than REKEY_ATTEMPT_TIME with the users quiet:
    /// handshakes give up, then traffic starts them again.
    GiveUp,
}

impl Family {
    pub const ALL: [Family; 4] = [Family::Classic, Family::Load, Family::Stale, Family::GiveUp];

    /// The family of a seed: fixed by the seed alone, so a run of one
    /// family can pick its seeds without generating the others.
    pub fn of(seed: u64) -> Family {
        match Prng::new(seed ^ 0xfa41_17e5).below(100) {
            0..=69 => Family::Classic,
            70..=81 => Family::Load,
            82..=90 => Family::Stale,
            _ => Family::GiveUp,
        }
    }

    pub fn parse(s: &str) -> Option<Family> {
        Family::ALL
            .into_iter()
            .find(|f| format!("{f:?}").eq_ignore_ascii_case(s))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Offset from the start of the run.
    pub at_ns: u64,
    pub kind: FaultKind,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub family: Family,
    /// Handshake messages a second from which engines count as under load
    /// (None: the engine's default).
    pub load_threshold: Option<u32>,
    /// Load (forced or a flood) goes on after the heal, to the end.
    pub load_after_heal: bool,
    pub topology: Topology,
    pub devices: Vec<DeviceSpec>,
    pub edges: Vec<Edge>,
    pub faults: Vec<Fault>,
    /// The faulty phase; the network heals at its end.
    pub fault_ns: u64,
    /// Per mille of packets sent as a burst, and of packets whose inner
    /// source is forged.
    pub burst: u32,
    pub spoof: u32,
    /// Per mille of datagrams after which an attacker replays an old one.
    pub replay: u32,
}

/// Largest backward real-time jump, which delays recovery (the peer
/// refuses initiations until our clock passes its last timestamp).
pub const MAX_BACK_JUMP: u64 = 20 * NSEC;
/// Fault sub-steps (staggered updates, re-adds, partitions, freezes) end
/// this long before the heal at the latest.
const SETTLE: u64 = 20 * NSEC;

fn link(rng: &mut Prng) -> LinkFaults {
    if rng.chance(300) {
        return LinkFaults {
            delay_ns: rng.range(1, 80) * MS,
            ..Default::default()
        };
    }
    LinkFaults {
        loss: *rng.pick(&[0, 10, 50, 150, 300, 600]),
        dup: *rng.pick(&[0, 0, 20, 100]),
        reorder: *rng.pick(&[0, 50, 200]),
        reorder_ns: rng.range(1, 3000) * MS,
        corrupt: *rng.pick(&[0, 0, 10, 50]),
        delay_ns: rng.range(1, 80) * MS,
        jitter_ns: rng.range(0, 50) * MS,
    }
}

fn period(rng: &mut Prng) -> u64 {
    *rng.pick(&[0, 200 * MS, NSEC, NSEC, 3 * NSEC, 10 * NSEC])
}

fn topology(rng: &mut Prng) -> Topology {
    let big = rng.chance(80);
    match rng.below(100) {
        0..=34 => Topology::Pairs(1),
        35..=49 => Topology::Pairs(if big {
            rng.range(5, 25)
        } else {
            rng.range(2, 3)
        } as usize),
        50..=74 => Topology::HubSpoke(if big {
            rng.range(7, 49)
        } else {
            rng.range(2, 5)
        } as usize),
        _ => Topology::Mesh(rng.range(3, if big { 8 } else { 4 }) as usize),
    }
}

/// Draws each device's outer and site families (from a stream of their
/// own, so the rest of the seed stays as it was): mostly IPv4 outside and
/// dual-stack inside, some IPv6-only, every edge sharing a family both
/// ways; the endpoints configured in a shared family; and a few switches of
/// a configured endpoint to the other family.
fn families(
    seed: u64,
    devices: &mut [DeviceSpec],
    edges: &mut [Edge],
    faults: &mut Vec<Fault>,
    fault_ns: u64,
) {
    let mut rng = Prng::new(seed).fork(0x6);
    let draw = |rng: &mut Prng, v4_only: u32, v6_only: u32| match rng.below(1000) as u32 {
        x if x < v4_only => Fams::V4,
        x if x < v4_only + v6_only => Fams {
            v4: false,
            v6: true,
        },
        _ => Fams { v4: true, v6: true },
    };
    for d in devices.iter_mut() {
        d.outer = draw(&mut rng, 450, 200);
        d.inner = draw(&mut rng, 150, 150);
    }
    // Widening only ever helps other edges: repeat until every edge
    // shares a family.
    loop {
        let mut changed = false;
        for e in edges.iter() {
            for inner in [false, true] {
                let get = |d: &DeviceSpec| if inner { d.inner } else { d.outer };
                let (a, b) = (get(&devices[e.a]), get(&devices[e.b]));
                if a.both(b).count() == 0 {
                    for d in [e.a, e.b] {
                        let f = if inner {
                            &mut devices[d].inner
                        } else {
                            &mut devices[d].outer
                        };
                        *f = a.either(b);
                    }
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut switchable = Vec::new();
    for e in edges.iter_mut() {
        let shared = devices[e.a].outer.both(devices[e.b].outer);
        let pick = |rng: &mut Prng| *rng.pick(&shared.list());
        e.a_of_b.ep6 = pick(&mut rng);
        e.b_of_a.ep6 = pick(&mut rng);
        if shared.count() == 2 {
            if e.a_of_b.knows_endpoint {
                switchable.push((e.a, e.b));
            }
            if e.b_of_a.knows_endpoint {
                switchable.push((e.b, e.a));
            }
        }
    }
    if switchable.is_empty() || fault_ns <= SETTLE {
        return;
    }
    for _ in 0..rng.below(3) {
        let (dev, peer) = *rng.pick(&switchable);
        faults.push(Fault {
            at_ns: rng.below(fault_ns - SETTLE),
            kind: FaultKind::FamilySwitch { dev, peer },
        });
    }
    faults.sort_by_key(|f| f.at_ns);
}

/// A fault that lasts to the end of the run.
pub const FOREVER: u64 = u64::MAX / 4;

/// Links with little trouble, for the long families: what they test is
/// time, not loss.
fn mild_link(rng: &mut Prng) -> LinkFaults {
    LinkFaults {
        loss: *rng.pick(&[0, 0, 10, 50]),
        dup: *rng.pick(&[0, 0, 20]),
        reorder: *rng.pick(&[0, 50]),
        reorder_ns: rng.range(1, 500) * MS,
        corrupt: *rng.pick(&[0, 0, 10]),
        delay_ns: rng.range(1, 80) * MS,
        jitter_ns: rng.range(0, 20) * MS,
    }
}

impl Scenario {
    pub fn generate(seed: u64) -> Scenario {
        let family = Family::of(seed);
        match family {
            Family::Classic => Self::classic(seed, family, false),
            Family::Load => Self::load(seed),
            Family::Stale | Family::GiveUp => Self::long(seed, family),
        }
    }

    fn classic(seed: u64, family: Family, small: bool) -> Scenario {
        let mut rng = Prng::new(seed);
        let mut topology = topology(&mut rng);
        if small && topology.devices() > 10 {
            topology = match topology {
                Topology::Pairs(_) => Topology::Pairs(3),
                Topology::HubSpoke(_) => Topology::HubSpoke(8),
                Topology::Mesh(_) => Topology::Mesh(4),
            };
        }
        let n = topology.devices();
        // NAT only where a configured endpoint stays reachable on every
        // edge: hubs never, one side of a pair, one device of a mesh.
        let mut devices = vec![
            DeviceSpec {
                natted: false,
                nat_forgets: false,
                outer: Fams::V4,
                inner: Fams::V4,
            };
            n
        ];
        let natted: Vec<usize> = match topology {
            Topology::Pairs(k) => (0..k)
                .filter_map(|i| rng.chance(400).then_some(2 * i + 1))
                .collect(),
            Topology::HubSpoke(s) => (1..=s).filter(|_| rng.chance(500)).collect(),
            Topology::Mesh(n) => {
                if rng.chance(400) {
                    vec![rng.below(n as u64) as usize]
                } else {
                    vec![]
                }
            }
        };
        for d in natted {
            devices[d] = DeviceSpec {
                natted: true,
                nat_forgets: rng.chance(500),
                ..devices[d]
            };
        }
        let edges = topology
            .edges()
            .into_iter()
            .map(|(a, b)| {
                let mut setup = |other: usize| PeerSetup {
                    // A hub need not know its spokes' addresses; a NAT
                    // that forgets makes a configured address useless.
                    knows_endpoint: !devices[other].nat_forgets
                        && (matches!(topology, Topology::Pairs(_) | Topology::Mesh(_))
                            || other == 0
                            || rng.chance(500)),
                    keepalive: if rng.chance(250) {
                        *rng.pick(&[1, 10, 25])
                    } else {
                        0
                    },
                    ep6: false,
                };
                let a_of_b = setup(b);
                let b_of_a = setup(a);
                Edge {
                    a,
                    b,
                    a_of_b,
                    b_of_a,
                    ab: link(&mut rng),
                    ba: link(&mut rng),
                    period_ab: period(&mut rng),
                    period_ba: period(&mut rng),
                }
            })
            .collect::<Vec<_>>();
        // Big networks get shorter runs: the cost is handshakes per peer.
        let fault_ns = if n > 10 {
            rng.range(30, 90)
        } else {
            rng.range(30, 250)
        } * NSEC;
        let mut faults = Self::faults(&mut rng, &edges, &devices, n, fault_ns);
        let (mut devices, mut edges) = (devices, edges);
        families(seed, &mut devices, &mut edges, &mut faults, fault_ns);
        Scenario {
            seed,
            family,
            load_threshold: None,
            load_after_heal: false,
            topology,
            devices,
            edges,
            faults,
            fault_ns,
            burst: *rng.pick(&[0, 5, 20]),
            spoof: *rng.pick(&[0, 10, 50]),
            replay: *rng.pick(&[0, 0, 10, 100]),
        }
    }

    /// Classic faults, plus devices under load: forced by their hosts
    /// for a while, and an attacker flooding one of them with initiations
    /// fast enough to trip its rate meter. Sometimes the load lasts to the
    /// end, so pairs must re-establish under it after the heal.
    fn load(seed: u64) -> Scenario {
        let mut sc = Self::classic(seed, Family::Load, true);
        let mut rng = Prng::new(seed).fork(0x10ad);
        let n = sc.devices.len();
        let last = sc.fault_ns - SETTLE;
        sc.load_threshold = Some(rng.range(12, 25) as u32);
        let victim = match sc.topology {
            Topology::HubSpoke(_) => 0,
            _ => rng.below(n as u64) as usize,
        };
        for _ in 0..rng.below(3) {
            let at_ns = rng.below(last);
            let dev = rng.below(n as u64) as usize;
            let dur_ns = rng.range(5 * NSEC, (last - at_ns).max(5 * NSEC));
            sc.faults.push(Fault {
                at_ns,
                kind: FaultKind::Overload { dev, dur_ns },
            });
        }
        if rng.chance(700) {
            let at_ns = rng.below(last);
            let dur_ns = rng.range(2 * NSEC, (last - at_ns).clamp(2 * NSEC, 90 * NSEC));
            sc.faults.push(Fault {
                at_ns,
                kind: FaultKind::Flood {
                    dev: victim,
                    per_sec: rng.range(30, 90) as u32,
                    dur_ns,
                },
            });
        }
        if rng.chance(400) {
            sc.load_after_heal = true;
            let at_ns = rng.below(sc.fault_ns);
            let kind = if rng.chance(500) {
                FaultKind::Overload {
                    dev: rng.below(n as u64) as usize,
                    dur_ns: FOREVER,
                }
            } else {
                FaultKind::Flood {
                    dev: victim,
                    per_sec: rng.range(30, 45) as u32,
                    dur_ns: FOREVER,
                }
            };
            sc.faults.push(Fault { at_ns, kind });
        }
        sc.faults.sort_by_key(|f| f.at_ns);
        sc
    }

    /// One to three tunnels with steady traffic and a long disruption:
    /// handshakes blocked for longer than REJECT_AFTER_TIME (Stale), or a
    /// partition longer than REKEY_ATTEMPT_TIME while the users are quiet,
    /// one side restarted so that it has packets staged (GiveUp).
    fn long(seed: u64, family: Family) -> Scenario {
        let mut rng = Prng::new(seed);
        let topology = if rng.chance(700) {
            Topology::Pairs(rng.range(1, 2) as usize)
        } else {
            Topology::HubSpoke(rng.range(2, 3) as usize)
        };
        let n = topology.devices();
        let devices = vec![
            DeviceSpec {
                natted: false,
                nat_forgets: false,
                outer: Fams::V4,
                inner: Fams::V4,
            };
            n
        ];
        let stale = family == Family::Stale;
        let edges: Vec<Edge> = topology
            .edges()
            .into_iter()
            .map(|(a, b)| {
                let mut setup = |other: usize| PeerSetup {
                    knows_endpoint: other == 0 || !matches!(topology, Topology::HubSpoke(_)),
                    // A persistent keepalive restarts a handshake that gave
                    // up; GiveUp wants to see it stay given up.
                    keepalive: if stale && rng.chance(200) { 25 } else { 0 },
                    ep6: false,
                };
                let a_of_b = setup(b);
                let b_of_a = setup(a);
                let steady = |rng: &mut Prng| *rng.pick(&[200 * MS, 500 * MS, NSEC]);
                Edge {
                    a,
                    b,
                    a_of_b,
                    b_of_a,
                    ab: mild_link(&mut rng),
                    ba: mild_link(&mut rng),
                    period_ab: steady(&mut rng),
                    period_ba: steady(&mut rng),
                }
            })
            .collect();
        let mut faults = Vec::new();
        let mut end = 0;
        for e in &edges {
            let at_ns = rng.range(10, 40) * NSEC;
            if stale {
                // The session of the start is at most `at_ns` old when the
                // block starts; it must outlive REJECT_AFTER_TIME under it.
                let dur_ns = rng.range(185, 230) * NSEC;
                faults.push(Fault {
                    at_ns,
                    kind: FaultKind::HandshakeBlock {
                        a: e.a,
                        b: e.b,
                        dur_ns,
                    },
                });
                end = end.max(at_ns + dur_ns);
            } else {
                // Quiet from `q` after the partition for at least 110 s:
                // the last packet then staged is given up on within
                // 20 x (REKEY_TIMEOUT + jitter) = 106.7 s, before the
                // partition ends.
                let q = rng.range(3, 8) * NSEC;
                let dur_ns = q + rng.range(110, 160) * NSEC;
                let quiet = (dur_ns - q + rng.range(0, 30) * NSEC)
                    .saturating_sub(15 * NSEC)
                    .max(110 * NSEC);
                let restarted = if rng.chance(500) { e.a } else { e.b };
                faults.push(Fault {
                    at_ns,
                    kind: FaultKind::Partition {
                        a: e.a,
                        b: e.b,
                        dur_ns,
                    },
                });
                faults.push(Fault {
                    at_ns: at_ns + rng.below(NSEC),
                    kind: FaultKind::Restart { dev: restarted },
                });
                for dev in [e.a, e.b] {
                    faults.push(Fault {
                        at_ns: at_ns + q,
                        kind: FaultKind::Quiet { dev, dur_ns: quiet },
                    });
                }
                end = end.max(at_ns + dur_ns).max(at_ns + q + quiet);
            }
        }
        faults.sort_by_key(|f| f.at_ns);
        let fault_ns = end + SETTLE + rng.range(0, 20) * NSEC;
        let (mut devices, mut edges) = (devices, edges);
        families(seed, &mut devices, &mut edges, &mut faults, fault_ns);
        Scenario {
            seed,
            family,
            load_threshold: None,
            load_after_heal: false,
            topology,
            devices,
            edges,
            faults,
            fault_ns,
            burst: 0,
            spoof: *rng.pick(&[0, 10, 50]),
            replay: *rng.pick(&[0, 0, 10]),
        }
    }

    fn faults(
        rng: &mut Prng,
        edges: &[Edge],
        devices: &[DeviceSpec],
        n: usize,
        fault_ns: u64,
    ) -> Vec<Fault> {
        let last = fault_ns - SETTLE;
        let count = rng.below(9);
        let mut backward = vec![false; n];
        let mut out = Vec::new();
        for _ in 0..count {
            let at_ns = rng.below(last);
            let room = last - at_ns;
            let dev = rng.below(n as u64) as usize;
            let e = rng.pick(edges).clone();
            let kind = match rng.below(8) {
                0 if devices[dev].natted => FaultKind::NatRebind { dev },
                0 | 1 => FaultKind::Restart { dev },
                2 => {
                    let back = !backward[dev] && rng.chance(400);
                    backward[dev] |= back;
                    let delta_ns = if back {
                        -(rng.range(1, MAX_BACK_JUMP / MS) as i64 * MS as i64)
                    } else {
                        rng.range(1, 3 * 86400) as i64 * NSEC as i64
                    };
                    FaultKind::ClockJump { dev, delta_ns }
                }
                3 => {
                    let (dev, peer) = if rng.chance(500) {
                        (e.a, e.b)
                    } else {
                        (e.b, e.a)
                    };
                    FaultKind::RemoveReadd {
                        dev,
                        peer,
                        gap_ns: rng.below(room.min(15 * NSEC)),
                    }
                }
                4 => FaultKind::RotateKey {
                    dev,
                    stagger_ns: rng.below(10 * NSEC),
                },
                5 => FaultKind::Renumber {
                    dev,
                    stagger_ns: rng.below(10 * NSEC),
                },
                6 => FaultKind::Partition {
                    a: e.a,
                    b: e.b,
                    dur_ns: rng.below(room.min(60 * NSEC)),
                },
                _ => FaultKind::Freeze {
                    dev,
                    dur_ns: rng.below(room.min(40 * NSEC)),
                },
            };
            out.push(Fault { at_ns, kind });
        }
        out.sort_by_key(|f| f.at_ns);
        out
    }

    /// The largest backward real-time jump of any device.
    pub fn back_jump(&self) -> u64 {
        self.faults
            .iter()
            .filter_map(|f| match f.kind {
                FaultKind::ClockJump { delta_ns, .. } if delta_ns < 0 => {
                    Some(delta_ns.unsigned_abs())
                }
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / NSEC as f64
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {} ({:?}): {:?}, {} devices, faulty for {:.1} s, burst {}‰ spoof {}‰ replay {}‰",
            self.seed,
            self.family,
            self.topology,
            self.devices.len(),
            secs(self.fault_ns),
            self.burst,
            self.spoof,
            self.replay
        )?;
        for (i, d) in self.devices.iter().take(12).enumerate() {
            let fams = |x: Fams| match (x.v4, x.v6) {
                (true, true) => "v4+v6",
                (false, true) => "v6",
                _ => "v4",
            };
            let nat = match (d.natted, d.nat_forgets) {
                (true, true) => ", behind a NAT that forgets",
                (true, false) => ", behind NAT",
                _ => "",
            };
            writeln!(
                f,
                "  dev {i}: outer {} site {}{nat}",
                fams(d.outer),
                fams(d.inner)
            )?;
        }
        let ep = |p: &PeerSetup| match (p.knows_endpoint, p.ep6) {
            (false, _) => "-",
            (true, false) => "v4",
            (true, true) => "v6",
        };
        for e in self.edges.iter().take(12) {
            writeln!(
                f,
                "  {}<->{}: ep {}/{} ka {}/{} period {:.1}/{:.1} s; {}->{} {:?}; {}->{} {:?}",
                e.a,
                e.b,
                ep(&e.a_of_b),
                ep(&e.b_of_a),
                e.a_of_b.keepalive,
                e.b_of_a.keepalive,
                secs(e.period_ab),
                secs(e.period_ba),
                e.a,
                e.b,
                e.ab,
                e.b,
                e.a,
                e.ba
            )?;
        }
        if self.edges.len() > 12 {
            writeln!(f, "  ... {} more edges", self.edges.len() - 12)?;
        }
        if let Some(t) = self.load_threshold {
            writeln!(
                f,
                "  load from {t} handshakes/s{}",
                if self.load_after_heal {
                    ", load past the heal"
                } else {
                    ""
                }
            )?;
        }
        for x in &self.faults {
            writeln!(f, "  at {:7.3} s: {:?}", secs(x.at_ns), x.kind)?;
        }
        Ok(())
    }
}
