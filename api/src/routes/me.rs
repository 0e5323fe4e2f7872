//! The caller: their account, password, and the policy snapshot the phone
//! assesses with offline.

use crate::auth;
use crate::error::ApiError;
use crate::extract::{AppState, Json, Principal};
use crate::routes::accounts::{Account, load_account};
use crate::routes::assessments::load_context;
use crate::routes::auth::{Tokens, issue_tokens};
use crate::routes::units::{Unit, UnitRow, to_units};
use crate::schema::{accounts, units};
use crate::throttle::{self, Limit};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
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
}

/// Reads the caller's account, unit and roles.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)),
    security(("bearer" = [])))]
pub async fn get(state: web::Data<AppState>, who: Principal) -> Result<web::Json<Me>, ApiError> {
    let me = state
        .db
        .run(move |conn| {
            let account = load_account(conn, who.account_id)?;
            let unit = match account.unit_id {
                Some(id) => {
                    let row = units::table
                        .find(id)
                        .select(UnitRow::as_select())
                        .first(conn)?;
                    to_units(conn, vec![row])?.pop()
                }
                None => None,
            };
            Ok(Me { account, unit })
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

/// Changes the caller's password. Every other session ends; the answer is a
/// fresh token pair for the caller's session. Wrong current passwords are
/// counted per account and throttled like logins (429 with `Retry-After`); a
/// right one clears the count.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "me", request_body = ChangePassword,
    responses((status = 200, body = Tokens), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem, description = "Too many wrong current passwords; see Retry-After")),
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
    let new_hash = auth::hash_password(&body.new_password).map_err(|_| ApiError::Internal)?;
    let st = state.clone();
    let outcome = state
        .db
        .transaction(move |conn| {
            // The account's row lock orders concurrent attempts, so the
            // throttle counts every one of them.
            let stored: String = accounts::table
                .find(who.account_id)
                .select(accounts::password_hash)
                .for_update()
                .first(conn)?;
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
            let changed: DateTime<Utc> = diesel::update(accounts::table.find(who.account_id))
                .set((
                    accounts::password_hash.eq(new_hash),
                    accounts::credentials_changed_at.eq(diesel::dsl::now),
                    accounts::updated_at.eq(diesel::dsl::now),
                ))
                .returning(accounts::credentials_changed_at)
                .get_result(conn)?;
            crate::sessions::end_all(conn, who.account_id, Some(who.session_id))?;
            crate::audit::append(
                conn,
                Some(who.account_id),
                "account",
                Some(who.account_id),
                "change_password",
                serde_json::json!({}),
            )?;
            issue_tokens(conn, &st, who.account_id, changed, who.session_id).map(Ok)
        })
        .await?;
    outcome.map(web::Json)
}

/// The caller's policy snapshot. Answers an `ETag` over its content and 304 to
/// a matching `If-None-Match`.
#[utoipa::path(get, path = "/api/v1/me/policy-snapshot", tag = "me",
    params(("If-None-Match" = Option<String>, Header)),
    responses((status = 200, body = PolicySnapshot), (status = 304, description = "Not modified"), (status = 401, body = crate::error::Problem), (status = 409, body = crate::error::Problem, description = "The account belongs to no unit")),
    security(("bearer" = [])))]
pub async fn policy_snapshot(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let context = state
        .db
        .run(move |conn| load_context(conn, who.account_id))
        .await?;
    let settings = state.config.settings();
    let content = serde_json::to_vec(&(&settings, &context)).map_err(|_| ApiError::Internal)?;
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
