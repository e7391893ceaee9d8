//! Moving a tensor of a generic backend to `burn-flex`'s own tensor type and back, for the
//! kernels of this module.
//!
//! Rust has no specialisation and Burn 0.21 no hook for overriding one backend's op, so the
//! kernels recognise their backend by its `TypeId` and take the primitive out through
//! `dyn Any`: two backends qualify, `Flex` (inference) and `Autodiff<Flex>` (training, with
//! Burn's default `NoCheckpointing` strategy).

use std::any::{Any, TypeId};
use std::mem::MaybeUninit;

use burn::backend::Autodiff;
use burn::tensor::backend::{Backend, BackendTypes};
use burn::tensor::{DType, Shape, Tensor, TensorData, TensorPrimitive};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

/// `burn-flex` under Burn's autodiff decorator: the backend `pela` trains on, on the CPU.
pub(super) type AutodiffFlex = Autodiff<Flex>;

/// The float primitive of [`AutodiffFlex`]: a `burn-flex` tensor (its `primitive` field) and
/// its node in the autodiff graph (its `node` field).
pub(super) type AutodiffFlexTensor = <AutodiffFlex as BackendTypes>::FloatTensorPrimitive;

/// A tensor of a generic backend, sorted by what the kernels can do with it.
pub(super) enum Sorted<B: Backend, const D: usize> {
    /// `B` is `burn-flex` and the tensor holds `f32` values.
    Flex(FlexTensor),
    /// `B` is `Autodiff<Flex>` and the tensor holds `f32` values.
    Autodiff(AutodiffFlexTensor),
    /// Any other backend or element type: Burn's own op runs.
    Other(Tensor<B, D>),
}

impl<B: Backend, const D: usize> Sorted<B, D> {
    /// The tensor sorted by its backend and element type.
    pub(super) fn of(tensor: Tensor<B, D>) -> Self {
        let backend = TypeId::of::<B>();
        let known = backend == TypeId::of::<Flex>() || backend == TypeId::of::<AutodiffFlex>();
        if !known || tensor.dtype() != DType::F32 {
            return Self::Other(tensor);
        }
        let primitive = match tensor.into_primitive() {
            TensorPrimitive::Float(primitive) => primitive,
            quantized => return Self::Other(Tensor::from_primitive(quantized)),
        };
        if backend == TypeId::of::<Flex>() {
            Self::Flex(cast(primitive))
        } else {
            Self::Autodiff(cast(primitive))
        }
    }

    /// The `burn-flex` tensor, when it is one.
    pub(super) fn as_flex(&self) -> Option<&FlexTensor> {
        match self {
            Self::Flex(tensor) => Some(tensor),
            _ => None,
        }
    }

    /// The `Autodiff<Flex>` tensor, when it is one.
    pub(super) fn as_autodiff(&self) -> Option<&AutodiffFlexTensor> {
        match self {
            Self::Autodiff(tensor) => Some(tensor),
            _ => None,
        }
    }

    /// An optional tensor (a bias) as `burn-flex`'s: `Some(None)` when there is none, `None`
    /// when there is one on another backend.
    pub(super) fn optional_flex(tensor: &Option<Self>) -> Option<Option<&FlexTensor>> {
        match tensor {
            None => Some(None),
            Some(tensor) => tensor.as_flex().map(Some),
        }
    }

    /// The tensor back as a tensor of `B`.
    pub(super) fn restore(self) -> Tensor<B, D> {
        match self {
            Self::Flex(tensor) => from_flex(tensor),
            Self::Autodiff(tensor) => from_autodiff(tensor),
            Self::Other(tensor) => tensor,
        }
    }
}

/// The tensor of backend `B` (which is `burn-flex`) holding `tensor`.
pub(super) fn from_flex<B: Backend, const D: usize>(tensor: FlexTensor) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(cast(tensor)))
}

/// The tensor of backend `B` (which is `Autodiff<Flex>`) holding `tensor`.
pub(super) fn from_autodiff<B: Backend, const D: usize>(
    tensor: AutodiffFlexTensor,
) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(cast(tensor)))
}

/// `value` as type `T`, which callers have checked it is.
fn cast<T: 'static>(value: impl Any) -> T {
    let value: Box<dyn Any> = Box::new(value);
    *value
        .downcast::<T>()
        .expect("the backend's TypeId was checked before the cast")
}

/// The values of a contiguous `f32` tensor, in order.
pub(super) fn values(tensor: &FlexTensor) -> &[f32] {
    let start = tensor.layout().start_offset();
    &tensor.storage::<f32>()[start..start + tensor.layout().shape().num_elements()]
}

/// A new contiguous `f32` tensor of `shape`, filled in parallel by `fill(task, chunk)` over its
/// chunks of `chunk` elements (the last may be shorter); `fill` must write every element of
/// its chunk. Nothing is zero-filled first; a single chunk is filled on the calling thread.
pub(super) fn filled(
    shape: Shape,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync,
) -> FlexTensor {
    let len = shape.num_elements();
    let mut output = Vec::<f32>::with_capacity(len);
    if len > 0 && chunk >= len {
        fill(0, &mut output.spare_capacity_mut()[..len]);
    } else if chunk > 0 {
        output.spare_capacity_mut()[..len]
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(task, out)| fill(task, out));
    }
    // SAFETY: every chunk was written by `fill`.
    unsafe { output.set_len(len) };
    FlexTensor::from_data(TensorData::new(output, shape))
}

/// `out ← values`, into memory not yet written.
#[inline(always)]
pub(super) fn copy(values: &[f32], out: &mut [MaybeUninit<f32>]) {
    assert_eq!(values.len(), out.len());
    // SAFETY: both are `len` elements long, and a fresh output does not overlap its source.
    unsafe {
        std::ptr::copy_nonoverlapping(values.as_ptr(), out.as_mut_ptr().cast(), values.len())
    };
}

/// Every row of `rows` (row-major, `values.len()` wide) ← `values`, into memory not yet written.
pub(super) fn fill_rows(values: &[f32], rows: &mut [MaybeUninit<f32>]) {
    for row in rows.chunks_exact_mut(values.len().max(1)) {
        copy(values, row);
    }
}
