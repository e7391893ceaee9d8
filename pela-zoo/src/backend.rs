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

/// The matrix-product kernel of [`Cpu`] in this build: `"matrixmultiply"`, or with the
/// `openblas` feature `"OpenBLAS, <its kernels> kernels"` as OpenBLAS chose them for this CPU
/// (`Prescott` means its slow generic ones: see [`openblas_is_generic`]).
///
/// ```
/// let kernel = pela_zoo::backend::ndarray_matmul();
/// assert!(kernel.starts_with("OpenBLAS") || kernel == "matrixmultiply");
/// ```
pub fn ndarray_matmul() -> String {
    match openblas_core() {
        Some(core) => format!("OpenBLAS, {core} kernels"),
        None => "matrixmultiply".to_string(),
    }
}

/// Whether [`Cpu`] multiplies matrices with OpenBLAS's generic kernels: an OpenBLAS older than
/// the CPU (Debian 12's 0.3.21 on Intel Sapphire Rapids) falls back to them, 4–5× slower than
/// its AVX-512 ones. Setting `OPENBLAS_CORETYPE=SkylakeX` (AVX-512) or `Haswell` (AVX2) before
/// the program starts chooses the right ones. `false` without the `openblas` feature.
pub fn openblas_is_generic() -> bool {
    openblas_core().is_some_and(|core| core.eq_ignore_ascii_case("prescott"))
}

/// The kernel family OpenBLAS chose at load time, with the `openblas` feature.
fn openblas_core() -> Option<String> {
    #[cfg(feature = "openblas")]
    {
        unsafe extern "C" {
            fn openblas_get_corename() -> *const std::ffi::c_char;
        }
        // SAFETY: OpenBLAS returns a pointer to a static, NUL-terminated string.
        let name = unsafe { std::ffi::CStr::from_ptr(openblas_get_corename()) };
        Some(name.to_string_lossy().into_owned())
    }
    #[cfg(not(feature = "openblas"))]
    None
}

/// The other CPU backend, `burn-flex` (`f32`; `gemm`-based matmul, zero-copy views, one-op
/// attention): 1.0–1.4× faster than [`Cpu`] (without OpenBLAS) on DeiT-Base and MiniLM
/// forward passes and 1.4× on a DeiT-Tiny training step on this project's machine (the
/// README's benchmarks).
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
/// [`Cuda`] in half precision: `f16` parameters, activations and gradients.
#[cfg(feature = "cuda")]
pub type CudaF16 = burn_cuda::Cuda<burn::tensor::f16, i32>;

/// Burn's wgpu backend (`burn-wgpu`, `f32`, fused kernels, autotuned): CubeCL kernels through
/// wgpu on Vulkan, Metal or DirectX 12, the same compiler and fusion as [`Cuda`]. Without a GPU
/// it runs on Mesa's lavapipe, a Vulkan driver on the CPU (slow, but the GPU code path).
#[cfg(feature = "wgpu")]
pub type Wgpu = burn_wgpu::Wgpu<f32, i32>;
/// A wgpu device; the default is the best adapter wgpu finds ([`wgpu_adapter`] names it).
#[cfg(feature = "wgpu")]
pub type WgpuDevice = burn_wgpu::WgpuDevice;
/// [`Wgpu`] with automatic differentiation, for training.
#[cfg(feature = "wgpu")]
pub type WgpuAutodiff = burn::backend::Autodiff<Wgpu>;
/// [`Wgpu`] in half precision (needs the adapter's `shader-f16` feature).
#[cfg(feature = "wgpu")]
pub type WgpuF16 = burn_wgpu::Wgpu<burn::tensor::f16, i32>;

/// What CubeCL's memory pools hold on one GPU device, in bytes: the device memory Burn has
/// taken for this process. Both floats of a device ([`Cuda`] and [`CudaF16`]) share its pools.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceMemory {
    /// Held by live tensors now.
    pub in_use: u64,
    /// Reserved by the pools: the most the run has needed at once, unless the pools were
    /// cleaned since (Burn keeps freed pages for the next allocation).
    pub reserved: u64,
}

#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn cube_memory<R: burn_cubecl::cubecl::Runtime>(
    device: &R::Device,
) -> Result<DeviceMemory, String> {
    let usage = R::client(device)
        .memory_usage()
        .map_err(|error| format!("the device's memory usage: {error:?}"))?;
    Ok(DeviceMemory {
        in_use: usage.bytes_in_use,
        reserved: usage.bytes_reserved,
    })
}

/// The memory Burn holds on a CUDA device ([`DeviceMemory`]).
///
/// ```no_run
/// let device = pela_zoo::backend::CudaDevice::new(0);
/// let memory = pela_zoo::backend::cuda_memory(&device).unwrap();
/// println!("{:.1} GiB reserved", memory.reserved as f64 / (1u64 << 30) as f64);
/// ```
///
/// # Errors
/// The runtime's error, when the device cannot answer.
#[cfg(feature = "cuda")]
pub fn cuda_memory(device: &CudaDevice) -> Result<DeviceMemory, String> {
    cube_memory::<burn_cubecl::cubecl::cuda::CudaRuntime>(device)
}

/// The memory Burn holds on a wgpu device ([`DeviceMemory`]).
///
/// ```no_run
/// let memory = pela_zoo::backend::wgpu_memory(&Default::default()).unwrap();
/// println!("{} bytes reserved", memory.reserved);
/// ```
///
/// # Errors
/// The runtime's error, when the device cannot answer.
#[cfg(feature = "wgpu")]
pub fn wgpu_memory(device: &WgpuDevice) -> Result<DeviceMemory, String> {
    cube_memory::<burn_wgpu::WgpuRuntime>(device)
}

/// The adapter [`WgpuDevice::default`] would run on, as `"<name> (<kind>, <API>)"`, or why
/// there is none (no Vulkan driver installed, say). Asks wgpu without starting Burn's runtime,
/// so a program can say why before a kernel fails.
///
/// ```no_run
/// match pela_zoo::backend::wgpu_adapter() {
///     Ok(adapter) => println!("wgpu runs on {adapter}"),
///     Err(why) => println!("no wgpu adapter: {why}"),
/// }
/// ```
#[cfg(feature = "wgpu")]
pub fn wgpu_adapter() -> Result<String, String> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    // Native wgpu enumerates synchronously: its future is ready at the first poll.
    let mut enumerate = std::pin::pin!(instance.enumerate_adapters(wgpu::Backends::all()));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    let adapters = loop {
        if let std::task::Poll::Ready(adapters) = enumerate.as_mut().poll(&mut context) {
            break adapters;
        }
        std::thread::yield_now();
    };
    // Burn's default device prefers a discrete GPU, then an integrated one, then the CPU.
    let rank = |kind: wgpu::DeviceType| match kind {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    adapters
        .iter()
        .map(|adapter| adapter.get_info())
        .min_by_key(|info| rank(info.device_type))
        .map(|info| format!("{} ({:?}, {:?})", info.name, info.device_type, info.backend))
        .ok_or_else(|| {
            "wgpu found no adapter: install a GPU driver with Vulkan (or Metal, DirectX 12); \
             without a GPU, Mesa's lavapipe (Debian: `apt install mesa-vulkan-drivers`)"
                .to_string()
        })
}
