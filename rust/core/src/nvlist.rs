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

/// Hard limits for [`unpack`]. Malformed input is `Error::BadMessage`; input
/// over a limit is `Error::TooBig`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Largest buffer accepted.
    pub max_size: usize,
    /// Deepest nesting: the top list is depth 0, its nested lists and
    /// array elements depth 1, and so on. Unpacking costs no stack per
    /// level, but dropping, comparing and packing a list recurse, so keep
    /// this small.
    pub max_depth: usize,
    /// Most pairs plus nvlist-array elements in the whole tree.
    pub max_pairs: usize,
    /// Most items in any one array (of any type).
    pub max_array_items: usize,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_size: 16 << 20,
            max_depth: 8,
            max_pairs: 8 << 20,
            max_array_items: 4 << 20,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Error::BadMessage)?;
        let s = self.buf.get(self.pos..end).ok_or(Error::BadMessage)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.bytes(N)?.try_into().map_err(|_| Error::BadMessage)
    }

    fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    fn u16(&mut self, be: bool) -> Result<u16> {
        let a = self.array()?;
        Ok(if be {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    fn u64(&mut self, be: bool) -> Result<u64> {
        let a = self.array()?;
        Ok(if be {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }
}

fn to_usize(n: u64) -> Result<usize> {
    usize::try_from(n).map_err(|_| Error::BadMessage)
}

/// libnv's `nvlist_unpack_header()` with no descriptors on offer: returns
/// the public flags and whether the header says big-endian.
fn read_list_header(r: &mut Reader<'_>) -> Result<(u8, bool)> {
    if r.remaining() < NVLIST_HEADER_SIZE {
        return Err(Error::BadMessage);
    }
    let magic = r.u8()?;
    let version = r.u8()?;
    let flags = r.u8()?;
    if magic != NVLIST_HEADER_MAGIC
        || version != NVLIST_HEADER_VERSION
        || flags & !(NV_FLAG_PUBLIC_MASK | NV_FLAG_BIG_ENDIAN) != 0
    {
        return Err(Error::BadMessage);
    }
    let be = flags & NV_FLAG_BIG_ENDIAN != 0;
    let descriptors = r.u64(be)?;
    let size = r.u64(be)?;
    if size != r.remaining() as u64 || descriptors != 0 {
        return Err(Error::BadMessage);
    }
    Ok((flags & NV_FLAG_PUBLIC_MASK, be))
}

struct PairHeader<'a> {
    nv_type: u8,
    name: &'a [u8],
    datasize: usize,
    nitems: u64,
}

/// libnv's `nvpair_unpack_header()`.
fn read_pair_header<'a>(r: &mut Reader<'a>, be: bool) -> Result<PairHeader<'a>> {
    if r.remaining() < NVPAIR_HEADER_SIZE {
        return Err(Error::BadMessage);
    }
    let nv_type = r.u8()?;
    let namesize = usize::from(r.u16(be)?);
    let datasize = r.u64(be)?;
    let nitems = r.u64(be)?;
    let known = (NV_TYPE_NULL..=NV_TYPE_DESCRIPTOR_ARRAY).contains(&nv_type)
        || nv_type == NV_TYPE_NVLIST_UP
        || nv_type == NV_TYPE_NVLIST_ARRAY_NEXT;
    if !known || namesize == 0 || namesize > NV_NAME_MAX {
        return Err(Error::BadMessage);
    }
    let raw = r.bytes(namesize)?;
    let name = match raw.split_last() {
        Some((0, name)) if !name.contains(&0) => name,
        _ => return Err(Error::BadMessage),
    };
    let datasize = to_usize(datasize)?;
    if datasize > r.remaining() {
        return Err(Error::BadMessage);
    }
    Ok(PairHeader {
        nv_type,
        name,
        datasize,
        nitems,
    })
}

/// The NUL-terminated string that fills `data` exactly, without its NUL.
fn c_string(data: &[u8]) -> Result<&[u8]> {
    match data.split_last() {
        Some((0, s)) if !s.contains(&0) => Ok(s),
        _ => Err(Error::BadMessage),
    }
}

/// An array's item count; libnv refuses empty arrays. The limit is checked
/// after the shape, so a malformed count is reported as malformed.
fn array_len(h: &PairHeader<'_>) -> Result<usize> {
    if h.nitems == 0 {
        return Err(Error::BadMessage);
    }
    to_usize(h.nitems)
}

fn within_items(n: usize, limits: &UnpackLimits) -> Result<()> {
    if n > limits.max_array_items {
        return Err(Error::TooBig);
    }
    Ok(())
}

/// The data of a pair that is neither a list nor a terminator, with the
/// checks of libnv's `nvpair_unpack_*()`.
fn read_value(
    r: &mut Reader<'_>,
    h: &PairHeader<'_>,
    be: bool,
    limits: &UnpackLimits,
) -> Result<Value> {
    Ok(match h.nv_type {
        NV_TYPE_NULL if h.datasize == 0 => Value::Null,
        NV_TYPE_BOOL if h.datasize == 1 => match r.u8()? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return Err(Error::BadMessage),
        },
        NV_TYPE_NUMBER if h.datasize == 8 => Value::Number(r.u64(be)?),
        NV_TYPE_STRING if h.datasize != 0 => {
            Value::String(try_copy(c_string(r.bytes(h.datasize)?)?)?)
        }
        NV_TYPE_BINARY if h.datasize != 0 => Value::Binary(try_copy(r.bytes(h.datasize)?)?),
        NV_TYPE_BOOL_ARRAY => {
            let n = array_len(h)?;
            if h.datasize != n {
                return Err(Error::BadMessage);
            }
            within_items(n, limits)?;
            let mut v = Vec::new();
            v.try_reserve_exact(n).map_err(|_| Error::NoMemory)?;
            for &b in r.bytes(n)? {
                match b {
                    0 => v.push(false),
                    1 => v.push(true),
                    _ => return Err(Error::BadMessage),
                }
            }
            Value::BoolArray(v)
        }
        NV_TYPE_NUMBER_ARRAY => {
            let n = array_len(h)?;
            if n.checked_mul(8) != Some(h.datasize) {
                return Err(Error::BadMessage);
            }
            within_items(n, limits)?;
            let mut v = Vec::new();
            v.try_reserve_exact(n).map_err(|_| Error::NoMemory)?;
            for _ in 0..n {
                v.push(r.u64(be)?);
            }
            Value::NumberArray(v)
        }
        NV_TYPE_STRING_ARRAY => {
            let n = array_len(h)?;
            let data = r.bytes(h.datasize)?;
            // Exactly n strings, each with its NUL, and nothing after the
            // last one.
            let body = match data.split_last() {
                Some((0, body)) if data.iter().filter(|&&b| b == 0).count() == n => body,
                _ => return Err(Error::BadMessage),
            };
            within_items(n, limits)?;
            let mut v = Vec::new();
            v.try_reserve_exact(n).map_err(|_| Error::NoMemory)?;
            for s in body.split(|&b| b == 0) {
                v.push(try_copy(s)?);
            }
            Value::StringArray(v)
        }
        _ => return Err(Error::BadMessage),
    })
}

