//! Filings as stored and answered: their rows and the `Filing` built from
//! them, who may read one, their events, notifications and webhook events,
//! and filing itself: a new filing or a stored draft written with all that
//! comes with it in one statement.

use crate::audit::Entries;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, Principal, etag};
use crate::policy::{self, Action as Access};
use crate::schema::{delegations, filing_events, filing_extensions, filing_steps, filings};
use crate::store::context::Filer;
use crate::store::enums::parse_enum;
use crate::stored::RawJson;
use crate::tx::Tx;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{
    Array, Bool, Date, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::flags::{DerivedFlags, FlagFacts, derive};
use whereabouts_core::lifecycle::{
    self, Action, Actor, Decision, Facts, FilingState, FilingStatus, TransitionError,
};
use whereabouts_core::{
    ApproverRule, Assessment, FiledWith, IssueCode, Lang, Requirement, TripDraft, TripKind, assess,
};

/// A filing row.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = filings)]
pub struct FilingRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub unit_id: Uuid,
    pub unit_path: Vec<Uuid>,
    pub status: String,
    pub kind: Option<String>,
    pub depart_on: Option<NaiveDate>,
    pub return_on: Option<NaiveDate>,
    pub draft: RawJson,
    pub assessment: Option<RawJson>,
    pub requirement: Option<String>,
    pub policy_unit_id: Option<Uuid>,
    pub policy_version: Option<i32>,
    pub current_round: i32,
    pub current_step: Option<i32>,
    pub steps: i32,
    pub extension_pending: bool,
    pub submit_by: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub departed_at: Option<DateTime<Utc>>,
    pub returned_at: Option<DateTime<Utc>>,
    pub return_report: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = filing_steps)]
