//! The engine's locks, over the host's own when it has them.
//!
//! In userspace a spin lock is fine: a thread that spins is descheduled
//! and the holder runs. In a preemptive kernel it is not: a holder
//! preempted by a spinner of higher priority, or pinned to its CPU in the
//! network epoch, may never run again. So a kernel host registers a
//! [`LockBackend`] (mtx(9) and rw(9) on FreeBSD: adaptive, with priority
//! propagation, checked by WITNESS), and every lock here then takes the
//! host's lock first. The spin lock inside still guards the data; under the
//! host's lock it is never contended, so it never spins.
//!
//! The engine holds these locks briefly and never sleeps under them; it
//! allocates under them only fallibly, so a host that refuses to sleep
//! while one is held (and fails the allocation instead) loses nothing but
//! the request.

use crate::{Error, Result};
use core::ffi::CStr;
use core::ops::{Deref, DerefMut};

/// Host locks, named by opaque handles. Each lock is made with the name of
/// its class (a static string): a kernel's lock-order checker (WITNESS)
/// orders classes by name, so locks that nest must not share one.
pub trait LockBackend: Sync {
    fn mutex_new(&self, name: &'static CStr) -> Option<usize>;
    fn mutex_free(&self, h: usize);
    fn mutex_lock(&self, h: usize);
    fn mutex_unlock(&self, h: usize);
    fn rwlock_new(&self, name: &'static CStr) -> Option<usize>;
    fn rwlock_free(&self, h: usize);
    fn read_lock(&self, h: usize);
    fn read_unlock(&self, h: usize);
    fn write_lock(&self, h: usize);
    fn write_unlock(&self, h: usize);
}

static BACKEND: spin::Once<&'static dyn LockBackend> = spin::Once::new();

/// Registers the host's locks; locks made afterwards use them. Returns
/// false if another backend was registered before (that one stays).
pub fn set_lock_backend(backend: &'static dyn LockBackend) -> bool {
    let mut ours = false;
    BACKEND.call_once(|| {
        ours = true;
        backend
    });
    ours
}

type Host = Option<(&'static dyn LockBackend, usize)>;

#[derive(Clone, Copy)]
enum Held {
    Mutex,
    Read,
    Write,
}

/// Releases the host's lock when a guard goes. It is the guard's last
/// field, so the spin guard before it is released first.
struct Release(Host, Held);

impl Drop for Release {
    fn drop(&mut self) {
        if let Some((b, h)) = self.0 {
            match self.1 {
                Held::Mutex => b.mutex_unlock(h),
                Held::Read => b.read_unlock(h),
                Held::Write => b.write_unlock(h),
            }
        }
    }
}

pub struct Mutex<T> {
    host: Host,
    inner: spin::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A lock of the class `name`. Fails only when the host has no memory
    /// for its lock.
    pub fn new(name: &'static CStr, value: T) -> Result<Self> {
        let host = match BACKEND.get() {
            Some(b) => Some((*b, b.mutex_new(name).ok_or(Error::NoMemory)?)),
            None => None,
        };
        Ok(Mutex {
            host,
            inner: spin::Mutex::new(value),
        })
    }

    /// As `new`, with the value made only once the host's lock exists, so
    /// a large value is built in place rather than moved through temporaries
    /// (kernel stack frames stay small).
    pub fn new_with(name: &'static CStr, make: impl FnOnce() -> T) -> Result<Self> {
        let host = match BACKEND.get() {
            Some(b) => Some((*b, b.mutex_new(name).ok_or(Error::NoMemory)?)),
            None => None,
        };
        Ok(Mutex {
            host,
            inner: spin::Mutex::new(make()),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        if let Some((b, h)) = self.host {
            b.mutex_lock(h);
        }
        MutexGuard {
            inner: self.inner.lock(),
            _release: Release(self.host, Held::Mutex),
        }
    }
}

impl<T> Drop for Mutex<T> {
    fn drop(&mut self) {
        if let Some((b, h)) = self.host {
            b.mutex_free(h);
        }
    }
}

pub struct MutexGuard<'a, T> {
    inner: spin::MutexGuard<'a, T>,
    _release: Release,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

pub struct RwLock<T> {
    host: Host,
    inner: spin::RwLock<T>,
}

impl<T> RwLock<T> {
    /// A lock of the class `name`. Fails only when the host has no memory
    /// for its lock.
    pub fn new(name: &'static CStr, value: T) -> Result<Self> {
        let host = match BACKEND.get() {
            Some(b) => Some((*b, b.rwlock_new(name).ok_or(Error::NoMemory)?)),
            None => None,
        };
        Ok(RwLock {
            host,
            inner: spin::RwLock::new(value),
        })
    }

    pub fn read(&self) -> ReadGuard<'_, T> {
        if let Some((b, h)) = self.host {
            b.read_lock(h);
        }
        ReadGuard {
            inner: self.inner.read(),
            _release: Release(self.host, Held::Read),
        }
    }

    pub fn write(&self) -> WriteGuard<'_, T> {
        if let Some((b, h)) = self.host {
            b.write_lock(h);
        }
        WriteGuard {
            inner: self.inner.write(),
            _release: Release(self.host, Held::Write),
        }
    }
}

impl<T> Drop for RwLock<T> {
    fn drop(&mut self) {
        if let Some((b, h)) = self.host {
            b.rwlock_free(h);
        }
    }
}

pub struct ReadGuard<'a, T> {
    inner: spin::RwLockReadGuard<'a, T>,
    _release: Release,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

pub struct WriteGuard<'a, T> {
    inner: spin::RwLockWriteGuard<'a, T>,
    _release: Release,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}
