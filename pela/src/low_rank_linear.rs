//! The low-rank replacement of `burn::nn::Linear`.

use burn::config::Config;
use burn::module::{
    Content, DisplaySettings, Initializer, Module, ModuleDisplay, ModuleMapper, Param, ParamId,
};
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};

use crate::plan::check_rank_range;
use crate::svd::{ReconstructionError, SvdMethod, factorize_with};
use crate::{PelaError, max_shrinking_rank};

/// Configuration to create a [`LowRankLinear`] layer from scratch with
/// [`init`](LowRankLinearConfig::init). To replace a trained `Linear`, use
/// [`LowRankLinear::from_linear`] instead.
#[derive(Config, Debug)]
pub struct LowRankLinearConfig {
    /// The size of the input features.
    pub d_input: usize,
    /// The size of the output features.
    pub d_output: usize,
    /// The rank `r` of the factor pair, between 1 and `min(d_input, d_output)`.
    pub rank: usize,
    /// If a bias should be applied after the second factor. Default: true
    #[config(default = true)]
    pub bias: bool,
    /// How to initialise both factors and the bias, as two `Linear` layers `d_input → r` and
    /// `r → d_output` would be (the authors' `Sequential` of two `nn.Linear`).
    /// Default: `KaimingUniform { gain: 1/√3, fan_out_only: false }` (Burn's `Linear` default)
    #[config(
        default = "Initializer::KaimingUniform { gain: 1.0 / 3.0f64.sqrt(), fan_out_only: false }"
    )]
    pub initializer: Initializer,
}

/// A `Linear` layer whose weight is a product of two thin factors: `y = (x·U)·Vᵀ + b`.
///
/// Holds `r · (d_input + d_output)` weights instead of `d_input · d_output`, and costs as many
/// multiply-adds per input row. Its [`forward`](Self::forward) has the exact signature of
/// `Linear::forward`, so a model's forward body works unchanged on either.
///
/// Should be created with [`LowRankLinear::from_linear`] (SVD initialisation from a trained
/// layer) or [`LowRankLinearConfig`] (from scratch).
///
/// ```
/// use burn::nn::LinearConfig;
/// use burn::tensor::Tensor;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// let dense = LinearConfig::new(64, 32).init::<B>(&device);
/// let (low_rank, error) = pela::LowRankLinear::from_linear("fc", &dense, 8)?;
/// assert_eq!((low_rank.d_input(), low_rank.d_output(), low_rank.rank()), (64, 32, 8));
/// assert_eq!(low_rank.num_params_dense(), 64 * 32 + 32);
/// assert!(error.relative < 1.0);
///
/// let y = low_rank.forward(Tensor::<B, 3>::ones([2, 5, 64], &device)); // [2, 5, 32]
/// assert_eq!(y.dims(), [2, 5, 32]);
/// # Ok::<(), pela::PelaError>(())
/// ```
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct LowRankLinear<B: Backend> {
    /// First factor `U`, shape `[d_input, rank]`; `x·U` projects the input down to rank `r`.
    pub u: Param<Tensor<B, 2>>,
    /// Second factor `V`, shape `[d_output, rank]`; `h·Vᵀ` projects back up.
    pub v: Param<Tensor<B, 2>>,
    /// Bias of shape `[d_output]`, added after the second factor.
    pub bias: Option<Param<Tensor<B, 1>>>,
}

/// A parameter holding `value` that trains once the module moves to an autodiff backend.
///
/// `Param::from_tensor` records the tensor's own `require_grad`, which is always false on a
/// backend without autodiff, so `Module::train` would leave such a parameter frozen. Factors
/// are computed on the CPU backend and trained on another: this keeps them trainable.
pub(crate) fn trainable<B: Backend, const D: usize>(value: Tensor<B, D>) -> Param<Tensor<B, D>> {
    trainable_with_id(ParamId::new(), value)
}

/// [`trainable`], keeping the parameter's id.
fn trainable_with_id<B: Backend, const D: usize>(
    id: ParamId,
    value: Tensor<B, D>,
) -> Param<Tensor<B, D>> {
    let (device, shape) = (value.device(), value.shape());
    let param = Param::uninitialized(
        id,
        move |_, require_grad| value.clone().set_require_grad(require_grad),
        device,
        true,
        shape,
    );
    let _initialised = param.val();
    param
}

