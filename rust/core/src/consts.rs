//! Protocol constants, from the WireGuard whitepaper section 6 and the
//! reference implementations.

use crate::time::Duration;

pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13) - 1;
pub const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);
pub const REKEY_ATTEMPT_TIME: Duration = Duration::from_secs(90);
pub const REKEY_TIMEOUT: Duration = Duration::from_secs(5);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest random delay added to a handshake retry (Linux: 333 ms).
pub const REKEY_TIMEOUT_JITTER_MAX: Duration = Duration::SECOND.div(3);
pub const COOKIE_SECRET_MAX_AGE: Duration = Duration::from_secs(120);
/// A cookie received in a reply is usable for this long, less a margin.
pub const COOKIE_SECRET_LATENCY: Duration = Duration::from_secs(5);
/// Handshake initiations are accepted from one peer at most this often.
pub const INITIATIONS_PER_SECOND: u64 = 50;
/// Packets held for a peer while its handshake is pending, as in Linux.
pub const MAX_STAGED_PACKETS: usize = 128;
/// Bits of the sliding replay window (RFC 6479 style, as Linux uses).
pub const REPLAY_WINDOW_BITS: u64 = 2048;
