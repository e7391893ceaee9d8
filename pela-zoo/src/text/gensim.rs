//! The test data of the `gensim` wheel: WordSim-353 and unlabelled news text.

use std::path::{Path, PathBuf};

use super::{WordSim353, split_sentences};
use crate::ZooError;
use crate::assets::{Package, default_dir};

/// The wheel of `gensim==4.4.0` that `scripts/fetch-assets` downloads (one fixed build, so
/// that its hash is fixed).
pub const GENSIM_WHEEL: &str =
    "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl";
/// Its pinned sha256.
pub const GENSIM_WHEEL_SHA256: &str =
    "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8";
const TEST_DATA: &str = "gensim/test/test_data/";

/// gensim's test data, read from its wheel (or from the `test_data` folder of an unpacked
/// one): WordSim-353, the Lee news corpus (Lee, Pincombe & Welsh 2005; 300 Australian news
/// documents) and 200 movie-review sentences (Pang & Lee).
///
/// ```no_run
/// use pela_zoo::text::Gensim;
///
/// let gensim = Gensim::open(Gensim::default_path())?;
/// assert_eq!(gensim.wordsim353()?.pairs.len(), 353);
/// let sentences = gensim.news_sentences()?;
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gensim {
    package: Package,
}

impl Gensim {
    /// Where `scripts/fetch-assets` puts the wheel.
    pub fn default_path() -> PathBuf {
        default_dir().join(GENSIM_WHEEL)
    }

    /// Opens the wheel (checked against its pinned sha256) or an unpacked `test_data` folder.
    ///
    /// # Errors
    /// A missing path, or a wheel with another sha256.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ZooError> {
        Ok(Self {
            package: Package::open(path.as_ref(), TEST_DATA, Some(GENSIM_WHEEL_SHA256))?,
        })
    }

    /// WordSim-353 (`wordsim353.tsv`).
    ///
    /// # Errors
    /// A missing or malformed file.
    pub fn wordsim353(&self) -> Result<WordSim353, ZooError> {
        let name = "wordsim353.tsv";
        WordSim353::from_tsv(
            &self.package.read_to_string(name)?,
            &self.package.describe(name),
        )
    }

    /// The sentences of the Lee news corpus (`lee_background.cor`, one document a line), of
    /// 4 to 60 words, in corpus order.
    ///
    /// # Errors
    /// A missing file.
    pub fn news_sentences(&self) -> Result<Vec<String>, ZooError> {
        let text = self.package.read_to_string("lee_background.cor")?;
        Ok(text
            .lines()
            .flat_map(|document| split_sentences(document, 4, 60))
            .collect())
    }

    /// The 200 labelled movie-review sentences (`pang_lee_polarity.cor`), without their labels.
    ///
    /// # Errors
    /// A missing file.
    pub fn review_sentences(&self) -> Result<Vec<String>, ZooError> {
        // The file is Latin-1 (`ï` of "naïve" is one byte, 0xEF).
        let bytes = self.package.read("pang_lee_polarity.cor")?;
        let text: String = bytes.iter().map(|&b| char::from(b)).collect();
        Ok(text
            .lines()
            .filter_map(|line| line.split_once(' ').map(|(_, s)| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect())
    }
}
