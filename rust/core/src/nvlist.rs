//! libnv's packed nvlist format, the payload of FreeBSD's `SIOCSWG` and
//! `SIOCGWG` ioctls.
//!
//! [`unpack`] applies the checks of libnv's `nvlist_unpack()` (FreeBSD's
//! `sys/contrib/libnv`), so that what this module accepts is what a FreeBSD
//! kernel accepts, plus hard limits so that untrusted bytes cannot make the
//! kernel allocate without bound. [`pack`] produces the bytes libnv's
//! `nvlist_pack()` produces for the same list, so that wg(8) reads our
//! answers exactly as it reads FreeBSD's.
//!
//! The format, all of it without alignment or padding:
//! - a list is a 19-byte header `{u8 magic 0x6c, u8 version 0, u8 flags,
//!   u64 descriptors, u64 size}` followed by its pairs; `size` counts the
//!   bytes from the end of that header to the end of the *whole buffer*;
//! - a pair is a 19-byte header `{u8 type, u16 namesize, u64 datasize,
//!   u64 nitems}`, the NUL-terminated name, then the data;
//! - a nested list is its pair (datasize = the child's packed size), the
//!   child's header and pairs, then a type-255 ("up") terminator pair;
//! - an array of lists is its pair (datasize 0, nitems N), then for each
//!   element its header, its pairs and a type-254 ("next") terminator pair;
//! - multi-byte fields are in the sender's byte order, which the header's
//!   big-endian flag (0x80) names.
//!
//! Where this unpacker deliberately differs from libnv (all on inputs no
//! libnv packer produces):
//! - a header's version must be 0 (libnv ignores it);
//! - terminators must match what they close (libnv lets a 255 close an array
//!   element, leaving the later elements empty, and a 254 close a nested
//!   list), and every list must be closed when the buffer ends (libnv
//!   returns a list cut short);
//! - bool arrays must hold only 0 and 1 (libnv copies any byte into a C
//!   `bool`);
//! - `nitems` follows the big-endian flag like every other field (libnv
//!   never swaps it, so it cannot read arrays packed on the other
//!   endianness);
//! - a string array must split into exactly `nitems` NUL-terminated strings
//!   (libnv's walk can read past the data when it does not).
//!
//! Descriptors (types 6 and 12) only make sense over a UNIX socket, and the
//! kernel's libnv has no code for them, so they are always rejected.

use alloc::vec::Vec;
use core::cmp::Ordering;

use zeroize::Zeroize;

use crate::{Error, Result};

pub const NV_TYPE_NULL: u8 = 1;
pub const NV_TYPE_BOOL: u8 = 2;
pub const NV_TYPE_NUMBER: u8 = 3;
pub const NV_TYPE_STRING: u8 = 4;
pub const NV_TYPE_NVLIST: u8 = 5;
pub const NV_TYPE_DESCRIPTOR: u8 = 6;
pub const NV_TYPE_BINARY: u8 = 7;
pub const NV_TYPE_BOOL_ARRAY: u8 = 8;
pub const NV_TYPE_NUMBER_ARRAY: u8 = 9;
pub const NV_TYPE_STRING_ARRAY: u8 = 10;
pub const NV_TYPE_NVLIST_ARRAY: u8 = 11;
pub const NV_TYPE_DESCRIPTOR_ARRAY: u8 = 12;
pub const NV_TYPE_NVLIST_ARRAY_NEXT: u8 = 254;
pub const NV_TYPE_NVLIST_UP: u8 = 255;

/// Look names up without regard to ASCII case.
pub const NV_FLAG_IGNORE_CASE: u8 = 0x01;
/// Allow several pairs with the same name.
pub const NV_FLAG_NO_UNIQUE: u8 = 0x02;
const NV_FLAG_PUBLIC_MASK: u8 = NV_FLAG_IGNORE_CASE | NV_FLAG_NO_UNIQUE;
const NV_FLAG_BIG_ENDIAN: u8 = 0x80;

const NVLIST_HEADER_MAGIC: u8 = 0x6c;
const NVLIST_HEADER_VERSION: u8 = 0;
pub const NVLIST_HEADER_SIZE: usize = 19;
pub const NVPAIR_HEADER_SIZE: usize = 19;
/// The longest name including its NUL, as libnv's `NV_NAME_MAX`.
pub const NV_NAME_MAX: usize = 2048;
const TERMINATOR_SIZE: usize = NVPAIR_HEADER_SIZE + 1;

/// libnv packs in the host's byte order and marks big-endian buffers; doing
/// the same keeps us byte-identical to libnv on either kind of host.
const HOST_BIG_ENDIAN: bool = cfg!(target_endian = "big");

/// One value of a pair. Strings are bytes without their NUL: libnv's are C
/// strings, not necessarily UTF-8. Debug output shows a binary's length
/// only: in a WireGuard configuration binaries are keys.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(u64),
    String(Vec<u8>),
    Nvlist(Nvlist),
    Binary(Vec<u8>),
    BoolArray(Vec<bool>),
    NumberArray(Vec<u64>),
    StringArray(Vec<Vec<u8>>),
    NvlistArray(Vec<Nvlist>),
}

