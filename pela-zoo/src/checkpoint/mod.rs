//! Reading PyTorch checkpoints (safetensors or pickled state dicts) into the zoo's models:
//! shared by every family's loader.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::DType;
use burn_store::{
    KeyRemapper, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    SafetensorsStore, TensorSnapshot,
};
use pela::PelaError;
use pela::checkpoint::{CastFloats, check_applied};

mod pickle;
mod pth;

/// The file formats a checkpoint can come in, told apart by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// `.safetensors` (timm, Hugging Face).
    Safetensors,
    /// `.pth`, `.pt`, `.bin`: a pickled PyTorch state dict (Facebook's and Microsoft's files).
    Pytorch,
}

impl CheckpointFormat {
    /// The format of `path`, from its extension.
    ///
    /// # Errors
    /// [`PelaError::Checkpoint`] for another extension.
    ///
    /// ```
    /// use pela_zoo::checkpoint::CheckpointFormat;
    ///
    /// assert_eq!(CheckpointFormat::of("deit.pth".as_ref())?, CheckpointFormat::Pytorch);
    /// assert!(CheckpointFormat::of("deit.onnx".as_ref()).is_err());
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn of(path: &Path) -> Result<Self, PelaError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => Ok(Self::Safetensors),
            Some("pth" | "pt" | "bin") => Ok(Self::Pytorch),
            _ => Err(PelaError::Checkpoint {
                path: path.display().to_string(),
                reason: "unknown format; expected a `.safetensors` file or a PyTorch \
                         `.pth`/`.pt`/`.bin` state dict"
                    .to_string(),
            }),
        }
    }
}

/// Every tensor of the checkpoint at `path`, its keys renamed by `key_map` (values are read
/// lazily, when applied).
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file is missing, of another format, unreadable or
/// damaged (for a `.pth`: see the `pth` module), or when two of its keys become one by `key_map`.
pub(crate) fn read_snapshots(
    path: &Path,
    key_map: KeyRemapper,
) -> Result<Vec<TensorSnapshot>, PelaError> {
    let format = CheckpointFormat::of(path)?;
    let unreadable = |reason: String| PelaError::Checkpoint {
        path: path.display().to_string(),
        reason,
    };
    if !path.is_file() {
        return Err(unreadable("no such file".to_string()));
    }
    let snapshots: Vec<TensorSnapshot> = match format {
        CheckpointFormat::Safetensors => SafetensorsStore::from_file(path)
            .get_all_snapshots()
            .map(|all| all.values().cloned().collect())
            .map_err(|e| unreadable(e.to_string()))?,
        CheckpointFormat::Pytorch => pth::read(path).map_err(unreadable)?,
    };
    let (snapshots, names) = key_map.remap(snapshots);
    let mut sources = std::collections::BTreeMap::new();
    for (new, original) in names {
        if let Some(first) = sources.insert(new.clone(), original.clone()) {
            return Err(unreadable(format!(
                "`{first}` and `{original}` both become `{new}` once the prefixes are removed; \
                 keep one of them (a file with a model saved twice?)"
            )));
        }
    }
    Ok(snapshots)
}

/// Loads the checkpoint at `path` (`.safetensors`, or a PyTorch `.pth`/`.pt`/`.bin` state dict;
/// PyTorch layouts, any float type) into `model`, strictly, its keys renamed first by
/// `renames`, `(regex, replacement)` pairs applied in order: the loader of a model family of
/// your own ([`Family::load_checkpoint`](crate::Family::load_checkpoint)).
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file is missing, of another format or unreadable;
/// [`PelaError::CheckpointMismatch`] naming every unused, missing or mis-shaped key.
///
/// # Panics
/// When a pattern of `renames` is not a valid regex.
///
/// ```
/// use burn::nn::LinearConfig;
/// use pela_zoo::backend::{Cpu, CpuDevice};
///
/// let mut layer = LinearConfig::new(4, 2).init::<Cpu>(&CpuDevice::default());
/// let error = pela_zoo::checkpoint::load_strict(&mut layer, "missing.safetensors".as_ref(), &[])
///     .unwrap_err();
/// assert!(error.to_string().contains("no such file"));
/// ```
pub fn load_strict<B: Backend, M: ModuleSnapshot<B>>(
    model: &mut M,
    path: &Path,
    renames: &[(&str, &str)],
) -> Result<(), PelaError> {
    let snapshots = read_snapshots(path, key_map(renames))?;
    apply_strict(model, snapshots, path)
}

/// Loads `snapshots` (PyTorch layouts: `Linear` weights `[out, in]`, `LayerNorm`
/// `weight`/`bias`; any float type) into `model`, strictly.
///
/// # Errors
/// [`PelaError::CheckpointMismatch`] naming every unused, missing or mis-shaped key.
pub(crate) fn apply_strict<B: Backend, M: ModuleSnapshot<B>>(
    model: &mut M,
    snapshots: Vec<TensorSnapshot>,
    path: &Path,
) -> Result<(), PelaError> {
    pela::checkpoint::check_dtypes(model, &snapshots, path)?;
    let adapter = PyTorchToBurnAdapter.chain(CastFloats(DType::F32));
    let result = model.apply(snapshots, None, Some(Box::new(adapter)), false);
    check_applied(path, &result)
}

/// A key renamer from `(regex, replacement)` pairs.
pub(crate) fn key_map(patterns: &[(&str, &str)]) -> KeyRemapper {
    patterns
        .iter()
        .fold(KeyRemapper::new(), |remapper, (from, to)| {
            remapper
                .add_pattern(*from, *to)
                .expect("the key patterns are valid regexes")
        })
}
