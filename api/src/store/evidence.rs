//! Evidence and discrepancies as stored: imported records checked row by row,
//! the reconciliation's reading of evidence against filings, and the
//! discrepancies it opens.

use crate::error::ApiError;
use crate::extract::AppState;
use crate::policy::DiscrepancyTarget;
use crate::schema::{
    accounts, discrepancies, discrepancy_events, evidence, evidence_imports, filings, units,
};
use crate::store::calendar::custom_years;
use crate::store::enums::parse_enum;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::assessment::start_of_day;
use whereabouts_core::reconcile::{
    self, AttendanceStatus, Context, Direction, DiscrepancyKind, Evidence, EvidenceSource, Found,
    TripFiling,
};
use whereabouts_core::{FilingStatus, Issue, IssueCode, Lang, TripDraft};

/// The largest evidence upload accepted, in bytes.
pub const MAX_EVIDENCE_BYTES: usize = 32 * 1024 * 1024;
/// The most records one import may carry.
pub const MAX_EVIDENCE_ROWS: usize = 500_000;
/// The longest window one reconciliation covers, in days.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// One evidence record as imported (JSON, or a CSV row under the same column
/// names). The fields are read as text so that a bad value refuses its row
/// alone, listed in the answer's `rejected`, and never the whole import.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EvidenceRecordInput {
    /// The person's employee number (or give `login`).
    #[serde(default)]
    pub employee_no: Option<String>,
    /// The person's login (when there is no employee number).
    #[serde(default)]
    pub login: Option<String>,
    /// The day, `YYYY-MM-DD`.
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub date: Option<String>,
    /// Itinerary: where the person was; border crossing: the country of an exit.
    #[serde(default)]
    pub location_code: Option<String>,
    /// Border crossing: which way.
    #[serde(default)]
    #[schema(value_type = Option<Direction>)]
    pub direction: Option<String>,
    /// Attendance: the mark of the day.
    #[serde(default)]
    #[schema(value_type = Option<AttendanceStatus>)]
    pub status: Option<String>,
}

/// An evidence import: one batch of one source for one unit subtree.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EvidenceImportInput {
    /// The batch's key: importing the same key again for the unit changes
    /// nothing and answers the first import's result.
    pub batch_key: String,
    /// The subtree the records belong to.
    pub unit_id: Uuid,
    /// `itinerary`, `border_crossing` or `attendance`.
    pub source: EvidenceSource,
    /// The period the batch covers (optional); records outside it are rejected.
    #[serde(default)]
    pub from: Option<NaiveDate>,
    /// Last day of that period.
    #[serde(default)]
    pub to: Option<NaiveDate>,
    /// The records.
    pub records: Vec<EvidenceRecordInput>,
}

/// The query string of a CSV import (the CSV body holds only the records).
#[derive(Debug, Deserialize, IntoParams)]
pub struct EvidenceImportParams {
    /// The batch's key.
    pub batch_key: Option<String>,
    /// The subtree.
    pub unit_id: Option<Uuid>,
    /// The source.
    pub source: Option<EvidenceSource>,
    /// First day of the batch's period (optional).
    pub from: Option<NaiveDate>,
    /// Last day (optional).
    pub to: Option<NaiveDate>,
}

impl EvidenceImportParams {
    /// Takes the fields of a `multipart/form-data` upload over the query
    /// string's.
    pub fn merge_form(&mut self, upload: &crate::upload::Upload) -> Result<(), ApiError> {
        fn parsed<T: serde::de::DeserializeOwned>(
            upload: &crate::upload::Upload,
            name: &str,
        ) -> Result<Option<T>, ApiError> {
            upload
                .field(name)
                .map(|text| {
                    serde_json::from_value(serde_json::Value::String(text.to_owned()))
                        .map_err(|_| ApiError::invalid(IssueCode::Invalid, name, json!({})))
                })
                .transpose()
        }
        if let Some(batch_key) = upload.field("batch_key") {
            self.batch_key = Some(batch_key.to_owned());
        }
        self.unit_id = parsed(upload, "unit_id")?.or(self.unit_id);
        self.source = parsed(upload, "source")?.or(self.source);
        self.from = parsed(upload, "from")?.or(self.from);
        self.to = parsed(upload, "to")?.or(self.to);
        Ok(())
    }
}