/// Marks every floating-point parameter of `module` trainable, keeping its values and ids.
///
/// Call it on a module moved to an autodiff backend before training it. Burn's `Module::train`
/// keeps each parameter's `require_grad` flag, but a backend without autodiff (the CPU
/// backend a model is converted or loaded on) loses that flag whenever a parameter is cloned,
/// loaded or built from a tensor, so parts of a student would otherwise stay frozen. The
/// trainers of `pela-zoo` do this for you.
///
/// ```
/// use burn::module::{AutodiffModule, Module, Param};
/// use burn::tensor::Tensor;
/// type B = burn_ndarray::NdArray<f32>;
/// type Train = burn::backend::Autodiff<B>;
///
/// let frozen = Param::from_tensor(Tensor::<B, 1>::ones([3], &Default::default()));
/// let moved = frozen.train::<Train>();
/// assert!(!moved.val().is_require_grad());
/// assert!(pela::trainable_params(moved).val().is_require_grad());
/// ```
pub fn trainable_params<B: Backend, M: Module<B>>(module: M) -> M {
    struct Trainable;
    impl<B: Backend> ModuleMapper<B> for Trainable {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let id = param.id;
            trainable_with_id(id, param.val())
        }
    }
    module.map(&mut Trainable)
}

impl LowRankLinearConfig {
    /// Initialises a new [`LowRankLinear`] with random factors.
    ///
    /// # Errors
    /// A rank of 0 or above `min(d_input, d_output)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<LowRankLinear<B>, PelaError> {
        check_rank_range(
            "LowRankLinearConfig",
            self.rank,
            self.d_input,
            self.d_output,
        )?;
        let u = self.initializer.init_with(
            [self.d_input, self.rank],
            Some(self.d_input),
            Some(self.rank),
            device,
        );
        let v = self.initializer.init_with(
            [self.d_output, self.rank],
            Some(self.rank),
            Some(self.d_output),
            device,
        );
        let bias = self.bias.then(|| {
            self.initializer.init_with(
                [self.d_output],
                Some(self.rank),
                Some(self.d_output),
                device,
            )
        });
        Ok(LowRankLinear { u, v, bias })
    }
}

impl<B: Backend> LowRankLinear<B> {
    /// Replaces a trained `Linear` by its rank-`rank` SVD factor pair (paper Eq. 2–3), keeping
    /// its bias, and returns how far `U·Vᵀ` is from the original weight.
    ///
    /// `layer` is the module path, used in errors. The factors are computed in `f64` and stored
    /// in the weight's float type; they are new trainable parameters.
    ///
    /// # Errors
    /// A rank of 0 or above full rank, a non-finite weight, or an SVD failure.
    pub fn from_linear(
        layer: &str,
        linear: &Linear<B>,
        rank: usize,
    ) -> Result<(Self, ReconstructionError), PelaError> {
        Self::from_linear_with(layer, linear, rank, SvdMethod::Auto)
    }

    /// [`from_linear`](Self::from_linear) with a chosen [`SvdMethod`].
    ///
    /// # Errors
    /// As [`from_linear`](Self::from_linear).
    pub fn from_linear_with(
        layer: &str,
        linear: &Linear<B>,
        rank: usize,
        method: SvdMethod,
    ) -> Result<(Self, ReconstructionError), PelaError> {
        let factors = factorize_with(layer, linear.weight.val(), rank, method)?;
        let module = Self {
            u: trainable(factors.u),
            v: trainable(factors.v),
            bias: linear.bias.as_ref().map(|b| trainable(b.val())),
        };
        Ok((module, factors.error))
    }

