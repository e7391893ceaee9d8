//! The architecture of an [`Albef`] model and its pre-training settings, as the authors'
//! `configs/Pretrain.yaml` and `configs/config_bert.json` describe them.

use burn::module::{Initializer, Param};
use burn::nn::{LayerNormConfig, LinearConfig};
use burn::prelude::*;
use pela::RankPlan;

use super::{Albef, MlmHead, TextPooling};
use crate::ZooError;
use crate::bert::{Bert, BertConfig};
use crate::vit::{Vit, VitConfig};

/// The architecture of an [`Albef`] model (Li et al., 2021, *Align before Fuse*) and the
/// settings of its pre-training objectives.
///
/// The image encoder is the zoo's [`Vit`](crate::vit::Vit) without a head; the text encoder
/// and the fusion encoder are one [`Bert`](crate::bert::Bert) whose layers from
/// `text.cross_attention_from` on cross-attend to the image tokens.
///
/// ```
/// use pela_zoo::albef::AlbefConfig;
///
/// let albef = AlbefConfig::albef_base(256);
/// assert_eq!(albef.text.cross_attention_from, Some(6));
/// assert_eq!((albef.embed_dim, albef.queue_size, albef.momentum), (256, 65_536, 0.995));
/// # albef.validate()?;
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct AlbefConfig {
    /// The image encoder: a ViT without a head (`num_classes` 0).
    pub vision: VitConfig,
    /// The text and fusion encoder: a BERT with cross-attention from its fusion layer on, to
    /// tokens of the image encoder's width.
    pub text: BertConfig,
    /// The width of the image and text features compared by ITC. Default: 256
    #[config(default = 256)]
    pub embed_dim: usize,
    /// The initial temperature of ITC. Default: 0.07
    #[config(default = 0.07)]
    pub temp: f64,
    /// Features kept in each momentum queue. Default: 65536
    #[config(default = 65536)]
    pub queue_size: usize,
    /// The EMA factor of the momentum model. Default: 0.995
    #[config(default = 0.995)]
    pub momentum: f64,
    /// The weight of the momentum model's soft targets in ITC and MLM. Default: 0.4
    #[config(default = 0.4)]
    pub alpha: f64,
    /// The share of text tokens masked for MLM. Default: 0.15
    #[config(default = 0.15)]
    pub mlm_probability: f64,
    /// Whether the model has the MLM head (pre-training checkpoints do; retrieval
    /// checkpoints do not). Default: true
    #[config(default = true)]
    pub mlm_head: bool,
    /// The text tokens that make the ITC feature: `Cls` (ALBEF) or `Mean` (for a text
    /// encoder from sentence-transformers, whose `[CLS]` carries nothing). Default: `Cls`
    #[config(default = "TextPooling::Cls")]
    pub text_pooling: TextPooling,
}

/// The names [`AlbefConfig::preset`] knows.
const PRESETS: [&str; 2] = ["albef", "albef_retrieval"];

