//! Special periods as stored, and those over a node.

use crate::error::ApiError;
use crate::schema::special_periods;
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
