//! PELA on ALBEF as a task of the engine: the student trained with ALBEF's own pre-training
//! objectives (ITC, ITM, MLM, with its momentum model and queues) plus PELA's `L_fd` and
//! `L_rwp`, beside the frozen teacher.

use std::sync::{Arc, Mutex};

use burn::data::dataloader::batcher::Batcher;
use burn::module::{AutodiffModule, Param, ParamId};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use pela::{Distill, LayerFeatures, LossTerms, PelaObjective, ToInner};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::features::{AlbefEncoded, AlbefInput};
use super::{
    Albef, AlbefConfig, AlbefLowRank, ImageText, MlmTokens, Momentum, hard_negatives, itc,
    itm_loss, mask_tokens, mlm_loss,
};
use crate::bert::BertInput;
use crate::train::{StepOutput, Task, TrainingSet};

/// What the engine trains in ALBEF pre-training: the online model, its momentum half, and
/// the count of optimizer steps (which seeds each step's masking and negatives, so that a
/// resumed run repeats an uninterrupted one). All of it is saved in the run's checkpoints.
#[derive(Module, Debug)]
pub struct AlbefTraining<B: Backend, M> {
    /// The online model, trained by the optimizer.
    pub model: M,
    /// The EMA copy and the queues, moved after each optimizer step.
    pub momentum: Momentum<B, M>,
    /// Optimizer steps taken, `[1]`.
    pub steps: Param<Tensor<B, 1, Int>>,
}

impl<B: Backend, M: Module<B>> AlbefTraining<B, M> {
    /// Pre-training state for `model`, its momentum copy starting equal to it.
    pub fn new(model: M, momentum: Momentum<B, M>) -> Self {
        let device = momentum.queue_ptr.device();
        Self {
            model,
            momentum,
            steps: Param::initialized(ParamId::new(), Tensor::zeros([1], &device)),
        }
    }

    /// Optimizer steps taken.
    pub fn steps(&self) -> u64 {
        self.steps.val().into_scalar().elem::<i64>() as u64
    }
}

/// One image and its caption, tokenised.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionItem {
    /// `[channels, height, width]` values, already normalised.
    pub image: Vec<f32>,
    /// The caption's token ids, `[CLS]` first.
    pub input_ids: Vec<i64>,
}

/// Image–caption pairs as a training set of the engine.
#[derive(Debug, Clone)]
pub struct Captions {
    name: String,
    items: Vec<CaptionItem>,
}

impl Captions {
    /// The pairs `items`, called `name` in logs.
    pub fn new(name: impl Into<String>, items: Vec<CaptionItem>) -> Self {
        Self {
            name: name.into(),
            items,
        }
    }
}

impl TrainingSet<CaptionItem> for Captions {
    fn len(&self) -> usize {
        self.items.len()
    }

    fn item(&self, index: usize, _augment: Option<&mut StdRng>) -> CaptionItem {
        self.items[index].clone()
    }

    fn describe(&self) -> String {
        format!("{}: {} image–caption pairs", self.name, self.items.len())
    }
}

/// Stacks [`CaptionItem`]s into an [`AlbefInput`], padding the captions to the longest with
/// id 0.
#[derive(Debug, Clone)]
pub struct CaptionBatcher {
    shape: [usize; 3],
}

impl CaptionBatcher {
    /// Batches images of `[channels, height, width]`.
    pub fn new(shape: [usize; 3]) -> Self {
        Self { shape }
    }
}

impl<B: Backend> Batcher<B, CaptionItem, AlbefInput<B>> for CaptionBatcher {
    fn batch(&self, items: Vec<CaptionItem>, device: &B::Device) -> AlbefInput<B> {
        let [c, h, w] = self.shape;
        let n = items.len();
        let longest = items.iter().map(|i| i.input_ids.len()).max().unwrap_or(1);
        let mut pixels = Vec::with_capacity(n * c * h * w);
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        for item in items {
            assert_eq!(item.image.len(), c * h * w, "an image of another size");
            pixels.extend(item.image);
            let real = item.input_ids.len();
            ids.extend(item.input_ids);
            ids.extend(std::iter::repeat_n(0, longest - real));
            mask.extend((0..longest).map(|t| if t < real { 1.0f32 } else { 0.0 }));
        }
        let input_ids = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [n, longest]), device);
        AlbefInput {
            images: Tensor::from_data(TensorData::new(pixels, [n, c, h, w]), device),
            text: BertInput {
                token_type_ids: input_ids.zeros_like(),
                input_ids,
                attention_mask: Tensor::from_data(TensorData::new(mask, [n, longest]), device),
            },
        }
    }
}

/// The settings of ALBEF's objectives in a run.
#[derive(Debug, Clone, Copy)]
pub struct AlbefObjectives {
    /// The momentum model's share of the ITC and MLM targets (0.4).
    pub alpha: f64,
    /// The EMA factor (0.995).
    pub momentum: f64,
    /// The share of tokens masked (0.15).
    pub mlm_probability: f64,
    /// The special tokens.
    pub tokens: MlmTokens,
    /// Seeds each step's masking and negatives, with the step's number.
    pub seed: u64,
}

