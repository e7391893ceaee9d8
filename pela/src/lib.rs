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

mod error;
pub mod loss;
mod low_rank_linear;
mod plan;
pub mod pytorch_layout;
mod report;
mod svd;

pub use error::PelaError;
pub use loss::{
    FeatureDistillationConfig, FeatureDistillationForm, FeatureDistillationLoss, PelaLoss,
    PelaObjective, PelaObjectiveConfig, WeightPair, WeightPerturbationConfig,
    WeightPerturbationForm, WeightPerturbationLoss,
};
pub use low_rank_linear::{LowRankLinear, LowRankLinearConfig, LowRankLinearRecord};
pub use plan::{
    DenseReason, LayerDecision, LayerOverride, RankPlan, RankRule, max_shrinking_rank,
    rank_for_ratio,
};
pub use pytorch_layout::pytorch_keys;
pub use report::{CompressionReport, LayerReport, ReportTotals};
pub use svd::{Factorization, ReconstructionError, factorize};

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
pub(crate) type TestBackend = burn_ndarray::NdArray<f32>;
#[cfg(test)]
pub(crate) type TestAutodiffBackend = burn::backend::Autodiff<TestBackend>;
