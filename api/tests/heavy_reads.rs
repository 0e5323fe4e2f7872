//! Heavy reads (ledger exports, campaign reports) run on a pool of their own,
//! a few at a time per server: beyond that they answer 429 with
//! `Retry-After`, while ordinary requests go on untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::{self, TestRequest};
use common::*;
use diesel::prelude::*;
use serde_json::json;
use std::time::Duration;
use whereabouts_api::app;
use whereabouts_api::db::Db;

#[actix_web::test]
async fn exports_beyond_the_servers_slots_answer_429_and_ordinary_requests_go_on() {
    let app = TestApp::with_config(|c| c.heavy_read_slots = 1).await;
    let d = seed(&app).await;
    let service = test::init_service(app::build(app.state.clone())).await;
    let get = |path: &str, token: &str| {
        TestRequest::get()
            .uri(path)
            .insert_header(("authorization", format!("Bearer {token}")))
            .to_request()
    };
    let csv = format!("/api/v1/ledger?unit_id={}&format=csv", d.bureau);
    let xlsx = format!("/api/v1/ledger?unit_id={}&format=xlsx", d.bureau);
    // The first export holds the only slot while its answer is not yet read.
    let first = test::call_service(&service, get(&csv, d.token("inspector"))).await;
    assert_eq!(first.status().as_u16(), 200);
    for (path, who) in [(&csv, "unit-admin"), (&xlsx, "inspector"), (&csv, "admin")] {
        let res = test::call_service(&service, get(path, d.token(who))).await;
        assert_eq!(res.status().as_u16(), 429, "{path} by {who}");
        assert_eq!(res.headers().get("retry-after").unwrap(), "5");
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["code"], "rate_limited");
    }
    // The policy still answers first: no slot is spent on a caller who may not.
    let res = test::call_service(&service, get(&csv, d.token("clerk"))).await;
    assert_eq!(res.status().as_u16(), 403);
    // Ordinary requests, pages of the same ledger included, are untouched.
    for path in [
        "/api/v1/me".to_owned(),
        format!("/api/v1/ledger?unit_id={}", d.bureau),
        format!("/api/v1/units/{}/roster", d.bureau),
    ] {
        let res = test::call_service(&service, get(&path, d.token("inspector"))).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
    // A campaign report is a heavy read too.
    let res = app
        .post(
            "/api/v1/inspections",
            d.token("inspector"),
            json!({"name": "May Day", "unit_id": d.bureau, "from": "2026-04-28", "to": "2026-05-07"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let report = format!("/api/v1/inspections/{}/report", res.id("/id"));
    let res = test::call_service(&service, get(&report, d.token("inspector"))).await;
    assert_eq!(res.status().as_u16(), 429);
    // Reading the first export to its end frees the slot.
    let body = test::read_body(first).await;
    assert!(body.starts_with("\u{feff}".as_bytes()));
    let res = test::call_service(&service, get(&report, d.token("inspector"))).await;
    assert_eq!(res.status().as_u16(), 200);
    let res = test::call_service(&service, get(&xlsx, d.token("inspector"))).await;
    assert_eq!(res.status().as_u16(), 200);
    // An abandoned export frees its slot as well.
    drop(res);
    let res = test::call_service(&service, get(&csv, d.token("unit-admin"))).await;
    assert_eq!(res.status().as_u16(), 200);
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    statement_timeout: String,
}

/// The statement timeout of a pool's connections.
async fn statement_timeout(db: &Db) -> String {
    db.run(|conn| {
        Ok(diesel::sql_query("SHOW statement_timeout")
            .get_result::<Setting>(conn)?
            .statement_timeout)
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn heavy_reads_have_a_statement_timeout_that_ordinary_requests_do_not() {
    let app = TestApp::new().await;
    let url = app.db.url().to_owned();
    let heavy = Db::heavy(&url, 1, Duration::from_millis(200));
    assert_eq!(statement_timeout(&heavy).await, "200ms");
    let slow = heavy
        .run(|conn| {
            diesel::sql_query("SELECT pg_sleep(3)").execute(conn)?;
            Ok(())
        })
        .await;
    assert!(slow.is_err(), "a statement past the timeout is cancelled");
    let ordinary = Db::connect(&url, 1).unwrap();
    assert_eq!(statement_timeout(&ordinary).await, "0");
}
