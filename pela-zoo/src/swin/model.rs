//! The Swin Transformer: patch embedding with its norm, stages, final norm, average pooling and
//! head, as timm's `SwinTransformer`.

use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use pela::{LayerFeatures, LowRank};
use serde::{Deserialize, Serialize};

use super::SwinStage;

/// Cuts an image into non-overlapping patches, projects each to `embed_dim` with a strided
/// convolution and normalises it (timm's `PatchEmbed` with a norm, channels last).
#[derive(Module, Debug)]
pub struct SwinPatchEmbed<B: Backend> {
    /// `[embed_dim, channels, patch_size, patch_size]`.
    pub proj: Conv2d<B>,
    /// `LayerNorm(embed_dim)`.
    pub norm: LayerNorm<B>,
}

impl<B: Backend> SwinPatchEmbed<B> {
    /// # Shapes
    /// - images: `[batch, channels, height, width]`
    /// - output: `[batch, height / patch, width / patch, embed_dim]`
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 4> {
        // One matrix product over the patches' pixels, channels last, not Burn's `conv2d`.
        self.norm
            .forward(crate::vit::patch_conv(&self.proj, images))
    }
}

/// The classifier on the average of the final tokens (timm's `ClassifierHead`: the keys are
/// `head.fc.*`; Microsoft's files call it `head`).
#[derive(Module, LowRank, Debug)]
pub struct ClassifierHead<B: Backend> {
    /// `[num_features, num_classes]`.
    pub fc: Linear<B>,
}

/// Which features a [`Swin`] gives for distillation ([`LayerFeatures::forward_features`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum SwinFeatures {
    /// Every block's output tokens, `[batch, tokens, dim]` each: the per-layer matching the
    /// paper describes (§3.4).
    #[default]
    Blocks,
    /// Only the final pooled feature (after the norm, before the head), `[batch, 1, dim]`: what
    /// the authors' released Swin code matches (its per-layer list is commented out).
    Pooled,
}

/// A Swin Transformer: Swin-T, Swin-S and Swin-B as timm defines them. The forward matches
/// timm's.
///
/// Should be created with [`SwinConfig::init`](super::SwinConfig::init), or loaded from a
/// checkpoint with [`SwinConfig::load_checkpoint`](super::SwinConfig::load_checkpoint).
///
/// ```
/// use burn::prelude::*;
/// use pela::{LayerFeatures, LowRank};
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::swin::SwinConfig;
///
/// let device = CpuDevice::default();
/// // 32-pixel images, patches of 4 (an 8 × 8 grid), windows of 4, two stages.
/// let config = SwinConfig::new(32, 4, 4, 10, 16, vec![2, 2], vec![2, 4]);
/// let teacher = config.init::<Cpu>(&device);
/// let images = Tensor::<Cpu, 4>::zeros([2, 3, 32, 32], &device);
/// let (logits, features) = teacher.forward_features(images.clone());
/// assert_eq!(logits.dims(), [2, 10]);
/// assert_eq!(features[1].dims(), [2, 64, 16]); // stage 0: 8 × 8 tokens, 16 wide
/// assert_eq!(features[3].dims(), [2, 16, 32]); // stage 1: 4 × 4 tokens, 32 wide
///
/// let student = teacher.to_low_rank(&config.pela_plan())?;
/// assert_eq!(student.forward(images).dims(), [2, 10]);
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Module, LowRank, Debug)]
pub struct Swin<B: Backend> {
    /// The patch embedding and its norm.
    pub patch_embed: SwinPatchEmbed<B>,
    /// The stages.
    #[low_rank]
    pub layers: Vec<SwinStage<B>>,
    /// The final norm.
    pub norm: LayerNorm<B>,
    /// The classifier.
    #[low_rank]
    pub head: ClassifierHead<B>,
    /// The features [`LayerFeatures`] gives.
    pub features: SwinFeatures,
}

#[pela::twin]
impl<B: Backend> Swin<B> {
    /// The logits from the final tokens (before the final norm): norm, average, head.
    ///
    /// # Shapes
    /// - grid: `[batch, height, width, dim]`
    /// - output: `[batch, num_classes]`
    pub fn forward_head(&self, grid: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head.fc.forward(self.pool(grid))
    }

    /// The pooled feature: the final norm, then the average over all tokens.
    ///
    /// # Shapes
    /// - grid: `[batch, height, width, dim]`
    /// - output: `[batch, dim]`
    pub fn pool(&self, grid: Tensor<B, 4>) -> Tensor<B, 2> {
        let [batch, height, width, dim] = grid.dims();
        self.norm
            .forward(grid.reshape([batch, height * width, dim]))
            .mean_dim(1)
            .reshape([batch, dim])
    }

    /// The logits.
    ///
    /// # Shapes
    /// - images: `[batch, channels, image_size, image_size]`
    /// - output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let grid = self
            .layers
            .iter()
            .fold(self.patch_embed.forward(images), |grid, stage| {
                stage.forward(grid)
            });
        self.forward_head(grid)
    }
}

#[pela::twin]
impl<B: Backend> LayerFeatures<B> for Swin<B> {
    type Input = Tensor<B, 4>;
    type Output = Tensor<B, 2>;

    /// The logits and, as [`SwinFeatures`] says, every block's output tokens
    /// `[batch, tokens, dim]` (before the final norm), or the pooled feature `[batch, 1, dim]`.
    fn forward_features(&self, images: Tensor<B, 4>) -> (Tensor<B, 2>, Vec<Tensor<B, 3>>) {
        let mut grid = self.patch_embed.forward(images);
        let mut features = Vec::new();
        for stage in self.layers.iter() {
            if let Some(merging) = &stage.downsample {
                grid = merging.forward(grid);
            }
            for block in stage.blocks.iter() {
                grid = block.forward(grid);
                if self.features == SwinFeatures::Blocks {
                    let [batch, height, width, dim] = grid.dims();
                    features.push(grid.clone().reshape([batch, height * width, dim]));
                }
            }
        }
        let pooled = self.pool(grid);
        let logits = self.head.fc.forward(pooled.clone());
        if self.features == SwinFeatures::Pooled {
            features.push(pooled.unsqueeze_dim(1));
        }
        (logits, features)
    }
}
