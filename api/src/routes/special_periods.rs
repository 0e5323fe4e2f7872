//! Special periods: named windows over a unit subtree that tighten the rules.

use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action};
use crate::store::Within;
use crate::store::special_periods::{self as store, SpecialPeriodBody, SpecialPeriodInput, decode};
use crate::tx::Claim;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::{
    ApproverRule, DestinationRestriction, Issue, IssueCode, Requirement, TripKind, regions,
};

/// Changes to a special period; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SpecialPeriodPatch {
    /// Name.
    pub name: Option<String>,
    /// First day.
    pub starts_on: Option<NaiveDate>,
    /// Last day.
    pub ends_on: Option<NaiveDate>,
    /// Trip kinds.
    pub trip_kinds: Option<Vec<TripKind>>,
    /// Requirement floor.
    pub min_requirement: Option<Requirement>,
    /// Approvers.
    pub approvers: Option<Vec<ApproverRule>>,
    /// Restricted destinations.
    pub restricted_destinations: Option<Vec<DestinationRestriction>>,
}

fn check(input: &SpecialPeriodInput) -> Result<(), ApiError> {
    crate::input::dates_in_range([
        ("starts_on", Some(input.starts_on)),
        ("ends_on", Some(input.ends_on)),
    ])?;
    let mut issues: Vec<Issue> = crate::input::name_issue("name", &input.name, 200)
        .into_iter()
        .collect();
    if input.ends_on < input.starts_on {
        issues.push(Issue::new(
            IssueCode::ReturnBeforeDeparture,
            Some("ends_on".into()),
            json!({}),
        ));
    } else if (input.ends_on - input.starts_on).num_days() > 366 {
        issues.push(Issue::new(
            IssueCode::OutOfRange,
            Some("ends_on".into()),
            json!({"min": 0, "max": 366}),
        ));
    }
    for (i, r) in input.restricted_destinations.iter().enumerate() {
        if regions::lookup(r.code.trim()).is_none() {
            issues.push(Issue::new(
                IssueCode::DestinationUnknown,
                Some(format!("restricted_destinations[{i}].code")),
                json!({"code": r.code}),
            ));
        }
    }
    if input.approvers.len() > 10 {
        issues.push(Issue::new(
            IssueCode::TooLong,
            Some("approvers".into()),
            json!({"max": 10}),
        ));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(issues))
    }
}

fn respond(body: &SpecialPeriodBody, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(body.version)))
        .json(body)
}

/// Create a special period over a subtree
///
/// System administrators and unit admins whose scope holds `unit_id` (403
/// `forbidden` to callers holding neither role; 404 `not_found` for a node
/// unknown or outside their scope). A special period tightens the rules for
/// filers in the subtree under `unit_id` whose trip kind it lists (an empty
/// list: every kind) and whose trip days overlap `starts_on`..`ends_on`
/// (inclusive): their trips fall in the `special` period; the requirement is
/// raised, never lowered, to at least `min_requirement`; a destination listed
/// in `restricted_destinations` is refused (`blocked`: assessment error
/// `destination_blocked`) or needs approval (`approval`), a province
/// restricting its prefectures too; and when the period raises a trip to
/// approval and the matched rule names no approvers, `approvers` is the
/// chain.
///
/// `ends_on` is on or after `starts_on` and at most 366 days after it; at most
/// 10 approvers; destination codes must be known (422 `validation_failed`
/// otherwise). Answers 201 with the period and its `ETag`.
#[utoipa::path(post, path = "/api/v1/special-periods", operation_id = "createSpecialPeriod", tag = "special periods",
    request_body(content = SpecialPeriodInput, example = json!({
        "name": "2027年国庆节",
        "unit_id": "c15ed824-83c3-4b5f-8324-14c74a2d077f",
        "starts_on": "2027-10-01",
        "ends_on": "2027-10-07",
        "trip_kinds": ["leave_jurisdiction", "abroad_private", "hk_macau_private", "taiwan_private"],
        "min_requirement": "approval",
        "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}],
        "restricted_destinations": [{"code": "420000", "action": "approval"}, {"code": "TW", "action": "blocked"}]
    })),
    responses((status = 201, body = SpecialPeriodBody, description = "The new special period, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<SpecialPeriodInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    policy::require(&who, Action::ManageOrganisation)?;
    check(&input)?;
    let created = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::ManageOrganisation, input.unit_id)?;
            let id = Uuid::new_v4();
            store::save(conn, id, &input, 1)?;
            let period = store::load(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "special_period",
                Some(id),
                "create",
                crate::audit::state(&period),
            );
            Ok(period)
        })
        .await?;
    Ok(respond(&created, StatusCode::CREATED))
}

