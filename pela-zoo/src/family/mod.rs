//! Model families: what the `pela` command, the engine and a user need of a kind of model,
//! stated once.
//!
//! A family (ViT, Swin, BERT, ALBEF, or yours) is its config type implementing [`Family`]:
//! its name, the header key of its student files, its presets, its JSON form, `init`,
//! `load_checkpoint`, the authors' plan and objective and its FLOPs. Saving and loading
//! students is written once here, as provided methods, so a family gets it by implementing
//! the trait. Image classifiers also implement [`ImageFamily`] (their input and a new head).
//!
//! The zoo's families are listed once, in the table of [`Architecture`] (declared with
//! [`families!`](crate::families)): one line a family, with the kind of task it is distilled
//! and evaluated on ([`kind`]). Everything that reads a model by name, by JSON config, by
//! folder or by student file goes through a table ([`Zoo`]), and every command is written
//! once, generic over the family ([`Visit`]) or over the families of a kind ([`VisitKind`]). This is timm's `default_cfgs` idea (a table of presets per family)
//! with Rust's traits in place of Python's registry, so that a family that lacks something a
//! command needs is a compile error naming the trait, not a run-time surprise.
//!
//! Adding a family is one folder (its modules, config, import and its `impl Family`) and one
//! line in a table: the zoo's, or a table of your own crate, on which the `pela` command runs
//! as well ([`cli::main`](crate::cli::main)). The book's "Add your own family" chapter walks
//! through it.
//!
//! ```
//! use pela_zoo::family::{Architecture, Family, Zoo};
//! use pela_zoo::vit::VitConfig;
//!
//! let deit = Architecture::preset("deit_tiny_patch16_224")?;
//! assert_eq!(deit.family(), "ViT");
//! let config = VitConfig::deit_tiny_patch16_224();
//! assert_eq!(<VitConfig as Family>::NAME, "ViT");
//! assert_eq!(config.pela_plan().ratio, 2.0);
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```

pub mod bounds;
mod families;
mod flops;
mod image;
mod json;
pub mod kind;
mod student_file;
mod table;
mod zoo;

use std::fmt::{Debug, Display};
use std::path::Path;

use burn::prelude::*;
use pela::{CompressionReport, LowRank, LowRankStudent, PelaObjectiveConfig, RankPlan};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use flops::{Flops, FlopsPer};
pub use image::{ImageFamily, ImageShape, new_head};
pub(crate) use json::with_defaults;
pub use kind::VisitKind;
pub(crate) use student_file::save as save_student_with;
pub use table::Architecture;
#[doc(hidden)]
pub use zoo::__private;
pub use zoo::{Visit, Zoo};

use crate::ZooError;

/// A family of models of the zoo, implemented by its config type.
///
/// The required items say what the family is; the provided ones (`preset`, the student files)
/// are written once for every family. A student file is a safetensors file in the authors'
/// layout ([`pela::checkpoint`]) with the config as JSON under [`HEADER_KEY`](Self::HEADER_KEY)
/// in its header, so that [`load_student`](Self::load_student) needs nothing but the file.
///
/// ```
/// use pela::LowRank;
/// use pela_zoo::Family;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::vit::VitConfig;
///
/// let device = CpuDevice::default();
/// let config = VitConfig::new(32, 8, 10, 64, 2, 4);
/// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan())?;
/// let file = std::env::temp_dir().join("pela-zoo-doc-family-student.safetensors");
/// config.save_student(&student, &file)?;
///
/// let (loaded_config, loaded) = VitConfig::load_student::<Cpu>(&file, &device)?;
/// assert_eq!(loaded_config, config);
/// assert_eq!(loaded.blocks[0].mlp.fc1.rank(), student.blocks[0].mlp.fc1.rank());
/// # std::fs::remove_file(&file).ok();
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
pub trait Family:
    Clone + Debug + Display + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The family's name in messages: `ViT`, `Swin`, `BERT`, `ALBEF`.
    const NAME: &'static str;
    /// The key of the config in a student file's header, e.g. `pela.vit_config`.
    const HEADER_KEY: &'static str;
    /// The fields that a JSON config of this family has and no other family's has: how
    /// [`Zoo::from_json`] tells the families apart.
    const JSON_FIELDS: &'static [&'static str];

    /// The dense model (the teacher).
    type Model<B: Backend>: LowRank<B, Twin = Self::Student<B>> + Sync + 'static;
    /// Its low-rank student (the model's `#[derive(LowRank)]` twin).
    type Student<B: Backend>: LowRankStudent<B> + Sync + 'static;

    /// The names [`preset`](Self::preset) knows.
    fn preset_names() -> Vec<&'static str>;

    /// The preset called `name`, `None` when the family has none of that name.
    fn preset(name: &str) -> Option<Self>;

    /// The config of a JSON text (fields with a default may be left out).
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the missing or malformed field.
    fn from_json(text: &str) -> Result<Self, ZooError>;

    /// The config of a folder of model files, `None` when the family does not read folders
    /// (the default). BERT reads a Hugging Face model folder.
    fn from_folder(path: &Path) -> Option<Result<Self, ZooError>> {
        let _ = path;
        None
    }

    /// Checks the sizes fit together.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the field and the fix.
    fn validate(&self) -> Result<(), ZooError>;

    /// A model of this architecture with random weights.
    fn init<B: Backend>(&self, device: &B::Device) -> Self::Model<B>;

    /// The model with the weights of the checkpoint at `path`, loaded strictly.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`]; [`pela::PelaError::Checkpoint`] for a missing or unreadable
    /// file; [`pela::PelaError::CheckpointMismatch`] naming every unused, missing or
    /// mis-shaped key.
    fn load_checkpoint<B: Backend>(
        &self,
        path: &Path,
        device: &B::Device,
    ) -> Result<Self::Model<B>, ZooError>;

    /// The authors' PELA plan of the family (which layers, at which κ).
    fn pela_plan(&self) -> RankPlan;

    /// The authors' distillation objective of the family.
    fn pela_objective(&self) -> PelaObjectiveConfig;

    /// The FLOPs of one input through the teacher and the student `report` describes.
    fn flops(&self, report: &CompressionReport) -> Flops;

    /// The rows the `Linear` at `path` multiplies per input of [`flops`](Self::flops) (an
    /// image's tokens, or 1 for a text family's token): what one of its parameters costs in a
    /// budget of multiply-adds ([`pela::Allocator::layer_rows`]).
    fn layer_rows(&self, path: &str) -> usize;

    /// The training settings a run of this family starts from, before any flag: the engine's
    /// ([`TrainingConfig::new`](crate::train::TrainingConfig::new)) by default.
    fn training_defaults(&self) -> crate::train::TrainingConfig {
        crate::train::TrainingConfig::new()
    }

    /// Lines a report of this family adds below its table (ALBEF: the count with the momentum
    /// copy of pre-training); none by default.
    fn report_notes(&self, report: &CompressionReport) -> Vec<String> {
        let _ = report;
        Vec::new()
    }

    /// Whether a student of `other` can stand for a student of `self`: the same architecture
    /// (BERT ignores whether a pooler is present, which comes with the weights).
    fn same_architecture(&self, other: &Self) -> bool {
        self == other
    }

    /// Saves a student of this architecture to `path`, with the config in the file's header.
    /// The write is atomic.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file cannot be written.
    fn save_student<B: Backend>(
        &self,
        student: &Self::Student<B>,
        path: impl AsRef<Path>,
    ) -> Result<(), ZooError> {
        student_file::save(self, student, path.as_ref(), &[])
    }

    /// Saves a student multiplied out to a dense checkpoint of the teacher's layout (loadable
    /// with [`load_checkpoint`](Self::load_checkpoint) and by the reference code), with the
    /// config in the header. The write is atomic.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file cannot be written.
    fn save_dense<B: Backend>(
        &self,
        student: &Self::Student<B>,
        path: impl AsRef<Path>,
    ) -> Result<(), ZooError> {
        let config = self.to_string();
        pela::checkpoint::save_dense(student, path, &[(Self::HEADER_KEY, &config)])?;
        Ok(())
    }

    /// Loads a student saved by [`save_student`](Self::save_student), and its config.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file is unreadable or its header has no config
    /// of this family (a student of another family, or saved by other code: load it with
    /// [`pela::checkpoint::load_student`] and the teacher's architecture);
    /// [`ZooError::InvalidConfig`] for a config whose sizes do not fit;
    /// [`pela::PelaError::CheckpointMismatch`] when its tensors do not fit that config.
    fn load_student<B: Backend>(
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<(Self, Self::Student<B>), ZooError> {
        student_file::load(path.as_ref(), device)
    }
}

/// The objective of the authors' scripts: `L_fd` weight `alpha`, `L_rwp` weight `beta` and
/// margin `epsilon`.
pub(crate) fn authors_objective(alpha: f64, beta: f64, epsilon: f64) -> PelaObjectiveConfig {
    PelaObjectiveConfig::new()
        .with_alpha(alpha)
        .with_beta(beta)
        .with_weight_perturbation(pela::WeightPerturbationConfig::new().with_epsilon(epsilon))
}
