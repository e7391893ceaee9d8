//! Low-rank twins of Burn's own attention and transformer modules.
//!
//! A model built from `burn::nn::attention::MultiHeadAttention`,
//! `burn::nn::transformer::PositionWiseFeedForward`, `TransformerEncoderLayer` or
//! `TransformerEncoder` compresses like any `#[derive(LowRank)]` model: mark the field
//! `#[low_rank]` and its twin here takes its place in the student.
//!
//! Burn keeps the fields of `MhaInput` and `TransformerEncoderInput` private, so no twin can
//! accept them. A forward body shared by teacher and student (a `#[pela::twin]` impl) calls
//! [`Attention::attend`] and [`Encoder::encode`] with this module's [`MhaInput`] and
//! [`TransformerEncoderInput`] instead: both are implemented for Burn's modules and for their
//! twins. `PositionWiseFeedForward::forward` and `TransformerEncoderLayer::forward` take plain
//! tensors, so their twins keep the very same `forward`.
//!
//! ```
//! use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig};
//! use burn::prelude::*;
//! use pela::nn::{Encoder, TransformerEncoderInput};
//! use pela::{LowRank, RankPlan};
//!
//! #[derive(Module, LowRank, Debug)]
//! pub struct TextModel<B: Backend> {
//!     #[low_rank]
//!     encoder: TransformerEncoder<B>,
//! }
//!
//! #[pela::twin]
//! impl<B: Backend> TextModel<B> {
//!     pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
//!         self.encoder.encode(TransformerEncoderInput::new(x))
//!     }
//! }
//!
//! type B = burn_ndarray::NdArray<f32>;
//! let device = Default::default();
//! let teacher = TextModel::<B> {
//!     encoder: TransformerEncoderConfig::new(32, 64, 4, 2).init(&device),
//! };
//! let student = teacher.to_low_rank(&RankPlan::new(2.0))?;
//! let y = student.forward(Tensor::ones([1, 6, 32], &device));
//! assert_eq!(y.dims(), [1, 6, 32]);
//! # Ok::<(), pela::PelaError>(())
//! ```

mod attention;
mod encoder;
mod feed_forward;
mod project;
mod rows;

pub use attention::*;
pub use encoder::*;
pub use feed_forward::*;
pub use project::Project;
pub use rows::on_rows;

/// Implements [`LowRank`](crate::LowRank) for a foreign module and
/// [`LowRankStudent`](crate::LowRankStudent) for its twin: `convert` fields are converted
/// under their names, `keep` fields cloned.
macro_rules! low_rank_twin {
    ($teacher:ident => $twin:ident { convert: [$($field:ident),*], keep: [$($kept:ident),*] }) => {
        impl<B: burn::tensor::backend::Backend> crate::LowRank<B> for $teacher<B> {
            type Twin = $twin<B>;

            fn convert(
                &self,
                cx: &mut crate::Conversion<'_>,
                rule: Option<crate::RankRule>,
            ) -> Result<$twin<B>, crate::PelaError> {
                Ok($twin {
                    $($field: cx.within(stringify!($field), |cx| crate::LowRank::convert(&self.$field, cx, rule))?,)*
                    $($kept: self.$kept.clone(),)*
                })
            }

            fn visit_linears<'a>(
                &'a self,
                path: &mut crate::ModulePath,
                f: &mut dyn FnMut(&str, &'a burn::nn::Linear<B>),
            ) {
                $(path.within(stringify!($field), |path| {
                    crate::LowRank::visit_linears(&self.$field, path, f)
                });)*
            }

            fn visit_pairs<'a>(
                &'a self,
                twin: &'a $twin<B>,
                path: &mut crate::ModulePath,
                f: &mut dyn FnMut(crate::LayerPair<'a, B>),
            ) {
                $(path.within(stringify!($field), |path| {
                    crate::LowRank::visit_pairs(&self.$field, &twin.$field, path, f)
                });)*
            }
        }

        impl<B: burn::tensor::backend::Backend> crate::LowRankStudent<B> for $twin<B> {
            fn visit_student_linears<'a>(
                &'a self,
                path: &mut crate::ModulePath,
                f: &mut dyn FnMut(&str, &'a crate::StudentLinear<B>),
            ) {
                $(path.within(stringify!($field), |path| {
                    crate::LowRankStudent::visit_student_linears(&self.$field, path, f)
                });)*
            }
        }
    };
}
pub(crate) use low_rank_twin;
