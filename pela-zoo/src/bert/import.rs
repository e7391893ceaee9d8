//! Loading Hugging Face BERT checkpoints (safetensors) by their own keys.
//!
//! Hugging Face names a BERT's tensors `embeddings.word_embeddings.weight`,
//! `encoder.layer.3.attention.self.query.weight`, `encoder.layer.3.output.LayerNorm.bias`, …
//! (with a `bert.` prefix in task models). The model's fields follow those names; two differ,
//! because Rust reserves `self` and Burn's fields are snake case: `self` → `self_attention` and
//! `LayerNorm` → `layer_norm`. `Linear` weights are transposed from PyTorch's `[out, in]`, and
//! `embeddings.position_ids` (a constant, not a weight) is skipped.

use std::path::Path;

use burn::prelude::*;
use burn_store::{KeyRemapper, ModuleStore, SafetensorsStore, TensorSnapshot};
use pela::PelaError;

use super::{Bert, BertConfig};
use crate::ZooError;

/// Hugging Face's BERT keys → this model's fields.
pub fn key_map() -> KeyRemapper {
    crate::checkpoint::key_map(&[
        (r"^bert\.", ""),
        (r"\.self\.", ".self_attention."),
        (r"\.LayerNorm\.", ".layer_norm."),
    ])
}

impl BertConfig {
    /// Loads a Hugging Face BERT checkpoint from the bytes of its `model.safetensors`;
    /// `source` names the file in errors. The pooler is loaded when the file has one.
    ///
    /// Loading is strict: a tensor the model lacks, a tensor the file lacks or one of another
    /// shape is an error that names each.
    ///
    /// # Errors
    /// Bytes that are not safetensors, or a checkpoint of another architecture.
    pub fn load_safetensors<B: Backend>(
        &self,
        bytes: Vec<u8>,
        source: &str,
        device: &B::Device,
    ) -> Result<Bert<B>, ZooError> {
        self.validate()?;
        let snapshots: Vec<TensorSnapshot> = SafetensorsStore::from_bytes(Some(bytes))
            .remap(key_map())
            .get_all_snapshots()
            .map_err(|e| PelaError::Checkpoint {
                path: source.to_string(),
                reason: e.to_string(),
            })?
            .iter()
            .filter(|(key, _)| !key.ends_with("position_ids"))
            .map(|(_, snapshot)| snapshot.clone())
            .collect();
        let has_pooler = snapshots
            .iter()
            .any(|s| s.full_path().starts_with("pooler."));
        let mut model = self.clone().with_pooler(has_pooler).init(device);
        crate::checkpoint::apply_strict(&mut model, snapshots, Path::new(source))?;
        Ok(model)
    }

    /// [`load_safetensors`](Self::load_safetensors) from a file.
    ///
    /// # Errors
    /// A missing or unreadable file, or as `load_safetensors`.
    pub fn load_checkpoint<B: Backend>(
        &self,
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<Bert<B>, ZooError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| PelaError::Checkpoint {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.load_safetensors(bytes, &path.display().to_string(), device)
    }
}
