//! The OpenAPI document: every route, schema, error and the bearer scheme.

use crate::error::Problem;
use crate::routes::{
    accounts, assessments, auth, calendar, health, me, policies, special_periods, units,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, refresh and logout"),
        (name = "me", description = "The caller"),
        (name = "units", description = "The unit tree and its leadership"),
        (name = "policies", description = "Reporting rules, inheritance and coverage"),
        (name = "accounts", description = "Accounts, roles and CSV import"),
        (name = "special periods", description = "Windows that tighten the rules"),
        (name = "calendar", description = "Holidays and adjusted working days"),
        (name = "assessments", description = "What a trip requires")
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

/// The document as pretty JSON, as checked in at `openapi/openapi.json`.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}
