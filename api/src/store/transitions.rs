//! A filed filing's transitions: filing a draft, the decisions of its chain,
//! departure, return, extensions, withdrawal and cancellation. The core's
//! lifecycle decides each one; this writes what it decided, with its event,
//! notifications, webhook event and audit entry, in the caller's transaction.

use crate::audit::Entries;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, IfMatch, Principal};
use crate::schema::{filing_events, filing_extensions, filing_steps, filings};
use crate::store::enums::parse_enum;
use crate::store::filings::{
    DecidedEventData, EmptyEventData, ExtensionEventData, Filing, FilingEventAction,
    FilingEventData, FilingRow, NewFiling, acting_as, assess_for, build, can_read, decode,
    event_audit_data, file, load_row, record_events, respond, state_of, to_filing,
    transition_error, written_steps,
};
use crate::tx::{Claim, Tx};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Int4, Uuid as SqlUuid};
use serde_json::{Value, json};
use uuid::Uuid;
use whereabouts_core::lifecycle::{self, Action, Actor, Decision, Facts, FilingState};
use whereabouts_core::{IssueCode, Lang, TripDraft, TripKind};

/// What a transition carries besides the action, checked by the route.
pub enum Payload {
    /// Nothing.
    None,
    /// A decision's comment, trimmed, at most 500 characters.
    Comment(Option<String>),
    /// An extension: the new return day and why (trimmed, 1 to 500 characters).
    Extension {
        /// The new return day.
        new_return_on: NaiveDate,
        /// Why.
        reason: String,
    },
    /// A return report, trimmed, at most 2,000 characters.
    Return(Option<String>),
}

/// What a transition route was asked: which filing, at which version, in
/// which language, to do what, with what.
pub struct Asked {
    /// The filing.
    pub id: Uuid,
    /// The version the client acts on.
    pub if_match: IfMatch,
    /// The language of an assessment made again.
    pub lang: Lang,
    /// The action.
    pub action: Action,
    /// What comes with it.
    pub payload: Payload,
}

/// What a transition changes on the filing's row besides its state.
struct Change {
    round: i32,
    return_on: Option<NaiveDate>,
    approved_at: Option<DateTime<Utc>>,
    departed_at: Option<DateTime<Utc>>,
    returned_at: Option<DateTime<Utc>>,
    return_report: Option<String>,
    data: FilingEventData,
}

impl Change {
    fn none(row: &FilingRow) -> Self {
        Self {
            round: row.current_round,
            return_on: row.return_on,
            approved_at: row.approved_at,
            departed_at: row.departed_at,
            returned_at: row.returned_at,
            return_report: row.return_report.clone(),
            data: FilingEventData::Empty(EmptyEventData {}),
        }
    }
}

/// Runs [`apply`] in a transaction of its own, with the request's claim, and
/// answers the filing with its new `ETag`.
pub async fn run(
    state: web::Data<AppState>,
    who: Principal,
    claim: Option<Claim>,
    asked: Asked,
) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let filing = state
        .db
        .transaction(claim, move |tx| apply(tx, &st, &who, asked))
        .await?;
    Ok(respond(&filing, StatusCode::OK))
}

