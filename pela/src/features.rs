//! Per-layer features: the "layer hooks" feature distillation reads.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{BasicAutodiffOps, Tensor, TensorKind, backend::Backend};

/// A model that returns, besides its output, the features of each layer that feature
/// distillation should align (for a ViT: every block's tokens, `[batch, tokens, d_model]`).
///
/// Implement it once for the teacher inside a `#[pela::twin]` impl block, and the student twin
/// gets the same implementation.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use burn::prelude::*;
/// use pela::{LayerFeatures, LowRank};
///
/// #[derive(Module, LowRank, Debug)]
/// pub struct Tiny<B: Backend> {
///     fc1: Linear<B>,
///     fc2: Linear<B>,
/// }
///
/// #[pela::twin]
/// impl<B: Backend> LayerFeatures<B> for Tiny<B> {
///     type Input = Tensor<B, 3>;
///     type Output = Tensor<B, 3>;
///
///     fn forward_features(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Vec<Tensor<B, 3>>) {
///         let h = self.fc1.forward(x);
///         let y = self.fc2.forward(h.clone());
///         (y.clone(), vec![h, y])
///     }
/// }
///
/// type B = burn_ndarray::NdArray<f32>;
/// let device = Default::default();
/// let teacher = Tiny::<B> {
///     fc1: LinearConfig::new(16, 16).init(&device),
///     fc2: LinearConfig::new(16, 16).init(&device),
/// };
/// let student = teacher.to_low_rank(&pela::RankPlan::new(2.0))?;
/// let (_, features) = student.forward_features(Tensor::ones([1, 3, 16], &device));
/// assert_eq!(features.len(), 2);
/// # Ok::<(), pela::PelaError>(())
/// ```
pub trait LayerFeatures<B: Backend> {
    /// What the model takes.
    type Input;
    /// What the model returns.
    type Output;

    /// The output and the per-layer features, each `[batch, tokens, d_model]`.
    fn forward_features(&self, input: Self::Input) -> (Self::Output, Vec<Tensor<B, 3>>);
}

/// Moves a model input from an autodiff backend to its inner backend, where the frozen
/// teacher runs without a tape. Implemented for tensors of every kind, and for tuples,
/// `Option`s and `Vec`s of such; implement it for your own input structs field by field.
pub trait ToInner<B: AutodiffBackend> {
    /// The same input on `B::InnerBackend`.
    type Inner;

    /// A copy of the input on the inner backend (tensors are reference-counted: no data copy).
    fn to_inner(&self) -> Self::Inner;
}

impl<B: AutodiffBackend, const D: usize, K> ToInner<B> for Tensor<B, D, K>
where
    K: BasicAutodiffOps<B> + TensorKind<B>,
{
    type Inner = Tensor<B::InnerBackend, D, K::InnerKind>;

    fn to_inner(&self) -> Self::Inner {
        self.clone().inner()
    }
}

impl<B: AutodiffBackend, T: ToInner<B>> ToInner<B> for Option<T> {
    type Inner = Option<T::Inner>;

    fn to_inner(&self) -> Self::Inner {
        self.as_ref().map(ToInner::to_inner)
    }
}

impl<B: AutodiffBackend, T: ToInner<B>> ToInner<B> for Vec<T> {
    type Inner = Vec<T::Inner>;

    fn to_inner(&self) -> Self::Inner {
        self.iter().map(ToInner::to_inner).collect()
    }
}

impl<B: AutodiffBackend, T1: ToInner<B>, T2: ToInner<B>> ToInner<B> for (T1, T2) {
    type Inner = (T1::Inner, T2::Inner);

    fn to_inner(&self) -> Self::Inner {
        (self.0.to_inner(), self.1.to_inner())
    }
}

impl<B: AutodiffBackend, T1: ToInner<B>, T2: ToInner<B>, T3: ToInner<B>> ToInner<B>
    for (T1, T2, T3)
{
    type Inner = (T1::Inner, T2::Inner, T3::Inner);

    fn to_inner(&self) -> Self::Inner {
        (self.0.to_inner(), self.1.to_inner(), self.2.to_inner())
    }
}
