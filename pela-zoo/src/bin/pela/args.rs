//! The command line, as data: every flag and its help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Shrink pre-trained vision transformers (DeiT, DeiT-III, Swin) with PELA: low-rank factor
/// pairs from the SVD of every `Linear` weight, trained against the frozen teacher.
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
    /// Train a student against its frozen teacher: task loss + α·L_fd + β·L_rwp.
    Distill(DistillArgs),
    /// Fine-tune a student alone on a classification set, with a new head.
    Finetune(FinetuneArgs),
    /// Accuracy, loss and latency of a teacher or student on a dataset.
    Eval(EvalArgs),
    /// Write a student as safetensors: the authors' compressed layout, or dense (timm keys).
    Export(ExportArgs),
}

/// Which architecture, and its weights.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The architecture: a timm name (deit_base_patch16_224, deit3_large_patch16_224,
    /// swin_base_patch4_window7_224, …) or a JSON file of a ViT or Swin config (a Swin config
    /// has a `window_size`).
    #[arg(long, short, default_value = "deit_base_patch16_224")]
    pub model: String,
}

/// The rank plan.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Compression ratio κ (> 1): each layer keeps about 1/κ of its parameters. Default: the
    /// authors' preset of the family (2 for DeiT, 1.5 for Swin).
    #[arg(long, short = 'k')]
    pub ratio: Option<f64>,

    /// Keep the layers matching this glob dense (repeatable), e.g. `blocks.*.attn.proj`.
    /// Added to the authors' list of the family (`pela report` shows it).
    #[arg(long = "keep-dense", value_name = "PATTERN")]
    pub keep_dense: Vec<String>,

    /// Give the layers matching a glob this rank (repeatable), e.g. `blocks.*.attn.qkv=256`.
    #[arg(long = "rank-for", value_name = "PATTERN=RANK")]
    pub rank_for: Vec<String>,
}

/// Where the images come from.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// The dataset: `digits` (built in), `fashion-mnist` (the Debian package), `idx=DIR`
    /// (MNIST-style IDX files) or `folder=DIR` (ImageNet layout: DIR/train/<class>/*.jpg and
    /// DIR/val/<class>/*.jpg).
    #[arg(long, short, default_value = "digits")]
    pub data: String,

    /// Use at most this many training images (quick runs).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// The backend models run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// burn-ndarray on the CPU.
    Cpu,
    /// burn-flex on the CPU: faster forward passes (`eval`), not faster training steps.
    Flex,
    /// burn-cuda on an NVIDIA GPU (build with `--features cuda`).
    Cuda,
}

/// Where and how a run trains: the run folder, the backend and devices, and every setting
/// of `pela_zoo::train::TrainingConfig` (its defaults are the flags' defaults).
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The run folder: config, metrics.jsonl, checkpoints and the result.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub run_dir: PathBuf,

    /// Continue the run in `--run-dir` from its last checkpoint.
    #[arg(long)]
    pub resume: bool,

    /// The backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
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
    pub config: pela_zoo::train::TrainingConfig,
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
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The teacher checkpoint: timm .safetensors / .pth, or Facebook's (DeiT) or Microsoft's
    /// (Swin) original .pth.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Where to write the student (safetensors, the authors' layout, config in the header).
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The teacher checkpoint.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub checkpoint: PathBuf,
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
    /// A student file; or give --checkpoint for a teacher.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath, conflicts_with = "checkpoint")]
    pub student: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// A teacher checkpoint (with --model).
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Images a batch, for accuracy and latency.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// The backend.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    pub backend: Backend,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The student file.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub student: PathBuf,
    /// Where to write.
    #[arg(long, short, value_hint = clap::ValueHint::FilePath)]
    pub output: PathBuf,
    /// The layout.
    #[arg(long, value_enum, default_value_t = Layout::Compressed)]
    pub layout: Layout,
}

/// Export layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Layout {
    /// The authors' layout: `<layer>.0.weight` [r, in], `<layer>.1.weight` [out, r],
    /// `<layer>.1.bias`; loads into their PyTorch code.
    Compressed,
    /// Every factor pair multiplied out: a timm-layout checkpoint of the dense architecture
    /// (timm's keys for DeiT and Swin).
    Dense,
}
