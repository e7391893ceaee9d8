//! Recording each layer's inputs for the data-aware initialisation.

use std::sync::{Arc, Mutex};

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, backend::Backend};
use ndarray::Array2;

/// The second-moment matrix `XᵀX` (`[d_input, d_input]`, `f64`) of every input row a layer has
/// seen, accumulated over calibration batches. Clones share one accumulator.
#[derive(Debug, Clone, Default)]
pub struct InputGram(Arc<Mutex<Recorded>>);

/// What an [`InputGram`] holds: `XᵀX` and the number of rows it sums or, for the sequential
/// initialisation, the rows themselves, batch by batch.
#[derive(Debug, Default)]
struct Recorded {
    gram: Option<(Array2<f64>, usize)>,
    rows: Option<Vec<Array2<f64>>>,
}

impl InputGram {
    /// A recorder that keeps every batch's rows instead of summing `XᵀX`: the sequential
    /// initialisation pairs them with the other model's rows of the same batch.
    pub(crate) fn keeping_rows() -> Self {
        Self(Arc::new(Mutex::new(Recorded {
            gram: None,
            rows: Some(Vec::new()),
        })))
    }

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
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = state.rows.as_mut() {
            kept.push(x);
            return;
        }
        let gram = crate::svd::matmul(x.t(), x.view());
        match state.gram.as_mut() {
            Some((sum, count)) => {
                *sum += &gram;
                *count += rows;
            }
            None => state.gram = Some((gram, rows)),
        }
    }

    /// The number of input rows recorded.
    pub fn rows(&self) -> usize {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &state.rows {
            Some(kept) => kept.iter().map(Array2::nrows).sum(),
            None => state.gram.as_ref().map_or(0, |(_, rows)| *rows),
        }
    }

    /// `XᵀX` so far, if any row was recorded.
    pub fn matrix(&self) -> Option<Array2<f64>> {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = &state.rows {
            let mut batches = kept.iter();
            let first = batches.next()?;
            let mut sum = crate::svd::matmul(first.t(), first.view());
            for x in batches {
                crate::svd::accumulate(&mut sum, 1.0, x.t(), x.view());
            }
            return Some(sum);
        }
        state.gram.as_ref().map(|(sum, _)| sum.clone())
    }

    /// The rows kept batch by batch (a [`keeping_rows`](Self::keeping_rows) recorder), leaving
    /// it empty.
    pub(crate) fn take_rows(&self) -> Vec<Array2<f64>> {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.rows.as_mut().map(std::mem::take).unwrap_or_default()
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
        crate::nn::Project::project(&self.linear, input)
    }
}
