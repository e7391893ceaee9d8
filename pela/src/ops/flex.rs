//! Moving a tensor of a generic backend to `burn-flex`'s own tensor type and back, for the
//! kernels of this module.

use std::any::{Any, TypeId};

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use burn_flex::{Flex, FlexTensor};

/// `tensor`'s `burn-flex` primitive when `B` is `burn-flex` and the tensor holds plain `f32`
/// values; `tensor` itself otherwise.
pub(super) fn flex_f32<B: Backend, const D: usize>(
    tensor: Tensor<B, D>,
) -> Result<FlexTensor, Tensor<B, D>> {
    if TypeId::of::<B>() != TypeId::of::<Flex>() || tensor.dtype() != DType::F32 {
        return Err(tensor);
    }
    match tensor.into_primitive() {
        TensorPrimitive::Float(primitive) => {
            let primitive: Box<dyn Any> = Box::new(primitive);
            Ok(*primitive
                .downcast::<FlexTensor>()
                .expect("B is burn-flex, so its float primitive is a FlexTensor"))
        }
        quantized => Err(Tensor::from_primitive(quantized)),
    }
}

/// The tensor of backend `B` (which is `burn-flex`) holding `tensor`.
pub(super) fn from_flex<B: Backend, const D: usize>(tensor: FlexTensor) -> Tensor<B, D> {
    let primitive: Box<dyn Any> = Box::new(tensor);
    let primitive = primitive
        .downcast::<B::FloatTensorPrimitive>()
        .expect("only called with B = burn-flex");
    Tensor::from_primitive(TensorPrimitive::Float(*primitive))
}
