//! Students as files that describe themselves: the weights in the authors' layout, the
//! architecture as JSON in the safetensors header, under a key of each family.

use std::path::Path;

use pela::PelaError;
use serde::de::DeserializeOwned;

use crate::ZooError;

/// The architecture saved under `key` in the header of the student file at `path`.
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file is unreadable or has no such config in its header
/// (a student of another family, or saved by other code).
pub(crate) fn read_config<C: DeserializeOwned>(
    path: &Path,
    key: &str,
    family: &str,
) -> Result<C, ZooError> {
    let no_config = |reason: String| PelaError::Checkpoint {
        path: path.display().to_string(),
        reason,
    };
    let header = pela::checkpoint::metadata(path)?;
    let json = header.get(key).ok_or_else(|| {
        let found: Vec<&str> = header
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with("pela."))
            .collect();
        no_config(format!(
            "the header has no `{key}` (not a {family} student{}); load it with \
             `pela::checkpoint::load_student` and the teacher's architecture",
            if found.is_empty() {
                String::new()
            } else {
                format!("; it has {}", found.join(", "))
            }
        ))
    })?;
    Ok(serde_json::from_str(json)
        .map_err(|e| no_config(format!("`{key}` is not a {family} config: {e}")))?)
}
