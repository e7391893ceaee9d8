//! A patch embedding's convolution as one matrix product.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

/// `conv` over `images`, channels last. When the convolution cuts the images into
/// non-overlapping patches (its stride is its kernel, without padding, dilation or groups), as
/// the patch embeddings of ViT and Swin do, this is one matrix product: every patch's pixels,
/// in the weight's `(channel, row, column)` order, times the weight as a
/// `[channels · kernel², out]` matrix (with [`pela::ops::linear`], on every core on
/// burn-flex). Any other convolution runs as Burn's [`Conv2d::forward`].
///
/// Swin-B's patch embedding at batch 8 (0.3 GFLOP), its norm included, took 29.6 ms through
/// Burn 0.21's `conv2d` on burn-flex and 10.7 ms this way (`examples/swin_stages.rs`).
///
/// # Shapes
/// - images: `[batch, channels, height, width]`
/// - output: `[batch, height / stride, width / stride, out]`, rounded down as the convolution
///
/// ```
/// use burn::nn::conv::Conv2dConfig;
/// use burn::prelude::*;
/// use burn::tensor::Distribution;
/// use pela_zoo::backend::{Cpu, CpuDevice};
///
/// let device = CpuDevice::default();
/// let conv = Conv2dConfig::new([3, 8], [4, 4]).with_stride([4, 4]).init::<Cpu>(&device);
/// // 10 × 9 pixels hold 2 × 2 whole patches; the rest is dropped, as by the convolution.
/// let images = Tensor::<Cpu, 4>::random([2, 3, 10, 9], Distribution::Default, &device);
/// let patches = pela_zoo::vit::patch_conv(&conv, images.clone());
/// assert_eq!(patches.dims(), [2, 2, 2, 8]);
/// patches.into_data().assert_approx_eq::<f32>(
///     &conv.forward(images).permute([0, 2, 3, 1]).into_data(),
///     Default::default(),
/// );
/// ```
pub fn patch_conv<B: Backend>(conv: &Conv2d<B>, images: Tensor<B, 4>) -> Tensor<B, 4> {
    let [batch, channels, height, width] = images.dims();
    let [out, per_group, kernel_h, kernel_w] = conv.weight.dims();
    let patches = conv.stride == conv.kernel_size
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && per_group == channels
        && matches!(
            conv.padding,
            PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
        );
    let (rows, cols) = (height / kernel_h, width / kernel_w);
    if !patches || rows == 0 || cols == 0 {
        return conv.forward(images).permute([0, 2, 3, 1]);
    }
    // [batch, channels, rows, kernel_h, cols, kernel_w] → [batch, rows, cols, channels,
    // kernel_h, kernel_w]: each patch's pixels in the weight's order, one row a patch.
    let pixels = images
        .narrow(2, 0, rows * kernel_h)
        .narrow(3, 0, cols * kernel_w)
        .reshape([batch, channels, rows, kernel_h, cols, kernel_w])
        .permute([0, 2, 4, 1, 3, 5])
        .reshape([batch * rows * cols, channels * kernel_h * kernel_w]);
    let weight = conv
        .weight
        .val()
        .reshape([out, channels * kernel_h * kernel_w])
        .transpose();
    let bias = conv.bias.as_ref().map(|bias| bias.val());
    pela::ops::linear(pixels, weight, bias).reshape([batch, rows, cols, out])
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    use super::*;
    use crate::backend::{Cpu, CpuAutodiff, CpuDevice};

    fn images<B: Backend>(device: &B::Device) -> Tensor<B, 4> {
        let cpu = CpuDevice::default();
        <Cpu as Backend>::seed(&cpu, 7);
        let images = Tensor::<Cpu, 4>::random([2, 3, 8, 12], Distribution::Default, &cpu);
        Tensor::from_data(images.into_data(), device)
    }

    #[test]
    fn other_convolutions_run_as_burns() {
        let device = CpuDevice::default();
        let conv = Conv2dConfig::new([3, 5], [3, 3])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init::<Cpu>(&device);
        let images = images::<Cpu>(&device);
        patch_conv(&conv, images.clone()).into_data().assert_eq(
            &conv.forward(images).permute([0, 2, 3, 1]).into_data(),
            true,
        );
    }

    #[test]
    fn the_gradients_are_the_convolutions() {
        let device = CpuDevice::default();
        let conv = Conv2dConfig::new([3, 6], [4, 4])
            .with_stride([4, 4])
            .init::<CpuAutodiff>(&device);
        let images = images::<CpuAutodiff>(&device).require_grad();
        // A loss that weighs every output differently, so that a wrong order shows.
        let weights = Tensor::<CpuAutodiff, 1, Int>::arange(0..2 * 2 * 3 * 6, &device)
            .float()
            .reshape([2, 2, 3, 6]);
        let mine = (patch_conv(&conv, images.clone()) * weights.clone())
            .sum()
            .backward();
        let theirs = (conv.forward(images.clone()).permute([0, 2, 3, 1]) * weights)
            .sum()
            .backward();
        let grad = |tensor: &Tensor<CpuAutodiff, 4>, grads| tensor.grad(grads).unwrap().into_data();
        let tolerance = burn::tensor::Tolerance::<f32>::rel_abs(1e-5, 1e-4);
        grad(&images, &mine).assert_approx_eq(&grad(&images, &theirs), tolerance);
        grad(&conv.weight.val(), &mine)
            .assert_approx_eq(&grad(&conv.weight.val(), &theirs), tolerance);
        let bias = conv.bias.as_ref().unwrap().val();
        bias.grad(&mine)
            .unwrap()
            .into_data()
            .assert_approx_eq(&bias.grad(&theirs).unwrap().into_data(), tolerance);
    }
}
