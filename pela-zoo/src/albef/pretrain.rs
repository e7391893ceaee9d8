//! PELA on ALBEF as a task of the engine: the student trained with ALBEF's own pre-training
//! objectives (ITC, ITM, MLM, with its momentum model and queues) plus PELA's `L_fd` and
//! `L_rwp`, beside the frozen teacher.

use std::sync::{Arc, Mutex};

use burn::module::{AutodiffModule, Param, ParamId};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::backend::AutodiffBackend;
use pela::{Distill, LayerFeatures, LossTerms, PelaObjective, ToInner};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::features::{AlbefEncoded, AlbefInput};
use super::{
    Albef, AlbefConfig, AlbefLowRank, AlbefModel, ImageText, MlmTokens, Momentum, hard_negatives,
    itc, itm_loss, mask_tokens, mlm_loss,
};
use crate::ZooError;
use crate::bert::BertInput;
use crate::train::{StepOutput, Task, TrainingConfig};

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

    /// Training state for `model` before its first step: a momentum copy of it and
    /// `config`'s queues (random unit features from Burn's seeded generator).
    pub fn start(model: M, config: &AlbefConfig, device: &B::Device) -> Self {
        let momentum = Momentum::new(model.clone(), config.embed_dim, config.queue_size, device);
        Self::new(model, momentum)
    }

    /// Optimizer steps taken.
    pub fn steps(&self) -> u64 {
        self.steps.val().into_scalar().elem::<i64>() as u64
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

/// The image and text features of the momentum model, one pair a batch, waiting for the
/// queues: every batch of an optimizer step (several with gradient accumulation) is
/// enqueued after it, in order. Each replica of the task (one a device) has its own.
type Pending<E> = Arc<Mutex<Vec<(Tensor<E, 2>, Tensor<E, 2>)>>>;

/// ALBEF's pre-training of a dense model (the authors' `Pretrain.py`), as a task of the
/// engine: each step's loss is `ITC + ITM + MLM`, with the model's momentum copy and queues
/// ([`AlbefTraining`]). Validation reports in-batch `ITC`.
///
/// The momentum model is updated after each optimizer step, and the queues take the momentum
/// features of every batch of the step (with `--grad-accumulation k`, all k of them). On
/// several devices each replica queues its own batches, where the authors gather every GPU's
/// features first.
///
/// ```
/// use pela_zoo::albef::{AlbefConfig, AlbefObjectives, AlbefPretrainTask, AlbefTraining, MlmTokens};
/// use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
/// use pela_zoo::bert::BertConfig;
/// use pela_zoo::vit::VitConfig;
///
/// let device = CpuDevice::default();
/// let config = AlbefConfig::new(
///     VitConfig::new(32, 16, 0, 64, 2, 4),
///     BertConfig::new(100, 64, 4, 4, 128, 16).with_cross_attention_from(Some(2)),
/// )
/// .with_queue_size(64);
/// let tokens = MlmTokens { pad: 0, cls: 1, mask: 3, vocab_size: 100 };
/// let task = AlbefPretrainTask::<CpuAutodiff>::new(AlbefObjectives::new(&config, tokens, 7));
/// let training = AlbefTraining::start(config.init::<CpuAutodiff>(&device), &config, &device);
/// assert_eq!((training.steps(), training.momentum.queue_size()), (0, 64));
/// // Engine::new(settings, run).fit(task, training, train_set, valid_set, CaptionBatcher::new([3, 32, 32]))
/// ```
#[derive(Debug, Clone)]
pub struct AlbefPretrainTask<B: AutodiffBackend> {
    /// ALBEF's objectives.
    pub objectives: AlbefObjectives,
    pending: Pending<B::InnerBackend>,
}

impl<B: AutodiffBackend> AlbefPretrainTask<B> {
    /// The task of ALBEF's `objectives`.
    pub fn new(objectives: AlbefObjectives) -> Self {
        Self {
            objectives,
            pending: Pending::default(),
        }
    }
}

impl<B: AutodiffBackend> Task<B> for AlbefPretrainTask<B> {
    type Model = AlbefTraining<B, Albef<B>>;
    type Batch = AlbefInput<B>;
    type ValidBatch = AlbefInput<B::InnerBackend>;

    /// MLM needs the model's MLM head; ITM's hard negatives and the queue need sizes that fit
    /// the batch ([`check_albef`]).
    fn check(&self, model: &Self::Model, config: &TrainingConfig) -> Result<(), ZooError> {
        check_albef("ALBEF pre-training", model, config)
    }

    /// The whole online model trainable (a loaded one starts frozen); the momentum half
    /// never is.
    fn prepare(&self, model: Self::Model) -> Self::Model {
        AlbefTraining {
            model: pela::trainable_params(model.model),
            momentum: model.momentum.no_grad(),
            steps: model.steps,
        }
    }

    fn train_metrics(&self) -> Vec<&'static str> {
        vec!["Loss", "ITC", "ITM", "MLM"]
    }

    fn valid_metrics(&self) -> Vec<&'static str> {
        vec!["Loss", "ITC"]
    }

    fn train_step(&self, model: &Self::Model, batch: AlbefInput<B>) -> StepOutput<B> {
        let batch_size = batch.images.dims()[0];
        let (encoded, _) = model.model.forward_features(batch.clone());
        let terms = albef_terms(model, encoded, batch, &self.objectives, &self.pending);
        StepOutput::new(terms, batch_size)
    }

    fn valid_step(
        &self,
        model: &<Self::Model as AutodiffModule<B>>::InnerModule,
        batch: AlbefInput<B::InnerBackend>,
    ) -> StepOutput<B::InnerBackend> {
        let batch_size = batch.images.dims()[0];
        let (encoded, _) = model.model.forward_features(batch);
        let terms = LossTerms::new().with("ITC", 1.0, in_batch_itc(&model.model, encoded));
        StepOutput::new(terms, batch_size)
    }

    /// Moves the momentum model towards the model, puts the step's momentum features in the
    /// queues, and counts the step.
    fn after_step(&self, model: Self::Model) -> Self::Model {
        after_step(model, &self.pending, self.objectives.momentum)
    }

    /// Features pending of this replica alone.
    fn to_device(self, _device: &B::Device) -> Self {
        Self {
            pending: Pending::default(),
            ..self
        }
    }
}

