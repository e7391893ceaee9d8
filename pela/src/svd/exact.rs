//! The exact thin SVD with `faer`: a blocked, multi-threaded dense SVD, exact to rounding.

use faer::Mat;
use ndarray::Array2;

use super::TruncatedSvd;
use crate::PelaError;

/// The rank-`rank` factors of `w` from its thin SVD `W = P·Σ·Qᵀ`:
/// `U = P[:, :r]·Σ_r^½`, `V = Q[:, :r]·Σ_r^½`.
pub(super) fn truncated_svd(
    layer: &str,
    w: &Array2<f64>,
    rank: usize,
) -> Result<TruncatedSvd, PelaError> {
    let (m, n) = w.dim();
    let matrix = Mat::<f64>::from_fn(m, n, |i, j| w[[i, j]]);
    let svd = matrix.thin_svd().map_err(|e| PelaError::Svd {
        layer: layer.to_string(),
        reason: format!("{e:?}"),
    })?;
    let sigma = svd.S().column_vector();
    let singular_values: Vec<f64> = (0..sigma.nrows()).map(|i| sigma[i]).collect();
    let (p, q) = (svd.U(), svd.V());
    let sqrt: Vec<f64> = singular_values[..rank].iter().map(|s| s.sqrt()).collect();
    let u = Array2::from_shape_fn((m, rank), |(i, j)| p[(i, j)] * sqrt[j]);
    let v = Array2::from_shape_fn((n, rank), |(i, j)| q[(i, j)] * sqrt[j]);
    Ok(TruncatedSvd {
        u,
        v,
        singular_values,
    })
}