impl core::fmt::Debug for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Number(n) => f.debug_tuple("Number").field(n).finish(),
            Value::String(s) => f.debug_tuple("String").field(s).finish(),
            Value::Nvlist(l) => f.debug_tuple("Nvlist").field(l).finish(),
            Value::Binary(b) => write!(f, "Binary(<{} bytes>)", b.len()),
            Value::BoolArray(a) => f.debug_tuple("BoolArray").field(a).finish(),
            Value::NumberArray(a) => f.debug_tuple("NumberArray").field(a).finish(),
            Value::StringArray(a) => f.debug_tuple("StringArray").field(a).finish(),
            Value::NvlistArray(a) => f.debug_tuple("NvlistArray").field(a).finish(),
        }
    }
}

impl Value {
    /// The libnv type code (`NV_TYPE_*`).
    pub fn nv_type(&self) -> u8 {
        match self {
            Value::Null => NV_TYPE_NULL,
            Value::Bool(_) => NV_TYPE_BOOL,
            Value::Number(_) => NV_TYPE_NUMBER,
            Value::String(_) => NV_TYPE_STRING,
            Value::Nvlist(_) => NV_TYPE_NVLIST,
            Value::Binary(_) => NV_TYPE_BINARY,
            Value::BoolArray(_) => NV_TYPE_BOOL_ARRAY,
            Value::NumberArray(_) => NV_TYPE_NUMBER_ARRAY,
            Value::StringArray(_) => NV_TYPE_STRING_ARRAY,
            Value::NvlistArray(_) => NV_TYPE_NVLIST_ARRAY,
        }
    }
}

/// A list of name/value pairs in the order they were added or unpacked.
/// `flags` holds the public flags (`NV_FLAG_IGNORE_CASE`,
/// `NV_FLAG_NO_UNIQUE`). Names are bytes without their NUL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nvlist {
    pub flags: u8,
    pub pairs: Vec<(Vec<u8>, Value)>,
}

impl Drop for Nvlist {
    // Binaries carry private and preshared keys; do not leave them in freed
    // memory. Nested lists wipe their own.
    fn drop(&mut self) {
        for (_, v) in self.pairs.iter_mut() {
            if let Value::Binary(b) = v {
                b.zeroize();
            }
        }
    }
}

/// Grows `v` by one without aborting when the allocator says no: in the
/// kernel, an oversized request must fail, not take the machine down.
pub(crate) fn try_push<T>(v: &mut Vec<T>, x: T) -> Result<()> {
    v.try_reserve(1).map_err(|_| Error::NoMemory)?;
    v.push(x);
    Ok(())
}

pub(crate) fn try_copy<T: Copy>(s: &[T]) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(s.len()).map_err(|_| Error::NoMemory)?;
    v.extend_from_slice(s);
    Ok(v)
}

fn cmp_names(a: &[u8], b: &[u8], ignore_case: bool) -> Ordering {
    if ignore_case {
        a.iter()
            .map(u8::to_ascii_lowercase)
            .cmp(b.iter().map(u8::to_ascii_lowercase))
    } else {
        a.cmp(b)
    }
}

impl Nvlist {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_flags(flags: u8) -> Self {
        Nvlist {
            flags,
            pairs: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Value)> {
        self.pairs.iter().map(|(n, v)| (n.as_slice(), v))
    }

    /// Whether a stored name is `name` under this list's case rule, as
    /// libnv's lookups decide (`strcasecmp` with `NV_FLAG_IGNORE_CASE`).
    pub fn name_is(&self, stored: &[u8], name: &str) -> bool {
        cmp_names(
            stored,
            name.as_bytes(),
            self.flags & NV_FLAG_IGNORE_CASE != 0,
        ) == Ordering::Equal
    }

    /// The first pair called `name`, whatever its type.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.pairs
            .iter()
            .find(|(n, _)| self.name_is(n, name))
            .map(|(_, v)| v)
    }

    /// Like libnv's `nvlist_get_*`: the first pair with this name *and* this
    /// type, which matters only in `NV_FLAG_NO_UNIQUE` lists.
    fn find<'a, T: ?Sized>(
        &'a self,
        name: &str,
        pick: impl Fn(&'a Value) -> Option<&'a T>,
    ) -> Option<&'a T> {
        self.pairs
            .iter()
            .filter(|(n, _)| self.name_is(n, name))
            .find_map(|(_, v)| pick(v))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn contains_type(&self, name: &str, nv_type: u8) -> bool {
        self.pairs
            .iter()
            .any(|(n, v)| v.nv_type() == nv_type && self.name_is(n, name))
    }

    pub fn get_null(&self, name: &str) -> bool {
        self.contains_type(name, NV_TYPE_NULL)
    }

