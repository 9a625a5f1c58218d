//! Transport sessions of one peer: the previous, current and next keypairs,
//! their counters and replay windows, and the rotation between them.
//!
//! An initiator may use a new keypair as soon as the response arrives. A
//! responder must not send with its new keypair until the initiator proves it
//! has it, by the first data packet under it; until then it waits as `next`.

use crate::consts::{REJECT_AFTER_MESSAGES, REJECT_AFTER_TIME};
use crate::replay::ReplayWindow;
use crate::sync::Mutex;
use crate::time::Instant;
use crate::{Error, Result};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use zeroize::Zeroize;

/// One session's keys and counters. Packets of one peer are sealed and
/// opened in parallel under a shared borrow of it, so what changes per
/// packet is atomic (the send counter) or behind its own short lock (the
/// replay window).
pub struct Keypair {
    send_key: [u8; 32],
    recv_key: [u8; 32],
    send_counter: AtomicU64,
    replay: Mutex<ReplayWindow>,
    pub local_index: u32,
    pub remote_index: u32,
    /// When the handshake that made it completed.
    pub birth: Instant,
    pub is_initiator: bool,
    /// Cleared when the interface key changes: receiving still works for
    /// in-flight packets, sending forces a new handshake.
    can_send: AtomicBool,
}

impl Drop for Keypair {
    fn drop(&mut self) {
        self.send_key.zeroize();
        self.recv_key.zeroize();
    }
}

impl Keypair {
    /// Fails only when the host has no memory for the replay window's lock.
    pub fn new(keys: &crate::noise::SessionKeys, birth: Instant) -> Result<Self> {
        Ok(Keypair {
            send_key: keys.send,
            recv_key: keys.recv,
            send_counter: AtomicU64::new(0),
            replay: Mutex::new(c"wg replay", ReplayWindow::new())?,
            local_index: keys.local_index,
            remote_index: keys.remote_index,
            birth,
            is_initiator: keys.is_initiator,
            can_send: AtomicBool::new(true),
        })
    }

    fn expired(&self, now: Instant) -> bool {
        self.birth.has_aged(REJECT_AFTER_TIME, now)
    }

    /// Reserves the next send counter, or None when the keypair must not
    /// send any more (too old, too many messages, or expired by hand).
    pub fn next_send(&self, now: Instant) -> Option<(u64, &[u8; 32])> {
        if !self.can_send.load(Ordering::Relaxed) || self.expired(now) {
            return None;
        }
        // Counters past the limit are never handed out; the counter stays
        // past it, so every later call refuses too.
        let c = self.send_counter.fetch_add(1, Ordering::Relaxed);
        if c >= REJECT_AFTER_MESSAGES {
            return None;
        }
        Some((c, &self.send_key))
    }

    /// The send and receive keys, for the crypto of a reserved counter.
    pub fn keys(&self) -> (&[u8; 32], &[u8; 32]) {
        (&self.send_key, &self.recv_key)
    }

    pub fn send_counter(&self) -> u64 {
        self.send_counter.load(Ordering::Relaxed)
    }

    pub fn usable_for_sending(&self, now: Instant) -> bool {
        self.can_send.load(Ordering::Relaxed)
            && !self.expired(now)
            && self.send_counter() < REJECT_AFTER_MESSAGES
    }

    /// The key to open a packet with this counter, if the keypair still
    /// accepts packets. The replay window is consulted only after the tag
    /// verifies (as Linux does): a check before would cost a lock per
    /// packet and save nothing against an attacker, who can as cheaply
    /// send fresh counters with bad tags.
    pub fn recv_key_for(&self, counter: u64, now: Instant) -> Option<&[u8; 32]> {
        if self.expired(now) || counter >= REJECT_AFTER_MESSAGES {
            return None;
        }
        Some(&self.recv_key)
    }

    /// Records an authenticated counter; false if a duplicate got there
    /// first (two copies opened in parallel).
    pub fn accept_counter(&self, counter: u64) -> bool {
        self.replay.lock().check_and_update(counter)
    }

    pub fn forbid_sending(&self) {
        self.can_send.store(false, Ordering::Relaxed);
    }
}

/// Which of a peer's keypairs a received index matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Previous,
    Current,
    Next,
}

/// A keypair on the heap. A peer without sessions then costs a pointer per
/// slot instead of three 360-byte keypairs (docs/DESIGN.md: 1 KiB per peer), as
/// Linux allocates its keypairs per handshake.
pub type BoxedKeypair = Box<[Keypair; 1]>;

/// Boxes a keypair, reporting allocation failure instead of aborting: a
/// kernel must drop the handshake, not panic, when memory is short.
pub fn boxed(kp: Keypair) -> Result<BoxedKeypair> {
    let mut v = Vec::new();
    v.try_reserve_exact(1).map_err(|_| Error::NoMemory)?;
    v.push(kp);
    v.into_boxed_slice().try_into().map_err(|_| Error::NoMemory)
}

/// A peer's keypairs. The fields are private: every move between them is
/// one of the named steps below, as Linux's noise.c keeps them.
#[derive(Default)]
pub struct KeyRing {
    previous: Option<BoxedKeypair>,
    current: Option<BoxedKeypair>,
    next: Option<BoxedKeypair>,
}

