//! Whole spectra, for choosing ranks: every squared singular value of a weight (the weight
//! error of each truncation) or of the weight in its inputs' metric (the output error).
//!
//! ```text
//! ‖W − W_r‖²_F   = Σ_{i>r} σ_i(W)²          (Eckart–Young)
//! ‖X·W − X·Ŵ_r‖²_F = Σ_{i>r} σ_i(Lᵀ·W)²      (XᵀX = L·Lᵀ; Ŵ_r the data-aware factors)
//! ```
//!
//! Only singular values are computed (`faer`'s bidiagonalisation, no vectors), in `f64`.

use burn::tensor::{Tensor, backend::Backend};
use faer::Mat;
use ndarray::{Array2, ArrayView2};

use super::{to_array, whitened};
use crate::PelaError;

/// The squared singular values `σ_i²` of the `Linear` weight `weight` (`[d_input, d_output]`),
/// largest first, all `min(d_input, d_output)` of them: truncating at rank `r` leaves
/// `Σ_{i>r} σ_i²` of the weight's `‖W‖²_F = Σ σ_i²` (Eckart–Young).
///
/// `layer` only names the layer in errors.
///
/// ```
/// use burn::tensor::Tensor;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let w = Tensor::<B, 2>::from_floats([[3.0, 0.0], [0.0, 4.0], [0.0, 0.0]], &Default::default());
/// let energies = pela::weight_energies("fc", w)?;
/// assert!((energies[0] - 16.0).abs() < 1e-9 && (energies[1] - 9.0).abs() < 1e-9);
/// # Ok::<(), pela::PelaError>(())
/// ```
///
/// # Errors
/// A NaN or infinite entry, or an SVD that does not converge.
pub fn weight_energies<B: Backend>(
    layer: &str,
    weight: Tensor<B, 2>,
) -> Result<Vec<f64>, PelaError> {
    let w = to_array(layer, weight)?;
    squared_singular_values(layer, &w)
}

/// The squared singular values of `X·W`, largest first, from the layer's calibration inputs'
/// `XᵀX` (`gram`, `[d_input, d_input]`, as [`InputGram`](crate::InputGram) accumulates it):
/// the data-aware (whitened) factors at rank `r` leave an output error of
/// `‖X·W − X·U·Vᵀ‖²_F = Σ_{i>r} λ_i` of the output's `‖X·W‖²_F = Σ λ_i`, the least any
/// rank-`r` weight leaves.
///
/// ```
/// use burn::tensor::Tensor;
/// use ndarray::Array2;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let w = Tensor::<B, 2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &Default::default());
/// // Inputs 10× larger along the first axis than along the second.
/// let gram = Array2::from_diag(&ndarray::arr1(&[100.0, 1.0]));
/// let energies = pela::output_energies("fc", w, gram.view())?;
/// assert!((energies[0] - 100.0).abs() < 1e-6 && (energies[1] - 1.0).abs() < 1e-6);
/// # Ok::<(), pela::PelaError>(())
/// ```
///
/// # Errors
/// As [`weight_energies`]; a `gram` of the wrong shape; an `XᵀX` that stays singular with
/// jitter.
pub fn output_energies<B: Backend>(
    layer: &str,
    weight: Tensor<B, 2>,
    gram: ArrayView2<f64>,
) -> Result<Vec<f64>, PelaError> {
    let [d_input, _] = weight.dims();
    if gram.dim() != (d_input, d_input) {
        return Err(PelaError::ShapeMismatch {
            what: format!("calibration XᵀX of `{layer}`"),
            student: vec![gram.nrows(), gram.ncols()],
            teacher: vec![d_input, d_input],
        });
    }
    let w = to_array(layer, weight)?;
    let whitened = whitened::whitened_weight(layer, &w, gram)?;
    squared_singular_values(layer, &whitened)
}

fn squared_singular_values(layer: &str, w: &Array2<f64>) -> Result<Vec<f64>, PelaError> {
    let (m, n) = w.dim();
    let matrix = Mat::<f64>::from_fn(m, n, |i, j| w[[i, j]]);
    let sigma = matrix.singular_values().map_err(|e| PelaError::Svd {
        layer: layer.to_string(),
        reason: format!("{e:?}"),
    })?;
    Ok(sigma.into_iter().map(|s| s * s).collect())
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};
    use ndarray::Array2;

    use super::*;
    use crate::{SvdMethod, factorize_data_aware, factorize_with};

    type B = burn_ndarray::NdArray<f32>;

    fn tail(energies: &[f64], rank: usize) -> f64 {
        (energies[rank..].iter().sum::<f64>() / energies.iter().sum::<f64>()).sqrt()
    }

    #[test]
    fn the_weight_spectrum_predicts_every_truncation_s_weight_error() {
        let device = Default::default();
        B::seed(&device, 11);
        let w = Tensor::<B, 2>::random([40, 24], Distribution::Normal(0.0, 1.0), &device);
        let energies = weight_energies("fc", w.clone()).unwrap();
        assert_eq!(energies.len(), 24);
        for rank in [1, 5, 12, 23] {
            let measured = factorize_with("fc", w.clone(), rank, SvdMethod::Exact).unwrap();
            // f32 factors: the stored pair is off the exact truncation by rounding.
            let predicted = tail(&energies, rank);
            assert!(
                (measured.error.relative - predicted).abs() < 1e-5,
                "rank {rank}: predicted {predicted}, measured {}",
                measured.error.relative
            );
        }
    }

    #[test]
    fn the_output_spectrum_predicts_the_data_aware_output_error() {
        let device = Default::default();
        B::seed(&device, 12);
        let w = Tensor::<B, 2>::random([16, 32], Distribution::Normal(0.0, 1.0), &device);
        // Inputs of very unequal scales along their axes, as a layer's inputs are.
        let x = Tensor::<B, 2>::random([200, 16], Distribution::Normal(0.0, 1.0), &device)
            * Tensor::<B, 1>::from_floats(
                core::array::from_fn::<f32, 16, _>(|i| 0.1 + i as f32),
                &device,
            )
            .unsqueeze();
        let xs = x.to_data().to_vec::<f32>().unwrap();
        let x = Array2::from_shape_fn((200, 16), |(i, j)| f64::from(xs[i * 16 + j]));
        let gram = x.t().dot(&x);
        let energies = output_energies("fc", w.clone(), gram.view()).unwrap();
        assert_eq!(energies.len(), 16);
        for rank in [1, 4, 8, 15] {
            let (_, error) = factorize_data_aware("fc", w.clone(), rank, gram.view()).unwrap();
            let predicted = tail(&energies, rank);
            assert!(
                (error.data_aware - predicted).abs() < 1e-5,
                "rank {rank}: predicted {predicted}, measured {}",
                error.data_aware
            );
            // The plain factors do no better on these inputs.
            assert!(error.plain >= predicted - 1e-6);
        }
    }

    #[test]
    fn a_gram_of_the_wrong_shape_names_the_layer() {
        let w = Tensor::<B, 2>::zeros([4, 3], &Default::default());
        let error = output_energies("blocks.0.fc1", w, Array2::<f64>::eye(3).view()).unwrap_err();
        assert!(error.to_string().contains("blocks.0.fc1"), "{error}");
    }
}
