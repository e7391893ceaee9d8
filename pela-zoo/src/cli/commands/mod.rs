//! One file a command; each returns `Ok` or an error about its input.

mod albef;
mod compress;
mod distill;
mod eval;
mod export;
mod finetune;
mod report;
mod text;

use anyhow::{Context, Result};

pub use compress::Compress;
pub use distill::DistillRun;
pub use eval::Eval;
pub use export::Export;
pub use finetune::Finetune;

use super::Commands;
use crate::cli::args::{Backend, Command};
use crate::cli::printer::Printer;

/// Runs `command` on the table of families `Z`.
pub fn run<Z: Commands>(command: Command, printer: &Printer) -> Result<()> {
    match command {
        Command::Report(args) => {
            on_inference_backend!(args.backend, printer, report::run::<Z>(args, printer))
        }
        Command::Compress(args) => {
            on_inference_backend!(args.backend, printer, compress::run::<Z>(args, printer))
        }
        Command::Distill(args) => {
            on_backend!(
                args.train.backend,
                &args.train.devices,
                printer,
                distill::run::<Z>(args, printer)
            )
        }
        Command::Finetune(args) => {
            on_backend!(
                args.train.backend,
                &args.train.devices,
                printer,
                finetune::run::<Z>(args, printer)
            )
        }
        Command::Eval(args) => {
            on_backend!(
                args.backend,
                &[] as &[usize],
                printer,
                eval::run::<Z>(args, printer)
            )
        }
        Command::Export(args) => {
            on_inference_backend!(args.backend, printer, export::run::<Z>(args, printer))
        }
    }
}

/// Runs a training command generic over the table `Z` and the autodiff backend `B` on the
/// one `--backend` names, with the devices of `--devices` (CUDA indices; the CPU backends and
/// wgpu have one device). `$printer` says which adapter wgpu runs on.
macro_rules! on_backend {
    ($backend:expr, $devices:expr, $printer:expr, $module:ident :: run::<$zoo:ty>($($arg:expr),*)) => {{
        let indices: Vec<usize> = $devices.to_vec();
        match ($backend, indices.is_empty()) {
            (Backend::Cpu | Backend::Flex | Backend::Wgpu, false) => anyhow::bail!(
                "--devices: only --backend cuda trains on several devices; the CPU backends \
                 have one device (all cores), and wgpu runs on its default adapter"
            ),
            #[cfg(not(feature = "ddp"))]
            (Backend::Cpu, true) => $module::run::<$zoo, crate::backend::CpuAutodiff>(
                $($arg,)* vec![crate::backend::CpuDevice::default()]),
            #[cfg(not(feature = "ddp"))]
            (Backend::Flex, true) => $module::run::<$zoo, crate::backend::FlexAutodiff>(
                $($arg,)* vec![crate::backend::FlexDevice::default()]),
            // Burn's `distributed` feature makes its CPU backends unusable for training.
            #[cfg(feature = "ddp")]
            (Backend::Cpu | Backend::Flex, true) => anyhow::bail!(
                "--backend cpu/flex: this `pela` was built with `--features ddp`, which trains \
                 on CUDA only; build it without that feature for the CPU"
            ),
            #[cfg(feature = "cuda")]
            (Backend::Cuda, _) => $module::run::<$zoo, crate::backend::CudaAutodiff>(
                $($arg,)* cuda_devices(&indices)),
            #[cfg(not(feature = "cuda"))]
            (Backend::Cuda, _) => Err(no_cuda()),
            #[cfg(all(feature = "wgpu", not(feature = "ddp")))]
            (Backend::Wgpu, true) => {
                announce_wgpu($printer)?;
                $module::run::<$zoo, crate::backend::WgpuAutodiff>(
                    $($arg,)* vec![crate::backend::WgpuDevice::default()])
            }
            #[cfg(all(feature = "wgpu", feature = "ddp"))]
            (Backend::Wgpu, true) => anyhow::bail!(
                "--backend wgpu: this `pela` was built with `--features ddp`, which trains on \
                 CUDA only; build it without that feature for wgpu"
            ),
            #[cfg(not(feature = "wgpu"))]
            (Backend::Wgpu, true) => Err(no_wgpu()),
        }
    }};
}
use on_backend;

