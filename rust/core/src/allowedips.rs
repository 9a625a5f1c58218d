//! The allowed-IPs table: longest-prefix match from an address to a peer.
//!
//! Outbound it picks the peer for a destination; inbound it checks that a
//! decrypted packet's source belongs to the peer that sent it. Each family is
//! a path-compressed binary trie, as in Linux's allowedips.c: a node exists
//! only for a route or for a fork where two routes diverge, so a route costs
//! at most two nodes and a lookup visits at most one node per prefix bit.
//!
//! Nodes live in a `Vec` arena linked by `u32` indices with a free list,
//! which keeps them small, lets growth report allocation failure instead of
//! aborting, and needs no unsafe code or recursion (the kernel stack is
//! small and a v6 path can be 129 nodes deep).

use alloc::vec::Vec;

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpPrefix {
    V4([u8; 4], u8),
    V6([u8; 16], u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpAddrBytes {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl IpPrefix {
    /// Err(Error::Invalid) if cidr > 32. Host bits are masked off, as
    /// FreeBSD and wg(8) do, so `10.1.2.3/8` is `10.0.0.0/8`.
    pub fn new_v4(addr: [u8; 4], cidr: u8) -> Result<Self> {
        let key = V4Key::from_bytes(addr);
        if cidr > V4Key::BITS {
            return Err(Error::Invalid);
        }
        Ok(Self::V4(key.mask(cidr).to_bytes(), cidr))
    }

    /// Err(Error::Invalid) if cidr > 128; host bits are masked off.
    pub fn new_v6(addr: [u8; 16], cidr: u8) -> Result<Self> {
        let key = V6Key::from_bytes(addr);
        if cidr > V6Key::BITS {
            return Err(Error::Invalid);
        }
        Ok(Self::V6(key.mask(cidr).to_bytes(), cidr))
    }

    pub fn cidr(&self) -> u8 {
        match *self {
            Self::V4(_, c) | Self::V6(_, c) => c,
        }
    }

    /// False for the other family, and for a prefix built by hand with a
    /// cidr too long for its family: such a prefix covers nothing.
    pub fn contains_addr(&self, addr: &IpAddrBytes) -> bool {
        match (*self, *addr) {
            (Self::V4(p, cidr), IpAddrBytes::V4(a)) => {
                cidr <= V4Key::BITS && V4Key::from_bytes(p).matches(V4Key::from_bytes(a), cidr)
            }
            (Self::V6(p, cidr), IpAddrBytes::V6(a)) => {
                cidr <= V6Key::BITS && V6Key::from_bytes(p).matches(V6Key::from_bytes(a), cidr)
            }
            _ => false,
        }
    }
}

/// A trie key: an address as a big-endian bit string.
trait Key: Copy + Eq {
    const BITS: u8;
    /// Bit `i` counted from the most significant; false past the end.
    fn bit(self, i: u8) -> bool;
    /// Keeps the first `cidr` bits.
    fn mask(self, cidr: u8) -> Self;
    /// How many leading bits the two keys share.
    fn common_bits(self, other: Self) -> u8;

    fn matches(self, addr: Self, cidr: u8) -> bool {
        self.common_bits(addr) >= cidr
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct V4Key(u32);

impl V4Key {
    fn from_bytes(b: [u8; 4]) -> Self {
        Self(u32::from_be_bytes(b))
    }
    fn to_bytes(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

impl Key for V4Key {
    const BITS: u8 = 32;
    fn bit(self, i: u8) -> bool {
        self.0
            .checked_shl(u32::from(i))
            .is_some_and(|v| v & (1 << 31) != 0)
    }
    fn mask(self, cidr: u8) -> Self {
        // A shift by the full width is out of range: /0 keeps nothing.
        let keep = u32::MAX
            .checked_shl(u32::from(Self::BITS.saturating_sub(cidr)))
            .unwrap_or(0);
        Self(self.0 & keep)
    }
    fn common_bits(self, other: Self) -> u8 {
        (self.0 ^ other.0).leading_zeros() as u8
    }
}

/// Stored as words rather than a `u128`, whose 16-byte alignment would pad
/// every node by 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
struct V6Key([u32; 4]);

impl V6Key {
    fn from_bytes(b: [u8; 16]) -> Self {
        Self::from_u128(u128::from_be_bytes(b))
    }
    fn to_bytes(self) -> [u8; 16] {
        self.to_u128().to_be_bytes()
    }
    fn to_u128(self) -> u128 {
        let [a, b, c, d] = self.0.map(u128::from);
        (a << 96) | (b << 64) | (c << 32) | d
    }
    fn from_u128(v: u128) -> Self {
        Self([
            (v >> 96) as u32,
            (v >> 64) as u32,
            (v >> 32) as u32,
            v as u32,
        ])
    }
}

impl Key for V6Key {
    const BITS: u8 = 128;
    fn bit(self, i: u8) -> bool {
        self.to_u128()
            .checked_shl(u32::from(i))
            .is_some_and(|v| v & (1 << 127) != 0)
    }
    fn mask(self, cidr: u8) -> Self {
        let keep = u128::MAX
            .checked_shl(u32::from(Self::BITS.saturating_sub(cidr)))
            .unwrap_or(0);
        Self::from_u128(self.to_u128() & keep)
    }
    fn common_bits(self, other: Self) -> u8 {
        (self.to_u128() ^ other.to_u128()).leading_zeros() as u8
    }
}

const NIL: u32 = u32::MAX;
/// Deepest possible path: cidr strictly grows along it, from 0 to 128.
const MAX_DEPTH: usize = V6Key::BITS as usize + 1;

struct Node<K, V> {
    /// Masked to `cidr` bits.
    key: K,
    /// Children by the bit just past `cidr`; on the free list, `children[0]`
    /// links to the next free node.
    children: [u32; 2],
    cidr: u8,
    /// None for a fork that exists only to join two subtrees, and for a
    /// free node (so walking the arena finds exactly the routes).
    value: Option<V>,
}

/// Where a node hangs: the root slot or a child slot of another node.
#[derive(Clone, Copy)]
enum Link {
    Root,
    Child(u32, bool),
}

struct Trie<K, V> {
    nodes: Vec<Node<K, V>>,
    root: u32,
    free: u32,
    free_count: usize,
    routes: usize,
}

impl<K: Key, V: Copy + Eq> Trie<K, V> {
    const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            root: NIL,
            free: NIL,
            free_count: 0,
            routes: 0,
        }
    }

    fn node(&self, idx: u32) -> Option<&Node<K, V>> {
        self.nodes.get(idx as usize)
    }

    fn get(&self, link: Link) -> u32 {
        match link {
            Link::Root => self.root,
            Link::Child(p, side) => self.node(p).map_or(NIL, |n| n.children[usize::from(side)]),
        }
    }

    fn set(&mut self, link: Link, idx: u32) {
        match link {
            Link::Root => self.root = idx,
            Link::Child(p, side) => {
                if let Some(n) = self.nodes.get_mut(p as usize) {
                    n.children[usize::from(side)] = idx;
                }
            }
        }
    }

    /// Makes room for `n` more nodes up front, so an insert either fails
    /// before touching the trie or completes.
    fn reserve(&mut self, n: usize) -> Result<()> {
        let pushes = n.saturating_sub(self.free_count);
        // Indices must stay below NIL.
        if self.nodes.len() + pushes > NIL as usize {
            return Err(Error::TooBig);
        }
        self.nodes.try_reserve(pushes).map_err(|_| Error::NoMemory)
    }

    /// Only after `reserve`: then it neither allocates nor fails.
    fn alloc(&mut self, node: Node<K, V>) -> u32 {
        let idx = self.free;
        if let Some(slot) = self.nodes.get_mut(idx as usize) {
            self.free = slot.children[0];
            self.free_count -= 1;
            *slot = node;
            idx
        } else {
            let idx = self.nodes.len() as u32;
            self.nodes.push(node);
            idx
        }
    }

    fn release(&mut self, idx: u32) {
        if let Some(n) = self.nodes.get_mut(idx as usize) {
            n.value = None;
            n.children = [self.free, NIL];
            self.free = idx;
            self.free_count += 1;
        }
    }

    fn lookup(&self, addr: K) -> Option<V> {
        let mut best = None;
        let mut idx = self.root;
        while let Some(n) = self.node(idx) {
            if !n.key.matches(addr, n.cidr) {
                break;
            }
            if n.value.is_some() {
                best = n.value;
            }
            if n.cidr >= K::BITS {
                break;
            }
            idx = n.children[usize::from(addr.bit(n.cidr))];
        }
        best
    }

    /// `key` must already be masked to `cidr <= K::BITS`.
    fn insert(&mut self, key: K, cidr: u8, value: V) -> Result<()> {
        // At most a route node and a fork.
        self.reserve(2)?;
        let leaf = Node {
            key,
            children: [NIL; 2],
            cidr,
            value: Some(value),
        };
        let mut link = Link::Root;
        loop {
            let idx = self.get(link);
            let Some(n) = self.nodes.get_mut(idx as usize) else {
                let new = self.alloc(leaf);
                self.set(link, new);
                self.routes += 1;
                return Ok(());
            };
            let common = key.common_bits(n.key).min(cidr).min(n.cidr);
            if common == n.cidr {
                if n.cidr == cidr {
                    // Same prefix: a peer's route moves to the new value.
                    if n.value.is_none() {
                        self.routes += 1;
                    }
                    n.value = Some(value);
                    return Ok(());
                }
                link = Link::Child(idx, key.bit(n.cidr));
                continue;
            }
            let old_key = n.key;
            let new = if common == cidr {
                // The new route covers this subtree and goes above it.
                let mut above = leaf;
                above.children[usize::from(old_key.bit(cidr))] = idx;
                self.alloc(above)
            } else {
                let side = key.bit(common);
                let new_leaf = self.alloc(leaf);
                let mut children = [NIL; 2];
                children[usize::from(side)] = new_leaf;
                children[usize::from(!side)] = idx;
                self.alloc(Node {
                    key: key.mask(common),
                    children,
                    cidr: common,
                    value: None,
                })
            };
            self.set(link, new);
            self.routes += 1;
            return Ok(());
        }
    }

    fn remove(&mut self, key: K, cidr: u8, value: V) -> bool {
        let mut parent = None;
        let mut link = Link::Root;
        loop {
            let idx = self.get(link);
            let Some(n) = self.nodes.get_mut(idx as usize) else {
                return false;
            };
            if n.cidr > cidr || !n.key.matches(key, n.cidr) {
                return false;
            }
            if n.cidr == cidr {
                if n.value != Some(value) {
                    return false;
                }
                n.value = None;
                self.routes -= 1;
                self.prune(link);
                // Losing a child can leave the parent a one-armed fork; the
                // grandparent keeps its child count, so nothing further up
                // can change.
                if let Some(p) = parent {
                    self.prune(p);
                }
                return true;
            }
            parent = Some(link);
            link = Link::Child(idx, key.bit(n.cidr));
        }
    }

    /// Restores the invariant that a node without a route forks: a
    /// routeless node with no child goes away, and one with a single child
    /// is replaced by that child.
    fn prune(&mut self, link: Link) {
        let idx = self.get(link);
        let Some(n) = self.node(idx) else {
            return;
        };
        if n.value.is_some() {
            return;
        }
        let replacement = match n.children {
            [NIL, NIL] => NIL,
            [only, NIL] | [NIL, only] => only,
            _ => return,
        };
        self.set(link, replacement);
        self.release(idx);
    }

    fn remove_value(&mut self, value: V) {
        let count = self.routes().filter(|r| r.2 == value).count();
        if count == 0 {
            return;
        }
        // Removing route by route re-walks from the root, a cache miss per
        // level; once the value holds a good share of the table, one pass
        // over the whole trie is cheaper.
        if count.saturating_mul(16) > self.routes {
            self.remove_value_in_one_pass(value);
        } else {
            self.remove_value_route_by_route(value);
        }
    }

    fn remove_value_in_one_pass(&mut self, value: V) {
        for n in &mut self.nodes {
            if n.value == Some(value) {
                n.value = None;
                self.routes -= 1;
            }
        }
        self.prune_all();
    }

    fn remove_value_route_by_route(&mut self, value: V) {
        // Removal only relinks and frees nodes, never moves them, so
        // indices stay valid while the arena is walked.
        for i in 0..self.nodes.len() {
            if let Some(&Node {
                key,
                cidr,
                value: Some(v),
                ..
            }) = self.nodes.get(i)
            {
                if v == value {
                    self.remove(key, cidr, value);
                }
            }
        }
    }

    /// One post-order pass pruning every node, so children are settled
    /// before their parent is judged: linear, where removing routes one by
    /// one would re-walk from the root each time.
    fn prune_all(&mut self) {
        // (node, how many of its children have been descended into)
        let mut stack = [(NIL, 0u8); MAX_DEPTH];
        let mut depth: usize = 0;
        if self.root != NIL {
            stack[0] = (self.root, 0);
            depth = 1;
        }
        while let Some(top) = depth.checked_sub(1) {
            let Some(&(idx, visited)) = stack.get(top) else {
                break;
            };
            if visited < 2 {
                if let Some(entry) = stack.get_mut(top) {
                    entry.1 += 1;
                }
                let child = self.get(Link::Child(idx, visited == 1));
                if child != NIL {
                    if let Some(entry) = stack.get_mut(depth) {
                        *entry = (child, 0);
                        depth += 1;
                    }
                }
                continue;
            }
            depth = top;
            let link = match top.checked_sub(1).and_then(|p| stack.get(p)) {
                // The parent's count says which child this was.
                Some(&(parent, seen)) => Link::Child(parent, seen == 2),
                None => Link::Root,
            };
            self.prune(link);
        }
    }

    fn routes(&self) -> impl Iterator<Item = (K, u8, V)> + '_ {
        self.nodes
            .iter()
            .filter_map(|n| n.value.map(|v| (n.key, n.cidr, v)))
    }

    fn memory_bytes(&self) -> usize {
        self.nodes.capacity() * core::mem::size_of::<Node<K, V>>()
    }
}

/// Longest-prefix-match table from IPv4 and IPv6 prefixes to a value,
/// normally a peer id.
pub struct AllowedIps<V> {
    v4: Trie<V4Key, V>,
    v6: Trie<V6Key, V>,
}

impl<V: Copy + Eq> Default for AllowedIps<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy + Eq> AllowedIps<V> {
    pub const fn new() -> Self {
        Self {
            v4: Trie::new(),
            v6: Trie::new(),
        }
    }

    /// Insert or replace: a prefix maps to exactly one value, so inserting
    /// an existing prefix for another value moves it (as wg does).
    /// Host bits are masked off. Err(Error::Invalid) for a cidr too long for
    /// its family, Err(Error::NoMemory) if the allocator refuses; on error
    /// the table is unchanged.
    pub fn insert(&mut self, prefix: IpPrefix, value: V) -> Result<()> {
        match prefix {
            IpPrefix::V4(a, cidr) if cidr <= V4Key::BITS => {
                self.v4.insert(V4Key::from_bytes(a).mask(cidr), cidr, value)
            }
            IpPrefix::V6(a, cidr) if cidr <= V6Key::BITS => {
                self.v6.insert(V6Key::from_bytes(a).mask(cidr), cidr, value)
            }
            _ => Err(Error::Invalid),
        }
    }

    /// Removes this exact prefix (host bits ignored) if it maps to `value`;
    /// returns whether something was removed.
    pub fn remove(&mut self, prefix: &IpPrefix, value: V) -> bool {
        match *prefix {
            IpPrefix::V4(a, cidr) if cidr <= V4Key::BITS => {
                self.v4.remove(V4Key::from_bytes(a).mask(cidr), cidr, value)
            }
            IpPrefix::V6(a, cidr) if cidr <= V6Key::BITS => {
                self.v6.remove(V6Key::from_bytes(a).mask(cidr), cidr, value)
            }
            _ => false,
        }
    }

    /// Makes room for this many more routes of each family (two nodes a
    /// route at most), so the inserts that follow cannot fail for memory:
    /// configuration reserves everything before it changes anything.
    pub fn reserve_routes(&mut self, v4: usize, v6: usize) -> Result<()> {
        self.v4.reserve(v4.saturating_mul(2))?;
        self.v6.reserve(v6.saturating_mul(2))
    }

    /// Removes every prefix of one value: a scan of the table, then either a
    /// walk from the root per removed route or one pass over the whole
    /// trie, whichever is cheaper. Never quadratic.
    pub fn remove_value(&mut self, value: V) {
        self.v4.remove_value(value);
        self.v6.remove_value(value);
    }

    /// Longest prefix match.
    #[must_use]
    pub fn lookup(&self, addr: &IpAddrBytes) -> Option<V> {
        match *addr {
            IpAddrBytes::V4(a) => self.lookup_v4(a),
            IpAddrBytes::V6(a) => self.lookup_v6(a),
        }
    }

    #[must_use]
    pub fn lookup_v4(&self, addr: [u8; 4]) -> Option<V> {
        self.v4.lookup(V4Key::from_bytes(addr))
    }

    #[must_use]
    pub fn lookup_v6(&self, addr: [u8; 16]) -> Option<V> {
        self.v6.lookup(V6Key::from_bytes(addr))
    }

    /// All prefixes of one value, v4 then v6, each ascending; for `wg show`.
    /// Scans the whole table. Aborts like any `Vec` if the allocator
    /// refuses; [`Self::try_prefixes_of`] reports that instead.
    pub fn prefixes_of(&self, value: V) -> Vec<IpPrefix> {
        let mut out: Vec<IpPrefix> = self
            .iter()
            .filter(|&(_, v)| v == value)
            .map(|(p, _)| p)
            .collect();
        crate::sort::heapsort(&mut out);
        out
    }

    /// As [`Self::prefixes_of`], but Err(Error::NoMemory) if the result
    /// cannot be allocated.
    pub fn try_prefixes_of(&self, value: V) -> Result<Vec<IpPrefix>> {
        let count = self.iter().filter(|&(_, v)| v == value).count();
        let mut out = Vec::new();
        out.try_reserve_exact(count).map_err(|_| Error::NoMemory)?;
        out.extend(self.iter().filter(|&(_, v)| v == value).map(|(p, _)| p));
        crate::sort::heapsort(&mut out);
        Ok(out)
    }

    /// Every route, v4 before v6, otherwise in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (IpPrefix, V)> + '_ {
        let v4 = self
            .v4
            .routes()
            .map(|(k, c, v)| (IpPrefix::V4(k.to_bytes(), c), v));
        let v6 = self
            .v6
            .routes()
            .map(|(k, c, v)| (IpPrefix::V6(k.to_bytes(), c), v));
        v4.chain(v6)
    }

    pub fn len(&self) -> usize {
        self.v4.routes + self.v6.routes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every route and gives the memory back.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Approximate heap use (arena capacity times node size), for
    /// benchmarks to report memory per route.
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory_bytes() + self.v6.memory_bytes()
    }
}

#[cfg(test)]
mod tests;
