//! `erf`, `exp`, reductions and a row softmax in `f32` without library calls, so that loops
//! over tensors vectorise (on x86-64, `f32::exp` and `f32::round` are library calls).
//!
//! All are `#[inline(always)]`: the kernels' loops that call them are compiled for several
//! instruction sets with `#[multiversion(targets = "simd")]` (this crate is built for baseline
//! x86-64, whose vectors are 4 floats wide; AVX-512's are 16), and the best one the CPU has runs.

/// Independent accumulators in the reductions: a vector's worth (16 floats for AVX-512), so
/// that they vectorise (a single floating-point accumulator would have to add in order).
const LANES: usize = 16;

/// `xs` reduced by `combine` from `init`, over [`LANES`] accumulators.
#[inline(always)]
fn reduce(xs: &[f32], init: f32, combine: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [init; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = combine(*lane, x);
        }
    }
    for (lane, &x) in lanes.iter_mut().zip(rest) {
        *lane = combine(*lane, x);
    }
    lanes.into_iter().fold(init, &combine)
}

/// The largest element (−∞ for none; NaN elements are skipped).
#[inline(always)]
pub(super) fn max(xs: &[f32]) -> f32 {
    reduce(xs, f32::NEG_INFINITY, |m, x| if x > m { x } else { m })
}

/// The sum of the elements.
#[inline(always)]
pub(super) fn sum(xs: &[f32]) -> f32 {
    reduce(xs, 0.0, |s, x| s + x)
}

/// `Σ aᵢ·bᵢ` over the shorter of the two.
#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (a_rest, b_rest) = (a_chunks.remainder(), b_chunks.remainder());
    for (a, b) in a_chunks.zip(b_chunks) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(a).zip(b) {
            *lane += a * b;
        }
    }
    for ((lane, &a), &b) in lanes.iter_mut().zip(a_rest).zip(b_rest) {
        *lane += a * b;
    }
    sum(&lanes)
}

/// `erf(x)` in `f32` to within 5·10⁻⁷, as a ratio of an odd and an even polynomial on
/// `(-4, 4)` (the approximation of Eigen's `generic_fast_erf_float` and XLA), and exactly ±1
/// outside, where `erf` rounds to ±1 in `f32`. The branch is a select.
#[inline(always)]
pub(super) fn erf(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    const BETA: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_2e-3,
        -1.426_474e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    // Plain multiply-adds: `mul_add` is a library call on the baseline x86-64 target.
    let p = ALPHA[1..].iter().fold(ALPHA[0], |p, &a| p * x2 + a);
    let q = BETA[1..].iter().fold(BETA[0], |q, &b| q * x2 + b);
    let erf = x * p / q;
    if x.abs() >= 4.0 {
        1.0f32.copysign(x)
    } else {
        erf
    }
}

/// `eˣ` in `f32` to within 2 units in the last place for `x ≤ 88` (Cephes' `expf`: `x = n·ln 2
/// + r`, a degree-7 polynomial in `r`, and `2ⁿ` built in the exponent bits); exactly 0 below
/// −87.33, where `eˣ` leaves the normal range (so `exp(-∞) = 0`), and NaN for NaN. Saturates
/// at `e⁸⁸` above 88: the callers take `x ≤ 0`.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
    // 1.5 · 2²³: adding and subtracting it rounds to the nearest integer without `round`.
    const ROUND: f32 = 12_582_912.0;
    const LOWEST: f32 = -87.336_54;
    let clamped = x.clamp(LOWEST, 88.0);
    // ROUND + n, whose bits are ROUND's plus n: n ∈ [-126, 127] without a float-to-int cast
    // (Rust's saturating cast does not vectorise).
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (clamped - n * LN2_HI) - n * LN2_LO;
    let p = P[1..].iter().fold(P[0], |p, &c| p * r + c);
    let y = p * r * r + r + 1.0;
    // 2ⁿ, a normal power of two, built in the exponent bits. NaN stays NaN through `y`.
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127);
    let two_n = f32::from_bits(exponent << 23);
    if x < LOWEST { 0.0 } else { y * two_n }
}

/// `row ← softmax(row)`, shifted by its maximum; returns the log of the normaliser,
/// `max + ln Σ exp(row − max)`, with which the backward pass recomputes the probabilities.
/// A row that is −∞ everywhere (masked out) gives NaN, as Burn's and PyTorch's softmax.
#[inline(always)]
pub(super) fn softmax(row: &mut [f32]) -> f32 {
    // −∞ everywhere: NaN, as exp(−∞ − (−∞)).
    let max = if row.iter().all(|&x| x == f32::NEG_INFINITY) {
        f32::NAN
    } else {
        max(row)
    };
    row.iter_mut().for_each(|x| *x = exp(*x - max));
    let total = sum(row);
    let inverse = 1.0 / total;
    row.iter_mut().for_each(|x| *x *= inverse);
    max + total.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n + 1` evenly spaced points over `[from, to]`.
    fn grid(from: f64, to: f64, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| (from + (to - from) * i as f64 / n as f64) as f32)
    }

    #[test]
    fn erf_is_within_5e7_of_the_exact_function() {
        // Reference: libm's double-precision erf, on a grid of 2·10⁵ points over [-8, 8].
        let worst = grid(-8.0, 8.0, 200_000)
            .map(|x| (erf(x) as f64 - libm::erf(x as f64)).abs())
            .fold(0.0, f64::max);
        assert!(worst < 5e-7, "max |erf error| = {worst:e}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(-4.0), -1.0);
    }

    #[test]
    fn exp_is_within_2_ulp_of_the_exact_function() {
        // Reference: libm's double-precision exp, relative to f32's spacing (2⁻²³) on a grid
        // of 10⁶ points over [-87, 88].
        let worst = grid(-87.0, 88.0, 1_000_000)
            .map(|x| {
                let exact = libm::exp(x as f64);
                (exp(x) as f64 - exact).abs() / exact
            })
            .fold(0.0, f64::max);
        assert!(
            worst < 2.0 * f32::EPSILON as f64,
            "max relative error {worst:e}"
        );
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn reductions_match_sequential_sums() {
        let xs: Vec<f32> = (0..37).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
        let ys: Vec<f32> = (0..37).map(|i| ((i * 104_729) % 13) as f32 * 0.5).collect();
        // Small integers and halves: every partial sum is exact in any order.
        assert_eq!(sum(&xs), xs.iter().sum::<f32>());
        assert_eq!(
            dot(&xs, &ys),
            xs.iter().zip(&ys).map(|(x, y)| x * y).sum::<f32>()
        );
        assert_eq!(max(&xs), 11.0);
        assert_eq!(max(&[]), f32::NEG_INFINITY);
    }

    #[test]
    fn softmax_matches_the_definition_and_returns_the_log_normaliser() {
        let mut row = [1.0f32, -2.0, 0.5, 3.0, f32::NEG_INFINITY];
        let exact: Vec<f64> = row.iter().map(|&x| libm::exp(x as f64)).collect();
        let sum: f64 = exact.iter().sum();
        let log_normaliser = softmax(&mut row);
        for (p, e) in row.iter().zip(&exact) {
            assert!((*p as f64 - e / sum).abs() < 1e-7, "{p} vs {}", e / sum);
        }
        assert!((log_normaliser as f64 - sum.ln()).abs() < 1e-6);
        let mut masked = [f32::NEG_INFINITY; 3];
        assert!(softmax(&mut masked).is_nan());
        assert!(masked.iter().all(|p| p.is_nan()));
    }
}
