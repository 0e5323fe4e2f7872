//! How a vector's expected assessment is compared with an actual one, shared by
//! the core's and the server's vector tests (included with `#[path]`): messages
//! are dropped, errors and warnings compared in any order, and timestamps as
//! instants.

use serde_json::Value;

/// The comparable form of an assessment.
pub fn normalise(mut value: Value) -> Value {
    for key in ["errors", "warnings"] {
        if let Some(Value::Array(items)) = value.get_mut(key) {
            for item in items.iter_mut() {
                if let Value::Object(map) = item {
                    map.remove("message");
                }
            }
            items.sort_by_key(|i| i.to_string());
        }
    }
    for key in ["submit_by", "return_report_due"] {
        if let Some(Value::String(s)) = value.get(key)
            && let Ok(t) = chrono::DateTime::parse_from_rfc3339(s)
        {
            value[key] = Value::String(t.to_utc().to_rfc3339());
        }
    }
    value
}