/// Runs one transition on a filing the caller may read: locks it, checks the
/// version, asks the core, and writes the new state, its step or extension,
/// event, notifications and audit entry. Answers the filing as it now is.
pub fn apply(
    tx: &mut Tx<'_>,
    st: &AppState,
    who: &Principal,
    asked: Asked,
) -> Result<Filing, ApiError> {
    let Asked {
        id,
        if_match,
        lang,
        action,
        payload,
    } = asked;
    let conn = &mut *tx.conn;
    let row = load_row(conn, id, true)?;
    let people = acting_as(conn, st, who)?;
    if !can_read(conn, &people, who, &row)? {
        return Err(ApiError::NotFound);
    }
    if_match.check(row.version)?;
    let current = state_of(&row)?;
    let (actor, on_behalf_of) = actor_of(conn, &people, who, &row)?;
    if matches!(action, Action::Approve | Action::Reject)
        && actor != Actor::CurrentApprover
        && already_decided(conn, &people, &row)?
    {
        return Err(ApiError::Conflict(ProblemCode::AlreadyDecided));
    }
    if action == Action::Submit {
        let facts = Facts {
            requirement: None,
            assessment_valid: true,
            has_comment: false,
            depart_on: None,
            today: None,
        };
        lifecycle::apply(current, action, actor, facts).map_err(transition_error)?;
        return submit_row(conn, &mut tx.audit, st, row, lang);
    }
    let comment = match &payload {
        Payload::Comment(comment) => comment.clone(),
        _ => None,
    };
    let now = st.config.now();
    let facts = Facts {
        requirement: row.requirement.as_deref().map(parse_enum).transpose()?,
        assessment_valid: true,
        has_comment: comment.is_some(),
        depart_on: row.depart_on,
        today: Some(now.with_timezone(&st.config.time_zone).date_naive()),
    };
    let next = lifecycle::apply(current, action, actor, facts).map_err(transition_error)?;
    let mut change = Change::none(&row);
    match (action, payload) {
        (Action::Approve | Action::Reject, _) => {
            let decided = Decided {
                approve: action == Action::Approve,
                by: who.account_id,
                on_behalf_of,
                comment: comment.as_deref(),
                now,
            };
            decide(conn, &row, &next, &decided, &mut change)?;
        }
        (
            Action::Extend,
            Payload::Extension {
                new_return_on,
                reason,
            },
        ) => {
            extend(conn, &row, &next, new_return_on, reason, now, &mut change)?;
        }
        (Action::Depart, _) => change.departed_at = Some(now),
        (Action::Return, Payload::Return(report)) => {
            change.returned_at = Some(now);
            change.return_report = report;
        }
        _ => {}
    }
    let to = next.status.as_str();
    let next_step = next.current_step.and_then(|s| i32::try_from(s).ok());
    write_state(conn, &row, &next, &change)?;
    notify(conn, st, &row, action, change.round, next_step)?;
    publish_transition(
        conn,
        id,
        row.account_id,
        action_name(action),
        to,
        change.round,
        next_step,
    )?;
    record(
        conn,
        &mut tx.audit,
        TransitionEvent {
            filing_id: id,
            actor_id: who.account_id,
            on_behalf_of,
            action: action.into(),
            from_status: Some(&row.status),
            to_status: to,
            comment: comment.as_deref(),
            data: change.data,
            at: now,
        },
    )?;
    let row = load_row(conn, id, false)?;
    to_filing(conn, st, row)
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Submit => "submit",
        Action::Approve => "approve",
        Action::Reject => "reject",
        Action::Withdraw => "withdraw",
        Action::Cancel => "cancel",
        Action::Depart => "depart",
        Action::Return => "return",
        Action::Extend => "extend",
    }
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

/// A decision of the current step.
struct Decided<'a> {
    approve: bool,
    by: Uuid,
    on_behalf_of: Option<Uuid>,
    comment: Option<&'a str>,
    now: DateTime<Utc>,
}

/// Writes the decision on the current step; when it ends the round, settles
/// the filing's approval or its extension.
fn decide(
    conn: &mut PgConnection,
    row: &FilingRow,
    next: &FilingState,
    decided: &Decided<'_>,
    change: &mut Change,
) -> Result<(), ApiError> {
    let step = row
        .current_step
        .ok_or_else(|| ApiError::broken("the current step of a filing awaiting a decision"))?;
    let outcome = if decided.approve {
        "approved"
    } else {
        "rejected"
    };
    diesel::update(filing_steps::table.find((row.id, row.current_round, step)))
        .set((
            filing_steps::decision.eq(outcome),
            filing_steps::decided_by.eq(decided.by),
            filing_steps::decided_for.eq(decided.on_behalf_of),
            filing_steps::comment.eq(decided.comment),
            filing_steps::decided_at.eq(decided.now),
        ))
        .execute(conn)?;
    change.data = FilingEventData::Decided(DecidedEventData {
        round: row.current_round,
        step,
    });
    let finished = next.current_step.is_none();
    if row.current_round == 0 {
        if decided.approve && finished {
            change.approved_at = Some(decided.now);
        }
    } else if finished {
        let new_return: NaiveDate =
            diesel::update(filing_extensions::table.find((row.id, row.current_round)))
                .set((
                    filing_extensions::status.eq(outcome),
                    filing_extensions::decided_at.eq(decided.now),
                ))
                .returning(filing_extensions::new_return_on)
                .get_result(conn)?;
        if decided.approve {
            change.return_on = Some(new_return);
        }
    }
    Ok(())
}

