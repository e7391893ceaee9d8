//! SVD initialisation of a factor pair (paper Eq. 2–3).
//!
//! For a `Linear` weight `W` of shape `[d_input, d_output]` (Burn's layout, `y = x·W + b`):
//!
//! ```text
//! W = P · Σ · Qᵀ                      (thin SVD, σ₁ ≥ σ₂ ≥ … ≥ 0)
//! U = P[:, :r] · Σ[:r, :r]^½           [d_input, r]
//! V = (Σ[:r, :r]^½ · Qᵀ[:r, :])ᵀ       [d_output, r]
//! x·W ≈ (x·U)·Vᵀ
//! ```
//!
//! `U·Vᵀ` is then the best rank-`r` approximation of `W` in the Frobenius and spectral norms
//! (Eckart–Young), splitting `√σ` evenly between the factors as the paper and the authors' code
//! do. The SVD runs in `f64` on the CPU, exact (`faer`) or randomized (see [`SvdMethod`]); the
//! factors are stored in the weight's own float type.

mod exact;
mod gram;
mod linalg;
mod randomized;
mod spectrum;
mod whitened;

pub(crate) use linalg::{accumulate, matmul};
pub use spectrum::{output_energies, weight_energies};
pub use whitened::output_error;

use burn::config::Config;
use burn::tensor::{Tensor, TensorData, backend::Backend};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::PelaError;
use crate::plan::check_rank_range;

/// How [`factorize`] computes the truncated SVD.
///
/// ```
/// use pela::SvdMethod;
/// // The default: through the Gram matrix, but randomized for ranks far below full rank.
/// assert_eq!(SvdMethod::default(), SvdMethod::Auto);
/// assert_eq!(SvdMethod::Auto.resolve(768, 3072, 307), SvdMethod::Gram);
/// assert_eq!(SvdMethod::Auto.resolve(4096, 4096, 64), SvdMethod::randomized_for(64));
/// ```
#[derive(Config, Debug, Copy, PartialEq)]
pub enum SvdMethod {
    /// [`randomized_for`](Self::randomized_for) when `rank` plus its oversampling is at most
    /// 10 % of `min(d_input, d_output)` and the smaller side has more than 256 rows,
    /// [`Gram`](Self::Gram) otherwise. (The randomized method does `2·(power_iterations + 1)`
    /// products with the weight at `k = rank + oversampling` columns: at κ = 2 ranks that took
    /// twice the Gram path's time on DeiT-Base; it only pays off for thin ranks.)
    Auto,
    /// The eigendecomposition of the smaller Gram matrix (`WᵀW` or `WWᵀ`, `faer`, `f64`):
    /// the optimal truncation to 1e-9 on weights whose kept singular values are above
    /// `10⁻⁷·σ₁`, about 2.5× faster than [`Exact`](Self::Exact) on DeiT-Base's shapes (only
    /// matrix products touch the large matrix).
    Gram,
    /// The thin SVD (`faer`, `f64`, blocked and multi-threaded): exact to rounding; about
    /// 0.6 s for a 768×3072 weight on 2 cores.
    Exact,
    /// The randomized range finder of Halko, Martinsson & Tropp (2011): only the top
    /// `rank + oversampling` singular triplets, `power_iterations` subspace iterations;
    /// within 1 % of the optimal truncation error on weight-like spectra.
    Randomized {
        /// Extra columns of the random test matrix.
        oversampling: usize,
        /// Subspace iterations (each costs two products with the weight).
        power_iterations: usize,
    },
}

// Not `#[derive(Default)]`: Burn's `Config` derive copies the variants, attributes and all, into
// a serde enum where `#[default]` does not compile.
#[allow(clippy::derivable_impls)]
impl Default for SvdMethod {
    fn default() -> Self {
        Self::Auto
    }
}

impl SvdMethod {
    /// The randomized method `Auto` uses at `rank`: oversampling `max(10, rank / 4)`, 4 power
    /// iterations. Measured within 0.4 % of the optimal truncation error on weight-like
    /// spectra up to half the full rank (see the tests).
    pub fn randomized_for(rank: usize) -> Self {
        Self::Randomized {
            oversampling: (rank / 4).max(10),
            power_iterations: 4,
        }
    }

    /// The concrete method for a `[d_input, d_output]` weight at `rank`.
    pub fn resolve(self, d_input: usize, d_output: usize, rank: usize) -> Self {
        match self {
            Self::Auto => {
                let side = d_input.min(d_output);
                let Self::Randomized { oversampling, .. } = Self::randomized_for(rank) else {
                    unreachable!("randomized_for is randomized")
                };
                if side > 256 && (rank + oversampling) as f64 <= 0.1 * side as f64 {
                    Self::randomized_for(rank)
                } else {
                    Self::Gram
                }
            }
            method => method,
        }
    }
}

