//! Runs that meet trouble lose nothing: an unreadable image stops the run with a checkpoint
//! and its name (or is skipped and counted), a resume with other settings or data is refused
//! before anything in the run folder is rewritten, and a resume on several devices is refused.

use std::sync::Arc;

use crate::common::{alone, scratch};
use burn::train::Interrupter;
use pela_zoo::ZooError;
use pela_zoo::backend::{CpuAutodiff, CpuDevice};
use pela_zoo::data::{ImageBatcher, ImageDataset, ImageFolder, ImageItem, digits};
use pela_zoo::train::{ClassifyTask, Engine, RunDir, TrainOutcome, TrainingConfig, TrainingSet};
use pela_zoo::vit::{Vit, VitConfig};

type Supervised = ClassifyTask<Vit<CpuAutodiff>>;

/// Trains a small ViT of `channels` on `train` (validated on `valid`) into `run`.
fn train<S: TrainingSet<ImageItem> + ImageDataset + 'static>(
    engine: Engine<CpuAutodiff>,
    channels: usize,
    (train, valid): (S, S),
) -> Result<TrainOutcome<CpuAutodiff, Supervised>, ZooError> {
    let model = VitConfig::new(8, 2, 10, 32, 2, 4)
        .with_channels(channels)
        .init::<CpuAutodiff>(&CpuDevice::default());
    let batcher = ImageBatcher::new(&train);
    engine.fit(
        ClassifyTask::supervised(0.1),
        model,
        Arc::new(train) as Arc<dyn TrainingSet<ImageItem>>,
        Arc::new(valid) as Arc<dyn TrainingSet<ImageItem>>,
        batcher,
    )
}

/// An image folder of two classes of six 8 × 8 PNGs each; with `broken`, the third image of
/// the first class is not an image.
fn folder(name: &str, broken: bool) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("pela-zoo-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    for (class, shade) in [("a", 40u8), ("b", 200u8)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..6u8 {
            let image = image::RgbImage::from_fn(8, 8, |x, y| {
                image::Rgb([shade, (x as u8) * 16 + i, (y as u8) * 16])
            });
            image
                .save(root.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    if broken {
        std::fs::write(root.join("a/2.png"), b"not a PNG at all").unwrap();
    }
    root
}

fn settings() -> TrainingConfig {
    TrainingConfig::new()
        .with_epochs(2)
        .with_batch_size(4)
        .with_workers(0)
}

#[test]
fn an_unreadable_image_stops_the_run_with_a_checkpoint_and_its_name() {
    let _alone = alone(5);
    let run = scratch("unreadable-stop");
    let (broken, clean) = (folder("broken", true), folder("clean", false));
    let sets = (
        ImageFolder::new(&broken, 8).unwrap(),
        ImageFolder::new(&clean, 8).unwrap(),
    );
    let error = train(Engine::new(settings(), run.clone()), 3, sets)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(error, ZooError::UnreadableItem { count: 1, .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("2.png") && message.contains("cannot decode"),
        "{message}"
    );
    assert!(message.contains("--resume"), "{message}");
    assert!(run.has_checkpoint(), "the steps before are kept");
    // Skipped and counted instead, the same data trains both epochs.
    let run = scratch("unreadable-skip");
    let sets = (
        ImageFolder::new(&broken, 8).unwrap(),
        ImageFolder::new(&clean, 8).unwrap(),
    );
    let outcome = train(
        Engine::new(settings(), run.clone()).skip_unreadable(true),
        3,
        sets,
    )
    .unwrap();
    assert_eq!(outcome.history.len(), 2);
    assert_eq!(outcome.history[1].unreadable_items, 2, "one an epoch");
    assert!(
        outcome.history[1]
            .summary()
            .contains("2 unreadable items skipped")
    );
    for path in [broken, clean] {
        std::fs::remove_dir_all(path).ok();
    }
}

/// A run of the digits stopped at its first optimizer step, and its folder.
fn stopped_run(name: &str) -> RunDir {
    let run = scratch(name);
    let interrupter = Interrupter::new();
    interrupter.stop(Some("test"));
    let (train_set, test_set) = digits();
    let outcome = train(
        Engine::new(settings(), run.clone()).interrupter(interrupter),
        1,
        (train_set.truncated(32), test_set.truncated(8)),
    )
    .unwrap();
    assert!(outcome.interrupted && run.has_checkpoint());
    run
}

#[test]
fn a_resume_with_other_settings_or_data_is_refused_and_rewrites_nothing() {
    let _alone = alone(6);
    let run = stopped_run("mismatch");
    let saved = std::fs::read_to_string(run.root().join("config.json")).unwrap();
    let (train_set, test_set) = digits();
    let error = train(
        Engine::new(settings().with_batch_size(8), run.clone()).resume(true),
        1,
        (
            train_set.clone().truncated(32),
            test_set.clone().truncated(8),
        ),
    )
    .map(|_| ())
    .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ZooError::ResumeMismatch { .. }),
        "{message}"
    );
    assert!(
        message.contains("config.json: `batch_size`: 4 → 8"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(run.root().join("config.json")).unwrap(),
        saved
    );
    // `--limit` of another size: the data position would be wrong.
    let error = train(
        Engine::new(settings(), run.clone()).resume(true),
        1,
        (
            train_set.clone().truncated(40),
            test_set.clone().truncated(8),
        ),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("data.json: `training.items`: 32 → 40"),
        "{error}"
    );
    // The data-loading threads may change; the same run resumes.
    let outcome = train(
        Engine::new(settings().with_workers(1), run.clone()).resume(true),
        1,
        (train_set.truncated(32), test_set.truncated(8)),
    )
    .unwrap();
    assert_eq!(outcome.history.len(), 2);
    std::fs::remove_dir_all(run.root()).ok();
}

#[test]
fn a_resume_on_several_devices_is_refused_before_training() {
    let _alone = alone(7);
    let run = stopped_run("several");
    let (train_set, test_set) = digits();
    let error = train(
        Engine::new(settings(), run.clone())
            .resume(true)
            .devices(vec![CpuDevice::default(); 2]),
        1,
        (train_set.truncated(32), test_set.truncated(8)),
    )
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("a run on 2 devices cannot be resumed"),
        "{error}"
    );
    std::fs::remove_dir_all(run.root()).ok();
}
