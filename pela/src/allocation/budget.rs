//! What the allocated layers may keep: parameters, or multiply-adds per input.

use serde::{Deserialize, Serialize};

use crate::{PelaError, rank_for_ratio};

/// The size of the allocated layers' factor pairs: what a rank allocation must fit in.
///
/// Counted over the weights of the layers being allocated (their biases are kept either way),
/// with a dense layer counted at its full size: in parameters, or in multiply-adds per input,
/// where each layer's parameters count once per row its weight multiplies (a ViT's tokens; a
/// Swin's first stage has 64 times the tokens of its last, so its parameters cost 64 times as
/// much). Pass each layer as `(d_input, d_output, rows)`; a budget in parameters ignores the
/// rows.
///
/// ```
/// use pela::{Budget, BudgetUnit};
///
/// let layers = [(768, 3072, 197), (3072, 768, 197)];
/// // κ = 2 of the uniform rule: 307 · 3840 per layer.
/// assert_eq!(Budget::Ratio(2.0).amount(&layers)?, 2 * 307 * 3840);
/// assert_eq!(Budget::Fraction(0.5).amount(&layers)?, 768 * 3072);
/// assert_eq!(Budget::Parameters(1_000_000).amount(&layers)?, 1_000_000);
/// // Half the layers' multiply-adds per image.
/// assert_eq!(Budget::MultiplyAddFraction(0.5).amount(&layers)?, 768 * 3072 * 197);
/// assert_eq!(Budget::MultiplyAdds(9_000_000).unit(), BudgetUnit::MultiplyAdds);
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
    /// This many multiply-adds per input (half the FLOPs, as the paper counts them), each
    /// layer's weight applied to its rows ([`Allocator::layer_rows`](crate::Allocator)).
    MultiplyAdds(usize),
    /// This fraction (between 0 and 1) of the layers' dense multiply-adds per input.
    MultiplyAddFraction(f64),
}

/// What a [`Budget`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BudgetUnit {
    /// The weights' parameters.
    Parameters,
    /// The weights' multiply-adds per input: each parameter once per row it multiplies.
    MultiplyAdds,
}

impl BudgetUnit {
    /// The unit's name in a report: `parameters` or `multiply-adds`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Parameters => "parameters",
            Self::MultiplyAdds => "multiply-adds",
        }
    }
}

impl core::fmt::Display for BudgetUnit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl Budget {
    /// What the budget counts.
    pub fn unit(&self) -> BudgetUnit {
        match self {
            Self::Parameters(_) | Self::Fraction(_) | Self::Ratio(_) => BudgetUnit::Parameters,
            Self::MultiplyAdds(_) | Self::MultiplyAddFraction(_) => BudgetUnit::MultiplyAdds,
        }
    }

    /// The budget in its [`unit`](Self::unit) for layers of these `(d_input, d_output, rows)`.
    ///
    /// # Errors
    /// [`PelaError::InvalidBudget`] for a fraction outside (0, 1] or a κ that is not above 1.
    pub fn amount(&self, layers: &[(usize, usize, usize)]) -> Result<usize, PelaError> {
        let cost = |rows: usize| match self.unit() {
            BudgetUnit::Parameters => 1,
            BudgetUnit::MultiplyAdds => rows,
        };
        let dense: usize = layers.iter().map(|&(i, o, rows)| i * o * cost(rows)).sum();
        let fraction = |fraction: f64| {
            if fraction > 0.0 && fraction <= 1.0 {
                Ok((dense as f64 * fraction).floor() as usize)
            } else {
                Err(PelaError::InvalidBudget {
                    budget: self.to_string(),
                    reason: format!(
                        "a fraction of the layers' {} is between 0 and 1",
                        self.unit().name()
                    ),
                })
            }
        };
        match *self {
            Self::Parameters(count) | Self::MultiplyAdds(count) => Ok(count),
            Self::Fraction(share) | Self::MultiplyAddFraction(share) => fraction(share),
            Self::Ratio(ratio) if ratio.is_finite() && ratio > 1.0 => Ok(layers
                .iter()
                .map(|&(i, o, _)| rank_for_ratio(i, o, ratio).min(i.min(o)) * (i + o))
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
            Self::MultiplyAdds(count) => write!(
                f,
                "{} multiply-adds an input ({:.2} GFLOPs)",
                crate::thousands(*count),
                2.0 * *count as f64 / 1e9
            ),
            Self::MultiplyAddFraction(fraction) => {
                write!(f, "{:.1} % of the multiply-adds", fraction * 100.0)
            }
        }
    }
}
