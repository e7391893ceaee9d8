//! Embedding many texts, and the measures of the MiniLM experiment.

use std::collections::HashMap;

use burn::prelude::*;

use super::{BertTokenizer, SentenceEncoder};
use crate::ZooError;
use crate::text::WordSim353;

/// The sentence embeddings of `texts`, in their order, `batch_size` texts at a time. Texts of
/// similar length are batched together, so that little time goes to padding.
///
/// # Errors
/// A text the tokenizer rejects.
pub fn embed_texts<B: Backend, M: SentenceEncoder<B>>(
    model: &M,
    tokenizer: &BertTokenizer,
    texts: &[&str],
    batch_size: usize,
    device: &B::Device,
) -> Result<Vec<Vec<f32>>, ZooError> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut embeddings = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
        let vectors = model.encode_sentences(tokenizer.encode(&batch, device)?);
        let [rows, width] = vectors.dims();
        let flat: Vec<f32> = vectors
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("embeddings are floats");
        for (row, &i) in chunk.iter().enumerate().take(rows) {
            embeddings[i] = flat[row * width..(row + 1) * width].to_vec();
        }
    }
    Ok(embeddings)
}

/// Embeddings (as [`embed_texts`] gives them) as one `[texts, width]` tensor, one row a text:
/// what [`pela::Sensitivities`] compares.
///
/// ```
/// use pela_zoo::backend::{Cpu, CpuDevice};
///
/// let matrix = pela_zoo::bert::embedding_matrix::<Cpu>(vec![vec![1.0, 2.0], vec![3.0, 4.0]], &CpuDevice::default());
/// assert_eq!(matrix.dims(), [2, 2]);
/// ```
pub fn embedding_matrix<B: Backend>(rows: Vec<Vec<f32>>, device: &B::Device) -> Tensor<B, 2> {
    let shape = [rows.len(), rows.first().map_or(0, Vec::len)];
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    Tensor::from_data(TensorData::new(flat, shape), device)
}

/// The cosine similarity of two vectors (0 when either is zero).
///
/// ```
/// assert!((pela_zoo::bert::cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-7);
/// ```
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// WordSim-353 as the MiniLM model card's reference evaluates a sentence encoder: each word
/// embedded alone (as a one-word sentence), the cosine of each pair, and Spearman's ρ against
/// the human scores.
///
/// # Errors
/// A word the tokenizer rejects.
pub fn wordsim_spearman<B: Backend, M: SentenceEncoder<B>>(
    model: &M,
    tokenizer: &BertTokenizer,
    wordsim: &WordSim353,
    device: &B::Device,
) -> Result<f64, ZooError> {
    Ok(pair_correlations(model, tokenizer, wordsim, device)?.0)
}

/// Spearman's ρ and Pearson's r between the cosine of each pair's embeddings (each distinct
/// text embedded once) and the human scores: how a sentence encoder is scored on WordSim-353
/// or STS-B.
///
/// # Errors
/// A text the tokenizer rejects.
pub fn pair_correlations<B: Backend, M: SentenceEncoder<B>>(
    model: &M,
    tokenizer: &BertTokenizer,
    pairs: &WordSim353,
    device: &B::Device,
) -> Result<(f64, f64), ZooError> {
    let texts = pairs.words();
    let vectors = embed_texts(model, tokenizer, &texts, 128, device)?;
    let index: HashMap<&str, &[f32]> = texts
        .iter()
        .zip(&vectors)
        .map(|(w, v)| (*w, v.as_slice()))
        .collect();
    Ok(pairs.correlations(|a, b| cosine(index[a], index[b])))
}
