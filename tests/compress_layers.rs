//! End to end through the public API: a plan decides, `from_linear` factorises, the report
//! counts — and the counts agree with Burn's own `num_params`.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
mod common;
use burn::tensor::{Distribution, Tensor, Tolerance};
use pela::{CompressionReport, LayerDecision, LayerReport, LowRankLinear, RankPlan};

type B = common::Cpu;

/// A stack of layers with the shapes of a small Transformer block's linears.
fn layers() -> Vec<(String, Linear<B>)> {
    let device = Default::default();
    let shapes = [
        ("attn.qkv", 96, 288),
        ("attn.proj", 96, 96),
        ("mlp.fc1", 96, 384),
        ("mlp.fc2", 384, 96),
        ("head", 96, 5),
    ];
    common::seeded(2024, || {
        shapes
            .into_iter()
            .map(|(name, d_in, d_out)| {
                let layer = LinearConfig::new(d_in, d_out).init(&device);
                let _drawn = (layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
                (name.to_string(), layer)
            })
            .collect()
    })
}

/// The layers of [`layers`], each with its student (`None`: kept dense), and the report.
struct Compressed {
    teachers: Vec<Linear<B>>,
    students: Vec<Option<LowRankLinear<B>>>,
    report: CompressionReport,
}

fn compress(plan: &RankPlan) -> Compressed {
    let mut report = CompressionReport::default();
    let mut teachers = Vec::new();
    let mut students = Vec::new();
    for (path, linear) in layers() {
        let [d_in, d_out] = linear.weight.dims();
        match plan.decide(&path, d_in, d_out).unwrap() {
            LayerDecision::LowRank { rank } => {
                let (student, error) = LowRankLinear::from_linear(&path, &linear, rank).unwrap();
                report.push(LayerReport::low_rank(&path, d_in, d_out, true, rank, error));
                students.push(Some(student));
            }
            LayerDecision::Dense(reason) => {
                report.push(LayerReport::dense(&path, d_in, d_out, true, reason));
                students.push(None);
            }
        }
        teachers.push(linear);
    }
    Compressed {
        teachers,
        students,
        report,
    }
}

#[test]
fn report_counts_agree_with_burn_num_params() {
    let plan = RankPlan::new(2.0).with_min_outputs(Some(10));
    let Compressed {
        teachers,
        students,
        report,
    } = compress(&plan);
    let before: usize = teachers.iter().map(Module::num_params).sum();
    let after: usize = teachers
        .iter()
        .zip(students.iter())
        .map(|(t, s)| s.as_ref().map_or(t.num_params(), Module::num_params))
        .sum();
    let totals = report.totals();
    assert_eq!(totals.params_before, before);
    assert_eq!(totals.params_after, after);
    assert_eq!((totals.low_rank_layers, totals.dense_layers), (4, 1));
    // κ = 2 halves the factorised weights, up to the floor of the rank rule.
    let ranks: Vec<_> = report.layers.iter().map(|l| l.decision.rank()).collect();
    assert_eq!(ranks, vec![Some(36), Some(24), Some(38), Some(38), None]);
}

#[test]
fn full_rank_students_reproduce_the_teachers() {
    let plan = RankPlan::new(2.0)
        .rank_for("attn.qkv", 96)
        .rank_for("attn.proj", 96)
        .rank_for("mlp.*", 96)
        .keep_dense("head")
        .with_allow_no_shrink(true);
    let Compressed {
        teachers,
        students,
        report,
    } = compress(&plan);
    let device = Default::default();
    for ((teacher, student), layer) in teachers.iter().zip(students.iter()).zip(&report.layers) {
        let Some(student) = student else { continue };
        let [d_in, _] = teacher.weight.dims();
        let x = common::seeded(7, || {
            Tensor::<B, 3>::random([2, 7, d_in], Distribution::Normal(0.0, 1.0), &device)
        });
        student
            .forward(x.clone())
            .into_data()
            .assert_approx_eq::<f32>(&teacher.forward(x).into_data(), Tolerance::absolute(1e-4));
        assert!(layer.error.unwrap().relative < 1e-5, "{}", layer.path);
    }
}
