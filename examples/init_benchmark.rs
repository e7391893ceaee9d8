//! How long SVD initialisation of a full-size DeiT-Base takes at κ = 2, by method, beside
//! PyTorch's `torch.linalg.svd` and numpy's LAPACK on the same CPU and the same weights.
//!
//! ```text
//! python3 -m pip install numpy            # for the LAPACK column; skipped without it
//! cargo run --example init_benchmark      # [-- --blocks 12]
//! ```
//!
//! The 48 weights have DeiT-Base's shapes (per block: qkv 768→2304, proj 768→768,
//! fc1 768→3072, fc2 3072→768) and a decaying spectrum like trained weights (a power law over
//! a floor), seeded. No pre-trained DeiT-Base ships in a package, so these stand in for it;
//! the shapes, and with them the cost, are the real ones. `SvdMethod::Auto`, the default, picks
//! the Gram method for every one of these ranks; the exact and randomized methods are timed as
//! well. The reference is `scripts/lapack_reference.py`, run by this program on the weights it
//! writes to `target/init-benchmark/`; the speed-up column is against `torch.linalg.svd` when
//! PyTorch is installed (numpy's LAPACK otherwise). numpy's OpenBLAS is slowed by this
//! machine's `OPENBLAS_CORETYPE` (run with `env -u OPENBLAS_CORETYPE` for its best).

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::Distribution;
use burn_ndarray::{NdArray, NdArrayDevice};
use clap::Parser;
use pela::{SvdMethod, factorize_with, rank_for_ratio};

#[path = "support/benchmark.rs"]
mod benchmark;

/// SVD initialisation of DeiT-Base's weights at κ = 2 by each method, beside LAPACK.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Transformer blocks of weights to factorise (DeiT-Base has 12).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..))]
    blocks: u16,
}

type Cpu = NdArray<f32>;

const SHAPES: [(&str, usize, usize); 4] = [
    ("attn.qkv", 768, 2304),
    ("attn.proj", 768, 768),
    ("mlp.fc1", 768, 3072),
    ("mlp.fc2", 3072, 768),
];

struct Weight {
    name: String,
    shape: usize,
    rank: usize,
    tensor: Tensor<Cpu, 2>,
}

/// `A·diag(σ)·Bᵀ` with Gaussian `A`, `B` scaled to near-orthonormal columns and
/// `σ_i = 3·(1 + i)^-0.6 + 0.05`.
fn weight(d_input: usize, d_output: usize, seed: u64, device: &NdArrayDevice) -> Tensor<Cpu, 2> {
    Cpu::seed(device, seed);
    let d = d_input.min(d_output);
    let a = Tensor::<Cpu, 2>::random([d_input, d], Distribution::Normal(0.0, 1.0), device)
        / (d_input as f64).sqrt();
    let b = Tensor::<Cpu, 2>::random([d_output, d], Distribution::Normal(0.0, 1.0), device)
        / (d_output as f64).sqrt();
    let sigma: Vec<f32> = (0..d)
        .map(|i| 3.0 * (1.0 + i as f32).powf(-0.6) + 0.05)
        .collect();
    let sigma = Tensor::<Cpu, 1>::from_floats(sigma.as_slice(), device).unsqueeze::<2>();
    (a * sigma).matmul(b.transpose())
}

