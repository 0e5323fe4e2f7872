//! The second factor as stored: an account's sealed TOTP secret, whether its
//! enrolment is confirmed, the last step accepted, and its recovery codes.

use crate::error::ApiError;
use crate::schema::{mfa_recovery_codes, mfa_totp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

/// An account's TOTP enrolment.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = mfa_totp)]
pub struct Enrolment {
    /// The sealed secret.
    pub secret: Vec<u8>,
    /// When its first code confirmed it; `None` while it waits for one.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last step whose code was accepted.
    pub last_step: Option<i64>,
}

/// The enrolment of an account, locked for the rest of the transaction so
/// concurrent attempts at a code are taken one after the other.
pub fn locked(conn: &mut PgConnection, account_id: Uuid) -> Result<Option<Enrolment>, ApiError> {
    Ok(mfa_totp::table
        .find(account_id)
        .select(Enrolment::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

/// Whether an account has a confirmed second factor.
pub fn is_enrolled(conn: &mut PgConnection, account_id: Uuid) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        mfa_totp::table
            .filter(mfa_totp::account_id.eq(account_id))
            .filter(mfa_totp::confirmed_at.is_not_null()),
    ))
    .get_result(conn)?)
}

/// Starts (or starts again) an enrolment with a new sealed secret, unless
/// one is confirmed; answers whether it did.
pub fn begin(conn: &mut PgConnection, account_id: Uuid, sealed: &[u8]) -> Result<bool, ApiError> {
    use diesel::query_dsl::methods::FilterDsl;
    let written = diesel::insert_into(mfa_totp::table)
        .values((
            mfa_totp::account_id.eq(account_id),
            mfa_totp::secret.eq(sealed),
        ))
        .on_conflict(mfa_totp::account_id)
        .do_update()
        .set((
            mfa_totp::secret.eq(sealed),
            mfa_totp::created_at.eq(diesel::dsl::now),
            mfa_totp::last_step.eq(None::<i64>),
        ))
        .filter(mfa_totp::confirmed_at.is_null())
        .execute(conn)?;
    Ok(written == 1)
}

/// Confirms an enrolment at the step of its first code, and replaces the
/// account's recovery codes with these (by their hashes).
pub fn confirm(
    conn: &mut PgConnection,
    account_id: Uuid,
    step: i64,
    recovery_hashes: &[Vec<u8>],
) -> Result<(), ApiError> {
    diesel::update(mfa_totp::table.find(account_id))
        .set((
            mfa_totp::confirmed_at.eq(diesel::dsl::now),
            mfa_totp::last_step.eq(step),
        ))
        .execute(conn)?;
    diesel::delete(mfa_recovery_codes::table.filter(mfa_recovery_codes::account_id.eq(account_id)))
        .execute(conn)?;
    let rows: Vec<_> = recovery_hashes
        .iter()
        .map(|hash| {
            (
                mfa_recovery_codes::id.eq(Uuid::new_v4()),
                mfa_recovery_codes::account_id.eq(account_id),
                mfa_recovery_codes::code_hash.eq(hash),
            )
        })
        .collect();
    diesel::insert_into(mfa_recovery_codes::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

/// Records the step of an accepted code.
pub fn take_step(conn: &mut PgConnection, account_id: Uuid, step: i64) -> Result<(), ApiError> {
    diesel::update(mfa_totp::table.find(account_id))
        .set(mfa_totp::last_step.eq(step))
        .execute(conn)?;
    Ok(())
}

/// Spends an unused recovery code of the account by its hash; answers
/// whether there was one.
pub fn spend_recovery_code(
    conn: &mut PgConnection,
    account_id: Uuid,
    hash: &[u8],
) -> Result<bool, ApiError> {
    let spent = diesel::update(
        mfa_recovery_codes::table
            .filter(mfa_recovery_codes::account_id.eq(account_id))
            .filter(mfa_recovery_codes::code_hash.eq(hash))
            .filter(mfa_recovery_codes::used_at.is_null()),
    )
    .set(mfa_recovery_codes::used_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(spent == 1)
}

/// How many unused recovery codes the account has.
pub fn recovery_codes_left(conn: &mut PgConnection, account_id: Uuid) -> Result<i64, ApiError> {
    Ok(mfa_recovery_codes::table
        .filter(mfa_recovery_codes::account_id.eq(account_id))
        .filter(mfa_recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Removes the account's second factor and its recovery codes; answers
/// whether it had one (confirmed or waiting).
pub fn remove(conn: &mut PgConnection, account_id: Uuid) -> Result<bool, ApiError> {
    diesel::delete(mfa_recovery_codes::table.filter(mfa_recovery_codes::account_id.eq(account_id)))
        .execute(conn)?;
    let removed = diesel::delete(mfa_totp::table.find(account_id)).execute(conn)?;
    Ok(removed == 1)
}
