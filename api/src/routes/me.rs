//! The caller: their account, password, and the policy snapshot the phone
//! assesses with offline.

use crate::auth;
use crate::error::ApiError;
use crate::extract::{AppState, Json, Principal};
use crate::sessions::{Tokens, issue_tokens};
use crate::store::accounts::{self as store, Account, load_account};
use crate::store::units::{Unit, load_unit};
use crate::throttle::{self, Limit};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use whereabouts_core::IssueCode;
use whereabouts_core::snapshot::{self, PolicySnapshot};

/// The caller.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The account, with its roles.
    pub account: Account,
    /// The account's unit.
    pub unit: Option<Unit>,
    /// The account's second factor.
    pub mfa: crate::mfa::MfaStatus,
}

/// Read the caller's account, unit and roles
///
/// Any signed-in account, for itself. Answers the caller's own account, with
/// its role grants in `account.roles` (each a role over the subtree under its
/// `unit_id`), the node it belongs to in `unit` (`null` for an account of
/// no unit), and its second factor in `mfa`: whether one is enrolled,
/// whether its roles require one, and how many recovery codes are left.
/// Open also to an account that must still enrol.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "getMe", tag = "me",
    responses((status = 200, body = Me, description = "The caller's account and the node it belongs to"), (status = 401)),
    security(("bearer" = [])))]
pub async fn get(state: web::Data<AppState>, who: Principal) -> Result<web::Json<Me>, ApiError> {
    let config = state.config.clone();
    let me = state
        .db
        .run(move |conn| {
            let account = load_account(conn, who.account_id)?;
            let unit = match account.unit_id {
                Some(id) => Some(load_unit(conn, id)?),
                None => None,
            };
            let mfa = crate::mfa::status(conn, &config, &who)?;
            Ok(Me { account, unit, mfa })
        })
        .await?;
    Ok(web::Json(me))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePassword {
    /// The password now.
    pub current_password: String,
    /// The new one: 10 to 128 characters, letters and something else.
    pub new_password: String,
}

/// Change the caller's password
///
/// Any signed-in account, for itself. `current_password` must be the
/// password now, and `new_password` 10 to 128 characters holding letters and
/// something else (422 `validation_failed` on `new_password` otherwise). On
/// success every other session of the account ends at once, and the answer
/// is a fresh token pair for the caller's own session: replace the tokens the
/// client holds with it.
///
/// A wrong `current_password` answers 422 `validation_failed` on
/// `current_password`. Wrong attempts are counted per account and throttled
/// like logins: past the limit the answer is 429 `rate_limited` with
/// `Retry-After`. The right password clears the count.
#[utoipa::path(put, path = "/api/v1/me/password", operation_id = "changePassword", tag = "me",
    request_body(content = ChangePassword, example = json!({"current_password": "Chaoyang#2027", "new_password": "Beijing-May-2027"})),
    responses((status = 200, body = Tokens, description = "Changed: a fresh token pair for the caller's session; every other session has ended"), (status = 400), (status = 401), (status = 422), (status = 429, description = "Too many wrong current passwords (`rate_limited`): retry after `Retry-After` seconds")),
    security(("bearer" = [])))]
pub async fn change_password(
    state: web::Data<AppState>,
    who: Principal,
    body: Json<ChangePassword>,
) -> Result<web::Json<Tokens>, ApiError> {
    let body = body.0;
    if let Some(params) = auth::password_problem(&body.new_password) {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "new_password",
            params,
        ));
    }
    let new_hash = auth::hash_password(&body.new_password)
        .map_err(ApiError::internal("hashing a password"))?;
    let st = state.clone();
    let outcome = state
        .db
        .transaction(None, move |tx| {
            let conn = &mut *tx.conn;
            // The account's row lock orders concurrent attempts, so the
            // throttle counts every one of them.
            let stored = store::locked_password_hash(conn, who.account_id)?;
            let bucket = throttle::password_bucket(who.account_id);
            let window = st.config.login_window_seconds;
            let limit = Limit::Lock {
                max: st.config.login_max_failures,
            };
            if let Some(wait) = throttle::wait(conn, &[(&bucket, limit)], window)? {
                return Ok(Err(ApiError::RateLimited(wait)));
            }
            if !auth::verify_password(&body.current_password, &stored) {
                // Committed with the refusal: the failure must count.
                throttle::record_failure(conn, &[&bucket], window)?;
                return Ok(Err(ApiError::invalid(
                    IssueCode::Invalid,
                    "current_password",
                    serde_json::json!({"reason": "wrong_password"}),
                )));
            }
            throttle::clear(conn, &[&bucket])?;
            let changed = store::change_password(conn, who.account_id, &new_hash)?;
            crate::sessions::end_all(conn, who.account_id, Some(who.session_id))?;
            tx.audit.record(
                Some(who.account_id),
                "account",
                Some(who.account_id),
                "change_password",
                serde_json::json!({}),
            );
            issue_tokens(conn, &st, who.account_id, changed, who.session_id).map(Ok)
        })
        .await?;
    outcome.map(web::Json)
}

/// Read everything the phone needs to assess the caller's trips offline
///
/// Any signed-in account that belongs to a unit, for itself. Answers the
/// inputs the server's own assessment uses for the caller: its profile (rank,
/// position and flags), the policy in force for its node, the special periods
/// over the node and the nodes above it, the calendar years administrators
/// have replaced, the part of the unit tree the approver rules resolve
/// against (with the accounts they may name), and the jurisdiction's
/// settings. With them an app can show a cadre what a trip requires, who
/// approves it and by when, before anything is sent.
///
/// The answer carries an `ETag` computed over its content (a quoted hash,
/// not a version number). Send it back in `If-None-Match`: while nothing has
/// changed the answer is 304 with no body, so polling is cheap. 409
/// `account_has_no_unit` for an account that belongs to no unit.
#[utoipa::path(get, path = "/api/v1/me/policy-snapshot", operation_id = "getPolicySnapshot", tag = "me",
    params(("If-None-Match" = Option<String>, Header)),
    responses((status = 200, body = PolicySnapshot, description = "The caller's policy snapshot, with its `ETag`"), (status = 304, description = "Not modified: the snapshot named in `If-None-Match` is still current"), (status = 401), (status = 409, description = "The account belongs to no unit (`account_has_no_unit`)")),
    security(("bearer" = [])))]
pub async fn policy_snapshot(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let filer = state
        .db
        .run(move |conn| st.contexts.of(conn, who.account_id))
        .await?;
    let context = filer.context.clone();
    let settings = state.config.settings();
    let content = serde_json::to_vec(&(&settings, &context)).map_err(ApiError::internal(
        "serialising the settings and context behind the policy snapshot",
    ))?;
    let tag = format!("\"{}\"", &hex::encode(Sha256::digest(&content))[..32]);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*")
        });
    if matches {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    let snapshot = PolicySnapshot {
        schema_version: snapshot::SCHEMA_VERSION,
        settings,
        profile: context.profile,
        org: context.org,
        policy: context.policy,
        special_periods: context.special_periods,
        calendar: context.calendar,
        generated_at: Utc::now(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .json(snapshot))
}
