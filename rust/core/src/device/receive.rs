//! The receive path: a datagram's MACs and cookies, the three handshake
//! messages, and data opened in place.

use super::*;

impl Device {
    /// Handles one datagram from `src`. Handshake answers go to `out`,
    /// which must hold [`MAX_HANDSHAKE_LEN`] bytes.
    pub fn decapsulate(
        &self,
        now: Time,
        src: Endpoint,
        buf: &mut [u8],
        out: &mut [u8],
    ) -> Result<Received> {
        match messages::classify(buf)? {
            MessageType::Data => self.recv_data(now, src, buf),
            MessageType::Initiation => self.recv_initiation(now, src, buf, out),
            MessageType::Response => self.recv_response(now, src, buf, out),
            MessageType::CookieReply => self.recv_cookie_reply(now, buf),
        }
    }

    /// MAC checks common to initiations and responses. Returns the answer
    /// when a cookie reply was written to `out` instead.
    fn check_macs(
        &self,
        now: Time,
        src: &Endpoint,
        msg: &[u8],
        out: &mut [u8],
    ) -> Result<Option<Received>> {
        let under_load = self.load.note_and_check(now.mono);
        let mut cookie = self.cookie.lock();
        if !cookie.check_mac1(msg) {
            return Err(Error::BadMac1);
        }
        if !under_load {
            return Ok(None);
        }
        let mut srcb = [0u8; 18];
        let n = src.cookie_bytes(&mut srcb);
        // A new secret is drawn only when the old one expires (every two
        // minutes), not for each message of a flood.
        let fresh = || random_key(&*self.rng);
        let nonce = || {
            let mut n = [0u8; 24];
            self.rng.fill(&mut n);
            n
        };
        let reply: &mut [u8; messages::COOKIE_REPLY_LEN] = out
            .get_mut(..messages::COOKIE_REPLY_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::BufferTooSmall)?;
        if cookie.check_mac2_or_reply(msg, &srcb[..n], now.mono, fresh, nonce, reply)? {
            return Ok(None);
        }
        Ok(Some(Received {
            action: Decap::Reply {
                len: messages::COOKIE_REPLY_LEN,
            },
            peer: None,
            poll: false,
        }))
    }

    pub(super) fn new_index(&self, slot: u32, keys: &KeyRing, st: &mut PeerState) -> u32 {
        // Skip tags still naming a live session so indices stay unique.
        loop {
            st.next_tag = (st.next_tag + 1) & TAG_MASK;
            let idx = self.codec.encode(slot, st.next_tag);
            let live =
                keys.indices().any(|i| i == idx) || st.handshake.pending_local_index() == Some(idx);
            if !live {
                return idx;
            }
        }
    }

    fn recv_initiation(
        &self,
        now: Time,
        src: Endpoint,
        buf: &mut [u8],
        out: &mut [u8],
    ) -> Result<Received> {
        let t = self.tables.read();
        let identity = t.identity.as_ref().ok_or(Error::UnknownPeer)?;
        if let Some(reply) = self.check_macs(now, &src, buf, out)? {
            return Ok(reply);
        }
        let msg: &[u8; messages::INITIATION_LEN] =
            (&*buf).try_into().map_err(|_| Error::BadLength)?;
        let partial = crate::noise::decrypt_initiation(identity, msg)?;
        let slot = t
            .by_key
            .get(partial.remote_static())
            .ok_or(Error::UnknownPeer)?;
        let peer = t.peer(slot).ok_or(Error::UnknownPeer)?;
        let mut st = peer.state.lock();
        let local_index = self.new_index(slot, &peer.keys.read(), &mut st);
        let mut eph = random_key(&*self.rng);
        let resp: &mut [u8; messages::RESPONSE_LEN] = out
            .get_mut(..messages::RESPONSE_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(Error::BufferTooSmall)?;
        let keys = st.handshake.consume_initiation_and_respond(
            identity,
            &partial,
            local_index,
            eph,
            now.mono,
            resp,
        );
        eph.zeroize();
        let keys = keys?;
        st.cookie.add_macs(resp, now.mono);
        peer.keys
            .write()
            .install(keypair::boxed(Keypair::new(&keys, now.mono)?)?);
        st.endpoint = Some(src);
        st.rx_bytes += buf.len() as u64;
        st.tx_bytes += messages::RESPONSE_LEN as u64;
        let ka = st.persistent_keepalive;
        st.timers.any_authenticated_packet_received();
        st.timers.any_authenticated_packet_traversal(now.mono, ka);
        st.timers.any_authenticated_packet_sent();
        st.timers.session_derived(now.mono);
        Ok(Received {
            action: Decap::Reply {
                len: messages::RESPONSE_LEN,
            },
            peer: Some(PeerId(slot)),
            poll: st.needs_poll(),
        })
    }

    fn peer_for_index<'t>(&self, t: &'t Tables, index: u32) -> Result<(u32, &'t Peer)> {
        let slot = self.codec.slot(index);
        let peer = t.peer(slot).ok_or(Error::UnknownIndex)?;
        Ok((slot, peer))
    }

