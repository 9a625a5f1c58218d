//! Configuration: checked whole before anything changes, then applied
//! under the table lock; and read back.

use super::*;

/// What a configuration update needs, found before anything changes.
#[derive(Default)]
struct Plan {
    /// Peers to create, in the order the update creates them.
    creates: Vec<Key>,
    v4_routes: usize,
    v6_routes: usize,
}

impl Device {
    /// Applies a configuration change, all or nothing: the whole update is
    /// checked against the limits and the current state, and room is made
    /// for everything it adds (peers, their locks, table slots, routes),
    /// before any of it takes effect. Every allocation here is fallible, so
    /// a host that will not wait for memory under the engine's locks turns
    /// a shortage into NoMemory and an unchanged configuration.
    pub fn set_config(&self, now: Time, update: &DeviceUpdate) -> Result<ConfigChanges> {
        let new_identity: Option<Option<StaticIdentity>> = update
            .private_key
            .as_ref()
            .map(|k| k.map(StaticIdentity::new));
        let mut t = self.tables.write();
        let our_public = match &new_identity {
            Some(id) => id.as_ref().map(|i| i.public),
            None => t.identity.as_ref().map(|i| i.public),
        };
        let plan = Self::check(&t, update, our_public)?;

        // Make room for all of it first.
        let local = match &new_identity {
            Some(Some(id)) => id,
            Some(None) => &t.placeholder,
            None => t.local_identity(),
        };
        let mut fresh: Vec<PeerBox> = Vec::new();
        fresh
            .try_reserve_exact(plan.creates.len())
            .map_err(|_| Error::NoMemory)?;
        for key in &plan.creates {
            // apply_peer sets the preshared key and the rest. A random
            // first tag: a peer created in a freed slot must not hand out
            // the receiver indices its predecessor used.
            let mut tag = [0u8; 4];
            self.rng.fill(&mut tag);
            fresh.push(new_peer(local, *key, u32::from_le_bytes(tag))?);
        }
        let existing = t.peer_count();
        let mut changes = ConfigChanges::default();
        // A peer may be created and removed by the same update.
        let removable = existing + plan.creates.len();
        changes
            .removed
            .try_reserve_exact(removable)
            .map_err(|_| Error::NoMemory)?;
        changes
            .touched
            .try_reserve_exact(update.peers.len())
            .map_err(|_| Error::NoMemory)?;
        let slots_needed = plan.creates.len().saturating_sub(t.free_slots.len());
        t.peers
            .try_reserve(slots_needed)
            .map_err(|_| Error::NoMemory)?;
        t.free_slots
            .try_reserve(removable)
            .map_err(|_| Error::NoMemory)?;
        t.by_key.try_reserve(plan.creates.len())?;
        t.allowed.reserve_routes(plan.v4_routes, plan.v6_routes)?;

        // Nothing below allocates or fails.
        if update.replace_peers {
            for s in 0..t.peers.len() as u32 {
                if t.peer(s).is_some() {
                    Self::remove_slot(&mut t, s);
                    changes.removed.push(PeerId(s));
                }
            }
        }
        if let Some(id) = new_identity {
            self.set_identity(&mut t, id, &mut changes);
        }
        if let Some(port) = update.listen_port {
            if port != t.listen_port {
                t.bound_port = 0;
            }
            t.listen_port = port;
        }
        if let Some(c) = update.user_cookie {
            t.user_cookie = c;
        }
        let mut fresh = fresh.into_iter();
        for p in &update.peers {
            if Some(p.public_key) == our_public {
                continue;
            }
            Self::apply_peer(&mut t, now, p, &mut fresh, &mut changes);
        }
        Ok(changes)
    }

