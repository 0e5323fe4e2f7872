//! The outbox as stored: notifications and webhook events written inside transactions, and their delivery.

use crate::error::ApiError;
use crate::schema::{delegations, filings, notifications, outbox, webhooks};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Uuid as SqlUuid};
use serde_json::Value;
use uuid::Uuid;

/// The accounts whose approvals `accounts` have delegated to, at `now`.
pub fn active_delegates(
    conn: &mut PgConnection,
    accounts: &[Uuid],
    now: DateTime<Utc>,
) -> QueryResult<Vec<Uuid>> {
    delegations::table
        .filter(delegations::account_id.eq_any(accounts))
        .filter(delegations::starts_at.le(now))
        .filter(delegations::ends_at.gt(now))
        .select(delegations::delegate_id)
        .load(conn)
}

/// Adds one notification of `kind` to an account's feed, unless one with
/// the same dedupe key is there already; answers how many it added (0 or 1).
pub fn add_notification(
    conn: &mut PgConnection,
    account: Uuid,
    kind: &str,
    filing: Option<Uuid>,
    data: &Value,
    dedupe_key: Option<String>,
) -> Result<usize, ApiError> {
    Ok(diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(Uuid::new_v4()),
            notifications::account_id.eq(account),
            notifications::kind.eq(kind),
            notifications::filing_id.eq(filing),
            notifications::data.eq(data),
            notifications::dedupe_key.eq(dedupe_key),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?)
}

/// Adds notifications of `kind` in one statement, one per `(account, data,
/// dedupe key)`, skipping those whose dedupe key is there already; answers
/// how many it added.
pub fn add_notifications(
    conn: &mut PgConnection,
    kind: &str,
    notes: &[(Uuid, &Value, &str)],
) -> Result<usize, ApiError> {
    let values: Vec<_> = notes
        .iter()
        .map(|&(account, data, dedupe_key)| {
            (
                notifications::id.eq(Uuid::new_v4()),
                notifications::account_id.eq(account),
                notifications::kind.eq(kind),
                notifications::data.eq(data),
                notifications::dedupe_key.eq(dedupe_key),
            )
        })
        .collect();
    Ok(diesel::insert_into(notifications::table)
        .values(values)
        .on_conflict_do_nothing()
        .execute(conn)?)
}

/// The webhooks, not deleted, over the whole tree that want `event` (or
/// every event).
pub fn webhooks_over_the_tree(conn: &mut PgConnection, event: &str) -> QueryResult<Vec<Uuid>> {
    webhooks::table
        .filter(webhooks::deleted_at.is_null())
        .filter(webhooks::unit_id.is_null())
        .filter(
            sql::<Bool>("(cardinality(webhooks.events) = 0 OR ")
                .bind::<diesel::sql_types::Text, _>(event)
                .sql(" = ANY(webhooks.events))"),
        )
        .select(webhooks::id)
        .load(conn)
}

/// The webhooks, not deleted, that may hear of a filing, with the events
/// each wants (none: every event): those over the whole tree and those whose
/// subtree holds the filing's node.
pub fn webhooks_for_filing(
    conn: &mut PgConnection,
    filing: Uuid,
) -> Result<Vec<(Uuid, Vec<String>)>, ApiError> {
    Ok(webhooks::table
        .filter(webhooks::deleted_at.is_null())
        .filter(
            webhooks::unit_id.is_null().or(sql::<Bool>(
                "webhooks.unit_id = ANY (SELECT unnest(u.path) FROM filings f \
                 JOIN units u ON u.id = f.unit_id WHERE f.id = ",
            )
            .bind::<SqlUuid, _>(filing)
            .sql(")")),
        )
        .select((webhooks::id, webhooks::events))
        .load(conn)?)
}

/// Queues an event with its payload for delivery to a webhook; answers how
/// many rows it queued (1).
pub fn queue_event(
    conn: &mut PgConnection,
    webhook: Uuid,
    event: &str,
    payload: &Value,
) -> Result<usize, ApiError> {
    Ok(diesel::insert_into(outbox::table)
        .values((
            outbox::webhook_id.eq(webhook),
            outbox::event.eq(event),
            outbox::payload.eq(payload),
        ))
        .execute(conn)?)
}

/// A delivery waiting in the outbox.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct Delivery {
    /// Its id, also the delivery id the webhook sees.
    pub id: i64,
    /// The webhook it goes to.
    pub webhook_id: Uuid,
    /// The event's name.
    pub event: String,
    /// The event's data.
    pub payload: Value,
    /// The attempts made so far.
    pub attempts: i32,
    /// When the event was queued.
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` undelivered deliveries due at `now`, oldest first,
/// locked for the caller's transaction; rows another transaction holds are
/// skipped.
pub fn claim_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Delivery>, ApiError> {
    Ok(outbox::table
        .filter(outbox::delivered_at.is_null())
        .filter(outbox::next_attempt_at.le(now))
        .order(outbox::id)
        .limit(limit)
        .select(Delivery::as_select())
        .for_update()
        .skip_locked()
        .load(conn)?)
}

/// Where a webhook is delivered and the secret that signs its bodies.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct Endpoint {
    /// The URL posted to.
    pub url: String,
    /// The signing secret.
    pub secret: String,
}

/// Where a webhook is delivered; none when it does not exist or was deleted.
pub fn live_endpoint(conn: &mut PgConnection, webhook: Uuid) -> Result<Option<Endpoint>, ApiError> {
    Ok(webhooks::table
        .find(webhook)
        .filter(webhooks::deleted_at.is_null())
        .select(Endpoint::as_select())
        .first(conn)
        .optional()?)
}

/// Gives up a delivery whose webhook was deleted: records why, then marks it
/// done at `now`.
pub fn abandon_delivery(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    diesel::update(outbox::table.find(id))
        .set(outbox::last_error.eq("webhook deleted"))
        .execute(conn)?;
    diesel::update(outbox::table.find(id))
        .set(outbox::delivered_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Marks a delivery delivered at `now`, after `attempts` attempts in all.
pub fn mark_delivered(
    conn: &mut PgConnection,
    id: i64,
    now: DateTime<Utc>,
    attempts: i32,
) -> Result<(), ApiError> {
    diesel::update(outbox::table.find(id))
        .set((outbox::delivered_at.eq(now), outbox::attempts.eq(attempts)))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt at a delivery: the attempts made so far, when to
/// try again, and what went wrong.
pub fn schedule_retry(
    conn: &mut PgConnection,
    id: i64,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    error: String,
) -> Result<(), ApiError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::attempts.eq(attempts),
            outbox::next_attempt_at.eq(next_attempt_at),
            outbox::last_error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// A filing still away after its planned return day.
#[derive(Debug, Queryable)]
pub struct Unreturned {
    /// The filing.
    pub filing_id: Uuid,
    /// Its filer.
    pub account_id: Uuid,
    /// Its planned return day.
    pub return_on: NaiveDate,
}

/// The filings still away whose planned return day is before `today`.
pub fn away_past_return(
    conn: &mut PgConnection,
    today: NaiveDate,
) -> Result<Vec<Unreturned>, ApiError> {
    Ok(filings::table
        .filter(filings::status.eq("away"))
        .filter(filings::return_on.lt(today))
        .select((
            filings::id,
            filings::account_id,
            filings::return_on.assume_not_null(),
        ))
        .load(conn)?)
}
