//! The runtime half of `#[derive(LowRank)]`: the traits a model and its twin implement, and
//! their implementations for `Linear`, `Vec`, `Option` and arrays.
//!
//! Paths are built as Burn's record visitor builds them: a struct field adds its name, a `Vec`
//! or array element its index, an `Option` nothing. So `blocks.3.mlp.fc1` in a
//! [`RankPlan`] is the key of that layer in a Burn record or a safetensors file.

use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use crate::conversion::{Conversion, Mode, ModulePath, NoProgress, Progress};
use crate::{
    CalibratingLinear, CompressionReport, DenseReason, InputGram, LayerDecision, LayerReport,
    LowRankLinear, LowRankLinearConfig, PelaError, RankPlan, RankRule, StudentLinear,
    factorize_data_aware,
};

/// A module that can be turned into its low-rank student twin.
///
/// Implemented by `#[derive(LowRank)]` for your modules, and here for `Linear` (whose twin is
/// a [`StudentLinear`]), `Vec`, `Option`, arrays and Burn's attention and transformer modules
/// ([`crate::nn`]). Call [`to_low_rank`](Self::to_low_rank) on the teacher.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use pela::{LowRank, RankPlan};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let layers: Vec<Linear<B>> = (0..2)
///     .map(|_| LinearConfig::new(64, 64).init(&Default::default()))
///     .collect();
/// let (student, report) = layers.to_low_rank_with_report(&RankPlan::new(2.0))?;
/// assert_eq!(student[1].rank(), Some(16));
/// assert_eq!(report.layers[1].path, "1");
/// # Ok::<(), pela::PelaError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no low-rank twin",
    label = "marked `#[low_rank]`, but `{Self}` does not implement `pela::LowRank`",
    note = "add `#[derive(LowRank)]` to the definition of `{Self}`, or remove `#[low_rank]` to \
            carry the field over unchanged"
)]
pub trait LowRank<B: Backend>: Module<B> {
    /// The student type: every compressible `Linear` replaced by a [`StudentLinear`].
    type Twin: LowRankStudent<B>;

    /// Builds the twin, factorising each layer as `cx.plan` says. `rule` is a per-field
    /// override from `#[low_rank(rank = N)]` / `#[low_rank(ratio = K)]` on an enclosing field.
    fn convert(
        &self,
        cx: &mut Conversion<'_>,
        rule: Option<RankRule>,
    ) -> Result<Self::Twin, PelaError>;

