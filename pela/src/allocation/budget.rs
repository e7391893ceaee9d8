//! How many parameters the allocated layers may keep.

use serde::{Deserialize, Serialize};

use crate::{PelaError, rank_for_ratio};

/// The size of the allocated layers' factor pairs: what a rank allocation must fit in.
///
/// Counted over the weights of the layers being allocated (their biases are kept either way),
/// with a dense layer counted at its full size.
///
/// ```
/// use pela::Budget;
///
/// let layers = [(768, 3072), (3072, 768)];
/// // κ = 2 of the uniform rule: 307 · 3840 per layer.
/// assert_eq!(Budget::Ratio(2.0).parameters(&layers)?, 2 * 307 * 3840);
/// assert_eq!(Budget::Fraction(0.5).parameters(&layers)?, 768 * 3072);
/// assert_eq!(Budget::Parameters(1_000_000).parameters(&layers)?, 1_000_000);
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Budget {
    /// This many parameters.
    Parameters(usize),
    /// This fraction (between 0 and 1) of the layers' dense parameters.
    Fraction(f64),
    /// As many parameters as the uniform rule at this κ keeps (PELA's plan): the size at which
    /// an allocation compares with it.
    Ratio(f64),
}

impl Budget {
    /// The budget in parameters for layers of these `(d_input, d_output)` shapes.
    ///
    /// # Errors
    /// [`PelaError::InvalidBudget`] for a fraction outside (0, 1] or a κ that is not above 1.
    pub fn parameters(&self, layers: &[(usize, usize)]) -> Result<usize, PelaError> {
        let dense: usize = layers.iter().map(|(i, o)| i * o).sum();
        match *self {
            Self::Parameters(count) => Ok(count),
            Self::Fraction(fraction) if fraction > 0.0 && fraction <= 1.0 => {
                Ok((dense as f64 * fraction).floor() as usize)
            }
            Self::Fraction(fraction) => Err(PelaError::InvalidBudget {
                budget: format!("a fraction of {fraction}"),
                reason: "a fraction of the layers' parameters is between 0 and 1".into(),
            }),
            Self::Ratio(ratio) if ratio.is_finite() && ratio > 1.0 => Ok(layers
                .iter()
                .map(|&(i, o)| rank_for_ratio(i, o, ratio).min(i.min(o)) * (i + o))
                .sum()),
            Self::Ratio(ratio) => Err(PelaError::InvalidBudget {
                budget: format!("κ = {ratio}"),
                reason: "κ must be a finite number greater than 1".into(),
            }),
        }
    }
}

impl core::fmt::Display for Budget {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Parameters(count) => write!(f, "{} parameters", crate::thousands(*count)),
            Self::Fraction(fraction) => write!(f, "{:.1} % of the parameters", fraction * 100.0),
            Self::Ratio(ratio) => write!(f, "the parameters of κ = {ratio}"),
        }
    }
}
