//! The largest sizes a config may ask for, checked before anything is allocated: a config
//! read from a file (a `--model` JSON, a student's header, a Hugging Face `config.json`) that
//! asks for more is refused with the field named, instead of aborting the process on an
//! allocation of terabytes.
//!
//! The bounds are far above every model of the zoo (DeiT-III-Large: width 1,024, 24 blocks,
//! 304 M parameters) and below what would not fit in any machine's memory.
//!
//! ```
//! use pela_zoo::vit::VitConfig;
//!
//! let wide = VitConfig::new(224, 16, 1000, 1 << 20, 12, 16);
//! assert!(wide.validate().unwrap_err().to_string().contains("`d_model` 1048576 is more than 65536"));
//! ```

use crate::ZooError;

/// The widest layer: 65,536 (`d_model`, `hidden_size`, an MLP's hidden width, a stage's width).
pub const MAX_WIDTH: usize = 1 << 16;
/// The most blocks or layers: 1,024.
pub const MAX_DEPTH: usize = 1 << 10;
/// The most tokens a sequence or an attention window may have: 16,384 (an attention matrix of
/// 2²⁸ scores a head).
pub const MAX_TOKENS: usize = 1 << 14;
/// The largest image side: 16,384 pixels.
pub const MAX_IMAGE_SIZE: usize = 1 << 14;
/// The most input channels: 64.
pub const MAX_CHANNELS: usize = 64;
/// The most classes or vocabulary entries: 4,194,304.
pub const MAX_VOCABULARY: usize = 1 << 22;
/// The largest MLP ratio (hidden width over width): 64.
pub const MAX_MLP_RATIO: f64 = 64.0;
/// The most parameters a model may have: 2³⁴, about 17 billion (68 GB in `f32`).
pub const MAX_PARAMETERS: u128 = 1 << 34;

/// Refuses the first `(field, value, most)` whose value is 0 or above its bound.
pub(crate) fn sizes(fields: &[(&str, usize, usize)]) -> Result<(), ZooError> {
    for &(name, value, most) in fields {
        if value == 0 {
            return Err(invalid(format!("`{name}` is 0; it must be at least 1")));
        }
        at_most(name, value, most)?;
    }
    Ok(())
}

/// Refuses `value` above `most`.
pub(crate) fn at_most(name: &str, value: usize, most: usize) -> Result<(), ZooError> {
    if value > most {
        return Err(invalid(format!(
            "`{name}` {value} is more than {most}, the largest pela-zoo accepts (a corrupt or \
             mistyped config?)"
        )));
    }
    Ok(())
}

/// Refuses a ratio that is not finite and positive, or above [`MAX_MLP_RATIO`].
pub(crate) fn mlp_ratio(name: &str, ratio: f64) -> Result<(), ZooError> {
    if !(ratio.is_finite() && ratio > 0.0 && ratio <= MAX_MLP_RATIO) {
        return Err(invalid(format!(
            "`{name}` {ratio} must be positive and at most {MAX_MLP_RATIO} (4.0 in most models)"
        )));
    }
    Ok(())
}

/// Refuses a model of more than [`MAX_PARAMETERS`] parameters (counted, from sizes already
/// bounded, in 128 bits, so that the count cannot overflow).
pub(crate) fn parameters(model: &str, count: u128) -> Result<(), ZooError> {
    if count > MAX_PARAMETERS {
        return Err(invalid(format!(
            "the config describes a {model} of about {count} parameters, more than \
             {MAX_PARAMETERS}, the most pela-zoo accepts"
        )));
    }
    Ok(())
}

/// `size` as a 128-bit count.
pub(crate) fn n(size: usize) -> u128 {
    size as u128
}

fn invalid(reason: String) -> ZooError {
    ZooError::InvalidConfig { reason }
}
