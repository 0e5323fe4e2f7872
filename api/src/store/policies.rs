//! Policies as stored: a node's versions, the effective policy of a node, by
//! inheritance down the tree, and the coverage of a subtree.

use crate::error::ApiError;
use crate::schema::{accounts, policies, units};
use crate::store::enums::parse_enum;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::coverage::{CoverageGap, policy_gaps};
use whereabouts_core::{
    ApproverRule, EffectivePolicy, FiledWith, Issue, IssueCode, Policy, UnitKind,
};

/// Decodes a stored policy's rules.
pub fn decode(rules: serde_json::Value) -> Result<Policy, ApiError> {
    serde_json::from_value(json!({ "rules": rules })).map_err(|e| {
        tracing::error!(error = %e, "stored policy does not parse");
        ApiError::Internal
    })
}

/// A stored policy version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyVersion {
    /// The unit the policy belongs to.
    pub unit_id: Uuid,
    /// Version, from 1; also the `ETag`.
    pub version: i32,
    /// The rules.
    pub policy: Policy,
    /// Who saved it.
    pub created_by: Option<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The newest policy of a unit, if it has one.
pub fn latest(conn: &mut PgConnection, unit_id: Uuid) -> Result<Option<PolicyVersion>, ApiError> {
    let row: Option<(i32, serde_json::Value, Option<Uuid>, DateTime<Utc>)> = policies::table
        .filter(policies::unit_id.eq(unit_id))
        .order(policies::version.desc())
        .select((
            policies::version,
            policies::rules,
            policies::created_by,
            policies::created_at,
        ))
        .first(conn)
        .optional()?;
    row.map(|(version, rules, created_by, created_at)| {
        Ok(PolicyVersion {
            unit_id,
            version,
            policy: decode(rules)?,
            created_by,
            created_at,
        })
    })
    .transpose()
}

/// Locks a node's row for the rest of the transaction, so that saves of its
/// policy take turns (404 for an unknown node).
pub fn lock_unit(conn: &mut PgConnection, unit_id: Uuid) -> Result<(), ApiError> {
    units::table
        .find(unit_id)
        .select(units::id)
        .for_update()
        .first::<Uuid>(conn)?;
    Ok(())
}

/// Whether an account exists.
fn account_exists(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(accounts::table.find(id))).get_result(conn)
}

/// Whether a node exists.
fn unit_exists(conn: &mut PgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(units::table.find(id))).get_result(conn)
}

/// The accounts and nodes a policy names that do not exist: one issue
/// (`unknown_reference`) per approver or `filed_with` entry naming one, rule
/// by rule, the approvers of a rule before its `filed_with`.
pub fn unknown_references(
    conn: &mut PgConnection,
    policy: &Policy,
) -> Result<Vec<Issue>, ApiError> {
    let mut issues = Vec::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        for (j, approver) in rule.approvers.iter().enumerate() {
            let exists = match approver {
                ApproverRule::Account { account_id } => account_exists(conn, *account_id)?,
                ApproverRule::Role { unit_id, .. } => unit_exists(conn, *unit_id)?,
                _ => true,
            };
            if !exists {
                issues.push(Issue::new(
                    IssueCode::Invalid,
                    Some(format!("rules[{i}].approvers[{j}]")),
                    json!({"reason": "unknown_reference"}),
                ));
            }
        }
        for (j, filed) in rule.filed_with.iter().enumerate() {
            let exists = match filed {
                FiledWith::Account { account_id } => account_exists(conn, *account_id)?,
                FiledWith::Unit { unit_id } => unit_exists(conn, *unit_id)?,
            };
            if !exists {
                issues.push(Issue::new(
                    IssueCode::Invalid,
                    Some(format!("rules[{i}].filed_with[{j}]")),
                    json!({"reason": "unknown_reference"}),
                ));
            }
        }
    }
    Ok(issues)
}

/// Saves `policy` as version `version` of a node's policy, by `created_by`.
pub fn save(
    conn: &mut PgConnection,
    unit_id: Uuid,
    version: i32,
    policy: &Policy,
    created_by: Uuid,
) -> Result<(), ApiError> {
    let rules = serde_json::to_value(&policy.rules)
        .map_err(ApiError::internal("serialising a policy's rules"))?;
    diesel::insert_into(policies::table)
        .values((
            policies::unit_id.eq(unit_id),
            policies::version.eq(version),
            policies::rules.eq(rules),
            policies::created_by.eq(created_by),
        ))
        .execute(conn)?;
    Ok(())
}