pub struct StepRow {
    pub round: i32,
    pub step: i32,
    pub rule: RawJson,
    pub candidates: Vec<Uuid>,
    pub decision: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_for: Option<Uuid>,
    pub comment: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// An approval step of a new filing.
#[derive(Debug, Serialize)]
pub struct NewStep {
    /// From 1.
    pub step: i32,
    /// The rule that named its approvers.
    pub rule: Value,
    /// Who may decide it.
    pub candidates: Vec<Uuid>,
}

/// An event of a new filing.
#[derive(Debug, Serialize)]
pub struct NewEvent {
    /// What happened.
    pub action: &'static str,
    /// The status before.
    pub from_status: Option<&'static str>,
    /// The status after.
    pub to_status: String,
    /// What the event carries.
    pub data: Value,
}

/// A notification of a new filing to some accounts and their active delegates.
#[derive(Debug)]
pub struct NewNotice {
    /// The notification's kind.
    pub kind: &'static str,
    /// Its details.
    pub data: Value,
    /// Whom it tells; their active delegates are told too.
    pub accounts: Vec<Uuid>,
}

/// A webhook event about a new filing.
#[derive(Debug)]
pub struct NewPublication {
    /// The event's name.
    pub event: String,
    /// Its payload.
    pub payload: Value,
}

/// A new filing as it is written: its row's values and what comes with it.
#[derive(Debug)]
pub struct NewFiling {
    pub id: Uuid,
    pub account_id: Uuid,
    pub unit_id: Uuid,
    pub unit_path: Vec<Uuid>,
    pub status: String,
    pub kind: Option<&'static str>,
    pub depart_on: Option<NaiveDate>,
    pub return_on: Option<NaiveDate>,
    pub draft: Value,
    pub assessment: Value,
    pub requirement: Option<&'static str>,
    pub policy_unit_id: Option<Uuid>,
    pub policy_version: Option<i32>,
    pub current_step: Option<i32>,
    pub steps: Vec<NewStep>,
    pub submit_by: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub version: i32,
    /// Its events, in order.
    pub events: Vec<NewEvent>,
    /// Whom it tells, if anyone.
    pub notice: Option<NewNotice>,
    /// The webhook event it queues, if any.
    pub publication: Option<NewPublication>,
    /// The server's now, for delegations in force.
    pub now: DateTime<Utc>,
}

/// Writes a new filing in one statement: its row in its final state, and
/// what comes with it (see [`write`]). Answers the row as written.
pub fn insert(conn: &mut PgConnection, new: &NewFiling) -> Result<FilingRow, ApiError> {
    write(conn, INSERT, new)
}

/// Files a stored draft in one statement: its row moves to its new state,
/// with what comes with it (see [`write`]). Answers the row as written.
pub fn submit(conn: &mut PgConnection, new: &NewFiling) -> Result<FilingRow, ApiError> {
    write(conn, SUBMIT, new)
}

/// The row of a new filing, its values bound as [`write`] binds them.
const INSERT: &str =
    "INSERT INTO filings (id, account_id, unit_id, unit_path, status, kind, depart_on,
                return_on, draft, assessment, requirement, policy_unit_id, policy_version,
                current_step, steps, submit_by, submitted_at, version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            RETURNING *";

/// A stored draft filed: the same values over the row of `$1`.
const SUBMIT: &str = "UPDATE filings SET status = $5, kind = $6, depart_on = $7, return_on = $8,
                assessment = $10, requirement = $11, policy_unit_id = $12, policy_version = $13,
                current_step = $14, steps = $15, submit_by = $16, submitted_at = $17,
                version = $18, updated_at = now()
            WHERE id = $1
            RETURNING *";

/// What comes with a filing's row, in the same statement: its approval steps,
/// its events, the notifications of its first step's approvers and their
/// active delegates, and its webhook event for every webhook that wants it
/// (over the whole tree, or over a subtree holding the filer's node).
const WITH_IT: &str = "steps AS (
            INSERT INTO filing_steps (filing_id, round, step, rule, candidates)
            SELECT $1, 0, s.step, s.rule, s.candidates
            FROM jsonb_to_recordset($19) AS s(step int, rule jsonb, candidates uuid[])
        ), events AS (
            INSERT INTO filing_events (filing_id, actor_id, action, from_status, to_status, data, at)
            SELECT $1, $2, e.value->>'action', e.value->>'from_status', e.value->>'to_status',
                e.value->'data', $24
            FROM jsonb_array_elements($20) WITH ORDINALITY AS e(value, n)
            ORDER BY e.n
        ), notified AS (
            INSERT INTO notifications (id, account_id, kind, filing_id, data)
            SELECT gen_random_uuid(), people.id, $21, $1, $22
            FROM (SELECT unnest($23::uuid[]) AS id
                  UNION
                  SELECT d.delegate_id FROM delegations d
                  WHERE d.account_id = ANY($23) AND d.starts_at <= $24 AND d.ends_at > $24) people
            WHERE $21 IS NOT NULL
            ON CONFLICT DO NOTHING
        ), published AS (
            INSERT INTO outbox (webhook_id, event, payload)
            SELECT w.id, $25, $26 FROM webhooks w
            WHERE $25 IS NOT NULL AND w.deleted_at IS NULL
              AND (w.unit_id IS NULL OR w.unit_id = ANY($4))
              AND (cardinality(w.events) = 0 OR $25 = ANY(w.events))
        )
        SELECT * FROM filing";

/// Writes the row by `row` (an `INSERT` or `UPDATE … RETURNING *` of
/// `filings`) and [`WITH_IT`] in one statement.
fn write(conn: &mut PgConnection, row: &str, new: &NewFiling) -> Result<FilingRow, ApiError> {
    let steps = serde_json::to_value(&new.steps)
        .map_err(ApiError::internal("serialising a filing's steps"))?;
    let events = serde_json::to_value(&new.events)
        .map_err(ApiError::internal("serialising a filing's events"))?;
    let (notice_kind, notice_data, notified) = match &new.notice {
        Some(n) => (Some(n.kind), Some(&n.data), n.accounts.clone()),
        None => (None, None, Vec::new()),
    };
    let (event, payload) = match &new.publication {
        Some(p) => (Some(p.event.as_str()), Some(&p.payload)),
        None => (None, None),
    };
    let row = diesel::sql_query(format!("WITH filing AS ({row}), {WITH_IT}"))
        .bind::<SqlUuid, _>(new.id)
        .bind::<SqlUuid, _>(new.account_id)
        .bind::<SqlUuid, _>(new.unit_id)
        .bind::<Array<SqlUuid>, _>(&new.unit_path)
        .bind::<Text, _>(&new.status)
        .bind::<Nullable<Text>, _>(new.kind)
        .bind::<Nullable<Date>, _>(new.depart_on)
        .bind::<Nullable<Date>, _>(new.return_on)
        .bind::<Jsonb, _>(&new.draft)
        .bind::<Jsonb, _>(&new.assessment)
        .bind::<Nullable<Text>, _>(new.requirement)
        .bind::<Nullable<SqlUuid>, _>(new.policy_unit_id)
        .bind::<Nullable<Int4>, _>(new.policy_version)
        .bind::<Nullable<Int4>, _>(new.current_step)
        .bind::<Int4, _>(i32::try_from(new.steps.len()).unwrap_or(i32::MAX))
        .bind::<Nullable<Timestamptz>, _>(new.submit_by)
        .bind::<Nullable<Timestamptz>, _>(new.submitted_at)
        .bind::<Int4, _>(new.version)
        .bind::<Jsonb, _>(&steps)
        .bind::<Jsonb, _>(&events)
        .bind::<Nullable<Text>, _>(notice_kind)
        .bind::<Nullable<Jsonb>, _>(notice_data)
        .bind::<Array<SqlUuid>, _>(&notified)
        .bind::<Timestamptz, _>(new.now)
        .bind::<Nullable<Text>, _>(event)
        .bind::<Nullable<Jsonb>, _>(payload)
        .get_result::<FilingRow>(conn)?;
    Ok(row)
}

