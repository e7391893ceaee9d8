// A fifth family as a newcomer writes it, in one file: the book's "Add your own family"
// chapter shows this file from its line 4.

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use pela::{CompressionReport, LayerFeatures, LowRank, PelaObjectiveConfig, RankPlan};
use pela_zoo::family::{Flops, FlopsPer, ImageFamily, ImageShape, new_head};
use pela_zoo::{Family, ZooError};

/// Images, flattened, through one hidden layer to the class logits.
#[derive(Module, LowRank, Debug)]
pub struct Perceptron<B: Backend> {
    hidden: Linear<B>,
    head: Linear<B>,
}

#[pela::twin] // the same forward for the teacher and its student, PerceptronLowRank
impl<B: Backend> LayerFeatures<B> for Perceptron<B> {
    type Input = Tensor<B, 4>;
    type Output = Tensor<B, 2>;

    fn forward_features(&self, images: Tensor<B, 4>) -> (Tensor<B, 2>, Vec<Tensor<B, 3>>) {
        let hidden = self.hidden.forward(images.flatten::<2>(1, 3)).tanh();
        let features = vec![hidden.clone().unsqueeze_dim(1)]; // what L_fd compares
        (self.head.forward(hidden), features)
    }
}

/// The architecture: grey `image_size`² images, `hidden` units, `num_classes` logits.
#[derive(Config, Debug, PartialEq)]
pub struct PerceptronConfig {
    pub image_size: usize,
    pub hidden: usize,
    pub num_classes: usize,
}

impl Family for PerceptronConfig {
    const NAME: &'static str = "Perceptron";
    const HEADER_KEY: &'static str = "mine.perceptron_config";
    const JSON_FIELDS: &'static [&'static str] = &["hidden"];
    type Model<B: Backend> = Perceptron<B>;
    type Student<B: Backend> = PerceptronLowRank<B>;

    fn preset_names() -> Vec<&'static str> {
        vec!["perceptron_digits"]
    }

    fn preset(name: &str) -> Option<Self> {
        (name == "perceptron_digits").then(|| Self::new(8, 256, 10))
    }

    fn from_json(text: &str) -> Result<Self, ZooError> {
        let config: Self = serde_json::from_str(text).map_err(|e| ZooError::InvalidConfig {
            reason: e.to_string(),
        })?;
        Family::validate(&config)?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ZooError> {
        if self.image_size == 0 || self.hidden == 0 || self.num_classes == 0 {
            return Err(ZooError::InvalidConfig {
                reason: "`image_size`, `hidden` and `num_classes` must be at least 1".into(),
            });
        }
        Ok(())
    }

    fn init<B: Backend>(&self, device: &B::Device) -> Perceptron<B> {
        Perceptron {
            hidden: LinearConfig::new(self.image_size * self.image_size, self.hidden).init(device),
            head: LinearConfig::new(self.hidden, self.num_classes).init(device),
        }
    }

    /// A PyTorch checkpoint (`.safetensors` or `.pth`) of the same names, loaded strictly.
    fn load_checkpoint<B: Backend>(
        &self,
        path: &Path,
        device: &B::Device,
    ) -> Result<Perceptron<B>, ZooError> {
        Family::validate(self)?;
        let mut model = Family::init(self, device);
        pela_zoo::checkpoint::load_strict(&mut model, path, &[(r"^model\.", "")])?;
        Ok(model)
    }

    fn pela_plan(&self) -> RankPlan {
        RankPlan::new(2.0).keep_dense("head")
    }

    fn pela_objective(&self) -> pela::PelaObjectiveConfig {
        PelaObjectiveConfig::new()
    }

    fn flops(&self, report: &CompressionReport) -> Flops {
        let rows = |path: &str| self.layer_rows(path) as u64;
        Flops::of_layers(report, rows, 0, 0, FlopsPer::Image)
    }

    /// One row an image through every layer (what `--budget flops=…` weighs parameters by).
    fn layer_rows(&self, _path: &str) -> usize {
        1
    }
}

impl ImageFamily for PerceptronConfig {
    fn image_shape(&self) -> ImageShape {
        ImageShape {
            size: self.image_size,
            channels: 1,
            classes: self.num_classes,
        }
    }

    fn with_num_classes(self, classes: usize) -> Self {
        Self {
            num_classes: classes,
            ..self
        }
    }

    fn with_new_head<B: Backend>(
        mut student: PerceptronLowRank<B>,
        classes: usize,
        device: &B::Device,
    ) -> PerceptronLowRank<B> {
        let [hidden, _] = student.head.weight().dims();
        student.head = new_head(hidden, classes, device);
        student
    }
}
