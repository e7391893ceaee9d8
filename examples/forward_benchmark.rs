//! Inference speed on the CPU: DeiT-Base and Swin-B (dense and their PELA students) and
//! all-MiniLM-L6-v2, on both CPU backends, in PyTorch and in ONNX Runtime, in one run.
//!
//! ```text
//! python3 -m pip install torch==2.15.0 timm==1.0.31 transformers==5.24.0 \
//!     onnxruntime==1.32.0 onnx==1.23.2 onnxscript==0.7.2     # the PyTorch and ONNX Runtime columns
//! scripts/fetch-assets                                     # all-MiniLM-L6-v2 and the news text
//! cargo run --example forward_benchmark
//! cargo run --example forward_benchmark --features pela-zoo/openblas     # ndarray on OpenBLAS
//! ```
//!
//! Times, as the best of `--repeats` runs after a warm-up:
//! - DeiT-Base's forward pass on 224 × 224 images at batch 1 and 8, seeded random weights (the
//!   time does not depend on them), and its κ = 2 student (the authors' plan, through SVD);
//! - Swin-B's at batch 8, and its κ = 1.5 student (the authors' plan);
//! - all-MiniLM-L6-v2 embedding 32 news sentences of the `gensim` wheel (the held-out ones of
//!   `examples/minilm_pela.rs`) in one batch padded to the longest, tokenisation included;
//! - the same in PyTorch (timm, the authors' factor pairs at the same ranks, `transformers`)
//!   and in ONNX Runtime (the same PyTorch modules exported, all graph optimisations), from
//!   `scripts/forward_reference.py`, which this program runs;
//! - the machine's matrix-product speed: a 2048 × 2048 × 2048 product on flex and in PyTorch,
//!   the faster of the two being the peak each model's GFLOP/s is compared with.
//!
//! Prints a table with each time over ONNX Runtime's and PyTorch's (below 1: faster), the
//! GFLOP/s flex reaches on each model (the model's FLOPs, attention products included, over
//! its time) against that peak, and each student's speed-up over its teacher.

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use clap::{Parser, ValueEnum};
use pela::LowRank;
use pela_zoo::backend::{Cpu, Flex};
use pela_zoo::bert::{MiniLm, embed_texts};
use pela_zoo::swin::SwinConfig;
use pela_zoo::text::Gensim;
use pela_zoo::vit::VitConfig;

#[path = "support/benchmark.rs"]
mod benchmark;

/// Inference forward passes on each CPU backend, in PyTorch and in ONNX Runtime.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Timed runs of each measurement; the best counts.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// The Burn backends to time.
    #[arg(long, value_delimiter = ',', default_values_t = [CpuBackend::Flex, CpuBackend::Ndarray])]
    backends: Vec<CpuBackend>,
    /// The `sentence-transformers` wheel, for all-MiniLM-L6-v2.
    #[arg(long, default_value_os_t = MiniLm::default_path())]
    minilm: PathBuf,
    /// The `gensim` wheel, for the news sentences.
    #[arg(long, default_value_os_t = Gensim::default_path())]
    gensim: PathBuf,
    /// Leave out the PyTorch and ONNX Runtime columns.
    #[arg(long)]
    no_reference: bool,
}

/// A Burn CPU backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CpuBackend {
    /// burn-flex.
    Flex,
    /// burn-ndarray.
    Ndarray,
}

impl std::fmt::Display for CpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Flex => "flex",
            Self::Ndarray => "ndarray",
        })
    }
}

/// The batch sizes of DeiT-Base.
const DEIT_BATCHES: [usize; 2] = [1, 8];
/// The batch sizes of Swin-B.
const SWIN_BATCHES: [usize; 1] = [8];
/// The side of the square matrices of the matrix-product peak.
const GEMM_SIDE: usize = 2048;

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

/// A teacher's and its student's seconds at one batch size.
#[derive(Debug, Clone, Copy)]
struct Pair {
    teacher: f64,
    student: f64,
}

/// The seconds of one runtime: DeiT-Base's and Swin-B's pairs by batch size, then MiniLM.
#[derive(Debug)]
struct Times {
    deit: Vec<Pair>,
    swin: Vec<Pair>,
    minilm: f64,
}

/// What the models are: the students' ranks by layer path (for the reference script) and the
/// FLOPs of one image through each teacher and student (attention products included).
struct Models {
    deit_ranks: serde_json::Value,
    swin_ranks: serde_json::Value,
    deit_flops: Pair,
    swin_flops: Pair,
}

/// A [`Pair`] of FLOPs (as `f64`) from a family's count, attention products included.
fn flops_pair(flops: pela_zoo::family::Flops) -> Pair {
    Pair {
        teacher: (flops.teacher() + flops.attention()) as f64,
        student: (flops.student() + flops.attention()) as f64,
    }
}

