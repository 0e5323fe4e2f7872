//! Travel documents in the unit's custody: passports and passes registered per
//! person, their numbers sealed at rest (ChaCha20-Poly1305 with a key from
//! configuration) and masked in every answer except to the unit
//! administrators of the holder's scope; checked out only against an
//! approved filing of the matching kind, due back a configured number of days
//! after the trip's return.

use crate::access::{self, Access, Entry, Requester};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, Json, Principal, etag};
use crate::page::{PageParams, paginate};
use crate::policy::{self, Action};
use crate::store::Within;
use crate::store::documents::{
    self as store, Document, DocumentInput, Listed, NewDocument, Row, TripFiling, audit_state,
    load_row, one, seal, to_documents,
};
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::IssueCode;
use whereabouts_core::assessment::DocumentKind;

/// Register a passport or pass for a person
///
/// System administrators and unit admins whose scope holds the holder's node
/// (403 `forbidden` to callers holding neither role; a holder unknown, of no
/// unit or outside their scope answers 422 `validation_failed`, issue
/// `unknown_person` on `account_id`). `kind` is `passport` (private trips
/// abroad), `hk_macau_pass` (Hong Kong and Macau) or `taiwan_pass`;
/// `number` is 5 to 20 letters and digits, stored in upper case, sealed
/// before it reaches the database and never logged; `expires_on` is after
/// `issued_on`. `in_custody` (default true) says the unit keeps the document
/// in its safe, to hand it out with `checkOutDocument`. Answers 201 with the
/// document, its number unmasked, and its `ETag`.
#[utoipa::path(post, path = "/api/v1/documents", operation_id = "registerDocument", tag = "documents",
    request_body(content = DocumentInput, example = json!({
        "account_id": "69456932-238a-4801-b468-0fdfcf3667ec",
        "kind": "passport",
        "number": "E12345678",
        "issued_on": "2022-03-15",
        "expires_on": "2032-03-14",
        "in_custody": true
    })),
    responses((status = 201, body = Document, description = "The registered document, with its `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<DocumentInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    policy::require(&who, Action::KeepDocuments)?;
    crate::input::dates_in_range([
        ("issued_on", Some(input.issued_on)),
        ("expires_on", Some(input.expires_on)),
    ])?;
    let number: String = input.number.trim().to_uppercase();
    let mut issues = Vec::new();
    if !(5..=20).contains(&number.chars().count())
        || !number.chars().all(|c| c.is_ascii_alphanumeric())
    {
        issues.push(whereabouts_core::Issue::new(
            IssueCode::Invalid,
            Some("number".into()),
            json!({"reason": "5_to_20_letters_and_digits"}),
        ));
    }
    if input.expires_on <= input.issued_on {
        issues.push(whereabouts_core::Issue::new(
            IssueCode::OutOfRange,
            Some("expires_on".into()),
            json!({"min": input.issued_on}),
        ));
    }
    if !issues.is_empty() {
        return Err(ApiError::Validation(issues));
    }
    let st = state.clone();
    let document = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let Some((unit, path)) = store::holder_node(conn, input.account_id)? else {
                return Err(ApiError::invalid(
                    IssueCode::UnknownPerson,
                    "account_id",
                    json!({}),
                ));
            };
            if !policy::covers(conn, &who, Action::KeepDocuments, unit)? {
                return Err(ApiError::invalid(
                    IssueCode::UnknownPerson,
                    "account_id",
                    json!({}),
                ));
            }
            let id = Uuid::new_v4();
            let (sealed, nonce) = seal(&st.config.document_key, id, &number)?;
            store::register(
                conn,
                &NewDocument {
                    id,
                    account_id: input.account_id,
                    unit_path: &path,
                    kind: input.kind,
                    number_sealed: &sealed,
                    number_nonce: &nonce,
                    issued_on: input.issued_on,
                    expires_on: input.expires_on,
                    in_custody: input.in_custody.unwrap_or(true),
                    registered_by: who.account_id,
                },
            )?;
            let document = one(conn, &st, &who, id)?;
            tx.audit.record(
                Some(who.account_id),
                "document",
                Some(id),
                "create",
                audit_state(&document),
            );
            Ok(document)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", etag(document.version)))
        .json(document))
}

/// Which documents to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DocumentParams {
    /// A subtree (default: the caller's whole scope).
    pub unit_id: Option<Uuid>,
    /// One holder.
    pub account_id: Option<Uuid>,
    /// Only those checked out and past their due day.
    pub overdue: Option<bool>,
    /// Only those expiring within this many days from today (0 to 3,650).
    pub expiring_within_days: Option<i64>,
}

crate::page_schema!(
/// A page of documents.
    DocumentPage,
    Document,
    "Documents, by expiry then id.",
    "Pass as `cursor` for the next page; absent on the last."
);

