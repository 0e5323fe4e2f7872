//! Policies: a unit's versioned reporting rules, the effective policy by
//! inheritance down the tree, and coverage of a subtree.

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag};
use crate::policy::{self, Action};
use crate::store::policies::{
    self as store, PolicyCoverage, PolicyVersion, effective, latest, subtree_coverage,
};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::{Issue, IssueCode, Policy};

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

/// Checks a policy: well formed (core), naming no account or unit that does
/// not exist (`unknown`, the issues of those it names), and at most 200 rules.
fn check(policy: &Policy, unknown: Vec<Issue>) -> Result<(), ApiError> {
    let mut issues = policy.check();
    issues.extend(unknown);
    if policy.rules.len() > 200 {
        issues.push(Issue::new(
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

/// Save a new version of a unit's reporting policy
///
/// System administrators and unit admins whose scope holds the node (403
/// `forbidden` to callers holding neither role; 404 `not_found` for a node
/// unknown or outside their scope). Saves the body as the node's next policy
/// version (versions count from 1; earlier ones are kept, and a filing keeps
/// the assessment it was filed under). The node, and every node below it
/// without a policy of its own, assesses trips by it from now on.
///
/// Rules are tried in order; the first whose `applies_to`, `trip_kinds` and
/// `periods` match the filer and the trip decides it, and empty or missing
/// selectors match everything. A rule is complete when it sets
/// `requirement`, a non-empty `approvers` chain when the requirement is
/// `approval`, `form` and `notice`. An incomplete policy is saved too:
/// `getPolicyCoverage` lists what it leaves open. Approver kinds resolve
/// against the posts set with `setUnitLeaders`: `department_head` is the
/// `principal_id` of the filer's own node, `unit_principal` that of the
/// filer's unit, `deputy_in_charge` the deputy of the filer's unit in charge
/// of the filer's node, `superior_principal` and `superior_deputy_in_charge`
/// the same posts one unit up; `account` names an account and `role` every
/// holder of a role grant on a node.
///
/// `If-Match` names the version the change is based on: the `ETag` of
/// `getUnitPolicy` (for example `"3"`), or `"0"` for a node without a policy
/// of its own yet. A stale one answers 412 `precondition_failed`. 422
/// `validation_failed` for a malformed rule or one naming an unknown account
/// or node. Answers the saved version with its `ETag`.
#[utoipa::path(put, path = "/api/v1/units/{id}/policy", operation_id = "setUnitPolicy", tag = "policies", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Policy, example = json!({
        "rules": [
            {
                "id": "staff-leave",
                "applies_to": {"ranks": ["clerk", "section"], "positions": ["staff", "department_head"]},
                "trip_kinds": ["leave_jurisdiction"],
                "periods": ["normal", "holiday", "special"],
                "requirement": "approval",
                "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}],
                "filed_with": [{"kind": "unit", "unit_id": "68851e01-6af6-4c76-b8e8-19e246270528"}],
                "form": "online",
                "notice": {"days": 3, "working_days": true},
                "return_report": {"required": true, "within_hours": 24},
                "max_days": 30,
                "documents_required": false
            },
            {
                "id": "private-abroad",
                "applies_to": {},
                "trip_kinds": ["abroad_private", "hk_macau_private", "taiwan_private"],
                "periods": [],
                "requirement": "approval",
                "approvers": [{"kind": "unit_principal"}, {"kind": "superior_principal"}],
                "filed_with": [{"kind": "unit", "unit_id": "68851e01-6af6-4c76-b8e8-19e246270528"}],
                "form": "online_and_written",
                "notice": {"days": 10, "working_days": true},
                "return_report": {"required": true, "within_hours": 24},
                "max_days": 30,
                "documents_required": true
            }
        ]
    })),
    responses((status = 200, body = PolicyVersion, description = "The saved policy version, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
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
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::ManageOrganisation, id)?;
            // Serialise concurrent saves of the same unit's policy.
            store::lock_unit(conn, id)?;
            let current = latest(conn, id)?.map_or(0, |p| p.version);
            if_match.check(current)?;
            check(&policy, store::unknown_references(conn, &policy)?)?;
            store::save(conn, id, current + 1, &policy, who.account_id)?;
            let saved =
                latest(conn, id)?.ok_or_else(|| ApiError::broken("the policy just saved"))?;
            tx.audit.record(
                Some(who.account_id),
                "policy",
                Some(id),
                "save",
                crate::audit::state(&saved),
            );
            Ok(saved)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(saved.version)))
        .json(saved))
}

/// Read a node's own newest policy
///
/// System administrators, unit admins and inspectors whose scope holds the
/// node (403 `forbidden` to callers holding none of these roles; 404
/// `not_found` for a node unknown or outside their scope). Answers the newest
/// version the node itself saved, with its `ETag` (the version, for example
/// `"3"`) to send in `If-Match` when saving the next. A node without a policy
/// of its own answers 404 `not_found` even when it inherits one:
/// `getEffectivePolicy` answers the policy in force.
#[utoipa::path(get, path = "/api/v1/units/{id}/policy", operation_id = "getUnitPolicy", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = PolicyVersion, description = "The node's newest policy version, with its `ETag`"), (status = 401), (status = 403), (status = 404)),
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

/// Read the policy in force for a node
///
/// System administrators, unit admins and inspectors whose scope holds the
/// node (403 `forbidden` to callers holding none of these roles; 404
/// `not_found` for a node unknown or outside their scope). Answers the policy
/// the node's trips are assessed by: its own newest, else the newest of its
/// nearest ancestor that has one, with `source_unit_id` and `version` saying
/// whose and which. All three are `null` when neither the node nor any node
/// above it has a policy.
#[utoipa::path(get, path = "/api/v1/units/{id}/effective-policy", operation_id = "getEffectivePolicy", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = EffectivePolicyBody, description = "The policy in force and where it comes from"), (status = 401), (status = 403), (status = 404)),
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

/// Report which policy covers each node of a subtree, and what it leaves open
///
/// System administrators, unit admins and inspectors whose scope holds the
/// node (403 `forbidden` to callers holding none of these roles; 404
/// `not_found` for a node unknown or outside their scope). For the node and
/// every node below it, root first (by depth, then code): whether it has a
/// policy of its own, inherits one (`covered_by`, `version`) or has none,
/// whether that policy is complete, and each rank × position × trip kind ×
/// period combination it leaves without a complete rule (`missing`). A
/// policy is complete when every combination matches a rule that sets the
/// requirement, an approver chain when approval is required, a form and a
/// notice period. The totals count the nodes, the complete ones and those
/// covered by no policy.
#[utoipa::path(get, path = "/api/v1/units/{id}/policy-coverage", operation_id = "getPolicyCoverage", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = PolicyCoverage, description = "The coverage of every node of the subtree"), (status = 401), (status = 403), (status = 404)),
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