    /// Calls `f` with the path of every compressible `Linear` of the teacher.
    fn visit_linears<'a>(&'a self, path: &mut ModulePath, f: &mut dyn FnMut(&str, &'a Linear<B>));

    /// Calls `f` with every pair of teacher and student layers.
    fn visit_pairs<'a>(
        &'a self,
        twin: &'a Self::Twin,
        path: &mut ModulePath,
        f: &mut dyn FnMut(LayerPair<'a, B>),
    );

    /// The low-rank student, SVD-initialised as `plan` says.
    ///
    /// # Errors
    /// An invalid plan, a plan pattern that matches no module of the model, or a layer that
    /// cannot be factorised as asked (see [`RankPlan::decide`] and [`crate::factorize`]).
    fn to_low_rank(&self, plan: &RankPlan) -> Result<Self::Twin, PelaError> {
        Ok(self.to_low_rank_with_report(plan)?.0)
    }

    /// The student and the report of its conversion.
    fn to_low_rank_with_report(
        &self,
        plan: &RankPlan,
    ) -> Result<(Self::Twin, CompressionReport), PelaError> {
        self.to_low_rank_with_progress(plan, &NoProgress)
    }

    /// The student and its report, telling `progress` about each layer as it is factorised.
    fn to_low_rank_with_progress(
        &self,
        plan: &RankPlan,
        progress: &dyn Progress,
    ) -> Result<(Self::Twin, CompressionReport), PelaError> {
        convert_model(self, Conversion::new(plan, progress))
    }

    /// A twin for calibration: every compressible layer stays dense and records `XᵀX` of its
    /// inputs. Run its forward (the twin's, from `#[pela::twin]`) on a few calibration
    /// batches, then pass it to [`to_low_rank_data_aware`](Self::to_low_rank_data_aware).
    ///
    /// ```
    /// use burn::nn::{Linear, LinearConfig};
    /// use burn::tensor::{Distribution, Tensor};
    /// use pela::{LowRank, RankPlan};
    /// type B = burn_ndarray::NdArray<f32>;
    ///
    /// use burn::tensor::backend::Backend;
    /// let device = Default::default();
    /// B::seed(&device, 0);
    /// let teacher: Vec<Linear<B>> = vec![LinearConfig::new(32, 32).init(&device)];
    /// let calibration = teacher.calibration_twin()?;
    /// // Inputs that live near a 4-dimensional subspace, as real activations tend to.
    /// let basis = Tensor::<B, 2>::random([4, 32], Distribution::Normal(0.0, 1.0), &device);
    /// for _ in 0..4 {
    ///     let z = Tensor::<B, 2>::random([64, 4], Distribution::Normal(0.0, 1.0), &device);
    ///     let noise = Tensor::<B, 2>::random([64, 32], Distribution::Normal(0.0, 0.01), &device);
    ///     calibration[0].forward(z.matmul(basis.clone()) + noise);
    /// }
    /// let (student, report) = teacher.to_low_rank_data_aware(&RankPlan::new(4.0), &calibration)?;
    /// let error = report.layers[0].output_error.unwrap();
    /// assert!(error.data_aware < error.plain);
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    fn calibration_twin(&self) -> Result<Self::Twin, PelaError> {
        let plan = RankPlan::new(2.0);
        let mut cx = Conversion::new(&plan, &NoProgress).with_mode(Mode::Calibrate);
        self.convert(&mut cx, None)
    }

    /// What `plan` would do to this model, without factorising anything: each layer's rank
    /// or reason to stay dense, and the parameters and multiply-adds before and after. Cheap
    /// on full-size models, where [`to_low_rank`](Self::to_low_rank) runs an SVD per layer.
    ///
    /// # Errors
    /// As [`to_low_rank`](Self::to_low_rank), but no SVD runs.
    ///
    /// ```
    /// use burn::nn::{Linear, LinearConfig};
    /// use pela::{LowRank, RankPlan};
    /// type B = burn_ndarray::NdArray<f32>;
    ///
    /// let layers: Vec<Linear<B>> = vec![LinearConfig::new(768, 3072).init(&Default::default())];
    /// let report = layers.preview(&RankPlan::new(2.0))?;
    /// assert_eq!(report.layers[0].decision.rank(), Some(307));
    /// assert_eq!(report.totals().params_after, 307 * (768 + 3072) + 3072);
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    fn preview(&self, plan: &RankPlan) -> Result<CompressionReport, PelaError> {
        let cx = Conversion::new(plan, &NoProgress).with_mode(Mode::Preview);
        Ok(convert_model(self, cx)?.1)
    }

    /// A student with the layers named in `ranks` low-rank at those ranks, with untrained
    /// factors, and every other layer a dense copy: the shape to load a saved student into
    /// (see [`crate::checkpoint`]). No plan and no SVD are involved.
    ///
    /// # Errors
    /// A rank of 0 or above a layer's full rank; [`PelaError::UnknownLayers`] when a path in
    /// `ranks` is no compressible layer of the model.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use burn::nn::{Linear, LinearConfig};
    /// use pela::LowRank;
    /// type B = burn_ndarray::NdArray<f32>;
    ///
    /// let layers: Vec<Linear<B>> = (0..2)
    ///     .map(|_| LinearConfig::new(64, 64).init(&Default::default()))
    ///     .collect();
    /// let student = layers.twin_with_ranks(&HashMap::from([("1".to_string(), 8)]))?;
    /// assert_eq!((student[0].rank(), student[1].rank()), (None, Some(8)));
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    fn twin_with_ranks(
        &self,
        ranks: &std::collections::HashMap<String, usize>,
    ) -> Result<Self::Twin, PelaError> {
        let mut linears = std::collections::HashSet::new();
        self.visit_linears(&mut ModulePath::default(), &mut |path, _| {
            linears.insert(path.to_string());
        });
        let mut unknown: Vec<String> = ranks
            .keys()
            .filter(|path| !linears.contains(*path))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            let mut known: Vec<String> = linears.into_iter().collect();
            known.sort();
            known.truncate(8);
            return Err(PelaError::UnknownLayers {
                layers: unknown,
                known,
            });
        }
        let plan = RankPlan::new(2.0);
        let mut cx = Conversion::new(&plan, &NoProgress).with_mode(Mode::Ranks(ranks.clone()));
        self.convert(&mut cx, None)
    }

