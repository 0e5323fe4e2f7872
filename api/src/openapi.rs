//! The OpenAPI document: every route, schema, error and the bearer scheme.

use crate::error::Problem;
use crate::routes::{health, units};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Whereabouts API", description = "Whereabouts reporting for public officials: filings, approvals, ledgers and supervision.", version = "1.0.0"),
    paths(
        health::healthz, health::readyz,
        units::create, units::list, units::get, units::update, units::children, units::get_leaders, units::put_leaders,
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
    tags((name = "health"), (name = "units", description = "The unit tree and its leadership"))
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
