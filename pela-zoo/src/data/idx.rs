//! The IDX format of MNIST and Fashion-MNIST.

use std::io::Read;
use std::path::Path;

use super::InMemoryImages;
use crate::ZooError;

/// Fashion-MNIST's class names.
const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Reads one split of an IDX dataset from `dir`: `{split}-images-idx3-ubyte` and
/// `{split}-labels-idx1-ubyte`, each plain or gzipped (`.gz`), as MNIST and Fashion-MNIST
/// ship them (`split` is `train` or `t10k`). Debian's `dataset-fashion-mnist` installs them in
/// `/usr/share/datasets/fashion-mnist`.
///
/// Ten classes are named as Fashion-MNIST's when the folder's name contains `fashion`, by
/// digit otherwise. Training augmentation: random shifts by up to two pixels, and horizontal
/// flips for Fashion-MNIST.
///
/// # Errors
/// [`ZooError::File`] naming a missing file, [`ZooError::Io`] an unreadable one; [`ZooError::InvalidData`] for a file
/// that is not IDX, or images and labels that disagree.
///
/// ```no_run
/// use pela_zoo::data::{ImageDataset, read_idx};
///
/// let test = read_idx("/usr/share/datasets/fashion-mnist".as_ref(), "t10k")?;
/// assert_eq!(test.len(), 10_000);
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
pub fn read_idx(dir: &Path, split: &str) -> Result<InMemoryImages, ZooError> {
    let (images_path, images) = read_file(dir, &format!("{split}-images-idx3-ubyte"))?;
    let (labels_path, labels) = read_file(dir, &format!("{split}-labels-idx1-ubyte"))?;
    let (image_dims, pixels) = parse(&images_path, &images, 0x0803)?;
    let (label_dims, labels) = parse(&labels_path, &labels, 0x0801)?;
    if image_dims.len() != 3 || label_dims[0] != image_dims[0] || image_dims[1..].contains(&0) {
        return Err(ZooError::InvalidData {
            source_name: images_path,
            reason: format!(
                "{} images of {:?} for {} labels",
                image_dims[0],
                &image_dims[1..],
                label_dims[0]
            ),
        });
    }
    let fashion = dir.to_string_lossy().to_lowercase().contains("fashion");
    let n_classes = labels
        .iter()
        .map(|&l| usize::from(l) + 1)
        .max()
        .unwrap_or(0);
    let classes = (0..n_classes.max(10))
        .map(|i| match FASHION_CLASSES.get(i) {
            Some(name) if fashion => name.to_string(),
            _ => i.to_string(),
        })
        .collect();
    let name = format!("{} ({split})", dir.display());
    let labels = labels.into_iter().map(usize::from).collect();
    let set = InMemoryImages::new(
        name,
        pixels,
        labels,
        [1, image_dims[1], image_dims[2]],
        1.0 / 255.0,
        classes,
    )?;
    Ok(set.with_augmentation(2, fashion))
}

/// The bytes of `dir/name` or `dir/name.gz`, and the path read.
fn read_file(dir: &Path, name: &str) -> Result<(String, Vec<u8>), ZooError> {
    let plain = dir.join(name);
    let gzipped = dir.join(format!("{name}.gz"));
    let io = |path: &Path, source: std::io::Error| ZooError::io(path, source);
    if plain.is_file() {
        let bytes = std::fs::read(&plain).map_err(|e| io(&plain, e))?;
        return Ok((plain.display().to_string(), bytes));
    }
    let file = std::fs::File::open(&gzipped).map_err(|_| ZooError::File {
        path: gzipped.display().to_string(),
        reason: format!(
            "neither `{name}` nor `{name}.gz` is in `{}`; for Fashion-MNIST install the Debian \
             package `dataset-fashion-mnist` or point to the folder holding the IDX files",
            dir.display()
        ),
    })?;
    // Never inflate past what the IDX header announces (a gzip bomb would otherwise fill the
    // memory): the header first, then at most the announced bytes and one more.
    let compressed = file.metadata().map_err(|e| io(&gzipped, e))?.len();
    let mut decoder = flate2::read::GzDecoder::new(file);
    let mut bytes = Vec::new();
    (&mut decoder)
        .take(HEADER_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| io(&gzipped, e))?;
    let path = gzipped.display().to_string();
    let announced = announced_bytes(&path, &bytes)?;
    // Deflate cannot inflate a byte to more than 1,032 (RFC 1951's longest match per bit).
    let most = compressed.saturating_mul(1032);
    if announced > most {
        return Err(ZooError::InvalidData {
            source_name: path,
            reason: format!(
                "the header announces {announced} bytes, more than its {compressed} compressed \
                 bytes can hold ({most} at most): not an IDX file, or a corrupt one"
            ),
        });
    }
    decoder
        .take(announced - bytes.len() as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(&gzipped, e))?;
    Ok((path, bytes))
}

/// The longest IDX header read before the data: the magic number and up to 255 dimensions.
const HEADER_BYTES: u64 = 4 * 256;

/// The size in bytes, header included, that the IDX header at the start of `bytes` announces.
fn announced_bytes(path: &str, bytes: &[u8]) -> Result<u64, ZooError> {
    let invalid = |reason: &str| ZooError::InvalidData {
        source_name: path.to_string(),
        reason: reason.to_string(),
    };
    let word = |i: usize| -> Option<u64> {
        bytes
            .get(4 * i..4 * i + 4)
            .map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    };
    let magic = word(0).ok_or_else(|| invalid("truncated header"))?;
    let n_dims = magic & 0xff;
    let values = (1..=n_dims as usize).try_fold(1u64, |product, i| {
        let dim = word(i).ok_or_else(|| invalid("truncated header"))?;
        product
            .checked_mul(dim)
            .ok_or_else(|| invalid("the dimensions overflow 64 bits: a corrupt header"))
    })?;
    Ok(values.saturating_add(4 * (1 + n_dims)))
}

/// The dimensions and the `u8` data of an IDX file whose magic number is `magic`.
fn parse(path: &str, bytes: &[u8], magic: u32) -> Result<(Vec<usize>, Vec<u8>), ZooError> {
    let invalid = |reason: String| ZooError::InvalidData {
        source_name: path.to_string(),
        reason,
    };
    let word = |i: usize| -> Option<u32> {
        bytes
            .get(4 * i..4 * i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(0) != Some(magic) {
        return Err(invalid(format!(
            "not an IDX file of unsigned bytes (magic number {magic:#06x} expected)"
        )));
    }
    let n_dims = (magic & 0xff) as usize;
    let dims: Vec<usize> = (1..=n_dims)
        .map(|i| word(i).map(|d| d as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| invalid("truncated header".into()))?;
    let start = 4 * (1 + n_dims);
    let size = dims
        .iter()
        .try_fold(1usize, |product, &dim| product.checked_mul(dim))
        .filter(|&size| size <= bytes.len().saturating_sub(start))
        .ok_or_else(|| {
            invalid(format!(
                "truncated: {dims:?} values announced, {} bytes of data",
                bytes.len().saturating_sub(start)
            ))
        })?;
    let data = &bytes[start..start + size];
    Ok((dims, data.to_vec()))
}
