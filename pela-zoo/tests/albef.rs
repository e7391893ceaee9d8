//! ALBEF against the authors' code: fixtures written by
//! `pela-zoo/scripts/make_albef_fixtures.py`, which runs `salesforce/ALBEF`'s own
//! `model_pretrain.py`, `xbert.py` and `vit.py` (commit b9727e43; transformers 4.16.2,
//! torch 2.15.0) on a seeded small configuration.
//!
//! - the authors' state dict (online model, momentum copy, queues) loads strictly by their
//!   keys;
//! - every encoder's hidden states, the ITC features and similarities against the queue, the
//!   ITM and MLM logits match theirs, and so do the ITC, ITM and MLM losses;
//! - the full-size parameter counts equal theirs, and so does the PELA student at κ = 3;
//! - the momentum update and the queue against closed forms.

mod common;
mod reference;

use burn::module::Module;
use burn::prelude::*;
use common::alone;
use pela::LowRank;
use pela_zoo::albef::{
    Albef, AlbefConfig, AlbefState, ImageText, MlmTokens, Momentum, TextPooling, itc, itm_loss,
    mask_tokens, mlm_loss,
};
use pela_zoo::backend::{Cpu, CpuDevice};
use pela_zoo::bert::BertInput;
use rand::SeedableRng;
use reference::{assert_close, fixture, tensor, tensors};

/// The architecture of the fixtures (`TINY` and `TINY_BERT` in the script).
fn config() -> AlbefConfig {
    common::albef_tiny_config()
}

fn load() -> AlbefState<Cpu> {
    config()
        .load_state::<Cpu>(fixture("albef_tiny.safetensors"), &CpuDevice::default())
        .unwrap()
}

fn text(
    io: &std::collections::BTreeMap<String, burn::tensor::TensorData>,
    ids: &str,
) -> BertInput<Cpu> {
    let input_ids: Tensor<Cpu, 2, Int> = Tensor::from_data(io[ids].clone(), &CpuDevice::default());
    let mask: Tensor<Cpu, 2, Int> =
        Tensor::from_data(io["attention_mask"].clone(), &CpuDevice::default());
    BertInput {
        token_type_ids: input_ids.zeros_like(),
        input_ids,
        attention_mask: mask.float(),
    }
}

#[test]
fn encoders_and_heads_match_the_authors_code() {
    let _alone = alone(0);
    let state = load();
    let model = &state.model;
    let io = tensors("albef_tiny_reference.safetensors");
    let input = text(&io, "input_ids");
    let mask = input.attention_mask.clone();

    let (image, vit_layers) = model.encode_image(tensor(&io, "images"));
    for (i, layer) in vit_layers.into_iter().enumerate() {
        assert_close(
            layer,
            tensor(&io, &format!("vit_layer_{i}")),
            &format!("ViT block {i}"),
        );
    }
    assert_close(image.clone(), tensor(&io, "image_embeds"), "image_embeds");

    let (text_tokens, text_layers) = model.encode_text(input);
    assert_eq!(text_layers.len(), 2);
    for (i, layer) in text_layers.into_iter().enumerate() {
        assert_close(
            layer,
            tensor(&io, &format!("text_layer_{i}")),
            &format!("text layer {i}"),
        );
    }
    assert_close(
        text_tokens.clone(),
        tensor(&io, "text_embeds"),
        "text_embeds",
    );

    let (fused, fusion_layers) = model.fuse(text_tokens.clone(), mask.clone(), image.clone());
    assert_eq!(fusion_layers.len(), 2);
    for (i, layer) in fusion_layers.into_iter().enumerate() {
        assert_close(
            layer,
            tensor(&io, &format!("fusion_layer_{i}")),
            &format!("fusion layer {i}"),
        );
    }
    assert_close(fused.clone(), tensor(&io, "fused"), "fused");

    assert_close(
        model.image_feature(image),
        tensor(&io, "image_feat"),
        "image_feat",
    );
    assert_close(
        model.text_feature(text_tokens, mask),
        tensor(&io, "text_feat"),
        "text_feat",
    );
    assert_close(
        model.itm_logits(fused.clone()),
        tensor(&io, "itm_logits"),
        "ITM logits",
    );
    assert_close(
        model.mlm_logits(fused),
        tensor(&io, "mlm_logits"),
        "MLM logits",
    );
}

/// The momentum model's features, from the loaded copy.
fn momentum_features(
    momentum: &Albef<Cpu>,
    io: &std::collections::BTreeMap<String, burn::tensor::TensorData>,
) -> (Tensor<Cpu, 3>, Tensor<Cpu, 2>, Tensor<Cpu, 2>) {
    let (image_m, _) = momentum.encode_image(tensor(io, "images"));
    let input = text(io, "input_ids");
    let mask = input.attention_mask.clone();
    let (text_m, _) = momentum.encode_text(input);
    let image_feat_m = momentum.image_feature(image_m.clone());
    (image_m, image_feat_m, momentum.text_feature(text_m, mask))
}

