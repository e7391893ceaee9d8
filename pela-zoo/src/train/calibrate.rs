//! Calibration passes: a classifier's forward over a sample of a dataset, from which a
//! calibration twin records each layer's inputs (the data-aware and sequential
//! initialisations of [`pela::LowRank`]).

use burn::prelude::*;

use super::Classifier;
use crate::ZooError;
use crate::data::{ImageBatch, ImageDataset};

/// The indices of `count` items evenly spaced over `len` items (all of them when `count` is at
/// least `len`): a sample without a random draw that covers a set stored class by class, as
/// an image folder is.
///
/// ```
/// use pela_zoo::train::evenly_spaced;
///
/// assert_eq!(evenly_spaced(10, 4), vec![0, 2, 5, 7]);
/// assert_eq!(evenly_spaced(3, 8), vec![0, 1, 2]);
/// ```
pub fn evenly_spaced(len: usize, count: usize) -> Vec<usize> {
    if count >= len {
        return (0..len).collect();
    }
    (0..count).map(|i| i * len / count).collect()
}

/// Runs `model` forward over the images `indices` of `data`, `batch_size` at a time, without
/// augmentation, and gives its outputs (the logits, one row an image; `[0, 0]` for no image):
/// run on a calibration twin ([`pela::LowRank::calibration_twin`]), it records every layer's
/// inputs. The same call feeds the same batches in the same order, as the sequential
/// initialisation needs; the outputs are what [`pela::Sensitivities`] compares.
///
/// ```
/// use pela::{LowRank, RankPlan};
/// use pela_zoo::backend::{Cpu, CpuDevice};
/// use pela_zoo::data::{ImageDataset, digits};
/// use pela_zoo::train::{calibrate_classifier, evenly_spaced};
/// use pela_zoo::vit::VitConfig;
///
/// let device = CpuDevice::default();
/// let (train, _) = digits();
/// let teacher = VitConfig::new(8, 2, 10, 32, 1, 4).with_channels(1).init::<Cpu>(&device);
/// let calibration = teacher.calibration_twin()?;
/// let logits = calibrate_classifier(&calibration, &train, &evenly_spaced(train.len(), 64), 32, &device)?;
/// assert_eq!(logits.dims(), [64, 10]);
/// let (student, report) = teacher.to_low_rank_data_aware(&RankPlan::new(2.0), &calibration)?;
/// let error = report.layers[0].output_error.unwrap();
/// assert!(error.data_aware <= error.plain);
/// # let _ = student;
/// # Ok::<(), pela_zoo::ZooError>(())
/// ```
///
/// # Errors
/// An image that cannot be read, named.
pub fn calibrate_classifier<B: Backend, M: Classifier<B>>(
    model: &M,
    data: &dyn ImageDataset,
    indices: &[usize],
    batch_size: usize,
    device: &B::Device,
) -> Result<Tensor<B, 2>, ZooError> {
    let normalization = data.normalization();
    let mut outputs = Vec::new();
    for chunk in indices.chunks(batch_size.max(1)) {
        let items = chunk
            .iter()
            .map(|&i| data.get(i, None))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = ImageBatch::<B>::new(&items, data.shape(), &normalization, device);
        outputs.push(model.forward_features(batch.images).0);
    }
    Ok(if outputs.is_empty() {
        Tensor::zeros([0, 0], device)
    } else {
        Tensor::cat(outputs, 0)
    })
}

#[cfg(test)]
mod tests {
    use super::evenly_spaced;

    #[test]
    fn evenly_spaced_indices_cover_every_class_of_a_sorted_set() {
        // 3 classes of 100 items each, stored class by class.
        let classes: Vec<usize> = evenly_spaced(300, 12).iter().map(|i| i / 100).collect();
        assert_eq!(classes, vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!(evenly_spaced(0, 5), Vec::<usize>::new());
        assert_eq!(evenly_spaced(7, 0), Vec::<usize>::new());
    }
}
