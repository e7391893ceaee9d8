//! The vision transformer: patch embedding, class token, position embeddings, blocks, norm
//! and head, as timm's `VisionTransformer` for DeiT and DeiT-III.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use pela::{LayerFeatures, LowRank};

use super::Block;

/// Cuts an image into non-overlapping patches and projects each to `d_model`, with a
/// `patch_size`-strided convolution (timm's `PatchEmbed`).
#[derive(Module, Debug)]
pub struct PatchEmbed<B: Backend> {
    /// `[d_model, channels, patch_size, patch_size]`.
    pub proj: Conv2d<B>,
}

impl<B: Backend> PatchEmbed<B> {
    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: `[batch, patches, d_model]`, patches in row-major order
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        // One matrix product over the patches' pixels (`patch_conv`), not Burn's `conv2d`.
        super::patch_conv(&self.proj, images).flatten::<3>(1, 2)
    }
}

/// A vision transformer with a class token: DeiT (`deit_*`) and DeiT-III (`deit3_*`, layer
/// scale and no position embedding on the class token). The forward matches timm's.
///
/// Should be created with [`VitConfig::init`](super::VitConfig::init), or loaded from a
/// checkpoint with [`VitConfig::load_checkpoint`](super::VitConfig::load_checkpoint).
///
/// ```
/// use burn::prelude::*;
/// use pela::{LayerFeatures, LowRank};
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::vit::VitConfig;
///
/// let device = CpuDevice::default();
/// let config = VitConfig::new(32, 8, 10, 64, 2, 4);
/// let teacher = config.init::<Cpu>(&device);
/// let images = Tensor::<Cpu, 4>::zeros([2, 3, 32, 32], &device);
/// let (logits, features) = teacher.forward_features(images.clone());
/// assert_eq!(logits.dims(), [2, 10]);
/// assert_eq!(features[1].dims(), [2, 17, 64]); // every block's tokens: class + 16 patches
///
/// let student = teacher.to_low_rank(&config.pela_plan())?;
/// assert_eq!(student.forward(images).dims(), [2, 10]);
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Module, LowRank, Debug)]
pub struct Vit<B: Backend> {
    /// The patch embedding.
    pub patch_embed: PatchEmbed<B>,
    /// The class token, `[1, 1, d_model]`.
    pub cls_token: Param<Tensor<B, 3>>,
    /// Position embeddings, `[1, patches + 1, d_model]` (DeiT) or `[1, patches, d_model]`
    /// (DeiT-III: none for the class token).
    pub pos_embed: Param<Tensor<B, 3>>,
    /// The transformer blocks.
    #[low_rank]
    pub blocks: Vec<Block<B>>,
    /// The final norm.
    pub norm: LayerNorm<B>,
    /// The classifier on the class token; `None` for a backbone (`num_classes` 0, as timm's
    /// `num_classes=0`), whose output is then the class token after the final norm.
    #[low_rank]
    pub head: Option<Linear<B>>,
}

#[pela::twin]
impl<B: Backend> Vit<B> {
    /// The tokens entering the first block: the class token and the embedded patches, with
    /// position embeddings added.
    ///
    /// # Shapes
    /// - images: `[batch, channels, image_size, image_size]`
    /// - output: `[batch, patches + 1, d_model]`
    pub fn embed(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        let patches = self.patch_embed.forward(images);
        let [batch, n_patches, d_model] = patches.dims();
        let cls = self.cls_token.val().expand([batch, 1, d_model]);
        let pos = self.pos_embed.val();
        if pos.dims()[1] == n_patches {
            // DeiT-III: the position embeddings cover the patches only.
            Tensor::cat(vec![cls, patches + pos], 1)
        } else {
            Tensor::cat(vec![cls, patches], 1) + pos
        }
    }

    /// The logits from the final tokens (before the final norm): norm, class token, head (the
    /// normalised class token itself when there is no head).
    ///
    /// # Shapes
    /// - tokens: `[batch, tokens, d_model]`
    /// - output: `[batch, num_classes]` (`[batch, d_model]` without a head)
    pub fn forward_head(&self, tokens: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, _, d_model] = tokens.dims();
        let cls = self
            .norm
            .forward(tokens)
            .slice([0..batch, 0..1])
            .reshape([batch, d_model]);
        match &self.head {
            Some(head) => head.forward(cls),
            None => cls,
        }
    }

    /// Every final token after the final norm: the class token first, then the patches
    /// (what DINOv2's linear evaluation reads: the class token and the mean patch token).
    ///
    /// # Shapes
    /// - images: `[batch, channels, image_size, image_size]`
    /// - output: `[batch, patches + 1, d_model]`
    pub fn forward_tokens(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        let tokens = self
            .blocks
            .iter()
            .fold(self.embed(images), |x, block| block.forward(x));
        self.norm.forward(tokens)
    }

    /// The logits.
    ///
    /// # Shapes
    /// - images: `[batch, channels, image_size, image_size]`
    /// - output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let tokens = self
            .blocks
            .iter()
            .fold(self.embed(images), |x, block| block.forward(x));
        self.forward_head(tokens)
    }
}

#[pela::twin]
impl<B: Backend> LayerFeatures<B> for Vit<B> {
    type Input = Tensor<B, 4>;
    type Output = Tensor<B, 2>;

    /// The logits and every block's output, all tokens, before the final norm (the features
    /// the authors distil).
    fn forward_features(&self, images: Tensor<B, 4>) -> (Tensor<B, 2>, Vec<Tensor<B, 3>>) {
        let mut x = self.embed(images);
        let mut features = Vec::with_capacity(self.blocks.len());
        for block in self.blocks.iter() {
            x = block.forward(x);
            features.push(x.clone());
        }
        (self.forward_head(x), features)
    }
}
