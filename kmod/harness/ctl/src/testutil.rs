//! For tests (feature `testutil`): a temp dir and a fake door that speaks
//! ctl.h's framing from the door's side.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::{Req, Resp, MAGIC, REQ_LEN};

/// A fresh directory under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    #[allow(clippy::new_without_default)]
    pub fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "kharness-ctl-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One request as the door reads it (header, then the caller's buffer);
/// `None` when the caller closed or hung up. Panics on a bad magic.
pub fn read_request(s: &mut impl Read) -> Option<(Req, Vec<u8>)> {
    let mut head = [0u8; REQ_LEN];
    s.read_exact(&mut head).ok()?;
    let req = Req::from_bytes(&head);
    assert_eq!(req.magic, MAGIC);
    let mut buf = vec![0u8; usize::try_from(req.buflen).unwrap()];
    s.read_exact(&mut buf).ok()?;
    Some((req, buf))
}

/// A well-formed answer: FreeBSD errno `error`, `wgd_size` `size`, `buf`.
pub fn answer(error: i32, size: u64, buf: Vec<u8>) -> (Resp, Vec<u8>) {
    let resp = Resp {
        magic: MAGIC,
        error,
        size,
        buflen: buf.len() as u64,
    };
    (resp, buf)
}

/// Answers each request on `s` with `handle(request, buffer)` until the
/// caller closes; calls `seen` with each request first.
fn serve<F>(s: &mut UnixStream, handle: &mut F, seen: &mut dyn FnMut(&Req, &[u8]))
where
    F: FnMut(&Req, Vec<u8>) -> (Resp, Vec<u8>),
{
    while let Some((req, buf)) = read_request(s) {
        seen(&req, &buf);
        let (resp, out) = handle(&req, buf);
        assert_eq!(resp.buflen, out.len() as u64);
        if s.write_all(&resp.to_bytes()).is_err() || s.write_all(&out).is_err() {
            return;
        }
    }
}

/// A fake door at `dir/door.ctl`: accepts one connection and answers
/// each request with `handle(request, buffer)`, until the caller
/// closes. Returns the path and the thread.
pub fn fake_door<F>(dir: &Path, mut handle: F) -> (PathBuf, thread::JoinHandle<()>)
where
    F: FnMut(&Req, Vec<u8>) -> (Resp, Vec<u8>) + Send + 'static,
{
    let path = dir.join("door.ctl");
    let listener = UnixListener::bind(&path).unwrap();
    let t = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        serve(&mut s, &mut handle, &mut |_, _| {});
    });
    (path, t)
}

/// The requests a [`FakeDoor`] saw, each with its buffer.
type Seen = Arc<Mutex<Vec<(Req, Vec<u8>)>>>;

/// A fake door at `dir/door.ctl` serving every connection in turn with
/// `handle(request, buffer)`; remembers the requests. Stops on drop.
pub struct FakeDoor {
    pub path: PathBuf,
    seen: Seen,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeDoor {
    pub fn new<F>(dir: &Path, mut handle: F) -> FakeDoor
    where
        F: FnMut(&Req, Vec<u8>) -> (Resp, Vec<u8>) + Send + 'static,
    {
        let path = dir.join("door.ctl");
        let listener = UnixListener::bind(&path).unwrap();
        let seen: Seen = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = thread::spawn(move || {
            for s in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let mut s = s.unwrap();
                serve(&mut s, &mut handle, &mut |req, buf| {
                    seen2.lock().unwrap().push((*req, buf.to_vec()));
                });
            }
        });
        FakeDoor {
            path,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request so far, with its buffer, in order.
    pub fn requests(&self) -> Vec<(Req, Vec<u8>)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeDoor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept; if that fails, the thread is left behind
        // rather than joined forever.
        if UnixStream::connect(&self.path).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}
