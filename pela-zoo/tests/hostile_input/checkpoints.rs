//! Damaged and unusual checkpoint files: each loads right or is refused by name, never loads
//! zeros, scrambled or silently chosen weights.
//!
//! - `pth_*.pth` fixtures are written by `scripts/make_pth_fixtures.py` (CPython's pickler in
//!   `torch.save`'s format): a transposed view, an offset view, an integer weight, two keys
//!   that become one;
//! - the damaged files are `deit_test_fb.pth` (written by `torch.save`) with one storage entry
//!   dropped, cut short, or flipped (its CRC then fails).
//!
//! Burn 0.21's own reader (burn-store's `PytorchStore`) loads the first and the three damaged
//! files without an error: the view as the storage's first elements in order, the damaged
//! storages as zeros (`pytorch/pickle_reader.rs`: the stride is not read, and a failed read
//! falls back to zeros).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::checkpoint::load_strict;
use pela_zoo::vit::VitConfig;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn linear() -> Linear<Cpu> {
    LinearConfig::new(2, 3).init(&CpuDevice::default())
}

const STRIP_MODEL: [(&str, &str); 1] = [("^model\\.", "")];

#[test]
fn strided_and_offset_views_load_as_pytorch_sees_them() {
    let mut layer = linear();
    load_strict(&mut layer, &fixture("pth_strided.pth"), &STRIP_MODEL).unwrap();
    // PyTorch's weight is arange(6).reshape(2, 3).t(): Burn's `[in, out]` is its transpose.
    let weight: Vec<f32> = layer.weight.val().into_data().to_vec().unwrap();
    assert_eq!(weight, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let bias: Vec<f32> = layer.bias.unwrap().val().into_data().to_vec().unwrap();
    assert_eq!(bias, vec![11.0, 12.0, 13.0]);
}

#[test]
fn an_integer_tensor_for_a_float_parameter_is_named() {
    let mut layer = linear();
    let error = load_strict(&mut layer, &fixture("pth_int_weight.pth"), &STRIP_MODEL)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`weight` is stored as I64, the model's parameter is a float tensor"),
        "{error}"
    );
    assert!(error.contains("pth_int_weight.pth"), "{error}");
}

#[test]
fn two_keys_that_become_one_are_both_named() {
    let mut layer = linear();
    let error = load_strict(&mut layer, &fixture("pth_collision.pth"), &STRIP_MODEL)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`bias`") && error.contains("`model.bias`"),
        "{error}"
    );
    assert!(error.contains("both become `bias`"), "{error}");
}

/// `deit_test_fb.pth` rewritten with its entry `data/<storage>` changed by `change` (`None`
/// drops it), into a file of its own.
fn damaged(name: &str, storage: &str, change: impl Fn(Vec<u8>) -> Option<Vec<u8>>) -> PathBuf {
    let source = std::fs::File::open(fixture("deit_test_fb.pth")).unwrap();
    let mut archive = zip::ZipArchive::new(source).unwrap();
    let path = std::env::temp_dir().join(format!("pela-zoo-{name}-{}.pth", std::process::id()));
    let mut out = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let entry_name = entry.name().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let bytes = if entry_name.ends_with(&format!("/data/{storage}")) {
            match change(bytes) {
                Some(bytes) => bytes,
                None => continue,
            }
        } else {
            bytes
        };
        out.start_file(entry_name, stored).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
    path
}

fn load_deit(path: &Path) -> String {
    let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    let error = config
        .load_checkpoint::<Cpu>(path, &CpuDevice::default())
        .map(|model| model.num_params())
        .unwrap_err()
        .to_string();
    std::fs::remove_file(path).ok();
    error
}

#[test]
fn a_missing_storage_is_named_with_its_tensor() {
    let error = load_deit(&damaged("missing", "0", |_| None));
    assert!(error.contains("is not in the archive"), "{error}");
    assert!(
        error.contains("deit_test_fb") || error.contains("pela-zoo-missing"),
        "{error}"
    );
}

#[test]
fn a_short_storage_is_named_with_its_tensor() {
    let error = load_deit(&damaged("short", "0", |bytes| {
        Some(bytes[..bytes.len() / 2].to_vec())
    }));
    assert!(
        error.contains("holds") && error.contains("the pickle says"),
        "{error}"
    );
}

#[test]
fn a_storage_that_fails_its_crc_is_named() {
    // Written whole, then one byte of the entry's data flipped in the file itself.
    let path = damaged("crc", "0", Some);
    let offset = {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let name = archive
            .file_names()
            .find(|n| n.ends_with("/data/0"))
            .unwrap()
            .to_string();
        archive.by_name(&name).unwrap().data_start().unwrap()
    };
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset as usize + 3] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let error = load_deit(&path);
    assert!(error.to_lowercase().contains("checksum"), "{error}");
}