/// The steps of a new filing as they were written.
pub fn written_steps(new: &NewFiling) -> Result<Vec<StepRow>, ApiError> {
    new.steps
        .iter()
        .map(|s| {
            Ok(StepRow {
                round: 0,
                step: s.step,
                rule: RawJson::of(&s.rule)
                    .map_err(ApiError::internal("reading back a step's rule"))?,
                candidates: s.candidates.clone(),
                decision: None,
                decided_by: None,
                decided_for: None,
                comment: None,
                decided_at: None,
            })
        })
        .collect()
}

/// One approval step of a filing or of one of its extensions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalStep {
    /// 0 for the filing, n for its n-th extension.
    pub round: i32,
    /// Step number, from 1.
    pub step: i32,
    /// The approver rule it comes from.
    pub rule: ApproverRule,
    /// Who may decide it (a delegate may decide for them).
    pub candidates: Vec<Uuid>,
    /// The decision, once decided.
    pub decision: Option<Decision>,
    /// Who decided.
    pub decided_by: Option<Uuid>,
    /// The approver a delegate decided for.
    pub decided_for: Option<Uuid>,
    /// The decision's comment.
    pub comment: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
}

/// Where an extension request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExtensionStatus {
    /// It awaits the filing's approval chain.
    Pending,
    /// The chain approved it; `return_on` moved.
    Approved,
    /// The chain rejected it; `return_on` stayed.
    Rejected,
    /// No approval was needed; `return_on` moved.
    Recorded,
}

/// An extension request.
#[derive(Debug, Serialize, Deserialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = filing_extensions)]
pub struct Extension {
    /// Its round (1 for the first extension).
    pub round: i32,
    /// The return date asked for.
    pub new_return_on: NaiveDate,
    /// The return date before it.
    pub previous_return_on: NaiveDate,
    /// Why.
    pub reason: String,
    /// Where the request stands.
    #[schema(value_type = ExtensionStatus)]
    pub status: String,
    /// When asked.
    pub requested_at: DateTime<Utc>,
    /// When decided.
    pub decided_at: Option<DateTime<Utc>>,
}