impl AlbefConfig {
    /// The names [`preset`](Self::preset) knows: `albef` (pre-training, 256-pixel images)
    /// and `albef_retrieval` (384-pixel images, no MLM head), as the authors' configs.
    pub fn preset_names() -> impl Iterator<Item = &'static str> {
        PRESETS.into_iter()
    }

    /// The preset called `name` (see [`preset_names`](Self::preset_names)).
    ///
    /// # Errors
    /// [`ZooError::UnknownModel`], with the closest name.
    pub fn preset(name: &str) -> Result<Self, ZooError> {
        match name {
            "albef" => Ok(Self::albef_base(256)),
            "albef_retrieval" => Ok(Self::albef_base(384).with_mlm_head(false)),
            _ => Err(ZooError::unknown_model(name, Self::preset_names())),
        }
    }

    /// ALBEF as released: ViT-B/16 on `image_res`-pixel images (256 in pre-training, 384 in
    /// retrieval), BERT-base with 6 text and 6 fusion layers, ITC width 256 (209.9M
    /// parameters, 419.9M with the momentum copy).
    pub fn albef_base(image_res: usize) -> Self {
        let vision = VitConfig::new(image_res, 16, 0, 768, 12, 12);
        let text = BertConfig::new(30522, 768, 12, 12, 3072, 512)
            .with_cross_attention_from(Some(6))
            .with_encoder_width(Some(768));
        Self::new(vision, text)
    }

    /// The width of the image tokens.
    pub fn vision_width(&self) -> usize {
        self.vision.d_model
    }

    /// The width of the text tokens.
    pub fn text_width(&self) -> usize {
        self.text.hidden_size
    }

    /// The parameters of pre-training for an online model of `online` parameters: the model
    /// and its momentum copy, which the authors build without the ITM head and temperature.
    ///
    /// ```
    /// use pela_zoo::albef::AlbefConfig;
    ///
    /// let albef = AlbefConfig::albef_base(256);
    /// assert_eq!(albef.with_momentum_copy(209_937_725), 419_873_911); // the authors' model
    /// assert_eq!(albef.with_momentum_copy(87_106_877), 174_212_215); // its PELA student, κ = 3
    /// ```
    pub fn with_momentum_copy(&self, online: usize) -> usize {
        let itm_head = 2 * self.text_width() + 2;
        2 * online - itm_head - 1
    }

    /// The authors' PELA plan for ALBEF: κ = 3 for every `Linear` of the image, text and
    /// fusion encoders; the MLM head (`cls` in their keys), the `_proj` layers and the ITM
    /// head (2 outputs, under the 10-output floor) dense.
    ///
    /// In [`Albef`] the heads and projections are plain fields without `#[low_rank]`, so
    /// they stay dense under any plan; this plan names them for the report.
    ///
    /// ```
    /// use pela_zoo::albef::AlbefConfig;
    ///
    /// let plan = AlbefConfig::albef_base(256).pela_plan();
    /// let rank = plan.decide("text_encoder.encoder.layer.0.attention.self_attention.query", 768, 768)?;
    /// assert_eq!(rank.rank(), Some(128)); // 768·768 / (3·1536)
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn pela_plan(&self) -> RankPlan {
        let plan = RankPlan::new(3.0);
        // A retrieval model has no MLM head to keep.
        let plan = if self.mlm_head {
            plan.keep_dense("mlm_head.**")
        } else {
            plan
        };
        plan.keep_dense("*_proj")
            .keep_dense("**.*norm*")
            .keep_dense("**.patch_embed.**")
            .with_min_outputs(Some(10))
    }

    /// The authors' distillation objective for ALBEF: `L_fd` over the image-encoder,
    /// text-encoder and fusion hidden states with weight 0.1, and `L_rwp` with weight 1 and
    /// ε = 1e-3.
    ///
    /// ```
    /// let objective = pela_zoo::albef::AlbefConfig::albef_base(256).pela_objective();
    /// assert_eq!((objective.alpha, objective.beta), (0.1, 1.0));
    /// ```
    pub fn pela_objective(&self) -> pela::PelaObjectiveConfig {
        crate::family::authors_objective(0.1, 1.0, 1e-3)
    }

    /// Checks that the sizes fit together.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the field and the fix.
    pub fn validate(&self) -> Result<(), ZooError> {
        let invalid = |reason: String| Err(ZooError::InvalidConfig { reason });
        self.vision.validate()?;
        self.text.validate()?;
        if self.vision.num_classes != 0 {
            return invalid(format!(
                "ALBEF's image encoder has no classifier head; set `vision.num_classes` to 0 \
                 (it is {})",
                self.vision.num_classes
            ));
        }
        if self.text.cross_attention_from.is_none() {
            return invalid(
                "ALBEF's text encoder needs fusion layers; set `text.cross_attention_from` \
                 (6 in ALBEF)"
                    .to_string(),
            );
        }
        let width = self.text.encoder_width.unwrap_or(self.text.hidden_size);
        if width != self.vision.d_model {
            return invalid(format!(
                "`text.encoder_width` {width} differs from the image encoder's width {}",
                self.vision.d_model
            ));
        }
        crate::family::bounds::sizes(&[
            (
                "embed_dim",
                self.embed_dim,
                crate::family::bounds::MAX_WIDTH,
            ),
            ("queue_size", self.queue_size, 1 << 20),
        ])?;
        if !(0.0..=1.0).contains(&self.momentum) || !(0.0..=1.0).contains(&self.alpha) {
            return invalid(format!(
                "`momentum` {} and `alpha` {} must lie in [0, 1]",
                self.momentum, self.alpha
            ));
        }
        Ok(())
    }

    /// A model with freshly initialised weights (the temperature at [`temp`](Self::temp)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Albef<B> {
        let text_width = self.text_width();
        Albef {
            visual_encoder: self.vision.init(device),
            text_encoder: self.text.init(device),
            mlm_head: self.mlm_head.then(|| MlmHead {
                dense: LinearConfig::new(text_width, text_width).init(device),
                layer_norm: LayerNormConfig::new(text_width)
                    .with_epsilon(self.text.layer_norm_eps)
                    .init(device),
                bias: Initializer::Zeros.init([self.text.vocab_size], device),
            }),
            vision_proj: LinearConfig::new(self.vision_width(), self.embed_dim).init(device),
            text_proj: LinearConfig::new(text_width, self.embed_dim).init(device),
            itm_head: LinearConfig::new(text_width, 2).init(device),
            temp: Param::from_tensor(Tensor::from_floats([self.temp as f32], device)),
            text_pooling: self.text_pooling,
        }
    }

    /// A model whose encoders start from pre-trained ones, as the authors start ALBEF from
    /// DeiT and BERT-base: `vision` is the image encoder, and `text`'s layers are the text
    /// layers and then the fusion layers, to which freshly initialised cross-attention is
    /// added (from layer `self.text.cross_attention_from` on). The projections, the heads and
    /// the temperature are fresh; the MLM head is tied to `text`'s word embeddings. A pooler
    /// of `text` is dropped (ALBEF has none).
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] when the encoders' depth or width differ from this
    /// config's, or `text` already has cross-attention.
    ///
    /// ```
    /// use pela_zoo::albef::AlbefConfig;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::bert::BertConfig;
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let device = CpuDevice::default();
    /// let (vision, text) = (VitConfig::new(32, 16, 0, 64, 2, 4), BertConfig::new(100, 64, 4, 4, 128, 16));
    /// // Pre-trained encoders (here fresh ones): a ViT and a BERT without cross-attention.
    /// let (vit, bert) = (vision.init::<Cpu>(&device), text.init::<Cpu>(&device));
    /// let config = AlbefConfig::new(vision, text.with_cross_attention_from(Some(2)));
    /// let albef = config.init_from(vit, bert, &device)?;
    /// assert!(albef.text_encoder.encoder.layer[2].crossattention.is_some());
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn init_from<B: Backend>(
        &self,
        vision: Vit<B>,
        text: Bert<B>,
        device: &B::Device,
    ) -> Result<Albef<B>, ZooError> {
        self.validate()?;
        let invalid = |reason: String| Err(ZooError::InvalidConfig { reason });
        if vision.blocks.len() != self.vision.depth {
            return invalid(format!(
                "the image encoder has {} blocks, `vision.depth` says {}",
                vision.blocks.len(),
                self.vision.depth
            ));
        }
        if text.encoder.layer.len() != self.text.num_hidden_layers {
            return invalid(format!(
                "the text encoder has {} layers, `text.num_hidden_layers` says {}",
                text.encoder.layer.len(),
                self.text.num_hidden_layers
            ));
        }
        let [_, width] = text.embeddings.word_embeddings.weight.dims();
        if width != self.text.hidden_size {
            return invalid(format!(
                "the text encoder is {width} wide, `text.hidden_size` says {}",
                self.text.hidden_size
            ));
        }
        if text
            .encoder
            .layer
            .iter()
            .any(|l| l.crossattention.is_some())
        {
            return invalid(
                "the text encoder already has cross-attention; give a plain BERT".to_string(),
            );
        }
        let fresh = self.init::<B>(device);
        let mut text = text;
        for (layer, fresh) in text
            .encoder
            .layer
            .iter_mut()
            .zip(fresh.text_encoder.encoder.layer)
        {
            layer.crossattention = fresh.crossattention;
        }
        text.pooler = None;
        Ok(Albef {
            visual_encoder: vision,
            text_encoder: text,
            ..fresh
        })
    }
}
