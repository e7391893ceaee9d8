//! Recording each layer's inputs for the data-aware initialisation.

use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};
use ndarray::Array2;

/// The second-moment matrix `XᵀX` (`[d_input, d_input]`, `f64`) of every input row a layer has
/// seen, accumulated over calibration batches. Clones share one accumulator.
#[derive(Debug, Clone, Default)]
pub struct InputGram(Arc<Mutex<Option<Accumulated>>>);

/// `XᵀX` and the number of rows it sums.
type Accumulated = (Array2<f64>, usize);

impl InputGram {
    /// Adds the rows of `input` (`[..., d_input]`).
    pub fn accumulate<B: Backend, const D: usize>(&self, input: &Tensor<B, D>) {
        let dims = input.dims();
        let d_input = dims[D - 1];
        let rows = dims.iter().product::<usize>() / d_input.max(1);
        if rows == 0 || d_input == 0 {
            return;
        }
        let values: Vec<f64> = input
            .to_data()
            .convert::<f64>()
            .into_vec::<f64>()
            .expect("float tensors convert to f64");
        let x = Array2::from_shape_vec((rows, d_input), values).expect("rows × d_input values");
        let gram = crate::svd::matmul(x.t(), x.view());
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match state.as_mut() {
            Some((sum, count)) => {
                *sum += &gram;
                *count += rows;
            }
            None => *state = Some((gram, rows)),
        }
    }

    /// The number of input rows recorded.
    pub fn rows(&self) -> usize {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.as_ref().map_or(0, |(_, rows)| *rows)
    }

    /// `XᵀX` so far, if any row was recorded.
    pub fn matrix(&self) -> Option<Array2<f64>> {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.as_ref().map(|(sum, _)| sum.clone())
    }
}

/// A dense `Linear` that records `XᵀX` of its inputs: the layers of a calibration twin
/// ([`LowRank::calibration_twin`](crate::LowRank::calibration_twin)).
#[derive(Module, Debug)]
pub struct CalibratingLinear<B: Backend> {
    /// The teacher's layer, applied unchanged.
    pub linear: Linear<B>,
    /// What the layer has seen.
    #[module(skip)]
    pub inputs: InputGram,
}

impl<B: Backend> CalibratingLinear<B> {
    /// Records the input, then applies the layer.
    ///
    /// # Shapes
    /// - input: `[..., d_input]`
    /// - output: `[..., d_output]`
    pub fn forward<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        self.inputs.accumulate(&input);
        self.linear.forward(input)
    }
}
