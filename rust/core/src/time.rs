//! Time as the engine sees it: typed nanoseconds.
//!
//! Hosts read two clocks and hand both in with every call ([`Time`]): the
//! monotonic one ([`Instant`]) drives every timer and every age, the real one
//! ([`WallTime`]) only stamps initiations and `latest handshake`. Mixing
//! them up, or a count of seconds with one of nanoseconds, is a type error
//! here instead of a wrong deadline.
//!
//! Each type is one `u64` of nanoseconds, so the C ABI and the sizes of the
//! structures that hold them are those of raw nanoseconds. Arithmetic
//! saturates: the engine has no panicking input path, and the only instants
//! where saturation changes a result lie 584 years after the clock's zero.
//! This is the one module that does arithmetic on nanoseconds.

use core::num::NonZeroU64;
use core::ops::{Add, Div, Mul, Sub};

const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MILLI: u64 = 1_000_000;

/// A span of time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Duration(u64);

impl Duration {
    pub const ZERO: Duration = Duration(0);
    pub const SECOND: Duration = Duration(NANOS_PER_SEC);

    pub const fn from_nanos(ns: u64) -> Duration {
        Duration(ns)
    }

    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms.saturating_mul(NANOS_PER_MILLI))
    }

    pub const fn from_secs(s: u64) -> Duration {
        Duration(s.saturating_mul(NANOS_PER_SEC))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }

    /// The nanoseconds past [`Duration::as_secs`].
    pub const fn subsec_nanos(self) -> u32 {
        // Below 10^9, so it fits.
        (self.0 % NANOS_PER_SEC) as u32
    }

    /// `self * n`, saturating; `const` for the protocol's constants.
    pub const fn times(self, n: u64) -> Duration {
        Duration(self.0.saturating_mul(n))
    }

    /// `self / n`, rounded down (`n == 0` gives zero, not a panic).
    pub const fn div(self, n: u64) -> Duration {
        match self.0.checked_div(n) {
            Some(d) => Duration(d),
            None => Duration(0),
        }
    }

    /// `self - other`, zero if `other` is longer; `const` for constants.
    pub const fn minus(self, other: Duration) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }

    /// How many whole `unit`s fit in `self` (zero for a zero `unit`).
    pub const fn count_of(self, unit: Duration) -> u64 {
        match self.0.checked_div(unit.0) {
            Some(n) => n,
            None => 0,
        }
    }

    /// `self` rounded down to a multiple of `unit`, which is a power of two.
    pub const fn floor_pow2(self, unit: Duration) -> Duration {
        Duration(self.0 & !unit.0.wrapping_sub(1))
    }

    /// The largest power of two of nanoseconds not above `self` (zero for
    /// zero).
    pub const fn round_down_pow2(self) -> Duration {
        if self.0 == 0 {
            Duration(0)
        } else {
            Duration(1 << (63 - self.0.leading_zeros()))
        }
    }

    /// A uniformly spread value below `self`, from 8 random bytes (zero
    /// for a zero span): the jitter of retries.
    pub const fn below(self, random: u64) -> Duration {
        match random.checked_rem(self.0) {
            Some(r) => Duration(r),
            None => Duration(0),
        }
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        self.minus(rhs)
    }
}

impl Mul<u64> for Duration {
    type Output = Duration;
    fn mul(self, rhs: u64) -> Duration {
        self.times(rhs)
    }
}

impl Mul<Duration> for u64 {
    type Output = Duration;
    fn mul(self, rhs: Duration) -> Duration {
        rhs.times(self)
    }
}

impl Div<u64> for Duration {
    type Output = Duration;
    fn div(self, rhs: u64) -> Duration {
        Duration::div(self, rhs)
    }
}

/// A point on the host's monotonic clock, in nanoseconds since an
/// unspecified start (boot, in the kernel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`; zero if `earlier` is later (a host
    /// whose clock stepped back must not age a key into the future).
    pub const fn since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// The whole second this instant falls in (a rate meter's bucket).
    pub const fn second(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }

    /// Whether at least `age` has passed from `self` to `now`.
    pub const fn has_aged(self, age: Duration, now: Instant) -> bool {
        now.since(self).0 >= age.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_sub(rhs.0))
    }
}

/// A point on the real clock: nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct WallTime(u64);

impl WallTime {
    /// The epoch itself; `latest handshake` shows it as "never".
    pub const EPOCH: WallTime = WallTime(0);

    pub const fn from_nanos(ns: u64) -> WallTime {
        WallTime(ns)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration(self.0)
    }
}

