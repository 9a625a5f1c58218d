//! Protocol constants, from the WireGuard whitepaper section 6 and the
//! reference implementations.

/// Nanoseconds per second; every time in the engine is in nanoseconds.
pub const NSEC: u64 = 1_000_000_000;

pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13) - 1;
pub const REKEY_AFTER_TIME: u64 = 120 * NSEC;
pub const REJECT_AFTER_TIME: u64 = 180 * NSEC;
pub const REKEY_ATTEMPT_TIME: u64 = 90 * NSEC;
pub const REKEY_TIMEOUT: u64 = 5 * NSEC;
pub const KEEPALIVE_TIMEOUT: u64 = 10 * NSEC;
/// Largest random delay added to a handshake retry (Linux: 333 ms).
pub const REKEY_TIMEOUT_JITTER_MAX: u64 = NSEC / 3;
pub const COOKIE_SECRET_MAX_AGE: u64 = 120 * NSEC;
/// A cookie received in a reply is usable for this long, less a margin.
pub const COOKIE_SECRET_LATENCY: u64 = 5 * NSEC;
/// Handshake initiations are accepted from one peer at most this often.
pub const INITIATIONS_PER_SECOND: u64 = 50;
/// Packets held for a peer while its handshake is pending, as in Linux.
pub const MAX_STAGED_PACKETS: usize = 128;
/// Bits of the sliding replay window (RFC 6479 style, as Linux uses).
pub const REPLAY_WINDOW_BITS: u64 = 2048;
