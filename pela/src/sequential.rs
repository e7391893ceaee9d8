//! The sequential data-aware initialisation: the layers are factorised one after another, in
//! model order, each on the inputs the *compressed* earlier layers give it, to fit the
//! teacher's outputs ([`factorize_sequential`]). The one-shot data-aware initialisation fits
//! every layer on the teacher's inputs, so the errors of earlier layers compound; here each
//! layer compensates for the ones before it (SVD-LLM's layer-wise update, Wang et al. 2024).
//!
//! The library does not know a model's forward, so the caller's `calibrate` runs it: it is
//! handed a twin whose layer being fitted records its inputs, and must feed it the same
//! calibration batches in the same order on every call. For the `n` layers to compress it is
//! called `2n − 1` times: for each layer after the first, once on the teacher and once on the
//! student compressed so far (the first layer's inputs are the teacher's). The layers are taken
//! in the order the model declares them (its fields), which is the forward order of the usual
//! models; a layer declared before one that precedes it in the forward is fitted on inputs that
//! change afterwards.

use std::collections::HashMap;
use std::time::Instant;

use burn::nn::Linear;
use burn::tensor::backend::Backend;

use crate::conversion::{Conversion, Fitted, Mode, ModulePath, NoProgress, Staged};
use crate::{
    CompressionReport, InputGram, LayerReport, LowRank, LowRankStudent, PairedGrams, PelaError,
    Progress, RankPlan, StudentLinear, factorize_sequential,
};

/// Converts `model` sequentially (see the module's documentation and
/// [`LowRank::to_low_rank_sequential`]).
pub(crate) fn convert_sequential<B, M, E>(
    model: &M,
    plan: &RankPlan,
    progress: &dyn Progress,
    mut calibrate: impl FnMut(&M::Twin) -> Result<(), E>,
) -> Result<(M::Twin, CompressionReport), E>
where
    B: Backend,
    M: LowRank<B>,
    E: From<PelaError>,
{
    // Validates the plan, and says which layers become low-rank at which rank, in model order.
    let preview = model.preview(plan)?;
    let mut teachers: HashMap<String, &Linear<B>> = HashMap::new();
    model.visit_linears(&mut ModulePath::default(), &mut |path, linear| {
        teachers.insert(path.to_string(), linear);
    });
    let mut done = HashMap::new();
    for layer in &preview.layers {
        let Some(rank) = layer.decision.rank() else {
            continue;
        };
        let started = Instant::now();
        let path = layer.path.as_str();
        let first = done.is_empty();
        // The student's inputs to this layer, through the layers fitted so far.
        let (student, recorder, staged) = stage(model, plan, done, path)?;
        calibrate(&student)?;
        drop(student);
        done = staged.done;
        let grams = if first {
            // Nothing is compressed yet: the student's inputs are the teacher's.
            let gram = recorder.matrix().ok_or_else(|| PelaError::NotCalibrated {
                layers: vec![path.to_string()],
            })?;
            PairedGrams::unpaired(gram)
        } else {
            let student_rows = recorder.take_rows();
            let (teacher, recorder, _) = stage(model, plan, HashMap::new(), path)?;
            calibrate(&teacher)?;
            drop(teacher);
            PairedGrams::from_rows(path, &recorder.take_rows(), &student_rows)?
        };
        let linear = teachers[path];
        let [d_input, d_output] = linear.weight.dims();
        let (factors, output) = factorize_sequential(path, linear.weight.val(), rank, &grams)?;
        let report = LayerReport::low_rank(
            path,
            d_input,
            d_output,
            linear.bias.is_some(),
            rank,
            factors.error,
        )
        .with_output_error(output);
        done.insert(
            path.to_string(),
            (factors.u.into_data(), factors.v.into_data(), report),
        );
        progress.on_layer_factorised(path, rank, started.elapsed().as_secs_f64());
    }
    let finished = Staged {
        done,
        target: None,
        finished: true,
    };
    Ok(crate::twin::convert_model(
        model,
        Conversion::new(plan, &NoProgress).with_mode(Mode::Staged(finished)),
    )?)
}

/// A twin with the layers in `done` low-rank, `target` recording its inputs row by row and
/// every other layer dense; `done` comes back in the [`Staged`].
fn stage<B: Backend, M: LowRank<B>>(
    model: &M,
    plan: &RankPlan,
    done: Fitted,
    target: &str,
) -> Result<(M::Twin, InputGram, Staged), PelaError> {
    let staged = Staged {
        done,
        target: Some(target.to_string()),
        finished: false,
    };
    let mut cx = Conversion::new(plan, &NoProgress).with_mode(Mode::Staged(staged));
    let twin = model.convert(&mut cx, None)?;
    let Mode::Staged(staged) = cx.mode else {
        unreachable!("a conversion keeps its mode")
    };
    let mut recorder = None;
    twin.visit_student_linears(&mut ModulePath::default(), &mut |path, layer| {
        if let (true, StudentLinear::Calibrating(calibrating)) = (path == target, layer) {
            recorder = Some(calibrating.inputs.clone());
        }
    });
    let recorder = recorder.ok_or_else(|| PelaError::UnknownLayers {
        layers: vec![target.to_string()],
        known: Vec::new(),
    })?;
    Ok((twin, recorder, staged))
}
