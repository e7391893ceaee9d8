//! PyTorch's checkpoint files (`torch.save`, a zip archive since PyTorch 1.6): every tensor of
//! a state dict, checked against the archive before any of it is used.
//!
//! Each tensor of `data.pkl` ([`pickle`](super::pickle)) names a storage, an offset, a shape
//! and strides. Before a tensor is returned, its storage must be an entry of the archive of
//! exactly the size the pickle gives, and the view must lie inside it; when read, the entry
//! must be whole and pass its CRC. A view that is not contiguous (a saved `.t()`) is gathered
//! by its strides. So a damaged file is an error naming the tensor and the file, never zeros
//! or scrambled weights (what Burn 0.21's own reader gives).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use burn::module::ParamId;
use burn::tensor::{DType, TensorData};
use burn_store::{TensorSnapshot, TensorSnapshotError};
use zip::ZipArchive;

use super::pickle::{self, TensorRef, Value};

/// The largest `data.pkl` read: 1 GiB (a state dict's is kilobytes to a few megabytes).
const MAX_PICKLE_BYTES: u64 = 1 << 30;

/// Every tensor of the state dict in the PyTorch zip file at `path`, keys joined by `.` over
/// nested dicts (`{'model': {'head.bias': …}}` gives `model.head.bias`); values read when used.
///
/// # Errors
/// A message naming what is wrong (a tensor's key where one is at fault): not a zip archive,
/// no `data.pkl`, a malformed pickle, a missing or mis-sized storage entry, a view outside its
/// storage, a big-endian file, two tensors of one key.
pub(crate) fn read(path: &Path) -> Result<Vec<TensorSnapshot>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let file_size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut archive = ZipArchive::new(file).map_err(|e| {
        format!(
            "not a zip archive ({e}); PyTorch files are zip archives since PyTorch 1.6: re-save \
             an older file with `torch.save(torch.load(old), new)`"
        )
    })?;
    let pickle_name = pickle_entry(&archive)?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    if let Some(order) = read_small(&mut archive, &format!("{prefix}byteorder"))? {
        if order.trim_ascii() != b"little" {
            return Err(format!(
                "a {} byte order; pela-zoo reads little-endian files",
                String::from_utf8_lossy(&order)
            ));
        }
    }
    let bytes = read_entry(&mut archive, &pickle_name, MAX_PICKLE_BYTES, file_size)?;
    let root = pickle::unpickle(&bytes).map_err(|e| format!("`{pickle_name}`: {e}"))?;
    let mut tensors = Vec::new();
    flatten(String::new(), &root, 0, &mut tensors)?;
    if tensors.is_empty() {
        return Err("it holds no tensors (not a state dict?)".to_string());
    }
    let mut keys = std::collections::BTreeSet::new();
    let mut snapshots = Vec::with_capacity(tensors.len());
    for (key, tensor) in tensors {
        if !keys.insert(key.clone()) {
            return Err(format!("two tensors of the key `{key}`"));
        }
        let entry = format!("{prefix}data/{}", tensor.storage.key);
        check(&mut archive, &entry, &tensor, file_size).map_err(|e| format!("`{key}`: {e}"))?;
        snapshots.push(snapshot(path.to_path_buf(), key, entry, tensor));
    }
    Ok(snapshots)
}

/// The one `<folder>/data.pkl` of the archive.
fn pickle_entry(archive: &ZipArchive<File>) -> Result<String, String> {
    let mut found = archive
        .file_names()
        .filter(|name| name.ends_with("/data.pkl") && name.matches('/').count() == 1);
    let first = found
        .next()
        .ok_or("a zip archive without `<name>/data.pkl`: not a PyTorch checkpoint")?;
    if found.next().is_some() {
        return Err("a zip archive of several `data.pkl`: not one PyTorch checkpoint".to_string());
    }
    Ok(first.to_string())
}

