//! Saving and loading students as safetensors, in the authors' PyTorch layout.
//!
//! A student is one safetensors file laid out as the authors' PyTorch code lays out its
//! models, so each side reads the other's files:
//!
//! | tensor | key | shape |
//! |---|---|---|
//! | low-rank layer `<name>`: `Uᵀ` | `<name>.0.weight` | `[r, d_input]` |
//! | low-rank layer `<name>`: `V` | `<name>.1.weight` | `[d_output, r]` |
//! | its bias | `<name>.1.bias` | `[d_output]` |
//! | dense `Linear` | `<name>.weight`, `<name>.bias` | `[d_output, d_input]`, `[d_output]` |
//! | `LayerNorm` | `<name>.weight`, `<name>.bias` | `[d]` |
//! | anything else | its Burn path | its Burn shape |
//!
//! The ranks are read from the file, so loading needs only the teacher's architecture
//! (untrained weights will do): [`load_student`] finds which layers are low-rank and at which
//! rank, builds that twin ([`LowRank::twin_with_ranks`]) and fills it. Loading is strict, as
//! PyTorch's `load_state_dict` is: every missing, unused or mis-shaped tensor is named.
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use pela::{LowRank, RankPlan};
//! type B = burn_ndarray::NdArray<f32>;
//!
//! let device = Default::default();
//! let teacher: Vec<Linear<B>> = vec![LinearConfig::new(32, 32).init(&device)];
//! let student = teacher.to_low_rank(&RankPlan::new(2.0))?;
//! let file = std::env::temp_dir().join("pela-doc-student.safetensors");
//! pela::checkpoint::save_student(&student, &file, &[("model", "doc example")])?;
//!
//! let loaded = pela::checkpoint::load_student(&teacher, &file)?;
//! assert_eq!(loaded[0].rank(), Some(8));
//! assert_eq!(pela::checkpoint::metadata(&file)?["model"], "doc example");
//! # std::fs::remove_file(&file).ok();
//! # Ok::<(), pela::PelaError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::rc::Rc;

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, TensorData};
use burn_store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot,
    ModuleStore, PyTorchToBurnAdapter, SafetensorsStore, TensorSnapshot,
};

use crate::conversion::ModulePath;
use crate::{LowRank, LowRankStudent, PelaError};

/// Writes `student` to `path` as safetensors in the authors' layout (see the
/// [module docs](self)), with `metadata` as string pairs in the file header (a model name, a
/// config as JSON, …).
///
/// The file is written beside its destination and renamed into place: an interrupted save
/// leaves the previous file intact.
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file cannot be written.
pub fn save_student<B: Backend, S: LowRankStudent<B>>(
    student: &S,
    path: impl AsRef<Path>,
    metadata: &[(&str, &str)],
) -> Result<(), PelaError> {
    let path = path.as_ref();
    let mut remapper = KeyRemapper::new();
    for (layer, _) in student.low_rank_layers() {
        for (burn_key, authors_key) in factor_keys(&layer) {
            remapper = remapper
                .add_pattern(format!("^{}$", escape(&burn_key)), authors_key)
                .map_err(|e| checkpoint_error(path, e))?;
        }
    }
    let store = SafetensorsStore::from_file(temporary_path(path))
        .with_to_adapter(BurnToPyTorchAdapter.chain(FactorLayout))
        .remap(remapper);
    write_atomically(store, student, path, metadata)
}

