//! Window multi-head self-attention with a learned relative position bias, as timm's
//! `WindowAttention`.

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;
use pela::LowRank;
use pela::nn::Project;
use pela::nn::on_rows;
use pela::ops::attention;

/// Self-attention inside each window, with a fused `qkv` projection, an output projection
/// `proj`, and a bias for every head and relative position (timm's `WindowAttention`).
///
/// Should be created with [`SwinConfig::init`](crate::swin::SwinConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct WindowAttention<B: Backend> {
    /// The fused query, key and value projection, `[dim, 3·dim]`.
    pub qkv: Linear<B>,
    /// The output projection, `[dim, dim]`.
    pub proj: Linear<B>,
    /// The bias of each relative position and head, `[(2·window − 1)², heads]`.
    pub relative_position_bias_table: Param<Tensor<B, 2>>,
    /// The table's row for every pair of tokens of a window, `[window⁴]` (a buffer: computed
    /// from the window size, not a parameter, not saved).
    pub relative_position_index: Tensor<B, 1, Int>,
    /// The number of heads.
    pub n_heads: usize,
}

#[pela::twin]
impl<B: Backend> WindowAttention<B> {
    /// The bias every head adds to the attention scores of a window, contiguous.
    ///
    /// # Shapes
    /// - output: `[1, heads, window², window²]`
    pub fn position_bias(&self) -> Tensor<B, 4> {
        let n_pairs = self.relative_position_index.dims()[0];
        let area = (n_pairs as f64).sqrt().round() as usize;
        // Selected from the `[heads, rows]` table, so that each head's bias is one block.
        self.relative_position_bias_table
            .val()
            .transpose()
            .select(1, self.relative_position_index.clone())
            .reshape([1, self.n_heads, area, area])
    }

    /// The bias added to the scaled scores of `n_windows` windows: the relative position bias,
    /// plus, for shifted windows, the `mask` of each window of an image.
    ///
    /// With a mask it is built from copies of whole blocks and one sum of tensors of one shape:
    /// burn-flex 0.21 runs an add that broadcasts element by element, about 25 times slower
    /// (6 ms of each shifted block of Swin-B's first stage at batch 8).
    ///
    /// # Shapes
    /// - mask: `[windows of an image, window², window²]`
    /// - output: `[n_windows, heads, window², window²]`, or `[1, heads, window², window²]`
    ///   without a mask
    pub fn attention_bias(&self, n_windows: usize, mask: Option<Tensor<B, 3>>) -> Tensor<B, 4> {
        let Some(mask) = mask else {
            return self.position_bias();
        };
        let per_image = mask.dims()[0];
        let position = Tensor::cat(vec![self.position_bias(); per_image], 0);
        let mask = Tensor::cat(vec![mask.unsqueeze_dim::<4>(1); self.n_heads], 1);
        Tensor::cat(vec![position + mask; n_windows / per_image], 0)
    }

    /// `softmax(q·kᵀ / √d_head + bias)·v` of every head of every window, from the windows'
    /// fused `qkv` projection: pela's parallel kernels on burn-flex and `Autodiff<Flex>`
    /// (which also differentiate the trainable bias), Burn's op elsewhere.
    ///
    /// # Shapes
    /// - qkv: `[windows, window², 3 · dim]`
    /// - bias: as [`attention_bias`](Self::attention_bias) makes it
    /// - output: `[windows, window², dim]`
    pub fn attend(&self, qkv: Tensor<B, 3>, bias: Tensor<B, 4>) -> Tensor<B, 3> {
        let [n_windows, tokens, width] = qkv.dims();
        let (heads, dim) = (self.n_heads, width / 3);
        // [windows, tokens, 3·dim] → q, k, v: [windows, heads, tokens, d_head], views.
        let qkv = qkv.reshape([n_windows, tokens, 3 * heads, dim / heads]);
        let part = |i: usize| qkv.clone().narrow(2, i * heads, heads).swap_dims(1, 2);
        let context = attention(
            part(0),
            part(1),
            part(2),
            None,
            Some(bias),
            AttentionModuleOptions::default(),
        );
        // [windows, heads, tokens, d_head] → [windows, tokens, dim]
        context.swap_dims(1, 2).reshape([n_windows, tokens, dim])
    }

    /// Attends every token to the tokens of its window, all windows of all images at once.
    /// `mask` (shifted windows) is added to the scores of every image's windows.
    ///
    /// # Shapes
    /// - windows: `[batch · windows, window², dim]`
    /// - mask: `[windows, window², window²]`
    /// - output: `[batch · windows, window², dim]`
    pub fn forward(&self, windows: Tensor<B, 3>, mask: Option<Tensor<B, 3>>) -> Tensor<B, 3> {
        let n_windows = windows.dims()[0];
        let qkv = on_rows(windows, |rows| self.qkv.project(rows));
        let context = self.attend(qkv, self.attention_bias(n_windows, mask));
        on_rows(context, |rows| self.proj.project(rows))
    }
}
