//! An approver's inbox and the delegation of an account's approvals.

use crate::error::ApiError;
use crate::schema::{accounts, delegations, filing_steps, filings};
use crate::store::filings::FilingRow;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

/// The filings whose current step awaits one of `people` (the caller first,
/// then those they act for), not filed by the caller, after the id `after`,
/// in the order of their ids: at most `limit` rows.
pub fn awaiting(
    conn: &mut PgConnection,
    people: Vec<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<FilingRow>, ApiError> {
    let caller = people.first().copied().unwrap_or_default();
    Ok(filings::table
        .inner_join(
            filing_steps::table.on(filing_steps::filing_id
                .eq(filings::id)
                .and(filing_steps::round.eq(filings::current_round))
                .and(filing_steps::step.nullable().eq(filings::current_step))),
        )
        .filter(filing_steps::decision.is_null())
        .filter(filing_steps::candidates.overlaps_with(people))
        .filter(filings::account_id.ne(caller))
        // A first page reads after the nil id, so the query has one shape and
        // diesel prepares it once per connection.
        .filter(filings::id.gt(after.unwrap_or_default()))
        .select(FilingRow::as_select())
        .order(filings::id)
        .limit(limit)
        .load(conn)?)
}

/// Whether an account exists and is active.
pub fn is_active(conn: &mut PgConnection, account: Uuid) -> Result<bool, ApiError> {
    let status: Option<String> = accounts::table
        .find(account)
        .select(accounts::status)
        .first(conn)
        .optional()?;
    Ok(status.as_deref() == Some("active"))
}

/// Sets an account's delegation, replacing any earlier one.
pub fn set_delegation(
    conn: &mut PgConnection,
    account: Uuid,
    delegate: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    diesel::insert_into(delegations::table)
        .values((
            delegations::account_id.eq(account),
            delegations::delegate_id.eq(delegate),
            delegations::starts_at.eq(starts_at),
            delegations::ends_at.eq(ends_at),
        ))
        .on_conflict(delegations::account_id)
        .do_update()
        .set((
            delegations::delegate_id.eq(delegate),
            delegations::starts_at.eq(starts_at),
            delegations::ends_at.eq(ends_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends an account's delegation; answers whether it had one.
pub fn end_delegation(conn: &mut PgConnection, account: Uuid) -> Result<bool, ApiError> {
    Ok(diesel::delete(delegations::table.find(account)).execute(conn)? > 0)
}
