//! `#[derive(LowRank)]` on a small Transformer defined here (not in the zoo): nested blocks in
//! a `Vec`, an `Option` field, a skipped head, a generic parameter, per-field rank rules.

mod common;

use burn::module::Module;
use burn::nn::{Gelu, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::{Distribution, Tolerance};
use burn_ndarray::NdArrayDevice;
use common::{Cpu, seeded};
use pela::{LayerFeatures, LowRank, LowRankStudent, RankPlan};

const D_MODEL: usize = 32;
const N_HEADS: usize = 4;
const D_FF: usize = 96;
const DEPTH: usize = 3;
const N_CLASSES: usize = 5;

/// An activation chosen by the model's user: the generic parameter of `Block`.
pub trait Act<B: Backend>: Module<B> {
    fn apply(&self, x: Tensor<B, 3>) -> Tensor<B, 3>;
}

impl<B: Backend> Act<B> for Gelu {
    fn apply(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward(x)
    }
}

/// timm-style self-attention with a fused qkv projection.
#[derive(Module, LowRank, Debug)]
pub struct SelfAttention<B: Backend> {
    qkv: Linear<B>,
    proj: Linear<B>,
    n_heads: usize,
}

#[pela::twin]
impl<B: Backend> SelfAttention<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, tokens, d_model] = x.dims();
        let d_head = d_model / self.n_heads;
        let qkv = self
            .qkv
            .forward(x)
            .reshape([batch, tokens, 3, self.n_heads, d_head])
            .permute([2, 0, 3, 1, 4]);
        let q = qkv.clone().narrow(0, 0, 1).squeeze_dim::<4>(0);
        let k = qkv.clone().narrow(0, 1, 1).squeeze_dim::<4>(0);
        let v = qkv.narrow(0, 2, 1).squeeze_dim::<4>(0);
        let attn = softmax(q.matmul(k.swap_dims(2, 3)) / (d_head as f64).sqrt(), 3);
        let y = attn
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, tokens, d_model]);
        self.proj.forward(y)
    }
}

/// A pre-norm Transformer block with a generic activation.
#[derive(Module, LowRank, Debug)]
pub struct Block<B: Backend, A> {
    norm1: LayerNorm<B>,
    #[low_rank]
    attn: SelfAttention<B>,
    norm2: LayerNorm<B>,
    fc1: Linear<B>,
    /// The second MLP layer, compressed harder by the model's author.
    #[low_rank(ratio = 4.0)]
    fc2: Linear<B>,
    act: A,
}

#[pela::twin]
impl<B: Backend, A: Act<B>> Block<B, A> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward(self.norm1.forward(x));
        let h = self
            .act
            .apply(self.fc1.forward(self.norm2.forward(x.clone())));
        x + self.fc2.forward(h)
    }
}

/// The whole model.
#[derive(Module, LowRank, Debug)]
pub struct Net<B: Backend, A> {
    embed: Linear<B>,
    #[low_rank]
    blocks: Vec<Block<B, A>>,
    #[low_rank]
    pre_logits: Option<Linear<B>>,
    norm: LayerNorm<B>,
    #[low_rank(skip)]
    head: Linear<B>,
}

#[pela::twin]
impl<B: Backend, A: Act<B>> LayerFeatures<B> for Net<B, A> {
    type Input = Tensor<B, 3>;
    type Output = Tensor<B, 2>;

    fn forward_features(&self, x: Tensor<B, 3>) -> (Tensor<B, 2>, Vec<Tensor<B, 3>>) {
        let mut x = self.embed.forward(x);
        let mut features = Vec::with_capacity(self.blocks.len());
        for block in self.blocks.iter() {
            x = block.forward(x);
            features.push(x.clone());
        }
        let mut pooled = self.norm.forward(x).mean_dim(1).squeeze_dim::<2>(1);
        if let Some(pre_logits) = &self.pre_logits {
            pooled = pre_logits.forward(pooled).tanh();
        }
        (self.head.forward(pooled), features)
    }
}

/// The seeded teacher and a seeded input batch `[2, 7, 16]`.
fn fixture(device: &NdArrayDevice) -> (Net<Cpu, Gelu>, Tensor<Cpu, 3>) {
    let teacher = seeded(11, || {
        let teacher = build_teacher(device);
        let _drawn = teacher.to_low_rank(&RankPlan::new(2.0)); // reads every parameter
        teacher
    });
    let input = seeded(12, || {
        Tensor::random([2, 7, 16], Distribution::Normal(0.0, 1.0), device)
    });
    (teacher, input)
}

fn build_teacher(device: &NdArrayDevice) -> Net<Cpu, Gelu> {
    let block = || Block {
        norm1: LayerNormConfig::new(D_MODEL).init(device),
        attn: SelfAttention {
            qkv: LinearConfig::new(D_MODEL, 3 * D_MODEL).init(device),
            proj: LinearConfig::new(D_MODEL, D_MODEL).init(device),
            n_heads: N_HEADS,
        },
        norm2: LayerNormConfig::new(D_MODEL).init(device),
        fc1: LinearConfig::new(D_MODEL, D_FF).init(device),
        fc2: LinearConfig::new(D_FF, D_MODEL).init(device),
        act: Gelu::new(),
    };
    Net {
        embed: LinearConfig::new(16, D_MODEL).init(device),
        blocks: (0..DEPTH).map(|_| block()).collect(),
        pre_logits: Some(LinearConfig::new(D_MODEL, D_MODEL).init(device)),
        norm: LayerNormConfig::new(D_MODEL).init(device),
        head: LinearConfig::new(D_MODEL, N_CLASSES).init(device),
    }
}