#[test]
fn the_losses_match_the_authors_formulas() {
    let _alone = alone(0);
    let state = load();
    let (model, momentum) = (&state.model, state.momentum.as_ref().unwrap());
    assert_eq!(momentum.pointer(), 2);
    let io = tensors("albef_tiny_reference.safetensors");
    let input = text(&io, "input_ids");
    let mask = input.attention_mask.clone();
    let (image, _) = model.encode_image(tensor(&io, "images"));
    let (text_tokens, _) = model.encode_text(input);
    let (image_m, image_feat_m, text_feat_m) = momentum_features(&momentum.model, &io);
    assert_close(
        image_feat_m.clone(),
        tensor(&io, "image_feat_m"),
        "image_feat_m",
    );
    assert_close(
        text_feat_m.clone(),
        tensor(&io, "text_feat_m"),
        "text_feat_m",
    );

    // ITC against the queue, with momentum distillation (α = 0.4).
    let online = ImageText {
        image: model.image_feature(image.clone()),
        text: model.text_feature(text_tokens.clone(), mask.clone()),
    };
    let momentum_features = ImageText {
        image: image_feat_m,
        text: text_feat_m,
    };
    let itc = itc(
        online,
        momentum_features,
        momentum.queues(),
        model.temperature(),
        0.4,
    );
    assert_close(itc.sim_i2t, tensor(&io, "sim_i2t"), "sim_i2t");
    assert_close(itc.sim_t2i, tensor(&io, "sim_t2i"), "sim_t2i");
    assert_close(itc.loss, tensor(&io, "loss_ita"), "ITC loss");

    // ITM on the script's fixed negatives.
    let index =
        |key: &str| Tensor::<Cpu, 1, Int>::from_data(io[key].clone(), &CpuDevice::default());
    let (neg_image, neg_text) = (index("neg_image"), index("neg_text"));
    let pick = |x: Tensor<Cpu, 3>, i: Tensor<Cpu, 1, Int>| x.select(0, i);
    let texts = Tensor::cat(
        vec![
            text_tokens.clone(),
            pick(text_tokens.clone(), neg_text.clone()),
        ],
        0,
    );
    let masks = Tensor::cat(vec![mask.clone(), mask.clone().select(0, neg_text)], 0);
    let images = Tensor::cat(vec![pick(image.clone(), neg_image), image.clone()], 0);
    let (positive, _) = model.fuse(text_tokens.clone(), mask.clone(), image.clone());
    let (negative, _) = model.fuse(texts, masks, images);
    let logits = model.itm_logits(Tensor::cat(vec![positive, negative], 0));
    assert_close(
        logits.clone(),
        tensor(&io, "itm_all_logits"),
        "ITM logits on negatives",
    );
    assert_close(itm_loss(logits), tensor(&io, "loss_itm"), "ITM loss");

    // MLM on the script's fixed mask, with the momentum model's soft labels.
    let masked = text(&io, "masked_ids");
    let labels: Tensor<Cpu, 2, Int> =
        Tensor::from_data(io["mlm_labels"].clone(), &CpuDevice::default());
    let fused_m = {
        let (tokens, _) = momentum.model.encode_text(masked.clone());
        momentum.model.fuse(tokens, mask.clone(), image_m).0
    };
    let logits_m = momentum.model.mlm_logits(fused_m);
    assert_close(
        logits_m.clone(),
        tensor(&io, "mlm_logits_m"),
        "momentum MLM logits",
    );
    let (tokens, _) = model.encode_text(masked);
    let logits = model.mlm_logits(model.fuse(tokens, mask, image).0);
    assert_close(
        logits.clone(),
        tensor(&io, "mlm_logits_masked"),
        "MLM logits, masked",
    );
    let soft = burn::tensor::activation::softmax(logits_m, 2);
    assert_close(
        mlm_loss(logits, labels, Some(soft), 0.4),
        tensor(&io, "loss_mlm"),
        "MLM loss",
    );
}

#[test]
fn full_size_counts_match_the_authors_model_and_plan() {
    let _alone = alone(0);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("albef_sizes.json")).unwrap())
            .unwrap();
    let count = |key: &str| json[key].as_u64().unwrap() as usize;
    let config = AlbefConfig::albef_base(256);
    let albef = config.init::<Cpu>(&CpuDevice::default());
    assert_eq!(albef.num_params(), count("online"));
    // The momentum copy is the online model without the ITM head and the temperature.
    let unused_in_copy = albef.itm_head.num_params() + 1;
    assert_eq!(albef.num_params() - unused_in_copy, count("momentum"));

    let report = albef.preview(&config.pela_plan()).unwrap();
    assert_eq!(report.totals().params_before, count("online"));
    let student = report.totals().params_after;
    assert_eq!(2 * student - unused_in_copy, count("pela_k3_total"));
    assert!((count("pela_k3_total") as f64 / 1e6 - 174.2).abs() < 0.05); // NOTES: ≈174.2M
}

