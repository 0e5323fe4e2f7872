//! Sessions: what a login starts and logout ends.
//!
//! A session is a row in `sessions`; its refresh tokens form one family whose
//! `family_id` is the session's id, and every access token names it in its
//! `sid` claim. [`Authenticated::load`](crate::extract::Authenticated::load)
//! refuses a token whose session has ended in the same query that loads the
//! account, so ending a session stops its access and refresh tokens at once.
//! A session keeps when and where it started and when it was last refreshed,
//! for the caller's list of sessions.

use crate::access::{self, Access, Entry, Requester};
use crate::auth;
use crate::config::Config;
use crate::error::ApiError;
use crate::extract::{AppState, client_address};
use crate::store::sessions::{self as store, Alive};
use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, Duration, Utc};
use diesel::PgConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest user agent kept, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Where a session started: the client's user agent and address.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The `User-Agent` header, cut to [`MAX_USER_AGENT_CHARS`].
    pub user_agent: Option<String>,
    /// The client's address.
    pub address: Option<String>,
}

impl Origin {
    /// The origin of a request.
    pub fn of(req: &HttpRequest) -> Self {
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim()
                    .chars()
                    .take(MAX_USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|v| !v.is_empty());
        let address = req.peer_addr().map(|_| client_address(req));
        Self {
            user_agent,
            address,
        }
    }
}

/// Which sessions are alive now under the configured lifetimes: a session
/// ends when unused for `WHEREABOUTS_SESSION_IDLE_MINUTES` and at the latest
/// `WHEREABOUTS_SESSION_MAX_HOURS` after its login.
pub fn alive(config: &Config) -> Alive {
    let now = Utc::now();
    Alive {
        used_after: now - Duration::minutes(config.session_idle_minutes),
        started_after: now - Duration::hours(config.session_max_hours),
    }
}

/// Starts a session for an account; answers its id.
pub fn start(conn: &mut PgConnection, account_id: Uuid, origin: &Origin) -> Result<Uuid, ApiError> {
    store::start_session(
        conn,
        account_id,
        origin.user_agent.as_deref(),
        origin.address.as_deref(),
    )
}

/// Records that a session was used (a refresh).
pub fn touch(conn: &mut PgConnection, session_id: Uuid) -> Result<(), ApiError> {
    store::touch_session(conn, session_id)
}

/// Ends a session: its access tokens stop at once and its refresh tokens are
/// revoked.
pub fn end(conn: &mut PgConnection, session_id: Uuid) -> Result<(), ApiError> {
    store::end_session(conn, session_id)
}

/// Ends every session of an account but `keep` (suspension, password
/// changes), and revokes every refresh token of the account, `keep`'s too:
/// the caller issues that session a new one.
pub fn end_all(
    conn: &mut PgConnection,
    account_id: Uuid,
    keep: Option<Uuid>,
) -> Result<(), ApiError> {
    store::end_sessions_of(conn, account_id, keep)
}

/// Ends every other session of an account (a second factor enrolled or
/// removed); `keep`, the caller's, goes on with the tokens it holds.
pub fn end_others(conn: &mut PgConnection, account_id: Uuid, keep: Uuid) -> Result<(), ApiError> {
    store::end_other_sessions(conn, account_id, keep)
}

/// Starts a session for an account whose credentials held, appends the
/// sign-in to the access log (with `filters`) and answers its token pair.
pub fn sign_in(
    conn: &mut PgConnection,
    state: &AppState,
    account: &store::Credentials,
    origin: &Origin,
    requester: &Requester,
    filters: serde_json::Value,
) -> Result<Tokens, ApiError> {
    let session = start(conn, account.id, origin)?;
    let signed_in = Entry::new(Access::Login, Some(account.id))
        .target(session.to_string())
        .filters(filters)
        .units(account.unit_id.into_iter().collect());
    access::record(conn, requester, signed_in)?;
    issue_tokens(
        conn,
        state,
        account.id,
        account.credentials_changed_at,
        session,
    )
}

/// A token pair.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Tokens {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque token for `/auth/refresh`; single use.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Issues a token pair in a session.
pub fn issue_tokens(
    conn: &mut PgConnection,
    state: &AppState,
    account_id: Uuid,
    credentials_changed_at: DateTime<Utc>,
    session_id: Uuid,
) -> Result<Tokens, ApiError> {
    let now = Utc::now();
    let config = &state.config;
    let access_token = state
        .keys
        .issue(
            account_id,
            session_id,
            credentials_changed_at,
            now,
            config.access_ttl_seconds,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "could not sign a token");
            ApiError::Internal
        })?;
    let refresh_token = auth::random_token(32);
    store::add_refresh_token(
        conn,
        session_id,
        account_id,
        &auth::token_hash(&refresh_token),
        now + Duration::days(config.refresh_ttl_days),
    )?;
    Ok(Tokens {
        access_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: config.access_ttl_seconds,
    })
}
