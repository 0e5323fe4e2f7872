//! Evidence of where people were (itineraries, border crossings, attendance),
//! imported per unit subtree in batches, and reconciled against filings to
//! find people who left without reporting (API.md, "Evidence and
//! reconciliation"). Then self-examination: the person concerned is notified
//! and reads and explains their own discrepancies (or an admin of their scope
//! explains for them); inspectors and admins confirm a discrepancy (a
//! violation) or clear it (the explanation accepted). Each step is an event
//! of the discrepancy's history.

use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, IfMatch, Json, Principal, RequestLang, etag, parse_json};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action, DiscrepancyTarget};
use crate::schema::{
    accounts, discrepancies, discrepancy_events, evidence, evidence_imports, filings,
    reconciliations, units,
};
use crate::store::calendar::custom_years;
use crate::store::enums::{enum_name, parse_enum};
use crate::tx::Claim;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::dsl::{AsSelect, SqlTypeOf, sql};
use diesel::pg::Pg;
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
    fn merge_form(&mut self, upload: &crate::upload::Upload) -> Result<(), ApiError> {
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
struct Accepted {
    row: i32,
    account_id: Uuid,
    unit_path: Vec<Uuid>,
    date: NaiveDate,
    location_code: Option<String>,
    direction: Option<&'static str>,
    status: Option<&'static str>,
}

fn reject(
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

fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A record's checked fields: day, location, direction, attendance status.
type Checked = (
    NaiveDate,
    Option<String>,
    Option<&'static str>,
    Option<&'static str>,
);

/// A CSV record by line number, or `Err` when the line does not parse.
type CsvRow = (i32, Result<EvidenceRecordInput, ()>);

/// Checks one record's own fields (not yet who it names).
fn check_record(
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
struct ImportRow {
    id: Uuid,
    batch_key: String,
    unit_id: Uuid,
    source: String,
    accepted: i32,
    rejected: serde_json::Value,
    created_at: DateTime<Utc>,
}

fn to_result(row: ImportRow) -> Result<EvidenceImportResult, ApiError> {
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

fn load_import(
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
fn read_csv(body: &[u8]) -> Result<Vec<CsvRow>, ApiError> {
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

/// Import a batch of evidence for a unit subtree
///
/// System administrators, unit admins and inspectors whose scope holds
/// `unit_id` (403 `forbidden` to callers holding none of these roles; 404
/// `not_found` for a node unknown or outside their scope). A batch holds one
/// `source` of evidence: `itinerary` records say where a person was on a day
/// (`location_code`: a mainland division code, `HK`, `MO`, `TW` or a country
/// code); `border_crossing` records an `exit` (with the country in
/// `location_code`) or an `entry` at a border, the person being abroad from an
/// exit day to the day before the next entry; `attendance` records a day's
/// `status` (`present`, `out`, `absent`, `leave`). `runReconciliation` then
/// compares the evidence with the filings.
///
/// Three forms: JSON (`application/json`, the whole import); a CSV file
/// upload (`multipart/form-data`, the records in a part named `file` with a
/// header row, `batch_key`, `unit_id` and `source` as fields beside it); or the
/// raw CSV (`text/csv`, with `batch_key`, `unit_id` and `source` in the query
/// string). Each record names its person by `employee_no` or `login` within
/// the subtree; refused records are listed in `rejected` with their row, code
/// and message, and the rest are stored. With `from` and `to`, records outside
/// that period are refused. A repeated `batch_key` for the unit changes nothing
/// and answers the first import's result with 200. At most 500,000 records
/// and 32 MiB (413 `payload_too_large`).
#[utoipa::path(post, path = "/api/v1/evidence/imports", operation_id = "importEvidence", tag = "supervision", params(EvidenceImportParams),
    request_body(content(
        (EvidenceImportInput = "application/json", example = json!({
            "batch_key": "chaoyang-itinerary-2027-05",
            "unit_id": "c15ed824-83c3-4b5f-8324-14c74a2d077f",
            "source": "itinerary",
            "from": "2027-05-01",
            "to": "2027-05-05",
            "records": [
                {"employee_no": "E1001", "date": "2027-05-02", "location_code": "310000"},
                {"employee_no": "E1002", "date": "2027-05-02", "location_code": "320500"},
                {"login": "li.na", "date": "2027-05-03", "location_code": "110000"}
            ]
        })),
        (EvidenceUpload = "multipart/form-data")
    )),
    responses((status = 201, body = EvidenceImportResult, description = "The batch was imported: how many records were stored, and each one refused"), (status = 200, body = EvidenceImportResult, description = "The batch was imported before; nothing changed"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 413), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn import(
    state: web::Data<AppState>,
    who: Principal,
    lang: RequestLang,
    req: HttpRequest,
    params: web::Query<EvidenceImportParams>,
    body: crate::extract::Body<MAX_EVIDENCE_BYTES>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    policy::require(&who, Action::Supervise)?;
    let body = body.0;
    let lang = lang.0;
    let (batch_key, unit_id, source, window, rows) =
        if crate::upload::is_media(&req, "application/json") {
            let input: EvidenceImportInput = parse_json(&body)?;
            if input.records.len() > MAX_EVIDENCE_ROWS {
                return Err(ApiError::PayloadTooLarge);
            }
            let rows = input
                .records
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i32::try_from(i + 1).unwrap_or(i32::MAX), Ok(r)))
                .collect();
            (
                input.batch_key,
                input.unit_id,
                input.source,
                (input.from, input.to),
                rows,
            )
        } else if crate::upload::is_media(&req, "text/csv") || crate::upload::is_multipart(&req) {
            let mut params = params.into_inner();
            let csv = if crate::upload::is_multipart(&req) {
                let upload = crate::upload::read(&req, body).await?;
                params.merge_form(&upload)?;
                upload.required_file()?
            } else {
                body
            };
            let mut missing = Vec::new();
            if params.batch_key.is_none() {
                missing.push(Issue::new(
                    IssueCode::Required,
                    Some("batch_key".into()),
                    json!({}),
                ));
            }
            if params.unit_id.is_none() {
                missing.push(Issue::new(
                    IssueCode::Required,
                    Some("unit_id".into()),
                    json!({}),
                ));
            }
            if params.source.is_none() {
                missing.push(Issue::new(
                    IssueCode::Required,
                    Some("source".into()),
                    json!({}),
                ));
            }
            let (Some(batch_key), Some(unit_id), Some(source)) =
                (params.batch_key, params.unit_id, params.source)
            else {
                return Err(ApiError::Validation(missing));
            };
            (
                batch_key,
                unit_id,
                source,
                (params.from, params.to),
                read_csv(&csv)?,
            )
        } else {
            return Err(ApiError::UnsupportedMediaType);
        };
    crate::input::dates_in_range([("from", window.0), ("to", window.1)])?;
    let batch_key = batch_key.trim().to_owned();
    if batch_key.is_empty() || batch_key.chars().count() > 200 {
        return Err(ApiError::invalid(
            IssueCode::OutOfRange,
            "batch_key",
            json!({"min": 1, "max": 200}),
        ));
    }
    if let (Some(from), Some(to)) = window
        && to < from
    {
        return Err(ApiError::invalid(
            IssueCode::ReturnBeforeDeparture,
            "to",
            json!({}),
        ));
    }

    let mut rejected = Vec::new();
    let mut checked = Vec::new();
    for (row, record) in rows {
        match record {
            Err(()) => rejected.push(reject(
                row,
                IssueCode::Invalid,
                "row",
                json!({"reason": "row_shape"}),
                lang,
            )),
            Ok(record) => match check_record(row, source, window, &record, lang) {
                Err(r) => rejected.push(r),
                Ok(fields) => checked.push((row, record, fields)),
            },
        }
    }
    let replay = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::Supervise, unit_id)?;
            if let Some(first) = load_import(conn, unit_id, &batch_key)? {
                return Ok((StatusCode::OK, to_result(first)?));
            }
            // Who the records name: by employee number or login, inside the subtree.
            let numbers: Vec<String> = checked
                .iter()
                .filter_map(|(_, r, _)| text(&r.employee_no).map(str::to_owned))
                .collect();
            let logins: Vec<String> = checked
                .iter()
                .filter_map(|(_, r, _)| text(&r.login).map(str::to_owned))
                .collect();
            let people: Vec<(Uuid, Option<String>, String, Vec<Uuid>)> = accounts::table
                .inner_join(units::table)
                .filter(sql::<Bool>("units.path @> ").bind::<Array<SqlUuid>, _>(vec![unit_id]))
                .filter(
                    accounts::employee_no
                        .eq_any(&numbers)
                        .or(accounts::login.eq_any(&logins)),
                )
                .select((
                    accounts::id,
                    accounts::employee_no,
                    accounts::login,
                    units::path,
                ))
                .load(conn)?;
            let by_number: HashMap<&str, (Uuid, &Vec<Uuid>)> = people
                .iter()
                .filter_map(|(id, no, _, path)| no.as_deref().map(|n| (n, (*id, path))))
                .collect();
            let by_login: HashMap<&str, (Uuid, &Vec<Uuid>)> = people
                .iter()
                .map(|(id, _, login, path)| (login.as_str(), (*id, path)))
                .collect();
            let mut accepted = Vec::new();
            for (row, record, (date, location_code, direction, status)) in checked {
                let person = match (text(&record.employee_no), text(&record.login)) {
                    (Some(no), _) => by_number.get(no).ok_or("employee_no"),
                    (None, Some(login)) => by_login.get(login).ok_or("login"),
                    (None, None) => Err("employee_no"),
                };
                match person {
                    Ok((account_id, path)) => accepted.push(Accepted {
                        row,
                        account_id: *account_id,
                        unit_path: (*path).clone(),
                        date,
                        location_code,
                        direction,
                        status,
                    }),
                    Err(field) => rejected.push(reject(
                        row,
                        IssueCode::UnknownPerson,
                        field,
                        json!({}),
                        lang,
                    )),
                }
            }
            rejected.sort_by_key(|r| r.row);
            let id = Uuid::new_v4();
            let count = i32::try_from(accepted.len()).map_err(|_| ApiError::PayloadTooLarge)?;
            let rejected_json = serde_json::to_value(&rejected)
                .map_err(ApiError::internal("serialising an import's rejected rows"))?;
            diesel::insert_into(evidence_imports::table)
                .values((
                    evidence_imports::id.eq(id),
                    evidence_imports::batch_key.eq(&batch_key),
                    evidence_imports::unit_id.eq(unit_id),
                    evidence_imports::source.eq(enum_name(&source)),
                    evidence_imports::imported_by.eq(who.account_id),
                    evidence_imports::accepted.eq(count),
                    evidence_imports::rejected.eq(&rejected_json),
                ))
                .execute(conn)?;
            for chunk in accepted.chunks(5_000) {
                let values: Vec<_> = chunk
                    .iter()
                    .map(|a| {
                        (
                            evidence::import_id.eq(id),
                            evidence::row_number.eq(a.row),
                            evidence::account_id.eq(a.account_id),
                            evidence::unit_path.eq(&a.unit_path),
                            evidence::source.eq(enum_name(&source)),
                            evidence::date.eq(a.date),
                            evidence::location_code.eq(&a.location_code),
                            evidence::direction.eq(a.direction),
                            evidence::status.eq(a.status),
                        )
                    })
                    .collect();
                diesel::insert_into(evidence::table)
                    .values(values)
                    .execute(conn)?;
            }
            tx.audit.record(
                Some(who.account_id),
                "evidence_import",
                Some(id),
                "create",
                json!({"batch_key": batch_key, "unit_id": unit_id, "source": enum_name(&source),
                       "accepted": count, "rejected": rejected.len()}),
            );
            let row = load_import(conn, unit_id, &batch_key)?
                .ok_or_else(|| ApiError::broken("the import just written"))?;
            Ok((StatusCode::CREATED, to_result(row)?))
        })
        .await?;
    let (status, result) = replay;
    Ok(HttpResponse::build(status).json(result))
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
    fn after(self, decision: Decision) -> Option<DiscrepancyStatus> {
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
struct DiscrepancyRow {
    id: Uuid,
    account_id: Uuid,
    unit_id: Uuid,
    unit_path: Vec<Uuid>,
    kind: String,
    from_on: NaiveDate,
    to_on: NaiveDate,
    filing_id: Option<Uuid>,
    evidence_ids: Vec<i64>,
    status: String,
    explanation: Option<String>,
    explained_by: Option<Uuid>,
    explained_at: Option<DateTime<Utc>>,
    confirmed_by: Option<Uuid>,
    confirmed_at: Option<DateTime<Utc>>,
    cleared_by: Option<Uuid>,
    cleared_at: Option<DateTime<Utc>>,
    version: i32,
    created_at: DateTime<Utc>,
}

impl DiscrepancyRow {
    /// What the policy weighs.
    fn target(&self) -> DiscrepancyTarget {
        DiscrepancyTarget {
            subject: self.account_id,
            unit_path: self.unit_path.clone(),
        }
    }
}

type EvidenceTuple = (
    i64,
    Uuid,
    String,
    NaiveDate,
    Option<String>,
    Option<String>,
    Option<String>,
    Uuid,
);

fn to_discrepancies(
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
struct FilingSlice {
    id: Uuid,
    account_id: Uuid,
    status: String,
    depart_on: Option<NaiveDate>,
    return_on: Option<NaiveDate>,
    draft: serde_json::Value,
    requirement: Option<String>,
    approved_at: Option<DateTime<Utc>>,
}

/// Reconcile a subtree's evidence with its filings over a window
///
/// System administrators, unit admins and inspectors whose scope holds
/// `unit_id` (403 `forbidden` to callers holding none of these roles; 404
/// `not_found` for a node unknown or outside their scope). `to` is on or
/// after `from` and at most 366 days later (422 `validation_failed`
/// otherwise). Every day of every person with evidence in the subtree and
/// window is checked against that person's filings, and each run of
/// consecutive days of one person and one kind becomes a discrepancy, of the
/// first of these kinds that applies:
///
/// - `unreported_departure`: the evidence puts the person outside the home
///   jurisdiction, no filing covers the day, and no reported filing of theirs
///   ended in the 14 days before it;
/// - `returned_late`: the same, but a reported filing of theirs ended in the
///   14 days before it;
/// - `departed_before_approval`: outside, and the filing covering the day is
///   not approved, or was approved only after that day ended;
/// - `destination_differs`: outside, covered by a reported filing, but
///   somewhere none of its destinations holds;
/// - `absence_without_filing`: attendance `out` or `absent` on a working day
///   that no reported filing covers, with no other evidence putting the
///   person outside.
///
/// The evidence puts a person outside on a day when an itinerary record's
/// location is outside the home jurisdiction, or the day lies from a border
/// exit to the day before the next entry. A filing covers the days
/// `depart_on`..`return_on` (moved by approved extensions) when it is
/// reported (`recorded`, `approved`, `away`, `returned`) or still unapproved
/// (`pending`, `rejected`); drafts, withdrawn and cancelled filings cover
/// nothing.
///
/// Running it again over the same data creates nothing new: an open
/// discrepancy that overlaps one of the same kind found by this run grows to
/// cover both, and one no longer open keeps its days (days beyond them become
/// a new discrepancy). Each person a new discrepancy is about is notified
/// (`discrepancy_opened`), to explain it. Answers 201
/// with the run: how many people had evidence, how many discrepancies are new
/// (`created`), and every discrepancy of the subtree and window.
#[utoipa::path(post, path = "/api/v1/reconciliations", operation_id = "runReconciliation", tag = "supervision",
    request_body(content = ReconciliationInput, example = json!({"unit_id": "c15ed824-83c3-4b5f-8324-14c74a2d077f", "from": "2027-05-01", "to": "2027-05-05"})),
    responses((status = 201, body = ReconciliationResult, description = "The run, with every discrepancy of the subtree and window"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn reconcile(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<ReconciliationInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    policy::require(&who, Action::Supervise)?;
    crate::input::dates_in_range([("from", Some(input.from)), ("to", Some(input.to))])?;
    if input.to < input.from {
        return Err(ApiError::invalid(
            IssueCode::ReturnBeforeDeparture,
            "to",
            json!({}),
        ));
    }
    if (input.to - input.from).num_days() > MAX_WINDOW_DAYS {
        return Err(ApiError::invalid(
            IssueCode::OutOfRange,
            "to",
            json!({"min": 0, "max": MAX_WINDOW_DAYS}),
        ));
    }
    let st = state.clone();
    let result = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            policy::authorize(conn, &who, Action::Supervise, input.unit_id)?;
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
            let (people, found) = find(conn, &st, &input)?;
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
                let overlapping = earlier.iter().find(|e| {
                    e.1 == account_id && e.2 == f.kind.as_str() && e.3 <= f.to && f.from <= e.4
                });
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
                        fresh.push((account_id, unit_id, path.clone(), Found { to: e.3 - Duration::days(1), ..f.clone() }));
                    }
                    if f.to > e.4 {
                        fresh.push((account_id, unit_id, path, Found { from: e.4 + Duration::days(1), ..f }));
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
            let created = i32::try_from(opened.len()).map_err(ApiError::internal("counting the discrepancies opened"))?;
            let people = i32::try_from(people).map_err(ApiError::internal("counting the people reconciled"))?;
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
                .filter(sql::<Bool>("discrepancies.unit_path @> ").bind::<Array<SqlUuid>, _>(vec![input.unit_id]))
                .filter(discrepancies::from_on.le(input.to))
                .filter(discrepancies::to_on.ge(input.from))
                .order((discrepancies::account_id, discrepancies::from_on, discrepancies::kind))
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
        })
        .await?;
    Ok(HttpResponse::Created().json(result))
}

type Finding = (Uuid, Uuid, Vec<Uuid>, Found);

/// A discrepancy a run created: id, person, kind, first and last day.
type Opened = (Uuid, Uuid, String, NaiveDate, NaiveDate);

/// Starts the history of newly found discrepancies with `opened`, and adds a
/// `discrepancy_opened` notification to each person's feed.
fn record_opened(conn: &mut PgConnection, run_by: Uuid, opened: &[Opened]) -> Result<(), ApiError> {
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
type EarlierRow = (Uuid, Uuid, String, NaiveDate, NaiveDate, Vec<i64>, String);

/// The discrepancies of a subtree and window, and how many people had evidence.
fn find(
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

crate::page_schema!(
/// A page of discrepancies.
    DiscrepancyPage,
    Discrepancy,
    "The discrepancies, by first day then id.",
    "Pass as `cursor` for the next page; absent on the last."
);

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
) -> Result<web::Json<DiscrepancyPage>, ApiError> {
    policy::require(&who, Action::Supervise)?;
    let limit = params.limit()?;
    let after = params.after()?;
    let filter = filter.into_inner();
    crate::input::dates_in_range([("from", filter.from), ("to", filter.to)])?;
    let page = state
        .db
        .run(move |conn| {
            let mut query = discrepancies::table
                .select(DiscrepancyRow::as_select())
                .into_boxed();
            if let Some(unit) = filter.unit_id {
                policy::authorize(conn, &who, Action::Supervise, unit)?;
                query = query.filter(
                    sql::<Bool>("discrepancies.unit_path @> ")
                        .bind::<Array<SqlUuid>, _>(vec![unit]),
                );
            } else if let Some(roots) = policy::scope(&who, Action::Supervise).roots() {
                query = query.filter(
                    sql::<Bool>("discrepancies.unit_path && ").bind::<Array<SqlUuid>, _>(roots),
                );
            }
            if let Some(status) = filter.status {
                query = query.filter(discrepancies::status.eq(enum_name(&status)));
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
            page_of(conn, query, after, limit)
        })
        .await?;
    Ok(web::Json(page))
}

/// A query over discrepancies, filtered and not yet paged.
type DiscrepancyQuery =
    discrepancies::BoxedQuery<'static, Pg, SqlTypeOf<AsSelect<DiscrepancyRow, Pg>>>;

/// One page of `query`, by first day then id, after the cursor's key.
fn page_of(
    conn: &mut PgConnection,
    mut query: DiscrepancyQuery,
    after: Option<String>,
    limit: i64,
) -> Result<DiscrepancyPage, ApiError> {
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
            let mut query = discrepancies::table
                .filter(discrepancies::account_id.eq(who.account_id))
                .select(DiscrepancyRow::as_select())
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(discrepancies::status.eq(status.as_str()));
            }
            page_of(conn, query, after, limit)
        })
        .await?;
    Ok(web::Json(page))
}

/// Loads a discrepancy and refuses `action` on it by the policy (404 when
/// the caller may not read it).
fn load_for(
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
            to_discrepancies(conn, vec![row])?
                .pop()
                .ok_or_else(|| ApiError::broken("the discrepancy just loaded"))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(found.version)))
        .json(found))
}

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

/// What an answer does to a discrepancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Explain,
    Confirm,
    Clear,
}

impl Decision {
    /// The policy's action for it.
    fn action(self) -> Action {
        match self {
            Decision::Explain => Action::ExplainDiscrepancy,
            Decision::Confirm | Decision::Clear => Action::DecideDiscrepancy,
        }
    }

    /// Its event in the discrepancy's history.
    fn event(self) -> DiscrepancyAction {
        match self {
            Decision::Explain => DiscrepancyAction::Explained,
            Decision::Confirm => DiscrepancyAction::Confirmed,
            Decision::Clear => DiscrepancyAction::Cleared,
        }
    }

    /// Its name in the audit chain.
    fn audited(self) -> &'static str {
        match self {
            Decision::Explain => "explain",
            Decision::Confirm => "confirm",
            Decision::Clear => "clear",
        }
    }
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
            let conn = &mut *tx.conn;
            let row = load_for(conn, &who, id, decision.action(), true)?;
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
