//! Sessions: what a login starts and logout ends.
//!
//! A session is a row in `sessions`; its refresh tokens form one family whose
//! `family_id` is the session's id, and every access token names it in its
//! `sid` claim. [`Authenticated::load`](crate::extract::Authenticated::load)
//! refuses a token whose session has ended in the same query that loads the
//! account, so ending a session stops its access and refresh tokens at once.
//! A session keeps when and where it started and when it was last refreshed,
//! for the caller's list of sessions.

use crate::auth;
use crate::error::ApiError;
use crate::extract::{AppState, client_address};
use crate::schema::{refresh_tokens, sessions};
use actix_web::HttpRequest;
use actix_web::http::header;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
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

/// Starts a session for an account; answers its id.
pub fn start(conn: &mut PgConnection, account_id: Uuid, origin: &Origin) -> QueryResult<Uuid> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(Uuid::new_v4()),
            sessions::account_id.eq(account_id),
            sessions::user_agent.eq(&origin.user_agent),
            sessions::address.eq(&origin.address),
        ))
        .returning(sessions::id)
        .get_result(conn)
}

/// Records that a session was used (a refresh).
pub fn touch(conn: &mut PgConnection, session_id: Uuid) -> QueryResult<usize> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::last_used_at.eq(diesel::dsl::now))
        .execute(conn)
}

/// Ends a session: its access tokens stop at once and its refresh tokens are
/// revoked.
pub fn end(conn: &mut PgConnection, session_id: Uuid) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(diesel::dsl::now))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(session_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of an account but `keep` (suspension, password
/// changes), and revokes every refresh token of the account, `keep`'s too:
/// the caller issues that session a new one.
pub fn end_all(conn: &mut PgConnection, account_id: Uuid, keep: Option<Uuid>) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::ended_at.is_null())
            .filter(sessions::id.ne(keep.unwrap_or_default())),
    )
    .set(sessions::ended_at.eq(diesel::dsl::now))
    .execute(conn)?;
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::account_id.eq(account_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(())
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
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::new_v4()),
            refresh_tokens::family_id.eq(session_id),
            refresh_tokens::account_id.eq(account_id),
            refresh_tokens::token_hash.eq(auth::token_hash(&refresh_token)),
            refresh_tokens::expires_at.eq(now + Duration::days(config.refresh_ttl_days)),
        ))
        .execute(conn)?;
    Ok(Tokens {
        access_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: config.access_ttl_seconds,
    })
}
