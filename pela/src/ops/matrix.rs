//! A 2-D `f32` view of `burn-flex` storage and the one `gemm` call the product kernels make.

use std::mem::MaybeUninit;

use burn_flex::FlexTensor;

/// Below this many multiply-adds a product runs on the calling thread (burn-flex's threshold).
pub(super) const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// A matrix in memory: `rows × cols` values, element `(i, j)` at `i·row_stride +
/// j·col_stride` of `data` (non-negative strides, any order: a transposed factor reads in
/// place).
#[derive(Clone, Copy)]
pub(super) struct Matrix<'a> {
    data: &'a [f32],
    pub(super) rows: usize,
    pub(super) cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// The 2-D tensor's values in place; `None` for a layout `gemm` cannot read (a negative
    /// stride).
    pub(super) fn of(tensor: &'a FlexTensor) -> Option<Self> {
        let layout = tensor.layout();
        let [rows, cols]: [usize; 2] = layout.shape().dims();
        let strides = layout.strides();
        let (row_stride, col_stride) = (
            usize::try_from(strides[0]).ok()?,
            usize::try_from(strides[1]).ok()?,
        );
        Some(Self {
            data: &tensor.storage::<f32>()[layout.start_offset()..],
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A row-major `rows × cols` matrix of `data`.
    pub(super) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols);
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// Rows `start..start + count`.
    pub(super) fn rows(self, start: usize, count: usize) -> Self {
        assert!(start + count <= self.rows);
        Self {
            data: &self.data[(start * self.row_stride).min(self.data.len())..],
            rows: count,
            ..self
        }
    }
}

/// `output ← lhs · rhs`, or `output ← output + lhs · rhs` when `accumulate` (the output then
/// holds values, e.g. the bias rows), in one `gemm` call: on every core when `parallel` and
/// the product is large enough, else on the calling thread. `output` is row-major,
/// `lhs.rows × rhs.cols`, and every element is written.
pub(super) fn multiply_into(
    output: &mut [MaybeUninit<f32>],
    accumulate: bool,
    lhs: Matrix,
    rhs: Matrix,
    parallel: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "the product's inner sizes differ");
    assert_eq!(
        output.len(),
        m * n,
        "the product's output has the wrong size"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // gemm does not write an empty product; its value is the sum of nothing.
        if !accumulate {
            output.fill(MaybeUninit::new(0.0));
        }
        return;
    }
    let reaches = |matrix: Matrix| {
        (matrix.rows - 1) * matrix.row_stride + (matrix.cols - 1) * matrix.col_stride
            < matrix.data.len()
    };
    assert!(reaches(lhs) && reaches(rhs), "a view outside its storage");
    let parallelism = if parallel && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: both views address elements inside their slices (checked above); the output has
    // room for m × n elements, row-major, and, being `&mut`, overlaps neither input. It is read
    // (`read_dst`) only when `accumulate` says it holds values; `gemm` writes every element.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            output.as_mut_ptr().cast::<f32>(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
