//! `pela`: compress, distil, fine-tune, evaluate and export Transformers (DeiT, DeiT-III, Swin,
//! BERT, ALBEF) with PELA: the command of [`pela_zoo::cli`] on the zoo's table of families.
//!
//! Run `pela --help`, or `pela <command> --help` for each command's flags.

use std::process::ExitCode;

use pela_zoo::Architecture;

// The allocator: the zoo's own (mimalloc keeping freed memory, feature `global-allocator`),
// which spares the CPU backends the page faults of fresh pages (see `pela_zoo::allocator`).

fn main() -> ExitCode {
    pela_zoo::cli::main::<Architecture>()
}