/// Read a special period
///
/// System administrators, unit admins and inspectors whose scope holds the
/// period's `unit_id` (403 `forbidden` to callers holding none of these
/// roles; 404 `not_found` for a period unknown or outside their scope).
/// Answers the period with its `ETag`.
#[utoipa::path(get, path = "/api/v1/special-periods/{id}", operation_id = "getSpecialPeriod", tag = "special periods", params(("id" = Uuid, Path)),
    responses((status = 200, body = SpecialPeriodBody, description = "The special period, with its `ETag`"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let period = state
        .db
        .run(move |conn| {
            policy::require(&who, Action::ReadOrganisation)?;
            let period = store::load(conn, id)?;
            policy::authorize(conn, &who, Action::ReadOrganisation, period.unit_id)?;
            Ok(period)
        })
        .await?;
    Ok(respond(&period, StatusCode::OK))
}

/// Change a special period
///
/// System administrators and unit admins whose scope holds the period's
/// `unit_id` (403 `forbidden` to callers holding neither role; 404
/// `not_found` for a period unknown or outside their scope). Fields left out
/// stay as they are, a list given replaces the whole list, and the subtree
/// (`unit_id`) cannot be changed. The result is checked as a new period is
/// (422 `validation_failed`). Filings already filed keep the assessment they
/// were filed under. Send the period's `ETag` in `If-Match` to change it only
/// if nobody changed it since (412 `precondition_failed`). Answers the period
/// with its new `ETag`.
#[utoipa::path(patch, path = "/api/v1/special-periods/{id}", operation_id = "updateSpecialPeriod", tag = "special periods", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = SpecialPeriodPatch, example = json!({
        "ends_on": "2027-10-08",
        "restricted_destinations": [{"code": "420000", "action": "blocked"}, {"code": "TW", "action": "blocked"}]
    })),
    responses((status = 200, body = SpecialPeriodBody, description = "The changed special period, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<SpecialPeriodPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let patch = body.0;
    let updated = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            policy::require(&who, Action::ManageOrganisation)?;
            let current = store::load(conn, id)?;
            policy::authorize(conn, &who, Action::ManageOrganisation, current.unit_id)?;
            if_match.check(current.version)?;
            let input = SpecialPeriodInput {
                name: patch.name.unwrap_or(current.name),
                unit_id: current.unit_id,
                starts_on: patch.starts_on.unwrap_or(current.starts_on),
                ends_on: patch.ends_on.unwrap_or(current.ends_on),
                trip_kinds: patch.trip_kinds.unwrap_or(current.trip_kinds),
                min_requirement: patch.min_requirement.unwrap_or(current.min_requirement),
                approvers: patch.approvers.unwrap_or(current.approvers),
                restricted_destinations: patch
                    .restricted_destinations
                    .unwrap_or(current.restricted_destinations),
            };
            check(&input)?;
            store::save(conn, id, &input, current.version + 1)?;
            let period = store::load(conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "special_period",
                Some(id),
                "update",
                crate::audit::state(&period),
            );
            Ok(period)
        })
        .await?;
    Ok(respond(&updated, StatusCode::OK))
}

/// Filters for the special period list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SpecialPeriodListParams {
    /// Only periods over this unit's subtree root or inside it.
    pub unit_id: Option<Uuid>,
    /// Only periods that include this day.
    pub active_on: Option<NaiveDate>,
}

crate::page_schema!(
/// A page of special periods.
    SpecialPeriodPage,
    SpecialPeriodBody,
    "Periods, in the order of their ids.",
    "Cursor of the next page."
);

/// List the special periods in the caller's scope
///
/// System administrators, unit admins and inspectors: the periods over nodes
/// in their scope (403 `forbidden` to callers holding none of these roles).
/// `unit_id` keeps the periods whose own `unit_id` is that node or lies below
/// it (404 `not_found` for a node unknown or outside the caller's scope); a
/// period over a node above it, which applies there too, is not listed.
/// `active_on` keeps the periods that include that day. One page per call, as
/// `{items, next_cursor}`: pass `next_cursor` back as `cursor` for the next
/// page.
#[utoipa::path(get, path = "/api/v1/special-periods", operation_id = "listSpecialPeriods", tag = "special periods", params(SpecialPeriodListParams, PageParams),
    responses((status = 200, body = SpecialPeriodPage, description = "A page of special periods"), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<SpecialPeriodListParams>,
    params: web::Query<PageParams>,
) -> Result<web::Json<SpecialPeriodPage>, ApiError> {
    policy::require(&who, Action::ReadOrganisation)?;
    crate::input::dates_in_range([("active_on", filter.active_on)])?;
    let limit = params.limit()?;
    let after = params.after()?;
    let page = state
        .db
        .run(move |conn| {
            let scope = match policy::scope(&who, Action::ReadOrganisation).roots() {
                Some(roots) => Within::Roots(roots),
                None => Within::All,
            };
            let asked = match filter.unit_id {
                Some(unit) => {
                    policy::authorize(conn, &who, Action::ReadOrganisation, unit)?;
                    Within::Subtree(unit)
                }
                None => Within::All,
            };
            let after = after
                .map(|after| {
                    after
                        .parse::<Uuid>()
                        .map_err(|_| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))
                })
                .transpose()?;
            let rows = store::page(conn, [&scope, &asked], filter.active_on, after, limit + 1)?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.id.to_string());
            Ok(SpecialPeriodPage {
                items: rows.into_iter().map(decode).collect::<Result<_, _>>()?,
                next_cursor,
            })
        })
        .await?;
    Ok(web::Json(page))
}
