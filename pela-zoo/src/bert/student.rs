//! BERT students as files: the authors' layout with the architecture and the tokenizer in the
//! header, and dense exports in Hugging Face's layout.

use std::path::Path;

use burn::prelude::*;

use super::{BertConfig, BertLowRank, BertTokenizer};
use crate::ZooError;
use crate::family::Family;

/// The header key of the tokenizer's `tokenizer.json`.
const TOKENIZER_KEY: &str = "pela.bert_tokenizer";
/// The header key of the tokenizer's longest input.
const MAX_LENGTH_KEY: &str = "pela.bert_max_length";
/// The header key marking a `model.safetensors` that [`BertConfig::export_hf`] wrote.
pub const EXPORT_KEY: &str = "pela.export";

/// Hugging Face's names for the fields whose Rust names differ (the inverse of
/// [`key_map`](super::import::key_map)).
const HF_NAMES: [(&str, &str); 2] = [
    (r"\.self_attention\.", ".self."),
    (r"\.layer_norm\.", ".LayerNorm."),
];

impl BertConfig {
    /// Saves a student of this architecture to `path` (safetensors in the authors' layout, see
    /// [`pela::checkpoint`]) as [`Family::save_student`] does, with the tokenizer in the
    /// header too when one is given: [`Family::load_student`] and
    /// [`student_tokenizer`](Self::student_tokenizer) need nothing but the file. The write is
    /// atomic.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file cannot be written.
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::Family;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::bert::BertConfig;
    ///
    /// let device = CpuDevice::default();
    /// let config = BertConfig::new(100, 32, 2, 4, 64, 16);
    /// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan(2.0))?;
    /// let file = std::env::temp_dir().join("pela-zoo-doc-bert-student.safetensors");
    /// config.save_student_with_tokenizer(&student, &file, None)?;
    ///
    /// let (loaded_config, loaded) = BertConfig::load_student::<Cpu>(&file, &device)?;
    /// assert_eq!(loaded_config, config);
    /// assert!(BertConfig::student_tokenizer(&file)?.is_none());
    /// # std::fs::remove_file(&file).ok();
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn save_student_with_tokenizer<B: Backend>(
        &self,
        student: &BertLowRank<B>,
        path: impl AsRef<Path>,
        tokenizer: Option<&BertTokenizer>,
    ) -> Result<(), ZooError> {
        let Some(tokenizer) = tokenizer else {
            return self.save_student(student, path);
        };
        let json = String::from_utf8_lossy(tokenizer.json()).into_owned();
        let max_length = tokenizer.max_length().to_string();
        crate::family::save_student_with(
            self,
            student,
            path.as_ref(),
            &[(TOKENIZER_KEY, &json), (MAX_LENGTH_KEY, &max_length)],
        )
    }

    /// The tokenizer saved with a student, if it was.
    ///
    /// # Errors
    /// An unreadable file, or a malformed tokenizer in its header.
    pub fn student_tokenizer(path: impl AsRef<Path>) -> Result<Option<BertTokenizer>, ZooError> {
        let path = path.as_ref();
        let header = pela::checkpoint::metadata(path)?;
        let Some(json) = header.get(TOKENIZER_KEY) else {
            return Ok(None);
        };
        let max_length = header
            .get(MAX_LENGTH_KEY)
            .and_then(|v| v.parse().ok())
            .unwrap_or(512);
        let config = crate::family::__private::read_config::<BertConfig>(path)?;
        BertTokenizer::from_json(json.as_bytes(), max_length)?
            .for_model(&config)
            .map(Some)
    }

    /// Writes a student as a Hugging Face model folder: `model.safetensors` with every factor
    /// pair multiplied out under Hugging Face's keys (`encoder.layer.0.attention.self.query.weight`,
    /// …), and `config.json`. With a tokenizer, also its `tokenizer.json`,
    /// `tokenizer_config.json`, and the sentence-transformers files of a mean-pooled,
    /// L2-normalised encoder (`modules.json`, `sentence_bert_config.json`,
    /// `1_Pooling/config.json`), as the zoo's [`SentenceEncoder`](super::SentenceEncoder)
    /// embeds. `transformers`' `AutoModel.from_pretrained(folder)` and
    /// `SentenceTransformer(folder)` load it unchanged. The folder is created if missing; each
    /// file is written atomically.
    ///
    /// # Errors
    /// [`ZooError::Io`] or [`pela::PelaError::Checkpoint`] when a file cannot be written.
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::bert::{BertConfig, BertFiles};
    ///
    /// let device = CpuDevice::default();
    /// let config = BertConfig::new(100, 32, 2, 4, 64, 16);
    /// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan(2.0))?;
    /// let folder = std::env::temp_dir().join("pela-zoo-doc-bert-export");
    /// config.export_hf(&student, &folder, None)?;
    ///
    /// let dense = BertFiles::open(&folder)?.load::<Cpu>(&device)?; // Hugging Face's keys
    /// # std::fs::remove_dir_all(&folder).ok();
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn export_hf<B: Backend>(
        &self,
        student: &BertLowRank<B>,
        folder: impl AsRef<Path>,
        tokenizer: Option<&BertTokenizer>,
    ) -> Result<(), ZooError> {
        let folder = folder.as_ref();
        let write = |name: &str, bytes: &[u8]| crate::fs::write_atomic(&folder.join(name), bytes);
        std::fs::create_dir_all(folder).map_err(|e| crate::fs::io(folder, e))?;
        pela::checkpoint::save_dense_renamed(
            student,
            folder.join("model.safetensors"),
            &[("format", "pt"), (EXPORT_KEY, "dense")],
            &HF_NAMES,
        )?;
        write("config.json", self.to_hf_json().as_bytes())?;
        let Some(tokenizer) = tokenizer else {
            return Ok(());
        };
        write("tokenizer.json", tokenizer.json())?;
        let json = |value: serde_json::Value| {
            serde_json::to_string_pretty(&value).expect("JSON values serialise") + "\n"
        };
        let max_length = tokenizer.max_length();
        write(
            "tokenizer_config.json",
            json(serde_json::json!({
                "tokenizer_class": "BertTokenizer",
                "model_max_length": max_length,
            }))
            .as_bytes(),
        )?;
        write(
            "modules.json",
            json(serde_json::json!([
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ]))
            .as_bytes(),
        )?;
        write(
            "sentence_bert_config.json",
            json(serde_json::json!({"max_seq_length": max_length, "do_lower_case": false}))
                .as_bytes(),
        )?;
        std::fs::create_dir_all(folder.join("1_Pooling")).map_err(|e| crate::fs::io(folder, e))?;
        write(
            "1_Pooling/config.json",
            json(serde_json::json!({
                "word_embedding_dimension": self.hidden_size,
                "pooling_mode_cls_token": false,
                "pooling_mode_mean_tokens": true,
                "pooling_mode_max_tokens": false,
                "pooling_mode_mean_sqrt_len_tokens": false,
            }))
            .as_bytes(),
        )
    }

    /// This architecture as Hugging Face's `config.json` of a `BertModel`.
    ///
    /// ```
    /// use pela_zoo::bert::BertConfig;
    ///
    /// let config = BertConfig::new(100, 32, 2, 4, 64, 16);
    /// assert_eq!(BertConfig::from_hf_json(&config.to_hf_json())?, config);
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn to_hf_json(&self) -> String {
        let config = serde_json::json!({
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.layer_norm_eps,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02,
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
            "torch_dtype": "float32",
        });
        serde_json::to_string_pretty(&config).expect("JSON values serialise") + "\n"
    }
}
