//! Sessions as their account sees them: the list of its live sessions, ending
//! one, and an administrator ending all of an account's sessions.

use crate::error::ApiError;
use crate::extract::{AppState, Principal};
use crate::policy::{self, Action};
use crate::sessions::alive;
use crate::store::sessions as store;
use crate::tx::Claim;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A live session of the caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// The session.
    pub id: Uuid,
    /// When its login was.
    pub created_at: DateTime<Utc>,
    /// When it was last used: its login or its last token refresh.
    pub last_used_at: DateTime<Utc>,
    /// The `User-Agent` of its login.
    pub user_agent: Option<String>,
    /// The client address of its login.
    pub address: Option<String>,
    /// Whether it is the session of the token this request came with.
    pub current: bool,
}

/// The caller's live sessions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// The most recently used first.
    pub items: Vec<Session>,
}

/// List the caller's sessions
///
/// Any signed-in account, for itself. Answers every live session of the
/// account (each login starts one), the most recently used first: when and
/// from which user agent and address it logged in, when it was last used,
/// and whether it is the session of this request (`current`). A session
/// ends at logout, when ended here or by an administrator, when the password
/// changes (every other session), when unused for the idle lifetime, and at
/// the latest the longest lifetime after its login.
#[utoipa::path(get, path = "/api/v1/me/sessions", operation_id = "listMySessions", tag = "me",
    responses((status = 200, body = SessionList, description = "The caller's live sessions"), (status = 401)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    who: Principal,
) -> Result<web::Json<SessionList>, ApiError> {
    let alive = alive(&state.config);
    let rows = state
        .db
        .run(move |conn| store::live_sessions(conn, who.account_id, alive))
        .await?;
    let items = rows
        .into_iter()
        .map(|row| Session {
            current: row.id == who.session_id,
            id: row.id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            user_agent: row.user_agent,
            address: row.address,
        })
        .collect();
    Ok(web::Json(SessionList { items }))
}

/// End one of the caller's sessions
///
/// Any signed-in account, for itself: the session must be one of the
/// caller's live sessions (404 `not_found` otherwise, also for another
/// account's session). It ends at once: its refresh token is refused and its
/// access tokens stop working, the current session's too when it is the one
/// ended. Answers 204.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", operation_id = "endMySession", tag = "me",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "The session has ended"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn end(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let alive = alive(&state.config);
    state
        .db
        .transaction(None, move |tx| {
            if !store::is_live_session_of(tx.conn, who.account_id, id, alive)? {
                return Err(ApiError::NotFound);
            }
            crate::sessions::end(tx.conn, id)?;
            tx.audit.record(
                Some(who.account_id),
                "session",
                Some(id),
                "end",
                serde_json::json!({"account_id": who.account_id}),
            );
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of an account
///
/// System administrators and unit admins allowed to act on the account:
/// their scope must hold its node (404 `not_found` otherwise) and every node
/// it leads, and be strictly wider than every grant it holds (403 `forbidden`
/// otherwise; a unit admin never acts on a system administrator). No one does
/// this to their own account (403 `self_change_forbidden`): end your own
/// sessions under `/me/sessions`.
///
/// Every session of the account ends at once: its refresh tokens are refused
/// and its access tokens stop working. The account can log in again. Answers
/// 204.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/revoke-sessions", operation_id = "revokeAccountSessions", tag = "accounts",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 204, description = "Every session of the account has ended"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn revoke(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Uuid>,
    claim: Option<Claim>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .db
        .transaction(claim, move |tx| {
            policy::managed_account(tx.conn, &who, Action::ManageAccount, id)?;
            crate::sessions::end_all(tx.conn, id, None)?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(id),
                "revoke_sessions",
                serde_json::json!({}),
            );
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
