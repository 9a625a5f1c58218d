//! `sim`: runs seeds of the deterministic simulation.
//!
//!   sim --seeds N [--start S] [--jobs J] [--family F]
//!         run seeds S..S+N (only those of family F: classic, load, stale,
//!         giveup), print failures and figures
//!   sim --seed N [--trace LINES] [--verbose]               replay one seed
//!
//! Exits non-zero if any seed fails.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use wg_sim::scenario::Family;
use wg_sim::{report, run, Options};

struct Args {
    seeds: u64,
    start: u64,
    one: Option<u64>,
    jobs: usize,
    verbose: bool,
    trace: usize,
    family: Option<Family>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: 1000,
        start: 0,
        one: None,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        verbose: false,
        trace: 30,
        family: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seeds" => a.seeds = num("--seeds")?,
            "--start" => a.start = num("--start")?,
            "--seed" => a.one = Some(num("--seed")?),
            "--jobs" => a.jobs = num("--jobs")?.max(1) as usize,
            "--trace" => a.trace = num("--trace")? as usize,
            "--verbose" | "-v" => a.verbose = true,
            "--family" => {
                let v = it.next().unwrap_or_default();
                a.family =
                    Some(Family::parse(&v).ok_or(format!("--family: one of {:?}", Family::ALL))?);
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sim: {e}\nusage: sim [--seeds N] [--start S] [--jobs J] [--family classic|load|stale|giveup] | --seed N [--trace LINES] [--verbose]");
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.one {
        let opts = Options {
            trace_len: args.trace,
            ..Options::default()
        };
        let o = run(seed, &opts);
        if args.verbose {
            print!("{}", o.scenario);
        }
        return match report(&o) {
            Some(r) => {
                print!("{r}");
                ExitCode::FAILURE
            }
            None => {
                let s = o.result.as_ref().ok();
                println!("seed {seed}: ok {s:?}");
                ExitCode::SUCCESS
            }
        };
    }
    let next = AtomicU64::new(args.start);
    let end = args.start + args.seeds;
    let failures = Mutex::new(Vec::new());
    let worst_recovery = AtomicU64::new(0);
    let packets = AtomicU64::new(0);
    let ran = AtomicU64::new(0);
    let cookies = AtomicU64::new(0);
    let v6 = AtomicU64::new(0);
    let v6_out = AtomicU64::new(0);
    let bogus = AtomicU64::new(0);
    let stolen = AtomicU64::new(0);
    let give_ups = AtomicU64::new(0);
    let rekeys = AtomicU64::new(0);
    let refusals = AtomicU64::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    return;
                }
                if args.family.is_some_and(|f| Family::of(seed) != f) {
                    continue;
                }
                ran.fetch_add(1, Ordering::Relaxed);
                let o = run(seed, &Options::default());
                match &o.result {
                    Ok(st) => {
                        worst_recovery.fetch_max(st.recovery_ns, Ordering::Relaxed);
                        packets.fetch_add(st.packets, Ordering::Relaxed);
                        cookies.fetch_add(st.cookie_replies, Ordering::Relaxed);
                        v6.fetch_add(st.delivered_v6, Ordering::Relaxed);
                        v6_out.fetch_add(st.datagrams_v6, Ordering::Relaxed);
                        bogus.fetch_add(st.bogus, Ordering::Relaxed);
                        stolen.fetch_add(st.attacker_cookies, Ordering::Relaxed);
                        give_ups.fetch_add(st.give_ups, Ordering::Relaxed);
                        rekeys.fetch_add(st.rekeys_checked, Ordering::Relaxed);
                        refusals.fetch_add(st.refusals_judged, Ordering::Relaxed);
                    }
                    Err(_) => {
                        let r = report(&o).unwrap_or_default();
                        eprint!("{r}");
                        failures.lock().unwrap().push(seed);
                    }
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let mut failed = failures.into_inner().unwrap();
    failed.sort_unstable();
    let ran = ran.load(Ordering::Relaxed);
    let rate = ran as f64 / secs;
    println!(
        "sim: {} seeds{} from {} in {:.1} s ({:.1} seeds/s, {} jobs), {} inner packets, {} failed",
        ran,
        args.family
            .map_or(String::new(), |f| format!(" of family {f:?}")),
        args.start,
        secs,
        rate,
        args.jobs,
        packets.load(Ordering::Relaxed),
        failed.len()
    );
    println!(
        "sim: {} inner IPv6 packets delivered, {} datagrams over IPv6",
        v6.load(Ordering::Relaxed),
        v6_out.load(Ordering::Relaxed)
    );
    println!(
        "sim: {} cookie replies ({} MAC2 refusals judged), {} bogus initiations \
         ({} cookies taken by the attacker), {} handshakes given up, {} rekeys checked",
        cookies.load(Ordering::Relaxed),
        refusals.load(Ordering::Relaxed),
        bogus.load(Ordering::Relaxed),
        stolen.load(Ordering::Relaxed),
        give_ups.load(Ordering::Relaxed),
        rekeys.load(Ordering::Relaxed)
    );
    if !failed.is_empty() {
        println!("failed seeds: {failed:?}");
    }
    println!("figure sim_seeds_per_second {rate:.1} seeds/s");
    println!(
        "figure sim_worst_first_delivery_after_heal {:.3} s",
        worst_recovery.load(Ordering::Relaxed) as f64 / 1e9
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
