//! The authors' PyTorch layout of a compressed layer.
//!
//! The authors' code replaces `nn.Linear(in, out)` by
//! `nn.Sequential(nn.Linear(in, r, bias=False), nn.Linear(r, out))`, so a compressed
//! checkpoint holds, for a layer `<name>`:
//!
//! | key | shape | ours |
//! |---|---|---|
//! | `<name>.0.weight` | `[r, in]` | `Uᵀ` |
//! | `<name>.1.weight` | `[out, r]` | `V` |
//! | `<name>.1.bias` | `[out]` | `bias` |

use burn::tensor::{Tensor, TensorData, backend::Backend};

use crate::low_rank_linear::trainable;
use crate::{LowRankLinear, PelaError};

/// The keys of layer `name` in the authors' layout: `(down, up, bias)`.
///
/// ```
/// assert_eq!(
///     pela::pytorch_keys("blocks.0.mlp.fc1"),
///     ["blocks.0.mlp.fc1.0.weight", "blocks.0.mlp.fc1.1.weight", "blocks.0.mlp.fc1.1.bias"]
/// );
/// ```
pub fn pytorch_keys(name: &str) -> [String; 3] {
    [
        format!("{name}.0.weight"),
        format!("{name}.1.weight"),
        format!("{name}.1.bias"),
    ]
}

impl<B: Backend> LowRankLinear<B> {
    /// The layer's tensors in the authors' PyTorch layout, keyed under `name` (see the
    /// [module docs](crate::pytorch_layout)).
    ///
    /// ```
    /// use pela::LowRankLinearConfig;
    /// type B = burn_ndarray::NdArray<f32>;
    ///
    /// let layer = LowRankLinearConfig::new(6, 4, 2).init::<B>(&Default::default())?;
    /// let tensors = layer.to_pytorch("fc");
    /// assert_eq!(tensors[0].0, "fc.0.weight");
    /// assert_eq!(tensors[0].1.shape.to_vec(), vec![2, 6]); // [r, in]
    /// assert_eq!(tensors[1].1.shape.to_vec(), vec![4, 2]); // [out, r]
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn to_pytorch(&self, name: &str) -> Vec<(String, TensorData)> {
        let [down, up, bias_key] = pytorch_keys(name);
        let mut tensors = vec![
            (down, self.u.val().transpose().into_data()),
            (up, self.v.val().into_data()),
        ];
        if let Some(bias) = self.bias.as_ref() {
            tensors.push((bias_key, bias.val().into_data()));
        }
        tensors
    }

    /// Builds the layer `name` from tensors in the authors' PyTorch layout, looked up with
    /// `get` (e.g. a closure over a safetensors file or a `HashMap`). The bias is optional, as
    /// in the authors' layers built from a bias-free `Linear`.
    ///
    /// # Errors
    /// [`PelaError::MissingTensor`] when a factor is absent, [`PelaError::ShapeMismatch`] when
    /// the factors do not fit together.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use burn::tensor::TensorData;
    /// type B = burn_ndarray::NdArray<f32>;
    ///
    /// let state: HashMap<String, TensorData> = HashMap::from([
    ///     ("fc.0.weight".into(), TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3])), // [r, in]
    ///     ("fc.1.weight".into(), TensorData::new(vec![1.0f32, -1.0], [2, 1])),     // [out, r]
    /// ]);
    /// let layer = pela::LowRankLinear::<B>::from_pytorch(
    ///     "fc", |key| state.get(key).cloned(), &Default::default())?;
    /// assert_eq!((layer.d_input(), layer.d_output(), layer.rank()), (3, 2, 1));
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn from_pytorch(
        name: &str,
        get: impl Fn(&str) -> Option<TensorData>,
        device: &B::Device,
    ) -> Result<Self, PelaError> {
        let [down_key, up_key, bias_key] = pytorch_keys(name);
        let fetch = |key: &str| {
            get(key).ok_or_else(|| PelaError::MissingTensor {
                key: key.to_string(),
            })
        };
        let down = fetch(&down_key)?;
        let up = fetch(&up_key)?;
        let down = matrix::<B>(&down_key, down, device)?; // [r, in]
        let up = matrix::<B>(&up_key, up, device)?; // [out, r]
        let [rank, _] = down.dims();
        let [d_output, up_rank] = up.dims();
        if up_rank != rank {
            return Err(PelaError::ShapeMismatch {
                what: format!("`{up_key}` [out, r] against the rank of `{down_key}` [r, in]"),
                student: up.dims().to_vec(),
                teacher: vec![d_output, rank],
            });
        }
        let bias = match get(&bias_key) {
            Some(data) if data.shape.as_slice() != [d_output] => {
                return Err(PelaError::ShapeMismatch {
                    what: format!("`{bias_key}` [out]"),
                    student: data.shape.to_vec(),
                    teacher: vec![d_output],
                });
            }
            Some(data) => Some(trainable(Tensor::from_data(data, device))),
            None => None,
        };
        Ok(Self {
            u: trainable(down.transpose()),
            v: trainable(up),
            bias,
        })
    }
}