/// A filing (a trip report): the trip as filed, where it stands, its approval
/// steps and extensions, and the flags derived from them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Filing {
    /// Id.
    pub id: Uuid,
    /// The filer.
    pub account_id: Uuid,
    /// The filer's node when filed.
    pub unit_id: Uuid,
    /// Status.
    pub status: FilingStatus,
    /// The step awaiting a decision (of the filing, or of its extension).
    pub current_step: Option<i32>,
    /// An extension awaits a decision.
    pub extension_pending: bool,
    /// The trip as filed.
    pub draft: TripDraft,
    /// Planned return, moved by approved extensions.
    pub return_on: Option<NaiveDate>,
    /// The assessment stored with it (at submission; for drafts, the latest).
    // Written through as stored (it was built from core's `Assessment`),
    // not decoded and encoded again for every filing of a list.
    #[schema(value_type = Option<Assessment>)]
    pub assessment: Option<RawJson>,
    /// What it requires.
    pub requirement: Option<Requirement>,
    /// Who it is filed with.
    pub filed_with: Vec<FiledWith>,
    /// The approval steps, in order.
    pub approvals: Vec<ApprovalStep>,
    /// Extension requests, in order.
    pub extensions: Vec<Extension>,
    /// Submitted after the notice deadline, or after departure.
    pub late: bool,
    /// Away past the planned return plus grace.
    pub overdue: bool,
    /// The trip began before the approval it needed.
    pub departed_before_approval: bool,
    /// The deadline the filing had.
    pub submit_by: Option<DateTime<Utc>>,
    /// When submitted.
    pub submitted_at: Option<DateTime<Utc>>,
    /// When the last approval step was decided.
    pub approved_at: Option<DateTime<Utc>>,
    /// When departure was reported.
    pub departed_at: Option<DateTime<Utc>>,
    /// When return was reported.
    pub returned_at: Option<DateTime<Utc>>,
    /// The return report.
    pub return_report: Option<String>,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The recipients of a stored assessment, read without decoding the rest.
#[derive(Deserialize)]
pub struct FiledWithOf {
    #[serde(default)]
    pub filed_with: Vec<FiledWith>,
}

pub fn decode<T: serde::de::DeserializeOwned>(value: &RawJson) -> Result<T, ApiError> {
    value.decode().map_err(|e| {
        tracing::error!(error = %e, "a stored filing does not parse");
        ApiError::Internal
    })
}

/// The core's view of a filing's state.
pub fn state_of(row: &FilingRow) -> Result<FilingState, ApiError> {
    Ok(FilingState {
        status: parse_enum(&row.status)?,
        current_step: row.current_step.and_then(|s| u32::try_from(s).ok()),
        steps: u32::try_from(row.steps).unwrap_or(0),
        extension_pending: row.extension_pending,
    })
}

/// The derived flags of a filing now.
pub fn flags_of(state: &AppState, row: &FilingRow) -> Result<DerivedFlags, ApiError> {
    let (Some(depart_on), Some(return_on)) = (row.depart_on, row.return_on) else {
        return Ok(DerivedFlags::default());
    };
    let tz = state.config.time_zone;
    let local = |t: Option<DateTime<Utc>>| t.map(|t| t.with_timezone(&tz).fixed_offset());
    let facts = FlagFacts {
        status: parse_enum(&row.status)?,
        requirement: row.requirement.as_deref().map(parse_enum).transpose()?,
        depart_on,
        return_on,
        submitted_at: local(row.submitted_at),
        submit_by: local(row.submit_by),
        approved_at: local(row.approved_at),
        grace_hours: state.config.overdue_grace_hours,
    };
    Ok(derive(
        &facts,
        tz,
        state.config.now().with_timezone(&tz).fixed_offset(),
    ))
}

/// Builds the answer for a filing row.
pub fn to_filing(
    conn: &mut PgConnection,
    state: &AppState,
    row: FilingRow,
) -> Result<Filing, ApiError> {
    to_filings(conn, state, vec![row])?
        .pop()
        .ok_or_else(|| ApiError::broken("the filing just loaded"))
}

/// Builds the answers for a page of filing rows with two more queries in all.
pub fn to_filings(
    conn: &mut PgConnection,
    state: &AppState,
    rows: Vec<FilingRow>,
) -> Result<Vec<Filing>, ApiError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut steps: Vec<(Uuid, StepRow)> = filing_steps::table
        .filter(filing_steps::filing_id.eq_any(&ids))
        .order((
            filing_steps::filing_id,
            filing_steps::round,
            filing_steps::step,
        ))
        .select((filing_steps::filing_id, StepRow::as_select()))
        .load(conn)?;
    // Asking for an extension opens a new round, so filings still in round 0
    // have none.
    let mut extensions: Vec<(Uuid, Extension)> = if rows.iter().any(|r| r.current_round > 0) {
        filing_extensions::table
            .filter(filing_extensions::filing_id.eq_any(&ids))
            .order((filing_extensions::filing_id, filing_extensions::round))
            .select((filing_extensions::filing_id, Extension::as_select()))
            .load(conn)?
    } else {
        Vec::new()
    };
    rows.into_iter()
        .map(|row| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut steps)
                .into_iter()
                .partition(|(id, _)| *id == row.id);
            steps = rest;
            let (own, others): (Vec<_>, Vec<_>) = std::mem::take(&mut extensions)
                .into_iter()
                .partition(|(id, _)| *id == row.id);
            extensions = others;
            build(
                state,
                row,
                mine.into_iter().map(|(_, s)| s).collect(),
                own.into_iter().map(|(_, e)| e).collect(),
            )
        })
        .collect()
}

