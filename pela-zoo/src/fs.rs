//! Files written so that a crash never leaves half of one: the one atomic writer of the zoo.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ZooError;

/// Writes `bytes` to `path` atomically: into `path.partial`, flushed and synced to the disk,
/// then renamed over `path`. A reader sees the old file or the whole new one, never a part.
///
/// # Errors
/// [`ZooError::Io`] naming the file when it cannot be written or renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ZooError> {
    let partial = partial_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&partial)?;
        file.write_all(bytes)?;
        file.flush()?;
        file.sync_all()
    };
    write().map_err(|e| {
        std::fs::remove_file(&partial).ok();
        io(&partial, e)
    })?;
    std::fs::rename(&partial, path).map_err(|e| io(path, e))?;
    sync_folder(path)
}

/// Syncs the file at `path` to the disk (its data, before a rename commits it).
///
/// # Errors
/// [`ZooError::Io`] naming the file.
pub(crate) fn sync_file(path: &Path) -> Result<(), ZooError> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|e| io(path, e))
}

/// Syncs the folder holding `path` (the rename that put `path` there), where the system
/// allows opening a folder (not on Windows, which commits renames itself).
///
/// # Errors
/// [`ZooError::Io`] naming the folder.
pub(crate) fn sync_folder(path: &Path) -> Result<(), ZooError> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if cfg!(unix) {
        std::fs::File::open(folder)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| io(folder, e))?;
    }
    Ok(())
}

/// Where [`write_atomic`] writes `path` before renaming it.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    PathBuf::from(partial)
}

/// [`ZooError::Io`] for `error` on `path`.
pub(crate) fn io(path: &Path, error: std::io::Error) -> ZooError {
    ZooError::io(path, error)
}

/// [`ZooError::File`] for `path`, with `reason`.
pub(crate) fn file_error(path: &Path, reason: String) -> ZooError {
    ZooError::File {
        path: path.display().to_string(),
        reason,
    }
}