    /// Checks an update as `set_config` would, without applying it, and
    /// returns the listen port and user cookie it would leave: a host binds
    /// its sockets first, so that a port in use fails the whole request.
    pub fn check_config(&self, update: &DeviceUpdate) -> Result<(u16, u32)> {
        let our_public = match &update.private_key {
            Some(Some(k)) => Some(crypto::public_key(k)),
            _ => None,
        };
        let t = self.tables.read();
        let our_public = match &update.private_key {
            Some(_) => our_public,
            None => t.identity.as_ref().map(|i| i.public),
        };
        Self::check(&t, update, our_public)?;
        Ok((
            update.listen_port.unwrap_or(t.listen_port),
            update.user_cookie.unwrap_or(t.user_cookie),
        ))
    }

    /// The update's shape against the limits, then what depends on the
    /// current state: which peers it creates and how many routes it may
    /// add.
    #[inline(never)]
    fn check(t: &Tables, update: &DeviceUpdate, our_public: Option<Key>) -> Result<Plan> {
        update.validate(&t.limits)?;
        let mut plan = Plan::default();
        plan.creates
            .try_reserve_exact(update.peers.len())
            .map_err(|_| Error::NoMemory)?;
        // Counting each peer's routes takes a pass over the table, needed
        // only when one peer could end up over its limit.
        let per_peer = t.limits.max_allowed_ips_per_peer;
        let request_routes = update.peers.iter().map(|p| p.allowed_ips.len()).sum();
        let counts =
            if !update.replace_peers && t.allowed.len().saturating_add(request_routes) > per_peer {
                Some(Self::routes_per_slot(t)?)
            } else {
                None
            };
        // Replay the list against which peers exist, so that a key removed
        // and then listed again is created again, and a key listed twice
        // is created once: `creates` is in the order apply_peer meets them.
        // `present` holds 0 for a removed key, else 1 + the key's routes.
        let mut present = KeyMap::new(0);
        present.try_reserve(update.peers.len())?;
        let mut route_adds = 0usize;
        let base_peers = if update.replace_peers {
            0
        } else {
            t.peer_count()
        };
        // Peers once the update is applied: removals make room for
        // creations in the same request (wg syncconf at the limit).
        let mut after = base_peers;
        for p in &update.peers {
            if Some(p.public_key) == our_public {
                continue;
            }
            let prior = present.get(&p.public_key);
            let slot = if update.replace_peers {
                None
            } else {
                t.by_key.get(&p.public_key)
            };
            let exists = match prior {
                Some(v) => v >= 1,
                None => slot.is_some(),
            };
            if p.remove {
                if exists {
                    after = after.saturating_sub(1);
                }
                present.insert(p.public_key, 0)?;
                continue;
            }
            if !exists && p.update_only {
                continue;
            }
            if !exists {
                plan.creates.push(p.public_key);
                after += 1;
            }
            let mut routes = match (prior, slot, &counts) {
                (Some(v), _, _) => v.saturating_sub(1) as usize,
                (None, Some(s), Some(c)) => c.get(s as usize).copied().unwrap_or(0) as usize,
                _ => 0,
            };
            if p.replace_allowed_ips {
                routes = 0;
            }
            for a in p.allowed_ips.iter().filter(|a| !a.remove) {
                route_adds += 1;
                routes += 1;
                match a.prefix {
                    IpPrefix::V4(_, c) if c <= 32 => plan.v4_routes += 1,
                    IpPrefix::V6(_, c) if c <= 128 => plan.v6_routes += 1,
                    _ => return Err(Error::Invalid),
                }
            }
            // Counted before duplicates merge, as the total below is.
            if routes > per_peer {
                return Err(Error::Full);
            }
            present.insert(p.public_key, u32::try_from(routes + 1).unwrap_or(u32::MAX))?;
        }
        // Slots are taken before removals free theirs when an update
        // creates first, so the slot bound counts every creation.
        if after > t.limits.max_peers || base_peers + plan.creates.len() > MAX_SLOTS as usize {
            return Err(Error::Full);
        }
        let base_routes = if update.replace_peers {
            0
        } else {
            t.allowed.len()
        };
        if base_routes + route_adds > t.limits.max_allowed_ips_total {
            return Err(Error::Full);
        }
        Ok(plan)
    }

