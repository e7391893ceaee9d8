//! The one error type of `pela-zoo`.

use std::path::Path;
use std::sync::Arc;

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
#[derive(Debug, Error, Clone)]
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

    /// A file or folder that the system could not read or write.
    #[error("`{path}`: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The system's error.
        #[source]
        source: Arc<std::io::Error>,
    },

    /// A file or folder that is missing, corrupt or not of the kind expected.
    #[error("`{path}`: {reason}")]
    File {
        /// The file or folder.
        path: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// A training run into a folder that already holds a checkpoint, without resuming it.
    #[error(
        "`{run_dir}`: the run folder already holds a checkpoint; resume it, or train into \
         another folder"
    )]
    RunHasCheckpoint {
        /// The run folder.
        run_dir: String,
    },

    /// A resumed training run whose folder holds no checkpoint.
    #[error("`{run_dir}`: no checkpoint to resume from; start the run without resuming")]
    NothingToResume {
        /// The run folder.
        run_dir: String,
    },

    /// A resumed training run given other settings, data, model or plan than it was started
    /// with (the data position and the optimizer state would not fit).
    #[error(
        "`{run_dir}`: --resume with another run than the one started there ({file}: {}); \
         resume with the same flags and data, or start a new run folder",
        differences.join(", ")
    )]
    ResumeMismatch {
        /// The run folder.
        run_dir: String,
        /// The file of the run folder that differs (`config.json`, `plan.json`, …).
        file: String,
        /// Each field that differs, `field: saved → now`.
        differences: Vec<String>,
    },

    /// A training run stopped at an item it could not read (after the current step, with a
    /// checkpoint).
    #[error(
        "{error}; the run stopped with a checkpoint in `{run_dir}` ({count} unreadable item(s) \
         so far): fix or remove the file and run the same command with --resume, or let the \
         run skip such items (--skip-unreadable)"
    )]
    UnreadableItem {
        /// The first item's error, naming its file.
        error: Box<ZooError>,
        /// The items that could not be read.
        count: usize,
        /// The run folder.
        run_dir: String,
    },

    /// A training task that cannot train the model or the settings it is given.
    #[error("{task}: {reason}")]
    Task {
        /// The task.
        task: &'static str,
        /// What does not fit, and the fix.
        reason: String,
    },

    /// An error of the `pela` library: a rank plan, a conversion, a checkpoint.
    #[error(transparent)]
    Pela(#[from] PelaError),
}

impl ZooError {
    /// [`ZooError::Io`] for the system's `error` on `path`.
    ///
    /// ```
    /// let error = std::fs::read("/no/such/file").map_err(|e| pela_zoo::ZooError::io("/no/such/file", e));
    /// let error = error.unwrap_err();
    /// assert!(error.to_string().starts_with("`/no/such/file`: "));
    /// assert!(std::error::Error::source(&error).is_some());
    /// ```
    pub fn io(path: impl AsRef<Path>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source: Arc::new(error),
        }
    }

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