enum Open {
    Top,
    Nested(Vec<u8>),
    Element {
        name: Vec<u8>,
        total: usize,
        done: Vec<Nvlist>,
    },
}

struct Frame {
    list: Nvlist,
    open: Open,
}

fn close_list(list: &Nvlist) -> Result<()> {
    if list.has_duplicate_names()? {
        return Err(Error::BadMessage);
    }
    Ok(())
}

fn add_to_parent(stack: &mut [Frame], name: Vec<u8>, value: Value) -> Result<()> {
    let parent = stack.last_mut().ok_or(Error::BadMessage)?;
    try_push(&mut parent.list.pairs, (name, value))
}

fn count_one(count: &mut usize, limits: &UnpackLimits) -> Result<()> {
    *count = count.checked_add(1).ok_or(Error::TooBig)?;
    if *count > limits.max_pairs {
        return Err(Error::TooBig);
    }
    Ok(())
}

/// Unpacks a buffer as libnv's `nvlist_unpack()` does, within `limits`.
///
/// libnv's `nvlist_unpack(buf, size, flags)` also insists that the top
/// list's flags equal `flags`; callers compare [`Nvlist::flags`] themselves.
/// The walk is iterative, so the nesting depth costs heap, not stack.
pub fn unpack(buf: &[u8], limits: &UnpackLimits) -> Result<Nvlist> {
    if buf.len() > limits.max_size {
        return Err(Error::TooBig);
    }
    let mut r = Reader { buf, pos: 0 };
    let (flags, mut be) = read_list_header(&mut r)?;
    let mut stack: Vec<Frame> = Vec::new();
    try_push(
        &mut stack,
        Frame {
            list: Nvlist::with_flags(flags),
            open: Open::Top,
        },
    )?;
    let mut count = 0usize;

    while r.remaining() > 0 {
        let h = read_pair_header(&mut r, be)?;
        match h.nv_type {
            NV_TYPE_NVLIST_UP => {
                let frame = stack.pop().ok_or(Error::BadMessage)?;
                let Open::Nested(name) = frame.open else {
                    return Err(Error::BadMessage);
                };
                close_list(&frame.list)?;
                add_to_parent(&mut stack, name, Value::Nvlist(frame.list))?;
            }
            NV_TYPE_NVLIST_ARRAY_NEXT => {
                let Frame { list, open } = stack.last_mut().ok_or(Error::BadMessage)?;
                let Open::Element { total, done, .. } = open else {
                    return Err(Error::BadMessage);
                };
                let finished = core::mem::take(list);
                close_list(&finished)?;
                try_push(done, finished)?;
                if done.len() < *total {
                    count_one(&mut count, limits)?;
                    // libnv takes the byte order of each element's header.
                    let (flags, element_be) = read_list_header(&mut r)?;
                    be = element_be;
                    list.flags = flags;
                } else {
                    let frame = stack.pop().ok_or(Error::BadMessage)?;
                    let Open::Element { name, done, .. } = frame.open else {
                        return Err(Error::BadMessage);
                    };
                    add_to_parent(&mut stack, name, Value::NvlistArray(done))?;
                }
            }
            NV_TYPE_NVLIST => {
                if h.datasize == 0 {
                    return Err(Error::BadMessage);
                }
                if stack.len() > limits.max_depth {
                    return Err(Error::TooBig);
                }
                count_one(&mut count, limits)?;
                let name = try_copy(h.name)?;
                // libnv keeps the parent's byte order for the child's pairs.
                let (flags, _) = read_list_header(&mut r)?;
                try_push(
                    &mut stack,
                    Frame {
                        list: Nvlist::with_flags(flags),
                        open: Open::Nested(name),
                    },
                )?;
            }
            NV_TYPE_NVLIST_ARRAY => {
                let total = array_len(&h)?;
                // Every element needs at least a header: libnv's bound.
                match total.checked_mul(NVPAIR_HEADER_SIZE) {
                    Some(n) if n <= r.remaining() => {}
                    _ => return Err(Error::BadMessage),
                }
                within_items(total, limits)?;
                if stack.len() > limits.max_depth {
                    return Err(Error::TooBig);
                }
                // One for the pair, one for the element opened below.
                count_one(&mut count, limits)?;
                count_one(&mut count, limits)?;
                let name = try_copy(h.name)?;
                let (flags, element_be) = read_list_header(&mut r)?;
                be = element_be;
                try_push(
                    &mut stack,
                    Frame {
                        list: Nvlist::with_flags(flags),
                        open: Open::Element {
                            name,
                            total,
                            done: Vec::new(),
                        },
                    },
                )?;
            }
            _ => {
                let value = read_value(&mut r, &h, be, limits)?;
                count_one(&mut count, limits)?;
                let name = try_copy(h.name)?;
                let frame = stack.last_mut().ok_or(Error::BadMessage)?;
                try_push(&mut frame.list.pairs, (name, value))?;
            }
        }
    }

    let frame = stack.pop().ok_or(Error::BadMessage)?;
    if !stack.is_empty() || !matches!(frame.open, Open::Top) {
        return Err(Error::BadMessage);
    }
    close_list(&frame.list)?;
    Ok(frame.list)
}

