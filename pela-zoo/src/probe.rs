//! Linear probes: how much of a labelled task a frozen model's features hold, measured in
//! closed form.
//!
//! A probe is a linear classifier trained on the features of a model that does not change;
//! its test accuracy compares models (a teacher and its compressed students) without training
//! them on the task. This one is ridge regression on one-hot targets (a least-squares
//! classifier), solved exactly by a Cholesky factorisation (`faer`), so it has no learning rate,
//! no epochs and no randomness.

use faer::{Mat, Side};

use crate::ZooError;

/// The ridge penalties tried, relative to the number of training rows (the features are
/// standardised, so `XᵀX / n` has a unit diagonal).
const LAMBDAS: [f64; 6] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];
/// The share of the training rows held out to choose the penalty.
const HELD_OUT: f64 = 0.2;

/// A linear classifier fitted in closed form on frozen features: ridge regression on one-hot
/// targets over standardised features, the penalty chosen from a fixed grid by accuracy on the
/// last 20 % of the training rows, then refitted on all of them.
///
/// ```
/// use pela_zoo::probe::RidgeProbe;
///
/// // Two classes on either side of x = 0, in two dimensions (the second is noise).
/// let features = [-2.0, 0.3, -1.0, -0.2, -1.5, 0.1, 1.0, 0.4, 2.0, -0.1, 1.5, 0.0];
/// let labels = [0, 0, 0, 1, 1, 1];
/// let probe = RidgeProbe::fit(&features, 2, &labels, 2)?;
/// assert_eq!(probe.predict(&[-3.0, 0.0, 3.0, 0.0]), [0, 1]);
/// assert_eq!(probe.accuracy(&features, &labels), 1.0);
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RidgeProbe {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// `[dim, classes]`.
    weights: Mat<f64>,
    bias: Vec<f64>,
    lambda: f64,
}

impl RidgeProbe {
    /// Fits a probe on `labels.len()` rows of `dim` features (`features` row-major) and labels
    /// below `classes`.
    ///
    /// # Errors
    /// [`ZooError::InvalidData`] when the sizes disagree, a label is not below `classes`, there
    /// are fewer than 5 rows, or a feature is not finite.
    pub fn fit(
        features: &[f32],
        dim: usize,
        labels: &[usize],
        classes: usize,
    ) -> Result<Self, ZooError> {
        let invalid = |reason: String| ZooError::InvalidData {
            source_name: "linear probe".into(),
            reason,
        };
        let n = labels.len();
        if dim == 0 || features.len() != n * dim {
            return Err(invalid(format!(
                "{} feature values for {n} rows of {dim}",
                features.len()
            )));
        }
        if n < 5 {
            return Err(invalid(format!("{n} rows; a probe needs at least 5")));
        }
        if let Some(label) = labels.iter().find(|&&l| l >= classes) {
            return Err(invalid(format!("label {label} for {classes} classes")));
        }
        if features.iter().any(|v| !v.is_finite()) {
            return Err(invalid("a feature is not finite".into()));
        }
        let split = n - ((n as f64 * HELD_OUT).round() as usize).clamp(1, n - 1);
        let (fit_rows, held_rows) = (0..split, split..n);
        let mut best = (f64::NEG_INFINITY, LAMBDAS[0]);
        for lambda in LAMBDAS {
            let probe = Self::solve(features, dim, labels, classes, fit_rows.clone(), lambda)?;
            let held = &features[held_rows.start * dim..];
            let accuracy = probe.accuracy(held, &labels[held_rows.clone()]);
            if accuracy > best.0 {
                best = (accuracy, lambda);
            }
        }
        Self::solve(features, dim, labels, classes, 0..n, best.1)
    }

