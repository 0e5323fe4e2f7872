//! Stored JSON written through as stored.
//!
//! A filing's assessment is built from core's `Assessment` when it is filed and
//! never changes after. Lists of filings answer it as the database keeps it:
//! decoding it into a tree of values and encoding it again for every filing of
//! every page was most of the approver inbox's time (BENCHMARKS.md).

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Jsonb;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A `jsonb` value as the database returns it, answered without being decoded.
#[derive(Debug, Clone, FromSqlRow, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// Decodes it into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.0.get())
    }

    /// The stored form of a value.
    pub fn of<T: Serialize>(value: &T) -> serde_json::Result<Self> {
        Ok(RawJson(serde_json::value::to_raw_value(value)?))
    }

    /// Its text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl FromSql<Jsonb, Pg> for RawJson {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        from_jsonb(value.as_bytes())
    }
}

/// Reads the binary form of `jsonb`: a version byte (1) and the text.
fn from_jsonb(bytes: &[u8]) -> deserialize::Result<RawJson> {
    match bytes.split_first() {
        Some((1, text)) => Ok(RawJson(RawValue::from_string(
            std::str::from_utf8(text)?.to_owned(),
        )?)),
        _ => Err("unsupported jsonb version".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::RawJson;
    use serde_json::json;

    #[test]
    fn written_through_as_stored_and_decodable() {
        let raw: RawJson = serde_json::from_str(r#"{"b": [1, 2], "a": null}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&raw).unwrap(),
            r#"{"b": [1, 2], "a": null}"#
        );
        let value: serde_json::Value = raw.decode().unwrap();
        assert_eq!(value, json!({"a": null, "b": [1, 2]}));
        assert!(raw.decode::<Vec<u8>>().is_err());
    }

    #[test]
    fn only_version_1_jsonb_holding_json_text_is_read() {
        let raw = super::from_jsonb(b"\x01{\"a\": 1}").unwrap();
        assert_eq!(raw.get(), r#"{"a": 1}"#);
        for bytes in [
            &b""[..],
            &b"\x02{\"a\": 1}"[..],
            &b"\x01\xff\xfe"[..],
            &b"\x01{\"a\":"[..],
        ] {
            assert!(super::from_jsonb(bytes).is_err(), "{bytes:?}");
        }
    }
}
