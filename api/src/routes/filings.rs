//! Filings: a cadre files a trip (a draft, or submitted at once), the approvers
//! of its chain decide it step by step, the cadre reports departure and return
//! and asks for extensions. The server recomputes the assessment with the core
//! and stores it with the filing; the core's lifecycle decides every transition.
//!
//! Every transition runs in one transaction: the filing row is locked, `If-Match`
//! is checked, the core decides, and the new state, its event and its audit row
//! are written together.

use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, Authenticated, IfMatch, Json, Principal, RequestLang};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action as Access};
use crate::schema::{
    accounts, delegations, filing_events, filing_extensions, filing_steps, filings,
};
use crate::store::enums::parse_enum;
use crate::store::filings::{
    CreateFiling, DecidedEventData, EmptyEventData, ExtensionEventData, Filing, FilingEventAction,
    FilingEventData, TransitionEvent, acting_as, build, can_read, file, load_row, new_draft,
    notify_step, publish_transition, record, record_events, respond, state_of, submit_row,
    to_filing, to_filings, transition_error,
};
use crate::store::filings::{FilingRow, written_steps};
use crate::tx::Claim;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::lifecycle::{self, Action, Actor, Decision, Facts, FilingStatus};
use whereabouts_core::{IssueCode, Lang, assess};

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
            let filer = st.contexts.of(tx.conn, who.account_id)?;
            let assessment = assess(&filer.context.clone().input(&st, body.draft.clone(), lang.0));
            let mut new = new_draft(&st, &filer, &body.draft, &assessment)?;
            if body.submit {
                file(&st, &mut new, &body.draft, assessment)?;
            }
            let row = crate::store::filings::insert(tx.conn, &new)?;
            record_events(&mut tx.audit, &new);
            build(&st, row, written_steps(&new)?, Vec::new())
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

crate::page_schema!(
/// A page of filings.
    FilingPage,
    Filing,
    "Filings, newest first.",
    "Cursor of the next page."
);

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
    let st = state.clone();
    let page = state
        .db
        .run(move |conn| {
            let mut query = filings::table.select(FilingRow::as_select()).into_boxed();
            if mine {
                query = query.filter(filings::account_id.eq(who.account_id));
            } else if let Some(roots) = policy::scope(&who, Access::Supervise).roots() {
                query = query.filter(sql::<Bool>("unit_path && ").bind::<Array<SqlUuid>, _>(roots));
            }
            if let Some(status) = filter.status {
                query = query.filter(filings::status.eq(status.as_str()));
            }
            if let Some(after) = after {
                let (at, id) = after
                    .split_once('|')
                    .and_then(|(at, id)| {
                        Some((
                            DateTime::parse_from_rfc3339(at).ok()?.to_utc(),
                            id.parse::<Uuid>().ok()?,
                        ))
                    })
                    .ok_or_else(|| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))?;
                query = query.filter(
                    filings::created_at
                        .lt(at)
                        .or(filings::created_at.eq(at).and(filings::id.lt(id))),
                );
            }
            let rows: Vec<FilingRow> = query
                .order((filings::created_at.desc(), filings::id.desc()))
                .limit(limit + 1)
                .load(conn)?;
            let (rows, next_cursor) = paginate(rows, limit, |r| {
                format!(
                    "{}|{}",
                    r.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    r.id
                )
            });
            let items = to_filings(conn, &st, rows)?;
            Ok(FilingPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

/// One event of a filing's history.
#[derive(Debug, Serialize, Deserialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = filing_events)]
pub struct FilingEvent {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor_id: Uuid,
    /// The approver a delegate acted for.
    pub on_behalf_of: Option<Uuid>,
    /// What happened.
    #[schema(value_type = FilingEventAction)]
    pub action: String,
    /// Status before (none for `create`).
    #[schema(value_type = Option<FilingStatus>)]
    pub from_status: Option<String>,
    /// Status after.
    #[schema(value_type = FilingStatus)]
    pub to_status: String,
    /// Comment, if any.
    pub comment: Option<String>,
    /// Details, shaped by `action`.
    #[schema(value_type = FilingEventData)]
    pub data: serde_json::Value,
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
            let rows: Vec<FilingEvent> = filing_events::table
                .filter(filing_events::filing_id.eq(id))
                .order(filing_events::id)
                .select(FilingEvent::as_select())
                .load(conn)?;
            Ok(rows)
        })
        .await?;
    Ok(web::Json(events))
}

