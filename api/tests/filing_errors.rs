//! Bad input on the filing, approval, delegation and webhook routes: each
//! answers problem+json and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};

fn draft() -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": "320500"}], "depart_on": "2027-04-21", "return_on": "2027-05-12", "contact_phone": "13800138000"})
}

async fn setup() -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = "2027-04-20T02:00:00Z".parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [{"id": "all", "requirement": "approval", "approvers": [{"kind": "department_head"}],
        "form": "online", "notice": {"days": 1}}]});
    app.put(
        &format!("/api/v1/units/{}/policy", d.bureau),
        d.token("admin"),
        policy,
    )
    .await;
    (app, d)
}

#[actix_web::test]
async fn filing_bodies_are_checked_before_anything_is_written() {
    let (app, d) = setup().await;
    let auth = ("authorization", format!("Bearer {}", d.token("clerk")));
    let before = app.fingerprint();
    let raw = |body: &'static str| {
        TestRequest::post()
            .uri("/api/v1/filings")
            .insert_header(auth.clone())
            .insert_header(("content-type", "application/json"))
            .set_payload(body)
    };
    app.send(raw("{\"draft\": "))
        .await
        .assert_problem(400, "malformed_request");
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": {"kind": "space_travel"}}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "draft.kind");
    let mut nul = draft();
    nul["reason"] = json!("a\u{0}b");
    let res = app
        .post("/api/v1/filings", d.token("clerk"), json!({"draft": nul}))
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["params"]["reason"], "nul_character");
    let long_key = "k".repeat(256);
    let res = app
        .send(
            TestRequest::post()
                .uri("/api/v1/filings")
                .insert_header(auth.clone())
                .insert_header(("idempotency-key", long_key))
                .set_json(json!({"draft": draft()})),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "Idempotency-Key");
    app.get("/api/v1/filings?status=lost", d.token("clerk"))
        .await
        .assert_problem(400, "malformed_request");
    app.get("/api/v1/filings?cursor=bm90LWEtY3Vyc29y", d.token("clerk"))
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/filings?mine=false", d.token("clerk"))
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn bad_extensions_reports_and_comments_change_nothing() {
    let (app, d) = setup().await;
    let id = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft(), "submit": true}),
        )
        .await
        .str("/id");
    let res = app
        .post(
            &format!("/api/v1/filings/{id}/reject"),
            d.token("head"),
            json!({"comment": "x".repeat(501)}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["code"], "too_long");
    app.post(
        &format!("/api/v1/filings/{id}/approve"),
        d.token("head"),
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/filings/{id}/depart"),
        d.token("clerk"),
        json!({}),
    )
    .await;

    let before = app.fingerprint();
    let extensions = format!("/api/v1/filings/{id}/extensions");
    let extend = |body: Value| app.post(&extensions, d.token("clerk"), body);
    let res = extend(json!({"new_return_on": "2027-05-15", "reason": "  "})).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(
        (
            res.body["errors"][0]["code"].as_str(),
            res.body["errors"][0]["field"].as_str()
        ),
        (Some("required"), Some("reason"))
    );
    let res = extend(json!({"new_return_on": "2027-05-15", "reason": "x".repeat(501)})).await;
    assert_eq!(res.body["errors"][0]["code"], "too_long");
    let res = extend(json!({"new_return_on": "2027-05-12", "reason": "no later"})).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "new_return_on");
    let res = extend(json!({"reason": "no date"})).await;
    assert_eq!(res.body["errors"][0]["code"], "required");
    let res = app
        .post(
            &format!("/api/v1/filings/{id}/return"),
            d.token("clerk"),
            json!({"report": "x".repeat(2001)}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "report");
    assert_eq!(app.fingerprint(), before);
    let filing = app
        .get(&format!("/api/v1/filings/{id}"), d.token("clerk"))
        .await;
    assert_eq!(filing.body["status"], "away");
    assert_eq!(filing.body["extensions"], json!([]));
}

