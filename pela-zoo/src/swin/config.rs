//! The architecture of a [`Swin`], timm's presets, and the authors' PELA plan.

use burn::module::Initializer;
use burn::nn::conv::Conv2dConfig;
use burn::nn::{Gelu, LayerNormConfig, LinearConfig};
use burn::prelude::*;
use pela::RankPlan;

use super::{
    ClassifierHead, PatchMerging, Swin, SwinBlock, SwinFeatures, SwinPatchEmbed, SwinStage,
    WindowAttention, window,
};
use crate::ZooError;
use crate::vit::Mlp;

/// The architecture of a [`Swin`]. The presets are timm's models of the same name.
///
/// ```
/// use pela_zoo::swin::SwinConfig;
///
/// let base = SwinConfig::swin_base_patch4_window7_224();
/// assert_eq!((base.embed_dim, base.depths.clone()), (128, vec![2, 2, 18, 2]));
/// assert_eq!(base.stage_dim(3), 1024);
/// assert_eq!(base.stage_grid(2), [14, 14]);
/// let typo = SwinConfig::preset("swin_base_patch4_windw7_224").unwrap_err();
/// assert!(typo.to_string().contains("did you mean `swin_base_patch4_window7_224`"));
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct SwinConfig {
    /// The side of the square input image, in pixels.
    pub image_size: usize,
    /// The side of a square patch, in pixels; divides `image_size`.
    pub patch_size: usize,
    /// The side of an attention window, in tokens (7 or 12 in timm's presets). Stages whose
    /// grid is not larger than the window attend over the whole grid and never shift, as in
    /// timm; grids the window does not divide are padded.
    pub window_size: usize,
    /// The number of classes of the head.
    pub num_classes: usize,
    /// The width of the tokens in the first stage; it doubles at every stage.
    pub embed_dim: usize,
    /// The number of blocks of each stage.
    pub depths: Vec<usize>,
    /// The number of attention heads of each stage; each divides its stage's width.
    pub num_heads: Vec<usize>,
    /// The hidden width of the MLP as a multiple of the stage's width. Default: 4.0
    #[config(default = 4.0)]
    pub mlp_ratio: f64,
    /// The channels of the input image. Default: 3
    #[config(default = 3)]
    pub channels: usize,
    /// Whether `qkv` has a bias. Default: true
    #[config(default = true)]
    pub qkv_bias: bool,
    /// The epsilon of every `LayerNorm`. Default: 1e-5 (PyTorch's, which Swin uses)
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
    /// Which features [`pela::LayerFeatures`] returns for distillation. Default: every block's
    /// tokens, as the paper describes.
    #[config(default = "SwinFeatures::Blocks")]
    pub features: SwinFeatures,
}

