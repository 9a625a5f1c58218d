//! Bytes each thread holds from the allocator, so the simulation can show
//! that a bogus datagram leaves nothing behind in an engine (no state grows
//! from a flood). Seeds run on several threads; a call's own balance is
//! read on the thread that made it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Metered;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn add(n: i64) {
    let _ = LIVE.try_with(|c| c.set(c.get() + n));
}

// SAFETY: defers every operation to the system allocator unchanged and
// only counts sizes on the side.
unsafe impl GlobalAlloc for Metered {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) };
        add(-(layout.size() as i64));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.realloc(ptr, layout, new) };
        if !p.is_null() {
            add(new as i64 - layout.size() as i64);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Metered = Metered;

/// Bytes allocated and not yet freed by this thread.
pub fn live() -> i64 {
    LIVE.with(|c| c.get())
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_this_threads_bytes() {
        let before = super::live();
        let v = vec![0u8; 64];
        assert_eq!(super::live() - before, 64);
        drop(v);
        assert_eq!(super::live(), before);
        std::mem::forget(vec![1u8; 10]);
        assert_eq!(super::live() - before, 10);
    }
}
