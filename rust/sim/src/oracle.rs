//! The invariants, checked as the run goes: every inner packet's fate,
//! every keypair as seen on the wire, the pace of initiations.
//!
//! The oracle knows only what a wire observer and the hosts know (the
//! datagrams, what each call returned, the configuration applied); it
//! never looks inside an engine.

use crate::clock::{REJECT_AFTER_TIME, REKEY_AFTER_TIME, REKEY_TIMEOUT};
use std::collections::{BTreeMap, BTreeSet};
use wg_core::config::Key;
use wg_core::consts::REJECT_AFTER_MESSAGES;
use wg_core::messages;
use wg_core::PeerId;

pub type Check = Result<(), String>;

/// Who sealed a packet, when, and for which key.
#[derive(Clone, Copy, Debug)]
pub struct Seal {
    pub at: u64,
    /// The sender's public key at that moment.
    pub sender_key: Key,
    /// The public key the sender's peer entry held: only its owner may
    /// open the packet.
    pub receiver_key: Key,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Handed to the sender's engine, not sealed yet (or staged).
    Pending,
    Sealed,
    /// The sending host dropped it (no route, staged queue full, ...).
    Dropped(&'static str),
    Delivered(u64),
}

#[derive(Clone, Debug)]
pub struct PacketRec {
    pub from: usize,
    pub to: usize,
    pub sent_at: u64,
    pub spoof: bool,
    pub bytes: Vec<u8>,
    pub seal: Option<Seal>,
    pub fate: Fate,
}

/// A device incarnation's peer: a restarted engine or a re-added peer
/// starts with no sessions.
pub type PeerKey = (usize, u32, PeerId);

struct SendSession {
    birth: u64,
    last_counter: Option<u64>,
    /// Made by our initiation: we must rekey it from REKEY_AFTER_TIME.
    initiator: bool,
}

struct RecvSession {
    birth: u64,
    seen: BTreeSet<u64>,
}

#[derive(Default)]
pub struct Oracle {
    pub packets: Vec<PacketRec>,
    /// Keyed by the receiver index that data to the peer carries. The
    /// peer's indices are unique among its live sessions only: a peer
    /// re-added in the same slot hands out the same indices again, so the
    /// sender may hold an old and a new keypair under one remote index.
    send: BTreeMap<(PeerKey, u32), Vec<SendSession>>,
    /// Keyed by our own index, which data from the peer carries.
    recv: BTreeMap<(PeerKey, u32), RecvSession>,
    last_initiation: BTreeMap<PeerKey, u64>,
    /// Data sent under our own keypair past REKEY_AFTER_TIME: by the end
    /// of the host's step an initiation must have left (see `rekeyed`).
    rekey_due: Vec<(PeerKey, u64)>,
    pub rekeys_checked: u64,
    pub sessions: u64,
    pub data_checked: u64,
}

impl Oracle {
    pub fn new_packet(
        &mut self,
        from: usize,
        to: usize,
        now: u64,
        spoof: bool,
        bytes: Vec<u8>,
    ) -> u64 {
        self.packets.push(PacketRec {
            from,
            to,
            sent_at: now,
            spoof,
            bytes,
            seal: None,
            fate: Fate::Pending,
        });
        self.packets.len() as u64 - 1
    }

    pub fn sealed(&mut self, id: u64, seal: Seal) -> Check {
        let p = &mut self.packets[id as usize];
        if p.fate != Fate::Pending {
            return Err(format!("packet #{id} sealed again (was {:?})", p.fate));
        }
        p.fate = Fate::Sealed;
        p.seal = Some(seal);
        Ok(())
    }

    pub fn dropped(&mut self, id: u64, why: &'static str) {
        let p = &mut self.packets[id as usize];
        if p.fate == Fate::Pending {
            p.fate = Fate::Dropped(why);
        }
    }

    /// A handshake made a keypair: `local` names it in data we receive,
    /// `remote` in data we send.
    pub fn session(&mut self, peer: PeerKey, local: u32, remote: u32, now: u64, initiator: bool) {
        self.sessions += 1;
        let v = self.send.entry((peer, remote)).or_default();
        // A peer holds at most three keypairs.
        if v.len() == 3 {
            v.remove(0);
        }
        v.push(SendSession {
            birth: now,
            last_counter: None,
            initiator,
        });
        self.recv.insert(
            (peer, local),
            RecvSession {
                birth: now,
                seen: BTreeSet::new(),
            },
        );
    }

