//! Evidence of where people were (itineraries, border crossings, attendance),
//! imported per unit subtree in batches, and reconciled against filings to
//! find people who left without reporting (API.md, "Evidence and
//! reconciliation"). What a reconciliation opens is answered in
//! `discrepancies`.

use crate::access::{self, Access, Entry, Requester};
use crate::error::ApiError;
use crate::extract::{AppState, Json, Principal, RequestLang, parse_json};
use crate::policy::{self, Action};
use crate::store::discrepancies::{
    self, MAX_WINDOW_DAYS, ReconciliationInput, ReconciliationResult,
};
use crate::store::evidence::{
    self as store, Batch, EvidenceImportInput, EvidenceImportParams, EvidenceImportResult,
    EvidenceUpload, Imported, MAX_EVIDENCE_BYTES, MAX_EVIDENCE_ROWS, read_csv,
};
use crate::tx::Claim;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
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
    let requester = Requester::of(&req);
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
    let batch = Batch::checked(batch_key, unit_id, source, window, rows, lang)?;
    let read = Entry::new(Access::EvidenceImport, Some(who.account_id))
        .target(batch.batch_key.clone())
        .units(vec![unit_id])
        .filters(
            json!({"unit_id": unit_id, "source": batch.source, "from": window.0, "to": window.1}),
        );
    let imported = state
        .db
        .transaction(claim, move |tx| {
            let imported = store::import(tx, &who, batch, lang)?;
            let rows = match &imported {
                Imported::Earlier(r) | Imported::New(r) => r.accepted,
            };
            let read = read.rows(usize::try_from(rows).unwrap_or(0));
            access::record(tx.conn, &requester, read)?;
            Ok(imported)
        })
        .await?;
    Ok(match imported {
        Imported::Earlier(first) => HttpResponse::Ok().json(first),
        Imported::New(result) => HttpResponse::Created().json(result),
    })
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
            discrepancies::reconcile(tx, &st, &who, &input)
        })
        .await?;
    Ok(HttpResponse::Created().json(result))
}
