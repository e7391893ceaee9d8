//! Loading timm and Microsoft checkpoints into a [`Swin`].
//!
//! The model's fields carry timm's names, so timm's keys load as they are; PyTorch's layouts
//! are turned into Burn's on the way (a `Linear` weight `[out, in]` is transposed, a
//! `LayerNorm`'s `weight`/`bias` become `gamma`/`beta`), and `f16`/`bf16` files are read as
//! `f32`. Microsoft's original release files are told apart as timm tells them apart (a
//! merging in stage 0) and renamed:
//!
//! | checkpoint key (Microsoft) | model path (timm's key) |
//! |---|---|
//! | `model.<key>` | `<key>` (Microsoft's files wrap the weights under `model`) |
//! | `layers.{s}.downsample.*` (end of stages 0–2) | `layers.{s+1}.downsample.*` (start of stages 1–3) |
//! | `head.{weight,bias}` | `head.fc.{weight,bias}` |
//! | `layers.{s}.blocks.{b}.attn.relative_position_index`, `….attn_mask` | buffers: checked, not loaded |
//!
//! The buffers are computed from the architecture; a file's buffers must equal them (a
//! different window size or resolution is named in the error, never loaded silently).
//! Loading is strict: every checkpoint key the model does not use, every parameter the file
//! lacks and every shape that differs is named in the error.

use std::path::Path;

use burn::prelude::*;
use burn_store::TensorSnapshot;
use pela::PelaError;

use super::{Swin, SwinConfig, window};
use crate::ZooError;
use crate::backend::Cpu;
use crate::checkpoint::{apply_strict, key_map, read_snapshots};

/// The key that only Microsoft's layout has (timm's first stage has no merging).
const MICROSOFT_MARKER: &str = "layers.0.downsample.reduction.weight";

/// The timm key of a Microsoft key (see the [module docs](self)).
///
/// ```
/// use pela_zoo::swin::import::microsoft_to_timm;
///
/// assert_eq!(microsoft_to_timm("layers.2.downsample.norm.weight"), "layers.3.downsample.norm.weight");
/// assert_eq!(microsoft_to_timm("head.bias"), "head.fc.bias");
/// assert_eq!(microsoft_to_timm("layers.1.blocks.0.attn.qkv.weight"), "layers.1.blocks.0.attn.qkv.weight");
/// ```
pub fn microsoft_to_timm(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["layers", stage, "downsample", rest @ ..] if stage.parse::<usize>().is_ok() => {
            let stage: usize = stage.parse().expect("checked");
            format!("layers.{}.downsample.{}", stage + 1, rest.join("."))
        }
        ["head", rest @ ..] if rest.len() == 1 => format!("head.fc.{}", rest[0]),
        _ => key.to_string(),
    }
}

/// What a buffer key of a checkpoint is: the stage and block it belongs to.
enum Buffer {
    PositionIndex(usize, usize),
    AttentionMask(usize, usize),
}

fn buffer_of(key: &str) -> Option<Buffer> {
    let parts: Vec<&str> = key.split('.').collect();
    let (stage, block) = match parts.as_slice() {
        ["layers", stage, "blocks", block, ..] => (stage.parse().ok()?, block.parse().ok()?),
        _ => return None,
    };
    if key.ends_with(".attn.relative_position_index") {
        Some(Buffer::PositionIndex(stage, block))
    } else if key.ends_with(".attn_mask") {
        Some(Buffer::AttentionMask(stage, block))
    } else {
        None
    }
}

impl SwinConfig {
    /// The model of this architecture with the weights of the checkpoint at `path`: a timm
    /// `.safetensors` or `.pth` file, or one of Microsoft's original `.pth` files (see the
    /// [module docs](self)).
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`]; [`PelaError::Checkpoint`] when the file is missing or
    /// unreadable, or holds buffers of another window size or resolution;
    /// [`PelaError::CheckpointMismatch`] naming every unused, missing or mis-shaped key when
    /// the file holds another architecture or size.
    ///
    /// ```no_run
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::swin::SwinConfig;
    ///
    /// let teacher = SwinConfig::swin_base_patch4_window7_224()
    ///     .load_checkpoint::<Cpu>("swin_base_patch4_window7_224.pth", &CpuDevice::default())?;
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn load_checkpoint<B: Backend>(
        &self,
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<Swin<B>, ZooError> {
        let path = path.as_ref();
        self.validate()?;
        let snapshots = read_snapshots(path, key_map(&[(r"^(model|state_dict|module)\.", "")]))?;
        let microsoft = snapshots
            .iter()
            .any(|snapshot| snapshot.full_path() == MICROSOFT_MARKER);
        let mut weights = Vec::with_capacity(snapshots.len());
        for mut snapshot in snapshots {
            let key = snapshot.full_path();
            if let Some(buffer) = buffer_of(&key) {
                if self.check_buffer(&buffer, &snapshot, path, &key)? {
                    continue;
                }
            }
            if microsoft {
                let renamed = microsoft_to_timm(&key);
                snapshot.path_stack = Some(renamed.split('.').map(str::to_string).collect());
            }
            weights.push(snapshot);
        }
        let mut model = self.init(device);
        apply_strict(&mut model, weights, path)?;
        Ok(model)
    }

    /// Checks a buffer of the file against the one this architecture computes. `Ok(false)`
    /// when the architecture has no such block (the key is then reported as unused).
    fn check_buffer(
        &self,
        buffer: &Buffer,
        snapshot: &TensorSnapshot,
        path: &Path,
        key: &str,
    ) -> Result<bool, PelaError> {
        let (Buffer::PositionIndex(stage, block) | Buffer::AttentionMask(stage, block)) = *buffer;
        if stage >= self.n_stages() || block >= self.depths[stage] {
            return Ok(false);
        }
        let (window_size, shift) = self.stage_window(stage);
        let shift = if block % 2 == 1 { shift } else { 0 };
        let device = Default::default();
        let expected: TensorData = match buffer {
            Buffer::PositionIndex(..) => {
                window::relative_position_index::<Cpu>(window_size, &device)
                    .into_data()
                    .convert::<f32>()
            }
            Buffer::AttentionMask(..) if shift > 0 => {
                let padded = self.stage_padded_grid(stage);
                window::shift_mask::<Cpu>(padded, window_size, shift, &device).into_data()
            }
            Buffer::AttentionMask(..) => TensorData::new(Vec::<f32>::new(), [0]),
        };
        let found = snapshot
            .to_data()
            .map_err(|e| PelaError::Checkpoint {
                path: path.display().to_string(),
                reason: format!("`{key}`: {e}"),
            })?
            .convert::<f32>();
        let same = found.num_elements() == expected.num_elements()
            && found.as_slice::<f32>().ok() == expected.as_slice::<f32>().ok();
        if !same {
            return Err(PelaError::Checkpoint {
                path: path.display().to_string(),
                reason: format!(
                    "`{key}` does not match this architecture (stage {stage}: windows of \
                     {window_size}, shift {shift}, grid {:?}); the file holds another window \
                     size or image size: choose the preset it was trained with",
                    self.stage_grid(stage)
                ),
            });
        }
        Ok(true)
    }
}