    /// The student initialised data-aware (SVD-LLM's whitened truncation, see
    /// [`factorize_data_aware`]) from the inputs `calibrated` recorded; the report holds each
    /// layer's output error with both initialisations.
    ///
    /// # Errors
    /// As [`to_low_rank`](Self::to_low_rank); [`PelaError::NotCalibrated`] when the twin
    /// recorded no inputs for a layer to compress.
    fn to_low_rank_data_aware(
        &self,
        plan: &RankPlan,
        calibrated: &Self::Twin,
    ) -> Result<(Self::Twin, CompressionReport), PelaError> {
        self.to_low_rank_data_aware_with_progress(plan, calibrated, &NoProgress)
    }

    /// [`to_low_rank_data_aware`](Self::to_low_rank_data_aware), telling `progress` about each
    /// layer as it is factorised.
    ///
    /// # Errors
    /// As [`to_low_rank_data_aware`](Self::to_low_rank_data_aware).
    fn to_low_rank_data_aware_with_progress(
        &self,
        plan: &RankPlan,
        calibrated: &Self::Twin,
        progress: &dyn Progress,
    ) -> Result<(Self::Twin, CompressionReport), PelaError> {
        let grams = calibration_grams(calibrated)?;
        convert_model(
            self,
            Conversion::new(plan, progress).with_mode(Mode::DataAware(grams)),
        )
    }

    /// The student initialised sequentially: layer after layer, each factorised on the inputs
    /// the *compressed* earlier layers give it, to fit the teacher's outputs
    /// ([`factorize_sequential`](crate::factorize_sequential)), so that errors do not compound
    /// as in the one-shot [`to_low_rank_data_aware`](Self::to_low_rank_data_aware).
    ///
    /// `calibrate` runs the twin's forward on the calibration batches. It is called `2n − 1`
    /// times for `n` layers to compress (a teacher pass and a student pass for each layer after
    /// the first) and must feed the same batches in the same order every time. The report's
    /// output errors are those of each layer on the student's inputs against the teacher's
    /// outputs. See [`to_low_rank_sequential_with_progress`](Self::to_low_rank_sequential_with_progress)
    /// to hear about each layer.
    ///
    /// ```
    /// use burn::nn::{Linear, LinearConfig};
    /// use burn::tensor::{Distribution, Tensor, activation::relu, backend::Backend};
    /// use pela::{LowRank, PelaError, RankPlan, StudentLinear};
    /// type B = burn_ndarray::NdArray<f32>;
    ///
    /// let device = Default::default();
    /// B::seed(&device, 0);
    /// let teacher: Vec<Linear<B>> =
    ///     (0..2).map(|_| LinearConfig::new(32, 32).init(&device)).collect();
    /// let batches: Vec<Tensor<B, 2>> = (0..4)
    ///     .map(|_| Tensor::random([64, 32], Distribution::Normal(0.0, 1.0), &device))
    ///     .collect();
    /// let forward = |layers: &Vec<StudentLinear<B>>, x: Tensor<B, 2>| {
    ///     layers[1].forward(relu(layers[0].forward(x)))
    /// };
    /// let (student, report) = teacher.to_low_rank_sequential(&RankPlan::new(4.0), |twin| {
    ///     for x in &batches {
    ///         forward(twin, x.clone());
    ///     }
    ///     Ok::<(), PelaError>(())
    /// })?;
    /// assert_eq!(student[1].rank(), Some(4));
    /// let error = report.layers[1].output_error.unwrap();
    /// assert!(error.data_aware < error.plain);
    /// # Ok::<(), PelaError>(())
    /// ```
    ///
    /// # Errors
    /// As [`to_low_rank_data_aware`](Self::to_low_rank_data_aware);
    /// [`PelaError::UnalignedCalibration`] when two passes fed different batches; whatever
    /// `calibrate` returns.
    fn to_low_rank_sequential<E: From<PelaError>>(
        &self,
        plan: &RankPlan,
        calibrate: impl FnMut(&Self::Twin) -> Result<(), E>,
    ) -> Result<(Self::Twin, CompressionReport), E> {
        crate::sequential::convert_sequential(self, plan, &NoProgress, calibrate)
    }

