//! `(x·U)·V + b`, a factor pair's layer, in blocks of rows that keep `x·U` in the core's cache.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn_flex::FlexTensor;

use super::flex::{Sorted, fill_rows, filled, from_flex, values};
use super::linear::linear;
use super::matrix::{Matrix, PARALLEL_THRESHOLD, multiply_into};

/// About the rows of a block. `gemm` on one core runs faster the more rows it has, and a
/// block's `x·U` (here at most about 2048 × r values, 2.5 MB at DeiT-Base's r = 307) should
/// stay in that core's cache between the two products. Timed at the zoo's shapes (DeiT-Base at
/// batch 1 and 8, Swin-B's stages at batch 8), blocks of about 1024 rows were the fastest or
/// within the noise of it, 128 rows 5–40 % slower.
const ROWS_PER_BLOCK: usize = 1024;

/// `(input · first) · second + bias`: the layer of a factor pair (a
/// [`LowRankLinear`](crate::LowRankLinear)), on any backend. On `burn-flex` (`f32`, no
/// autodiff) the rows are cut into blocks that run in parallel, each through both products
/// on one core, so that the thin intermediate `x·U` of a block never leaves that core's cache
/// and the cores do not wait for each other between the two products. Under
/// `Autodiff<Flex>` and on every other backend it is two [`linear`]s.
///
/// Why: as two products on all cores, the second starting when the first has finished, the
/// thin products of a factor pair (inner sizes `r` of 42–307) split poorly between the cores.
/// Timed alone on 2 cores, DeiT-Base's four factor pairs of a block at batch 1 took 7.0 ms
/// that way and 5.6 ms in blocks (its `fc2` 2.7 → 1.8 ms); at batch 8 and in Swin-B's
/// stages the blocks are 0–10 % faster.
///
/// # Shapes
/// - input: `[..., d_input]`; first: `[d_input, r]`; second: `[r, d_output]` (any strides,
///   e.g. a transposed factor); bias: `[d_output]`
/// - output: `[..., d_output]`
///
/// ```
/// use burn::prelude::*;
///
/// type B = burn_flex::Flex;
/// let device = Default::default();
/// let x = Tensor::<B, 3>::ones([2, 3, 4], &device);
/// let u = Tensor::<B, 2>::ones([4, 2], &device);
/// let v = Tensor::<B, 2>::ones([2, 5], &device);
/// let b = Tensor::<B, 1>::from_floats([0.0, 1.0, 2.0, 3.0, 4.0], &device);
/// let y = pela::ops::low_rank_linear(x, u, v, Some(b));
/// assert_eq!(y.dims(), [2, 3, 5]);
/// // Each hidden value is 4 (four ones), each output 2 · 4 plus its bias.
/// let row: Vec<f32> = y.narrow(0, 0, 1).narrow(1, 0, 1).into_data().to_vec().unwrap();
/// assert_eq!(row, [8.0, 9.0, 10.0, 11.0, 12.0]);
/// ```
pub fn low_rank_linear<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    first: Tensor<B, 2>,
    second: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    let dims = input.dims();
    let ([d_input, rank], [second_rows, d_output]) = (first.dims(), second.dims());
    let fits = D >= 2
        && dims[D - 1] == d_input
        && second_rows == rank
        && bias.as_ref().is_none_or(|b| b.dims() == [d_output]);
    if !fits {
        // Burn's ops report the mismatch.
        return linear(linear(input, first, None), second, bias);
    }
    let rows = dims[..D - 1].iter().product::<usize>();
    let (x, u, v) = (
        Sorted::of(input.reshape([rows, d_input])),
        Sorted::of(first),
        Sorted::of(second),
    );
    let b = bias.map(Sorted::of);
    let output = match (
        x.as_flex(),
        u.as_flex(),
        v.as_flex(),
        Sorted::optional_flex(&b),
    ) {
        (Some(x), Some(u), Some(v), Some(b)) => in_blocks(x, u, v, b),
        _ => None,
    };
    let output: Tensor<B, 2> = match output {
        Some(output) => from_flex(output),
        None => linear(
            linear(x.restore(), u.restore(), None),
            v.restore(),
            b.map(Sorted::restore),
        ),
    };
    let mut out_dims = dims;
    out_dims[D - 1] = d_output;
    output.reshape(out_dims)
}