fn matrix<B: Backend>(
    key: &str,
    data: TensorData,
    device: &B::Device,
) -> Result<Tensor<B, 2>, PelaError> {
    if data.shape.len() != 2 {
        return Err(PelaError::ShapeMismatch {
            what: format!("`{key}` must be a matrix"),
            student: data.shape.to_vec(),
            teacher: vec![],
        });
    }
    Ok(Tensor::from_data(data, device))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LowRankLinearConfig, TestBackend};
    use burn::tensor::Tolerance;
    use std::collections::HashMap;

    type B = TestBackend;

    #[test]
    fn export_matches_the_torch_sequential_layout() {
        let device = Default::default();
        // U = [[1, 2], [3, 4], [5, 6]] ([in=3, r=2]); V = [[7, 8]] ([out=1, r=2]).
        let layer = LowRankLinear::<B>::from_factors(
            Tensor::from_floats([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device),
            Tensor::from_floats([[7.0, 8.0]], &device),
            Some(Tensor::from_floats([0.5], &device)),
        )
        .unwrap();
        let tensors: HashMap<_, _> = layer.to_pytorch("proj").into_iter().collect();
        // nn.Linear(3, 2).weight = Uᵀ: [[1, 3, 5], [2, 4, 6]]
        let down = &tensors["proj.0.weight"];
        assert_eq!(down.shape.to_vec(), vec![2, 3]);
        assert_eq!(
            down.to_vec::<f32>().unwrap(),
            vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]
        );
        assert_eq!(tensors["proj.1.weight"].shape.to_vec(), vec![1, 2]);
        assert_eq!(tensors["proj.1.bias"].to_vec::<f32>().unwrap(), vec![0.5]);
        // torch: y = W1 (W0 x) + b. For x = [1, 1, 1]: W0 x = [9, 12]; W1 · = 63 + 96 = 159.
        let x = Tensor::<B, 2>::ones([1, 3], &device);
        assert_eq!(
            layer.forward(x).into_data().to_vec::<f32>().unwrap(),
            vec![159.5]
        );
    }

    #[test]
    fn round_trip_keeps_the_layer() {
        let device = Default::default();
        let layer = LowRankLinearConfig::new(7, 5, 3)
            .init::<B>(&device)
            .unwrap();
        let state: HashMap<_, _> = layer.to_pytorch("a.b").into_iter().collect();
        let back =
            LowRankLinear::<B>::from_pytorch("a.b", |k| state.get(k).cloned(), &device).unwrap();
        let x = Tensor::<B, 2>::ones([2, 7], &device);
        back.forward(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&layer.forward(x).into_data(), Tolerance::absolute(0.0));
    }

    #[test]
    fn missing_and_misshaped_tensors_are_errors() {
        let device = Default::default();
        let layer = LowRankLinearConfig::new(4, 6, 2)
            .init::<B>(&device)
            .unwrap();
        let mut state: HashMap<_, _> = layer.to_pytorch("fc").into_iter().collect();

        let mut no_up = state.clone();
        no_up.remove("fc.1.weight");
        let err =
            LowRankLinear::<B>::from_pytorch("fc", |k| no_up.get(k).cloned(), &device).unwrap_err();
        assert_eq!(
            err,
            PelaError::MissingTensor {
                key: "fc.1.weight".into()
            }
        );

        state.insert("fc.1.bias".into(), TensorData::new(vec![0.0f32; 5], [5]));
        let err =
            LowRankLinear::<B>::from_pytorch("fc", |k| state.get(k).cloned(), &device).unwrap_err();
        assert!(err.to_string().contains("fc.1.bias"), "{err}");

        state.insert(
            "fc.1.weight".into(),
            TensorData::new(vec![0.0f32; 18], [6, 3]),
        );
        let err =
            LowRankLinear::<B>::from_pytorch("fc", |k| state.get(k).cloned(), &device).unwrap_err();
        assert!(matches!(err, PelaError::ShapeMismatch { .. }), "{err}");
    }
}
