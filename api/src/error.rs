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

/// Declares [`ProblemCode`] from one table: each code's variant, its wire
/// name, the one status it is answered with, and what it means.
macro_rules! problem_codes {
    ($($variant:ident = $code:literal, $status:literal, $meaning:literal;)*) => {
        /// The stable `code` of a problem, for a client to branch on. Each
        /// code is answered with one HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum ProblemCode {
            $(#[doc = $meaning] #[serde(rename = $code)] $variant,)*
        }

        impl ProblemCode {
            /// Every code the server can answer.
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant),*];

            /// The code as it is written on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(ProblemCode::$variant => $code),* }
            }

            /// The HTTP status this code is answered with.
            pub const fn status(self) -> u16 {
                match self { $(ProblemCode::$variant => $status),* }
            }

            /// What the code means, in a line.
            pub const fn meaning(self) -> &'static str {
                match self { $(ProblemCode::$variant => $meaning),* }
            }
        }
    };
}

problem_codes! {
    MalformedRequest = "malformed_request", 400, "The body is not well-formed JSON or CSV, or the query string does not parse.";
    Unauthorized = "unauthorized", 401, "No access token was sent.";
    InvalidToken = "invalid_token", 401, "The token is not one this server issued, or it names an unknown account.";
    TokenExpired = "token_expired", 401, "The access token has expired: refresh it.";
    TokenRevoked = "token_revoked", 401, "The access token's session has ended (logout, password change or reset).";
    AccountSuspended = "account_suspended", 401, "The account behind the access token is suspended.";
    InvalidCredentials = "invalid_credentials", 401, "Wrong login or password (a suspended account answers the same).";
    RefreshTokenReused = "refresh_token_reused", 401, "A spent refresh token was presented again: its whole family is revoked.";
    InvalidCode = "invalid_code", 401, "The second factor's code is wrong, was used already, or the recovery code is spent.";
    Forbidden = "forbidden", 403, "In scope, but the caller's roles do not allow this action.";
    SelfChangeForbidden = "self_change_forbidden", 403, "No one changes their own standing (rank, position, unit, roles, leadership) or confirms or clears a discrepancy about themselves.";
    MfaEnrollmentRequired = "mfa_enrollment_required", 403, "The caller's role must sign in with a second factor: enrol one under `/me/mfa/totp` first.";
    NotFound = "not_found", 404, "No such resource, or it lies outside the caller's scope.";
    RequestTimeout = "request_timeout", 408, "The request body did not arrive within the deadline.";
    Duplicate = "duplicate", 409, "Something with the same unique key exists already (a login, a unit code, a document number).";
    Conflict = "conflict", 409, "The request names something that another row depends on or that does not exist.";
    ConcurrentUpdate = "concurrent_update", 409, "Another request changed the same data at the same moment: retry.";
    InvalidTransition = "invalid_transition", 409, "The resource's current status does not allow this action.";
    AlreadyDecided = "already_decided", 409, "The approval step was decided already.";
    IdempotencyKeyInProgress = "idempotency_key_in_progress", 409, "A request with this Idempotency-Key is still being answered: retry shortly.";
    AccountHasNoUnit = "account_has_no_unit", 409, "The account belongs to no unit, so there is no policy to file under.";
    FilingNotApproved = "filing_not_approved", 409, "A document is checked out only against an approved filing.";
    AlreadyCheckedOut = "already_checked_out", 409, "The document is checked out already.";
    NotCheckedOut = "not_checked_out", 409, "The document is not checked out, so it cannot be returned.";
    NotInCustody = "not_in_custody", 409, "The document is held by its owner, not in the unit's custody.";
    PreconditionFailed = "precondition_failed", 412, "If-Match does not name the current version: read the resource again.";
    PayloadTooLarge = "payload_too_large", 413, "The request body is over the operation's limit.";
    UnsupportedMediaType = "unsupported_media_type", 415, "The body's Content-Type is not one the operation accepts.";
    ValidationFailed = "validation_failed", 422, "The input does not validate: `errors` lists each issue with its field.";
    IdempotencyKeyReused = "idempotency_key_reused", 422, "This Idempotency-Key was used before with a different body.";
    DelegateOutOfUnit = "delegate_out_of_unit", 422, "A delegate must belong to the delegator's unit or a node above it.";
    WebhookTargetForbidden = "webhook_target_forbidden", 422, "A webhook URL must be http(s), without user-info, and outside the private network.";
    DateOutOfRange = "date_out_of_range", 422, "A date lies outside 1900-01-01..2100-12-31.";
    DepartureBeforePlanned = "departure_before_planned", 422, "Departure is reported more than a day before the filing's `depart_on`: cancel it and file the real dates.";
    RateLimited = "rate_limited", 429, "Too many attempts, or every heavy-read slot is taken: retry after `Retry-After` seconds.";
    Internal = "internal", 500, "An unexpected failure; the request id finds it in the server log.";
    Unavailable = "unavailable", 503, "The database is out of reach: retry later.";
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ProblemCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let mut description = String::from(
            "The stable code of the problem, for a client to branch on. Each code comes with one status:\n",
        );
        for code in ProblemCode::ALL {
            description.push_str(&format!(
                "\n- `{}` ({}): {}",
                code.as_str(),
                code.status(),
                code.meaning()
            ));
        }
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ProblemCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(description))
            .into()
    }
}

