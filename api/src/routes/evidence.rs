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
use crate::policy::{self, Action};
use crate::schema::{
    accounts, discrepancies, discrepancy_events, evidence, evidence_imports, reconciliations, units,
};
use crate::store::enums::{enum_name, parse_enum};
use crate::store::evidence::{
    Accepted, Decision, Discrepancy, DiscrepancyAction, DiscrepancyRow, DiscrepancyStatus,
    EarlierRow, EvidenceImportInput, EvidenceImportParams, EvidenceImportResult, EvidenceUpload,
    MAX_EVIDENCE_BYTES, MAX_EVIDENCE_ROWS, MAX_WINDOW_DAYS, Opened, ReconciliationInput,
    ReconciliationResult, check_record, find, load_import, read_csv, record_opened, reject, text,
    to_discrepancies, to_result,
};
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
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::reconcile::{DiscrepancyKind, Found};
use whereabouts_core::{Issue, IssueCode};

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