    /// The ridge solution on `rows` with penalty `lambda · rows`.
    fn solve(
        features: &[f32],
        dim: usize,
        labels: &[usize],
        classes: usize,
        rows: core::ops::Range<usize>,
        lambda: f64,
    ) -> Result<Self, ZooError> {
        let n = rows.len();
        let row = |i: usize| &features[(rows.start + i) * dim..(rows.start + i + 1) * dim];
        let mut mean = vec![0.0f64; dim];
        let mut square = vec![0.0f64; dim];
        for i in 0..n {
            for (j, &v) in row(i).iter().enumerate() {
                mean[j] += f64::from(v);
                square[j] += f64::from(v) * f64::from(v);
            }
        }
        let n_f = n as f64;
        mean.iter_mut().for_each(|m| *m /= n_f);
        let scale: Vec<f64> = square
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / n_f - m * m).max(0.0).sqrt();
                if sd > 1e-12 { 1.0 / sd } else { 0.0 }
            })
            .collect();
        let x = Mat::<f64>::from_fn(n, dim, |i, j| (f64::from(row(i)[j]) - mean[j]) * scale[j]);
        let mut counts = vec![0.0f64; classes];
        for &label in &labels[rows.clone()] {
            counts[label] += 1.0;
        }
        let bias: Vec<f64> = counts.iter().map(|c| c / n_f).collect();
        let y = Mat::<f64>::from_fn(n, classes, |i, c| {
            f64::from(u8::from(labels[rows.start + i] == c)) - bias[c]
        });
        let mut gram = x.as_ref().transpose() * x.as_ref();
        for j in 0..dim {
            gram[(j, j)] += lambda * n_f;
        }
        let mut weights = x.as_ref().transpose() * y.as_ref();
        let llt = gram.llt(Side::Lower).map_err(|e| ZooError::InvalidData {
            source_name: "linear probe".into(),
            reason: format!("the regularised Gram matrix is not positive definite: {e:?}"),
        })?;
        llt.L().solve_lower_triangular_in_place(weights.as_mut());
        llt.L()
            .transpose()
            .solve_upper_triangular_in_place(weights.as_mut());
        Ok(Self {
            mean,
            scale,
            weights,
            bias,
            lambda,
        })
    }

    /// The penalty chosen, relative to the number of training rows.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// The predicted class of each row of `features` (row-major, the fitted width).
    ///
    /// # Panics
    /// When `features` is not a whole number of rows.
    pub fn predict(&self, features: &[f32]) -> Vec<usize> {
        let dim = self.mean.len();
        assert_eq!(features.len() % dim, 0, "rows of {dim} features");
        features
            .chunks(dim)
            .map(|row| {
                let x: Vec<f64> = row
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| (f64::from(v) - self.mean[j]) * self.scale[j])
                    .collect();
                (0..self.bias.len())
                    .map(|c| {
                        let score: f64 = x
                            .iter()
                            .enumerate()
                            .map(|(j, v)| v * self.weights[(j, c)])
                            .sum();
                        score + self.bias[c]
                    })
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(0, |(c, _)| c)
            })
            .collect()
    }

    /// The share of rows whose predicted class is their label, in `[0, 1]`.
    pub fn accuracy(&self, features: &[f32], labels: &[usize]) -> f64 {
        let predicted = self.predict(features);
        let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
        correct as f64 / labels.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// `n` rows of `dim` features in `classes` clusters around fixed centres (uniform noise of
    /// unit variance around centres drawn from [-3, 3]^dim), labelled by their cluster, or
    /// labelled at random.
    fn data(n: usize, dim: usize, classes: usize, clustered: bool) -> (Vec<f32>, Vec<usize>) {
        let mut rng = StdRng::seed_from_u64(5);
        let centres: Vec<f32> = (0..dim * classes)
            .map(|_| rng.random_range(-3.0..3.0))
            .collect();
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let cluster = rng.random_range(0..classes);
            for j in 0..dim {
                x.push(centres[cluster * dim + j] + rng.random_range(-1.73..1.73));
            }
            labels.push(if clustered {
                cluster
            } else {
                rng.random_range(0..classes)
            });
        }
        (x, labels)
    }

    #[test]
    fn separates_clusters_and_not_noise() {
        let (dim, classes) = (12, 4);
        let (x, labels) = data(3000, dim, classes, true);
        let (train, test) = (2000 * dim, 2000);
        let probe = RidgeProbe::fit(&x[..train], dim, &labels[..test], classes).unwrap();
        let accuracy = probe.accuracy(&x[train..], &labels[test..]);
        // Centres about 8.5 apart with unit noise: linearly separable in practice.
        assert!(accuracy > 0.98, "{accuracy}");

        let (x, labels) = data(3000, dim, classes, false);
        let probe = RidgeProbe::fit(&x[..train], dim, &labels[..test], classes).unwrap();
        let accuracy = probe.accuracy(&x[train..], &labels[test..]);
        assert!((accuracy - 0.25).abs() < 0.05, "chance is 1/4: {accuracy}");
    }

    #[test]
    fn refuses_bad_input() {
        let error = RidgeProbe::fit(&[0.0; 10], 2, &[0, 1, 2, 0, 1], 2).unwrap_err();
        assert!(
            error.to_string().contains("label 2 for 2 classes"),
            "{error}"
        );
        let error = RidgeProbe::fit(&[0.0; 9], 2, &[0, 1, 0, 0, 1], 2).unwrap_err();
        assert!(error.to_string().contains("9 feature values"), "{error}");
    }
}
