//! Training speed on the CPU: one PELA distillation step of a DeiT student against its dense
//! teacher, on both CPU backends and in PyTorch, in one run.
//!
//! ```text
//! python3 -m pip install torch==2.15.0 timm==1.0.31     # the PyTorch column
//! cargo run --example training_benchmark                 # [-- --model deit_small_patch16_224]
//! ```
//!
//! The step is the authors' DeiT objective at κ = 2 (`L_fd` with α = 1 over every block's
//! output, RWP off, as their DeiT scripts): the frozen teacher's forward, the student's
//! forward, cross-entropy with label smoothing 0.1 plus `L_fd`, backward, an AdamW step, on a
//! seeded batch of 224 × 224 images. PyTorch runs the same step with timm's model and the
//! authors' factor pairs at the same ranks (`scripts/training_reference.py`, run by this
//! program). Prints images a second, the best of `--repeats` steps after a warm-up, and each
//! backend's throughput over PyTorch's (above 1: faster than PyTorch).

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use pela::{Distill, LowRank};
use pela_zoo::backend::{Cpu, Flex};
use pela_zoo::vit::VitConfig;

#[path = "support/benchmark.rs"]
mod benchmark;

/// One distillation step on each CPU backend and in PyTorch.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// The DeiT, by its timm name: `deit_tiny_patch16_224` or `deit_small_patch16_224`.
    #[arg(long, default_value = "deit_tiny_patch16_224")]
    model: String,
    /// Images a step.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Timed steps; the fastest counts.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Leave out the PyTorch column.
    #[arg(long)]
    no_pytorch: bool,
    /// Leave out the burn-ndarray column (e.g. to profile burn-flex alone).
    #[arg(long)]
    no_ndarray: bool,
}

/// Seconds of the fastest of `args.repeats` distillation steps on backend `B`, and the
/// student's ranks by layer path.
fn step_seconds<B: AutodiffBackend>(
    args: &Args,
) -> Result<(f64, serde_json::Value), pela_zoo::ZooError> {
    let device = B::Device::default();
    B::seed(&device, 0);
    let config = VitConfig::preset(&args.model)?;
    let teacher = config.init::<B::InnerBackend>(&device);
    let (student, report) = teacher.to_low_rank_with_report(&config.pela_plan())?;
    let ranks = benchmark::ranks_json(&report);
    let distill = Distill::<B, _>::new(teacher, config.pela_objective().init());
    let mut model = pela::trainable_params(student.train::<B>());
    let mut optim = AdamWConfig::new().with_weight_decay(0.05).init();
    let task = CrossEntropyLossConfig::new()
        .with_smoothing(Some(0.1))
        .init(&device);
    let images = Tensor::<B, 4>::random(
        [args.batch, 3, 224, 224],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let labels = Tensor::<B, 1, Int>::random(
        [args.batch],
        Distribution::Uniform(0.0, config.num_classes as f64),
        &device,
    );
    let mut best = f64::INFINITY;
    for step in 0..=args.repeats {
        let started = Instant::now();
        let out = distill.forward(&model, images.clone())?;
        let loss = out
            .terms
            .with("L_task", 1.0, task.forward(out.output, labels.clone()))
            .total();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-4, model, grads);
        let _: f32 = loss.into_scalar().elem();
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("  step {step}: {seconds:.2} s");
        if step > 0 {
            best = best.min(seconds);
        }
    }
    Ok((best, ranks))
}

/// PyTorch's seconds a step and its versions, or why not.
fn pytorch(args: &Args, ranks: &serde_json::Value) -> Result<(f64, String), String> {
    let settings = serde_json::json!({
        "model": args.model,
        "batch": args.batch,
        "repeats": args.repeats,
        "ranks": ranks,
    });
    let json = benchmark::run_with_settings("training_reference.py", &settings)?;
    let seconds = json["seconds"].as_f64().ok_or("no time in the output")?;
    Ok((
        seconds,
        format!(
            "PyTorch {}, timm {}, {} threads",
            json["torch"], json["timm"], json["threads"]
        ),
    ))
}

fn main() -> Result<(), pela_zoo::ZooError> {
    let args = Args::parse();
    eprintln!("burn-flex");
    let (flex, ranks) = step_seconds::<burn::backend::Autodiff<Flex>>(&args)?;
    let ndarray_name = benchmark::ndarray_name();
    let ndarray = if args.no_ndarray {
        f64::NAN
    } else {
        eprintln!("{ndarray_name}");
        step_seconds::<burn::backend::Autodiff<Cpu>>(&args)?.0
    };
    let reference = if args.no_pytorch {
        Err("--no-pytorch".to_string())
    } else {
        eprintln!("PyTorch");
        pytorch(&args, &ranks)
    };
    match &reference {
        Ok((_, versions)) => eprintln!("reference: {versions}"),
        Err(why) => eprintln!("no PyTorch column: {why}"),
    }
    let per_second = |seconds: f64| args.batch as f64 / seconds;
    let torch = reference
        .as_ref()
        .ok()
        .map(|(seconds, _)| per_second(*seconds));
    println!(
        "{}, κ = 2, batch {}: training images a second (best of {} steps)",
        args.model, args.batch, args.repeats
    );
    println!("| | PyTorch | flex | {ndarray_name} | flex / PyTorch | ndarray / PyTorch |");
    println!("|---|---|---|---|---|---|");
    let ratio = |ours: f64| match torch {
        Some(t) if !ours.is_nan() => format!("{:.2}", ours / t),
        _ => "–".into(),
    };
    let rate = |seconds: f64| match per_second(seconds) {
        r if r.is_nan() => "–".into(),
        r => format!("{r:.1}"),
    };
    println!(
        "| distillation step | {} | {} | {} | {} | {} |",
        torch.map_or("–".into(), |t| format!("{t:.1}")),
        rate(flex),
        rate(ndarray),
        ratio(per_second(flex)),
        ratio(per_second(ndarray)),
    );
    Ok(())
}
