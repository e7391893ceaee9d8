//! # PELA for Burn
//!
//! Shrinks a pre-trained Transformer by replacing its `Linear` weights with SVD-initialised
//! low-rank factor pairs, then trains the low-rank *student* against the frozen *teacher* with
//! feature distillation and regularised weight perturbation — the method of *PELA: Learning
//! Parameter-Efficient Models with Low-Rank Approximation* (Guo et al., CVPR 2024).
//!
//! - [`LowRankLinear`]: the drop-in replacement of `burn::nn::Linear`, `y = (x·U)·Vᵀ + b`.
//! - [`factorize`]: the SVD initialisation of a factor pair (paper Eq. 2–3).
//! - [`RankPlan`]: which layers become low-rank and at which rank, from a compression ratio κ
//!   (paper §3.5), with per-layer overrides and exclusions by module path.
//! - [`loss`]: feature distillation (Eq. 4), weight perturbation (Eq. 6) and the combined
//!   objective (Eq. 7), each in the authors' released form (default) and the paper's form.
//! - [`CompressionReport`]: parameters, multiply-adds and reconstruction error per layer.
//!
//! ```
//! use burn::nn::LinearConfig;
//! use burn::tensor::Tensor;
//! use pela::{CompressionReport, LayerDecision, LayerReport, LowRankLinear, RankPlan};
//! type B = burn_ndarray::NdArray<f32>;
//!
//! let device = Default::default();
//! let fc1 = LinearConfig::new(256, 1024).init::<B>(&device);
//! let plan = RankPlan::new(2.0);
//! let LayerDecision::LowRank { rank } = plan.decide("mlp.fc1", 256, 1024)? else { panic!() };
//! let (student, error) = LowRankLinear::from_linear("mlp.fc1", &fc1, rank)?;
//! let report = CompressionReport::new(vec![
//!     LayerReport::low_rank("mlp.fc1", 256, 1024, true, rank, error),
//! ]);
//! println!("{report}");
//! assert_eq!(rank, 102);
//!
//! let x = Tensor::<B, 3>::ones([2, 10, 256], &device);
//! assert_eq!(student.forward(x).dims(), [2, 10, 1024]);
//! # Ok::<(), pela::PelaError>(())
//! ```
#![warn(missing_docs)]

// Lets the derive's `::pela::…` paths resolve inside this crate too.
extern crate self as pela;

pub mod allocation;
mod calibration;
pub mod checkpoint;
mod conversion;
mod distill;
mod error;
mod features;
pub mod loss;
mod low_rank_linear;
pub mod nn;
pub mod ops;
mod plan;
pub mod pytorch_layout;
mod report;
mod sequential;
mod student_linear;
mod svd;
mod twin;

pub use allocation::{
    Allocation, AllocationComparison, AllocationReport, Allocator, Budget, BudgetUnit,
    ComparedAllocation, ErrorMeasure, LayerAllocation, LayerCurve, LayerSensitivity, Sensitivities,
    SizePoint,
};
pub use calibration::{CalibratingLinear, CalibratingLinearRecord, InputGram};
pub use conversion::{Conversion, ModulePath, NoProgress, Progress};
pub use distill::{Distill, DistillOutput};
pub use error::PelaError;
pub use features::{LayerFeatures, ToInner};
pub use loss::{
    FeatureDistillationConfig, FeatureDistillationForm, FeatureDistillationLoss, LossTerm,
    LossTerms, PelaObjective, PelaObjectiveConfig, WeightPair, WeightPerturbationConfig,
    WeightPerturbationForm, WeightPerturbationLoss,
};
pub use low_rank_linear::{
    LowRankLinear, LowRankLinearConfig, LowRankLinearRecord, trainable_params,
};
pub use plan::{
    DenseReason, LayerDecision, LayerOverride, RankPlan, RankRule, max_shrinking_rank,
    rank_for_ratio,
};
pub use pytorch_layout::pytorch_keys;
pub use report::{CompressionReport, LayerReport, ReportTotals, thousands};
pub use student_linear::{StudentLinear, StudentLinearRecord};
pub use svd::{
    Factorization, OutputError, PairedGrams, ReconstructionError, SvdMethod, factorize,
    factorize_data_aware, factorize_sequential, factorize_with, output_energies, output_error,
    weight_energies,
};
pub use twin::{LayerPair, LowRank, LowRankStudent, report};