#[test]
fn a_student_keeps_the_heads_dense_and_runs() {
    let _alone = alone(0);
    let state = load();
    let config = config();
    let (student, report) = state
        .model
        .to_low_rank_with_report(&config.pela_plan())
        .unwrap();
    // ViT: qkv, proj, fc1, fc2 × 2 blocks; BERT: 6 per layer × 4, and 4 in each of 2 fusion layers.
    assert_eq!(report.totals().low_rank_layers, 8 + 24 + 8);
    let io = tensors("albef_tiny_reference.safetensors");
    let (image, _) = student.encode_image(tensor(&io, "images"));
    let input = text(&io, "input_ids");
    let mask = input.attention_mask.clone();
    let (tokens, _) = student.encode_text(input);
    let fused = student.fuse(tokens, mask, image).0;
    assert_eq!(student.mlm_logits(fused).dims(), [3, 6, 50]);
}

#[test]
fn mean_pooling_averages_the_tokens_that_are_not_padding() {
    let _alone = alone(0);
    let device = CpuDevice::default();
    let mut model = config()
        .with_text_pooling(TextPooling::Mean)
        .init::<Cpu>(&device);
    // text_proj = [[1, 0, …], [0, 1, …], …]: the feature is the first 16 dimensions of the
    // pooled token, normalised.
    let eye: Tensor<Cpu, 2> = Tensor::eye(32, &device).narrow(1, 0, 16);
    model.text_proj.weight = burn::module::Param::from_tensor(eye);
    model.text_proj.bias = None;
    // Two texts of 3 tokens; the second has one padding token, filled with 100s that must
    // not count.
    let tokens = Tensor::<Cpu, 1, Int>::arange(0..192, &device)
        .float()
        .reshape([2, 3, 32])
        .div_scalar(10.0)
        .slice_assign(
            [1..2, 2..3, 0..32],
            Tensor::full([1, 1, 32], 100.0, &device),
        );
    let mask = Tensor::<Cpu, 2>::from_floats([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], &device);
    let feature = model.text_feature(tokens, mask);
    // Closed form: text 0's mean token is token 1, (32 + j) / 10; text 1's is the mean of
    // tokens 3 and 4, (96 + 32 / 2 + j) / 10 = (112 + j) / 10, for dimension j.
    let expected = [feature_of(32.0), feature_of(112.0)].concat();
    assert_close(
        feature,
        Tensor::<Cpu, 1>::from_floats(expected.as_slice(), &device).reshape([2, 16]),
        "mean-pooled text feature",
    );
    // `[CLS]` pooling (ALBEF's) reads token 0 alone: (0 + j) / 10 and (96 + j) / 10.
    model.text_pooling = TextPooling::Cls;
    let tokens = Tensor::<Cpu, 1, Int>::arange(0..192, &device)
        .float()
        .reshape([2, 3, 32])
        .div_scalar(10.0);
    let mask = Tensor::<Cpu, 2>::ones([2, 3], &device);
    let cls = [feature_of(0.0), feature_of(96.0)].concat();
    assert_close(
        model.text_feature(tokens, mask),
        Tensor::<Cpu, 1>::from_floats(cls.as_slice(), &device).reshape([2, 16]),
        "[CLS] text feature",
    );
}

/// The normalised first 16 dimensions of the token whose dimension `j` is `(first + j) / 10`.
fn feature_of(first: f32) -> Vec<f32> {
    let v: Vec<f32> = (0..16).map(|j| (first + j as f32) / 10.0).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

#[test]
fn the_momentum_update_is_the_authors_ema() {
    let _alone = alone(0);
    let device = CpuDevice::default();
    let online = burn::nn::LinearConfig::new(2, 3).init::<Cpu>(&device);
    let start = online.weight.val();
    let momentum = Momentum::new(online.clone(), 4, 8, &device);
    let moved = online.clone().map(&mut Shift(1.0));
    let momentum = momentum.update(&moved, 0.995).update(&moved, 0.995);
    // Two steps towards `start + 1`: start + 1 − 0.995².
    let expected = start.add_scalar(1.0 - 0.995f64.powi(2));
    assert_close(momentum.model.weight.val(), expected, "EMA of the weight");
}

/// Adds a constant to every parameter.
struct Shift(f64);

impl burn::module::ModuleMapper<Cpu> for Shift {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<Cpu, D>>,
    ) -> burn::module::Param<Tensor<Cpu, D>> {
        let (id, value, mapper) = param.consume();
        burn::module::Param::from_mapped_value(id, value.add_scalar(self.0), mapper)
    }
}

#[test]
fn the_queue_wraps_around_and_keeps_the_newest_features() {
    let _alone = alone(0);
    let device = CpuDevice::default();
    let online = burn::nn::LinearConfig::new(2, 2).init::<Cpu>(&device);
    let mut momentum = Momentum::new(online, 2, 5, &device);
    let column = |v: f32| Tensor::<Cpu, 2>::from_floats([[v, -v]], &device);
    for step in 0..3 {
        let batch = Tensor::cat(
            vec![
                column(step as f32 * 2.0 + 1.0),
                column(step as f32 * 2.0 + 2.0),
            ],
            0,
        );
        momentum = momentum.enqueue(batch.clone(), batch);
    }
    // Six features into five columns: the sixth overwrote the first.
    assert_eq!(momentum.pointer(), 1);
    let queue: Vec<f32> = momentum.image_queue.val().into_data().to_vec().unwrap();
    assert_eq!(
        queue,
        [6.0, 2.0, 3.0, 4.0, 5.0, -6.0, -2.0, -3.0, -4.0, -5.0]
    );
}

