//! `Idempotency-Key` on POST: a phone that retries after a timeout gets the
//! first answer again, never a second filing or a second decision.
//!
//! The key is claimed inside the handler's own database transaction: the
//! middleware leaves a [`Claim`] on the request, the handler takes it as an
//! argument and passes it to [`Db::transaction`](crate::db::Db::transaction),
//! which inserts the key's row (without an answer yet) in the same transaction
//! as the change, so the change and its claim commit or roll back together.
//! After the answer is sent back through this middleware it is stored on the
//! row.
//!
//! A retry with the same key and request then replays the stored answer; with
//! a different request it answers 422 `idempotency_key_reused`. If the first
//! request's change committed but its answer was never stored (the process died
//! in between), a retry answers 409 `idempotency_key_in_progress` rather than
//! doing the change twice. Two concurrent requests with one key: the second
//! waits on the first's claim and then replays its answer. Only successful
//! answers are kept; a refused request changed nothing, and its key stays free
//! for a corrected retry. Keys are per account, and a stored answer is only
//! replayed to a caller whose token still authenticates (the account active,
//! its credentials unchanged, its session live): a suspended account or an
//! ended session gets 401, never the answer it was once given.

use crate::error::{ApiError, ProblemCode};
use crate::extract::AppState;
use crate::store::idempotency as store;
use crate::tx::Claim;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, ETAG, HeaderValue};
use actix_web::{Error, HttpMessage, HttpResponse, web};
use diesel::PgConnection;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use sha2::{Digest, Sha256};
use std::rc::Rc;
use uuid::Uuid;
use whereabouts_core::IssueCode;

/// The request header.
pub const HEADER: &str = "idempotency-key";

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

/// What is stored for a key.
enum Stored {
    Nothing,
    Answer(StatusCode, Option<String>, Option<String>, Vec<u8>),
    /// The change committed; its answer was not stored.
    Unanswered,
}

