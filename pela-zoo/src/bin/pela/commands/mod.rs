//! One file a command; each returns `Ok` or an error about its input.

mod compress;
mod distill;
mod eval;
mod export;
mod finetune;
mod report;

use anyhow::Result;

use crate::args::{Backend, Command};
use crate::printer::Printer;

pub fn run(command: Command, printer: &Printer) -> Result<()> {
    match command {
        Command::Report(args) => report::run(args, printer),
        Command::Compress(args) => compress::run(args, printer),
        Command::Distill(args) => on_backend!(args.train.backend, distill::run(args, printer)),
        Command::Finetune(args) => on_backend!(args.train.backend, finetune::run(args, printer)),
        Command::Eval(args) => on_backend!(args.backend, eval::run(args, printer)),
        Command::Export(args) => export::run(args, printer),
    }
}

/// Runs a command generic over the autodiff backend `B` on the one `--backend` names.
macro_rules! on_backend {
    ($backend:expr, $module:ident :: run($($arg:expr),*)) => {
        match $backend {
            Backend::Cpu => $module::run::<pela_zoo::backend::CpuAutodiff>(
                $($arg,)* &pela_zoo::backend::CpuDevice::default()),
            Backend::Flex => $module::run::<pela_zoo::backend::FlexAutodiff>(
                $($arg,)* &pela_zoo::backend::FlexDevice::default()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => $module::run::<pela_zoo::backend::CudaAutodiff>(
                $($arg,)* &pela_zoo::backend::CudaDevice::default()),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => anyhow::bail!(
                "--backend cuda: this `pela` was built without CUDA; rebuild it with \
                 `cargo build --release -p pela-zoo --features cuda`"
            ),
        }
    };
}
use on_backend;

/// A Ctrl-C flag: the first Ctrl-C asks the training loop to checkpoint and stop.
pub fn interrupt_flag(printer: &Printer) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    let quiet = printer.quiet();
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        if !quiet {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "\ninterrupted: writing a checkpoint after this step (Ctrl-C again to quit \
                     now); continue later with --resume"
                );
            }
        }
    });
    if installed.is_err() {
        printer.status("warning: Ctrl-C will stop the run without a checkpoint");
    }
    flag
}

/// Trains `trainee` as `--run-dir`, `--resume` and the training flags say, then writes the
/// trained student to `<run-dir>/student.safetensors`; `done` names the job in the last line.
#[allow(clippy::too_many_arguments)]
pub fn train_student<B, X>(
    trainee: X,
    train_set: &dyn pela_zoo::data::ImageDataset,
    valid_set: &dyn pela_zoo::data::ImageDataset,
    args: &crate::args::TrainArgs,
    run: &pela_zoo::train::RunDir,
    config: &pela_zoo::vit::VitConfig,
    done: &str,
    printer: &Printer,
    device: &B::Device,
) -> Result<()>
where
    B: burn::tensor::backend::AutodiffBackend,
    X: pela_zoo::train::Trainee<B, Model = pela_zoo::vit::VitLowRank<B>>,
{
    use burn::module::AutodiffModule;
    let interrupt = interrupt_flag(printer);
    let outcome = pela_zoo::train::train(
        trainee,
        train_set,
        valid_set,
        &crate::inputs::training(args),
        run,
        args.resume,
        &crate::printer::TrainBars::new(printer),
        &interrupt,
        device,
    )?;
    if outcome.interrupted {
        printer.status("stopped; run the same command with --resume to continue");
        return Ok(());
    }
    let output = run.root().join("student.safetensors");
    config.save_student(&outcome.trainee.model().valid(), &output)?;
    printer.finished(format!("{done}; the student is in {}", output.display()));
    Ok(())
}
