//! Turning flags into the library's inputs, with errors that name the flag.

use std::path::Path;

use anyhow::{Context, Result, bail};
use pela::RankPlan;
use pela_zoo::data::{ImageDataset, ImageFolder, InMemoryImages, digits, read_idx};
use pela_zoo::zoo::Architecture;

use crate::args::{DataArgs, PlanArgs};

/// Where Debian's `dataset-fashion-mnist` installs the IDX files.
const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// `--model`: a preset name or a JSON config file. In the file, the fields with a default
/// (`mlp_ratio`, `channels`, `qkv_bias`, `layer_norm_eps`, …) may be left out.
pub fn model(spec: &str) -> Result<Architecture> {
    if !spec.ends_with(".json") {
        return Architecture::preset(spec)
            .with_context(|| "--model: use a timm name or a config .json");
    }
    let context = || format!("--model `{spec}`: cannot read the ViT or Swin config");
    let text = std::fs::read_to_string(spec).with_context(context)?;
    Architecture::from_json(&text).with_context(context)
}

/// The authors' plan for `config`, with the `--ratio`, `--keep-dense` and `--rank-for` flags.
pub fn plan(config: &Architecture, args: &PlanArgs) -> Result<RankPlan> {
    let mut plan = config.pela_plan();
    if let Some(ratio) = args.ratio {
        plan.ratio = ratio;
    }
    for pattern in &args.keep_dense {
        plan = plan.keep_dense(pattern.clone());
    }
    for spec in &args.rank_for {
        let Some((pattern, rank)) = spec.rsplit_once('=') else {
            bail!("--rank-for `{spec}`: expected PATTERN=RANK, e.g. `blocks.*.attn.qkv=256`");
        };
        let rank: usize = rank
            .parse()
            .with_context(|| format!("--rank-for `{spec}`: `{rank}` is not a rank"))?;
        plan = plan.rank_for(pattern, rank);
    }
    plan.validate().context("--ratio / --rank-for")?;
    Ok(plan)
}

/// The training and validation sets of `--data`.
pub fn data(
    args: &DataArgs,
    image_size: usize,
) -> Result<(Box<dyn ImageDataset>, Box<dyn ImageDataset>)> {
    let limit = |set: InMemoryImages| match args.limit {
        Some(n) => set.truncated(n),
        None => set,
    };
    let (train, valid): (Box<dyn ImageDataset>, Box<dyn ImageDataset>) =
        match args.data.split_once('=') {
            None if args.data == "digits" => {
                let (train, test) = digits();
                (Box::new(limit(train)), Box::new(test))
            }
            None if args.data == "fashion-mnist" => idx(Path::new(FASHION_MNIST), &limit)?,
            Some(("fashion-mnist" | "idx", dir)) => idx(Path::new(dir), &limit)?,
            Some(("folder", dir)) => {
                let root = Path::new(dir);
                let train = ImageFolder::new(root.join("train"), image_size)
                    .with_context(|| format!("--data folder={dir}: the training images"))?;
                let valid = ImageFolder::new(root.join("val"), image_size)
                    .with_context(|| format!("--data folder={dir}: the validation images"))?;
                (Box::new(train), Box::new(valid))
            }
            _ => bail!(
                "--data `{}`: expected `digits`, `fashion-mnist`, `idx=DIR` or `folder=DIR`",
                args.data
            ),
        };
    Ok((train, valid))
}

fn idx(
    dir: &Path,
    limit: &dyn Fn(InMemoryImages) -> InMemoryImages,
) -> Result<(Box<dyn ImageDataset>, Box<dyn ImageDataset>)> {
    let train = read_idx(dir, "train").context("--data: the training split")?;
    let test = read_idx(dir, "t10k")
        .context("--data: the test split")?
        .with_normalization(train.normalization());
    Ok((Box::new(limit(train)), Box::new(test)))
}

/// Fails now, before any long work, when `path` cannot be written: its folder is missing or
/// not writable, or `path` is a folder.
pub fn check_output(path: &Path, flag: &str) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{flag} {}: is a folder; give a file path such as {}",
            path.display(),
            path.join("student.safetensors").display()
        );
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        bail!(
            "{flag} {}: the folder {} does not exist; create it first (mkdir -p {}) or choose \
             another path",
            path.display(),
            folder.display(),
            folder.display()
        );
    }
    let probe = folder.join(format!(".pela-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| {
        format!(
            "{flag} {}: cannot write in the folder {}",
            path.display(),
            folder.display()
        )
    })?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// Checks that images of `data` fit the model of `config`.
pub fn check_fits(config: &Architecture, data: &dyn ImageDataset, flag: &str) -> Result<()> {
    let [channels, height, width] = data.shape();
    if channels != config.channels()
        || height != config.image_size()
        || width != config.image_size()
    {
        bail!(
            "{flag}: the model takes {}×{}×{} images, the data has {channels}×{height}×{width}; \
             choose a matching --model (a config .json sets `channels` and `image_size`)",
            config.channels(),
            config.image_size(),
            config.image_size()
        );
    }
    Ok(())
}

/// Checks that the model's head covers the dataset's classes.
pub fn check_classes(config: &Architecture, data: &dyn ImageDataset) -> Result<()> {
    let classes = data.classes().len();
    if config.num_classes() < classes {
        bail!(
            "--data has {classes} classes but the model's head only {}; distil on data of the \
             teacher's classes, or fine-tune the student (`pela finetune`) for a new head",
            config.num_classes()
        );
    }
    Ok(())
}
