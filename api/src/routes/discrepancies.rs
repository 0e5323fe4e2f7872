//! Discrepancies a reconciliation found, and their self-examination: the
//! person concerned is notified and reads and explains their own
//! discrepancies (or an admin of their scope explains for them); inspectors
//! and admins confirm one (a violation) or clear it (the explanation
//! accepted). Each step is an event of the discrepancy's history.

use crate::access::{self, Access, Entry, Requester};
use crate::error::ApiError;
use crate::extract::{AppState, IfMatch, Json, Principal, etag};
use crate::page::PageParams;
use crate::policy::{self, Action};
use crate::store::Within;
use crate::store::discrepancies::{
    self, Decision, Discrepancy, DiscrepancyEventList, DiscrepancyPage, DiscrepancyStatus, Filter,
    Listed, events_of, load_for, one, page,
};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::IssueCode;
use whereabouts_core::reconcile::DiscrepancyKind;

/// Which discrepancies to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DiscrepancyParams {
    /// A subtree (default: the caller's whole scope).
    pub unit_id: Option<Uuid>,
    /// Only these.
    pub status: Option<DiscrepancyStatus>,
    /// Only this kind.
    pub kind: Option<DiscrepancyKind>,
    /// Overlapping days from.
    pub from: Option<NaiveDate>,
    /// Overlapping days to.
    pub to: Option<NaiveDate>,
}

/// List the discrepancies in the caller's scope
///
/// System administrators, unit admins and inspectors: the discrepancies about
/// people whose node lies in their scope (403 `forbidden` to callers holding
/// none of these roles); `unit_id` narrows it to a node's subtree (404
/// `not_found` for a node unknown or outside the caller's scope). Filters:
/// `status` (`open`, `explained`, `confirmed`, `cleared`), `kind`, and days
/// overlapping `from`..`to`. Each discrepancy lists the evidence behind it.
/// By first day;
/// one page per call, as `{items, next_cursor}`: pass `next_cursor` back as
/// `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/discrepancies", operation_id = "listDiscrepancies", tag = "supervision", params(DiscrepancyParams, PageParams),
    responses((status = 200, body = DiscrepancyPage, description = "A page of discrepancies, by first day"), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<DiscrepancyParams>,
    params: web::Query<PageParams>,
    requester: Requester,
) -> Result<web::Json<DiscrepancyPage>, ApiError> {
    policy::require(&who, Action::Supervise)?;
    let limit = params.limit()?;
    let after = params.after()?;
    let filter = filter.into_inner();
    crate::input::dates_in_range([("from", filter.from), ("to", filter.to)])?;
    let page = state
        .db
        .run(move |conn| {
            let within = match filter.unit_id {
                Some(unit) => {
                    policy::authorize(conn, &who, Action::Supervise, unit)?;
                    Within::Subtree(unit)
                }
                None => match policy::scope(&who, Action::Supervise).roots() {
                    Some(roots) => Within::Roots(roots),
                    None => Within::All,
                },
            };
            let kept = Filter {
                status: filter.status,
                kind: filter.kind,
                from: filter.from,
                to: filter.to,
            };
            let read = Entry::read(
                Access::Discrepancies,
                &who,
                Action::Supervise,
                filter.unit_id,
            );
            let page = page(conn, Listed::Within(within), kept, after, limit)?;
            access::record(conn, &requester, read.rows(page.items.len()))?;
            Ok(page)
        })
        .await?;
    Ok(web::Json(page))
}

/// Which of one's own discrepancies to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MyDiscrepancyParams {
    /// Only these.
    pub status: Option<DiscrepancyStatus>,
}

