//! Swin students as files that describe themselves: the weights in the authors' layout, the
//! architecture in the header.

use std::path::Path;

use burn::nn::LinearConfig;
use burn::prelude::*;
use pela::StudentLinear;

use super::{SwinConfig, SwinLowRank};
use crate::ZooError;

/// The header key under which the architecture is saved, as JSON.
pub(crate) const CONFIG_KEY: &str = "pela.swin_config";

impl SwinConfig {
    /// Saves a student of this architecture to `path` (safetensors in the authors' layout, see
    /// [`pela::checkpoint`]) with the config in the file header, so that
    /// [`load_student`](Self::load_student) needs nothing but the file. The write is atomic.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file cannot be written.
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::swin::SwinConfig;
    ///
    /// let device = CpuDevice::default();
    /// let config = SwinConfig::new(32, 4, 4, 10, 16, vec![2, 2], vec![2, 4]);
    /// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan())?;
    /// let file = std::env::temp_dir().join("pela-zoo-doc-swin-student.safetensors");
    /// config.save_student(&student, &file)?;
    ///
    /// let (loaded_config, loaded) = SwinConfig::load_student::<Cpu>(&file, &device)?;
    /// assert_eq!(loaded_config, config);
    /// let fc1 = |s: &pela_zoo::swin::SwinLowRank<Cpu>| s.layers[1].blocks[0].mlp.fc1.rank();
    /// assert_eq!(fc1(&loaded), fc1(&student));
    /// # std::fs::remove_file(&file).ok();
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn save_student<B: Backend>(
        &self,
        student: &SwinLowRank<B>,
        path: impl AsRef<Path>,
    ) -> Result<(), ZooError> {
        let config = self.to_string();
        pela::checkpoint::save_student(student, path, &[(CONFIG_KEY, &config)])?;
        Ok(())
    }

    /// Saves a student of this architecture as a dense timm checkpoint: every factor pair
    /// multiplied out (see [`pela::checkpoint::save_dense`]), loadable with
    /// [`load_checkpoint`](Self::load_checkpoint) and by timm. The write is atomic.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file cannot be written.
    pub fn save_dense<B: Backend>(
        &self,
        student: &SwinLowRank<B>,
        path: impl AsRef<Path>,
    ) -> Result<(), ZooError> {
        let config = self.to_string();
        pela::checkpoint::save_dense(student, path, &[(CONFIG_KEY, &config)])?;
        Ok(())
    }

    /// Loads a student saved by [`save_student`](Self::save_student), and its config.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file is unreadable or has no Swin config in
    /// its header; [`pela::PelaError::CheckpointMismatch`] when its tensors do not fit that
    /// config.
    pub fn load_student<B: Backend>(
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<(Self, SwinLowRank<B>), ZooError> {
        let path = path.as_ref();
        let config: Self = crate::student_file::read_config(path, CONFIG_KEY, "Swin")?;
        config.validate()?;
        let skeleton = config.init::<B>(device);
        let student = pela::checkpoint::load_student(&skeleton, path)?;
        Ok((config, student))
    }
}

impl<B: Backend> SwinLowRank<B> {
    /// The student with a new, randomly initialised dense head for `num_classes` classes: the
    /// start of fine-tuning on a downstream set (set the config's `num_classes` to match).
    pub fn with_new_head(mut self, num_classes: usize, device: &B::Device) -> Self {
        let [d_model, _] = self.head.fc.weight().dims();
        self.head.fc = StudentLinear::Dense(
            LinearConfig::new(d_model, num_classes)
                .with_initializer(burn::nn::Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
        );
        self
    }
}
