//! Text for BERT: WordSim-353 and unlabelled news sentences from the `gensim` wheel, and the
//! measures of the MiniLM experiment (Spearman correlation, cosine similarity).
//!
//! ```
//! use pela_zoo::text::spearman;
//!
//! // A monotone relation has a rank correlation of 1, whatever its shape.
//! let rho = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 8.0, 27.0, 64.0]);
//! assert!((rho - 1.0).abs() < 1e-12);
//! ```

mod corpus;
mod gensim;
mod spearman;
mod wordsim;

pub use corpus::split_sentences;
pub use gensim::{GENSIM_WHEEL, GENSIM_WHEEL_SHA256, Gensim};
pub use spearman::{pearson, ranks, spearman};
pub use wordsim::{WordPair, WordSim353};