    /// How many routes each peer slot has.
    fn routes_per_slot(t: &Tables) -> Result<Vec<u32>> {
        let mut counts = Vec::new();
        counts
            .try_reserve_exact(t.peers.len())
            .map_err(|_| Error::NoMemory)?;
        counts.resize(t.peers.len(), 0u32);
        for (_, slot) in t.allowed.iter() {
            if let Some(c) = counts.get_mut(slot as usize) {
                *c = c.saturating_add(1);
            }
        }
        Ok(counts)
    }

    #[inline(never)]
    fn set_identity(
        &self,
        t: &mut Tables,
        id: Option<StaticIdentity>,
        changes: &mut ConfigChanges,
    ) {
        let same = match (&id, &t.identity) {
            (Some(a), Some(b)) => a.public == b.public,
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        t.identity = id;
        if let Some(public) = t.identity.as_ref().map(|i| i.public) {
            // A peer with our own public key makes no sense: FreeBSD and
            // Linux remove it.
            if let Some(s) = t.by_key.get(&public) {
                Self::remove_slot(t, s);
                changes.removed.push(PeerId(s));
            }
        }
        self.cookie
            .lock()
            .set_local_public(&t.local_identity().public);
        let Tables {
            peers,
            identity,
            placeholder,
            ..
        } = t;
        let local = identity.as_ref().unwrap_or(placeholder);
        for p in peers.iter().flatten() {
            let p = &p[0];
            let mut st = p.state.lock();
            st.handshake.set_local_identity(local);
            p.keys.read().forbid_sending();
        }
    }

    /// Frees a peer's slot. Cannot fail: `free_slots` has room reserved.
    fn remove_slot(t: &mut Tables, slot: u32) {
        if let Some(Some(p)) = t.peers.get_mut(slot as usize).map(|s| s.take()) {
            t.by_key.remove(&p[0].public);
            t.allowed.remove_value(slot);
            if t.free_slots.len() < t.free_slots.capacity() {
                t.free_slots.push(slot);
            }
            // Dropping the peer zeroizes its keys.
            drop(p);
        }
    }

    // Kept out of set_config so the kernel stack frame of a SIOCSWG stays
    // small (kbuild/audit.py caps frames at 2 KiB). Cannot fail: the peers
    // it creates come from `fresh`, and room for slots, keys and routes was
    // reserved.
    #[inline(never)]
    fn apply_peer(
        t: &mut Tables,
        now: Time,
        p: &PeerUpdate,
        fresh: &mut impl Iterator<Item = PeerBox>,
        changes: &mut ConfigChanges,
    ) {
        let existing = t.by_key.get(&p.public_key);
        if p.remove {
            if let Some(s) = existing {
                Self::remove_slot(t, s);
                changes.removed.push(PeerId(s));
            }
            return;
        }
        let slot = match existing {
            Some(s) => s,
            None if p.update_only => return,
            None => {
                let Some(peer) = fresh.next() else { return };
                let s = match t.free_slots.pop() {
                    Some(s) => {
                        if let Some(e) = t.peers.get_mut(s as usize) {
                            *e = Some(peer);
                        }
                        s
                    }
                    None => {
                        t.peers.push(Some(peer));
                        (t.peers.len() - 1) as u32
                    }
                };
                let inserted = t.by_key.insert(p.public_key, s);
                debug_assert!(inserted.is_ok(), "room reserved before");
                s
            }
        };
        if changes.touched.len() < changes.touched.capacity() {
            changes.touched.push(PeerId(slot));
        }
        if let Some(peer) = t.peer(slot) {
            let mut st = peer.state.lock();
            if let Some(psk) = p.preshared_key {
                st.handshake.set_psk(psk.filter(|k| *k != [0; 32]));
            }
            if let Some(e) = p.endpoint {
                st.endpoint = Some(e);
            }
            if let Some(ka) = p.persistent_keepalive {
                let was = st.persistent_keepalive;
                st.persistent_keepalive = ka;
                st.timers.set_persistent_keepalive(now.mono, ka);
                if ka != 0 && ka != was {
                    // As Linux: a newly set keepalive is sent right away,
                    // which also opens a NAT mapping.
                    st.flags |= WANT_KEEPALIVE;
                }
            }
        }
        if p.replace_allowed_ips {
            t.allowed.remove_value(slot);
        }
        for a in &p.allowed_ips {
            if a.remove {
                t.allowed.remove(&a.prefix, slot);
            } else {
                let inserted = t.allowed.insert(a.prefix, slot);
                debug_assert!(inserted.is_ok(), "room reserved before");
            }
        }
    }

    /// One peer's public information and counters (no preshared key).
    pub fn peer_info(&self, peer: PeerId) -> Option<PeerInfo> {
        let t = self.tables.read();
        let p = t.peer(peer.0)?;
        Self::info_of(&t, p, peer.0, false).ok()
    }

    fn info_of(t: &Tables, p: &Peer, slot: u32, privileged: bool) -> Result<PeerInfo> {
        Ok(Self::info_with(
            p,
            t.allowed.try_prefixes_of(slot)?,
            privileged,
        ))
    }

    fn info_with(p: &Peer, allowed_ips: Vec<IpPrefix>, privileged: bool) -> PeerInfo {
        let st = p.state.lock();
        PeerInfo {
            public_key: p.public,
            preshared_key: if privileged { st.handshake.psk() } else { None },
            endpoint: st.endpoint,
            last_handshake: {
                let t = st.last_handshake_real.since_epoch();
                (t.as_secs(), t.subsec_nanos())
            },
            rx_bytes: st.rx_bytes,
            tx_bytes: st.tx_bytes,
            persistent_keepalive: st.persistent_keepalive,
            allowed_ips,
        }
    }

    /// The configuration and statistics, as `wg show` wants them, peers in
    /// the order they were added (slots are reused). Secret keys only for
    /// `privileged` callers. NoMemory when the copy cannot be allocated.
    pub fn config(&self, privileged: bool) -> Result<DeviceInfo> {
        let t = self.tables.read();
        let mut peers = Vec::new();
        peers
            .try_reserve_exact(t.peer_count())
            .map_err(|_| Error::NoMemory)?;
        // Every peer's prefixes from one pass over the table: a pass per
        // peer made the configuration of 100k peers and 1M routes take
        // hours to read.
        let counts = Self::routes_per_slot(&t)?;
        let mut by_slot: Vec<Vec<IpPrefix>> = Vec::new();
        by_slot
            .try_reserve_exact(counts.len())
            .map_err(|_| Error::NoMemory)?;
        for &n in &counts {
            let mut v = Vec::new();
            v.try_reserve_exact(n as usize)
                .map_err(|_| Error::NoMemory)?;
            by_slot.push(v);
        }
        for (prefix, slot) in t.allowed.iter() {
            if let Some(v) = by_slot.get_mut(slot as usize) {
                if v.len() < v.capacity() {
                    v.push(prefix);
                }
            }
        }
        for (p, aips) in t.peers.iter().zip(by_slot) {
            if let Some(p) = p {
                let mut aips = aips;
                crate::sort::heapsort(&mut aips);
                peers.push(Self::info_with(&p[0], aips, privileged));
            }
        }
        Ok(DeviceInfo {
            private_key: if privileged {
                t.identity.as_ref().map(|i| i.private)
            } else {
                None
            },
            public_key: t.identity.as_ref().map(|i| i.public),
            listen_port: if t.listen_port != 0 {
                t.listen_port
            } else {
                t.bound_port
            },
            user_cookie: t.user_cookie,
            peers,
        })
    }
}
