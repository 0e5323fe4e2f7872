//! Policies: a unit's versioned reporting rules, the effective policy by
//! inheritance down the tree, and coverage of a subtree.

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag};
use crate::policy::{self, Action};
use crate::schema::{accounts, policies, units};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::coverage::{CoverageGap, policy_gaps};
use whereabouts_core::{ApproverRule, EffectivePolicy, FiledWith, IssueCode, Policy, UnitKind};

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

/// The policy in force for a unit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EffectivePolicyBody {
    /// The policy, or `null` when no unit above has one.
    pub policy: Option<Policy>,
    /// The unit whose policy it is.
    pub source_unit_id: Option<Uuid>,
    /// Its version.
    pub version: Option<i32>,
}

fn decode(rules: serde_json::Value) -> Result<Policy, ApiError> {
    serde_json::from_value(json!({ "rules": rules })).map_err(|e| {
        tracing::error!(error = %e, "stored policy does not parse");
        ApiError::Internal
    })
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

/// Checks a policy: well formed (core) and every account and unit it names exists.
fn check(conn: &mut PgConnection, policy: &Policy) -> Result<(), ApiError> {
    let mut issues = policy.check();
    for (i, rule) in policy.rules.iter().enumerate() {
        for (j, approver) in rule.approvers.iter().enumerate() {
            let exists: bool = match approver {
                ApproverRule::Account { account_id } => {
                    diesel::select(diesel::dsl::exists(accounts::table.find(account_id)))
                        .get_result(conn)?
                }
                ApproverRule::Role { unit_id, .. } => {
                    diesel::select(diesel::dsl::exists(units::table.find(unit_id)))
                        .get_result(conn)?
                }
                _ => true,
            };
            if !exists {
                issues.push(whereabouts_core::Issue::new(
                    IssueCode::Invalid,
                    Some(format!("rules[{i}].approvers[{j}]")),
                    json!({"reason": "unknown_reference"}),
                ));
            }
        }
        for (j, filed) in rule.filed_with.iter().enumerate() {
            let exists: bool = match filed {
                FiledWith::Account { account_id } => {
                    diesel::select(diesel::dsl::exists(accounts::table.find(account_id)))
                        .get_result(conn)?
                }
                FiledWith::Unit { unit_id } => {
                    diesel::select(diesel::dsl::exists(units::table.find(unit_id)))
                        .get_result(conn)?
                }
            };
            if !exists {
                issues.push(whereabouts_core::Issue::new(
                    IssueCode::Invalid,
                    Some(format!("rules[{i}].filed_with[{j}]")),
                    json!({"reason": "unknown_reference"}),
                ));
            }
        }
    }
    if policy.rules.len() > 200 {
        issues.push(whereabouts_core::Issue::new(
            IssueCode::TooLong,
            Some("rules".into()),
            json!({"max": 200}),
        ));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(issues))
    }
}

/// Saves a new version of a unit's policy. `If-Match` names the version the
/// change is based on (`"0"` for a unit without one).
#[utoipa::path(put, path = "/api/v1/units/{id}/policy", tag = "policies", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), request_body = Policy,
    responses((status = 200, body = PolicyVersion), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem), (status = 412, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn put(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<Policy>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let policy = body.0;
    let saved = state
        .db
        .transaction(move |conn| {
            policy::authorize(conn, &who, Action::ManageOrganisation, id)?;
            // Serialise concurrent saves of the same unit's policy.
            units::table
                .find(id)
                .select(units::id)
                .for_update()
                .first::<Uuid>(conn)?;
            let current = latest(conn, id)?.map_or(0, |p| p.version);
            if_match.check(current)?;
            check(conn, &policy)?;
            let rules = serde_json::to_value(&policy.rules).map_err(|_| ApiError::Internal)?;
            diesel::insert_into(policies::table)
                .values((
                    policies::unit_id.eq(id),
                    policies::version.eq(current + 1),
                    policies::rules.eq(rules),
                    policies::created_by.eq(who.account_id),
                ))
                .execute(conn)?;
            let saved = latest(conn, id)?.ok_or(ApiError::Internal)?;
            crate::audit::append(
                conn,
                Some(who.account_id),
                "policy",
                Some(id),
                "save",
                crate::audit::state(&saved),
            )?;
            Ok(saved)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(saved.version)))
        .json(saved))
}

/// Reads a unit's own newest policy (404 when it has none; see `effective-policy`).
#[utoipa::path(get, path = "/api/v1/units/{id}/policy", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = PolicyVersion), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let policy = state
        .db
        .run(move |conn| {
            policy::authorize(conn, &who, Action::ReadOrganisation, id)?;
            latest(conn, id)?.ok_or(ApiError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(policy.version)))
        .json(policy))
}

/// Reads the policy in force for a unit: its own, or its nearest ancestor's.
#[utoipa::path(get, path = "/api/v1/units/{id}/effective-policy", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = EffectivePolicyBody), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn get_effective(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<EffectivePolicyBody>, ApiError> {
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| {
            policy::authorize(conn, &who, Action::ReadOrganisation, id)?;
            effective(conn, id)
        })
        .await?;
    Ok(web::Json(match found {
        Some(p) => EffectivePolicyBody {
            policy: Some(p.policy),
            source_unit_id: Some(p.source_unit_id),
            version: i32::try_from(p.version).ok(),
        },
        None => EffectivePolicyBody {
            policy: None,
            source_unit_id: None,
            version: None,
        },
    }))
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

/// Per unit in the subtree: which unit's policy covers it, whether it is
/// complete, and what is missing.
#[utoipa::path(get, path = "/api/v1/units/{id}/policy-coverage", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = PolicyCoverage), (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn coverage(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<PolicyCoverage>, ApiError> {
    let id = id.into_inner();
    let result = state
        .db
        .run(move |conn| {
            policy::authorize(conn, &who, Action::ReadOrganisation, id)?;
            subtree_coverage(conn, id)
        })
        .await?;
    Ok(web::Json(result))
}

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
            kind: crate::routes::units::parse_enum(&kind)?,
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
