//! The main job: PELA end to end on the built-in digits, and the ablation of the paper's
//! Table 7 measured over several seeds in one run.
//!
//! ```text
//! cargo run --example digits_ablation                    # the defaults below
//! cargo run --example digits_ablation -- --seeds 5 --ratio 3
//! ```
//!
//! For each seed:
//! 1. Trains a small DeiT-style teacher (8×8 images in four 4×4 patches plus the class token,
//!    4 blocks of width 64) on the 1,437 training digits built into `pela-zoo`.
//! 2. Compresses it at κ (default 8) with the authors' plan (every block `Linear`
//!    SVD-initialised, the head dense).
//! 3. Trains four copies of that student for the same epochs: with the task loss only, with
//!    `+ L_fd` (every block's tokens against the frozen teacher's), with `+ L_rwp`, and with
//!    both.
//!
//! Then prints parameters, FLOPs, measured CPU latency, and the mean ± standard deviation over
//! the seeds of the accuracy and cross-entropy on the 360 test digits, for the teacher, the
//! plain SVD student and the four trained students, and which differences exceed the spread.
//!
//! Everything is seeded; the numbers printed are measured in the run. Run folders (metrics,
//! checkpoints) go to `target/digits-ablation/`.

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;

use burn::module::Module;
use pela::{Distill, LowRank, PelaObjectiveConfig, WeightPerturbationConfig};
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
use pela_zoo::data::{ImageBatcher, ImageDataset, digits};
use pela_zoo::train::{
    Classifier, ClassifyTask, Engine, RunDir, Task, TrainingConfig, evaluate, latency_ms,
};
use pela_zoo::vit::VitConfig;

/// Trains `model` by `task` on the digits through the engine, printing each epoch's summary.
fn fit<
    T: Task<
            CpuAutodiff,
            Batch = pela_zoo::data::ImageBatch<CpuAutodiff>,
            ValidBatch = pela_zoo::data::ImageBatch<Cpu>,
        >,
>(
    name: &'static str,
    (task, model): (T, T::Model),
    training: &TrainingConfig,
    run: RunDir,
) -> Result<<T::Model as burn::module::AutodiffModule<CpuAutodiff>>::InnerModule, pela_zoo::ZooError>
{
    let (train_set, test_set) = digits();
    let batcher = ImageBatcher::new(&train_set);
    let outcome = Engine::<CpuAutodiff>::new(training.clone(), run)
        .on_epoch(move |metrics| eprintln!("  [{name}] {}", metrics.summary()))
        .fit(
            task,
            model,
            Arc::new(train_set),
            Arc::new(test_set),
            batcher,
        )?;
    Ok(outcome.model)
}

/// The main job's settings; the defaults are the README's run.
#[derive(Debug, Parser)]
#[command(about = "PELA on the built-in digits: the ablation of Table 7 over several seeds")]
struct Args {
    /// The compression ratio κ of the students.
    #[arg(long, default_value_t = 8.0)]
    ratio: f64,
    /// How many seeds (teacher, compression and students each) to run: 42, 43, …
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// The teacher's epochs.
    #[arg(long, default_value_t = 10)]
    teacher_epochs: usize,
    /// Each student's epochs.
    #[arg(long, default_value_t = 3)]
    student_epochs: usize,
    /// The transformer's width (4 blocks, 4 heads).
    #[arg(long, default_value_t = 64)]
    width: usize,
}

/// The four students of Table 7: α, β of `L_fd` and `L_rwp` (none: the task loss alone).
const VARIANTS: [(&str, Option<(f64, f64)>); 4] = [
    ("task loss only", None),
    ("+ L_fd", Some((1.0, 0.0))),
    ("+ L_rwp", Some((0.0, 1.0))),
    ("+ L_fd + L_rwp", Some((1.0, 1.0))),
];

