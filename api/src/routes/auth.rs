//! Login, refresh and logout.
//!
//! A login starts a session ([`crate::sessions`]). Access tokens are short
//! JWTs naming their session; refresh tokens are opaque, stored hashed, rotate
//! on every use and stay in their session. A spent refresh token presented
//! again means it was stolen or replayed: the whole session ends. Logout ends
//! the session, and with it its access tokens at once. Failed logins are
//! throttled per (login, address), per login and per address in the database
//! ([`crate::throttle`]), so every replica agrees.
//!
//! An account with a second factor logs in in two steps: the password
//! answers a short-lived `mfa_token` (a JWT of its own audience, which no
//! other route takes), and the token with a code starts the session.

use crate::access::{self, Access, Entry, Requester};
use crate::auth::{self, DUMMY_HASH};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, Json, client_address};
use crate::mfa::{self, Accepted, Attempt, Code};
use crate::sessions::{Origin, Tokens, issue_tokens};
use crate::store::mfa as second_factor;
use crate::store::sessions as store;
use crate::throttle::{self, LoginBuckets};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login name.
    pub login: String,
    /// Password.
    pub password: String,
}

/// The first step of a login with a second factor: the password was right.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MfaChallenge {
    /// Always `true`: no token pair yet. Send `mfa_token` with a code to
    /// `completeMfaLogin`.
    pub mfa_required: bool,
    /// Proof of the right password, good only for `completeMfaLogin`.
    pub mfa_token: String,
    /// Seconds until `mfa_token` expires.
    pub expires_in: i64,
}

/// The answer to a login: a token pair, or for an account with a second
/// factor the challenge of the second step (with `mfa_required: true`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer {
    /// Logged in.
    Tokens(Tokens),
    /// A code is still to come.
    MfaChallenge(MfaChallenge),
}

/// The second step of a login.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MfaLogin {
    /// The `mfa_token` of the login's answer.
    pub mfa_token: String,
    /// The six digits the authenticator app shows, or an unused recovery
    /// code; spaces and dashes are ignored.
    pub code: String,
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Log in with login and password
///
/// Public: no bearer token. Checks the password and starts a session. The
/// answer holds a short-lived access token (a JWT valid for `expires_in`
/// seconds) to send as `Authorization: Bearer <access_token>` on every other
/// call, and a single-use refresh token to trade for a new pair with
/// `refreshToken` before the access token expires. The login is matched in
/// lower case.
///
/// For an account with a second factor the answer is instead
/// `{mfa_required: true, mfa_token, expires_in}` and no session starts yet:
/// send `mfa_token` with a code from the authenticator app (or a recovery
/// code) to `completeMfaLogin` within `expires_in` seconds.
///
/// A wrong login, a wrong password and a suspended account all answer the
/// same 401 `invalid_credentials`. Failed attempts are counted per login, per
/// client address and per the two together; past the limit every attempt,
/// even with the right password, answers 429 `rate_limited` with
/// `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", operation_id = "logIn", tag = "auth",
    request_body(content = LoginRequest, example = json!({"login": "zhang.wei", "password": "Chaoyang#2027"})),
    responses((status = 200, body = LoginAnswer, description = "Logged in (the token pair of a new session), or for an account with a second factor the challenge of the second step"), (status = 400), (status = 401, description = "Wrong login or password, or a suspended account (the same answer): `invalid_credentials`"), (status = 422), (status = 429, description = "Too many failed attempts (`rate_limited`): retry after `Retry-After` seconds")))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<web::Json<LoginAnswer>, ApiError> {
    let requester = Requester::of(&req);
    let body = body.0;
    let login = body.login.trim().to_lowercase();
    let buckets = LoginBuckets::new(&login, &client_address(&req));
    let origin = Origin::of(&req);
    let config = state.config.clone();
    let st = state.clone();
    let answer = state
        .db
        .run(move |conn| {
            let window = config.login_window_seconds;
            if let Some(wait) = throttle::wait(conn, &buckets.limits(&config), window)? {
                return Err(ApiError::RateLimited(wait));
            }
            let account = store::credentials(conn, &login)?;
            let verified = match &account {
                Some(account) => auth::verify_password(&body.password, &account.password_hash),
                None => {
                    // Spend the same time as for a real account.
                    auth::verify_password(&body.password, &DUMMY_HASH);
                    false
                }
            };
            match account {
                Some(account) if verified && account.status == "active" => {
                    // The login's own count over all addresses stays: an
                    // attack in progress elsewhere stays slowed down.
                    throttle::clear(conn, &[&buckets.pair])?;
                    if second_factor::is_enrolled(conn, account.id)? {
                        let now = Utc::now();
                        let mfa_token = st
                            .keys
                            .issue_challenge(
                                account.id,
                                account.credentials_changed_at,
                                now,
                                mfa::CHALLENGE_SECONDS,
                            )
                            .map_err(ApiError::internal("signing an mfa_token"))?;
                        return Ok(LoginAnswer::MfaChallenge(MfaChallenge {
                            mfa_required: true,
                            mfa_token,
                            expires_in: mfa::CHALLENGE_SECONDS,
                        }));
                    }
                    crate::tx::run(conn, None, |tx| {
                        crate::sessions::sign_in(
                            tx.conn,
                            &st,
                            &account,
                            &origin,
                            &requester,
                            json!({}),
                        )
                    })
                    .map(LoginAnswer::Tokens)
                }
                refused => {
                    // A suspended account is answered as a wrong password,
                    // and counted as one: the answer must not confirm the
                    // password, and suspension is no way round the throttle.
                    throttle::record_failure(conn, &buckets.all(), window)?;
                    let failed = Entry::new(Access::LoginFailed, refused.as_ref().map(|a| a.id))
                        .target(login.clone())
                        .filters(json!({}))
                        .units(refused.and_then(|a| a.unit_id).into_iter().collect());
                    access::record(conn, &requester, failed)?;
                    tracing::info!("failed login");
                    Err(ApiError::Unauthorized(ProblemCode::InvalidCredentials))
                }
            }
        })
        .await?;
    Ok(web::Json(answer))
}

