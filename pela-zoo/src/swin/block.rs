//! A Swin block: window attention (shifted on every second block) and an MLP, pre-norm.

use burn::nn::LayerNorm;
use burn::prelude::*;
use burn::tensor::ops::PadMode;
use pela::LowRank;
use pela::ops::{window_merge, window_partition};

use super::{WindowAttention, window};
use crate::vit::Mlp;

/// A Swin block: `x + attn(norm1(x))` over (shifted) windows, then `x + mlp(norm2(x))`, as
/// timm's `SwinTransformerBlock`. The shift is a cyclic roll of the token grid by
/// `-shift` on both axes, undone after the attention; a grid the window does not divide is
/// padded with zeros (after the norm) to whole windows and cropped back, as in timm.
///
/// Should be created with [`SwinConfig::init`](crate::swin::SwinConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct SwinBlock<B: Backend> {
    /// Norm before attention.
    pub norm1: LayerNorm<B>,
    /// Window attention.
    #[low_rank]
    pub attn: WindowAttention<B>,
    /// Norm before the MLP.
    pub norm2: LayerNorm<B>,
    /// The feed-forward network.
    #[low_rank]
    pub mlp: Mlp<B>,
    /// The side of a window, in tokens.
    pub window_size: usize,
    /// The cyclic shift of the grid before partitioning; 0 for regular windows.
    pub shift: usize,
    /// The attention mask of the shifted windows over the stage's padded grid (a buffer:
    /// computed from the architecture, moved with the model, not saved); computed at the
    /// forward for a grid of another size.
    pub attn_mask: Option<Tensor<B, 3>>,
}

#[pela::twin]
impl<B: Backend> SwinBlock<B> {
    /// The attention mask of this block's shifted windows over a `padded` grid (whole
    /// windows): the stored buffer when it is the grid's, else computed; `None` for regular
    /// windows.
    ///
    /// # Shapes
    /// - output: `[windows of an image, window², window²]`
    pub fn shift_mask(&self, padded: [usize; 2], device: &B::Device) -> Option<Tensor<B, 3>> {
        let (window, shift) = (self.window_size, self.shift);
        let n_windows = (padded[0] / window) * (padded[1] / window);
        (shift > 0).then(|| match &self.attn_mask {
            Some(mask) if mask.dims()[0] == n_windows => mask.clone(),
            _ => window::shift_mask(padded, window, shift, device),
        })
    }

    /// Window attention over the (normalised) grid, shifted and padded as the block says.
    ///
    /// # Shapes
    /// - grid: `[batch, height, width, dim]`
    /// - output: `[batch, height, width, dim]`
    pub fn attend(&self, grid: Tensor<B, 4>) -> Tensor<B, 4> {
        let [batch, height, width, dim] = grid.dims();
        let (window, shift) = (self.window_size, self.shift);
        let (pad_h, pad_w) = (
            (window - height % window) % window,
            (window - width % window) % window,
        );
        let padded = [height + pad_h, width + pad_w];
        let mask = self.shift_mask(padded, &grid.device());
        if pad_h + pad_w == 0 {
            // The roll, the partition and their inverses in one copy each (`pela::ops`).
            let windows = window_partition(grid, window, shift);
            let attended = self.attn.forward(windows, mask);
            return window_merge(attended, window, shift, padded);
        }
        // Rolled first, then padded (as timm): the roll wraps within the unpadded grid.
        // Burn's `roll` by `s` moves element `s` to the front: PyTorch's `roll` by `-s`.
        let back = shift as i64;
        let grid = if shift > 0 {
            grid.roll(&[back, back], &[1, 2])
        } else {
            grid
        };
        let grid = grid.pad(
            [(0, 0), (0, pad_h), (0, pad_w), (0, 0)],
            PadMode::Constant(0.0),
        );
        let attended = self.attn.forward(window_partition(grid, window, 0), mask);
        let grid = window_merge(attended, window, 0, padded).slice([
            0..batch,
            0..height,
            0..width,
            0..dim,
        ]);
        if shift > 0 {
            grid.roll(&[-back, -back], &[1, 2])
        } else {
            grid
        }
    }

    /// # Shapes
    /// - grid: `[batch, height, width, dim]`
    /// - output: `[batch, height, width, dim]`
    pub fn forward(&self, grid: Tensor<B, 4>) -> Tensor<B, 4> {
        let [batch, height, width, dim] = grid.dims();
        let x = grid.clone() + self.attend(self.norm1.forward(grid));
        let tokens = x.reshape([batch, height * width, dim]);
        let x = tokens.clone() + self.mlp.forward(self.norm2.forward(tokens));
        x.reshape([batch, height, width, dim])
    }
}
