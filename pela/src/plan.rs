//! Rank plans: which layers become low-rank, and at which rank.
//!
//! The rank of a layer follows from the compression ratio κ (paper §3.5, the authors' code):
//!
//! ```text
//! r = floor(d_input · d_output / (κ · (d_input + d_output))),  at least 1
//! ```
//!
//! so that the factor pair holds `r · (d_input + d_output) ≈ d_input · d_output / κ`
//! parameters. A [`RankPlan`] applies one κ to the whole model, with per-layer overrides and
//! exclusions matched by the module path that Burn records use (`blocks.3.mlp.fc1`).
//!
//! # Patterns
//!
//! Patterns are globs over the dot-separated module path: `*` matches within one segment,
//! `**` matches any number of segments, `?`, `[ab]` and `{a,b}` work as usual.
//! `blocks.*.mlp.fc1` matches `blocks.3.mlp.fc1`; `**.attn.**` matches every layer under any
//! `attn`; `head` matches only the top-level `head`.

use burn::config::Config;
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::{PelaError, SvdMethod};

/// The rank that compression ratio `ratio` (κ) gives a `[d_input, d_output]` layer:
/// `floor(d_input · d_output / (κ · (d_input + d_output)))`, at least 1.
///
/// This is the rule of the paper (§3.5) and of the authors' code. It does not validate κ; a
/// [`RankPlan`] does.
///
/// ```
/// // DeiT-Base at κ = 2: fused qkv, attention projection, MLP.
/// assert_eq!(pela::rank_for_ratio(768, 2304, 2.0), 288);
/// assert_eq!(pela::rank_for_ratio(768, 768, 2.0), 192);
/// assert_eq!(pela::rank_for_ratio(768, 3072, 2.0), 307);
/// assert_eq!(pela::rank_for_ratio(4, 4, 8.0), 1); // never below 1
/// ```
pub fn rank_for_ratio(d_input: usize, d_output: usize, ratio: f64) -> usize {
    let exact = (d_input * d_output) as f64 / (ratio * (d_input + d_output) as f64);
    (exact.floor() as usize).max(1)
}

/// The largest rank whose factor pair is strictly smaller than the dense `[d_input, d_output]`
/// weight: the largest `r` with `r · (d_input + d_output) < d_input · d_output` (0 if none).
///
/// ```
/// assert_eq!(pela::max_shrinking_rank(768, 768), 383);
/// assert_eq!(pela::max_shrinking_rank(2, 2), 0);
/// ```
pub fn max_shrinking_rank(d_input: usize, d_output: usize) -> usize {
    let dense = d_input * d_output;
    (dense.saturating_sub(1)) / (d_input + d_output)
}

/// Checks that `rank` is a valid rank for the `[d_input, d_output]` layer at path `layer`:
/// between 1 and `min(d_input, d_output)`.
pub(crate) fn check_rank_range(
    layer: &str,
    rank: usize,
    d_input: usize,
    d_output: usize,
) -> Result<(), PelaError> {
    let max_rank = d_input.min(d_output);
    if rank == 0 {
        return Err(PelaError::ZeroRank {
            scope: PelaError::layer_scope(layer),
        });
    }
    if rank > max_rank {
        return Err(PelaError::RankTooLarge {
            layer: layer.to_string(),
            rank,
            d_input,
            d_output,
            max_rank,
        });
    }
    Ok(())
}

/// A per-layer rule of a [`RankPlan`]: a fixed rank or a compression ratio of its own.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum RankRule {
    /// This exact rank.
    Rank(usize),
    /// This compression ratio κ instead of the plan's.
    Ratio(f64),
}

/// A per-layer override: layers whose path matches `pattern` get `rule`.
#[derive(Config, Debug, PartialEq)]
pub struct LayerOverride {
    /// Glob over the dot-separated module path: `*` within one segment, `**` across segments.
    pub pattern: String,
    /// The rank rule for the matching layers.
    pub rule: RankRule,
}