/// The bytes of a small entry (at most 64 bytes), `None` when there is none.
fn read_small(archive: &mut ZipArchive<File>, name: &str) -> Result<Option<Vec<u8>>, String> {
    if archive.index_for_name(name).is_none() {
        return Ok(None);
    }
    read_entry(archive, name, 64, u64::MAX).map(Some)
}

/// The whole entry `name`, at most `most` bytes and at most what `file_size` bytes can hold;
/// the zip library checks its CRC when the end is read.
fn read_entry(
    archive: &mut ZipArchive<File>,
    name: &str,
    most: u64,
    file_size: u64,
) -> Result<Vec<u8>, String> {
    let mut entry = archive
        .by_name(name)
        .map_err(|e| format!("the archive entry `{name}`: {e}"))?;
    let size = entry.size();
    let holdable = if entry.compression() == zip::CompressionMethod::Stored {
        file_size
    } else {
        entry.compressed_size().saturating_mul(1032) // deflate's largest ratio
    };
    if size > most || size > holdable {
        return Err(format!(
            "the archive entry `{name}` claims {size} bytes, more than {} (a corrupt file)",
            most.min(holdable)
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry
        .by_ref()
        .take(size + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the archive entry `{name}`: {e} (a damaged file)"))?;
    if bytes.len() as u64 != size {
        return Err(format!(
            "the archive entry `{name}` holds {} bytes, not the {size} it claims",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Checks that the storage entry of `tensor` exists with the size its pickle gives, and that
/// the view lies inside it.
fn check(
    archive: &mut ZipArchive<File>,
    entry: &str,
    tensor: &TensorRef,
    file_size: u64,
) -> Result<(), String> {
    let storage = &tensor.storage;
    let width = element_bytes(storage.dtype);
    let expected = storage
        .numel
        .checked_mul(width)
        .ok_or_else(|| format!("a storage of {} elements overflows", storage.numel))?;
    let found = archive
        .by_name(entry)
        .map_err(|_| {
            format!("its storage `{entry}` is not in the archive (a truncated or incomplete file)")
        })?
        .size();
    if found != expected || expected > file_size.saturating_mul(1032) {
        return Err(format!(
            "its storage `{entry}` holds {found} bytes; the pickle says {} elements of {:?}, \
             {expected} bytes",
            storage.numel, storage.dtype
        ));
    }
    let numel = tensor
        .shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .ok_or("a shape whose size overflows")?;
    if numel == 0 {
        return Ok(());
    }
    let last = tensor
        .shape
        .iter()
        .zip(&tensor.stride)
        .try_fold(tensor.offset, |end, (&d, &s)| {
            end.checked_add((d as u64 - 1).checked_mul(s)?)
        })
        .ok_or("a view whose extent overflows")?;
    if last >= storage.numel {
        return Err(format!(
            "a view of shape {:?}, stride {:?} at offset {} reaches element {last} of a storage \
             of {}",
            tensor.shape, tensor.stride, tensor.offset, storage.numel
        ));
    }
    Ok(())
}

/// The bytes an element of `dtype` takes in a storage.
fn element_bytes(dtype: DType) -> u64 {
    match dtype {
        DType::F64 | DType::I64 | DType::U64 => 8,
        DType::F32 | DType::I32 | DType::U32 | DType::Flex32 => 4,
        DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 2,
        _ => 1,
    }
}

/// The tensors of `value` under `prefix`, following nested dicts.
fn flatten(
    prefix: String,
    value: &Value,
    depth: usize,
    out: &mut Vec<(String, TensorRef)>,
) -> Result<(), String> {
    match value {
        Value::Tensor(tensor) => out.push((prefix, (**tensor).clone())),
        Value::Dict(items) => {
            if depth >= pickle::MAX_DEPTH {
                return Err(format!("dicts nested deeper than {}", pickle::MAX_DEPTH));
            }
            for (key, value) in items.iter() {
                let key = match key {
                    Value::Str(s) => s.to_string(),
                    Value::Int(i) => i.to_string(),
                    _ => continue,
                };
                let path = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(path, value, depth + 1, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A lazily read snapshot of `tensor`, stored at `entry` of the file at `path`.
fn snapshot(path: PathBuf, key: String, entry: String, tensor: TensorRef) -> TensorSnapshot {
    let (dtype, shape) = (tensor.storage.dtype, tensor.shape.clone());
    let read = move || -> Result<TensorData, TensorSnapshotError> {
        let file = File::open(&path).map_err(|e| TensorSnapshotError::IoError(e.to_string()))?;
        let file_size = file.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
        let mut archive =
            ZipArchive::new(file).map_err(|e| TensorSnapshotError::IoError(e.to_string()))?;
        let width = element_bytes(tensor.storage.dtype);
        let most = tensor.storage.numel * width;
        let bytes = read_entry(&mut archive, &entry, most, file_size)
            .map_err(TensorSnapshotError::DataError)?;
        if bytes.len() as u64 != most {
            return Err(TensorSnapshotError::DataError(format!(
                "the archive entry `{entry}` holds {} bytes, not {most}: the file changed \
                 since it was opened",
                bytes.len()
            )));
        }
        Ok(TensorData::from_bytes_vec(
            view(&bytes, &tensor, width as usize),
            tensor.shape.clone(),
            tensor.storage.dtype,
        ))
    };
    TensorSnapshot::from_closure(
        Rc::new(read),
        dtype,
        shape.into(),
        key.split('.').map(str::to_string).collect(),
        Vec::new(),
        ParamId::new(),
    )
}

/// The elements of `tensor`'s view of `storage`, in row-major order (checked to lie inside).
fn view(storage: &[u8], tensor: &TensorRef, width: usize) -> Vec<u8> {
    let numel: usize = tensor.shape.iter().product();
    let mut out = Vec::with_capacity(numel * width);
    if numel == 0 {
        return out;
    }
    let contiguous = {
        let mut expected = 1u64;
        tensor
            .shape
            .iter()
            .zip(&tensor.stride)
            .rev()
            .all(|(&d, &s)| {
                let ok = d == 1 || s == expected;
                expected *= d as u64;
                ok
            })
    };
    let start = tensor.offset as usize * width;
    if contiguous {
        out.extend_from_slice(&storage[start..start + numel * width]);
        return out;
    }
    let mut index = vec![0usize; tensor.shape.len()];
    for _ in 0..numel {
        let element: u64 = index
            .iter()
            .zip(&tensor.stride)
            .map(|(&i, &s)| i as u64 * s)
            .sum::<u64>()
            + tensor.offset;
        let at = element as usize * width;
        out.extend_from_slice(&storage[at..at + width]);
        for axis in (0..index.len()).rev() {
            index[axis] += 1;
            if index[axis] < tensor.shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// The storage of a tensor, for tests.
#[cfg(test)]
fn storage(numel: u64) -> Rc<pickle::StorageRef> {
    Rc::new(pickle::StorageRef {
        key: "0".into(),
        dtype: DType::U8,
        numel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transposed_view_is_gathered_by_its_strides() {
        // storage [0 1 2 3 4 5] as 2 × 3; its transpose is 3 × 2 with strides (1, 3)
        let bytes: Vec<u8> = (0..6).collect();
        let transposed = TensorRef {
            storage: storage(6),
            offset: 0,
            shape: vec![3, 2],
            stride: vec![1, 3],
        };
        assert_eq!(view(&bytes, &transposed, 1), vec![0, 3, 1, 4, 2, 5]);
        let row = TensorRef {
            storage: storage(6),
            offset: 3,
            shape: vec![3],
            stride: vec![1],
        };
        assert_eq!(view(&bytes, &row, 1), vec![3, 4, 5]);
    }
}
