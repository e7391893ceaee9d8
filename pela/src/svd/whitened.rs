//! Data-aware factorisation (SVD-LLM, Wang et al. 2024): truncate the weight in the metric of
//! its inputs, so that the error on the layer's *outputs* is the smallest possible.
//!
//! With `X` the calibration inputs of the layer (`[tokens, d_input]`) and `XᵀX = L·Lᵀ`
//! (Cholesky, `f64`, a small jitter added when `XᵀX` is not positive definite):
//!
//! ```text
//! ‖X·W − X·Ŵ‖_F = ‖Lᵀ·(W − Ŵ)‖_F
//! W_s = Lᵀ·W                                whiten
//! W_s ≈ P_r·Σ_r·Q_rᵀ                        truncate (exact SVD)
//! U = L⁻ᵀ·P_r·Σ_r^½,  V = Q_r·Σ_r^½          un-whiten
//! ```
//!
//! `U·Vᵀ` then minimises the output error over all rank-`r` weights (Eckart–Young in the
//! whitened space).

use faer::{Mat, Side};
use ndarray::{Array2, ArrayView2};

use super::TruncatedSvd;
use super::linalg::matmul;
use crate::PelaError;

/// The Cholesky factor `L` (lower) of `gram + jitter·I`, raising the jitter from 0 by factors
/// of 100 (starting at 1e-8 of the mean diagonal) until the factorisation succeeds.
fn whitening(layer: &str, gram: ArrayView2<f64>) -> Result<Mat<f64>, PelaError> {
    let d = gram.nrows();
    let mean_diagonal = (0..d).map(|i| gram[[i, i]]).sum::<f64>() / d.max(1) as f64;
    let mut jitter = 0.0;
    for attempt in 0..8 {
        let shifted = Mat::<f64>::from_fn(d, d, |i, j| {
            gram[[i, j]] + if i == j { jitter } else { 0.0 }
        });
        if let Ok(llt) = shifted.llt(Side::Lower) {
            return Ok(llt.L().to_owned());
        }
        jitter = mean_diagonal.max(f64::MIN_POSITIVE) * 1e-8 * 100f64.powi(attempt);
    }
    Err(PelaError::Svd {
        layer: layer.to_string(),
        reason: "the calibration inputs' XᵀX is not positive definite even with a jitter of \
                 1e6 of its mean diagonal; calibrate on more (or more varied) inputs"
            .into(),
    })
}

/// `Lᵀ·W`: the weight in the metric of its inputs, whose singular values are those of `X·W`
/// (up to the jitter [`whitening`] may add).
pub(super) fn whitened_weight(
    layer: &str,
    w: &Array2<f64>,
    gram: ArrayView2<f64>,
) -> Result<Array2<f64>, PelaError> {
    let m = w.nrows();
    let l = whitening(layer, gram)?;
    let lt = Array2::from_shape_fn((m, m), |(i, j)| l[(j, i)]);
    Ok(matmul(lt.view(), w.view()))
}

/// The rank-`rank` data-aware factors of `w` (`[d_input, d_output]`) for inputs whose
/// second-moment matrix is `gram` (`XᵀX`, `[d_input, d_input]`).
pub(super) fn truncated_svd(
    layer: &str,
    w: &Array2<f64>,
    gram: ArrayView2<f64>,
    rank: usize,
) -> Result<TruncatedSvd, PelaError> {
    let m = w.nrows();
    let l = whitening(layer, gram)?;
    let lt = Array2::from_shape_fn((m, m), |(i, j)| l[(j, i)]);
    let whitened = matmul(lt.view(), w.view());
    let svd = super::exact::truncated_svd(layer, &whitened, rank)?;
    // U = L⁻ᵀ·U_s: solve Lᵀ·U = U_s.
    let mut u = Mat::<f64>::from_fn(m, rank, |i, j| svd.u[[i, j]]);
    l.transpose().solve_upper_triangular_in_place(u.as_mut());
    Ok(TruncatedSvd {
        u: Array2::from_shape_fn((m, rank), |(i, j)| u[(i, j)]),
        v: svd.v,
        singular_values: svd.singular_values,
    })
}

