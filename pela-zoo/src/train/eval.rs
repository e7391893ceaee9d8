//! Accuracy, loss and latency of a classifier.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;

use super::Classifier;
use crate::ZooError;
use crate::data::{ImageBatch, ImageDataset};

/// A classifier's accuracy and loss on a dataset.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Images evaluated.
    pub images: usize,
    /// Fraction classified right.
    pub accuracy: f64,
    /// Mean cross-entropy, without label smoothing.
    pub loss: f64,
}

/// Evaluates `model` on every image of `data`, `batch_size` at a time, without augmentation.
///
/// # Errors
/// An image that cannot be read.
pub fn evaluate<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &dyn ImageDataset,
    batch_size: usize,
    device: &B::Device,
) -> Result<Evaluation, ZooError> {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let normalization = data.normalization();
    let (mut correct, mut loss) = (0usize, 0.0f64);
    for start in (0..data.len()).step_by(batch_size.max(1)) {
        let end = (start + batch_size).min(data.len());
        let items = (start..end)
            .map(|i| data.get(i, None))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = ImageBatch::<B>::new(&items, data.shape(), &normalization, device);
        let (logits, _) = model.forward_features(batch.images);
        correct += count_correct(logits.clone(), batch.labels.clone());
        let batch_loss: f32 = loss_fn.forward(logits, batch.labels).into_scalar().elem();
        loss += f64::from(batch_loss) * (end - start) as f64;
    }
    let images = data.len().max(1);
    Ok(Evaluation {
        images: data.len(),
        accuracy: correct as f64 / images as f64,
        loss: loss / images as f64,
    })
}

/// How many rows of `logits` have their largest value at the label.
pub(crate) fn count_correct<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> usize {
    let predicted = logits.argmax(1).flatten::<1>(0, 1);
    let hits: i64 = predicted.equal(labels).int().sum().into_scalar().elem();
    hits as usize
}

/// The median time of a forward pass over a batch of `batch` images of `shape`, in
/// milliseconds, after `warmup` untimed passes, over `repeats` timed ones.
pub fn latency_ms<B: Backend, M: Classifier<B>>(
    model: &M,
    shape: [usize; 3],
    batch: usize,
    warmup: usize,
    repeats: usize,
    device: &B::Device,
) -> f64 {
    let [c, h, w] = shape;
    let images = Tensor::<B, 4>::zeros([batch, c, h, w], device);
    let run = || {
        let (logits, _) = model.forward_features(images.clone());
        let _ = logits.into_data(); // waits for the device
    };
    for _ in 0..warmup {
        run();
    }
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
