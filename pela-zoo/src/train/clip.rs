//! Clipping gradients by their global norm, as PyTorch's `clip_grad_norm_` (Burn's optimizers
//! clip each parameter's gradient by its own norm).

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

/// Scales every gradient of `model` in `grads` by `max_norm / ‖g‖` when the L2 norm `‖g‖` of
/// all of them together exceeds `max_norm`; returns `‖g‖` before clipping.
///
/// Each gradient's sum of squares is a reduction along one dimension (`sum_dim`), not `sum()`:
/// on CubeCL backends (`burn-cuda`, `burn-wgpu`) `sum()` adds with atomics where the device has
/// them, so its last bits change from run to run, and Adam turns a changed clipping factor into
/// steps of another sign on near-zero gradients. Reductions along a dimension add in a fixed
/// order, so a clipped run on the GPU repeats itself and resumes where it would have been.
pub fn clip_global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    struct SquaredNorm<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        sum: Option<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(grad) = self.grads.get::<B::InnerBackend, D>(param.id) {
                let count = grad.shape().num_elements();
                let squares = grad.powi_scalar(2).reshape([count]).sum_dim(0);
                self.sum = Some(match self.sum.take() {
                    Some(sum) => sum + squares,
                    None => squares,
                });
            }
        }
    }
    struct Scale<'a, B: AutodiffBackend> {
        grads: &'a mut GradientsParams,
        factor: f64,
        _backend: core::marker::PhantomData<B>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, grad.mul_scalar(self.factor));
            }
        }
    }

    let mut norm = SquaredNorm::<B> { grads, sum: None };
    model.visit(&mut norm);
    let Some(sum) = norm.sum else { return 0.0 };
    let total = f64::from(sum.into_scalar().elem::<f32>()).sqrt();
    if total > max_norm {
        let mut scale = Scale::<B> {
            grads,
            factor: max_norm / (total + 1e-6),
            _backend: core::marker::PhantomData,
        };
        model.visit(&mut scale);
    }
    total
}
