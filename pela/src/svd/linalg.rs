//! Dense `f64` building blocks of the randomized SVD: a fast GEMM and orthonormalisation.

use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, MatMut, Side};
use ndarray::{Array2, ArrayView2};

/// `a · b` with the `gemm` crate on every core; views may be transposed (any strides).
pub(crate) fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    let mut c = Array2::<f64>::zeros((a.nrows(), b.ncols()));
    accumulate(&mut c, 0.0, a, b);
    c
}

/// `c ← keep·c + a·b` in place with the `gemm` crate on every core (`keep = 0` ignores `c`'s
/// contents); `a` and `b` may be transposed views, `c` must be in standard layout.
pub(crate) fn accumulate(c: &mut Array2<f64>, keep: f64, a: ArrayView2<f64>, b: ArrayView2<f64>) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "inner dimensions of a product");
    assert_eq!(c.dim(), (m, n), "the shape of a product");
    assert!(
        c.is_standard_layout(),
        "a product's output in standard layout"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.mapv_inplace(|x| keep * x);
        return;
    }
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the pointers and strides describe the three live arrays exactly, `c` is a
    // standard-layout `[m, n]` array borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            keep != 0.0,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            keep,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// An orthonormal basis of the columns of `y` (`[m, k]`, `m ≥ k`), by `passes` rounds of
/// CholeskyQR: `Q = Y·L⁻ᵀ` with `YᵀY = L·Lᵀ`.
///
/// Two passes (CholeskyQR2) are orthonormal to working precision when `Y` is well
/// conditioned, as the range finder's blocks are; one pass keeps a power iteration stable. A
/// rank-deficient block (a weight of lower rank than asked) makes the Cholesky factorisation
/// fail; then a Householder QR, slower but exact, takes over.
pub(super) fn orthonormalize(y: Array2<f64>, passes: usize) -> Array2<f64> {
    let (m, k) = y.dim();
    let mut q = y.as_standard_layout().into_owned();
    if k == 0 {
        return q;
    }
    for _ in 0..passes {
        let gram = matmul(q.t(), q.view());
        let gram = Mat::<f64>::from_fn(k, k, |i, j| gram[[i, j]]);
        let Ok(llt) = gram.llt(Side::Lower) else {
            return householder(&q);
        };
        let l = llt.L();
        let floor = 1e-12 * l[(0, 0)].abs();
        if (0..k).any(|i| l[(i, i)].is_nan() || l[(i, i)] <= floor) {
            return householder(&q);
        }
        // Row-major `Q` [m, k] is column-major `Qᵀ` [k, m]: `Qᵀ ← L⁻¹·Qᵀ` is `Q ← Q·L⁻ᵀ`.
        let values = q.as_slice_mut().expect("standard layout");
        let transposed = MatMut::from_column_major_slice_mut(values, k, m);
        solve_lower_triangular_in_place(l, transposed, faer::get_global_parallelism());
    }
    q
}

/// The thin `Q` of a Householder QR of `y` (`[m, k]`).
fn householder(y: &Array2<f64>) -> Array2<f64> {
    let (m, k) = y.dim();
    if k == 0 {
        return Array2::zeros((m, 0));
    }
    let q = Mat::<f64>::from_fn(m, k, |i, j| y[[i, j]])
        .qr()
        .compute_thin_Q();
    Array2::from_shape_fn((m, k), |(i, j)| q[(i, j)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(m: usize, n: usize, seed: u64) -> Array2<f64> {
        let mut state = seed;
        Array2::from_shape_fn((m, n), |_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    #[test]
    fn matmul_matches_ndarray_with_transposed_views() {
        let a = pseudo_random(37, 23, 1);
        let b = pseudo_random(37, 11, 2);
        let expected = a.t().dot(&b);
        let found = matmul(a.t(), b.view());
        assert!((&found - &expected).iter().all(|d| d.abs() < 1e-12));
    }

    #[test]
    fn accumulate_subtracts_what_it_keeps() {
        // c ← −c + a·b on transposed views, against ndarray's own product.
        let a = pseudo_random(19, 13, 6);
        let b = pseudo_random(7, 13, 7);
        let c0 = pseudo_random(19, 7, 8);
        let mut c = c0.clone();
        accumulate(&mut c, -1.0, a.view(), b.t());
        let expected = a.dot(&b.t()) - &c0;
        assert!((&c - &expected).iter().all(|d| d.abs() < 1e-12));
    }

    #[test]
    fn orthonormal_basis_spans_the_columns() {
        for y in [pseudo_random(50, 8, 3), {
            // rank 2 with 8 columns: the Householder fallback
            let base = pseudo_random(50, 2, 4);
            matmul(base.view(), pseudo_random(2, 8, 5).view())
        }] {
            let q = orthonormalize(y.clone(), 2);
            let qtq = matmul(q.t(), q.view());
            for i in 0..q.ncols() {
                for j in 0..q.ncols() {
                    let expected = if i == j { 1.0 } else { 0.0 };
                    assert!((qtq[[i, j]] - expected).abs() < 1e-10);
                }
            }
            // Y = Q·QᵀY: the basis spans Y's columns.
            let projected = matmul(q.view(), matmul(q.t(), y.view()).view());
            assert!((&projected - &y).iter().all(|d| d.abs() < 1e-10));
        }
    }
}