    /// Builds the layer from explicit factors `u [d_input, r]`, `v [d_output, r]` and an
    /// optional bias `[d_output]`.
    ///
    /// # Errors
    /// [`PelaError::ShapeMismatch`] when the shapes do not fit together.
    pub fn from_factors(
        u: Tensor<B, 2>,
        v: Tensor<B, 2>,
        bias: Option<Tensor<B, 1>>,
    ) -> Result<Self, PelaError> {
        let [_, rank] = u.dims();
        let [d_output, v_rank] = v.dims();
        if v_rank != rank {
            return Err(PelaError::ShapeMismatch {
                what: "factor V [d_output, r] against the rank of U [d_input, r]".into(),
                student: v.dims().to_vec(),
                teacher: vec![d_output, rank],
            });
        }
        if let Some(bias) = bias.as_ref()
            && bias.dims() != [d_output]
        {
            return Err(PelaError::ShapeMismatch {
                what: "bias [d_output]".into(),
                student: bias.dims().to_vec(),
                teacher: vec![d_output],
            });
        }
        Ok(Self {
            u: trainable(u),
            v: trainable(v),
            bias: bias.map(trainable),
        })
    }

    /// Applies `y = (x·U)·Vᵀ + b`; the same signature as `Linear::forward`.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        crate::ops::low_rank_linear(
            input,
            self.u.val(),
            self.v.val().transpose(),
            self.bias.as_ref().map(|b| b.val()),
        )
    }

    /// The rank `r` of the factor pair.
    pub fn rank(&self) -> usize {
        self.u.shape().dims::<2>()[1]
    }

    /// The size of the input features.
    pub fn d_input(&self) -> usize {
        self.u.shape().dims::<2>()[0]
    }

    /// The size of the output features.
    pub fn d_output(&self) -> usize {
        self.v.shape().dims::<2>()[0]
    }

    /// Parameters of the dense `Linear` of the same shape (weight and bias).
    pub fn num_params_dense(&self) -> usize {
        self.d_input() * self.d_output() + self.bias_len()
    }

    /// Whether this rank holds fewer weights than the dense layer.
    pub fn shrinks(&self) -> bool {
        self.rank() <= max_shrinking_rank(self.d_input(), self.d_output())
    }

    /// The reconstructed weight `W = U·Vᵀ`, shape `[d_input, d_output]`.
    pub fn weight(&self) -> Tensor<B, 2> {
        self.u.val().matmul(self.v.val().transpose())
    }

    /// Rebuilds a dense `Linear` with `W = U·Vᵀ` and the same bias, e.g. to export the student
    /// to a runtime without low-rank layers.
    pub fn to_dense(&self) -> Linear<B> {
        Linear {
            weight: trainable(self.weight()),
            bias: self.bias.as_ref().map(|b| trainable(b.val())),
        }
    }

    fn bias_len(&self) -> usize {
        self.bias.as_ref().map_or(0, |_| self.d_output())
    }
}