#[actix_web::test]
async fn bad_delegations_and_webhooks_change_nothing() {
    let (app, d) = setup().await;
    let before = app.fingerprint();
    let delegate = |body: Value| app.put("/api/v1/me/delegation", d.token("head"), body);
    let res = delegate(json!({"delegate_id": d.deputy, "starts_at": "2027-05-01T00:00:00Z", "ends_at": "2027-04-01T00:00:00Z"})).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "ends_at");
    let res = delegate(json!({"delegate_id": d.head, "starts_at": "2027-04-01T00:00:00Z", "ends_at": "2027-05-01T00:00:00Z"})).await;
    assert_eq!(res.body["errors"][0]["params"]["reason"], "self");
    let res = delegate(json!({"delegate_id": uuid::Uuid::new_v4(), "starts_at": "2027-04-01T00:00:00Z", "ends_at": "2027-05-01T00:00:00Z"})).await;
    assert_eq!(res.body["errors"][0]["params"]["reason"], "unknown_account");

    let hook = |body: Value| app.post("/api/v1/webhooks", d.token("admin"), body);
    let res = hook(json!({"url": "ftp://example.invalid/x"})).await;
    res.assert_problem(422, "webhook_target_forbidden");
    assert_eq!(res.body["errors"][0]["field"], "url");
    let res = hook(json!({"url": "http://127.0.0.1:9/x", "secret": "short"})).await;
    assert_eq!(res.body["errors"][0]["code"], "out_of_range");
    let res = hook(json!({"url": "http://127.0.0.1:9/x", "events": [""]})).await;
    assert_eq!(res.body["errors"][0]["field"], "events");
    assert_eq!(app.fingerprint(), before);
    app.send(
        TestRequest::delete()
            .uri(&format!("/api/v1/webhooks/{}", uuid::Uuid::new_v4()))
            .insert_header(("authorization", format!("Bearer {}", d.token("admin")))),
    )
    .await
    .assert_problem(404, "not_found");
}

/// Departure is reported from the day before `depart_on` on, by the local
/// date of the jurisdiction: "now" is 01:00 on 21 April in Beijing (still
/// 20 April in UTC).
#[actix_web::test]
async fn departing_more_than_a_day_before_the_plan_is_refused_and_changes_nothing() {
    let (app, d) = reporting_district("2027-04-20T17:00:00Z").await;
    let file = |depart_on: &'static str| {
        let mut draft = draft();
        draft["depart_on"] = json!(depart_on);
        draft["return_on"] = json!("2027-04-30");
        app.post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft, "submit": true}),
        )
    };
    let early = file("2027-04-23").await;
    assert_eq!(early.status.as_u16(), 201, "{}", early.body);
    assert_eq!(early.body["status"], "recorded", "{}", early.body);
    let early = early.str("/id");
    let depart = |id: &str, lang: &'static str| {
        app.send(
            TestRequest::post()
                .uri(&format!("/api/v1/filings/{id}/depart"))
                .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
                .insert_header(("accept-language", lang)),
        )
    };
    let before = app.fingerprint();
    let res = depart(&early, "en").await;
    res.assert_problem(422, "departure_before_planned");
    let errors = res.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{}", res.body);
    assert_eq!(errors[0]["code"], "departure_before_planned");
    assert_eq!(errors[0]["field"], "depart_on");
    assert_eq!(
        errors[0]["params"],
        json!({"depart_on": "2027-04-23", "earliest": "2027-04-22"})
    );
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("cancel this filing"), "{message}");
    let res = depart(&early, "zh-CN").await;
    res.assert_problem(422, "departure_before_planned");
    let message = res.body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("撤销") && message.contains("2027-04-22"),
        "{message}"
    );
    assert_eq!(app.fingerprint(), before);
    let filing = app
        .get(&format!("/api/v1/filings/{early}"), d.token("clerk"))
        .await;
    assert_eq!(filing.body["status"], "recorded", "{}", filing.body);

    // The day before the plan, locally (two days before it in UTC): fine.
    let next_day = file("2027-04-22").await.str("/id");
    let res = depart(&next_day, "en").await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "away", "{}", res.body);
}