/// Reads a student saved by [`save_student`] (or by the authors' code, as safetensors) for the
/// architecture of `teacher`, whose weights are not read.
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file cannot be read; [`PelaError::CheckpointMismatch`]
/// naming every missing, unused or mis-shaped tensor when the file is of another
/// architecture or size.
pub fn load_student<B: Backend, M: LowRank<B>>(
    teacher: &M,
    path: impl AsRef<Path>,
) -> Result<M::Twin, PelaError> {
    let path = path.as_ref();
    let mut file = SafetensorsStore::from_file(path);
    let keys: BTreeSet<String> = file
        .keys()
        .map_err(|e| checkpoint_error(path, e))?
        .into_iter()
        .collect();
    let mut ranks = HashMap::new();
    let mut shape_error = None;
    teacher.visit_linears(&mut ModulePath::default(), &mut |layer, _| {
        let [down, _, _] = crate::pytorch_keys(layer);
        if keys.contains(&down) {
            match file.get_snapshot(&down) {
                Ok(Some(snapshot)) if snapshot.shape.len() == 2 => {
                    ranks.insert(layer.to_string(), snapshot.shape[0]);
                }
                Ok(_) => shape_error = Some(format!("`{down}` is not a matrix")),
                Err(e) => shape_error = Some(e.to_string()),
            }
        }
    });
    if let Some(reason) = shape_error {
        return Err(checkpoint_error(path, reason));
    }
    let mut student = teacher.twin_with_ranks(&ranks)?;
    let mut remapper = KeyRemapper::new();
    for layer in ranks.keys() {
        for (burn_key, authors_key) in factor_keys(layer) {
            remapper = remapper
                .add_pattern(format!("^{}$", escape(&authors_key)), burn_key)
                .map_err(|e| checkpoint_error(path, e))?;
        }
    }
    let mut stored = SafetensorsStore::from_file(path).remap(remapper.clone());
    let stored: Vec<TensorSnapshot> = stored
        .get_all_snapshots()
        .map_err(|e| checkpoint_error(path, e))?
        .values()
        .cloned()
        .collect();
    check_dtypes(&student, &stored, path)?;
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(
            PyTorchToBurnAdapter
                .chain(FactorLayout)
                .chain(CastFloats(DType::F32)),
        )
        .skip_enum_variants(true)
        .allow_partial(true)
        .validate(false)
        .remap(remapper);
    let result = store
        .apply_to(&mut student)
        .map_err(|e| checkpoint_error(path, e))?;
    check_applied(path, &result)?;
    Ok(student)
}

/// Writes `student` to `path` as a dense model: every factor pair multiplied out,
/// `<name>.weight = (U·Vᵀ)ᵀ` `[d_output, d_input]`, so the file has the teacher's keys and
/// shapes in PyTorch's layout (a timm checkpoint of the original architecture, for tools that
/// know nothing of PELA). The write is atomic.
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file cannot be written.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use pela::{LowRank, RankPlan};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let teacher: Vec<Linear<B>> = vec![LinearConfig::new(32, 16).init(&Default::default())];
/// let student = teacher.to_low_rank(&RankPlan::new(2.0))?;
/// let file = std::env::temp_dir().join("pela-doc-dense.safetensors");
/// pela::checkpoint::save_dense(&student, &file, &[])?;
/// let keys = pela::checkpoint::shapes(&file)?;
/// assert_eq!(keys["0.weight"], vec![16, 32]);
/// # std::fs::remove_file(&file).ok();
/// # Ok::<(), pela::PelaError>(())
/// ```
pub fn save_dense<B: Backend, S: LowRankStudent<B>>(
    student: &S,
    path: impl AsRef<Path>,
    metadata: &[(&str, &str)],
) -> Result<(), PelaError> {
    save_dense_renamed(student, path, metadata, &[])
}

/// [`save_dense`], with the keys then renamed by `renames`: `(regex, replacement)` pairs
/// applied in order to every key, for a reference implementation whose names differ from the
/// module's fields (Hugging Face's BERT has `attention.self` and `LayerNorm` where Rust has
/// `self_attention` and `layer_norm`).
///
/// # Errors
/// [`PelaError::Checkpoint`] when a pattern is not a regex or the file cannot be written.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use pela::{LowRank, RankPlan};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let teacher: Vec<Linear<B>> = vec![LinearConfig::new(32, 16).init(&Default::default())];
/// let student = teacher.to_low_rank(&RankPlan::new(2.0))?;
/// let file = std::env::temp_dir().join("pela-doc-dense-renamed.safetensors");
/// pela::checkpoint::save_dense_renamed(&student, &file, &[], &[(r"^0\.", "layer.")])?;
/// assert_eq!(pela::checkpoint::shapes(&file)?["layer.weight"], vec![16, 32]);
/// # std::fs::remove_file(&file).ok();
/// # Ok::<(), pela::PelaError>(())
/// ```
pub fn save_dense_renamed<B: Backend, S: LowRankStudent<B>>(
    student: &S,
    path: impl AsRef<Path>,
    metadata: &[(&str, &str)],
    renames: &[(&str, &str)],
) -> Result<(), PelaError> {
    let path = path.as_ref();
    let mut dense = HashMap::new();
    let mut factors = BTreeSet::new();
    let mut remapper = KeyRemapper::new();
    for (layer, low_rank) in student.low_rank_layers() {
        // PyTorch's [d_output, d_input] = (U·Vᵀ)ᵀ = V·Uᵀ.
        let weight = low_rank.v.val().matmul(low_rank.u.val().transpose());
        dense.insert(format!("{layer}.u"), weight.into_data());
        factors.insert(format!("{layer}.v"));
        remapper = remapper
            .add_pattern(
                format!("^{}$", escape(&format!("{layer}.u"))),
                format!("{layer}.weight"),
            )
            .map_err(|e| checkpoint_error(path, e))?;
    }
    for (pattern, replacement) in renames {
        remapper = remapper
            .add_pattern(*pattern, *replacement)
            .map_err(|e| checkpoint_error(path, format!("key pattern `{pattern}`: {e}")))?;
    }
    // The store filters after its adapter has renamed `gamma`/`beta` to PyTorch's names.
    let keep: Vec<String> = student
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .iter()
        .map(TensorSnapshot::full_path)
        .filter(|key| !factors.contains(key))
        .collect();
    let store = SafetensorsStore::from_file(temporary_path(path))
        .with_to_adapter(BurnToPyTorchAdapter.chain(MultipliedOut(std::sync::Arc::new(dense))))
        .with_full_paths(keep)
        .remap(remapper);
    write_atomically(store, student, path, metadata)
}

