//! Inspection campaigns: inspectors open one over a subtree and a window; the
//! report shows, per unit, who is covered, what was filed and how late, who
//! left without reporting, and whether the unit's rules exist, are complete
//! and reach its second-level units. Findings per unit record the category
//! and the measures taken; rectification items carry deadlines, evidence and
//! a look-back review, and are flagged when overdue.

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action};
use crate::schema::{inspection_findings, inspections, rectifications, units};
use crate::store::enums::enum_name;
use crate::store::inspections::{
    Finding, FindingInput, FindingPatch, FindingRow, Inspection, InspectionInput, InspectionReport,
    InspectionRow, Rectification, RectificationRow, RectificationStatus, check_text, load,
    load_finding, measures_of, readable, report, to_findings, to_rectification,
};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// Open an inspection campaign over a subtree and a window
///
/// System administrators and inspectors whose scope holds `unit_id` (403
/// `forbidden` to callers holding neither role; 404 `not_found` for a node
/// unknown or outside their scope). `name` is 1 to 200 characters and `to`
/// on or after `from`, at most 366 days later (422 `validation_failed`
/// otherwise). The campaign's report (`getInspectionReport`) is computed over
/// the subtree and window each time it is read; findings and rectification
/// items are recorded under it. Answers 201 with the campaign and its `ETag`.
#[utoipa::path(post, path = "/api/v1/inspections", operation_id = "createInspection", tag = "inspections",
    request_body(content = InspectionInput, example = json!({
        "name": "2027年五一节后离京报备专项检查",
        "unit_id": "c15ed824-83c3-4b5f-8324-14c74a2d077f",
        "from": "2027-04-30",
        "to": "2027-05-05"
    })),
    responses((status = 201, body = Inspection, description = "The new campaign, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<InspectionInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    policy::require(&who, Action::Inspect)?;
    crate::input::dates_in_range([("from", Some(input.from)), ("to", Some(input.to))])?;
    let name = input.name.trim().to_owned();
    let mut issues: Vec<whereabouts_core::Issue> = crate::input::name_issue("name", &name, 200)
        .into_iter()
        .collect();
    if input.to < input.from {
        issues.push(whereabouts_core::Issue::new(
            IssueCode::ReturnBeforeDeparture,
            Some("to".into()),
            json!({}),
        ));
    } else if (input.to - input.from).num_days() > 366 {
        issues.push(whereabouts_core::Issue::new(
            IssueCode::OutOfRange,
            Some("to".into()),
            json!({"min": 0, "max": 366}),
        ));
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    let created = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::Inspect, input.unit_id)?;
            let id = Uuid::new_v4();
            diesel::insert_into(inspections::table)
                .values((
                    inspections::id.eq(id),
                    inspections::name.eq(&name),
                    inspections::unit_id.eq(input.unit_id),
                    inspections::from_on.eq(input.from),
                    inspections::to_on.eq(input.to),
                    inspections::opened_by.eq(who.account_id),
                ))
                .execute(conn)?;
            let inspection = load(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "inspection",
                Some(id),
                "create",
                crate::audit::state(&inspection),
            );
            Ok(inspection)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(created.version)))
        .json(created))
}

/// Read an inspection campaign
///
/// System administrators, unit admins and inspectors whose scope holds the
/// campaign's subtree (403 `forbidden` to callers holding none of these
/// roles; 404 `not_found` for a campaign unknown or outside their scope).
/// Answers the campaign with its `ETag`.
#[utoipa::path(get, path = "/api/v1/inspections/{id}", operation_id = "getInspection", tag = "inspections", params(("id" = Uuid, Path)),
    responses((status = 200, body = Inspection, description = "The campaign, with its `ETag`"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let inspection = state.db.run(move |conn| readable(conn, &who, id)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(inspection.version)))
        .json(inspection))
}

crate::page_schema!(
/// A page of campaigns.
    InspectionPage,
    Inspection,
    "Campaigns, in descending order of their ids.",
    "Pass as `cursor` for the next page; absent on the last."
);