/// Who the caller is to a filing, and for whom they act.
fn actor_of(
    conn: &mut PgConnection,
    people: &[Uuid],
    who: &Principal,
    row: &FilingRow,
) -> Result<(Actor, Option<Uuid>), ApiError> {
    if row.account_id == who.account_id {
        return Ok((Actor::Filer, None));
    }
    let Some(step) = row.current_step else {
        return Ok((Actor::Other, None));
    };
    let candidates: Vec<Uuid> = filing_steps::table
        .find((row.id, row.current_round, step))
        .select(filing_steps::candidates)
        .first(conn)?;
    if candidates.contains(&who.account_id) {
        return Ok((Actor::CurrentApprover, None));
    }
    Ok(match candidates.iter().find(|c| people[1..].contains(c)) {
        Some(principal) => (Actor::CurrentApprover, Some(*principal)),
        None => (Actor::Other, None),
    })
}

/// Whether the caller (or someone they act for) already decided a step of the
/// filing's current round: a second decision of a race answers 409.
fn already_decided(
    conn: &mut PgConnection,
    people: &[Uuid],
    row: &FilingRow,
) -> Result<bool, ApiError> {
    Ok(diesel::select(diesel::dsl::exists(
        filing_steps::table
            .filter(filing_steps::filing_id.eq(row.id))
            .filter(filing_steps::round.eq(row.current_round))
            .filter(filing_steps::decision.is_not_null())
            .filter(sql::<Bool>("candidates && ").bind::<Array<SqlUuid>, _>(people.to_vec())),
    ))
    .get_result(conn)?)
}

/// A decision or a report with an optional comment.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Comment {
    /// Comment (required to reject), up to 500 characters.
    pub comment: Option<String>,
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

