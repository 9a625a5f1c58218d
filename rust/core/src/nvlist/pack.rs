//! Packing: exactly the bytes libnv's `nvlist_pack()` produces.

use super::*;

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