impl AlbefObjectives {
    /// The settings of `config`, with the vocabulary's special `tokens`.
    pub fn new(config: &AlbefConfig, tokens: MlmTokens, seed: u64) -> Self {
        Self {
            alpha: config.alpha,
            momentum: config.momentum,
            mlm_probability: config.mlm_probability,
            tokens,
            seed,
        }
    }
}

/// The image and text features of a step's momentum model, waiting for the queues.
type Pending<E> = Arc<Mutex<Option<(Tensor<E, 2>, Tensor<E, 2>)>>>;

/// PELA's distillation of an ALBEF student: each step's loss terms are ALBEF's `ITC`, `ITM`
/// and `MLM` (the student's own pre-training objectives, with the student's momentum model
/// and queues) and PELA's `L_fd` (every encoder's hidden states against the frozen
/// teacher's) and `L_rwp`. Validation reports `ITC` (in-batch, no queue) and `L_fd`.
///
/// Runs on one device: the momentum model and queues are updated after each optimizer step.
#[derive(Debug, Clone)]
pub struct AlbefDistillTask<B: AutodiffBackend> {
    /// The frozen teacher and PELA's objective.
    pub distill: Distill<B, Albef<B::InnerBackend>>,
    /// ALBEF's objectives.
    pub objectives: AlbefObjectives,
    pending: Pending<B::InnerBackend>,
}

impl<B: AutodiffBackend> AlbefDistillTask<B> {
    /// The task of `distill`'s teacher and objective, with ALBEF's `objectives`.
    pub fn new(distill: Distill<B, Albef<B::InnerBackend>>, objectives: AlbefObjectives) -> Self {
        Self {
            distill,
            objectives,
            pending: Arc::new(Mutex::new(None)),
        }
    }
}

/// Rows of `x` picked by `index`.
fn rows<E: Backend, const D: usize>(x: Tensor<E, D>, index: &[usize]) -> Tensor<E, D> {
    let device = x.device();
    let index: Vec<i64> = index.iter().map(|i| *i as i64).collect();
    let len = index.len();
    x.select(0, Tensor::from_data(TensorData::new(index, [len]), &device))
}

impl<B: AutodiffBackend> Task<B> for AlbefDistillTask<B> {
    type Model = AlbefTraining<B, AlbefLowRank<B>>;
    type Batch = AlbefInput<B>;
    type ValidBatch = AlbefInput<B::InnerBackend>;

    /// The online student trainable; the momentum half never is.
    fn prepare(&self, model: Self::Model) -> Self::Model {
        AlbefTraining {
            model: pela::trainable_params(model.model),
            momentum: model.momentum.no_grad(),
            steps: model.steps,
        }
    }

