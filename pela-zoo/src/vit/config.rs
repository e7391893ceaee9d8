//! The architecture of a [`Vit`], timm's presets, and the authors' PELA plan.

use burn::module::{Initializer, Param};
use burn::nn::conv::Conv2dConfig;
use burn::nn::{Gelu, LayerNormConfig, LinearConfig};
use burn::prelude::*;
use pela::RankPlan;

use super::{Attention, Block, LayerScale, Mlp, PatchEmbed, Vit};
use crate::ZooError;

/// The architecture of a [`Vit`]. The presets are timm's models of the same name.
///
/// ```
/// use pela_zoo::vit::VitConfig;
///
/// let base = VitConfig::deit_base_patch16_224();
/// assert_eq!((base.d_model, base.depth, base.n_heads, base.d_ff()), (768, 12, 12, 3072));
/// let small = VitConfig::preset("deit_small_patch16_224")?;
/// assert_eq!(small.d_model, 384);
/// let typo = VitConfig::preset("deit_bsae_patch16_224").unwrap_err();
/// assert!(typo.to_string().contains("did you mean `deit_base_patch16_224`"));
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct VitConfig {
    /// The side of the square input image, in pixels.
    pub image_size: usize,
    /// The side of a square patch, in pixels; divides `image_size`.
    pub patch_size: usize,
    /// The number of classes of the head; 0 for none (a backbone whose output is the
    /// normalised class token, as timm's `num_classes=0`).
    pub num_classes: usize,
    /// The width of the tokens.
    pub d_model: usize,
    /// The number of blocks.
    pub depth: usize,
    /// The number of attention heads; divides `d_model`.
    pub n_heads: usize,
    /// The hidden width of the MLP as a multiple of `d_model`. Default: 4.0
    #[config(default = 4.0)]
    pub mlp_ratio: f64,
    /// The channels of the input image. Default: 3
    #[config(default = 3)]
    pub channels: usize,
    /// Whether `qkv` has a bias. Default: true
    #[config(default = true)]
    pub qkv_bias: bool,
    /// The initial value of the layer scales; `None` for no layer scale (DeiT), DeiT-III uses
    /// `1e-6`. Default: None
    #[config(default = "None")]
    pub layer_scale: Option<f64>,
    /// Whether the class token has a position embedding: true for DeiT, false for DeiT-III.
    /// Default: true
    #[config(default = true)]
    pub class_token_position: bool,
    /// The epsilon of every `LayerNorm`. Default: 1e-6
    #[config(default = 1e-6)]
    pub layer_norm_eps: f64,
}

/// The presets by timm name: architecture, `d_model`, depth, heads, DeiT-III.
const PRESETS: [(&str, usize, usize, usize, bool); 6] = [
    ("deit_tiny_patch16_224", 192, 12, 3, false),
    ("deit_small_patch16_224", 384, 12, 6, false),
    ("deit_base_patch16_224", 768, 12, 12, false),
    ("deit3_small_patch16_224", 384, 12, 6, true),
    ("deit3_base_patch16_224", 768, 12, 12, true),
    ("deit3_large_patch16_224", 1024, 24, 16, true),
];

