//! Scope across every supervision route: an inspector of the other bureau sees
//! nothing of the bureau — every route and export answers 404 for the
//! bureau's resources (or lists nothing of them), and nothing changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};

#[actix_web::test]
async fn an_inspector_of_another_subtree_sees_nothing_of_the_bureau() {
    let app = TestApp::with_config(|c| c.fixed_now = "2027-04-20T02:00:00Z".parse().ok()).await;
    let d = seed(&app).await;
    let stranger = app
        .account("stranger", d.other_bureau, "section", "staff")
        .await;
    app.grant(stranger, "inspector", d.other_bureau).await;
    let other = app.login("stranger", PASSWORD).await;

    // The bureau's supervision data: a report-only filing, evidence, a
    // discrepancy, a campaign with a finding and an item, a passport.
    let policy = json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": false}}]});
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("admin"),
            policy,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let draft = json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": "A trip", "destinations": [{"code": "310000"}],
        "depart_on": "2027-05-02", "return_on": "2027-05-03", "contact_phone": "13800138000"});
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft, "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let res = app
        .post(
            "/api/v1/evidence/imports",
            d.token("inspector"),
            json!({"batch_key": "b1", "unit_id": d.bureau, "source": "itinerary",
            "records": [{"login": "head", "date": "2027-05-02", "location_code": "440100"}]}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let res = app
        .post(
            "/api/v1/reconciliations",
            d.token("inspector"),
            json!({"unit_id": d.bureau, "from": "2027-05-01", "to": "2027-05-07"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let discrepancy = res.body["discrepancies"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post("/api/v1/inspections", d.token("inspector"), json!({"name": "Bureau", "unit_id": d.bureau, "from": "2027-05-01", "to": "2027-05-07"}))
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let campaign = res.str("/id");
    let res = app
        .post(&format!("/api/v1/inspections/{campaign}/findings"), d.token("inspector"),
            json!({"unit_id": d.bureau, "category": "not_implemented", "description": "A cadre left without filing"}))
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let finding = res.str("/id");
    let res = app
        .post(
            &format!("/api/v1/inspections/{campaign}/findings/{finding}/rectifications"),
            d.token("inspector"),
            json!({"description": "Brief every cadre", "deadline": "2027-06-01"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let item = res.str("/id");
    let res = app
        .post(
            "/api/v1/documents",
            d.token("unit-admin"),
            json!({"account_id": d.clerk, "kind": "passport", "number": "E12345678",
            "issued_on": "2020-01-01", "expires_on": "2030-01-01"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let document = res.str("/id");

    let before = app.fingerprint();
    let bureau = d.bureau;
    // Every route over the bureau's resources: 404.
    for path in [
        format!("/api/v1/ledger?unit_id={bureau}"),
        format!("/api/v1/ledger?unit_id={bureau}&format=csv"),
        format!("/api/v1/ledger?unit_id={bureau}&format=xlsx"),
        format!("/api/v1/discrepancies?unit_id={bureau}"),
        format!("/api/v1/inspections/{campaign}"),
        format!("/api/v1/inspections/{campaign}/report"),
        format!("/api/v1/inspections/{campaign}/findings"),
        format!("/api/v1/documents?unit_id={bureau}"),
        format!("/api/v1/documents/{document}"),
        format!("/api/v1/units/{bureau}/roster"),
        format!("/api/v1/units/{bureau}/policy-coverage"),
    ] {
        app.get(&path, &other)
            .await
            .assert_problem(404, "not_found");
    }
    let posts: Vec<(String, Value)> = vec![
        (
            "/api/v1/evidence/imports".into(),
            json!({"batch_key": "b2", "unit_id": bureau, "source": "itinerary", "records": []}),
        ),
        (
            "/api/v1/reconciliations".into(),
            json!({"unit_id": bureau, "from": "2027-05-01", "to": "2027-05-07"}),
        ),
        (
            "/api/v1/inspections".into(),
            json!({"name": "Not mine", "unit_id": bureau, "from": "2027-05-01", "to": "2027-05-07"}),
        ),
        (
            format!("/api/v1/inspections/{campaign}/findings"),
            json!({"unit_id": bureau, "category": "falsified", "description": "x"}),
        ),
        (
            format!("/api/v1/inspections/{campaign}/findings/{finding}/rectifications"),
            json!({"description": "x", "deadline": "2027-06-01"}),
        ),
    ];
    for (path, body) in posts {
        app.post(&path, &other, body)
            .await
            .assert_problem(404, "not_found");
    }
    let res = app
        .send(
            TestRequest::patch()
                .uri(&format!(
                    "/api/v1/inspections/{campaign}/findings/{finding}/rectifications/{item}"
                ))
                .insert_header(("authorization", format!("Bearer {other}")))
                .set_json(json!({"evidence": "done"})),
        )
        .await;
    res.assert_problem(404, "not_found");
    // Listing without a unit shows only the stranger's own subtree: nothing here.
    for path in [
        "/api/v1/ledger",
        "/api/v1/discrepancies",
        "/api/v1/documents",
        "/api/v1/inspections",
    ] {
        let res = app.get(path, &other).await;
        assert_eq!(res.status.as_u16(), 200, "{path}: {}", res.body);
        assert_eq!(res.body["items"], json!([]), "{path}");
    }
    assert_eq!(
        app.get("/api/v1/ledger", &other).await.body["counts"]["total"],
        0
    );
    let csv = app
        .send(
            TestRequest::get()
                .uri("/api/v1/ledger?format=csv")
                .insert_header(("authorization", format!("Bearer {other}"))),
        )
        .await;
    assert_eq!(
        csv.body
            .as_str()
            .unwrap()
            .trim_start_matches('\u{feff}')
            .lines()
            .count(),
        1,
        "the heading only"
    );
    // The stranger is an inspector, not a unit admin: the bureau's
    // discrepancies it neither sees nor answers, and documents of its own
    // scope it reads, others' it cannot answer for either.
    for action in ["explain", "confirm", "clear"] {
        app.post(
            &format!("/api/v1/discrepancies/{discrepancy}/{action}"),
            &other,
            json!({"explanation": "x"}),
        )
        .await
        .assert_problem(404, "not_found");
    }
    for path in [
        format!("/api/v1/discrepancies/{discrepancy}"),
        format!("/api/v1/discrepancies/{discrepancy}/events"),
    ] {
        app.get(&path, &other)
            .await
            .assert_problem(404, "not_found");
    }
    for action in ["checkout", "return"] {
        let res = app
            .post(
                &format!("/api/v1/documents/{document}/{action}"),
                &other,
                json!({"filing_id": discrepancy}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 403, "{action}: {}", res.body);
    }
    assert_eq!(app.fingerprint(), before, "refused requests change nothing");
}
