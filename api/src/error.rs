//! The one error type of the API and how it is answered.
//!
//! Policy: every error is answered as RFC 9457 `application/problem+json` with a
//! stable `code`; validation failures carry the same items the core's assessment
//! returns. Database errors map by kind (not found → 404, unique violation → 409,
//! pool or connection trouble → 503). No database text, stack trace or personal
//! data ever reaches a response body: the detail is logged with the request id,
//! the client gets the code.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;
use whereabouts_core::{Issue, IssueCode, Lang};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON, or not the expected media type.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The body is JSON but does not validate.
    #[error("validation failed")]
    Validation(Vec<Issue>),
    /// A 422 with its own code (for example `idempotency_key_reused`).
    #[error("unprocessable: {0}")]
    Unprocessable(&'static str, Vec<Issue>),
    /// No credentials, or credentials that do not verify.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// Authenticated, but holding no role that allows this.
    #[error("forbidden")]
    Forbidden,
    /// Authenticated and in scope, but a rule refuses this (for example
    /// `self_change_forbidden`).
    #[error("refused: {0}")]
    Refused(&'static str),
    /// Unknown id, or an id outside the caller's scope.
    #[error("not found")]
    NotFound,
    /// A duplicate or a conflicting state.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// `If-Match` does not match the current version.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The body is too large.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body did not arrive within the configured deadline.
    #[error("request timeout")]
    RequestTimeout,
    /// The body's media type is not accepted.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Too many attempts; retry after this many seconds.
    #[error("rate limited")]
    RateLimited(u64),
    /// The database is out of reach.
    #[error("service unavailable")]
    Unavailable,
    /// A bug or an unexpected failure; details are in the log.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// A 422 with one issue.
    pub fn invalid(code: IssueCode, field: &str, params: serde_json::Value) -> Self {
        ApiError::Validation(vec![Issue::new(code, Some(field.to_owned()), params)])
    }

    /// The same 422 under another stable code.
    pub fn with_code(self, code: &'static str) -> Self {
        match self {
            ApiError::Validation(issues) | ApiError::Unprocessable(_, issues) => {
                ApiError::Unprocessable(code, issues)
            }
            other => other,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Malformed(_) => "malformed_request",
            ApiError::Validation(_) => "validation_failed",
            ApiError::Unprocessable(code, _) => code,
            ApiError::Unauthorized(code) => code,
            ApiError::Forbidden => "forbidden",
            ApiError::Refused(code) => code,
            ApiError::NotFound => "not_found",
            ApiError::Conflict(code) => code,
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal => "internal",
        }
    }

    fn title(&self, lang: Lang) -> &'static str {
        match self {
            ApiError::Malformed(_) => lang.pick("请求格式错误", "Malformed request"),
            ApiError::Validation(_) => lang.pick("输入校验未通过", "Validation failed"),
            ApiError::Unprocessable(..) => lang.pick("请求无法处理", "Unprocessable request"),
            ApiError::Unauthorized(_) => lang.pick("未认证", "Unauthorized"),
            ApiError::Forbidden | ApiError::Refused(_) => lang.pick("无权操作", "Forbidden"),
            ApiError::NotFound => lang.pick("未找到", "Not found"),
            ApiError::Conflict(_) => lang.pick("冲突", "Conflict"),
            ApiError::PreconditionFailed => lang.pick("数据已被修改", "Precondition failed"),
            ApiError::PayloadTooLarge => lang.pick("请求体过大", "Payload too large"),
            ApiError::RequestTimeout => lang.pick("请求超时", "Request timeout"),
            ApiError::UnsupportedMediaType => {
                lang.pick("不支持的内容类型", "Unsupported media type")
            }
            ApiError::RateLimited(_) => lang.pick("请求过于频繁", "Too many requests"),
            ApiError::Unavailable => lang.pick("服务暂不可用", "Service unavailable"),
            ApiError::Internal => lang.pick("服务器内部错误", "Internal server error"),
        }
    }

    fn detail(&self, lang: Lang) -> String {
        match self {
            ApiError::Malformed(detail) => detail.clone(),
            ApiError::Unprocessable("idempotency_key_reused", _) => lang
                .pick(
                    "该幂等键已用于另一个请求",
                    "This Idempotency-Key was used for a different request",
                )
                .to_owned(),
            ApiError::Unprocessable("departure_before_planned", _) => lang
                .pick(
                    "尚未到计划出发日期，不能报告出发",
                    "It is too early to report departure on this filing",
                )
                .to_owned(),
            ApiError::Unprocessable(code, _) => (*code).to_owned(),
            ApiError::Validation(issues) => match issues.len() {
                1 => lang
                    .pick("有 1 处输入需要修改", "1 field needs attention")
                    .to_owned(),
                n => match lang {
                    Lang::ZhCn => format!("有 {n} 处输入需要修改"),
                    Lang::En => format!("{n} fields need attention"),
                },
            },
            ApiError::Unauthorized("invalid_credentials") => lang
                .pick("登录名或密码错误", "Wrong login or password")
                .to_owned(),
            ApiError::Unauthorized("token_expired") => lang
                .pick("访问令牌已过期", "The access token has expired")
                .to_owned(),
            ApiError::Unauthorized(_) => lang
                .pick("需要有效的访问令牌", "A valid access token is required")
                .to_owned(),
            ApiError::Forbidden => lang
                .pick("您的角色不允许此操作", "Your roles do not allow this")
                .to_owned(),
            ApiError::NotFound => lang
                .pick(
                    "资源不存在或不在您的范围内",
                    "No such resource in your scope",
                )
                .to_owned(),
            ApiError::Refused("self_change_forbidden") => lang
                .pick(
                    "不能变更本人的职级、职务、所在单位、角色或领导职务，也不能认定或销号本人的问题，须由他人办理",
                    "No one changes their own rank, position, unit, roles or leadership, or decides a discrepancy about themselves; someone else must",
                )
                .to_owned(),
            ApiError::Refused(code) => (*code).to_owned(),
            ApiError::Conflict(code) => (*code).to_owned(),
            ApiError::PreconditionFailed => lang
                .pick(
                    "数据已被他人修改，请刷新后重试",
                    "The resource changed since you read it; reload and retry",
                )
                .to_owned(),
            ApiError::PayloadTooLarge => lang
                .pick("请求体超过上限", "The request body exceeds the limit")
                .to_owned(),
            ApiError::RequestTimeout => lang
                .pick(
                    "请求体未能在时限内送达",
                    "The request body did not arrive in time",
                )
                .to_owned(),
            ApiError::UnsupportedMediaType => lang
                .pick("请使用 application/json", "Send application/json")
                .to_owned(),
            ApiError::RateLimited(seconds) => match lang {
                Lang::ZhCn => format!("请在 {seconds} 秒后重试"),
                Lang::En => format!("Retry in {seconds} seconds"),
            },
            ApiError::Unavailable => lang
                .pick("数据库暂不可用", "The database is unavailable")
                .to_owned(),
            ApiError::Internal => lang.pick("请稍后重试", "Please retry later").to_owned(),
        }
    }

    /// The problem+json response in a language.
    pub fn render(&self, lang: Lang, request_id: Option<&str>) -> HttpResponse {
        let status = self.status_code();
        let errors = match self {
            ApiError::Validation(issues) | ApiError::Unprocessable(_, issues) => Some(
                issues
                    .iter()
                    .cloned()
                    .map(|i| i.localized(lang))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        };
        let body = Problem {
            r#type: format!("urn:whereabouts:problem:{}", self.code()),
            title: self.title(lang).to_owned(),
            status: status.as_u16(),
            detail: self.detail(lang),
            code: self.code().to_owned(),
            request_id: request_id.map(str::to_owned),
            errors,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let ApiError::RateLimited(seconds) = self {
            response.insert_header((RETRY_AFTER, seconds.to_string()));
        }
        if let ApiError::Unauthorized(_) = self {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let ApiError::PayloadTooLarge | ApiError::RequestTimeout = self {
            // The rest of the body was never read: the connection cannot
            // carry another request.
            response.force_close();
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    pub r#type: String,
    /// Short summary, in the requested language.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened, in the requested language.
    pub detail: String,
    /// Stable code clients can rely on, by status: 400 `malformed_request`;
    /// 401 `unauthorized`, `invalid_token`, `token_expired`, `token_revoked`,
    /// `account_suspended`, `invalid_credentials`, `refresh_token_reused`;
    /// 403 `forbidden` (no role for this), `self_change_forbidden` (one's own
    /// rank, position, unit, roles or leadership, or confirming or clearing a
    /// discrepancy about oneself); 404 `not_found` (unknown
    /// or outside the caller's scope); 409 `duplicate`, `conflict`,
    /// `concurrent_update`, `invalid_transition`, `already_decided`,
    /// `idempotency_key_in_progress`, `account_has_no_unit`,
    /// `filing_not_approved`, `already_checked_out`, `not_checked_out`,
    /// `not_in_custody`; 408 `request_timeout` (the body did not arrive in
    /// time); 412 `precondition_failed`; 413 `payload_too_large`; 415
    /// `unsupported_media_type`; 422 `validation_failed`,
    /// `idempotency_key_reused`, `delegate_out_of_unit` (a delegate outside
    /// the delegator's unit and the nodes above it), `webhook_target_forbidden`
    /// (a webhook URL inside the network or with user-info),
    /// `date_out_of_range` (a date outside 1900-01-01..2100-12-31),
    /// `departure_before_planned` (reporting departure more than a day before
    /// the filing's `depart_on`); 429
    /// `rate_limited` (with
    /// `Retry-After`: throttled logins and password changes, or every
    /// heavy-read slot taken); 500 `internal`; 503 `unavailable`.
    pub code: String,
    /// The request id, also in the `x-request-id` header and in the server log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Validation issues (422 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<Issue>>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::Unprocessable(..) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Rendered in Chinese here; the language middleware renders it again in the
    /// language the request asked for.
    fn error_response(&self) -> HttpResponse {
        self.render(Lang::ZhCn, None)
    }
}

impl From<DieselError> for ApiError {
    fn from(error: DieselError) -> Self {
        match &error {
            DieselError::NotFound => ApiError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                tracing::info!(constraint = info.constraint_name(), "unique violation");
                ApiError::Conflict("duplicate")
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                tracing::info!(constraint = info.constraint_name(), "foreign key violation");
                ApiError::Conflict("conflict")
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::Unavailable
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::Conflict("concurrent_update")
            }
            _ => {
                tracing::error!(error = %error, "database error");
                ApiError::Internal
            }
        }
    }
}
