//! `Idempotency-Key` on POST: a phone that retries after a timeout gets the
//! first answer again, never a second unit, account or filing.
//!
//! The first request with a key claims it (a row with no status yet), runs, and
//! stores its answer. A retry with the same key and the same request replays the
//! stored answer; with a different request it answers 422
//! `idempotency_key_reused`; while the first is still running it answers 409
//! `idempotency_key_in_progress`. Only successful answers are kept: a refused
//! request changed nothing, so its key is released for a corrected retry.
//! Keys are per account.

use crate::error::ApiError;
use crate::extract::AppState;
use crate::schema::idempotency_keys;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderValue};
use actix_web::{Error, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use sha2::{Digest, Sha256};
use std::rc::Rc;
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// How long a claimed key may stay unanswered before a retry may take it over.
const STALE_AFTER_SECONDS: i64 = 60;

/// The middleware.
pub struct Idempotency;

impl<S, B> Transform<S, ServiceRequest> for Idempotency
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = IdempotencyService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IdempotencyService {
            service: Rc::new(service),
        }))
    }
}

/// The middleware's service.
pub struct IdempotencyService<S> {
    service: Rc<S>,
}

enum Claim {
    /// This request runs and stores its answer.
    Run,
    /// A stored answer to replay.
    Replay(StatusCode, Option<String>, Option<String>, Vec<u8>),
}

type StoredAnswer = (
    Vec<u8>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    DateTime<Utc>,
);

fn claim(
    conn: &mut PgConnection,
    account: Uuid,
    key: &str,
    hash: &[u8],
) -> Result<Claim, ApiError> {
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::account_id.eq(account),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(hash),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    if inserted == 1 {
        return Ok(Claim::Run);
    }
    let (stored_hash, status, content_type, etag, body, created_at): StoredAnswer =
        idempotency_keys::table
            .find((account, key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::status,
                idempotency_keys::content_type,
                idempotency_keys::etag,
                idempotency_keys::body,
                idempotency_keys::created_at,
            ))
            .first(conn)?;
    if stored_hash != hash {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "Idempotency-Key",
            serde_json::json!({"reason": "idempotency_key_reused"}),
        )
        .with_code("idempotency_key_reused"));
    }
    match status {
        Some(status) => Ok(Claim::Replay(
            StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type,
            etag,
            body.unwrap_or_default(),
        )),
        None if created_at + Duration::seconds(STALE_AFTER_SECONDS) < Utc::now() => {
            // The first attempt died before answering: this one takes over.
            diesel::update(idempotency_keys::table.find((account, key)))
                .set(idempotency_keys::created_at.eq(diesel::dsl::now))
                .execute(conn)?;
            Ok(Claim::Run)
        }
        None => Err(ApiError::Conflict("idempotency_key_in_progress")),
    }
}

fn applies(req: &ServiceRequest) -> bool {
    req.method() == actix_web::http::Method::POST
        && req.path().starts_with("/api/v1/")
        && !req.path().starts_with("/api/v1/auth/")
}

fn account_of(req: &ServiceRequest, state: &AppState) -> Option<Uuid> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    state
        .keys
        .verify(token.trim())
        .ok()
        .map(|claims| claims.sub)
}

impl<S, B> Service<ServiceRequest> for IdempotencyService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let key = req
                .headers()
                .get(HEADER)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_owned());
            let state = req.app_data::<web::Data<AppState>>().cloned();
            let (Some(key), Some(state), true) = (key, state, applies(&req)) else {
                return service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body);
            };
            let Some(account) = account_of(&req, &state) else {
                // Unauthenticated: the handler answers 401.
                return service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body);
            };
            if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
                let error = ApiError::invalid(
                    IssueCode::Invalid,
                    "Idempotency-Key",
                    serde_json::json!({"max": 255}),
                );
                return Ok(req.error_response(error));
            }
            let body = req.extract::<web::Bytes>().await?;
            let mut hasher = Sha256::new();
            hasher.update(req.method().as_str());
            hasher.update([0]);
            hasher.update(req.uri().to_string());
            hasher.update([0]);
            hasher.update(&body);
            let hash = hasher.finalize().to_vec();
            let (claim_key, claim_hash) = (key.clone(), hash.clone());
            let claimed = state
                .db
                .run(move |conn| claim(conn, account, &claim_key, &claim_hash))
                .await;
            match claimed {
                Err(error) => return Ok(req.error_response(error)),
                Ok(Claim::Replay(status, content_type, etag, stored)) => {
                    let mut answer = HttpResponse::build(status);
                    if let Some(ct) = content_type {
                        answer.insert_header((CONTENT_TYPE, ct));
                    }
                    if let Some(tag) = etag {
                        answer.insert_header((ETAG, tag));
                    }
                    answer.insert_header(("idempotent-replayed", "true"));
                    return Ok(req.into_response(answer.body(stored)));
                }
                Ok(Claim::Run) => {}
            }
            req.set_payload(Payload::from(body));
            let res = service.call(req).await?;
            let status = res.status();
            let header = |name| {
                res.headers()
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (content_type, etag) = (header(CONTENT_TYPE), header(ETAG));
            let (http_req, response) = res.into_parts();
            let (head, body) = response.into_parts();
            let bytes = actix_web::body::to_bytes(body)
                .await
                .map_err(|_| ApiError::Internal)?;
            // Only successes are kept: a refused request changed nothing and may be retried as it is or corrected.
            let retryable = !status.is_success();
            let stored = bytes.to_vec();
            let outcome = state
                .db
                .run(move |conn| {
                    let row = idempotency_keys::table.find((account, key));
                    if retryable {
                        diesel::delete(row).execute(conn)?;
                    } else {
                        diesel::update(row)
                            .set((
                                idempotency_keys::status.eq(i32::from(status.as_u16())),
                                idempotency_keys::content_type.eq(content_type),
                                idempotency_keys::etag.eq(etag),
                                idempotency_keys::body.eq(stored),
                            ))
                            .execute(conn)?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = outcome {
                tracing::error!(error = %e, "could not store an idempotent answer");
            }
            let response = head.set_body(BoxBody::new(bytes));
            Ok(ServiceResponse::new(http_req, response))
        })
    }
}