/// Runs a command that does not train (report, compress, export) generic over the table `Z`
/// and the backend `B` that `--backend` names, on that backend's first device. Every build
/// has the CPU backends here, `ddp` included.
macro_rules! on_inference_backend {
    ($backend:expr, $printer:expr, $module:ident :: run::<$zoo:ty>($($arg:expr),*)) => {{
        match $backend {
            Backend::Cpu => $module::run::<$zoo, crate::backend::Cpu>(
                $($arg,)* crate::backend::CpuDevice::default()),
            Backend::Flex => $module::run::<$zoo, crate::backend::Flex>(
                $($arg,)* crate::backend::FlexDevice::default()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => $module::run::<$zoo, crate::backend::Cuda>(
                $($arg,)* crate::backend::CudaDevice::default()),
            #[cfg(not(feature = "cuda"))]
            Backend::Cuda => Err(no_cuda()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => {
                announce_wgpu($printer)?;
                $module::run::<$zoo, crate::backend::Wgpu>(
                    $($arg,)* crate::backend::WgpuDevice::default())
            }
            #[cfg(not(feature = "wgpu"))]
            Backend::Wgpu => Err(no_wgpu()),
        }
    }};
}
use on_inference_backend;

/// The refusal of `--backend cuda` by a build without the `cuda` feature.
#[cfg(not(feature = "cuda"))]
fn no_cuda() -> anyhow::Error {
    anyhow::anyhow!(
        "--backend cuda: this `pela` was built without CUDA; rebuild it with \
         `cargo build --release -p pela-zoo --features cuda`"
    )
}

/// The refusal of `--backend wgpu` by a build without the `wgpu` feature.
#[cfg(not(feature = "wgpu"))]
fn no_wgpu() -> anyhow::Error {
    anyhow::anyhow!(
        "--backend wgpu: this `pela` was built without wgpu; rebuild it with \
         `cargo build --release -p pela-zoo --features wgpu`"
    )
}

/// Says which adapter wgpu runs on, or why there is none (the fix included).
#[cfg(feature = "wgpu")]
fn announce_wgpu(printer: &Printer) -> Result<()> {
    let adapter =
        crate::backend::wgpu_adapter().map_err(|why| anyhow::anyhow!("--backend wgpu: {why}"))?;
    printer.status(format!("wgpu runs on {adapter}"));
    Ok(())
}

/// The CUDA devices of `--devices`; the first GPU without it.
#[cfg(feature = "cuda")]
fn cuda_devices(indices: &[usize]) -> Vec<crate::backend::CudaDevice> {
    if indices.is_empty() {
        return vec![crate::backend::CudaDevice::default()];
    }
    indices
        .iter()
        .map(|&i| crate::backend::CudaDevice::new(i))
        .collect()
}

/// Burn's interrupter, stopped by the first Ctrl-C: the run writes a checkpoint after the
/// current optimizer step and stops. A second Ctrl-C quits at once.
pub fn ctrl_c(printer: &Printer) -> burn::train::Interrupter {
    use std::sync::atomic::{AtomicBool, Ordering};
    let interrupter = burn::train::Interrupter::new();
    let handler = interrupter.clone();
    let pressed = AtomicBool::new(false);
    let quiet = printer.quiet();
    let installed = ctrlc::set_handler(move || {
        if pressed.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        handler.stop(Some("Ctrl-C"));
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
    interrupter
}

/// A training run of a student as the flags say: where, on which devices, and how it is
/// reported. [`StudentRun::train`] trains and writes `<run-dir>/student.safetensors`.
pub struct StudentRun<'a, B: crate::train::ParallelBackend> {
    pub args: &'a crate::cli::args::TrainArgs,
    /// The settings: the family's defaults and the flags ([`training_settings`]).
    pub settings: crate::train::TrainingConfig,
    pub devices: Vec<B::Device>,
    pub printer: &'a Printer,
    /// The job's name in the last line: "distilled", "fine-tuned".
    pub done: &'a str,
}

impl<B: crate::train::ParallelBackend> StudentRun<'_, B> {
    /// Trains `student` by `task` on the two sets, batched by `batcher`, and writes the
    /// result with `save`.
    #[allow(clippy::type_complexity)]
    pub fn train<T, I, Bt>(
        self,
        run: crate::train::RunDir,
        task: T,
        student: T::Model,
        (train_set, valid_set): (
            std::sync::Arc<dyn crate::train::TrainingSet<I>>,
            std::sync::Arc<dyn crate::train::TrainingSet<I>>,
        ),
        batcher: Bt,
        save: impl FnOnce(
            &<T::Model as burn::module::AutodiffModule<B>>::InnerModule,
            &std::path::Path,
        ) -> Result<(), crate::ZooError>,
    ) -> Result<()>
    where
        T: crate::train::Task<B>,
        I: Send + Sync + Clone + core::fmt::Debug + 'static,
        Bt: burn::data::dataloader::batcher::Batcher<B, I, T::Batch>
            + burn::data::dataloader::batcher::Batcher<B::InnerBackend, I, T::ValidBatch>
            + Clone
            + 'static,
    {
        let printer = self.printer;
        let interrupter = ctrl_c(printer);
        let engine = crate::train::Engine::<B>::new(self.settings, run.clone())
            .resume(self.args.resume)
            .skip_unreadable(self.args.skip_unreadable)
            .devices(self.devices)
            .interrupter(interrupter.clone());
        let engine = if self.args.dashboard {
            dashboard(engine, interrupter)?
        } else {
            let log = printer.clone_lines();
            engine
                .renderer(crate::train::ProgressRenderer::new(!printer.bars()))
                .on_epoch(move |metrics| log.status(metrics.summary()))
        };
        let outcome = engine.fit(task, student, train_set, valid_set, batcher)?;
        if outcome.interrupted {
            printer.status(format!(
                "stopped; the checkpoint is in {}: run the same command with --resume to \
                 continue",
                run.checkpoint().display()
            ));
            return Ok(());
        }
        let output = run.root().join("student.safetensors");
        save(&outcome.model, &output)?;
        printer.finished(format!(
            "{}; the student is in {}",
            self.done,
            output.display()
        ));
        Ok(())
    }
}

/// The training settings of a run of `config`'s family: its defaults
/// ([`Family::training_defaults`](crate::Family::training_defaults)) with the flags given,
/// the defaults that are the family's own said in a status line.
pub fn training_settings<F: crate::Family>(
    config: &F,
    flags: &crate::cli::args::TrainFlags,
    printer: &Printer,
) -> crate::train::TrainingConfig {
    let defaults = config.training_defaults();
    let own = flags.family_defaults(&defaults);
    if !own.is_empty() {
        printer.status(format!(
            "{}'s training defaults: {}",
            F::NAME,
            own.join(", ")
        ));
    }
    flags.over(defaults)
}

/// The report of compressing `teacher` by `plan`: a preview (ranks and sizes), or with `svd`
/// the full conversion (reconstruction errors too), with a progress bar.
pub fn compression_report<B: burn::prelude::Backend, M: pela::LowRank<B>>(
    teacher: &M,
    plan: &pela::RankPlan,
    svd: bool,
    printer: &Printer,
) -> Result<pela::CompressionReport> {
    if svd {
        Ok(compression_report_and_student(teacher, plan, printer)?.1)
    } else {
        Ok(teacher.preview(plan)?)
    }
}

/// The student of `teacher` under `plan` and its report, with a progress bar over the SVDs.
pub fn compression_report_and_student<B: burn::prelude::Backend, M: pela::LowRank<B>>(
    teacher: &M,
    plan: &pela::RankPlan,
    printer: &Printer,
) -> Result<(M::Twin, pela::CompressionReport)> {
    let bar = printer.bar(low_rank_layers(teacher, plan)?, "SVD");
    let converted = teacher
        .to_low_rank_with_progress(plan, &crate::cli::printer::ConversionBar(bar.clone()))?;
    bar.finish_and_clear();
    Ok(converted)
}

/// A calibration pass: runs a twin of the teacher forward over the `--calibration` data, the
/// same batches in the same order every time, and gives the model's outputs on them, one row
/// an input (what `--allocation weighted` measures each layer's effect on).
pub type Calibrate<'a, B, T> = &'a dyn Fn(&T) -> Result<burn::tensor::Tensor<B, 2>>;

/// `pela compress`'s conversion of `teacher`: ranks allocated within `--budget` when it is
/// given (the allocation printed, and written to `<output>.allocation.json`), then the
/// factorisation `--init` names, from the `--calibration` passes of `calibrate` for the
/// data-aware ones. The plan it used, every rank written out, goes to `<output>.plan.json`:
/// `--plan` with it (and the same `--init` and `--calibration`) reproduces the student.
/// `layer_rows` is the family's [`Family::layer_rows`](crate::Family::layer_rows), for a
/// budget in FLOPs.
pub fn compress_teacher<B: burn::prelude::Backend, M: pela::LowRank<B>>(
    teacher: &M,
    plan: &pela::RankPlan,
    args: &crate::cli::args::CompressArgs,
    calibrate: Option<Calibrate<'_, B, M::Twin>>,
    layer_rows: &dyn Fn(&str) -> usize,
    printer: &Printer,
) -> Result<(M::Twin, pela::CompressionReport)> {
    use crate::cli::args::{AllocationKind, Init};
    let allocation = &args.allocation;
    let data_aware_allocation = allocation.budget.is_some()
        && matches!(
            allocation.allocation,
            AllocationKind::DataAware | AllocationKind::Weighted
        );
    // `--plot` draws the data-aware allocation too when there is calibration data.
    let plots = allocation.budget.is_some() && allocation.plot.is_some();
    let init = args.calibration.init.unwrap_or(if calibrate.is_some() {
        Init::DataAware
    } else {
        Init::Svd
    });
    let calibrate = match calibrate {
        None if init != Init::Svd => anyhow::bail!(
            "--init {init} needs --calibration DATA: the images or texts on whose inputs each \
             layer is fitted"
        ),
        None if data_aware_allocation => anyhow::bail!(
            "--allocation {} needs --calibration DATA: the images or texts on which each \
             layer's output error is measured",
            if allocation.allocation == AllocationKind::Weighted {
                "weighted"
            } else {
                "data-aware"
            }
        ),
        Some(_) if init == Init::Svd && !data_aware_allocation && !plots => anyhow::bail!(
            "--calibration: nothing uses it with --init svd; drop --init svd (the data-aware \
             initialisation is the default with --calibration) or add --budget with \
             --allocation data-aware or weighted (or --plot)"
        ),
        calibrate => calibrate,
    };
    // One pass through a twin that records every layer's inputs: for the data-aware
    // allocation, the one-shot data-aware initialisation and the plot's data-aware curve.
    let calibrated = match calibrate {
        Some(calibrate) if init == Init::DataAware || data_aware_allocation || plots => {
            printer.status("calibrating: the teacher's inputs to every layer");
            let twin = teacher.calibration_twin()?;
            calibrate(&twin).map(|_| ()).context("--calibration")?;
            Some(twin)
        }
        _ => None,
    };
    let plan = match allocation.budget {
        Some(budget) => {
            let mut allocator = pela::Allocator::new(budget, allocation.allocation.allocation())
                .with_rank_multiple(allocation.rank_multiple as usize);
            if budget.unit() == pela::BudgetUnit::MultiplyAdds {
                allocator.layer_rows = teacher
                    .preview(plan)?
                    .layers
                    .iter()
                    .map(|layer| (layer.path.clone(), layer_rows(&layer.path)))
                    .collect();
            }
            if allocation.allocation == AllocationKind::Weighted {
                let twin = calibrated
                    .as_ref()
                    .context("the weighted allocation needs the calibration twin")?;
                let calibrate = calibrate.context("the weighted allocation needs --calibration")?;
                let weights =
                    measure_sensitivities(teacher, plan, &allocator, twin, calibrate, printer)?;
                allocator = allocator.with_layer_weights(weights);
            }
            printer.status(format!(
                "allocating ranks within {budget} ({} allocation{})",
                allocator.allocation,
                if allocator.layer_weights.is_empty() {
                    ""
                } else {
                    ", weighted"
                }
            ));
            let allocated = match &calibrated {
                Some(twin) => allocator.allocate_data_aware(teacher, plan, twin),
                None => allocator.allocate(teacher, plan),
            };
            let (written, report) = allocated.context("--budget / --allocation")?;
            printer.result(&report);
            let path = args.output.with_extension("allocation.json");
            let json = serde_json::to_string_pretty(&report)?;
            crate::fs::write_atomic(&path, json.as_bytes())?;
            if let Some(picture) = &allocation.plot {
                plot_allocations(teacher, plan, &allocator, calibrated.as_ref(), picture)?;
                printer.status(format!(
                    "drew the allocations in {} (the numbers in {})",
                    picture.display(),
                    picture.with_extension("json").display()
                ));
            }
            written
        }
        None => plan.clone(),
    };
    let converted = match (init, calibrate, &calibrated) {
        (Init::DataAware, _, Some(calibrated)) => {
            let bar = printer.bar(low_rank_layers(teacher, &plan)?, "data-aware SVD");
            let converted = teacher.to_low_rank_data_aware_with_progress(
                &plan,
                calibrated,
                &crate::cli::printer::ConversionBar(bar.clone()),
            )?;
            bar.finish_and_clear();
            converted
        }
        (Init::Sequential, Some(calibrate), _) => {
            let layers = low_rank_layers(teacher, &plan)?;
            printer.status(format!(
                "sequential initialisation: {layers} layers, {} passes over the calibration data",
                (2 * layers).saturating_sub(1)
            ));
            let bar = printer.bar(layers, "sequential SVD");
            let converted = teacher.to_low_rank_sequential_with_progress(
                &plan,
                &crate::cli::printer::ConversionBar(bar.clone()),
                |twin| calibrate(twin).map(|_| ()).context("--calibration"),
            )?;
            bar.finish_and_clear();
            converted
        }
        _ => compression_report_and_student(teacher, &plan, printer)?,
    };
    let path = args.output.with_extension("plan.json");
    crate::fs::write_atomic(&path, plan.to_string().as_bytes())?;
    Ok(converted)
}

/// `--allocation weighted`: each allocated layer's weight, measured by `pela::Sensitivities`
/// at the ranks of the budget's uniform κ (that of `--budget kappa=κ`, else the dense size
/// over the uniform allocation's), on the model's outputs over the calibration data; the
/// table printed.
fn measure_sensitivities<B: burn::prelude::Backend, M: pela::LowRank<B>>(
    teacher: &M,
    plan: &pela::RankPlan,
    allocator: &pela::Allocator,
    calibrated: &M::Twin,
    calibrate: Calibrate<'_, B, M::Twin>,
    printer: &Printer,
) -> Result<std::collections::HashMap<String, f64>> {
    // The κ of the budget's uniform ranks, as the plan's own rule (a plan with every rank
    // written out would put every layer outside the allocation).
    let ratio = match allocator.budget {
        pela::Budget::Ratio(ratio) => ratio,
        _ => {
            let mut uniform = allocator.clone();
            uniform.allocation = pela::Allocation::Uniform;
            let (_, report) = uniform
                .allocate(teacher, plan)
                .context("--budget: the uniform ranks the sensitivities are measured at")?;
            report.dense_parameters as f64 / report.parameters.max(1) as f64
        }
    };
    let mut probe_plan = plan.clone();
    probe_plan.ratio = ratio;
    let layers = low_rank_layers(teacher, &probe_plan)?;
    printer.status(format!(
        "measuring each layer's effect on the outputs: {} passes over the calibration data",
        layers + 1
    ));
    let bar = printer.bar(layers, "sensitivity");
    let sensitivities = pela::Sensitivities::measure_with_progress(
        teacher,
        &probe_plan,
        calibrated,
        &crate::cli::printer::ConversionBar(bar.clone()),
        |twin| calibrate(twin).context("--calibration"),
    )?;
    bar.finish_and_clear();
    printer.result(&sensitivities);
    Ok(sensitivities.weights())
}

/// `--plot`: every allocation `allocator` can run (data-aware with `calibrated`) at its
/// budget and from 5 % to 95 % of the dense size, drawn into `picture`, the numbers beside it
/// in `<picture>.json`.
fn plot_allocations<B: burn::prelude::Backend, M: pela::LowRank<B>>(
    teacher: &M,
    plan: &pela::RankPlan,
    allocator: &pela::Allocator,
    calibrated: Option<&M::Twin>,
    picture: &std::path::Path,
) -> Result<()> {
    use pela::Allocation;
    let mut allocations = vec![Allocation::Uniform, Allocation::Spectrum];
    if calibrated.is_some() {
        allocations.push(Allocation::DataAware);
    }
    let comparison = allocator
        .compare(
            teacher,
            plan,
            calibrated,
            &allocations,
            &crate::cli::plot::fractions(),
        )
        .context("--plot")?;
    let json = serde_json::to_string_pretty(&comparison)?;
    crate::fs::write_atomic(&picture.with_extension("json"), json.as_bytes())?;
    crate::cli::plot::draw(&comparison, picture)
}

/// How many layers `plan` factorises in `teacher`.
fn low_rank_layers<B: burn::prelude::Backend, M: pela::LowRank<B>>(
    teacher: &M,
    plan: &pela::RankPlan,
) -> Result<u64> {
    Ok(teacher.preview(plan)?.totals().low_rank_layers as u64)
}

/// The two image sets as the engine takes them, with their batcher.
#[allow(clippy::type_complexity)]
pub fn image_sets(
    (train_set, valid_set): (Box<dyn ImageDataset>, Box<dyn ImageDataset>),
) -> (
    (
        std::sync::Arc<dyn crate::train::TrainingSet<crate::data::ImageItem>>,
        std::sync::Arc<dyn crate::train::TrainingSet<crate::data::ImageItem>>,
    ),
    crate::data::ImageBatcher,
) {
    let batcher = crate::data::ImageBatcher::new(train_set.as_ref());
    (
        (
            std::sync::Arc::new(train_set),
            std::sync::Arc::new(valid_set),
        ),
        batcher,
    )
}

use crate::data::ImageDataset;

/// The engine drawing Burn's terminal dashboard, which stops the run through `interrupter`.
#[cfg(feature = "dashboard")]
fn dashboard<B: crate::train::ParallelBackend>(
    engine: crate::train::Engine<B>,
    interrupter: burn::train::Interrupter,
) -> Result<crate::train::Engine<B>> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "--dashboard: the standard output is not a terminal; drop the flag for progress lines"
        );
    }
    Ok(
        engine.renderer(burn::train::renderer::tui::TuiMetricsRendererWrapper::new(
            interrupter,
            None,
        )),
    )
}

#[cfg(not(feature = "dashboard"))]
fn dashboard<B: crate::train::ParallelBackend>(
    _engine: crate::train::Engine<B>,
    _interrupter: burn::train::Interrupter,
) -> Result<crate::train::Engine<B>> {
    anyhow::bail!(
        "--dashboard: this `pela` was built without the `dashboard` feature; rebuild it with \
         `--features dashboard`"
    )
}
