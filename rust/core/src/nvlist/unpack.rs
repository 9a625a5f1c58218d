//! Unpacking: libnv's `nvlist_unpack()` over untrusted bytes, within
//! limits.

use super::*;

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
