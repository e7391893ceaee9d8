//! `pela`: compress, distil, fine-tune, evaluate and export Transformers (DeiT, DeiT-III, Swin,
//! BERT, ALBEF) with PELA: the command of [`pela_zoo::cli`] on the zoo's table of families.
//!
//! Run `pela --help`, or `pela <command> --help` for each command's flags. It allocates with
//! the zoo's allocator (`pela_zoo::allocator`, feature `global-allocator`), as any program that
//! links the zoo does.

use std::process::ExitCode;

use pela_zoo::Architecture;

fn main() -> ExitCode {
    pela_zoo::cli::main::<Architecture>()
}
