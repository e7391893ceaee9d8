//! The truncated SVD from the eigendecomposition of the smaller Gram matrix, in `f64`.
//!
//! ```text
//! W [m, n], m ≥ n:   G = Wᵀ·W = Q·Σ²·Qᵀ          [n, n]   one product, one symmetric eigenproblem
//!                    U = W·Q_r·Σ_r^-½,  V = Q_r·Σ_r^½
//! m < n: the same on Wᵀ (G = W·Wᵀ = P·Σ²·Pᵀ;  U = P_r·Σ_r^½,  V = Wᵀ·P_r·Σ_r^-½)
//! ```
//!
//! `U·Vᵀ = W·Q_r·Q_rᵀ`: the projection of `W` on its top `r` right singular vectors, which is
//! the optimal rank-`r` approximation (Eckart–Young). Squaring `W` costs accuracy only on
//! singular values below about `10⁻⁸·σ₁` (`√ε` of `f64`), which a truncation at a
//! compression ratio never keeps in a trained weight: the tests find the error of `U·Vᵀ`
//! equal to the optimum to 1e-9. A singular value that is 0 within rounding gets a zero pair
//! (it contributes nothing either way).
//!
//! Why: a dense SVD spends most of its time in a bidiagonalisation that is bound by memory
//! traffic; here the large matrix only meets matrix products (blocked, on every core), and
//! the eigenproblem is of the smaller side. `faer`'s steps are called one by one so that only
//! the lower half of `G` is computed and only the `r` kept eigenvectors are transformed back
//! from the tridiagonal form (see [`top_eigenpairs`]). Measured by `examples/init_benchmark.rs`.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors, tridiag};
use faer::linalg::householder::apply_block_householder_sequence_on_the_left_in_place_with_conj;
use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, Col, Conj, Mat, MatRef, Par, Side};
use ndarray::Array2;

use super::TruncatedSvd;
use crate::PelaError;

/// The rank-`rank` factors of `w` from the eigendecomposition of its smaller Gram matrix.
pub(super) fn truncated_svd(
    layer: &str,
    w: &Array2<f64>,
    rank: usize,
) -> Result<TruncatedSvd, PelaError> {
    let (m, n) = w.dim();
    let standard = w.as_standard_layout();
    let values = standard
        .as_slice()
        .expect("a standard-layout array is contiguous");
    let matrix = MatRef::from_row_major_slice(values, m, n);
    // The factors of the taller orientation `A` ([rows ≥ cols]); for a wide `W`, `A = Wᵀ`.
    let tall = m >= n;
    let a = if tall { matrix } else { matrix.transpose() };
    let side = a.ncols();
    let par = faer::get_global_parallelism();
    // `G = AᵀA`, its lower half only: the eigensolver reads no more.
    let mut gram = Mat::<f64>::zeros(side, side);
    matmul(
        gram.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        a.transpose(),
        BlockStructure::Rectangular,
        a,
        BlockStructure::Rectangular,
        1.0,
        par,
    );
    let (lambda, top) = top_eigenpairs(layer, gram.as_ref(), rank, par)?;
    let singular_values: Vec<f64> = lambda.iter().map(|l| l.max(0.0).sqrt()).collect();
    // `A·top = P_r·Σ_r`: the left singular vectors, scaled.
    let projected = a * &top;
    // Below this a singular value is rounding noise of the squared matrix.
    let floor = singular_values[0] * 1e-7;
    let scale: Vec<(f64, f64)> = singular_values[..rank]
        .iter()
        .map(|&s| {
            if s > floor {
                (s.sqrt(), 1.0 / s.sqrt())
            } else {
                (0.0, 0.0)
            }
        })
        .collect();
    // For `A`: U_A = P_r·Σ_r^½ = (A·top)·Σ_r^-½ [rows, r], V_A = top·Σ_r^½ [cols, r].
    let u_a = Array2::from_shape_fn((a.nrows(), rank), |(i, j)| projected[(i, j)] * scale[j].1);
    let v_a = Array2::from_shape_fn((side, rank), |(i, j)| top[(i, j)] * scale[j].0);
    // `W = A` or `W = Aᵀ`: for the transpose, the two factors swap.
    let (u, v) = if tall { (u_a, v_a) } else { (v_a, u_a) };
    Ok(TruncatedSvd {
        u,
        v,
        singular_values,
    })
}

/// All eigenvalues of the symmetric `gram` (its lower half is read), largest first, and the
/// eigenvectors of the `rank` largest, as columns in the same order.
///
/// `faer`'s `self_adjoint_eigen`, step by step: Householder tridiagonalisation, divide and
/// conquer on the tridiagonal matrix, then the Householder reflections applied to the kept
/// eigenvectors only (`2n²r` operations instead of `2n³`).
fn top_eigenpairs(
    layer: &str,
    gram: MatRef<'_, f64>,
    rank: usize,
    par: Par,
) -> Result<(Vec<f64>, Mat<f64>), PelaError> {
    let n = gram.nrows();
    let failed = |e: evd::EvdError| PelaError::Svd {
        layer: layer.to_string(),
        reason: format!("the eigendecomposition of the Gram matrix: {e:?}"),
    };
    if n < 2 {
        // Nothing to tridiagonalise.
        let eigen = gram.self_adjoint_eigen(Side::Lower).map_err(failed)?;
        let lambda = eigen.S().column_vector();
        let values = (0..n).rev().map(|i| lambda[i]).collect();
        let top = Mat::from_fn(n, rank, |i, j| eigen.U()[(i, n - 1 - j)]);
        return Ok((values, top));
    }
    let mut buffer = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        par,
        Default::default(),
    ));
    let stack = MemStack::new(&mut buffer);
    let mut trid = Mat::<f64>::zeros(n, n);
    trid.copy_from_triangular_lower(gram);
    let block = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(n, n);
    let mut householder = Mat::<f64>::zeros(block, n - 1);
    // Sequential: on 2 cores the threaded reduction was slower (46 against 60 ms at n = 768).
    tridiag::tridiag_in_place(
        trid.as_mut(),
        householder.as_mut(),
        Par::Seq,
        stack,
        Default::default(),
    );
    let diagonal = Col::<f64>::from_fn(n, |i| trid[(i, i)]);
    let subdiagonal = Col::<f64>::from_fn(n, |i| if i + 1 < n { trid[(i + 1, i)] } else { 0.0 });
    let mut lambda = Col::<f64>::zeros(n);
    let mut vectors = Mat::<f64>::zeros(n, n);
    evd::tridiagonal_self_adjoint_evd(
        diagonal.as_diagonal(),
        subdiagonal.as_diagonal(),
        lambda.as_diagonal_mut(),
        Some(vectors.as_mut()),
        par,
        stack,
        Default::default(),
    )
    .map_err(failed)?;
    // Eigenvalues come in nondecreasing order: the largest last.
    let mut top = Mat::<f64>::from_fn(n, rank, |i, j| vectors[(i, n - 1 - j)]);
    apply_block_householder_sequence_on_the_left_in_place_with_conj(
        trid.as_ref().submatrix(1, 0, n - 1, n - 1),
        householder.as_ref(),
        Conj::No,
        top.as_mut().subrows_mut(1, n - 1),
        par,
        stack,
    );
    let values = (0..n).rev().map(|i| lambda[i]).collect();
    Ok((values, top))
}