/// Derives the low-rank student twin of a Burn module.
///
/// On `Net<B>` it generates `NetLowRank<B>` (or the name in `#[low_rank(twin = Name)]`), in
/// which every compressible `Linear<B>` field is a [`StudentLinear`] and every `#[low_rank]`
/// field its own twin, and implements [`LowRank`] for `Net<B>` (the conversion, the walks over
/// layer pairs) and [`LowRankStudent`] for the twin.
///
/// | field | in the twin |
/// |---|---|
/// | `Linear<B>` | `StudentLinear<B>`, low-rank as the plan says |
/// | `Vec<Linear<B>>`, `Option<Linear<B>>`, `[Linear<B>; N]` (at any depth) | the same container of `StudentLinear<B>`, each item as a bare `Linear` (`gates.0`, `gates.1`, …) |
/// | `#[low_rank(skip)]` on any of these | unchanged (dense), each `Linear` listed in the report as skipped |
/// | `#[low_rank] T` (`T: LowRank`, also `Vec<T>`, `Option<T>`, `[T; N]`) | `T`'s twin |
/// | `#[low_rank(rank = N)]`, `#[low_rank(ratio = K)]` on either | as above, at that rank / κ unless the plan names the layer |
/// | anything else (norms, embeddings, convolutions, `Param`s, constants) | unchanged |
///
/// `Linear` is recognised by the last segment of the field's type, as `#[derive(Module)]`
/// recognises `Param` and `Tensor`; for a type alias of `Linear`, mark the field `#[low_rank]`.
///
/// ```
/// use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
/// use burn::prelude::*;
/// use pela::{LowRank, RankPlan};
///
/// #[derive(Module, LowRank, Debug)]
/// pub struct Block<B: Backend> {
///     norm: LayerNorm<B>,
///     fc1: Linear<B>,
///     fc2: Linear<B>,
/// }
///
/// #[derive(Module, LowRank, Debug)]
/// pub struct Net<B: Backend> {
///     #[low_rank]
///     blocks: Vec<Block<B>>,
///     #[low_rank(skip)]
///     head: Linear<B>,
/// }
///
/// #[pela::twin] // the same methods for `Net<B>` and `NetLowRank<B>`
/// impl<B: Backend> Net<B> {
///     pub fn forward(&self, mut x: Tensor<B, 2>) -> Tensor<B, 2> {
///         for block in &self.blocks {
///             x = x.clone() + block.fc2.forward(block.fc1.forward(block.norm.forward(x)).tanh());
///         }
///         self.head.forward(x)
///     }
/// }
///
/// type B = burn_ndarray::NdArray<f32>;
/// let device = Default::default();
/// let block = || Block::<B> {
///     norm: LayerNormConfig::new(32).init(&device),
///     fc1: LinearConfig::new(32, 128).init(&device),
///     fc2: LinearConfig::new(128, 32).init(&device),
/// };
/// let teacher = Net { blocks: vec![block(), block()], head: LinearConfig::new(32, 10).init(&device) };
///
/// let (student, report) = teacher.to_low_rank_with_report(&RankPlan::new(2.0))?;
/// println!("{report}");
/// assert_eq!(student.blocks[1].fc1.rank(), Some(12));
/// assert_eq!(report.layers[4].path, "head"); // skipped: listed, kept dense
/// let y = student.forward(Tensor::ones([4, 32], &device)); // NetLowRank::forward
/// assert_eq!(y.dims(), [4, 10]);
/// # Ok::<(), pela::PelaError>(())
/// ```
pub use pela_derive::LowRank;

/// Emits an `impl` block for a module and again for its low-rank twin, so `forward` and the
/// [`LayerFeatures`] implementation are written once.
///
/// Works on inherent and trait impls of a struct deriving [`LowRank`](derive@LowRank); the
/// copy replaces the last segment of the self type (`Net<B>` → `NetLowRank<B>`). If the twin
/// was renamed with `#[low_rank(twin = Name)]`, write `#[pela::twin(Name)]`. Inside the body,
/// refer to the type as `Self`: an explicit `Net::…` is not rewritten.
pub use pela_derive::twin;

#[doc(hidden)]
pub mod __private {
    pub use crate::twin::{SkippedLinears, record_skipped_linear};
    pub use burn::nn::Linear;
}

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
pub(crate) type TestBackend = burn_ndarray::NdArray<f32>;
#[cfg(test)]
pub(crate) type TestAutodiffBackend = burn::backend::Autodiff<TestBackend>;

/// Runs `draw` right after seeding Burn's global generator, under a lock: tests run in
/// parallel threads and would otherwise interleave their draws. `draw` must read every random
/// tensor it creates (a lazily initialised `Param` draws when first read).
#[cfg(test)]
pub(crate) fn seeded<T>(seed: u64, draw: impl FnOnce() -> T) -> T {
    use burn::tensor::backend::Backend;
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    TestBackend::seed(&Default::default(), seed);
    draw()
}
