//! A run folder: the configuration, the metrics, and the checkpoint a run resumes from.

use std::collections::{BTreeMap, BTreeSet};
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

    /// Records `json` (a JSON text) as the file `name` that describes the run (its settings,
    /// model, plan, data): written when the run starts; when the folder holds a checkpoint
    /// (a resumed run), compared with the saved file instead, and never rewritten, so that a
    /// run resumes only with what it was started with.
    ///
    /// # Errors
    /// [`ZooError::ResumeMismatch`] naming the file and every field that differs;
    /// [`ZooError::Io`].
    ///
    /// ```
    /// use pela_zoo::train::RunDir;
    ///
    /// let run = RunDir::new(std::env::temp_dir().join("pela-zoo-doc-record"))?;
    /// run.record("plan.json", r#"{"ratio": 2.0}"#)?; // no checkpoint yet: written
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn record(&self, name: &str, json: &str) -> Result<(), ZooError> {
        self.record_except(name, json, &[])
    }

    /// [`record`](Self::record), the top-level fields `free` allowed to change on a resume.
    pub(crate) fn record_except(
        &self,
        name: &str,
        json: &str,
        free: &[&str],
    ) -> Result<(), ZooError> {
        let path = self.root.join(name);
        if !self.has_checkpoint() || !path.is_file() {
            return self.write(name, json);
        }
        let saved = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        let differences = differences(&saved, json, free);
        if differences.is_empty() {
            return Ok(());
        }
        Err(ZooError::ResumeMismatch {
            run_dir: self.root.display().to_string(),
            file: name.to_string(),
            differences,
        })
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

/// The fields in which the JSON texts `saved` and `now` differ, as `field: saved → now`,
/// leaving out the top-level fields `free`; texts that are not JSON are compared whole.
fn differences(saved: &str, now: &str, free: &[&str]) -> Vec<String> {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    let (Some(saved_json), Some(now_json)) = (parse(saved), parse(now)) else {
        return if saved.trim() == now.trim() {
            Vec::new()
        } else {
            vec![format!("{} → {}", saved.trim(), now.trim())]
        };
    };
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &saved_json, &mut before);
    flatten("", &now_json, &mut after);
    let fields: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let none = "(none)".to_string();
    fields
        .into_iter()
        .filter(|field| !free.contains(&field.split('.').next().unwrap_or_default()))
        .filter_map(|field| {
            let (old, new) = (before.get(field), after.get(field));
            (old != new).then(|| {
                let show = |v: Option<&String>| v.unwrap_or(&none).clone();
                format!("`{field}`: {} → {}", show(old), show(new))
            })
        })
        .collect()
}

/// `value`'s leaves as `(dotted path, JSON text)`.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                flatten(&join(key), value, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                flatten(&join(&i.to_string()), value, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.to_string());
        }
    }
}