/// Opens an extension round: records the request, and when it needs approval
/// gives the round the filing's own chain; otherwise moves the return day.
fn extend(
    conn: &mut PgConnection,
    row: &FilingRow,
    next: &FilingState,
    new_return_on: NaiveDate,
    reason: String,
    now: DateTime<Utc>,
    change: &mut Change,
) -> Result<(), ApiError> {
    let previous = row
        .return_on
        .ok_or_else(|| ApiError::broken("the return day of an away filing"))?;
    if new_return_on <= previous {
        return Err(ApiError::invalid(
            IssueCode::ReturnBeforeDeparture,
            "new_return_on",
            json!({"after": previous}),
        ));
    }
    let round = row.current_round + 1;
    let needs_approval = next.extension_pending;
    diesel::insert_into(filing_extensions::table)
        .values((
            filing_extensions::filing_id.eq(row.id),
            filing_extensions::round.eq(round),
            filing_extensions::new_return_on.eq(new_return_on),
            filing_extensions::previous_return_on.eq(previous),
            filing_extensions::reason.eq(&reason),
            filing_extensions::status.eq(if needs_approval {
                "pending"
            } else {
                "recorded"
            }),
            filing_extensions::decided_at.eq((!needs_approval).then_some(now)),
        ))
        .execute(conn)?;
    if needs_approval {
        // The same chain as the filing decides its extension.
        diesel::insert_into(filing_steps::table)
            .values(
                filing_steps::table
                    .filter(filing_steps::filing_id.eq(row.id))
                    .filter(filing_steps::round.eq(0))
                    .select((
                        filing_steps::filing_id,
                        round.into_sql::<Int4>(),
                        filing_steps::step,
                        filing_steps::rule,
                        filing_steps::candidates,
                    )),
            )
            .into_columns((
                filing_steps::filing_id,
                filing_steps::round,
                filing_steps::step,
                filing_steps::rule,
                filing_steps::candidates,
            ))
            .execute(conn)?;
    } else {
        change.return_on = Some(new_return_on);
    }
    change.round = round;
    change.data = FilingEventData::Extension(ExtensionEventData {
        round,
        new_return_on,
        reason,
    });
    Ok(())
}