    /// [`to_low_rank_sequential`](Self::to_low_rank_sequential), telling `progress` about each
    /// layer as it is fitted.
    ///
    /// # Errors
    /// As [`to_low_rank_sequential`](Self::to_low_rank_sequential).
    fn to_low_rank_sequential_with_progress<E: From<PelaError>>(
        &self,
        plan: &RankPlan,
        progress: &dyn Progress,
        calibrate: impl FnMut(&Self::Twin) -> Result<(), E>,
    ) -> Result<(Self::Twin, CompressionReport), E> {
        crate::sequential::convert_sequential(self, plan, progress, calibrate)
    }

    /// The pairs of teacher and student layers, in model order.
    fn pairs<'a>(&'a self, twin: &'a Self::Twin) -> Vec<LayerPair<'a, B>> {
        let mut pairs = Vec::new();
        self.visit_pairs(twin, &mut ModulePath::default(), &mut |pair| {
            pairs.push(pair)
        });
        pairs
    }
}

/// The `XᵀX` each layer of a calibration twin recorded, by layer path.
///
/// # Errors
/// [`PelaError::NotCalibrated`] when a layer recorded no inputs, or the twin has no
/// calibrating layer.
pub(crate) fn calibration_grams<B: Backend, T: LowRankStudent<B>>(
    calibrated: &T,
) -> Result<std::collections::HashMap<String, ndarray::Array2<f64>>, PelaError> {
    let mut grams = std::collections::HashMap::new();
    let mut missing = Vec::new();
    calibrated.visit_student_linears(&mut ModulePath::default(), &mut |path, layer| {
        if let StudentLinear::Calibrating(calibrating) = layer {
            match calibrating.inputs.matrix() {
                Some(gram) => {
                    grams.insert(path.to_string(), gram);
                }
                None => missing.push(path.to_string()),
            }
        }
    });
    if grams.is_empty() || !missing.is_empty() {
        return Err(PelaError::NotCalibrated {
            layers: if grams.is_empty() {
                vec!["(every layer)".into()]
            } else {
                missing
            },
        });
    }
    Ok(grams)
}

/// Validates the plan against the model, then converts it.
pub(crate) fn convert_model<B: Backend, M: LowRank<B>>(
    model: &M,
    mut cx: Conversion<'_>,
) -> Result<(M::Twin, CompressionReport), PelaError> {
    cx.plan.validate()?;
    // Also initialises lazily initialised parameters: a clone of an uninitialised `Param`
    // would draw its own random values, and a kept layer of the student would silently
    // differ from the teacher's.
    let paths = module_paths(model);
    cx.plan.check_patterns(paths.iter().map(String::as_str))?;
    let twin = model.convert(&mut cx, None)?;
    let listed: usize = cx
        .report
        .layers
        .iter()
        .map(LayerReport::params_before)
        .sum();
    let other = model.num_params().saturating_sub(listed);
    Ok((twin, cx.report.with_other_params(other)))
}

/// A low-rank student twin: walks its layers. Implemented by the twins `#[derive(LowRank)]`
/// generates, and for [`StudentLinear`], `Vec`, `Option` and arrays.
pub trait LowRankStudent<B: Backend>: Module<B> {
    /// Calls `f` with the path of every [`StudentLinear`] (dense or low-rank).
    fn visit_student_linears<'a>(
        &'a self,
        path: &mut ModulePath,
        f: &mut dyn FnMut(&str, &'a StudentLinear<B>),
    );

