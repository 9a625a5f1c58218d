//! The simulator's clock: one `u64` of nanoseconds for the whole network,
//! ordered in an event queue. The engine's typed time exists at the calls
//! into it (`World::time`); the bounds the oracle computes are sums over
//! this one unit, so the protocol's constants are restated in it here.

use wg_core::consts;
use wg_core::testutil;

pub const NSEC: u64 = wg_core::Duration::SECOND.as_nanos();
pub const KEEPALIVE_TIMEOUT: u64 = consts::KEEPALIVE_TIMEOUT.as_nanos();
pub const REKEY_TIMEOUT: u64 = consts::REKEY_TIMEOUT.as_nanos();
pub const REKEY_TIMEOUT_JITTER_MAX: u64 = consts::REKEY_TIMEOUT_JITTER_MAX.as_nanos();
pub const REKEY_AFTER_TIME: u64 = consts::REKEY_AFTER_TIME.as_nanos();
pub const REJECT_AFTER_TIME: u64 = consts::REJECT_AFTER_TIME.as_nanos();
pub const COOKIE_SECRET_MAX_AGE: u64 = consts::COOKIE_SECRET_MAX_AGE.as_nanos();
/// The tests' common start time (`wg_core::testutil::T0`), both clocks.
pub const T0_MONO: u64 = testutil::T0.mono.as_nanos();
pub const T0_REAL: u64 = testutil::T0.real.as_nanos();