/// Which layers of a model become low-rank and at which rank.
///
/// Should be created with [`RankPlan::new`] (the global κ), then refined with
/// [`keep_dense`](RankPlan::keep_dense), [`rank_for`](RankPlan::rank_for) and
/// [`ratio_for`](RankPlan::ratio_for). It is a Burn [`Config`]: save it beside a checkpoint
/// with `plan.save("plan.json")`.
///
/// For each layer, [`decide`](RankPlan::decide) applies, in this order:
/// 1. an exclusion pattern that matches, or a path in `dense_by_allocation` → dense;
/// 2. the first override whose pattern matches → its rank or κ;
/// 3. `min_outputs`: a layer with fewer outputs stays dense (the authors keep heads with fewer
///    than 10 outputs dense);
/// 4. the global κ.
///
/// A κ ≤ 1, or a rank at which the factors would be as large as the dense layer, is an error
/// naming the layer unless [`allow_no_shrink`](RankPlan::allow_no_shrink) is set.
///
/// Patterns are globs over the dot-separated module path that Burn records use: `*` matches
/// within one segment, `**` any number of segments (`blocks.*.mlp.fc1`, `**.attn.**`; `head`
/// matches only the top-level `head`).
///
/// ```
/// use pela::{LayerDecision, RankPlan};
///
/// let plan = RankPlan::new(2.0)
///     .keep_dense("head")
///     .rank_for("blocks.*.attn.qkv", 256)
///     .with_min_outputs(Some(10));
/// plan.validate()?;
///
/// assert_eq!(plan.decide("blocks.0.mlp.fc1", 768, 3072)?, LayerDecision::LowRank { rank: 307 });
/// assert_eq!(plan.decide("blocks.4.attn.qkv", 768, 2304)?, LayerDecision::LowRank { rank: 256 });
/// assert!(plan.decide("head", 768, 1000)?.is_dense());
/// assert!(plan.decide("itm_head", 768, 2)?.is_dense());
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct RankPlan {
    /// The compression ratio κ applied to every layer without an override. Must be > 1.
    pub ratio: f64,
    /// Per-layer overrides; the first one whose pattern matches a layer applies. Default: none.
    #[config(default = "Vec::new()")]
    pub overrides: Vec<LayerOverride>,
    /// Patterns of layers kept dense. Default: none.
    #[config(default = "Vec::new()")]
    pub exclude: Vec<String>,
    /// Paths of the layers an [`Allocator`](crate::Allocator) kept dense (no rank that
    /// shrinks them was worth its error within the budget), matched exactly, after `exclude`.
    /// Default: none.
    #[config(default = "Vec::new()")]
    pub dense_by_allocation: Vec<String>,
    /// Layers with fewer outputs than this stay dense (the authors use 10). Default: `None`.
    #[config(default = "None")]
    pub min_outputs: Option<usize>,
    /// Accept κ ≤ 1 and ranks that do not shrink a layer (ranks above full rank are still
    /// refused; a κ-derived rank is capped at full rank). Default: false.
    #[config(default = false)]
    pub allow_no_shrink: bool,
    /// How the factor pairs are computed. Default: `SvdMethod::Auto` (through the Gram matrix;
    /// randomized for thin ranks, where it saves work).
    #[config(default = "SvdMethod::Auto")]
    pub svd: SvdMethod,
}

/// What a [`RankPlan`] decides for one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerDecision {
    /// Replace the layer by a factor pair of this rank.
    LowRank {
        /// The rank `r` of `U [d_input, r]` and `V [d_output, r]`.
        rank: usize,
    },
    /// Keep the layer dense.
    Dense(DenseReason),
}

impl LayerDecision {
    /// Whether the layer stays dense.
    pub fn is_dense(&self) -> bool {
        matches!(self, Self::Dense(_))
    }

    /// The rank, if the layer becomes low-rank.
    pub fn rank(&self) -> Option<usize> {
        match self {
            Self::LowRank { rank } => Some(*rank),
            Self::Dense(_) => None,
        }
    }
}

/// Why a [`RankPlan`] keeps a layer dense.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DenseReason {
    /// An exclusion pattern matched.
    Excluded {
        /// The pattern that matched.
        pattern: String,
    },
    /// The layer has fewer outputs than the plan's `min_outputs`.
    FewOutputs {
        /// The plan's threshold.
        min_outputs: usize,
    },
    /// Kept dense by the model itself (`#[low_rank(skip)]`, or a layer the caller did not
    /// offer for compression).
    Skipped,
    /// An [`Allocator`](crate::Allocator) kept it dense: within the budget, no rank that
    /// shrinks it was worth its error.
    Allocated,
    /// Found dense in a student, for a reason not recorded.
    Kept,
}

impl core::fmt::Display for DenseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Excluded { pattern } => write!(f, "excluded by `{pattern}`"),
            Self::FewOutputs { min_outputs } => write!(f, "fewer than {min_outputs} outputs"),
            Self::Skipped => write!(f, "skipped"),
            Self::Allocated => write!(f, "kept dense by the rank allocation"),
            Self::Kept => write!(f, "kept dense"),
        }
    }
}

