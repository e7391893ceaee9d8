//! Loading the authors' ALBEF checkpoints by their own keys.
//!
//! The authors' `ALBEF.pth` (pre-training) and `flickr30k.pth` / `mscoco.pth` (retrieval)
//! hold `{"model": state_dict}`. Their keys, and where they go:
//!
//! | checkpoint key | path | note |
//! |---|---|---|
//! | `visual_encoder.*` | `model.visual_encoder.*` | timm's ViT keys; `pos_embed` resized to the image size (bicubic), as the authors' `interpolate_pos_embed` |
//! | `text_encoder.bert.*` (pre-training), `text_encoder.*` (retrieval) | `model.text_encoder.*` | Hugging Face's BERT keys: `self` → `self_attention`, `LayerNorm` → `layer_norm` |
//! | `text_encoder.cls.predictions.transform.{dense,LayerNorm}.*`, `….predictions.bias` | `model.mlm_head.{dense,layer_norm,bias}` | |
//! | `text_encoder.cls.predictions.decoder.*` | — | tied to the word embeddings and the bias above; skipped |
//! | `vision_proj.*`, `text_proj.*`, `itm_head.*` | `model.*` | |
//! | `temp` (a 0-d tensor) | `model.temp` (`[1]`) | |
//! | `visual_encoder_m.*`, `text_encoder_m.*`, `vision_proj_m.*`, `text_proj_m.*` | `momentum.model.*` | the same renames |
//! | `image_queue`, `text_queue`, `queue_ptr` | `momentum.*` | |
//! | `idx_queue` (retrieval) | — | image ids of the queued features, for fine-tuning on retrieval; skipped |
//! | `*.position_ids` | — | a constant; skipped |
//!
//! Loading is strict: any other key, a parameter the file lacks (the momentum copy's
//! `itm_head` and `temp` excepted: the authors' momentum model has none) and any shape that
//! differs is named in the error.

use std::path::Path;

use burn::module::ParamId;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use burn_store::{
    KeyRemapper, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, TensorSnapshot,
};
use pela::PelaError;
use pela::checkpoint::{CastFloats, check_applied};

use super::{Albef, AlbefConfig, Momentum};
use crate::ZooError;
use crate::backend::{Cpu, CpuDevice};
use crate::checkpoint::read_snapshots;
use crate::vit::{is_class_and_square_grid, resize_positions};

/// An ALBEF model with the momentum half of its pre-training state, as a checkpoint holds
/// them.
#[derive(Module, Debug)]
pub struct AlbefState<B: Backend> {
    /// The online model.
    pub model: Albef<B>,
    /// The momentum copy and the queues; `None` when the checkpoint has none.
    pub momentum: Option<Momentum<B, Albef<B>>>,
}

/// The authors' keys → [`AlbefState`]'s paths (see the [module docs](self)).
pub fn key_map() -> KeyRemapper {
    crate::checkpoint::key_map(&[
        (r"^(model|state_dict|module)\.", ""),
        (
            r"^(visual_encoder|vision_proj|text_proj)_m\.",
            "momentum.model.$1.",
        ),
        (r"^text_encoder_m\.", "momentum.model.text_encoder."),
        (
            r"^(visual_encoder|vision_proj|text_proj|itm_head)\.",
            "model.$1.",
        ),
        (r"^text_encoder\.", "model.text_encoder."),
        (r"^temp$", "model.temp"),
        (r"^(image_queue|text_queue|queue_ptr)$", "momentum.$1"),
        (r"\.text_encoder\.bert\.", ".text_encoder."),
        (
            r"\.text_encoder\.cls\.predictions\.transform\.",
            ".mlm_head.",
        ),
        (r"\.text_encoder\.cls\.predictions\.bias$", ".mlm_head.bias"),
        (r"\.self\.", ".self_attention."),
        (r"\.LayerNorm\.", ".layer_norm."),
    ])
}

/// Keys read but not loaded (see the [module docs](self)), after [`key_map`].
fn skipped(path: &str) -> bool {
    path.ends_with("position_ids")
        || path.contains(".cls.predictions.decoder.")
        || path == "idx_queue"
}