/// List the inspection campaigns in the caller's scope
///
/// System administrators, unit admins and inspectors: the campaigns over
/// nodes in their scope (403 `forbidden` to callers holding none of these
/// roles). One page per call, as `{items, next_cursor}`, in descending order
/// of the campaigns' ids (not by date): pass `next_cursor` back as `cursor`
/// for the next page.
#[utoipa::path(get, path = "/api/v1/inspections", operation_id = "listInspections", tag = "inspections", params(PageParams),
    responses((status = 200, body = InspectionPage, description = "A page of campaigns"), (status = 401), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    params: web::Query<PageParams>,
) -> Result<web::Json<InspectionPage>, ApiError> {
    policy::require(&who, Action::Supervise)?;
    let limit = params.limit()?;
    let after = params.after()?;
    let page = state
        .db
        .run(move |conn| {
            let mut query = inspections::table
                .inner_join(units::table)
                .select(InspectionRow::as_select())
                .into_boxed();
            if let Some(roots) = policy::scope(&who, Action::Supervise).roots() {
                query =
                    query.filter(sql::<Bool>("units.path && ").bind::<Array<SqlUuid>, _>(roots));
            }
            if let Some(after) = after {
                let id: Uuid = after
                    .parse()
                    .map_err(|_| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))?;
                query = query.filter(inspections::id.lt(id));
            }
            let rows: Vec<InspectionRow> = query
                .order(inspections::id.desc())
                .limit(limit + 1)
                .load(conn)?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.id.to_string());
            Ok(InspectionPage {
                items: rows.into_iter().map(Inspection::from).collect(),
                next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}

/// Compute an inspection campaign's report
///
/// System administrators, unit admins and inspectors whose scope holds the
/// campaign's subtree (403 `forbidden` to callers holding none of these
/// roles; 404 `not_found` for a campaign unknown or outside their scope).
///
/// Computed now over the campaign's subtree and window. Per unit (every node
/// but departments, which count in their unit; root first): its active
/// members, the filings whose trips overlap the window and how many were
/// late, the people with open or explained and with confirmed discrepancies
/// (a cleared one counts nowhere),
/// how its rules cover it (its own policy, inherited or none; complete or
/// not; second-level units left without complete rules), the findings
/// recorded about it and their overdue rectification items, and what is
/// wrong (`problems`). Overall: the share of units with problems, and the
/// people who left without reporting, by rank. A heavy read: with every
/// heavy-read slot of the server taken it answers 429 `rate_limited` with
/// `Retry-After`.
#[utoipa::path(get, path = "/api/v1/inspections/{id}/report", operation_id = "getInspectionReport", tag = "inspections", params(("id" = Uuid, Path)),
    responses((status = 200, body = InspectionReport, description = "The campaign's report, computed now"), (status = 401), (status = 403), (status = 404),
        (status = 429, description = "Every heavy-read slot of the server is taken (`rate_limited`); retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn get_report(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<InspectionReport>, ApiError> {
    let id = id.into_inner();
    let inspection = state.db.run(move |conn| readable(conn, &who, id)).await?;
    // A heavy read: its own pool and slot, after the caller is known to may.
    let _slot = state.heavy.admit()?;
    let st = state.clone();
    let report = state
        .heavy
        .db
        .run(move |conn| report(conn, &st, inspection))
        .await?;
    Ok(web::Json(report))
}

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
            let path: Option<Vec<Uuid>> = units::table
                .find(input.unit_id)
                .select(units::path)
                .first(conn)
                .optional()?;
            if !path.is_some_and(|p| p.contains(&inspection.unit_id)) {
                return Err(ApiError::invalid(
                    IssueCode::OutOfRange,
                    "unit_id",
                    json!({"reason": "outside_the_campaign"}),
                ));
            }
            let finding_id = Uuid::new_v4();
            diesel::insert_into(inspection_findings::table)
                .values((
                    inspection_findings::id.eq(finding_id),
                    inspection_findings::inspection_id.eq(id),
                    inspection_findings::unit_id.eq(input.unit_id),
                    inspection_findings::category.eq(enum_name(&input.category)),
                    inspection_findings::description.eq(&description),
                    inspection_findings::measures.eq(measures_of(&input.measures)),
                    inspection_findings::created_by.eq(who.account_id),
                ))
                .execute(conn)?;
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
            let rows: Vec<FindingRow> = inspection_findings::table
                .filter(inspection_findings::inspection_id.eq(id))
                .order((inspection_findings::created_at, inspection_findings::id))
                .select(FindingRow::as_select())
                .load(conn)?;
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
            diesel::update(inspection_findings::table.find(finding_id))
                .set((
                    inspection_findings::category
                        .eq(enum_name(&patch.category.unwrap_or(current.category))),
                    inspection_findings::description
                        .eq(description.unwrap_or(current.description.clone())),
                    inspection_findings::measures.eq(measures_of(
                        patch.measures.as_deref().unwrap_or(&current.measures),
                    )),
                    inspection_findings::version.eq(current.version + 1),
                    inspection_findings::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
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
            diesel::insert_into(rectifications::table)
                .values((
                    rectifications::id.eq(item_id),
                    rectifications::finding_id.eq(finding_id),
                    rectifications::description.eq(&description),
                    rectifications::deadline.eq(input.deadline),
                    rectifications::review_on.eq(input.review_on),
                ))
                .execute(conn)?;
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

fn load_rectification(
    conn: &mut PgConnection,
    state: &AppState,
    finding_id: Uuid,
    id: Uuid,
) -> Result<Rectification, ApiError> {
    let today = state
        .config
        .now()
        .with_timezone(&state.config.time_zone)
        .date_naive();
    let row: RectificationRow = rectifications::table
        .find(id)
        .filter(rectifications::finding_id.eq(finding_id))
        .select(RectificationRow::as_select())
        .first(conn)?;
    to_rectification(row, today)
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
            diesel::update(rectifications::table.find(item_id))
                .set((
                    rectifications::status.eq(enum_name(&status)),
                    rectifications::evidence.eq(&evidence),
                    rectifications::deadline.eq(deadline),
                    rectifications::review_on.eq(review_on),
                    rectifications::completed_at.eq(completed_at),
                    rectifications::version.eq(current.version + 1),
                    rectifications::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
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
