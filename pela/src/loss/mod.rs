//! The PELA losses: feature distillation (Eq. 4), regularised weight perturbation (Eq. 6) and
//! their combination with the task loss (Eq. 7).
//!
//! Each comes in the authors' released form (the default, what produced the paper's numbers)
//! and the paper's written form, chosen by a small config enum.

mod feature_distillation;
mod objective;
mod terms;
mod weight_perturbation;

pub use feature_distillation::*;
pub use objective::*;
pub use terms::*;
pub use weight_perturbation::*;
