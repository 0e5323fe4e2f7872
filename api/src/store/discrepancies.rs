//! Reconciliation and discrepancies as stored: the reconciliation's reading
//! of evidence against filings, the discrepancies it opens, and their
//! self-examination: explained, then confirmed or cleared, each an event.

use crate::error::{ApiError, ProblemCode};
use crate::extract::AppState;
use crate::extract::{IfMatch, Principal};
use crate::page::paginate;
use crate::policy::DiscrepancyTarget;
use crate::policy::{self, Action};
use crate::schema::reconciliations;
use crate::schema::{accounts, discrepancies, discrepancy_events, evidence, filings, units};
use crate::store::Within;
use crate::store::calendar::custom_years;
use crate::store::enums::parse_enum;
use crate::tx::Tx;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;
use uuid::Uuid;
use whereabouts_core::assessment::start_of_day;
use whereabouts_core::reconcile::{
    self, AttendanceStatus, Context, Direction, DiscrepancyKind, Evidence, EvidenceSource, Found,
    TripFiling,
};
use whereabouts_core::{FilingStatus, IssueCode, TripDraft};

/// The longest window one reconciliation covers, in days.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// A reconciliation to run.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReconciliationInput {
    /// The subtree.
    pub unit_id: Uuid,
    /// First day.
    pub from: NaiveDate,
    /// Last day, inclusive (at most 366 days after `from`).
    pub to: NaiveDate,
}

/// One evidence record behind a discrepancy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidenceItem {
    /// The record.
    pub id: i64,
    /// Its source.
    pub source: EvidenceSource,
    /// The day.
    pub date: NaiveDate,
    /// Where, or the country of a border crossing.
    pub location_code: Option<String>,
    /// `exit` or `entry`.
    pub direction: Option<Direction>,
    /// The attendance mark.
    pub status: Option<AttendanceStatus>,
    /// The import it came in.
    pub import_id: Uuid,
}

/// Where a discrepancy stands: `open → explained → confirmed | cleared`
/// (an open one may also be confirmed at once); confirmed and cleared are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyStatus {
    /// Nobody has answered it.
    Open,
    /// The person concerned (or an admin for them) has explained it.
    Explained,
    /// A reviewer has confirmed it: a violation.
    Confirmed,
    /// A reviewer has accepted the explanation.
    Cleared,
}

impl DiscrepancyStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyStatus::Open => "open",
            DiscrepancyStatus::Explained => "explained",
            DiscrepancyStatus::Confirmed => "confirmed",
            DiscrepancyStatus::Cleared => "cleared",
        }
    }

    /// Where `decision` takes a discrepancy in this status; `None` when it cannot.
    pub fn after(self, decision: Decision) -> Option<DiscrepancyStatus> {
        use DiscrepancyStatus as S;
        match (self, decision) {
            (S::Open | S::Explained, Decision::Explain) => Some(S::Explained),
            (S::Open | S::Explained, Decision::Confirm) => Some(S::Confirmed),
            (S::Explained, Decision::Clear) => Some(S::Cleared),
            _ => None,
        }
    }
}

/// A run of days on which the evidence and the filings of one person disagree.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Discrepancy {
    /// Id.
    pub id: Uuid,
    /// Whose.
    pub account_id: Uuid,
    /// Their node.
    pub unit_id: Uuid,
    /// Which kind.
    pub kind: DiscrepancyKind,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Where it stands.
    pub status: DiscrepancyStatus,
    /// The filing concerned, if any.
    pub filing_id: Option<Uuid>,
    /// The evidence behind it.
    pub evidence: Vec<EvidenceItem>,
    /// The unit's explanation.
    pub explanation: Option<String>,
    /// Who explained.
    pub explained_by: Option<Uuid>,
    /// When.
    pub explained_at: Option<DateTime<Utc>>,
    /// Who confirmed.
    pub confirmed_by: Option<Uuid>,
    /// When.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Who cleared it (accepted the explanation).
    pub cleared_by: Option<Uuid>,
    /// When.
    pub cleared_at: Option<DateTime<Utc>>,
    /// Version, also the `ETag`.
    pub version: i32,
    /// Found on.
    pub created_at: DateTime<Utc>,
}

