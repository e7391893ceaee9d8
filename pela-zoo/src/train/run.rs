//! A run folder: the configuration, the metrics, and the checkpoint a run resumes from.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::EpochMetrics;
use crate::ZooError;
use crate::fs::{file_error, io, write_atomic};

/// Where a run is: what a resumed run continues from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: usize,
    /// The next batch of the epoch in progress (0 at an epoch boundary).
    pub batch: usize,
    /// The number of the checkpoint files (`checkpoint/{model,optim,scheduler}-<n>.mpk`) this
    /// state goes with.
    pub checkpoint: usize,
    /// The metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
}

/// A run folder:
///
/// | file | what |
/// |---|---|
/// | `config.json` | the training settings |
/// | `metrics.jsonl` | one line of [`EpochMetrics`] an epoch |
/// | `checkpoint/{model,optim,scheduler}-<n>.mpk` | the latest checkpoint, through Burn's checkpointer: model, optimizer state, schedule (the teacher of a distillation is not in it) |
/// | `checkpoint/state.json` | where the run is ([`TrainState`]), naming the checkpoint `n` it goes with |
/// | `train/`, `valid/`, `experiment.log` | Burn's metric logs, one line an iteration |
///
/// Every file is written under a temporary name and renamed into place, and `state.json`
/// last, so an interrupted write leaves the previous checkpoint whole.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run folder at `root`, created if needed.
    ///
    /// # Errors
    /// [`ZooError::Io`] when it cannot be created.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, ZooError> {
        let root = root.as_ref().to_path_buf();
        std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
        Ok(Self { root })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of the checkpoints.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }

    /// Whether a checkpoint was written.
    pub fn has_checkpoint(&self) -> bool {
        self.checkpoint().join("state.json").is_file()
    }

    /// Writes `text` to `name` in the folder, atomically.
    ///
    /// # Errors
    /// [`ZooError::Io`].
    pub fn write(&self, name: &str, text: &str) -> Result<(), ZooError> {
        write_atomic(&self.root.join(name), text.as_bytes())
    }

    /// Appends one epoch's metrics to `metrics.jsonl`.
    pub(crate) fn log(&self, metrics: &EpochMetrics) -> Result<(), ZooError> {
        let path = self.root.join("metrics.jsonl");
        let line = serde_json::to_string(metrics).expect("metrics are plain data");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| writeln!(file, "{line}"))
            .map_err(|e| io(&path, e))
    }

    /// The saved state, if any.
    ///
    /// # Errors
    /// [`ZooError::Io`] for a state file that cannot be read.
    pub fn state(&self) -> Result<Option<TrainState>, ZooError> {
        let path = self.checkpoint().join("state.json");
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| file_error(&path, e.to_string()))
    }

    /// Writes the state, which commits the checkpoint files it names.
    pub(crate) fn save_state(&self, state: &TrainState) -> Result<(), ZooError> {
        let json = serde_json::to_string_pretty(state).expect("the state is plain data");
        write_atomic(&self.checkpoint().join("state.json"), json.as_bytes())
    }
}
