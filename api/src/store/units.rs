//! Nodes of the unit tree as stored and answered: a row, its deputies, and
//! the `Unit` built from them; creating, changing and listing nodes.

use crate::error::ApiError;
use crate::schema::{accounts, unit_deputies, units};
use crate::store::enums::parse_enum;
use crate::store::{Within, like_pattern};
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{IssueCode, UnitDeputy, UnitKind};

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

/// The leadership of a node.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Leaders {
    /// The head of the node (a department's head is its principal); `null`
    /// when the post is vacant.
    pub principal_id: Option<Uuid>,
    /// Deputies in order, with the nodes each is in charge of.
    #[serde(default)]
    pub deputies: Vec<UnitDeputy>,
}

/// A node.
pub fn load_unit(conn: &mut PgConnection, id: Uuid) -> Result<Unit, ApiError> {
    let row = units::table
        .find(id)
        .select(UnitRow::as_select())
        .first(conn)?;
    to_units(conn, vec![row])?.pop().ok_or(ApiError::NotFound)
}

/// A node's row, locked for the rest of the transaction.
pub fn lock(conn: &mut PgConnection, id: Uuid) -> Result<UnitRow, ApiError> {
    Ok(units::table
        .find(id)
        .select(UnitRow::as_select())
        .for_update()
        .first(conn)?)
}

/// A node's path: its ancestors from the root down to it (404 for an
/// unknown node).
pub fn path(conn: &mut PgConnection, id: Uuid) -> Result<Vec<Uuid>, ApiError> {
    Ok(units::table
        .find(id)
        .select(units::path)
        .first::<Vec<Uuid>>(conn)?)
}

/// A new node, as inserted.
#[derive(Insertable)]
#[diesel(table_name = units)]
pub struct NewUnit<'a> {
    /// Id.
    pub id: Uuid,
    /// Unique code.
    pub code: &'a str,
    /// Name.
    pub name: &'a str,
    /// Kind of node.
    pub kind: &'a str,
    /// Parent node.
    pub parent_id: Option<Uuid>,
    /// Ancestors from the root down to the node itself.
    pub path: Vec<Uuid>,
}

/// Inserts a new node (409 `duplicate` when its code is taken).
pub fn insert(conn: &mut PgConnection, unit: NewUnit<'_>) -> Result<(), ApiError> {
    diesel::insert_into(units::table)
        .values(unit)
        .execute(conn)?;
    Ok(())
}

