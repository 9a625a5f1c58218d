//! Deterministic simulation of wg-core devices (issue 6): a virtual clock,
//! a virtual network with faults, invariants checked at every step.
//!
//! A run is named by a u64 seed: [`scenario::Scenario::generate`] draws the
//! topology (site-to-site pairs, hub and spokes, a small mesh; 2 to 50
//! devices), each link's loss, duplication, reordering, delay and
//! corruption, a schedule of disruptions (NAT rebinding, restarts, clock
//! jumps, peers removed and re-added, keys rotated, allowed IPs replaced,
//! partitions, suspended devices) and the traffic; [`world::run`] plays it
//! on one virtual clock. The engines get their randomness from a generator
//! seeded by the same seed, so a seed replays exactly.
//!
//! The invariants ([`oracle`], [`world`]):
//! 1. no inner packet is delivered twice, no data counter accepted twice;
//! 2. a delivered packet is the one sent, opened by the device it was
//!    sealed for, through the peer entry of the device that sealed it (made
//!    before the packet was sealed: nothing of a removed peer), from a
//!    source inside that entry's allowed IPs; corrupted data never passes;
//! 3. once the network heals, every pair delivers everything sent after
//!    [`world::liveness_bound`], and nothing stays staged;
//! 4. no data sent or accepted under a keypair older than
//!    REJECT_AFTER_TIME or past REJECT_AFTER_MESSAGES, counters strictly
//!    increase per keypair, no data under a keypair no handshake made,
//!    initiations to a peer at least REKEY_TIMEOUT apart, and while packets
//!    wait on an unanswered initiation the retransmission leaves within
//!    REKEY_TIMEOUT + jitter;
//! 5. engines hold exactly the configured peers and routes and reuse peer
//!    slots; hosts stage at most MAX_STAGED_PACKETS per peer;
//! 6. REKEY_AFTER_TIME: data sent under a keypair we initiated, older than
//!    REKEY_AFTER_TIME, comes with an initiation (unless one left less than
//!    REKEY_TIMEOUT before);
//! 7. REKEY_ATTEMPT_TIME: packets staged behind a handshake are flushed or
//!    dropped within [`world::GIVE_UP_BOUND`] of the last reason to start
//!    it, and after a give-up no initiation leaves until a new reason;
//! 8. load: a device under load answers handshakes without MAC2 with cookie
//!    replies only, one not under load sends none; an attacker's bogus
//!    initiations get no session, no delivery, and leave no allocation
//!    behind in the engine; a loaded device refuses a MAC2 made from a
//!    cookie it issued only if its secret rotated since, at most once per
//!    COOKIE_SECRET_MAX_AGE ([`cookies`]).
//!
//! Seeds come in families ([`scenario::Family`]): Classic, Load (forced
//! load, floods, cookies, past the heal sometimes), Stale (handshakes
//! blocked past REJECT_AFTER_TIME under steady traffic) and GiveUp (a
//! partition past REKEY_ATTEMPT_TIME with quiet users).

pub mod clock;
pub mod cookies;
pub mod host;
mod meter;
pub mod model;
pub mod net;
pub mod oracle;
pub mod packet;
pub mod prng;
pub mod scenario;
pub mod trace;
pub mod world;

pub use world::{run, Options, Outcome, Sabotage, Stats};

/// The report of a failed run: the seed, what it was, what broke, and the
/// last events.
pub fn report(o: &Outcome) -> Option<String> {
    let f = o.result.as_ref().err()?;
    let mut s = format!(
        "FAILED seed {} at {:.6} s: {}\n{}",
        o.scenario.seed,
        f.at_ns as f64 / 1e9,
        f.message,
        o.scenario
    );
    s.push_str("last events:\n");
    for l in &f.trace {
        s.push_str("  ");
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!(
        "replay: cargo run --release -p wg-sim --bin sim -- --seed {}\n",
        o.scenario.seed
    ));
    Some(s)
}