    fn recv_response(
        &self,
        now: Time,
        src: Endpoint,
        buf: &mut [u8],
        out: &mut [u8],
    ) -> Result<Received> {
        let t = self.tables.read();
        let identity = t.identity.as_ref().ok_or(Error::UnknownIndex)?;
        if let Some(reply) = self.check_macs(now, &src, buf, out)? {
            return Ok(reply);
        }
        let index = messages::receiver_index(buf).ok_or(Error::BadLength)?;
        let (slot, peer) = self.peer_for_index(&t, index)?;
        let mut st = peer.state.lock();
        if st.handshake.pending_local_index() != Some(index) {
            return Err(Error::UnknownIndex);
        }
        let msg: &[u8; messages::RESPONSE_LEN] =
            (&*buf).try_into().map_err(|_| Error::BadLength)?;
        let keys = st.handshake.consume_response(identity, msg)?;
        peer.keys
            .write()
            .install(keypair::boxed(Keypair::new(&keys, now.mono)?)?);
        st.endpoint = Some(src);
        st.rx_bytes += buf.len() as u64;
        st.last_handshake_real = now.real;
        let ka = st.persistent_keepalive;
        st.timers.handshake_complete();
        st.timers.session_derived(now.mono);
        st.timers.any_authenticated_packet_received();
        st.timers.any_authenticated_packet_traversal(now.mono, ka);
        st.flags = (st.flags | FLUSH_STAGED | KEEPALIVE_IF_SILENT) & !SENT_SINCE_FLUSH;
        Ok(Received {
            action: Decap::Done,
            peer: Some(PeerId(slot)),
            poll: true,
        })
    }

    fn recv_cookie_reply(&self, now: Time, buf: &[u8]) -> Result<Received> {
        let t = self.tables.read();
        let index = messages::receiver_index(buf).ok_or(Error::BadLength)?;
        let (slot, peer) = self.peer_for_index(&t, index)?;
        let msg: &[u8; messages::COOKIE_REPLY_LEN] =
            buf.try_into().map_err(|_| Error::BadLength)?;
        let mut st = peer.state.lock();
        st.cookie.consume_reply(msg, now.mono)?;
        Ok(Received {
            action: Decap::Done,
            peer: Some(PeerId(slot)),
            poll: st.needs_poll(),
        })
    }

    /// A data message: open it under the keypair its index names, then
    /// the steps Linux names (received with keypair, keep key fresh,
    /// consume the inner packet).
    fn recv_data(&self, now: Time, src: Endpoint, buf: &mut [u8]) -> Result<Received> {
        let t = self.tables.read();
        let index = messages::receiver_index(buf).ok_or(Error::BadLength)?;
        let counter = messages::data_counter(buf).ok_or(Error::BadLength)?;
        let (slot, peer) = self.peer_for_index(&t, index)?;
        let (which, fresh) = open_data(peer, index, counter, now, buf)?;
        let mut st = peer.state.lock();
        let fresh = if which == Slot::Next && received_with_keypair(peer, &mut st, index, now) {
            // The confirmation made `next` current: judge that one.
            peer.keys.read().current().map(|c| Freshness::of(c, now))
        } else {
            fresh
        };
        authenticated_from(&mut st, src, buf.len(), now);
        keep_key_fresh(&mut st, fresh, now.mono);
        let action = consume_inner(&t, slot, &mut st, buf, now)?;
        Ok(Received {
            action,
            peer: Some(PeerId(slot)),
            poll: st.needs_poll(),
        })
    }
}

