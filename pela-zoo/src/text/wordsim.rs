//! WordSim-353: word pairs with human similarity scores.

use crate::ZooError;

use super::{pearson, spearman};

/// One pair of WordSim-353: two words and the mean human similarity score (0–10).
#[derive(Debug, Clone, PartialEq)]
pub struct WordPair {
    /// The first word.
    pub first: String,
    /// The second word.
    pub second: String,
    /// The mean human score, 0 (unrelated) to 10 (identical).
    pub score: f64,
}

/// WordSim-353 (Finkelstein et al. 2002), as gensim's test data ships it: 353 word pairs.
/// A model is scored by the Spearman correlation between its similarity of each pair and the
/// human scores.
///
/// ```
/// use pela_zoo::text::WordSim353;
///
/// let data = WordSim353::from_tsv("# a comment\nlove\tsex\t6.77\ntiger\tcat\t7.35\n", "inline")?;
/// assert_eq!(data.pairs.len(), 2);
/// assert_eq!(data.words(), ["cat", "love", "sex", "tiger"]);
/// // A "model" that ranks the pairs as the humans do:
/// let rho = data.spearman(|a, _| if a == "tiger" { 0.9 } else { 0.1 });
/// assert!((rho - 1.0).abs() < 1e-12);
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WordSim353 {
    /// The pairs, in the file's order.
    pub pairs: Vec<WordPair>,
}

impl WordSim353 {
    /// Parses the tab-separated file (`word1`, `word2`, score; `#` comments; a first line whose
    /// score is not a number is a header); `source` names it in errors. The two texts may be
    /// whole sentences (STS-B's pairs, for example).
    ///
    /// # Errors
    /// A line without three fields or with a score that is not a number.
    pub fn from_tsv(text: &str, source: &str) -> Result<Self, ZooError> {
        let mut pairs = Vec::new();
        let mut header_seen = false;
        for (number, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let invalid = |what: &str| ZooError::InvalidData {
                source_name: source.to_string(),
                reason: format!("line {}: {what}: {line:?}", number + 1),
            };
            let fields: Vec<&str> = line.split('\t').collect();
            let [first, second, score] = fields[..] else {
                return Err(invalid("expected `text1<TAB>text2<TAB>score`"));
            };
            let Ok(score) = score.trim().parse() else {
                if pairs.is_empty() && !header_seen {
                    header_seen = true;
                    continue;
                }
                return Err(invalid("the score is not a number"));
            };
            pairs.push(WordPair {
                first: first.to_string(),
                second: second.to_string(),
                score,
            });
        }
        if pairs.is_empty() {
            return Err(ZooError::InvalidData {
                source_name: source.to_string(),
                reason: "no word pairs".into(),
            });
        }
        Ok(Self { pairs })
    }

    /// Every distinct word, sorted.
    pub fn words(&self) -> Vec<&str> {
        let mut words: Vec<&str> = self
            .pairs
            .iter()
            .flat_map(|p| [p.first.as_str(), p.second.as_str()])
            .collect();
        words.sort_unstable();
        words.dedup();
        words
    }

    /// Spearman's ρ between `similarity(first, second)` and the human scores.
    pub fn spearman(&self, similarity: impl FnMut(&str, &str) -> f64) -> f64 {
        self.correlations(similarity).0
    }

    /// Spearman's ρ and Pearson's r between `similarity(first, second)` and the human scores.
    ///
    /// ```
    /// use pela_zoo::text::WordSim353;
    ///
    /// let data = WordSim353::from_tsv("a\tb\tscore\nx\ty\t1\nx\tz\t2\ny\tz\t4\n", "inline")?;
    /// let (rho, r) = data.correlations(|a, b| (a.len() + b.len()) as f64 + (b == "z") as u8 as f64);
    /// assert_eq!(data.pairs.len(), 3); // the header line is skipped
    /// assert!(rho > 0.8 && r > 0.5);
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn correlations(&self, mut similarity: impl FnMut(&str, &str) -> f64) -> (f64, f64) {
        let model: Vec<f64> = self
            .pairs
            .iter()
            .map(|p| similarity(&p.first, &p.second))
            .collect();
        let human: Vec<f64> = self.pairs.iter().map(|p| p.score).collect();
        (spearman(&model, &human), pearson(&model, &human))
    }
}
