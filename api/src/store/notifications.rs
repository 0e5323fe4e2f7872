//! Notifications and webhooks as stored: a recipient's notifications, marking them read, and the webhooks of a scope.

use crate::error::ApiError;
use crate::schema::{notifications, units, webhooks};
use crate::store::Within;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One notification.
#[derive(Debug, Serialize, Deserialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    /// Id.
    pub id: Uuid,
    /// What it is about; `data` is shaped by it.
    #[schema(value_type = crate::notify::Kind)]
    pub kind: String,
    /// The filing it is about.
    pub filing_id: Option<Uuid>,
    /// Details, shaped by `kind`.
    #[schema(value_type = crate::notify::NotificationData)]
    pub data: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When the account read it.
    pub read_at: Option<DateTime<Utc>>,
}

/// Up to `limit` of an account's notifications, newest first (by creation
/// time, then id): only the unread ones when `unread_only`, and only those
/// older than `after` (the creation time and id of the last one of the page
/// before).
pub fn feed(
    conn: &mut PgConnection,
    account: Uuid,
    unread_only: bool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Notification>, ApiError> {
    let mut query = notifications::table
        .filter(notifications::account_id.eq(account))
        .select(Notification::as_select())
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    if let Some((at, id)) = after {
        query = query.filter(
            notifications::created_at
                .lt(at)
                .or(notifications::created_at
                    .eq(at)
                    .and(notifications::id.lt(id))),
        );
    }
    Ok(query
        .order((notifications::created_at.desc(), notifications::id.desc()))
        .limit(limit)
        .load(conn)?)
}

/// Marks an account's notification read (the first time only) and answers
/// it; 404 when the account has no such notification.
pub fn mark_read(
    conn: &mut PgConnection,
    account: Uuid,
    id: Uuid,
) -> Result<Notification, ApiError> {
    let target = notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::account_id.eq(account));
    diesel::update(target.filter(notifications::read_at.is_null()))
        .set(notifications::read_at.eq(diesel::dsl::now))
        .execute(conn)?;
    Ok(target.select(Notification::as_select()).first(conn)?)
}

/// Registers a webhook over the subtree of `unit_id` (`None`: the whole
/// tree); answers when it was created.
pub fn create_webhook(
    conn: &mut PgConnection,
    id: Uuid,
    url: &str,
    secret: &str,
    events: &[String],
    created_by: Uuid,
    unit_id: Option<Uuid>,
) -> Result<DateTime<Utc>, ApiError> {
    Ok(diesel::insert_into(webhooks::table)
        .values((
            webhooks::id.eq(id),
            webhooks::url.eq(url),
            webhooks::secret.eq(secret),
            webhooks::events.eq(events),
            webhooks::created_by.eq(created_by),
            webhooks::unit_id.eq(unit_id),
        ))
        .returning(webhooks::created_at)
        .get_result(conn)?)
}

/// A webhook as listed: everything but its secret.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    /// Id.
    pub id: Uuid,
    /// Target.
    pub url: String,
    /// Events it receives (empty: all).
    pub events: Vec<String>,
    /// The subtree whose filings it hears about; `None` for the whole tree.
    pub unit_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// The live webhooks over nodes within `within` (every one, those over the
/// whole tree included, for the whole tree), oldest first.
pub fn webhooks(conn: &mut PgConnection, within: &Within) -> Result<Vec<WebhookRow>, ApiError> {
    Ok(live_within(within)
        .order(webhooks::created_at)
        .select(WebhookRow::as_select())
        .load(conn)?)
}

/// Whether the webhook `id` is live and over a node within `within`.
pub fn webhook_visible(
    conn: &mut PgConnection,
    within: &Within,
    id: Uuid,
) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        live_within(within).filter(webhooks::id.eq(id)),
    ))
    .get_result(conn)?)
}

/// Removes the webhook `id`; answers whether it was live.
pub fn remove_webhook(conn: &mut PgConnection, id: Uuid) -> Result<bool, ApiError> {
    let removed = diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::deleted_at.is_null()),
    )
    .set(webhooks::deleted_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(removed > 0)
}

/// The live webhooks over nodes within `within`.
fn live_within(within: &Within) -> webhooks::BoxedQuery<'static, Pg> {
    let live = webhooks::table
        .filter(webhooks::deleted_at.is_null())
        .into_boxed();
    // The nodes it may be over: those whose path meets the bound ids.
    let (meets, ids) = match within {
        Within::All => return live,
        Within::Subtree(unit) => ("units.path @> ", vec![*unit]),
        Within::Roots(roots) => ("units.path && ", roots.clone()),
    };
    live.filter(
        webhooks::unit_id.eq_any(
            units::table
                .filter(sql::<Bool>(meets).bind::<Array<SqlUuid>, _>(ids))
                .select(units::id.nullable()),
        ),
    )
}