/// What a reconciliation found.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReconciliationResult {
    /// The run.
    pub id: Uuid,
    /// The subtree.
    pub unit_id: Uuid,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// People with evidence in the window.
    pub people: i32,
    /// Discrepancies new in this run (0 when run again over the same data).
    pub created: i32,
    /// Every discrepancy of the subtree and window, new or found before.
    pub discrepancies: Vec<Discrepancy>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = discrepancies)]
pub struct DiscrepancyRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub unit_id: Uuid,
    pub unit_path: Vec<Uuid>,
    pub kind: String,
    pub from_on: NaiveDate,
    pub to_on: NaiveDate,
    pub filing_id: Option<Uuid>,
    pub evidence_ids: Vec<i64>,
    pub status: String,
    pub explanation: Option<String>,
    pub explained_by: Option<Uuid>,
    pub explained_at: Option<DateTime<Utc>>,
    pub confirmed_by: Option<Uuid>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cleared_by: Option<Uuid>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

impl DiscrepancyRow {
    /// What the policy weighs.
    pub fn target(&self) -> DiscrepancyTarget {
        DiscrepancyTarget {
            subject: self.account_id,
            unit_path: self.unit_path.clone(),
        }
    }
}

pub type EvidenceTuple = (
    i64,
    Uuid,
    String,
    NaiveDate,
    Option<String>,
    Option<String>,
    Option<String>,
    Uuid,
);

pub fn to_discrepancies(
    conn: &mut PgConnection,
    rows: Vec<DiscrepancyRow>,
) -> Result<Vec<Discrepancy>, ApiError> {
    let ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.evidence_ids.iter().copied())
        .collect();
    let records: Vec<EvidenceTuple> = evidence::table
        .filter(evidence::id.eq_any(&ids))
        .select((
            evidence::id,
            evidence::account_id,
            evidence::source,
            evidence::date,
            evidence::location_code,
            evidence::direction,
            evidence::status,
            evidence::import_id,
        ))
        .load(conn)?;
    let mut items: HashMap<i64, EvidenceItem> = HashMap::new();
    for (id, _, source, date, location_code, direction, status, import_id) in records {
        items.insert(
            id,
            EvidenceItem {
                id,
                source: parse_enum(&source)?,
                date,
                location_code,
                direction: direction.as_deref().map(parse_enum).transpose()?,
                status: status.as_deref().map(parse_enum).transpose()?,
                import_id,
            },
        );
    }
    rows.into_iter()
        .map(|r| {
            Ok(Discrepancy {
                id: r.id,
                account_id: r.account_id,
                unit_id: r.unit_id,
                kind: parse_enum(&r.kind)?,
                from: r.from_on,
                to: r.to_on,
                status: parse_enum(&r.status)?,
                filing_id: r.filing_id,
                evidence: r
                    .evidence_ids
                    .iter()
                    .filter_map(|id| items.get(id).cloned())
                    .collect(),
                explanation: r.explanation,
                explained_by: r.explained_by,
                explained_at: r.explained_at,
                confirmed_by: r.confirmed_by,
                confirmed_at: r.confirmed_at,
                cleared_by: r.cleared_by,
                cleared_at: r.cleared_at,
                version: r.version,
                created_at: r.created_at,
            })
        })
        .collect()
}

