//! Randomized truncated SVD (Halko, Martinsson & Tropp 2011, Algorithms 4.4 and 5.1).
//!
//! ```text
//! Ω  ~ N(0, 1)                          [n, k],  k = r + oversampling
//! Y  = W·Ω                              [m, k]   range finder
//! repeat q times: Y = W·orth(Wᵀ·orth(Y))          power (subspace) iterations
//! Q  = orth(Y)                          [m, k]
//! Bᵀ = Wᵀ·Q                             [n, k]   W ≈ Q·B
//! B·Bᵀ = U_B·Σ²·U_Bᵀ                    [k, k]   small symmetric eigenproblem
//! U  = Q·U_B[:, :r]·Σ_r^½,  V = Bᵀ·U_B[:, :r]·Σ_r^-½
//! ```
//!
//! Only products with `W` touch the large matrix; they run on every core through `gemm`.

use faer::{Mat, Side};
use ndarray::{Array2, Axis};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::TruncatedSvd;
use super::linalg::{matmul, orthonormalize};
use crate::PelaError;

/// Standard normal draws by the Box–Muller transform, from a seeded generator.
fn gaussian(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut spare: Option<f64> = None;
    Array2::from_shape_simple_fn((rows, cols), || {
        if let Some(z) = spare.take() {
            return z;
        }
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2: f64 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = 2.0 * core::f64::consts::PI * u2;
        spare = Some(radius * angle.sin());
        radius * angle.cos()
    })
}

/// The rank-`rank` factors of `w` (`[m, n]`) by the randomized range finder with
/// `oversampling` extra columns and `power_iterations` subspace iterations. `seed` fixes the
/// test matrix Ω.
pub(super) fn truncated_svd(
    layer: &str,
    w: &Array2<f64>,
    rank: usize,
    oversampling: usize,
    power_iterations: usize,
    seed: u64,
) -> Result<TruncatedSvd, PelaError> {
    let (m, n) = w.dim();
    let k = (rank + oversampling).min(m.min(n));
    let omega = gaussian(n, k, seed);
    let mut y = matmul(w.view(), omega.view());
    for _ in 0..power_iterations {
        let q = orthonormalize(y, 1);
        let z = orthonormalize(matmul(w.t(), q.view()), 1);
        y = matmul(w.view(), z.view());
    }
    let q = orthonormalize(y, 2);
    let bt = matmul(w.t(), q.view()); // [n, k]
    let gram = matmul(bt.t(), bt.view()); // B·Bᵀ, [k, k]
    let eigen = Mat::<f64>::from_fn(k, k, |i, j| gram[[i, j]])
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| PelaError::Svd {
            layer: layer.to_string(),
            reason: format!("the eigendecomposition of B·Bᵀ: {e:?}"),
        })?;
    // Eigenvalues come in nondecreasing order: the largest last.
    let lambda = eigen.S().column_vector();
    let singular_values: Vec<f64> = (0..k).rev().map(|i| lambda[i].max(0.0).sqrt()).collect();
    let top = Array2::from_shape_fn((k, rank), |(i, j)| eigen.U()[(i, k - 1 - j)]);

    let sigma = ndarray::Array1::from_iter(singular_values[..rank].iter().copied());
    // √σ for U; 1/√σ for V (a zero singular value contributes nothing to either).
    let sqrt = sigma.mapv(f64::sqrt);
    let inv_sqrt = sqrt.mapv(|x| if x > 0.0 { 1.0 / x } else { 0.0 });
    let u = matmul(q.view(), top.view()) * sqrt.view().insert_axis(Axis(0));
    let v = matmul(bt.view(), top.view()) * inv_sqrt.view().insert_axis(Axis(0));
    Ok(TruncatedSvd {
        u,
        v,
        singular_values,
    })
}
