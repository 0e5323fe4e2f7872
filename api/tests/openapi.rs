//! The OpenAPI document: the checked-in copy must match the generated one, it
//! must describe every public route, and the server must serve it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

#[test]
fn the_checked_in_document_matches_the_generated_one() {
    let generated = whereabouts_api::openapi::document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(CHECKED_IN, format!("{generated}\n")).unwrap();
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in.trim_end() == generated.trim_end(),
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p whereabouts-api --test openapi` and commit it"
    );
}

#[test]
fn the_document_describes_every_route_of_the_contract_with_its_errors() {
    let doc: Value = serde_json::from_str(&whereabouts_api::openapi::document()).unwrap();
    let routes = [
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/refresh"),
        ("post", "/api/v1/auth/logout"),
        ("get", "/api/v1/me"),
        ("put", "/api/v1/me/password"),
        ("get", "/api/v1/me/policy-snapshot"),
        ("post", "/api/v1/units"),
        ("get", "/api/v1/units/{id}"),
        ("patch", "/api/v1/units/{id}"),
        ("get", "/api/v1/units/{id}/children"),
        ("put", "/api/v1/units/{id}/leaders"),
        ("put", "/api/v1/units/{id}/policy"),
        ("get", "/api/v1/units/{id}/policy"),
        ("get", "/api/v1/units/{id}/effective-policy"),
        ("get", "/api/v1/units/{id}/policy-coverage"),
        ("post", "/api/v1/accounts"),
        ("get", "/api/v1/accounts"),
        ("get", "/api/v1/accounts/{id}"),
        ("patch", "/api/v1/accounts/{id}"),
        ("post", "/api/v1/accounts/{id}/suspend"),
        ("post", "/api/v1/accounts/{id}/reactivate"),
        ("post", "/api/v1/accounts/{id}/reset-password"),
        ("post", "/api/v1/accounts/import"),
        ("put", "/api/v1/accounts/{id}/roles"),
        ("post", "/api/v1/special-periods"),
        ("get", "/api/v1/special-periods"),
        ("get", "/api/v1/special-periods/{id}"),
        ("patch", "/api/v1/special-periods/{id}"),
        ("put", "/api/v1/calendar/{year}"),
        ("get", "/api/v1/calendar/{year}"),
        ("post", "/api/v1/assessments"),
        ("post", "/api/v1/filings"),
        ("get", "/api/v1/filings"),
        ("get", "/api/v1/filings/{id}"),
        ("get", "/api/v1/filings/{id}/events"),
        ("post", "/api/v1/filings/{id}/submit"),
        ("post", "/api/v1/filings/{id}/withdraw"),
        ("post", "/api/v1/filings/{id}/cancel"),
        ("post", "/api/v1/filings/{id}/depart"),
        ("post", "/api/v1/filings/{id}/return"),
        ("post", "/api/v1/filings/{id}/extensions"),
        ("post", "/api/v1/filings/{id}/approve"),
        ("post", "/api/v1/filings/{id}/reject"),
        ("get", "/api/v1/approvals/pending"),
        ("put", "/api/v1/me/delegation"),
        ("delete", "/api/v1/me/delegation"),
        ("get", "/api/v1/audit/verify"),
        ("get", "/api/v1/me/discrepancies"),
        ("get", "/api/v1/discrepancies/{id}"),
        ("get", "/api/v1/discrepancies/{id}/events"),
        ("post", "/api/v1/discrepancies/{id}/explain"),
        ("post", "/api/v1/discrepancies/{id}/confirm"),
        ("post", "/api/v1/discrepancies/{id}/clear"),
    ];
    for (method, path) in routes {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let public = matches!(path, "/healthz" | "/readyz") || path.starts_with("/api/v1/auth/");
        if !public {
            assert!(
                op["security"].to_string().contains("bearer"),
                "{method} {path} lacks the bearer scheme"
            );
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} lacks its 401"
            );
        }
        if op["requestBody"].is_object() && !path.ends_with("/import") {
            assert!(
                op["responses"]["400"].is_object(),
                "{method} {path} lacks its 400"
            );
            assert!(
                op["responses"]["422"].is_object(),
                "{method} {path} lacks its 422"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[actix_web::test]
async fn the_server_serves_the_document_and_the_interactive_page() {
    let app = common::TestApp::new().await;
    let res = app.get("/api/v1/openapi.json", "").await;
    assert_eq!(res.status.as_u16(), 200);
    let served = serde_json::to_string_pretty(&res.body).unwrap();
    let generated: Value = serde_json::from_str(&whereabouts_api::openapi::document()).unwrap();
    assert_eq!(res.body, generated, "{}", &served[..200.min(served.len())]);
    let page = app.get("/docs/", "").await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(
        page.body.as_str().unwrap_or_default().contains("swagger"),
        "{}",
        page.body
    );
    let redirect = app.get("/docs", "").await;
    assert_eq!(redirect.status.as_u16(), 302);
}