impl<B: Backend> ModuleDisplay for LowRankLinear<B> {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        content
            .add("d_input", &self.d_input())
            .add("d_output", &self.d_output())
            .add("rank", &self.rank())
            .add("bias", &self.bias.is_some())
            .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TestAutodiffBackend, TestBackend};
    use burn::nn::LinearConfig;
    use burn::tensor::{Distribution, Tolerance};

    type B = TestBackend;

    fn dense(d_input: usize, d_output: usize, seed: u64) -> Linear<B> {
        crate::seeded(seed, || {
            let layer = LinearConfig::new(d_input, d_output).init(&Default::default());
            let _drawn = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
            layer
        })
    }

    fn input(shape: [usize; 3], seed: u64) -> Tensor<B, 3> {
        crate::seeded(seed, || {
            Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
        })
    }

    #[test]
    fn forward_equals_input_times_truncated_weight_plus_bias() {
        let layer = dense(20, 12, 1);
        let (low_rank, _) = LowRankLinear::from_linear("fc", &layer, 5).unwrap();
        let x = input([2, 3, 20], 2);
        // Reference: x·W_r + b with W_r = U·Vᵀ built independently of forward().
        let w_r = low_rank.u.val().matmul(low_rank.v.val().transpose());
        let expected = x.clone().matmul(w_r.unsqueeze()) + layer.bias.unwrap().val().unsqueeze();
        low_rank
            .forward(x)
            .into_data()
            .assert_approx_eq::<f32>(&expected.into_data(), Tolerance::absolute(1e-5));
    }

    #[test]
    fn full_rank_forward_equals_dense_forward() {
        let layer = dense(10, 16, 3);
        let (low_rank, error) = LowRankLinear::from_linear("fc", &layer, 10).unwrap();
        assert!(error.max_abs < 1e-5);
        let x = input([4, 1, 10], 4);
        low_rank
            .forward(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&layer.forward(x).into_data(), Tolerance::absolute(1e-5));
        // Any rank of tensor works, as with Linear.
        let x1 = Tensor::<B, 1>::ones([10], &Default::default());
        assert_eq!(low_rank.forward(x1).dims(), [16]);
    }

    #[test]
    fn to_dense_rebuilds_the_product() {
        let layer = dense(8, 6, 5);
        let (low_rank, _) = LowRankLinear::from_linear("fc", &layer, 3).unwrap();
        let rebuilt = low_rank.to_dense();
        let x = input([1, 4, 8], 6);
        rebuilt
            .forward(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&low_rank.forward(x).into_data(), Tolerance::absolute(1e-5));
        assert_eq!(rebuilt.weight.dims(), [8, 6]);
    }

    #[test]
    fn config_init_shapes_params_and_errors() {
        let device = Default::default();
        let layer = LowRankLinearConfig::new(48, 96, 16)
            .init::<B>(&device)
            .unwrap();
        assert_eq!(layer.u.dims(), [48, 16]);
        assert_eq!(layer.v.dims(), [96, 16]);
        assert_eq!(layer.num_params(), 16 * (48 + 96) + 96);
        assert!(layer.shrinks());
        let no_bias = LowRankLinearConfig::new(4, 4, 4)
            .with_bias(false)
            .init::<B>(&device)
            .unwrap();
        assert!(no_bias.bias.is_none() && !no_bias.shrinks());
        assert!(matches!(
            LowRankLinearConfig::new(4, 8, 0).init::<B>(&device),
            Err(PelaError::ZeroRank { .. })
        ));
        assert!(matches!(
            LowRankLinearConfig::new(4, 8, 5).init::<B>(&device),
            Err(PelaError::RankTooLarge { max_rank: 4, .. })
        ));
    }

    #[test]
    fn from_factors_checks_shapes() {
        let device = Default::default();
        let u = Tensor::<B, 2>::zeros([5, 2], &device);
        let v = Tensor::<B, 2>::zeros([7, 3], &device);
        assert!(matches!(
            LowRankLinear::from_factors(u.clone(), v, None),
            Err(PelaError::ShapeMismatch { .. })
        ));
        let v = Tensor::<B, 2>::zeros([7, 2], &device);
        let bias = Tensor::<B, 1>::zeros([6], &device);
        assert!(LowRankLinear::from_factors(u.clone(), v.clone(), Some(bias)).is_err());
        let layer = LowRankLinear::from_factors(u, v, None).unwrap();
        assert_eq!((layer.d_input(), layer.d_output(), layer.rank()), (5, 7, 2));
    }

    #[test]
    fn display() {
        let layer = LowRankLinearConfig::new(3, 5, 2)
            .init::<B>(&Default::default())
            .unwrap();
        assert_eq!(
            format!("{layer}"),
            "LowRankLinear {d_input: 3, d_output: 5, rank: 2, bias: true, params: 21}"
        );
    }

    #[test]
    fn factors_made_on_the_cpu_train_on_autodiff() {
        use burn::module::AutodiffModule;
        let (low_rank, _) = LowRankLinear::from_linear("fc", &dense(6, 4, 8), 2).unwrap();
        let trained: LowRankLinear<TestAutodiffBackend> = low_rank.train();
        let x = Tensor::<TestAutodiffBackend, 2>::ones([3, 6], &Default::default());
        let grads = trained.forward(x).sum().backward();
        assert!(trained.u.val().grad(&grads).is_some());
        assert!(trained.bias.as_ref().unwrap().val().grad(&grads).is_some());
        assert!(trained.valid().u.val().into_data().to_vec::<f32>().is_ok());
    }

    #[test]
    fn factors_are_trainable_on_autodiff() {
        let device = Default::default();
        let layer = LowRankLinearConfig::new(6, 4, 2)
            .init::<TestAutodiffBackend>(&device)
            .unwrap();
        let x = Tensor::<TestAutodiffBackend, 2>::ones([3, 6], &device);
        let grads = layer.forward(x).sum().backward();
        assert!(layer.u.val().grad(&grads).is_some());
        assert!(layer.v.val().grad(&grads).is_some());
    }
}