    /// The low-rank layers of the student with their paths, in model order.
    fn low_rank_layers(&self) -> Vec<(String, &LowRankLinear<B>)> {
        let mut layers = Vec::new();
        self.visit_student_linears(&mut ModulePath::default(), &mut |path, layer| {
            if let Some(low_rank) = layer.as_low_rank() {
                layers.push((path.to_string(), low_rank));
            }
        });
        layers
    }
}

/// One compressible layer of a teacher and its counterpart in the student.
#[derive(Debug)]
pub struct LayerPair<'a, B: Backend> {
    /// Module path.
    pub path: String,
    /// The teacher's dense layer.
    pub teacher: &'a Linear<B>,
    /// The student's layer.
    pub student: &'a StudentLinear<B>,
}

/// Every module path of `module` that holds parameters, and all their prefixes. Reads every
/// parameter, which initialises the lazily initialised ones.
pub(crate) fn module_paths<B: Backend, M: Module<B>>(module: &M) -> Vec<String> {
    struct Paths {
        stack: Vec<String>,
        out: std::collections::BTreeSet<String>,
    }
    impl<B: Backend> ModuleVisitor<B> for Paths {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            // Enum variants (`Enum:StudentLinear` → `LowRank`) are not part of the path.
            if !container_type.starts_with("Enum:") {
                self.stack.push(name.to_string());
            }
        }
        fn exit_module(&mut self, _name: &str, container_type: &str) {
            if !container_type.starts_with("Enum:") {
                self.stack.pop();
            }
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _initialised = param.val();
            for depth in 1..=self.stack.len() {
                self.out.insert(self.stack[..depth].join("."));
            }
        }
    }
    let mut paths = Paths {
        stack: Vec::new(),
        out: Default::default(),
    };
    module.visit(&mut paths);
    paths.out.into_iter().collect()
}

impl<B: Backend> LowRank<B> for Linear<B> {
    type Twin = StudentLinear<B>;

