//! Reading the access log.

use crate::access::Access;
use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::page::{PageParams, paginate};
use crate::policy;
use crate::store::access_log::{self as store, Query};
use actix_web::web;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// One entry of the access log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessEntry {
    /// The entry.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`null`: a failed sign-in naming no account, or a refused request
    /// without a valid token).
    pub actor_id: Option<Uuid>,
    /// What: `ledger.read`, `ledger.export`, `roster.read`,
    /// `discrepancies.read`, `inspection.report`, `evidence.import`,
    /// `document.number`, `auth.login`, `auth.login_failed`,
    /// `auth.mfa_failed` or `authorization.refused`.
    pub action: String,
    /// What it was about: a node, a campaign, a batch key, a document, the
    /// session started, the login tried, or the method and path refused.
    pub target: Option<String>,
    /// The request's filters: its query string's parameters, or what the
    /// request was asked (for a refusal: `query` and the problem `code`).
    #[schema(value_type = std::collections::BTreeMap<String, Value>)]
    pub filters: Value,
    /// How many rows it answered (`null`: not counted, as for an export
    /// streamed).
    pub rows: Option<i64>,
    /// The client's address.
    pub address: Option<String>,
    /// The request id (`x-request-id`), to find the request in the server's logs.
    pub request_id: Option<String>,
}

crate::page_schema!(
/// A page of the access log.
    AccessLogPage,
    AccessEntry,
    "Entries, newest first.",
    "Cursor of the next page."
);

/// Which entries to read.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AccessLogParams {
    /// Only this actor's.
    pub actor_id: Option<Uuid>,
    /// Only this action.
    pub action: Option<String>,
    /// From this moment on.
    pub from: Option<DateTime<Utc>>,
    /// Before this moment.
    pub to: Option<DateTime<Utc>>,
}

/// Read the access log
///
/// System administrators read the entries about their scope, inspectors the
/// entries about their scope but their own (403 `forbidden` to everyone
/// else). An entry is about the subtree a read covered (the node asked for,
/// or the reader's whole scope), and a sign-in or refusal about its actor's
/// node; entries about the whole tree, or naming no account, are read by
/// system administrators over the whole tree only. The log holds every bulk
/// read of whereabouts (ledger pages and exports, rosters, discrepancy
/// lists, campaign reports, evidence imports, unmasked document numbers) and
/// every sign-in, failed sign-in and refused authorization, each with its
/// filters, the rows it answered, the client's address and the request id.
/// It is append-only and kept at least 180 days. Filters: `actor_id`,
/// `action` (422 `validation_failed` for an unknown one), and `from`..`to`.
/// Newest first; one page per call, as `{items, next_cursor}`: pass
/// `next_cursor` back as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/access-log", operation_id = "listAccessLog", tag = "audit", params(AccessLogParams, PageParams),
    responses((status = 200, body = AccessLogPage, description = "A page of the access log, newest first"), (status = 400), (status = 401), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<AccessLogParams>,
    params: web::Query<PageParams>,
) -> Result<web::Json<AccessLogPage>, ApiError> {
    let (within, leave_own_out) = policy::access_log_reader(&who)?;
    let limit = params.limit()?;
    let before = params
        .after()?
        .map(|key| {
            key.parse::<i64>()
                .map_err(|_| ApiError::invalid(IssueCode::Invalid, "cursor", json!({})))
        })
        .transpose()?;
    let filter = filter.into_inner();
    if let Some(action) = &filter.action
        && !Access::ALL.iter().any(|a| a.as_str() == action)
    {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "action",
            json!({"allowed": Access::ALL.map(Access::as_str)}),
        ));
    }
    let query = Query {
        actor_id: filter.actor_id,
        action: filter.action,
        from: filter.from,
        to: filter.to,
        within,
        not_of: leave_own_out.then_some(who.account_id),
        before,
        limit: limit + 1,
    };
    let rows = state
        .db
        .run(move |conn| Ok(store::page(conn, &query)?))
        .await?;
    let (rows, next_cursor) = paginate(rows, limit, |r| r.id.to_string());
    let items = rows
        .into_iter()
        .map(|r| AccessEntry {
            id: r.id,
            at: r.at,
            actor_id: r.actor_id,
            action: r.action,
            target: r.target,
            filters: r.filters,
            rows: r.rows,
            address: r.address,
            request_id: r.request_id,
        })
        .collect();
    Ok(web::Json(AccessLogPage { items, next_cursor }))
}
