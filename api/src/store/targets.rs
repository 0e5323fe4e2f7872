//! What the authorization policy reads of a target: an account's standing, a node's path, a grant's reach.

use crate::error::ApiError;
use crate::schema::{accounts, units};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

/// Whether a node exists.
pub fn unit_exists(conn: &mut PgConnection, unit: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(units::table.filter(units::id.eq(unit)))).get_result(conn)
}

/// Whether a node exists in the subtrees of `roots`.
pub fn unit_under(conn: &mut PgConnection, unit: Uuid, roots: Vec<Uuid>) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        units::table
            .filter(units::id.eq(unit))
            .filter(sql::<Bool>("path && ").bind::<Array<SqlUuid>, _>(roots)),
    ))
    .get_result(conn)
}

/// One fact about an account, as [`account_facts`] reads it.
#[derive(QueryableByName)]
pub struct AccountFact {
    /// `home`, `grant` or `leads`.
    #[diesel(sql_type = Text)]
    pub fact: String,
    /// A grant's role; none for the other facts.
    #[diesel(sql_type = Nullable<Text>)]
    pub role: Option<String>,
    /// The node: the home (none for an account of no unit), a grant's root
    /// (none: the whole tree), or a node led.
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub unit_id: Option<Uuid>,
    /// That node's path (ancestors and itself); empty when there is no node.
    #[diesel(sql_type = Array<SqlUuid>)]
    pub path: Vec<Uuid>,
}

/// The facts about an account the policy needs, in one query.
const ACCOUNT_FACTS: &str = "\
SELECT 'home' AS fact, NULL::text AS role, a.unit_id, COALESCE(u.path, '{}') AS path \
  FROM accounts a LEFT JOIN units u ON u.id = a.unit_id WHERE a.id = $1 \
UNION ALL \
SELECT 'grant', g.role, g.unit_id, COALESCE(u.path, '{}') \
  FROM role_grants g LEFT JOIN units u ON u.id = g.unit_id WHERE g.account_id = $1 \
UNION ALL \
SELECT 'leads', NULL, u.id, u.path FROM units u WHERE u.principal_id = $1 \
UNION ALL \
SELECT 'leads', NULL, u.id, u.path \
  FROM unit_deputies d JOIN units u ON u.id = d.unit_id WHERE d.account_id = $1";

/// What the policy weighs about an account, in one query: its home (one
/// `home` fact, none when the account does not exist), each of its grants
/// (`grant`) and each node it leads as principal or deputy (`leads`).
pub fn account_facts(conn: &mut PgConnection, account: Uuid) -> Result<Vec<AccountFact>, ApiError> {
    Ok(diesel::sql_query(ACCOUNT_FACTS)
        .bind::<SqlUuid, _>(account)
        .load(conn)?)
}

/// Every node on the path of an account's home (its ancestors and itself),
/// each with its kind and its own path, in no particular order; empty for an
/// account of no unit.
pub fn home_path_nodes(
    conn: &mut PgConnection,
    account: Uuid,
) -> QueryResult<Vec<(Uuid, String, Vec<Uuid>)>> {
    units::table
        .filter(
            sql::<Bool>(
                "units.id = ANY ((SELECT h.path FROM accounts a \
                 JOIN units h ON h.id = a.unit_id WHERE a.id = ",
            )
            .bind::<SqlUuid, _>(account)
            .sql(")::uuid[])"),
        )
        .select((units::id, units::kind, units::path))
        .load(conn)
}

/// A node's path, and whether someone leads it.
#[derive(QueryableByName)]
pub struct LedNode {
    /// The node's path (ancestors and itself).
    #[diesel(sql_type = Array<SqlUuid>)]
    pub path: Vec<Uuid>,
    /// Whether the account asked about leads the node or a node above it,
    /// as principal or deputy.
    #[diesel(sql_type = Bool)]
    pub led: bool,
}

/// The path of the node `unit`, and whether `account` leads it or a node
/// above it; none for an unknown node.
pub fn node_led_by(
    conn: &mut PgConnection,
    unit: Uuid,
    account: Uuid,
) -> Result<Option<LedNode>, ApiError> {
    Ok(diesel::sql_query(
        "SELECT u.path, EXISTS ( \
             SELECT 1 FROM units led WHERE led.id = ANY(u.path) \
                AND (led.principal_id = $2 OR EXISTS ( \
                     SELECT 1 FROM unit_deputies d \
                      WHERE d.unit_id = led.id AND d.account_id = $2))) AS led \
           FROM units u WHERE u.id = $1",
    )
    .bind::<SqlUuid, _>(unit)
    .bind::<SqlUuid, _>(account)
    .get_result(conn)
    .optional()?)
}

/// The path of an account's home node; none when the account does not
/// exist or belongs to no unit.
pub fn home_path(conn: &mut PgConnection, account: Uuid) -> Result<Option<Vec<Uuid>>, ApiError> {
    Ok(accounts::table
        .inner_join(units::table)
        .filter(accounts::id.eq(account))
        .select(units::path)
        .first(conn)
        .optional()?)
}
