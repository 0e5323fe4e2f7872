//! A campaign's findings: per unit, the category and the measures taken;
//! rectification items carry deadlines, evidence and a look-back review, and
//! are flagged when overdue.

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag};
use crate::policy::{self, Action};
use crate::store::findings::{
    self as store, Progress, findings_of, insert_finding, insert_rectification, load_rectification,
    within_campaign,
};
use crate::store::inspections::{
    Finding, FindingInput, FindingPatch, Rectification, RectificationStatus, check_text, load,
    load_finding, to_findings,
};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// Record a finding about a unit of a campaign
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree (403 `forbidden` to callers holding neither role; 404 `not_found`
/// for a campaign unknown or outside their scope).
/// `unit_id` must lie in the campaign's subtree (422 `validation_failed`
/// otherwise). `category` says what the finding is about (`no_rules`,
/// `incomplete_rules`, `not_extended` to second-level units,
/// `not_implemented`, `falsified`), `description` what was found (1 to 4,000
/// characters), and `measures` what is done about it
/// (`criticism_education`, `reminder_letter`, `supervision_proposal`,
/// `special_democratic_life_meeting`, `accountability`). Answers 201 with the
/// finding and its `ETag`.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/findings", operation_id = "createFinding", tag = "inspections", params(("id" = Uuid, Path)),
    request_body(content = FindingInput, example = json!({
        "unit_id": "a34d5473-f579-4ed8-8487-9ffe8826b5f9",
        "category": "not_extended",
        "description": "区教育局的离京报备制度未延伸到所属学校，3所中学没有本单位的审批规定。",
        "measures": ["reminder_letter"]
    })),
    responses((status = 201, body = Finding, description = "The recorded finding, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create_finding(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    body: Json<FindingInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    policy::require(&who, Action::Inspect)?;
    let description = check_text("description", &input.description, 4000)?;
    let st = state.clone();
    let finding = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            policy::authorize(conn, &who, Action::Inspect, inspection.unit_id)?;
            if !within_campaign(conn, input.unit_id, inspection.unit_id)? {
                return Err(ApiError::invalid(
                    IssueCode::OutOfRange,
                    "unit_id",
                    json!({"reason": "outside_the_campaign"}),
                ));
            }
            let finding_id = Uuid::new_v4();
            insert_finding(conn, finding_id, id, &input, &description, who.account_id)?;
            let finding = load_finding(conn, &st, id, finding_id)?;
            tx.audit.record(
                Some(who.account_id),
                "finding",
                Some(finding_id),
                "create",
                crate::audit::state(&finding),
            );
            Ok(finding)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(finding.version)))
        .json(finding))
}

/// Findings of a campaign.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FindingList {
    /// Findings, oldest first, each with its rectification items.
    pub items: Vec<Finding>,
}

