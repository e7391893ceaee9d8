//! Inference speed on the CPU: DeiT-Base (dense and its κ = 2 student) and all-MiniLM-L6-v2,
//! on both CPU backends and in PyTorch, in one run.
//!
//! ```text
//! python3 -m pip install torch==2.15.0 timm==1.0.31 transformers==5.24.0   # the PyTorch column
//! scripts/fetch-assets                                  # all-MiniLM-L6-v2 and the news text
//! cargo run --example forward_benchmark
//! cargo run --example forward_benchmark --features pela-zoo/openblas     # ndarray on OpenBLAS
//! ```
//!
//! Times, as the best of `--repeats` runs after a warm-up:
//! - DeiT-Base's forward pass on 224 × 224 images at batch 1 and 8, seeded random weights (the
//!   time does not depend on them), and its κ = 2 student (the authors' plan, through SVD);
//! - all-MiniLM-L6-v2 embedding 32 news sentences of the `gensim` wheel (the held-out ones of
//!   `examples/minilm_pela.rs`) in one batch padded to the longest, tokenisation included;
//! - the same in PyTorch (timm, the authors' factor pairs at the same ranks, `transformers`),
//!   from `scripts/forward_reference.py`, which this program runs.
//!
//! Prints a table with each backend's time over PyTorch's (below 1: faster than PyTorch).

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::Parser;
use pela::LowRank;
use pela_zoo::backend::{Cpu, Flex};
use pela_zoo::bert::{MiniLm, embed_texts};
use pela_zoo::text::Gensim;
use pela_zoo::vit::VitConfig;

#[path = "support/benchmark.rs"]
mod benchmark;

/// Inference forward passes on each CPU backend and in PyTorch.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Timed runs of each measurement; the best counts.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// The `sentence-transformers` wheel, for all-MiniLM-L6-v2.
    #[arg(long, default_value_os_t = MiniLm::default_path())]
    minilm: PathBuf,
    /// The `gensim` wheel, for the news sentences.
    #[arg(long, default_value_os_t = Gensim::default_path())]
    gensim: PathBuf,
    /// Leave out the PyTorch column.
    #[arg(long)]
    no_pytorch: bool,
}

/// The batch sizes of DeiT-Base.
const BATCHES: [usize; 2] = [1, 8];

