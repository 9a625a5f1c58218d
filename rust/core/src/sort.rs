//! An in-place heapsort for the core's few sorts (allowed IPs of a peer for
//! SIOCGWG, duplicate names in an untrusted nvlist).
//!
//! Why not `slice::sort_unstable`: core's ipnsort recurses (quicksort into
//! one part, up to 2·log2(n) levels of a ~1 KiB frame) and a request at the
//! configuration limits could take it 40 levels deep, past a 16 KiB kernel
//! stack. Heapsort is O(n log n) in the worst case, allocates nothing and
//! never recurses, so the deepest call chain stays what the audit bounds.

use core::cmp::Ordering;

/// Sorts `v` by `cmp`, not stably, in O(n log n) with no recursion.
pub fn heapsort_by<T, F: FnMut(&T, &T) -> Ordering>(v: &mut [T], mut cmp: F) {
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n, &mut cmp);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, &mut cmp);
    }
}

/// [`heapsort_by`] in the natural order.
pub fn heapsort<T: Ord>(v: &mut [T]) {
    heapsort_by(v, T::cmp);
}

/// Moves `v[root]` down the max-heap `v[..end]` to its place.
fn sift_down<T, F: FnMut(&T, &T) -> Ordering>(
    v: &mut [T],
    mut root: usize,
    end: usize,
    cmp: &mut F,
) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && cmp(&v[child], &v[child + 1]) == Ordering::Less {
            child += 1;
        }
        if cmp(&v[root], &v[child]) != Ordering::Less {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_like_std(mut v in proptest::collection::vec(any::<u16>(), 0..300)) {
            let mut want = v.clone();
            want.sort();
            heapsort(&mut v);
            prop_assert_eq!(v, want);
        }

        #[test]
        fn sorts_by_a_comparator(mut v in proptest::collection::vec(any::<(u8, u8)>(), 0..200)) {
            heapsort_by(&mut v, |a, b| b.1.cmp(&a.1));
            prop_assert!(v.windows(2).all(|w| w[0].1 >= w[1].1));
        }
    }

    #[test]
    fn edge_sizes() {
        for n in 0..40u32 {
            let mut v: Vec<u32> = (0..n).rev().collect();
            heapsort(&mut v);
            assert!(v.windows(2).all(|w| w[0] <= w[1]), "n = {n}");
        }
    }
}
