//! Scope: every permission is a role on a unit subtree. A caller holding none of
//! the roles a route needs gets 403; a caller holding them, but not over the
//! target, gets 404, so ids cannot be probed.

use crate::error::ApiError;
use crate::extract::Principal;
use crate::schema::units;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use uuid::Uuid;
use whereabouts_core::Role;

/// Administrators: system admins and unit admins.
pub const ADMINS: &[Role] = &[Role::SystemAdmin, Role::UnitAdmin];
/// Readers of administrative data: admins and inspectors.
pub const READERS: &[Role] = &[Role::SystemAdmin, Role::UnitAdmin, Role::Inspector];
/// System admins only.
pub const SYSTEM: &[Role] = &[Role::SystemAdmin];

/// Whether the caller holds one of `roles` over `unit_id` (false for an unknown unit).
pub fn covers(
    conn: &mut PgConnection,
    who: &Principal,
    roles: &[Role],
    unit_id: Uuid,
) -> QueryResult<bool> {
    let query = units::table.filter(units::id.eq(unit_id));
    match who.roots(roles) {
        None => diesel::select(diesel::dsl::exists(query)).get_result(conn),
        Some(roots) if roots.is_empty() => Ok(false),
        Some(roots) => diesel::select(diesel::dsl::exists(
            query.filter(sql::<Bool>("path && ").bind::<Array<SqlUuid>, _>(roots)),
        ))
        .get_result(conn),
    }
}

/// Refuses unless the caller holds one of `roles` over `unit_id`: 403 without
/// any such role, 404 when the unit is unknown or outside the caller's scope.
pub fn authorize(
    conn: &mut PgConnection,
    who: &Principal,
    roles: &[Role],
    unit_id: Uuid,
) -> Result<(), ApiError> {
    if !who.has_any(roles) {
        return Err(ApiError::Forbidden);
    }
    if covers(conn, who, roles, unit_id)? {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Refuses with 403 unless the caller holds one of `roles` somewhere.
pub fn require_role(who: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    if who.has_any(roles) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}
