//! The main job: PELA end to end on the built-in digits, and the ablation of the paper's
//! Table 7 measured in one run.
//!
//! ```text
//! cargo run --release --example digits_ablation
//! ```
//!
//! 1. Trains a small DeiT-style teacher (8×8 images in four 4×4 patches plus the class token,
//!    4 blocks of width 64) on the 1,437 training digits built into `pela-zoo`.
//! 2. Compresses it at κ = 2 with the authors' plan (every block `Linear` SVD-initialised, the
//!    head dense).
//! 3. Trains four copies of that student for the same epochs: with the task loss only, with
//!    `+ L_fd` (every block's tokens against the frozen teacher's), with `+ L_rwp`, and with
//!    both.
//! 4. Prints parameters, FLOPs, measured CPU latency, and accuracy and cross-entropy on the 360
//!    test digits of the teacher, the plain SVD student and the four trained students.
//!
//! Everything is seeded; the numbers printed are measured in the run. Run folders (metrics,
//! checkpoints) go to `target/digits-ablation/`.

use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use pela::{Distill, LowRank, PelaObjectiveConfig, WeightPerturbationConfig};
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
use pela_zoo::data::{ImageBatcher, ImageDataset, digits};
use pela_zoo::train::{
    Classifier, ClassifyTask, Engine, RunDir, Task, TrainingConfig, evaluate, latency_ms,
};
use pela_zoo::vit::{VitConfig, VitFlops};

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

const TEACHER_EPOCHS: usize = 12;
const STUDENT_EPOCHS: usize = 6;

fn main() -> Result<(), pela_zoo::ZooError> {
    let started = Instant::now();
    let device = CpuDevice::default();
    let (train_set, test_set) = digits();
    eprintln!("{}\n{}", train_set.describe(), test_set.describe());
    let out = std::path::Path::new("target/digits-ablation");
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| pela_zoo::ZooError::Io {
            path: out.display().to_string(),
            reason: e.to_string(),
        })?;
    }

    // 1. The teacher.
    let config = VitConfig::new(8, 4, 10, 64, 4, 4).with_channels(1);
    <CpuAutodiff as burn::tensor::backend::Backend>::seed(&device, 7);
    let teacher = config.init::<CpuAutodiff>(&device);
    let teacher_training = TrainingConfig::new()
        .with_epochs(TEACHER_EPOCHS)
        .with_batch_size(32)
        .with_learning_rate(3e-3);
    eprintln!("training the teacher ({TEACHER_EPOCHS} epochs)");
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
    let plan = config.pela_plan();
    let (student, report) = teacher.to_low_rank_with_report(&plan)?;
    eprintln!("{report}");
    let flops = VitFlops::new(&config, &report);
    let totals = report.totals();

    let mut rows = vec![
        row(
            "teacher",
            &teacher,
            totals.params_before,
            flops.teacher(),
            &test_set,
        )?,
        row(
            "plain SVD student",
            &student,
            totals.params_after,
            flops.student(),
            &test_set,
        )?,
    ];

    // 3. Four students from the same initialisation, the same epochs and seed.
    let student_training = TrainingConfig::new()
        .with_epochs(STUDENT_EPOCHS)
        .with_batch_size(32)
        .with_learning_rate(1e-3);
    let variants: [(&'static str, Option<(f64, f64)>); 4] = [
        ("task loss only", None),
        ("+ L_fd", Some((1.0, 0.0))),
        ("+ L_rwp", Some((0.0, 1.0))),
        ("+ L_fd + L_rwp", Some((1.0, 1.0))),
    ];
    for (name, weights) in variants {
        eprintln!("training the student: {name} ({STUDENT_EPOCHS} epochs)");
        let folder = out.join(name.replace(['+', ' '], "").replace("L_", "l"));
        let run = RunDir::new(if name == "task loss only" {
            out.join("task")
        } else {
            folder
        })?;
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
                    .with_weight_perturbation(WeightPerturbationConfig::new().with_epsilon(1e-3))
                    .init();
                let task =
                    ClassifyTask::distill(Distill::new(teacher.clone(), objective), smoothing);
                fit(name, (task, student), &student_training, run)?
            }
        };
        rows.push(row(
            name,
            &trained,
            totals.params_after,
            flops.student(),
            &test_set,
        )?);
    }

    // 4. The table.
    println!();
    println!(
        "PELA on the built-in digits: κ = {}, teacher {TEACHER_EPOCHS} epochs, students \
         {STUDENT_EPOCHS} epochs each, seed 42",
        plan.ratio
    );
    println!(
        "| {:<20} | {:>7} | {:>7} | {:>19} | {:>13} | {:>9} |",
        "model", "params", "MFLOPs", "latency (ms/64 img)", "test accuracy", "test loss"
    );
    println!(
        "|{:-<22}|{:-<9}|{:-<9}|{:-<21}|{:-<15}|{:-<11}|",
        "", "", "", "", "", ""
    );
    for row in &rows {
        println!(
            "| {:<20} | {:>7} | {:>7.2} | {:>19.2} | {:>11.2} % | {:>9.4} |",
            row.name,
            row.params,
            row.flops as f64 / 1e6,
            row.latency_ms,
            100.0 * row.accuracy,
            row.loss
        );
    }
    println!("({:.0} s in all)", started.elapsed().as_secs_f64());
    Ok(())
}

struct Row {
    name: &'static str,
    params: usize,
    flops: u64,
    latency_ms: f64,
    accuracy: f64,
    loss: f64,
}

fn row<M: Classifier<Cpu>>(
    name: &'static str,
    model: &M,
    params: usize,
    flops: u64,
    test_set: &dyn ImageDataset,
) -> Result<Row, pela_zoo::ZooError> {
    let device = CpuDevice::default();
    let evaluation = evaluate(model, test_set, 128, &device)?;
    Ok(Row {
        name,
        params,
        flops,
        latency_ms: latency_ms(model, test_set.shape(), 64, 3, 20, &device),
        accuracy: evaluation.accuracy,
        loss: evaluation.loss,
    })
}
