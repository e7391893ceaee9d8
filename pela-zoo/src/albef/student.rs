//! ALBEF students as files that describe themselves: the weights in the authors' layout,
//! the architecture in the header.

use std::path::Path;

use burn::prelude::*;

use super::{AlbefConfig, AlbefLowRank};
use crate::ZooError;

/// The header key under which the architecture is saved, as JSON.
pub(crate) const CONFIG_KEY: &str = "pela.albef_config";

impl AlbefConfig {
    /// Saves a student of this architecture to `path` (safetensors in the authors' layout, see
    /// [`pela::checkpoint`]) with the config in the file header, so that
    /// [`load_student`](Self::load_student) needs nothing but the file. The write is atomic.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file cannot be written.
    ///
    /// ```
    /// use pela::LowRank;
    /// use pela_zoo::albef::AlbefConfig;
    /// use pela_zoo::backend::{Cpu, CpuDevice};
    /// use pela_zoo::bert::BertConfig;
    /// use pela_zoo::vit::VitConfig;
    ///
    /// let device = CpuDevice::default();
    /// let config = AlbefConfig::new(
    ///     VitConfig::new(32, 16, 0, 64, 2, 4),
    ///     BertConfig::new(100, 64, 4, 4, 128, 16).with_cross_attention_from(Some(2)),
    /// );
    /// let student = config.init::<Cpu>(&device).to_low_rank(&config.pela_plan())?;
    /// let file = std::env::temp_dir().join("pela-zoo-doc-albef-student.safetensors");
    /// config.save_student(&student, &file)?;
    /// let (loaded_config, _student) = AlbefConfig::load_student::<Cpu>(&file, &device)?;
    /// assert_eq!(loaded_config, config);
    /// # std::fs::remove_file(&file).ok();
    /// # Ok::<(), pela_zoo::ZooError>(())
    /// ```
    pub fn save_student<B: Backend>(
        &self,
        student: &AlbefLowRank<B>,
        path: impl AsRef<Path>,
    ) -> Result<(), ZooError> {
        let config = self.to_string();
        pela::checkpoint::save_student(student, path, &[(CONFIG_KEY, &config)])?;
        Ok(())
    }

    /// Saves a student as a dense ALBEF: every factor pair multiplied out (see
    /// [`pela::checkpoint::save_dense`]), under this crate's paths (`model.` dropped), with
    /// the config in the header. The write is atomic.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file cannot be written.
    pub fn save_dense<B: Backend>(
        &self,
        student: &AlbefLowRank<B>,
        path: impl AsRef<Path>,
    ) -> Result<(), ZooError> {
        let config = self.to_string();
        pela::checkpoint::save_dense(student, path, &[(CONFIG_KEY, &config)])?;
        Ok(())
    }

    /// Loads a student saved by [`save_student`](Self::save_student), and its config.
    ///
    /// # Errors
    /// [`pela::PelaError::Checkpoint`] when the file is unreadable or has no ALBEF config in
    /// its header; [`pela::PelaError::CheckpointMismatch`] when its tensors do not fit that
    /// config.
    pub fn load_student<B: Backend>(
        path: impl AsRef<Path>,
        device: &B::Device,
    ) -> Result<(Self, AlbefLowRank<B>), ZooError> {
        let path = path.as_ref();
        let config: Self = crate::student_file::read_config(path, CONFIG_KEY, "ALBEF")?;
        config.validate()?;
        let skeleton = config.init::<B>(device);
        let student = pela::checkpoint::load_student(&skeleton, path)?;
        Ok((config, student))
    }
}
