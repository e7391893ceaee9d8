//! A model built from Burn's own `TransformerEncoder` compresses, runs, and distils.

mod common;

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module};
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::{Distribution, Tolerance};
use common::{Cpu, seeded};
use pela::{Distill, LayerFeatures, LowRank, PelaObjectiveConfig, RankPlan};

type Train = Autodiff<Cpu>;

const VOCAB: usize = 50;
const D_MODEL: usize = 32;
const D_FF: usize = 64;

#[derive(Module, LowRank, Debug)]
pub struct TextClassifier<B: Backend> {
    embed: Embedding<B>,
    #[low_rank]
    encoder: TransformerEncoder<B>,
    #[low_rank(skip)]
    head: Linear<B>,
}

#[pela::twin]
impl<B: Backend> LayerFeatures<B> for TextClassifier<B> {
    type Input = Tensor<B, 2, Int>;
    type Output = Tensor<B, 2>;

    fn forward_features(&self, tokens: Tensor<B, 2, Int>) -> (Tensor<B, 2>, Vec<Tensor<B, 3>>) {
        let mut x = self.embed.forward(tokens);
        let mut features = Vec::new();
        for layer in self.encoder.layers.iter() {
            x = layer.forward(x, None, None);
            features.push(x.clone());
        }
        let pooled = x.mean_dim(1).squeeze_dim::<2>(1);
        (self.head.forward(pooled), features)
    }
}

fn teacher() -> TextClassifier<Cpu> {
    teacher_of(D_FF, 2)
}

/// A teacher of `d_ff` hidden units in `layers` layers.
fn teacher_of(d_ff: usize, layers: usize) -> TextClassifier<Cpu> {
    let device = Default::default();
    seeded(5, || {
        let teacher = TextClassifier {
            embed: EmbeddingConfig::new(VOCAB, D_MODEL).init(&device),
            encoder: TransformerEncoderConfig::new(D_MODEL, d_ff, 4, layers)
                .with_dropout(0.0)
                .init(&device),
            head: LinearConfig::new(D_MODEL, 3).init(&device),
        };
        let _drawn = teacher.to_low_rank(&RankPlan::new(2.0)); // reads every parameter
        teacher
    })
}

fn tokens<B: Backend>() -> Tensor<B, 2, Int> {
    seeded(6, || {
        Tensor::<B, 2>::random(
            [4, 9],
            Distribution::Uniform(0.0, VOCAB as f64),
            &Default::default(),
        )
        .int()
    })
}

#[test]
fn full_rank_student_matches_burns_encoder() {
    let teacher = teacher();
    let plan = RankPlan::new(2.0)
        .ratio_for("**", 0.01)
        .with_allow_no_shrink(true);
    let student = teacher.to_low_rank(&plan).unwrap();
    assert_eq!(student.encoder.layers[1].mha.value.rank(), Some(D_MODEL));
    let (y_t, f_t) = teacher.forward_features(tokens());
    let (y_s, f_s) = student.forward_features(tokens());
    y_s.into_data()
        .assert_approx_eq::<f32>(&y_t.into_data(), Tolerance::absolute(1e-5));
    for (s, t) in f_s.into_iter().zip(f_t) {
        s.into_data()
            .assert_approx_eq::<f32>(&t.into_data(), Tolerance::absolute(1e-5));
    }
}

#[test]
fn kappa_two_student_compresses_every_encoder_linear() {
    let teacher = teacher();
    let (student, report) = teacher
        .to_low_rank_with_report(&RankPlan::new(2.0))
        .unwrap();
    // Per layer: query, key, value, output (32→32, rank 8) and the feed-forward pair
    // (32→64 and 64→32, rank 10); the skipped head is listed, dense.
    let paths: Vec<_> = report.layers.iter().map(|l| l.path.as_str()).collect();
    assert_eq!(
        paths[..6],
        [
            "encoder.layers.0.mha.query",
            "encoder.layers.0.mha.key",
            "encoder.layers.0.mha.value",
            "encoder.layers.0.mha.output",
            "encoder.layers.0.pwff.linear_inner",
            "encoder.layers.0.pwff.linear_outer",
        ]
    );
    assert_eq!(report.layers.len(), 13);
    let ranks: Vec<_> = report.layers[..6]
        .iter()
        .map(|l| l.decision.rank())
        .collect();
    assert_eq!(
        ranks,
        [Some(8), Some(8), Some(8), Some(8), Some(10), Some(10)]
    );
    assert_eq!(report.totals().params_after, student.num_params());
    assert_eq!(report.totals().params_before, teacher.num_params());

    let (logits, features) = student.forward_features(tokens());
    assert_eq!(logits.dims(), [4, 3]);
    assert_eq!(features.len(), 2);
}