#[test]
fn masking_spares_padding_and_cls_and_is_seeded() {
    let _alone = alone(0);
    let tokens = MlmTokens {
        pad: 0,
        cls: 2,
        mask: 4,
        vocab_size: 50,
    };
    let ids: Vec<i64> = (0..2000)
        .map(|i| {
            if i % 10 == 0 {
                2
            } else if i % 10 == 9 {
                0
            } else {
                10 + i % 7
            }
        })
        .collect();
    let draw = |seed| {
        mask_tokens(
            &ids,
            0.15,
            tokens,
            &mut rand::rngs::StdRng::seed_from_u64(seed),
        )
    };
    let masked = draw(3);
    assert_eq!(masked, draw(3));
    let eligible = ids.iter().filter(|id| **id != 0 && **id != 2).count();
    let chosen: Vec<usize> = (0..ids.len())
        .filter(|i| masked.labels[*i] != -100)
        .collect();
    assert!(
        chosen
            .iter()
            .all(|i| ids[*i] != 0 && ids[*i] != 2 && masked.labels[*i] == ids[*i])
    );
    // 15 % of 1,600 eligible tokens: 240 ± 4.4σ (σ = 14.3).
    let share = chosen.len() as f64;
    assert!(
        (share - 0.15 * eligible as f64).abs() < 63.0,
        "{share} masked of {eligible}"
    );
    let to_mask = chosen.iter().filter(|i| masked.input_ids[**i] == 4).count() as f64;
    assert!(
        (to_mask / share - 0.8).abs() < 0.1,
        "{to_mask} of {share} became [MASK]"
    );
}

#[test]
fn the_authors_keys_are_checked_strictly() {
    let _alone = alone(0);
    // The retrieval preset has no MLM head: the pre-training file's `cls` keys are unused.
    let error = config()
        .with_mlm_head(false)
        .load_state::<Cpu>(fixture("albef_tiny.safetensors"), &CpuDevice::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("mlm_head.dense.weight"), "{error}");
    // Another image size resizes the position embeddings instead of failing.
    let mut larger = config();
    larger.vision.image_size = 48;
    let state = larger
        .load_state::<Cpu>(fixture("albef_tiny.safetensors"), &CpuDevice::default())
        .unwrap();
    assert_eq!(state.model.visual_encoder.pos_embed.dims(), [1, 10, 32]);
}

mod distillation {
    use std::sync::Arc;

    use burn::module::{AutodiffModule, Module};
    use burn::prelude::*;
    use burn::train::Interrupter;
    use pela::{Distill, LowRank};
    use pela_zoo::albef::{
        Albef, AlbefConfig, AlbefDistillTask, AlbefLowRank, AlbefObjectives, AlbefPretrainTask,
        AlbefTraining, CaptionBatcher, CaptionItem, Captions, MlmTokens, student_training,
    };
    use pela_zoo::backend::{Cpu, CpuAutodiff, CpuDevice};
    use pela_zoo::bert::BertConfig;
    use pela_zoo::data::digits;
    use pela_zoo::train::{Engine, TrainOutcome, TrainingConfig, TrainingSet};
    use pela_zoo::vit::VitConfig;

    use crate::common::{max_difference, mean_difference, scratch, values};

    /// A tiny ALBEF on 8 × 8 grey digits with 10 captions, one a digit.
    fn config() -> AlbefConfig {
        AlbefConfig::new(
            VitConfig::new(8, 4, 0, 32, 2, 4).with_channels(1),
            BertConfig::new(20, 32, 4, 4, 64, 8)
                .with_cross_attention_from(Some(2))
                .with_encoder_width(Some(32)),
        )
        .with_embed_dim(16)
        .with_queue_size(16)
    }

    const TOKENS: MlmTokens = MlmTokens {
        pad: 0,
        cls: 1,
        mask: 3,
        vocab_size: 20,
    };

    /// Real images (scikit-learn's digits), captioned "[CLS] <digit> [SEP]".
    fn pairs(n: usize, test: bool) -> Captions {
        let (train, held_out) = digits();
        let set = if test { held_out } else { train };
        let items = (0..n)
            .map(|i| {
                let item = TrainingSet::item(&set, i, None).unwrap();
                CaptionItem {
                    image: item.pixels,
                    input_ids: vec![1, 4 + item.label as i64, 2],
                }
            })
            .collect();
        Captions::new("digits", items)
    }

