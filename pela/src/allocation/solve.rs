//! Choosing every layer's rank at once: a multiple-choice knapsack over the layers' error
//! curves, solved exactly by dynamic programming where its table fits, else by marginal gains
//! on their lower convex hulls.
//!
//! Each layer offers its ranks (multiples of the rank step up to the largest that shrinks it)
//! and dense, each with a cost (parameters) and a weighted error `w · ε(r)²`. The greedy
//! starts every layer at its cheapest choice and then buys, across all layers, the hull
//! segment with the largest error drop per parameter, while it fits:
//!
//! 1. Every allocation the greedy reaches this way minimises `Σ error + λ · Σ cost` for the
//!    `λ` of the next segment (every segment steeper than it is taken, none flatter), so no
//!    allocation of at most the same cost has a smaller error: it is optimal for its own
//!    budget, whatever the curves' shapes (the tests check it against brute force).
//! 2. It then takes whatever further segments, and then single steps off the hull, still fit,
//!    best drop per parameter first: less error, and less than one step of budget left unused.
//!
//! The squared singular values fall, so `ε(r)²` is convex in the rank and its hull is the
//! curve itself, except where a layer's dense choice (error 0) is a better buy than its last
//! ranks. There the greedy can stop short: a flat spectrum's hull runs from a small rank
//! straight to dense, one segment nearly as large as the layer, and when it does not fit, the
//! budget it leaves is filled step by step, which can lose to PELA's uniform ranks (on the
//! tests' three 48×48 layers at half the size, an output error of 0.163 against uniform's
//! 0.143).
//!
//! So the [`Solver`] solves the knapsack exactly where it can: by dynamic programming over the
//! budget counted in units of the greatest common divisor of all choices' costs (a rank step
//! of a ViT layer is a multiple of its width), `best_l[b] = min_k best_{l−1}[b − c_k] + e_k`
//! over each layer's choices, then back from the budget to each layer's choice. One table
//! answers every budget up to the largest it was built for (a sweep of sizes costs one
//! table). It takes layers × budget units cells of 4 bytes and choices × units updates; past
//! [`EXACT_CELLS`] or [`EXACT_UPDATES`] (DeiT-Base at rank step 1 is 5 M cells and 2.7 G
//! updates at 95 % of its size, within both) the greedy answers instead.

use crate::PelaError;

use super::{BudgetUnit, LayerCurve};

/// One layer's choice: a rank, or dense (`None`).
pub(crate) type Choice = Option<usize>;

/// The solver's result: each layer's choice, and the cost and error of the hull-optimal
/// allocation it started from (for the tests).
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub choices: Vec<Choice>,
    #[cfg_attr(not(test), allow(dead_code))]
    pub cost: usize,
    #[cfg_attr(not(test), allow(dead_code))]
    pub optimal_cost: usize,
    #[cfg_attr(not(test), allow(dead_code))]
    pub optimal_error: f64,
    /// The hull greedy's choices, and the price `λ` per parameter (the drop per parameter of
    /// the first segment left out; 0 when every one was taken) they minimise
    /// `error + λ · cost` for.
    #[cfg_attr(not(test), allow(dead_code))]
    pub optimal_choices: Vec<usize>,
    #[cfg_attr(not(test), allow(dead_code))]
    pub price: f64,
    /// The cost of that first segment left out: it did not fit.
    #[cfg_attr(not(test), allow(dead_code))]
    pub left_out: Option<usize>,
}

/// At most this many cells (layers × budget units, 4 bytes each: 256 MiB) in the exact
/// solver's table.
pub const EXACT_CELLS: usize = 64 << 20;

/// At most this many updates (choices × budget units) for the exact solver: seconds, not
/// minutes.
pub const EXACT_UPDATES: usize = 4_000_000_000;

/// Ranks for `curves` within `budget` (in `unit`, the curves' costs' unit), in steps of
/// `multiple`: exact where the table fits, else the greedy.
///
/// # Errors
/// [`PelaError::BudgetTooSmall`] when even the smallest choice of every layer exceeds it.
pub(crate) fn allocate(
    curves: &[LayerCurve],
    budget: usize,
    multiple: usize,
    unit: BudgetUnit,
) -> Result<Vec<Choice>, PelaError> {
    Solver::new(curves, budget, multiple, unit).solve(budget)
}

/// Solves the allocation of `curves` for any budget up to the one it was built for.
pub(crate) struct Solver<'a> {
    curves: &'a [LayerCurve],
    multiple: usize,
    unit: BudgetUnit,
    options: Vec<Vec<(Choice, usize, f64)>>,
    exact: Option<Table>,
}

