//! The audit chain as stored: entries appended inside transactions, sealed in order, and read back to verify.

use crate::error::ApiError;
use crate::schema::{audit_checkpoints, audit_log};
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use serde_json::Value;
use uuid::Uuid;

/// The advisory lock that seals the chain one sealer at a time.
const SEAL_LOCK: i64 = 7_172_027;

/// An entry to append: who did `action` on which entity, with its data.
pub struct NewEntry {
    /// Who did it; none for the system.
    pub actor: Option<Uuid>,
    /// The kind of entity.
    pub entity: String,
    /// The entity, when it has an id.
    pub entity_id: Option<Uuid>,
    /// What was done.
    pub action: String,
    /// The details.
    pub data: Value,
}

/// A row as hashed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    /// Its id, in the order of writing.
    pub id: i64,
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor_id: Option<Uuid>,
    /// The kind of entity.
    pub entity: String,
    /// The entity.
    pub entity_id: Option<Uuid>,
    /// What was done.
    pub action: String,
    /// The details.
    pub data: Value,
}

/// A sealed row: its chain position, the hash before it, its hash, and the row.
pub type SealedRow = (Option<i64>, Option<Vec<u8>>, Option<Vec<u8>>, AuditRow);

/// Appends entries, unsealed, all written `at`, in one statement; their ids
/// come from the sequence in the order given.
pub fn append_all(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    entries: &[NewEntry],
) -> Result<(), ApiError> {
    let rows: Vec<_> = entries
        .iter()
        .map(|entry| {
            (
                audit_log::at.eq(at),
                audit_log::actor_id.eq(entry.actor),
                audit_log::entity.eq(&entry.entity),
                audit_log::entity_id.eq(entry.entity_id),
                audit_log::action.eq(&entry.action),
                audit_log::data.eq(&entry.data),
            )
        })
        .collect();
    diesel::insert_into(audit_log::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

/// Appends one entry, unsealed, written `at`.
pub fn append_one(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    actor: Option<Uuid>,
    entity: &str,
    entity_id: Option<Uuid>,
    action: &str,
    data: &Value,
) -> Result<(), ApiError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            audit_log::actor_id.eq(actor),
            audit_log::entity.eq(entity),
            audit_log::entity_id.eq(entity_id),
            audit_log::action.eq(action),
            audit_log::data.eq(data),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes the sealing lock until the end of the caller's transaction, waiting
/// for another sealer to finish.
pub fn lock_for_sealing(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::select(sql::<Bool>(&format!(
        "pg_advisory_xact_lock({SEAL_LOCK}) IS NOT NULL"
    )))
    .execute(conn)?;
    Ok(())
}

/// The chain position and hash of the last sealed row; none before the
/// first.
pub fn last_sealed(conn: &mut PgConnection) -> QueryResult<Option<(i64, Vec<u8>)>> {
    let last: Option<(Option<i64>, Option<Vec<u8>>)> = audit_log::table
        .filter(audit_log::seq.is_not_null())
        .order(audit_log::seq.desc())
        .select((audit_log::seq, audit_log::hash))
        .first(conn)
        .optional()?;
    Ok(match last {
        Some((Some(seq), Some(hash))) => Some((seq, hash)),
        _ => None,
    })
}

/// Up to `limit` unsealed rows of finished transactions (every transaction
/// older than the oldest one still running), in transaction order, then in
/// the order written.
pub fn unsealed_finished(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<AuditRow>> {
    audit_log::table
        .filter(audit_log::seq.is_null())
        .filter(sql::<Bool>("xid < pg_snapshot_xmin(pg_current_snapshot())"))
        .order((audit_log::xid, audit_log::id))
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// Seals a row: its position in the chain, the hash before it and its own.
pub fn seal_row(
    conn: &mut PgConnection,
    id: i64,
    seq: i64,
    prev_hash: &[u8],
    hash: &[u8],
) -> QueryResult<()> {
    diesel::update(audit_log::table.find(id))
        .set((
            audit_log::seq.eq(seq),
            audit_log::prev_hash.eq(prev_hash),
            audit_log::hash.eq(hash),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many rows are not sealed yet.
pub fn unsealed_count(conn: &mut PgConnection) -> QueryResult<i64> {
    audit_log::table
        .filter(audit_log::seq.is_null())
        .count()
        .get_result(conn)
}

/// Up to `limit` sealed rows from chain position `from`, in chain order.
pub fn sealed_from(conn: &mut PgConnection, from: i64, limit: i64) -> QueryResult<Vec<SealedRow>> {
    audit_log::table
        .filter(audit_log::seq.ge(from))
        .order(audit_log::seq)
        .limit(limit)
        .select((
            audit_log::seq,
            audit_log::prev_hash,
            audit_log::hash,
            AuditRow::as_select(),
        ))
        .load(conn)
}

/// When the last published checkpoint was taken; none before the first.
pub fn last_checkpoint_at(conn: &mut PgConnection) -> QueryResult<Option<DateTime<Utc>>> {
    audit_checkpoints::table
        .select(diesel::dsl::max(audit_checkpoints::at))
        .first(conn)
}

/// Records a published checkpoint.
pub fn record_checkpoint(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    seq: i64,
    hash: &[u8],
    signature: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_checkpoints::table)
        .values((
            audit_checkpoints::at.eq(at),
            audit_checkpoints::seq.eq(seq),
            audit_checkpoints::hash.eq(hash),
            audit_checkpoints::signature.eq(signature),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}