/// The rank-`r` factors of an `[m, n]` matrix in `f64`.
struct TruncatedSvd {
    /// `[m, r]`
    u: Array2<f64>,
    /// `[n, r]`
    v: Array2<f64>,
    /// The singular values computed, largest first.
    singular_values: Vec<f64>,
}

/// How far a factor pair is from the dense weight it replaces: `E = U·Vᵀ − W`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReconstructionError {
    /// Frobenius norm `‖E‖_F`.
    pub frobenius: f64,
    /// `‖E‖_F / ‖W‖_F` (0 when `W` is zero).
    pub relative: f64,
    /// Largest absolute entry `max |E_ij|` (what the authors' weight-perturbation loss bounds).
    pub max_abs: f64,
}

impl ReconstructionError {
    /// Measures `U·Vᵀ − W` in `f64`. Shapes: `w [d_input, d_output]`, `u [d_input, r]`,
    /// `v [d_output, r]`.
    pub fn measure(w: ArrayView2<f64>, u: ArrayView2<f64>, v: ArrayView2<f64>) -> Self {
        // E = U·Vᵀ − W in one product that starts from −W.
        let mut diff = w.as_standard_layout().into_owned();
        linalg::accumulate(&mut diff, -1.0, u, v.t());
        let (squares, max_abs) = diff
            .iter()
            .fold((0.0f64, 0.0f64), |(s, m), e| (s + e * e, m.max(e.abs())));
        let frobenius = squares.sqrt();
        let norm = w.iter().map(|e| e * e).sum::<f64>().sqrt();
        Self {
            frobenius,
            relative: if norm > 0.0 { frobenius / norm } else { 0.0 },
            max_abs,
        }
    }
}

/// The SVD factor pair of one weight, with what was discarded.
#[derive(Debug, Clone)]
pub struct Factorization<B: Backend> {
    /// `U = P[:, :r]·Σ^½`, shape `[d_input, r]`, in the weight's float type.
    pub u: Tensor<B, 2>,
    /// `V = Q[:, :r]·Σ^½`, shape `[d_output, r]`, in the weight's float type.
    pub v: Tensor<B, 2>,
    /// The singular values of `W` computed, largest first: all `min(d_input, d_output)` with
    /// [`SvdMethod::Exact`], the top `rank + oversampling` with [`SvdMethod::Randomized`].
    pub singular_values: Vec<f64>,
    /// `U·Vᵀ − W` measured with the stored (rounded) factors.
    pub error: ReconstructionError,
}

/// Factorises the `Linear` weight `weight` (`[d_input, d_output]`) of the layer at module path
/// `layer` into a rank-`rank` pair `U [d_input, rank]`, `V [d_output, rank]` (paper Eq. 2–3).
///
/// `layer` only names the layer in errors.
///
/// # Errors
/// `rank` of 0 or above `min(d_input, d_output)`, a NaN or infinite entry in `weight`, or an SVD
/// that does not converge.
///
/// ```
/// use burn::tensor::Tensor;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// // A rank-1 matrix: [1, 2]ᵀ · [3, 4, 5]
/// let w = Tensor::<B, 2>::from_floats([[3.0, 4.0, 5.0], [6.0, 8.0, 10.0]], &device);
/// let f = pela::factorize("fc", w.clone(), 1)?;
/// assert_eq!(f.u.dims(), [2, 1]);
/// assert_eq!(f.v.dims(), [3, 1]);
/// assert!(f.error.max_abs < 1e-5);
/// assert!(f.singular_values[1] < 1e-9);
/// # Ok::<(), pela::PelaError>(())
/// ```
pub fn factorize<B: Backend>(
    layer: &str,
    weight: Tensor<B, 2>,
    rank: usize,
) -> Result<Factorization<B>, PelaError> {
    factorize_with(layer, weight, rank, SvdMethod::Auto)
}

/// [`factorize`] with a chosen [`SvdMethod`].
///
/// # Errors
/// As [`factorize`].
pub fn factorize_with<B: Backend>(
    layer: &str,
    weight: Tensor<B, 2>,
    rank: usize,
    method: SvdMethod,
) -> Result<Factorization<B>, PelaError> {
    let [d_input, d_output] = weight.dims();
    check_rank_range(layer, rank, d_input, d_output)?;
    let (device, dtype) = (weight.device(), weight.dtype());
    let w = to_array(layer, weight)?;
    let svd = plain_svd(layer, &w, rank, method)?;
    Ok(store(layer, &w, svd, &device, dtype)?.factors)
}

