//! Loading timm and Facebook checkpoints into a [`Vit`].
//!
//! The model's fields carry timm's names, so most keys load as they are; PyTorch's layouts
//! are turned into Burn's on the way (a `Linear` weight `[out, in]` is transposed, a
//! `LayerNorm`'s `weight`/`bias` become `gamma`/`beta`), and `f16`/`bf16` files are read as
//! `f32`.
//!
//! | checkpoint key | model path | note |
//! |---|---|---|
//! | `model.<key>`, `state_dict.<key>`, `module.<key>` | `<key>` | Facebook's files wrap the weights under `model` |
//! | `cls_token`, `pos_embed` | the same | `pos_embed` `[1, 197, D]` (DeiT) or `[1, 196, D]` (DeiT-III) |
//! | `patch_embed.proj.{weight,bias}` | the same | a convolution: no transpose |
//! | `blocks.{i}.{norm1,norm2}.{weight,bias}` | `blocks.{i}.{norm1,norm2}.{gamma,beta}` | |
//! | `blocks.{i}.attn.{qkv,proj}.*`, `blocks.{i}.mlp.{fc1,fc2}.*` | the same | transposed; `qkv` stays fused |
//! | `blocks.{i}.ls1.gamma`, `ls2.gamma` (timm), `gamma_1`, `gamma_2` (Facebook) | `blocks.{i}.ls1.gamma`, `ls2.gamma` | DeiT-III |
//! | `norm.*`, `head.*` | the same | |
//!
//! Loading is strict: every checkpoint key the model does not use, every parameter the file
//! lacks and every shape that differs is named in the error.

use std::path::Path;

use burn::prelude::*;
use burn_store::KeyRemapper;

use super::{Vit, VitConfig};
use crate::ZooError;
pub use crate::checkpoint::CheckpointFormat;
use crate::checkpoint::{apply_strict, read_snapshots};

/// The key renames from timm's and Facebook's layouts to the model's paths (see the
/// [module docs](self)).
pub fn key_map() -> KeyRemapper {
    crate::checkpoint::key_map(&[
        (r"^(model|state_dict|module)\.", ""),
        (r"\.gamma_1$", ".ls1.gamma"),
        (r"\.gamma_2$", ".ls2.gamma"),
    ])
}

impl VitConfig {
    /// The model of this architecture with the weights of the checkpoint at `path`: a timm
    /// `.safetensors` or `.pth` file, or one of Facebook's original `.pth` files.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`]; [`pela::PelaError::Checkpoint`] when the file is missing or
    /// unreadable; [`pela::PelaError::CheckpointMismatch`] naming every unused, missing or
    /// mis-shaped key when the file holds another architecture or size.
    ///
    /// ```no_run
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let teacher = VitConfig::deit_base_patch16_224()
    ///     .load_checkpoint::<Cpu>("deit_base_patch16_224-b5f2ef4d.pth", &CpuDevice::default())?;
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn load_checkpoint<B: Backend>(
        &self,
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<Vit<B>, ZooError> {
        let path = path.as_ref();
        self.validate()?;
        let snapshots = read_snapshots(path, key_map())?;
        let mut model = self.init(device);
        apply_strict(&mut model, snapshots, path)?;
        Ok(model)
    }
}
