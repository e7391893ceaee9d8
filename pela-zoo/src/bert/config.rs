//! The architecture of a BERT encoder, as Hugging Face's `config.json` describes it.

use burn::nn::{EmbeddingConfig, LayerNormConfig, LinearConfig};
use burn::prelude::*;

use super::{
    Bert, BertAttention, BertEmbeddings, BertEncoder, BertIntermediate, BertLayer, BertOutput,
    BertPooler, BertSelfAttention,
};
use crate::ZooError;

/// The architecture of a [`Bert`] encoder. The field names are Hugging Face's, so
/// [`BertConfig::from_hf_json`] reads a model's `config.json`.
///
/// Layers from [`cross_attention_from`](Self::cross_attention_from) on also attend to the
/// tokens of another encoder (ALBEF's fusion layers attend to the image tokens).
///
/// ```
/// use pela_zoo::bert::BertConfig;
///
/// let minilm = BertConfig::from_hf_json(r#"{"vocab_size": 30522, "hidden_size": 384,
///     "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536,
///     "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
///     "hidden_act": "gelu", "model_type": "bert"}"#)?;
/// assert_eq!(minilm.hidden_size / minilm.num_attention_heads, 32);
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct BertConfig {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// The width of the tokens.
    pub hidden_size: usize,
    /// The number of encoder layers.
    pub num_hidden_layers: usize,
    /// The number of attention heads; divides `hidden_size`.
    pub num_attention_heads: usize,
    /// The hidden width of the feed-forward blocks.
    pub intermediate_size: usize,
    /// The longest input, in tokens.
    pub max_position_embeddings: usize,
    /// The number of segment (token type) ids. Default: 2
    #[config(default = 2)]
    pub type_vocab_size: usize,
    /// The epsilon of every `LayerNorm`. Default: 1e-12
    #[config(default = 1e-12)]
    pub layer_norm_eps: f64,
    /// Whether the model has the pooler (`tanh(dense(first token))`). Default: false
    #[config(default = false)]
    pub pooler: bool,
    /// The first layer with cross-attention, if any (ALBEF: 6 of 12). Default: None
    #[config(default = "None")]
    pub cross_attention_from: Option<usize>,
    /// The width of the tokens cross-attention reads (ALBEF: the image encoder's). Default:
    /// None, for `hidden_size`
    #[config(default = "None")]
    pub encoder_width: Option<usize>,
}

