//! The WordPiece tokenizer of a BERT model, from its own `tokenizer.json`.

use burn::prelude::*;
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use super::BertInput;
use crate::ZooError;

/// A BERT model's tokenizer (Hugging Face's `tokenizers`, from the model's `tokenizer.json`):
/// lower-casing and accent stripping as the model was trained, WordPiece, `[CLS]` … `[SEP]`,
/// sequences cut at `max_length` tokens and batches padded to their longest.
///
/// ```no_run
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::bert::BertTokenizer;
///
/// let json = std::fs::read("tokenizer.json")?;
/// let tokenizer = BertTokenizer::from_json(&json, 256)?;
/// let batch = tokenizer.encode::<Cpu>(&["A man is playing a guitar."], &CpuDevice::default())?;
/// assert_eq!(batch.input_ids.dims()[0], 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct BertTokenizer {
    tokenizer: Tokenizer,
    /// The `tokenizer.json` it was read from, as given (written back by exports).
    json: std::sync::Arc<[u8]>,
    max_length: usize,
}

impl std::fmt::Debug for BertTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertTokenizer")
            .field("vocab_size", &self.tokenizer.get_vocab_size(true))
            .finish()
    }
}

impl BertTokenizer {
    /// Reads a `tokenizer.json`, cutting sequences at `max_length` tokens (256 for
    /// all-MiniLM-L6-v2, as its `sentence_bert_config.json` says).
    ///
    /// # Errors
    /// Bytes that are not a tokenizer.
    pub fn from_json(json: &[u8], max_length: usize) -> Result<Self, ZooError> {
        let invalid = |reason: String| ZooError::InvalidData {
            source_name: "tokenizer.json".into(),
            reason,
        };
        // `tokenizers` 0.22 panics on some malformed files (an `expect` in its decoder's
        // deserialisation): such a file is an error here, like any other malformed one.
        let parsed = std::panic::catch_unwind(|| Tokenizer::from_bytes(json)).map_err(|panic| {
            let reason = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("the tokenizers crate failed on it");
            invalid(format!("a malformed tokenizer: {reason}"))
        })?;
        let mut tokenizer = parsed.map_err(|e| invalid(e.to_string()))?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        tokenizer.with_padding(Some(PaddingParams {
            pad_id,
            pad_token: "[PAD]".into(),
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                ..TruncationParams::default()
            }))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            tokenizer,
            json: json.into(),
            max_length,
        })
    }

    /// This tokenizer for a model of `config`: refused when its vocabulary has ids past the
    /// model's word embeddings (which would index out of range), and cutting texts at the
    /// model's `max_position_embeddings` when its `max_length` is longer.
    ///
    /// # Errors
    /// [`ZooError::InvalidData`] naming both sizes.
    ///
    /// ```no_run
    /// use pela_zoo::bert::{BertConfig, BertTokenizer};
    ///
    /// let json = std::fs::read("all-MiniLM-L6-v2/tokenizer.json")?;
    /// let config = BertConfig::new(30522, 384, 6, 12, 1536, 128);
    /// let tokenizer = BertTokenizer::from_json(&json, 512)?.for_model(&config)?;
    /// assert_eq!(tokenizer.max_length(), 128);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_model(self, config: &super::BertConfig) -> Result<Self, ZooError> {
        if self.vocab_size() > config.vocab_size {
            return Err(ZooError::InvalidData {
                source_name: "tokenizer.json".into(),
                reason: format!(
                    "its vocabulary has {} tokens, the model's word embeddings {} (`vocab_size`): \
                     give the tokenizer the model was trained with",
                    self.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        if self.max_length <= config.max_position_embeddings {
            return Ok(self);
        }
        Self::from_json(&self.json, config.max_position_embeddings)
    }

    /// The `tokenizer.json` this tokenizer was read from, byte for byte.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The longest input in tokens; longer texts are cut.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The id of the token `token` (`[MASK]`, a word piece), if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    /// The number of tokens in the vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The token ids of one text, `[CLS]` and `[SEP]` included, without padding.
    ///
    /// # Errors
    /// A text the tokenizer rejects.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>, ZooError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| self.error(text, e))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Tokenises `texts` into one padded batch on `device`.
    ///
    /// # Errors
    /// An empty list, or a text the tokenizer rejects.
    pub fn encode<B: Backend>(
        &self,
        texts: &[&str],
        device: &B::Device,
    ) -> Result<BertInput<B>, ZooError> {
        if texts.is_empty() {
            return Err(ZooError::InvalidData {
                source_name: "tokenizer input".into(),
                reason: "no texts to encode".into(),
            });
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| self.error(texts[0], e))?;
        let (batch, tokens) = (encodings.len(), encodings[0].len());
        let column = |get: &dyn Fn(&tokenizers::Encoding) -> &[u32]| {
            encodings
                .iter()
                .flat_map(|e| get(e).iter().map(|&v| v as i64))
                .collect::<Vec<i64>>()
        };
        let ids = column(&|e| e.get_ids());
        let types = column(&|e| e.get_type_ids());
        let mask: Vec<f32> = column(&|e| e.get_attention_mask())
            .into_iter()
            .map(|v| v as f32)
            .collect();
        Ok(BertInput {
            input_ids: Tensor::from_data(TensorData::new(ids, [batch, tokens]), device),
            token_type_ids: Tensor::from_data(TensorData::new(types, [batch, tokens]), device),
            attention_mask: Tensor::from_data(TensorData::new(mask, [batch, tokens]), device),
        })
    }

    fn error(&self, text: &str, error: tokenizers::Error) -> ZooError {
        ZooError::InvalidData {
            source_name: format!("text {:?}", text.chars().take(40).collect::<String>()),
            reason: format!("the tokenizer rejected it: {error}"),
        }
    }
}