/// The key and shape of every tensor in a safetensors file.
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file cannot be read as safetensors.
pub fn shapes(path: impl AsRef<Path>) -> Result<BTreeMap<String, Vec<usize>>, PelaError> {
    let path = path.as_ref();
    let mut store = SafetensorsStore::from_file(path);
    let all = store
        .get_all_snapshots()
        .map_err(|e| checkpoint_error(path, e))?;
    Ok(all
        .iter()
        .map(|(key, snapshot)| (key.clone(), snapshot.shape.to_vec()))
        .collect())
}

/// Replaces the first factor `u` of each low-rank layer by the dense weight, for
/// [`save_dense`] (which drops `v` and renames `u` to `weight`).
#[derive(Clone)]
struct MultipliedOut(std::sync::Arc<HashMap<String, TensorData>>);

impl ModuleAdapter for MultipliedOut {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        match self.0.get(&snapshot.full_path()) {
            Some(data) => {
                let data = data.clone();
                let shape = data.shape.to_vec();
                with_data(snapshot, data.dtype, shape, move || Ok(data.clone()))
            }
            None => snapshot.clone(),
        }
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// The string pairs in the header of a safetensors file (what [`save_student`] wrote).
///
/// # Errors
/// [`PelaError::Checkpoint`] when the file cannot be read as safetensors.
pub fn metadata(path: impl AsRef<Path>) -> Result<HashMap<String, String>, PelaError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| checkpoint_error(path, e))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| checkpoint_error(path, format!("not a safetensors file ({e})")))?;
    Ok(header.metadata().clone().unwrap_or_default())
}

/// Checks, before any tensor is read, that each of `snapshots` (a file's tensors, keyed as the
/// model's) holds the kind of number the parameter of `model` of its key holds: a float
/// parameter stored as integers or booleans (a buffer under a parameter's name, another
/// model's file) would otherwise panic inside Burn ("Expected float dtype").
///
/// # Errors
/// [`PelaError::Checkpoint`] naming every such key, its stored and its expected type.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use burn::tensor::TensorData;
/// use burn_store::TensorSnapshot;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let layer: Linear<B> = LinearConfig::new(2, 2).init(&Default::default());
/// let ints = TensorSnapshot::from_data(
///     TensorData::new(vec![0i64; 4], [2, 2]),
///     vec!["weight".into()], vec![], Default::default(),
/// );
/// let error = pela::checkpoint::check_dtypes(&layer, &[ints], "f.pth".as_ref()).unwrap_err();
/// assert!(error.to_string().contains("`weight` is stored as I64"));
/// ```
pub fn check_dtypes<B: Backend, M: ModuleSnapshot<B>>(
    model: &M,
    snapshots: &[TensorSnapshot],
    path: &Path,
) -> Result<(), PelaError> {
    let kind = |dtype: DType| {
        if dtype.is_float() {
            "a float"
        } else if dtype.is_bool() {
            "a boolean"
        } else {
            "an integer"
        }
    };
    let expected: HashMap<String, DType> = model
        .collect(None, None, false)
        .into_iter()
        .map(|s| (s.full_path(), s.dtype))
        .collect();
    let wrong: Vec<String> = snapshots
        .iter()
        .filter_map(|snapshot| {
            let key = snapshot.full_path();
            let want = *expected.get(&key)?;
            (kind(want) != kind(snapshot.dtype)).then(|| {
                format!(
                    "`{key}` is stored as {:?}, the model's parameter is {} tensor",
                    snapshot.dtype,
                    kind(want)
                )
            })
        })
        .collect();
    if wrong.is_empty() {
        return Ok(());
    }
    Err(checkpoint_error(
        path,
        format!(
            "{} (a file of another model, or a buffer under a parameter's name)",
            wrong.join("; ")
        ),
    ))
}

