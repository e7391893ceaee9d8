//! Compress a small residual MLP with `#[derive(LowRank)]` and print what it costs.
//!
//! ```text
//! cargo run --example compress_mlp
//! ```
//!
//! The teacher is a seeded, randomly initialised 4-block residual MLP (no checkpoint needed).
//! Every `Linear` but the classifier head becomes an SVD factor pair; the program prints the
//! per-layer report at κ = 2, then, for several κ, the parameters left and how closely the
//! student's outputs follow the teacher's on seeded random inputs.
//!
//! These are plain SVD students, before any distillation; random weights have a flat spectrum,
//! so truncation costs more here than on trained weights.

use std::time::Instant;

use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::gelu;
use burn_ndarray::{NdArray, NdArrayDevice};
use pela::{LowRank, PelaError, RankPlan};

type Cpu = NdArray<f32>;

const D_INPUT: usize = 64;
const D_MODEL: usize = 128;
const D_HIDDEN: usize = 512;
const N_BLOCKS: usize = 4;
const N_CLASSES: usize = 10;

/// A pre-norm residual MLP block.
#[derive(Module, LowRank, Debug)]
pub struct Block<B: Backend> {
    norm: LayerNorm<B>,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

/// The model: an input projection, residual blocks and a classifier head kept dense.
#[derive(Module, LowRank, Debug)]
pub struct Mlp<B: Backend> {
    embed: Linear<B>,
    #[low_rank]
    blocks: Vec<Block<B>>,
    #[low_rank(skip)]
    head: Linear<B>,
}

#[pela::twin] // the same forward for `Mlp` and its student `MlpLowRank`
impl<B: Backend> Mlp<B> {
    /// `[batch, tokens, D_INPUT]` → logits `[batch, tokens, N_CLASSES]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut x = self.embed.forward(x);
        for block in &self.blocks {
            let h = block.fc1.forward(block.norm.forward(x.clone()));
            x = x + block.fc2.forward(gelu(h));
        }
        self.head.forward(x)
    }
}

fn teacher(device: &NdArrayDevice) -> Mlp<Cpu> {
    Cpu::seed(device, 42);
    Mlp {
        embed: LinearConfig::new(D_INPUT, D_MODEL).init(device),
        blocks: (0..N_BLOCKS)
            .map(|_| Block {
                norm: LayerNormConfig::new(D_MODEL).init(device),
                fc1: LinearConfig::new(D_MODEL, D_HIDDEN).init(device),
                fc2: LinearConfig::new(D_HIDDEN, D_MODEL).init(device),
            })
            .collect(),
        head: LinearConfig::new(D_MODEL, N_CLASSES).init(device),
    }
}

/// Relative output error `‖y_s − y_t‖ / ‖y_t‖` and top-1 agreement of the two models.
fn agreement(teacher: &Mlp<Cpu>, student: &MlpLowRank<Cpu>, x: Tensor<Cpu, 3>) -> (f32, f32) {
    let y_t = teacher.forward(x.clone());
    let y_s = student.forward(x);
    let err = (y_s.clone() - y_t.clone()).square().sum().sqrt() / y_t.clone().square().sum().sqrt();
    let same = y_s.argmax(2).equal(y_t.argmax(2)).float().mean();
    (err.into_scalar(), same.into_scalar())
}

fn main() -> Result<(), PelaError> {
    let device = NdArrayDevice::default();
    let teacher = teacher(&device);
    let started = Instant::now();
    let (student, report) = teacher.to_low_rank_with_report(&RankPlan::new(2.0))?;
    println!(
        "Compressed a {N_BLOCKS}-block residual MLP at κ = 2 in {:.2?}:\n",
        started.elapsed()
    );
    println!("{report}\n");
    assert_eq!(report.totals().params_after, student.num_params());

    Cpu::seed(&device, 7);
    let inputs =
        Tensor::<Cpu, 3>::random([64, 16, D_INPUT], Distribution::Normal(0.0, 1.0), &device);
    println!("Plain SVD students on 64×16 seeded random inputs (no distillation yet):\n");
    println!(
        "{:>5}  {:>10}  {:>9}  {:>17}  {:>15}",
        "κ", "params", "of dense", "rel. output error", "top-1 agreement"
    );
    let dense = teacher.num_params();
    println!(
        "{:>5}  {:>10}  {:>8.1}%  {:>17.4}  {:>14.1}%",
        "dense", dense, 100.0, 0.0, 100.0
    );
    for ratio in [1.5, 2.0, 3.0, 4.0, 8.0] {
        let student = teacher.to_low_rank(&RankPlan::new(ratio))?;
        let (err, same) = agreement(&teacher, &student, inputs.clone());
        let params = student.num_params();
        println!(
            "{:>5}  {:>10}  {:>8.1}%  {:>17.4}  {:>14.1}%",
            ratio,
            params,
            100.0 * params as f64 / dense as f64,
            err,
            100.0 * same
        );
    }
    Ok(())
}
