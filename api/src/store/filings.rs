//! Filings as stored: their rows, and the one statement that writes a new
//! filing with everything that comes with it.

use crate::error::ApiError;
use crate::schema::{filing_steps, filings};
use crate::stored::RawJson;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Date, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

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
            INSERT INTO filing_events (filing_id, actor_id, action, from_status, to_status, data)
            SELECT $1, $2, e.value->>'action', e.value->>'from_status', e.value->>'to_status',
                e.value->'data'
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
