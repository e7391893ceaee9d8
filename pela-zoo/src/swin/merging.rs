//! Patch merging between stages: every 2 × 2 group of tokens becomes one, twice as wide.

use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::ops::PadMode;
use pela::LowRank;
use pela::nn::Project;
use pela::nn::on_rows;

/// Concatenates each 2 × 2 group of neighbouring tokens (in timm's order: (0,0), (1,0), (0,1),
/// (1,1)), normalises the `4·dim` vector and projects it to `2·dim` without bias (timm's
/// `PatchMerging`). An odd grid is padded with zeros first.
///
/// Should be created with [`SwinConfig::init`](crate::swin::SwinConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct PatchMerging<B: Backend> {
    /// `LayerNorm(4·dim)`.
    pub norm: LayerNorm<B>,
    /// `[4·dim, 2·dim]`, no bias.
    pub reduction: Linear<B>,
}

#[pela::twin]
impl<B: Backend> PatchMerging<B> {
    /// # Shapes
    /// - grid: `[batch, height, width, dim]`
    /// - output: `[batch, ⌈height / 2⌉, ⌈width / 2⌉, out_dim]`
    pub fn forward(&self, grid: Tensor<B, 4>) -> Tensor<B, 4> {
        let [batch, height, width, dim] = grid.dims();
        let grid = if height % 2 + width % 2 > 0 {
            grid.pad(
                [(0, 0), (0, height % 2), (0, width % 2), (0, 0)],
                PadMode::Constant(0.0),
            )
        } else {
            grid
        };
        let (height, width) = (height.div_ceil(2), width.div_ceil(2));
        // [batch, h, 2 (dy), w, 2 (dx), dim] → [batch, h, w, dx, dy, dim]: timm's order.
        let groups = grid
            .reshape([batch, height, 2, width, 2, dim])
            .permute([0, 1, 3, 4, 2, 5])
            .reshape([batch, height, width, 4 * dim]);
        on_rows(self.norm.forward(groups), |rows| {
            self.reduction.project(rows)
        })
    }
}
