//! Multi-head self-attention with a fused `qkv` projection, as timm's `Attention`.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::ops::AttentionModuleOptions;
use pela::LowRank;
use pela::nn::Project;
use pela::nn::on_rows;
use pela::ops::attention;

/// Self-attention with one fused `qkv` projection `[d_model, 3·d_model]` and an output
/// projection `proj`, as timm's `Attention` (and the authors, who compress `qkv` as one matrix:
/// rank 288 at κ = 2 in DeiT-Base).
///
/// Should be created with [`VitConfig::init`](crate::vit::VitConfig::init).
#[derive(Module, LowRank, Debug)]
pub struct Attention<B: Backend> {
    /// The fused query, key and value projection, `[d_model, 3·d_model]`.
    pub qkv: Linear<B>,
    /// The output projection, `[d_model, d_model]`.
    pub proj: Linear<B>,
    /// The number of heads.
    pub n_heads: usize,
}

#[pela::twin]
impl<B: Backend> Attention<B> {
    /// Attends every token to every token.
    ///
    /// # Shapes
    /// - input: `[batch, tokens, d_model]`
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, tokens, d_model] = x.dims();
        let d_head = d_model / self.n_heads;
        // [batch, tokens, 3·d_model] → q, k, v: [batch, heads, tokens, d_head], views (no copy).
        let qkv = on_rows(x, |rows| self.qkv.project(rows)).reshape([
            batch,
            tokens,
            3 * self.n_heads,
            d_head,
        ]);
        let part = |i: usize| {
            qkv.clone()
                .narrow(2, i * self.n_heads, self.n_heads)
                .swap_dims(1, 2)
        };
        // softmax(q·kᵀ / √d_head)·v: pela's parallel kernels on burn-flex and Autodiff<Flex>
        // (reading the heads in place), Burn's attention op elsewhere.
        let context = attention(
            part(0),
            part(1),
            part(2),
            None,
            None,
            AttentionModuleOptions::default(),
        );
        let context = context.swap_dims(1, 2).reshape([batch, tokens, d_model]);
        on_rows(context, |rows| self.proj.project(rows))
    }
}
