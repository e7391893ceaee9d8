//! `pela`: compress, distil, fine-tune, evaluate and export Transformers (DeiT, DeiT-III, Swin,
//! BERT, ALBEF) with PELA: the command of [`pela_zoo::cli`] on the zoo's table of families.
//!
//! Run `pela --help`, or `pela <command> --help` for each command's flags.

use std::process::ExitCode;

use pela_zoo::Architecture;

/// Every op of the CPU backends allocates its output: mimalloc, keeping freed memory, spares
/// the page faults of fresh pages (see `pela_zoo::allocator`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: pela_zoo::allocator::MiMalloc = pela_zoo::allocator::MiMalloc;

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    pela_zoo::allocator::keep_freed_memory();
    pela_zoo::cli::main::<Architecture>()
}