impl AlbefConfig {
    /// The model, and its momentum copy and queues when the file has them, from one of the
    /// authors' checkpoints (`.pth` or `.safetensors`) under their own keys.
    ///
    /// # Errors
    /// [`ZooError::InvalidConfig`]; [`PelaError::Checkpoint`] when the file is missing or
    /// unreadable; [`PelaError::CheckpointMismatch`] naming every unused, missing or
    /// mis-shaped key.
    ///
    /// ```no_run
    /// use pela_zoo::albef::AlbefConfig;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    ///
    /// let state = AlbefConfig::albef_base(256).load_state::<Cpu>("ALBEF.pth", &CpuDevice::default())?;
    /// assert!(state.momentum.is_some());
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn load_state<B: Backend>(
        &self,
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<AlbefState<B>, ZooError> {
        let path = path.as_ref();
        self.validate()?;
        let kept: Vec<TensorSnapshot> = read_snapshots(path, key_map())?
            .into_iter()
            .filter(|s| !skipped(&s.full_path()))
            .collect();
        let has_momentum = kept.iter().any(|s| s.full_path().starts_with("momentum."));
        let snapshots = kept
            .into_iter()
            .map(|s| {
                // `fit` names the tensor; the error names the file and the tensor.
                self.fit(s).map_err(|e| match e {
                    PelaError::Checkpoint { path: key, reason } => PelaError::Checkpoint {
                        path: path.display().to_string(),
                        reason: format!("`{key}`: {reason}"),
                    },
                    other => other,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;

        let model = self.init::<B>(device);
        let momentum = has_momentum
            .then(|| Momentum::new(model.clone(), self.embed_dim, self.queue_size, device));
        let mut state = AlbefState { model, momentum };
        pela::checkpoint::check_dtypes(&state, &snapshots, path)?;
        let adapter = PyTorchToBurnAdapter.chain(CastFloats(DType::F32));
        let mut result = state.apply(snapshots, None, Some(Box::new(adapter)), false);
        // The authors' momentum model has no ITM head and no temperature.
        result.missing.retain(|(path, _)| {
            !path.starts_with("momentum.model.itm_head.") && path != "momentum.model.temp"
        });
        check_applied(path, &result)?;
        Ok(state)
    }

    /// `snapshot` in this model's shape where the authors' differs: the temperature as
    /// `[1]`, and position embeddings resized to the image size.
    fn fit(&self, snapshot: TensorSnapshot) -> Result<TensorSnapshot, PelaError> {
        let path = snapshot.full_path();
        let rebuilt = |data: TensorData| {
            TensorSnapshot::from_data(
                data,
                path.split('.').map(str::to_string).collect(),
                vec![],
                ParamId::new(),
            )
        };
        let read = |s: &TensorSnapshot| {
            s.to_data()
                .map(|d| d.convert::<f32>())
                .map_err(|e| PelaError::Checkpoint {
                    path: path.clone(),
                    reason: e.to_string(),
                })
        };
        if path.ends_with("temp") && snapshot.shape.is_empty() {
            let value = read(&snapshot)?;
            return Ok(rebuilt(TensorData::new(
                value.to_vec::<f32>().unwrap(),
                [1],
            )));
        }
        let tokens = self.vision.n_tokens();
        if path.ends_with("visual_encoder.pos_embed")
            && snapshot.shape.len() == 3
            && snapshot.shape[1] != tokens
        {
            let (saved, dim) = (snapshot.shape[1], snapshot.shape[2]);
            if !is_class_and_square_grid(saved) || dim != self.vision.d_model {
                return Err(PelaError::Checkpoint {
                    path: path.clone(),
                    reason: format!(
                        "a position embedding of {saved} tokens of width {dim}: it must be a \
                         class token and a square grid of patches (1 + n²) of width {}, to be \
                         resized to this model's {tokens} tokens",
                        self.vision.d_model
                    ),
                });
            }
            let positions = Tensor::<Cpu, 3>::from_data(read(&snapshot)?, &CpuDevice::default());
            let grid = self.vision.image_size / self.vision.patch_size;
            return Ok(rebuilt(resize_positions(positions, grid).into_data()));
        }
        Ok(snapshot)
    }
}
