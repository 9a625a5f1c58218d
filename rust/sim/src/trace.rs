//! The last events of a run, kept cheaply and printed only on failure.

use crate::net::Addr;
use std::collections::VecDeque;
use std::fmt;
use wg_core::{Error, PeerId};

#[derive(Clone, Debug)]
pub enum Ev {
    Send {
        dev: usize,
        to: Addr,
        kind: u8,
        len: usize,
        index: u32,
        counter: u64,
    },
    Lost {
        from: usize,
        to: Addr,
        why: &'static str,
    },
    Recv {
        dev: usize,
        from: Addr,
        kind: u8,
        len: usize,
        result: Result<(&'static str, Option<PeerId>), Error>,
    },
    Packet {
        from: usize,
        to: usize,
        id: u64,
        what: &'static str,
        err: Option<Error>,
    },
    Delivered {
        dev: usize,
        peer: PeerId,
        id: u64,
    },
    Poll {
        dev: usize,
        peer: PeerId,
        action: &'static str,
    },
    Note(String),
}

pub struct Trace {
    ring: VecDeque<(u64, Ev)>,
    cap: usize,
    origin: u64,
}

impl Trace {
    pub fn new(cap: usize, origin: u64) -> Trace {
        Trace {
            ring: VecDeque::with_capacity(cap + 1),
            cap,
            origin,
        }
    }

    pub fn push(&mut self, now: u64, ev: Ev) {
        if self.cap == 0 {
            return;
        }
        if self.ring.len() == self.cap {
            self.ring.pop_front();
        }
        self.ring.push_back((now, ev));
    }

    pub fn lines(&self) -> Vec<String> {
        self.ring
            .iter()
            .map(|(t, e)| format!("{:10.6} {}", (t - self.origin) as f64 / 1e9, e))
            .collect()
    }
}

fn kind_name(kind: u8, len: usize) -> &'static str {
    match (kind, len) {
        (1, _) => "initiation",
        (2, _) => "response",
        (3, _) => "cookie-reply",
        (4, 32) => "keepalive",
        (4, _) => "data",
        _ => "junk",
    }
}

fn a(x: &Addr) -> String {
    std::net::SocketAddr::from(crate::net::endpoint(*x)).to_string()
}

impl fmt::Display for Ev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ev::Send {
                dev,
                to,
                kind,
                len,
                index,
                counter,
            } => {
                write!(f, "dev {dev} sends {} ({len} B", kind_name(*kind, *len))?;
                if *kind == 4 {
                    write!(f, ", idx {index:#010x} ctr {counter}")?;
                }
                write!(f, ") to {}", a(to))
            }
            Ev::Lost { from, to, why } => write!(f, "net: from dev {from} to {} {why}", a(to)),
            Ev::Recv {
                dev,
                from,
                kind,
                len,
                result,
            } => {
                write!(
                    f,
                    "dev {dev} gets {} ({len} B) from {}: ",
                    kind_name(*kind, *len),
                    a(from)
                )?;
                match result {
                    Ok((what, Some(p))) => write!(f, "{what} (peer {})", p.0),
                    Ok((what, None)) => write!(f, "{what}"),
                    Err(e) => write!(f, "error {e:?}"),
                }
            }
            Ev::Packet {
                from,
                to,
                id,
                what,
                err,
            } => {
                write!(f, "packet #{id} {from}->{to} {what}")?;
                if let Some(e) = err {
                    write!(f, " ({e:?})")?;
                }
                Ok(())
            }
            Ev::Delivered { dev, peer, id } => {
                write!(f, "dev {dev} delivers packet #{id} from peer {}", peer.0)
            }
            Ev::Poll { dev, peer, action } => write!(f, "dev {dev} poll peer {}: {action}", peer.0),
            Ev::Note(s) => write!(f, "{s}"),
        }
    }
}
