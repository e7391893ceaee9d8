//! The state threaded through a model's conversion and walks: the module path, the plan, the
//! report being built, and progress.

use std::collections::HashMap;
use std::time::Instant;

use burn::tensor::TensorData;
use ndarray::Array2;

use crate::{CompressionReport, LayerReport, RankPlan};

/// What a conversion builds.
pub(crate) enum Mode {
    /// Factor pairs from the plain SVD of each weight.
    Plain,
    /// A calibration twin: every compressible layer dense, recording its inputs.
    Calibrate,
    /// Factor pairs from the data-aware SVD, with `XᵀX` by layer path.
    DataAware(HashMap<String, Array2<f64>>),
    /// The plan's decisions only: every layer stays dense, the report lists the ranks.
    Preview,
    /// Layers at the given ranks by path, with untrained factors (to load a checkpoint into);
    /// every other layer stays dense. The plan is not consulted.
    Ranks(HashMap<String, usize>),
    /// A stage of the sequential initialisation (see [`crate::sequential`]).
    Staged(Staged),
}

/// Fitted layers by path: `U`, `V` as stored, and their report rows.
pub(crate) type Fitted = HashMap<String, (TensorData, TensorData, LayerReport)>;

/// Where the sequential initialisation stands: the layers fitted so far become low-rank with
/// their factors, the layer being fitted (if any) records its inputs row by row, every other
/// layer stays dense. Once finished, the plan decides the layers not in `done`, and the report
/// lists every layer.
#[derive(Default)]
pub(crate) struct Staged {
    /// The fitted layers.
    pub done: Fitted,
    /// The layer whose inputs to record.
    pub target: Option<String>,
    /// The finished student rather than a stage.
    pub finished: bool,
}

/// A module path as Burn records spell it: field names and indices joined by `.`.
///
/// ```
/// let mut path = pela::ModulePath::default();
/// path.push("blocks");
/// path.push("3");
/// path.push("fc1");
/// assert_eq!(path.to_string(), "blocks.3.fc1");
/// path.pop();
/// assert_eq!(path.to_string(), "blocks.3");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModulePath {
    segments: Vec<String>,
}

impl ModulePath {
    /// Enters a field or an index.
    pub fn push(&mut self, segment: impl Into<String>) {
        self.segments.push(segment.into());
    }

    /// Leaves the innermost segment.
    pub fn pop(&mut self) {
        self.segments.pop();
    }

    /// Runs `f` one level down, under `segment`.
    pub fn within<R>(&mut self, segment: impl Into<String>, f: impl FnOnce(&mut Self) -> R) -> R {
        self.push(segment);
        let out = f(self);
        self.pop();
        out
    }
}

impl core::fmt::Display for ModulePath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

/// Hears about long-running work: one call per layer as it is factorised.
///
/// The library only reports; a program draws (a progress bar, a log line).
///
/// ```
/// struct Log;
/// impl pela::Progress for Log {
///     fn on_layer_factorised(&self, path: &str, rank: usize, seconds: f64) {
///         eprintln!("{path}: rank {rank} in {seconds:.2} s");
///     }
/// }
/// ```
pub trait Progress {
    /// A layer was factorised at `rank`, taking `seconds`.
    fn on_layer_factorised(&self, _path: &str, _rank: usize, _seconds: f64) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A conversion in progress: what [`LowRank::convert`](crate::LowRank::convert) is given.
pub struct Conversion<'a> {
    /// The rank plan.
    pub plan: &'a RankPlan,
    /// The path of the module being converted.
    pub path: ModulePath,
    /// The layers converted so far.
    pub report: CompressionReport,
    progress: &'a dyn Progress,
    pub(crate) mode: Mode,
}

impl<'a> Conversion<'a> {
    /// Starts a conversion at the root of a model.
    pub fn new(plan: &'a RankPlan, progress: &'a dyn Progress) -> Self {
        Self {
            plan,
            path: ModulePath::default(),
            report: CompressionReport::default(),
            progress,
            mode: Mode::Plain,
        }
    }

    pub(crate) fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Records a converted layer and tells the progress listener.
    pub fn record(&mut self, layer: LayerReport, started: Instant) {
        if let Some(rank) = layer.decision.rank() {
            self.progress
                .on_layer_factorised(&layer.path, rank, started.elapsed().as_secs_f64());
        }
        self.report.push(layer);
    }

    /// Runs `f` one level down, under `segment`.
    pub fn within<R>(&mut self, segment: impl Into<String>, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(segment);
        let out = f(self);
        self.path.pop();
        out
    }
}