    pub fn get_bool(&self, name: &str) -> Option<bool> {
        self.find(name, |v| match v {
            Value::Bool(b) => Some(b),
            _ => None,
        })
        .copied()
    }

    pub fn get_number(&self, name: &str) -> Option<u64> {
        self.find(name, |v| match v {
            Value::Number(n) => Some(n),
            _ => None,
        })
        .copied()
    }

    pub fn get_string(&self, name: &str) -> Option<&[u8]> {
        self.find(name, |v| match v {
            Value::String(s) => Some(s.as_slice()),
            _ => None,
        })
    }

    pub fn get_nvlist(&self, name: &str) -> Option<&Nvlist> {
        self.find(name, |v| match v {
            Value::Nvlist(l) => Some(l),
            _ => None,
        })
    }

    pub fn get_binary(&self, name: &str) -> Option<&[u8]> {
        self.find(name, |v| match v {
            Value::Binary(b) => Some(b.as_slice()),
            _ => None,
        })
    }

    pub fn get_bool_array(&self, name: &str) -> Option<&[bool]> {
        self.find(name, |v| match v {
            Value::BoolArray(a) => Some(a.as_slice()),
            _ => None,
        })
    }

    pub fn get_number_array(&self, name: &str) -> Option<&[u64]> {
        self.find(name, |v| match v {
            Value::NumberArray(a) => Some(a.as_slice()),
            _ => None,
        })
    }

    pub fn get_string_array(&self, name: &str) -> Option<&[Vec<u8>]> {
        self.find(name, |v| match v {
            Value::StringArray(a) => Some(a.as_slice()),
            _ => None,
        })
    }

    pub fn get_nvlist_array(&self, name: &str) -> Option<&[Nvlist]> {
        self.find(name, |v| match v {
            Value::NvlistArray(a) => Some(a.as_slice()),
            _ => None,
        })
    }

    /// Appends a pair. Like libnv's `nvlist_move_*`, but names and values
    /// are only checked by [`pack`].
    pub fn push(&mut self, name: &[u8], value: Value) -> Result<()> {
        let name = try_copy(name)?;
        try_push(&mut self.pairs, (name, value))
    }

    pub fn add_null(&mut self, name: &str) -> Result<()> {
        self.push(name.as_bytes(), Value::Null)
    }

    pub fn add_bool(&mut self, name: &str, value: bool) -> Result<()> {
        self.push(name.as_bytes(), Value::Bool(value))
    }

    pub fn add_number(&mut self, name: &str, value: u64) -> Result<()> {
        self.push(name.as_bytes(), Value::Number(value))
    }

    pub fn add_string(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let v = try_copy(value)?;
        self.push(name.as_bytes(), Value::String(v))
    }

    pub fn add_nvlist(&mut self, name: &str, value: Nvlist) -> Result<()> {
        self.push(name.as_bytes(), Value::Nvlist(value))
    }

    pub fn add_binary(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let v = try_copy(value)?;
        self.push(name.as_bytes(), Value::Binary(v))
    }

    pub fn add_bool_array(&mut self, name: &str, value: &[bool]) -> Result<()> {
        let v = try_copy(value)?;
        self.push(name.as_bytes(), Value::BoolArray(v))
    }

    pub fn add_number_array(&mut self, name: &str, value: &[u64]) -> Result<()> {
        let v = try_copy(value)?;
        self.push(name.as_bytes(), Value::NumberArray(v))
    }

    pub fn add_string_array(&mut self, name: &str, value: Vec<Vec<u8>>) -> Result<()> {
        self.push(name.as_bytes(), Value::StringArray(value))
    }

    pub fn add_nvlist_array(&mut self, name: &str, value: Vec<Nvlist>) -> Result<()> {
        self.push(name.as_bytes(), Value::NvlistArray(value))
    }

    /// Whether two pairs share a name where that is not allowed. Sorting
    /// keeps this O(n log n): libnv's per-insert scan is quadratic, which a
    /// list of a million names would turn into a denial of service.
    fn has_duplicate_names(&self) -> Result<bool> {
        if self.flags & NV_FLAG_NO_UNIQUE != 0 || self.pairs.len() < 2 {
            return Ok(false);
        }
        let ignore_case = self.flags & NV_FLAG_IGNORE_CASE != 0;
        let mut names: Vec<&[u8]> = Vec::new();
        names
            .try_reserve_exact(self.pairs.len())
            .map_err(|_| Error::NoMemory)?;
        names.extend(self.pairs.iter().map(|(n, _)| n.as_slice()));
        crate::sort::heapsort_by(&mut names, |a, b| cmp_names(a, b, ignore_case));
        Ok(names
            .windows(2)
            .any(|w| matches!(w, [a, b] if cmp_names(a, b, ignore_case) == Ordering::Equal)))
    }
}

mod pack;
mod unpack;
pub use pack::{pack, packed_size};
pub use unpack::{unpack, UnpackLimits};

#[cfg(test)]
mod tests;