/// Writes the filing's new state, one version on.
fn write_state(
    conn: &mut PgConnection,
    row: &FilingRow,
    next: &FilingState,
    change: &Change,
) -> Result<(), ApiError> {
    diesel::update(filings::table.find(row.id))
        .set((
            filings::status.eq(next.status.as_str()),
            filings::current_round.eq(change.round),
            filings::current_step.eq(next.current_step.and_then(|s| i32::try_from(s).ok())),
            filings::extension_pending.eq(next.extension_pending),
            filings::return_on.eq(change.return_on),
            filings::approved_at.eq(change.approved_at),
            filings::departed_at.eq(change.departed_at),
            filings::returned_at.eq(change.returned_at),
            filings::return_report.eq(&change.return_report),
            filings::version.eq(row.version + 1),
            filings::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Tells whom a transition concerns: the next step's approvers, or the filer
/// of a decided filing or extension.
fn notify(
    conn: &mut PgConnection,
    st: &AppState,
    row: &FilingRow,
    action: Action,
    round: i32,
    next_step: Option<i32>,
) -> Result<(), ApiError> {
    use crate::notify::Kind;
    match (action, next_step) {
        (Action::Approve | Action::Extend, Some(step)) => {
            notify_step(conn, st, row.id, round, step)
        }
        (Action::Approve | Action::Reject, _) => {
            let kind = if row.current_round == 0 {
                Kind::FilingDecided
            } else {
                Kind::ExtensionDecided
            };
            let decision = if action == Action::Approve {
                Decision::Approved
            } else {
                Decision::Rejected
            };
            crate::notify::notify(
                conn,
                &[row.account_id],
                kind,
                Some(row.id),
                &crate::notify::NotificationData::Decided {
                    filing_id: row.id,
                    decision,
                    round: row.current_round,
                },
                None,
            )?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A new event of a filing.
pub struct TransitionEvent<'a> {
    pub filing_id: Uuid,
    pub actor_id: Uuid,
    pub on_behalf_of: Option<Uuid>,
    pub action: FilingEventAction,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub comment: Option<&'a str>,
    pub data: FilingEventData,
    /// When: the server's now, as the transition's own times.
    pub at: DateTime<Utc>,
}

/// Writes an event of a filing and its audit row.
pub fn record(
    conn: &mut PgConnection,
    audit: &mut Entries,
    event: TransitionEvent<'_>,
) -> Result<(), ApiError> {
    let data = serde_json::to_value(&event.data).map_err(|error| {
        tracing::error!(%error, "a filing event's data does not serialise");
        ApiError::Internal
    })?;
    diesel::insert_into(filing_events::table)
        .values((
            filing_events::filing_id.eq(event.filing_id),
            filing_events::actor_id.eq(event.actor_id),
            filing_events::on_behalf_of.eq(event.on_behalf_of),
            filing_events::action.eq(event.action.as_str()),
            filing_events::from_status.eq(event.from_status),
            filing_events::to_status.eq(event.to_status),
            filing_events::comment.eq(event.comment),
            filing_events::data.eq(&data),
            filing_events::at.eq(event.at),
        ))
        .execute(conn)?;
    audit.record(
        Some(event.actor_id),
        "filing",
        Some(event.filing_id),
        event.action.as_str(),
        event_audit_data(
            event.from_status,
            event.to_status,
            event.on_behalf_of,
            event.comment,
            &data,
        ),
    );
    Ok(())
}

/// Tells the approvers of a step (and their active delegates) that a filing awaits them.
pub fn notify_step(
    conn: &mut PgConnection,
    state: &AppState,
    filing: Uuid,
    round: i32,
    step: i32,
) -> Result<(), ApiError> {
    let mut people: Vec<Uuid> = filing_steps::table
        .find((filing, round, step))
        .select(filing_steps::candidates)
        .first(conn)?;
    people.extend(crate::notify::active_delegates(
        conn,
        &people.clone(),
        state.config.now(),
    )?);
    crate::notify::notify(
        conn,
        &people,
        crate::notify::Kind::ApprovalRequested,
        Some(filing),
        &crate::notify::NotificationData::ApprovalRequested {
            filing_id: filing,
            round,
            step,
        },
        None,
    )?;
    Ok(())
}

/// Queues the webhook event of a transition.
pub fn publish_transition(
    conn: &mut PgConnection,
    filing: Uuid,
    account: Uuid,
    action: &str,
    status: &str,
    round: i32,
    step: Option<i32>,
) -> Result<(), ApiError> {
    crate::notify::publish(
        conn,
        filing,
        &format!("filing.{action}"),
        &json!({"filing_id": filing, "account_id": account, "action": action, "status": status, "round": round, "current_step": step}),
    )?;
    Ok(())
}

/// Files a stored draft, locked by the caller: assesses it again now, stores
/// the assessment and the resolved chain, and moves the filing to `recorded`
/// or `pending`, in one statement. Answers the filing as filed.
pub fn submit_row(
    conn: &mut PgConnection,
    audit: &mut Entries,
    state: &AppState,
    row: FilingRow,
    lang: Lang,
) -> Result<Filing, ApiError> {
    let draft: TripDraft = decode(&row.draft)?;
    let assessment = assess_for(conn, state, row.account_id, &draft, lang)?;
    let mut new = NewFiling {
        id: row.id,
        account_id: row.account_id,
        unit_id: row.unit_id,
        unit_path: row.unit_path,
        status: row.status,
        kind: draft.kind.map(TripKind::as_str),
        depart_on: draft.depart_on,
        return_on: draft.return_on,
        draft: serde_json::to_value(&draft)
            .map_err(ApiError::internal("serialising a filing's draft"))?,
        assessment: Value::Null,
        requirement: None,
        policy_unit_id: None,
        policy_version: None,
        current_step: None,
        steps: Vec::new(),
        submit_by: None,
        submitted_at: None,
        version: row.version,
        events: Vec::new(),
        notice: None,
        publication: None,
        now: state.config.now(),
    };
    file(state, &mut new, &draft, assessment)?;
    let filed = crate::store::filings::submit(conn, &new)?;
    record_events(audit, &new);
    build(state, filed, written_steps(&new)?, Vec::new())
}