pub fn build(
    state: &AppState,
    mut row: FilingRow,
    steps: Vec<StepRow>,
    extensions: Vec<Extension>,
) -> Result<Filing, ApiError> {
    let flags = flags_of(state, &row)?;
    let assessment = row.assessment.take();
    let filed_with = match &assessment {
        Some(assessment) => decode::<FiledWithOf>(assessment)?.filed_with,
        None => Vec::new(),
    };
    Ok(Filing {
        id: row.id,
        account_id: row.account_id,
        unit_id: row.unit_id,
        status: parse_enum(&row.status)?,
        current_step: row.current_step,
        extension_pending: row.extension_pending,
        draft: decode(&row.draft)?,
        return_on: row.return_on,
        filed_with,
        assessment,
        requirement: row.requirement.as_deref().map(parse_enum).transpose()?,
        approvals: steps
            .into_iter()
            .map(|s| {
                Ok(ApprovalStep {
                    round: s.round,
                    step: s.step,
                    rule: decode(&s.rule)?,
                    candidates: s.candidates,
                    decision: s.decision.as_deref().map(parse_enum).transpose()?,
                    decided_by: s.decided_by,
                    decided_for: s.decided_for,
                    comment: s.comment,
                    decided_at: s.decided_at,
                })
            })
            .collect::<Result<_, ApiError>>()?,
        extensions,
        late: flags.late,
        overdue: flags.overdue,
        departed_before_approval: flags.departed_before_approval,
        submit_by: row.submit_by,
        submitted_at: row.submitted_at,
        approved_at: row.approved_at,
        departed_at: row.departed_at,
        returned_at: row.returned_at,
        return_report: row.return_report,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub fn respond(filing: &Filing, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(filing.version)))
        .json(filing)
}

/// Accounts a delegation lets `who` act for right now.
pub fn delegators(
    conn: &mut PgConnection,
    who: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<Vec<Uuid>> {
    delegations::table
        .filter(delegations::delegate_id.eq(who))
        .filter(delegations::starts_at.le(now))
        .filter(delegations::ends_at.gt(now))
        .select(delegations::account_id)
        .load(conn)
}

/// The caller and everyone whose approvals they hold right now, first the caller.
pub fn acting_as(
    conn: &mut PgConnection,
    state: &AppState,
    who: &Principal,
) -> QueryResult<Vec<Uuid>> {
    let mut people = vec![who.account_id];
    people.extend(delegators(conn, who.account_id, state.config.now())?);
    Ok(people)
}

/// Whether the caller may read a filing: its filer, anyone on its chain or their
/// delegate, its recipients, and admins and inspectors whose scope holds the filer.
/// `people` is [`acting_as`] for the caller.
pub fn can_read(
    conn: &mut PgConnection,
    people: &[Uuid],
    who: &Principal,
    row: &FilingRow,
) -> Result<bool, ApiError> {
    if row.account_id == who.account_id {
        return Ok(true);
    }
    let on_chain: bool = diesel::select(diesel::dsl::exists(
        filing_steps::table
            .filter(filing_steps::filing_id.eq(row.id))
            .filter(sql::<Bool>("candidates && ").bind::<Array<SqlUuid>, _>(people.to_vec())),
    ))
    .get_result(conn)?;
    if on_chain {
        return Ok(true);
    }
    let filed_with = match &row.assessment {
        Some(assessment) => decode::<FiledWithOf>(assessment)?.filed_with,
        None => Vec::new(),
    };
    for recipient in filed_with {
        let reads = match recipient {
            FiledWith::Account { account_id } => account_id == who.account_id,
            FiledWith::Unit { unit_id } => {
                who.unit_id == Some(unit_id)
                    || policy::covers(conn, who, Access::ReceiveFilings, unit_id)?
            }
        };
        if reads {
            return Ok(true);
        }
    }
    Ok(policy::covers(conn, who, Access::Supervise, row.unit_id)?)
}

pub fn load_row(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<FilingRow, ApiError> {
    let query = filings::table.find(id).select(FilingRow::as_select());
    Ok(if lock {
        query.for_update().first(conn)?
    } else {
        query.first(conn)?
    })
}

/// A new filing.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateFiling {
    /// The trip.
    pub draft: TripDraft,
    /// Submit at once (default false: keep it as a draft).
    #[serde(default)]
    pub submit: bool,
}

pub fn assess_for(
    conn: &mut PgConnection,
    state: &AppState,
    account: Uuid,
    draft: &TripDraft,
    lang: Lang,
) -> Result<Assessment, ApiError> {
    let filer = state.contexts.of(conn, account)?;
    Ok(assess(&filer.context.clone().input(
        state,
        draft.clone(),
        lang,
    )))
}

/// What happened to a filing, as its history names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilingEventAction {
    /// The draft was made.
    Create,
    /// It was filed.
    Submit,
    /// A step was approved.
    Approve,
    /// A step was rejected.
    Reject,
    /// The filer took it back while pending.
    Withdraw,
    /// The filer called the trip off.
    Cancel,
    /// The filer reported departure.
    Depart,
    /// The filer reported return.
    Return,
    /// The filer asked for a later return date.
    Extend,
}

impl FilingEventAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FilingEventAction::Create => "create",
            FilingEventAction::Submit => "submit",
            FilingEventAction::Approve => "approve",
            FilingEventAction::Reject => "reject",
            FilingEventAction::Withdraw => "withdraw",
            FilingEventAction::Cancel => "cancel",
            FilingEventAction::Depart => "depart",
            FilingEventAction::Return => "return",
            FilingEventAction::Extend => "extend",
        }
    }
}