    /// A teacher drawn from seed 5, its PELA student (with its momentum copy and queues)
    /// and the task.
    type Parts = (
        AlbefDistillTask<CpuAutodiff>,
        Albef<Cpu>,
        AlbefTraining<CpuAutodiff, AlbefLowRank<CpuAutodiff>>,
    );

    fn task_and_student() -> Parts {
        task_and_student_of(config())
    }

    fn task_and_student_of(config: AlbefConfig) -> Parts {
        let device = CpuDevice::default();
        Cpu::seed(&device, 5);
        let teacher = config.init::<Cpu>(&device);
        let _ = values(&teacher); // draws every lazily initialised parameter now
        let student = teacher.to_low_rank(&config.pela_plan()).unwrap();
        let training = student_training(student, &config, &device).train::<CpuAutodiff>();
        let task = AlbefDistillTask::new(
            Distill::new(teacher.clone(), config.pela_objective().init()),
            AlbefObjectives::new(&config, TOKENS, 11),
        );
        (task, teacher, training)
    }

    type Outcome = TrainOutcome<CpuAutodiff, AlbefDistillTask<CpuAutodiff>>;

    fn fit(engine: Engine<CpuAutodiff>) -> Result<(Outcome, Albef<Cpu>), pela_zoo::ZooError> {
        fit_from(engine, task_and_student())
    }

    fn fit_from(
        engine: Engine<CpuAutodiff>,
        (task, teacher, training): Parts,
    ) -> Result<(Outcome, Albef<Cpu>), pela_zoo::ZooError> {
        let outcome = engine.fit(
            task,
            training,
            Arc::new(pairs(64, false)),
            Arc::new(pairs(16, true)),
            CaptionBatcher::new([1, 8, 8]),
        )?;
        Ok((outcome, teacher))
    }

    #[test]
    fn distillation_lowers_the_loss_and_trains_only_the_student() {
        let _alone = crate::common::alone(5);
        let run = scratch("albef-lowers");
        let config = TrainingConfig::new()
            .with_epochs(3)
            .with_batch_size(16)
            .with_learning_rate(1e-3)
            .with_warmup_epochs(0);
        let parts = task_and_student();
        let start = values(&parts.2.valid().model);
        let (outcome, teacher) = fit_from(Engine::new(config, run.clone()), parts).unwrap();
        let history = &outcome.history;
        let loss = |i: usize, name: &str| history[i].train(name).unwrap();
        assert!(loss(2, "Loss") < loss(0, "Loss"), "{history:?}");
        for m in history {
            let sum = ["ITC", "ITM", "MLM", "L_rwp"]
                .map(|n| m.train(n).unwrap())
                .iter()
                .sum::<f64>()
                + 0.1 * m.train("L_fd").unwrap();
            assert!((sum - m.train("Loss").unwrap()).abs() < 1e-4 * sum, "{m:?}");
        }
        // The teacher is untouched; the momentum model moved by EMA alone: 4 steps an epoch.
        assert_eq!(values(&outcome.task.distill.teacher), values(&teacher));
        let trained = outcome.model;
        assert_eq!(trained.steps(), 12);
        assert_eq!(trained.momentum.pointer(), (12 * 16) % 16);
        let (online, momentum) = (values(&trained.model), values(&trained.momentum.model));
        let moved = |a: &[Vec<f32>]| max_difference(a, &start);
        assert!(
            moved(&momentum) > 0.0 && moved(&momentum) < moved(&online) * 0.1,
            "momentum moved {}, student {}",
            moved(&momentum),
            moved(&online)
        );
        std::fs::remove_dir_all(run.root()).ok();
    }

    #[test]
    fn every_accumulated_batch_reaches_the_queues() {
        let _alone = crate::common::alone(5);
        let run = scratch("albef-accumulation");
        // 64 pairs in batches of 4, two batches an optimizer step: 16 batches, 8 steps.
        let config = TrainingConfig::new()
            .with_epochs(1)
            .with_batch_size(4)
            .with_grad_accumulation(2)
            .with_warmup_epochs(0);
        let parts = task_and_student_of(self::config().with_queue_size(40));
        let (outcome, _) = fit_from(Engine::new(config, run.clone()), parts).unwrap();
        let trained = outcome.model;
        assert_eq!(trained.steps(), 8);
        // All 64 pairs' features went in (64 mod 40); the last batch of each step alone
        // would have left the pointer at 8 · 4 = 32.
        assert_eq!(trained.momentum.pointer(), 64 % 40);
        std::fs::remove_dir_all(run.root()).ok();
    }

    #[test]
    fn what_albef_needs_is_checked_before_training() {
        let _alone = crate::common::alone(5);
        let run = scratch("albef-checks");
        let refused = |config: AlbefConfig, batch_size: usize| {
            let settings = TrainingConfig::new().with_batch_size(batch_size);
            let Err(error) = fit_from(
                Engine::new(settings, run.clone()),
                task_and_student_of(config),
            ) else {
                panic!("the run must be refused");
            };
            assert!(matches!(error, pela_zoo::ZooError::Task { .. }), "{error}");
            error.to_string()
        };
        let error = refused(config().with_mlm_head(false), 4);
        assert!(error.contains("no MLM head"), "{error}");
        let error = refused(config(), 1);
        assert!(error.contains("at least 2"), "{error}");
        let error = refused(config().with_queue_size(8), 16);
        assert!(error.contains("the queue holds 8 features"), "{error}");
        assert!(!run.has_checkpoint());
        std::fs::remove_dir_all(run.root()).ok();
    }

