//! Request extractors: the JSON body (size-limited, with field paths in errors)
//! and raw bodies, the authenticated principal, the caller's language and
//! `If-Match`.
//!
//! Every body is read by [`read_body`]: it counts bytes as they stream in and
//! answers 413 as soon as a body crosses its route's limit (a chunked body
//! included, so none is ever buffered past it), and 408 when the whole body
//! has not arrived within `WHEREABOUTS_BODY_TIMEOUT_SECONDS` (actix-web's own
//! client request timeout covers only the request head).

use crate::auth::{Claims, Keys, TokenError};
use crate::config::Config;
use crate::db::Db;
use crate::error::{ApiError, ProblemCode};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use diesel::PgConnection;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;
use whereabouts_core::{Issue, IssueCode, Lang, Role};

/// Largest JSON body accepted, in bytes.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Shared state of every worker.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: Db,
    /// Configuration.
    pub config: Arc<Config>,
    /// Token keys.
    pub keys: Arc<Keys>,
    /// Heavy reads: their own pool and a limit on how many run at once.
    pub heavy: HeavyReads,
    /// Filers' contexts this server keeps, while they stay true.
    pub contexts: Arc<crate::store::context::Contexts>,
}

impl AppState {
    /// State for a configuration and pool.
    pub fn new(config: Config, db: Db) -> Self {
        let keys = Arc::new(Keys::new(&config.jwt_secret));
        let heavy = HeavyReads::new(&config);
        Self {
            db,
            config: Arc::new(config),
            keys,
            heavy,
            contexts: Arc::default(),
        }
    }
}

/// Seconds a client is told to wait when every heavy-read slot is taken.
pub const HEAVY_READ_RETRY_SECONDS: u64 = 5;

/// Heavy reads (ledger exports, campaign reports) run on a pool of their own,
/// with a statement timeout, at most [`Config::heavy_read_slots`] at once per
/// server: ordinary requests never wait behind them, and one caller cannot
/// exhaust the server.
#[derive(Clone)]
pub struct HeavyReads {
    /// The pool heavy reads use, as large as the number of slots.
    pub db: Db,
    slots: Arc<tokio::sync::Semaphore>,
}

impl HeavyReads {
    fn new(config: &Config) -> Self {
        let slots = config.heavy_read_slots.max(1);
        Self {
            db: Db::heavy(
                &config.database_url,
                slots,
                std::time::Duration::from_secs(config.heavy_read_timeout_seconds),
            ),
            slots: Arc::new(tokio::sync::Semaphore::new(
                usize::try_from(slots).unwrap_or(1),
            )),
        }
    }

    /// Takes a slot, held until the permit is dropped (when the answer has been
    /// sent or abandoned); 429 with `Retry-After` when none is free.
    pub fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::RateLimited(HEAVY_READ_RETRY_SECONDS))
    }
}

fn state(req: &HttpRequest) -> Result<&AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::broken("the application state"))
}

/// The largest body any route takes, for code that reads a body before the
/// route's own extractor does (the idempotency middleware).
pub fn body_limit(path: &str) -> usize {
    match path {
        "/api/v1/evidence/imports" => crate::store::evidence::MAX_EVIDENCE_BYTES,
        "/api/v1/accounts/import" => crate::store::accounts::MAX_CSV_BYTES,
        _ => MAX_JSON_BYTES,
    }
}

/// Whether the request declares a `Content-Length` over `limit`.
pub fn declared_over(req: &HttpRequest, limit: usize) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
}

/// Reads a body of at most `limit` bytes as it streams in: 413 as soon as
/// the limit is crossed (nothing more is read), 408 when the whole body has
/// not arrived within `deadline`.
pub async fn read_body<S>(
    stream: S,
    limit: usize,
    deadline: Duration,
) -> Result<web::Bytes, ApiError>
where
    S: Stream<Item = Result<web::Bytes, PayloadError>>,
{
    let read = async move {
        let mut stream = std::pin::pin!(stream);
        let mut body = web::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| match e {
                PayloadError::Overflow => ApiError::PayloadTooLarge,
                _ => ApiError::Malformed("the body could not be read".into()),
            })?;
            if body.len().saturating_add(chunk.len()) > limit {
                return Err(ApiError::PayloadTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    actix_web::rt::time::timeout(deadline, read)
        .await
        .map_err(|_| ApiError::RequestTimeout)?
}

/// The request's body, decoded as its `Content-Encoding` says, of at most
/// `limit` bytes (after decoding) and within the configured deadline.
fn body_of(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> impl Future<Output = Result<web::Bytes, ApiError>> + 'static {
    let declared_over = declared_over(req, limit);
    let deadline = state(req).map(|s| s.config.body_read_timeout);
    let stream = actix_web::dev::Decompress::from_headers(payload.take(), req.headers());
    async move {
        if declared_over {
            return Err(ApiError::PayloadTooLarge);
        }
        read_body(stream, limit, deadline?).await
    }
}

/// A raw body of at most `LIMIT` bytes, read as [`read_body`] does (for
/// CSV imports and optional bodies).
pub struct Body<const LIMIT: usize>(pub web::Bytes);

impl<const LIMIT: usize> FromRequest for Body<LIMIT> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = body_of(req, payload, LIMIT);
        Box::pin(async move { body.await.map(Body) })
    }
}

