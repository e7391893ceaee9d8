//! Students as files that describe themselves: the weights in the authors' layout, the
//! architecture in the header.

use std::path::Path;

use burn::prelude::*;

use burn::nn::LinearConfig;
use pela::StudentLinear;

use super::{VitConfig, VitLowRank};
use crate::ZooError;

/// The header key under which the architecture is saved, as JSON.
pub(crate) const CONFIG_KEY: &str = "pela.vit_config";

impl VitConfig {
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
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let device = CpuDevice::default();
    /// let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    /// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan())?;
    /// let file = std::env::temp_dir().join("pela-zoo-doc-student.safetensors");
    /// config.save_student(&student, &file)?;
    ///
    /// let (loaded_config, loaded) = VitConfig::load_student::<Cpu>(&file, &device)?;
    /// assert_eq!(loaded_config, config);
    /// assert_eq!(loaded.blocks[0].mlp.fc1.rank(), student.blocks[0].mlp.fc1.rank());
    /// # std::fs::remove_file(&file).ok();
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn save_student<B: Backend>(
        &self,
        student: &VitLowRank<B>,
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
        student: &VitLowRank<B>,
        path: impl AsRef<Path>,
    ) -> Result<(), ZooError> {
        let config = self.to_string();
        pela::checkpoint::save_dense(student, path, &[(CONFIG_KEY, &config)])?;
        Ok(())
    }

    /// Loads a student saved by [`save_student`](Self::save_student), and its config.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file is unreadable or has no ViT config in its
    /// header (a student saved by other code: load it with [`pela::checkpoint::load_student`]
    /// and the teacher's architecture); [`pela::PelaError::CheckpointMismatch`] when its tensors do
    /// not fit that config.
    pub fn load_student<B: Backend>(
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<(Self, VitLowRank<B>), ZooError> {
        let path = path.as_ref();
        let config: Self = crate::student_file::read_config(path, CONFIG_KEY, "ViT")?;
        config.validate()?;
        let skeleton = config.init::<B>(device);
        let student = pela::checkpoint::load_student(&skeleton, path)?;
        Ok((config, student))
    }
}

impl<B: Backend> VitLowRank<B> {
    /// The student with a new, randomly initialised dense head for `num_classes` classes: the
    /// start of fine-tuning on a downstream set (set the config's `num_classes` to match).
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let device = CpuDevice::default();
    /// let config = VitConfig::new(32, 8, 10, 64, 2, 4);
    /// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan())?;
    /// let student = student.with_new_head(3, &device);
    /// let logits = student.forward(burn::tensor::Tensor::zeros([1, 3, 32, 32], &device));
    /// assert_eq!(logits.dims(), [1, 3]);
    /// # Ok::<(), pela::PelaError>(())
    /// ```
    pub fn with_new_head(mut self, num_classes: usize, device: &B::Device) -> Self {
        let [d_model] = self.norm.gamma.dims();
        self.head = Some(StudentLinear::Dense(
            LinearConfig::new(d_model, num_classes)
                .with_initializer(burn::nn::Initializer::Normal {
                    mean: 0.0,
                    std: 0.02,
                })
                .init(device),
        ));
        self
    }
}