/// What keep_key_fresh needs of the current keypair, read under the same
/// shared lock as the crypto rather than taken again.
#[derive(Clone, Copy)]
struct Freshness {
    is_initiator: bool,
    birth: Instant,
    usable: bool,
}

impl Freshness {
    fn of(kp: &Keypair, now: Time) -> Self {
        Freshness {
            is_initiator: kp.is_initiator,
            birth: kp.birth,
            usable: kp.usable_for_sending(now.mono),
        }
    }
}

/// Opens `buf` in place under the shared keys lock only (in parallel with
/// other packets of the peer) and checks its counter against the replay
/// window after the AEAD, so a forgery cannot move the window.
fn open_data(
    peer: &Peer,
    index: u32,
    counter: u64,
    now: Time,
    buf: &mut [u8],
) -> Result<(Slot, Option<Freshness>)> {
    let total = buf.len();
    let keys = peer.keys.read();
    let which = keys.find(index).ok_or(Error::UnknownIndex)?;
    let kp = keys.get(which).ok_or(Error::UnknownIndex)?;
    let key = kp
        .recv_key_for(counter, now.mono)
        .ok_or(Error::SessionExpired)?;
    let body_len = total
        .checked_sub(DATA_HEADROOM + messages::DATA_TAG_LEN)
        .ok_or(Error::BadLength)?;
    let (_head, rest) = buf.split_at_mut(DATA_HEADROOM);
    let (body, tag) = rest.split_at_mut(body_len);
    let tag: &[u8; 16] = (&*tag).try_into().map_err(|_| Error::BadLength)?;
    crypto::aead_open(key, counter, &[], body, tag).map_err(|_| Error::DecryptFailed)?;
    if !kp.accept_counter(counter) {
        return Err(Error::ReplayedCounter);
    }
    Ok((which, keys.current().map(|c| Freshness::of(c, now))))
}

/// The first packet under a responder's `next` keypair completes the
/// handshake: the keypair becomes current and staged packets may go.
fn received_with_keypair(peer: &Peer, st: &mut PeerState, index: u32, now: Time) -> bool {
    if !peer.keys.write().received_with(index) {
        return false;
    }
    st.timers.handshake_complete();
    st.last_handshake_real = now.real;
    st.flags = (st.flags | FLUSH_STAGED) & !SENT_SINCE_FLUSH;
    true
}

/// Any authenticated packet: the peer is where it came from (roaming), and
/// the timers hear of it.
fn authenticated_from(st: &mut PeerState, src: Endpoint, len: usize, now: Time) {
    st.endpoint = Some(src);
    st.rx_bytes += len as u64;
    let ka = st.persistent_keepalive;
    st.timers.any_authenticated_packet_received();
    st.timers.any_authenticated_packet_traversal(now.mono, ka);
}

/// An initiator whose current keypair nears REJECT_AFTER_TIME starts a
/// new handshake, once, on receive (Linux's keep_key_fresh on receive).
fn keep_key_fresh(st: &mut PeerState, fresh: Option<Freshness>, now: Instant) {
    let Some(f) = fresh else {
        return;
    };
    let old = f
        .birth
        .has_aged(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT, now);
    if f.is_initiator && f.usable && old && !st.timers.sent_lastminute_handshake {
        st.timers.sent_lastminute_handshake = true;
        st.flags |= WANT_INITIATION;
    }
}

/// The plaintext: a keepalive (empty), or an IP packet whose source the
/// peer's allowed IPs must cover.
fn consume_inner(
    t: &Tables,
    slot: u32,
    st: &mut PeerState,
    buf: &[u8],
    now: Time,
) -> Result<Decap> {
    let total = buf.len();
    let plain = buf
        .get(DATA_HEADROOM..total - messages::DATA_TAG_LEN)
        .ok_or(Error::BadLength)?;
    if plain.is_empty() {
        return Ok(Decap::Done);
    }
    st.timers.data_received(now.mono);
    let hdr = ip::parse(plain)?;
    if t.allowed.lookup(&hdr.src) != Some(slot) {
        return Err(Error::SourceNotAllowed);
    }
    Ok(Decap::Tunnel {
        offset: DATA_HEADROOM,
        len: hdr.len,
    })
}