/// Turns a load's [`ApplyResult`] into an error that names every missing, unused and
/// mis-shaped tensor, or `Ok` when everything fitted.
///
/// Keys that Burn applied under an alternative name (PyTorch's `LayerNorm` `weight`/`bias` for
/// Burn's `gamma`/`beta`) are not counted as unused.
///
/// # Errors
/// [`PelaError::CheckpointMismatch`].
pub fn check_applied(path: &Path, result: &ApplyResult) -> Result<(), PelaError> {
    let applied: BTreeSet<&str> = result.applied.iter().map(String::as_str).collect();
    let alternative = |key: &str| {
        let renamed = if let Some(stem) = key.strip_suffix(".weight") {
            format!("{stem}.gamma")
        } else if let Some(stem) = key.strip_suffix(".bias") {
            format!("{stem}.beta")
        } else {
            return false;
        };
        applied.contains(renamed.as_str()) || applied.contains(key)
    };
    let mut missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    let mut unused: Vec<String> = result
        .unused
        .iter()
        .filter(|key| !alternative(key))
        .cloned()
        .collect();
    let mut mismatched: Vec<String> = result
        .errors
        .iter()
        .map(|error| match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => format!("`{path}`: file {found:?}, model {expected:?}"),
            other => other.to_string(),
        })
        .collect();
    if missing.is_empty() && unused.is_empty() && mismatched.is_empty() {
        return Ok(());
    }
    missing.sort();
    unused.sort();
    mismatched.sort();
    Err(PelaError::CheckpointMismatch {
        path: path.display().to_string(),
        missing,
        unused,
        mismatched,
    })
}

/// The text of [`PelaError::CheckpointMismatch`]: each list with up to a few names.
pub(crate) fn describe_mismatch(
    missing: &[String],
    unused: &[String],
    mismatched: &[String],
) -> String {
    const SHOWN: usize = 6;
    let list = |what: &str, keys: &[String]| {
        let mut text = format!("{} {what} (", keys.len());
        text.push_str(
            &keys
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        );
        if keys.len() > SHOWN {
            text.push_str(&format!(", and {} more", keys.len() - SHOWN));
        }
        text.push(')');
        text
    };
    [
        ("missing from the file", missing),
        ("in the file but not in the model", unused),
        ("of another shape", mismatched),
    ]
    .into_iter()
    .filter(|(_, keys)| !keys.is_empty())
    .map(|(what, keys)| list(what, keys))
    .collect::<Vec<_>>()
    .join("; ")
}

/// Casts every floating-point tensor to one dtype as it is loaded (`f16`/`bf16` checkpoints
/// into an `f32` model); other tensors pass unchanged. Chain it after a layout adapter.
///
/// ```
/// use burn::tensor::DType;
/// use burn_store::{ModuleAdapter, PyTorchToBurnAdapter, SafetensorsStore};
///
/// let store = SafetensorsStore::from_file("model.safetensors")
///     .with_from_adapter(PyTorchToBurnAdapter.chain(pela::checkpoint::CastFloats(DType::F32)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CastFloats(pub DType);

impl ModuleAdapter for CastFloats {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        if !snapshot.dtype.is_float() || snapshot.dtype == self.0 {
            return snapshot.clone();
        }
        let (data, to) = (snapshot.clone_data_fn(), self.0);
        with_data(snapshot, to, snapshot.shape.to_vec(), move || {
            Ok(data()?.convert_dtype(to))
        })
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(*self)
    }
}