    fn convert(
        &self,
        cx: &mut Conversion<'_>,
        rule: Option<RankRule>,
    ) -> Result<StudentLinear<B>, PelaError> {
        let started = Instant::now();
        let path = cx.path.to_string();
        let [d_input, d_output] = self.weight.dims();
        let bias = self.bias.is_some();
        match &cx.mode {
            Mode::Calibrate => {
                return Ok(StudentLinear::Calibrating(CalibratingLinear {
                    linear: self.clone(),
                    inputs: InputGram::default(),
                }));
            }
            Mode::Ranks(ranks) => {
                return match ranks.get(&path) {
                    Some(&rank) => {
                        crate::plan::check_rank_range(&path, rank, d_input, d_output)?;
                        LowRankLinearConfig::new(d_input, d_output, rank)
                            .with_bias(bias)
                            .init(&self.weight.device())
                            .map(StudentLinear::LowRank)
                    }
                    None => Ok(StudentLinear::Dense(self.clone())),
                };
            }
            Mode::Preview => {
                let decision = cx.plan.decide_with(&path, d_input, d_output, rule)?;
                let row = match decision {
                    LayerDecision::LowRank { rank } => {
                        LayerReport::planned(path, d_input, d_output, bias, rank)
                    }
                    LayerDecision::Dense(reason) => {
                        LayerReport::dense(path, d_input, d_output, bias, reason)
                    }
                };
                cx.report.push(row);
                return Ok(StudentLinear::Dense(self.clone()));
            }
            Mode::Staged(staged) => {
                let finished = staged.finished;
                if let Some((u, v, report)) = staged.done.get(&path) {
                    let (device, dtype) = (self.weight.device(), self.weight.val().dtype());
                    let low_rank = LowRankLinear::from_factors(
                        Tensor::from_data(u.clone(), (&device, dtype)),
                        Tensor::from_data(v.clone(), (&device, dtype)),
                        self.bias.as_ref().map(|b| b.val()),
                    )?;
                    if finished {
                        let report = report.clone();
                        cx.record(report, started);
                    }
                    return Ok(StudentLinear::LowRank(low_rank));
                }
                if staged.target.as_deref() == Some(path.as_str()) {
                    return Ok(StudentLinear::Calibrating(CalibratingLinear {
                        linear: self.clone(),
                        inputs: InputGram::keeping_rows(),
                    }));
                }
                if !finished {
                    return Ok(StudentLinear::Dense(self.clone()));
                }
                // The finished student: a layer not fitted is one the plan keeps dense, and
                // the plan's decision below records why.
            }
            Mode::Plain | Mode::DataAware(_) => {}
        }
        match cx.plan.decide_with(&path, d_input, d_output, rule)? {
            LayerDecision::LowRank { rank } => {
                let gram = match &cx.mode {
                    Mode::DataAware(grams) => grams.get(&path),
                    _ => None,
                };
                let (low_rank, report) = match gram {
                    Some(gram) => {
                        let (factors, output) =
                            factorize_data_aware(&path, self.weight.val(), rank, gram.view())?;
                        let low_rank = LowRankLinear::from_factors(
                            factors.u,
                            factors.v,
                            self.bias.as_ref().map(|b| b.val()),
                        )?;
                        let report = LayerReport::low_rank(
                            path,
                            d_input,
                            d_output,
                            bias,
                            rank,
                            factors.error,
                        )
                        .with_output_error(output);
                        (low_rank, report)
                    }
                    None => {
                        let (low_rank, error) =
                            LowRankLinear::from_linear_with(&path, self, rank, cx.plan.svd)?;
                        let report =
                            LayerReport::low_rank(path, d_input, d_output, bias, rank, error);
                        (low_rank, report)
                    }
                };
                cx.record(report, started);
                Ok(StudentLinear::LowRank(low_rank))
            }
            LayerDecision::Dense(reason) => {
                cx.record(
                    LayerReport::dense(path, d_input, d_output, bias, reason),
                    started,
                );
                Ok(StudentLinear::Dense(self.clone()))
            }
        }
    }

    fn visit_linears<'a>(&'a self, path: &mut ModulePath, f: &mut dyn FnMut(&str, &'a Linear<B>)) {
        f(&path.to_string(), self);
    }

    fn visit_pairs<'a>(
        &'a self,
        twin: &'a StudentLinear<B>,
        path: &mut ModulePath,
        f: &mut dyn FnMut(LayerPair<'a, B>),
    ) {
        f(LayerPair {
            path: path.to_string(),
            teacher: self,
            student: twin,
        });
    }
}

impl<B: Backend> LowRankStudent<B> for StudentLinear<B> {
    fn visit_student_linears<'a>(
        &'a self,
        path: &mut ModulePath,
        f: &mut dyn FnMut(&str, &'a StudentLinear<B>),
    ) {
        f(&path.to_string(), self);
    }
}

// `Vec` and arrays: each element under its index, as Burn's record visitor names it.

fn convert_items<B: Backend, T: LowRank<B>>(
    items: &[T],
    cx: &mut Conversion<'_>,
    rule: Option<RankRule>,
) -> Result<Vec<T::Twin>, PelaError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| cx.within(i.to_string(), |cx| item.convert(cx, rule)))
        .collect()
}

fn visit_linears_items<'a, B: Backend, T: LowRank<B>>(
    items: &'a [T],
    path: &mut ModulePath,
    f: &mut dyn FnMut(&str, &'a Linear<B>),
) {
    for (i, item) in items.iter().enumerate() {
        path.within(i.to_string(), |path| item.visit_linears(path, f));
    }
}

fn visit_pairs_items<'a, B: Backend, T: LowRank<B>>(
    items: &'a [T],
    twins: &'a [T::Twin],
    path: &mut ModulePath,
    f: &mut dyn FnMut(LayerPair<'a, B>),
) {
    for (i, (item, twin)) in items.iter().zip(twins).enumerate() {
        path.within(i.to_string(), |path| item.visit_pairs(twin, path, f));
    }
}

