//! One layer's training cost: a dense `Linear` and its κ = 2 factor pair, forward and backward,
//! on the CPU backends and in PyTorch, in one run.
//!
//! ```text
//! python3 -m pip install torch            # for the PyTorch columns; skipped without it
//! cargo run --example layer_benchmark
//! ```
//!
//! For each shape (text tokens as in MiniLM, the few image tokens of the ALBEF demo, DeiT-Base's
//! `fc1`), times the loss `y.sum()` and its backward on a `[batch, tokens, d_in]` input:
//! - Burn's `Linear::forward` on the 3-D input: Burn 0.21 makes that a batched product, and its
//!   weight gradient one matrix per batch item, summed afterwards;
//! - the same `Linear` through [`pela::nn::on_rows`], one product over all rows, as the zoo's
//!   models and the low-rank layers run it;
//! - the κ = 2 [`LowRankLinear`](pela::LowRankLinear), which should cost about its share of
//!   the FLOPs;
//! - PyTorch's `nn.Linear` and its pair, from `scripts/layer_reference.py`, run by this program.
//!
//! Prints the best of `--repeats` runs of each, in milliseconds, and the ratios.

use std::time::Instant;

use burn::backend::Autodiff;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use pela::nn::on_rows;
use pela::{LowRankLinear, rank_for_ratio};
use pela_zoo::backend::{Cpu, Flex};

#[path = "support/benchmark.rs"]
mod benchmark;

/// A dense layer and its factor pair, forward and backward, on each CPU backend and in PyTorch.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// Timed runs of each layer; the best counts.
    #[arg(long, default_value_t = 7)]
    repeats: usize,
}

/// `[batch, tokens, d_in, d_out]` and what it stands for.
const SHAPES: [([usize; 4], &str); 3] = [
    ([32, 12, 384, 1536], "MiniLM text, batch 32"),
    ([32, 5, 384, 1536], "ALBEF demo image, batch 32"),
    ([8, 197, 768, 3072], "DeiT-Base fc1, batch 8"),
];

/// Best milliseconds of `repeats` runs of `step`, after one warm-up run.
fn best_ms(repeats: usize, mut step: impl FnMut()) -> f64 {
    step();
    (0..repeats)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// Milliseconds of the loss and backward of `forward` on `x`, reading the weight gradients of
/// `module` back.
fn step_ms<B: AutodiffBackend, M: burn::module::AutodiffModule<B>>(
    repeats: usize,
    module: &M,
    x: &Tensor<B, 3>,
    forward: impl Fn(&M, Tensor<B, 3>) -> Tensor<B, 3>,
) -> f64 {
    best_ms(repeats, || {
        let grads = forward(module, x.clone()).sum().backward();
        let grads = burn::optim::GradientsParams::from_grads(grads, module);
        assert!(!grads.is_empty(), "gradients of the layer");
    })
}

/// The three Burn timings of one shape on backend `B`: `Linear` on the 3-D input, on rows, and
/// the factor pair.
fn burn_ms<B: AutodiffBackend>(
    repeats: usize,
    [batch, tokens, d_in, d_out]: [usize; 4],
) -> [f64; 3] {
    let device = B::Device::default();
    B::seed(&device, 0);
    let dense: Linear<B> = LinearConfig::new(d_in, d_out).init(&device);
    let rank = rank_for_ratio(d_in, d_out, 2.0);
    let (pair, _) = LowRankLinear::from_linear("layer", &dense, rank).expect("a valid rank");
    let x = Tensor::<B, 3>::random(
        [batch, tokens, d_in],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    [
        step_ms(repeats, &dense, &x, |layer, x| layer.forward(x)),
        step_ms(repeats, &dense, &x, |layer, x| {
            on_rows(x, |rows| layer.forward(rows))
        }),
        step_ms(repeats, &pair, &x, |layer, x| layer.forward(x)),
    ]
}

/// PyTorch's milliseconds per shape (dense, pair) with its version and threads, or why not.
fn pytorch_ms(repeats: usize) -> Result<(Vec<[f64; 2]>, String), String> {
    let shapes: Vec<[usize; 5]> = SHAPES
        .iter()
        .map(|&([b, t, i, o], _)| [b, t, i, o, rank_for_ratio(i, o, 2.0)])
        .collect();
    let json = benchmark::run(
        "layer_reference.py",
        &[
            serde_json::to_string(&shapes).expect("shapes as JSON"),
            repeats.to_string(),
        ],
    )?;
    let ms = |r: &serde_json::Value, key: &str| r[key].as_f64().unwrap_or(f64::NAN) * 1e3;
    let results = json["results"]
        .as_array()
        .ok_or("no results")?
        .iter()
        .map(|r| [ms(r, "dense"), ms(r, "pair")])
        .collect();
    Ok((
        results,
        format!("PyTorch {}, {} threads", json["torch"], json["threads"]),
    ))
}

fn main() {
    let args = Args::parse();
    let pytorch = pytorch_ms(args.repeats);
    match &pytorch {
        Ok((_, version)) => eprintln!("reference: {version}"),
        Err(why) => eprintln!("no PyTorch columns: {why}"),
    }
    println!(
        "| shape | backend | Linear, 3-D input | Linear, on rows | rows speed-up | κ = 2 pair | pair / dense time | pair / dense FLOPs | PyTorch dense | PyTorch pair | dense: PyTorch / ours | pair: PyTorch / ours |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (index, &(shape, name)) in SHAPES.iter().enumerate() {
        let [_, _, d_in, d_out] = shape;
        let rank = rank_for_ratio(d_in, d_out, 2.0);
        let flops = (rank * (d_in + d_out)) as f64 / (d_in * d_out) as f64;
        let reference = pytorch.as_ref().ok().map(|(r, _)| r[index]);
        for (backend, [batched, rows, pair]) in [
            ("flex", burn_ms::<Autodiff<Flex>>(args.repeats, shape)),
            ("ndarray", burn_ms::<Autodiff<Cpu>>(args.repeats, shape)),
        ] {
            let (torch_dense, torch_pair) = match reference {
                Some([dense, pair]) => (format!("{dense:.1} ms"), format!("{pair:.1} ms")),
                None => ("–".into(), "–".into()),
            };
            let ratio = |theirs: Option<f64>, ours: f64| {
                theirs.map_or("–".into(), |t| format!("{:.2}", t / ours))
            };
            println!(
                "| {name}: [{}, {}, {d_in}] → {d_out}, r = {rank} | {backend} | {batched:.1} ms | {rows:.1} ms | {:.1}× | {pair:.1} ms | {:.2} | {flops:.2} | {torch_dense} | {torch_pair} | {} | {} |",
                shape[0],
                shape[1],
                batched / rows,
                pair / rows,
                ratio(reference.map(|r| r[0]), rows),
                ratio(reference.map(|r| r[1]), pair),
            );
        }
    }
}