impl From<Action> for FilingEventAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Submit => FilingEventAction::Submit,
            Action::Approve => FilingEventAction::Approve,
            Action::Reject => FilingEventAction::Reject,
            Action::Withdraw => FilingEventAction::Withdraw,
            Action::Cancel => FilingEventAction::Cancel,
            Action::Depart => FilingEventAction::Depart,
            Action::Return => FilingEventAction::Return,
            Action::Extend => FilingEventAction::Extend,
        }
    }
}

/// What a filing event carries beyond its change of status, shaped by its
/// action: `submit` the assessment's outcome, `approve` and `reject` the step,
/// `extend` the extension; the other actions carry nothing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum FilingEventData {
    /// `submit`.
    Submitted(SubmittedEventData),
    /// `approve` and `reject`.
    Decided(DecidedEventData),
    /// `extend`.
    Extension(ExtensionEventData),
    /// `create`, `withdraw`, `cancel`, `depart`, `return`.
    Empty(EmptyEventData),
}

/// The outcome of filing: what the assessment required.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmittedEventData {
    /// The requirement the assessment found.
    pub requirement: Option<Requirement>,
    /// Whether it was filed after the notice deadline.
    pub late: bool,
}

/// The step an approver decided.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecidedEventData {
    /// 0 for the filing, n for its n-th extension.
    pub round: i32,
    /// The step, from 1.
    pub step: i32,
}

/// The extension asked for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionEventData {
    /// The extension's round, from 1.
    pub round: i32,
    /// The return date asked for.
    pub new_return_on: NaiveDate,
    /// Why.
    pub reason: String,
}

/// Nothing beyond the change of status.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyEventData {}

/// Records the events of a filing just written on the audit chain.
pub fn record_events(audit: &mut Entries, new: &NewFiling) {
    for event in &new.events {
        audit.record(
            Some(new.account_id),
            "filing",
            Some(new.id),
            event.action,
            event_audit_data(event.from_status, &event.to_status, None, None, &event.data),
        );
    }
}

/// What the audit chain keeps of a filing event.
pub fn event_audit_data(
    from: Option<&str>,
    to: &str,
    on_behalf_of: Option<Uuid>,
    comment: Option<&str>,
    data: &Value,
) -> Value {
    json!({"from": from, "to": to, "on_behalf_of": on_behalf_of, "comment": comment, "data": data})
}

