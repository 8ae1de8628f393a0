//! The server's global allocator: mimalloc, counting the bytes of live
//! allocations so INFO's `used_memory` means what Redis's does (the sum of
//! the usable sizes of the blocks in use, without free blocks, empty pages
//! or fragmentation), and the mimalloc options Ember runs with.
//!
//! `ember-server` installs [`Counted`] as `#[global_allocator]`. The count
//! is kept in a few cache-line-sized slots; a thread always adds to the same
//! slot (threads are spread over them round-robin), so the counting atomics
//! are almost never contended. A block freed on another thread than the one
//! that allocated it makes one slot go down and another up; only the sum
//! means anything. Test binaries use the system allocator: then nothing is
//! counted and [`allocated`] is `None`.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::os::raw::{c_long, c_void};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

const SLOTS: usize = 64;

#[repr(align(64))]
struct Slot(AtomicI64);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicI64::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // No destructor and a const initialiser: reading it never allocates.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline]
fn slot() -> &'static AtomicI64 {
    let i = MY_SLOT.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % SLOTS;
            s.set(i);
        }
        i
    });
    &COUNTS[i].0
}

#[inline]
fn usable(p: *mut u8) -> i64 {
    // SAFETY: `p` is a live block mimalloc returned (or null, which
    // mi_usable_size answers 0 for).
    unsafe { libmimalloc_sys::mi_usable_size(p as *const c_void) as i64 }
}

/// mimalloc with a count of the bytes in use (see the module comment).
pub struct Counted;

// SAFETY: every call is forwarded to mimalloc's own GlobalAlloc
// implementation unchanged; the bookkeeping only reads block sizes.
unsafe impl GlobalAlloc for Counted {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        slot().fetch_add(usable(p), Ordering::Relaxed);
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        slot().fetch_add(usable(p), Ordering::Relaxed);
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        slot().fetch_sub(usable(ptr), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let before = usable(ptr);
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // On failure the old block is untouched and still counted.
            slot().fetch_add(usable(p) - before, Ordering::Relaxed);
        }
        p
    }
}

/// The usable size mimalloc gives a request of `n` bytes (the size of its
/// bin). A buffer that will grow can ask for this much at once: the
/// allocator rounds up to it anyway, so the extra room costs nothing. A
/// pure function of `n`, right whichever allocator is the global one (test
/// binaries use the system allocator; asking for the rounded size is then
/// merely harmless).
#[inline]
pub fn good_size(n: usize) -> usize {
    // SAFETY: mi_good_size only computes the size class of `n`; it reads
    // no allocator state and has no preconditions.
    unsafe { libmimalloc_sys::mi_good_size(n) }
}

/// Bytes in live allocations, when [`Counted`] is the global allocator.
pub fn allocated() -> Option<u64> {
    // Only the slots handed to a thread so far hold anything: a server
    // with a few threads reads a few cache lines (the maxmemory check
    // calls this before every command).
    let used = NEXT_SLOT.load(Ordering::Relaxed).min(SLOTS);
    let sum: i64 = COUNTS[..used]
        .iter()
        .map(|s| s.0.load(Ordering::Relaxed))
        .sum();
    (sum > 0).then_some(sum as u64)
}

/// The largest [`allocated`] seen by this function, [`peak`] or the cron
/// (Redis also samples its peak, in `serverCron` and INFO).
pub fn sample_peak() -> Option<u64> {
    let now = allocated()?;
    PEAK.fetch_max(now, Ordering::Relaxed);
    Some(now)
}

/// The peak of [`allocated`] as sampled so far (0 when nothing is counted).
pub fn peak() -> u64 {
    sample_peak();
    PEAK.load(Ordering::Relaxed)
}

/// mimalloc's `mi_option_page_max_reclaim`: its index in the `mi_option_t`
/// enum of mimalloc 3 (the Rust bindings have no constant for it; it is set
/// only when the linked mimalloc is a 3.x).
const MI_OPTION_PAGE_MAX_RECLAIM: libmimalloc_sys::mi_option_t = 41;