fn comment_of(text: Option<&str>) -> Result<Option<String>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > 500 => Err(ApiError::invalid(
            IssueCode::TooLong,
            "comment",
            json!({"max": 500}),
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// What a transition carries besides the action.
enum Payload {
    None,
    Comment(Option<String>),
    Extension(ExtensionRequest),
    Return(Option<String>),
}

/// Runs one transition: lock, check the version, ask the core, write state, event and audit.
/// What a transition route was asked: which filing, at which version, in
/// which language, to do what, with what.
struct Asked {
    id: Uuid,
    if_match: IfMatch,
    lang: Lang,
    action: Action,
    payload: Payload,
}

async fn transition(
    state: web::Data<AppState>,
    who: Principal,
    claim: Option<Claim>,
    asked: Asked,
) -> Result<HttpResponse, ApiError> {
    let Asked {
        id,
        if_match,
        lang,
        action,
        payload,
    } = asked;
    let st = state.clone();
    let filing = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let row = load_row(conn, id, true)?;
            let people = acting_as(conn, &st, &who)?;
            if !can_read(conn, &people, &who, &row)? {
                return Err(ApiError::NotFound);
            }
            if_match.check(row.version)?;
            let current = state_of(&row)?;
            let (actor, on_behalf_of) = actor_of(conn, &people, &who, &row)?;
            if matches!(action, Action::Approve | Action::Reject)
                && actor != Actor::CurrentApprover
                && already_decided(conn, &people, &row)?
            {
                return Err(ApiError::Conflict(ProblemCode::AlreadyDecided));
            }
            let comment = match &payload {
                Payload::Comment(c) => comment_of(c.as_deref())?,
                _ => None,
            };
            if action == Action::Submit {
                lifecycle::apply(
                    current,
                    action,
                    actor,
                    Facts {
                        requirement: None,
                        assessment_valid: true,
                        has_comment: false,
                        depart_on: None,
                        today: None,
                    },
                )
                .map_err(transition_error)?;
                return submit_row(conn, &mut tx.audit, &st, row, lang);
            }
            let now = st.config.now();
            let facts = Facts {
                requirement: row.requirement.as_deref().map(parse_enum).transpose()?,
                assessment_valid: true,
                has_comment: comment.is_some(),
                depart_on: row.depart_on,
                today: Some(now.with_timezone(&st.config.time_zone).date_naive()),
            };
            let next = lifecycle::apply(current, action, actor, facts).map_err(transition_error)?;
            let from = row.status.clone();
            let to = next.status.as_str();
            let mut return_on = row.return_on;
            let mut round = row.current_round;
            let mut approved_at = row.approved_at;
            let mut departed_at = row.departed_at;
            let mut returned_at = row.returned_at;
            let mut return_report = row.return_report.clone();
            let mut data = FilingEventData::Empty(EmptyEventData {});
            match (&action, &payload) {
                (Action::Approve | Action::Reject, _) => {
                    let step = row.current_step.ok_or_else(|| {
                        ApiError::broken("the current step of a filing awaiting a decision")
                    })?;
                    let decision = if action == Action::Approve {
                        "approved"
                    } else {
                        "rejected"
                    };
                    diesel::update(filing_steps::table.find((id, row.current_round, step)))
                        .set((
                            filing_steps::decision.eq(decision),
                            filing_steps::decided_by.eq(who.account_id),
                            filing_steps::decided_for.eq(on_behalf_of),
                            filing_steps::comment.eq(&comment),
                            filing_steps::decided_at.eq(now),
                        ))
                        .execute(conn)?;
                    data = FilingEventData::Decided(DecidedEventData {
                        round: row.current_round,
                        step,
                    });
                    let finished = next.current_step.is_none();
                    if row.current_round == 0 {
                        if action == Action::Approve && finished {
                            approved_at = Some(now);
                        }
                    } else if finished {
                        let outcome = if action == Action::Approve {
                            "approved"
                        } else {
                            "rejected"
                        };
                        let new_return: NaiveDate =
                            diesel::update(filing_extensions::table.find((id, row.current_round)))
                                .set((
                                    filing_extensions::status.eq(outcome),
                                    filing_extensions::decided_at.eq(now),
                                ))
                                .returning(filing_extensions::new_return_on)
                                .get_result(conn)?;
                        if action == Action::Approve {
                            return_on = Some(new_return);
                        }
                    }
                }
                (Action::Extend, Payload::Extension(request)) => {
                    let reason = request.reason.trim();
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
                    let previous = row
                        .return_on
                        .ok_or_else(|| ApiError::broken("the return day of an away filing"))?;
                    if request.new_return_on <= previous {
                        return Err(ApiError::invalid(
                            IssueCode::ReturnBeforeDeparture,
                            "new_return_on",
                            json!({"after": previous}),
                        ));
                    }
                    round = row.current_round + 1;
                    let needs_approval = next.extension_pending;
                    diesel::insert_into(filing_extensions::table)
                        .values((
                            filing_extensions::filing_id.eq(id),
                            filing_extensions::round.eq(round),
                            filing_extensions::new_return_on.eq(request.new_return_on),
                            filing_extensions::previous_return_on.eq(previous),
                            filing_extensions::reason.eq(reason),
                            filing_extensions::status.eq(if needs_approval {
                                "pending"
                            } else {
                                "recorded"
                            }),
                            filing_extensions::decided_at.eq(if needs_approval {
                                None
                            } else {
                                Some(now)
                            }),
                        ))
                        .execute(conn)?;
                    if needs_approval {
                        // The same chain as the filing decides its extension.
                        let original: Vec<(i32, serde_json::Value, Vec<Uuid>)> =
                            filing_steps::table
                                .filter(filing_steps::filing_id.eq(id))
                                .filter(filing_steps::round.eq(0))
                                .order(filing_steps::step)
                                .select((
                                    filing_steps::step,
                                    filing_steps::rule,
                                    filing_steps::candidates,
                                ))
                                .load(conn)?;
                        for (step, rule, candidates) in original {
                            diesel::insert_into(filing_steps::table)
                                .values((
                                    filing_steps::filing_id.eq(id),
                                    filing_steps::round.eq(round),
                                    filing_steps::step.eq(step),
                                    filing_steps::rule.eq(rule),
                                    filing_steps::candidates.eq(candidates),
                                ))
                                .execute(conn)?;
                        }
                    } else {
                        return_on = Some(request.new_return_on);
                    }
                    data = FilingEventData::Extension(ExtensionEventData {
                        round,
                        new_return_on: request.new_return_on,
                        reason: reason.to_owned(),
                    });
                }
                (Action::Depart, _) => departed_at = Some(now),
                (Action::Return, Payload::Return(report)) => {
                    let report = report.as_deref().map(str::trim).filter(|r| !r.is_empty());
                    if report.is_some_and(|r| r.chars().count() > 2000) {
                        return Err(ApiError::invalid(
                            IssueCode::TooLong,
                            "report",
                            json!({"max": 2000}),
                        ));
                    }
                    returned_at = Some(now);
                    return_report = report.map(str::to_owned);
                }
                _ => {}
            }
            diesel::update(filings::table.find(id))
                .set((
                    filings::status.eq(to),
                    filings::current_round.eq(round),
                    filings::current_step.eq(next.current_step.and_then(|s| i32::try_from(s).ok())),
                    filings::extension_pending.eq(next.extension_pending),
                    filings::return_on.eq(return_on),
                    filings::approved_at.eq(approved_at),
                    filings::departed_at.eq(departed_at),
                    filings::returned_at.eq(returned_at),
                    filings::return_report.eq(return_report),
                    filings::version.eq(row.version + 1),
                    filings::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
            let name = match action {
                Action::Submit => "submit",
                Action::Approve => "approve",
                Action::Reject => "reject",
                Action::Withdraw => "withdraw",
                Action::Cancel => "cancel",
                Action::Depart => "depart",
                Action::Return => "return",
                Action::Extend => "extend",
            };
            let next_step = next.current_step.and_then(|s| i32::try_from(s).ok());
            match action {
                Action::Approve | Action::Extend if next_step.is_some() => {
                    notify_step(conn, &st, id, round, next_step.unwrap_or(1))?;
                }
                Action::Approve | Action::Reject => {
                    let (kind, decision) = match (row.current_round, action) {
                        (0, Action::Approve) => {
                            (crate::notify::Kind::FilingDecided, Decision::Approved)
                        }
                        (0, _) => (crate::notify::Kind::FilingDecided, Decision::Rejected),
                        (_, Action::Approve) => {
                            (crate::notify::Kind::ExtensionDecided, Decision::Approved)
                        }
                        _ => (crate::notify::Kind::ExtensionDecided, Decision::Rejected),
                    };
                    crate::notify::notify(
                        conn,
                        &[row.account_id],
                        kind,
                        Some(id),
                        &crate::notify::NotificationData::Decided {
                            filing_id: id,
                            decision,
                            round: row.current_round,
                        },
                        None,
                    )?;
                }
                _ => {}
            }
            publish_transition(conn, id, row.account_id, name, to, round, next_step)?;
            record(
                conn,
                &mut tx.audit,
                TransitionEvent {
                    filing_id: id,
                    actor_id: who.account_id,
                    on_behalf_of,
                    action: action.into(),
                    from_status: Some(&from),
                    to_status: to,
                    comment: comment.as_deref(),
                    data,
                },
            )?;
            {
                let row = load_row(conn, id, false)?;
                to_filing(conn, &st, row)
            }
        })
        .await?;
    Ok(respond(&filing, StatusCode::OK))
}

fn optional_body<T: serde::de::DeserializeOwned + Default>(
    bytes: &web::Bytes,
) -> Result<T, ApiError> {
    if bytes.len() > crate::extract::MAX_JSON_BYTES {
        Err(ApiError::PayloadTooLarge)
    } else if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        crate::extract::parse_json(bytes)
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
            transition(state, who, claim, Asked { id: id.into_inner(), if_match, lang: lang.0, action: $action, payload: Payload::None }).await
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
    let report: ReturnReportInput = optional_body(&body)?;
    transition(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Return,
            payload: Payload::Return(report.report),
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
    crate::input::dates_in_range([("new_return_on", Some(body.0.new_return_on))])?;
    transition(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Extend,
            payload: Payload::Extension(body.0),
        },
    )
    .await
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
    let comment: Comment = optional_body(&body)?;
    transition(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Approve,
            payload: Payload::Comment(comment.comment),
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
    transition(
        state,
        who,
        claim,
        Asked {
            id: id.into_inner(),
            if_match,
            lang: lang.0,
            action: Action::Reject,
            payload: Payload::Comment(body.0.comment),
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
    // one connection checkout, and the page's query has one shape (a first
    // page reads after the nil id), so diesel prepares it once per connection.
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
            let rows: Vec<FilingRow> = filings::table
                .inner_join(
                    filing_steps::table.on(filing_steps::filing_id
                        .eq(filings::id)
                        .and(filing_steps::round.eq(filings::current_round))
                        .and(filing_steps::step.nullable().eq(filings::current_step))),
                )
                .filter(filing_steps::decision.is_null())
                .filter(filing_steps::candidates.overlaps_with(people))
                .filter(filings::account_id.ne(who.account_id))
                .filter(filings::id.gt(after.unwrap_or_default()))
                .select(FilingRow::as_select())
                .order(filings::id)
                .limit(limit + 1)
                .load(conn)?;
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
            let status: Option<String> = accounts::table.find(body.delegate_id).select(accounts::status).first(conn).optional()?;
            if status.as_deref() != Some("active") {
                return Err(ApiError::invalid(IssueCode::Invalid, "delegate_id", json!({"reason": "unknown_account"})));
            }
            policy::delegate_to(conn, &who, body.delegate_id)?;
            diesel::insert_into(delegations::table)
                .values((
                    delegations::account_id.eq(who.account_id),
                    delegations::delegate_id.eq(body.delegate_id),
                    delegations::starts_at.eq(body.starts_at),
                    delegations::ends_at.eq(body.ends_at),
                ))
                .on_conflict(delegations::account_id)
                .do_update()
                .set((delegations::delegate_id.eq(body.delegate_id), delegations::starts_at.eq(body.starts_at), delegations::ends_at.eq(body.ends_at)))
                .execute(conn)?;
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
            let removed = diesel::delete(delegations::table.find(who.account_id)).execute(conn)?;
            if removed > 0 {
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