/// List the findings of a campaign
///
/// System administrators, unit admins and inspectors whose scope holds the
/// campaign's subtree read every finding. A system administrator or unit
/// admin whose scope lies below it reads the findings about units in their
/// scope, to answer them with rectification; anyone else gets 404
/// `not_found`, and callers holding none of these roles 403 `forbidden`.
/// Oldest first, each with its rectification items by deadline; not paged.
#[utoipa::path(get, path = "/api/v1/inspections/{id}/findings", operation_id = "listFindings", tag = "inspections", params(("id" = Uuid, Path)),
    responses((status = 200, body = FindingList, description = "The findings the caller may read, oldest first"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn list_findings(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<FindingList>, ApiError> {
    let id = id.into_inner();
    policy::require(&who, Action::Supervise)?;
    let st = state.clone();
    let list = state
        .db
        .run(move |conn| {
            let inspection = load(conn, id)?;
            let rows = findings_of(conn, id)?;
            let rows = if policy::covers(conn, &who, Action::Supervise, inspection.unit_id)? {
                rows
            } else {
                let mut mine = Vec::new();
                for row in rows {
                    if policy::covers(conn, &who, Action::Rectify, row.unit_id)? {
                        mine.push(row);
                    }
                }
                if mine.is_empty() {
                    return Err(ApiError::NotFound);
                }
                mine
            };
            Ok(FindingList {
                items: to_findings(conn, &st, rows)?,
            })
        })
        .await?;
    Ok(web::Json(list))
}

/// Change a finding
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree (403 `forbidden` to callers holding neither role; 404 `not_found`
/// for a campaign unknown or outside their scope).
/// Fields left out stay as they are; `measures` replaces the whole list. Send
/// the finding's `ETag` in `If-Match` to change it only if nobody changed it
/// since (412 `precondition_failed`). Answers the finding with its new
/// `ETag`.
#[utoipa::path(patch, path = "/api/v1/inspections/{id}/findings/{finding_id}", operation_id = "updateFinding", tag = "inspections", params(("id" = Uuid, Path), ("finding_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = FindingPatch, example = json!({"measures": ["reminder_letter", "criticism_education"]})),
    responses((status = 200, body = Finding, description = "The changed finding, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn update_finding(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
    body: Json<FindingPatch>,
) -> Result<HttpResponse, ApiError> {
    let (id, finding_id) = path.into_inner();
    let patch = body.0;
    policy::require(&who, Action::Inspect)?;
    let description = patch
        .description
        .as_deref()
        .map(|d| check_text("description", d, 4000))
        .transpose()?;
    let st = state.clone();
    let finding = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            policy::authorize(conn, &who, Action::Inspect, inspection.unit_id)?;
            let current = load_finding(conn, &st, id, finding_id)?;
            if_match.check(current.version)?;
            store::update_finding(
                conn,
                finding_id,
                patch.category.unwrap_or(current.category),
                &description.unwrap_or(current.description.clone()),
                patch.measures.as_deref().unwrap_or(&current.measures),
                current.version,
            )?;
            let finding = load_finding(conn, &st, id, finding_id)?;
            tx.audit.record(
                Some(who.account_id),
                "finding",
                Some(finding_id),
                "update",
                crate::audit::state(&finding),
            );
            Ok(finding)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(finding.version)))
        .json(finding))
}

/// A rectification item to set.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RectificationInput {
    /// What must change, 1 to 4,000 characters.
    pub description: String,
    /// By when.
    pub deadline: NaiveDate,
    /// The look-back review date (on or after the deadline).
    #[serde(default)]
    pub review_on: Option<NaiveDate>,
}

/// Progress on a rectification item; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RectificationPatch {
    /// New status; `completed` needs evidence.
    pub status: Option<RectificationStatus>,
    /// What the unit shows for it.
    pub evidence: Option<String>,
    /// A new deadline (inspectors).
    pub deadline: Option<NaiveDate>,
    /// A new review date (inspectors).
    pub review_on: Option<NaiveDate>,
}

/// Set a rectification item on a finding
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree (403 `forbidden` to callers holding neither role; 404 `not_found`
/// for a campaign unknown or outside their scope).
/// `description` says what must change (1 to 4,000 characters), `deadline`
/// by when, and `review_on`, on or after the deadline, when to look back at
/// it (422 `validation_failed` otherwise). The item starts `open`, and shows
/// as `overdue` once its deadline has passed without it being completed; the
/// unit's admins report progress with `updateRectification`. Answers 201 with
/// the item and its `ETag`.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/findings/{finding_id}/rectifications", operation_id = "createRectification", tag = "inspections", params(("id" = Uuid, Path), ("finding_id" = Uuid, Path)),
    request_body(content = RectificationInput, example = json!({
        "description": "制定并印发覆盖所属学校的干部离京报备审批办法。",
        "deadline": "2027-07-31",
        "review_on": "2027-10-31"
    })),
    responses((status = 201, body = Rectification, description = "The new rectification item, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create_rectification(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<RectificationInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let (id, finding_id) = path.into_inner();
    let input = body.0;
    policy::require(&who, Action::Inspect)?;
    crate::input::dates_in_range([
        ("deadline", Some(input.deadline)),
        ("review_on", input.review_on),
    ])?;
    let description = check_text("description", &input.description, 4000)?;
    if input.review_on.is_some_and(|r| r < input.deadline) {
        return Err(ApiError::invalid(
            IssueCode::OutOfRange,
            "review_on",
            json!({"min": input.deadline}),
        ));
    }
    let st = state.clone();
    let item = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            policy::authorize(conn, &who, Action::Inspect, inspection.unit_id)?;
            load_finding(conn, &st, id, finding_id)?;
            let item_id = Uuid::new_v4();
            insert_rectification(
                conn,
                item_id,
                finding_id,
                &description,
                input.deadline,
                input.review_on,
            )?;
            let item = load_rectification(conn, &st, finding_id, item_id)?;
            tx.audit.record(
                Some(who.account_id),
                "rectification",
                Some(item_id),
                "create",
                crate::audit::state(&item),
            );
            Ok(item)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(item.version)))
        .json(item))
}

