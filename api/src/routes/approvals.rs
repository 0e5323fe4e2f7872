//! Approvals: the approvers of a filing's chain decide it step by step (the
//! core's lifecycle decides what a decision does, see `store::transitions`),
//! find what awaits them in their inbox, and delegate their decisions for a
//! while.

use crate::error::ApiError;
use crate::extract::{
    AppState, Authenticated, IfMatch, Json, Principal, RequestLang, optional_json,
};
use crate::page::{PageParams, paginate};
use crate::policy;
use crate::store::approvals::{awaiting, end_delegation, is_active, set_delegation};
use crate::store::filings::{Filing, FilingPage, acting_as, to_filings};
use crate::store::transitions::{self, Asked, Payload};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::IssueCode;
use whereabouts_core::lifecycle::Action;

/// A decision or a report with an optional comment.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Comment {
    /// Comment (required to reject), up to 500 characters.
    pub comment: Option<String>,
}

impl Comment {
    /// The comment, trimmed (none when blank): at most 500 characters.
    fn checked(self) -> Result<Option<String>, ApiError> {
        match self
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) if t.chars().count() > 500 => Err(ApiError::invalid(
                IssueCode::TooLong,
                "comment",
                json!({"max": 500}),
            )),
            other => Ok(other.map(str::to_owned)),
        }
    }
}

/// Approve the current step of a filing or of its extension
///
/// The approvers the current step names, or an active delegate of one of
/// them; the filer never decides their own filing. Other readers of the
/// filing get 403 `forbidden`, anyone else 404 `not_found`. Approving a step
/// passes the filing to the next step, whose approvers are notified; approving
/// the last step makes a `pending` filing `approved`, or, for an extension,
/// moves `return_on` to the date asked for, and the filer is notified. The
/// body is optional: a `comment` of up to 500 characters.
///
/// 409 `already_decided` when the caller (or the approver they stand in for)
/// already decided a step of this round, for example on a second tap after a
/// timeout; 409 `invalid_transition` when nothing awaits a decision. Send the
/// filing's `ETag` in `If-Match` to decide only the version shown (412
/// `precondition_failed`); an `Idempotency-Key` makes a retry safe. Answers
/// the filing with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/filings/{id}/approve", operation_id = "approveFiling", tag = "approvals",
    request_body(content = Option<Comment>, example = json!({"comment": "同意。请按时返京并报告。"})),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Filing, description = "The filing after the approval, with its new `ETag`"), (status = 400), (status = 401), (status = 403, description = "Not the current approver"), (status = 404), (status = 409, description = "Already decided, or nothing to decide"), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    lang: RequestLang,
    body: web::Bytes,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let comment = optional_json::<Comment>(&body)?.checked()?;
    transitions::run(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Approve,
            payload: Payload::Comment(comment),
        },
    )
    .await
}

/// Reject the current step of a filing or of its extension
///
/// Who may: as for `approveFiling`, the approvers the current step names or
/// an active delegate of one of them (403 `forbidden` to other readers, 404
/// `not_found` to anyone else). A `comment` saying why is required, up to
/// 500 characters (422 `validation_failed` on `comment` when it is missing
/// or blank). Rejecting a step of a filing makes it `rejected`; rejecting a
/// step of an extension keeps the filing `away` with its old return date.
/// The filer is notified either way. 409 `already_decided` or
/// `invalid_transition` as for `approveFiling`. Send the filing's `ETag` in
/// `If-Match` (412 `precondition_failed`); an `Idempotency-Key` makes a retry
/// safe. Answers the filing with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/filings/{id}/reject", operation_id = "rejectFiling", tag = "approvals",
    request_body(content = Comment, example = json!({"comment": "国庆节期间需在岗值班，请调整出行时间。"})),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Filing, description = "The filing after the rejection, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn reject(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    lang: RequestLang,
    body: Json<Comment>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let comment = body.0.checked()?;
    transitions::run(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Reject,
            payload: Payload::Comment(comment),
        },
    )
    .await
}

/// List the filings awaiting the caller's decision
///
/// Any signed-in account. Answers the filings (and extensions) whose current
/// step names the caller as an approver, or names someone whose delegation to
/// the caller is active now; the caller's own filings are never listed. Each
/// item is the whole filing: decide it with `approveFiling` or
/// `rejectFiling`. One page per call, as `{items, next_cursor}`, in the order
/// of the filings' ids (not by date): pass `next_cursor` back as `cursor` for
/// the next page.
#[utoipa::path(get, path = "/api/v1/approvals/pending", operation_id = "listPendingApprovals", tag = "approvals", params(PageParams),
    responses((status = 200, body = FilingPage, description = "A page of filings awaiting the caller's decision"), (status = 401), (status = 422)),
    security(("bearer" = [])))]
