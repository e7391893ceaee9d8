//! Throughput of the training engine against a plain training loop, in one run.
//!
//! ```text
//! cargo run --example engine_throughput
//! ```
//!
//! Both distil the main job's κ = 2 student (`digits_ablation`: a ViT of width 64 with 4 blocks
//! on the 1,437 built-in 8×8 training digits, batch 32, `L_task + L_fd`) for the same epochs
//! with the same settings: the plain loop is what the project ran before the engine (a batch
//! built on the training thread, forward, backward, global-norm clipping, AdamW, the loss read
//! back every step); the engine is `pela_zoo::train::Engine` on Burn's `Learner` (data loader
//! thread, metrics thread, checkpoint each epoch, validation excluded from the timing). Prints
//! training images a second of each, after a warm-up epoch, and their ratio.

use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use clap::Parser;
use pela::{Distill, LowRank, PelaObjectiveConfig};
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
use pela_zoo::data::{ImageBatch, ImageBatcher, ImageDataset, digits};
use pela_zoo::train::{ClassifyTask, Engine, RunDir, TrainingConfig, clip_global_norm};
use pela_zoo::vit::{Vit, VitConfig};

/// Images a second of the engine against a plain loop, in one run.
#[derive(Debug, Parser)]
struct Args {
    /// Timed epochs of each, after one warm-up epoch.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Rounds of (plain loop, engine), alternated so that neither always runs first.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
}

fn main() -> Result<(), pela_zoo::ZooError> {
    let args = Args::parse();
    let device = CpuDevice::default();
    Cpu::seed(&device, 7);
    let config = VitConfig::new(8, 4, 10, 64, 4, 4).with_channels(1);
    let teacher = config.init::<Cpu>(&device);
    let student = teacher.to_low_rank(&config.pela_plan())?;
    let training = TrainingConfig::new()
        .with_epochs(args.epochs + 1)
        .with_batch_size(32)
        .with_workers(1);
    let mut plain = Vec::new();
    let mut engine = Vec::new();
    for round in 0..args.rounds {
        plain.push(plain_loop(&teacher, &student, &training)?);
        engine.push(with_engine(&teacher, &student, &training, round)?);
        eprintln!(
            "round {}: plain loop {:.0} img/s, engine {:.0} img/s",
            round + 1,
            plain[round],
            engine[round]
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!("\nDistillation of the main job's κ = 2 student (CPU, ndarray, batch 32):");
    println!(
        "| loop | training images/s (mean of {} rounds × {} epochs) |",
        args.rounds, args.epochs
    );
    println!("|---|---|");
    println!("| plain loop | {:.0} |", mean(&plain));
    println!("| engine (Burn `Learner`) | {:.0} |", mean(&engine));
    println!("engine / plain loop: {:.3}", mean(&engine) / mean(&plain));
    Ok(())
}

type Student = pela_zoo::vit::VitLowRank<Cpu>;

/// The loop the project had before the engine, reduced to its work; images a second over the
/// epochs after the first.
fn plain_loop(
    teacher: &Vit<Cpu>,
    student: &Student,
    training: &TrainingConfig,
) -> Result<f64, pela_zoo::ZooError> {
    let device = CpuDevice::default();
    let (train_set, _) = digits();
    let batcher = ImageBatcher::new(&train_set);
    let distill =
        Distill::<CpuAutodiff, _>::new(teacher.clone(), PelaObjectiveConfig::new().init());
    let mut model = pela::trainable_params(student.clone().train::<CpuAutodiff>());
    let mut optim = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.05)
        .init();
    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing(Some(0.1))
        .init(&device);
    let (mut images, mut seconds) = (0usize, 0.0f64);
    for epoch in 0..training.epochs {
        let started = Instant::now();
        for start in (0..train_set.len()).step_by(training.batch_size) {
            let end = (start + training.batch_size).min(train_set.len());
            let items = (start..end)
                .map(|i| train_set.get(i, None))
                .collect::<Result<Vec<_>, _>>()?;
            let batch: ImageBatch<CpuAutodiff> = batcher.batch(items, &device);
            let out = distill.forward(&model, batch.images)?;
            let task = loss_fn.forward(out.output, batch.labels);
            let loss = out.terms.with("L_task", 1.0, task).total();
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            clip_global_norm(&model, &mut grads, training.grad_clip);
            model = optim.step(1e-3, model, grads);
            let _: f32 = loss.into_scalar().elem();
        }
        if epoch > 0 {
            images += train_set.len();
            seconds += started.elapsed().as_secs_f64();
        }
    }
    Ok(images as f64 / seconds)
}

/// The same distillation through the engine; images a second over the epochs after the first.
fn with_engine(
    teacher: &Vit<Cpu>,
    student: &Student,
    training: &TrainingConfig,
    round: usize,
) -> Result<f64, pela_zoo::ZooError> {
    let (train_set, test_set) = digits();
    let run = std::env::temp_dir().join(format!(
        "pela-engine-throughput-{}-{round}",
        std::process::id()
    ));
    std::fs::remove_dir_all(&run).ok();
    let task = ClassifyTask::distill(
        Distill::new(teacher.clone(), PelaObjectiveConfig::new().init()),
        0.1,
    );
    let batcher = ImageBatcher::new(&train_set);
    let outcome = Engine::<CpuAutodiff>::new(training.clone(), RunDir::new(&run)?).fit(
        task,
        student.clone().train::<CpuAutodiff>(),
        Arc::new(train_set),
        Arc::new(test_set.truncated(32)),
        batcher,
    )?;
    std::fs::remove_dir_all(&run).ok();
    let timed = &outcome.history[1..];
    Ok(timed.iter().map(|m| m.items_per_second).sum::<f64>() / timed.len() as f64)
}