/// The exact solver's table, in budget units of `step`.
struct Table {
    step: usize,
    /// The least error of every budget (in units) over all layers.
    best: Vec<f64>,
    /// For each layer and budget, the option the least error takes.
    picks: Vec<Vec<u32>>,
}

impl<'a> Solver<'a> {
    /// A solver of `curves` for budgets up to `largest` (in `unit`), ranks in steps of
    /// `multiple`; it builds the exact table when it fits the limits.
    pub(crate) fn new(
        curves: &'a [LayerCurve],
        largest: usize,
        multiple: usize,
        unit: BudgetUnit,
    ) -> Self {
        let options: Vec<Vec<(Choice, usize, f64)>> =
            curves.iter().map(|c| c.choices(multiple)).collect();
        let exact = Table::build(&options, largest);
        Self {
            curves,
            multiple,
            unit,
            options,
            exact,
        }
    }

    /// Whether it solves exactly.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_exact(&self) -> bool {
        self.exact.is_some()
    }

    /// Each layer's choice within `budget`: the least summed error, exactly when the table
    /// covers `budget`.
    ///
    /// # Errors
    /// [`PelaError::BudgetTooSmall`] when even the smallest choice of every layer exceeds it.
    pub(crate) fn solve(&self, budget: usize) -> Result<Vec<Choice>, PelaError> {
        let smallest: usize = self.options.iter().map(|o| o[0].1).sum();
        if smallest > budget {
            return Err(PelaError::BudgetTooSmall {
                budget,
                smallest,
                unit: self.unit,
                layers: self.curves.len(),
            });
        }
        match &self.exact {
            Some(table) if budget / table.step < table.best.len() => {
                let mut at = budget / table.step;
                let mut choices = vec![None; self.options.len()];
                for layer in (0..self.options.len()).rev() {
                    let (choice, cost, _) = self.options[layer][table.picks[layer][at] as usize];
                    choices[layer] = choice;
                    at -= cost / table.step;
                }
                Ok(choices)
            }
            _ => Ok(greedy(self.curves, budget, self.multiple, self.unit)?.choices),
        }
    }
}

