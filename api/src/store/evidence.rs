//! Evidence as stored: imported records checked row by row, and the
//! imports that hold them.

use crate::error::ApiError;
use crate::extract::Principal;
use crate::policy::{self, Action};
use crate::schema::{accounts, evidence, evidence_imports, units};
use crate::store::enums::enum_name;
use crate::store::enums::parse_enum;
use crate::tx::Tx;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::reconcile::{self, AttendanceStatus, Direction, EvidenceSource};
use whereabouts_core::{Issue, IssueCode, Lang};

/// The largest evidence upload accepted, in bytes.
pub const MAX_EVIDENCE_BYTES: usize = 32 * 1024 * 1024;
/// The most records one import may carry.
pub const MAX_EVIDENCE_ROWS: usize = 500_000;

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

/// An import as asked: its batch, subtree and source, every row checked on
/// its own fields.
pub struct Batch {
    /// The id the import gets when it is new.
    pub id: Uuid,
    /// The batch's key, trimmed.
    pub batch_key: String,
    /// The subtree.
    pub unit_id: Uuid,
    /// The source.
    pub source: EvidenceSource,
    /// The rows refused so far.
    pub rejected: Vec<RejectedRow>,
    /// The rows whose own fields passed, with those fields.
    pub checked: Vec<(i32, EvidenceRecordInput, Checked)>,
}

impl Batch {
    /// Checks each row's own fields; who a row names is checked on import.
    pub fn checked(
        batch_key: String,
        unit_id: Uuid,
        source: EvidenceSource,
        window: (Option<NaiveDate>, Option<NaiveDate>),
        rows: Vec<CsvRow>,
        lang: Lang,
    ) -> Result<Self, ApiError> {
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
            let Ok(record) = record else {
                let shape = json!({"reason": "row_shape"});
                rejected.push(reject(row, IssueCode::Invalid, "row", shape, lang));
                continue;
            };
            match check_record(row, source, window, &record, lang) {
                Err(r) => rejected.push(r),
                Ok(fields) => checked.push((row, record, fields)),
            }
        }
        Ok(Self {
            id: Uuid::new_v4(),
            batch_key,
            unit_id,
            source,
            rejected,
            checked,
        })
    }
}

/// An import's result, and whether this call wrote it.
pub enum Imported {
    /// The batch was imported before: its first result.
    Earlier(EvidenceImportResult),
    /// Imported now.
    New(EvidenceImportResult),
}

/// Imports a batch into a subtree the caller supervises: matches each row to
/// the person it names inside the subtree, and writes the import and its
/// accepted records. A batch key imported before answers its first result.
pub fn import(
    tx: &mut Tx<'_>,
    who: &Principal,
    batch: Batch,
    lang: Lang,
) -> Result<Imported, ApiError> {
    let conn = &mut *tx.conn;
    let Batch {
        id,
        batch_key,
        unit_id,
        source,
        mut rejected,
        checked,
    } = batch;
    policy::authorize(conn, who, Action::Supervise, unit_id)?;
    if let Some(first) = load_import(conn, unit_id, &batch_key)? {
        return Ok(Imported::Earlier(to_result(first)?));
    }
    let people = named_in(conn, unit_id, &checked)?;
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
    Ok(Imported::New(to_result(row)?))
}

/// A person a row may name: id, employee number, login, the path of their node.
type Named = (Uuid, Option<String>, String, Vec<Uuid>);

/// The people of a subtree the checked rows name, by employee number or
/// login: id, employee number, login, the path of their node.
fn named_in(
    conn: &mut PgConnection,
    unit_id: Uuid,
    checked: &[(i32, EvidenceRecordInput, Checked)],
) -> Result<Vec<Named>, ApiError> {
    let numbers: Vec<&str> = checked
        .iter()
        .filter_map(|(_, r, _)| text(&r.employee_no))
        .collect();
    let logins: Vec<&str> = checked
        .iter()
        .filter_map(|(_, r, _)| text(&r.login))
        .collect();
    Ok(accounts::table
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
        .load(conn)?)
}
