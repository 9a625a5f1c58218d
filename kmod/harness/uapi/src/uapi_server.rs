//! One UAPI request in, control-door requests out, one UAPI answer back.
//!
//! In: wireguard-go's cross-platform UAPI (`get=1`, `set=1` + key=value
//! lines) on a connection to /var/run/wireguard/IFNAME.sock, framed by
//! wgd's own reader. Out: the SIOCGWG/SIOCSWG nvlists our wg's FreeBSD
//! backend would hand to ioctl(2), through kharness's control door, and
//! the answer wireguard-go would give: the configuration the kernel
//! reports, then "errno=N" with the kernel's FreeBSD errno translated to
//! the Linux value UAPI clients expect. Why: so that wg(8), wg-quick and
//! our tests drive the FreeBSD module in the harness exactly as they drive
//! wireguard-go or wgd.
//!
//! What UAPI can say and FreeBSD's nvlist cannot: `update_only` (create
//! nothing). As in wireguard-go, an `update_only` peer the kernel does not
//! have is dropped from the request with all its keys; for that the
//! bridge asks SIOCGWG which peers exist first (a peer created by someone
//! else between the two calls is updated, not skipped). `fwmark` is the
//! FreeBSD `user-cookie`, as in wg(8); `protocol_version` has no nvlist
//! key and is checked by the parser only.

use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use wg_core::config::{DeviceInfo, DeviceUpdate, Key};
use wg_core::nvconfig;
use wg_core::uapi::{format_errno, format_get, parse_set, UapiError};

use crate::ctl::{self, Door, Op};
use crate::errno;
use crate::framing::{read_request, Request};

/// How often a SIOCGWG size negotiation starts again when the
/// configuration grew in between (ENOSPC), as our wg does.
pub const MAX_TRIES: usize = 8;
/// FreeBSD's ENOSPC: the buffer was too small for the configuration.
const FREEBSD_ENOSPC: i32 = 28;

/// The kernel's FreeBSD errno as a UAPI answer.
fn kernel_error(freebsd: i32) -> UapiError {
    UapiError {
        errno: errno::uapi_value(freebsd),
    }
}

/// Best-effort wipe of bytes that held keys.
fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(&buf);
}

fn wipe_string(s: &mut String) {
    let mut v = std::mem::take(s).into_bytes();
    wipe(&mut v);
}

/// The bridge for one interface: its name and the door connection, which
/// one request at a time uses (a GET's retries and update_only's GET+SET
/// are not interleaved with other UAPI requests).
pub struct Bridge {
    name: [u8; ctl::NAMSIZ],
    /// None once the connection failed: every later request is EIO.
    door: Mutex<Option<Door>>,
    /// Called once when the door fails (the process then shuts down).
    on_door_lost: Box<dyn Fn() + Send + Sync>,
}