fn visit_student_items<'a, B: Backend, S: LowRankStudent<B>>(
    items: &'a [S],
    path: &mut ModulePath,
    f: &mut dyn FnMut(&str, &'a StudentLinear<B>),
) {
    for (i, item) in items.iter().enumerate() {
        path.within(i.to_string(), |path| item.visit_student_linears(path, f));
    }
}

impl<B: Backend, T: LowRank<B>> LowRank<B> for Vec<T> {
    type Twin = Vec<T::Twin>;

    fn convert(
        &self,
        cx: &mut Conversion<'_>,
        rule: Option<RankRule>,
    ) -> Result<Vec<T::Twin>, PelaError> {
        convert_items(self, cx, rule)
    }

    fn visit_linears<'a>(&'a self, path: &mut ModulePath, f: &mut dyn FnMut(&str, &'a Linear<B>)) {
        visit_linears_items(self, path, f);
    }

    fn visit_pairs<'a>(
        &'a self,
        twin: &'a Vec<T::Twin>,
        path: &mut ModulePath,
        f: &mut dyn FnMut(LayerPair<'a, B>),
    ) {
        visit_pairs_items(self, twin, path, f);
    }
}

impl<B: Backend, S: LowRankStudent<B>> LowRankStudent<B> for Vec<S> {
    fn visit_student_linears<'a>(
        &'a self,
        path: &mut ModulePath,
        f: &mut dyn FnMut(&str, &'a StudentLinear<B>),
    ) {
        visit_student_items(self, path, f);
    }
}

impl<B: Backend, T: LowRank<B>, const N: usize> LowRank<B> for [T; N] {
    type Twin = [T::Twin; N];

    fn convert(
        &self,
        cx: &mut Conversion<'_>,
        rule: Option<RankRule>,
    ) -> Result<[T::Twin; N], PelaError> {
        Ok(convert_items(self, cx, rule)?
            .try_into()
            .unwrap_or_else(|_| unreachable!("one twin per element of [T; N]")))
    }

    fn visit_linears<'a>(&'a self, path: &mut ModulePath, f: &mut dyn FnMut(&str, &'a Linear<B>)) {
        visit_linears_items(self, path, f);
    }

    fn visit_pairs<'a>(
        &'a self,
        twin: &'a [T::Twin; N],
        path: &mut ModulePath,
        f: &mut dyn FnMut(LayerPair<'a, B>),
    ) {
        visit_pairs_items(self, twin, path, f);
    }
}

impl<B: Backend, S: LowRankStudent<B>, const N: usize> LowRankStudent<B> for [S; N] {
    fn visit_student_linears<'a>(
        &'a self,
        path: &mut ModulePath,
        f: &mut dyn FnMut(&str, &'a StudentLinear<B>),
    ) {
        visit_student_items(self, path, f);
    }
}

impl<B: Backend, T: LowRank<B>> LowRank<B> for Option<T> {
    type Twin = Option<T::Twin>;

    fn convert(
        &self,
        cx: &mut Conversion<'_>,
        rule: Option<RankRule>,
    ) -> Result<Option<T::Twin>, PelaError> {
        self.as_ref().map(|item| item.convert(cx, rule)).transpose()
    }

    fn visit_linears<'a>(&'a self, path: &mut ModulePath, f: &mut dyn FnMut(&str, &'a Linear<B>)) {
        if let Some(item) = self {
            item.visit_linears(path, f);
        }
    }

    fn visit_pairs<'a>(
        &'a self,
        twin: &'a Option<T::Twin>,
        path: &mut ModulePath,
        f: &mut dyn FnMut(LayerPair<'a, B>),
    ) {
        if let (Some(item), Some(twin)) = (self, twin) {
            item.visit_pairs(twin, path, f);
        }
    }
}

impl<B: Backend, S: LowRankStudent<B>> LowRankStudent<B> for Option<S> {
    fn visit_student_linears<'a>(
        &'a self,
        path: &mut ModulePath,
        f: &mut dyn FnMut(&str, &'a StudentLinear<B>),
    ) {
        if let Some(item) = self {
            item.visit_student_linears(path, f);
        }
    }
}