/// How many pages of one size class a thread may hold before it stops
/// taking back pages it once allocated from when it frees into them.
const PAGE_MAX_RECLAIM: c_long = 16;

/// Sets the mimalloc options the server runs with, before any worker starts.
///
/// Bounds mimalloc's reclaiming of abandoned pages by the thread they came
/// from (unlimited by default). A value allocated by one worker is freed by
/// whichever worker overwrites its key. With unlimited reclaim, every free
/// into a page the freeing worker once filled takes that page back into the
/// worker's own queues, where the other workers cannot reuse its free
/// blocks; under random overwrites each worker ends up holding pages for
/// most of the dataset (+50% RSS with two workers, `scripts/churn-vs-redis`).
/// Bounded, those pages stay abandoned and whichever worker needs a page
/// refills them. `MIMALLOC_PAGE_MAX_RECLAIM` in the environment still wins.
pub fn tune() {
    // SAFETY: mi_version has no preconditions.
    let major = unsafe { libmimalloc_sys::mi_version() } / 10000;
    if major == 3 && std::env::var_os("MIMALLOC_PAGE_MAX_RECLAIM").is_none() {
        // SAFETY: mi_option_set only stores the value in mimalloc's option
        // table (read with a plain load when a page is freed into).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PAGE_MAX_RECLAIM, PAGE_MAX_RECLAIM) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mi_option_page_cross_thread_max_reclaim`, right after ours in the
    /// enum: finding its default there checks that
    /// `MI_OPTION_PAGE_MAX_RECLAIM` still names the option we mean.
    const MI_OPTION_PAGE_CROSS_THREAD_MAX_RECLAIM: libmimalloc_sys::mi_option_t = 42;

    #[test]
    fn page_max_reclaim_is_the_option_we_mean() {
        // SAFETY: mi_version and mi_option_get have no preconditions; both
        // indices are in range for mimalloc 3's option table.
        unsafe {
            assert_eq!(
                libmimalloc_sys::mi_version() / 10000,
                3,
                "mimalloc 3 expected"
            );
            if std::env::var_os("MIMALLOC_PAGE_CROSS_THREAD_MAX_RECLAIM").is_none() {
                assert_eq!(
                    libmimalloc_sys::mi_option_get(MI_OPTION_PAGE_CROSS_THREAD_MAX_RECLAIM),
                    32
                );
            }
            if std::env::var_os("MIMALLOC_PAGE_MAX_RECLAIM").is_none() {
                tune();
                assert_eq!(
                    libmimalloc_sys::mi_option_get(MI_OPTION_PAGE_MAX_RECLAIM),
                    PAGE_MAX_RECLAIM
                );
            }
        }
    }

    #[test]
    fn counts_live_bytes_across_threads() {
        let a = Counted;
        let before: i64 = COUNTS.iter().map(|s| s.0.load(Ordering::Relaxed)).sum();
        let sum = || -> i64 {
            COUNTS
                .iter()
                .map(|s| s.0.load(Ordering::Relaxed))
                .sum::<i64>()
                - before
        };
        let layout = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: layouts are non-zero; every block is freed once with its layout.
        unsafe {
            let p = a.alloc(layout);
            assert_eq!(sum(), 1024, "usable size of a 1000-byte block");
            let q = a.realloc(p, layout, 5000) as usize;
            assert_eq!(sum(), usable(q as *mut u8));
            // Freed on another thread: the total still returns to zero.
            std::thread::spawn(move || {
                Counted.dealloc(q as *mut u8, Layout::from_size_align(5000, 8).unwrap())
            })
            .join()
            .unwrap();
            assert_eq!(sum(), 0);
            let z = a.alloc_zeroed(Layout::from_size_align(64, 64).unwrap());
            assert!(sum() >= 64);
            a.dealloc(z, Layout::from_size_align(64, 64).unwrap());
            assert_eq!(sum(), 0);
        }
    }
}
