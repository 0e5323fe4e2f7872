//! The audit chain: every state change of every resource appends a row, and
//! each row's hash covers the previous row's hash and the row itself. The
//! database refuses UPDATE, DELETE and TRUNCATE on the table, except the one
//! update that seals a row; [`verify`] recomputes the chain and names the first
//! row that does not fit.
//!
//! Appending takes no lock: a transaction writes its rows unsealed (ids from a
//! sequence, its transaction id recorded). [`seal`] then links the rows of
//! finished transactions into the chain, in transaction order, under an
//! advisory lock: the worker seals every round, and verifying seals first.
//! So concurrent filings never wait for one another on the chain.

use crate::error::ApiError;
use crate::store::audit::{self as store, AuditRow, NewEntry};
use chrono::{SubsecRound, Utc};
use diesel::{Connection, PgConnection, QueryResult};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// The `prev_hash` of the first row.
pub const GENESIS: [u8; 32] = [0; 32];

/// JSON with object keys sorted at every level, so a value read back from
/// `jsonb` hashes as it did when written.
pub fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// The hash of a row at chain position `seq` following `prev`.
fn row_hash(prev: &[u8], seq: i64, row: &AuditRow) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    let body = serde_json::json!({
        "seq": seq,
        "id": row.id,
        "at": row.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor_id": row.actor_id,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "action": row.action,
        "data": row.data,
    });
    hasher.update(canonical(&body).as_bytes());
    hasher.finalize().to_vec()
}

/// The audit entries of one transaction, held until its work succeeds and then
/// written together (see [`Tx`](crate::tx::Tx)). The chain's rows are then the
/// last ones a transaction writes.
#[derive(Default)]
pub struct Entries(Vec<NewEntry>);

impl Entries {
    /// Records one entry: who did `action` on which entity, with its data.
    pub fn record(
        &mut self,
        actor: Option<Uuid>,
        entity: &str,
        entity_id: Option<Uuid>,
        action: &str,
        data: Value,
    ) {
        self.0.push(NewEntry {
            actor,
            entity: entity.to_owned(),
            entity_id,
            action: action.to_owned(),
            data,
        });
    }

    /// Writes the entries, in the order recorded, in one statement.
    pub fn write(self, conn: &mut PgConnection) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        // PostgreSQL keeps microseconds: hash what will be read back.
        let at = Utc::now().trunc_subsecs(6);
        store::append_all(conn, at, &self.0)
    }
}

/// Appends one row to the chain at once, in the caller's transaction: for work
/// outside a request (the command line, the demo district).
pub fn append(
    conn: &mut PgConnection,
    actor: Option<Uuid>,
    entity: &str,
    entity_id: Option<Uuid>,
    action: &str,
    data: Value,
) -> Result<(), ApiError> {
    write(conn, actor, entity, entity_id, action, data)
}

fn write(
    conn: &mut PgConnection,
    actor: Option<Uuid>,
    entity: &str,
    entity_id: Option<Uuid>,
    action: &str,
    data: Value,
) -> Result<(), ApiError> {
    // PostgreSQL keeps microseconds: hash what will be read back.
    let at = Utc::now().trunc_subsecs(6);
    store::append_one(conn, at, actor, entity, entity_id, action, &data)
}

/// Links the rows of finished transactions into the chain, oldest transaction
/// first, at most `limit` of them; answers how many it sealed. Rows of
/// transactions still running wait for a later call.
pub fn seal(conn: &mut PgConnection, limit: i64) -> QueryResult<usize> {
    conn.transaction(|conn| {
        store::lock_for_sealing(conn)?;
        let (mut seq, mut prev) =
            store::last_sealed(conn)?.unwrap_or_else(|| (0, GENESIS.to_vec()));
        let rows = store::unsealed_finished(conn, limit)?;
        for row in &rows {
            seq += 1;
            let hash = row_hash(&prev, seq, row);
            store::seal_row(conn, row.id, seq, &prev, &hash)?;
            prev = hash;
        }
        Ok(rows.len())
    })
}

/// Seals everything finished so far.
pub fn seal_all(conn: &mut PgConnection) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let sealed = seal(conn, 1000)?;
        total += sealed;
        if sealed < 1000 {
            return Ok(total);
        }
    }
}

/// A resource's state as audit data.
pub fn state<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Verification {
    /// Every row fits.
    pub ok: bool,
    /// Rows checked.
    pub checked: i64,
    /// The first row that does not fit: a changed row, a missing predecessor, or a broken link.
    pub first_bad_id: Option<i64>,
}

/// Seals everything already written, waiting up to `patience` for the
/// transactions still running (on this database or, since transaction ids
/// are shared, on the same server) to end. Answers how many rows are still
/// unsealed.
pub fn seal_written(conn: &mut PgConnection, patience: std::time::Duration) -> QueryResult<i64> {
    let started = std::time::Instant::now();
    loop {
        seal_all(conn)?;
        let unsealed = store::unsealed_count(conn)?;
        if unsealed == 0 || started.elapsed() >= patience {
            return Ok(unsealed);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Seals what has been written (waiting briefly for running transactions),
/// then recomputes the chain from its first row.
pub fn verify(conn: &mut PgConnection) -> QueryResult<Verification> {
    seal_written(conn, std::time::Duration::from_secs(5))?;
    let mut expected_prev = GENESIS.to_vec();
    let mut expected_seq = 1;
    let mut checked = 0;
    loop {
        let batch = store::sealed_from(conn, expected_seq, 1000)?;
        if batch.is_empty() {
            return Ok(Verification {
                ok: true,
                checked,
                first_bad_id: None,
            });
        }
        for (seq, prev, hash, row) in batch {
            let seq = seq.unwrap_or_default();
            let recomputed = row_hash(&expected_prev, seq, &row);
            if seq != expected_seq
                || prev.as_deref() != Some(&expected_prev[..])
                || hash.as_deref() != Some(&recomputed[..])
            {
                return Ok(Verification {
                    ok: false,
                    checked,
                    first_bad_id: Some(row.id),
                });
            }
            checked += 1;
            expected_seq = seq + 1;
            expected_prev = recomputed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"y":1,"x":2}],"c":"é"}}"#).unwrap();
        assert_eq!(
            canonical(&a),
            r#"{"a":{"c":"é","d":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn a_row_hash_depends_on_every_field_the_position_and_the_previous_hash() {
        let row = AuditRow {
            id: 1,
            at: Utc::now().trunc_subsecs(6),
            actor_id: None,
            entity: "unit".into(),
            entity_id: None,
            action: "created".into(),
            data: serde_json::json!({"k": 1}),
        };
        let base = row_hash(&GENESIS, 1, &row);
        assert_eq!(base, row_hash(&GENESIS, 1, &row.clone()));
        assert_ne!(base, row_hash(&[1; 32], 1, &row));
        assert_ne!(base, row_hash(&GENESIS, 2, &row));
        assert_ne!(
            base,
            row_hash(
                &GENESIS,
                1,
                &AuditRow {
                    id: 2,
                    ..row.clone()
                }
            )
        );
        assert_ne!(
            base,
            row_hash(
                &GENESIS,
                1,
                &AuditRow {
                    action: "updated".into(),
                    ..row.clone()
                }
            )
        );
        assert_ne!(
            base,
            row_hash(
                &GENESIS,
                1,
                &AuditRow {
                    data: serde_json::json!({"k": 2}),
                    ..row
                }
            )
        );
    }
}
