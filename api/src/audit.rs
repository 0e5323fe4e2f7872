//! The audit chain: every state change of every resource appends a row, and
//! each row's hash, an HMAC-SHA256 under the audit key
//! (`WHEREABOUTS_AUDIT_KEY`), covers the previous row's hash and the row
//! itself. The database refuses UPDATE, DELETE and TRUNCATE on the table,
//! except the one update that seals a row; [`verify`] recomputes the chain and
//! names the first row that does not fit. Without the key nobody can rewrite
//! a row, not even the last one, and make the chain fit again.
//!
//! What the chain alone cannot show is rows removed from its end. A
//! [`Checkpoint`], signed under the same key and kept outside the database,
//! names the chain's last position and hash at a moment; [`check_tail`] then
//! finds the rows at or before it removed or rewritten since.
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
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
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

/// The key the chain's hashes are computed under.
pub type Key = [u8; 32];

fn mac(key: &Key) -> Hmac<Sha256> {
    // HMAC takes a key of any length: a 32-byte one never fails.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts any key length"),
    }
}

/// The hash of a row at chain position `seq` following `prev`: an
/// HMAC-SHA256 under `key`.
fn row_hash(key: &Key, prev: &[u8], seq: i64, row: &AuditRow) -> Vec<u8> {
    let mut mac = mac(key);
    mac.update(prev);
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
    mac.update(canonical(&body).as_bytes());
    mac.finalize().into_bytes().to_vec()
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
pub fn seal(conn: &mut PgConnection, key: &Key, limit: i64) -> QueryResult<usize> {
    conn.transaction(|conn| {
        store::lock_for_sealing(conn)?;
        let (mut seq, mut prev) =
            store::last_sealed(conn)?.unwrap_or_else(|| (0, GENESIS.to_vec()));
        let rows = store::unsealed_finished(conn, limit)?;
        for row in &rows {
            seq += 1;
            let hash = row_hash(key, &prev, seq, row);
            store::seal_row(conn, row.id, seq, &prev, &hash)?;
            prev = hash;
        }
        Ok(rows.len())
    })
}

/// Seals everything finished so far.
pub fn seal_all(conn: &mut PgConnection, key: &Key) -> QueryResult<usize> {
    let mut total = 0;
    loop {
        let sealed = seal(conn, key, 1000)?;
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
pub fn seal_written(
    conn: &mut PgConnection,
    key: &Key,
    patience: std::time::Duration,
) -> QueryResult<i64> {
    let started = std::time::Instant::now();
    loop {
        seal_all(conn, key)?;
        let unsealed = store::unsealed_count(conn)?;
        if unsealed == 0 || started.elapsed() >= patience {
            return Ok(unsealed);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Seals what has been written (waiting briefly for running transactions),
/// then recomputes the chain from its first row.
pub fn verify(conn: &mut PgConnection, key: &Key) -> QueryResult<Verification> {
    seal_written(conn, key, std::time::Duration::from_secs(5))?;
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
            let recomputed = row_hash(key, &expected_prev, seq, &row);
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

/// The chain's end at a moment, signed under the audit key: kept outside
/// the database, it shows later whether rows at or before it were removed
/// or rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The chain position of the last sealed row (0: the chain was empty).
    pub seq: i64,
    /// That row's hash, in hex (the genesis hash for an empty chain).
    pub hash: String,
    /// When the checkpoint was taken.
    pub at: chrono::DateTime<Utc>,
    /// HMAC-SHA256 under the audit key of `seq`, `hash` and `at`, in hex.
    pub signature: String,
}

impl Checkpoint {
    /// The MAC of a checkpoint's fields under `key`.
    fn mac(key: &Key, seq: i64, hash: &str, at: chrono::DateTime<Utc>) -> Hmac<Sha256> {
        let mut mac = mac(key);
        mac.update(b"whereabouts audit checkpoint\n");
        let body = serde_json::json!({
            "seq": seq,
            "hash": hash,
            "at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        });
        mac.update(canonical(&body).as_bytes());
        mac
    }

    /// Whether the checkpoint was signed under `key` and is unchanged.
    pub fn signature_holds(&self, key: &Key) -> bool {
        hex::decode(&self.signature).is_ok_and(|given| {
            Self::mac(key, self.seq, &self.hash, self.at)
                .verify_slice(&given)
                .is_ok()
        })
    }
}

/// Seals what finished transactions have written, then signs the chain's end
/// as it is now (rows of transactions still running come after it).
pub fn checkpoint(conn: &mut PgConnection, key: &Key) -> QueryResult<Checkpoint> {
    seal_all(conn, key)?;
    let (seq, hash) = store::last_sealed(conn)?.unwrap_or_else(|| (0, GENESIS.to_vec()));
    let hash = hex::encode(hash);
    let at = Utc::now().trunc_subsecs(6);
    let signature = hex::encode(Checkpoint::mac(key, seq, &hash, at).finalize().into_bytes());
    Ok(Checkpoint {
        seq,
        hash,
        at,
        signature,
    })
}

/// Publishes a checkpoint as the webhook event `audit.checkpoint` to every
/// webhook over the whole tree that wants it, when the last one is at least
/// `interval` old; one replica at a time, under the sealing lock. Answers
/// whether it published one.
pub fn publish_checkpoint(
    conn: &mut PgConnection,
    key: &Key,
    interval: chrono::Duration,
) -> Result<bool, ApiError> {
    conn.transaction(|conn| {
        store::lock_for_sealing(conn)?;
        if store::last_checkpoint_at(conn)?.is_some_and(|last| Utc::now() - last < interval) {
            return Ok(false);
        }
        let checkpoint = checkpoint(conn, key)?;
        let hash = hex::decode(&checkpoint.hash)
            .map_err(|_| ApiError::broken("a checkpoint's own hash"))?;
        store::record_checkpoint(
            conn,
            checkpoint.at,
            checkpoint.seq,
            &hash,
            &checkpoint.signature,
        )?;
        let payload = serde_json::to_value(&checkpoint)
            .map_err(ApiError::internal("serialising a checkpoint"))?;
        for webhook in crate::store::outbox::webhooks_over_the_tree(conn, CHECKPOINT_EVENT)? {
            crate::store::outbox::queue_event(conn, webhook, CHECKPOINT_EVENT, &payload)?;
        }
        Ok(true)
    })
}

/// The webhook event a published checkpoint is.
pub const CHECKPOINT_EVENT: &str = "audit.checkpoint";

/// What became of the chain's end a checkpoint names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The row the checkpoint names is there with the hash it names.
    Intact,
    /// The checkpoint was not signed under this key, or was changed.
    Forged,
    /// Rows were removed from the end: the chain now ends at `last`, before
    /// the checkpoint's position.
    Truncated {
        /// The chain's last position now (0: empty).
        last: i64,
    },
    /// The row at the checkpoint's position hashes otherwise now: it or a
    /// row before it was rewritten.
    Rewritten {
        /// The checkpoint's position.
        seq: i64,
    },
}

/// Checks the chain's end against a checkpoint (the chain itself is checked
/// by [`verify`]).
pub fn check_tail(
    conn: &mut PgConnection,
    key: &Key,
    checkpoint: &Checkpoint,
) -> QueryResult<Tail> {
    if !checkpoint.signature_holds(key) {
        return Ok(Tail::Forged);
    }
    seal_written(conn, key, std::time::Duration::from_secs(5))?;
    let last = store::last_sealed(conn)?.map_or(0, |(seq, _)| seq);
    if last < checkpoint.seq {
        return Ok(Tail::Truncated { last });
    }
    let hash = if checkpoint.seq == 0 {
        Some(GENESIS.to_vec())
    } else {
        store::sealed_from(conn, checkpoint.seq, 1)?
            .into_iter()
            .find(|(seq, ..)| *seq == Some(checkpoint.seq))
            .and_then(|(_, _, hash, _)| hash)
    };
    Ok(match hash {
        Some(hash) if hex::encode(&hash) == checkpoint.hash => Tail::Intact,
        Some(_) => Tail::Rewritten {
            seq: checkpoint.seq,
        },
        None => Tail::Truncated { last },
    })
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
    fn a_row_hash_depends_on_the_key_every_field_the_position_and_the_previous_hash() {
        let row = AuditRow {
            id: 1,
            at: Utc::now().trunc_subsecs(6),
            actor_id: None,
            entity: "unit".into(),
            entity_id: None,
            action: "created".into(),
            data: serde_json::json!({"k": 1}),
        };
        let key = [7; 32];
        let base = row_hash(&key, &GENESIS, 1, &row);
        assert_eq!(base, row_hash(&key, &GENESIS, 1, &row.clone()));
        assert_ne!(base, row_hash(&[8; 32], &GENESIS, 1, &row));
        assert_ne!(base, row_hash(&key, &[1; 32], 1, &row));
        assert_ne!(base, row_hash(&key, &GENESIS, 2, &row));
        assert_ne!(
            base,
            row_hash(
                &key,
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
                &key,
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
                &key,
                &GENESIS,
                1,
                &AuditRow {
                    data: serde_json::json!({"k": 2}),
                    ..row
                }
            )
        );
    }

    #[test]
    fn a_checkpoint_holds_only_under_its_key_and_unchanged() {
        let key = [7; 32];
        let at = Utc::now().trunc_subsecs(6);
        let hash = hex::encode([3; 32]);
        let signature = hex::encode(Checkpoint::mac(&key, 5, &hash, at).finalize().into_bytes());
        let checkpoint = Checkpoint {
            seq: 5,
            hash,
            at,
            signature,
        };
        assert!(checkpoint.signature_holds(&key));
        assert!(!checkpoint.signature_holds(&[8; 32]));
        let moved = Checkpoint {
            seq: 4,
            ..checkpoint.clone()
        };
        assert!(!moved.signature_holds(&key));
        let garbled = Checkpoint {
            signature: "not hex".into(),
            ..checkpoint
        };
        assert!(!garbled.signature_holds(&key));
    }
}
