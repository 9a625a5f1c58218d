//! A peer's timers as deadlines.
//!
//! The rules are those of Linux's `timers.c` (the whitepaper's section 6
//! made exact), but nothing here waits: each timer is an optional
//! monotonic deadline. The host asks for the earliest one, arms one callout
//! (or timer-wheel entry) for it, and calls the engine back then.

use crate::consts::{KEEPALIVE_TIMEOUT, REJECT_AFTER_TIME, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT};
use crate::time::{Deadline, Duration, Instant};

/// Initiations sent for one handshake attempt before giving up.
pub const MAX_TIMER_HANDSHAKES: u32 = REKEY_ATTEMPT_TIME.count_of(REKEY_TIMEOUT) as u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerEvent {
    /// No response to our initiation: send another, or give up.
    RetransmitHandshake,
    /// We received data and sent nothing back: send a keepalive.
    SendKeepalive,
    /// We sent data and heard nothing back: start a new handshake.
    NewHandshake,
    /// No new session for a long time: forget every key.
    ZeroKeyMaterial,
    /// The configured persistent keepalive interval has passed.
    PersistentKeepalive,
}

#[derive(Default, Clone, Debug)]
pub struct Timers {
    retransmit_handshake: Deadline,
    send_keepalive: Deadline,
    new_handshake: Deadline,
    zero_key_material: Deadline,
    persistent_keepalive: Deadline,
    pub handshake_attempts: u32,
    need_another_keepalive: bool,
    /// When our last initiation left, to send at most one per REKEY_TIMEOUT.
    pub last_sent_handshake: Option<Instant>,
    /// Set when receiving under an old session triggered a handshake, so
    /// that it happens once per session.
    pub sent_lastminute_handshake: bool,
}

impl Timers {
    pub fn data_sent(&mut self, now: Instant, jitter: Duration) {
        if self.new_handshake.is_none() {
            self.new_handshake = Deadline::at(now + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter);
        }
    }

    /// Lets the sender skip drawing jitter when `data_sent` would not use it.
    pub fn new_handshake_armed(&self) -> bool {
        !self.new_handshake.is_none()
    }

    pub fn data_received(&mut self, now: Instant) {
        if self.send_keepalive.is_none() {
            self.send_keepalive = Deadline::at(now + KEEPALIVE_TIMEOUT);
        } else {
            self.need_another_keepalive = true;
        }
    }

    pub fn any_authenticated_packet_sent(&mut self) {
        self.send_keepalive = Deadline::NONE;
    }

    pub fn any_authenticated_packet_received(&mut self) {
        self.new_handshake = Deadline::NONE;
    }

    /// Any authenticated packet sent or received restarts the persistent
    /// keepalive interval (`interval` in seconds, 0 = off).
    pub fn any_authenticated_packet_traversal(&mut self, now: Instant, interval: u16) {
        if interval != 0 {
            self.persistent_keepalive = Deadline::at(now + Duration::from_secs(interval.into()));
        }
    }

    pub fn handshake_initiated(&mut self, now: Instant, jitter: Duration) {
        self.retransmit_handshake = Deadline::at(now + REKEY_TIMEOUT + jitter);
    }

    pub fn handshake_complete(&mut self) {
        self.retransmit_handshake = Deadline::NONE;
        self.handshake_attempts = 0;
        self.sent_lastminute_handshake = false;
    }

    pub fn session_derived(&mut self, now: Instant) {
        self.zero_key_material = Deadline::at(now + REJECT_AFTER_TIME * 3);
    }

    /// After giving up on a handshake, the keys still go after a while.
    pub fn arm_zero_key_material_if_idle(&mut self, now: Instant) {
        if self.zero_key_material.is_none() {
            self.zero_key_material = Deadline::at(now + REJECT_AFTER_TIME * 3);
        }
    }

    pub fn cancel_send_keepalive(&mut self) {
        self.send_keepalive = Deadline::NONE;
    }

    pub fn rearm_send_keepalive_if_needed(&mut self, now: Instant) {
        if self.need_another_keepalive {
            self.need_another_keepalive = false;
            self.send_keepalive = Deadline::at(now + KEEPALIVE_TIMEOUT);
        }
    }

    pub fn set_persistent_keepalive(&mut self, now: Instant, interval: u16) {
        self.persistent_keepalive = if interval == 0 {
            Deadline::NONE
        } else {
            Deadline::at(now + Duration::from_secs(interval.into()))
        };
    }

