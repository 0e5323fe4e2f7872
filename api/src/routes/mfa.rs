//! The caller's second factor: enrol a TOTP authenticator, confirm it with a
//! first code (which hands out the recovery codes), remove it; and an
//! administrator resetting another account's.

use crate::access::Requester;
use crate::error::{ApiError, ProblemCode};
use crate::extract::{AppState, Json, Principal};
use crate::mfa::{self, Accepted, Attempt, Code};
use crate::policy::{self, Action};
use crate::store::accounts::load_account;
use crate::store::mfa as store;
use crate::tx::Claim;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A new authenticator's secret, to enter in an app or scan as a QR code.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32 (RFC 4648, no padding), for typing into an app.
    pub secret: String,
    /// The same as an `otpauth://totp/` URI (SHA-1, 6 digits, 30 s), for a
    /// QR code.
    pub otpauth_uri: String,
}

/// A code from the authenticator app (six digits), or where the operation
/// says so an unused recovery code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeRequest {
    /// The code; spaces and dashes are ignored.
    pub code: String,
}

/// Recovery codes, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, each good for one login in place of a TOTP code. Only
    /// their hashes are kept: store them now.
    pub recovery_codes: Vec<String>,
}

/// The refusal of an operation that needs an enrolment in another state.
fn not_now() -> ApiError {
    ApiError::Conflict(ProblemCode::InvalidTransition)
}

/// Start enrolling a TOTP authenticator
///
/// Any signed-in account, for itself, also one that must enrol before it may
/// do anything else. Answers a new secret, as base32 and as an
/// `otpauth://` URI to show as a QR code; enter it in an authenticator app
/// and send its first code to `confirmMfaTotp`. Until then nothing changes
/// at login, and calling this again replaces the secret. 409
/// `invalid_transition` when a second factor is enrolled already: remove it
/// first.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", operation_id = "enrolMfaTotp", tag = "me",
    responses((status = 200, body = TotpEnrolment, description = "The new secret; confirm it with a code"), (status = 401), (status = 409, description = "A second factor is enrolled already (`invalid_transition`)")),
    security(("bearer" = [])))]
pub async fn begin(
    state: web::Data<AppState>,
    who: Principal,
) -> Result<web::Json<TotpEnrolment>, ApiError> {
    let key = state.config.document_key;
    let enrolment = state
        .db
        .transaction(None, move |tx| {
            let login = load_account(tx.conn, who.account_id)?.login;
            let secret = mfa::new_secret();
            let sealed = mfa::seal_secret(&key, who.account_id, &secret)?;
            if !store::begin(tx.conn, who.account_id, &sealed)? {
                return Err(not_now());
            }
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(who.account_id),
                "mfa_enrolment_started",
                serde_json::json!({}),
            );
            let (secret, otpauth_uri) = mfa::provisioning(&secret, &login)?;
            Ok(TotpEnrolment {
                secret,
                otpauth_uri,
            })
        })
        .await?;
    Ok(web::Json(enrolment))
}

/// Confirm the TOTP authenticator with its first code
///
/// Any signed-in account, for itself, after `enrolMfaTotp`. `code` is the
/// six digits the app shows now. On success the second factor is enrolled:
/// every later login asks for a code (`completeMfaLogin`), every other
/// session of the account ends, and the answer holds ten recovery codes,
/// shown this once. 409 `invalid_transition` when no enrolment is waiting
/// (none started, or confirmed already).
///
/// A wrong code answers 401 `invalid_code` (the caller's token stays good).
/// Wrong codes are counted and throttled as passwords are: past the limit
/// the answer is 429 `rate_limited` with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/confirm", operation_id = "confirmMfaTotp", tag = "me",
    request_body(content = CodeRequest, example = json!({"code": "492039"})),
    responses((status = 200, body = RecoveryCodes, description = "Enrolled: the recovery codes, shown this once"), (status = 400), (status = 401, description = "Not signed in, or a wrong code (`invalid_code`)"), (status = 409, description = "No enrolment is waiting for a code (`invalid_transition`)"), (status = 422), (status = 429, description = "Too many wrong codes (`rate_limited`): retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn confirm(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: Json<CodeRequest>,
) -> Result<web::Json<RecoveryCodes>, ApiError> {
    let code = Code::parse(&body.0.code)?;
    let requester = Requester::of(&req);
    let config = state.config.clone();
    let outcome = state
        .db
        .transaction(None, move |tx| {
            let attempt = Attempt {
                account_id: who.account_id,
                unit_id: who.unit_id,
                requester: &requester,
                purpose: "confirm",
                confirmed: false,
                unenrolled: not_now,
            };
            let step = match mfa::attempt(tx.conn, &config, &attempt, &code)? {
                Ok(Accepted::Step(step)) => step,
                Ok(Accepted::RecoveryCode) => return Err(ApiError::broken("a recovery code")),
                Err(refusal) => return Ok(Err(refusal)),
            };
            let codes = mfa::new_recovery_codes();
            let hashes: Vec<Vec<u8>> = codes
                .iter()
                .map(|c| mfa::recovery_hash(who.account_id, c))
                .collect();
            store::confirm(tx.conn, who.account_id, step, &hashes)?;
            crate::sessions::end_others(tx.conn, who.account_id, who.session_id)?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(who.account_id),
                "mfa_enrolled",
                serde_json::json!({}),
            );
            Ok(Ok(RecoveryCodes {
                recovery_codes: codes,
            }))
        })
        .await?;
    outcome.map(web::Json)
}

