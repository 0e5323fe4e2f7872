//! Filings: a cadre files a trip (a draft, or submitted at once), reports
//! departure and return, and asks for extensions. The server recomputes the
//! assessment with the core and stores it with the filing; the core's
//! lifecycle decides every transition (see `store::transitions`), and the
//! decisions of a filing's chain are in `approvals`.

use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, IfMatch, Json, Principal, RequestLang, optional_json};
use crate::page::{PageParams, paginate, parse_time_key, time_key};
use crate::policy::{self, Action as Access};
use crate::store::filings::{
    CreateFiling, Created, Filing, FilingEvent, FilingPage, Listed, acting_as, build, can_read,
    events_of, load_row, respond, to_filing, to_filings,
};
use crate::store::transitions::{self, Asked, Payload};
use crate::tx::Claim;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::IssueCode;
use whereabouts_core::lifecycle::{Action, FilingStatus};

/// File a trip, or keep it as a draft
///
/// Any signed-in account that belongs to a unit, for itself (409
/// `account_has_no_unit` otherwise). The server assesses the draft as
/// `assessTrip` does and stores the filing with that assessment. With
/// `submit: false` (the default) the filing stays a `draft`, to be completed
/// and filed later with `submitFiling`. With `submit: true` it is filed at
/// once: a trip that needs approval becomes `pending` at step 1 of its
/// approver chain, and that step's approvers are notified; any other becomes
/// `recorded`. A draft the assessment finds errors in cannot be filed: 422
/// `validation_failed` with the assessment's `errors` (for example
/// `late_reason_required` for a trip already begun without a `late_reason`),
/// and nothing is stored.
///
/// Send an `Idempotency-Key` (a UUID made once per intended filing): a retry
/// with the same key and body answers the first result again instead of
/// filing twice. Answers 201 with the filing and its `ETag`, the quoted
/// version to send back unchanged in `If-Match` with the next action on it.
#[utoipa::path(post, path = "/api/v1/filings", operation_id = "createFiling", tag = "filings",
    request_body(content = CreateFiling, example = json!({
        "draft": {
            "kind": "leave_jurisdiction",
            "purpose": "visit_relatives",
            "reason": "五一假期回上海探望父母",
            "destinations": [{"code": "310000"}],
            "depart_on": "2027-04-30",
            "return_on": "2027-05-05",
            "contact_phone": "13800138000",
            "substitute_id": "3b8be978-f03b-45d4-afd9-e713dc655320",
            "companions": "配偶"
        },
        "submit": true
    })),
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Filing, description = "The new filing (a draft, or filed), with its `ETag`"), (status = 400), (status = 401), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    body: Json<CreateFiling>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    crate::input::dates_in_range([
        ("draft.depart_on", body.draft.depart_on),
        ("draft.return_on", body.draft.return_on),
    ])?;
    let st = state.clone();
    let filing = state
        .db
        .transaction(claim, move |tx| {
            if who.unit_id.is_none() {
                return Err(ApiError::Conflict(ProblemCode::AccountHasNoUnit));
            }
            let created = Created {
                id: Uuid::new_v4(),
                account_id: who.account_id,
                draft: &body.draft,
                submit: body.submit,
                lang: lang.0,
            };
            let (row, steps) = crate::store::filings::create(tx, &st, created)?;
            build(&st, row, steps, Vec::new())
        })
        .await?;
    Ok(respond(&filing, StatusCode::CREATED))
}