    /// May an initiation leave now? At most one per REKEY_TIMEOUT.
    pub fn may_send_initiation(&self, now: Instant) -> bool {
        match self.last_sent_handshake {
            None => true,
            Some(t) => t.has_aged(REKEY_TIMEOUT, now),
        }
    }

    /// Stops everything (peer removed or keys cleared by hand).
    pub fn stop(&mut self) {
        *self = Timers {
            last_sent_handshake: self.last_sent_handshake,
            ..Timers::default()
        };
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.retransmit_handshake,
            self.send_keepalive,
            self.new_handshake,
            self.zero_key_material,
            self.persistent_keepalive,
        ]
        .into_iter()
        .filter_map(Deadline::get)
        .min()
    }

    /// Takes one expired timer, earliest first, disarming it.
    pub fn take_expired(&mut self, now: Instant) -> Option<TimerEvent> {
        let slots = [
            (
                &mut self.retransmit_handshake,
                TimerEvent::RetransmitHandshake,
            ),
            (&mut self.send_keepalive, TimerEvent::SendKeepalive),
            (&mut self.new_handshake, TimerEvent::NewHandshake),
            (&mut self.zero_key_material, TimerEvent::ZeroKeyMaterial),
            (
                &mut self.persistent_keepalive,
                TimerEvent::PersistentKeepalive,
            ),
        ];
        let mut best: Option<(Instant, usize)> = None;
        for (i, (d, _)) in slots.iter().enumerate() {
            if let Some(t) = d.get() {
                if t <= now && best.is_none_or(|(bt, _)| t < bt) {
                    best = Some((t, i));
                }
            }
        }
        let (_, i) = best?;
        let mut slots = slots;
        let (d, ev) = &mut slots[i];
        **d = Deadline::NONE;
        Some(*ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ns: u64) -> Instant {
        Instant::from_nanos(ns)
    }

    const T0: Instant = Instant::ZERO;

    #[test]
    fn keepalive_after_receiving_without_sending() {
        let mut t = Timers::default();
        t.data_received(T0);
        assert_eq!(t.next_deadline(), Some(T0 + KEEPALIVE_TIMEOUT));
        t.data_received(at(1));
        assert_eq!(
            t.take_expired(T0 + KEEPALIVE_TIMEOUT - Duration::from_nanos(1)),
            None
        );
        assert_eq!(
            t.take_expired(T0 + KEEPALIVE_TIMEOUT),
            Some(TimerEvent::SendKeepalive)
        );
        t.rearm_send_keepalive_if_needed(T0 + KEEPALIVE_TIMEOUT);
        assert_eq!(t.next_deadline(), Some(T0 + KEEPALIVE_TIMEOUT * 2));
        t.any_authenticated_packet_sent();
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn new_handshake_when_sending_into_silence() {
        let mut t = Timers::default();
        t.data_sent(T0, Duration::from_nanos(7));
        t.data_sent(T0 + Duration::SECOND, Duration::from_nanos(9));
        let due = T0 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + Duration::from_nanos(7);
        assert_eq!(t.next_deadline(), Some(due));
        t.any_authenticated_packet_received();
        assert_eq!(t.next_deadline(), None);
        t.data_sent(T0, Duration::from_nanos(7));
        assert_eq!(t.take_expired(due), Some(TimerEvent::NewHandshake));
        assert_eq!(t.take_expired(due), None);
    }

    #[test]
    fn earliest_expired_first_and_rate_limit() {
        let mut t = Timers::default();
        t.session_derived(T0);
        t.handshake_initiated(T0, Duration::ZERO);
        t.set_persistent_keepalive(T0, 1);
        assert_eq!(
            t.take_expired(at(u64::MAX)),
            Some(TimerEvent::PersistentKeepalive)
        );
        assert_eq!(
            t.take_expired(at(u64::MAX)),
            Some(TimerEvent::RetransmitHandshake)
        );
        assert_eq!(
            t.take_expired(at(u64::MAX)),
            Some(TimerEvent::ZeroKeyMaterial)
        );
        assert!(t.may_send_initiation(T0));
        t.last_sent_handshake = Some(at(10));
        assert!(!t.may_send_initiation(at(10) + REKEY_TIMEOUT - Duration::from_nanos(1)));
        assert!(t.may_send_initiation(at(10) + REKEY_TIMEOUT));
        assert_eq!(MAX_TIMER_HANDSHAKES, 18);
    }
}
