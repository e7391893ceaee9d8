//! The allocator of every program that uses the zoo: mimalloc, keeping the memory it frees.
//!
//! Burn's CPU backends allocate a new buffer for the output of nearly every op, and drop the
//! inputs. The system allocator (glibc) maps large buffers afresh and unmaps them when freed,
//! and mimalloc returns freed memory to the system after a delay (1 s), so the next buffers
//! cost page faults and the kernel zeroing their pages: a fifth of a DeiT-Tiny training step on
//! burn-flex. Measured with `examples/forward_benchmark.rs` and `examples/training_benchmark.rs`
//! (the book's chapter on CPU speed): DeiT-Base's forward at batch 8 1.25× faster with mimalloc
//! than with glibc, and the training step a further 1.25× faster when mimalloc keeps its freed
//! memory. The price is that the process keeps its peak memory until it exits.
//!
//! **Done for you.** With the `global-allocator` feature (on by default) `pela-zoo` installs
//! [`KeepFreedMiMalloc`] as the `#[global_allocator]` of any program that links it, so your own
//! binary is as fast as the benchmarks without a line of its own. A program that brings its
//! own global allocator gets rustc's error "the `#[global_allocator]` in this crate conflicts
//! with global allocator in: pela_zoo": turn the feature off, keeping the others you use:
//!
//! ```toml
//! pela-zoo = { version = "0.1", default-features = false, features = ["cli", "dashboard"] }
//! ```
//!
//! With the feature off and `mimalloc` on, the same allocator is two lines of your own:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: pela_zoo::allocator::KeepFreedMiMalloc = pela_zoo::allocator::KeepFreedMiMalloc;
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering};

pub use mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, the same position in its versions 2 and
/// 3): milliseconds before freed memory goes back to the system, `-1` for never.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc to keep the memory it frees for the next allocations instead of returning it
/// to the system. [`KeepFreedMiMalloc`] calls it before its first allocation; call it yourself
/// first thing in `main` when [`MiMalloc`] is your global allocator.
pub fn keep_freed_memory() {
    // SAFETY: sets one of mimalloc's options; any value is valid for it, at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

/// Whether [`KeepFreedMiMalloc`] has set mimalloc's purge delay yet.
static KEEPING: AtomicBool = AtomicBool::new(false);

/// [`MiMalloc`], told to keep the memory it frees ([`keep_freed_memory`]) before it first
/// allocates: the zoo's global allocator (feature `global-allocator`).
///
/// ```
/// // Any allocation of a program that links the zoo goes through it.
/// let buffer = vec![0.0f32; 1 << 20];
/// assert!(pela_zoo::allocator::keeps_freed_memory());
/// # drop(buffer);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct KeepFreedMiMalloc;

impl KeepFreedMiMalloc {
    /// Sets the purge delay once; afterwards one relaxed load per allocation.
    #[inline]
    fn keep() {
        if !KEEPING.load(Ordering::Relaxed) {
            keep_freed_memory();
            KEEPING.store(true, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is MiMalloc's, which upholds `GlobalAlloc`'s contract; setting an option
// neither allocates nor touches the memory handed out.
unsafe impl GlobalAlloc for KeepFreedMiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::keep();
        // SAFETY: the caller's contract, passed on.
        unsafe { MiMalloc.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::keep();
        // SAFETY: the caller's contract, passed on.
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::keep();
        // SAFETY: the caller's contract, passed on.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// Whether mimalloc keeps the memory it frees (its purge delay is "never"): true once
/// [`KeepFreedMiMalloc`] has allocated or [`keep_freed_memory`] has run.
pub fn keeps_freed_memory() -> bool {
    // SAFETY: reads one of mimalloc's options.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) == -1 }
}

/// The zoo's global allocator (see the module's documentation).
#[cfg(feature = "global-allocator")]
#[global_allocator]
static GLOBAL: KeepFreedMiMalloc = KeepFreedMiMalloc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_never_once_the_allocator_has_allocated() {
        // mimalloc's default, documented in its options.c, is 1000 ms; position 15 is the purge
        // delay if it reads -1 after `keep_freed_memory`, which the zoo's allocator ran before
        // this test's first allocation.
        let buffer = vec![1u8; 1 << 16];
        assert_eq!(buffer.len(), 1 << 16);
        if cfg!(feature = "global-allocator") {
            assert!(keeps_freed_memory());
        }
        keep_freed_memory();
        // SAFETY: reads one of mimalloc's options.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, -1);
    }
}