/// The presets by timm name: image size, window, `embed_dim`, depths, heads.
type Preset = (&'static str, usize, usize, usize, [usize; 4], [usize; 4]);
const PRESETS: [Preset; 4] = [
    (
        "swin_tiny_patch4_window7_224",
        224,
        7,
        96,
        [2, 2, 6, 2],
        [3, 6, 12, 24],
    ),
    (
        "swin_small_patch4_window7_224",
        224,
        7,
        96,
        [2, 2, 18, 2],
        [3, 6, 12, 24],
    ),
    (
        "swin_base_patch4_window7_224",
        224,
        7,
        128,
        [2, 2, 18, 2],
        [4, 8, 16, 32],
    ),
    (
        "swin_base_patch4_window12_384",
        384,
        12,
        128,
        [2, 2, 18, 2],
        [4, 8, 16, 32],
    ),
];

impl SwinConfig {
    /// The names [`preset`](Self::preset) knows: timm's Swin-T, Swin-S and Swin-B models.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|preset| preset.0)
    }

    /// The timm model called `name` (`swin_base_patch4_window7_224`, …; see
    /// [`preset_names`](Self::preset_names)).
    ///
    /// # Errors
    /// [`ZooError::UnknownModel`], with the closest name.
    pub fn preset(name: &str) -> Result<Self, ZooError> {
        let (_, image_size, window_size, embed_dim, depths, num_heads) = PRESETS
            .iter()
            .find(|preset| preset.0 == name)
            .ok_or_else(|| ZooError::unknown_model(name, Self::preset_names()))?;
        Ok(Self::new(
            *image_size,
            4,
            *window_size,
            1000,
            *embed_dim,
            depths.to_vec(),
            num_heads.to_vec(),
        ))
    }

    /// Swin-T, timm's `swin_tiny_patch4_window7_224` (28.3M parameters).
    pub fn swin_tiny_patch4_window7_224() -> Self {
        Self::preset("swin_tiny_patch4_window7_224").expect("a preset")
    }

    /// Swin-S, timm's `swin_small_patch4_window7_224` (49.6M parameters).
    pub fn swin_small_patch4_window7_224() -> Self {
        Self::preset("swin_small_patch4_window7_224").expect("a preset")
    }

    /// Swin-B, timm's `swin_base_patch4_window7_224` (87.8M parameters), the paper's Swin.
    pub fn swin_base_patch4_window7_224() -> Self {
        Self::preset("swin_base_patch4_window7_224").expect("a preset")
    }

    /// Swin-B at 384 pixels with 12-token windows, timm's `swin_base_patch4_window12_384`.
    pub fn swin_base_patch4_window12_384() -> Self {
        Self::preset("swin_base_patch4_window12_384").expect("a preset")
    }

    /// The number of stages.
    pub fn n_stages(&self) -> usize {
        self.depths.len()
    }

    /// The token width of stage `stage`: `embed_dim · 2^stage`.
    pub fn stage_dim(&self, stage: usize) -> usize {
        self.embed_dim << stage
    }

    /// The width of the final tokens, which the head reads.
    pub fn num_features(&self) -> usize {
        self.stage_dim(self.n_stages() - 1)
    }

    /// The token grid `[height, width]` of stage `stage`: the patch grid, halved (rounded up,
    /// as patch merging pads odd grids) by every merging before it.
    pub fn stage_grid(&self, stage: usize) -> [usize; 2] {
        let side = (0..stage).fold(self.image_size / self.patch_size, |side, _| {
            side.div_ceil(2)
        });
        [side, side]
    }

    /// The window side and shift of the blocks of stage `stage`, as timm chooses them: the
    /// window shrinks to the grid when the grid is not larger, and such a stage never shifts;
    /// otherwise every second block shifts by half a window.
    pub fn stage_window(&self, stage: usize) -> (usize, usize) {
        let [side, _] = self.stage_grid(stage);
        if side <= self.window_size {
            (side, 0)
        } else {
            (self.window_size, self.window_size / 2)
        }
    }

    /// The token grid of stage `stage` padded to whole windows, as the blocks attend over it.
    pub fn stage_padded_grid(&self, stage: usize) -> [usize; 2] {
        let (window, _) = self.stage_window(stage);
        self.stage_grid(stage)
            .map(|side| side.div_ceil(window) * window)
    }

    /// The hidden width of the MLP of stage `stage` (rounded down, as timm does).
    pub fn d_ff(&self, stage: usize) -> usize {
        (self.stage_dim(stage) as f64 * self.mlp_ratio) as usize
    }

    /// The authors' PELA plan for Swin (their Swin script): κ = 1.5, layers whose name
    /// contains `norm`, `head`, `patch_embed` or `downsample` left dense as for DeiT, plus
    /// every `attn.proj`, and layers with fewer than 10 outputs left dense. Swin-B goes from
    /// 87.8M to 62.2M parameters.
    ///
    /// ```
    /// use pela_zoo::swin::SwinConfig;
    ///
    /// let plan = SwinConfig::swin_base_patch4_window7_224().pela_plan();
    /// assert_eq!(plan.decide("layers.2.blocks.0.attn.qkv", 512, 1536)?.rank(), Some(256));
    /// assert!(plan.decide("layers.2.blocks.0.attn.proj", 512, 512)?.is_dense());
    /// assert!(plan.decide("layers.1.downsample.reduction", 512, 256)?.is_dense());
    /// assert!(plan.decide("head.fc", 1024, 1000)?.is_dense());
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn pela_plan(&self) -> RankPlan {
        RankPlan::new(1.5)
            .keep_dense("head.**")
            .keep_dense("**.*norm*")
            .keep_dense("patch_embed.**")
            .keep_dense("**.downsample.**")
            .keep_dense("**.attn.proj")
            .with_min_outputs(Some(10))
    }

    /// The authors' distillation objective for Swin (their Swin script): `L_fd` with weight
    /// α = 1 and `L_rwp` with weight β = 1 and margin ε = 0. (Their gradient clipping at 5 is
    /// [`TrainingConfig`](crate::train::TrainingConfig)'s default.)
    ///
    /// ```
    /// let objective = pela_zoo::swin::SwinConfig::swin_base_patch4_window7_224().pela_objective();
    /// assert_eq!((objective.alpha, objective.beta), (1.0, 1.0));
    /// assert_eq!(objective.weight_perturbation.epsilon, 0.0);
    /// ```
    pub fn pela_objective(&self) -> pela::PelaObjectiveConfig {
        crate::family::authors_objective(1.0, 1.0, 0.0)
    }

    /// Checks the sizes fit together.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the field and the fix.
    pub fn validate(&self) -> Result<(), ZooError> {
        use crate::family::bounds::{self, MAX_CHANNELS, MAX_IMAGE_SIZE, MAX_VOCABULARY, n};
        let invalid = |reason: String| Err(ZooError::InvalidConfig { reason });
        bounds::sizes(&[
            ("image_size", self.image_size, MAX_IMAGE_SIZE),
            ("patch_size", self.patch_size, MAX_IMAGE_SIZE),
            ("window_size", self.window_size, bounds::MAX_TOKENS.isqrt()),
            ("num_classes", self.num_classes, MAX_VOCABULARY),
            ("embed_dim", self.embed_dim, bounds::MAX_WIDTH),
            ("channels", self.channels, MAX_CHANNELS),
        ])?;
        bounds::mlp_ratio("mlp_ratio", self.mlp_ratio)?;
        if self.image_size % self.patch_size != 0 {
            return invalid(format!(
                "`patch_size` {} does not divide `image_size` {}",
                self.patch_size, self.image_size
            ));
        }
        if self.depths.is_empty() || self.depths.len() != self.num_heads.len() {
            return invalid(format!(
                "`depths` has {} stages and `num_heads` {}; give both one entry a stage",
                self.depths.len(),
                self.num_heads.len()
            ));
        }
        if self.depths.contains(&0) {
            return invalid("`depths`: every stage needs at least one block".to_string());
        }
        if self.n_stages() > 8 {
            return invalid(format!("{} stages: at most 8", self.n_stages()));
        }
        bounds::at_most(
            "the last stage's width (`embed_dim` · 2^(stages − 1))",
            self.embed_dim.saturating_mul(1 << (self.n_stages() - 1)),
            bounds::MAX_WIDTH,
        )?;
        bounds::at_most(
            "the blocks (the sum of `depths`)",
            self.depths
                .iter()
                .fold(0usize, |sum, &d| sum.saturating_add(d)),
            bounds::MAX_DEPTH,
        )?;
        let side = self.image_size / self.patch_size;
        bounds::at_most(
            "the patch grid's tokens ((image_size / patch_size)²)",
            side * side,
            bounds::MAX_TOKENS * 64,
        )?;
        for (stage, &heads) in self.num_heads.iter().enumerate() {
            if heads == 0 || self.stage_dim(stage) % heads != 0 {
                return invalid(format!(
                    "`num_heads[{stage}]` {heads} does not divide the stage's width {}",
                    self.stage_dim(stage)
                ));
            }
        }
        if self.d_ff(0) == 0 {
            return invalid(format!(
                "`mlp_ratio` {} gives no MLP width; use a positive ratio such as 4.0",
                self.mlp_ratio
            ));
        }
        let blocks: u128 = (0..self.n_stages())
            .map(|stage| {
                let (d, d_ff) = (n(self.stage_dim(stage)), n(self.d_ff(stage)));
                n(self.depths[stage]) * (4 * d * d + 2 * d * d_ff)
            })
            .sum();
        let ends = (n(self.patch_size).pow(2) * n(self.channels) + n(self.num_classes))
            * n(self.num_features());
        bounds::parameters("Swin", blocks + ends)?;
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return invalid("`layer_norm_eps` must be positive".to_string());
        }
        Ok(())
    }

    /// A model with timm-like random initialisation: normal(0, 0.02) for the `Linear`s and the
    /// relative position bias tables.
    ///
    /// # Panics
    /// When the config is invalid (check with [`validate`](Self::validate) first on user
    /// input; [`load_checkpoint`](Self::load_checkpoint) does).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Swin<B> {
        if let Err(error) = self.validate() {
            panic!("{error}");
        }
        let normal = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        let linear = |d_input: usize, d_output: usize, bias: bool| {
            LinearConfig::new(d_input, d_output)
                .with_bias(bias)
                .with_initializer(normal.clone())
                .init(device)
        };
        let norm = |width: usize| {
            LayerNormConfig::new(width)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let layers = (0..self.n_stages())
            .map(|stage| {
                let dim = self.stage_dim(stage);
                let (window_size, shift) = self.stage_window(stage);
                let n_heads = self.num_heads[stage];
                let padded = self.stage_padded_grid(stage);
                let blocks = (0..self.depths[stage])
                    .map(|i| SwinBlock {
                        norm1: norm(dim),
                        attn: WindowAttention {
                            qkv: linear(dim, 3 * dim, self.qkv_bias),
                            proj: linear(dim, dim, true),
                            relative_position_bias_table: normal
                                .init([(2 * window_size - 1).pow(2), n_heads], device),
                            relative_position_index: window::relative_position_index(
                                window_size,
                                device,
                            ),
                            n_heads,
                        },
                        norm2: norm(dim),
                        mlp: Mlp {
                            fc1: linear(dim, self.d_ff(stage), true),
                            fc2: linear(self.d_ff(stage), dim, true),
                            act: Gelu::new(),
                        },
                        window_size,
                        shift: if i % 2 == 1 { shift } else { 0 },
                        attn_mask: (i % 2 == 1 && shift > 0)
                            .then(|| window::shift_mask(padded, window_size, shift, device)),
                    })
                    .collect();
                let downsample = (stage > 0).then(|| PatchMerging {
                    norm: norm(4 * self.stage_dim(stage - 1)),
                    reduction: linear(4 * self.stage_dim(stage - 1), dim, false),
                });
                SwinStage { downsample, blocks }
            })
            .collect();
        Swin {
            patch_embed: SwinPatchEmbed {
                proj: Conv2dConfig::new(
                    [self.channels, self.embed_dim],
                    [self.patch_size, self.patch_size],
                )
                .with_stride([self.patch_size, self.patch_size])
                .init(device),
                norm: norm(self.embed_dim),
            },
            layers,
            norm: norm(self.num_features()),
            head: ClassifierHead {
                fc: linear(self.num_features(), self.num_classes, true),
            },
            features: self.features,
        }
    }
}