/// Each model's teacher and student times at `batches`, on images of `B`.
fn time_pairs<B: Backend>(
    repeats: usize,
    batches: &[usize],
    device: &B::Device,
    teacher: impl Fn(Tensor<B, 4>) -> Tensor<B, 2>,
    student: impl Fn(Tensor<B, 4>) -> Tensor<B, 2>,
) -> Vec<Pair> {
    batches
        .iter()
        .map(|&batch| {
            let images =
                Tensor::<B, 4>::random([batch, 3, 224, 224], Distribution::Default, device);
            eprintln!("    batch {batch}");
            Pair {
                teacher: best_seconds(repeats, || teacher(images.clone()).into_data()),
                student: best_seconds(repeats, || student(images.clone()).into_data()),
            }
        })
        .collect()
}

/// Every measurement on backend `B`; also what the models are.
fn measure<B: Backend>(
    args: &Args,
    sentences: &[&str],
) -> Result<(Times, Models), pela_zoo::ZooError> {
    let device = B::Device::default();
    B::seed(&device, 0);
    let deit = VitConfig::deit_base_patch16_224();
    let teacher = deit.init::<B>(&device);
    eprintln!("  factorising DeiT-Base at κ = 2");
    let (student, report) = teacher.to_low_rank_with_report(&deit.pela_plan())?;
    let deit_ranks = benchmark::ranks_json(&report);
    let deit_flops = flops_pair(deit.flops(&report));
    eprintln!("  DeiT-Base");
    let deit_times = time_pairs(
        args.repeats,
        &DEIT_BATCHES,
        &device,
        |x| teacher.forward(x),
        |x| student.forward(x),
    );
    drop((teacher, student));

    let swin = SwinConfig::swin_base_patch4_window7_224();
    let teacher = swin.init::<B>(&device);
    eprintln!("  factorising Swin-B at κ = 1.5");
    let (student, report) = teacher.to_low_rank_with_report(&swin.pela_plan())?;
    let swin_ranks = benchmark::ranks_json(&report);
    let swin_flops = flops_pair(swin.flops(&report));
    eprintln!("  Swin-B");
    let swin_times = time_pairs(
        args.repeats,
        &SWIN_BATCHES,
        &device,
        |x| teacher.forward(x),
        |x| student.forward(x),
    );
    drop((teacher, student));

    eprintln!("  all-MiniLM-L6-v2, {} sentences", sentences.len());
    let minilm = MiniLm::open(&args.minilm)?;
    let (model, tokenizer) = (minilm.load::<B>(&device)?, minilm.tokenizer()?);
    let minilm_s = best_seconds(args.repeats, || {
        embed_texts(&model, &tokenizer, sentences, sentences.len(), &device)
            .expect("news sentences tokenise")
    });
    let times = Times {
        deit: deit_times,
        swin: swin_times,
        minilm: minilm_s,
    };
    let models = Models {
        deit_ranks,
        swin_ranks,
        deit_flops,
        swin_flops,
    };
    Ok((times, models))
}

/// GFLOP/s of a [`GEMM_SIDE`]-sided square matrix product on `B` (the benchmark measures it
/// before and after the models and counts the better: one measurement alone was once half the
/// other).
fn gemm_gflops<B: Backend>(repeats: usize) -> f64 {
    let device = B::Device::default();
    B::seed(&device, 1);
    let shape = [GEMM_SIDE, GEMM_SIDE];
    let a = Tensor::<B, 2>::random(shape, Distribution::Default, &device);
    let b = Tensor::<B, 2>::random(shape, Distribution::Default, &device);
    let seconds = best_seconds(repeats, || a.clone().matmul(b.clone()).into_data());
    2.0 * (GEMM_SIDE as f64).powi(3) / seconds / 1e9
}

/// The references' times: PyTorch's, ONNX Runtime's (its entries `None` without it), their
/// versions and PyTorch's matrix-product GFLOP/s; or why there are none.
struct Reference {
    pytorch: Times,
    onnxruntime: Option<Times>,
    versions: String,
    matmul_gflops: f64,
}