/// Complete a login with the second factor
///
/// Public: no bearer token; the `mfa_token` of the login's answer is the
/// credential. `code` is the six digits the authenticator app shows now, or
/// one of the account's unused recovery codes (spent by this). Answers the
/// token pair of a new session, as a login without a second factor does.
///
/// A wrong code, one used already (a code is taken once, even within its 30
/// seconds) or a spent recovery code answers 401 `invalid_code`; the same
/// `mfa_token` may try again until it expires. Wrong codes are counted per
/// account and address as passwords are: past the limit every attempt
/// answers 429 `rate_limited` with `Retry-After`. An expired or unknown
/// `mfa_token`, one issued before the account's password changed or it was
/// suspended, or one of an account whose second factor has been removed
/// since, answers 401 `invalid_token`: log in again.
#[utoipa::path(post, path = "/api/v1/auth/mfa", operation_id = "completeMfaLogin", tag = "auth",
    request_body(content = MfaLogin, example = json!({"mfa_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "code": "492039"})),
    responses((status = 200, body = Tokens, description = "Logged in: the token pair of a new session"), (status = 400), (status = 401, description = "A wrong or used code (`invalid_code`), or an `mfa_token` that is not valid (`invalid_token`): log in again"), (status = 422), (status = 429, description = "Too many wrong codes (`rate_limited`): retry after `Retry-After` seconds")))]
pub async fn complete_mfa(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<MfaLogin>,
) -> Result<web::Json<Tokens>, ApiError> {
    let body = body.0;
    let code = Code::parse(&body.code)?;
    let claims = state
        .keys
        .verify_challenge(body.mfa_token.trim())
        .map_err(|_| ApiError::Unauthorized(ProblemCode::InvalidToken))?;
    let requester = Requester::of(&req);
    let origin = Origin::of(&req);
    let st = state.clone();
    let outcome = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let expired = || Ok(Err(ApiError::Unauthorized(ProblemCode::InvalidToken)));
            let Some(account) = store::credentials_of(conn, claims.sub)? else {
                return expired();
            };
            if account.status != "active"
                || account.credentials_changed_at.timestamp_micros() != claims.cv
            {
                return expired();
            }
            // A second factor removed since the password step: log in again.
            let attempt = Attempt {
                account_id: account.id,
                unit_id: account.unit_id,
                requester: &requester,
                purpose: "login",
                confirmed: true,
                unenrolled: || ApiError::Unauthorized(ProblemCode::InvalidToken),
            };
            let by = match mfa::attempt(conn, &st.config, &attempt, &code)? {
                Ok(Accepted::Step(_)) => "totp",
                Ok(Accepted::RecoveryCode) => "recovery_code",
                Err(refusal) => return Ok(Err(refusal)),
            };
            crate::sessions::sign_in(
                conn,
                &st,
                &account,
                &origin,
                &requester,
                json!({"second_factor": by}),
            )
            .map(Ok)
        })
        .await?;
    outcome.map(web::Json)
}

