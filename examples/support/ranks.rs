//! The flags the rank examples (`minilm_ranks`, `dinov2_ranks`) share: how a student's ranks are
//! allocated, how it is initialised, and which students are distilled.

use clap::ValueEnum;
use pela::Allocation;

/// How a student's ranks are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Ranks {
    /// PELA's one κ.
    Uniform,
    /// From each weight's singular values.
    Spectrum,
    /// From each layer's output error on the calibration data, every layer's counting the same.
    DataAware,
    /// The data-aware errors weighted by each layer's measured effect on the model's output
    /// features (`pela::Sensitivities`).
    Weighted,
}

impl Ranks {
    /// The allocation that chooses these ranks; the weighted one is the data-aware allocation
    /// given the measured layer weights.
    pub fn allocation(self) -> Allocation {
        match self {
            Self::Uniform => Allocation::Uniform,
            Self::Spectrum => Allocation::Spectrum,
            Self::DataAware | Self::Weighted => Allocation::DataAware,
        }
    }

    /// The name in file names: `weighted_data-aware`.
    pub fn file_name(self) -> String {
        self.to_string().replace(' ', "_")
    }
}

impl std::fmt::Display for Ranks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Uniform => "uniform",
            Self::Spectrum => "spectrum",
            Self::DataAware => "data-aware",
            Self::Weighted => "weighted data-aware",
        })
    }
}

/// How a student's factors are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Init {
    /// Every layer fitted on the teacher's inputs.
    OneShot,
    /// Each layer fitted on the inputs of the compressed layers before it.
    Sequential,
}

impl Init {
    /// Whether each layer is fitted through the compressed layers before it.
    pub fn is_sequential(self) -> bool {
        self == Self::Sequential
    }

    /// The name in tables: `one-shot` or `sequential`.
    pub fn name(self) -> &'static str {
        match self {
            Self::OneShot => "one-shot",
            Self::Sequential => "sequential",
        }
    }
}

/// Which students to distil after measuring their initialisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Distil {
    /// None: the table of initialisations only.
    None,
    /// For each κ, the uniform one-shot student (PELA's ranks, data-aware start) and the
    /// student closest to the teacher (the highest cosine).
    Best,
    /// Every student.
    All,
}

impl Distil {
    /// Whether a student of `ranks` and `init` is distilled; `best` is whether it is the one
    /// closest to the teacher at its size.
    pub fn chooses(self, ranks: Ranks, init: Init, best: bool) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Best => (ranks == Ranks::Uniform && init == Init::OneShot) || best,
        }
    }
}

/// A student's name in tables and logs: `κ = 2 size, weighted data-aware ranks, one-shot`.
pub fn student_name(ratio: f64, ranks: Ranks, init: Init) -> String {
    format!("κ = {ratio} size, {ranks} ranks, {}", init.name())
}

/// The folder of a student's distillation run, under `out`: its size, ranks, initialisation and
/// the distillation's settings (`key`), so that a run with other settings does not reuse it.
pub fn run_dir(
    out: &std::path::Path,
    ratio: f64,
    ranks: Ranks,
    init: Init,
    key: &str,
) -> std::path::PathBuf {
    out.join(format!(
        "k{ratio}_{}_{}_{key}.run",
        ranks.file_name(),
        init.name()
    ))
}
