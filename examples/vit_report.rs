//! The PELA compression of a full-size DeiT or DeiT-III, without any checkpoint.
//!
//! ```text
//! cargo run --release --example vit_report                       # DeiT-Base, κ = 2
//! cargo run --release --example vit_report -- deit3_large_patch16_224
//! cargo run --release --example vit_report -- deit_base_patch16_224 --svd
//! ```
//!
//! Builds the model with random weights (timm's architecture and parameter count), applies the
//! authors' plan (κ = 2; `head` dense) and prints the per-layer table, then parameters and
//! FLOPs of teacher and student, counted as the paper's Table 1 counts them. Without `--svd`
//! the ranks come from the plan alone, in a second; with it every layer is factorised (about
//! half a minute for DeiT-Base on 2 cores) and the table gains each layer's reconstruction
//! error (of random weights: flat spectra, so large errors).
//!
//! The dev profile of this workspace is optimised too: `cargo run --example vit_report` works
//! as well and reuses the test build.

use std::process::ExitCode;
use std::time::Instant;

use pela::{CompressionReport, LowRank, Progress};
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::vit::VitConfig;

/// Prints one line per factorised layer to stderr.
struct Log;

impl Progress for Log {
    fn on_layer_factorised(&self, path: &str, rank: usize, seconds: f64) {
        eprintln!("  factorised {path:<22} rank {rank:>4} in {seconds:.2} s");
    }
}

fn main() -> ExitCode {
    let mut model = "deit_base_patch16_224".to_string();
    let mut svd = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--svd" => svd = true,
            "-h" | "--help" => {
                println!("usage: vit_report [MODEL] [--svd]\nmodels: {}", names());
                return ExitCode::SUCCESS;
            }
            name if !name.starts_with('-') => model = name.to_string(),
            flag => {
                eprintln!("error: unknown flag `{flag}`; usage: vit_report [MODEL] [--svd]");
                return ExitCode::from(2);
            }
        }
    }
    match run(&model, svd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn names() -> String {
    VitConfig::preset_names().collect::<Vec<_>>().join(", ")
}

fn run(model: &str, svd: bool) -> Result<(), pela_zoo::ZooError> {
    let config = VitConfig::preset(model)?;
    let plan = config.pela_plan();
    let started = Instant::now();
    eprintln!("building {model} with random weights");
    let teacher = config.init::<Cpu>(&CpuDevice::default());
    let report: CompressionReport = if svd {
        eprintln!("factorising every layer the plan compresses");
        teacher.to_low_rank_with_progress(&plan, &Log)?.1
    } else {
        teacher.preview(&plan)?
    };
    println!("{report}");

    let totals = report.totals();
    let flops = config.flops(&report);
    let giga = |x: u64| x as f64 / 1e9;
    let mega = |x: usize| x as f64 / 1e6;
    println!("{model}, κ = {}, {} tokens", plan.ratio, config.n_tokens());
    println!(
        "| {:<8} | {:>12} | {:>7} | {:>8} | {:>18} |",
        "model", "params", "M", "GFLOPs", "attention GFLOPs"
    );
    println!(
        "|{:-<10}|{:-<14}|{:-<9}|{:-<10}|{:-<20}|",
        "", "", "", "", ""
    );
    for (name, params, weights) in [
        ("teacher", totals.params_before, flops.teacher()),
        ("student", totals.params_after, flops.student()),
    ] {
        println!(
            "| {name:<8} | {params:>12} | {:>7.2} | {:>8.1} | {:>18.1} |",
            mega(params),
            giga(weights),
            giga(flops.attention()),
        );
    }
    println!(
        "student / teacher: {:.3} of the parameters, {:.3} of the FLOPs ({:.1} s)",
        totals.params_after as f64 / totals.params_before as f64,
        flops.student() as f64 / flops.teacher() as f64,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