    #[test]
    fn pretraining_trains_a_frozen_loaded_model_whole_and_lowers_the_loss() {
        let _alone = crate::common::alone(6);
        let device = CpuDevice::default();
        let config = config();
        // Loaded weights come frozen (no gradient), as from a checkpoint or `init_from`.
        let model = config.init::<Cpu>(&device).no_grad();
        let start = values(&model);
        let training = AlbefTraining::start(model, &config, &device).train::<CpuAutodiff>();
        let task = AlbefPretrainTask::new(AlbefObjectives::new(&config, TOKENS, 11));
        let run = scratch("albef-pretrain");
        let settings = TrainingConfig::new()
            .with_epochs(3)
            .with_batch_size(16)
            .with_learning_rate(1e-3)
            .with_warmup_epochs(0);
        let outcome = Engine::<CpuAutodiff>::new(settings, run.clone())
            .fit(
                task,
                training,
                Arc::new(pairs(64, false)),
                Arc::new(pairs(16, true)),
                CaptionBatcher::new([1, 8, 8]),
            )
            .unwrap();
        let history = &outcome.history;
        let loss = |i: usize, name: &str| history[i].train(name).unwrap();
        assert!(loss(2, "Loss") < loss(0, "Loss"), "{history:?}");
        for m in history {
            let sum: f64 = ["ITC", "ITM", "MLM"]
                .map(|n| m.train(n).unwrap())
                .iter()
                .sum();
            assert!((sum - m.train("Loss").unwrap()).abs() < 1e-4 * sum, "{m:?}");
        }
        // Every parameter of the online model moved; 12 steps were counted.
        let trained = values(&outcome.model.model);
        for (i, (before, after)) in start.iter().zip(&trained).enumerate() {
            let moved = before.iter().zip(after).any(|(p, q)| p != q);
            assert!(moved, "parameter tensor {i} did not train");
        }
        assert_eq!(outcome.model.steps(), 12);
        std::fs::remove_dir_all(run.root()).ok();
    }

    #[test]
    fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
        let _alone = crate::common::alone(5);
        let config = TrainingConfig::new()
            .with_epochs(2)
            .with_batch_size(16)
            .with_learning_rate(1e-3);
        let straight = scratch("albef-straight");
        let (uninterrupted, _) = fit(Engine::new(config.clone(), straight.clone())).unwrap();

        let resumed_dir = scratch("albef-resumed");
        let interrupter = Interrupter::new();
        interrupter.stop(Some("test"));
        let (stopped, _) =
            fit(Engine::new(config.clone(), resumed_dir.clone()).interrupter(interrupter)).unwrap();
        assert!(stopped.interrupted);
        let (resumed, _) = fit(Engine::new(config, resumed_dir.clone()).resume(true)).unwrap();
        assert_eq!(resumed.model.steps(), uninterrupted.model.steps());
        assert_eq!(
            resumed.model.momentum.pointer(),
            uninterrupted.model.momentum.pointer()
        );
        // Float round-off of Burn's autodiff only (see tests/train.rs), on average: Adam turns
        // round-off in a near-zero gradient into a step of up to the learning rate, so a few
        // parameters differ by up to 6e-4 after a resume (measured over six runs), while the
        // mean difference stays under 1e-7. A lost optimizer state, momentum model, queue or
        // step count changes the steps of every parameter.
        let mean = mean_difference(&values(&resumed.model), &values(&uninterrupted.model));
        assert!(mean < 1e-6, "parameters differ by {mean} on average");
        std::fs::remove_dir_all(straight.root()).ok();
        std::fs::remove_dir_all(resumed_dir.root()).ok();
    }
}

/// Retrieval as the authors evaluate it, and the parts it reads.
mod retrieval {
    use burn::prelude::*;
    use burn::tensor::Distribution;
    use pela_zoo::albef::{AlbefConfig, Matches, Recall, retrieval_scores};
    use pela_zoo::backend::{Cpu, CpuDevice};
    use pela_zoo::bert::{BertConfig, BertInput};
    use pela_zoo::vit::VitConfig;

    use crate::common::{alone, max_difference, values};

