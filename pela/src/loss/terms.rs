//! Named, weighted loss terms: the one place where a training objective is summed.

use burn::tensor::{Tensor, backend::Backend};

/// One term of an objective: its name (also the name of its metric), its weight, and its
/// unweighted value, shape `[1]`.
#[derive(Debug, Clone)]
pub struct LossTerm<B: Backend> {
    /// The name, unique within an objective: `L_task`, `L_fd`, `L_rwp`, `L_emb`, `L_sim`, …
    pub name: &'static str,
    /// The weight the value is multiplied by in the total.
    pub weight: f64,
    /// The unweighted value, shape `[1]`.
    pub value: Tensor<B, 1>,
}

/// The named, weighted terms of one training step's objective. [`total`](Self::total) is
/// their weighted sum: every objective of the project (PELA's `L_task + α·L_fd + β·L_rwp`, the
/// text terms, …) is added up there and nowhere else, and every term is logged by its name.
///
/// ```
/// use burn::tensor::Tensor;
/// use pela::LossTerms;
/// type B = burn_ndarray::NdArray<f32>;
///
/// let device = Default::default();
/// let terms = LossTerms::<B>::new()
///     .with("L_task", 1.0, Tensor::from_floats([1.0], &device))
///     .with("L_fd", 0.5, Tensor::from_floats([4.0], &device));
/// assert_eq!(terms.total().into_scalar(), 1.0 + 0.5 * 4.0);
/// assert_eq!(terms.names().collect::<Vec<_>>(), ["L_task", "L_fd"]);
/// ```
#[derive(Debug, Clone)]
pub struct LossTerms<B: Backend> {
    terms: Vec<LossTerm<B>>,
}

impl<B: Backend> Default for LossTerms<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> LossTerms<B> {
    /// No terms: a total of 0.
    pub fn new() -> Self {
        Self { terms: Vec::new() }
    }

    /// Adds a term.
    ///
    /// # Panics
    /// When a term of the same name is already there (metrics are identified by name).
    pub fn push(&mut self, name: &'static str, weight: f64, value: Tensor<B, 1>) {
        assert!(
            self.get(name).is_none(),
            "the loss term `{name}` is there twice; give each term its own name"
        );
        self.terms.push(LossTerm {
            name,
            weight,
            value,
        });
    }

    /// Adds a term, builder style.
    pub fn with(mut self, name: &'static str, weight: f64, value: Tensor<B, 1>) -> Self {
        self.push(name, weight, value);
        self
    }

    /// Adds every term of `other`.
    pub fn extend(&mut self, other: LossTerms<B>) {
        for term in other.terms {
            self.push(term.name, term.weight, term.value);
        }
    }

    /// `Σ weight · value` over the terms, shape `[1]`: the tensor to call `backward` on.
    ///
    /// # Panics
    /// When there is no term.
    pub fn total(&self) -> Tensor<B, 1> {
        let mut terms = self.terms.iter();
        let first = terms.next().expect("an objective needs at least one term");
        let weighted = |t: &LossTerm<B>| {
            if t.weight == 1.0 {
                t.value.clone()
            } else {
                t.value.clone().mul_scalar(t.weight)
            }
        };
        terms.fold(weighted(first), |sum, term| sum + weighted(term))
    }

    /// The term named `name`.
    pub fn get(&self, name: &str) -> Option<&LossTerm<B>> {
        self.terms.iter().find(|t| t.name == name)
    }

    /// The terms, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &LossTerm<B>> {
        self.terms.iter()
    }

    /// The terms' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.terms.iter().map(|t| t.name)
    }

    /// Whether there is no term.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}