#[derive(Queryable)]
pub struct FilingSlice {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: String,
    pub depart_on: Option<NaiveDate>,
    pub return_on: Option<NaiveDate>,
    pub draft: serde_json::Value,
    pub requirement: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// Starts the history of newly found discrepancies with `opened`, and adds a
/// `discrepancy_opened` notification to each person's feed.
pub fn record_opened(
    conn: &mut PgConnection,
    run_by: Uuid,
    opened: &[Opened],
) -> Result<(), ApiError> {
    for chunk in opened.chunks(2_000) {
        let events: Vec<_> = chunk
            .iter()
            .map(|(id, ..)| {
                (
                    discrepancy_events::discrepancy_id.eq(*id),
                    discrepancy_events::actor_id.eq(run_by),
                    discrepancy_events::action.eq(DiscrepancyAction::Opened.as_str()),
                    discrepancy_events::to_status.eq(DiscrepancyStatus::Open.as_str()),
                )
            })
            .collect();
        diesel::insert_into(discrepancy_events::table)
            .values(events)
            .execute(conn)?;
    }
    let notes = opened
        .iter()
        .map(|(id, account, kind, from, to)| {
            Ok(crate::notify::Note {
                account: *account,
                data: crate::notify::NotificationData::DiscrepancyOpened {
                    discrepancy_id: *id,
                    kind: parse_enum(kind)?,
                    from: *from,
                    to: *to,
                },
                dedupe: format!("discrepancy_opened:{id}"),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    crate::notify::notify_each(conn, crate::notify::Kind::DiscrepancyOpened, &notes)?;
    Ok(())
}

/// A discrepancy found before: id, person, kind, first and last day, evidence, status.
pub type EarlierRow = (Uuid, Uuid, String, NaiveDate, NaiveDate, Vec<i64>, String);

/// The discrepancies of a subtree and window, and how many people had evidence.
pub fn find(
    conn: &mut PgConnection,
    state: &AppState,
    input: &ReconciliationInput,
) -> Result<(usize, Vec<Finding>), ApiError> {
    // The window's records, and border crossings up to a year before it (an
    // abroad stretch may have begun earlier).
    let records: Vec<EvidenceTuple> = evidence::table
        .filter(
            sql::<Bool>("evidence.unit_path @> ").bind::<Array<SqlUuid>, _>(vec![input.unit_id]),
        )
        .filter(evidence::date.le(input.to))
        .filter(
            evidence::date.ge(input.from).or(evidence::source
                .eq("border_crossing")
                .and(evidence::date.ge(input.from - Duration::days(366)))),
        )
        .select((
            evidence::id,
            evidence::account_id,
            evidence::source,
            evidence::date,
            evidence::location_code,
            evidence::direction,
            evidence::status,
            evidence::import_id,
        ))
        .load(conn)?;
    let mut by_person: BTreeMap<Uuid, Vec<Evidence>> = BTreeMap::new();
    for (id, account_id, source, date, location_code, direction, status, _) in records {
        by_person.entry(account_id).or_default().push(Evidence {
            id,
            source: parse_enum(&source)?,
            date,
            location_code,
            direction: direction.as_deref().map(parse_enum).transpose()?,
            status: status.as_deref().map(parse_enum).transpose()?,
        });
    }
    let people: Vec<Uuid> = by_person.keys().copied().collect();
    let slices: Vec<FilingSlice> = filings::table
        .filter(filings::account_id.eq_any(&people))
        .filter(filings::status.eq_any([
            "recorded", "approved", "away", "returned", "pending", "rejected",
        ]))
        .filter(filings::depart_on.le(input.to))
        .filter(filings::return_on.ge(input.from - Duration::days(reconcile::RETURN_GRACE_DAYS)))
        .select((
            filings::id,
            filings::account_id,
            filings::status,
            filings::depart_on,
            filings::return_on,
            filings::draft,
            filings::requirement,
            filings::approved_at,
        ))
        .load(conn)?;
    let mut trips: HashMap<Uuid, Vec<TripFiling>> = HashMap::new();
    for f in slices {
        let (Some(depart_on), Some(return_on)) = (f.depart_on, f.return_on) else {
            continue;
        };
        let draft: TripDraft = serde_json::from_value(f.draft)
            .map_err(ApiError::internal("decoding a stored filing's draft"))?;
        trips.entry(f.account_id).or_default().push(TripFiling {
            id: f.id,
            status: parse_enum::<FilingStatus>(&f.status)?,
            depart_on,
            return_on,
            destinations: draft.destinations.into_iter().map(|d| d.code).collect(),
            approved_at: f.approved_at,
            needs_approval: f.requirement.as_deref() == Some("approval"),
        });
    }
    let homes: Vec<(Uuid, Option<Uuid>, Vec<Uuid>)> = accounts::table
        .inner_join(units::table)
        .filter(accounts::id.eq_any(&people))
        .select((accounts::id, accounts::unit_id, units::path))
        .load(conn)?;
    let homes: HashMap<Uuid, (Option<Uuid>, Vec<Uuid>)> = homes
        .into_iter()
        .map(|(id, unit, path)| (id, (unit, path)))
        .collect();

    let calendar = custom_years(conn)?;
    let tz = state.config.time_zone;
    let day_end = move |day: NaiveDate| start_of_day(tz, day + Duration::days(1)).to_utc();
    let home_code = state.config.home_code.clone();
    let ctx = Context {
        home_code: &home_code,
        calendar: &calendar,
        from: input.from,
        to: input.to,
        day_end: &day_end,
    };
    let mut found = Vec::new();
    let none = Vec::new();
    for (account_id, records) in &by_person {
        let Some((Some(unit_id), path)) = homes.get(account_id) else {
            continue;
        };
        let filed = trips.get(account_id).unwrap_or(&none);
        for f in reconcile::reconcile_person(ctx, records, filed) {
            found.push((*account_id, *unit_id, path.clone(), f));
        }
    }
    Ok((by_person.len(), found))
}

/// What an answer does to a discrepancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The person concerned, or an admin for them, explains it.
    Explain,
    /// A reviewer confirms it as a violation.
    Confirm,
    /// A reviewer clears it: the explanation accepted.
    Clear,
}

/// A discrepancy a run found: the person, their node, that node's path, and
/// what was found.
pub type Finding = (Uuid, Uuid, Vec<Uuid>, Found);

/// A discrepancy a run created: id, person, kind, first and last day.
pub type Opened = (Uuid, Uuid, String, NaiveDate, NaiveDate);

/// What happened to a discrepancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyAction {
    /// A reconciliation found it.
    Opened,
    /// The person concerned, or an admin for them, explained it.
    Explained,
    /// A reviewer confirmed it.
    Confirmed,
    /// A reviewer accepted the explanation.
    Cleared,
}

impl DiscrepancyAction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyAction::Opened => "opened",
            DiscrepancyAction::Explained => "explained",
            DiscrepancyAction::Confirmed => "confirmed",
            DiscrepancyAction::Cleared => "cleared",
        }
    }
}