/// List the caller's own discrepancies (self-examination)
///
/// Any active account reads what reconciliations found about it, by first
/// day, optionally only those of one `status`. This is the first step of
/// self-examination (自查): the person sees each discrepancy with its
/// evidence and explains it with `explainDiscrepancy`; a reviewer then
/// confirms or clears it. A new discrepancy also arrives in the caller's
/// notifications as `discrepancy_opened`.
#[utoipa::path(get, path = "/api/v1/me/discrepancies", operation_id = "listMyDiscrepancies", tag = "supervision", params(MyDiscrepancyParams, PageParams),
    responses((status = 200, body = DiscrepancyPage, description = "A page of the caller's own discrepancies, by first day"), (status = 400, description = "An unknown `status`"), (status = 401), (status = 422)),
    security(("bearer" = [])))]
pub async fn mine(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<MyDiscrepancyParams>,
    params: web::Query<PageParams>,
) -> Result<web::Json<DiscrepancyPage>, ApiError> {
    let limit = params.limit()?;
    let after = params.after()?;
    let status = filter.into_inner().status;
    let page = state
        .db
        .run(move |conn| {
            let kept = Filter {
                status,
                ..Filter::default()
            };
            page(conn, Listed::Person(who.account_id), kept, after, limit)
        })
        .await?;
    Ok(web::Json(page))
}

/// Read one discrepancy with its evidence
///
/// Readable by the person concerned and by unit admins, inspectors and
/// system administrators whose scope holds the node it was found in; anyone
/// else gets 404 `not_found`. The answer's `ETag` (a quoted version such as
/// `"2"`) goes back in `If-Match` on `explainDiscrepancy`,
/// `confirmDiscrepancy` or `clearDiscrepancy`.
#[utoipa::path(get, path = "/api/v1/discrepancies/{id}", operation_id = "getDiscrepancy", tag = "supervision", params(("id" = Uuid, Path)),
    responses((status = 200, body = Discrepancy, description = "The discrepancy, with its evidence and status"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = state
        .db
        .run(move |conn| {
            let row = load_for(conn, &who, id, Action::ReadDiscrepancy, false)?;
            one(conn, row)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(found.version)))
        .json(found))
}

/// List a discrepancy's history, oldest first
///
/// Each step of self-examination as it happened: `opened` by the
/// reconciliation that found it, then `explained`, `confirmed` or `cleared`,
/// each with who acted, when, the status before and after, and the note.
/// The history is append-only. Readable by whoever may read the discrepancy
/// (`getDiscrepancy`); anyone else gets 404 `not_found`.
#[utoipa::path(get, path = "/api/v1/discrepancies/{id}/events", operation_id = "listDiscrepancyEvents", tag = "supervision", params(("id" = Uuid, Path)),
    responses((status = 200, body = DiscrepancyEventList, description = "The discrepancy's history, oldest first"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn events(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<DiscrepancyEventList>, ApiError> {
    let id = id.into_inner();
    let list = state
        .db
        .run(move |conn| {
            load_for(conn, &who, id, Action::ReadDiscrepancy, false)?;
            events_of(conn, id)
        })
        .await?;
    Ok(web::Json(list))
}

/// The explanation of a discrepancy, by the person concerned or an admin for them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Explanation {
    /// What happened, 1 to 2,000 characters.
    pub explanation: String,
}

/// A confirmation, with an optional note.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Confirmation {
    /// A note, up to 2,000 characters.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A clearance: the explanation is accepted, with an optional note.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Clearance {
    /// A note, up to 2,000 characters.
    #[serde(default)]
    pub comment: Option<String>,
}

enum Answer {
    Explain(String),
    Confirm(Option<String>),
    Clear(Option<String>),
}

async fn answer(
    state: web::Data<AppState>,
    who: Principal,
    id: Uuid,
    if_match: IfMatch,
    answer: Answer,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let now = state.config.now();
    let (decision, field, text) = match answer {
        Answer::Explain(t) => (Decision::Explain, "explanation", Some(t)),
        Answer::Confirm(c) => (Decision::Confirm, "comment", c),
        Answer::Clear(c) => (Decision::Clear, "comment", c),
    };
    let note = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if decision == Decision::Explain && note.is_none() {
        return Err(ApiError::invalid(IssueCode::Required, field, json!({})));
    }
    if note.as_ref().is_some_and(|t| t.chars().count() > 2000) {
        return Err(ApiError::invalid(
            IssueCode::TooLong,
            field,
            json!({"max": 2000}),
        ));
    }
    let updated = state
        .db
        .transaction(claim, move |tx| {
            discrepancies::answer(tx, &who, id, &if_match, decision, note, now)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(updated.version)))
        .json(updated))
}