/// The first factor of a low-rank layer is `U` `[d_input, r]` here and `Uᵀ` `[r, d_input]` in
/// the authors' layout: transposed both ways, like a `Linear` weight.
#[derive(Debug, Clone, Copy)]
struct FactorLayout;

impl ModuleAdapter for FactorLayout {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        let is_u = snapshot.module_type().as_deref() == Some("Struct:LowRankLinear")
            && snapshot
                .path_stack
                .as_ref()
                .and_then(|stack| stack.last())
                .is_some_and(|name| name == "u");
        if !is_u || snapshot.shape.len() != 2 {
            return snapshot.clone();
        }
        let data = snapshot.clone_data_fn();
        let shape = vec![snapshot.shape[1], snapshot.shape[0]];
        with_data(snapshot, snapshot.dtype, shape, move || {
            Ok(transpose(data()?))
        })
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(*self)
    }
}

/// `snapshot` with its data produced by `data`, of `dtype` and `shape`.
fn with_data(
    snapshot: &TensorSnapshot,
    dtype: DType,
    shape: Vec<usize>,
    data: impl Fn() -> Result<TensorData, burn_store::TensorSnapshotError> + 'static,
) -> TensorSnapshot {
    TensorSnapshot::from_closure(
        Rc::new(data),
        dtype,
        shape.into(),
        snapshot.path_stack.clone().unwrap_or_default(),
        snapshot.container_stack.clone().unwrap_or_default(),
        snapshot.tensor_id.unwrap_or_default(),
    )
}

/// The transpose of a matrix of any element type.
fn transpose(data: TensorData) -> TensorData {
    let (rows, cols) = (data.shape[0], data.shape[1]);
    let size = data.dtype.size();
    let bytes = data.as_bytes();
    let mut out = vec![0u8; bytes.len()];
    for i in 0..rows {
        for j in 0..cols {
            let (from, to) = ((i * cols + j) * size, (j * rows + i) * size);
            out[to..to + size].copy_from_slice(&bytes[from..from + size]);
        }
    }
    TensorData::from_bytes_vec(out, [cols, rows], data.dtype)
}

/// Writes `module` through `store` (opened on [`temporary_path`]`(path)`) with `metadata` in the
/// header, enum variants left out of the keys, then renames the file to `path`.
fn write_atomically<B: Backend, M: Module<B>>(
    store: SafetensorsStore,
    module: &M,
    path: &Path,
    metadata: &[(&str, &str)],
) -> Result<(), PelaError> {
    let mut store = store.skip_enum_variants(true).overwrite(true);
    for (key, value) in metadata {
        store = store.metadata(*key, *value);
    }
    let temporary = temporary_path(path);
    let written = store
        .collect_from(module)
        .map_err(|e| checkpoint_error(path, e))
        // The data on the disk before the rename commits it, and the rename after.
        .and_then(|()| {
            std::fs::File::open(&temporary)
                .and_then(|file| file.sync_all())
                .map_err(|e| checkpoint_error(&temporary, e))
        });
    if let Err(error) = written {
        std::fs::remove_file(&temporary).ok();
        return Err(error);
    }
    std::fs::rename(&temporary, path).map_err(|e| checkpoint_error(path, e))?;
    if let Some(folder) = path
        .parent()
        .filter(|p| cfg!(unix) && !p.as_os_str().is_empty())
    {
        std::fs::File::open(folder)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| checkpoint_error(folder, e))?;
    }
    Ok(())
}

/// `(Burn key, authors' key)` of the three tensors of low-rank layer `layer`.
fn factor_keys(layer: &str) -> [(String, String); 3] {
    let [down, up, bias] = crate::pytorch_keys(layer);
    [
        (format!("{layer}.u"), down),
        (format!("{layer}.v"), up),
        (format!("{layer}.bias"), bias),
    ]
}

/// A module path as a regex matching only itself (paths hold letters, digits, `_` and `.`).
fn escape(path: &str) -> String {
    path.replace('.', r"\.")
}