/// Read a filing
///
/// Readable by its filer; by the approvers of its chain and their active
/// delegates; by its recipients (an account it is filed with, and for a unit
/// it is filed with, the members of that node and the system administrators
/// and unit admins whose scope holds it); and by system administrators, unit
/// admins and inspectors whose scope holds the filer's node. Anyone else gets
/// 404 `not_found`. Answers the filing with its approval steps, extensions,
/// stored assessment and derived flags (`late`, `overdue`,
/// `departed_before_approval`), and its `ETag` to send in `If-Match` with the
/// next action.
#[utoipa::path(get, path = "/api/v1/filings/{id}", operation_id = "getFiling", tag = "filings", params(("id" = Uuid, Path)),
    responses((status = 200, body = Filing, description = "The filing, with its `ETag`"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let st = state.clone();
    let filing = state
        .db
        .run(move |conn| {
            let row = load_row(conn, id, false)?;
            let people = acting_as(conn, &st, &who)?;
            if !can_read(conn, &people, &who, &row)? {
                return Err(ApiError::NotFound);
            }
            to_filing(conn, &st, row)
        })
        .await?;
    Ok(respond(&filing, StatusCode::OK))
}

/// Filters for the filing list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FilingListParams {
    /// `true` (the default): the caller's own filings; `false`: the filings of
    /// the units the caller administers or inspects.
    pub mine: Option<bool>,
    /// Only filings in this status.
    pub status: Option<FilingStatus>,
}

/// List filings: the caller's own, or those of the caller's scope
///
/// Any signed-in account. With `mine=true` (the default) the caller's own
/// filings; with `mine=false` the filings of every node in the caller's
/// scope, for system administrators, unit admins and inspectors (403
/// `forbidden` to others). `status` keeps one status. Newest first; one page
/// per call, as `{items, next_cursor}`: pass `next_cursor` back as `cursor`
/// for the next page.
#[utoipa::path(get, path = "/api/v1/filings", operation_id = "listFilings", tag = "filings", params(FilingListParams, PageParams),
    responses((status = 200, body = FilingPage, description = "A page of filings, newest first"), (status = 401), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<FilingListParams>,
    params: web::Query<PageParams>,
) -> Result<web::Json<FilingPage>, ApiError> {
    let limit = params.limit()?;
    let after = params.after()?;
    let mine = filter.mine.unwrap_or(true);
    if !mine {
        policy::require(&who, Access::Supervise)?;
    }
    let after = after.as_deref().map(parse_time_key).transpose()?;
    let listed = if mine {
        Listed::Filer(who.account_id)
    } else {
        match policy::scope(&who, Access::Supervise).roots() {
            Some(roots) => Listed::Roots(roots),
            None => Listed::All,
        }
    };
    let st = state.clone();
    let page = state
        .db
        .run(move |conn| {
            let rows = crate::store::filings::list(conn, listed, filter.status, after, limit + 1)?;
            let (rows, next_cursor) = paginate(rows, limit, |r| time_key(r.created_at, r.id));
            let items = to_filings(conn, &st, rows)?;
            Ok(FilingPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

/// Read the history of a filing
///
/// The readers of the filing, as for `getFiling` (404 `not_found` to anyone
/// else). Answers every event, oldest first: who acted (and for whom, when a
/// delegate decided), the action, the status before and after, the comment,
/// and data shaped by the action. A filing is never edited in place, so its
/// events are its whole story. Not paged.
#[utoipa::path(get, path = "/api/v1/filings/{id}/events", operation_id = "listFilingEvents", tag = "filings", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<FilingEvent>, description = "The filing's events, oldest first"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn events(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<Vec<FilingEvent>>, ApiError> {
    let id = id.into_inner();
    let st = state.clone();
    let events = state
        .db
        .run(move |conn| {
            let row = load_row(conn, id, false)?;
            let people = acting_as(conn, &st, &who)?;
            if !can_read(conn, &people, &who, &row)? {
                return Err(ApiError::NotFound);
            }
            events_of(conn, id)
        })
        .await?;
    Ok(web::Json(events))
}

/// An extension request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ExtensionRequest {
    /// The new return date, after the current one.
    pub new_return_on: NaiveDate,
    /// Why, 1 to 500 characters.
    pub reason: String,
}

/// The return report.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReturnReportInput {
    /// What the cadre reports on return, up to 2000 characters.
    pub report: Option<String>,
}

impl ExtensionRequest {
    /// The reason, trimmed: required, at most 500 characters.
    fn checked_reason(&self) -> Result<String, ApiError> {
        let reason = self.reason.trim();
        if reason.is_empty() {
            return Err(ApiError::invalid(IssueCode::Required, "reason", json!({})));
        }
        if reason.chars().count() > 500 {
            return Err(ApiError::invalid(
                IssueCode::TooLong,
                "reason",
                json!({"max": 500}),
            ));
        }
        Ok(reason.to_owned())
    }
}

impl ReturnReportInput {
    /// The report, trimmed (none when blank): at most 2,000 characters.
    fn checked(self) -> Result<Option<String>, ApiError> {
        let report = self
            .report
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if report.is_some_and(|r| r.chars().count() > 2000) {
            return Err(ApiError::invalid(
                IssueCode::TooLong,
                "report",
                json!({"max": 2000}),
            ));
        }
        Ok(report.map(str::to_owned))
    }
}

macro_rules! simple_transition {
    ($name:ident, $operation_id:literal, $path:literal, $action:expr, $summary:literal, $description:literal, $answer:literal) => {
        #[doc = $summary]
        #[doc = ""]
        #[doc = $description]
        #[utoipa::path(post, path = $path, operation_id = $operation_id, tag = "filings",
            params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
            responses((status = 200, body = Filing, description = $answer), (status = 401), (status = 403, description = "Not the filer"), (status = 404), (status = 409, description = "Not possible from the current status"), (status = 412), (status = 422)),
            security(("bearer" = [])))]
        pub async fn $name(state: web::Data<AppState>, who: Principal, id: web::Path<Uuid>, if_match: IfMatch, lang: RequestLang, claim: Option<Claim>) -> Result<HttpResponse, ApiError> {
            transitions::run(state, who, claim, Asked { id: id.into_inner(), if_match, lang: lang.0, action: $action, payload: Payload::None }).await
        }
    };
}