    #[test]
    fn recall_equals_the_authors_itm_eval() {
        // Three images with 2, 1 and 2 captions. The expected recalls are what the authors'
        // `itm_eval` (Retrieval.py) returns on these matrices, run with numpy: text R@1
        // 33.33 (image 1 ranks its caption 5th, image 2 its best one 2nd), image R@1 60 (text
        // 1 ranks its image 3rd, text 2 2nd; text 4's three equal scores rank the last
        // image first, as `np.argsort(score)[::-1]` does).
        let matches = Matches::from_caption_counts(&[2, 1, 2]);
        let i2t = [
            0.1, 0.9, 0.8, 0.3, 0.2, //
            0.5, 0.4, 0.1, 0.9, 0.8, //
            0.9, 0.1, 0.2, 0.3, 0.4,
        ];
        let t2i = [
            0.9, 0.1, 0.2, //
            0.1, 0.9, 0.2, //
            0.3, 0.2, 0.1, //
            0.1, 0.2, 0.3, //
            0.5, 0.5, 0.5,
        ];
        let recall = Recall::from_scores(&i2t, &t2i, &matches).unwrap();
        let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
        assert!(
            close(recall.text, [100.0 / 3.0, 100.0, 100.0]),
            "{recall:?}"
        );
        assert!(close(recall.image, [60.0, 100.0, 100.0]), "{recall:?}");
        assert!((recall.mean() - (100.0 / 3.0 + 200.0 + 60.0 + 200.0) / 6.0).abs() < 1e-9);
        let wrong = Recall::from_scores(&i2t[..12], &t2i, &matches).unwrap_err();
        assert!(wrong.to_string().contains("need 15 scores"), "{wrong}");
    }

    /// The fixtures' architecture, freshly drawn, and five texts of 4 tokens (one padded).
    fn model_and_texts() -> (pela_zoo::albef::Albef<Cpu>, BertInput<Cpu>) {
        let device = CpuDevice::default();
        let config = AlbefConfig::new(
            VitConfig::new(32, 16, 0, 32, 2, 4),
            BertConfig::new(50, 32, 4, 4, 64, 16)
                .with_cross_attention_from(Some(2))
                .with_encoder_width(Some(32)),
        )
        .with_embed_dim(16);
        let ids = Tensor::<Cpu, 2, Int>::from_ints(
            [
                [1, 5, 7, 2],
                [1, 9, 2, 0],
                [1, 11, 12, 2],
                [1, 30, 31, 2],
                [1, 40, 8, 2],
            ],
            &device,
        );
        let texts = BertInput {
            token_type_ids: ids.zeros_like(),
            attention_mask: ids.clone().not_equal_elem(0).float(),
            input_ids: ids,
        };
        (config.init(&device), texts)
    }

    #[test]
    fn the_top_k_of_each_row_are_rescored_by_the_itm_head() {
        let _alone = alone(21);
        let device = CpuDevice::default();
        let (model, texts) = model_and_texts();
        let images =
            Tensor::<Cpu, 4>::random([4, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let batches = [
            images.clone().narrow(0, 0, 3),
            images.clone().narrow(0, 3, 1),
        ];

        // With k covering every row, each score is the ITM "matched" logit of its pair.
        let all = retrieval_scores(&model, batches.clone(), texts.clone(), 10, 3);
        let image_tokens = model.encode_image(images).0;
        let text_tokens = model.encode_text(texts.clone()).0;
        for i in 0..4 {
            for t in 0..5 {
                let fused = model
                    .fuse(
                        text_tokens.clone().narrow(0, t, 1),
                        texts.attention_mask.clone().narrow(0, t, 1),
                        image_tokens.clone().narrow(0, i, 1),
                    )
                    .0;
                let logit: f32 = model.itm_logits(fused).narrow(1, 1, 1).into_scalar();
                assert!((all.i2t[i * 5 + t] - logit).abs() < 1e-5, "i2t ({i}, {t})");
                assert!((all.t2i[t * 4 + i] - logit).abs() < 1e-5, "t2i ({t}, {i})");
            }
        }

        // With k = 2, the two most similar of each row keep those scores, the rest -100.
        let top2 = retrieval_scores(&model, batches, texts, 2, 3);
        assert_eq!(top2.similarity, all.similarity);
        for i in 0..4 {
            let row = &all.similarity[i * 5..(i + 1) * 5];
            let mut order: Vec<usize> = (0..5).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            for (rank, &t) in order.iter().enumerate() {
                let expected = if rank < 2 { all.i2t[i * 5 + t] } else { -100.0 };
                assert_eq!(top2.i2t[i * 5 + t], expected, "image {i}, text {t}");
            }
        }
        for t in 0..5 {
            let kept = (0..4).filter(|&i| top2.t2i[t * 4 + i] != -100.0).count();
            assert_eq!(kept, 2, "text {t}");
        }
    }

    #[test]
    fn init_from_keeps_the_pre_trained_encoders_and_adds_cross_attention() {
        let _alone = alone(22);
        let device = CpuDevice::default();
        let vision = VitConfig::new(32, 16, 0, 32, 2, 4);
        let text = BertConfig::new(50, 32, 4, 4, 64, 16).with_pooler(true);
        let (vit, bert) = (vision.init::<Cpu>(&device), text.init::<Cpu>(&device));
        // Draws the lazily initialised parameters now, so that the clones share them.
        let _ = (values(&vit), values(&bert));
        let config = AlbefConfig::new(
            vision,
            text.with_pooler(false)
                .with_cross_attention_from(Some(2))
                .with_encoder_width(Some(32)),
        );
        let albef = config
            .init_from(vit.clone(), bert.clone(), &device)
            .unwrap();
        assert_eq!(
            max_difference(&values(&albef.visual_encoder), &values(&vit)),
            0.0
        );
        let layers = &albef.text_encoder.encoder.layer;
        for (i, (layer, original)) in layers.iter().zip(&bert.encoder.layer).enumerate() {
            assert_eq!(layer.crossattention.is_some(), i >= 2, "layer {i}");
            assert_eq!(
                max_difference(&values(&layer.attention), &values(&original.attention)),
                0.0
            );
        }
        assert!(albef.text_encoder.pooler.is_none());
        // The MLM head reads the pre-trained word embeddings.
        assert_eq!(
            max_difference(
                &values(&albef.text_encoder.embeddings),
                &values(&bert.embeddings)
            ),
            0.0
        );
        let shallow = AlbefConfig::new(VitConfig::new(32, 16, 0, 32, 3, 4), config.text.clone());
        let error = shallow.init_from(vit, bert, &device).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("2 blocks, `vision.depth` says 3"),
            "{error}"
        );
    }
}

/// The authors' annotation files.
mod annotations {
    use std::path::PathBuf;

