//! Thin wrappers over the libc calls the daemon needs: clocks, randomness,
//! errno.

use std::io;
use wg_core::device::Rng;
use wg_core::Time;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// The engine's notion of now: monotonic for timers, real for timestamps.
pub fn now() -> Time {
    Time::from_nanos(mono_ns(), clock_ns(libc::CLOCK_REALTIME))
}

/// getrandom(2), retried on EINTR and short reads.
pub struct GetRandom;

impl Rng for GetRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is a valid writable region of `rest.len()` bytes.
            let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if n > 0 {
                done += n as usize;
            } else if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                // Without randomness no key is safe: give up loudly.
                eprintln!("wgd: getrandom failed: {}", io::Error::last_os_error());
                std::process::abort();
            }
        }
    }
}

/// Turns a libc return value into an io::Result.
pub fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}