/// `(x · u) · v + b` of 2-D `burn-flex` tensors, block of rows by block; `None` for a layout
/// `gemm` cannot read (a negative stride) or an empty product.
fn in_blocks(
    x: &FlexTensor,
    u: &FlexTensor,
    v: &FlexTensor,
    bias: Option<&FlexTensor>,
) -> Option<FlexTensor> {
    let (x, u, v) = (Matrix::of(x)?, Matrix::of(u)?, Matrix::of(v)?);
    let (m, k, r, n) = (x.rows, x.cols, u.cols, v.cols);
    if m == 0 || k == 0 || r == 0 || n == 0 {
        return None;
    }
    let bias = bias.map(|b| b.clone().to_contiguous());
    let bias_values = bias.as_ref().map(values);
    let block = rows_per_block(m, r * (k + n), rayon::current_num_threads());
    let output = filled([m, n].into(), block * n, |task, out| {
        let rows = out.len() / n;
        let x = x.rows(task * block, rows);
        let mut hidden = Vec::<f32>::with_capacity(rows * r);
        let hidden_out = &mut hidden.spare_capacity_mut()[..rows * r];
        multiply_into(hidden_out, false, x, u, false);
        // SAFETY: `multiply_into` wrote all rows × r elements.
        unsafe { hidden.set_len(rows * r) };
        if let Some(bias) = bias_values {
            fill_rows(bias, out);
        }
        let hidden = Matrix::row_major(&hidden, rows, r);
        multiply_into(out, bias_values.is_some(), hidden, v, false);
    });
    Some(output)
}

/// The rows of each block for `m` rows costing `work_per_row` multiply-adds each, on
/// `threads` cores: all of them when the product is too small to share, else about
/// [`ROWS_PER_BLOCK`], in blocks of equal size, as many as a multiple of the cores (so that
/// few blocks do not leave a core a last one to run alone).
fn rows_per_block(m: usize, work_per_row: usize, threads: usize) -> usize {
    if threads <= 1 || m.saturating_mul(work_per_row) < PARALLEL_THRESHOLD {
        return m;
    }
    let blocks = (m / ROWS_PER_BLOCK).max(1).div_ceil(threads) * threads;
    m.div_ceil(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::seeded_pair as pair;
    use burn::tensor::Tolerance;

    #[test]
    fn the_pair_is_two_of_burns_linears() {
        // One block on the calling thread, six blocks and a shorter last one, the batch-1
        // shape of DeiT's projection (one block per core); with and without a bias, a
        // transposed second factor (a `LowRankLinear`'s `Vᵀ`) and a 2-D input.
        for (rows, d_in, rank, d_out, seed) in [
            (3, 4, 2, 5, 1),
            (6 * 1024 + 1, 128, 42, 384, 2),
            (197, 768, 192, 768, 3),
        ] {
            let (x, x_ref) = pair([rows, d_in], seed);
            let (u, u_ref) = pair([d_in, rank], seed + 10);
            let (v, v_ref) = pair([d_out, rank], seed + 20);
            let (b, b_ref) = pair([d_out], seed + 30);
            let (v, v_ref) = (v.transpose(), v_ref.transpose());
            let reference = |bias| {
                let hidden = burn::tensor::module::linear(x_ref.clone(), u_ref.clone(), None);
                burn::tensor::module::linear(hidden, v_ref.clone(), bias).into_data()
            };
            // Sums of up to 768 products of normal values, then of 192: up to about 400.
            let tolerance = Tolerance::rel_abs(1e-5, 2e-2);
            low_rank_linear(x.clone(), u.clone(), v.clone(), Some(b))
                .into_data()
                .assert_approx_eq::<f32>(&reference(Some(b_ref)), tolerance);
            low_rank_linear(x.clone().unsqueeze::<3>(), u, v, None)
                .squeeze::<2>()
                .into_data()
                .assert_approx_eq::<f32>(&reference(None), tolerance);
        }
    }

    #[test]
    fn blocks_are_equal_and_fill_every_core() {
        // Too small to share: one block.
        assert_eq!(rows_per_block(10, 100, 2), 10);
        // DeiT-Base's batch 1 on two cores: one block each.
        assert_eq!(rows_per_block(197, 768 * 2 * 192, 2), 99);
        // 3 × 1024 rows: four blocks, not three (one core would run the third alone).
        assert_eq!(rows_per_block(3 * 1024, 768 * 2 * 192, 2), 768);
        // Swin-B's first stage at batch 8: 24 blocks.
        assert_eq!(rows_per_block(25_088, 128 * 2 * 64, 2), 1046);
        // One core: everything at once.
        assert_eq!(rows_per_block(25_088, 128 * 2 * 64, 1), 25_088);
    }
}
