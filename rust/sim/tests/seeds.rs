//! The simulation as a test: many seeds, each checked against every
//! invariant; a seed replays exactly; a host that breaks an invariant on
//! purpose is caught.
//!
//! Seeds run: `WG_SIM_SEEDS` if set, else 1500 in an optimised build
//! (`cargo test --release -p wg-sim`, what `make test` runs; some 40 s on
//! two cores) and 12 in a debug build (`cargo test --workspace`), where the
//! run is some sixty times slower. Seeds of every family are among them
//! (about 70% Classic, 12% Load, 9% Stale, 9% GiveUp); `make sim` runs as
//! many as asked, of one family if asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use wg_sim::scenario::Family;
use wg_sim::{report, run, Options, Sabotage, Stats};

fn seeds() -> u64 {
    std::env::var("WG_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 12 } else { 1500 })
}

#[test]
fn every_invariant_holds_on_many_seeds() {
    let n = seeds();
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let total = Mutex::new(Stats::default());
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= n {
                    return;
                }
                let o = run(seed, &Options::default());
                if let Some(r) = report(&o) {
                    failures.lock().unwrap().push((seed, r));
                } else if let Ok(st) = &o.result {
                    let mut t = total.lock().unwrap();
                    t.cookie_replies += st.cookie_replies;
                    t.attacker_cookies += st.attacker_cookies;
                    t.bogus += st.bogus;
                    t.give_ups += st.give_ups;
                    t.rekeys_checked += st.rekeys_checked;
                    t.delivered_v6 += st.delivered_v6;
                    t.datagrams_v6 += st.datagrams_v6;
                }
            });
        }
    });
    let mut f = failures.into_inner().unwrap();
    f.sort();
    for (_, r) in f.iter().take(3) {
        eprintln!("{r}");
    }
    let seeds: Vec<u64> = f.iter().map(|(s, _)| *s).collect();
    assert!(
        seeds.is_empty(),
        "{} of {n} seeds failed: {seeds:?}",
        seeds.len()
    );
    // The seeds did what their families are for (a debug run has too few
    // seeds to have every family).
    let t = total.into_inner().unwrap();
    if n >= 300 {
        assert!(
            t.cookie_replies > 0 && t.bogus > 0 && t.attacker_cookies > 0,
            "{t:?}"
        );
        assert!(t.give_ups > 0 && t.rekeys_checked > 0, "{t:?}");
        assert!(t.delivered_v6 > 0 && t.datagrams_v6 > 0, "{t:?}");
    }
}

#[test]
fn families_are_fixed_by_the_seed_and_all_drawn() {
    let mut count = [0u32; 4];
    for seed in 0..1000 {
        let f = Family::of(seed);
        assert_eq!(wg_sim::scenario::Scenario::generate(seed).family, f);
        count[Family::ALL.iter().position(|&x| x == f).unwrap()] += 1;
    }
    assert!(count.iter().all(|&c| c >= 50), "{count:?}");
    assert_eq!(Family::parse("giveup"), Some(Family::GiveUp));
}

#[test]
fn a_seed_replays_exactly() {
    let seed = 24;
    let opts = Options {
        trace_len: 200,
        sabotage: Some(Sabotage::BlackholeHeal),
    };
    let (a, b) = (run(seed, &opts), run(seed, &opts));
    let (fa, fb) = (a.result.unwrap_err(), b.result.unwrap_err());
    assert_eq!(fa.message, fb.message);
    assert_eq!(fa.at_ns, fb.at_ns);
    assert_eq!(fa.trace, fb.trace);
    assert_eq!(fa.trace.len(), 200);
    let (ok1, ok2) = (
        run(seed, &Options::default()),
        run(seed, &Options::default()),
    );
    let (s1, s2) = (ok1.result.unwrap(), ok2.result.unwrap());
    assert_eq!(
        (s1.events, s1.packets, s1.delivered, s1.sessions),
        (s2.events, s2.packets, s2.delivered, s2.sessions)
    );
}

#[test]
fn a_packet_delivered_twice_is_caught() {
    let o = run(
        1,
        &Options {
            sabotage: Some(Sabotage::DeliverTwice),
            ..Options::default()
        },
    );
    let r = report(&o).expect("the oracle must notice");
    assert!(r.contains("delivered twice"), "{r}");
    assert!(r.contains("seed 1") && r.contains("--seed 1"), "{r}");
}

#[test]
fn a_network_that_never_heals_fails_liveness() {
    let o = run(
        24,
        &Options {
            sabotage: Some(Sabotage::BlackholeHeal),
            ..Options::default()
        },
    );
    let r = report(&o).expect("the oracle must notice");
    assert!(r.contains("liveness"), "{r}");
}
