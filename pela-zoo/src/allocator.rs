//! The allocator of the `pela` command and of the benchmarks: mimalloc, keeping the memory it
//! frees.
//!
//! Burn's CPU backends allocate a new buffer for the output of nearly every op, and drop the
//! inputs. The system allocator (glibc) maps large buffers afresh and unmaps them when freed,
//! and mimalloc returns freed memory to the system after a delay (1 s), so the next buffers
//! cost page faults and the kernel zeroing their pages: a fifth of a DeiT-Tiny training step on
//! burn-flex. Measured with `examples/forward_benchmark.rs` and `examples/training_benchmark.rs`
//! (the README's performance section): DeiT-Base's forward at batch 8 1.25× faster with
//! mimalloc than with glibc, and the training step a further 1.25× faster when mimalloc keeps
//! its freed memory. The price is that the process keeps its peak memory until it exits.
//!
//! A binary of your own gets the same with two lines:
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOCATOR: pela_zoo::allocator::MiMalloc = pela_zoo::allocator::MiMalloc;
//!
//! fn main() {
//!     pela_zoo::allocator::keep_freed_memory();
//!     // …
//! }
//! ```

pub use mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, the same position in its versions 2 and
/// 3): milliseconds before freed memory goes back to the system, `-1` for never.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc to keep the memory it frees for the next allocations instead of returning it
/// to the system. Call it first thing in `main`, with [`MiMalloc`] as the global allocator.
pub fn keep_freed_memory() {
    // SAFETY: sets one of mimalloc's options; any value is valid for it.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_set_to_never() {
        // The default, documented in mimalloc's options.c, is 1000 ms: position 15 is the purge
        // delay if it reads 1000 before and -1 after.
        // SAFETY: reads one of mimalloc's options.
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(get(), 1000);
        keep_freed_memory();
        assert_eq!(get(), -1);
    }
}
