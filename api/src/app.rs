//! The route table and the middleware every request passes through.

use crate::access::{Access, Entry, RequestId, Requester};
use crate::error::ApiError;
use crate::extract::{AppState, request_lang};
use crate::routes::{
    access_log, accounts, approvals, assessments, audit, auth, calendar, discrepancies, documents,
    evidence, filings, findings, health, inspections, ledger, me, mfa, notifications, policies,
    roster, sessions, special_periods, units,
};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, Error, HttpMessage, HttpResponse, web};
use tracing::Instrument;
use utoipa_swagger_ui::SwaggerUi;
use uuid::Uuid;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/api/v1/openapi.json", web::get().to(openapi_json))
        .service(SwaggerUi::new("/docs/{_:.*}").external_url_unchecked(
            "/api/v1/openapi.json",
            crate::openapi::document_value().clone(),
        ))
        .route("/docs", web::get().to(docs_redirect))
        .service(
            web::scope("/api/v1")
                .route("/auth/login", web::post().to(auth::login))
                .route("/auth/refresh", web::post().to(auth::refresh))
                .route("/auth/logout", web::post().to(auth::logout))
                .route("/auth/mfa", web::post().to(auth::complete_mfa))
                .route("/me", web::get().to(me::get))
                .route("/me/password", web::put().to(me::change_password))
                .route("/me/mfa", web::delete().to(mfa::remove))
                .route("/me/mfa/totp", web::post().to(mfa::begin))
                .route("/me/mfa/totp/confirm", web::post().to(mfa::confirm))
                .route("/me/sessions", web::get().to(sessions::list))
                .route("/me/sessions/{id}", web::delete().to(sessions::end))
                .route("/me/policy-snapshot", web::get().to(me::policy_snapshot))
                .route("/units", web::post().to(units::create))
                .route("/units", web::get().to(units::list))
                .route("/units/{id}", web::get().to(units::get))
                .route("/units/{id}", web::patch().to(units::update))
                .route("/units/{id}/children", web::get().to(units::children))
                .route("/units/{id}/leaders", web::get().to(units::get_leaders))
                .route("/units/{id}/leaders", web::put().to(units::put_leaders))
                .route("/units/{id}/policy", web::get().to(policies::get))
                .route("/units/{id}/policy", web::put().to(policies::put))
                .route(
                    "/units/{id}/effective-policy",
                    web::get().to(policies::get_effective),
                )
                .route(
                    "/units/{id}/policy-coverage",
                    web::get().to(policies::coverage),
                )
                .route("/accounts", web::post().to(accounts::create))
                .route("/accounts", web::get().to(accounts::list))
                .route("/accounts/import", web::post().to(accounts::import))
                .route("/accounts/{id}", web::get().to(accounts::get))
                .route("/accounts/{id}", web::patch().to(accounts::update))
                .route("/accounts/{id}/suspend", web::post().to(accounts::suspend))
                .route(
                    "/accounts/{id}/reactivate",
                    web::post().to(accounts::reactivate),
                )
                .route(
                    "/accounts/{id}/reset-password",
                    web::post().to(accounts::reset_password),
                )
                .route(
                    "/accounts/{id}/revoke-sessions",
                    web::post().to(sessions::revoke),
                )
                .route("/accounts/{id}/mfa/reset", web::post().to(mfa::reset))
                .route("/accounts/{id}/roles", web::get().to(accounts::get_roles))
                .route("/accounts/{id}/roles", web::put().to(accounts::put_roles))
                .route("/special-periods", web::post().to(special_periods::create))
                .route("/special-periods", web::get().to(special_periods::list))
                .route("/special-periods/{id}", web::get().to(special_periods::get))
                .route(
                    "/special-periods/{id}",
                    web::patch().to(special_periods::update),
                )
                .route("/calendar/{year}", web::get().to(calendar::get))
                .route("/calendar/{year}", web::put().to(calendar::put))
                .route("/assessments", web::post().to(assessments::create))
                .route("/filings", web::post().to(filings::create))
                .route("/filings", web::get().to(filings::list))
                .route("/filings/{id}", web::get().to(filings::get))
                .route("/filings/{id}/events", web::get().to(filings::events))
                .route("/filings/{id}/submit", web::post().to(filings::submit))
                .route("/filings/{id}/withdraw", web::post().to(filings::withdraw))
                .route("/filings/{id}/cancel", web::post().to(filings::cancel))
                .route("/filings/{id}/depart", web::post().to(filings::depart))
                .route("/filings/{id}/return", web::post().to(filings::return_))
                .route("/filings/{id}/extensions", web::post().to(filings::extend))
                .route("/filings/{id}/approve", web::post().to(approvals::approve))
                .route("/filings/{id}/reject", web::post().to(approvals::reject))
                .route("/approvals/pending", web::get().to(approvals::pending))
                .route("/me/delegation", web::put().to(approvals::put_delegation))
                .route(
                    "/me/delegation",
                    web::delete().to(approvals::delete_delegation),
                )
                .route("/audit/verify", web::get().to(audit::verify))
                .route("/access-log", web::get().to(access_log::list))
                .route("/units/{id}/roster", web::get().to(roster::roster))
                .route("/evidence/imports", web::post().to(evidence::import))
                .route("/ledger", web::get().to(ledger::ledger))
                .route(
                    "/ledger/export.csv",
                    web::get().to(ledger::export_ledger_csv),
                )
                .route(
                    "/ledger/export.xlsx",
                    web::get().to(ledger::export_ledger_xlsx),
                )
                .route("/documents", web::post().to(documents::create))
                .route("/documents", web::get().to(documents::list))
                .route("/documents/{id}", web::get().to(documents::get))
                .route(
                    "/documents/{id}/checkout",
                    web::post().to(documents::checkout),
                )
                .route("/documents/{id}/return", web::post().to(documents::return_))
                .route("/inspections", web::post().to(inspections::create))
                .route("/inspections", web::get().to(inspections::list))
                .route("/inspections/{id}", web::get().to(inspections::get))
                .route(
                    "/inspections/{id}/report",
                    web::get().to(inspections::get_report),
                )
                .route(
                    "/inspections/{id}/findings",
                    web::post().to(findings::create_finding),
                )
                .route(
                    "/inspections/{id}/findings",
                    web::get().to(findings::list_findings),
                )
                .route(
                    "/inspections/{id}/findings/{finding_id}",
                    web::patch().to(findings::update_finding),
                )
                .route(
                    "/inspections/{id}/findings/{finding_id}/rectifications",
                    web::post().to(findings::create_rectification),
                )
                .route(
                    "/inspections/{id}/findings/{finding_id}/rectifications/{rectification_id}",
                    web::patch().to(findings::update_rectification),
                )
                .route("/reconciliations", web::post().to(evidence::reconcile))
                .route("/discrepancies", web::get().to(discrepancies::list))
                .route("/discrepancies/{id}", web::get().to(discrepancies::get))
                .route(
                    "/discrepancies/{id}/events",
                    web::get().to(discrepancies::events),
                )
                .route(
                    "/discrepancies/{id}/explain",
                    web::post().to(discrepancies::explain),
                )
                .route(
                    "/discrepancies/{id}/confirm",
                    web::post().to(discrepancies::confirm),
                )
                .route(
                    "/discrepancies/{id}/clear",
                    web::post().to(discrepancies::clear),
                )
                .route("/me/discrepancies", web::get().to(discrepancies::mine))
                .route("/me/notifications", web::get().to(notifications::feed))
                .route(
                    "/me/notifications/{id}/read",
                    web::post().to(notifications::read),
                )
                .route("/webhooks", web::post().to(notifications::create_webhook))
                .route("/webhooks", web::get().to(notifications::list_webhooks))
                .route(
                    "/webhooks/{id}",
                    web::delete().to(notifications::delete_webhook),
                ),
        )
        .default_service(web::to(not_found));
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document_value())
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", "/docs/"))
        .finish()
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

