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
    /// The bias every head adds to the attention scores of a window.
    ///
    /// # Shapes
    /// - output: `[1, heads, window², window²]`
    pub fn position_bias(&self) -> Tensor<B, 4> {
        let n_pairs = self.relative_position_index.dims()[0];
        let area = (n_pairs as f64).sqrt().round() as usize;
        self.relative_position_bias_table
            .val()
            .select(0, self.relative_position_index.clone())
            .reshape([area, area, self.n_heads])
            .permute([2, 0, 1])
            .unsqueeze::<4>()
    }

    /// Attends every token to the tokens of its window, all windows of all images at once.
    /// `mask` (shifted windows) is added to the scores of every image's windows.
    ///
    /// # Shapes
    /// - windows: `[batch · windows, window², dim]`
    /// - mask: `[windows, window², window²]`
    /// - output: `[batch · windows, window², dim]`
    pub fn forward(&self, windows: Tensor<B, 3>, mask: Option<Tensor<B, 3>>) -> Tensor<B, 3> {
        let [n_windows, tokens, dim] = windows.dims();
        let heads = self.n_heads;
        let d_head = dim / heads;
        // [windows, tokens, 3·dim] → q, k, v: [windows, heads, tokens, d_head], views.
        let qkv = on_rows(windows, |rows| self.qkv.project(rows)).reshape([
            n_windows,
            tokens,
            3 * heads,
            d_head,
        ]);
        let part = |i: usize| qkv.clone().narrow(2, i * heads, heads).swap_dims(1, 2);
        // The bias added to q·kᵀ / √d_head: the relative position bias, `[1, heads, tokens,
        // tokens]`, plus the shift mask of each window of an image.
        let bias = match mask {
            Some(mask) => {
                let per_image = mask.dims()[0];
                let batch = n_windows / per_image;
                (self.position_bias() + mask.unsqueeze_dim::<4>(1))
                    .unsqueeze::<5>()
                    .expand([batch, per_image, heads, tokens, tokens])
                    .reshape([n_windows, heads, tokens, tokens])
            }
            None => self.position_bias(),
        };
        // softmax(q·kᵀ / √d_head + bias)·v: pela's parallel kernels on burn-flex and
        // Autodiff<Flex> (which also differentiate the trainable bias), Burn's op elsewhere.
        let context = attention(
            part(0),
            part(1),
            part(2),
            None,
            Some(bias),
            AttentionModuleOptions::default(),
        );
        // [windows, heads, tokens, d_head] → [windows, tokens, dim]
        let context = context.swap_dims(1, 2).reshape([n_windows, tokens, dim]);
        on_rows(context, |rows| self.proj.project(rows))
    }
}