/// A JSON body: must be `application/json`, at most [`MAX_JSON_BYTES`]; syntax
/// errors answer 400, wrong shapes 422 with the field path.
pub struct Json<T>(pub T);

/// Turns a serde error at a path into a 422 issue.
fn shape_issue(path: String, error: &serde_json::Error) -> Issue {
    let text = error.to_string();
    let field = if path == "." { None } else { Some(path) };
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = match field {
            Some(prefix) => format!("{prefix}.{name}"),
            None => name.to_owned(),
        };
        return Issue::new(IssueCode::Required, Some(field), serde_json::json!({}));
    }
    let reason = if text.starts_with("unknown variant") {
        "unknown_value"
    } else if text.starts_with("invalid type") {
        "wrong_type"
    } else if text.starts_with("unknown field") {
        "unknown_field"
    } else {
        "invalid_value"
    };
    Issue::new(
        IssueCode::Invalid,
        field.or(Some(String::new())),
        serde_json::json!({"reason": reason}),
    )
}

/// The path of the first string (or key) holding a NUL character, which no text
/// column can store.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(v, here)
            }
        }),
        _ => None,
    }
}

/// Refuses query text holding a NUL character (422).
pub fn clean_query(field: &str, text: Option<&str>) -> Result<(), ApiError> {
    match text {
        Some(t) if t.contains('\0') => Err(ApiError::invalid(
            IssueCode::Invalid,
            field,
            serde_json::json!({"reason": "nul_character"}),
        )),
        _ => Ok(()),
    }
}

/// Parses an optional JSON body: none (or only whitespace) is `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_JSON_BYTES {
        Err(ApiError::PayloadTooLarge)
    } else if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(bytes)
    }
}

/// Parses JSON bytes into `T`, mapping errors as [`Json`] does: bytes that are
/// not JSON answer 400 whatever they hold; JSON of the wrong shape answers 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::Malformed("the body is not valid JSON".into()))?;
    if let Some(field) = nul_at(&value, String::new()) {
        return Err(ApiError::Validation(vec![Issue::new(
            IssueCode::Invalid,
            Some(field),
            serde_json::json!({"reason": "nul_character"}),
        )]));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        ApiError::Validation(vec![shape_issue(path, err.inner())])
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        let too_large = declared_over(req, MAX_JSON_BYTES);
        let body = body_of(req, payload, MAX_JSON_BYTES);
        Box::pin(async move {
            if too_large {
                return Err(ApiError::PayloadTooLarge);
            }
            if !json {
                return Err(ApiError::UnsupportedMediaType);
            }
            parse_json(&body.await?).map(Json)
        })
    }
}

/// A role grant held by the caller. `unit_id` is `None` for a system
/// administrator over the whole tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// Root of the subtree it covers.
    pub unit_id: Option<Uuid>,
}

/// The authenticated caller, loaded fresh on every request: a suspended account,
/// one whose password changed, or a session that ended is refused at once.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The caller's account.
    pub account_id: Uuid,
    /// The caller's session.
    pub session_id: Uuid,
    /// The caller's node.
    pub unit_id: Option<Uuid>,
    /// The caller's roles.
    pub grants: Vec<Grant>,
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Loads the grants of an account (see [`crate::store::accounts::grants`]).
pub fn load_grants(conn: &mut PgConnection, account_id: Uuid) -> Result<Vec<Grant>, ApiError> {
    crate::store::accounts::grants(conn, account_id)
}

/// A caller whose bearer token verifies. The account behind it is not read
/// yet: [`Authenticated::load`] reads it on the handler's own connection, so a
/// hot read route checks the caller and answers on one connection checkout.
/// Handlers that take [`Principal`] get both done before they run.
#[derive(Debug, Clone)]
pub struct Authenticated {
    claims: Claims,
    alive: crate::store::sessions::Alive,
    /// The roles that must have enrolled a second factor to call this
    /// route (`Config::mfa_required_roles`); `None` on the routes open
    /// before enrolment.
    enrolment_due: Option<Arc<[Role]>>,
}

