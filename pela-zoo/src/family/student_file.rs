//! Students as files that describe themselves: the weights in the authors' layout, the
//! architecture as JSON in the safetensors header, under the family's key.

use std::path::Path;

use burn::prelude::*;
use pela::PelaError;

use super::Family;
use crate::ZooError;

/// Writes `student` of `config` to `path`, the config and `extra` in the header.
pub(crate) fn save<F: Family, B: Backend>(
    config: &F,
    student: &F::Student<B>,
    path: &Path,
    extra: &[(&str, &str)],
) -> Result<(), ZooError> {
    let config = config.to_string();
    let mut header = vec![(F::HEADER_KEY, config.as_str())];
    header.extend_from_slice(extra);
    pela::checkpoint::save_student(student, path, &header)?;
    Ok(())
}

/// The config and the student of the file at `path`.
pub(crate) fn load<F: Family, B: Backend>(
    path: &Path,
    device: &B::Device,
) -> Result<(F, F::Student<B>), ZooError> {
    let config: F = read_config(path)?;
    let skeleton = config.init::<B>(device);
    let student = pela::checkpoint::load_student(&skeleton, path)?;
    Ok((config, student))
}

/// The config of family `F` saved in the header of the student file at `path`.
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file is unreadable or has no such config in its header
/// (a student of another family, or saved by other code); [`ZooError::InvalidConfig`] when the
/// config is invalid or too large ([`Family::validate`], checked here so that no header reaches
/// `init` unchecked).
pub fn read_config<F: Family>(path: &Path) -> Result<F, ZooError> {
    let (key, family) = (F::HEADER_KEY, F::NAME);
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
    let config: F = serde_json::from_str(json)
        .map_err(|e| no_config(format!("`{key}` is not a {family} config: {e}")))?;
    config.validate().map_err(|e| match e {
        ZooError::InvalidConfig { reason } => ZooError::InvalidConfig {
            reason: format!("`{}`'s header: {reason}", path.display()),
        },
        other => other,
    })?;
    Ok(config)
}