/// The rank-`rank` factors of `w` by `method`.
fn plain_svd(
    layer: &str,
    w: &Array2<f64>,
    rank: usize,
    method: SvdMethod,
) -> Result<TruncatedSvd, PelaError> {
    let (d_input, d_output) = w.dim();
    match method.resolve(d_input, d_output, rank) {
        SvdMethod::Randomized {
            oversampling,
            power_iterations,
        } => {
            // The same test matrix for the same shape: conversions are reproducible.
            let seed = 0x5EED ^ ((d_input as u64) << 32) ^ (d_output as u64);
            randomized::truncated_svd(layer, w, rank, oversampling, power_iterations, seed)
        }
        SvdMethod::Gram | SvdMethod::Auto => gram::truncated_svd(layer, w, rank),
        SvdMethod::Exact => exact::truncated_svd(layer, w, rank),
    }
}

/// Factors in the model's float type, with `f64` copies of exactly what the model holds.
struct Stored<B: Backend> {
    factors: Factorization<B>,
    u: Array2<f64>,
    v: Array2<f64>,
}

/// Stores `svd`'s factors in `dtype` on `device` and measures them against `w` as stored
/// (rounded), not as computed.
fn store<B: Backend>(
    layer: &str,
    w: &Array2<f64>,
    svd: TruncatedSvd,
    device: &B::Device,
    dtype: burn::tensor::DType,
) -> Result<Stored<B>, PelaError> {
    // Rounded to `dtype` once: the model gets these values, the measurement reads them back.
    let u_data = from_array(&svd.u).convert_dtype(dtype);
    let v_data = from_array(&svd.v).convert_dtype(dtype);
    let stored_u = data_to_array(layer, u_data.clone(), svd.u.nrows(), svd.u.ncols())?;
    let stored_v = data_to_array(layer, v_data.clone(), svd.v.nrows(), svd.v.ncols())?;
    let error = ReconstructionError::measure(w.view(), stored_u.view(), stored_v.view());
    Ok(Stored {
        factors: Factorization {
            u: Tensor::<B, 2>::from_data(u_data, (device, dtype)),
            v: Tensor::<B, 2>::from_data(v_data, (device, dtype)),
            singular_values: svd.singular_values,
            error,
        },
        u: stored_u,
        v: stored_v,
    })
}

/// The output error `‖X·W − X·U·Vᵀ‖_F / ‖X·W‖_F` of a layer on its calibration inputs `X`,
/// for the data-aware factors and for the plain SVD factors of the same rank.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OutputError {
    /// With the data-aware (whitened) factorisation.
    pub data_aware: f64,
    /// With the plain SVD factorisation.
    pub plain: f64,
}

/// Factorises `weight` for the inputs whose second moments are `gram` (`XᵀX`,
/// `[d_input, d_input]`, e.g. from [`InputGram`](crate::InputGram)): SVD-LLM's whitened
/// truncation, which minimises the error on the layer's outputs instead of on its weight.
/// Also measures the output errors of both this and the plain factorisation.
///
/// # Errors
/// As [`factorize`]; a `gram` of the wrong shape; an `XᵀX` that stays singular with jitter.
pub fn factorize_data_aware<B: Backend>(
    layer: &str,
    weight: Tensor<B, 2>,
    rank: usize,
    gram: ArrayView2<f64>,
) -> Result<(Factorization<B>, OutputError), PelaError> {
    let [d_input, d_output] = weight.dims();
    check_rank_range(layer, rank, d_input, d_output)?;
    if gram.dim() != (d_input, d_input) {
        return Err(PelaError::ShapeMismatch {
            what: format!("calibration XᵀX of `{layer}`"),
            student: vec![gram.nrows(), gram.ncols()],
            teacher: vec![d_input, d_input],
        });
    }
    let (device, dtype) = (weight.device(), weight.dtype());
    let w = to_array(layer, weight)?;
    let plain = store::<B>(
        layer,
        &w,
        plain_svd(layer, &w, rank, SvdMethod::Auto)?,
        &device,
        dtype,
    )?;
    let aware = store::<B>(
        layer,
        &w,
        whitened::truncated_svd(layer, &w, gram, rank)?,
        &device,
        dtype,
    )?;
    let reference = whitened::input_weighted_norm(gram, w.view()); // ‖X·W‖
    let relative = |stored: &Stored<B>| {
        let e = output_error(gram, w.view(), stored.u.view(), stored.v.view());
        if reference > 0.0 { e / reference } else { 0.0 }
    };
    let output = OutputError {
        data_aware: relative(&aware),
        plain: relative(&plain),
    };
    Ok((aware.factors, output))
}