impl BertConfig {
    /// Reads Hugging Face's `config.json` of a BERT model (unknown fields are ignored).
    ///
    /// # Errors
    /// Text that is not JSON, a missing size, a model that is not a BERT with GELU, or sizes
    /// that do not fit together.
    pub fn from_hf_json(text: &str) -> Result<Self, ZooError> {
        let invalid = |reason: String| ZooError::InvalidConfig { reason };
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("config.json: {e}")))?;
        let size = |key: &str| {
            json[key]
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| invalid(format!("config.json has no `{key}`; is it a BERT config?")))
        };
        if let Some(kind) = json["model_type"].as_str().filter(|k| *k != "bert") {
            return Err(invalid(format!(
                "config.json describes a `{kind}` model; pela-zoo reads BERT (`model_type: bert`)"
            )));
        }
        if let Some(act) = json["hidden_act"].as_str().filter(|a| *a != "gelu") {
            return Err(invalid(format!(
                "config.json uses `hidden_act: {act}`; this BERT implements `gelu` (exact)"
            )));
        }
        let config = Self::new(
            size("vocab_size")?,
            size("hidden_size")?,
            size("num_hidden_layers")?,
            size("num_attention_heads")?,
            size("intermediate_size")?,
            size("max_position_embeddings")?,
        )
        .with_type_vocab_size(size("type_vocab_size").unwrap_or(2))
        .with_layer_norm_eps(json["layer_norm_eps"].as_f64().unwrap_or(1e-12));
        config.validate()?;
        Ok(config)
    }

    /// Checks that the sizes fit together.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the field.
    pub fn validate(&self) -> Result<(), ZooError> {
        use crate::family::bounds::{self, MAX_DEPTH, MAX_TOKENS, MAX_VOCABULARY, MAX_WIDTH, n};
        let invalid = |reason: String| Err(ZooError::InvalidConfig { reason });
        bounds::sizes(&[
            ("vocab_size", self.vocab_size, MAX_VOCABULARY),
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("num_hidden_layers", self.num_hidden_layers, MAX_DEPTH),
            ("num_attention_heads", self.num_attention_heads, MAX_WIDTH),
            ("intermediate_size", self.intermediate_size, MAX_WIDTH * 64),
            (
                "max_position_embeddings",
                self.max_position_embeddings,
                MAX_TOKENS * 4,
            ),
            ("type_vocab_size", self.type_vocab_size, MAX_VOCABULARY),
        ])?;
        if let Some(width) = self.encoder_width {
            bounds::sizes(&[("encoder_width", width, MAX_WIDTH)])?;
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps.is_finite()) {
            return invalid(format!(
                "`layer_norm_eps` {} must be positive (1e-12 in BERT)",
                self.layer_norm_eps
            ));
        }
        let (h, inner) = (n(self.hidden_size), n(self.intermediate_size));
        let kv = n(self.encoder_width.unwrap_or(self.hidden_size));
        let layer = 4 * h * h + 2 * h * inner + 2 * h * kv + 2 * h * h;
        let embeddings =
            n(self.vocab_size) + n(self.max_position_embeddings) + n(self.type_vocab_size);
        bounds::parameters("BERT", n(self.num_hidden_layers) * layer + embeddings * h)?;
        if self.hidden_size % self.num_attention_heads != 0 {
            return invalid(format!(
                "`num_attention_heads` {} does not divide `hidden_size` {}",
                self.num_attention_heads, self.hidden_size
            ));
        }
        if let Some(from) = self
            .cross_attention_from
            .filter(|f| *f > self.num_hidden_layers)
        {
            return invalid(format!(
                "`cross_attention_from` {from} is past the last of {} layers",
                self.num_hidden_layers
            ));
        }
        Ok(())
    }

    /// A model with freshly initialised weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Bert<B> {
        let d = self.hidden_size;
        let norm = || {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(device)
        };
        let attention = |kv_width: usize| BertAttention {
            self_attention: BertSelfAttention {
                query: LinearConfig::new(d, d).init(device),
                key: LinearConfig::new(kv_width, d).init(device),
                value: LinearConfig::new(kv_width, d).init(device),
                n_heads: self.num_attention_heads,
            },
            output: BertOutput {
                dense: LinearConfig::new(d, d).init(device),
                layer_norm: norm(),
            },
        };
        let layer = |index: usize| BertLayer {
            attention: attention(d),
            crossattention: self
                .cross_attention_from
                .filter(|from| index >= *from)
                .map(|_| attention(self.encoder_width.unwrap_or(d))),
            intermediate: BertIntermediate {
                dense: LinearConfig::new(d, self.intermediate_size).init(device),
            },
            output: BertOutput {
                dense: LinearConfig::new(self.intermediate_size, d).init(device),
                layer_norm: norm(),
            },
        };
        Bert {
            embeddings: BertEmbeddings {
                word_embeddings: EmbeddingConfig::new(self.vocab_size, d).init(device),
                position_embeddings: EmbeddingConfig::new(self.max_position_embeddings, d)
                    .init(device),
                token_type_embeddings: EmbeddingConfig::new(self.type_vocab_size, d).init(device),
                layer_norm: norm(),
            },
            encoder: BertEncoder {
                layer: (0..self.num_hidden_layers).map(layer).collect(),
            },
            pooler: self.pooler.then(|| BertPooler {
                dense: LinearConfig::new(d, d).init(device),
            }),
        }
    }

    /// The compression plan of the PELA experiment on BERT: every attention and feed-forward
    /// `Linear` of the encoder at compression ratio `ratio`; the embeddings (not `Linear`s)
    /// and the pooler stay as they are.
    pub fn pela_plan(&self, ratio: f64) -> pela::RankPlan {
        pela::RankPlan::new(ratio)
    }
}
