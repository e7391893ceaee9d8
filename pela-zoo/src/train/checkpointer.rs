//! Burn's checkpointer interface, written atomically and awaited.
//!
//! Burn's `FileCheckpointer` writes in place and its `AsyncCheckpointer` panics on an error
//! without telling the caller when a save is done. This one writes each record under a
//! temporary name, renames it into place, and reports every save (or its error) to a
//! [`Saves`] log the engine waits on before it commits the checkpoint in `state.json`.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use burn::prelude::*;
use burn::record::{FileRecorder, FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder};
use burn::train::checkpoint::{
    Checkpointer, CheckpointerError, CheckpointingAction, CheckpointingStrategy,
};
use burn::train::metric::store::EventStoreClient;

/// The recorder of every checkpoint file: named MessagePack, full precision.
pub(crate) type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The saves done so far: `(file name, checkpoint number, error)`.
#[derive(Debug, Default)]
pub(crate) struct Saves {
    done: Mutex<Vec<(String, usize, Option<String>)>>,
    changed: Condvar,
}

impl Saves {
    fn record(&self, name: &str, number: usize, error: Option<String>) {
        self.done
            .lock()
            .expect("no panic holds the lock")
            .push((name.to_string(), number, error));
        self.changed.notify_all();
    }

    /// Waits until `count` files of checkpoint `number` are written; their errors, if any.
    pub(crate) fn wait(&self, number: usize, count: usize) -> Result<(), String> {
        let mut done = self.done.lock().expect("no panic holds the lock");
        loop {
            let files: Vec<_> = done.iter().filter(|(_, n, _)| *n == number).collect();
            if files.len() >= count {
                let errors: Vec<String> = files
                    .iter()
                    .filter_map(|(name, _, e)| e.as_ref().map(|e| format!("{name}: {e}")))
                    .collect();
                done.retain(|(_, n, _)| *n != number);
                return if errors.is_empty() {
                    Ok(())
                } else {
                    Err(errors.join("; "))
                };
            }
            done = self.changed.wait(done).expect("no panic holds the lock");
        }
    }
}

/// Saves one kind of record (`model`, `optim` or `scheduler`) as `<dir>/<name>-<n>.mpk`.
pub(crate) struct AtomicCheckpointer {
    dir: PathBuf,
    name: &'static str,
    saves: Arc<Saves>,
}

impl AtomicCheckpointer {
    pub(crate) fn new(dir: PathBuf, name: &'static str, saves: Arc<Saves>) -> Self {
        Self { dir, name, saves }
    }

    /// Burn's asynchronous checkpointer over one of these.
    pub(crate) fn spawn<R: Record<B> + 'static, B: Backend>(
        dir: PathBuf,
        name: &'static str,
        saves: Arc<Saves>,
    ) -> burn::train::checkpoint::AsyncCheckpointer<R, B> {
        burn::train::checkpoint::AsyncCheckpointer::new(Self::new(dir, name, saves))
    }

    /// The file of checkpoint `number`, without its extension.
    pub(crate) fn path(dir: &std::path::Path, name: &str, number: usize) -> PathBuf {
        dir.join(format!("{name}-{number}"))
    }
}

impl<R: Record<B>, B: Backend> Checkpointer<R, B> for AtomicCheckpointer {
    fn save(&self, number: usize, record: R) -> Result<(), CheckpointerError> {
        let recorder = CheckpointRecorder::new();
        let path = Self::path(&self.dir, self.name, number);
        let partial = Self::path(&self.dir, &format!("{}.partial", self.name), number);
        let extension = <CheckpointRecorder as FileRecorder<B>>::file_extension();
        let result = std::fs::create_dir_all(&self.dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                Recorder::<B>::record(&recorder, record, partial.clone()).map_err(|e| e.to_string())
            })
            .and_then(|()| {
                // Data on the disk before the rename, the rename before `state.json` names it.
                let (partial, path) = (
                    partial.with_extension(extension),
                    path.with_extension(extension),
                );
                crate::fs::sync_file(&partial)
                    .and_then(|()| {
                        std::fs::rename(&partial, &path).map_err(|e| crate::fs::io(&path, e))
                    })
                    .and_then(|()| crate::fs::sync_folder(&path))
                    .map_err(|e| e.to_string())
            });
        // Errors go to the engine, which stops the run with them; Burn's thread would panic.
        self.saves.record(self.name, number, result.err());
        Ok(())
    }

    fn restore(&self, number: usize, device: &B::Device) -> Result<R, CheckpointerError> {
        Recorder::<B>::load(
            &CheckpointRecorder::new(),
            Self::path(&self.dir, self.name, number),
            device,
        )
        .map_err(CheckpointerError::RecorderError)
    }

    fn delete(&self, number: usize) -> Result<(), CheckpointerError> {
        let extension = <CheckpointRecorder as FileRecorder<B>>::file_extension();
        let path = Self::path(&self.dir, self.name, number).with_extension(extension);
        if path.exists() {
            std::fs::remove_file(&path).map_err(CheckpointerError::IOError)?;
        }
        Ok(())
    }
}

/// Saves every checkpoint asked for; the engine deletes the older one itself once the new one
/// is committed.
pub(crate) struct SaveEach;

impl CheckpointingStrategy for SaveEach {
    fn checkpointing(&mut self, _number: usize, _: &EventStoreClient) -> Vec<CheckpointingAction> {
        vec![CheckpointingAction::Save]
    }
}
