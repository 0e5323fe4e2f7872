//! The audit chain: every state change of every resource appends a row whose
//! hash covers the previous row's hash and the row itself. The database refuses
//! UPDATE, DELETE and TRUNCATE on the table; [`verify`] recomputes the chain and
//! names the first row that does not fit.
//!
//! Appends take a transaction-scoped advisory lock, so rows get consecutive ids
//! in commit order and the chain has no forks; the lock is held only from the
//! append to the commit, so handlers append last.

use crate::error::ApiError;
use crate::schema::audit_log;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

const LOCK: i64 = 7_172_027;
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

#[allow(clippy::too_many_arguments)]
fn row_hash(
    prev: &[u8],
    id: i64,
    at: DateTime<Utc>,
    actor: Option<Uuid>,
    entity: &str,
    entity_id: Option<Uuid>,
    action: &str,
    data: &Value,
) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    let body = serde_json::json!({
        "id": id,
        "at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor_id": actor,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "data": data,
    });
    hasher.update(canonical(&body).as_bytes());
    hasher.finalize().to_vec()
}

/// An entry waiting for the end of its transaction.
struct Pending {
    actor: Option<Uuid>,
    entity: String,
    entity_id: Option<Uuid>,
    action: String,
    data: Value,
}

thread_local! {
    /// Entries of the transaction running on this thread, when it defers them.
    static DEFERRED: std::cell::RefCell<Option<Vec<Pending>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `work`, holding back every [`append`] it makes until it succeeds, then
/// writes them all at once. The chain's lock is then held only from that write
/// to the commit, not for the whole transaction. `work` must be the body of a
/// transaction on this thread.
pub fn deferred<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    /// Stops deferring however `work` ends, even by unwinding, so that a later
    /// transaction on this pooled thread never inherits held-back entries.
    struct StopDeferring;
    impl Drop for StopDeferring {
        fn drop(&mut self) {
            DEFERRED.with(|d| *d.borrow_mut() = None);
        }
    }
    DEFERRED.with(|d| *d.borrow_mut() = Some(Vec::new()));
    let guard = StopDeferring;
    let result = work(conn);
    let pending = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
    drop(guard);
    let value = result?;
    for entry in pending {
        write(
            conn,
            entry.actor,
            &entry.entity,
            entry.entity_id,
            &entry.action,
            entry.data,
        )?;
    }
    Ok(value)
}

/// Appends one row to the chain, inside the caller's transaction (at its end,
/// when the transaction defers appends).
pub fn append(
    conn: &mut PgConnection,
    actor: Option<Uuid>,
    entity: &str,
    entity_id: Option<Uuid>,
    action: &str,
    data: Value,
) -> Result<(), ApiError> {
    let held = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(pending) => {
            pending.push(Pending {
                actor,
                entity: entity.to_owned(),
                entity_id,
                action: action.to_owned(),
                data: data.clone(),
            });
            true
        }
        None => false,
    });
    if held {
        Ok(())
    } else {
        write(conn, actor, entity, entity_id, action, data)
    }
}

fn write(
    conn: &mut PgConnection,
    actor: Option<Uuid>,
    entity: &str,
    entity_id: Option<Uuid>,
    action: &str,
    data: Value,
) -> Result<(), ApiError> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "pg_advisory_xact_lock({LOCK}) IS NOT NULL"
    )))
    .execute(conn)?;
    let last: Option<(i64, Vec<u8>)> = audit_log::table
        .order(audit_log::id.desc())
        .select((audit_log::id, audit_log::hash))
        .first(conn)
        .optional()?;
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_vec()),
    };
    // PostgreSQL keeps microseconds: hash what will be read back.
    let at = Utc::now().trunc_subsecs(6);
    let hash = row_hash(&prev, id, at, actor, entity, entity_id, action, &data);
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(id),
            audit_log::at.eq(at),
            audit_log::actor_id.eq(actor),
            audit_log::entity.eq(entity),
            audit_log::entity_id.eq(entity_id),
            audit_log::action.eq(action),
            audit_log::data.eq(&data),
            audit_log::prev_hash.eq(&prev),
            audit_log::hash.eq(&hash),
        ))
        .execute(conn)?;
    Ok(())
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

type AuditRow = (
    i64,
    DateTime<Utc>,
    Option<Uuid>,
    String,
    Option<Uuid>,
    String,
    Value,
    Vec<u8>,
    Vec<u8>,
);

/// Recomputes the chain from the first row.
pub fn verify(conn: &mut PgConnection) -> QueryResult<Verification> {
    let mut expected_prev = GENESIS.to_vec();
    let mut expected_id = 1;
    let mut checked = 0;
    loop {
        let batch: Vec<AuditRow> = audit_log::table
            .filter(audit_log::id.ge(expected_id))
            .order(audit_log::id)
            .limit(1000)
            .select((
                audit_log::id,
                audit_log::at,
                audit_log::actor_id,
                audit_log::entity,
                audit_log::entity_id,
                audit_log::action,
                audit_log::data,
                audit_log::prev_hash,
                audit_log::hash,
            ))
            .load(conn)?;
        if batch.is_empty() {
            return Ok(Verification {
                ok: true,
                checked,
                first_bad_id: None,
            });
        }
        for (id, at, actor, entity, entity_id, action, data, prev, hash) in batch {
            let recomputed = row_hash(
                &expected_prev,
                id,
                at,
                actor,
                &entity,
                entity_id,
                &action,
                &data,
            );
            if id != expected_id || prev != expected_prev || hash != recomputed {
                return Ok(Verification {
                    ok: false,
                    checked,
                    first_bad_id: Some(id),
                });
            }
            checked += 1;
            expected_id = id + 1;
            expected_prev = hash;
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
    fn a_row_hash_depends_on_every_field_and_the_previous_hash() {
        let at = Utc::now().trunc_subsecs(6);
        let data = serde_json::json!({"k": 1});
        let base = row_hash(&GENESIS, 1, at, None, "unit", None, "created", &data);
        assert_ne!(
            base,
            row_hash(&[1; 32], 1, at, None, "unit", None, "created", &data)
        );
        assert_ne!(
            base,
            row_hash(&GENESIS, 2, at, None, "unit", None, "created", &data)
        );
        assert_ne!(
            base,
            row_hash(&GENESIS, 1, at, None, "unit", None, "updated", &data)
        );
        assert_ne!(
            base,
            row_hash(
                &GENESIS,
                1,
                at,
                None,
                "unit",
                None,
                "created",
                &serde_json::json!({"k": 2})
            )
        );
        assert_eq!(
            base,
            row_hash(&GENESIS, 1, at, None, "unit", None, "created", &data)
        );
    }
}
