//! A table of families as one type: what every lookup and every command needs of it.

use std::fmt::Debug;
use std::path::Path;

use pela::RankPlan;

use super::Family;
use crate::ZooError;

/// A table of model families, declared with [`families!`](crate::families): one enum variant a
/// family. The zoo's own table is [`Architecture`](super::Architecture); a crate with a family
/// of its own declares a table with one more line, and the `pela` command
/// ([`pela_zoo::cli`](crate::cli), with the `cli` feature) runs on it.
///
/// ```
/// use pela_zoo::family::{Architecture, Zoo};
///
/// let deit = Architecture::preset("deit_tiny_patch16_224")?;
/// assert_eq!((deit.family(), deit.pela_plan().ratio), ("ViT", 2.0));
/// assert!(Architecture::preset_names().contains(&"all-MiniLM-L6-v2"));
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
pub trait Zoo: Clone + Debug + Sized + 'static {
    /// Every preset name, of every family.
    fn preset_names() -> Vec<&'static str>;

    /// The preset called `name`, of any family.
    ///
    /// # Errors
    /// [`ZooError::UnknownModel`], with the closest name of all families.
    fn preset(name: &str) -> Result<Self, ZooError>;

    /// The model of a JSON config, of the family of whose [`JSON_FIELDS`](Family::JSON_FIELDS)
    /// it has the most. Fields with a default may be left out.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`] naming the missing or malformed field, or what each family
    /// needs when the fields fit none or several.
    fn from_json(text: &str) -> Result<Self, ZooError>;

    /// The model of a folder of files, by the first family that reads folders
    /// ([`Family::from_folder`]; in the zoo, BERT reads a Hugging Face model folder).
    ///
    /// # Errors
    /// That family's error, or [`ZooError::InvalidConfig`] when no family reads folders.
    fn from_folder(path: &Path) -> Result<Self, ZooError>;

    /// The model saved in the header of a student file (written by [`Family::save_student`]).
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file is unreadable or has no config of the
    /// table's families in its header.
    fn of_student(path: &Path) -> Result<Self, ZooError>;

    /// The family's name: `ViT`, `Swin`, `BERT`, `ALBEF`, …
    fn family(&self) -> &'static str;

    /// The authors' PELA plan of the family ([`Family::pela_plan`]).
    fn pela_plan(&self) -> RankPlan;

    /// Whether a student of `other` can stand for a student of `self`: the same family and
    /// [`Family::same_architecture`].
    fn same_architecture(&self, other: &Self) -> bool;

    /// The config, when this is a model of family `F`.
    fn config<F: Family>(&self) -> Option<&F>;

    /// Runs `visitor` on the config of this family.
    fn visit<V: Visit>(self, visitor: V) -> V::Output;
}

/// A command written once for every family: [`Zoo::visit`] calls it with the config of the
/// family at hand.
///
/// ```
/// use pela::LowRank;
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::family::{Architecture, Family, Visit, Zoo};
///
/// /// The parameters of a family's student under its authors' plan.
/// struct StudentParams;
/// impl Visit for StudentParams {
///     type Output = Result<usize, pela::PelaError>;
///     fn visit<F: Family>(self, config: F) -> Self::Output {
///         let report = config.init::<Cpu>(&CpuDevice::default()).preview(&config.pela_plan())?;
///         Ok(report.totals().params_after)
///     }
/// }
/// let tiny = Architecture::preset("deit_tiny_patch16_224")?;
/// assert!(tiny.visit(StudentParams)? < 5_717_416); // DeiT-Tiny has 5,717,416
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Visit {
    /// What the command gives.
    type Output;
    /// Runs the command on `config`.
    fn visit<F: Family>(self, config: F) -> Self::Output;
}

/// What the code [`families!`](crate::families) generates calls: the parts of a table's
/// lookups that do not depend on its families. Not a public API.
#[doc(hidden)]
pub mod __private {
    use std::path::Path;

    use pela::PelaError;

    use crate::ZooError;

    pub use crate::family::student_file::read_config;

    /// The error for a preset name no family knows.
    pub fn unknown_model(name: &str, known: Vec<&'static str>) -> ZooError {
        ZooError::unknown_model(name, known.into_iter())
    }

    /// The name of the family (of `families`, each with its own JSON fields) whose fields the
    /// JSON object `text` has the most of.
    pub fn family_of_json(
        text: &str,
        families: &[(&'static str, &[&str])],
    ) -> Result<&'static str, ZooError> {
        let fields = crate::family::json::object(text)?;
        // Each family by how many of its own fields the text has: the best is read, so that
        // a config missing one field is told which.
        let present = |wanted: &[&str]| wanted.iter().filter(|f| fields.contains_key(**f)).count();
        let scores: Vec<(&'static str, usize)> = families
            .iter()
            .map(|(name, wanted)| (*name, present(wanted)))
            .collect();
        let best = scores.iter().map(|(_, score)| *score).max().unwrap_or(0);
        let matching: Vec<&'static str> = scores
            .iter()
            .filter(|(_, score)| best > 0 && *score == best)
            .map(|(name, _)| *name)
            .collect();
        let needs = || {
            families
                .iter()
                .map(|(name, wanted)| {
                    let wanted: Vec<String> = wanted.iter().map(|f| format!("`{f}`")).collect();
                    format!("{name} configs have {}", wanted.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        match matching.as_slice() {
            [name] => Ok(name),
            [] => Err(ZooError::InvalidConfig {
                reason: format!("the fields fit no model family: {}", needs()),
            }),
            several => Err(ZooError::InvalidConfig {
                reason: format!(
                    "the fields fit several model families ({}): {}",
                    several.join(", "),
                    needs()
                ),
            }),
        }
    }

    /// The error for a student file whose header has none of the families' `keys`.
    pub fn no_family_in_header(path: &Path, keys: &[&str]) -> ZooError {
        let keys: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
        PelaError::Checkpoint {
            path: path.display().to_string(),
            reason: format!(
                "the header names no zoo architecture ({}): is it a student written by \
                 `pela compress` or `pela distill`?",
                keys.join(", ")
            ),
        }
        .into()
    }

    /// The error for a folder that no family reads.
    pub fn no_family_reads_folders(path: &Path, families: &[&str]) -> ZooError {
        ZooError::InvalidConfig {
            reason: format!(
                "{}: a folder, and none of the families ({}) reads a model from a folder; give \
                 a preset name or a config .json",
                path.display(),
                families.join(", ")
            ),
        }
    }

    /// The header of a student file.
    pub fn header(path: &Path) -> Result<std::collections::HashMap<String, String>, ZooError> {
        Ok(pela::checkpoint::metadata(path)?)
    }
}