/// An evidence import sent as a file upload (`multipart/form-data`).
#[derive(Debug, ToSchema)]
pub struct EvidenceUpload {
    /// The records as CSV with a header row: `employee_no` or `login`,
    /// `date`, and `location_code`, `direction` or `status` by source.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
    /// The batch's key: importing the same key again for the unit changes
    /// nothing and answers the first import's result.
    pub batch_key: String,
    /// The subtree the records belong to.
    pub unit_id: Uuid,
    /// What kind of evidence the file holds.
    pub source: EvidenceSource,
    /// First day of the batch's period.
    pub from: Option<NaiveDate>,
    /// Last day of the batch's period.
    pub to: Option<NaiveDate>,
}

/// A record the import refused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RejectedRow {
    /// Its position: the record's index from 1 (JSON), or the CSV line (the header is line 1).
    pub row: i32,
    /// Stable code (`required`, `invalid`, `unknown_person`, `out_of_range`,
    /// `date_out_of_range`, `destination_unknown`).
    pub code: IssueCode,
    /// The field at fault.
    pub field: Option<String>,
    /// What is wrong, in the request's language.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvidenceImportResult {
    /// The import.
    pub id: Uuid,
    /// Its batch key.
    pub batch_key: String,
    /// The subtree.
    pub unit_id: Uuid,
    /// The source.
    pub source: EvidenceSource,
    /// Records stored.
    pub accepted: i32,
    /// Records refused, with why.
    pub rejected: Vec<RejectedRow>,
    /// When it was imported.
    pub created_at: DateTime<Utc>,
}

/// A record accepted, ready to store.
pub struct Accepted {
    pub row: i32,
    pub account_id: Uuid,
    pub unit_path: Vec<Uuid>,
    pub date: NaiveDate,
    pub location_code: Option<String>,
    pub direction: Option<&'static str>,
    pub status: Option<&'static str>,
}

pub fn reject(
    row: i32,
    code: IssueCode,
    field: &str,
    params: serde_json::Value,
    lang: Lang,
) -> RejectedRow {
    let issue = Issue::new(code, Some(field.to_owned()), params).localized(lang);
    RejectedRow {
        row,
        code,
        field: issue.field,
        message: issue.message,
    }
}

pub fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A record's checked fields: day, location, direction, attendance status.
pub type Checked = (
    NaiveDate,
    Option<String>,
    Option<&'static str>,
    Option<&'static str>,
);

/// A CSV record by line number, or `Err` when the line does not parse.
pub type CsvRow = (i32, Result<EvidenceRecordInput, ()>);