impl VitConfig {
    /// The names [`preset`](Self::preset) knows: timm's DeiT and DeiT-III models.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        PRESETS.iter().map(|preset| preset.0)
    }

    /// The timm model called `name` (`deit_base_patch16_224`, `deit3_large_patch16_224`, …;
    /// see [`preset_names`](Self::preset_names)).
    ///
    /// # Errors
    /// [`ZooError::UnknownModel`], with the closest name.
    pub fn preset(name: &str) -> Result<Self, ZooError> {
        let (_, d_model, depth, n_heads, deit3) = PRESETS
            .iter()
            .find(|preset| preset.0 == name)
            .ok_or_else(|| ZooError::unknown_model(name, Self::preset_names()))?;
        let config = Self::new(224, 16, 1000, *d_model, *depth, *n_heads);
        Ok(if *deit3 { config.deit3() } else { config })
    }

    /// DeiT-Tiny, timm's `deit_tiny_patch16_224` (5.7M parameters).
    pub fn deit_tiny_patch16_224() -> Self {
        Self::new(224, 16, 1000, 192, 12, 3)
    }

    /// DeiT-Small, timm's `deit_small_patch16_224` (22.1M parameters).
    pub fn deit_small_patch16_224() -> Self {
        Self::new(224, 16, 1000, 384, 12, 6)
    }

    /// DeiT-Base, timm's `deit_base_patch16_224` (86.6M parameters), the paper's main model.
    pub fn deit_base_patch16_224() -> Self {
        Self::new(224, 16, 1000, 768, 12, 12)
    }

    /// DeiT-III-Small, timm's `deit3_small_patch16_224`.
    pub fn deit3_small_patch16_224() -> Self {
        Self::deit_small_patch16_224().deit3()
    }

    /// DeiT-III-Base, timm's `deit3_base_patch16_224`.
    pub fn deit3_base_patch16_224() -> Self {
        Self::deit_base_patch16_224().deit3()
    }

    /// DeiT-III-Large, timm's `deit3_large_patch16_224` (304.4M parameters).
    pub fn deit3_large_patch16_224() -> Self {
        Self::new(224, 16, 1000, 1024, 24, 16).deit3()
    }

    /// This architecture in DeiT-III's form: layer scale initialised at 1e-6 and no position
    /// embedding on the class token.
    pub fn deit3(self) -> Self {
        self.with_layer_scale(Some(1e-6))
            .with_class_token_position(false)
    }

    /// The hidden width of the MLP, `d_model · mlp_ratio` (rounded down, as timm does).
    pub fn d_ff(&self) -> usize {
        (self.d_model as f64 * self.mlp_ratio) as usize
    }

    /// The number of patches, `(image_size / patch_size)²`.
    pub fn n_patches(&self) -> usize {
        (self.image_size / self.patch_size).pow(2)
    }

    /// The number of tokens in each block: the patches and the class token.
    pub fn n_tokens(&self) -> usize {
        self.n_patches() + 1
    }

    /// The authors' PELA plan for DeiT and DeiT-III: κ = 2, layers whose name contains
    /// `norm`, `head` or `patch_embed` left dense (here: the classifier `head`), and layers
    /// with fewer than 10 outputs left dense.
    ///
    /// ```
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let plan = VitConfig::deit_base_patch16_224().pela_plan();
    /// assert_eq!(plan.decide("blocks.0.attn.qkv", 768, 2304)?.rank(), Some(288));
    /// assert!(plan.decide("head", 768, 1000)?.is_dense());
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn pela_plan(&self) -> RankPlan {
        let plan = RankPlan::new(2.0);
        // A backbone without a head (DINOv2) has no `head` to keep.
        let plan = if self.num_classes > 0 {
            plan.keep_dense("head")
        } else {
            plan
        };
        plan.keep_dense("**.*norm*")
            .keep_dense("patch_embed.**")
            .with_min_outputs(Some(10))
    }

    /// The authors' distillation objective for DeiT and DeiT-III: `L_fd` with weight α = 1,
    /// `L_rwp` off (β = 0, as their DeiT-Base and DeiT-III-Large scripts; ε = 1e-3 when it is
    /// turned on).
    ///
    /// ```
    /// let objective = pela_zoo::vit::VitConfig::deit_base_patch16_224().pela_objective();
    /// assert_eq!((objective.alpha, objective.beta), (1.0, 0.0));
    /// ```
    pub fn pela_objective(&self) -> pela::PelaObjectiveConfig {
        crate::family::authors_objective(1.0, 0.0, 1e-3)
    }

    /// Checks the sizes fit together.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the field and the fix.
    pub fn validate(&self) -> Result<(), ZooError> {
        use crate::family::bounds::{self, MAX_CHANNELS, MAX_DEPTH, MAX_IMAGE_SIZE, MAX_WIDTH, n};
        let invalid = |reason: String| Err(ZooError::InvalidConfig { reason });
        bounds::sizes(&[
            ("image_size", self.image_size, MAX_IMAGE_SIZE),
            ("patch_size", self.patch_size, MAX_IMAGE_SIZE),
            ("d_model", self.d_model, MAX_WIDTH),
            ("depth", self.depth, MAX_DEPTH),
            ("n_heads", self.n_heads, MAX_WIDTH),
            ("channels", self.channels, MAX_CHANNELS),
        ])?;
        bounds::at_most("num_classes", self.num_classes, bounds::MAX_VOCABULARY)?;
        bounds::mlp_ratio("mlp_ratio", self.mlp_ratio)?;
        if self.image_size % self.patch_size != 0 {
            return invalid(format!(
                "`patch_size` {} does not divide `image_size` {}",
                self.patch_size, self.image_size
            ));
        }
        if self.d_model % self.n_heads != 0 {
            return invalid(format!(
                "`n_heads` {} does not divide `d_model` {}",
                self.n_heads, self.d_model
            ));
        }
        if self.d_ff() == 0 {
            return invalid(format!(
                "`mlp_ratio` {} gives no MLP width; use a positive ratio such as 4.0",
                self.mlp_ratio
            ));
        }
        bounds::at_most(
            "the tokens (image_size / patch_size)² + 1",
            self.n_tokens(),
            bounds::MAX_TOKENS,
        )?;
        let (d, d_ff) = (n(self.d_model), n(self.d_ff()));
        let block = 4 * d * d + 2 * d * d_ff;
        let patches = n(self.patch_size).pow(2) * n(self.channels) * d;
        let rest = n(self.n_tokens()) * d + n(self.num_classes) * d;
        bounds::parameters("ViT", n(self.depth) * block + patches + rest)?;
        if self.layer_scale.is_some_and(|value| !value.is_finite())
            || !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0)
        {
            return invalid(
                "`layer_scale` must be finite and `layer_norm_eps` positive".to_string(),
            );
        }
        Ok(())
    }

    /// A model with timm-like random initialisation: normal(0, 0.02) for the `Linear`s and the
    /// position embeddings, the layer scales at their initial value.
    ///
    /// # Panics
    /// When the config is invalid (check with [`validate`](Self::validate) first on user
    /// input; [`load_checkpoint`](Self::load_checkpoint) does).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Vit<B> {
        if let Err(error) = self.validate() {
            panic!("{error}");
        }
        let d_model = self.d_model;
        let normal = |std: f64| Initializer::Normal { mean: 0.0, std };
        let linear = |d_input: usize, d_output: usize, bias: bool| {
            LinearConfig::new(d_input, d_output)
                .with_bias(bias)
                .with_initializer(normal(0.02))
                .init(device)
        };
        let norm = || {
            LayerNormConfig::new(d_model)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let layer_scale = || {
            self.layer_scale.map(|value| LayerScale {
                gamma: Initializer::Constant { value }.init([d_model], device),
            })
        };
        let blocks = (0..self.depth)
            .map(|_| Block {
                norm1: norm(),
                attn: Attention {
                    qkv: linear(d_model, 3 * d_model, self.qkv_bias),
                    proj: linear(d_model, d_model, true),
                    n_heads: self.n_heads,
                },
                ls1: layer_scale(),
                norm2: norm(),
                mlp: Mlp {
                    fc1: linear(d_model, self.d_ff(), true),
                    fc2: linear(self.d_ff(), d_model, true),
                    act: Gelu::new(),
                },
                ls2: layer_scale(),
            })
            .collect();
        let positions = self.n_patches() + usize::from(self.class_token_position);
        let cls_token: Param<Tensor<B, 3>> = normal(1e-6).init([1, 1, d_model], device);
        Vit {
            patch_embed: PatchEmbed {
                proj: Conv2dConfig::new(
                    [self.channels, d_model],
                    [self.patch_size, self.patch_size],
                )
                .with_stride([self.patch_size, self.patch_size])
                .init(device),
            },
            cls_token,
            pos_embed: normal(0.02).init([1, positions, d_model], device),
            blocks,
            norm: norm(),
            head: (self.num_classes > 0).then(|| linear(d_model, self.num_classes, true)),
        }
    }
}