/// List the travel documents in the caller's scope
///
/// System administrators, unit admins and inspectors: the documents whose
/// holder's node lies in their scope (403 `forbidden` to callers holding
/// none of these roles). Numbers are whole only for system administrators
/// and unit admins of the holder's scope, and masked for everyone else
/// (`******678`: at most the last three characters, never more than a third
/// of them). Filters: `unit_id` (a subtree; 404 `not_found` outside the
/// caller's scope), `account_id`, `overdue` (checked out and past the due
/// day) and `expiring_within_days` (0 to 3,650). Soonest expiry first; one
/// page per call, as `{items, next_cursor}`: pass `next_cursor` back as
/// `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/documents", operation_id = "listDocuments", tag = "documents", params(DocumentParams, PageParams),
    responses((status = 200, body = DocumentPage, description = "A page of documents, soonest expiry first"), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<DocumentParams>,
    params: web::Query<PageParams>,
    requester: Requester,
) -> Result<web::Json<DocumentPage>, ApiError> {
    policy::require(&who, Action::Supervise)?;
    let limit = params.limit()?;
    let after = params.after()?;
    let filter = filter.into_inner();
    if filter
        .expiring_within_days
        .is_some_and(|d| !(0..=3650).contains(&d))
    {
        return Err(ApiError::invalid(
            IssueCode::OutOfRange,
            "expiring_within_days",
            json!({"min": 0, "max": 3650}),
        ));
    }
    let st = state.clone();
    let page = state
        .db
        .run(move |conn| {
            let today = st
                .config
                .now()
                .with_timezone(&st.config.time_zone)
                .date_naive();
            let within = match filter.unit_id {
                Some(unit) => {
                    policy::authorize(conn, &who, Action::Supervise, unit)?;
                    Within::Subtree(unit)
                }
                None => match policy::scope(&who, Action::Supervise).roots() {
                    Some(roots) => Within::Roots(roots),
                    None => Within::All,
                },
            };
            let after = after
                .map(|after| {
                    after
                        .split_once('|')
                        .and_then(|(d, id)| {
                            Some((d.parse::<NaiveDate>().ok()?, id.parse::<Uuid>().ok()?))
                        })
                        .ok_or_else(|| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))
                })
                .transpose()?;
            let rows = store::page(
                conn,
                &Listed {
                    within,
                    account_id: filter.account_id,
                    expiring_by: filter
                        .expiring_within_days
                        .map(|d| today + Duration::days(d)),
                    overdue: filter.overdue,
                    today,
                },
                after,
                limit + 1,
            )?;
            let (rows, next_cursor) =
                paginate(rows, limit, |r| format!("{}|{}", r.expires_on, r.id));
            let items = to_documents(conn, &st, &who, rows)?;
            let whole = items.iter().filter(|d| !d.number_masked).count();
            if whole > 0 {
                let read = Entry::read(
                    Access::DocumentNumber,
                    &who,
                    Action::Supervise,
                    filter.unit_id,
                );
                access::record(conn, &requester, read.rows(whole))?;
            }
            Ok(DocumentPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

/// Read a travel document
///
/// Its holder, and system administrators, unit admins and inspectors whose
/// scope holds the holder's node; anyone else gets 404 `not_found`. The
/// number is whole only for system administrators and unit admins of the
/// holder's scope, and masked for everyone else, the holder included.
/// Answers the document, where it is now (`held`, `checked_out` or
/// `with_holder`) with its current checkout, and its `ETag`.
#[utoipa::path(get, path = "/api/v1/documents/{id}", operation_id = "getDocument", tag = "documents", params(("id" = Uuid, Path)),
    responses((status = 200, body = Document, description = "The document, with its `ETag`"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    requester: Requester,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let st = state.clone();
    let document = state
        .db
        .run(move |conn| {
            let row = load_row(conn, id)?;
            let node = row.unit_path.last().copied();
            let holder = row.account_id == who.account_id;
            let reader = policy::scope(&who, Action::Supervise).holds(&row.unit_path);
            if !holder && !reader {
                return Err(ApiError::NotFound);
            }
            let document = to_documents(conn, &st, &who, vec![row])?
                .pop()
                .ok_or_else(|| ApiError::broken("the document just loaded"))?;
            if !document.number_masked {
                let read = Entry::new(Access::DocumentNumber, Some(who.account_id))
                    .target(id.to_string())
                    .units(node.into_iter().collect())
                    .rows(1);
                access::record(conn, &requester, read)?;
            }
            Ok(document)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(document.version)))
        .json(document))
}

/// The filing a checkout is for.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckoutInput {
    /// An approved filing of the holder, of the kind the document serves.
    pub filing_id: Uuid,
}

/// Keeps a document's row for a unit administrator of its holder; anyone
/// else gets 404.
fn administered(who: &Principal, row: Row) -> Result<Row, ApiError> {
    let admin = policy::scope(who, Action::KeepDocuments).holds(&row.unit_path);
    if !admin {
        return Err(ApiError::NotFound);
    }
    Ok(row)
}

/// Hand a document in custody to its holder for an approved trip
///
/// System administrators and unit admins whose scope holds the holder's node
/// (403 `forbidden` to callers holding neither role; 404 `not_found` for a
/// document unknown or outside their scope). `filing_id` must be a filing of
/// the document's holder whose trip kind the document serves: a passport for
/// `abroad_private`, the Hong Kong and Macau pass for `hk_macau_private`, the
/// Taiwan pass for `taiwan_private` (422 `validation_failed` on `filing_id`
/// otherwise, reason `unknown_filing`, `another_persons_filing` or
/// `kind_mismatch`), and it must be `approved` (409 `filing_not_approved`
/// otherwise, for a `recorded` or `away` filing too). 409 `not_in_custody`
/// when the unit does not keep the document, 409 `already_checked_out` when
/// it is out already. The document is due back a configured number of days
/// after the trip's return (`checkout.due_on`). Answers the document with its
/// new `ETag`.
#[utoipa::path(post, path = "/api/v1/documents/{id}/checkout", operation_id = "checkOutDocument", tag = "documents", params(("id" = Uuid, Path)),
    request_body(content = CheckoutInput, example = json!({"filing_id": "9dd0ccc9-7172-44e8-ac50-3ff9f6cb6cec"})),
    responses((status = 200, body = Document, description = "The document, now checked out, with its new `ETag`"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn checkout(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    body: Json<CheckoutInput>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let filing_id = body.0.filing_id;
    policy::require(&who, Action::KeepDocuments)?;
    let st = state.clone();
    let document = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let row = administered(&who, store::lock_row(conn, id)?)?;
            if !row.in_custody {
                return Err(ApiError::Conflict(ProblemCode::NotInCustody));
            }
            if store::is_checked_out(conn, id)? {
                return Err(ApiError::Conflict(ProblemCode::AlreadyCheckedOut));
            }
            let Some(TripFiling {
                account_id: holder,
                status,
                kind,
                return_on,
            }) = store::trip_filing(conn, filing_id)?
            else {
                return Err(ApiError::invalid(
                    IssueCode::Invalid,
                    "filing_id",
                    json!({"reason": "unknown_filing"}),
                ));
            };
            if holder != row.account_id {
                return Err(ApiError::invalid(
                    IssueCode::Invalid,
                    "filing_id",
                    json!({"reason": "another_persons_filing"}),
                ));
            }
            let document_kind: DocumentKind = crate::store::enums::parse_enum(&row.kind)?;
            let serves = kind
                .as_deref()
                .map(crate::store::enums::parse_enum::<whereabouts_core::TripKind>)
                .transpose()?
                .and_then(DocumentKind::for_trip);
            if serves != Some(document_kind) {
                return Err(ApiError::invalid(
                    IssueCode::Invalid,
                    "filing_id",
                    json!({"reason": "kind_mismatch", "needs": document_kind.trip_kind()}),
                ));
            }
            if status != "approved" {
                return Err(ApiError::Conflict(ProblemCode::FilingNotApproved));
            }
            let return_on = return_on
                .ok_or_else(|| ApiError::broken("the return day of an approved filing"))?;
            store::check_out(
                conn,
                &row,
                filing_id,
                who.account_id,
                st.config.now(),
                return_on + Duration::days(st.config.document_return_days),
            )?;
            let document = one(conn, &st, &who, id)?;
            tx.audit.record(
                Some(who.account_id),
                "document",
                Some(id),
                "checkout",
                audit_state(&document),
            );
            Ok(document)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(document.version)))
        .json(document))
}

/// Take a checked-out document back into custody
///
/// System administrators and unit admins whose scope holds the holder's node
/// (403 `forbidden` to callers holding neither role; 404 `not_found` for a
/// document unknown or outside their scope). Ends the current checkout: the
/// document is `held` again. 409 `not_checked_out` when it is not out.
/// Answers the document with its new `ETag`.
#[utoipa::path(post, path = "/api/v1/documents/{id}/return", operation_id = "returnDocument", tag = "documents", params(("id" = Uuid, Path)),
    responses((status = 200, body = Document, description = "The document, back in custody, with its new `ETag`"), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub async fn return_(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    policy::require(&who, Action::KeepDocuments)?;
    let st = state.clone();
    let document = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let row = administered(&who, store::lock_row(conn, id)?)?;
            if !store::take_back(conn, &row, who.account_id, st.config.now())? {
                return Err(ApiError::Conflict(ProblemCode::NotCheckedOut));
            }
            let document = one(conn, &st, &who, id)?;
            tx.audit.record(
                Some(who.account_id),
                "document",
                Some(id),
                "return",
                audit_state(&document),
            );
            Ok(document)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(document.version)))
        .json(document))
}