    fn train_metrics(&self) -> Vec<&'static str> {
        let mut names = vec!["Loss", "ITC", "ITM", "MLM"];
        if self.distill.objective.alpha != 0.0 {
            names.push(PelaObjective::FEATURE_DISTILLATION);
        }
        if self.distill.objective.beta != 0.0 {
            names.push(PelaObjective::WEIGHT_PERTURBATION);
        }
        names
    }

    fn valid_metrics(&self) -> Vec<&'static str> {
        vec!["Loss", "ITC", PelaObjective::FEATURE_DISTILLATION]
    }

    fn train_step(&self, model: &Self::Model, batch: AlbefInput<B>) -> StepOutput<B> {
        let settings = self.objectives;
        let batch_size = batch.images.dims()[0];
        let mut rng = StdRng::seed_from_u64(
            settings
                .seed
                .wrapping_add(model.steps().wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        );
        let student = &model.model;
        let out = self
            .distill
            .forward(student, batch.clone())
            .unwrap_or_else(|e| panic!("ALBEF distillation step: {e}"));
        let AlbefEncoded {
            image,
            text,
            fused,
            mask,
        } = out.output;

        // The momentum model, on the inner backend: no graph, no gradients.
        let momentum = model.momentum.valid();
        let inner = batch.to_inner();
        let (image_m, _) = momentum.model.encode_image(inner.images.clone());
        let (text_m, _) = momentum.model.encode_text(inner.text.clone());
        let image_feat_m = momentum.model.image_feature(image_m.clone());
        let text_feat_m = momentum.model.text_feature(text_m);
        let queues = momentum.queues();
        let itc = itc(
            ImageText {
                image: student.image_feature(image.clone()),
                text: student.text_feature(text.clone()),
            },
            ImageText {
                image: Tensor::from_inner(image_feat_m.clone()),
                text: Tensor::from_inner(text_feat_m.clone()),
            },
            ImageText {
                image: Tensor::from_inner(queues.image),
                text: Tensor::from_inner(queues.text),
            },
            student.temperature(),
            settings.alpha,
        );
        *self.pending.lock().expect("not poisoned") = Some((image_feat_m, text_feat_m));

        // ITM: the pairs, each text with a hard negative image, each image with a hard
        // negative text.
        let negative_images = hard_negatives(itc.sim_t2i.clone().detach(), &mut rng);
        let negative_texts = hard_negatives(itc.sim_i2t.clone().detach(), &mut rng);
        let texts = Tensor::cat(vec![text.clone(), rows(text, &negative_texts)], 0);
        let masks = Tensor::cat(vec![mask.clone(), rows(mask.clone(), &negative_texts)], 0);
        let images = Tensor::cat(
            vec![rows(image.clone(), &negative_images), image.clone()],
            0,
        );
        let (negative, _) = student.fuse(texts, masks, images);
        let itm = itm_loss(student.itm_logits(Tensor::cat(vec![fused, negative], 0)));

        // MLM, with the momentum model's soft labels.
        let ids = batch.text.input_ids.clone();
        let dims = ids.dims();
        let ids: Vec<i64> = ids
            .into_data()
            .convert::<i64>()
            .to_vec()
            .expect("token ids");
        let masked = mask_tokens(&ids, settings.mlm_probability, settings.tokens, &mut rng);
        let device = image.device();
        let masked_input = BertInput {
            input_ids: Tensor::<B, 2, Int>::from_data(
                TensorData::new(masked.input_ids, dims),
                &device,
            ),
            ..batch.text
        };
        let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(masked.labels, dims), &device);
        let soft = {
            let masked_input = masked_input.to_inner();
            let (tokens, _) = momentum.model.encode_text(masked_input.clone());
            let fused = momentum
                .model
                .fuse(tokens, masked_input.attention_mask, image_m)
                .0;
            softmax(momentum.model.mlm_logits(fused), 2)
        };
        let logits = {
            let (tokens, _) = student.encode_text(masked_input.clone());
            let fused = student.fuse(tokens, masked_input.attention_mask, image).0;
            student.mlm_logits(fused)
        };
        let mlm = mlm_loss(
            logits,
            labels,
            Some(Tensor::from_inner(soft)),
            settings.alpha,
        );

        let mut terms = LossTerms::new()
            .with("ITC", 1.0, itc.loss)
            .with("ITM", 1.0, itm)
            .with("MLM", 1.0, mlm);
        terms.extend(out.terms);
        StepOutput::new(terms, batch_size)
    }

    fn valid_step(
        &self,
        model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        batch: AlbefInput<B::InnerBackend>,
    ) -> StepOutput<B::InnerBackend> {
        let batch_size = batch.images.dims()[0];
        let (_, teacher) = self.distill.teacher.forward_features(batch.clone());
        let (encoded, student) = model.model.forward_features(batch);
        let objective = &self.distill.objective;
        let fd = objective
            .feature_distillation
            .forward(&student, &teacher)
            .unwrap_or_else(|e| panic!("ALBEF validation step: {e}"));
        let device = encoded.image.device();
        let empty = Tensor::zeros([model.momentum.image_queue.dims()[0], 0], &device);
        let image_feat = model.model.image_feature(encoded.image);
        let text_feat = model.model.text_feature(encoded.text);
        let features = ImageText {
            image: image_feat,
            text: text_feat,
        };
        let no_queue = ImageText {
            image: empty.clone(),
            text: empty,
        };
        let itc = itc(
            features.clone(),
            features,
            no_queue,
            model.model.temperature(),
            0.0,
        );
        let terms = LossTerms::new().with("ITC", 1.0, itc.loss).with(
            PelaObjective::FEATURE_DISTILLATION,
            objective.alpha,
            fd,
        );
        StepOutput::new(terms, batch_size)
    }

    /// Moves the momentum model towards the student, puts the step's momentum features in
    /// the queues, and counts the step.
    fn after_step(&self, model: Self::Model) -> Self::Model {
        let pending = self.pending.lock().expect("not poisoned").take();
        let mut momentum = model
            .momentum
            .update(&model.model, self.objectives.momentum);
        if let Some((image, text)) = pending {
            momentum = momentum.enqueue(Tensor::from_inner(image), Tensor::from_inner(text));
        }
        let steps = model.steps.val().add_scalar(1);
        AlbefTraining {
            steps: Param::initialized(model.steps.id, steps),
            momentum,
            model: model.model,
        }
    }

    fn to_device(self, device: &B::Device) -> Self {
        Self {
            distill: self.distill.to_device(device),
            ..self
        }
    }
}

/// A student ready for [`AlbefDistillTask`]: `student` and a momentum copy of it, with
/// `config`'s queues.
pub fn student_training<B: Backend>(
    student: AlbefLowRank<B>,
    config: &AlbefConfig,
    device: &B::Device,
) -> AlbefTraining<B, AlbefLowRank<B>> {
    let momentum = Momentum::new(student.clone(), config.embed_dim, config.queue_size, device);
    AlbefTraining::new(student, momentum)
}