fn temporary_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn checkpoint_error(path: &Path, reason: impl ToString) -> PelaError {
    PelaError::Checkpoint {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Distribution, Tensor};

    use super::*;
    use crate::{RankPlan, StudentLinear, TestBackend, seeded};

    fn layers(shapes: &[(usize, usize)]) -> Vec<Linear<TestBackend>> {
        seeded(11, || {
            shapes
                .iter()
                .map(|&(d_input, d_output)| {
                    let layer = LinearConfig::new(d_input, d_output).init(&Default::default());
                    let _drawn = layer.weight.val();
                    layer
                })
                .collect()
        })
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("pela-checkpoint-{}-{name}", std::process::id()))
    }

    #[test]
    fn round_trip_keeps_every_tensor_and_writes_the_authors_shapes() {
        let teacher = layers(&[(24, 40), (40, 6)]);
        let plan = RankPlan::new(2.0).with_min_outputs(Some(10));
        let student = teacher.to_low_rank(&plan).unwrap();
        let file = scratch("round-trip.safetensors");
        save_student(&student, &file, &[]).unwrap();
        assert!(!temporary_path(&file).exists());

        let mut store = SafetensorsStore::from_file(&file);
        let shapes: Vec<(String, Vec<usize>)> = store
            .get_all_snapshots()
            .unwrap()
            .iter()
            .map(|(key, snapshot)| (key.clone(), snapshot.shape.to_vec()))
            .collect();
        assert_eq!(
            shapes,
            [
                ("0.0.weight", vec![7, 24]), // rank ⌊24·40 / (2·64)⌋ = 7
                ("0.1.bias", vec![40]),
                ("0.1.weight", vec![40, 7]),
                ("1.bias", vec![6]),
                ("1.weight", vec![6, 40]),
            ]
            .map(|(key, shape)| (key.to_string(), shape))
        );

        let loaded = load_student(&teacher, &file).unwrap();
        let x = seeded(12, || {
            Tensor::<TestBackend, 2>::random([3, 24], Distribution::Default, &Default::default())
        });
        let run = |model: &Vec<StudentLinear<TestBackend>>| {
            model[1].forward(model[0].forward(x.clone())).into_data()
        };
        run(&student).assert_eq(&run(&loaded), true);
        std::fs::remove_file(file).ok();
    }

    #[test]
    fn a_student_of_another_shape_is_refused_with_its_keys() {
        let student = layers(&[(32, 32)])
            .to_low_rank(&RankPlan::new(2.0))
            .unwrap();
        let file = scratch("other-shape.safetensors");
        save_student(&student, &file, &[]).unwrap();

        let error = load_student(&layers(&[(32, 16)]), &file).unwrap_err();
        let PelaError::CheckpointMismatch { mismatched, .. } = &error else {
            panic!("unexpected error: {error}");
        };
        assert_eq!(mismatched.len(), 2, "{mismatched:?}"); // `v` and the bias
        assert!(error.to_string().contains("2 of another shape"), "{error}");

        let error = load_student(&layers(&[(32, 32), (32, 32)]), &file).unwrap_err();
        assert!(error.to_string().contains("1.weight"), "{error}");
        std::fs::remove_file(file).ok();
    }

    #[test]
    fn files_that_are_not_safetensors_are_named() {
        let file = scratch("not-safetensors.safetensors");
        std::fs::write(&file, b"not a checkpoint").unwrap();
        let error = load_student(&layers(&[(8, 8)]), &file).unwrap_err();
        assert!(matches!(error, PelaError::Checkpoint { .. }), "{error}");
        assert!(
            metadata(&file)
                .unwrap_err()
                .to_string()
                .contains("not a safetensors file")
        );
        std::fs::remove_file(file).ok();
    }

    #[test]
    fn twin_with_ranks_refuses_unknown_layers() {
        let ranks = HashMap::from([("7".to_string(), 2)]);
        let error = layers(&[(8, 8)]).twin_with_ranks(&ranks).unwrap_err();
        assert_eq!(
            error,
            PelaError::UnknownLayers {
                layers: vec!["7".into()],
                known: vec!["0".into()]
            }
        );
    }

    #[test]
    fn preview_decides_as_the_conversion_does() {
        let teacher = layers(&[(24, 40), (40, 6), (40, 40)]);
        let plan = RankPlan::new(3.0)
            .with_min_outputs(Some(10))
            .rank_for("2", 5);
        let preview = teacher.preview(&plan).unwrap();
        let (_, converted) = teacher.to_low_rank_with_report(&plan).unwrap();
        let decisions = |report: &crate::CompressionReport| {
            report
                .layers
                .iter()
                .map(|layer| layer.decision.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(decisions(&preview), decisions(&converted));
        assert_eq!(preview.totals(), converted.totals());
        assert!(preview.layers.iter().all(|layer| layer.error.is_none()));
    }
}
