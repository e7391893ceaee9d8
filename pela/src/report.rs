//! What a compression did to a model: per layer and in total.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::{DenseReason, LayerDecision, OutputError, ReconstructionError};

/// One `Linear` layer of a compressed model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// Module path, as in Burn records (`blocks.3.mlp.fc1`).
    pub path: String,
    /// Input size.
    pub d_input: usize,
    /// Output size.
    pub d_output: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
    /// Low-rank at some rank, or kept dense and why.
    pub decision: LayerDecision,
    /// `U·Vᵀ − W` of a low-rank layer.
    pub error: Option<ReconstructionError>,
    /// Output errors on calibration inputs, for a data-aware conversion.
    #[serde(default)]
    pub output_error: Option<OutputError>,
}

impl LayerReport {
    /// A layer replaced by a rank-`rank` factor pair.
    pub fn low_rank(
        path: impl Into<String>,
        d_input: usize,
        d_output: usize,
        bias: bool,
        rank: usize,
        error: ReconstructionError,
    ) -> Self {
        Self {
            error: Some(error),
            ..Self::planned(path, d_input, d_output, bias, rank)
        }
    }

    /// A layer a plan would make rank-`rank`, before any factorisation (no error yet).
    pub fn planned(
        path: impl Into<String>,
        d_input: usize,
        d_output: usize,
        bias: bool,
        rank: usize,
    ) -> Self {
        Self {
            path: path.into(),
            d_input,
            d_output,
            bias,
            decision: LayerDecision::LowRank { rank },
            error: None,
            output_error: None,
        }
    }

    /// Adds the output errors of a data-aware conversion.
    pub fn with_output_error(mut self, output_error: OutputError) -> Self {
        self.output_error = Some(output_error);
        self
    }

    /// A layer kept dense.
    pub fn dense(
        path: impl Into<String>,
        d_input: usize,
        d_output: usize,
        bias: bool,
        reason: DenseReason,
    ) -> Self {
        Self {
            path: path.into(),
            d_input,
            d_output,
            bias,
            decision: LayerDecision::Dense(reason),
            error: None,
            output_error: None,
        }
    }

    fn bias_params(&self) -> usize {
        if self.bias { self.d_output } else { 0 }
    }

    /// Parameters of the dense layer: `d_input·d_output (+ d_output)`.
    pub fn params_before(&self) -> usize {
        self.macs_before() + self.bias_params()
    }

    /// Parameters after compression: `r·(d_input + d_output) (+ d_output)`.
    pub fn params_after(&self) -> usize {
        self.macs_after() + self.bias_params()
    }

    /// Multiply-adds per input row (token) of the dense layer: `d_input·d_output`.
    pub fn macs_before(&self) -> usize {
        self.d_input * self.d_output
    }

    /// Multiply-adds per input row after compression: `r·(d_input + d_output)`.
    pub fn macs_after(&self) -> usize {
        match self.decision {
            LayerDecision::LowRank { rank } => rank * (self.d_input + self.d_output),
            LayerDecision::Dense(_) => self.macs_before(),
        }
    }
}

/// Sums over a [`CompressionReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportTotals {
    /// Layers made low-rank.
    pub low_rank_layers: usize,
    /// Layers kept dense.
    pub dense_layers: usize,
    /// Parameters of the whole model before (listed layers plus `other_params`).
    pub params_before: usize,
    /// Parameters of the whole model after.
    pub params_after: usize,
    /// Multiply-adds per input row of the listed layers before.
    pub macs_before: usize,
    /// Multiply-adds per input row of the listed layers after.
    pub macs_after: usize,
}

/// The per-layer table of a compression: shapes, ranks, parameters and multiply-adds before
/// and after, reconstruction errors; totals. Printed with `Display` as an aligned table, and
/// serialisable to JSON.
///
/// ```
/// use pela::{CompressionReport, DenseReason, LayerReport, ReconstructionError};
///
/// let error = ReconstructionError { frobenius: 1.5, relative: 0.25, max_abs: 0.1 };
/// let report = CompressionReport::new(vec![
///     LayerReport::low_rank("blocks.0.mlp.fc1", 768, 3072, true, 307, error),
///     LayerReport::dense("head", 768, 1000, true,
///         DenseReason::Excluded { pattern: "head".into() }),
/// ])
/// .with_other_params(10_000);
/// let totals = report.totals();
/// assert_eq!(totals.params_before, 768 * 3072 + 3072 + 768 * 1000 + 1000 + 10_000);
/// assert_eq!(totals.params_after, 307 * (768 + 3072) + 3072 + 768 * 1000 + 1000 + 10_000);
/// let table = report.to_string();
/// assert!(table.contains("blocks.0.mlp.fc1") && table.contains("excluded by `head`"));
/// assert!(report.to_json().contains("\"params_after\""));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompressionReport {
    /// One row per `Linear` layer, in model order.
    pub layers: Vec<LayerReport>,
    /// Parameters outside the listed layers (norms, embeddings, …), unchanged by compression.
    pub other_params: usize,
}