/// Explain a discrepancy: the person concerned, or an admin for them
///
/// The person the discrepancy is about, and system administrators and unit
/// admins whose scope holds the node it was found in. Inspectors who can read
/// it get 403 `forbidden`; anyone else 404 `not_found`. Records the
/// `explanation` (1 to 2,000 characters) with who gave it and when: an
/// `open` or already `explained` discrepancy becomes `explained`, a later
/// explanation replacing the earlier one, and a reviewer then confirms or
/// clears it. A `confirmed` or `cleared` discrepancy is final: 409
/// `invalid_transition`. Send the discrepancy's `ETag` in `If-Match` to
/// answer only the version shown (412 `precondition_failed`). Answers the
/// discrepancy with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/discrepancies/{id}/explain", operation_id = "explainDiscrepancy", tag = "supervision", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Explanation, example = json!({"explanation": "5月2日随区教育局赴上海参加教研活动，属公务出差，出差审批单已存档。"})),
    responses((status = 200, body = Discrepancy, description = "The discrepancy, now `explained`, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn explain(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<Explanation>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    answer(
        state,
        who,
        id.into_inner(),
        if_match,
        Answer::Explain(body.0.explanation),
        claim,
    )
    .await
}

/// Confirm a discrepancy as a violation
///
/// Inspectors, unit admins and system administrators whose scope holds the
/// node the discrepancy was found in (404 `not_found` to anyone else), never
/// the person concerned (403 `self_change_forbidden`, even holding one of
/// those roles). Confirms that the person did what the discrepancy says (for
/// example left without reporting): an `open` or `explained` discrepancy
/// becomes `confirmed`, which is final (409 `invalid_transition` from
/// `confirmed` or `cleared`). An optional `comment` of up to 2,000
/// characters is kept in the discrepancy's history (`listDiscrepancyEvents`).
/// Send the discrepancy's `ETag` in `If-Match` (412 `precondition_failed`).
/// Answers the discrepancy with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/discrepancies/{id}/confirm", operation_id = "confirmDiscrepancy", tag = "supervision", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Confirmation, example = json!({"comment": "经核实，本人未履行离京报备手续，按程序处理。"})),
    responses((status = 200, body = Discrepancy, description = "The discrepancy, now `confirmed`, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn confirm(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<Confirmation>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    answer(
        state,
        who,
        id.into_inner(),
        if_match,
        Answer::Confirm(body.0.comment),
        claim,
    )
    .await
}

/// Clear an explained discrepancy: the explanation is accepted
///
/// For inspectors, unit admins and system administrators whose scope holds
/// the discrepancy, never the person concerned (403 `self_change_forbidden`,
/// even holding a reviewer role). Only an `explained` discrepancy can be
/// cleared (409 `invalid_transition` otherwise), and `cleared` is final. A
/// stale `If-Match` answers 412 `precondition_failed`. A cleared discrepancy
/// no longer counts against its unit in campaign reports.
#[utoipa::path(post, path = "/api/v1/discrepancies/{id}/clear", operation_id = "clearDiscrepancy", tag = "supervision", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Clearance, example = json!({"comment": "核实为探亲，已补报，说明属实"})),
    responses((status = 200, body = Discrepancy, description = "The discrepancy, now `cleared`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn clear(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<Clearance>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    answer(
        state,
        who,
        id.into_inner(),
        if_match,
        Answer::Clear(body.0.comment),
        claim,
    )
    .await
}