/// The second moments of one layer's inputs on the same calibration rows in the teacher (`X`)
/// and in a student whose earlier layers are already compressed (`X̂`): what
/// [`factorize_sequential`] fits. All `[d_input, d_input]`, `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedGrams {
    /// `XᵀX`.
    pub teacher: Array2<f64>,
    /// `X̂ᵀX̂`.
    pub student: Array2<f64>,
    /// `X̂ᵀX`: row `i` of `X̂` and row `i` of `X` come from the same input.
    pub cross: Array2<f64>,
}

impl PairedGrams {
    /// The moments of the row-aligned batches `teacher[b]` and `student[b]`
    /// (`[rows_b, d_input]` each).
    ///
    /// # Errors
    /// [`PelaError::UnalignedCalibration`] when the two sides differ in their batches'
    /// shapes; [`PelaError::NotCalibrated`] when there is no row.
    pub fn from_rows(
        layer: &str,
        teacher: &[Array2<f64>],
        student: &[Array2<f64>],
    ) -> Result<Self, PelaError> {
        let shapes = |rows: &[Array2<f64>]| rows.iter().map(Array2::dim).collect::<Vec<_>>();
        if shapes(teacher) != shapes(student) {
            return Err(PelaError::UnalignedCalibration {
                layer: layer.to_string(),
                teacher: shapes(teacher),
                student: shapes(student),
            });
        }
        let Some(first) = teacher.first().filter(|x| x.nrows() > 0) else {
            return Err(PelaError::NotCalibrated {
                layers: vec![layer.to_string()],
            });
        };
        let d = first.ncols();
        let mut grams = Self {
            teacher: Array2::zeros((d, d)),
            student: Array2::zeros((d, d)),
            cross: Array2::zeros((d, d)),
        };
        for (x, x_hat) in teacher.iter().zip(student) {
            accumulate(&mut grams.teacher, 1.0, x.t(), x.view());
            accumulate(&mut grams.student, 1.0, x_hat.t(), x_hat.view());
            accumulate(&mut grams.cross, 1.0, x_hat.t(), x.view());
        }
        Ok(grams)
    }

    /// The same inputs on both sides (`X̂ = X`): the first compressed layer of a model.
    pub fn unpaired(gram: Array2<f64>) -> Self {
        Self {
            teacher: gram.clone(),
            student: gram.clone(),
            cross: gram,
        }
    }
}

