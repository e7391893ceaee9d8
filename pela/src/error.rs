//! The one error type of the `pela` library.

use thiserror::Error;

/// Everything that can go wrong in `pela` on user input: a bad rank plan, a layer that cannot
/// be factorised as asked, mismatched features or weights.
///
/// Every variant names the layer (module path such as `blocks.3.mlp.fc1`), pattern or tensor at
/// fault and says what to change.
///
/// ```
/// use pela::{PelaError, RankPlan};
///
/// let err = RankPlan::new(0.5).validate().unwrap_err();
/// assert!(matches!(err, PelaError::InvalidRatio { .. }));
/// assert!(err.to_string().contains("κ = 0.5"));
/// ```
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum PelaError {
    /// A compression ratio κ that does not shrink the layers it applies to, or is not a number.
    #[error(
        "compression ratio κ = {ratio} {scope} must be a finite number greater than 1 (κ = 2 \
         halves the parameters); to keep layers at or above their size on purpose, use \
         `RankPlan::with_allow_no_shrink(true)` with a κ greater than 0"
    )]
    InvalidRatio {
        /// The offending ratio.
        ratio: f64,
        /// Where it was given: `of the plan` or `for layer <path>`.
        scope: String,
    },

    /// A requested rank of zero.
    #[error("rank 0 {scope} is not allowed: a rank must be at least 1")]
    ZeroRank {
        /// Where it was given: `of the plan` or `for layer <path>`.
        scope: String,
    },

    /// A rank larger than the layer's full rank `min(d_input, d_output)`.
    #[error(
        "rank {rank} for layer `{layer}` ([{d_input}, {d_output}]) exceeds its full rank {max_rank}; \
         choose a rank between 1 and {max_rank}"
    )]
    RankTooLarge {
        /// Module path of the layer.
        layer: String,
        /// The requested rank.
        rank: usize,
        /// Input size of the layer.
        d_input: usize,
        /// Output size of the layer.
        d_output: usize,
        /// `min(d_input, d_output)`.
        max_rank: usize,
    },

    /// A rank at which the factor pair holds at least as many parameters as the dense weight.
    #[error(
        "rank {rank} for layer `{layer}` ([{d_input}, {d_output}]) would not shrink it: the \
         factors hold {factor_params} parameters against {dense_params} dense; use a rank of at \
         most {max_shrinking_rank}, exclude the layer from the plan, or allow it with \
         `RankPlan::with_allow_no_shrink(true)`"
    )]
    RankDoesNotShrink {
        /// Module path of the layer.
        layer: String,
        /// The requested rank.
        rank: usize,
        /// Input size of the layer.
        d_input: usize,
        /// Output size of the layer.
        d_output: usize,
        /// `rank · (d_input + d_output)`.
        factor_params: usize,
        /// `d_input · d_output`.
        dense_params: usize,
        /// The largest rank that still shrinks the layer (0 when none does).
        max_shrinking_rank: usize,
    },

    /// A glob pattern of a rank plan that does not parse.
    #[error("rank-plan pattern `{pattern}` is not a valid glob: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What the glob parser said.
        reason: String,
    },

    /// Rank-plan patterns that match none of the model's layers (usually a typo).
    #[error(
        "rank-plan pattern(s) {patterns:?} match no layer of the model; its closest layers \
         are {known:?}"
    )]
    UnmatchedPatterns {
        /// The patterns that matched nothing.
        patterns: Vec<String>,
        /// The model's layers closest to the first pattern (up to 8), to compare against.
        known: Vec<String>,
    },

    /// Layer paths that name no compressible `Linear` of the model.
    #[error(
        "{layers:?} are no compressible layers of the model; its layers include {known:?}; \
         was the student saved from another architecture or size?"
    )]
    UnknownLayers {
        /// The paths given.
        layers: Vec<String>,
        /// Up to a few layer paths of the model, to compare against.
        known: Vec<String>,
    },

    /// A checkpoint file that cannot be read or written.
    #[error("checkpoint `{path}`: {reason}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What went wrong, and what to do.
        reason: String,
    },

    /// A checkpoint whose tensors do not fit the model: each key listed by name, as PyTorch's
    /// strict loading does.
    #[error(
        "checkpoint `{path}` does not fit the model: {}; is it a checkpoint of this \
         architecture and size?",
        crate::checkpoint::describe_mismatch(missing, unused, mismatched)
    )]
    CheckpointMismatch {
        /// The file.
        path: String,
        /// Model parameters the file does not hold.
        missing: Vec<String>,
        /// File tensors the model has no parameter for.
        unused: Vec<String>,
        /// Tensors whose shape differs: `key: file [..], model [..]`.
        mismatched: Vec<String>,
    },

    /// A weight holding NaN or infinity, which the SVD cannot factorise.
    #[error(
        "weight of layer `{layer}` holds a non-finite value (NaN or ±inf) at [{row}, {col}]; \
         check the checkpoint or the training run that produced it"
    )]
    NonFiniteWeight {
        /// Module path of the layer.
        layer: String,
        /// Row of the first non-finite entry (input index).
        row: usize,
        /// Column of the first non-finite entry (output index).
        col: usize,
    },

    /// The SVD solver failed to converge or rejected the matrix.
    #[error("SVD of layer `{layer}` failed: {reason}")]
    Svd {
        /// Module path of the layer.
        layer: String,
        /// The solver's message.
        reason: String,
    },

    /// A loss was given no features or no weight pairs.
    #[error("{loss} was given no {what}; pass at least one")]
    EmptyInput {
        /// Which loss.
        loss: &'static str,
        /// What was missing (`features`, `weight pairs`).
        what: &'static str,
    },

    /// Student and teacher lists of different lengths.
    #[error(
        "{loss}: the student gave {student} {what} and the teacher {teacher}; both models must \
         tap the same layers"
    )]
    CountMismatch {
        /// Which loss.
        loss: &'static str,
        /// What was counted.
        what: &'static str,
        /// Number on the student side.
        student: usize,
        /// Number on the teacher side.
        teacher: usize,
    },

    /// Two tensors that must have one shape do not.
    #[error("{what}: student shape {student:?} differs from teacher shape {teacher:?}")]
    ShapeMismatch {
        /// Which tensor (`feature 3`, `weight of blocks.0.mlp.fc1`, `blocks.0.attn.qkv.0.weight`).
        what: String,
        /// The shape found on the student (or in the file).
        student: Vec<usize>,
        /// The shape expected from the teacher (or the layer).
        teacher: Vec<usize>,
    },

    /// A student layer with no counterpart in the teacher it is paired with.
    #[error(
        "student layer `{layer}` has no counterpart in the teacher; pair a student with the \
         teacher it was converted from"
    )]
    UnpairedLayer {
        /// Module path of the student layer.
        layer: String,
    },

    /// A data-aware conversion asked for with a calibration twin that saw no inputs.
    #[error(
        "the calibration twin recorded no inputs for {layers:?}; run its forward on a few \
         calibration batches before `to_low_rank_data_aware`"
    )]
    NotCalibrated {
        /// The layers without inputs.
        layers: Vec<String>,
    },

    /// A sequential initialisation whose calibration fed the teacher and the student different
    /// batches: the rows of the two passes cannot be paired.
    #[error(
        "the calibration passes of `{layer}` fed the teacher batches of shapes {teacher:?} and \
         the student {student:?}; the calibration closure must feed the same batches in the \
         same order every time it is called (no shuffling, no random augmentation)"
    )]
    UnalignedCalibration {
        /// The layer being fitted.
        layer: String,
        /// `[rows, d_input]` of each batch the teacher's pass recorded.
        teacher: Vec<(usize, usize)>,
        /// The same for the student's pass.
        student: Vec<(usize, usize)>,
    },

    /// A rank budget that is no size.
    #[error("rank budget {budget}: {reason}")]
    InvalidBudget {
        /// The budget as given.
        budget: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A rank budget smaller than the smallest model the allocation can make.
    #[error(
        "a rank budget of {budget} {unit} is below the smallest allocation of the {layers} \
         allocated layers ({smallest} {unit}, each at its lowest rank); raise the budget, \
         lower the rank multiple, or keep fewer layers in the plan"
    )]
    BudgetTooSmall {
        /// The budget in its unit.
        budget: usize,
        /// What the layers cost at their lowest ranks, in that unit.
        smallest: usize,
        /// The budget's unit.
        unit: crate::BudgetUnit,
        /// How many layers were allocated.
        layers: usize,
    },

    /// A data-aware rank allocation asked for without calibration inputs.
    #[error(
        "the data-aware allocation measures output errors on calibration inputs: use \
         `Allocator::allocate_data_aware` with a calibration twin that has seen a few batches \
         (or `Allocation::Spectrum`, which needs no data)"
    )]
    AllocationNeedsCalibration,

    /// A tensor required by the authors' PyTorch layout is absent.
    #[error(
        "tensor `{key}` is missing from the state dict; expected the authors' layout \
             `<name>.0.weight` [r, in], `<name>.1.weight` [out, r], `<name>.1.bias` [out]"
    )]
    MissingTensor {
        /// The key that was looked up.
        key: String,
    },
}

impl PelaError {
    /// The `scope` text of [`PelaError::InvalidRatio`] and [`PelaError::ZeroRank`] for a layer.
    pub(crate) fn layer_scope(layer: &str) -> String {
        format!("for layer `{layer}`")
    }

    /// The `scope` text for a plan-wide setting.
    pub(crate) fn plan_scope() -> String {
        "of the plan".to_string()
    }
}
