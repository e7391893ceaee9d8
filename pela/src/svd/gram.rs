//! The truncated SVD from the eigendecomposition of the smaller Gram matrix, in `f64`.
//!
//! ```text
//! W [m, n], m ≥ n:   G = Wᵀ·W = Q·Σ²·Qᵀ          [n, n]   one product, one symmetric eigenproblem
//!                    U = W·Q_r·Σ_r^-½,  V = Q_r·Σ_r^½
//! m < n: the same on Wᵀ (G = W·Wᵀ = P·Σ²·Pᵀ;  U = P_r·Σ_r^½,  V = Wᵀ·P_r·Σ_r^-½)
//! ```
//!
//! `U·Vᵀ = W·Q_r·Q_rᵀ`: the projection of `W` on its top `r` right singular vectors, which is
//! the optimal rank-`r` approximation (Eckart–Young). Squaring `W` costs accuracy only on
//! singular values below about `10⁻⁸·σ₁` (`√ε` of `f64`), which a truncation at a
//! compression ratio never keeps in a trained weight: the tests find the error of `U·Vᵀ`
//! equal to the optimum to 1e-9. A singular value that is 0 within rounding gets a zero pair
//! (it contributes nothing either way).
//!
//! Why: a dense SVD spends most of its time in a bidiagonalisation that is bound by memory
//! traffic; here the large matrix only meets matrix products (blocked, on every core), and
//! the eigenproblem is of the smaller side. Measured by `examples/init_benchmark.rs`.

use faer::{Mat, Side};
use ndarray::Array2;

use super::TruncatedSvd;
use crate::PelaError;

/// The rank-`rank` factors of `w` from the eigendecomposition of its smaller Gram matrix.
pub(super) fn truncated_svd(
    layer: &str,
    w: &Array2<f64>,
    rank: usize,
) -> Result<TruncatedSvd, PelaError> {
    let (m, n) = w.dim();
    let matrix = Mat::<f64>::from_fn(m, n, |i, j| w[[i, j]]);
    // The factors of the taller orientation `A` ([rows ≥ cols]); for a wide `W`, `A = Wᵀ`.
    let tall = m >= n;
    let a = if tall {
        matrix
    } else {
        matrix.transpose().to_owned()
    };
    let side = a.ncols();
    let gram = a.transpose() * &a;
    let eigen = gram
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| PelaError::Svd {
            layer: layer.to_string(),
            reason: format!("the eigendecomposition of the Gram matrix: {e:?}"),
        })?;
    // Eigenvalues come in nondecreasing order: the largest last.
    let lambda = eigen.S().column_vector();
    let vectors = eigen.U();
    let singular_values: Vec<f64> = (0..side)
        .map(|i| lambda[side - 1 - i].max(0.0).sqrt())
        .collect();
    let top = Mat::<f64>::from_fn(side, rank, |i, j| vectors[(i, side - 1 - j)]);
    // `A·top = P_r·Σ_r`: the left singular vectors, scaled.
    let projected = &a * &top;
    // Below this a singular value is rounding noise of the squared matrix.
    let floor = singular_values[0] * 1e-7;
    let scale: Vec<(f64, f64)> = singular_values[..rank]
        .iter()
        .map(|&s| {
            if s > floor {
                (s.sqrt(), 1.0 / s.sqrt())
            } else {
                (0.0, 0.0)
            }
        })
        .collect();
    // For `A`: U_A = P_r·Σ_r^½ = (A·top)·Σ_r^-½ [rows, r], V_A = top·Σ_r^½ [cols, r].
    let u_a = Array2::from_shape_fn((a.nrows(), rank), |(i, j)| projected[(i, j)] * scale[j].1);
    let v_a = Array2::from_shape_fn((side, rank), |(i, j)| top[(i, j)] * scale[j].0);
    // `W = A` or `W = Aᵀ`: for the transpose, the two factors swap.
    let (u, v) = if tall { (u_a, v_a) } else { (v_a, u_a) };
    Ok(TruncatedSvd {
        u,
        v,
        singular_values,
    })
}
