//! The one error type of `pela-zoo`.

use pela::PelaError;
use thiserror::Error;

/// Everything that can go wrong in the zoo on user input; each message names the model,
/// field or file at fault and the fix.
///
/// ```
/// use pela_zoo::vit::VitConfig;
///
/// let error = VitConfig::new(224, 15, 1000, 768, 12, 12).validate().unwrap_err();
/// assert!(error.to_string().contains("`patch_size` 15 does not divide `image_size` 224"));
/// ```
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ZooError {
    /// A model config whose sizes do not fit together.
    #[error("invalid model config: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A model name the zoo does not know.
    #[error("unknown model `{name}`{}; known models: {}",
        suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        known.join(", "))]
    UnknownModel {
        /// The name given.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
        /// Every known name.
        known: Vec<String>,
    },

    /// Data that cannot be used: an empty folder, a malformed file, labels that do not fit.
    #[error("data `{source_name}`: {reason}")]
    InvalidData {
        /// The dataset, file or folder.
        source_name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A file or folder that cannot be read or written.
    #[error("`{path}`: {reason}")]
    Io {
        /// The file or folder.
        path: String,
        /// What went wrong.
        reason: String,
    },

    /// An error of the `pela` library: a rank plan, a conversion, a checkpoint.
    #[error(transparent)]
    Pela(#[from] PelaError),
}

impl ZooError {
    /// [`ZooError::UnknownModel`] for `name`, suggesting the closest of `known`.
    pub(crate) fn unknown_model<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Self {
        let known: Vec<String> = known.map(str::to_string).collect();
        let suggestion = known
            .iter()
            .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
            .filter(|(distance, _)| *distance <= 3)
            .min()
            .map(|(_, candidate)| candidate.clone());
        Self::UnknownModel {
            name: name.to_string(),
            suggestion,
            known,
        }
    }
}