/// Writes a float32 `.npy` file (format version 1.0).
fn write_npy(path: &Path, tensor: &Tensor<Cpu, 2>) -> std::io::Result<()> {
    let [rows, cols] = tensor.dims();
    let values = tensor.to_data().to_vec::<f32>().expect("f32 weights");
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut file = fs::File::create(path)?;
    file.write_all(b"\x93NUMPY\x01\x00")?;
    file.write_all(&(header.len() as u16).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    for v in values {
        file.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

/// LAPACK's measurements: `(seconds, optimal error)` by weight name, and PyTorch's
/// `torch.linalg.svd` seconds when it is installed.
struct Reference {
    version: String,
    results: HashMap<String, (f64, f64)>,
    torch: Option<(String, HashMap<String, f64>)>,
}

/// Runs the LAPACK reference script, or says why it could not.
fn lapack_reference(dir: &Path) -> Result<Reference, String> {
    let json = benchmark::run("lapack_reference.py", &[dir.display().to_string()])?;
    let version = format!(
        "numpy {} ({} BLAS)",
        json["numpy"].as_str().unwrap_or("?"),
        json["blas"].as_str().unwrap_or("?")
    );
    let results = json["results"]
        .as_array()
        .ok_or("no results in the reference output")?
        .iter()
        .map(|r| {
            let name = r["name"].as_str().unwrap_or_default().to_string();
            (
                name,
                (
                    r["seconds"].as_f64().unwrap_or(f64::NAN),
                    r["optimal_error"].as_f64().unwrap_or(f64::NAN),
                ),
            )
        })
        .collect();
    let torch = json["torch"].as_str().map(|version| {
        let seconds = json["results"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some((
                    r["name"].as_str()?.to_string(),
                    r["torch_seconds"].as_f64()?,
                ))
            })
            .collect();
        (
            format!(
                "PyTorch {version}, {} threads",
                json["torch_threads"].as_u64().unwrap_or(0)
            ),
            seconds,
        )
    });
    Ok(Reference {
        version,
        results,
        torch,
    })
}

#[derive(Default)]
struct Row {
    /// Seconds per shape (all timed matrices).
    seconds: [Vec<f64>; 4],
    /// Error / optimal error, per matrix with a known optimum.
    error_ratios: Vec<f64>,
}

impl Row {
    fn total(&self, blocks: usize) -> (f64, bool) {
        let mut total = 0.0;
        let mut extrapolated = false;
        for times in self.seconds.iter() {
            if times.is_empty() {
                return (f64::NAN, true);
            }
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            extrapolated |= times.len() < blocks;
            total += mean * blocks as f64;
        }
        (total, extrapolated)
    }

    fn print(&self, label: &str, blocks: usize, reference_total: Option<f64>) {
        let (total, extrapolated) = self.total(blocks);
        let per_shape: Vec<String> = self
            .seconds
            .iter()
            .map(|t| {
                if t.is_empty() {
                    "-".into()
                } else {
                    format!("{:.2}", t.iter().sum::<f64>() / t.len() as f64)
                }
            })
            .collect();
        let errors = if self.error_ratios.is_empty() {
            "-".to_string()
        } else {
            let mean = self.error_ratios.iter().sum::<f64>() / self.error_ratios.len() as f64;
            let max = self.error_ratios.iter().cloned().fold(f64::MIN, f64::max);
            format!("{mean:.4} / {max:.4}")
        };
        let speed = reference_total.map_or("-".into(), |r| format!("{:.2}×", r / total));
        println!(
            "{label:<28} {:>10}  {:>24}  {:>17}  {:>9}",
            format!("{}{:.1} s", if extrapolated { "≈" } else { "" }, total),
            per_shape.join(" / "),
            errors,
            speed
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let blocks = usize::from(Args::parse().blocks);
    let device = NdArrayDevice::default();
    let dir = PathBuf::from("target/init-benchmark");
    fs::create_dir_all(&dir)?;
    eprintln!("Generating {} weights of DeiT-Base's shapes…", 4 * blocks);
    let mut weights = Vec::new();
    for block in 0..blocks {
        for (shape, (name, d_in, d_out)) in SHAPES.iter().enumerate() {
            let tensor = weight(*d_in, *d_out, (block * 4 + shape) as u64, &device);
            let name = format!("blocks.{block}.{name}");
            write_npy(&dir.join(format!("{name}.npy")), &tensor)?;
            weights.push(Weight {
                name,
                shape,
                rank: rank_for_ratio(*d_in, *d_out, 2.0),
                tensor,
            });
        }
    }
    let manifest: Vec<_> = weights
        .iter()
        .map(|w| serde_json::json!({"name": w.name, "rank": w.rank}))
        .collect();
    fs::write(dir.join("manifest.json"), serde_json::to_string(&manifest)?)?;

    eprintln!("LAPACK reference (scripts/lapack_reference.py)…");
    let reference = lapack_reference(&dir);
    let optimal: HashMap<String, f64> = match &reference {
        Ok(reference) => reference
            .results
            .iter()
            .map(|(k, (_, e))| (k.clone(), *e))
            .collect(),
        Err(_) => HashMap::new(),
    };

    let mut rows = Vec::new();
    type MethodFor = fn(usize) -> SvdMethod;
    let methods: [(&str, MethodFor); 3] = [
        ("pela Gram (faer), default", |_| SvdMethod::Gram),
        ("pela exact (faer)", |_| SvdMethod::Exact),
        ("pela randomized", SvdMethod::randomized_for),
    ];
    for (label, method_for) in methods {
        eprintln!("{label}…");
        let mut row = Row::default();
        for w in weights.iter() {
            let method = method_for(w.rank);
            let started = Instant::now();
            let f = factorize_with(&w.name, w.tensor.clone(), w.rank, method)?;
            row.seconds[w.shape].push(started.elapsed().as_secs_f64());
            if let Some(opt) = optimal.get(&w.name) {
                row.error_ratios.push(f.error.frobenius / opt);
            }
        }
        rows.push((label, row));
    }
    let auto: Vec<String> = SHAPES
        .iter()
        .map(|(_, d_in, d_out)| {
            let rank = rank_for_ratio(*d_in, *d_out, 2.0);
            format!("{:?}", SvdMethod::Auto.resolve(*d_in, *d_out, rank))
        })
        .collect();

    println!(
        "\nSVD initialisation of DeiT-Base at κ = 2 ({} weights, ranks 288 / 192 / 307 / 307), {} CPU threads\n",
        weights.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<28} {:>10}  {:>24}  {:>17}  {:>9}",
        "method", "total", "s per qkv / proj / fc1 / fc2", "error/optimal avg/max", "speed-up"
    );
    let reference_total = match &reference {
        Ok(Reference {
            version,
            results,
            torch,
        }) => {
            // The anchor: torch.linalg.svd when PyTorch is installed, numpy's LAPACK else.
            let torch_row = torch.as_ref().map(|(torch_version, seconds)| {
                let mut row = Row::default();
                for w in weights.iter() {
                    if let Some(s) = seconds.get(&w.name) {
                        row.seconds[w.shape].push(*s);
                        row.error_ratios.push(1.0);
                    }
                }
                (torch_version, row)
            });
            let mut row = Row::default();
            for w in weights.iter() {
                if let Some((seconds, _)) = results.get(&w.name) {
                    row.seconds[w.shape].push(*seconds);
                    row.error_ratios.push(1.0);
                }
            }
            let anchor = match &torch_row {
                Some((_, torch_row)) => torch_row.total(blocks).0,
                None => row.total(blocks).0,
            };
            if let Some((torch_version, torch_row)) = &torch_row {
                torch_row.print("torch.linalg.svd, f64", blocks, Some(anchor));
                println!("{:<28} {torch_version}", "");
            }
            row.print("numpy LAPACK gesdd, f64", blocks, Some(anchor));
            println!("{:<28} {version}", "");
            Some(anchor)
        }
        Err(why) => {
            println!("{:<28} skipped: {why}", "LAPACK gesdd (numpy)");
            None
        }
    };
    for (label, row) in rows.iter() {
        row.print(label, blocks, reference_total);
    }
    println!("\nSvdMethod::Auto picks, per shape: {}.", auto.join(" / "));
    println!("Errors: Frobenius norm of U·Vᵀ − W over the optimal rank-r error (from LAPACK's σ).");
    Ok(())
}
