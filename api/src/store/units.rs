//! Nodes of the unit tree as answered: a row, its deputies, and the `Unit`
//! built from them.

use crate::error::ApiError;
use crate::schema::{unit_deputies, units};
use crate::store::enums::parse_enum;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{UnitDeputy, UnitKind};

/// A unit row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = units)]
pub struct UnitRow {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<Uuid>,
    pub path: Vec<Uuid>,
    pub principal_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A node of the unit tree.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Unit {
    /// Id.
    pub id: Uuid,
    /// Unique code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind of node.
    pub kind: UnitKind,
    /// Parent node.
    pub parent_id: Option<Uuid>,
    /// Ancestors from the root down to this node.
    pub path: Vec<Uuid>,
    /// The head of the node (a department's head is its principal): what
    /// `department_head` and `unit_principal` approver rules resolve to.
    pub principal_id: Option<Uuid>,
    /// Deputies and what they are in charge of.
    pub deputies: Vec<UnitDeputy>,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Loads the deputies of some units.
pub fn load_deputies(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, UnitDeputy)>> {
    let rows: Vec<(Uuid, Uuid, Vec<Uuid>)> = unit_deputies::table
        .filter(unit_deputies::unit_id.eq_any(ids))
        .order((unit_deputies::unit_id, unit_deputies::ordinal))
        .select((
            unit_deputies::unit_id,
            unit_deputies::account_id,
            unit_deputies::in_charge_of,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(unit, account_id, in_charge_of)| {
            (
                unit,
                UnitDeputy {
                    account_id,
                    in_charge_of,
                },
            )
        })
        .collect())
}

/// Builds the answer for unit rows.
pub fn to_units(conn: &mut PgConnection, rows: Vec<UnitRow>) -> Result<Vec<Unit>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let deputies = load_deputies(conn, &ids)?;
    rows.into_iter()
        .map(|row| {
            Ok(Unit {
                kind: parse_enum(&row.kind)?,
                deputies: deputies
                    .iter()
                    .filter(|(u, _)| *u == row.id)
                    .map(|(_, d)| d.clone())
                    .collect(),
                id: row.id,
                code: row.code,
                name: row.name,
                parent_id: row.parent_id,
                path: row.path,
                principal_id: row.principal_id,
                version: row.version,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}
