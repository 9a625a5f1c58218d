//! Timers: what a peer has to do when its deadline passes (handshake
//! retries, keepalives, key expiry, staged packets).

use super::*;

impl Device {
    /// Runs the peer's expired timers and returns the next thing to do.
    /// Call until it returns `Idle`; `out` must hold [`MAX_HANDSHAKE_LEN`]
    /// bytes (a keepalive needs 32).
    pub fn poll_peer(&self, peer: PeerId, now: Time, out: &mut [u8]) -> Result<PeerAction> {
        let t = self.tables.read();
        let p = t.peer(peer.0).ok_or(Error::NotFound)?;
        let mut st = p.state.lock();
        while let Some(ev) = st.timers.take_expired(now.mono) {
            match ev {
                TimerEvent::RetransmitHandshake => {
                    if st.timers.handshake_attempts > MAX_TIMER_HANDSHAKES {
                        st.timers.cancel_send_keepalive();
                        st.timers.arm_zero_key_material_if_idle(now.mono);
                        st.flags |= DROP_STAGED;
                    } else {
                        st.timers.handshake_attempts += 1;
                        st.flags |= WANT_INITIATION_RETRY;
                    }
                }
                TimerEvent::SendKeepalive => {
                    st.flags |= WANT_KEEPALIVE;
                    st.timers.rearm_send_keepalive_if_needed(now.mono);
                }
                TimerEvent::NewHandshake => st.flags |= WANT_INITIATION,
                TimerEvent::ZeroKeyMaterial => {
                    p.keys.write().clear();
                    st.handshake.clear();
                }
                TimerEvent::PersistentKeepalive => {
                    if st.persistent_keepalive != 0 {
                        st.flags |= WANT_KEEPALIVE;
                    }
                }
            }
        }
        loop {
            let f = st.flags;
            if f & DROP_STAGED != 0 {
                st.flags &= !(DROP_STAGED | FLUSH_STAGED);
                return Ok(PeerAction::DropStaged);
            }
            if f & FLUSH_STAGED != 0 {
                st.flags &= !FLUSH_STAGED;
                return Ok(PeerAction::FlushStaged);
            }
            if f & KEEPALIVE_IF_SILENT != 0 {
                st.flags &= !KEEPALIVE_IF_SILENT;
                if f & SENT_SINCE_FLUSH == 0 {
                    st.flags |= WANT_KEEPALIVE;
                }
                continue;
            }
            if f & (WANT_INITIATION | WANT_INITIATION_RETRY) != 0 {
                st.flags &= !(WANT_INITIATION | WANT_INITIATION_RETRY);
                let retry = f & WANT_INITIATION_RETRY != 0;
                if let Some(action) = self.initiate(&t, peer.0, &mut st, now, retry, out)? {
                    return Ok(action);
                }
                continue;
            }
            if f & WANT_KEEPALIVE != 0 {
                st.flags &= !WANT_KEEPALIVE;
                let Some(endpoint) = st.endpoint else {
                    continue;
                };
                let buf = out
                    .get_mut(..DATA_HEADROOM + messages::DATA_TAG_LEN)
                    .ok_or(Error::BufferTooSmall)?;
                // 32 bytes: sealed under the peer's lock, unlike data.
                let keys = p.keys.read();
                match self.reserve(&keys, &mut st, now, buf.len(), 0)? {
                    Some(sealing) => {
                        sealing.seal(&keys, buf, 0)?;
                        return Ok(PeerAction::Send {
                            endpoint,
                            len: sealing.total,
                        });
                    }
                    None => {
                        st.flags |= WANT_INITIATION;
                        continue;
                    }
                }
            }
            let next_deadline = st.timers.next_deadline();
            st.reported_deadline = next_deadline.into();
            return Ok(PeerAction::Idle { next_deadline });
        }
    }

    fn initiate(
        &self,
        t: &Tables,
        slot: u32,
        st: &mut PeerState,
        now: Time,
        retry: bool,
        out: &mut [u8],
    ) -> Result<Option<PeerAction>> {
        if !retry {
            st.timers.handshake_attempts = 0;
        }
        let (Some(identity), Some(endpoint)) = (t.identity.as_ref(), st.endpoint) else {
            return Ok(None);
        };
        if !st.timers.may_send_initiation(now.mono) {
            return Ok(None);
        }
        let msg: &mut [u8; messages::INITIATION_LEN] = out
            .get_mut(..messages::INITIATION_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::BufferTooSmall)?;
        let peer = t.peer(slot).ok_or(Error::NotFound)?;
        let local_index = self.new_index(slot, &peer.keys.read(), st);
        let mut eph = random_key(&*self.rng);
        let made = st
            .handshake
            .create_initiation(identity, local_index, eph, now.real, msg);
        eph.zeroize();
        made?;
        st.cookie.add_macs(msg, now.mono);
        st.timers.last_sent_handshake = Some(now.mono);
        st.tx_bytes += messages::INITIATION_LEN as u64;
        let ka = st.persistent_keepalive;
        st.timers.any_authenticated_packet_traversal(now.mono, ka);
        st.timers.any_authenticated_packet_sent();
        st.timers.handshake_initiated(now.mono, jitter(&*self.rng));
        Ok(Some(PeerAction::Send {
            endpoint,
            len: messages::INITIATION_LEN,
        }))
    }
}
