//! The FLOPs of a teacher and its student, counted as the paper counts them.

use std::fmt;

use pela::CompressionReport;

/// The FLOPs of one input through a teacher and its PELA student.
///
/// Counted as the paper's Table 1 counts them (DeiT-Base 33.7 G and its κ = 2 student 17.0 G):
/// two FLOPs per use of a weight or bias, for every `Linear` (on every row it is applied to)
/// and for the layers PELA leaves alone (a patch embedding). The attention products `QKᵀ` and
/// `AV` have no weights and PELA does not change them; they are counted apart, in
/// [`attention`](Self::attention).
///
/// ```
/// use pela_zoo::family::{Flops, FlopsPer};
///
/// let flops = Flops {
///     linear_macs_before: 4_000_000_000,
///     linear_macs_after: 1_500_000_000,
///     fixed_macs: 500_000_000,
///     attention_macs: 250_000_000,
///     per: FlopsPer::Image,
/// };
/// assert_eq!((flops.teacher(), flops.student()), (9_000_000_000, 4_000_000_000));
/// assert_eq!(
///     flops.to_string(),
///     "FLOPs an image (2 per weight use, as the paper counts): 9.00 G → 4.00 G (2.25× fewer); \
///      attention products 0.50 G, unchanged"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flops {
    /// Multiply-adds of the `Linear` layers (a bias counts as one per output), dense.
    pub linear_macs_before: u64,
    /// Multiply-adds of the `Linear` layers (a bias counts as one per output), compressed.
    pub linear_macs_after: u64,
    /// Multiply-adds of the layers PELA does not compress (a patch embedding, bias included).
    pub fixed_macs: u64,
    /// Multiply-adds of the attention products, over all blocks (0 when not counted).
    pub attention_macs: u64,
    /// What the counts are for.
    pub per: FlopsPer,
}

/// What a [`Flops`] count is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlopsPer {
    /// One image through an image model.
    Image,
    /// One token through a text model; the attention products grow with the text's length
    /// and are not counted.
    Token,
    /// One token through every `Linear` once (ALBEF: the sum over its image, text and fusion
    /// encoders).
    TokenEveryLinearOnce,
}

impl Flops {
    /// The count of a model compressed as `report` says, each layer applied to `rows(path)`
    /// rows (tokens, or 1 for a head), plus `fixed_macs` and `attention_macs`.
    pub fn of_layers(
        report: &CompressionReport,
        rows: impl Fn(&str) -> u64,
        fixed_macs: u64,
        attention_macs: u64,
        per: FlopsPer,
    ) -> Self {
        // A layer's parameters are the multiply-adds it does per row (a bias: one per output).
        let sum = |params: fn(&pela::LayerReport) -> usize| {
            report
                .layers
                .iter()
                .map(|layer| params(layer) as u64 * rows(&layer.path))
                .sum()
        };
        Self {
            linear_macs_before: sum(pela::LayerReport::params_before),
            linear_macs_after: sum(pela::LayerReport::params_after),
            fixed_macs,
            attention_macs,
            per,
        }
    }

    /// The count of one token through every `Linear` of `report` once (the report's
    /// multiply-adds), attention not counted.
    pub fn per_token(report: &CompressionReport, per: FlopsPer) -> Self {
        let totals = report.totals();
        Self {
            linear_macs_before: totals.macs_before as u64,
            linear_macs_after: totals.macs_after as u64,
            fixed_macs: 0,
            attention_macs: 0,
            per,
        }
    }

    /// FLOPs of the teacher, the paper's count.
    pub fn teacher(&self) -> u64 {
        2 * (self.linear_macs_before + self.fixed_macs)
    }

    /// FLOPs of the student, the paper's count.
    pub fn student(&self) -> u64 {
        2 * (self.linear_macs_after + self.fixed_macs)
    }

    /// FLOPs of the attention products, the same in teacher and student.
    pub fn attention(&self) -> u64 {
        2 * self.attention_macs
    }
}

/// One line: the teacher's and the student's count, their ratio, and the attention products.
impl fmt::Display for Flops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Images cost GFLOPs, a token MFLOPs.
        let (scale, unit, article, per) = match self.per {
            FlopsPer::Image => (1e9, "G", "an", "image"),
            FlopsPer::Token => (1e6, "M", "a", "token"),
            FlopsPer::TokenEveryLinearOnce => (1e6, "M", "a", "token (every Linear once)"),
        };
        let attention = match self.per {
            FlopsPer::Image => format!(
                "attention products {:.2} {unit}, unchanged",
                self.attention() as f64 / scale
            ),
            FlopsPer::Token | FlopsPer::TokenEveryLinearOnce => {
                "attention products (they grow with the text's length) unchanged, not counted"
                    .to_string()
            }
        };
        write!(
            f,
            "FLOPs {article} {per} (2 per weight use, as the paper counts): {:.2} {unit} → {:.2} \
             {unit} ({:.2}× fewer); {attention}",
            self.teacher() as f64 / scale,
            self.student() as f64 / scale,
            self.teacher() as f64 / self.student() as f64,
        )
    }
}