impl Table {
    /// The table of budgets up to `largest`, or `None` past the limits.
    fn build(options: &[Vec<(Choice, usize, f64)>], largest: usize) -> Option<Self> {
        let step = options.iter().flatten().map(|o| o.1).fold(0, gcd).max(1);
        let units = largest / step + 1;
        let choices: usize = options.iter().map(Vec::len).sum();
        let within = units.checked_mul(options.len().max(1))? <= EXACT_CELLS
            && units.checked_mul(choices)? <= EXACT_UPDATES
            && options.iter().all(|o| o.len() <= u32::MAX as usize);
        if !within {
            return None;
        }
        // No layer yet: no error at any budget.
        let mut best = vec![0.0f64; units];
        let mut picks = Vec::with_capacity(options.len());
        for layer in options {
            let mut next = vec![f64::INFINITY; units];
            let mut pick = vec![0u32; units];
            for (k, &(_, cost, error)) in layer.iter().enumerate() {
                let cost = cost / step;
                for b in cost..units {
                    let value = best[b - cost] + error;
                    // Strictly less: of equal errors, the cheaper choice (listed first) stays.
                    if value < next[b] {
                        next[b] = value;
                        pick[b] = k as u32;
                    }
                }
            }
            best = next;
            picks.push(pick);
        }
        Some(Self { step, best, picks })
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The lower convex hull of `points` (`(cost, error)`, costs increasing), as indices from the
/// first point.
fn lower_hull(points: &[(usize, f64)]) -> Vec<usize> {
    let mut hull: Vec<usize> = Vec::new();
    for i in 0..points.len() {
        while hull.len() >= 2 {
            let (a, b) = (points[hull[hull.len() - 2]], points[hull[hull.len() - 1]]);
            let c = points[i];
            // b lies on or above the segment a→c: drop it.
            let cross =
                (b.0 as f64 - a.0 as f64) * (c.1 - a.1) - (b.1 - a.1) * (c.0 as f64 - a.0 as f64);
            if cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(i);
    }
    hull
}

/// The hull greedy: ranks for `curves` within `budget` (in `unit`, which the curves' costs are
/// in), in steps of `multiple`; optimal for the budget it uses (see the module).
///
/// # Errors
/// [`PelaError::BudgetTooSmall`] when even the smallest choice of every layer exceeds it.
pub(crate) fn greedy(
    curves: &[LayerCurve],
    budget: usize,
    multiple: usize,
    unit: BudgetUnit,
) -> Result<Solution, PelaError> {
    let options: Vec<Vec<(Choice, usize, f64)>> =
        curves.iter().map(|c| c.choices(multiple)).collect();
    let smallest: usize = options.iter().map(|o| o[0].1).sum();
    if smallest > budget {
        return Err(PelaError::BudgetTooSmall {
            budget,
            smallest,
            unit,
            layers: curves.len(),
        });
    }
    // Each layer's hull segments: (slope, layer, from, to), in option indices.
    let mut segments = Vec::new();
    for (layer, option) in options.iter().enumerate() {
        let points: Vec<(usize, f64)> = option.iter().map(|o| (o.1, o.2)).collect();
        let hull = lower_hull(&points);
        for pair in hull.windows(2) {
            let (a, b) = (points[pair[0]], points[pair[1]]);
            let slope = (b.1 - a.1) / (b.0 - a.0) as f64;
            segments.push((slope, layer, pair[0], pair[1]));
        }
    }
    // Steepest drop first; within a layer the hull's slopes rise, so its order is kept.
    segments.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut at: Vec<usize> = vec![0; curves.len()];
    let mut cost = smallest;
    let error = |at: &[usize]| -> f64 { at.iter().zip(&options).map(|(&i, o)| o[i].2).sum() };
    // 1. The hull greedy, up to the first segment that does not fit.
    let mut next = 0;
    while next < segments.len() {
        let (_, layer, from, to) = segments[next];
        let step = options[layer][to].1 - options[layer][from].1;
        if at[layer] != from || cost + step > budget {
            break;
        }
        at[layer] = to;
        cost += step;
        next += 1;
    }
    let (optimal_cost, optimal_error) = (cost, error(&at));
    let optimal_choices = at.clone();
    let price = segments.get(next).map_or(0.0, |s| -s.0);
    let left_out = segments
        .get(next)
        .map(|&(_, layer, from, to)| options[layer][to].1 - options[layer][from].1);
    // 2. The segments after it that still fit.
    for &(_, layer, from, to) in &segments[next..] {
        let step = options[layer][to].1 - options[layer][from].1;
        if at[layer] == from && cost + step <= budget {
            at[layer] = to;
            cost += step;
        }
    }
    // 3. Single steps, best drop per parameter first, while one fits.
    loop {
        let best = (0..curves.len())
            .filter(|&l| at[l] + 1 < options[l].len())
            .map(|l| {
                let (now, then) = (options[l][at[l]], options[l][at[l] + 1]);
                (
                    l,
                    then.1 - now.1,
                    (now.2 - then.2) / (then.1 - now.1) as f64,
                )
            })
            .filter(|&(_, step, _)| cost + step <= budget)
            .max_by(|a, b| a.2.total_cmp(&b.2));
        let Some((layer, step, _)) = best else { break };
        at[layer] += 1;
        cost += step;
    }
    Ok(Solution {
        choices: at.iter().zip(&options).map(|(&i, o)| o[i].0).collect(),
        cost,
        optimal_cost,
        optimal_error,
        optimal_choices,
        price,
        left_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Falling energies, with a few flat stretches (ties) and a heavy tail.
    fn random_curve(rng: &mut StdRng, path: &str, d_input: usize, d_output: usize) -> LayerCurve {
        let n = d_input.min(d_output);
        let mut energies: Vec<f64> = (0..n)
            .map(|_| rng.random_range(0.0..10.0f64).powi(3))
            .collect();
        energies.sort_by(|a, b| b.total_cmp(a));
        let mut curve = LayerCurve::new(path, d_input, d_output, energies);
        curve.weight = rng.random_range(0.2..5.0);
        curve
    }

    /// Every allocation: (cost, weighted error), by brute force over all choices.
    fn every_allocation(curves: &[LayerCurve], multiple: usize) -> Vec<(usize, f64)> {
        let options: Vec<_> = curves.iter().map(|c| c.choices(multiple)).collect();
        let mut all = vec![(0usize, 0.0f64)];
        for option in &options {
            all = all
                .iter()
                .flat_map(|&(c, e)| option.iter().map(move |o| (c + o.1, e + o.2)))
                .collect();
        }
        all
    }

    fn total_error(curves: &[LayerCurve], choices: &[Choice]) -> f64 {
        curves
            .iter()
            .zip(choices)
            .map(|(c, &r)| c.weight * c.squared_error(r))
            .sum()
    }

    fn cost(curves: &[LayerCurve], choices: &[Choice]) -> usize {
        curves.iter().zip(choices).map(|(c, &r)| c.cost(r)).sum()
    }

    #[test]
    fn the_greedy_is_optimal_for_its_budget_and_leaves_less_than_a_step() {
        let mut rng = StdRng::seed_from_u64(32);
        for case in 0..48 {
            let multiple = if case % 4 == 3 { 2 } else { 1 };
            let shapes = [(12, 9), (10, 10), (16, 6), (7, 14)];
            let curves: Vec<LayerCurve> = shapes
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| {
                    let mut curve = random_curve(&mut rng, &format!("l{i}"), a, b);
                    // A budget in multiply-adds: each layer's parameters cost its rows.
                    if case % 3 == 2 {
                        curve.cost_per_parameter = rng.random_range(1..=4);
                    }
                    curve
                })
                .collect();
            let all = every_allocation(&curves, multiple);
            let dense: usize = curves.iter().map(|c| c.cost(None)).sum();
            let smallest = all.iter().map(|a| a.0).min().unwrap();
            for budget in (smallest..=dense).step_by(7) {
                let solution = greedy(&curves, budget, multiple, BudgetUnit::Parameters).unwrap();
                let reached = total_error(&curves, &solution.choices);
                assert_eq!(solution.cost, cost(&curves, &solution.choices));
                assert!(solution.cost <= budget, "case {case}: over the budget");
                // Optimal among every allocation that costs no more than the hull greedy's.
                let best = all
                    .iter()
                    .filter(|a| a.0 <= solution.optimal_cost)
                    .map(|a| a.1)
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    (solution.optimal_error - best).abs() <= 1e-9 * best.max(1.0),
                    "case {case}, budget {budget}: {} against the optimum {best}",
                    solution.optimal_error
                );
                assert!(reached <= solution.optimal_error + 1e-12);
                // It stopped where the next segment did not fit: within one segment of the budget.
                if let Some(step) = solution.left_out {
                    assert!(
                        budget - solution.optimal_cost < step,
                        "case {case}, budget {budget}"
                    );
                }
                // The certificate: each layer's choice minimises error + λ · cost on its own.
                for (curve, &chosen) in curves.iter().zip(&solution.optimal_choices) {
                    let options = curve.choices(multiple);
                    let value = |o: &(Choice, usize, f64)| o.2 + solution.price * o.1 as f64;
                    let best = options.iter().map(value).fold(f64::INFINITY, f64::min);
                    assert!(
                        value(&options[chosen]) <= best + 1e-9 * best.abs().max(1.0),
                        "case {case}, budget {budget}, {}: not a minimiser at λ = {}",
                        curve.path,
                        solution.price
                    );
                }
                // No better than the optimum for the whole budget, and no step left that fits.
                let optimum = all
                    .iter()
                    .filter(|a| a.0 <= budget)
                    .map(|a| a.1)
                    .fold(f64::INFINITY, f64::min);
                assert!(reached >= optimum - 1e-9);
                for (curve, choice) in curves.iter().zip(&solution.choices) {
                    let options = curve.choices(multiple);
                    let here = options.iter().position(|o| o.0 == *choice).unwrap();
                    if let Some(next) = options.get(here + 1) {
                        assert!(solution.cost + next.1 - options[here].1 > budget);
                    }
                }
            }
        }
    }

    #[test]
    fn convex_curves_of_equal_steps_are_solved_exactly() {
        // Equal costs per step and convex curves: the classic case where the marginal-gain greedy
        // is exact for every budget. Compared with brute force at every budget.
        // Geometric energies (ratio below 1/2): every tail is below the energy before it, so
        // the dense choice continues the convex curve.
        let mut rng = StdRng::seed_from_u64(7);
        let curves: Vec<LayerCurve> = (0..3)
            .map(|i| {
                let ratio: f64 = rng.random_range(0.2..0.45);
                let energies = (0..20).map(|k| ratio.powi(k)).collect();
                let mut curve = LayerCurve::new(format!("l{i}"), 20, 20, energies);
                curve.weight = rng.random_range(0.2..5.0);
                curve
            })
            .collect();
        let all = every_allocation(&curves, 1);
        for budget in (120..=1200).step_by(40) {
            let solution = greedy(&curves, budget, 1, BudgetUnit::Parameters).unwrap();
            let optimum = all
                .iter()
                .filter(|a| a.0 <= budget)
                .map(|a| a.1)
                .fold(f64::INFINITY, f64::min);
            let reached = total_error(&curves, &solution.choices);
            assert!(
                (reached - optimum).abs() <= 1e-9 * optimum.max(1.0),
                "budget {budget}"
            );
        }
    }

    #[test]
    fn a_budget_below_the_smallest_model_is_an_error() {
        let curves = vec![LayerCurve::new("fc", 8, 8, vec![1.0; 8])];
        let error = allocate(&curves, 15, 1, BudgetUnit::Parameters).unwrap_err();
        assert!(matches!(
            greedy(&curves, 15, 1, BudgetUnit::Parameters),
            Err(PelaError::BudgetTooSmall { .. })
        ));
        assert!(
            matches!(error, PelaError::BudgetTooSmall { smallest: 16, .. }),
            "{error}"
        );
        // Rank steps of 3: the smallest is rank 3.
        assert!(allocate(&curves, 47, 3, BudgetUnit::Parameters).is_err());
        assert_eq!(
            allocate(&curves, 48, 3, BudgetUnit::Parameters).unwrap(),
            vec![Some(3)]
        );
    }

    #[test]
    fn a_layer_that_would_save_nothing_stays_dense() {
        // 8×8 shrinks up to rank 3 (48 < 64); its dense choice costs 64.
        let curves = vec![LayerCurve::new("fc", 8, 8, vec![1.0; 8])];
        assert_eq!(
            allocate(&curves, 64, 1, BudgetUnit::Parameters).unwrap(),
            vec![None]
        );
        assert_eq!(
            allocate(&curves, 63, 1, BudgetUnit::Parameters).unwrap(),
            vec![Some(3)]
        );
    }

    #[test]
    fn the_solver_is_exact_at_every_budget() {
        // The greedy's curves, and a flat spectrum whose hull jumps from rank 1 to dense: the
        // table's answer is brute force's optimum at every budget, from one table.
        let mut rng = StdRng::seed_from_u64(33);
        for case in 0..24 {
            let multiple = if case % 4 == 3 { 2 } else { 1 };
            let shapes = [(12, 9), (10, 10), (16, 6), (7, 14)];
            let mut curves: Vec<LayerCurve> = shapes
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| {
                    let mut curve = random_curve(&mut rng, &format!("l{i}"), a, b);
                    if case % 3 == 2 {
                        curve.cost_per_parameter = rng.random_range(1..=4);
                    }
                    curve
                })
                .collect();
            if case % 2 == 1 {
                curves[1].energies = vec![1.0; 10];
            }
            let all = every_allocation(&curves, multiple);
            let dense: usize = curves.iter().map(|c| c.cost(None)).sum();
            let smallest = all.iter().map(|a| a.0).min().unwrap();
            let solver = Solver::new(&curves, dense, multiple, BudgetUnit::Parameters);
            assert!(solver.is_exact());
            for budget in (smallest..=dense).step_by(3) {
                let choices = solver.solve(budget).unwrap();
                assert!(
                    cost(&curves, &choices) <= budget,
                    "case {case}: over the budget"
                );
                let optimum = all
                    .iter()
                    .filter(|a| a.0 <= budget)
                    .map(|a| a.1)
                    .fold(f64::INFINITY, f64::min);
                let reached = total_error(&curves, &choices);
                assert!(
                    (reached - optimum).abs() <= 1e-9 * optimum.max(1.0),
                    "case {case}, budget {budget}: {reached} against the optimum {optimum}"
                );
                // Never worse than the greedy.
                let greedy = greedy(&curves, budget, multiple, BudgetUnit::Parameters).unwrap();
                assert!(reached <= total_error(&curves, &greedy.choices) + 1e-12);
            }
            assert!(solver.solve(smallest - 1).is_err());
        }
    }

    #[test]
    fn past_its_limits_the_solver_falls_back_to_the_greedy() {
        // Costs of gcd 1 (a 4095-wide layer next to a 4096-wide one) and a budget of billions:
        // far past the table's limits.
        let curves = vec![
            LayerCurve::new("a", 4095, 4096, vec![1.0; 64]),
            LayerCurve::new("b", 4096, 4097, vec![1.0; 64]),
        ];
        let budget = 30_000_000;
        let solver = Solver::new(&curves, budget, 1, BudgetUnit::Parameters);
        assert!(!solver.is_exact());
        let greedy = greedy(&curves, budget, 1, BudgetUnit::Parameters).unwrap();
        assert_eq!(solver.solve(budget).unwrap(), greedy.choices);
    }
}