/// A trip a filer puts in: kept as a draft, or filed at once.
pub struct Created<'a> {
    /// The new filing's id.
    pub id: Uuid,
    /// The filer.
    pub account_id: Uuid,
    /// The trip.
    pub draft: &'a TripDraft,
    /// Filed at once, or kept as a draft.
    pub submit: bool,
    /// The language of the assessment stored with it.
    pub lang: Lang,
}

/// Writes a filer's new trip, assessed now from the filer's context: its row
/// in its final state and what comes with it in one statement (see
/// [`write`]), and its audit entries in `tx`. A trip the assessment finds
/// errors in can be kept as a draft but not filed (422). Answers the row and
/// its approval steps as written.
pub fn create(
    tx: &mut Tx<'_>,
    state: &AppState,
    created: Created<'_>,
) -> Result<(FilingRow, Vec<StepRow>), ApiError> {
    let filer = state.contexts.of(tx.conn, created.account_id)?;
    let assessment = assess(&filer.context.clone().input(
        state,
        created.draft.clone(),
        created.lang,
    ));
    let mut new = new_draft(state, &filer, created.draft, &assessment)?;
    new.id = created.id;
    if created.submit {
        file(state, &mut new, created.draft, assessment)?;
    }
    let row = insert(tx.conn, &new)?;
    record_events(&mut tx.audit, &new);
    Ok((row, written_steps(&new)?))
}

/// A new filing kept as a draft, as it will be written.
pub fn new_draft(
    state: &AppState,
    filer: &Filer,
    draft: &TripDraft,
    assessment: &Assessment,
) -> Result<NewFiling, ApiError> {
    let profile = &filer.context.profile;
    let id = Uuid::new_v4();
    let created = NewEvent {
        action: FilingEventAction::Create.as_str(),
        from_status: None,
        to_status: "draft".to_owned(),
        data: json!({}),
    };
    Ok(NewFiling {
        id,
        account_id: profile.account_id,
        unit_id: profile.unit_id,
        unit_path: filer.path.clone(),
        status: "draft".to_owned(),
        kind: draft.kind.map(TripKind::as_str),
        depart_on: draft.depart_on,
        return_on: draft
            .return_on
            .filter(|r| draft.depart_on.is_none_or(|d| *r >= d)),
        draft: serde_json::to_value(draft)
            .map_err(ApiError::internal("serialising a filing's draft"))?,
        assessment: serde_json::to_value(assessment)
            .map_err(ApiError::internal("serialising an assessment"))?,
        requirement: None,
        policy_unit_id: None,
        policy_version: None,
        current_step: None,
        steps: Vec::new(),
        submit_by: None,
        submitted_at: None,
        version: 1,
        events: vec![created],
        notice: None,
        publication: None,
        now: state.config.now(),
    })
}

