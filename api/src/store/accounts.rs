//! Accounts as answered: a row, its role grants, and the `Account` built from
//! them.

use crate::error::ApiError;
use crate::extract::{Grant, load_grants};
use crate::schema::accounts;
use crate::store::enums::parse_enum;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{Position, Rank, Role};

/// An account row, without its password hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub id: Uuid,
    pub login: String,
    pub display_name: String,
    pub unit_id: Option<Uuid>,
    pub employee_no: Option<String>,
    pub mobile: Option<String>,
    pub rank: String,
    pub position: String,
    pub party_member: bool,
    pub public_official: bool,
    pub key_post: bool,
    pub status: String,
    pub credentials_changed_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A role grant on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleGrantBody {
    /// The role.
    pub role: Role,
    /// Root of the subtree; `null` only for a system administrator over the whole tree.
    pub unit_id: Option<Uuid>,
}

/// Account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// May log in.
    Active,
    /// Cut off.
    Suspended,
}

/// An account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Account {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub login: String,
    /// Name shown to others.
    pub display_name: String,
    /// The node the account belongs to.
    pub unit_id: Option<Uuid>,
    /// Employee number.
    pub employee_no: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// Rank.
    pub rank: Rank,
    /// Position.
    pub position: Position,
    /// Party member.
    pub party_member: bool,
    /// Public official.
    pub public_official: bool,
    /// Key or classified post.
    pub key_post: bool,
    /// Active or suspended.
    pub status: AccountStatus,
    /// Role grants.
    pub roles: Vec<RoleGrantBody>,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The role grants of an account on the wire.
pub fn grants_body(grants: Vec<Grant>) -> Vec<RoleGrantBody> {
    grants
        .into_iter()
        .map(|g| RoleGrantBody {
            role: g.role,
            unit_id: g.unit_id,
        })
        .collect()
}

/// Builds the answer for an account row.
pub fn to_account(conn: &mut PgConnection, row: AccountRow) -> Result<Account, ApiError> {
    let roles = grants_body(load_grants(conn, row.id)?);
    Ok(Account {
        rank: parse_enum(&row.rank)?,
        position: parse_enum(&row.position)?,
        status: parse_enum(&row.status)?,
        roles,
        id: row.id,
        login: row.login,
        display_name: row.display_name,
        unit_id: row.unit_id,
        employee_no: row.employee_no,
        mobile: row.mobile,
        party_member: row.party_member,
        public_official: row.public_official,
        key_post: row.key_post,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Loads one account.
pub fn load_account(conn: &mut PgConnection, id: Uuid) -> Result<Account, ApiError> {
    let row = accounts::table
        .find(id)
        .select(AccountRow::as_select())
        .first(conn)?;
    to_account(conn, row)
}