impl CompressionReport {
    /// A report over these layers.
    pub fn new(layers: Vec<LayerReport>) -> Self {
        Self {
            layers,
            other_params: 0,
        }
    }

    /// Counts `other_params` parameters outside the listed layers in the model totals.
    pub fn with_other_params(mut self, other_params: usize) -> Self {
        self.other_params = other_params;
        self
    }

    /// Adds a layer.
    pub fn push(&mut self, layer: LayerReport) {
        self.layers.push(layer);
    }

    /// The sums over all layers.
    pub fn totals(&self) -> ReportTotals {
        let sum = |f: fn(&LayerReport) -> usize| self.layers.iter().map(f).sum::<usize>();
        let low_rank_layers = self
            .layers
            .iter()
            .filter(|l| !l.decision.is_dense())
            .count();
        ReportTotals {
            low_rank_layers,
            dense_layers: self.layers.len() - low_rank_layers,
            params_before: sum(LayerReport::params_before) + self.other_params,
            params_after: sum(LayerReport::params_after) + self.other_params,
            macs_before: sum(LayerReport::macs_before),
            macs_after: sum(LayerReport::macs_after),
        }
    }

    /// The report as pretty-printed JSON, totals included.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct WithTotals<'a> {
            #[serde(flatten)]
            report: &'a CompressionReport,
            totals: ReportTotals,
        }
        serde_json::to_string_pretty(&WithTotals {
            report: self,
            totals: self.totals(),
        })
        .expect("a report is plain data")
    }
}

/// A count with thousands separators, as reports print counts.
///
/// ```
/// assert_eq!(pela::thousands(1_234_567), "1,234,567");
/// ```
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ratio(before: usize, after: usize) -> String {
    if after == 0 {
        "-".into()
    } else {
        format!("{:.2}×", before as f64 / after as f64)
    }
}