/// Best seconds of `repeats` runs of `run`, after one warm-up run.
fn best_seconds<T>(repeats: usize, mut run: impl FnMut() -> T) -> f64 {
    drop(run());
    (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            drop(run());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The seconds of one backend: DeiT-Base teacher and student per batch size, then MiniLM.
struct Times {
    teacher: Vec<f64>,
    student: Vec<f64>,
    minilm: f64,
}

/// Every measurement on backend `B`; also the student's ranks by layer path.
fn measure<B: Backend>(
    args: &Args,
    sentences: &[&str],
) -> Result<(Times, serde_json::Value), pela_zoo::ZooError> {
    let device = B::Device::default();
    B::seed(&device, 0);
    let config = VitConfig::deit_base_patch16_224();
    let teacher = config.init::<B>(&device);
    eprintln!("  factorising DeiT-Base at κ = 2");
    let (student, report) = teacher.to_low_rank_with_report(&config.pela_plan())?;
    let ranks = benchmark::ranks_json(&report);
    let (mut teacher_s, mut student_s) = (Vec::new(), Vec::new());
    for batch in BATCHES {
        let images = Tensor::<B, 4>::random([batch, 3, 224, 224], Distribution::Default, &device);
        eprintln!("  DeiT-Base, batch {batch}");
        teacher_s.push(best_seconds(args.repeats, || {
            teacher.forward(images.clone()).into_data()
        }));
        student_s.push(best_seconds(args.repeats, || {
            student.forward(images.clone()).into_data()
        }));
    }
    eprintln!("  all-MiniLM-L6-v2, {} sentences", sentences.len());
    let minilm = MiniLm::open(&args.minilm)?;
    let (model, tokenizer) = (minilm.load::<B>(&device)?, minilm.tokenizer()?);
    let minilm_s = best_seconds(args.repeats, || {
        embed_texts(&model, &tokenizer, sentences, sentences.len(), &device)
            .expect("news sentences tokenise")
    });
    let times = Times {
        teacher: teacher_s,
        student: student_s,
        minilm: minilm_s,
    };
    Ok((times, ranks))
}

/// PyTorch's times (same layout as [`Times`]) and its versions, or why not.
fn pytorch(
    args: &Args,
    ranks: &serde_json::Value,
    sentences: &[&str],
) -> Result<(Times, String), String> {
    let settings = serde_json::json!({
        "batches": BATCHES,
        "repeats": args.repeats,
        "ranks": ranks,
        "sentences": sentences,
        "minilm_wheel": args.minilm,
    });
    let json = benchmark::run_with_settings("forward_reference.py", &settings)?;
    let deit = json["deit"].as_array().ok_or("no DeiT results")?;
    let column = |key: &str| -> Vec<f64> {
        deit.iter()
            .map(|r| r[key].as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    let times = Times {
        teacher: column("teacher"),
        student: column("student"),
        minilm: json["minilm"]["seconds"].as_f64().unwrap_or(f64::NAN),
    };
    let versions = format!(
        "PyTorch {}, timm {}, transformers {}, {} threads; {} padded tokens",
        json["torch"],
        json["timm"],
        json["transformers"],
        json["threads"],
        json["minilm"]["padded_tokens"]
    );
    Ok((times, versions))
}

fn main() -> Result<(), pela_zoo::ZooError> {
    pela_zoo::allocator::keep_freed_memory();
    let args = Args::parse();
    // The held-out sentences of `examples/minilm_pela.rs`: every tenth news sentence.
    let news = Gensim::open(&args.gensim)?.news_sentences()?;
    let sentences: Vec<&str> = news
        .iter()
        .skip(9)
        .step_by(10)
        .take(32)
        .map(String::as_str)
        .collect();

    eprintln!("burn-flex");
    let (flex, ranks) = measure::<Flex>(&args, &sentences)?;
    let ndarray_name = benchmark::ndarray_name();
    eprintln!("{ndarray_name}");
    let (ndarray, _) = measure::<Cpu>(&args, &sentences)?;
    let reference = if args.no_pytorch {
        Err("--no-pytorch".to_string())
    } else {
        eprintln!("PyTorch");
        pytorch(&args, &ranks, &sentences)
    };
    match &reference {
        Ok((_, versions)) => eprintln!("reference: {versions}"),
        Err(why) => eprintln!("no PyTorch column: {why}"),
    }

    let torch = reference.as_ref().ok().map(|(times, _)| times);
    let ms = |s: f64| format!("{:.1} ms", s * 1e3);
    let ratio = |ours: f64, theirs: Option<f64>| {
        theirs.map_or("–".into(), |t| format!("{:.2}", ours / t))
    };
    println!("| work | PyTorch | flex | {ndarray_name} | flex / PyTorch | ndarray / PyTorch |");
    println!("|---|---|---|---|---|---|");
    let row = |work: String, theirs: Option<f64>, flex: f64, ndarray: f64| {
        println!(
            "| {work} | {} | {} | {} | {} | {} |",
            theirs.map_or("–".into(), ms),
            ms(flex),
            ms(ndarray),
            ratio(flex, theirs),
            ratio(ndarray, theirs),
        );
    };
    for (i, batch) in BATCHES.iter().enumerate() {
        row(
            format!("DeiT-Base teacher, batch {batch}"),
            torch.map(|t| t.teacher[i]),
            flex.teacher[i],
            ndarray.teacher[i],
        );
        row(
            format!("DeiT-Base κ = 2 student, batch {batch}"),
            torch.map(|t| t.student[i]),
            flex.student[i],
            ndarray.student[i],
        );
    }
    row(
        format!("all-MiniLM-L6-v2, {} sentences", sentences.len()),
        torch.map(|t| t.minilm),
        flex.minilm,
        ndarray.minilm,
    );
    if let Some(torch) = torch {
        println!();
        println!("| the κ = 2 student against timm's dense teacher | flex | ndarray |");
        println!("|---|---|---|");
        for (i, batch) in BATCHES.iter().enumerate() {
            println!(
                "| batch {batch} | {} | {} |",
                ratio(flex.student[i], Some(torch.teacher[i])),
                ratio(ndarray.student[i], Some(torch.teacher[i])),
            );
        }
    }
    Ok(())
}
