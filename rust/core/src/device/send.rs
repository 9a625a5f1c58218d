//! The transmit path: route, reserve a counter under the peer's lock,
//! seal outside it (a batch at a time in one FPU section).

use super::*;

/// A packet whose counter is reserved, waiting for its crypto (a
/// keepalive from `poll` too).
pub(super) struct Sealing {
    counter: u64,
    remote_index: u32,
    padded: usize,
    /// The whole data message's length.
    pub(super) total: usize,
}

impl Sealing {
    /// Pads and seals `buf[16..16 + len]` in place with the keypair the
    /// counter was reserved from, and writes the header.
    pub(super) fn seal(&self, keys: &KeyRing, buf: &mut [u8], len: usize) -> Result<()> {
        // The read lock held since `reserve` keeps the keypair the counter
        // came from current: no search for it.
        let kp = keys.current().ok_or(Error::UnknownIndex)?;
        let (key, _) = kp.keys();
        let (body, tail) = self.body(buf, len)?;
        *tail = crypto::aead_seal(key, self.counter, &[], body);
        self.write_header(buf)
    }

    /// The padded plaintext (padding zeroed) and the tag's room.
    fn body<'b>(&self, buf: &'b mut [u8], len: usize) -> Result<(&'b mut [u8], &'b mut [u8; 16])> {
        let frame = buf.get_mut(..self.total).ok_or(Error::BufferTooSmall)?;
        let rest = frame
            .get_mut(DATA_HEADROOM..)
            .ok_or(Error::BufferTooSmall)?;
        let (body, tail) = rest.split_at_mut(self.padded);
        body.get_mut(len..).ok_or(Error::BufferTooSmall)?.fill(0);
        let tail = tail.try_into().map_err(|_| Error::BufferTooSmall)?;
        Ok((body, tail))
    }

    fn write_header(&self, buf: &mut [u8]) -> Result<()> {
        let hdr = buf.get_mut(..DATA_HEADROOM).ok_or(Error::BufferTooSmall)?;
        let hdr: &mut [u8; 16] = hdr.try_into().map_err(|_| Error::BufferTooSmall)?;
        messages::write_data_header(hdr, self.remote_index, self.counter);
        Ok(())
    }
}

/// At most this many packets per [`Device::encapsulate_batch`] call: its
/// bookkeeping lives on the (kernel) stack.
pub const ENCAP_BATCH: usize = 8;

impl Device {
    /// Routes an IP packet at `buf[DATA_HEADROOM..DATA_HEADROOM + len]` to
    /// its peer by destination and seals it in place.
    pub fn encapsulate(&self, now: Time, buf: &mut [u8], len: usize) -> Result<Encap> {
        let pkt = buf
            .get(DATA_HEADROOM..DATA_HEADROOM + len)
            .ok_or(Error::BufferTooSmall)?;
        let hdr = ip::parse(pkt)?;
        let t = self.tables.read();
        let slot = t.allowed.lookup(&hdr.dst).ok_or(Error::NoRoute)?;
        let peer = t.peer(slot).ok_or(Error::NoRoute)?;
        self.encap_locked(peer, slot, now, buf, len)
    }

    /// Seals a packet for a given peer (staged packets, keepalives with
    /// `len == 0`).
    pub fn encapsulate_to(
        &self,
        peer: PeerId,
        now: Time,
        buf: &mut [u8],
        len: usize,
    ) -> Result<Encap> {
        let t = self.tables.read();
        let p = t.peer(peer.0).ok_or(Error::NotFound)?;
        self.encap_locked(p, peer.0, now, buf, len)
    }

    fn encap_locked(
        &self,
        peer: &Peer,
        slot: u32,
        now: Time,
        buf: &mut [u8],
        len: usize,
    ) -> Result<Encap> {
        let mut st = peer.state.lock();
        let endpoint = st.endpoint.ok_or(Error::NoEndpoint)?;
        let keys = peer.keys.read();
        let Some(sealing) = self.reserve(&keys, &mut st, now, buf.len(), len)? else {
            st.flags |= WANT_INITIATION;
            return Ok(Encap::Staged { peer: PeerId(slot) });
        };
        let poll = st.needs_poll();
        // The crypto runs outside the peer's lock, under the shared keys
        // lock only, so other packets of this peer proceed in parallel.
        drop(st);
        sealing.seal(&keys, buf, len)?;
        Ok(Encap::Send {
            peer: PeerId(slot),
            endpoint,
            len: sealing.total,
            poll,
        })
    }

