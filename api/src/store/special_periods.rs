//! Special periods as stored: saving, reading and listing them, and those
//! over a node.

use crate::error::ApiError;
use crate::schema::{special_periods, units};
use crate::store::Within;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{
    ApproverRule, DestinationRestriction, Requirement, SpecialPeriod, TripKind,
};

/// A special period row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = special_periods)]
pub struct Row {
    pub id: Uuid,
    pub name: String,
    pub unit_id: Uuid,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub trip_kinds: Vec<String>,
    pub min_requirement: String,
    pub approvers: serde_json::Value,
    pub restricted_destinations: serde_json::Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new special period, or the whole of a replaced one.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SpecialPeriodInput {
    /// Name, 1 to 200 characters.
    pub name: String,
    /// Root of the subtree it covers.
    pub unit_id: Uuid,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day, inclusive.
    pub ends_on: NaiveDate,
    /// Trip kinds it applies to (empty: every kind).
    #[serde(default)]
    pub trip_kinds: Vec<TripKind>,
    /// Requirement floor.
    pub min_requirement: Requirement,
    /// Approvers when it raises a trip to approval and the rule names none.
    #[serde(default)]
    pub approvers: Vec<ApproverRule>,
    /// Restricted destinations.
    #[serde(default)]
    pub restricted_destinations: Vec<DestinationRestriction>,
}

/// A special period as stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SpecialPeriodBody {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Root of the subtree it covers.
    pub unit_id: Uuid,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day, inclusive.
    pub ends_on: NaiveDate,
    /// Trip kinds it applies to.
    pub trip_kinds: Vec<TripKind>,
    /// Requirement floor.
    pub min_requirement: Requirement,
    /// Approvers when it raises a trip to approval and the rule names none.
    pub approvers: Vec<ApproverRule>,
    /// Restricted destinations.
    pub restricted_destinations: Vec<DestinationRestriction>,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Decodes a special period row.
pub fn decode(row: Row) -> Result<SpecialPeriodBody, ApiError> {
    let bad = |e: serde_json::Error| {
        tracing::error!(error = %e, "stored special period does not parse");
        ApiError::Internal
    };
    Ok(SpecialPeriodBody {
        id: row.id,
        name: row.name,
        unit_id: row.unit_id,
        starts_on: row.starts_on,
        ends_on: row.ends_on,
        trip_kinds: serde_json::from_value(json!(row.trip_kinds)).map_err(bad)?,
        min_requirement: serde_json::from_value(json!(row.min_requirement)).map_err(bad)?,
        approvers: serde_json::from_value(row.approvers).map_err(bad)?,
        restricted_destinations: serde_json::from_value(row.restricted_destinations)
            .map_err(bad)?,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

impl From<SpecialPeriodBody> for SpecialPeriod {
    fn from(b: SpecialPeriodBody) -> Self {
        SpecialPeriod {
            id: b.id,
            name: b.name,
            unit_id: b.unit_id,
            starts_on: b.starts_on,
            ends_on: b.ends_on,
            trip_kinds: b.trip_kinds,
            min_requirement: b.min_requirement,
            approvers: b.approvers,
            restricted_destinations: b.restricted_destinations,
        }
    }
}

/// The special periods over a node's ancestors (and itself) that overlap a window.
pub fn in_scope_of(conn: &mut PgConnection, path: &[Uuid]) -> Result<Vec<SpecialPeriod>, ApiError> {
    let rows: Vec<Row> = special_periods::table
        .filter(special_periods::unit_id.eq_any(path))
        .order((special_periods::starts_on, special_periods::id))
        .select(Row::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| decode(r).map(SpecialPeriod::from))
        .collect()
}

/// Creates the special period `id` from `input`, or replaces the whole of
/// it, as version `version`.
pub fn save(
    conn: &mut PgConnection,
    id: Uuid,
    input: &SpecialPeriodInput,
    version: i32,
) -> Result<(), ApiError> {
    let kinds: Vec<String> = input
        .trip_kinds
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    let approvers = serde_json::to_value(&input.approvers).map_err(ApiError::internal(
        "serialising a special period's approvers",
    ))?;
    let restricted = serde_json::to_value(&input.restricted_destinations).map_err(
        ApiError::internal("serialising a special period's restricted destinations"),
    )?;
    diesel::insert_into(special_periods::table)
        .values((
            special_periods::id.eq(id),
            special_periods::name.eq(input.name.trim()),
            special_periods::unit_id.eq(input.unit_id),
            special_periods::starts_on.eq(input.starts_on),
            special_periods::ends_on.eq(input.ends_on),
            special_periods::trip_kinds.eq(&kinds),
            special_periods::min_requirement.eq(input.min_requirement.as_str()),
            special_periods::approvers.eq(&approvers),
            special_periods::restricted_destinations.eq(&restricted),
            special_periods::version.eq(version),
        ))
        .on_conflict(special_periods::id)
        .do_update()
        .set((
            special_periods::name.eq(input.name.trim()),
            special_periods::starts_on.eq(input.starts_on),
            special_periods::ends_on.eq(input.ends_on),
            special_periods::trip_kinds.eq(&kinds),
            special_periods::min_requirement.eq(input.min_requirement.as_str()),
            special_periods::approvers.eq(&approvers),
            special_periods::restricted_destinations.eq(&restricted),
            special_periods::version.eq(version),
            special_periods::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A special period (404 when there is none).
pub fn load(conn: &mut PgConnection, id: Uuid) -> Result<SpecialPeriodBody, ApiError> {
    decode(
        special_periods::table
            .find(id)
            .select(Row::as_select())
            .first(conn)?,
    )
}

/// Up to `limit` special periods over nodes within every part of the tree in
/// `within`, that include the day `active_on`, after the id `after`, in the
/// order of their ids.
pub fn page(
    conn: &mut PgConnection,
    within: [&Within; 2],
    active_on: Option<NaiveDate>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Row>, ApiError> {
    let mut query = special_periods::table
        .inner_join(units::table)
        .select(Row::as_select())
        .into_boxed();
    for part in within {
        if let Some(condition) = part.condition("units.path") {
            query = query.filter(condition);
        }
    }
    if let Some(day) = active_on {
        query = query
            .filter(special_periods::starts_on.le(day))
            .filter(special_periods::ends_on.ge(day));
    }
    if let Some(id) = after {
        query = query.filter(special_periods::id.gt(id));
    }
    Ok(query
        .order(special_periods::id.asc())
        .limit(limit)
        .load(conn)?)
}