/// Trade a refresh token for a new token pair
///
/// Public: no bearer token; the refresh token is the credential. Answers a
/// new access token and a new refresh token in the same session, and spends
/// the refresh token sent: keep the new one. Presenting a spent refresh token
/// again means a copy of it is in other hands, so the whole session ends (its
/// access tokens stop working at once) and the answer is 401
/// `refresh_token_reused`: log in again. An unknown, expired or revoked
/// refresh token, one whose session has ended, or one of a suspended account
/// answers 401 `invalid_token`. A session ends when it has not been used
/// (logged in or refreshed) for the idle lifetime, and at the latest the
/// longest lifetime after its login (settings of the server: by default 7
/// days and 30 days); its refresh then answers 401 `invalid_token`.
#[utoipa::path(post, path = "/api/v1/auth/refresh", operation_id = "refreshToken", tag = "auth",
    request_body(content = RefreshRequest, example = json!({"refresh_token": "ReqWEOE_SL8bLjcSO8HP_VWL_do43iBzhv5PLQoV3NM"})),
    responses((status = 200, body = Tokens, description = "A new token pair; the refresh token sent is spent"), (status = 400), (status = 401, description = "The refresh token is not valid (`invalid_token`) or was spent already (`refresh_token_reused`: the session has ended)"), (status = 422)))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<web::Json<Tokens>, ApiError> {
    let hash = auth::token_hash(body.0.refresh_token.trim());
    let st = state.clone();
    let outcome = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            let Some(token) = store::refresh_token(conn, &hash)? else {
                return Ok(Err(ApiError::Unauthorized(ProblemCode::InvalidToken)));
            };
            let (session, account_id) = (token.session_id, token.account_id);
            if token.spent_at.is_some() {
                // Reuse: somebody holds a copy. End the session and commit that.
                crate::sessions::end(conn, session)?;
                tracing::warn!(%account_id, "refresh token reused; session ended");
                return Ok(Err(ApiError::Unauthorized(ProblemCode::RefreshTokenReused)));
            }
            if token.revoked_at.is_some()
                || token.session_ended_at.is_some()
                || token.expires_at <= Utc::now()
            {
                return Ok(Err(ApiError::Unauthorized(ProblemCode::InvalidToken)));
            }
            let alive = crate::sessions::alive(&st.config);
            if !alive.holds(token.session_created_at, token.session_last_used_at) {
                // Idle too long, or past its longest life: it ends now.
                crate::sessions::end(conn, session)?;
                return Ok(Err(ApiError::Unauthorized(ProblemCode::InvalidToken)));
            }
            let standing = store::standing(conn, account_id)?;
            if standing.status != "active" {
                // Answered as a token nobody issued: the holder learns
                // nothing about the account.
                crate::sessions::end(conn, session)?;
                return Ok(Err(ApiError::Unauthorized(ProblemCode::InvalidToken)));
            }
            store::spend_refresh_token(conn, token.id)?;
            crate::sessions::touch(conn, session)?;
            issue_tokens(
                conn,
                &st,
                account_id,
                standing.credentials_changed_at,
                session,
            )
            .map(Ok)
        })
        .await?;
    outcome.map(web::Json)
}

/// End the session of a refresh token
///
/// Public: no bearer token; the refresh token names the session. Ends that
/// session: its refresh tokens and its access tokens stop working at once.
/// Answers 204 also for an unknown or already ended refresh token, so a client
/// may call it whenever it signs out and then forget both tokens.
#[utoipa::path(post, path = "/api/v1/auth/logout", operation_id = "logOut", tag = "auth",
    request_body(content = RefreshRequest, example = json!({"refresh_token": "ReqWEOE_SL8bLjcSO8HP_VWL_do43iBzhv5PLQoV3NM"})),
    responses((status = 204, description = "Logged out (also for an unknown or ended session); no body"), (status = 400), (status = 422)))]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let hash = auth::token_hash(body.0.refresh_token.trim());
    state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            if let Some(session) = store::session_of_refresh_token(conn, &hash)? {
                crate::sessions::end(conn, session)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