    /// Seals a train of IP packets (each `(buf, len)` as for
    /// [`Device::encapsulate`], routed again alike); `out[i]` gets packet
    /// i's result. Consecutive packets of one peer share one hold of its
    /// locks and one [`crypto::aead_seal_batch`]: in the kernel, one FPU
    /// section for their crypto, entered after the locked work (routing,
    /// counters, timers) and left before the headers are written. At most
    /// [`ENCAP_BATCH`] packets; the rest of `out` is left as it was.
    pub fn encapsulate_batch(
        &self,
        now: Time,
        pkts: &mut [(&mut [u8], usize)],
        out: &mut [Result<Encap>],
    ) {
        let n = pkts.len().min(out.len()).min(ENCAP_BATCH);
        let t = self.tables.read();
        let route = |(buf, len): &(&mut [u8], usize)| -> Result<u32> {
            let pkt = buf
                .get(DATA_HEADROOM..DATA_HEADROOM.saturating_add(*len))
                .ok_or(Error::BufferTooSmall)?;
            let hdr = ip::parse(pkt)?;
            t.allowed.lookup(&hdr.dst).ok_or(Error::NoRoute)
        };
        let mut i = 0;
        while i < n {
            let slot = match route(&pkts[i]) {
                Ok(s) => s,
                Err(e) => {
                    out[i] = Err(e);
                    i += 1;
                    continue;
                }
            };
            let mut j = i + 1;
            while j < n && route(&pkts[j]) == Ok(slot) {
                j += 1;
            }
            match t.peer(slot) {
                Some(peer) => self.encap_run(peer, slot, now, &mut pkts[i..j], &mut out[i..j]),
                None => out[i..j].fill(Err(Error::NoRoute)),
            }
            i = j;
        }
    }

    /// `encapsulate_batch` for packets of one peer (at most ENCAP_BATCH).
    fn encap_run(
        &self,
        peer: &Peer,
        slot: u32,
        now: Time,
        pkts: &mut [(&mut [u8], usize)],
        out: &mut [Result<Encap>],
    ) {
        let mut st = peer.state.lock();
        let Some(endpoint) = st.endpoint else {
            out.fill(Err(Error::NoEndpoint));
            return;
        };
        let keys = peer.keys.read();
        let mut sealing: [Option<Sealing>; ENCAP_BATCH] = [const { None }; ENCAP_BATCH];
        for ((s, o), (buf, len)) in sealing.iter_mut().zip(out.iter_mut()).zip(pkts.iter()) {
            *o = match self.reserve(&keys, &mut st, now, buf.len(), *len) {
                Ok(r) => {
                    if r.is_none() {
                        st.flags |= WANT_INITIATION;
                    }
                    *s = r;
                    Ok(Encap::Staged { peer: PeerId(slot) })
                }
                Err(e) => Err(e),
            };
        }
        let poll = st.needs_poll();
        // As in encap_locked: the crypto outside the peer's lock, under the
        // shared keys lock, which keeps the reserved keypair current.
        drop(st);
        let Some(kp) = keys.current() else {
            for (s, o) in sealing.iter().zip(out.iter_mut()) {
                if s.is_some() {
                    *o = Err(Error::UnknownIndex);
                }
            }
            return;
        };
        let (key, _) = kp.keys();
        let mut jobs: [Option<crypto::SealJob<'_>>; ENCAP_BATCH] = [const { None }; ENCAP_BATCH];
        for (((job, s), o), (buf, len)) in jobs
            .iter_mut()
            .zip(sealing.iter())
            .zip(out.iter_mut())
            .zip(pkts.iter_mut())
        {
            if let Some(s) = s {
                match s.body(buf, *len) {
                    Ok((body, tag)) => {
                        *job = Some(crypto::SealJob {
                            key,
                            counter: s.counter,
                            body,
                            tag,
                        })
                    }
                    Err(e) => *o = Err(e),
                }
            }
        }
        crypto::aead_seal_batch(&mut jobs);
        for ((s, o), (buf, _)) in sealing.iter().zip(out.iter_mut()).zip(pkts.iter_mut()) {
            if let (Some(s), Ok(_)) = (s, &o) {
                *o = s.write_header(buf).map(|()| Encap::Send {
                    peer: PeerId(slot),
                    endpoint,
                    len: s.total,
                    poll,
                });
            }
        }
    }

    /// Reserves a counter of the current keypair for a packet of `len`
    /// bytes and does the bookkeeping of sending it; None when there is no
    /// usable keypair.
    pub(super) fn reserve(
        &self,
        keys: &KeyRing,
        st: &mut PeerState,
        now: Time,
        buflen: usize,
        len: usize,
    ) -> Result<Option<Sealing>> {
        let mtu = self.mtu.load(Ordering::Relaxed) as usize;
        let padded = padded_len(len, mtu)?;
        let total = DATA_HEADROOM + padded + messages::DATA_TAG_LEN;
        if buflen < total {
            return Err(Error::BufferTooSmall);
        }
        let Some(kp) = keys.current() else {
            return Ok(None);
        };
        let Some((counter, _)) = kp.next_send(now.mono) else {
            return Ok(None);
        };
        let rekey = counter >= REKEY_AFTER_MESSAGES
            || (kp.is_initiator && kp.birth.has_aged(REKEY_AFTER_TIME, now.mono));
        st.tx_bytes += total as u64;
        st.flags |= SENT_SINCE_FLUSH;
        st.timers
            .any_authenticated_packet_traversal(now.mono, st.persistent_keepalive);
        st.timers.any_authenticated_packet_sent();
        if len > 0 && !st.timers.new_handshake_armed() {
            st.timers.data_sent(now.mono, jitter(&*self.rng));
        }
        if rekey {
            st.flags |= WANT_INITIATION;
        }
        Ok(Some(Sealing {
            counter,
            remote_index: kp.remote_index,
            padded,
            total,
        }))
    }
}
