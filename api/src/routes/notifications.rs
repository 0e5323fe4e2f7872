//! The in-app notification feed, and webhook registrations.

use crate::auth::random_token;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, Json, Principal};
use crate::page::{PageParams, paginate, parse_time_key, time_key};
use crate::policy::{self, Action, Scope};
use crate::store::Within;
use crate::store::notifications::{self as store, Notification};
use crate::tx::Claim;
use crate::webhook_target;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// Filters for the feed.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedParams {
    /// Only unread notifications.
    pub unread: Option<bool>,
}

crate::page_schema!(
/// A page of notifications.
    NotificationPage,
    Notification,
    "Notifications, newest first.",
    "Cursor of the next page."
);

/// List the caller's notifications
///
/// Any signed-in account, for itself: its in-app feed. Each notification has
/// a `kind` and `data` shaped by it: `approval_requested` (a filing awaits the
/// caller's decision, as approver or delegate), `filing_decided` and
/// `extension_decided` (the caller's filing or extension was approved or
/// rejected), `return_report_due`, `return_overdue`, and `discrepancy_opened`
/// (a reconciliation found a discrepancy about the caller, to explain with
/// `explainDiscrepancy`). `unread=true` keeps
/// the unread ones. Newest first; one page per call, as `{items,
/// next_cursor}`: pass `next_cursor` back as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/me/notifications", operation_id = "listNotifications", tag = "notifications", params(FeedParams, PageParams),
    responses((status = 200, body = NotificationPage, description = "A page of the caller's notifications, newest first"), (status = 401), (status = 422)),
    security(("bearer" = [])))]
pub async fn feed(
    state: web::Data<AppState>,
    who: Principal,
    filter: web::Query<FeedParams>,
    params: web::Query<PageParams>,
) -> Result<web::Json<NotificationPage>, ApiError> {
    let limit = params.limit()?;
    let after = params.after()?;
    let page = state
        .db
        .run(move |conn| {
            let after = after.as_deref().map(parse_time_key).transpose()?;
            let rows = store::feed(
                conn,
                who.account_id,
                filter.unread == Some(true),
                after,
                limit + 1,
            )?;
            let (items, next_cursor) = paginate(rows, limit, |n| time_key(n.created_at, n.id));
            Ok(NotificationPage { items, next_cursor })
        })
        .await?;
    Ok(web::Json(page))
}

/// Mark one of the caller's notifications read
///
/// Any signed-in account, for its own notifications; another account's, or
/// an unknown one, answers 404 `not_found`. Sets `read_at` the first time;
/// marking it again changes nothing. Answers the notification.
#[utoipa::path(post, path = "/api/v1/me/notifications/{id}/read", operation_id = "markNotificationRead", tag = "notifications", params(("id" = Uuid, Path)),
    responses((status = 200, body = Notification, description = "The notification, with `read_at` set"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn read(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<web::Json<Notification>, ApiError> {
    let id = id.into_inner();
    let note = state
        .db
        .run(move |conn| store::mark_read(conn, who.account_id, id))
        .await?;
    Ok(web::Json(note))
}

/// A webhook to register.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWebhook {
    /// Where to POST events: `http` or `https`, no user-info, and never an
    /// address inside the network in any notation (422
    /// `webhook_target_forbidden`).
    pub url: String,
    /// The HMAC-SHA256 key, 16 to 200 characters; generated when absent.
    pub secret: Option<String>,
    /// Event names to send (`filing.submit`, `filing.approve`, …, `filing.overdue`); empty for all.
    #[serde(default)]
    pub events: Vec<String>,
    /// The subtree whose filings it hears about, inside the caller's scope.
    /// Defaults to the caller's scope: the whole tree for a system
    /// administrator over the whole tree, else the root of its one grant
    /// (required when it holds several).
    pub unit_id: Option<Uuid>,
}

/// A registered webhook. Deliveries are POSTs of `{delivery_id, event,
/// created_at, data}` signed in `x-whereabouts-signature: sha256=<hex HMAC of the body>`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    /// Id.
    pub id: Uuid,
    /// Target.
    pub url: String,
    /// Events it receives (empty: all).
    pub events: Vec<String>,
    /// The subtree whose filings it hears about; `null` for the whole tree.
    pub unit_id: Option<Uuid>,
    /// The signing key, answered only when created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Register a webhook for the filings of a subtree
///
/// System administrators only (403 `forbidden` to everyone else), over a
/// subtree of their scope: `unit_id` defaults to the root of the caller's one
/// system administrator grant, or to the whole tree for a grant over the
/// whole tree; a caller holding several must name it (422
/// `validation_failed`), and a node outside the caller's scope answers 404
/// `not_found`. The webhook hears about filings inside that subtree: the
/// events `filing.submit`, `filing.approve`, `filing.reject`,
/// `filing.withdraw`, `filing.cancel`, `filing.depart`, `filing.return`,
/// `filing.extend`, `filing.return_report_due` and `filing.overdue`, or those
/// listed in `events` (empty: all). A webhook over the whole tree also hears
/// `audit.checkpoint`: every `WHEREABOUTS_AUDIT_CHECKPOINT_MINUTES`, a
/// checkpoint of the audit chain `{seq, hash, at, signature}` signed under
/// the server's audit key, to keep outside the database and check the chain
/// against with `whereabouts audit verify --checkpoint`.
///
/// Each delivery is a POST of `{delivery_id, event, created_at, data}` with
/// `x-whereabouts-signature: sha256=<hex HMAC-SHA256 of the body under the
/// secret>`, retried with backoff until the target answers 2xx. `secret` is 16
/// to 200 characters, generated when absent, and answered only here: keep
/// it. The target must be `http` or `https`, carry no user-info, and never be
/// a loopback, private, link-local, unique-local, multicast or unspecified
/// address in any notation (`127.1`, `0x7f000001`, `[::1]`, `localhost`):
/// 422 `webhook_target_forbidden`. Delivery checks the resolved address again
/// and follows no redirects.
#[utoipa::path(post, path = "/api/v1/webhooks", operation_id = "createWebhook", tag = "notifications",
    request_body(content = CreateWebhook, example = json!({
        "url": "https://oa.example.com/hooks/whereabouts",
        "events": ["filing.submit", "filing.approve", "filing.reject", "filing.overdue"],
        "unit_id": "a34d5473-f579-4ed8-8487-9ffe8826b5f9"
    })),
    responses((status = 201, body = Webhook, description = "The registered webhook, with its secret (shown only this once)"), (status = 400), (status = 401), (status = 403),
        (status = 404, description = "`unit_id` is unknown or outside the caller's scope"), (status = 422)),
    security(("bearer" = [])))]