/// Remove the caller's second factor
///
/// Any signed-in account, for itself. `code` is a code from the
/// authenticator app or an unused recovery code. The secret and every
/// recovery code are deleted, logins ask for the password alone again, and
/// every other session of the account ends. An account whose role must
/// enrol is then held to `/me`, `/me/mfa/*` and `/auth/*` until it enrols
/// again. 409 `invalid_transition` when no second factor is enrolled.
///
/// A wrong code answers 401 `invalid_code` (the caller's token stays good),
/// throttled as at login: past the limit 429 `rate_limited` with
/// `Retry-After`.
#[utoipa::path(delete, path = "/api/v1/me/mfa", operation_id = "removeMyMfa", tag = "me",
    request_body(content = CodeRequest, example = json!({"code": "492039"})),
    responses((status = 204, description = "Removed; no body"), (status = 400), (status = 401, description = "Not signed in, or a wrong code (`invalid_code`)"), (status = 409, description = "No second factor is enrolled (`invalid_transition`)"), (status = 422), (status = 429, description = "Too many wrong codes (`rate_limited`): retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn remove(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: Json<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = Code::parse(&body.0.code)?;
    let requester = Requester::of(&req);
    let config = state.config.clone();
    let outcome = state
        .db
        .transaction(None, move |tx| {
            let attempt = Attempt {
                account_id: who.account_id,
                unit_id: who.unit_id,
                requester: &requester,
                purpose: "remove",
                confirmed: true,
                unenrolled: not_now,
            };
            if let Err(refusal) = mfa::attempt(tx.conn, &config, &attempt, &code)? {
                return Ok(Err(refusal));
            }
            store::remove(tx.conn, who.account_id)?;
            crate::sessions::end_others(tx.conn, who.account_id, who.session_id)?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(who.account_id),
                "mfa_removed",
                serde_json::json!({}),
            );
            Ok(Ok(()))
        })
        .await?;
    outcome.map(|()| HttpResponse::NoContent().finish())
}

/// Reset an account's second factor
///
/// System administrators and unit admins allowed to act on the account:
/// their scope must hold its node (404 `not_found` otherwise) and every node
/// it leads, and be strictly wider than every grant it holds (403 `forbidden`
/// otherwise; a unit admin never acts on a system administrator). No one
/// resets their own (403 `self_change_forbidden`): remove it under
/// `/me/mfa` with a code.
///
/// For an account that lost its authenticator and its recovery codes: its
/// secret and recovery codes are deleted and every session of it ends. It
/// then logs in with its password alone, and enrols again (at once, when its
/// role must). Answers 204, also for an account with no second factor.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/mfa/reset", operation_id = "resetAccountMfa", tag = "accounts",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 204, description = "The account has no second factor now, and no session"), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = [])))]
pub async fn reset(
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
            let had = store::remove(tx.conn, id)?;
            crate::sessions::end_all(tx.conn, id, None)?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(id),
                "mfa_reset",
                serde_json::json!({"had_second_factor": had}),
            );
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
