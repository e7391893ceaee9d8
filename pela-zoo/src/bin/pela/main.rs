//! `pela`: compress, distil, fine-tune, evaluate and export Transformers (DeiT, DeiT-III, Swin,
//! BERT) with PELA.
//!
//! Run `pela --help`, or `pela <command> --help` for each command's flags.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod commands;
mod inputs;
mod printer;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::printer::Printer;

/// Every op of the CPU backends allocates its output: mimalloc, keeping freed memory, spares
/// the page faults of fresh pages (see `pela_zoo::allocator`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: pela_zoo::allocator::MiMalloc = pela_zoo::allocator::MiMalloc;

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    pela_zoo::allocator::keep_freed_memory();
    let cli = Cli::parse();
    let printer = Printer::new(cli.quiet, cli.no_progress);
    match commands::run(cli.command, &printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            printer.error(&error);
            // Every error the commands return is about their input: a file, a flag, a model.
            ExitCode::from(2)
        }
    }
}
