//! Configs from JSON texts in which the fields with a default may be left out.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ZooError;

/// The config of `text`: `skeleton`'s fields, less the `required` ones, overridden by the
/// fields `text` gives.
///
/// # Errors
/// [`ZooError::InvalidConfig`] for text that is not a JSON object, a missing required field or
/// a malformed one.
pub(crate) fn with_defaults<C: Serialize + DeserializeOwned>(
    skeleton: C,
    required: &[&str],
    text: &str,
) -> Result<C, ZooError> {
    let given = object(text)?;
    let mut merged = serde_json::to_value(skeleton).expect("a config serialises");
    let fields = merged.as_object_mut().expect("a config is an object");
    for field in required {
        fields.remove(*field);
    }
    fields.extend(given);
    serde_json::from_value(merged).map_err(|e| ZooError::InvalidConfig {
        reason: e.to_string(),
    })
}

/// The fields of a JSON object.
///
/// # Errors
/// [`ZooError::InvalidConfig`] for text that is not JSON, or JSON that is not an object.
pub(crate) fn object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, ZooError> {
    let invalid = |reason: String| ZooError::InvalidConfig { reason };
    match serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))? {
        serde_json::Value::Object(fields) => Ok(fields),
        _ => Err(invalid(
            "expected a JSON object of config fields".to_string(),
        )),
    }
}