impl RankPlan {
    /// Keeps the layers matching `pattern` dense.
    pub fn keep_dense(mut self, pattern: impl Into<String>) -> Self {
        self.exclude.push(pattern.into());
        self
    }

    /// Gives the layers matching `pattern` this exact rank.
    pub fn rank_for(mut self, pattern: impl Into<String>, rank: usize) -> Self {
        self.overrides
            .push(LayerOverride::new(pattern.into(), RankRule::Rank(rank)));
        self
    }

    /// Gives the layers matching `pattern` their own compression ratio κ.
    pub fn ratio_for(mut self, pattern: impl Into<String>, ratio: f64) -> Self {
        self.overrides
            .push(LayerOverride::new(pattern.into(), RankRule::Ratio(ratio)));
        self
    }

    /// Checks the plan on its own: κ values, override ranks and pattern syntax.
    ///
    /// Layer-dependent checks (a rank above full rank, a rank that does not shrink a layer)
    /// happen in [`decide`](Self::decide).
    pub fn validate(&self) -> Result<(), PelaError> {
        self.check_ratio(self.ratio, PelaError::plan_scope)?;
        for pattern in self.exclude.iter() {
            compile(pattern)?;
        }
        for over in self.overrides.iter() {
            compile(&over.pattern)?;
            let scope = || format!("for pattern `{}`", over.pattern);
            match over.rule {
                RankRule::Rank(0) => return Err(PelaError::ZeroRank { scope: scope() }),
                RankRule::Rank(_) => {}
                RankRule::Ratio(ratio) => self.check_ratio(ratio, scope)?,
            }
        }
        Ok(())
    }

    /// Decides the fate of the `[d_input, d_output]` layer at module path `layer`.
    ///
    /// # Errors
    /// An invalid plan (see [`validate`](Self::validate)), a rank above the layer's full rank,
    /// or a rank that does not shrink the layer (unless `allow_no_shrink`).
    pub fn decide(
        &self,
        layer: &str,
        d_input: usize,
        d_output: usize,
    ) -> Result<LayerDecision, PelaError> {
        self.decide_with(layer, d_input, d_output, None)
    }

    /// [`decide`](Self::decide) with a rule of the model's own for this layer (from
    /// `#[low_rank(rank = N)]` or `#[low_rank(ratio = K)]`). It applies after the plan's
    /// exclusions and overrides, which are the user's choice at run time, and before
    /// `min_outputs` and the global κ.
    pub fn decide_with(
        &self,
        layer: &str,
        d_input: usize,
        d_output: usize,
        model_rule: Option<RankRule>,
    ) -> Result<LayerDecision, PelaError> {
        for pattern in self.exclude.iter() {
            if compile(pattern)?.is_match(to_glob_path(layer)) {
                return Ok(LayerDecision::Dense(DenseReason::Excluded {
                    pattern: pattern.clone(),
                }));
            }
        }
        if self.dense_by_allocation.iter().any(|path| path == layer) {
            return Ok(LayerDecision::Dense(DenseReason::Allocated));
        }
        let mut rule = None;
        for over in self.overrides.iter() {
            if compile(&over.pattern)?.is_match(to_glob_path(layer)) {
                rule = Some(over.rule);
                break;
            }
        }
        let rule = rule.or(model_rule);
        if rule.is_none()
            && let Some(min_outputs) = self.min_outputs
            && d_output < min_outputs
        {
            return Ok(LayerDecision::Dense(DenseReason::FewOutputs {
                min_outputs,
            }));
        }
        let rank = match rule.unwrap_or(RankRule::Ratio(self.ratio)) {
            RankRule::Rank(rank) => rank,
            RankRule::Ratio(ratio) => {
                self.check_ratio(ratio, || PelaError::layer_scope(layer))?;
                rank_for_ratio(d_input, d_output, ratio).min(d_input.min(d_output))
            }
        };
        check_rank_range(layer, rank, d_input, d_output)?;
        let factor_params = rank * (d_input + d_output);
        let dense_params = d_input * d_output;
        if factor_params >= dense_params && !self.allow_no_shrink {
            return Err(PelaError::RankDoesNotShrink {
                layer: layer.to_string(),
                rank,
                d_input,
                d_output,
                factor_params,
                dense_params,
                max_shrinking_rank: max_shrinking_rank(d_input, d_output),
            });
        }
        Ok(LayerDecision::LowRank { rank })
    }