/// Records a `#[low_rank(skip)]` `Linear` field in the report, as kept dense.
pub fn record_skipped_linear<B: Backend>(cx: &mut Conversion<'_>, linear: &Linear<B>) {
    let [d_input, d_output] = linear.weight.dims();
    let report = LayerReport::dense(
        cx.path.to_string(),
        d_input,
        d_output,
        linear.bias.is_some(),
        DenseReason::Skipped,
    );
    cx.record(report, Instant::now());
}

/// `Linear`s kept dense by `#[low_rank(skip)]`: a `Linear`, or a `Vec`, `Option` or array of
/// them, each recorded in the report under its path (items by index, as [`LowRank`] names
/// them).
#[doc(hidden)]
pub trait SkippedLinears {
    /// Records every `Linear` held, as kept dense.
    fn record_skipped(&self, cx: &mut Conversion<'_>);
}

impl<B: Backend> SkippedLinears for Linear<B> {
    fn record_skipped(&self, cx: &mut Conversion<'_>) {
        record_skipped_linear(cx, self);
    }
}

impl<T: SkippedLinears> SkippedLinears for Vec<T> {
    fn record_skipped(&self, cx: &mut Conversion<'_>) {
        self.as_slice().record_skipped(cx);
    }
}

impl<T: SkippedLinears, const N: usize> SkippedLinears for [T; N] {
    fn record_skipped(&self, cx: &mut Conversion<'_>) {
        self.as_slice().record_skipped(cx);
    }
}

impl<T: SkippedLinears> SkippedLinears for [T] {
    fn record_skipped(&self, cx: &mut Conversion<'_>) {
        for (i, item) in self.iter().enumerate() {
            cx.within(i.to_string(), |cx| item.record_skipped(cx));
        }
    }
}

impl<T: SkippedLinears> SkippedLinears for Option<T> {
    fn record_skipped(&self, cx: &mut Conversion<'_>) {
        if let Some(item) = self {
            item.record_skipped(cx);
        }
    }
}

/// Compares a teacher with its student as they are now (after training too): one row per
/// layer pair, with the error of the student's weight against the teacher's.
///
/// # Errors
/// [`PelaError::NonFiniteWeight`] when a weight holds NaN or infinity.
///
/// ```
/// use burn::nn::{Linear, LinearConfig};
/// use pela::{LowRank, RankPlan};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let teacher: Vec<Linear<B>> = vec![LinearConfig::new(32, 32).init(&Default::default())];
/// let student = teacher.to_low_rank(&RankPlan::new(2.0))?;
/// let report = pela::report(&teacher, &student)?;
/// assert_eq!(report.totals().params_after, 8 * 64 + 32);
/// # Ok::<(), pela::PelaError>(())
/// ```
pub fn report<B: Backend, M: LowRank<B>>(
    teacher: &M,
    student: &M::Twin,
) -> Result<CompressionReport, PelaError> {
    let mut layers = Vec::new();
    for pair in teacher.pairs(student) {
        let [d_input, d_output] = pair.teacher.weight.dims();
        let bias = pair.teacher.bias.is_some();
        let row = match pair.student.as_low_rank() {
            Some(low_rank) => {
                let w = crate::svd::to_array(&pair.path, pair.teacher.weight.val())?;
                let u = crate::svd::to_array(&pair.path, low_rank.u.val())?;
                let v = crate::svd::to_array(&pair.path, low_rank.v.val())?;
                let error = crate::ReconstructionError::measure(w.view(), u.view(), v.view());
                LayerReport::low_rank(pair.path, d_input, d_output, bias, low_rank.rank(), error)
            }
            None => LayerReport::dense(pair.path, d_input, d_output, bias, DenseReason::Kept),
        };
        layers.push(row);
    }
    let listed: usize = layers.iter().map(LayerReport::params_before).sum();
    let other = teacher.num_params().saturating_sub(listed);
    Ok(CompressionReport::new(layers).with_other_params(other))
}