/// Sets the code, name and kind of the node `current` (locked), as its next
/// version (409 `duplicate` when the code is taken).
pub fn update(
    conn: &mut PgConnection,
    current: &UnitRow,
    code: &str,
    name: &str,
    kind: &str,
) -> Result<(), ApiError> {
    diesel::update(units::table.find(current.id))
        .set((
            units::code.eq(code),
            units::name.eq(name),
            units::kind.eq(kind),
            units::version.eq(current.version + 1),
            units::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` direct children of a node, by code, after the code `after`.
pub fn children(
    conn: &mut PgConnection,
    id: Uuid,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UnitRow>, ApiError> {
    by_code(
        conn,
        units::table.filter(units::parent_id.eq(id)).into_boxed(),
        after,
        limit,
    )
}

/// Up to `limit` nodes within `within` whose code or name contains `q`
/// (ignoring case), by code, after the code `after`.
pub fn page(
    conn: &mut PgConnection,
    within: &Within,
    q: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UnitRow>, ApiError> {
    let mut query = units::table.into_boxed();
    if let Some(condition) = within.condition("path") {
        query = query.filter(condition);
    }
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = like_pattern(q);
        query = query.filter(
            units::code
                .ilike(pattern.clone())
                .or(units::name.ilike(pattern)),
        );
    }
    by_code(conn, query, after, limit)
}

/// Up to `limit` of the nodes `query` keeps, by code, after the code `after`.
fn by_code(
    conn: &mut PgConnection,
    query: units::BoxedQuery<'static, Pg>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<UnitRow>, ApiError> {
    let mut query = query.order(units::code.asc()).limit(limit);
    if let Some(after) = after {
        query = query.filter(units::code.gt(after.to_owned()));
    }
    Ok(query.select(UnitRow::as_select()).load(conn)?)
}

/// Whether an account belongs to the subtree of `unit`.
fn in_subtree(conn: &mut PgConnection, unit: Uuid, account: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        accounts::table
            .inner_join(units::table)
            .filter(accounts::id.eq(account))
            .filter(sql::<Bool>("units.path @> ").bind::<Array<SqlUuid>, _>(vec![unit])),
    ))
    .get_result(conn)
}

/// Checks a node's new leadership: leaders are accounts of its subtree, each
/// deputy given once, each in charge of nodes of the subtree only (422).
pub fn check_leaders(conn: &mut PgConnection, id: Uuid, leaders: &Leaders) -> Result<(), ApiError> {
    if let Some(principal) = leaders.principal_id
        && !in_subtree(conn, id, principal)?
    {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "principal_id",
            json!({"reason": "not_a_member"}),
        ));
    }
    for (i, deputy) in leaders.deputies.iter().enumerate() {
        if !in_subtree(conn, id, deputy.account_id)? {
            return Err(ApiError::invalid(
                IssueCode::Invalid,
                &format!("deputies[{i}].account_id"),
                json!({"reason": "not_a_member"}),
            ));
        }
        if leaders.deputies[..i]
            .iter()
            .any(|d| d.account_id == deputy.account_id)
        {
            return Err(ApiError::invalid(
                IssueCode::Invalid,
                &format!("deputies[{i}].account_id"),
                json!({"reason": "duplicate"}),
            ));
        }
        let inside: i64 = units::table
            .filter(units::id.eq_any(&deputy.in_charge_of))
            .filter(sql::<Bool>("path @> ").bind::<Array<SqlUuid>, _>(vec![id]))
            .count()
            .get_result(conn)?;
        let mut wanted = deputy.in_charge_of.clone();
        wanted.sort();
        wanted.dedup();
        if usize::try_from(inside).unwrap_or(0) != wanted.len() {
            return Err(ApiError::invalid(
                IssueCode::Invalid,
                &format!("deputies[{i}].in_charge_of"),
                json!({"reason": "outside_unit"}),
            ));
        }
    }
    Ok(())
}

/// The accounts that gain, lose or change a post of the node `current` when
/// its leadership becomes `leaders`, each once.
pub fn leaders_changed(
    conn: &mut PgConnection,
    current: &UnitRow,
    leaders: &Leaders,
) -> QueryResult<Vec<Uuid>> {
    let before: Vec<(Uuid, Vec<Uuid>)> = unit_deputies::table
        .filter(unit_deputies::unit_id.eq(current.id))
        .select((unit_deputies::account_id, unit_deputies::in_charge_of))
        .load(conn)?;
    let mut changed: Vec<Uuid> = Vec::new();
    if current.principal_id != leaders.principal_id {
        changed.extend(current.principal_id);
        changed.extend(leaders.principal_id);
    }
    for (account, in_charge_of) in &before {
        let same = leaders
            .deputies
            .iter()
            .any(|d| d.account_id == *account && d.in_charge_of == *in_charge_of);
        if !same {
            changed.push(*account);
        }
    }
    for deputy in &leaders.deputies {
        if !before
            .iter()
            .any(|(account, _)| *account == deputy.account_id)
        {
            changed.push(deputy.account_id);
        }
    }
    changed.sort();
    changed.dedup();
    Ok(changed)
}

/// Replaces the leadership of the node `current` (locked) with `leaders`.
pub fn set_leaders(
    conn: &mut PgConnection,
    current: &UnitRow,
    leaders: &Leaders,
) -> QueryResult<()> {
    diesel::update(units::table.find(current.id))
        .set((
            units::principal_id.eq(leaders.principal_id),
            units::version.eq(current.version + 1),
            units::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    diesel::delete(unit_deputies::table.filter(unit_deputies::unit_id.eq(current.id)))
        .execute(conn)?;
    let rows: Vec<_> = leaders
        .deputies
        .iter()
        .enumerate()
        .map(|(ordinal, deputy)| {
            (
                unit_deputies::unit_id.eq(current.id),
                unit_deputies::account_id.eq(deputy.account_id),
                unit_deputies::ordinal.eq(i32::try_from(ordinal).unwrap_or(i32::MAX)),
                unit_deputies::in_charge_of.eq(&deputy.in_charge_of),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(unit_deputies::table)
            .values(rows)
            .execute(conn)?;
    }
    Ok(())
}
