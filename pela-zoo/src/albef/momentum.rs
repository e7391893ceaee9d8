//! ALBEF's momentum model: an EMA copy of the online model, and the queues of its features.

use std::collections::HashMap;

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use burn::tensor::Distribution;

use super::ImageText;
use crate::bert::normalize;

/// The momentum half of ALBEF's pre-training state (`*_m` and the queues in the authors'
/// code): a copy of the online model `M` (an [`Albef`](super::Albef), or its student
/// `AlbefLowRank`) that is never trained by gradients, only moved towards the online model by
/// [`update`](Self::update), and the last `queue_size` image and text features it computed.
///
/// The copy holds the whole model; its `itm_head` and `temp` are carried along but unused, as
/// the authors' momentum model has none.
///
/// ```
/// use burn::prelude::*;
/// use pela_zoo::albef::Momentum;
/// use pela_zoo::backend::{Cpu, CpuDevice};
///
/// let device = CpuDevice::default();
/// let online = burn::nn::LinearConfig::new(2, 2).init::<Cpu>(&device);
/// let mut momentum = Momentum::new(online.clone(), 4, 6, &device);
/// momentum = momentum.enqueue(Tensor::ones([4, 4], &device), Tensor::ones([4, 4], &device));
/// assert_eq!(momentum.pointer(), 4);
/// momentum = momentum.enqueue(Tensor::ones([4, 4], &device), Tensor::ones([4, 4], &device));
/// assert_eq!(momentum.pointer(), 2); // wrapped around the 6 columns
/// ```
#[derive(Module, Debug)]
pub struct Momentum<B: Backend, M> {
    /// The EMA copy of the online model.
    pub model: M,
    /// `[embed_dim, queue_size]`: past image features, one per column, unit norm.
    pub image_queue: Param<Tensor<B, 2>>,
    /// `[embed_dim, queue_size]`: past text features.
    pub text_queue: Param<Tensor<B, 2>>,
    /// `[1]`: the column the next features go to.
    pub queue_ptr: Param<Tensor<B, 1, Int>>,
}

impl<B: Backend, M: Module<B>> Momentum<B, M> {
    /// A momentum model copied from `online`, with queues of `queue_size` random unit
    /// features of width `embed_dim` (drawn from Burn's seeded generator), as the authors
    /// start.
    pub fn new(online: M, embed_dim: usize, queue_size: usize, device: &B::Device) -> Self {
        let queue = || {
            let random = Tensor::<B, 2>::random(
                [queue_size, embed_dim],
                Distribution::Normal(0.0, 1.0),
                device,
            );
            Param::from_tensor(normalize(random).transpose()).set_require_grad(false)
        };
        Self {
            // The copy gets parameter ids of its own: with the online model's, the optimizer
            // would apply the online gradients to it too (it keys its steps by id).
            model: online.map(&mut FreshIds).no_grad(),
            image_queue: queue(),
            text_queue: queue(),
            queue_ptr: Param::initialized(ParamId::new(), Tensor::zeros([1], device)),
        }
    }

    /// The image and text queues, `[embed_dim, queue_size]` each.
    pub fn queues(&self) -> ImageText<B> {
        ImageText {
            image: self.image_queue.val(),
            text: self.text_queue.val(),
        }
    }

    /// Features kept in each queue.
    pub fn queue_size(&self) -> usize {
        self.image_queue.dims()[1]
    }

    /// The column the next features go to.
    pub fn pointer(&self) -> usize {
        self.queue_ptr.val().into_scalar().elem::<i64>() as usize
    }

    /// Moves every parameter of the copy towards the online model's:
    /// `θ_m ← factor · θ_m + (1 − factor) · θ` (the authors' `_momentum_update`, factor
    /// 0.995). Parameters are matched by their path in the module.
    ///
    /// # Panics
    /// When `online` has a parameter the copy lacks, or of another shape (a different model).
    pub fn update(self, online: &M, factor: f64) -> Self {
        let mut collect = Collect {
            path: Vec::new(),
            tensors: HashMap::new(),
        };
        online.visit(&mut collect);
        let mut ema = Ema {
            path: Vec::new(),
            online: collect.tensors,
            factor,
        };
        Self {
            model: self.model.map(&mut ema),
            ..self
        }
    }

    /// Writes a batch of the momentum model's features `[batch, embed_dim]` into the queues
    /// at the pointer, wrapping around their end, and moves the pointer past them (the
    /// authors' `_dequeue_and_enqueue`, which also requires `queue_size` to be a multiple of
    /// the batch; here any batch up to `queue_size` works).
    ///
    /// # Panics
    /// A batch larger than the queue, or features of another width.
    pub fn enqueue(self, image_features: Tensor<B, 2>, text_features: Tensor<B, 2>) -> Self {
        let size = self.queue_size();
        let batch = image_features.dims()[0];
        assert!(
            batch <= size,
            "a batch of {batch} is larger than the queue of {size}"
        );
        let start = self.pointer();
        let write = |queue: Param<Tensor<B, 2>>, features: Tensor<B, 2>| {
            let id = queue.id;
            let features = features.detach().transpose(); // [embed_dim, batch]
            let width = features.dims()[0];
            let first = batch.min(size - start);
            let mut queue = queue.val().slice_assign(
                [0..width, start..start + first],
                features.clone().narrow(1, 0, first),
            );
            if first < batch {
                queue = queue.slice_assign(
                    [0..width, 0..batch - first],
                    features.narrow(1, first, batch - first),
                );
            }
            Param::initialized(id, queue)
        };
        let device = self.queue_ptr.device();
        Self {
            image_queue: write(self.image_queue, image_features),
            text_queue: write(self.text_queue, text_features),
            queue_ptr: Param::initialized(
                self.queue_ptr.id,
                Tensor::from_ints([((start + batch) % size) as i32], &device),
            ),
            model: self.model,
        }
    }
}

/// Gives every parameter a new id, keeping its value.
struct FreshIds;

impl<B: Backend> ModuleMapper<B> for FreshIds {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (_, value, mapper) = param.consume();
        Param::from_mapped_value(ParamId::new(), value, mapper)
    }

    fn map_int<const D: usize>(
        &mut self,
        param: Param<Tensor<B, D, Int>>,
    ) -> Param<Tensor<B, D, Int>> {
        let (_, value, mapper) = param.consume();
        Param::from_mapped_value(ParamId::new(), value, mapper)
    }
}

/// Every float parameter of a module by path, flattened.
struct Collect<B: Backend> {
    path: Vec<String>,
    tensors: HashMap<String, Tensor<B, 1>>,
}

impl<B: Backend> ModuleVisitor<B> for Collect<B> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.tensors
            .insert(self.path.join("."), param.val().flatten::<1>(0, D - 1));
    }
}

/// The EMA of every float parameter towards the collected online ones.
struct Ema<B: Backend> {
    path: Vec<String>,
    online: HashMap<String, Tensor<B, 1>>,
    factor: f64,
}

impl<B: Backend> ModuleMapper<B> for Ema<B> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let path = self.path.join(".");
        let online = self
            .online
            .remove(&path)
            .unwrap_or_else(|| panic!("the online model has no parameter `{path}`"));
        let (id, value, mapper) = param.consume();
        let dims = value.dims();
        assert_eq!(
            online.dims()[0],
            dims.iter().product::<usize>(),
            "`{path}` differs in shape between the online and the momentum model"
        );
        let moved =
            value.mul_scalar(self.factor) + online.reshape(dims).mul_scalar(1.0 - self.factor);
        Param::from_mapped_value(id, moved.detach(), mapper)
    }
}