/// Checks one record's own fields (not yet who it names).
pub fn check_record(
    row: i32,
    source: EvidenceSource,
    window: (Option<NaiveDate>, Option<NaiveDate>),
    record: &EvidenceRecordInput,
    lang: Lang,
) -> Result<Checked, RejectedRow> {
    if text(&record.employee_no).is_none() && text(&record.login).is_none() {
        return Err(reject(
            row,
            IssueCode::Required,
            "employee_no",
            json!({}),
            lang,
        ));
    }
    let Some(date) = text(&record.date) else {
        return Err(reject(row, IssueCode::Required, "date", json!({}), lang));
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
        reject(
            row,
            IssueCode::Invalid,
            "date",
            json!({"reason": "not_a_date"}),
            lang,
        )
    })?;
    if let Some(issue) = crate::input::date_issue("date", date) {
        return Err(reject(row, issue.code, "date", issue.params, lang));
    }
    let (from, to) = window;
    if from.is_some_and(|f| date < f) || to.is_some_and(|t| date > t) {
        return Err(reject(
            row,
            IssueCode::OutOfRange,
            "date",
            json!({"min": from, "max": to}),
            lang,
        ));
    }
    let location = text(&record.location_code).map(str::to_owned);
    if let Some(code) = &location
        && !reconcile::is_known_location(code)
    {
        return Err(reject(
            row,
            IssueCode::DestinationUnknown,
            "location_code",
            json!({"code": code}),
            lang,
        ));
    }
    match source {
        EvidenceSource::Itinerary => {
            if location.is_none() {
                return Err(reject(
                    row,
                    IssueCode::Required,
                    "location_code",
                    json!({}),
                    lang,
                ));
            }
            Ok((date, location, None, None))
        }
        EvidenceSource::BorderCrossing => {
            let direction = match text(&record.direction) {
                None => {
                    return Err(reject(
                        row,
                        IssueCode::Required,
                        "direction",
                        json!({}),
                        lang,
                    ));
                }
                Some("exit") => "exit",
                Some("entry") => "entry",
                Some(_) => {
                    return Err(reject(
                        row,
                        IssueCode::Invalid,
                        "direction",
                        json!({"allowed": ["exit", "entry"]}),
                        lang,
                    ));
                }
            };
            if direction == "exit" && location.is_none() {
                return Err(reject(
                    row,
                    IssueCode::Required,
                    "location_code",
                    json!({}),
                    lang,
                ));
            }
            Ok((date, location, Some(direction), None))
        }
        EvidenceSource::Attendance => {
            let status = match text(&record.status) {
                None => return Err(reject(row, IssueCode::Required, "status", json!({}), lang)),
                Some("present") => "present",
                Some("out") => "out",
                Some("absent") => "absent",
                Some("leave") => "leave",
                Some(_) => {
                    return Err(reject(
                        row,
                        IssueCode::Invalid,
                        "status",
                        json!({"allowed": ["present", "out", "absent", "leave"]}),
                        lang,
                    ));
                }
            };
            Ok((date, location, None, Some(status)))
        }
    }
}

#[derive(Queryable)]
pub struct ImportRow {
    pub id: Uuid,
    pub batch_key: String,
    pub unit_id: Uuid,
    pub source: String,
    pub accepted: i32,
    pub rejected: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub fn to_result(row: ImportRow) -> Result<EvidenceImportResult, ApiError> {
    Ok(EvidenceImportResult {
        id: row.id,
        batch_key: row.batch_key,
        unit_id: row.unit_id,
        source: parse_enum(&row.source)?,
        accepted: row.accepted,
        rejected: serde_json::from_value(row.rejected)
            .map_err(ApiError::internal("decoding an import's rejected rows"))?,
        created_at: row.created_at,
    })
}

pub fn load_import(
    conn: &mut PgConnection,
    unit_id: Uuid,
    batch_key: &str,
) -> QueryResult<Option<ImportRow>> {
    evidence_imports::table
        .filter(evidence_imports::unit_id.eq(unit_id))
        .filter(evidence_imports::batch_key.eq(batch_key))
        .select((
            evidence_imports::id,
            evidence_imports::batch_key,
            evidence_imports::unit_id,
            evidence_imports::source,
            evidence_imports::accepted,
            evidence_imports::rejected,
            evidence_imports::created_at,
        ))
        .first(conn)
        .optional()
}

/// Reads a CSV body into records, each with its line number.
pub fn read_csv(body: &[u8]) -> Result<Vec<CsvRow>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::Malformed("the CSV is not UTF-8".into()))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| ApiError::Malformed("the CSV has no header row".into()))?
        .clone();
    if !headers.iter().any(|h| h == "date")
        || !headers.iter().any(|h| h == "employee_no" || h == "login")
    {
        return Err(ApiError::Malformed(
            "the CSV header needs date and employee_no or login".into(),
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i32::try_from(i + 2).unwrap_or(i32::MAX);
        let parsed = record
            .ok()
            .filter(|r| r.len() == headers.len())
            .and_then(|r| r.deserialize::<EvidenceRecordInput>(Some(&headers)).ok())
            .ok_or(());
        rows.push((line, parsed));
        if rows.len() > MAX_EVIDENCE_ROWS {
            return Err(ApiError::PayloadTooLarge);
        }
    }
    Ok(rows)
}

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
