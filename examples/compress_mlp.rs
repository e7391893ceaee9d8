//! Compress a small residual MLP at several compression ratios and print what it costs.
//!
//! ```text
//! cargo run --example compress_mlp
//! ```
//!
//! The teacher is a seeded, randomly initialised 4-block residual MLP (no checkpoint needed).
//! Every `Linear` except the classifier head is replaced by its SVD factor pair; the program
//! prints the per-layer report at κ = 2, then, for several κ, the parameters left and how
//! closely the student's outputs follow the teacher's on seeded random inputs.
//!
//! This is the plain SVD student, before any distillation: random weights have a flat
//! spectrum, so truncation costs more here than on trained weights.

use std::time::Instant;

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use burn_ndarray::{NdArray, NdArrayDevice};
use pela::{CompressionReport, LayerDecision, LayerReport, LowRankLinear, PelaError, RankPlan};

type B = NdArray<f32>;

const D_INPUT: usize = 64;
const D_MODEL: usize = 128;
const D_HIDDEN: usize = 512;
const N_BLOCKS: usize = 4;
const N_CLASSES: usize = 10;

/// A pre-norm residual MLP block, generic over its linear layer (dense or low-rank).
#[derive(Module, Debug)]
struct Block<B: Backend, L> {
    norm: LayerNorm<B>,
    fc1: L,
    fc2: L,
}

/// The model: an input projection, residual blocks and a classifier head.
#[derive(Module, Debug)]
struct Mlp<B: Backend, L> {
    embed: L,
    blocks: Vec<Block<B, L>>,
    head: Linear<B>,
}

/// What both `Linear` and `LowRankLinear` offer the forward pass.
trait Layer<B: Backend> {
    fn apply(&self, x: Tensor<B, 3>) -> Tensor<B, 3>;
}

impl<B: Backend> Layer<B> for Linear<B> {
    fn apply(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward(x)
    }
}

impl<B: Backend> Layer<B> for LowRankLinear<B> {
    fn apply(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward(x)
    }
}

impl<B: Backend, L: Layer<B>> Mlp<B, L> {
    /// `[batch, tokens, D_INPUT]` → logits `[batch, tokens, N_CLASSES]`.
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mut x = self.embed.apply(x);
        for block in &self.blocks {
            let h = block
                .fc2
                .apply(gelu(block.fc1.apply(block.norm.forward(x.clone()))));
            x = x + h;
        }
        self.head.forward(x)
    }
}

fn teacher(device: &NdArrayDevice) -> Mlp<B, Linear<B>> {
    B::seed(device, 42);
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

/// Factorises one layer as the plan says, recording it in the report.
fn compress(
    path: &str,
    layer: &Linear<B>,
    plan: &RankPlan,
    report: &mut CompressionReport,
) -> Result<LowRankLinear<B>, PelaError> {
    let [d_input, d_output] = layer.weight.dims();
    let LayerDecision::LowRank { rank } = plan.decide(path, d_input, d_output)? else {
        unreachable!("the plans of this example exclude no layer");
    };
    let (low_rank, error) = LowRankLinear::from_linear(path, layer, rank)?;
    let bias = layer.bias.is_some();
    report.push(LayerReport::low_rank(
        path, d_input, d_output, bias, rank, error,
    ));
    Ok(low_rank)
}

fn compress_model(
    teacher: &Mlp<B, Linear<B>>,
    plan: &RankPlan,
) -> Result<(Mlp<B, LowRankLinear<B>>, CompressionReport), PelaError> {
    plan.validate()?;
    let mut report = CompressionReport::default();
    let embed = compress("embed", &teacher.embed, plan, &mut report)?;
    let mut blocks = Vec::new();
    for (i, block) in teacher.blocks.iter().enumerate() {
        blocks.push(Block {
            norm: block.norm.clone(),
            fc1: compress(&format!("blocks.{i}.fc1"), &block.fc1, plan, &mut report)?,
            fc2: compress(&format!("blocks.{i}.fc2"), &block.fc2, plan, &mut report)?,
        });
    }
    let [d_model, n_classes] = teacher.head.weight.dims();
    report.push(LayerReport::dense(
        "head",
        d_model,
        n_classes,
        true,
        pela::DenseReason::Skipped,
    ));
    let norms: usize = teacher.blocks.iter().map(|b| b.norm.num_params()).sum();
    let report = report.with_other_params(norms);
    let student = Mlp {
        embed,
        blocks,
        head: teacher.head.clone(),
    };
    Ok((student, report))
}

/// Relative output error `‖y_s − y_t‖ / ‖y_t‖` and top-1 agreement of the two models.
fn agreement(
    teacher: &Mlp<B, Linear<B>>,
    student: &Mlp<B, LowRankLinear<B>>,
    x: Tensor<B, 3>,
) -> (f32, f32) {
    let y_t = teacher.forward(x.clone());
    let y_s = student.forward(x);
    let err = (y_s.clone() - y_t.clone()).square().sum().sqrt() / y_t.clone().square().sum().sqrt();
    let same = y_s.argmax(2).equal(y_t.argmax(2)).float().mean();
    (err.into_scalar(), same.into_scalar())
}

fn main() -> Result<(), PelaError> {
    let device = Default::default();
    let teacher = teacher(&device);
    B::seed(&device, 7);
    let inputs = Tensor::<B, 3>::random([64, 16, D_INPUT], Distribution::Normal(0.0, 1.0), &device);

    let plan = RankPlan::new(2.0);
    let started = Instant::now();
    let (student, report) = compress_model(&teacher, &plan)?;
    println!(
        "Compressed a {N_BLOCKS}-block residual MLP at κ = 2 in {:.2?}:\n",
        started.elapsed()
    );
    println!("{report}\n");
    assert_eq!(report.totals().params_after, student.num_params());

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
        let (student, _) = compress_model(&teacher, &RankPlan::new(ratio))?;
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