    /// Whether one of the plan's overrides (a rank or κ of its own) matches the layer at `layer`.
    pub(crate) fn overrides_layer(&self, layer: &str) -> Result<bool, PelaError> {
        for over in self.overrides.iter() {
            if compile(&over.pattern)?.is_match(to_glob_path(layer)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The plan's patterns (exclusions and overrides) that match none of `layers`.
    ///
    /// ```
    /// let plan = pela::RankPlan::new(2.0).keep_dense("haed");
    /// assert_eq!(plan.unmatched_patterns(["head", "fc1"])?, vec!["haed".to_string()]);
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn unmatched_patterns<'a>(
        &self,
        layers: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<String>, PelaError> {
        let patterns: Vec<&String> = self
            .exclude
            .iter()
            .chain(self.overrides.iter().map(|o| &o.pattern))
            .collect();
        let mut unmatched_paths: Vec<&String> = self.dense_by_allocation.iter().collect();
        let matchers = patterns
            .iter()
            .map(|p| compile(p))
            .collect::<Result<Vec<_>, _>>()?;
        let mut matched = vec![false; patterns.len()];
        for layer in layers {
            let path = to_glob_path(layer);
            for (hit, matcher) in matched.iter_mut().zip(matchers.iter()) {
                *hit |= matcher.is_match(&path);
            }
            unmatched_paths.retain(|p| p.as_str() != layer);
        }
        Ok(patterns
            .into_iter()
            .zip(matched)
            .filter(|(_, hit)| !hit)
            .map(|(p, _)| p.clone())
            .chain(unmatched_paths.into_iter().cloned())
            .collect())
    }

    /// Fails with [`PelaError::UnmatchedPatterns`] when a pattern matches none of `layers`:
    /// almost always a typo that would silently compress a layer meant to stay dense.
    pub fn check_patterns<'a>(
        &self,
        layers: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<(), PelaError> {
        let patterns = self.unmatched_patterns(layers.clone())?;
        if patterns.is_empty() {
            return Ok(());
        }
        let known = closest_layers(layers, &patterns[0], 8);
        Err(PelaError::UnmatchedPatterns { patterns, known })
    }

    fn check_ratio(&self, ratio: f64, scope: impl Fn() -> String) -> Result<(), PelaError> {
        let floor_ok = if self.allow_no_shrink {
            ratio > 0.0
        } else {
            ratio > 1.0
        };
        if ratio.is_finite() && floor_ok {
            Ok(())
        } else {
            Err(PelaError::InvalidRatio {
                ratio,
                scope: scope(),
            })
        }
    }
}

/// The layers among the module `paths` (the modules whose children are all parameters: a
/// `Linear`, a norm, a convolution; not their parameters, not the containers above them),
/// the `n` closest to `pattern` by edit distance first.
fn closest_layers<'a>(
    paths: impl IntoIterator<Item = &'a str>,
    pattern: &str,
    n: usize,
) -> Vec<String> {
    let paths: Vec<&str> = paths.into_iter().collect();
    let mut children: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for path in &paths {
        if let Some((parent, _)) = path.rsplit_once('.') {
            children.entry(parent).or_default().push(path);
        }
    }
    let is_leaf = |path: &str| !children.contains_key(path);
    let mut layers: Vec<&str> = children
        .iter()
        .filter(|(_, kids)| kids.iter().all(|kid| is_leaf(kid)))
        .map(|(layer, _)| *layer)
        .collect();
    layers.sort_by_key(|layer| (strsim::levenshtein(pattern, layer), *layer));
    layers.into_iter().take(n).map(str::to_string).collect()
}

/// Module paths are dot-separated; globset separates on `/`.
fn to_glob_path(path: &str) -> String {
    path.replace('.', "/")
}

fn compile(pattern: &str) -> Result<GlobMatcher, PelaError> {
    let invalid = |reason: String| PelaError::InvalidPattern {
        pattern: pattern.to_string(),
        reason,
    };
    if pattern.contains('/') {
        return Err(invalid(
            "module paths are separated by `.`, not `/`".to_string(),
        ));
    }
    GlobBuilder::new(&to_glob_path(pattern))
        .literal_separator(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|e| invalid(e.kind().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deit_base_ranks_at_kappa_two() {
        // The ranks the authors' code gives DeiT-Base (../shared/paper/NOTES.md).
        let plan = RankPlan::new(2.0);
        let rank = |d_in, d_out| plan.decide("blocks.0.x", d_in, d_out).unwrap().rank();
        assert_eq!(rank(768, 2304), Some(288));
        assert_eq!(rank(768, 768), Some(192));
        assert_eq!(rank(768, 3072), Some(307));
        assert_eq!(rank(3072, 768), Some(307));
    }

    #[test]
    fn rank_rule_matches_floor_formula_and_shrinks() {
        for (d_in, d_out) in [(3, 5), (17, 9), (100, 1000), (1024, 4096), (384, 1536)] {
            for ratio in [1.5, 2.0, 3.0, 4.5] {
                let r = rank_for_ratio(d_in, d_out, ratio);
                let dense = (d_in * d_out) as f64;
                // r is the largest integer with r·(d_in + d_out)·κ ≤ d_in·d_out (or 1).
                assert!(r == 1 || r as f64 * (d_in + d_out) as f64 * ratio <= dense);
                assert!((r + 1) as f64 * (d_in + d_out) as f64 * ratio > dense);
            }
        }
    }

    #[test]
    fn max_shrinking_rank_is_the_boundary() {
        for (d_in, d_out) in [(2, 2), (3, 5), (768, 768), (768, 3072)] {
            let r = max_shrinking_rank(d_in, d_out);
            assert!(r * (d_in + d_out) < d_in * d_out);
            assert!((r + 1) * (d_in + d_out) >= d_in * d_out);
        }
    }

    #[test]
    fn ratio_at_or_below_one_is_an_error() {
        for ratio in [1.0, 0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
            let err = RankPlan::new(ratio).validate().unwrap_err();
            assert!(
                matches!(err, PelaError::InvalidRatio { .. }),
                "{ratio}: {err}"
            );
            let err = RankPlan::new(ratio).decide("fc1", 64, 64).unwrap_err();
            assert!(err.to_string().contains("`fc1`"), "{err}");
        }
        let err = RankPlan::new(2.0)
            .ratio_for("blocks.*.fc2", 0.9)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("blocks.*.fc2"), "{err}");
    }

    #[test]
    fn allow_no_shrink_accepts_small_ratios_and_caps_at_full_rank() {
        let plan = RankPlan::new(0.25).with_allow_no_shrink(true);
        plan.validate().unwrap();
        // κ = 0.25 would ask for rank 128 of a 64×64 layer: capped at 64.
        assert_eq!(
            plan.decide("fc", 64, 64).unwrap(),
            LayerDecision::LowRank { rank: 64 }
        );
        // κ ≤ 0 stays an error.
        assert!(
            RankPlan::new(0.0)
                .with_allow_no_shrink(true)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn rank_that_does_not_shrink_names_the_layer() {
        let plan = RankPlan::new(2.0).rank_for("blocks.1.fc1", 40);
        let err = plan.decide("blocks.1.fc1", 64, 64).unwrap_err();
        assert_eq!(
            err,
            PelaError::RankDoesNotShrink {
                layer: "blocks.1.fc1".into(),
                rank: 40,
                d_input: 64,
                d_output: 64,
                factor_params: 5120,
                dense_params: 4096,
                max_shrinking_rank: 31,
            }
        );
        assert!(err.to_string().contains("at most 31"));
        // Tiny layers: even rank 1 does not shrink a 2×2 weight.
        let err = RankPlan::new(2.0).decide("gate", 2, 2).unwrap_err();
        assert!(matches!(err, PelaError::RankDoesNotShrink { rank: 1, .. }));
        // Allowed explicitly.
        let plan = plan.with_allow_no_shrink(true);
        assert_eq!(
            plan.decide("blocks.1.fc1", 64, 64).unwrap().rank(),
            Some(40)
        );
    }

    #[test]
    fn rank_above_full_rank_and_zero_rank_are_errors() {
        let plan = RankPlan::new(2.0)
            .rank_for("fc1", 65)
            .with_allow_no_shrink(true);
        let err = plan.decide("fc1", 64, 128).unwrap_err();
        assert!(
            matches!(err, PelaError::RankTooLarge { max_rank: 64, .. }),
            "{err}"
        );
        let plan = RankPlan::new(2.0).rank_for("fc1", 0);
        assert!(matches!(plan.validate(), Err(PelaError::ZeroRank { .. })));
        assert!(matches!(
            plan.decide("fc1", 64, 128),
            Err(PelaError::ZeroRank { .. })
        ));
    }

    #[test]
    fn patterns_match_module_paths() {
        let plan = RankPlan::new(2.0)
            .keep_dense("head")
            .keep_dense("**.norm*")
            .rank_for("blocks.*.attn.qkv", 8)
            .ratio_for("blocks.1.**", 4.0);
        plan.validate().unwrap();
        let d = |path: &str| plan.decide(path, 64, 192).unwrap();
        assert_eq!(
            d("head"),
            LayerDecision::Dense(DenseReason::Excluded {
                pattern: "head".into()
            })
        );
        // `head` is anchored: a nested head is not excluded.
        assert!(!d("decoder.head").is_dense());
        assert!(d("blocks.0.norm1").is_dense());
        assert!(d("norm").is_dense());
        // `*` stays within a segment.
        assert_eq!(d("blocks.0.attn.qkv").rank(), Some(8));
        assert_eq!(d("blocks.0.x.attn.qkv").rank(), Some(24));
        // First matching override wins.
        assert_eq!(d("blocks.1.attn.qkv").rank(), Some(8));
        assert_eq!(d("blocks.1.mlp.fc1").rank(), Some(12));
    }

    #[test]
    fn min_outputs_keeps_small_heads_dense_unless_overridden() {
        let plan = RankPlan::new(2.0)
            .with_min_outputs(Some(10))
            .rank_for("forced", 1);
        assert_eq!(
            plan.decide("itm_head", 768, 2).unwrap(),
            LayerDecision::Dense(DenseReason::FewOutputs { min_outputs: 10 })
        );
        assert!(!plan.decide("proj", 768, 10).unwrap().is_dense());
        assert_eq!(plan.decide("forced", 768, 9).unwrap().rank(), Some(1));
    }

    #[test]
    fn model_rules_come_after_plan_overrides_and_before_defaults() {
        let plan = RankPlan::new(2.0)
            .keep_dense("excluded")
            .rank_for("overridden", 3)
            .with_min_outputs(Some(10));
        let model_rule = Some(RankRule::Rank(5));
        let d = |path| plan.decide_with(path, 64, 8, model_rule).unwrap();
        assert!(d("excluded").is_dense());
        assert_eq!(d("overridden").rank(), Some(3));
        // The model's rule beats min_outputs (8 < 10) and the global κ.
        assert_eq!(d("other").rank(), Some(5));
        let ratio = plan
            .decide_with("x", 64, 64, Some(RankRule::Ratio(4.0)))
            .unwrap();
        assert_eq!(ratio.rank(), Some(8));
    }

    #[test]
    fn invalid_and_unmatched_patterns_are_reported() {
        let err = RankPlan::new(2.0)
            .keep_dense("blocks.[0")
            .validate()
            .unwrap_err();
        assert!(matches!(err, PelaError::InvalidPattern { .. }), "{err}");
        let err = RankPlan::new(2.0)
            .keep_dense("blocks/0")
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("separated by `.`"), "{err}");

        let plan = RankPlan::new(2.0)
            .keep_dense("head")
            .rank_for("blocks.*.fc3", 4);
        let layers = ["blocks.0.fc1", "blocks.0.fc2", "head"];
        assert_eq!(
            plan.unmatched_patterns(layers).unwrap(),
            vec!["blocks.*.fc3"]
        );
        let err = plan.check_patterns(layers).unwrap_err();
        assert!(err.to_string().contains("blocks.*.fc3"), "{err}");
        // The suggestions are layers, never their parameters, the closest first.
        let paths = [
            "blocks",
            "blocks.0",
            "blocks.0.fc1",
            "blocks.0.fc1.weight",
            "blocks.0.fc2",
            "blocks.0.fc2.weight",
            "blocks.0.fc2.bias",
            "head",
            "head.weight",
        ];
        let PelaError::UnmatchedPatterns { known, .. } = RankPlan::new(2.0)
            .keep_dense("blocks.0.fc3")
            .check_patterns(paths)
            .unwrap_err()
        else {
            panic!("expected UnmatchedPatterns");
        };
        assert_eq!(known, ["blocks.0.fc1", "blocks.0.fc2", "head"]);
        plan.keep_dense("x")
            .check_patterns(["x", "head", "blocks.0.fc3"])
            .unwrap();
    }

    #[test]
    fn plan_round_trips_through_json() {
        let plan = RankPlan::new(3.0)
            .keep_dense("head")
            .rank_for("a.b", 4)
            .ratio_for("c.*", 1.5)
            .with_min_outputs(Some(10));
        let json = serde_json::to_string(&plan).unwrap();
        let back: RankPlan = serde_json::from_str(&json).unwrap();
        assert_eq!(plan, back);
    }
}