/// Bytes of a list as `nvlist_size()` counts them: header and pairs, with
/// the terminators of its nested lists but not its own.
fn list_size(nvl: &Nvlist) -> Option<usize> {
    nvl.pairs
        .iter()
        .try_fold(NVLIST_HEADER_SIZE, |acc, (n, v)| {
            acc.checked_add(pair_size(n, v)?)
        })
}

fn pair_size(name: &[u8], v: &Value) -> Option<usize> {
    let head = NVPAIR_HEADER_SIZE.checked_add(name.len())?.checked_add(1)?;
    let body = match v {
        Value::Nvlist(child) => list_size(child)?.checked_add(TERMINATOR_SIZE)?,
        Value::NvlistArray(elems) => elems.iter().try_fold(0usize, |acc, e| {
            acc.checked_add(list_size(e)?)?.checked_add(TERMINATOR_SIZE)
        })?,
        _ => data_size(v)?,
    };
    head.checked_add(body)
}

/// The `datasize` field libnv writes for a value that is not a list.
fn data_size(v: &Value) -> Option<usize> {
    match v {
        Value::Null | Value::Nvlist(_) | Value::NvlistArray(_) => Some(0),
        Value::Bool(_) => Some(1),
        Value::Number(_) => Some(8),
        Value::String(s) => s.len().checked_add(1),
        Value::Binary(b) => Some(b.len()),
        Value::BoolArray(a) => Some(a.len()),
        Value::NumberArray(a) => a.len().checked_mul(8),
        Value::StringArray(a) => a
            .iter()
            .try_fold(0usize, |acc, s| acc.checked_add(s.len())?.checked_add(1)),
    }
}

/// The size [`pack`] would produce (saturating at `usize::MAX`), which is
/// what `SIOCGWG` answers to a zero-sized request.
pub fn packed_size(nvl: &Nvlist) -> usize {
    list_size(nvl).unwrap_or(usize::MAX)
}

/// Refuses what libnv's builders refuse, so that every list we pack is one
/// libnv could have packed (and unpacks again).
fn validate(nvl: &Nvlist) -> Result<()> {
    if nvl.flags & !NV_FLAG_PUBLIC_MASK != 0 || nvl.has_duplicate_names()? {
        return Err(Error::Invalid);
    }
    for (name, v) in &nvl.pairs {
        if name.len() >= NV_NAME_MAX || name.contains(&0) {
            return Err(Error::Invalid);
        }
        let ok = match v {
            Value::Null | Value::Bool(_) | Value::Number(_) => true,
            Value::String(s) => !s.contains(&0),
            Value::Binary(b) => !b.is_empty(),
            Value::BoolArray(a) => !a.is_empty(),
            Value::NumberArray(a) => !a.is_empty(),
            Value::StringArray(a) => !a.is_empty() && a.iter().all(|s| !s.contains(&0)),
            Value::Nvlist(child) => {
                validate(child)?;
                true
            }
            Value::NvlistArray(elems) => {
                for e in elems {
                    validate(e)?;
                }
                !elems.is_empty()
            }
        };
        if !ok {
            return Err(Error::Invalid);
        }
    }
    Ok(())
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_ne_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_ne_bytes());
}