/// Whether a route stays open to an account that must enrol a second factor
/// and has not: `/me`, `/me/mfa/*` and `/auth/*`. Read from the route's
/// pattern where there is one, so no spelling of a path reaches another
/// route through it.
pub fn open_before_enrolment(pattern: &str) -> bool {
    let Some(route) = pattern.strip_prefix("/api/v1") else {
        return false;
    };
    route == "/me"
        || route == "/me/mfa"
        || route.starts_with("/me/mfa/")
        || route.starts_with("/auth/")
}

impl Authenticated {
    /// The account the token names (not yet checked against the database).
    pub fn account_id(&self) -> Uuid {
        self.claims.sub
    }

    /// The caller as of now: refused when the account is gone or suspended,
    /// when the token is older than the account's last credential change, or
    /// when its session has ended (ended by its account or an administrator,
    /// idle too long, or past its longest life).
    pub fn load(&self, conn: &mut PgConnection) -> Result<Principal, ApiError> {
        let Some(caller) =
            crate::store::sessions::caller(conn, self.claims.sub, self.claims.sid, self.alive)?
        else {
            return Err(ApiError::Unauthorized(ProblemCode::InvalidToken));
        };
        if caller.status != "active" {
            return Err(ApiError::Unauthorized(ProblemCode::AccountSuspended));
        }
        if caller.credentials_changed_at.timestamp_micros() != self.claims.cv
            || !caller.session_live
        {
            return Err(ApiError::Unauthorized(ProblemCode::TokenRevoked));
        }
        if let Some(roles) = &self.enrolment_due
            && !caller.mfa_enrolled
            && crate::policy::second_factor_required(&caller.grants, roles)
        {
            return Err(ApiError::Refused(ProblemCode::MfaEnrollmentRequired));
        }
        Ok(Principal {
            account_id: self.claims.sub,
            session_id: self.claims.sid,
            unit_id: caller.unit_id,
            grants: caller.grants,
        })
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// The caller of a request whose bearer token verifies; its account and
/// session are checked by [`Authenticated::load`].
pub fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let state = state(req)?;
    let token = bearer(req).ok_or(ApiError::Unauthorized(ProblemCode::Unauthorized))?;
    let claims = state.keys.verify(&token).map_err(|e| match e {
        TokenError::Expired => ApiError::Unauthorized(ProblemCode::TokenExpired),
        TokenError::Invalid => ApiError::Unauthorized(ProblemCode::InvalidToken),
    })?;
    // Before routing (a middleware's look), the path as sent: the router
    // matches it as it is, so it names the same route.
    let route = req.match_pattern().unwrap_or_else(|| req.path().to_owned());
    let open = open_before_enrolment(&route);
    Ok(Authenticated {
        claims,
        alive: crate::sessions::alive(&state.config),
        enrolment_due: (!open).then(|| state.config.mfa_required_roles.clone()),
    })
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = authenticate(req);
        let db = state(req).map(|state| state.db.clone());
        Box::pin(async move {
            let caller = caller?;
            db?.run(move |conn| caller.load(conn)).await
        })
    }
}

/// The language the caller asked for with `Accept-Language`.
pub fn request_lang(req: &HttpRequest) -> Lang {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
}

/// The caller's language as an extractor.
pub struct RequestLang(pub Lang);

impl FromRequest for RequestLang {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(RequestLang(request_lang(req))))
    }
}

/// The `If-Match` header, if sent.
pub struct IfMatch(pub Option<String>);

impl IfMatch {
    /// Refuses with 412 when a sent `If-Match` does not name this version.
    pub fn check(&self, version: i32) -> Result<(), ApiError> {
        match &self.0 {
            None => Ok(()),
            Some(value) if value.trim() == "*" => Ok(()),
            Some(value) => {
                let current = etag(version);
                if value
                    .split(',')
                    .any(|tag| tag.trim().trim_start_matches("W/") == current)
                {
                    Ok(())
                } else {
                    Err(ApiError::PreconditionFailed)
                }
            }
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = req
            .headers()
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        ready(Ok(IfMatch(value)))
    }
}

/// The entity tag of a resource version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// An answer with `status`, `body` as JSON and the `ETag` of `version`.
pub fn versioned(
    status: actix_web::http::StatusCode,
    version: i32,
    body: &impl serde::Serialize,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .insert_header(("ETag", etag(version)))
        .json(body)
}

/// The client's address, for login throttling and sessions. An IPv4 address
/// reached over IPv6 reads as IPv4.
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_canonical().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}
