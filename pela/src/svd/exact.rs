//! The exact SVD with `linfa-linalg`: slow on large matrices, exact to rounding.

use linfa_linalg::svd::{SVD, SvdSort};
use ndarray::{Array2, Axis};

use super::TruncatedSvd;
use crate::PelaError;

/// The rank-`rank` factors of `w` from its full SVD.
pub(super) fn truncated_svd(layer: &str, w: &Array2<f64>, rank: usize) -> Result<TruncatedSvd, PelaError> {
    let svd_error = |reason: String| PelaError::Svd {
        layer: layer.to_string(),
        reason,
    };
    let (p, sigma, qt) = w
        .svd(true, true)
        .map_err(|e| svd_error(e.to_string()))?
        .sort_svd_desc();
    let (p, qt) = p
        .zip(qt)
        .ok_or_else(|| svd_error("the solver returned no singular vectors".into()))?;
    let sqrt_sigma = sigma.slice(ndarray::s![..rank]).mapv(f64::sqrt);
    // Scale column j of P and row j of Qᵀ by √σ_j.
    let u = &p.slice(ndarray::s![.., ..rank]) * &sqrt_sigma.view().insert_axis(Axis(0));
    let v = (&qt.slice(ndarray::s![..rank, ..]) * &sqrt_sigma.view().insert_axis(Axis(1)))
        .reversed_axes()
        .as_standard_layout()
        .into_owned();
    Ok(TruncatedSvd {
        u,
        v,
        singular_values: sigma.to_vec(),
    })
}

