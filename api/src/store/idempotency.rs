//! Idempotency keys as stored: a request's claim and the answer kept for its retries.

use crate::error::{ApiError, ProblemCode};
use crate::schema::idempotency_keys;
use diesel::prelude::*;
use uuid::Uuid;

/// What is stored under an account's key.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
pub struct StoredKey {
    /// The hash of the request that claimed the key.
    pub request_hash: Vec<u8>,
    /// The answer's status; none while the answer is not stored.
    pub status: Option<i32>,
    /// The answer's `Content-Type`.
    pub content_type: Option<String>,
    /// The answer's `ETag`.
    pub etag: Option<String>,
    /// The answer's body, sealed.
    pub body: Option<Vec<u8>>,
}

/// What is stored under an account's key, if the key was claimed.
pub fn stored(
    conn: &mut PgConnection,
    account: Uuid,
    key: &str,
) -> Result<Option<StoredKey>, ApiError> {
    Ok(idempotency_keys::table
        .find((account, key))
        .select(StoredKey::as_select())
        .first(conn)
        .optional()?)
}

/// An answer to keep for a key.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: i32,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Its `ETag`.
    pub etag: Option<String>,
    /// Its body, sealed.
    pub body: Vec<u8>,
}

/// Keeps the answer of a key its request claimed.
pub fn keep_answer(
    conn: &mut PgConnection,
    account: Uuid,
    key: &str,
    answer: Answer,
) -> Result<(), ApiError> {
    diesel::update(idempotency_keys::table.find((account, key)))
        .set((
            idempotency_keys::status.eq(answer.status),
            idempotency_keys::content_type.eq(answer.content_type),
            idempotency_keys::etag.eq(answer.etag),
            idempotency_keys::body.eq(answer.body),
        ))
        .execute(conn)?;
    Ok(())
}

/// Keeps the answer of a key its request did not claim, with the request's
/// hash, unless the key is taken by then.
pub fn keep_unclaimed_answer(
    conn: &mut PgConnection,
    account: Uuid,
    key: &str,
    request_hash: &[u8],
    answer: Answer,
) -> Result<(), ApiError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::account_id.eq(account),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            (
                idempotency_keys::status.eq(answer.status),
                idempotency_keys::content_type.eq(answer.content_type),
                idempotency_keys::etag.eq(answer.etag),
                idempotency_keys::body.eq(answer.body),
            ),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// Inserts a request's claim of its key, in the request's transaction. A
/// concurrent request holding the same key makes this wait for it and then
/// fail with 409 `idempotency_key_in_progress`.
pub fn claim(
    conn: &mut PgConnection,
    account: Uuid,
    key: &str,
    hash: &[u8],
) -> Result<(), ApiError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::account_id.eq(account),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(hash),
        ))
        .execute(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::Conflict(ProblemCode::IdempotencyKeyInProgress),
            other => ApiError::from(other),
        })?;
    Ok(())
}
