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
use burn::tensor::DType;
use burn_store::{
    KeyRemapper, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore, TensorSnapshot,
};
use pela::PelaError;
use pela::checkpoint::{CastFloats, check_applied};

use super::{Vit, VitConfig};
use crate::ZooError;

/// The file formats a checkpoint can come in, told apart by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// `.safetensors` (timm, Hugging Face).
    Safetensors,
    /// `.pth`, `.pt`, `.bin`: a pickled PyTorch state dict (Facebook's DeiT files).
    Pytorch,
}

impl CheckpointFormat {
    /// The format of `path`, from its extension.
    ///
    /// # Errors
    /// [`PelaError::Checkpoint`] for another extension.
    ///
    /// ```
    /// use pela_zoo::vit::import::CheckpointFormat;
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

/// The key renames from timm's and Facebook's layouts to the model's paths (see the
/// [module docs](self)).
pub fn key_map() -> KeyRemapper {
    [
        (r"^(model|state_dict|module)\.", ""),
        (r"\.gamma_1$", ".ls1.gamma"),
        (r"\.gamma_2$", ".ls2.gamma"),
    ]
    .into_iter()
    .fold(KeyRemapper::new(), |remapper, (from, to)| {
        remapper
            .add_pattern(from, to)
            .expect("the key patterns are valid regexes")
    })
}

impl VitConfig {
    /// The model of this architecture with the weights of the checkpoint at `path`: a timm
    /// `.safetensors` or `.pth` file, or one of Facebook's original `.pth` files.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`]; [`PelaError::Checkpoint`] when the file is missing or
    /// unreadable; [`PelaError::CheckpointMismatch`] naming every unused, missing or
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
        let format = CheckpointFormat::of(path)?;
        if !path.is_file() {
            return Err(PelaError::Checkpoint {
                path: path.display().to_string(),
                reason: "no such file".to_string(),
            }
            .into());
        }
        let unreadable = |reason: String| PelaError::Checkpoint {
            path: path.display().to_string(),
            reason,
        };
        let snapshots: Vec<TensorSnapshot> = match format {
            CheckpointFormat::Safetensors => SafetensorsStore::from_file(path)
                .remap(key_map())
                .get_all_snapshots()
                .map(|all| all.values().cloned().collect())
                .map_err(|e| unreadable(e.to_string()))?,
            CheckpointFormat::Pytorch => PytorchStore::from_file(path)
                .remap(key_map())
                .get_all_snapshots()
                .map(|all| all.values().cloned().collect())
                .map_err(|e| unreadable(e.to_string()))?,
        };
        let mut model = self.init(device);
        let adapter = PyTorchToBurnAdapter.chain(CastFloats(DType::F32));
        let result = model.apply(snapshots, None, Some(Box::new(adapter)), false);
        check_applied(path, &result)?;
        Ok(model)
    }
}