simple_transition!(
    submit,
    "submitFiling",
    "/api/v1/filings/{id}/submit",
    Action::Submit,
    "File a draft",
    "The filer only: other readers of the filing get 403 `forbidden`, anyone else 404 `not_found`. Files a `draft`: the server assesses it again now and stores that assessment, and the filing becomes `pending` at step 1 of its approver chain (that step's approvers are notified) or, when no approval is needed, `recorded`. A draft the assessment finds errors in answers 422 `validation_failed` with the assessment's `errors` and stays a draft; a filing that is not a draft answers 409 `invalid_transition`. Send the filing's `ETag` in `If-Match` to act only on the version the client shows (412 `precondition_failed`); an `Idempotency-Key` makes a retry safe. Answers the filing with its new `ETag`.",
    "The filed filing (`pending` or `recorded`), with its new `ETag`"
);
simple_transition!(
    withdraw,
    "withdrawFiling",
    "/api/v1/filings/{id}/withdraw",
    Action::Withdraw,
    "Withdraw a pending filing",
    "The filer only: other readers of the filing get 403 `forbidden`, anyone else 404 `not_found`. Takes back a `pending` filing before its chain has decided it: it becomes `withdrawn` and is out of its approvers' inboxes. Any other status answers 409 `invalid_transition`. Send the filing's `ETag` in `If-Match` to act only on the version the client shows (412 `precondition_failed`); an `Idempotency-Key` makes a retry safe. Answers the filing with its new `ETag`.",
    "The withdrawn filing, with its new `ETag`"
);
simple_transition!(
    cancel,
    "cancelFiling",
    "/api/v1/filings/{id}/cancel",
    Action::Cancel,
    "Call off an approved or recorded trip before departure",
    "The filer only: other readers of the filing get 403 `forbidden`, anyone else 404 `not_found`. An `approved` or `recorded` filing whose departure has not been reported becomes `cancelled`. Any other status answers 409 `invalid_transition`: a pending filing is withdrawn instead, and a trip under way ends with `reportReturn`. Send the filing's `ETag` in `If-Match` to act only on the version the client shows (412 `precondition_failed`); an `Idempotency-Key` makes a retry safe. Answers the filing with its new `ETag`.",
    "The cancelled filing, with its new `ETag`"
);
simple_transition!(
    depart,
    "reportDeparture",
    "/api/v1/filings/{id}/depart",
    Action::Depart,
    "Report departure on an approved or recorded trip",
    "The filer only: other readers of the filing get 403 `forbidden`, anyone else 404 `not_found`. An `approved` or `recorded` filing becomes `away`, with `departed_at` set to now. Departure can be reported from the day before `depart_on` (a local date) on: earlier answers 422 `departure_before_planned` (an issue on `depart_on` with params `depart_on` and `earliest`), because a trip that really leaves earlier is a different trip: cancel this one and file the real dates. A filing still awaiting approval, or in any status but those two, answers 409 `invalid_transition`. Send the filing's `ETag` in `If-Match` to act only on the version the client shows (412 `precondition_failed`); an `Idempotency-Key` makes a retry safe. Answers the filing with its new `ETag`.",
    "The filing, now `away`, with its new `ETag`"
);