pub async fn pending(
    state: web::Data<AppState>,
    caller: Authenticated,
    params: web::Query<PageParams>,
) -> Result<web::Json<FilingPage>, ApiError> {
    let st = state.clone();
    // The inbox is read often: the caller, the page and its steps come over
    // one connection checkout (the page's query is prepared once per
    // connection, see `awaiting`).
    let page = state
        .db
        .run(move |conn| {
            let who = caller.load(conn)?;
            let limit = params.limit()?;
            let after = params
                .after()?
                .map(|after| after.parse::<Uuid>())
                .transpose()
                .map_err(|_| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))?;
            let people = acting_as(conn, &st, &who)?;
            let rows = awaiting(conn, people, after, limit + 1)?;
            let (rows, next_cursor) = paginate(rows, limit, |r| r.id.to_string());
            let items = to_filings(conn, &st, rows)?;
            Ok(FilingPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

/// A delegation of the caller's approvals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Delegation {
    /// Who decides for the caller.
    pub delegate_id: Uuid,
    /// From.
    pub starts_at: DateTime<Utc>,
    /// Until.
    pub ends_at: DateTime<Utc>,
}

/// Delegate the caller's approvals for a window
///
/// Any signed-in account, for itself. From `starts_at` until `ends_at` the
/// delegate may decide every step that awaits the caller and finds those
/// filings in `listPendingApprovals`; each decision records whom the delegate
/// acted for. The delegate must be an active account other than the caller
/// (422 `validation_failed` on `delegate_id` otherwise) and belong to the
/// caller's unit (the nearest node of kind `unit` at or above the caller's
/// node, and everything below it) or to a node above it: 422
/// `delegate_out_of_unit` otherwise. `ends_at` must be after `starts_at`.
/// Replaces any earlier delegation of the caller. Answers the delegation now
/// in force.
#[utoipa::path(put, path = "/api/v1/me/delegation", operation_id = "setDelegation", tag = "approvals",
    request_body(content = Delegation, example = json!({
        "delegate_id": "358a9234-4ea7-467c-9111-e770ccaa06e2",
        "starts_at": "2027-04-30T00:00:00+08:00",
        "ends_at": "2027-05-06T00:00:00+08:00"
    })),
    responses((status = 200, body = Delegation, description = "The caller's delegation now in force"), (status = 400), (status = 401), (status = 422, description = "Invalid, or `delegate_out_of_unit`: the delegate is neither in the caller's unit nor above it")),
    security(("bearer" = [])))]
pub async fn put_delegation(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<Delegation>,
) -> Result<web::Json<Delegation>, ApiError> {
    let body = body.0;
    crate::input::dates_in_range([
        ("starts_at", Some(body.starts_at.date_naive())),
        ("ends_at", Some(body.ends_at.date_naive())),
    ])?;
    if body.ends_at <= body.starts_at {
        return Err(ApiError::invalid(
            IssueCode::ReturnBeforeDeparture,
            "ends_at",
            json!({}),
        ));
    }
    if body.delegate_id == who.account_id {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "delegate_id",
            json!({"reason": "self"}),
        ));
    }
    let saved = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            if !is_active(conn, body.delegate_id)? {
                return Err(ApiError::invalid(IssueCode::Invalid, "delegate_id", json!({"reason": "unknown_account"})));
            }
            policy::delegate_to(conn, &who, body.delegate_id)?;
            set_delegation(conn, who.account_id, body.delegate_id, body.starts_at, body.ends_at)?;
            tx.audit.record(Some(who.account_id), "delegation", Some(who.account_id), "set", json!({"delegate_id": body.delegate_id, "starts_at": body.starts_at, "ends_at": body.ends_at}));
            Ok(body)
        })
        .await?;
    Ok(web::Json(saved))
}

/// End the caller's delegation
///
/// Any signed-in account, for itself. Removes the caller's delegation at
/// once: the delegate no longer decides for the caller. Answers 204 also when
/// there was none.
#[utoipa::path(delete, path = "/api/v1/me/delegation", operation_id = "endDelegation", tag = "approvals",
    responses((status = 204, description = "The caller has no delegation any more; no body"), (status = 401)),
    security(("bearer" = [])))]
pub async fn delete_delegation(
    state: web::Data<AppState>,
    who: Principal,
) -> Result<HttpResponse, ApiError> {
    state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            if end_delegation(conn, who.account_id)? {
                tx.audit.record(
                    Some(who.account_id),
                    "delegation",
                    Some(who.account_id),
                    "end",
                    json!({}),
                );
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