impl Bridge {
    pub fn new(
        name: [u8; ctl::NAMSIZ],
        door: Door,
        on_door_lost: Box<dyn Fn() + Send + Sync>,
    ) -> Bridge {
        Bridge {
            name,
            door: Mutex::new(Some(door)),
            on_door_lost,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Door>> {
        self.door.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One door request. A failing door is dropped, reported and EIO
    /// (wireguard-go's `IpcErrorIO`); the kernel's errno is in the answer.
    fn call(
        &self,
        door: &mut Option<Door>,
        op: Op,
        flags: u32,
        size: u64,
        buf: &[u8],
    ) -> Result<ctl::Answer, UapiError> {
        let d = door.as_mut().ok_or(UapiError::IO)?;
        match d.call(op, &self.name, flags, size, buf) {
            Ok(a) => Ok(a),
            Err(e) => {
                eprintln!("kharness-uapi: control door failed: {e}");
                *door = None;
                (self.on_door_lost)();
                Err(UapiError::IO)
            }
        }
    }

    /// SIOCGWG as wg(8) does it: size query (wgd_data NULL, size 0), then
    /// a buffer of that size; ENOSPC (it grew meanwhile) starts over.
    fn get_info(&self, door: &mut Option<Door>) -> Result<DeviceInfo, UapiError> {
        for _ in 0..MAX_TRIES {
            let a = self.call(door, Op::SiocGwg, ctl::F_NULLDATA, 0, &[])?;
            if a.error != 0 {
                return Err(kernel_error(a.error));
            }
            if a.size > ctl::BUFMAX {
                return Err(kernel_error(libc::E2BIG));
            }
            let need = usize::try_from(a.size).map_err(|_| UapiError::NO_MEMORY)?;
            let mut buf = Vec::new();
            buf.try_reserve_exact(need)
                .map_err(|_| UapiError::NO_MEMORY)?;
            buf.resize(need, 0);
            let mut a = self.call(door, Op::SiocGwg, 0, a.size, &buf)?;
            if a.error == FREEBSD_ENOSPC {
                wipe(&mut a.buf);
                continue;
            }
            if a.error != 0 {
                wipe(&mut a.buf);
                return Err(kernel_error(a.error));
            }
            let info = usize::try_from(a.size)
                .ok()
                .and_then(|used| a.buf.get(..used))
                .ok_or(UapiError::IO)
                .and_then(|b| nvconfig::decode_get(b).map_err(UapiError::from));
            wipe(&mut a.buf);
            return info;
        }
        Err(kernel_error(FREEBSD_ENOSPC))
    }

    /// Asks the kernel for the interface's configuration size: Ok when the
    /// interface exists and the door works (used at start-up).
    pub fn probe(&self) -> Result<(), UapiError> {
        let mut door = self.lock();
        let a = self.call(&mut door, Op::SiocGwg, ctl::F_NULLDATA, 0, &[])?;
        match a.error {
            0 => Ok(()),
            e => Err(kernel_error(e)),
        }
    }

    /// A `get=1` answer: the configuration's lines, then "errno=0".
    pub fn get(&self, out: &mut String) {
        let mut door = self.lock();
        match self.get_info(&mut door) {
            Ok(mut info) => {
                format_get(&info, out);
                format_errno(0, out);
                if let Some(k) = info.private_key.as_mut() {
                    wipe(k);
                }
                for p in &mut info.peers {
                    if let Some(k) = p.preshared_key.as_mut() {
                        wipe(k);
                    }
                }
            }
            Err(e) => format_errno(e.errno, out),
        }
    }

    /// Applies a `set=1` body: parse, resolve update_only, SIOCSWG.
    pub fn set(&self, body: &str) -> Result<(), UapiError> {
        let mut update = parse_set(body)?;
        let mut door = self.lock();
        let r = self.set_locked(&mut door, &mut update);
        update.zeroize_secrets();
        r
    }

    fn set_locked(
        &self,
        door: &mut Option<Door>,
        update: &mut DeviceUpdate,
    ) -> Result<(), UapiError> {
        resolve_update_only(update, || {
            Ok(self
                .get_info(door)?
                .peers
                .iter()
                .map(|p| p.public_key)
                .collect())
        })?;
        let mut request = nvconfig::encode_set(update).map_err(UapiError::from)?;
        let r = self.call(door, Op::SiocSwg, 0, request.len() as u64, &request);
        wipe(&mut request);
        let mut a = r?;
        wipe(&mut a.buf);
        match a.error {
            0 => Ok(()),
            e => Err(kernel_error(e)),
        }
    }

    /// Serves one UAPI connection until it closes or misbehaves, answering
    /// as wgd does (a malformed request: errno=-EINVAL, then close).
    pub fn serve(&self, stream: UnixStream) {
        let mut reader = BufReader::new(&stream);
        let mut line = String::new();
        let mut out = String::new();
        loop {
            let req = match read_request(&mut reader, &mut line) {
                Ok(Some(r)) => r,
                Ok(None) | Err(_) => return,
            };
            wipe_string(&mut out);
            let close = match req {
                Request::Get => {
                    self.get(&mut out);
                    false
                }
                Request::Set(body) => {
                    let r = self.set(&body);
                    // The body may carry keys: wipe it.
                    wipe(&mut body.into_bytes());
                    format_errno(r.err().map_or(0, |e| e.errno), &mut out);
                    false
                }
                Request::Bad => {
                    format_errno(UapiError::INVALID.errno, &mut out);
                    true
                }
                Request::Failed(errno) => {
                    format_errno(errno, &mut out);
                    true
                }
            };
            let sent = (&stream).write_all(out.as_bytes());
            wipe_string(&mut out);
            wipe_string(&mut line);
            if sent.is_err() {
                return;
            }
            if close {
                // Answer first, then swallow what the client is still
                // sending (bounded), so closing with unread input does not
                // reset the connection before the answer is read.
                let _ = stream.shutdown(std::net::Shutdown::Write);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
                let _ = std::io::copy(&mut reader.take(16 << 20), &mut std::io::sink());
                return;
            }
        }
    }
}

/// Turns `update_only` peers into what FreeBSD's nvlist can say, with
/// wireguard-go's meaning: an update_only peer that does not exist at that
/// point of the request is dropped with all its keys; one that does is an
/// ordinary update. `existing` (the kernel's peers) is only asked when it
/// matters: there is an update_only peer and no replace_peers before it.
pub fn resolve_update_only<F>(update: &mut DeviceUpdate, existing: F) -> Result<(), UapiError>
where
    F: FnOnce() -> Result<Vec<Key>, UapiError>,
{
    if !update.peers.iter().any(|p| p.update_only) {
        return Ok(());
    }
    // replace_peers=true is a device key, so it comes before every peer:
    // wireguard-go has removed them all by the time it reads one.
    let mut present: HashSet<Key> = if update.replace_peers {
        HashSet::new()
    } else {
        existing()?.into_iter().collect()
    };
    let peers = std::mem::take(&mut update.peers);
    for mut p in peers {
        if p.update_only && !present.contains(&p.public_key) {
            if let Some(Some(k)) = p.preshared_key.as_mut() {
                wipe(k);
            }
            continue;
        }
        p.update_only = false;
        if p.remove {
            present.remove(&p.public_key);
        } else {
            present.insert(p.public_key);
        }
        update.peers.push(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