/// The effective policy of a node: its own newest, or its nearest ancestor's.
pub fn effective(
    conn: &mut PgConnection,
    unit_id: Uuid,
) -> Result<Option<EffectivePolicy>, ApiError> {
    let path: Vec<Uuid> = units::table.find(unit_id).select(units::path).first(conn)?;
    let rows: Vec<(Uuid, i32, serde_json::Value)> = policies::table
        .filter(policies::unit_id.eq_any(&path))
        .distinct_on(policies::unit_id)
        .order((policies::unit_id, policies::version.desc()))
        .select((policies::unit_id, policies::version, policies::rules))
        .load(conn)?;
    for ancestor in path.iter().rev() {
        if let Some((source, version, rules)) = rows.iter().find(|r| r.0 == *ancestor) {
            return Ok(Some(EffectivePolicy {
                policy: decode(rules.clone())?,
                source_unit_id: *source,
                version: i64::from(*version),
            }));
        }
    }
    Ok(None)
}

/// How a unit is covered by a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoverageSource {
    /// The unit has its own policy.
    Own,
    /// The unit inherits an ancestor's policy.
    Inherited,
    /// No unit above has a policy.
    None,
}

/// Coverage of one unit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnitCoverage {
    /// The unit.
    pub unit_id: Uuid,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: UnitKind,
    /// Its parent.
    pub parent_id: Option<Uuid>,
    /// Own, inherited or none.
    pub source: CoverageSource,
    /// The unit whose policy covers it.
    pub covered_by: Option<Uuid>,
    /// That policy's version.
    pub version: Option<i32>,
    /// Every rank × position × trip kind × period has a complete rule.
    pub complete: bool,
    /// Number of incomplete combinations.
    pub missing_count: usize,
    /// The incomplete combinations.
    pub missing: Vec<CoverageGap>,
}

/// The coverage of a subtree.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyCoverage {
    /// The subtree's root.
    pub unit_id: Uuid,
    /// Units in the subtree.
    pub units: usize,
    /// Units whose policy is complete.
    pub complete: usize,
    /// Units covered by no policy.
    pub uncovered: usize,
    /// One entry per unit, root first, by depth then code.
    pub items: Vec<UnitCoverage>,
}

/// A unit of a subtree: id, code, name, kind, parent, path.
type SubtreeRow = (Uuid, String, String, String, Option<Uuid>, Vec<Uuid>);

/// Which policy covers each unit of a subtree, and how complete it is.
pub fn subtree_coverage(conn: &mut PgConnection, id: Uuid) -> Result<PolicyCoverage, ApiError> {
    let root_path: Vec<Uuid> = units::table.find(id).select(units::path).first(conn)?;
    let subtree: Vec<SubtreeRow> = units::table
        .filter(sql::<Bool>("path @> ").bind::<Array<SqlUuid>, _>(vec![id]))
        .order((
            sql::<diesel::sql_types::Integer>("array_length(path, 1)"),
            units::code,
        ))
        .select((
            units::id,
            units::code,
            units::name,
            units::kind,
            units::parent_id,
            units::path,
        ))
        .load(conn)?;
    let mut with_policy: Vec<Uuid> = root_path.clone();
    with_policy.extend(subtree.iter().map(|u| u.0));
    let rows: Vec<(Uuid, i32, serde_json::Value)> = policies::table
        .filter(policies::unit_id.eq_any(&with_policy))
        .distinct_on(policies::unit_id)
        .order((policies::unit_id, policies::version.desc()))
        .select((policies::unit_id, policies::version, policies::rules))
        .load(conn)?;
    let mut gaps_by_unit = std::collections::HashMap::new();
    for (unit, _, rules) in &rows {
        gaps_by_unit.insert(*unit, policy_gaps(&decode(rules.clone())?));
    }
    let mut items = Vec::new();
    for (unit_id, code, name, kind, parent_id, path) in subtree {
        let source_row = path
            .iter()
            .rev()
            .find_map(|a| rows.iter().find(|r| r.0 == *a));
        let (source, covered_by, version, missing) = match source_row {
            None => (CoverageSource::None, None, None, Vec::new()),
            Some((owner, version, _)) => (
                if *owner == unit_id {
                    CoverageSource::Own
                } else {
                    CoverageSource::Inherited
                },
                Some(*owner),
                Some(*version),
                gaps_by_unit.get(owner).cloned().unwrap_or_default(),
            ),
        };
        let complete = covered_by.is_some() && missing.is_empty();
        items.push(UnitCoverage {
            unit_id,
            code,
            name,
            kind: parse_enum(&kind)?,
            parent_id,
            source,
            covered_by,
            version,
            complete,
            missing_count: if covered_by.is_some() {
                missing.len()
            } else {
                whereabouts_core::coverage::COMBINATIONS
            },
            missing,
        });
    }
    Ok(PolicyCoverage {
        unit_id: id,
        units: items.len(),
        complete: items.iter().filter(|i| i.complete).count(),
        uncovered: items.iter().filter(|i| i.covered_by.is_none()).count(),
        items,
    })
}