/// Report return from a trip, with an optional return report
///
/// The filer only: other readers of the filing get 403 `forbidden`, anyone
/// else 404 `not_found`. An `away` filing becomes `returned`, with
/// `returned_at` set to now and the `report` text, when given, as its return
/// report (up to 2,000 characters; 422 `validation_failed` beyond). The body
/// is optional: send none, `{}` or `{"report": "..."}`. Any status but `away`
/// answers 409 `invalid_transition`. Send the filing's `ETag` in `If-Match`
/// (412 `precondition_failed`); an `Idempotency-Key` makes a retry safe.
/// Answers the filing with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/filings/{id}/return", operation_id = "reportReturn", tag = "filings",
    request_body(content = Option<ReturnReportInput>, example = json!({"report": "已于5月5日返京，行程与申报一致，已到岗。"})),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Filing, description = "The filing, now `returned`, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn return_(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    lang: RequestLang,
    body: web::Bytes,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let report = optional_json::<ReturnReportInput>(&body)?.checked()?;
    transitions::run(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Return,
            payload: Payload::Return(report),
        },
    )
    .await
}

/// Ask for a later return date while away
///
/// The filer only: other readers of the filing get 403 `forbidden`, anyone
/// else 404 `not_found`. On an `away` filing with no extension pending:
/// `new_return_on` must be after the current `return_on` (422
/// `validation_failed`, issue `return_before_departure`) and `reason` 1 to
/// 500 characters. When the filing has an approver chain, the same chain
/// decides the extension step by step: `extension_pending` becomes true, the
/// first step's approvers are notified, and `return_on` moves only when the
/// last step approves. Otherwise the extension is recorded and `return_on`
/// moves at once. A filing that is not `away`, or already has an extension
/// pending, answers 409 `invalid_transition`. Send the filing's `ETag` in
/// `If-Match` (412 `precondition_failed`); an `Idempotency-Key` makes a retry
/// safe. Answers the filing with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/filings/{id}/extensions", operation_id = "requestExtension", tag = "filings",
    request_body(content = ExtensionRequest, example = json!({"new_return_on": "2027-05-08", "reason": "母亲住院，需延长陪护三天"})),
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Filing, description = "The filing with the extension recorded or pending, and its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 412), (status = 422)),
    security(("bearer" = [])))]
pub async fn extend(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    lang: RequestLang,
    body: Json<ExtensionRequest>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    crate::input::dates_in_range([("new_return_on", Some(body.new_return_on))])?;
    let reason = body.checked_reason()?;
    transitions::run(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Extend,
            payload: Payload::Extension {
                new_return_on: body.new_return_on,
                reason,
            },
        },
    )
    .await
}