/// Factorises `weight` for a student whose earlier layers are already compressed: the rank-`rank`
/// factors minimising `‖X·W − X̂·U·Vᵀ‖_F`, the distance between the teacher's outputs and this
/// layer's outputs on the inputs `X̂` the student gives it (`grams`). So the earlier layers'
/// errors are compensated instead of compounded (the layer-wise update of SVD-LLM, Wang et al.
/// 2024). With `X̂ = X` this is [`factorize_data_aware`]. The [`OutputError`] is measured the
/// same way, relative to `‖X·W‖_F`, for these factors and for the plain SVD's.
///
/// ```
/// use burn::tensor::{Distribution, Tensor, backend::Backend};
/// use pela::{PairedGrams, factorize_data_aware, factorize_sequential};
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// B::seed(&device, 0);
/// let w = Tensor::<B, 2>::random([16, 16], Distribution::Normal(0.0, 1.0), &device);
/// let x = Tensor::<B, 2>::random([64, 16], Distribution::Normal(0.0, 1.0), &device);
/// let x = ndarray::Array2::from_shape_vec((64, 16), x.into_data().to_vec::<f32>().unwrap())
///     .unwrap()
///     .mapv(f64::from);
/// // The same inputs on both sides: the one-shot data-aware factorisation.
/// let gram = x.t().dot(&x);
/// let (_, sequential) = factorize_sequential("fc", w.clone(), 4, &PairedGrams::unpaired(gram.clone()))?;
/// let (_, one_shot) = factorize_data_aware("fc", w, 4, gram.view())?;
/// assert!((sequential.data_aware - one_shot.data_aware).abs() < 1e-4);
/// # Ok::<(), pela::PelaError>(())
/// ```
///
/// # Errors
/// As [`factorize_data_aware`], for any of the three matrices.
pub fn factorize_sequential<B: Backend>(
    layer: &str,
    weight: Tensor<B, 2>,
    rank: usize,
    grams: &PairedGrams,
) -> Result<(Factorization<B>, OutputError), PelaError> {
    let [d_input, d_output] = weight.dims();
    check_rank_range(layer, rank, d_input, d_output)?;
    for (what, gram) in [
        ("XᵀX", &grams.teacher),
        ("X̂ᵀX̂", &grams.student),
        ("X̂ᵀX", &grams.cross),
    ] {
        if gram.dim() != (d_input, d_input) {
            return Err(PelaError::ShapeMismatch {
                what: format!("calibration {what} of `{layer}`"),
                student: vec![gram.nrows(), gram.ncols()],
                teacher: vec![d_input, d_input],
            });
        }
    }
    let (device, dtype) = (weight.device(), weight.dtype());
    let w = to_array(layer, weight)?;
    let plain = store::<B>(
        layer,
        &w,
        plain_svd(layer, &w, rank, SvdMethod::Auto)?,
        &device,
        dtype,
    )?;
    let compensated =
        whitened::compensated_weight(layer, &w, grams.student.view(), grams.cross.view())?;
    let fitted = whitened::truncated_svd(layer, &compensated, grams.student.view(), rank)?;
    let fitted = store::<B>(layer, &w, fitted, &device, dtype)?;
    let reference = whitened::input_weighted_norm(grams.teacher.view(), w.view()); // ‖X·W‖
    let relative = |stored: &Stored<B>| {
        let e = whitened::paired_output_error(grams, w.view(), stored.u.view(), stored.v.view());
        if reference > 0.0 { e / reference } else { 0.0 }
    };
    let output = OutputError {
        data_aware: relative(&fitted),
        plain: relative(&plain),
    };
    // `factors.error` is against the teacher's `W`, as everywhere: how far the fit moved it.
    Ok((fitted.factors, output))
}

/// Reads a 2-D tensor into an `f64` array, refusing NaN and infinities.
pub(crate) fn to_array<B: Backend>(
    layer: &str,
    tensor: Tensor<B, 2>,
) -> Result<Array2<f64>, PelaError> {
    let [rows, cols] = tensor.dims();
    // Read flat: `burn-ndarray` copies a shared 2-D tensor (a `Param`'s value is one) element
    // by element through a dynamic-rank iterator, 75 ms for a 768×3072 weight, and a flat one
    // in 6.
    data_to_array(layer, tensor.reshape([rows * cols]).into_data(), rows, cols)
}

/// [`to_array`] of a tensor's data, `rows × cols` values in row-major order.
fn data_to_array(
    layer: &str,
    data: TensorData,
    rows: usize,
    cols: usize,
) -> Result<Array2<f64>, PelaError> {
    let unreadable = |e| PelaError::Svd {
        layer: layer.to_string(),
        reason: format!("could not read the weight: {e:?}"),
    };
    // `f32`, the usual case, is widened in one pass; other types through Burn's conversion.
    let values: Vec<f64> = match data.dtype {
        burn::tensor::DType::F32 => data
            .as_slice::<f32>()
            .map_err(unreadable)?
            .iter()
            .map(|&x| f64::from(x))
            .collect(),
        _ => data
            .convert::<f64>()
            .into_vec::<f64>()
            .map_err(unreadable)?,
    };
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        return Err(PelaError::NonFiniteWeight {
            layer: layer.to_string(),
            row: i / cols,
            col: i % cols,
        });
    }
    Ok(Array2::from_shape_vec((rows, cols), values).expect("the tensor's shape holds its data"))
}