fn reference(args: &Args, models: &Models, sentences: &[&str]) -> Result<Reference, String> {
    let settings = serde_json::json!({
        "batches": DEIT_BATCHES,
        "swin_batches": SWIN_BATCHES,
        "repeats": args.repeats,
        "ranks": models.deit_ranks,
        "swin_ranks": models.swin_ranks,
        "sentences": sentences,
        "minilm_wheel": args.minilm,
    });
    let json = benchmark::run_with_settings("forward_reference.py", &settings)?;
    let pairs = |model: &str, suffix: &str| -> Result<Vec<Pair>, String> {
        let rows = json[model]
            .as_array()
            .ok_or(format!("no {model} results"))?;
        let seconds = |row: &serde_json::Value, key: &str| {
            row[format!("{key}{suffix}")].as_f64().unwrap_or(f64::NAN)
        };
        Ok(rows
            .iter()
            .map(|row| Pair {
                teacher: seconds(row, "teacher"),
                student: seconds(row, "student"),
            })
            .collect())
    };
    let pytorch = Times {
        deit: pairs("deit", "")?,
        swin: pairs("swin", "")?,
        minilm: json["minilm"]["seconds"].as_f64().unwrap_or(f64::NAN),
    };
    let onnxruntime = json["onnxruntime"]
        .is_string()
        .then(|| -> Result<_, String> {
            Ok(Times {
                deit: pairs("deit", "_onnxruntime")?,
                swin: pairs("swin", "_onnxruntime")?,
                minilm: json["minilm"]["onnxruntime"].as_f64().unwrap_or(f64::NAN),
            })
        });
    let onnxruntime = onnxruntime.transpose()?;
    if onnxruntime.is_none() {
        eprintln!("no ONNX Runtime column: {}", json["onnxruntime_missing"]);
    }
    // How far ONNX Runtime's logits are from the PyTorch modules' it was exported from.
    let differences: Vec<f64> = ["deit", "swin"]
        .iter()
        .filter_map(|model| json[model].as_array())
        .flatten()
        .flat_map(|row| {
            ["teacher", "student"]
                .map(|who| row[format!("{who}_onnxruntime_max_difference")].as_f64())
        })
        .flatten()
        .collect();
    if let Some(worst) = differences.iter().copied().reduce(f64::max) {
        eprintln!("ONNX Runtime's logits are within {worst:.1e} of PyTorch's");
    }
    let versions = format!(
        "PyTorch {}, timm {}, transformers {}, ONNX Runtime {}, {} threads; {} padded tokens",
        json["torch"],
        json["timm"],
        json["transformers"],
        json["onnxruntime"],
        json["threads"],
        json["minilm"]["padded_tokens"]
    );
    Ok(Reference {
        pytorch,
        onnxruntime,
        versions,
        matmul_gflops: json["matmul_gflops"].as_f64().unwrap_or(f64::NAN),
    })
}

/// One row of the table: a piece of work, its FLOPs (if counted) and every runtime's seconds.
struct Row {
    work: String,
    flops: Option<f64>,
    onnxruntime: Option<f64>,
    pytorch: Option<f64>,
    ours: Vec<Option<f64>>,
}