/// `W* = (X̂ᵀX̂ + λ·I)⁻¹·(X̂ᵀX·W + λ·W)` (`[d_input, d_output]`): the weight that, applied to
/// the inputs `X̂` a partly compressed student gives the layer, best fits the teacher's outputs
/// `X·W` (least squares). From the normal equations `X̂ᵀ·(X·W − X̂·W*) = 0`, for any `Ŵ`
///
/// ```text
/// ‖X·W − X̂·Ŵ‖² = ‖X·W − X̂·W*‖² + ‖X̂·(W* − Ŵ)‖²
/// ```
///
/// so the best rank-`r` weight is the whitened truncation ([`truncated_svd`]) of `W*` in the
/// metric of `X̂`. The ridge `λ = 1e-6` of `X̂ᵀX̂`'s mean diagonal pulls `W*` towards `W`, not
/// towards 0, in the directions the calibration inputs never take (an image's border pixels):
/// there the fit knows nothing, and the teacher's weight is the better guess for other inputs.
/// With `X̂ = X`, `W* = W`.
pub(super) fn compensated_weight(
    layer: &str,
    w: &Array2<f64>,
    student_gram: ArrayView2<f64>,
    cross: ArrayView2<f64>,
) -> Result<Array2<f64>, PelaError> {
    let d = student_gram.nrows();
    let mean_diagonal = (0..d).map(|i| student_gram[[i, i]]).sum::<f64>() / d.max(1) as f64;
    let ridge = 1e-6 * mean_diagonal.max(f64::MIN_POSITIVE);
    let mut damped = student_gram.to_owned();
    damped.diag_mut().mapv_inplace(|x| x + ridge);
    let l = whitening(layer, damped.view())?;
    let target = matmul(cross, w.view()) + &(w * ridge); // X̂ᵀX·W + λ·W
    let (rows, cols) = target.dim();
    let mut solved = Mat::<f64>::from_fn(rows, cols, |i, j| target[[i, j]]);
    // (L·Lᵀ)·W* = X̂ᵀX·W + λ·W: two triangular solves.
    l.solve_lower_triangular_in_place(solved.as_mut());
    l.transpose()
        .solve_upper_triangular_in_place(solved.as_mut());
    Ok(Array2::from_shape_fn((rows, cols), |(i, j)| solved[(i, j)]))
}

/// `‖X·W − X̂·U·Vᵀ‖_F` from `XᵀX`, `X̂ᵀX̂` and `X̂ᵀX` alone:
/// `tr(Wᵀ·XᵀX·W) − 2·tr(Ŵᵀ·X̂ᵀX·W) + tr(Ŵᵀ·X̂ᵀX̂·Ŵ)`, with `Ŵ = U·Vᵀ`.
pub(super) fn paired_output_error(
    grams: &super::PairedGrams,
    w: ArrayView2<f64>,
    u: ArrayView2<f64>,
    v: ArrayView2<f64>,
) -> f64 {
    let approx = matmul(u, v.t());
    let teacher = input_weighted_norm(grams.teacher.view(), w);
    let student = input_weighted_norm(grams.student.view(), approx.view());
    let cross_w = matmul(grams.cross.view(), w);
    let cross: f64 = approx.iter().zip(cross_w.iter()).map(|(a, b)| a * b).sum();
    (teacher * teacher - 2.0 * cross + student * student)
        .max(0.0)
        .sqrt()
}

/// `‖X·E‖_F = √tr(Eᵀ·XᵀX·E)` from `XᵀX`.
pub(super) fn input_weighted_norm(gram: ArrayView2<f64>, e: ArrayView2<f64>) -> f64 {
    let ge = matmul(gram, e);
    e.iter()
        .zip(ge.iter())
        .map(|(a, b)| a * b)
        .sum::<f64>()
        .max(0.0)
        .sqrt()
}

/// The output error `‖X·W − X·U·Vᵀ‖_F` of factors `u [d_input, r]`, `v [d_output, r]` for a
/// weight `w [d_input, d_output]`, from the inputs' `XᵀX` alone.
pub fn output_error(
    gram: ArrayView2<f64>,
    w: ArrayView2<f64>,
    u: ArrayView2<f64>,
    v: ArrayView2<f64>,
) -> f64 {
    let e = &w - &matmul(u, v.t());
    input_weighted_norm(gram, e.view())
}
