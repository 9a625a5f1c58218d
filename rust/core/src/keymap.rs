//! Peers by public key: an open-addressing hash table whose growth is
//! fallible and can be reserved ahead, so configuration can make room for
//! every new peer before it changes anything (and before it holds a lock
//! under which the host will not wait for memory).

use crate::{Error, Result};
use alloc::vec::Vec;

pub type Key = [u8; 32];

pub struct KeyMap {
    slots: Vec<Option<(Key, u32)>>,
    len: usize,
    seed: u64,
}

impl KeyMap {
    /// `seed` keys the hash, so a crafted set of public keys cannot make
    /// every lookup collide.
    pub fn new(seed: u64) -> Self {
        KeyMap {
            slots: Vec::new(),
            len: 0,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn hash(&self, key: &Key) -> usize {
        let mut h = self.seed;
        for chunk in key.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h ^= h >> 29;
        }
        h as usize
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Makes room for `additional` more keys (load kept at most a half).
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        let want = self
            .len
            .checked_add(additional)
            .and_then(|n| n.checked_mul(2))
            .ok_or(Error::TooBig)?;
        if want <= self.slots.len() {
            return Ok(());
        }
        let cap = want
            .max(8)
            .checked_next_power_of_two()
            .ok_or(Error::TooBig)?;
        let mut slots = Vec::new();
        slots.try_reserve_exact(cap).map_err(|_| Error::NoMemory)?;
        slots.resize(cap, None);
        let old = core::mem::replace(&mut self.slots, slots);
        for (k, v) in old.into_iter().flatten() {
            self.place(k, v);
        }
        Ok(())
    }

    /// Only with room (a free slot exists): linear probing.
    fn place(&mut self, key: Key, value: u32) {
        let mask = self.mask();
        let mut i = self.hash(&key) & mask;
        while let Some(Some(_)) = self.slots.get(i) {
            i = (i + 1) & mask;
        }
        if let Some(s) = self.slots.get_mut(i) {
            *s = Some((key, value));
        }
    }

    fn find(&self, key: &Key) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = self.hash(key) & mask;
        loop {
            match self.slots.get(i)? {
                Some((k, _)) if k == key => return Some(i),
                Some(_) => i = (i + 1) & mask,
                None => return None,
            }
        }
    }

    pub fn get(&self, key: &Key) -> Option<u32> {
        let i = self.find(key)?;
        self.slots.get(i)?.map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &Key) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces. Fails only if room could not be made; after a
    /// `try_reserve` that covers it, it cannot fail.
    pub fn insert(&mut self, key: Key, value: u32) -> Result<()> {
        if let Some(i) = self.find(&key) {
            if let Some(s) = self.slots.get_mut(i) {
                *s = Some((key, value));
            }
            return Ok(());
        }
        self.try_reserve(1)?;
        self.place(key, value);
        self.len += 1;
        Ok(())
    }

    /// Removes a key, shifting later entries of its probe run back so that
    /// no tombstones accumulate.
    pub fn remove(&mut self, key: &Key) -> Option<u32> {
        let mut hole = self.find(key)?;
        let value = self.slots.get_mut(hole)?.take().map(|(_, v)| v);
        self.len -= 1;
        let mask = self.mask();
        let mut i = (hole + 1) & mask;
        while let Some(Some((k, _))) = self.slots.get(i) {
            let home = self.hash(k) & mask;
            // Move the entry back if its home is not in (hole, i].
            let between = if hole <= i {
                hole < home && home <= i
            } else {
                hole < home || home <= i
            };
            if !between {
                let moved = self.slots.get_mut(i).and_then(Option::take);
                if let Some(s) = self.slots.get_mut(hole) {
                    *s = moved;
                }
                hole = i;
            }
            i = (i + 1) & mask;
        }
        value
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, u32)> + '_ {
        self.slots.iter().flatten().map(|(k, v)| (k, *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn key(n: u8, m: u8) -> Key {
        let mut k = [0u8; 32];
        k[0] = n;
        k[9] = m;
        k
    }

    proptest! {
        /// Against a BTreeMap, with keys from a small space so that
        /// probe runs collide and wrap.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec((0u8..3, 0u8..24, 0u8..3, any::<u32>()), 0..400)) {
            let mut m = KeyMap::new(7);
            let mut model = BTreeMap::new();
            for (op, a, b, v) in ops {
                let k = key(a, b);
                match op {
                    0 => { m.insert(k, v).unwrap(); model.insert(k, v); }
                    1 => { prop_assert_eq!(m.remove(&k), model.remove(&k)); }
                    _ => { prop_assert_eq!(m.get(&k), model.get(&k).copied()); }
                }
                prop_assert_eq!(m.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(m.get(k), Some(*v));
            }
            prop_assert_eq!(m.iter().count(), model.len());
        }
    }

    #[test]
    fn reserve_then_insert_does_not_grow() {
        let mut m = KeyMap::new(1);
        m.try_reserve(100).unwrap();
        let cap = m.slots.len();
        for i in 0..100u8 {
            m.insert(key(i, i), i as u32).unwrap();
        }
        assert_eq!(m.slots.len(), cap);
        assert_eq!(m.len(), 100);
    }
}