impl Add<Duration> for WallTime {
    type Output = WallTime;
    fn add(self, rhs: Duration) -> WallTime {
        WallTime(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Duration> for WallTime {
    type Output = WallTime;
    fn sub(self, rhs: Duration) -> WallTime {
        WallTime(self.0.saturating_sub(rhs.0))
    }
}

/// The time, as the host reads it: both clocks at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub mono: Instant,
    pub real: WallTime,
}

impl Time {
    pub const fn new(mono: Instant, real: WallTime) -> Time {
        Time { mono, real }
    }

    /// Both clocks as nanoseconds, as hosts read them.
    pub const fn from_nanos(mono_ns: u64, real_ns: u64) -> Time {
        Time {
            mono: Instant(mono_ns),
            real: WallTime(real_ns),
        }
    }

    /// Both clocks `d` later (tests and simulations advance time so).
    pub fn plus(self, d: Duration) -> Time {
        Time {
            mono: self.mono + d,
            real: self.real + d,
        }
    }
}

/// A monotonic deadline or none, in 8 bytes: every peer holds several, and
/// a peer is built on the kernel stack before it moves to the heap. A
/// deadline at instant 0 is kept as 1 ns, which no timer can tell apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deadline(Option<NonZeroU64>);

impl Deadline {
    pub const NONE: Deadline = Deadline(None);

    pub const fn at(t: Instant) -> Deadline {
        Deadline(NonZeroU64::new(if t.0 == 0 { 1 } else { t.0 }))
    }

    pub const fn get(self) -> Option<Instant> {
        match self.0 {
            Some(t) => Some(Instant(t.get())),
            None => None,
        }
    }

    pub const fn is_none(self) -> bool {
        self.0.is_none()
    }
}

impl From<Option<Instant>> for Deadline {
    fn from(t: Option<Instant>) -> Deadline {
        match t {
            Some(t) => Deadline::at(t),
            None => Deadline::NONE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_those_of_nanoseconds() {
        use core::mem::size_of;
        assert_eq!(size_of::<Duration>(), 8);
        assert_eq!(size_of::<Instant>(), 8);
        assert_eq!(size_of::<WallTime>(), 8);
        assert_eq!(size_of::<Deadline>(), 8);
        assert_eq!(size_of::<Time>(), 16);
    }

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let end = Instant::from_nanos(u64::MAX);
        assert_eq!(end + Duration::SECOND, end);
        assert_eq!(Instant::ZERO - Duration::SECOND, Instant::ZERO);
        assert_eq!(Instant::ZERO.since(end), Duration::ZERO);
        assert_eq!(
            Duration::from_secs(u64::MAX),
            Duration::from_nanos(u64::MAX)
        );
        assert_eq!(
            Duration::SECOND.minus(Duration::from_secs(2)),
            Duration::ZERO
        );
        assert_eq!(Duration::SECOND.div(0), Duration::ZERO);
        assert_eq!(Duration::SECOND.count_of(Duration::ZERO), 0);
        assert_eq!(Duration::ZERO.below(7), Duration::ZERO);
    }

    #[test]
    fn units_and_parts() {
        let d = Duration::from_millis(2_500);
        assert_eq!(d.as_secs(), 2);
        assert_eq!(d.subsec_nanos(), 500_000_000);
        assert_eq!(Duration::from_secs(90).count_of(Duration::from_secs(5)), 18);
        assert_eq!(
            Duration::from_nanos(20_000_000)
                .round_down_pow2()
                .as_nanos(),
            1 << 24
        );
        assert_eq!(
            Duration::from_nanos(0x1234_5678).floor_pow2(Duration::from_nanos(1 << 24)),
            Duration::from_nanos(0x1200_0000)
        );
        assert_eq!(Instant::from_nanos(3_999_999_999).second(), 3);
    }

    #[test]
    fn ages() {
        let birth = Instant::from_nanos(10);
        let age = Duration::from_nanos(5);
        assert!(!birth.has_aged(age, Instant::from_nanos(14)));
        assert!(birth.has_aged(age, Instant::from_nanos(15)));
        assert!(!birth.has_aged(age, Instant::ZERO));
    }

    #[test]
    fn deadlines() {
        assert_eq!(Deadline::NONE.get(), None);
        // Instant 0 is a deadline too, not "none".
        let d = Deadline::at(Instant::ZERO);
        assert_eq!(d.get(), Some(Instant::from_nanos(1)));
        let d = Deadline::at(Instant::from_nanos(7));
        assert_eq!(Deadline::from(None), Deadline::NONE);
        assert_eq!(Deadline::from(Some(Instant::from_nanos(7))), d);
    }
}
