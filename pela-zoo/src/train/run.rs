//! A run folder: the configuration, the metrics log and the checkpoint of a training run.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use super::{EpochMetrics, Running};
use crate::ZooError;

/// Where a run is: the epoch and batch it continues from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: usize,
    /// The next batch of the current epoch (0 at an epoch boundary).
    pub batch: usize,
    /// Optimizer steps taken.
    pub step: usize,
    /// The sums of the epoch in progress.
    pub running: Running,
    /// The metrics of the completed epochs.
    pub history: Vec<EpochMetrics>,
}

/// A run folder:
///
/// | file | what |
/// |---|---|
/// | `config.json` | the settings of the run |
/// | `metrics.jsonl` | one line of [`EpochMetrics`] an epoch |
/// | `checkpoint/{model,optim}.mpk`, `checkpoint/state.json` | the latest checkpoint: model, optimizer state and where the run is (the teacher of a distillation is not in it) |
///
/// A checkpoint is written to `checkpoint.partial/` and renamed into place, so an interrupted
/// write leaves the previous one whole.
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

    /// The folder of the latest checkpoint.
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
        let path = self.root.join(name);
        let partial = self.root.join(format!("{name}.partial"));
        std::fs::write(&partial, text).map_err(|e| io(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| io(&path, e))
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

    /// Writes the checkpoint: model, optimizer state and run state.
    pub(crate) fn save<B, M, O>(
        &self,
        model: &M,
        optim: &O,
        state: &TrainState,
    ) -> Result<(), ZooError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: Optimizer<M, B>,
    {
        let partial = self.root.join("checkpoint.partial");
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|e| io(&partial, e))?;
        }
        std::fs::create_dir_all(&partial).map_err(|e| io(&partial, e))?;
        let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        let failed = |e: burn::record::RecorderError| io_text(&partial, e.to_string());
        model
            .clone()
            .save_file(partial.join("model"), &recorder)
            .map_err(failed)?;
        Recorder::<B>::record(&recorder, optim.to_record(), partial.join("optim"))
            .map_err(failed)?;
        let json = serde_json::to_string_pretty(state).expect("the state is plain data");
        std::fs::write(partial.join("state.json"), json).map_err(|e| io(&partial, e))?;
        let current = self.checkpoint();
        let old = self.root.join("checkpoint.old");
        if current.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
            }
            std::fs::rename(&current, &old).map_err(|e| io(&current, e))?;
        }
        std::fs::rename(&partial, &current).map_err(|e| io(&current, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        }
        Ok(())
    }

    /// Reads the checkpoint into `model` and `optim`.
    pub(crate) fn load<B, M, O>(
        &self,
        model: M,
        optim: O,
        device: &B::Device,
    ) -> Result<(M, O, TrainState), ZooError>
    where
        B: AutodiffBackend,
        M: AutodiffModule<B>,
        O: Optimizer<M, B>,
    {
        let dir = self.checkpoint();
        let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        let failed = |e: burn::record::RecorderError| {
            io_text(
                &dir,
                format!("{e}; was it written by a run of another model or plan?"),
            )
        };
        let model = model
            .load_file(dir.join("model"), &recorder, device)
            .map_err(failed)?;
        let record = Recorder::<B>::load(&recorder, dir.join("optim"), device).map_err(failed)?;
        let optim = optim.load_record(record);
        let path = dir.join("state.json");
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let state = serde_json::from_str(&text).map_err(|e| io_text(&path, e.to_string()))?;
        Ok((model, optim, state))
    }
}

fn io(path: &Path, error: std::io::Error) -> ZooError {
    io_text(path, error.to_string())
}

fn io_text(path: &Path, reason: String) -> ZooError {
    ZooError::Io {
        path: path.display().to_string(),
        reason,
    }
}
