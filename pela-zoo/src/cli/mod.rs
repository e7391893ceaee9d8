//! The `pela` command, on any table of families: compress, distil, fine-tune, evaluate and
//! export the models of a [`Zoo`].
//!
//! The `pela` binary is `cli::main::<Architecture>()`, the zoo's own table. A crate with a
//! family of its own declares a table with one more line ([`families!`](crate::families)) and
//! gets the whole command for it, each subcommand written once over the families of each kind:
//!
//! ```no_run
//! use pela_zoo::family::kind::{ImageClassification, ImageTextRetrieval, TextEmbedding};
//!
//! pela_zoo::families! {
//!     /// The zoo's families, and (one more line) a family of this crate.
//!     #[derive(Debug, Clone, PartialEq)]
//!     enum MyZoo {
//!         Vit(pela_zoo::vit::VitConfig): ImageClassification,
//!         Swin(pela_zoo::swin::SwinConfig): ImageClassification,
//!         Bert(pela_zoo::bert::BertConfig): TextEmbedding,
//!         Albef(pela_zoo::albef::AlbefConfig): ImageTextRetrieval,
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     pela_zoo::cli::main::<MyZoo>()
//! }
//! ```
//!
//! The book's "Add your own family" chapter adds a perceptron this way, and
//! `pela-zoo/tests/fifth_family` runs `pela report | compress | eval` on it.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod commands;
mod inputs;
mod plot;
mod printer;

use std::ffi::OsString;
use std::process::ExitCode;

use burn::prelude::Backend;
use clap::Parser;
use pela::CompressionReport;

pub use anyhow::Result;
pub use commands::{Compress, DistillRun, Eval, Export, Finetune};

use crate::family::Zoo;
use crate::train::ParallelBackend;
use args::Cli;
use printer::Printer;

/// A table of families the `pela` command runs on: the subcommands whose work differs by the
/// kind of task, sent to the arm of each family's kind. [`families!`](crate::families)
/// implements it; a family whose models lack what a command needs is a compile error at its
/// line of the table.
pub trait Commands: Zoo {
    /// `pela compress` on the backend `B`: the teacher checkpoint in, the student and its
    /// report out.
    ///
    /// # Errors
    /// An error about the command's input: a file, a flag, a model.
    fn compress<B: Backend>(self, command: Compress<'_, B>) -> Result<CompressionReport>;

    /// `pela eval`, on the backend `B`.
    ///
    /// # Errors
    /// An error about the command's input.
    fn eval<B: Backend>(self, command: Eval<'_, B>) -> Result<()>;

    /// `pela distill`, trained on the autodiff backend `B`.
    ///
    /// # Errors
    /// An error about the command's input, or a failed run.
    fn distill<B: ParallelBackend>(self, command: DistillRun<'_, B>) -> Result<()>;

    /// `pela finetune`, trained on the autodiff backend `B`.
    ///
    /// # Errors
    /// An error about the command's input, or a failed run.
    fn finetune<B: ParallelBackend>(self, command: Finetune<'_, B>) -> Result<()>;

    /// `pela export`, on the backend `B`.
    ///
    /// # Errors
    /// An error about the command's input.
    fn export<B: Backend>(self, command: Export<'_, B>) -> Result<()>;
}

/// The `pela` command on the table `Z`, its arguments from the process: prints what it does
/// and any error (to stderr), and returns the exit code (2 for an error about the input).
pub fn main<Z: Commands>() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.quiet, cli.no_progress);
    match commands::run::<Z>(cli.command, &printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            printer.error(&error);
            // Every error the commands return is about their input: a file, a flag, a model.
            ExitCode::from(2)
        }
    }
}

/// [`main`] on the zoo's own table ([`Architecture`](crate::Architecture)), compiled in this
/// library (feature `shared-command`, off by default).
///
/// Not generic, so rustc compiles it here, with every backend's instance of the command
/// beneath it. In the dev profile rustc shares generic code between crates. So the `pela`
/// binary (`main::<Architecture>()`), the tests and the doctests that run the command link
/// this build. Without the feature, each of them compiles the whole command on every backend
/// again. A table of your own (as in `pela-zoo/tests/fifth_family`) reuses this build too,
/// for the families it shares with the zoo.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     pela_zoo::cli::zoo_main()
/// }
/// ```
#[cfg(feature = "shared-command")]
pub fn zoo_main() -> ExitCode {
    main::<crate::Architecture>()
}

/// The `pela` command on the table `Z` with the arguments `args` (the first is the program's
/// name), in this process: what a test or a program of its own runs.
///
/// # Errors
/// A malformed command line (clap's message, `--help` included), or the command's error.
///
/// ```
/// use pela_zoo::Architecture;
///
/// pela_zoo::cli::run::<Architecture, _, _>(["pela", "report", "--model", "deit_tiny_patch16_224", "--quiet"])?;
/// let typo = pela_zoo::cli::run::<Architecture, _, _>(["pela", "report", "--model", "deit_tiny_patch16_244"]);
/// assert!(format!("{:#}", typo.unwrap_err()).contains("did you mean `deit_tiny_patch16_224`"));
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn run<Z, I, T>(args: I) -> Result<()>
where
    Z: Commands,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let printer = Printer::new(cli.quiet, cli.no_progress);
    commands::run::<Z>(cli.command, &printer)
}