#[test]
fn full_rank_student_reproduces_the_teacher() {
    let device = Default::default();
    let (teacher, input) = fixture(&device);
    // κ far below 1 asks for more than full rank: every layer is capped at full rank, and the
    // plan's override beats the model's own `ratio = 4.0` on fc2.
    let plan = RankPlan::new(2.0)
        .ratio_for("**", 0.01)
        .with_allow_no_shrink(true);
    let student = teacher.to_low_rank(&plan).unwrap();
    assert_eq!(student.blocks[0].fc2.rank(), Some(D_MODEL));

    let (y_t, f_t) = teacher.forward_features(input.clone());
    let (y_s, f_s) = student.forward_features(input.clone());
    y_s.into_data()
        .assert_approx_eq::<f32>(&y_t.into_data(), Tolerance::absolute(1e-5));
    for (s, t) in f_s.into_iter().zip(f_t) {
        s.into_data()
            .assert_approx_eq::<f32>(&t.into_data(), Tolerance::absolute(1e-5));
    }
}

/// Parameters of a factor pair at rank `r`, with bias.
fn low_rank_params(d_in: usize, d_out: usize, r: usize) -> usize {
    r * (d_in + d_out) + d_out
}

#[test]
fn kappa_two_student_has_the_expected_parameters_and_features() {
    let device = Default::default();
    let (teacher, input) = fixture(&device);
    let (student, report) = teacher
        .to_low_rank_with_report(&RankPlan::new(2.0))
        .unwrap();

    // Ranks by the rule floor(d_in·d_out / (κ·(d_in + d_out))), worked out by hand:
    // embed 16→32: 5; qkv 32→96: 12; proj 32→32: 8; fc1 32→96: 12;
    // fc2 96→32 at the field's own κ = 4: 6; pre_logits 32→32: 8. The head stays dense.
    let norms = (2 * DEPTH + 1) * 2 * D_MODEL;
    let per_block = low_rank_params(D_MODEL, 3 * D_MODEL, 12)
        + low_rank_params(D_MODEL, D_MODEL, 8)
        + low_rank_params(D_MODEL, D_FF, 12)
        + low_rank_params(D_FF, D_MODEL, 6);
    let expected = low_rank_params(16, D_MODEL, 5)
        + DEPTH * per_block
        + low_rank_params(D_MODEL, D_MODEL, 8)
        + (D_MODEL * N_CLASSES + N_CLASSES)
        + norms;
    assert_eq!(student.num_params(), expected);
    assert_eq!(report.totals().params_after, expected);
    assert_eq!(report.totals().params_before, teacher.num_params());

    // Paths are the module paths of Burn records, in field order; the skipped head is listed.
    let paths: Vec<&str> = report.layers.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(
        paths[..5],
        [
            "embed",
            "blocks.0.attn.qkv",
            "blocks.0.attn.proj",
            "blocks.0.fc1",
            "blocks.0.fc2"
        ]
    );
    assert_eq!(paths[paths.len() - 2..], ["pre_logits", "head"]);
    assert!(report.layers.last().unwrap().decision.is_dense());

    // The student's layers line up with the teacher's: same number, same shapes.
    let (y_t, f_t) = teacher.forward_features(input.clone());
    let (y_s, f_s) = student.forward_features(input.clone());
    assert_eq!(y_s.dims(), y_t.dims());
    assert_eq!(f_s.len(), DEPTH);
    for (s, t) in f_s.iter().zip(f_t.iter()) {
        assert_eq!(s.dims(), t.dims());
    }

    // The walks agree with the report.
    let pairs = teacher.pairs(&student);
    assert_eq!(pairs.len(), report.layers.len() - 1);
    assert_eq!(student.low_rank_layers().len(), pairs.len());
    let rebuilt = pela::report(&teacher, &student).unwrap();
    assert_eq!(rebuilt.totals().params_after, expected);
}

#[test]
fn plan_exclusions_keep_layers_dense_and_bad_patterns_are_refused() {
    let device = Default::default();
    let (teacher, input) = fixture(&device);
    let plan = RankPlan::new(2.0).keep_dense("blocks.*.attn.qkv");
    let student = teacher.to_low_rank(&plan).unwrap();
    assert_eq!(student.blocks[2].attn.qkv.rank(), None);
    assert_eq!(student.blocks[2].attn.proj.rank(), Some(8));
    let x = teacher.embed.forward(input);
    student.blocks[2]
        .attn
        .qkv
        .forward(x.clone())
        .into_data()
        .assert_approx_eq::<f32>(
            &teacher.blocks[2].attn.qkv.forward(x).into_data(),
            Tolerance::absolute(0.0),
        );

    let err = teacher
        .to_low_rank(&RankPlan::new(2.0).keep_dense("blocks.*.atn.qkv"))
        .unwrap_err();
    assert!(err.to_string().contains("blocks.*.atn.qkv"), "{err}");
    let err = teacher.to_low_rank(&RankPlan::new(1.0)).unwrap_err();
    assert!(matches!(err, pela::PelaError::InvalidRatio { .. }));
}

#[test]
fn students_save_and_load_as_burn_records() {
    use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
    let device = Default::default();
    let (teacher, input) = fixture(&device);
    let plan = RankPlan::new(2.0);
    let student = teacher.to_low_rank(&plan).unwrap();
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = recorder.record(student.clone().into_record(), ()).unwrap();

    // Another teacher (other random weights) gives a twin of the same shapes to load into.
    let other = seeded(99, || build_teacher(&device).to_low_rank(&plan).unwrap());
    let (before, _) = other.forward_features(input.clone());
    let loaded = other.load_record(recorder.load(bytes, &device).unwrap());
    let (y, _) = loaded.forward_features(input.clone());
    let (expected, _) = student.forward_features(input);
    assert_ne!(before.to_data(), expected.to_data());
    y.into_data()
        .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(0.0));
}
