//! The access log as stored: one row appended per entry, and pages of it for
//! its readers within their scope.

use crate::schema::access_log;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde_json::Value;
use uuid::Uuid;

/// An entry to append.
#[derive(Debug, Insertable)]
#[diesel(table_name = access_log)]
pub struct NewEntry {
    /// Who; none for a failed sign-in of no known account.
    pub actor_id: Option<Uuid>,
    /// What (see [`crate::access::Access`]).
    pub action: &'static str,
    /// What it was about: a node, a campaign, a document, the login tried.
    pub target: Option<String>,
    /// The request's filters.
    pub filters: Value,
    /// How many rows it answered, when known.
    pub rows: Option<i64>,
    /// The client's address.
    pub address: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// The subtrees it was about (empty: the whole tree).
    pub units: Vec<Uuid>,
}

/// Appends an entry: one statement.
pub fn append(conn: &mut PgConnection, entry: &NewEntry) -> QueryResult<()> {
    diesel::insert_into(access_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

/// Appends an entry about its actor's own node (none for an actor of no
/// node, or no actor): one statement.
pub fn append_about_actor(conn: &mut PgConnection, entry: &NewEntry) -> QueryResult<()> {
    use diesel::sql_types::{Jsonb, Nullable, Text};
    diesel::sql_query(
        "INSERT INTO access_log (actor_id, action, target, filters, rows, address, request_id, units)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 ARRAY(SELECT a.unit_id FROM accounts a WHERE a.id = $1 AND a.unit_id IS NOT NULL))",
    )
    .bind::<Nullable<SqlUuid>, _>(entry.actor_id)
    .bind::<Text, _>(entry.action)
    .bind::<Nullable<Text>, _>(&entry.target)
    .bind::<Jsonb, _>(&entry.filters)
    .bind::<Nullable<diesel::sql_types::BigInt>, _>(entry.rows)
    .bind::<Nullable<Text>, _>(&entry.address)
    .bind::<Nullable<Text>, _>(&entry.request_id)
    .execute(conn)?;
    Ok(())
}

/// An entry as read back.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = access_log)]
pub struct EntryRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target: Option<String>,
    pub filters: Value,
    pub rows: Option<i64>,
    pub address: Option<String>,
    pub request_id: Option<String>,
}

/// What a reader of the log asks for.
pub struct Query {
    /// Only this actor's entries.
    pub actor_id: Option<Uuid>,
    /// Only this action.
    pub action: Option<String>,
    /// From this moment on.
    pub from: Option<DateTime<Utc>>,
    /// Before this moment.
    pub to: Option<DateTime<Utc>>,
    /// The reader's subtrees (none: the whole tree). An entry is theirs when
    /// it is about a node inside one of them.
    pub within: Option<Vec<Uuid>>,
    /// Leave out the reader's own entries.
    pub not_of: Option<Uuid>,
    /// Entries older than this id (the page before).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// A page of the log, newest first.
pub fn page(conn: &mut PgConnection, query: &Query) -> QueryResult<Vec<EntryRow>> {
    let mut q = access_log::table.into_boxed();
    if let Some(actor) = query.actor_id {
        q = q.filter(access_log::actor_id.eq(actor));
    }
    if let Some(action) = &query.action {
        q = q.filter(access_log::action.eq(action.clone()));
    }
    if let Some(from) = query.from {
        q = q.filter(access_log::at.ge(from));
    }
    if let Some(to) = query.to {
        q = q.filter(access_log::at.lt(to));
    }
    if let Some(roots) = &query.within {
        q = q.filter(
            sql::<Bool>(
                "EXISTS (SELECT 1 FROM units u WHERE u.id = ANY(access_log.units) AND u.path && ",
            )
            .bind::<Array<SqlUuid>, _>(roots.clone())
            .sql(")"),
        );
    }
    if let Some(me) = query.not_of {
        q = q.filter(access_log::actor_id.is_distinct_from(me));
    }
    if let Some(before) = query.before {
        q = q.filter(access_log::id.lt(before));
    }
    q.order(access_log::id.desc())
        .limit(query.limit)
        .select(EntryRow::as_select())
        .load(conn)
}

/// Deletes the entries older than `days` days (never fewer than 180: the
/// table refuses younger ones); answers how many.
pub fn sweep(conn: &mut PgConnection, days: i64) -> QueryResult<usize> {
    let days = days.max(180);
    diesel::delete(
        access_log::table.filter(
            sql::<Bool>("access_log.at < now() - make_interval(days => ")
                .bind::<diesel::sql_types::Integer, _>(i32::try_from(days).unwrap_or(i32::MAX))
                .sql(")"),
        ),
    )
    .execute(conn)
}