/// Appends a refused authorization (a 403 answer) to the access log: one
/// statement, about the caller's own node. A failure to write is logged, and
/// the answer goes out as it is.
async fn log_refusal(req: &actix_web::HttpRequest, code: Option<crate::error::ProblemCode>) {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return;
    };
    let actor = crate::extract::authenticate(req)
        .ok()
        .map(|a| a.account_id());
    let requester = Requester::of(req);
    let entry = Entry::new(Access::Refused, actor)
        .target(format!("{} {}", req.method(), req.path()))
        .filters(serde_json::json!({"query": requester.filters, "code": code.map(|c| c.as_str())}));
    if let Err(error) = state
        .db
        .run(move |conn| crate::access::record_about_actor(conn, &requester, entry))
        .await
    {
        tracing::error!(?error, "the access log refused an entry");
    }
}

/// The application with its state and middleware: a request id on every log
/// line and response, and errors rendered as problem+json in the caller's language.
pub fn build(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::Malformed(format!("query string: {err}")).into()
        }))
        .configure(routes)
        .wrap(crate::idempotency::Idempotency)
        .wrap_fn(|req, srv| {
            let id = request_id(&req);
            let lang = request_lang(req.request());
            let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
            let started = std::time::Instant::now();
            req.extensions_mut().insert(RequestId(id.clone()));
            let fut = actix_web::dev::Service::call(srv, req);
            async move {
                let mut res = fut.await?.map_into_boxed_body();
                let status = res.status();
                tracing::info!(status = status.as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "answered");
                if status == actix_web::http::StatusCode::FORBIDDEN {
                    let code = res.response().error().and_then(|e| e.as_error::<ApiError>()).map(ApiError::code);
                    let http = res.request().clone();
                    log_refusal(&http, code).await;
                }
                if let Some(api) = res.response().error().and_then(|e| e.as_error::<ApiError>()) {
                    let rendered = api.render(lang, Some(&id));
                    res = res.into_response(rendered.map_into_boxed_body());
                } else if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
                    // A framework extractor refused a body over its own limit.
                    let rendered = ApiError::PayloadTooLarge.render(lang, Some(&id));
                    res = res.into_response(rendered.map_into_boxed_body());
                }
                if let Ok(value) = HeaderValue::from_str(&id) {
                    res.headers_mut().insert(HeaderName::from_static(REQUEST_ID), value);
                }
                Ok(res)
            }
            .instrument(span)
        })
}