impl ToSchema for ProblemCode {}

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
    Unprocessable(ProblemCode, Vec<Issue>),
    /// No credentials, or credentials that do not verify.
    #[error("unauthorized: {0}")]
    Unauthorized(ProblemCode),
    /// Authenticated, but holding no role that allows this.
    #[error("forbidden")]
    Forbidden,
    /// Authenticated and in scope, but a rule refuses this (for example
    /// `self_change_forbidden`).
    #[error("refused: {0}")]
    Refused(ProblemCode),
    /// Unknown id, or an id outside the caller's scope.
    #[error("not found")]
    NotFound,
    /// A duplicate or a conflicting state.
    #[error("conflict: {0}")]
    Conflict(ProblemCode),
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
    /// An internal error whose cause is logged first, with what was being
    /// done: `.map_err(ApiError::internal("serialising the assessment"))`.
    pub fn internal<E: std::fmt::Display>(doing: &'static str) -> impl FnOnce(E) -> ApiError {
        move |cause| {
            tracing::error!(error = %cause, "internal error while {doing}");
            ApiError::Internal
        }
    }

    /// An internal error for a state that cannot happen, logged with what
    /// was missing: `.ok_or_else(|| ApiError::broken("the step of a pending filing"))`.
    pub fn broken(missing: &'static str) -> ApiError {
        tracing::error!("internal error: {missing} is missing");
        ApiError::Internal
    }

    /// A 422 with one issue.
    pub fn invalid(code: IssueCode, field: &str, params: serde_json::Value) -> Self {
        ApiError::Validation(vec![Issue::new(code, Some(field.to_owned()), params)])
    }

    /// The same 422 under another stable code.
    pub fn with_code(self, code: ProblemCode) -> Self {
        match self {
            ApiError::Validation(issues) | ApiError::Unprocessable(_, issues) => {
                ApiError::Unprocessable(code, issues)
            }
            other => other,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ProblemCode {
        match self {
            ApiError::Malformed(_) => ProblemCode::MalformedRequest,
            ApiError::Validation(_) => ProblemCode::ValidationFailed,
            ApiError::Unprocessable(code, _)
            | ApiError::Unauthorized(code)
            | ApiError::Refused(code)
            | ApiError::Conflict(code) => *code,
            ApiError::Forbidden => ProblemCode::Forbidden,
            ApiError::NotFound => ProblemCode::NotFound,
            ApiError::PreconditionFailed => ProblemCode::PreconditionFailed,
            ApiError::PayloadTooLarge => ProblemCode::PayloadTooLarge,
            ApiError::RequestTimeout => ProblemCode::RequestTimeout,
            ApiError::UnsupportedMediaType => ProblemCode::UnsupportedMediaType,
            ApiError::RateLimited(_) => ProblemCode::RateLimited,
            ApiError::Unavailable => ProblemCode::Unavailable,
            ApiError::Internal => ProblemCode::Internal,
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
            ApiError::Unprocessable(ProblemCode::IdempotencyKeyReused, _) => lang
                .pick(
                    "该幂等键已用于另一个请求",
                    "This Idempotency-Key was used for a different request",
                )
                .to_owned(),
            ApiError::Unprocessable(ProblemCode::DepartureBeforePlanned, _) => lang
                .pick(
                    "尚未到计划出发日期，不能报告出发",
                    "It is too early to report departure on this filing",
                )
                .to_owned(),
            ApiError::Unprocessable(code, _) => code.meaning().to_owned(),
            ApiError::Validation(issues) => match issues.len() {
                1 => lang
                    .pick("有 1 处输入需要修改", "1 field needs attention")
                    .to_owned(),
                n => match lang {
                    Lang::ZhCn => format!("有 {n} 处输入需要修改"),
                    Lang::En => format!("{n} fields need attention"),
                },
            },
            ApiError::Unauthorized(ProblemCode::InvalidCredentials) => lang
                .pick("登录名或密码错误", "Wrong login or password")
                .to_owned(),
            ApiError::Unauthorized(ProblemCode::TokenExpired) => lang
                .pick("访问令牌已过期", "The access token has expired")
                .to_owned(),
            ApiError::Unauthorized(ProblemCode::InvalidCode) => lang
                .pick(
                    "验证码错误、已使用过，或恢复码已用完",
                    "The code is wrong or was used already",
                )
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
            ApiError::Refused(ProblemCode::SelfChangeForbidden) => lang
                .pick(
                    "不能变更本人的职级、职务、所在单位、角色或领导职务，也不能认定或销号本人的问题，须由他人办理",
                    "No one changes their own rank, position, unit, roles or leadership, or decides a discrepancy about themselves; someone else must",
                )
                .to_owned(),
            ApiError::Refused(ProblemCode::MfaEnrollmentRequired) => lang
                .pick(
                    "您的角色须使用双因素登录：请先在 /me/mfa/totp 绑定验证器",
                    "Your role signs in with a second factor: enrol one under /me/mfa/totp first",
                )
                .to_owned(),
            ApiError::Refused(code) => code.meaning().to_owned(),
            ApiError::Conflict(code) => code.meaning().to_owned(),
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
            r#type: format!("urn:whereabouts:problem:{}", self.code().as_str()),
            title: self.title(lang).to_owned(),
            status: status.as_u16(),
            detail: self.detail(lang),
            code: self.code(),
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
    /// The stable code clients branch on.
    pub code: ProblemCode,
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
                ApiError::Conflict(ProblemCode::Duplicate)
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                tracing::info!(constraint = info.constraint_name(), "foreign key violation");
                ApiError::Conflict(ProblemCode::Conflict)
            }
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::Unavailable
            }
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::Conflict(ProblemCode::ConcurrentUpdate)
            }
            _ => {
                tracing::error!(error = %error, "database error");
                ApiError::Internal
            }
        }
    }
}