fn main() -> Result<(), pela_zoo::ZooError> {
    let args = Args::parse();
    let started = Instant::now();
    let device = CpuDevice::default();
    let (train_set, test_set) = digits();
    eprintln!("{}\n{}", train_set.describe(), test_set.describe());
    let out = std::path::Path::new("target/digits-ablation");
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| pela_zoo::ZooError::io(out, e))?;
    }

    let config = VitConfig::new(8, 4, 10, args.width, 4, 4).with_channels(1);
    let mut plan = config.pela_plan();
    plan.ratio = args.ratio;
    let mut rows: Vec<Row> = Vec::new();
    for seed in 42..42 + args.seeds {
        let out = out.join(format!("seed-{seed}"));
        let first = rows.is_empty();

        // 1. The teacher.
        <CpuAutodiff as burn::tensor::backend::Backend>::seed(&device, seed);
        let teacher = config.init::<CpuAutodiff>(&device);
        let teacher_training = TrainingConfig::new()
            .with_epochs(args.teacher_epochs)
            .with_batch_size(32)
            .with_learning_rate(3e-3)
            .with_seed(seed);
        eprintln!(
            "seed {seed}: training the teacher ({} epochs)",
            args.teacher_epochs
        );
        let teacher = fit(
            "teacher",
            (
                ClassifyTask::supervised(teacher_training.label_smoothing),
                teacher,
            ),
            &teacher_training,
            RunDir::new(out.join("teacher"))?,
        )?;

        // 2. The plain SVD student.
        let (student, report) = teacher.to_low_rank_with_report(&plan)?;
        if first {
            eprintln!("{report}");
        }
        let flops = config.flops(&report);
        let totals = report.totals();
        let mut measured = vec![
            measure(
                "teacher",
                &teacher,
                (totals.params_before, flops.teacher()),
                &test_set,
                first,
            )?,
            measure(
                "plain SVD student",
                &student,
                (totals.params_after, flops.student()),
                &test_set,
                first,
            )?,
        ];

        // 3. Four students from the same initialisation, the same epochs and seed.
        let student_training = TrainingConfig::new()
            .with_epochs(args.student_epochs)
            .with_batch_size(32)
            .with_learning_rate(1e-3)
            .with_seed(seed);
        for (name, weights) in VARIANTS {
            eprintln!(
                "seed {seed}: training the student: {name} ({} epochs)",
                args.student_epochs
            );
            let folder = name.replace(['+', ' '], "").replace("L_", "l");
            let run = RunDir::new(out.join(if folder.is_empty() || name.contains("only") {
                "task".to_string()
            } else {
                folder
            }))?;
            let student = student.clone().train::<CpuAutodiff>();
            let smoothing = student_training.label_smoothing;
            let trained = match weights {
                None => fit(
                    name,
                    (ClassifyTask::supervised(smoothing), student),
                    &student_training,
                    run,
                )?,
                Some((alpha, beta)) => {
                    let objective = PelaObjectiveConfig::new()
                        .with_alpha(alpha)
                        .with_beta(beta)
                        .with_weight_perturbation(
                            WeightPerturbationConfig::new().with_epsilon(1e-3),
                        )
                        .init();
                    let task =
                        ClassifyTask::distill(Distill::new(teacher.clone(), objective), smoothing);
                    fit(name, (task, student), &student_training, run)?
                }
            };
            measured.push(measure(
                name,
                &trained,
                (totals.params_after, flops.student()),
                &test_set,
                first,
            )?);
        }
        if first {
            rows = measured;
        } else {
            for (row, new) in rows.iter_mut().zip(measured) {
                row.accuracy.extend(new.accuracy);
                row.loss.extend(new.loss);
            }
        }
    }

    // 4. The table.
    println!();
    println!(
        "PELA on the built-in digits: κ = {}, width {}, teacher {} epochs, students {} epochs \
         each; mean ± standard deviation over {} seeds (42…{})",
        args.ratio,
        args.width,
        args.teacher_epochs,
        args.student_epochs,
        args.seeds,
        41 + args.seeds
    );
    println!(
        "| {:<20} | {:>7} | {:>7} | {:>19} | {:>15} | {:>17} |",
        "model", "params", "MFLOPs", "latency (ms/64 img)", "test accuracy %", "test loss"
    );
    println!(
        "|{:-<22}|{:-<9}|{:-<9}|{:-<21}|{:-<17}|{:-<19}|",
        "", "", "", "", "", ""
    );
    for row in &rows {
        let (acc, acc_sd) = mean_sd(&row.accuracy);
        let (loss, loss_sd) = mean_sd(&row.loss);
        println!(
            "| {:<20} | {:>7} | {:>7.2} | {:>19.2} | {:>7.2} ± {:<5.2} | {:>7.4} ± {:<7.4} |",
            row.name,
            row.params,
            row.flops as f64 / 1e6,
            row.latency_ms,
            100.0 * acc,
            100.0 * acc_sd,
            loss,
            loss_sd
        );
    }
    println!();
    println!("Differences of mean test loss larger than both rows' spreads:");
    for (i, a) in rows.iter().enumerate() {
        for b in &rows[i + 1..] {
            let ((la, sa), (lb, sb)) = (mean_sd(&a.loss), mean_sd(&b.loss));
            if (la - lb).abs() > sa.max(sb) {
                let (better, worse) = if la < lb { (a, b) } else { (b, a) };
                println!(
                    "  {} < {} by {:.4}",
                    better.name,
                    worse.name,
                    (la - lb).abs()
                );
            }
        }
    }
    println!("({:.0} s in all)", started.elapsed().as_secs_f64());
    Ok(())
}

/// One model's figures; accuracy and loss have one entry a seed.
struct Row {
    name: &'static str,
    params: usize,
    flops: u64,
    latency_ms: f64,
    accuracy: Vec<f64>,
    loss: Vec<f64>,
}

/// Evaluates `model` on the test set; its latency only when `timed` (the first seed).
fn measure<M: Classifier<Cpu>>(
    name: &'static str,
    model: &M,
    (params, flops): (usize, u64),
    test_set: &dyn ImageDataset,
    timed: bool,
) -> Result<Row, pela_zoo::ZooError> {
    let device = CpuDevice::default();
    let evaluation = evaluate(model, test_set, 128, &device)?;
    Ok(Row {
        name,
        params,
        flops,
        latency_ms: if timed {
            latency_ms(model, test_set.shape(), 64, 3, 20, &device)
        } else {
            f64::NAN
        },
        accuracy: vec![evaluation.accuracy],
        loss: vec![evaluation.loss],
    })
}

/// The mean and the sample standard deviation (0 for one value).
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}