    /// The peer (or the whole engine) is gone: its sessions with it.
    pub fn forget_peer(&mut self, peer: PeerKey) {
        self.send.retain(|(k, _), _| *k != peer);
        self.recv.retain(|(k, _), _| *k != peer);
        self.last_initiation.remove(&peer);
        self.rekey_due.retain(|(k, _)| *k != peer);
    }

    /// REKEY_AFTER_TIME: a host step that sent data under a keypair it
    /// initiated, older than REKEY_AFTER_TIME, also sent an initiation,
    /// unless one left less than REKEY_TIMEOUT before (the rate limit).
    pub fn rekeyed(&mut self) -> Check {
        for (peer, at) in std::mem::take(&mut self.rekey_due) {
            self.rekeys_checked += 1;
            let last = self.last_initiation.get(&peer).copied();
            if last.is_none_or(|l| l + REKEY_TIMEOUT <= at) {
                return Err(format!(
                    "peer {}: data sent under a keypair past REKEY_AFTER_TIME and no \
                     initiation (the last {})",
                    peer.2 .0,
                    last.map_or("never".to_string(), |l| format!(
                        "{} ms before",
                        (at - l) / 1_000_000
                    ))
                ));
            }
        }
        Ok(())
    }

    /// Every datagram an engine asks to send.
    pub fn on_send(&mut self, peer: Option<PeerKey>, bytes: &[u8], now: u64) -> Check {
        match bytes.first() {
            Some(1) => {
                let Some(peer) = peer else {
                    return Err("an initiation without a peer".into());
                };
                if let Some(last) = self.last_initiation.insert(peer, now) {
                    if now - last < REKEY_TIMEOUT {
                        return Err(format!(
                            "initiations to peer {} only {} ms apart (REKEY_TIMEOUT is {} ms)",
                            peer.2 .0,
                            (now - last) / 1_000_000,
                            REKEY_TIMEOUT / 1_000_000
                        ));
                    }
                }
                Ok(())
            }
            Some(4) => {
                let Some(peer) = peer else {
                    return Err("data without a peer".into());
                };
                let idx = messages::receiver_index(bytes).ok_or("short data")?;
                let ctr = messages::data_counter(bytes).ok_or("short data")?;
                let v = self.send.get_mut(&(peer, idx)).ok_or_else(|| {
                    format!(
                        "data to peer {} under index {idx:#010x}, which no handshake made",
                        peer.2 .0
                    )
                })?;
                if ctr >= REJECT_AFTER_MESSAGES {
                    return Err(format!("counter {ctr} past REJECT_AFTER_MESSAGES"));
                }
                // The keypair this counter continues: the one whose last
                // counter is the closest below it.
                let s = v
                    .iter_mut()
                    .filter(|s| s.last_counter.is_none_or(|l| l < ctr))
                    .max_by_key(|s| s.last_counter.map_or(0, |l| l + 1))
                    .ok_or_else(|| {
                        format!("counter {ctr} under index {idx:#010x} again: a nonce reused")
                    })?;
                if now - s.birth >= REJECT_AFTER_TIME {
                    return Err(format!(
                        "data sent under a keypair {} ms old (REJECT_AFTER_TIME)",
                        (now - s.birth) / 1_000_000
                    ));
                }
                let rekey = s.initiator && now - s.birth >= REKEY_AFTER_TIME;
                s.last_counter = Some(ctr);
                self.data_checked += 1;
                if rekey && bytes.len() > 32 {
                    self.rekey_due.push((peer, now));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A data message (keepalive or packet) an engine accepted.
    pub fn on_accept(&mut self, peer: PeerKey, local: u32, ctr: u64, now: u64) -> Check {
        let s = self.recv.get_mut(&(peer, local)).ok_or_else(|| {
            format!(
                "data accepted from peer {} under index {local:#010x}, which no handshake made",
                peer.2 .0
            )
        })?;
        if now - s.birth >= REJECT_AFTER_TIME {
            return Err(format!(
                "data accepted under a keypair {} ms old (REJECT_AFTER_TIME)",
                (now - s.birth) / 1_000_000
            ));
        }
        if ctr >= REJECT_AFTER_MESSAGES {
            return Err(format!("accepted counter {ctr} past REJECT_AFTER_MESSAGES"));
        }
        if !s.seen.insert(ctr) {
            return Err(format!(
                "counter {ctr} accepted twice under index {local:#010x}: a replay got through"
            ));
        }
        Ok(())
    }
}