fn main() -> Result<(), pela_zoo::ZooError> {
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

    let mut ours: Vec<(String, Times, f64)> = Vec::new();
    let mut models = None;
    for &backend in &args.backends {
        let (name, (times, described), gemm) = match backend {
            CpuBackend::Flex => {
                eprintln!("burn-flex");
                let before = gemm_gflops::<Flex>(args.repeats);
                let measured = measure::<Flex>(&args, &sentences)?;
                let gemm = before.max(gemm_gflops::<Flex>(args.repeats));
                ("flex".to_string(), measured, gemm)
            }
            CpuBackend::Ndarray => {
                let name = benchmark::ndarray_name();
                eprintln!("{name}");
                let before = gemm_gflops::<Cpu>(args.repeats);
                let measured = measure::<Cpu>(&args, &sentences)?;
                (name, measured, before.max(gemm_gflops::<Cpu>(args.repeats)))
            }
        };
        ours.push((name, times, gemm));
        models.get_or_insert(described);
    }
    let Some(models) = models else {
        eprintln!("no backend to time (--backends)");
        return Ok(());
    };
    let reference = if args.no_reference {
        Err("--no-reference".to_string())
    } else {
        eprintln!("PyTorch and ONNX Runtime");
        reference(&args, &models, &sentences)
    };
    let reference = match reference {
        Ok(reference) => {
            eprintln!("reference: {}", reference.versions);
            Some(reference)
        }
        Err(why) => {
            eprintln!("no reference columns: {why}");
            None
        }
    };
    let torch = reference.as_ref().map(|r| &r.pytorch);
    let ort = reference.as_ref().and_then(|r| r.onnxruntime.as_ref());

    // The matrix-product peak: the fastest measured product.
    let peak = ours
        .iter()
        .map(|(_, _, gemm)| *gemm)
        .chain(reference.as_ref().map(|r| r.matmul_gflops))
        .fold(0.0, f64::max);
    let gemms: Vec<String> = ours
        .iter()
        .map(|(name, _, gemm)| format!("{name} {gemm:.0}"))
        .chain(
            reference
                .as_ref()
                .map(|r| format!("PyTorch {:.0}", r.matmul_gflops)),
        )
        .collect();
    println!(
        "Matrix product {GEMM_SIDE} × {GEMM_SIDE} × {GEMM_SIDE}, float32, GFLOP/s: {}; peak \
         {peak:.0}",
        gemms.join(", ")
    );
    println!();

    let mut rows = Vec::new();
    let pairs = [
        ("DeiT-Base", "κ = 2", &DEIT_BATCHES[..], models.deit_flops),
        ("Swin-B", "κ = 1.5", &SWIN_BATCHES[..], models.swin_flops),
    ];
    fn pick(times: &Times, model: usize) -> &[Pair] {
        if model == 0 { &times.deit } else { &times.swin }
    }
    for (model, (name, ratio, batches, flops)) in pairs.iter().enumerate() {
        for (i, &batch) in batches.iter().enumerate() {
            for student in [false, true] {
                let of = |pair: Pair| if student { pair.student } else { pair.teacher };
                let who = if student {
                    format!("{ratio} student")
                } else {
                    "teacher".to_string()
                };
                rows.push(Row {
                    work: format!("{name} {who}, batch {batch}"),
                    flops: Some(of(*flops) * batch as f64),
                    onnxruntime: ort.map(|t| of(pick(t, model)[i])),
                    pytorch: torch.map(|t| of(pick(t, model)[i])),
                    ours: ours
                        .iter()
                        .map(|(_, t, _)| Some(of(pick(t, model)[i])))
                        .collect(),
                });
            }
        }
    }
    rows.push(Row {
        work: format!("all-MiniLM-L6-v2, {} sentences", sentences.len()),
        flops: None,
        onnxruntime: ort.map(|t| t.minilm),
        pytorch: torch.map(|t| t.minilm),
        ours: ours.iter().map(|(_, t, _)| Some(t.minilm)).collect(),
    });

    let ms = |s: Option<f64>| s.map_or("–".into(), |s| format!("{:.1} ms", s * 1e3));
    let ratio = |ours: Option<f64>, theirs: Option<f64>| match (ours, theirs) {
        (Some(ours), Some(theirs)) => format!("{:.2}", ours / theirs),
        _ => "–".into(),
    };
    let first = ours
        .first()
        .map_or(String::new(), |(name, _, _)| name.clone());
    let names: Vec<&str> = ours.iter().map(|(name, _, _)| name.as_str()).collect();
    println!(
        "| work | GFLOP | ONNX Runtime | PyTorch | {} | {first} / ONNX Runtime | {first} / PyTorch \
         | {first} GFLOP/s (of peak) |",
        names.join(" | ")
    );
    println!(
        "|---|---|---|---|{}---|---|---|",
        "---|".repeat(names.len())
    );
    for row in &rows {
        let lead = row.ours.first().copied().flatten();
        let achieved = match (row.flops, lead) {
            (Some(flops), Some(seconds)) => {
                let gflops = flops / seconds / 1e9;
                format!("{gflops:.0} ({:.0} %)", 100.0 * gflops / peak)
            }
            _ => "–".into(),
        };
        let ours: Vec<String> = row.ours.iter().map(|&s| ms(s)).collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {achieved} |",
            row.work,
            row.flops.map_or("–".into(), |f| format!("{:.1}", f / 1e9)),
            ms(row.onnxruntime),
            ms(row.pytorch),
            ours.join(" | "),
            ratio(lead, row.onnxruntime),
            ratio(lead, row.pytorch),
        );
    }

    // Each student's speed-up over its teacher, beside its FLOPs ratio.
    println!();
    println!(
        "| student over its teacher (time ratio) | FLOPs | ONNX Runtime | PyTorch | {} |",
        names.join(" | ")
    );
    println!("|---|---|---|---|{}", "---|".repeat(names.len()));
    for pair in rows
        .chunks(2)
        .filter(|pair| pair.len() == 2 && pair[0].flops.is_some())
    {
        let [teacher, student] = [&pair[0], &pair[1]];
        let speedup = |t: Option<f64>, s: Option<f64>| match (t, s) {
            (Some(t), Some(s)) => format!("{:.2}×", t / s),
            _ => "–".into(),
        };
        let ours: Vec<String> = teacher
            .ours
            .iter()
            .zip(&student.ours)
            .map(|(&t, &s)| speedup(t, s))
            .collect();
        println!(
            "| {} | {} | {} | {} | {} |",
            student.work,
            speedup(teacher.flops, student.flops),
            speedup(teacher.onnxruntime, student.onnxruntime),
            speedup(teacher.pytorch, student.pytorch),
            ours.join(" | "),
        );
    }
    Ok(())
}