/// Every float parameter of a module, flattened, in visit order.
fn parameters<B: Backend, M: Module<B>>(module: &M) -> Vec<Vec<f32>> {
    struct Collect(Vec<Vec<f32>>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
            self.0
                .push(param.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

#[test]
fn one_distillation_step_lowers_feature_loss_and_trains_only_the_student() {
    let teacher = teacher();
    let student = teacher.to_low_rank(&RankPlan::new(2.0)).unwrap();
    let teacher_before = parameters(&teacher);
    let student_before = parameters(&student);

    let distill =
        Distill::<Train, _>::new(teacher, PelaObjectiveConfig::new().with_beta(1.0).init());
    let mut student = student.train::<Train>();
    let mut optim = AdamWConfig::new().init();

    let out = distill.forward(&student, tokens()).unwrap();
    let fd =
        |terms: &pela::LossTerms<Train>| terms.get("L_fd").unwrap().value.clone().into_scalar();
    let fd_before = fd(&out.terms);
    assert!(out.terms.get("L_rwp").is_some());
    let base = out.output.clone().powi_scalar(2).mean();
    let loss = out.terms.with("L_task", 1.0, base).total();
    let grads = GradientsParams::from_grads(loss.backward(), &student);
    student = optim.step(1e-3, student, grads);

    let fd_after = fd(&distill.forward(&student, tokens()).unwrap().terms);
    assert!(fd_after < fd_before, "L_fd {fd_before} → {fd_after}");

    // The teacher is bit-identical; every student factor moved.
    assert_eq!(parameters(&distill.teacher), teacher_before);
    let student_after = parameters(&student.valid());
    assert_eq!(student_after.len(), student_before.len());
    let changed = student_after
        .iter()
        .zip(student_before.iter())
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        changed > student_before.len() / 2,
        "{changed} of {}",
        student_before.len()
    );
}

#[test]
fn distill_checks_that_the_student_is_the_teachers() {
    let distill = Distill::<Train, _>::new(teacher(), PelaObjectiveConfig::new().init());
    let plan = RankPlan::new(2.0);
    let own = teacher().to_low_rank(&plan).unwrap().train::<Train>();
    distill.check(&own).unwrap();
    // A student of a wider teacher: the first feed-forward layer has another shape.
    let wider = teacher_of(2 * D_FF, 2).to_low_rank(&plan).unwrap();
    let error = distill.check(&wider.train::<Train>()).unwrap_err();
    assert!(
        matches!(&error, pela::PelaError::ShapeMismatch { what, student, teacher }
            if what == "weight of encoder.layers.0.pwff.linear_inner"
                && student == &[D_MODEL, 2 * D_FF] && teacher == &[D_MODEL, D_FF]),
        "{error}"
    );
    // A student of a deeper teacher: its third layer has no counterpart.
    let deeper = teacher_of(D_FF, 3).to_low_rank(&plan).unwrap();
    let error = distill.check(&deeper.train::<Train>()).unwrap_err();
    assert!(
        matches!(&error, pela::PelaError::UnpairedLayer { layer } if layer == "encoder.layers.2.mha.query"),
        "{error}"
    );
}

/// `‖a − b‖ / ‖b‖` over the last block's features.
fn relative_feature_error(student: Vec<Tensor<Cpu, 3>>, teacher: Vec<Tensor<Cpu, 3>>) -> f32 {
    let (s, t) = (
        student.last().unwrap().clone(),
        teacher.last().unwrap().clone(),
    );
    ((s - t.clone()).square().sum().sqrt() / t.square().sum().sqrt()).into_scalar()
}

#[test]
fn data_aware_initialisation_follows_the_teacher_more_closely() {
    let teacher = teacher();
    let batch = |seed| {
        seeded(seed, || {
            Tensor::<Cpu, 2>::random(
                [8, 12],
                Distribution::Uniform(0.0, VOCAB as f64),
                &Default::default(),
            )
            .int()
        })
    };
    // Calibrate through the twin's own forward (the generated layer hooks).
    let calibration = teacher.calibration_twin().unwrap();
    for seed in 100..104 {
        calibration.forward_features(batch(seed));
    }
    let plan = RankPlan::new(4.0);
    let (data_aware, report) = teacher.to_low_rank_data_aware(&plan, &calibration).unwrap();
    let plain = teacher.to_low_rank(&plan).unwrap();

    // Per layer, on the calibration inputs: the data-aware output error is the lower one.
    for layer in report.layers.iter().filter(|l| !l.decision.is_dense()) {
        let e = layer.output_error.unwrap();
        assert!(e.data_aware <= e.plain + 1e-9, "{}: {e:?}", layer.path);
    }
    // On held-out batches, the whole student stays closer to the teacher.
    let held_out = batch(200);
    let (_, t) = teacher.forward_features(held_out.clone());
    let (_, s_plain) = plain.forward_features(held_out.clone());
    let (_, s_aware) = data_aware.forward_features(held_out);
    let (plain_error, aware_error) = (
        relative_feature_error(s_plain, t.clone()),
        relative_feature_error(s_aware, t),
    );
    assert!(
        aware_error < plain_error,
        "data-aware {aware_error} vs plain {plain_error}"
    );
}

#[test]
fn data_aware_needs_a_calibrated_twin() {
    let teacher = teacher();
    let calibration = teacher.calibration_twin().unwrap();
    let err = teacher
        .to_low_rank_data_aware(&RankPlan::new(2.0), &calibration)
        .unwrap_err();
    assert!(err.to_string().contains("calibration batches"), "{err}");
}
