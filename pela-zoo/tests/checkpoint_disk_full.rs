//! A checkpoint that cannot be written (here: a file-size limit, as a full disk would) stops
//! the run with an error naming it, keeps the previous checkpoint loadable, and leaves nothing
//! of the failed one; the run then resumes once there is room.
//!
//! Alone in its test binary: the file-size limit holds for the whole process.

use std::sync::Arc;

mod common;

use burn::train::Interrupter;
use common::{alone, scratch};
use pela_zoo::backend::{CpuAutodiff, CpuDevice};
use pela_zoo::data::{ImageBatcher, digits};
use pela_zoo::train::{ClassifyTask, Engine, RunDir, TrainingConfig, TrainingSet};
use pela_zoo::vit::VitConfig;

fn fit(engine: Engine<CpuAutodiff>) -> Result<bool, pela_zoo::ZooError> {
    let (train, test) = digits();
    let (train, test) = (train.truncated(32), test.truncated(8));
    let model = VitConfig::new(8, 2, 10, 32, 2, 4)
        .with_channels(1)
        .init::<CpuAutodiff>(&CpuDevice::default());
    let batcher = ImageBatcher::new(&train);
    engine
        .fit(
            ClassifyTask::supervised(0.1),
            model,
            Arc::new(train) as Arc<dyn TrainingSet<_>>,
            Arc::new(test) as Arc<dyn TrainingSet<_>>,
            batcher,
        )
        .map(|outcome| outcome.interrupted)
}

/// Limits the size of any file this process writes to `bytes` (`None`: no limit); writes past
/// it fail with `EFBIG` instead of killing the process.
fn limit_file_size(bytes: Option<u64>) {
    let limit = libc::rlimit {
        rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain system calls on this process, with valid arguments.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

fn files(run: &RunDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.checkpoint())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_checkpoint_write_keeps_the_previous_checkpoint() {
    let _alone = alone(8);
    let run = scratch("disk-full");
    let settings = TrainingConfig::new()
        .with_epochs(2)
        .with_batch_size(4)
        .with_workers(0);
    // Checkpoint 1, at the first optimizer step.
    let interrupter = Interrupter::new();
    interrupter.stop(Some("test"));
    assert!(fit(Engine::new(settings.clone(), run.clone()).interrupter(interrupter)).unwrap());
    let before = files(&run);
    assert!(before.contains(&"model-1.mpk".to_string()), "{before:?}");

    // Resumed with room for no model file: checkpoint 2 (the end of epoch 1) fails.
    limit_file_size(Some(16 * 1024));
    let error = fit(Engine::new(settings.clone(), run.clone()).resume(true))
        .unwrap_err()
        .to_string();
    limit_file_size(None);
    assert!(error.contains("cannot write checkpoint 2"), "{error}");
    assert!(error.contains("the previous checkpoint (1"), "{error}");
    assert_eq!(files(&run), before, "nothing of checkpoint 2 is left");
    assert_eq!(run.state().unwrap().unwrap().checkpoint, 1);

    // With room again, the run resumes from checkpoint 1 and ends.
    assert!(!fit(Engine::new(settings, run.clone()).resume(true)).unwrap());
    assert_eq!(run.state().unwrap().unwrap().epoch, 2);
    std::fs::remove_dir_all(run.root()).ok();
}
