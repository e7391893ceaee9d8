//! Dense `f64` building blocks of the randomized SVD: a fast GEMM and orthonormalisation.

use linfa_linalg::cholesky::Cholesky;
use linfa_linalg::qr::QR;
use ndarray::{Array2, ArrayView2};

/// `a · b` with the `gemm` crate on every core; views may be transposed (any strides).
pub(crate) fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "inner dimensions of a product");
    let mut c = Array2::<f64>::zeros((m, n));
    if m == 0 || n == 0 || k == 0 {
        return c;
    }
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the pointers and strides describe the three live arrays exactly, `c` is a fresh
    // `[m, n]` standard-layout array that aliases neither input, and `read_dst` is false.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    c
}

/// The inverse of a lower-triangular matrix, by forward substitution.
fn invert_lower(l: &Array2<f64>) -> Array2<f64> {
    let k = l.nrows();
    let mut inv = Array2::<f64>::zeros((k, k));
    for j in 0..k {
        inv[[j, j]] = 1.0 / l[[j, j]];
        for i in j + 1..k {
            let mut sum = 0.0;
            for p in j..i {
                sum += l[[i, p]] * inv[[p, j]];
            }
            inv[[i, j]] = -sum / l[[i, i]];
        }
    }
    inv
}

/// An orthonormal basis of the columns of `y` (`[m, k]`, `m ≥ k`), by `passes` rounds of
/// CholeskyQR: `Q = Y·L⁻ᵀ` with `YᵀY = L·Lᵀ`.
///
/// Two passes (CholeskyQR2) are orthonormal to working precision when `Y` is well
/// conditioned, as the range finder's blocks are; one pass keeps a power iteration stable. A
/// rank-deficient block (a weight of lower rank than asked) makes the Cholesky factorisation
/// fail; then a Householder QR, slower but exact, takes over.
pub(super) fn orthonormalize(y: Array2<f64>, passes: usize) -> Array2<f64> {
    let mut q = y;
    for _ in 0..passes {
        let gram = matmul(q.t(), q.view());
        let Ok(l) = gram.cholesky() else {
            return householder(q);
        };
        let floor = 1e-12 * l[[0, 0]].abs();
        if l.diag().iter().any(|d| d.is_nan() || *d <= floor) {
            return householder(q);
        }
        q = matmul(q.view(), invert_lower(&l).t());
    }
    q
}

fn householder(y: Array2<f64>) -> Array2<f64> {
    let k = y.ncols();
    match y.qr() {
        Ok(qr) => {
            let q = qr.generate_q();
            q.slice(ndarray::s![.., ..k]).to_owned()
        }
        // Only an empty block gets here; its basis is empty too.
        Err(_) => Array2::zeros((y.nrows(), 0)),
    }
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
