//! The sliding window that refuses replayed transport-data counters.
//!
//! This is RFC 6479's scheme with exactly the behaviour of Linux's
//! `counter_validate` (drivers/net/wireguard/receive.c), so that both ends of
//! a tunnel agree on which reordered packets survive. The bitmap is a ring of
//! 64-bit blocks; whole blocks are zeroed as the window slides, so a jump of
//! any size costs at most one pass over the ring. One block is always
//! partially stale, which is why the usable window is one block smaller than
//! the bitmap.

use crate::consts::{REJECT_AFTER_MESSAGES, REPLAY_WINDOW_BITS};

const BLOCK_BITS: u64 = u64::BITS as u64;
const BLOCKS: usize = (REPLAY_WINDOW_BITS / BLOCK_BITS) as usize;
const BLOCK_MASK: u64 = BLOCKS as u64 - 1;

// The ring index is taken with a mask.
const _: () = assert!(BLOCKS.is_power_of_two() && BLOCKS >= 2);

/// How far below the greatest counter seen a counter may be and still be
/// accepted: a lag of exactly `WINDOW_SIZE` is accepted, one more is not
/// (Linux's `COUNTER_WINDOW_SIZE`).
pub const WINDOW_SIZE: u64 = REPLAY_WINDOW_BITS - BLOCK_BITS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayWindow {
    /// One more than the greatest counter accepted, 0 before the first: the
    /// offset lets the fresh state need no separate flag, as in Linux.
    next: u64,
    /// Bit `n % 64` of block `(n / 64) % BLOCKS` is set once counter `n - 1`
    /// has been accepted.
    bitmap: [u64; BLOCKS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    pub const fn new() -> Self {
        Self {
            next: 0,
            bitmap: [0; BLOCKS],
        }
    }

    /// Returns true and records the counter if it was never seen and is
    /// inside the window; false otherwise. Counters at or above
    /// `REJECT_AFTER_MESSAGES` are always refused.
    #[must_use]
    pub fn check_and_update(&mut self, counter: u64) -> bool {
        let Some(shifted) = self.shifted_if_in_window(counter) else {
            return false;
        };
        let block = shifted / BLOCK_BITS;
        if shifted > self.next {
            let current = self.next / BLOCK_BITS;
            // Blocks between the old top and the new one hold counters from
            // a full ring ago; beyond one lap everything is stale anyway.
            let stale = (block - current).min(BLOCKS as u64);
            for i in 1..=stale {
                self.bitmap[((current + i) & BLOCK_MASK) as usize] = 0;
            }
            self.next = shifted;
        }
        let word = &mut self.bitmap[(block & BLOCK_MASK) as usize];
        let bit = 1u64 << (shifted % BLOCK_BITS);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }

    /// Only checks (no update), for the tests: the receive path does not
    /// pre-check, it opens first and then calls [`Self::check_and_update`]
    /// (keypair.rs says why).
    #[cfg(test)]
    #[must_use]
    pub fn would_accept(&self, counter: u64) -> bool {
        let Some(shifted) = self.shifted_if_in_window(counter) else {
            return false;
        };
        // Above the top, the target bit is either in a block the update
        // would zero or above `next` in the top block, never yet set.
        if shifted > self.next {
            return true;
        }
        let word = self.bitmap[((shifted / BLOCK_BITS) & BLOCK_MASK) as usize];
        word & (1u64 << (shifted % BLOCK_BITS)) == 0
    }

    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The counter plus one, unless it is past the session's message limit
    /// or too far behind the top of the window.
    fn shifted_if_in_window(&self, counter: u64) -> Option<u64> {
        // Linux also checks `next` itself; it can never exceed the limit
        // through this API, but the check keeps the two in lockstep.
        if self.next > REJECT_AFTER_MESSAGES || counter >= REJECT_AFTER_MESSAGES {
            return None;
        }
        // Neither sum can overflow: counter < REJECT_AFTER_MESSAGES, which
        // leaves more than WINDOW_SIZE + 1 of headroom below u64::MAX.
        let shifted = counter + 1;
        if WINDOW_SIZE + shifted < self.next {
            return None;
        }
        Some(shifted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn size_and_window() {
        assert_eq!(WINDOW_SIZE, 1984);
        assert!(core::mem::size_of::<ReplayWindow>() <= 264);
    }

    /// Runs one check both ways and asserts they agree with `expect`.
    fn t(w: &mut ReplayWindow, n: u64, counter: u64, expect: bool) {
        assert_eq!(
            w.would_accept(counter),
            expect,
            "case {n}: would_accept({counter})"
        );
        assert_eq!(
            w.check_and_update(counter),
            expect,
            "case {n}: check_and_update({counter})"
        );
    }

    /// drivers/net/wireguard/selftest/counter.c, with its window size.
    #[test]
    fn linux_selftest() {
        const T_LIM: u64 = WINDOW_SIZE + 1;
        const R: u64 = REJECT_AFTER_MESSAGES;
        let cases: &[(u64, bool)] = &[
            (0, true),
            (1, true),
            (1, false),
            (9, true),
            (8, true),
            (7, true),
            (7, false),
            (T_LIM, true),
            (T_LIM - 1, true),
            (T_LIM - 1, false),
            (T_LIM - 2, true),
            (2, true),
            (2, false),
            (T_LIM + 16, true),
            (3, false),
            (T_LIM + 16, false),
            (T_LIM * 4, true),
            (T_LIM * 4 - (T_LIM - 1), true),
            (10, false),
            (T_LIM * 4 - T_LIM, false),
            (T_LIM * 4 - (T_LIM + 1), false),
            (T_LIM * 4 - (T_LIM - 2), true),
            (T_LIM * 4 + 1 - T_LIM, false),
            (0, false),
            (R, false),
            (R - 1, true),
            (R, false),
            (R - 1, false),
            (R - 2, true),
            (R + 1, false),
            (R + 2, false),
            (R - 2, false),
            (R - 3, true),
            (0, false),
        ];
        let mut w = ReplayWindow::new();
        for (i, &(c, ok)) in cases.iter().enumerate() {
            t(&mut w, i as u64 + 1, c, ok);
        }

        let mut w = ReplayWindow::new();
        for i in 1..=WINDOW_SIZE {
            t(&mut w, i, i, true);
        }
        t(&mut w, 0, 0, true);
        t(&mut w, 0, 0, false);

        let mut w = ReplayWindow::new();
        for i in 2..=WINDOW_SIZE + 1 {
            t(&mut w, i, i, true);
        }
        t(&mut w, 1, 1, true);
        t(&mut w, 0, 0, false);

        let mut w = ReplayWindow::new();
        for i in (0..=WINDOW_SIZE).rev() {
            t(&mut w, i, i, true);
        }

        let mut w = ReplayWindow::new();
        for i in (1..=WINDOW_SIZE + 1).rev() {
            t(&mut w, i, i, true);
        }
        t(&mut w, 0, 0, false);

        let mut w = ReplayWindow::new();
        for i in (1..=WINDOW_SIZE).rev() {
            t(&mut w, i, i, true);
        }
        t(&mut w, WINDOW_SIZE + 1, WINDOW_SIZE + 1, true);
        t(&mut w, 0, 0, false);

        let mut w = ReplayWindow::new();
        for i in (1..=WINDOW_SIZE).rev() {
            t(&mut w, i, i, true);
        }
        t(&mut w, 0, 0, true);
        t(&mut w, WINDOW_SIZE + 1, WINDOW_SIZE + 1, true);
    }

    #[test]
    fn reset_forgets() {
        let mut w = ReplayWindow::default();
        assert!(w.check_and_update(5));
        assert!(w.check_and_update(100_000));
        w.reset();
        assert!(w.check_and_update(5));
        assert!(!w.check_and_update(5));
    }

    #[test]
    fn huge_jump_clears_whole_ring() {
        let mut w = ReplayWindow::new();
        for c in 0..REPLAY_WINDOW_BITS {
            assert!(w.check_and_update(c));
        }
        // Lands on the same ring slots as the counters just seen.
        let far = REPLAY_WINDOW_BITS * 1000 + 3;
        assert!(w.check_and_update(far));
        for c in far - WINDOW_SIZE..far {
            assert!(w.would_accept(c), "{c}");
        }
        assert!(!w.would_accept(far - WINDOW_SIZE - 1));
        assert!(!w.would_accept(far));
    }

    /// A counter derived from the model's state so that sequences exercise
    /// the window's edges rather than scattering uniformly over u64.
    #[derive(Clone, Debug)]
    enum Step {
        /// Just above the greatest seen.
        Next(u64),
        /// Around the greatest seen, mostly behind it, across the edge.
        Jitter(u64),
        /// Anywhere, including around the message limit.
        Jump(u64),
        /// Close to the message limit.
        NearLimit(u64),
        /// Something accepted earlier, picked by index.
        Again(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u64..130).prop_map(Step::Next),
            4 => (0u64..2 * REPLAY_WINDOW_BITS + 200).prop_map(Step::Jitter),
            1 => any::<u64>().prop_map(Step::Jump),
            1 => (0u64..2 * REPLAY_WINDOW_BITS).prop_map(Step::NearLimit),
            2 => any::<usize>().prop_map(Step::Again),
        ]
    }

    #[derive(Default)]
    struct Model {
        seen: BTreeSet<u64>,
        order: Vec<u64>,
        max: Option<u64>,
    }

    impl Model {
        fn accepts(&self, c: u64) -> bool {
            c < REJECT_AFTER_MESSAGES
                && !self.seen.contains(&c)
                && self.max.is_none_or(|m| c > m || m - c <= WINDOW_SIZE)
        }

        fn counter(&self, s: &Step) -> u64 {
            let max = self.max.unwrap_or(0);
            match *s {
                Step::Next(d) => max.saturating_add(d),
                Step::Jitter(d) => (max + 100).saturating_sub(d),
                Step::Jump(c) => c,
                Step::NearLimit(d) => (REJECT_AFTER_MESSAGES + 100).saturating_sub(d),
                Step::Again(i) => match self.order.len() {
                    0 => 0,
                    n => self.order[i % n],
                },
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_model(steps in proptest::collection::vec(step(), 1..300)) {
            let mut w = ReplayWindow::new();
            let mut m = Model::default();
            for s in &steps {
                let c = m.counter(s);
                let expect = m.accepts(c);
                prop_assert_eq!(w.would_accept(c), expect, "would_accept({})", c);
                prop_assert_eq!(w.check_and_update(c), expect, "check_and_update({})", c);
                if expect {
                    m.seen.insert(c);
                    m.order.push(c);
                    m.max = Some(m.max.map_or(c, |x| x.max(c)));
                }
            }
        }
    }
}