/// Report progress on a rectification item
///
/// System administrators and inspectors whose scope holds the campaign's
/// subtree, and system administrators and unit admins whose scope holds the
/// finding's unit; anyone else gets 404 `not_found` (403 `forbidden` when
/// they hold none of these roles). The unit's admins set `status` (`open`,
/// `in_progress`, `completed`) and `evidence`; only the inspection side may
/// also move `deadline` and `review_on` (403 `forbidden` otherwise).
/// `completed` needs evidence (422 `validation_failed` on `evidence`), and
/// `review_on` stays on or after the deadline. Send the item's `ETag` in
/// `If-Match` to change it only if nobody changed it since (412
/// `precondition_failed`). Answers the item with its new `ETag`.
#[utoipa::path(patch, path = "/api/v1/inspections/{id}/findings/{finding_id}/rectifications/{rectification_id}", operation_id = "updateRectification", tag = "inspections",
    params(("id" = Uuid, Path), ("finding_id" = Uuid, Path), ("rectification_id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = RectificationPatch, example = json!({
        "status": "completed",
        "evidence": "已于2027年7月20日印发《区教育局干部离京报备审批办法》，覆盖全部所属学校。"
    })),
    responses((status = 200, body = Rectification, description = "The changed rectification item, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn update_rectification(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(Uuid, Uuid, Uuid)>,
    if_match: IfMatch,
    body: Json<RectificationPatch>,
) -> Result<HttpResponse, ApiError> {
    let (id, finding_id, item_id) = path.into_inner();
    let patch = body.0;
    policy::require(&who, Action::Supervise)?;
    crate::input::dates_in_range([("deadline", patch.deadline), ("review_on", patch.review_on)])?;
    let evidence = patch
        .evidence
        .as_deref()
        .map(|e| check_text("evidence", e, 4000))
        .transpose()?;
    let st = state.clone();
    let item = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let inspection = load(conn, id)?;
            let finding = load_finding(conn, &st, id, finding_id)?;
            let inspector = policy::covers(conn, &who, Action::Inspect, inspection.unit_id)?;
            let unit_admin = policy::covers(conn, &who, Action::Rectify, finding.unit_id)?;
            if !inspector && !unit_admin {
                return Err(ApiError::NotFound);
            }
            if !inspector && (patch.deadline.is_some() || patch.review_on.is_some()) {
                return Err(ApiError::Forbidden);
            }
            let current = load_rectification(conn, &st, finding_id, item_id)?;
            if_match.check(current.version)?;
            let status = patch.status.unwrap_or(current.status);
            let evidence = evidence.or(current.evidence.clone());
            if status == RectificationStatus::Completed && evidence.is_none() {
                return Err(ApiError::invalid(
                    IssueCode::Required,
                    "evidence",
                    json!({}),
                ));
            }
            let deadline = patch.deadline.unwrap_or(current.deadline);
            let review_on = patch.review_on.or(current.review_on);
            if review_on.is_some_and(|r| r < deadline) {
                return Err(ApiError::invalid(
                    IssueCode::OutOfRange,
                    "review_on",
                    json!({"min": deadline}),
                ));
            }
            let completed_at = match (status, current.completed_at) {
                (RectificationStatus::Completed, Some(at)) => Some(at),
                (RectificationStatus::Completed, None) => Some(st.config.now()),
                _ => None,
            };
            let progress = Progress {
                status,
                evidence,
                deadline,
                review_on,
                completed_at,
            };
            store::update_rectification(conn, item_id, &progress, current.version)?;
            let item = load_rectification(conn, &st, finding_id, item_id)?;
            tx.audit.record(
                Some(who.account_id),
                "rectification",
                Some(item_id),
                "update",
                crate::audit::state(&item),
            );
            Ok(item)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(item.version)))
        .json(item))
}