fn lookup(
    conn: &mut PgConnection,
    seal_key: &[u8; 32],
    account: Uuid,
    key: &str,
    hash: &[u8],
) -> Result<Stored, ApiError> {
    let Some(store::StoredKey {
        request_hash: stored_hash,
        status,
        content_type,
        etag,
        body,
    }) = store::stored(conn, account, key)?
    else {
        return Ok(Stored::Nothing);
    };
    if stored_hash != hash {
        return Err(ApiError::invalid(
            IssueCode::Invalid,
            "Idempotency-Key",
            serde_json::json!({"reason": "idempotency_key_reused"}),
        )
        .with_code(ProblemCode::IdempotencyKeyReused));
    }
    Ok(match status {
        Some(status) => Stored::Answer(
            StatusCode::from_u16(u16::try_from(status).unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type,
            etag,
            {
                let aad = [account.as_bytes().as_slice(), key.as_bytes()].concat();
                crate::seal::open(seal_key, &aad, &body.unwrap_or_default()).ok_or_else(|| {
                    tracing::error!(
                        "a stored idempotent answer does not open with the configured key"
                    );
                    ApiError::Internal
                })?
            },
        ),
        None => Stored::Unanswered,
    })
}

fn replay(
    req: ServiceRequest,
    status: StatusCode,
    content_type: Option<String>,
    etag: Option<String>,
    body: Vec<u8>,
) -> ServiceResponse<BoxBody> {
    let mut answer = HttpResponse::build(status);
    if let Some(ct) = content_type {
        answer.insert_header((CONTENT_TYPE, ct));
    }
    if let Some(tag) = etag {
        answer.insert_header((ETAG, tag));
    }
    answer.insert_header(("idempotent-replayed", "true"));
    req.into_response(answer.body(body))
}

/// POSTs under `/api/v1/` but sign-in and the caller's second factor,
/// whose answers (tokens, secrets, recovery codes) are never stored.
fn applies(req: &ServiceRequest) -> bool {
    req.method() == actix_web::http::Method::POST
        && req.path().starts_with("/api/v1/")
        && !req.path().starts_with("/api/v1/auth/")
        && !req.path().starts_with("/api/v1/me/mfa/")
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
            let Ok(caller) = crate::extract::authenticate(req.request()) else {
                // Unauthenticated: the handler answers 401.
                return service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_boxed_body);
            };
            let account = caller.account_id();
            if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
                let error = ApiError::invalid(
                    IssueCode::Invalid,
                    "Idempotency-Key",
                    serde_json::json!({"max": 255}),
                );
                return Ok(req.error_response(error));
            }
            // The body as sent (still encoded; the route's extractor decodes
            // it), within the largest limit of the route and the deadline.
            let limit = crate::extract::body_limit(req.path());
            if crate::extract::declared_over(req.request(), limit) {
                return Ok(req.error_response(ApiError::PayloadTooLarge));
            }
            let deadline = state.config.body_read_timeout;
            let body = match crate::extract::read_body(req.take_payload(), limit, deadline).await {
                Ok(body) => body,
                Err(error) => return Ok(req.error_response(error)),
            };
            let mut hasher = Sha256::new();
            hasher.update(req.method().as_str());
            hasher.update([0]);
            hasher.update(req.uri().to_string());
            hasher.update([0]);
            hasher.update(&body);
            let hash = hasher.finalize().to_vec();
            let (k, h) = (key.clone(), hash.clone());
            let seal_key = state.config.document_key;
            match state
                .db
                .run(move |conn| {
                    let found = lookup(conn, &seal_key, account, &k, &h);
                    if !matches!(found, Ok(Stored::Nothing)) {
                        // Whatever was stored under the key answers only a
                        // caller who still authenticates: the account active,
                        // its credentials and its session unchanged. A first
                        // request is checked by its handler.
                        caller.load(conn)?;
                    }
                    found
                })
                .await
            {
                Err(error) => return Ok(req.error_response(error)),
                Ok(Stored::Answer(status, content_type, etag, stored)) => {
                    return Ok(replay(req, status, content_type, etag, stored));
                }
                Ok(Stored::Unanswered) => {
                    return Ok(req.error_response(ApiError::Conflict(
                        ProblemCode::IdempotencyKeyInProgress,
                    )));
                }
                Ok(Stored::Nothing) => {}
            }

            req.set_payload(Payload::from(body));
            let claim = Claim::new(account, key.clone(), hash.clone());
            req.extensions_mut().insert(claim.clone());
            let res = service.call(req).await?;
            let status = res.status();
            let concurrent = res
                .response()
                .error()
                .and_then(|e| e.as_error::<ApiError>())
                .is_some_and(|e| {
                    matches!(e, ApiError::Conflict(ProblemCode::IdempotencyKeyInProgress))
                });
            if concurrent {
                // Another request with this key won the claim: answer what it answered.
                let (k, h) = (key.clone(), hash.clone());
                let seal_key = state.config.document_key;
                if let Ok(Stored::Answer(status, content_type, etag, stored)) = state
                    .db
                    .run(move |conn| lookup(conn, &seal_key, account, &k, &h))
                    .await
                {
                    let (http_req, _) = res.into_parts();
                    return Ok(replay(
                        ServiceRequest::from_request(http_req),
                        status,
                        content_type,
                        etag,
                        stored,
                    ));
                }
                return Ok(res.map_into_boxed_body());
            }
            if !status.is_success() {
                return Ok(res.map_into_boxed_body());
            }
            let header = |name| {
                res.headers()
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (content_type, etag) = (header(CONTENT_TYPE), header(ETAG));
            let (http_req, response) = res.into_parts();
            let (head, body) = response.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.map_err(|e| {
                let cause: Box<dyn std::error::Error> = e.into();
                ApiError::internal("reading an answer to keep for its idempotency key")(cause)
            })?;
            // Answers may carry personal data (a document number shown to its
            // administrator): they are kept sealed.
            let aad = [account.as_bytes().as_slice(), key.as_bytes()].concat();
            let Some(stored) = crate::seal::seal(&state.config.document_key, &aad, &bytes) else {
                return Err(ApiError::broken("the sealed answer of an idempotency key").into());
            };
            let claimed = claim.committed();
            let outcome = state
                .db
                .run(move |conn| {
                    let answer = store::Answer {
                        status: i32::from(status.as_u16()),
                        content_type,
                        etag,
                        body: stored,
                    };
                    if claimed {
                        store::keep_answer(conn, account, &key, answer)?;
                    } else {
                        // The handler changed nothing in a claiming transaction
                        // (or wrote outside one): keep its answer all the same.
                        store::keep_unclaimed_answer(conn, account, &key, &hash, answer)?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = outcome {
                tracing::error!(error = %e, "could not store an idempotent answer");
            }
            Ok(ServiceResponse::new(
                http_req,
                head.set_body(BoxBody::new(bytes)),
            ))
        })
    }
}