pub async fn create_webhook(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<CreateWebhook>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    policy::require(&who, Action::ManageWebhooks)?;
    let body = body.0;
    let url = body.url.trim().to_owned();
    if url.len() > 2000 || url.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "url",
            json!({"reason": "not_an_http_url"}),
        ));
    }
    if let Err(refusal) = webhook_target::check(&url, state.config.webhook_allow_private) {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "url",
            json!({"reason": refusal.reason()}),
        )
        .with_code(ProblemCode::WebhookTargetForbidden));
    }
    let secret = match body.secret {
        Some(s) if (16..=200).contains(&s.chars().count()) => s,
        Some(_) => {
            return Err(ApiError::invalid(
                IssueCode::OutOfRange,
                "secret",
                json!({"min": 16, "max": 200}),
            ));
        }
        None => random_token(32),
    };
    if body
        .events
        .iter()
        .any(|e| e.is_empty() || e.len() > 100 || e.contains('\0'))
        || body.events.len() > 50
    {
        return Err(ApiError::invalid(IssueCode::Invalid, "events", json!({})));
    }
    let webhook = state
        .db
        .transaction(claim, move |tx| {
            let conn = &mut *tx.conn;
            let unit_id = match (body.unit_id, policy::scope(&who, Action::ManageWebhooks)) {
                (Some(unit), _) => {
                    policy::authorize(conn, &who, Action::ManageWebhooks, unit)?;
                    Some(unit)
                }
                (None, Scope::Tree) => None,
                (None, Scope::Subtrees(roots)) if roots.len() == 1 => roots.first().copied(),
                (None, _) => {
                    return Err(ApiError::invalid(IssueCode::Required, "unit_id", json!({})));
                }
            };
            let id = Uuid::new_v4();
            let created_at = store::create_webhook(
                conn,
                id,
                &url,
                &secret,
                &body.events,
                who.account_id,
                unit_id,
            )?;
            tx.audit.record(
                Some(who.account_id),
                "webhook",
                Some(id),
                "create",
                json!({"url": url, "events": body.events, "unit_id": unit_id}),
            );
            Ok(Webhook {
                id,
                url,
                events: body.events,
                unit_id,
                secret: Some(secret),
                created_at,
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(webhook))
}

/// List the webhooks in the caller's scope
///
/// System administrators only (403 `forbidden` to everyone else). Answers
/// the webhooks over nodes in the caller's scope (every webhook, those over
/// the whole tree included, for a grant over the whole tree), oldest first,
/// without their secrets. Not paged.
#[utoipa::path(get, path = "/api/v1/webhooks", operation_id = "listWebhooks", tag = "notifications",
    responses((status = 200, body = Vec<Webhook>, description = "The webhooks in the caller's scope, oldest first"), (status = 401), (status = 403)),
    security(("bearer" = [])))]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    who: Principal,
) -> Result<web::Json<Vec<Webhook>>, ApiError> {
    policy::require(&who, Action::ManageWebhooks)?;
    let list = state
        .db
        .run(move |conn| {
            let rows = store::webhooks(conn, &webhook_scope(&who))?;
            Ok(rows
                .into_iter()
                .map(|row| Webhook {
                    id: row.id,
                    url: row.url,
                    events: row.events,
                    unit_id: row.unit_id,
                    secret: None,
                    created_at: row.created_at,
                })
                .collect())
        })
        .await?;
    Ok(web::Json(list))
}

/// The part of the tree whose webhooks the caller manages.
fn webhook_scope(who: &Principal) -> Within {
    match policy::scope(who, Action::ManageWebhooks).roots() {
        Some(roots) => Within::Roots(roots),
        None => Within::All,
    }
}

/// Remove a webhook
///
/// System administrators only (403 `forbidden` to everyone else), for a
/// webhook in their scope: one unknown, outside it or removed already answers
/// 404 `not_found`. Deliveries not yet made are dropped.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", operation_id = "deleteWebhook", tag = "notifications", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Removed; its undelivered events are dropped. No body"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    policy::require(&who, Action::ManageWebhooks)?;
    let id = id.into_inner();
    state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            if !store::webhook_visible(conn, &webhook_scope(&who), id)? {
                return Err(ApiError::NotFound);
            }
            if !store::remove_webhook(conn, id)? {
                return Err(ApiError::NotFound);
            }
            tx.audit.record(
                Some(who.account_id),
                "webhook",
                Some(id),
                "delete",
                json!({}),
            );
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
