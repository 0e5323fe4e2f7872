//! Enum values as stored: the wire name of a value, written to and read from
//! text columns.

use crate::error::ApiError;
use serde::Serialize;

/// Parses a stored enum name.
pub fn parse_enum<T: serde::de::DeserializeOwned>(name: &str) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
        tracing::error!(value = name, "unknown enum value in the database");
        ApiError::Internal
    })
}

/// The wire name of an enum value.
pub fn enum_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