/// Whose discrepancies a list holds.
pub enum Listed {
    /// One person's own.
    Person(Uuid),
    /// Those found in a part of the tree.
    Within(Within),
}

/// What a list keeps of them besides whose they are.
#[derive(Debug, Default)]
pub struct Filter {
    /// Only these.
    pub status: Option<DiscrepancyStatus>,
    /// Only this kind.
    pub kind: Option<DiscrepancyKind>,
    /// Overlapping days from.
    pub from: Option<NaiveDate>,
    /// Overlapping days to.
    pub to: Option<NaiveDate>,
}

crate::page_schema!(
/// A page of discrepancies.
    DiscrepancyPage,
    Discrepancy,
    "The discrepancies, by first day then id.",
    "Pass as `cursor` for the next page; absent on the last."
);

/// One page of discrepancies, by first day then id, after the cursor's key
/// (`day|id` of the last one of the page before).
pub fn page(
    conn: &mut PgConnection,
    listed: Listed,
    filter: Filter,
    after: Option<String>,
    limit: i64,
) -> Result<DiscrepancyPage, ApiError> {
    let mut query = discrepancies::table
        .select(DiscrepancyRow::as_select())
        .into_boxed();
    query = match listed {
        Listed::Person(account) => query.filter(discrepancies::account_id.eq(account)),
        Listed::Within(within) => match within.condition("discrepancies.unit_path") {
            Some(condition) => query.filter(condition),
            None => query,
        },
    };
    if let Some(status) = filter.status {
        query = query.filter(discrepancies::status.eq(status.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(discrepancies::kind.eq(kind.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(discrepancies::to_on.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(discrepancies::from_on.le(to));
    }
    if let Some(after) = after {
        let (day, id) = after
            .split_once('|')
            .and_then(|(d, id)| Some((d.parse::<NaiveDate>().ok()?, id.parse::<Uuid>().ok()?)))
            .ok_or_else(|| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))?;
        query = query.filter(
            discrepancies::from_on
                .gt(day)
                .or(discrepancies::from_on.eq(day).and(discrepancies::id.gt(id))),
        );
    }
    let rows: Vec<DiscrepancyRow> = query
        .order((discrepancies::from_on, discrepancies::id))
        .limit(limit + 1)
        .load(conn)?;
    let (rows, next_cursor) = paginate(rows, limit, |r| format!("{}|{}", r.from_on, r.id));
    Ok(DiscrepancyPage {
        items: to_discrepancies(conn, rows)?,
        next_cursor,
    })
}

/// Loads a discrepancy and refuses `action` on it by the policy (404 when
/// the caller may not read it).
pub fn load_for(
    conn: &mut PgConnection,
    who: &Principal,
    id: Uuid,
    action: Action,
    lock: bool,
) -> Result<DiscrepancyRow, ApiError> {
    let query = discrepancies::table
        .find(id)
        .select(DiscrepancyRow::as_select());
    let row: DiscrepancyRow = if lock {
        query.for_update().first(conn)?
    } else {
        query.first(conn)?
    };
    policy::act_on_discrepancy(who, action, &row.target())?;
    Ok(row)
}

/// One event of a discrepancy's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiscrepancyEvent {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who acted (for `opened`, who ran the reconciliation).
    pub actor_id: Uuid,
    /// What happened.
    pub action: DiscrepancyAction,
    /// Status before (`null` for `opened`).
    pub from_status: Option<DiscrepancyStatus>,
    /// Status after.
    pub to_status: DiscrepancyStatus,
    /// The explanation, or the reviewer's comment.
    pub note: Option<String>,
}

/// A discrepancy's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DiscrepancyEventList {
    /// The events, oldest first.
    pub items: Vec<DiscrepancyEvent>,
}

/// A stored event: id, when, who, action, from, to, note.
type EventRow = (
    i64,
    DateTime<Utc>,
    Uuid,
    String,
    Option<String>,
    String,
    Option<String>,
);

impl Decision {
    /// The policy's action for it.
    pub fn action(self) -> Action {
        match self {
            Decision::Explain => Action::ExplainDiscrepancy,
            Decision::Confirm | Decision::Clear => Action::DecideDiscrepancy,
        }
    }

    /// Its event in the discrepancy's history.
    pub fn event(self) -> DiscrepancyAction {
        match self {
            Decision::Explain => DiscrepancyAction::Explained,
            Decision::Confirm => DiscrepancyAction::Confirmed,
            Decision::Clear => DiscrepancyAction::Cleared,
        }
    }

    /// Its name in the audit chain.
    pub fn audited(self) -> &'static str {
        match self {
            Decision::Explain => "explain",
            Decision::Confirm => "confirm",
            Decision::Clear => "clear",
        }
    }
}

/// A discrepancy's events, oldest first.
pub fn events_of(conn: &mut PgConnection, id: Uuid) -> Result<DiscrepancyEventList, ApiError> {
    let rows: Vec<EventRow> = discrepancy_events::table
        .filter(discrepancy_events::discrepancy_id.eq(id))
        .order(discrepancy_events::id)
        .select((
            discrepancy_events::id,
            discrepancy_events::at,
            discrepancy_events::actor_id,
            discrepancy_events::action,
            discrepancy_events::from_status,
            discrepancy_events::to_status,
            discrepancy_events::note,
        ))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(id, at, actor_id, action, from, to, note)| {
            Ok(DiscrepancyEvent {
                id,
                at,
                actor_id,
                action: parse_enum(&action)?,
                from_status: from.as_deref().map(parse_enum).transpose()?,
                to_status: parse_enum(&to)?,
                note,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(DiscrepancyEventList { items })
}

/// One discrepancy, answered.
pub fn one(conn: &mut PgConnection, row: DiscrepancyRow) -> Result<Discrepancy, ApiError> {
    to_discrepancies(conn, vec![row])?
        .pop()
        .ok_or_else(|| ApiError::broken("a discrepancy just loaded"))
}

/// Runs a reconciliation of a subtree the caller supervises over a window:
/// finds what the evidence and the filings disagree on, grows the open
/// discrepancies it overlaps, opens the rest and tells their people.
pub fn reconcile(
    tx: &mut Tx<'_>,
    st: &AppState,
    who: &Principal,
    input: &ReconciliationInput,
) -> Result<ReconciliationResult, ApiError> {
    let conn = &mut *tx.conn;
    policy::authorize(conn, who, Action::Supervise, input.unit_id)?;
    let run = Uuid::new_v4();
    // The run first: its discrepancies refer to it.
    diesel::insert_into(reconciliations::table)
        .values((
            reconciliations::id.eq(run),
            reconciliations::unit_id.eq(input.unit_id),
            reconciliations::from_on.eq(input.from),
            reconciliations::to_on.eq(input.to),
            reconciliations::run_by.eq(who.account_id),
            reconciliations::people.eq(0),
            reconciliations::created.eq(0),
        ))
        .execute(conn)?;
    let (people, found) = find(conn, st, input)?;
    // A run that overlaps one found before (an earlier, overlapping
    // window) is the same discrepancy: an open one grows to cover both
    // runs and their evidence; an answered one keeps its days.
    let people_found: Vec<Uuid> = found.iter().map(|(a, _, _, _)| *a).collect();
    let earlier: Vec<EarlierRow> = discrepancies::table
        .filter(discrepancies::account_id.eq_any(&people_found))
        .filter(discrepancies::from_on.le(input.to))
        .filter(discrepancies::to_on.ge(input.from))
        .select((
            discrepancies::id,
            discrepancies::account_id,
            discrepancies::kind,
            discrepancies::from_on,
            discrepancies::to_on,
            discrepancies::evidence_ids,
            discrepancies::status,
        ))
        .load(conn)?;
    let mut fresh = Vec::new();
    for (account_id, unit_id, path, f) in found {
        let overlapping = earlier
            .iter()
            .find(|e| e.1 == account_id && e.2 == f.kind.as_str() && e.3 <= f.to && f.from <= e.4);
        let Some(e) = overlapping else {
            fresh.push((account_id, unit_id, path, f));
            continue;
        };
        if e.6 == "open" {
            let mut evidence = e.5.clone();
            evidence.extend(f.evidence.iter().filter(|id| !e.5.contains(id)));
            evidence.sort_unstable();
            if f.from < e.3 || f.to > e.4 || evidence.len() > e.5.len() {
                diesel::update(discrepancies::table.find(e.0))
                    .set((
                        discrepancies::from_on.eq(e.3.min(f.from)),
                        discrepancies::to_on.eq(e.4.max(f.to)),
                        discrepancies::evidence_ids.eq(evidence),
                        discrepancies::updated_at.eq(diesel::dsl::now),
                    ))
                    .execute(conn)?;
            }
        } else {
            // An answered discrepancy keeps its days; days beyond them
            // are a new discrepancy.
            if f.from < e.3 {
                fresh.push((
                    account_id,
                    unit_id,
                    path.clone(),
                    Found {
                        to: e.3 - Duration::days(1),
                        ..f.clone()
                    },
                ));
            }
            if f.to > e.4 {
                fresh.push((
                    account_id,
                    unit_id,
                    path,
                    Found {
                        from: e.4 + Duration::days(1),
                        ..f
                    },
                ));
            }
        }
    }
    let mut opened: Vec<Opened> = Vec::new();
    for chunk in fresh.chunks(2_000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(account_id, unit_id, path, f)| {
                (
                    discrepancies::id.eq(Uuid::new_v4()),
                    discrepancies::account_id.eq(*account_id),
                    discrepancies::unit_id.eq(*unit_id),
                    discrepancies::unit_path.eq(path),
                    discrepancies::kind.eq(f.kind.as_str()),
                    discrepancies::from_on.eq(f.from),
                    discrepancies::to_on.eq(f.to),
                    discrepancies::filing_id.eq(f.filing_id),
                    discrepancies::evidence_ids.eq(&f.evidence),
                    discrepancies::reconciliation_id.eq(run),
                )
            })
            .collect();
        opened.extend(
            diesel::insert_into(discrepancies::table)
                .values(values)
                .on_conflict_do_nothing()
                .returning((
                    discrepancies::id,
                    discrepancies::account_id,
                    discrepancies::kind,
                    discrepancies::from_on,
                    discrepancies::to_on,
                ))
                .get_results::<Opened>(conn)?,
        );
    }
    // Only what this run created opens: its history starts and its
    // person is told, once.
    record_opened(conn, who.account_id, &opened)?;
    let created = i32::try_from(opened.len())
        .map_err(ApiError::internal("counting the discrepancies opened"))?;
    let people =
        i32::try_from(people).map_err(ApiError::internal("counting the people reconciled"))?;
    diesel::update(reconciliations::table.find(run))
        .set((
            reconciliations::people.eq(people),
            reconciliations::created.eq(created),
        ))
        .execute(conn)?;
    tx.audit.record(Some(who.account_id),
        "reconciliation",
        Some(run),
        "create",
        json!({"unit_id": input.unit_id, "from": input.from, "to": input.to, "people": people, "created": created}),
    );
    let rows: Vec<DiscrepancyRow> = discrepancies::table
        .filter(
            sql::<Bool>("discrepancies.unit_path @> ")
                .bind::<Array<SqlUuid>, _>(vec![input.unit_id]),
        )
        .filter(discrepancies::from_on.le(input.to))
        .filter(discrepancies::to_on.ge(input.from))
        .order((
            discrepancies::account_id,
            discrepancies::from_on,
            discrepancies::kind,
        ))
        .select(DiscrepancyRow::as_select())
        .load(conn)?;
    Ok(ReconciliationResult {
        id: run,
        unit_id: input.unit_id,
        from: input.from,
        to: input.to,
        people,
        created,
        discrepancies: to_discrepancies(conn, rows)?,
    })
}

/// Answers a discrepancy the caller may answer so: checks the version,
/// moves its status, and writes the answer with its event and audit entry.
pub fn answer(
    tx: &mut Tx<'_>,
    who: &Principal,
    id: Uuid,
    if_match: &IfMatch,
    decision: Decision,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<Discrepancy, ApiError> {
    let conn = &mut *tx.conn;
    let row = load_for(conn, who, id, decision.action(), true)?;
    if_match.check(row.version)?;
    let from: DiscrepancyStatus = parse_enum(&row.status)?;
    let to = from
        .after(decision)
        .ok_or(ApiError::Conflict(ProblemCode::InvalidTransition))?;
    let target = discrepancies::table.find(id);
    let bump = (
        discrepancies::status.eq(to.as_str()),
        discrepancies::version.eq(row.version + 1),
        discrepancies::updated_at.eq(now),
    );
    match decision {
        Decision::Explain => diesel::update(target)
            .set((
                bump,
                discrepancies::explanation.eq(&note),
                discrepancies::explained_by.eq(who.account_id),
                discrepancies::explained_at.eq(now),
            ))
            .execute(conn)?,
        Decision::Confirm => diesel::update(target)
            .set((
                bump,
                discrepancies::confirmed_by.eq(who.account_id),
                discrepancies::confirmed_at.eq(now),
            ))
            .execute(conn)?,
        Decision::Clear => diesel::update(target)
            .set((
                bump,
                discrepancies::cleared_by.eq(who.account_id),
                discrepancies::cleared_at.eq(now),
            ))
            .execute(conn)?,
    };
    diesel::insert_into(discrepancy_events::table)
        .values((
            discrepancy_events::discrepancy_id.eq(id),
            discrepancy_events::at.eq(now),
            discrepancy_events::actor_id.eq(who.account_id),
            discrepancy_events::action.eq(decision.event().as_str()),
            discrepancy_events::from_status.eq(from.as_str()),
            discrepancy_events::to_status.eq(to.as_str()),
            discrepancy_events::note.eq(&note),
        ))
        .execute(conn)?;
    tx.audit.record(
        Some(who.account_id),
        "discrepancy",
        Some(id),
        decision.audited(),
        json!({"from": row.status, "note": note}),
    );
    let row: DiscrepancyRow = discrepancies::table
        .find(id)
        .select(DiscrepancyRow::as_select())
        .first(conn)?;
    to_discrepancies(conn, vec![row])?
        .pop()
        .ok_or_else(|| ApiError::broken("the discrepancy just updated"))
}
