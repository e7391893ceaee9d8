//! The backends the zoo runs on: the CPU always (`burn-ndarray`, and `burn-flex`), NVIDIA GPUs
//! with the `cuda` feature.
//!
//! ```
//! use burn::tensor::Tensor;
//! use pela_zoo::backend::{Cpu, CpuDevice};
//!
//! let x = Tensor::<Cpu, 1>::from_floats([1.0, 2.0], &CpuDevice::default());
//! assert_eq!(x.sum().into_scalar(), 3.0);
//! ```

/// The CPU backend (`burn-ndarray`, `f32`).
pub type Cpu = burn_ndarray::NdArray<f32>;
/// The CPU device.
pub type CpuDevice = burn_ndarray::NdArrayDevice;
/// [`Cpu`] with automatic differentiation, for training.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;

/// The other CPU backend, `burn-flex` (`f32`; `gemm`-based matmul, zero-copy views): about
/// twice as fast as [`Cpu`] on ViT forward passes on this project's machines, not faster on
/// training steps (see the README's benchmark).
pub type Flex = burn_flex::Flex;
/// The device of [`Flex`].
pub type FlexDevice = burn_flex::FlexDevice;
/// [`Flex`] with automatic differentiation, for training.
pub type FlexAutodiff = burn::backend::Autodiff<Flex>;

/// The CUDA backend (`burn-cuda`, `f32`, fused kernels).
#[cfg(feature = "cuda")]
pub type Cuda = burn_cuda::Cuda<f32, i32>;
/// A CUDA device; `CudaDevice::new(index)`.
#[cfg(feature = "cuda")]
pub type CudaDevice = burn_cuda::CudaDevice;
/// [`Cuda`] with automatic differentiation, for training.
#[cfg(feature = "cuda")]
pub type CudaAutodiff = burn::backend::Autodiff<Cuda>;
