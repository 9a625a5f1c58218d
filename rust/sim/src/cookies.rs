//! Which cookie each handshake message's MAC2 was made from, to judge a
//! loaded device's refusals of it.
//!
//! A cookie is a MAC of the source address under the issuer's secret, and
//! the secret changes at most once per COOKIE_SECRET_MAX_AGE. So a MAC2
//! made from a cookie that device D issued at `t_c` for address X, sent
//! from X to the same incarnation of D and refused (answered with another
//! cookie reply) at `t`, proves a rotation in (t_c, t]. Two such refusals
//! whose intervals are disjoint need two rotations, which are at least
//! COOKIE_SECRET_MAX_AGE apart: if the second interval ends less than
//! that after the first began, D refused a valid MAC2 (or rotated too
//! often). Only what a host or a wire observer sees is used.

use crate::clock::COOKIE_SECRET_MAX_AGE;
use crate::net::Addr;
use crate::oracle::{Check, PeerKey};
use std::collections::BTreeMap;
use wg_core::messages::{COOKIE_REPLY_NONCE_LEN, COOKIE_REPLY_NONCE_OFF};

/// Who issued a cookie: the device, its incarnation, for which address,
/// when.
#[derive(Clone, Copy, Debug)]
pub struct Issue {
    pub dev: usize,
    pub inc: u32,
    pub to: Addr,
    pub at: u64,
}

#[derive(Default)]
pub struct Ledger {
    /// Cookie replies sent, by nonce (unique per reply).
    sent: BTreeMap<[u8; COOKIE_REPLY_NONCE_LEN], Issue>,
    /// The cookie a peer entry last took from a reply: its MAC2s are made
    /// from it.
    held: BTreeMap<PeerKey, Issue>,
    /// Per device incarnation, the latest refusal: (issued, refused).
    refused: BTreeMap<(usize, u32), (u64, u64)>,
    pub refusals_judged: u64,
}

fn nonce(reply: &[u8]) -> Option<[u8; COOKIE_REPLY_NONCE_LEN]> {
    reply
        .get(COOKIE_REPLY_NONCE_OFF..COOKIE_REPLY_NONCE_OFF + COOKIE_REPLY_NONCE_LEN)?
        .try_into()
        .ok()
}

impl Ledger {
    pub fn issued(&mut self, reply: &[u8], issue: Issue) {
        if let Some(n) = nonce(reply) {
            self.sent.insert(n, issue);
        }
    }

    /// `peer` consumed `reply` (the engine accepted it).
    pub fn taken(&mut self, peer: PeerKey, reply: &[u8]) {
        if let Some(i) = nonce(reply).and_then(|n| self.sent.get(&n)) {
            self.held.insert(peer, *i);
        }
    }

    pub fn forget_peer(&mut self, peer: PeerKey) {
        self.held.remove(&peer);
    }

    /// Device `dev` (incarnation `inc`), under load, answered with a
    /// cookie reply an uncorrupted handshake message that `from` sent
    /// from `src` with a non-zero MAC2.
    pub fn refused(&mut self, dev: usize, inc: u32, from: PeerKey, src: Addr, now: u64) -> Check {
        let Some(i) = self.held.get(&from).copied() else {
            return Ok(());
        };
        if (i.dev, i.inc, i.to) != (dev, inc, src) {
            return Ok(());
        }
        self.refusals_judged += 1;
        if let Some(&(c1, t1)) = self.refused.get(&(dev, inc)) {
            // The cookie a refusal sends back is made after any rotation
            // the refusal did: (c1, t1] and (i.at, now] are disjoint.
            if i.at >= t1 && now - c1 < COOKIE_SECRET_MAX_AGE {
                return Err(format!(
                    "dev {dev} refused MAC2s of cookies it issued {:.3} s and {:.3} s ago \
                     (refused {:.3} s ago and now): its secret would have rotated twice \
                     within {} s",
                    (now - c1) as f64 / 1e9,
                    (now - i.at) as f64 / 1e9,
                    (now - t1) as f64 / 1e9,
                    COOKIE_SECRET_MAX_AGE / 1_000_000_000
                ));
            }
        }
        self.refused.insert((dev, inc), (i.at, now));
        Ok(())
    }
}