/// PELA's distillation of an ALBEF student: each step's loss terms are ALBEF's `ITC`, `ITM`
/// and `MLM` (the student's own pre-training objectives, with the student's momentum model
/// and queues) and PELA's `L_fd` (every encoder's hidden states against the frozen
/// teacher's) and `L_rwp`. Validation reports `ITC` (in-batch, no queue) and `L_fd`.
///
/// The momentum model is updated after each optimizer step, and the queues take the momentum
/// features of every batch of the step (with `--grad-accumulation k`, all k of them). On
/// several devices each replica queues its own batches, where the authors gather every GPU's
/// features first.
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
            pending: Pending::default(),
        }
    }
}

impl<B: AutodiffBackend> Task<B> for AlbefDistillTask<B> {
    type Model = AlbefTraining<B, AlbefLowRank<B>>;
    type Batch = AlbefInput<B>;
    type ValidBatch = AlbefInput<B::InnerBackend>;

    /// The student is the teacher's ([`Distill::check`]), and the checks of
    /// [`check_albef`].
    fn check(&self, model: &Self::Model, config: &TrainingConfig) -> Result<(), ZooError> {
        self.distill.check(&model.model)?;
        check_albef("ALBEF distillation", model, config)
    }

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
        names.extend(self.distill.objective.term_names());
        names
    }

    fn valid_metrics(&self) -> Vec<&'static str> {
        vec!["Loss", "ITC", PelaObjective::FEATURE_DISTILLATION]
    }

    fn train_step(&self, model: &Self::Model, batch: AlbefInput<B>) -> StepOutput<B> {
        let batch_size = batch.images.dims()[0];
        let out = self
            .distill
            .forward(&model.model, batch.clone())
            .expect(crate::train::task::PAIRED);
        let mut terms = albef_terms(model, out.output, batch, &self.objectives, &self.pending);
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
            .expect(crate::train::task::PAIRED);
        let terms = LossTerms::new()
            .with("ITC", 1.0, in_batch_itc(&model.model, encoded))
            .with(PelaObjective::FEATURE_DISTILLATION, objective.alpha, fd);
        StepOutput::new(terms, batch_size)
    }

    /// Moves the momentum model towards the student, puts the step's momentum features in
    /// the queues, and counts the step.
    fn after_step(&self, model: Self::Model) -> Self::Model {
        after_step(model, &self.pending, self.objectives.momentum)
    }

    /// The teacher on `device`, and features pending of this replica alone.
    fn to_device(self, device: &B::Device) -> Self {
        Self {
            distill: self.distill.to_device(device),
            pending: Pending::default(),
            ..self
        }
    }
}

