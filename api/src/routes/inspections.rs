//! Inspection campaigns: inspectors open one over a subtree and a window; the
//! report shows, per unit, who is covered, what was filed and how late, who
//! left without reporting, and whether the unit's rules exist, are complete
//! and reach its second-level units. What a campaign finds is in `findings`.

use crate::access::{self, Access, Entry, Requester};
use crate::error::ApiError;
use crate::extract::{AppState, Json, Principal, etag};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action};
use crate::store::inspections::{
    Inspection, InspectionInput, InspectionReport, insert, load, page, readable, report,
};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use serde_json::json;
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
            insert(conn, id, &name, &input, who.account_id)?;
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
    let after = params
        .after()?
        .map(|after| after.parse::<Uuid>())
        .transpose()
        .map_err(|_| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))?;
    let listed = state
        .db
        .run(move |conn| {
            let rows = page(
                conn,
                policy::scope(&who, Action::Supervise).roots(),
                after,
                limit + 1,
            )?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.id.to_string());
            Ok(InspectionPage {
                items: rows.into_iter().map(Inspection::from).collect(),
                next_cursor,
            })
        })
        .await?;
    Ok(web::Json(listed))
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
    requester: Requester,
) -> Result<web::Json<InspectionReport>, ApiError> {
    let id = id.into_inner();
    let actor = who.account_id;
    let inspection = state.db.run(move |conn| readable(conn, &who, id)).await?;
    // A heavy read: its own pool and slot, after the caller is known to may.
    let _slot = state.heavy.admit()?;
    let st = state.clone();
    let report = state
        .heavy
        .db
        .run(move |conn| {
            let unit = inspection.unit_id;
            let report = report(conn, &st, inspection)?;
            let read = Entry::new(Access::CampaignReport, Some(actor))
                .target(id.to_string())
                .units(vec![unit])
                .rows(report.units.len());
            access::record(conn, &requester, read)?;
            Ok(report)
        })
        .await?;
    Ok(web::Json(report))
}