    use pela_zoo::albef::{Annotations, normalization};
    use pela_zoo::bert::BertTokenizer;
    use pela_zoo::train::TrainingSet;

    /// A folder with two solid-colour images, 40 × 30 and 20 × 20.
    fn images(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("pela-albef-ann-{}-{name}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        image::RgbImage::from_pixel(40, 30, image::Rgb([255, 0, 51]))
            .save(root.join("red.png"))
            .unwrap();
        image::RgbImage::from_pixel(20, 20, image::Rgb([0, 102, 255]))
            .save(root.join("sub/blue.png"))
            .unwrap();
        root
    }

    #[test]
    fn captions_images_and_pairs_are_read_as_the_authors_datasets_read_them() {
        let root = images("read");
        let json = root.join("ann.json");
        std::fs::write(
            &json,
            r#"[{"image": "red.png", "caption": "A RED square, seen from above!"},
                {"image": "sub/blue.png", "caption": ["a blue-ish square", "the  blue one"]}]"#,
        )
        .unwrap();
        let annotations = Annotations::read(&json, &root).unwrap();
        let (texts, matches) = annotations.texts();
        assert_eq!(
            texts,
            [
                "a red square seen from above",
                "a blue ish square",
                "the blue one"
            ]
        );
        assert_eq!(matches.image_texts, vec![vec![0], vec![1, 2]]);
        assert_eq!(matches.text_images, vec![vec![0], vec![1], vec![1]]);

        // Resized to the square, normalised per channel: a solid colour stays that colour.
        let norm = normalization();
        let pixels = annotations.image(0, 8, &norm, None).unwrap();
        assert_eq!(pixels.len(), 3 * 64);
        for (c, value) in [1.0f32, 0.0, 0.2].into_iter().enumerate() {
            let expected = (value - norm.mean[c]) / norm.std[c];
            for p in &pixels[c * 64..(c + 1) * 64] {
                assert!(
                    (p - expected).abs() < 1e-5,
                    "channel {c}: {p} vs {expected}"
                );
            }
        }

        // One training pair a caption.
        let tokenizer_json = std::fs::read(crate::common::tiny_tokenizer(&root)).unwrap();
        let tokenizer = BertTokenizer::from_json(&tokenizer_json, 30).unwrap();
        let pairs = annotations.pairs(&tokenizer, 8, norm).unwrap();
        assert_eq!(TrainingSet::len(&pairs), 3);
        let item = pairs.item(2, None).unwrap();
        assert_eq!(item.input_ids.first(), Some(&1)); // [CLS]
        assert_eq!(item.input_ids.last(), Some(&2)); // [SEP]
        assert_eq!(
            item.image,
            annotations.image(1, 8, &normalization(), None).unwrap()
        );
        let (kept, held_out) = pairs.split(3);
        assert_eq!(
            (TrainingSet::len(&kept), TrainingSet::len(&held_out)),
            (2, 1)
        );
        std::fs::remove_dir_all(root).ok();
    }

    #[test]
    fn a_missing_image_or_a_malformed_entry_is_named() {
        let root = images("errors");
        let json = root.join("ann.json");
        std::fs::write(
            &json,
            r#"[{"image": "red.png", "caption": "x"}, {"image": "gone.jpg", "caption": "y"}]"#,
        )
        .unwrap();
        let error = Annotations::read(&json, &root).unwrap_err().to_string();
        assert!(
            error.contains("`gone.jpg` is not in the image root"),
            "{error}"
        );
        std::fs::write(
            &json,
            r#"[{"image": "red.png", "caption": "x"}, {"image": "red.png"}]"#,
        )
        .unwrap();
        let error = Annotations::read(&json, &root).unwrap_err().to_string();
        assert!(error.contains("entry 1 is not"), "{error}");
        std::fs::remove_dir_all(root).ok();
    }
}