impl KeyRing {
    /// Installs a keypair from a finished handshake, as Linux's
    /// `add_new_keypair` does: an initiator's becomes current at once; a
    /// responder's waits as next.
    pub fn install(&mut self, kp: BoxedKeypair) {
        if kp[0].is_initiator {
            self.previous = match self.next.take() {
                // As Linux: an unconfirmed next is kept as previous (packets
                // under it may still arrive) and current is dropped.
                Some(next) => Some(next),
                None => self.current.take(),
            };
            self.current = Some(kp);
        } else {
            self.next = Some(kp);
            self.previous = None;
        }
    }

    /// A packet authenticated under the keypair of `local_index` arrived:
    /// if that keypair is `next`, it is confirmed and becomes current (as
    /// Linux's `wg_noise_received_with_keypair`). True if that rotation
    /// happened (the handshake is complete; staged packets may go). A
    /// handshake may have replaced `next` since the packet was opened, so
    /// the index is checked here, under the write lock.
    pub fn received_with(&mut self, local_index: u32) -> bool {
        self.next
            .as_ref()
            .is_some_and(|k| k[0].local_index == local_index)
            && self.confirm_next()
    }

    /// Promotes `next` after its first authenticated packet. Returns true if
    /// a rotation happened (the host then has staged packets to send).
    fn confirm_next(&mut self) -> bool {
        match self.next.take() {
            Some(kp) => {
                self.previous = self.current.take();
                self.current = Some(kp);
                true
            }
            None => false,
        }
    }

    pub fn find(&self, local_index: u32) -> Option<Slot> {
        let is =
            |k: &Option<BoxedKeypair>| k.as_ref().is_some_and(|k| k[0].local_index == local_index);
        if is(&self.current) {
            Some(Slot::Current)
        } else if is(&self.previous) {
            Some(Slot::Previous)
        } else if is(&self.next) {
            Some(Slot::Next)
        } else {
            None
        }
    }

    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Keypair> {
        let k = match slot {
            Slot::Previous => self.previous.as_mut(),
            Slot::Current => self.current.as_mut(),
            Slot::Next => self.next.as_mut(),
        };
        k.map(|b| &mut b[0])
    }

    pub fn get(&self, slot: Slot) -> Option<&Keypair> {
        let k = match slot {
            Slot::Previous => self.previous.as_ref(),
            Slot::Current => self.current.as_ref(),
            Slot::Next => self.next.as_ref(),
        };
        k.map(|b| &b[0])
    }

    pub fn current(&self) -> Option<&Keypair> {
        self.current.as_ref().map(|b| &b[0])
    }

    pub fn clear(&mut self) {
        self.previous = None;
        self.current = None;
        self.next = None;
    }

    /// Stop sending with every keypair (private key changed).
    pub fn forbid_sending(&self) {
        for k in [&self.previous, &self.current, &self.next]
            .into_iter()
            .flatten()
        {
            k[0].forbid_sending();
        }
    }

    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        [&self.previous, &self.current, &self.next]
            .into_iter()
            .flatten()
            .map(|k| k[0].local_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::SessionKeys;
    use crate::time::Duration;

    const T0: Instant = Instant::ZERO;

    fn kp(idx: u32, initiator: bool) -> BoxedKeypair {
        boxed(raw(idx, initiator)).unwrap()
    }

    fn raw(idx: u32, initiator: bool) -> Keypair {
        let keys = SessionKeys {
            send: [1; 32],
            recv: [2; 32],
            local_index: idx,
            remote_index: idx + 100,
            is_initiator: initiator,
        };
        Keypair::new(&keys, T0).unwrap()
    }

    #[test]
    fn initiator_rotates_at_once_responder_waits() {
        let mut r = KeyRing::default();
        r.install(kp(1, true));
        assert_eq!(r.find(1), Some(Slot::Current));
        r.install(kp(2, false));
        assert_eq!(r.find(2), Some(Slot::Next));
        assert_eq!(r.find(1), Some(Slot::Current));
        assert!(r.confirm_next());
        assert_eq!(r.find(2), Some(Slot::Current));
        assert_eq!(r.find(1), Some(Slot::Previous));
        assert!(!r.confirm_next());
        r.install(kp(3, true));
        assert_eq!(r.find(3), Some(Slot::Current));
        assert_eq!(r.find(2), Some(Slot::Previous));
        assert_eq!(r.find(1), None);
    }

    #[test]
    fn sending_stops_at_reject_limits() {
        let k = raw(1, true);
        assert!(k
            .next_send(T0 + REJECT_AFTER_TIME - Duration::from_nanos(1))
            .is_some());
        assert!(k.next_send(T0 + REJECT_AFTER_TIME).is_none());
        k.send_counter
            .store(REJECT_AFTER_MESSAGES - 1, Ordering::Relaxed);
        assert!(k.next_send(T0).is_some());
        assert!(k.next_send(T0).is_none());
        let k = raw(1, true);
        k.forbid_sending();
        assert!(k.next_send(T0).is_none());
        assert!(k.recv_key_for(0, T0).is_some());
        assert!(k.recv_key_for(0, T0 + REJECT_AFTER_TIME).is_none());
        assert!(k.recv_key_for(REJECT_AFTER_MESSAGES, T0).is_none());
    }
}