/// Files a filing as it will be written, from its draft's assessment: it
/// becomes `recorded`, or `pending` at step 1 with that step's approvers
/// told; its steps, its `submit` event and its webhook event come with it. A
/// draft the assessment finds errors in is refused (422).
pub fn file(
    state: &AppState,
    new: &mut NewFiling,
    draft: &TripDraft,
    assessment: Assessment,
) -> Result<(), ApiError> {
    let id = new.id;
    let steps = u32::try_from(assessment.approvers.len()).unwrap_or(u32::MAX);
    let facts = Facts {
        requirement: assessment.requirement,
        assessment_valid: assessment.valid,
        has_comment: false,
        depart_on: None,
        today: None,
    };
    let next = lifecycle::apply(
        FilingState::draft(steps),
        Action::Submit,
        Actor::Filer,
        facts,
    )
    .map_err(|e| match e {
        TransitionError::AssessmentInvalid => ApiError::Validation(assessment.errors.clone()),
        other => transition_error(other),
    })?;
    let status = next.status.as_str();
    let current_step = next.current_step.and_then(|s| i32::try_from(s).ok());
    let from = FilingStatus::Draft.as_str();
    new.status = status.to_owned();
    // The draft as filed: the stored row keeps the dates even when the
    // return comes before the departure would have dropped it.
    new.return_on = draft.return_on;
    new.requirement = assessment.requirement.map(Requirement::as_str);
    new.policy_unit_id = assessment.policy_unit_id;
    new.policy_version = assessment
        .policy_version
        .and_then(|v| i32::try_from(v).ok());
    new.current_step = current_step;
    new.submit_by = assessment.submit_by.map(|t| t.to_utc());
    new.submitted_at = Some(state.config.now());
    new.version += 1;
    for step in &assessment.approvers {
        new.steps.push(NewStep {
            step: i32::try_from(step.step).unwrap_or(i32::MAX),
            rule: serde_json::to_value(&step.rule)
                .map_err(ApiError::internal("serialising an approval step's rule"))?,
            candidates: step.candidates.iter().map(|c| c.account_id).collect(),
        });
    }
    if let Some(step) = current_step {
        new.notice = Some(NewNotice {
            kind: crate::notify::Kind::ApprovalRequested.as_str(),
            data: serde_json::to_value(crate::notify::NotificationData::ApprovalRequested {
                filing_id: id,
                round: 0,
                step,
            })
            .map_err(ApiError::internal("serialising a notification"))?,
            accounts: new
                .steps
                .iter()
                .find(|s| s.step == step)
                .map(|s| s.candidates.clone())
                .unwrap_or_default(),
        });
    }
    new.publication = Some(NewPublication {
        event: "filing.submit".to_owned(),
        payload: json!({"filing_id": id, "account_id": new.account_id, "action": "submit",
                        "status": status, "round": 0, "current_step": current_step}),
    });
    new.events.push(NewEvent {
        action: FilingEventAction::Submit.as_str(),
        from_status: Some(from),
        to_status: status.to_owned(),
        data: serde_json::to_value(SubmittedEventData {
            requirement: assessment.requirement,
            late: assessment.late,
        })
        .map_err(ApiError::internal("serialising a filing event"))?,
    });
    new.assessment = serde_json::to_value(&assessment)
        .map_err(ApiError::internal("serialising an assessment"))?;
    Ok(())
}

pub fn transition_error(error: TransitionError) -> ApiError {
    match error {
        TransitionError::InvalidState { .. } => ApiError::Conflict(ProblemCode::InvalidTransition),
        TransitionError::NotPermitted { .. } => ApiError::Forbidden,
        TransitionError::AssessmentInvalid => {
            ApiError::invalid(IssueCode::Invalid, "draft", json!({}))
        }
        TransitionError::CommentRequired => {
            ApiError::invalid(IssueCode::Required, "comment", json!({}))
        }
        TransitionError::DepartureBeforePlanned { .. } => ApiError::Unprocessable(
            ProblemCode::DepartureBeforePlanned,
            error.issue().into_iter().collect(),
        ),
    }
}

/// Whose filings a list holds.
pub enum Listed {
    /// One filer's own.
    Filer(Uuid),
    /// Those filed from the subtrees of these nodes.
    Roots(Vec<Uuid>),
    /// Every filing.
    All,
}

/// A page of filings, newest first: `after` is the creation time and id of the
/// last one of the page before. At most `limit` rows.
pub fn list(
    conn: &mut PgConnection,
    listed: Listed,
    status: Option<FilingStatus>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<FilingRow>, ApiError> {
    let mut query = filings::table.select(FilingRow::as_select()).into_boxed();
    query = match listed {
        Listed::Filer(account) => query.filter(filings::account_id.eq(account)),
        Listed::Roots(roots) => {
            query.filter(sql::<Bool>("unit_path && ").bind::<Array<SqlUuid>, _>(roots))
        }
        Listed::All => query,
    };
    if let Some(status) = status {
        query = query.filter(filings::status.eq(status.as_str()));
    }
    if let Some((at, id)) = after {
        query = query.filter(
            filings::created_at
                .lt(at)
                .or(filings::created_at.eq(at).and(filings::id.lt(id))),
        );
    }
    Ok(query
        .order((filings::created_at.desc(), filings::id.desc()))
        .limit(limit)
        .load(conn)?)
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

/// A filing's events, oldest first.
pub fn events_of(conn: &mut PgConnection, filing: Uuid) -> Result<Vec<FilingEvent>, ApiError> {
    Ok(filing_events::table
        .filter(filing_events::filing_id.eq(filing))
        .order(filing_events::id)
        .select(FilingEvent::as_select())
        .load(conn)?)
}

crate::page_schema!(
/// A page of filings.
    FilingPage,
    Filing,
    "Filings, newest first.",
    "Cursor of the next page."
);
