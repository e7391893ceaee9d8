//! The attention as one step of Burn's autodiff graph on `Autodiff<Flex>`: this crate's
//! kernels forward and backward.
//!
//! Burn's own attention under autodiff is composed of differentiable ops (matmul, softmax,
//! their transposes and copies), and keeps the `[tokens × keys]` probabilities of every pair for
//! the backward pass. This step keeps query, key, value and one log-normaliser per score row,
//! and recomputes the probabilities in the backward pass, as FlashAttention and PyTorch's CPU
//! kernel do: less memory, one more `q·kᵀ` product.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::{Tensor, TensorPrimitive};
use burn_flex::{Flex, FlexTensor};

use super::kernel::{Attention, View};
use crate::ops::flex::AutodiffFlexTensor;

/// The attention of autodiff tensors, recorded in their graph; `None` when the kernel does not
/// take these shapes (Burn's op then runs).
pub(super) fn attention_autodiff(
    q: &AutodiffFlexTensor,
    k: &AutodiffFlexTensor,
    v: &AutodiffFlexTensor,
    bias: Option<&AutodiffFlexTensor>,
    scale: Option<f64>,
) -> Option<AutodiffFlexTensor> {
    let kernel = Attention::new(
        &q.primitive,
        &k.primitive,
        &v.primitive,
        bias.map(|bias| &bias.primitive),
        scale,
    )?;
    Some(match bias {
        None => record([q, k, v], kernel, scale),
        Some(bias) => record([q, k, v, bias], kernel, scale),
    })
}

/// Runs the forward kernel and records its backward step with `inputs` (query, key, value and
/// the bias, if any) as parents.
fn record<const N: usize>(
    inputs: [&AutodiffFlexTensor; N],
    kernel: Attention,
    scale: Option<f64>,
) -> AutodiffFlexTensor {
    match AttentionBackward
        .prepare::<NoCheckpointing>(inputs.map(|input| input.node.clone()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (output, log_normalisers) = kernel.forward(true);
            let [q, k, v] = [0, 1, 2].map(|i| inputs[i].primitive.clone());
            let state = State {
                q,
                k,
                v,
                bias: inputs.get(3).map(|bias| bias.primitive.clone()),
                scale,
                log_normalisers: Arc::new(log_normalisers.expect("requested")),
            };
            prep.finish(state, output)
        }
        OpsKind::UnTracked(prep) => prep.finish(kernel.forward(false).0),
    }
}

/// What the backward step needs: the inputs (views sharing their storage, no copies) and the
/// log-normaliser of each score row.
#[derive(Clone, Debug)]
struct State {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    bias: Option<FlexTensor>,
    scale: Option<f64>,
    log_normalisers: Arc<Vec<f32>>,
}

/// The attention's step of the backward pass; parents: query, key, value and, with `N = 4`,
/// the bias.
#[derive(Debug)]
struct AttentionBackward;

impl<const N: usize> Backward<Flex, N> for AttentionBackward {
    type State = State;

    fn backward(self, ops: Ops<State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        if ops.parents.iter().all(Option::is_none) {
            return;
        }
        let state = ops.state;
        let kernel = Attention::new(
            &state.q,
            &state.k,
            &state.v,
            state.bias.as_ref(),
            state.scale,
        )
        .expect("the forward pass checked the shapes");
        // The output's gradient as it comes (any strides), or contiguous when it is flipped.
        let grad = match View::of(&grad) {
            Some(_) => grad,
            None => grad.to_contiguous(),
        };
        let grad_view = View::of(&grad).expect("a contiguous tensor has a view");
        let bias_parent = ops.parents.get(3).and_then(Option::as_ref);
        let (inputs, scores) =
            kernel.backward(&grad_view, &state.log_normalisers, bias_parent.is_some());
        for (parent, input_grad) in ops.parents.iter().zip(inputs) {
            if let Some(parent) = parent {
                grads.register::<Flex>(parent.id, input_grad);
            }
        }
        if let (Some(parent), Some(scores), Some(bias)) = (bias_parent, scores, &state.bias) {
            grads.register::<Flex>(parent.id, sum_to(scores, bias.layout().shape().dims()));
        }
    }
}

/// `grad` summed over the dimensions in which `shape` is 1 (a broadcast bias's gradient).
fn sum_to(grad: FlexTensor, shape: [usize; 4]) -> FlexTensor {
    let mut grad = Tensor::<Flex, 4>::from_primitive(TensorPrimitive::Float(grad));
    for (dim, size) in shape.into_iter().enumerate() {
        if size == 1 && grad.dims()[dim] != 1 {
            grad = grad.sum_dim(dim);
        }
    }
    grad.into_primitive().tensor()
}