fn from_array(array: &Array2<f64>) -> TensorData {
    let values = match array.as_slice() {
        Some(values) => values.to_vec(),
        None => array.iter().copied().collect(),
    };
    TensorData::new(values, array.shape().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TestBackend;
    use approx::assert_relative_eq;
    use burn::tensor::Distribution;
    use ndarray::{Array1, Axis};

    type B = TestBackend;

    fn random(rows: usize, cols: usize, seed: u64) -> Tensor<B, 2> {
        crate::seeded(seed, || {
            Tensor::random(
                [rows, cols],
                Distribution::Normal(0.0, 1.0),
                &Default::default(),
            )
        })
    }

    /// `Q` with orthonormal columns, from a seeded Gram–Schmidt on a random matrix.
    fn orthonormal(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut q = to_array("test", random(rows, cols, seed)).unwrap();
        for j in 0..cols {
            for k in 0..j {
                let dot = q.column(j).dot(&q.column(k));
                let qk = q.column(k).to_owned();
                q.column_mut(j).scaled_add(-dot, &qk);
            }
            let norm = q.column(j).dot(&q.column(j)).sqrt();
            q.column_mut(j).mapv_inplace(|x| x / norm);
        }
        q
    }

    #[test]
    fn truncation_error_is_the_discarded_energy() {
        // Eckart–Young: ‖W − W_r‖²_F = Σ_{i>r} σ_i², on seeded random matrices of both shapes.
        for (rows, cols, rank, seed) in [(24, 40, 5, 1), (48, 16, 7, 2), (32, 32, 31, 3)] {
            let w = random(rows, cols, seed);
            let f = factorize_with("w", w, rank, SvdMethod::Exact).unwrap();
            let discarded: f64 = f.singular_values[rank..].iter().map(|s| s * s).sum();
            assert_relative_eq!(f.error.frobenius.powi(2), discarded, max_relative = 1e-4);
        }
    }

    #[test]
    fn constructed_spectrum_is_recovered_exactly() {
        // W = A·diag(σ)·Bᵀ with known σ: the SVD must find σ, and the rank-r error is known.
        let (rows, cols) = (30, 20);
        let sigma = Array1::from_iter((0..cols).map(|i| 10.0 * 0.7f64.powi(i as i32)));
        let a = orthonormal(rows, cols, 11);
        let b = orthonormal(cols, cols, 12);
        let w = (&a * &sigma.view().insert_axis(Axis(0))).dot(&b.t());
        let w_tensor = Tensor::<B, 2>::from_data(from_array(&w), &Default::default());
        let rank = 6;
        let f = factorize_with("constructed", w_tensor, rank, SvdMethod::Exact).unwrap();
        for (found, expected) in f.singular_values.iter().zip(sigma.iter()) {
            assert_relative_eq!(*found, *expected, max_relative = 1e-5, epsilon = 1e-5);
        }
        let expected = sigma
            .slice(ndarray::s![rank..])
            .mapv(|s| s * s)
            .sum()
            .sqrt();
        assert_relative_eq!(f.error.frobenius, expected, max_relative = 1e-4);
        // U·Vᵀ equals A_r·Σ_r·B_rᵀ, the best rank-r approximation.
        let best = (&a.slice(ndarray::s![.., ..rank])
            * &sigma.slice(ndarray::s![..rank]).insert_axis(Axis(0)))
            .dot(&b.slice(ndarray::s![.., ..rank]).t());
        let u = to_array("u", f.u).unwrap();
        let v = to_array("v", f.v).unwrap();
        let diff = u.dot(&v.t()) - &best;
        assert!(
            diff.iter().all(|e| e.abs() < 1e-5),
            "max {}",
            diff.fold(0.0f64, |m, e| m.max(e.abs()))
        );
    }

    #[test]
    fn factors_split_singular_values_evenly() {
        // Uᵀ·U = Σ_r = Vᵀ·V (Eq. 3 puts √σ on both sides).
        let f = factorize("w", random(16, 12, 5), 4).unwrap();
        let u = to_array("u", f.u).unwrap();
        let v = to_array("v", f.v).unwrap();
        let (utu, vtv) = (u.t().dot(&u), v.t().dot(&v));
        for i in 0..4 {
            for j in 0..4 {
                let expected = if i == j { f.singular_values[i] } else { 0.0 };
                assert!((utu[[i, j]] - expected).abs() < 1e-4);
                assert!((vtv[[i, j]] - expected).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn full_rank_reproduces_the_weight() {
        let w = random(12, 9, 7);
        let f = factorize("w", w.clone(), 9).unwrap();
        assert!(f.error.max_abs < 1e-5, "{:?}", f.error);
        f.u.matmul(f.v.transpose())
            .into_data()
            .assert_approx_eq::<f32>(&w.into_data(), burn::tensor::Tolerance::absolute(1e-5));
    }

    /// `[rows, cols]` with singular values `spectrum` and seeded random singular vectors.
    fn with_spectrum(rows: usize, cols: usize, spectrum: &[f64], seed: u64) -> Array2<f64> {
        let k = spectrum.len();
        let sigma = Array1::from_iter(spectrum.iter().copied());
        let a = orthonormal(rows, k, seed);
        let b = orthonormal(cols, k, seed + 1);
        (&a * &sigma.view().insert_axis(Axis(0))).dot(&b.t())
    }

    /// Frobenius error of the rank-`rank` factors of `w` by `method`.
    fn truncation_error(w: &Array2<f64>, rank: usize, method: SvdMethod) -> f64 {
        let tensor = Tensor::<B, 2>::from_data(from_array(w), &Default::default());
        factorize_with("w", tensor, rank, method)
            .unwrap()
            .error
            .frobenius
    }

    #[test]
    fn randomized_is_within_one_percent_of_optimal() {
        // A weight-like spectrum: a power law over a noise floor, as trained Transformer
        // weights show, and a flat (random Gaussian) one, the hardest case for the method.
        let decaying: Vec<f64> = (0..160)
            .map(|i| 3.0 * (1.0 + i as f64).powf(-0.6) + 0.05)
            .collect();
        let cases = [
            (with_spectrum(160, 480, &decaying, 21), 40),
            (with_spectrum(480, 160, &decaying, 23), 80),
            (to_array("w", random(200, 300, 25)).unwrap(), 60),
        ];
        for (w, rank) in cases {
            let optimal = truncation_error(&w, rank, SvdMethod::Exact);
            let randomized = truncation_error(&w, rank, SvdMethod::randomized_for(rank));
            assert!(
                randomized <= 1.005 * optimal,
                "{:?} rank {rank}: randomized {randomized} vs optimal {optimal}",
                w.dim()
            );
        }
    }

    #[test]
    fn gram_is_the_optimal_truncation_on_both_orientations() {
        // The exact SVD's error is the optimum (Eckart–Young); the Gram path must reach it, on
        // weight-like spectra (tall and wide), a flat random one and a steep one (σ down to
        // 1e-6·σ₁ inside the kept rank).
        let decaying: Vec<f64> = (0..160)
            .map(|i| 3.0 * (1.0 + i as f64).powf(-0.6) + 0.05)
            .collect();
        let steep: Vec<f64> = (0..60).map(|i| 10f64.powf(-0.1 * i as f64)).collect();
        let cases = [
            (with_spectrum(160, 480, &decaying, 41), 80),
            (with_spectrum(480, 160, &decaying, 43), 80),
            (to_array("w", random(200, 300, 45)).unwrap(), 100),
            (with_spectrum(90, 60, &steep, 47), 50),
        ];
        for (w, rank) in cases {
            let optimal = truncation_error(&w, rank, SvdMethod::Exact);
            let gram = truncation_error(&w, rank, SvdMethod::Gram);
            assert!(
                (gram - optimal).abs() <= 1e-6 * optimal.max(1e-12) + 1e-9,
                "{:?} rank {rank}: Gram {gram} vs optimal {optimal}",
                w.dim()
            );
            // The singular values too, to the accuracy the squared matrix allows.
            let tensor = Tensor::<B, 2>::from_data(from_array(&w), &Default::default());
            let exact = factorize_with("w", tensor.clone(), rank, SvdMethod::Exact).unwrap();
            let via_gram = factorize_with("w", tensor, rank, SvdMethod::Gram).unwrap();
            for (a, b) in exact.singular_values.iter().zip(&via_gram.singular_values) {
                assert!(
                    (a - b).abs() <= 1e-7 * exact.singular_values[0],
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn gram_gives_a_rank_deficient_weight_zero_pairs() {
        // Rank 3 asked for 5: the two extra pairs carry nothing, and the weight is exact.
        let w = with_spectrum(40, 30, &[5.0, 2.0, 1.0], 51);
        let tensor = Tensor::<B, 2>::from_data(from_array(&w), &Default::default());
        let f = factorize_with("w", tensor, 5, SvdMethod::Gram).unwrap();
        assert!(f.error.max_abs < 1e-5, "{:?}", f.error);
        assert!(
            f.u.into_data()
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .all(|x| x.is_finite())
        );
    }

    #[test]
    fn gram_handles_a_single_row_or_column() {
        // A 1×1 Gram matrix: no tridiagonal form, the plain eigensolver.
        for (rows, cols) in [(1, 5), (6, 1)] {
            let w = random(rows, cols, 53);
            let f = factorize_with("w", w.clone(), 1, SvdMethod::Gram).unwrap();
            assert!(f.error.max_abs < 1e-5, "{rows}×{cols}: {:?}", f.error);
            let norm = to_array("w", w).unwrap().iter().map(|x| x * x).sum::<f64>();
            assert_relative_eq!(f.singular_values[0], norm.sqrt(), max_relative = 1e-6);
        }
    }

    #[test]
    fn randomized_recovers_a_low_rank_weight_exactly() {
        // Rank 3: the range finder's blocks are rank-deficient (the Householder fallback).
        let w = with_spectrum(100, 80, &[5.0, 2.0, 1.0], 31);
        let tensor = Tensor::<B, 2>::from_data(from_array(&w), &Default::default());
        let f = factorize_with("w", tensor, 3, SvdMethod::randomized_for(3)).unwrap();
        assert!(f.error.max_abs < 1e-5, "{:?}", f.error);
        for (found, expected) in f.singular_values.iter().zip([5.0, 2.0, 1.0]) {
            assert_relative_eq!(*found, expected, max_relative = 1e-6);
        }
    }

    /// `XᵀX` of inputs near a `latent`-dimensional subspace of `d` dimensions.
    fn anisotropic_gram(d: usize, latent: usize, rows: usize, seed: u64) -> Array2<f64> {
        let z = to_array("z", random(rows, latent, seed)).unwrap();
        let mix = to_array("mix", random(latent, d, seed + 1)).unwrap();
        let noise = to_array("noise", random(rows, d, seed + 2)).unwrap() * 0.05;
        let x = z.dot(&mix) + noise;
        x.t().dot(&x)
    }

    #[test]
    fn data_aware_lowers_the_output_error_and_not_the_weight_error() {
        let w = random(48, 40, 41);
        let gram = anisotropic_gram(48, 6, 400, 42);
        let (f, output) = factorize_data_aware("fc", w, 8, gram.view()).unwrap();
        // SVD-LLM minimises the output error over rank-8 weights: at most the plain one's.
        assert!(output.data_aware < output.plain, "{output:?}");
        assert!(output.data_aware < 0.5 * output.plain, "{output:?}");
        // … at the price of a larger weight error than the (weight-optimal) plain SVD.
        assert!(f.error.relative > 0.0);
    }

    #[test]
    fn data_aware_equals_plain_for_isotropic_inputs() {
        let w = random(30, 20, 43);
        let gram = Array2::<f64>::eye(30) * 7.0;
        let (f, output) = factorize_data_aware("fc", w.clone(), 5, gram.view()).unwrap();
        let plain = factorize_with("fc", w, 5, SvdMethod::Exact).unwrap();
        assert_relative_eq!(output.data_aware, output.plain, max_relative = 1e-6);
        assert_relative_eq!(
            f.error.frobenius,
            plain.error.frobenius,
            max_relative = 1e-5
        );
    }

    #[test]
    fn singular_calibration_inputs_get_a_jitter_and_wrong_shapes_an_error() {
        // 3 input rows for 16 features: XᵀX has rank 3.
        let gram = anisotropic_gram(16, 3, 3, 44);
        let (_, output) = factorize_data_aware("fc", random(16, 12, 45), 4, gram.view()).unwrap();
        assert!(output.data_aware.is_finite() && output.data_aware <= output.plain + 1e-9);
        let err = factorize_data_aware("fc", random(8, 12, 46), 4, gram.view()).unwrap_err();
        assert!(matches!(err, PelaError::ShapeMismatch { .. }), "{err}");
    }

    #[test]
    fn auto_picks_randomized_for_thin_ranks_only() {
        let randomized = |rank| SvdMethod::randomized_for(rank);
        assert_eq!(SvdMethod::Auto.resolve(4096, 11008, 256), randomized(256));
        assert_eq!(SvdMethod::Auto.resolve(768, 3072, 50), randomized(50));
        assert_eq!(SvdMethod::Auto.resolve(768, 3072, 307), SvdMethod::Gram);
        assert_eq!(SvdMethod::Auto.resolve(768, 768, 192), SvdMethod::Gram);
        assert_eq!(SvdMethod::Auto.resolve(32, 128, 8), SvdMethod::Gram);
        assert_eq!(SvdMethod::Exact.resolve(768, 3072, 10), SvdMethod::Exact);
    }

    #[test]
    fn bad_ranks_and_non_finite_weights_are_errors() {
        let w = random(6, 4, 9);
        assert!(matches!(
            factorize("l", w.clone(), 0),
            Err(PelaError::ZeroRank { .. })
        ));
        let err = factorize("blocks.0.fc1", w, 5).unwrap_err();
        assert!(matches!(err, PelaError::RankTooLarge { max_rank: 4, .. }));
        assert!(err.to_string().contains("blocks.0.fc1"));

        let device = Default::default();
        let w = Tensor::<B, 2>::from_floats([[1.0, 2.0], [f32::NAN, 0.5]], &device);
        assert_eq!(
            factorize("head", w, 1).unwrap_err(),
            PelaError::NonFiniteWeight {
                layer: "head".into(),
                row: 1,
                col: 0
            }
        );
    }
}