/// What ALBEF's objectives need of a model and its training settings: an MLM head (a
/// retrieval model has none), batches of at least 2 (each item's hard negative is another
/// item of its batch) and a queue at least a batch long.
fn check_albef<B: AutodiffBackend, M: AlbefModel<B>>(
    task: &'static str,
    model: &AlbefTraining<B, M>,
    config: &TrainingConfig,
) -> Result<(), ZooError> {
    let fail = |reason: String| Err(ZooError::Task { task, reason });
    if !model.model.has_mlm_head() {
        return fail(
            "the model has no MLM head (a retrieval config, `albef_retrieval`), and MLM is one \
             of ALBEF's objectives; train a pre-training model (`albef`), whose checkpoint \
             (ALBEF.pth) has the head"
                .to_string(),
        );
    }
    if config.batch_size < 2 {
        return fail(format!(
            "a batch of {} item: ITM's hard negatives are other items of the batch; use a \
             batch size of at least 2",
            config.batch_size
        ));
    }
    let queue = model.momentum.queue_size();
    if queue < config.batch_size {
        return fail(format!(
            "the queue holds {queue} features, fewer than a batch of {}: give the config a \
             `queue_size` of at least the batch size",
            config.batch_size
        ));
    }
    Ok(())
}

/// Rows of `x` picked by `index`.
fn rows<E: Backend, const D: usize>(x: Tensor<E, D>, index: &[usize]) -> Tensor<E, D> {
    let device = x.device();
    let index: Vec<i64> = index.iter().map(|i| *i as i64).collect();
    let len = index.len();
    x.select(0, Tensor::from_data(TensorData::new(index, [len]), &device))
}

/// The tokens at flat `positions` (`batch index · tokens + token index`) of `tokens`, as one
/// sequence: `[batch, tokens, width]` → `[1, positions, width]`.
fn tokens_at<E: Backend>(tokens: Tensor<E, 3>, positions: &[usize]) -> Tensor<E, 3> {
    let [batch, length, width] = tokens.dims();
    rows(tokens.reshape([batch * length, width]), positions).unsqueeze()
}