fn put_pair_header(out: &mut Vec<u8>, nv_type: u8, name: &[u8], datasize: usize, nitems: usize) {
    out.push(nv_type);
    // validate() bounded names below NV_NAME_MAX, so this cannot saturate.
    put_u16(out, u16::try_from(name.len() + 1).unwrap_or(u16::MAX));
    put_u64(out, datasize as u64);
    put_u64(out, nitems as u64);
    out.extend_from_slice(name);
    out.push(0);
}

fn put_list(out: &mut Vec<u8>, nvl: &Nvlist, total: usize) -> Result<()> {
    out.push(NVLIST_HEADER_MAGIC);
    out.push(NVLIST_HEADER_VERSION);
    out.push(if HOST_BIG_ENDIAN {
        nvl.flags | NV_FLAG_BIG_ENDIAN
    } else {
        nvl.flags
    });
    put_u64(out, 0);
    let header_end = out.len().checked_add(8).ok_or(Error::TooBig)?;
    let rest = total.checked_sub(header_end).ok_or(Error::Invalid)?;
    put_u64(out, rest as u64);
    for (name, v) in &nvl.pairs {
        match v {
            Value::Nvlist(child) => {
                let size = list_size(child).ok_or(Error::TooBig)?;
                put_pair_header(out, NV_TYPE_NVLIST, name, size, 0);
                put_list(out, child, total)?;
                put_pair_header(out, NV_TYPE_NVLIST_UP, b"", 0, 0);
            }
            Value::NvlistArray(elems) => {
                put_pair_header(out, NV_TYPE_NVLIST_ARRAY, name, 0, elems.len());
                for e in elems {
                    put_list(out, e, total)?;
                    put_pair_header(out, NV_TYPE_NVLIST_ARRAY_NEXT, b"", 0, 0);
                }
            }
            _ => {
                let nitems = match v {
                    Value::BoolArray(a) => a.len(),
                    Value::NumberArray(a) => a.len(),
                    Value::StringArray(a) => a.len(),
                    _ => 0,
                };
                let size = data_size(v).ok_or(Error::TooBig)?;
                put_pair_header(out, v.nv_type(), name, size, nitems);
                match v {
                    Value::Bool(b) => out.push(u8::from(*b)),
                    Value::Number(n) => put_u64(out, *n),
                    Value::String(s) => {
                        out.extend_from_slice(s);
                        out.push(0);
                    }
                    Value::Binary(b) => out.extend_from_slice(b),
                    Value::BoolArray(a) => out.extend(a.iter().map(|&b| u8::from(b))),
                    Value::NumberArray(a) => {
                        for &n in a {
                            put_u64(out, n);
                        }
                    }
                    Value::StringArray(a) => {
                        for s in a {
                            out.extend_from_slice(s);
                            out.push(0);
                        }
                    }
                    Value::Null | Value::Nvlist(_) | Value::NvlistArray(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// Packs a list into exactly the bytes libnv's `nvlist_pack()` produces, in
/// the host's byte order. Refuses (`Error::Invalid`) what libnv would not
/// have let into a list: names of `NV_NAME_MAX` bytes or more or with a
/// NUL, strings with a NUL, empty binaries or arrays, private flags, and
/// duplicate names in a list without `NV_FLAG_NO_UNIQUE`.
pub fn pack(nvl: &Nvlist) -> Result<Vec<u8>> {
    validate(nvl)?;
    let total = list_size(nvl).ok_or(Error::TooBig)?;
    let mut out = Vec::new();
    out.try_reserve_exact(total).map_err(|_| Error::NoMemory)?;
    put_list(&mut out, nvl, total)?;
    if out.len() != total {
        return Err(Error::Invalid);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn lim() -> UnpackLimits {
        UnpackLimits::default()
    }

    /// `{"listen-port": 51820}`, little-endian, field by field.
    #[rustfmt::skip]
    const LISTEN_PORT_LE: [u8; 58] = [
        // nvlist header
        0x6c,                                           // magic
        0x00,                                           // version
        0x00,                                           // flags
        0, 0, 0, 0, 0, 0, 0, 0,                         // descriptors
        39, 0, 0, 0, 0, 0, 0, 0,                        // size: 58 - 19
        // pair header
        NV_TYPE_NUMBER,                                 // type 3
        12, 0,                                          // namesize: "listen-port\0"
        8, 0, 0, 0, 0, 0, 0, 0,                         // datasize
        0, 0, 0, 0, 0, 0, 0, 0,                         // nitems
        b'l', b'i', b's', b't', b'e', b'n', b'-', b'p', b'o', b'r', b't', 0,
        0x6c, 0xca, 0, 0, 0, 0, 0, 0,                   // 51820 = 0xca6c
    ];

    /// The same list as a big-endian host packs it.
    #[rustfmt::skip]
    const LISTEN_PORT_BE: [u8; 58] = [
        0x6c, 0x00,
        0x80,                                           // flags: big-endian
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 39,                        // size
        NV_TYPE_NUMBER,
        0, 12,                                          // namesize
        0, 0, 0, 0, 0, 0, 0, 8,                         // datasize
        0, 0, 0, 0, 0, 0, 0, 0,
        b'l', b'i', b's', b't', b'e', b'n', b'-', b'p', b'o', b'r', b't', 0,
        0, 0, 0, 0, 0, 0, 0xca, 0x6c,
    ];

    /// `{"a": {"b": true}}`: a nested list and a bool.
    #[rustfmt::skip]
    const NESTED: [u8; 101] = [
        // [0] top header
        0x6c, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        82, 0, 0, 0, 0, 0, 0, 0,                        // size: 101 - 19
        // [19] pair "a": nvlist
        NV_TYPE_NVLIST,
        2, 0,                                           // namesize "a\0"
        41, 0, 0, 0, 0, 0, 0, 0,                        // datasize: child header 19 + pair 22
        0, 0, 0, 0, 0, 0, 0, 0,
        b'a', 0,
        // [40] child header
        0x6c, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        42, 0, 0, 0, 0, 0, 0, 0,                        // size: 101 - 59
        // [59] pair "b": bool
        NV_TYPE_BOOL,
        2, 0,
        1, 0, 0, 0, 0, 0, 0, 0,                         // datasize
        0, 0, 0, 0, 0, 0, 0, 0,
        b'b', 0,
        1,                                              // true
        // [81] terminator of the child
        NV_TYPE_NVLIST_UP,
        1, 0,                                           // namesize: "\0"
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0,
    ];

    /// `{"arr": [{"x": 1}, {}]}`: an array of two lists, the second empty.
    #[rustfmt::skip]
    const ARRAY: [u8; 149] = [
        // [0] top header
        0x6c, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        130, 0, 0, 0, 0, 0, 0, 0,                       // size: 149 - 19
        // [19] pair "arr": nvlist array
        NV_TYPE_NVLIST_ARRAY,
        4, 0,                                           // namesize "arr\0"
        0, 0, 0, 0, 0, 0, 0, 0,                         // datasize 0
        2, 0, 0, 0, 0, 0, 0, 0,                         // nitems 2
        b'a', b'r', b'r', 0,
        // [42] element 0 header
        0x6c, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        88, 0, 0, 0, 0, 0, 0, 0,                        // size: 149 - 61
        // [61] pair "x": number 1
        NV_TYPE_NUMBER,
        2, 0,
        8, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        b'x', 0,
        1, 0, 0, 0, 0, 0, 0, 0,
        // [90] terminator of element 0
        NV_TYPE_NVLIST_ARRAY_NEXT,
        1, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0,
        // [110] element 1 header
        0x6c, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        20, 0, 0, 0, 0, 0, 0, 0,                        // size: 149 - 129
        // [129] terminator of element 1
        NV_TYPE_NVLIST_ARRAY_NEXT,
        1, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        0,
    ];

    /// `{"k": binary 01 02 03, "f": false}`.
    #[rustfmt::skip]
    const BINARY_BOOL: [u8; 65] = [
        0x6c, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        46, 0, 0, 0, 0, 0, 0, 0,                        // size: 65 - 19
        // [19] pair "k": binary
        NV_TYPE_BINARY,
        2, 0,
        3, 0, 0, 0, 0, 0, 0, 0,                         // datasize 3
        0, 0, 0, 0, 0, 0, 0, 0,
        b'k', 0,
        1, 2, 3,
        // [43] pair "f": bool
        NV_TYPE_BOOL,
        2, 0,
        1, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0,
        b'f', 0,
        0,                                              // false
    ];

    fn listen_port() -> Nvlist {
        let mut l = Nvlist::new();
        l.add_number("listen-port", 51820).unwrap();
        l
    }

    fn nested() -> Nvlist {
        let mut child = Nvlist::new();
        child.add_bool("b", true).unwrap();
        let mut l = Nvlist::new();
        l.add_nvlist("a", child).unwrap();
        l
    }

    fn array() -> Nvlist {
        let mut e0 = Nvlist::new();
        e0.add_number("x", 1).unwrap();
        let mut l = Nvlist::new();
        l.add_nvlist_array("arr", vec![e0, Nvlist::new()]).unwrap();
        l
    }

    fn binary_bool() -> Nvlist {
        let mut l = Nvlist::new();
        l.add_binary("k", &[1, 2, 3]).unwrap();
        l.add_bool("f", false).unwrap();
        l
    }

    fn vectors() -> Vec<(Nvlist, &'static [u8])> {
        vec![
            (listen_port(), &LISTEN_PORT_LE[..]),
            (nested(), &NESTED[..]),
            (array(), &ARRAY[..]),
            (binary_bool(), &BINARY_BOOL[..]),
        ]
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn packs_byte_exact() {
        for (nvl, bytes) in vectors() {
            assert_eq!(pack(&nvl).unwrap(), bytes);
            assert_eq!(packed_size(&nvl), bytes.len());
        }
    }

    #[test]
    fn unpacks_vectors() {
        for (nvl, bytes) in vectors() {
            assert_eq!(unpack(bytes, &lim()).unwrap(), nvl);
        }
        let l = unpack(&ARRAY, &lim()).unwrap();
        let arr = l.get_nvlist_array("arr").unwrap();
        assert_eq!(arr.len(), 2);
        assert_eq!(arr[0].get_number("x"), Some(1));
        assert!(arr[1].is_empty());
        let n = unpack(&NESTED, &lim()).unwrap();
        assert_eq!(n.get_nvlist("a").unwrap().get_bool("b"), Some(true));
        assert_eq!(n.get_number("a"), None);
    }

    #[test]
    fn big_endian_unpacks_to_same_values() {
        assert_eq!(unpack(&LISTEN_PORT_BE, &lim()).unwrap(), listen_port());
    }

    #[test]
    fn big_endian_arrays_and_nested() {
        // {"n": [7, 2^40], "arr": [{"c": {"b": true}}]} as a big-endian host
        // packs it: every multi-byte field big-endian, flag 0x80 in every
        // header, sizes patched in once the length is known.
        fn header(b: &mut Vec<u8>, at: &mut Vec<usize>) {
            at.push(b.len());
            b.extend_from_slice(&[0x6c, 0, 0x80]);
            b.extend_from_slice(&[0; 16]);
        }
        fn pair(b: &mut Vec<u8>, ty: u8, name: &[u8], datasize: u64, nitems: u64) {
            b.push(ty);
            b.extend_from_slice(&(name.len() as u16 + 1).to_be_bytes());
            b.extend_from_slice(&datasize.to_be_bytes());
            b.extend_from_slice(&nitems.to_be_bytes());
            b.extend_from_slice(name);
            b.push(0);
        }
        let (mut b, mut at) = (Vec::new(), Vec::new());
        header(&mut b, &mut at);
        pair(&mut b, NV_TYPE_NUMBER_ARRAY, b"n", 16, 2);
        b.extend_from_slice(&7u64.to_be_bytes());
        b.extend_from_slice(&(1u64 << 40).to_be_bytes());
        pair(&mut b, NV_TYPE_NVLIST_ARRAY, b"arr", 0, 1);
        header(&mut b, &mut at);
        pair(&mut b, NV_TYPE_NVLIST, b"c", 41, 0);
        header(&mut b, &mut at);
        pair(&mut b, NV_TYPE_BOOL, b"b", 1, 0);
        b.push(1);
        pair(&mut b, NV_TYPE_NVLIST_UP, b"", 0, 0);
        pair(&mut b, NV_TYPE_NVLIST_ARRAY_NEXT, b"", 0, 0);
        for &h in &at {
            let size = (b.len() - h - NVLIST_HEADER_SIZE) as u64;
            b[h + 11..h + 19].copy_from_slice(&size.to_be_bytes());
        }

        let mut c = Nvlist::new();
        c.add_bool("b", true).unwrap();
        let mut e = Nvlist::new();
        e.add_nvlist("c", c).unwrap();
        let mut want = Nvlist::new();
        want.add_number_array("n", &[7, 1 << 40]).unwrap();
        want.add_nvlist_array("arr", vec![e]).unwrap();
        assert_eq!(unpack(&b, &lim()).unwrap(), want);
        assert_eq!(pack(&want).unwrap().len(), b.len());
    }

    #[test]
    fn every_truncation_fails() {
        for (_, bytes) in vectors() {
            for n in 0..bytes.len() {
                assert_eq!(
                    unpack(&bytes[..n], &lim()),
                    Err(Error::BadMessage),
                    "len {n}"
                );
            }
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert_eq!(unpack(&longer, &lim()), Err(Error::BadMessage));
        }
    }

    #[test]
    fn flipped_bytes_never_panic() {
        for (_, bytes) in vectors() {
            for i in 0..bytes.len() {
                for mask in [0x01u8, 0x02, 0x10, 0x80, 0xff] {
                    let mut b = bytes.to_vec();
                    b[i] ^= mask;
                    let _ = unpack(&b, &lim());
                }
            }
        }
    }

    #[test]
    fn header_checks() {
        let bad = |i: usize, v: u8| {
            let mut b = LISTEN_PORT_LE.to_vec();
            b[i] = v;
            unpack(&b, &lim())
        };
        assert_eq!(bad(0, 0x6d), Err(Error::BadMessage)); // magic
        assert_eq!(bad(1, 1), Err(Error::BadMessage)); // version
        assert_eq!(bad(2, 0x04), Err(Error::BadMessage)); // unknown flag
        assert_eq!(bad(3, 1), Err(Error::BadMessage)); // descriptors
        assert_eq!(bad(11, 38), Err(Error::BadMessage)); // size
        assert_eq!(bad(19, 0), Err(Error::BadMessage)); // type 0
        assert_eq!(bad(19, 13), Err(Error::BadMessage)); // type 13
        assert_eq!(bad(19, NV_TYPE_DESCRIPTOR), Err(Error::BadMessage));
        assert_eq!(bad(20, 11), Err(Error::BadMessage)); // namesize != strlen + 1
        assert_eq!(bad(20, 13), Err(Error::BadMessage));
        assert_eq!(bad(41, 0), Err(Error::BadMessage)); // NUL inside the name
        assert_eq!(bad(49, b'x'), Err(Error::BadMessage)); // name not terminated
        assert_eq!(bad(22, 7), Err(Error::BadMessage)); // number of datasize 7
                                                        // Public flags are accepted and kept.
        assert_eq!(bad(2, NV_FLAG_NO_UNIQUE).unwrap().flags, NV_FLAG_NO_UNIQUE);
    }

    #[test]
    fn value_checks() {
        let mut b = BINARY_BOOL.to_vec();
        b[64] = 2; // bool neither 0 nor 1
        assert_eq!(unpack(&b, &lim()), Err(Error::BadMessage));
        // A nested list closed by "next" instead of "up", or not at all.
        let b = nested_packed_with(Tweak::Next);
        assert_eq!(unpack(&b, &lim()), Err(Error::BadMessage));
        let b = nested_packed_with(Tweak::Missing);
        assert_eq!(unpack(&b, &lim()), Err(Error::BadMessage));
        // An element closed by "up" instead of "next".
        let mut a = ARRAY.to_vec();
        a[90] = NV_TYPE_NVLIST_UP;
        assert_eq!(unpack(&a, &lim()), Err(Error::BadMessage));
        // An nvlist pair of datasize 0.
        let mut n = NESTED.to_vec();
        n[22] = 0;
        assert_eq!(unpack(&n, &lim()), Err(Error::BadMessage));
        // An nvlist array of 0 items.
        let mut a = ARRAY.to_vec();
        a[30] = 0;
        assert_eq!(unpack(&a, &lim()), Err(Error::BadMessage));
    }

    enum Tweak {
        Next,
        Missing,
    }

    /// NESTED with its "up" terminator replaced or cut off (sizes fixed).
    fn nested_packed_with(t: Tweak) -> Vec<u8> {
        let mut b = NESTED.to_vec();
        match t {
            Tweak::Next => b[81] = NV_TYPE_NVLIST_ARRAY_NEXT,
            Tweak::Missing => {
                b.truncate(81);
                b[11] = 62;
                b[51] = 22;
            }
        }
        b
    }

    #[test]
    fn empty_binary_and_strings() {
        let mut b = BINARY_BOOL.to_vec();
        // Binary of datasize 0: the three data bytes then parse as a pair.
        b[22] = 0;
        assert!(unpack(&b, &lim()).is_err());
        let mut l = Nvlist::new();
        l.add_string("s", b"hello").unwrap();
        l.add_string_array("sa", vec![b"a".to_vec(), Vec::new(), b"bc".to_vec()])
            .unwrap();
        l.add_bool_array("ba", &[true, false]).unwrap();
        l.add_number_array("na", &[1, u64::MAX]).unwrap();
        l.add_null("z").unwrap();
        let p = pack(&l).unwrap();
        let u = unpack(&p, &lim()).unwrap();
        assert_eq!(u, l);
        assert_eq!(u.get_string("s"), Some(&b"hello"[..]));
        assert!(u.get_null("z"));
        // A string whose NUL is moved inside.
        let at = p.windows(6).position(|w| w == b"hello\0").unwrap();
        let mut q = p.clone();
        q[at + 2] = 0;
        q[at + 5] = b'x';
        assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
        // A string array whose item count disagrees with its NULs.
        let at = p.windows(3).position(|w| w == b"sa\0").unwrap();
        let mut q = p.clone();
        q[at - 8] = 2; // nitems
        assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
        // A bool array holding 2.
        let at = p.windows(3).position(|w| w == b"ba\0").unwrap();
        let mut q = p;
        q[at + 3] = 2;
        assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
    }

    #[test]
    fn duplicates() {
        let mut l = Nvlist::new();
        l.add_number("a", 1).unwrap();
        l.add_number("a", 2).unwrap();
        assert_eq!(pack(&l), Err(Error::Invalid));
        l.flags = NV_FLAG_NO_UNIQUE;
        let p = pack(&l).unwrap();
        let u = unpack(&p, &lim()).unwrap();
        assert_eq!(u.get_number("a"), Some(1));
        // The same bytes without the no-unique flag.
        let mut q = p.clone();
        q[2] = 0;
        assert_eq!(unpack(&q, &lim()), Err(Error::BadMessage));
        // Case-insensitive lists treat "A" and "a" as one name.
        let mut c = Nvlist::with_flags(NV_FLAG_IGNORE_CASE);
        c.add_number("a", 1).unwrap();
        c.add_number("A", 2).unwrap();
        assert_eq!(pack(&c), Err(Error::Invalid));
        c.pairs.pop();
        assert_eq!(c.get_number("A"), Some(1));
        // Typed lookups skip pairs of another type, as libnv's do.
        let mut t = Nvlist::with_flags(NV_FLAG_NO_UNIQUE);
        t.add_bool("k", true).unwrap();
        t.add_number("k", 9).unwrap();
        assert_eq!(t.get_number("k"), Some(9));
        assert_eq!(t.get("k"), Some(&Value::Bool(true)));
    }

    #[test]
    fn pack_refuses_what_libnv_refuses() {
        let refuse = |f: &dyn Fn(&mut Nvlist)| {
            let mut l = Nvlist::new();
            f(&mut l);
            pack(&l)
        };
        assert_eq!(
            refuse(&|l| l.add_binary("b", &[]).unwrap()),
            Err(Error::Invalid)
        );
        assert_eq!(
            refuse(&|l| l.add_string("s", b"a\0b").unwrap()),
            Err(Error::Invalid)
        );
        assert_eq!(
            refuse(&|l| l.add_number_array("n", &[]).unwrap()),
            Err(Error::Invalid)
        );
        assert_eq!(
            refuse(&|l| l.add_nvlist_array("l", vec![]).unwrap()),
            Err(Error::Invalid)
        );
        assert_eq!(
            refuse(&|l| l.push(b"a\0", Value::Null).unwrap()),
            Err(Error::Invalid)
        );
        assert_eq!(
            refuse(&|l| l.push(&[b'n'; 2048], Value::Null).unwrap()),
            Err(Error::Invalid)
        );
        assert!(refuse(&|l| l.push(&[b'n'; 2047], Value::Null).unwrap()).is_ok());
        assert_eq!(refuse(&|l| l.flags = 0x80), Err(Error::Invalid));
        let mut l = Nvlist::new();
        l.add_null("").unwrap();
        assert_eq!(unpack(&pack(&l).unwrap(), &lim()).unwrap(), l);
    }

    fn deep(depth: usize) -> Nvlist {
        let mut l = Nvlist::new();
        l.add_number("leaf", 1).unwrap();
        for _ in 0..depth {
            let mut p = Nvlist::new();
            p.add_nvlist("n", l).unwrap();
            l = p;
        }
        l
    }

    #[test]
    fn limits() {
        let l = UnpackLimits {
            max_depth: 3,
            ..lim()
        };
        assert!(unpack(&pack(&deep(3)).unwrap(), &l).is_ok());
        assert_eq!(unpack(&pack(&deep(4)).unwrap(), &l), Err(Error::TooBig));
        // Deep nesting costs no stack.
        assert!(unpack(
            &pack(&deep(500)).unwrap(),
            &UnpackLimits {
                max_depth: 1000,
                ..lim()
            }
        )
        .is_ok());

        let small = UnpackLimits {
            max_size: 57,
            ..lim()
        };
        assert_eq!(unpack(&LISTEN_PORT_LE, &small), Err(Error::TooBig));

        let mut many = Nvlist::new();
        for i in 0..10u8 {
            many.push(&[b'a' + i], Value::Number(i.into())).unwrap();
        }
        let p = pack(&many).unwrap();
        assert!(unpack(
            &p,
            &UnpackLimits {
                max_pairs: 10,
                ..lim()
            }
        )
        .is_ok());
        assert_eq!(
            unpack(
                &p,
                &UnpackLimits {
                    max_pairs: 9,
                    ..lim()
                }
            ),
            Err(Error::TooBig)
        );
        // Array elements count as pairs.
        assert_eq!(
            unpack(
                &ARRAY,
                &UnpackLimits {
                    max_pairs: 3,
                    ..lim()
                }
            ),
            Err(Error::TooBig)
        );
        assert!(unpack(
            &ARRAY,
            &UnpackLimits {
                max_pairs: 4,
                ..lim()
            }
        )
        .is_ok());

        let items = UnpackLimits {
            max_array_items: 1,
            ..lim()
        };
        assert_eq!(unpack(&ARRAY, &items), Err(Error::TooBig));
        let mut na = Nvlist::new();
        na.add_number_array("n", &[1, 2]).unwrap();
        assert_eq!(unpack(&pack(&na).unwrap(), &items), Err(Error::TooBig));
    }

    fn arb_bytes(min: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(1u8..=255, min..6)
    }

    fn arb_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::Number),
            arb_bytes(0).prop_map(Value::String),
            prop::collection::vec(any::<u8>(), 1..40).prop_map(Value::Binary),
            prop::collection::vec(any::<bool>(), 1..5).prop_map(Value::BoolArray),
            prop::collection::vec(any::<u64>(), 1..5).prop_map(Value::NumberArray),
            prop::collection::vec(arb_bytes(0), 1..4).prop_map(Value::StringArray),
        ]
    }

    fn arb_list(values: BoxedStrategy<Value>) -> impl Strategy<Value = Nvlist> {
        (prop::collection::vec(values, 0..5), 0u8..4).prop_map(|(vals, flags)| {
            let mut l = Nvlist::with_flags(flags);
            for (i, v) in vals.into_iter().enumerate() {
                // Distinct even without regard to case.
                l.push(alloc::format!("k{i}").as_bytes(), v).unwrap();
            }
            l
        })
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        arb_leaf().prop_recursive(3, 24, 5, |inner| {
            let inner = inner.boxed();
            prop_oneof![
                arb_list(inner.clone()).prop_map(Value::Nvlist),
                prop::collection::vec(arb_list(inner), 1..3).prop_map(Value::NvlistArray),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn round_trips(l in arb_list(arb_value().boxed())) {
            let p = pack(&l).unwrap();
            prop_assert_eq!(p.len(), packed_size(&l));
            let u = unpack(&p, &lim()).unwrap();
            prop_assert_eq!(&u, &l);
            prop_assert_eq!(pack(&u).unwrap(), p);
        }

        #[test]
        fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = unpack(&b, &lim());
        }

        #[test]
        fn mutations_never_panic(
            l in arb_list(arb_value().boxed()),
            edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut p = pack(&l).unwrap();
            for (i, v) in edits {
                let n = p.len();
                p[i % n] = v;
            }
            let _ = unpack(&p, &lim());
        }
    }
}
