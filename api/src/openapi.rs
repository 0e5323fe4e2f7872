//! The OpenAPI document: every route, schema, error and the bearer scheme.

use crate::error::Problem;
use crate::routes::{
    accounts, assessments, audit, auth, calendar, documents, evidence, filings, health,
    inspections, ledger, me, notifications, policies, roster, special_periods, units,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Whereabouts API", description = "Whereabouts reporting for public officials: filings, approvals, ledgers and supervision.", version = "1.0.0"),
    paths(
        health::healthz, health::readyz,
        auth::login, auth::refresh, auth::logout,
        me::get, me::change_password, me::policy_snapshot,
        units::create, units::list, units::get, units::update, units::children, units::get_leaders, units::put_leaders,
        policies::put, policies::get, policies::get_effective, policies::coverage,
        accounts::create, accounts::list, accounts::import, accounts::get, accounts::update, accounts::suspend,
        accounts::reactivate, accounts::reset_password, accounts::get_roles, accounts::put_roles,
        special_periods::create, special_periods::list, special_periods::get, special_periods::update,
        calendar::get, calendar::put,
        assessments::create,
        filings::create, filings::list, filings::get, filings::events, filings::submit, filings::withdraw,
        filings::cancel, filings::depart, filings::return_, filings::extend, filings::approve, filings::reject,
        filings::pending, filings::put_delegation, filings::delete_delegation,
        audit::verify,
        roster::roster,
        ledger::ledger,
        documents::create, documents::list, documents::get, documents::checkout, documents::return_,
        inspections::create, inspections::list, inspections::get, inspections::get_report,
        inspections::create_finding, inspections::list_findings, inspections::update_finding,
        inspections::create_rectification, inspections::update_rectification,
        evidence::import, evidence::reconcile, evidence::list, evidence::explain, evidence::confirm,
        evidence::mine, evidence::get, evidence::events, evidence::clear,
        notifications::feed, notifications::read, notifications::create_webhook, notifications::list_webhooks,
        notifications::delete_webhook,
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme, &ProblemResponses),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, refresh and logout"),
        (name = "me", description = "The caller"),
        (name = "units", description = "The unit tree and its leadership"),
        (name = "policies", description = "Reporting rules, inheritance and coverage"),
        (name = "accounts", description = "Accounts, roles and CSV import"),
        (name = "special periods", description = "Windows that tighten the rules"),
        (name = "calendar", description = "Holidays and adjusted working days"),
        (name = "assessments", description = "What a trip requires"),
        (name = "filings", description = "Trips filed, departed and returned"),
        (name = "approvals", description = "Deciding filings, and delegating that"),
        (name = "audit", description = "The tamper-evident audit chain"),
        (name = "notifications", description = "The in-app feed and webhooks"),
        (name = "supervision", description = "The ledger, evidence, reconciliation and discrepancies"),
        (name = "inspections", description = "Inspection campaigns, findings and rectification"),
        (name = "documents", description = "Passports and passes in the unit's custody")
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Errors are `application/problem+json`: the error responses the handlers
/// declare say so, every body-taking operation documents 408, 413 and 415, and every
/// operation of the API documents a `default` problem for the rest (429, 500, 503).
struct ProblemResponses;

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

impl Modify for ProblemResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let (true, RefOr::T(response)) =
                        (status.starts_with('4') || status.starts_with('5'), response)
                        && let Some(content) = response.content.shift_remove("application/json")
                    {
                        response
                            .content
                            .insert("application/problem+json".to_owned(), content);
                    }
                }
                let responses = &mut operation.responses.responses;
                if operation.request_body.is_some() {
                    responses
                        .entry("408".to_owned())
                        .or_insert_with(|| problem("The body did not arrive in time"));
                    responses
                        .entry("413".to_owned())
                        .or_insert_with(|| problem("The body is too large"));
                    responses
                        .entry("415".to_owned())
                        .or_insert_with(|| problem("The body's media type is not accepted"));
                }
                responses.entry("default".to_owned()).or_insert_with(|| {
                    problem("Any other error: 429 rate limited, 500 internal, 503 unavailable")
                });
            }
        }
    }
}

/// The document as pretty JSON, as checked in at `openapi/openapi.json`.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}