/// ALBEF's three objectives on a batch that `model.model` encoded as `encoded`: ITC against
/// the momentum model and queues, ITM on the pairs and hard negatives, MLM with the momentum
/// model's soft labels. The momentum features wait in `pending` for [`after_step`].
fn albef_terms<B, M>(
    model: &AlbefTraining<B, M>,
    encoded: AlbefEncoded<B>,
    batch: AlbefInput<B>,
    settings: &AlbefObjectives,
    pending: &Pending<B::InnerBackend>,
) -> LossTerms<B>
where
    B: AutodiffBackend,
    M: AlbefModel<B> + AutodiffModule<B>,
    M::InnerModule: AlbefModel<B::InnerBackend>,
{
    let mut rng = StdRng::seed_from_u64(
        settings
            .seed
            .wrapping_add(model.steps().wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    );
    let online = &model.model;
    let AlbefEncoded {
        image,
        text,
        fused,
        mask,
    } = encoded;

    // The momentum model, on the inner backend: no graph, no gradients.
    let momentum = model.momentum.valid();
    let inner = batch.to_inner();
    let (image_m, _) = momentum.model.encode_image(inner.images.clone());
    let (text_m, _) = momentum.model.encode_text(inner.text.clone());
    let image_feat_m = momentum.model.image_feature(image_m.clone());
    let text_feat_m = momentum
        .model
        .text_feature(text_m, inner.text.attention_mask.clone());
    let queues = momentum.queues();
    let itc = itc(
        ImageText {
            image: online.image_feature(image.clone()),
            text: online.text_feature(text.clone(), mask.clone()),
        },
        ImageText {
            image: Tensor::from_inner(image_feat_m.clone()),
            text: Tensor::from_inner(text_feat_m.clone()),
        },
        ImageText {
            image: Tensor::from_inner(queues.image),
            text: Tensor::from_inner(queues.text),
        },
        online.temperature(),
        settings.alpha,
    );
    pending
        .lock()
        .expect("not poisoned")
        .push((image_feat_m, text_feat_m));

    // ITM: the pairs, each text with a hard negative image, each image with a hard negative
    // text.
    let negative_images = hard_negatives(itc.sim_t2i.clone().detach(), &mut rng);
    let negative_texts = hard_negatives(itc.sim_i2t.clone().detach(), &mut rng);
    let texts = Tensor::cat(vec![text.clone(), rows(text, &negative_texts)], 0);
    let masks = Tensor::cat(vec![mask.clone(), rows(mask.clone(), &negative_texts)], 0);
    let images = Tensor::cat(
        vec![rows(image.clone(), &negative_images), image.clone()],
        0,
    );
    let (negative, _) = online.fuse(texts, masks, images);
    let itm = itm_loss(online.itm_logits(Tensor::cat(vec![fused, negative], 0)));

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
        input_ids: Tensor::<B, 2, Int>::from_data(TensorData::new(masked.input_ids, dims), &device),
        ..batch.text
    };
    // The vocabulary head runs on the masked tokens alone: the loss reads no other position,
    // and over every token the head's `[tokens, vocab]` logits would cost more than the
    // encoders.
    let (positions, labels): (Vec<usize>, Vec<i64>) = masked
        .labels
        .iter()
        .enumerate()
        .filter(|(_, label)| **label >= 0)
        .map(|(i, &label)| (i, label))
        .unzip();
    let mlm = if positions.is_empty() {
        Tensor::zeros([1], &device)
    } else {
        let count = positions.len();
        let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(labels, [1, count]), &device);
        let soft = {
            let masked_input = masked_input.to_inner();
            let (tokens, _) = momentum.model.encode_text(masked_input.clone());
            let fused = momentum
                .model
                .fuse(tokens, masked_input.attention_mask, image_m)
                .0;
            softmax(momentum.model.mlm_logits(tokens_at(fused, &positions)), 2)
        };
        let logits = {
            let (tokens, _) = online.encode_text(masked_input.clone());
            let fused = online.fuse(tokens, masked_input.attention_mask, image).0;
            online.mlm_logits(tokens_at(fused, &positions))
        };
        mlm_loss(
            logits,
            labels,
            Some(Tensor::from_inner(soft)),
            settings.alpha,
        )
    };

    LossTerms::new()
        .with("ITC", 1.0, itc.loss)
        .with("ITM", 1.0, itm)
        .with("MLM", 1.0, mlm)
}

/// ITC within a validation batch (no queue, no momentum targets).
fn in_batch_itc<E: Backend, M: AlbefModel<E>>(model: &M, encoded: AlbefEncoded<E>) -> Tensor<E, 1> {
    let device = encoded.image.device();
    let features = ImageText {
        image: model.image_feature(encoded.image),
        text: model.text_feature(encoded.text, encoded.mask),
    };
    let width = features.image.dims()[1];
    let empty = Tensor::zeros([width, 0], &device);
    let no_queue = ImageText {
        image: empty.clone(),
        text: empty,
    };
    itc(
        features.clone(),
        features,
        no_queue,
        model.temperature(),
        0.0,
    )
    .loss
}

/// The EMA, the enqueue of the features of every batch in `pending` and the step count, after
/// an optimizer step.
fn after_step<B: AutodiffBackend, M: Module<B>>(
    model: AlbefTraining<B, M>,
    pending: &Pending<B::InnerBackend>,
    factor: f64,
) -> AlbefTraining<B, M> {
    let pending = std::mem::take(&mut *pending.lock().expect("not poisoned"));
    let mut momentum = model.momentum.update(&model.model, factor);
    for (image, text) in pending {
        momentum = momentum.enqueue(Tensor::from_inner(image), Tensor::from_inner(text));
    }
    let steps = model.steps.val().add_scalar(1);
    AlbefTraining {
        steps: Param::initialized(model.steps.id, steps),
        momentum,
        model: model.model,
    }
}

/// A student ready for [`AlbefDistillTask`]: `student` and a momentum copy of it, with
/// `config`'s queues ([`AlbefTraining::start`]).
pub fn student_training<B: Backend>(
    student: AlbefLowRank<B>,
    config: &AlbefConfig,
    device: &B::Device,
) -> AlbefTraining<B, AlbefLowRank<B>> {
    AlbefTraining::start(student, config, device)
}