impl fmt::Display for CompressionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEADER: [&str; 10] = [
            "layer",
            "shape",
            "rank",
            "params",
            "→ params",
            "MACs/row",
            "→ MACs/row",
            "rel. error",
            "max |ΔW|",
            "note",
        ];
        let mut rows: Vec<[String; 10]> = self
            .layers
            .iter()
            .map(|l| {
                let (rank, rel, max, note) = match (&l.decision, l.error) {
                    (LayerDecision::LowRank { rank }, Some(e)) => (
                        rank.to_string(),
                        format!("{:.4}", e.relative),
                        format!("{:.3e}", e.max_abs),
                        String::new(),
                    ),
                    (LayerDecision::LowRank { rank }, None) => {
                        (rank.to_string(), "-".into(), "-".into(), String::new())
                    }
                    (LayerDecision::Dense(reason), _) => (
                        "dense".into(),
                        String::new(),
                        String::new(),
                        reason.to_string(),
                    ),
                };
                [
                    l.path.clone(),
                    format!("{}→{}", l.d_input, l.d_output),
                    rank,
                    thousands(l.params_before()),
                    thousands(l.params_after()),
                    thousands(l.macs_before()),
                    thousands(l.macs_after()),
                    rel,
                    max,
                    note,
                ]
            })
            .collect();
        let t = self.totals();
        let layer_params = |p: usize| thousands(p - self.other_params);
        rows.push([
            format!(
                "linear layers ({} low-rank, {} dense)",
                t.low_rank_layers, t.dense_layers
            ),
            String::new(),
            String::new(),
            layer_params(t.params_before),
            layer_params(t.params_after),
            thousands(t.macs_before),
            thousands(t.macs_after),
            String::new(),
            String::new(),
            String::new(),
        ]);
        let mut widths = HEADER.map(|h| h.chars().count());
        for row in rows.iter() {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let write_row = |f: &mut fmt::Formatter<'_>, cells: &[&str]| -> fmt::Result {
            let mut line = String::new();
            for (i, (cell, width)) in cells.iter().zip(widths.iter()).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = width.saturating_sub(cell.chars().count());
                if i <= 2 || i == cells.len() - 1 {
                    line.push_str(cell);
                    line.extend(core::iter::repeat_n(' ', pad));
                } else {
                    line.extend(core::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
            writeln!(f, "{}", line.trim_end())
        };
        write_row(f, &HEADER)?;
        let rule: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        writeln!(f, "{}", "─".repeat(rule))?;
        let (total, layers) = rows.split_last().expect("the totals row is always there");
        for row in layers {
            write_row(f, &row.each_ref().map(String::as_str))?;
        }
        writeln!(f, "{}", "─".repeat(rule))?;
        write_row(f, &total.each_ref().map(String::as_str))?;
        let output_errors: Vec<(&str, OutputError)> = self
            .layers
            .iter()
            .filter_map(|l| l.output_error.map(|e| (l.path.as_str(), e)))
            .collect();
        if !output_errors.is_empty() {
            let width = output_errors
                .iter()
                .map(|(p, _)| p.chars().count())
                .max()
                .unwrap_or(0);
            writeln!(
                f,
                "output error ‖X·W − X·U·Vᵀ‖ / ‖X·W‖ on the calibration inputs:"
            )?;
            writeln!(
                f,
                "{:<width$}  {:>9}  {:>10}",
                "layer", "plain SVD", "data-aware"
            )?;
            for (path, e) in output_errors {
                writeln!(
                    f,
                    "{path:<width$}  {:>9.4}  {:>10.4}",
                    e.plain, e.data_aware
                )?;
            }
        }
        if self.other_params > 0 {
            writeln!(
                f,
                "other parameters (unchanged): {}",
                thousands(self.other_params)
            )?;
        }
        write!(
            f,
            "model parameters: {} → {} ({} smaller); linear MACs/row: {} → {} ({} fewer)",
            thousands(t.params_before),
            thousands(t.params_after),
            ratio(t.params_before, t.params_after),
            thousands(t.macs_before),
            thousands(t.macs_after),
            ratio(t.macs_before, t.macs_after),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> CompressionReport {
        let error = ReconstructionError {
            frobenius: 2.0,
            relative: 0.5,
            max_abs: 0.125,
        };
        CompressionReport::new(vec![
            LayerReport::low_rank("blocks.0.attn.qkv", 768, 2304, true, 288, error),
            LayerReport::low_rank("blocks.0.attn.proj", 768, 768, true, 192, error),
            LayerReport::dense("head", 768, 1000, true, DenseReason::Skipped),
            LayerReport::dense(
                "gate",
                768,
                2,
                false,
                DenseReason::FewOutputs { min_outputs: 10 },
            ),
        ])
        .with_other_params(5)
    }

    #[test]
    fn params_and_macs_by_hand() {
        let r = report();
        let qkv = &r.layers[0];
        assert_eq!(qkv.params_before(), 768 * 2304 + 2304);
        assert_eq!(qkv.params_after(), 288 * (768 + 2304) + 2304);
        assert_eq!(qkv.macs_after(), 288 * 3072);
        let gate = &r.layers[3];
        assert_eq!((gate.params_before(), gate.params_after()), (1536, 1536));
        let t = r.totals();
        assert_eq!((t.low_rank_layers, t.dense_layers), (2, 2));
        assert_eq!(
            t.params_before,
            1_769_472 + 2304 + 589_824 + 768 + 768_000 + 1000 + 1536 + 5
        );
        assert_eq!(
            t.params_after,
            884_736 + 2304 + 294_912 + 768 + 768_000 + 1000 + 1536 + 5
        );
        assert_eq!(
            t.macs_before - t.macs_after,
            1_769_472 - 884_736 + 589_824 - 294_912
        );
    }

    #[test]
    fn table_is_aligned_and_complete() {
        let table = report().to_string();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("layer"));
        // Numeric columns are right-aligned: the "→ params" cells end where the header does.
        let end_col = |line: &str, cell: &str| {
            let at = line.find(cell).unwrap() + cell.len();
            line[..at].chars().count()
        };
        let header_end = end_col(lines[0], "→ params");
        assert_eq!(end_col(lines[2], "887,040"), header_end);
        assert_eq!(end_col(lines[3], "295,680"), header_end);
        assert!(table.contains("fewer than 10 outputs"));
        assert!(table.contains("linear layers (2 low-rank, 2 dense)"));
        assert!(table.contains("other parameters (unchanged): 5"));
        assert!(table.contains("0.5000") && table.contains("1.250e-1"));
    }

    #[test]
    fn json_round_trip_and_totals() {
        let r = report();
        let json = r.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value["totals"]["params_after"].as_u64().unwrap() as usize,
            r.totals().params_after
        );
        assert_eq!(value["layers"][0]["decision"]["LowRank"]["rank"], 288);
        let back: CompressionReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(86_567_656), "86,567,656");
    }
}
