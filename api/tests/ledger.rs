//! The ledger: filings of a subtree with filters and counts, page by page,
//! and exported as CSV (zh-CN or en headings) and XLSX; in scope only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};

fn draft(depart: &str, ret: &str, code: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": code}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

/// The seeded district with a policy (staff ask their head, then the
/// principal; leaders report) and four filings in May 2027:
/// - the clerk: approved in time, 24–26 May (Suzhou);
/// - the clerk: pending, 20–21 May (Shanghai), filed late (on the 19th);
/// - the head: recorded, 25–26 May;
/// - the outsider (other bureau, report only): recorded, 24–25 May.
///
/// and a draft of the clerk, which the ledger never shows.
async fn setup() -> (TestApp, District, Vec<String>) {
    let app = TestApp::with_config(|c| c.fixed_now = "2027-05-19T02:00:00Z".parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
        {"id": "staff", "applies_to": {"positions": ["staff"]}, "requirement": "approval",
         "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}], "form": "online",
         "notice": {"days": 3, "working_days": true}},
        {"id": "leaders", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": false}}
    ]});
    let report_only = json!({"rules": [{"id": "all", "requirement": "report", "form": "online",
        "notice": {"days": 1, "working_days": false}}]});
    for (unit, policy) in [(d.bureau, policy), (d.other_bureau, report_only)] {
        let res = app
            .put(
                &format!("/api/v1/units/{unit}/policy"),
                d.token("admin"),
                policy,
            )
            .await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    }
    let mut ids = Vec::new();
    for (who, depart, ret, code) in [
        ("clerk", "2027-05-24", "2027-05-26", "320500"),
        ("clerk", "2027-05-20", "2027-05-21", "310000"),
        ("head", "2027-05-25", "2027-05-26", "310000"),
        ("outsider", "2027-05-24", "2027-05-25", "310000"),
    ] {
        let res = app
            .post(
                "/api/v1/filings",
                d.token(who),
                json!({"draft": draft(depart, ret, code), "submit": true}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.body);
        ids.push(res.str("/id"));
    }
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-06-01", "2027-06-02", "310000"), "submit": false}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    for approver in ["head", "principal"] {
        let res = app
            .post(
                &format!("/api/v1/filings/{}/approve", ids[0]),
                d.token(approver),
                json!({}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    }
    (app, d, ids)
}

#[actix_web::test]
async fn the_ledger_lists_filings_of_the_subtree_with_flags_counts_and_pages() {
    let (app, d, ids) = setup().await;
    let path = format!("/api/v1/ledger?unit_id={}", d.bureau);
    let res = app.get(&path, d.token("inspector")).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let items = res.body["items"].as_array().unwrap();
    // Latest departure first; no draft, nobody of the other bureau.
    let order: Vec<&str> = items
        .iter()
        .map(|i| i["filing_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![ids[2].as_str(), ids[0].as_str(), ids[1].as_str()]
    );
    assert_eq!(res.body["counts"]["total"], 3);
    assert_eq!(
        res.body["counts"]["by_status"],
        json!({"approved": 1, "pending": 1, "recorded": 1})
    );
    // Filed on 19 May for a trip on the 20th with three working days' notice: late.
    assert_eq!(res.body["counts"]["late"], 1);
    let late = &items[2];
    assert_eq!(late["late"], true);
    assert_eq!(late["display_name"], "clerk name");
    assert_eq!(late["destinations"], json!(["310000"]));
    assert_eq!(late["status"], "pending");
    assert_eq!(items[1]["late"], false);
    assert_eq!(items[1]["status"], "approved");

    // Filters.
    for (query, expected) in [
        ("&status=approved", vec![ids[0].as_str()]),
        ("&late=true", vec![ids[1].as_str()]),
        ("&late=false", vec![ids[2].as_str(), ids[0].as_str()]),
        ("&rank=section", vec![ids[2].as_str()]),
        ("&from=2027-05-22&to=2027-05-24", vec![ids[0].as_str()]),
        ("&kind=abroad_private", vec![]),
        ("&overdue=true", vec![]),
        ("&departed_before_approval=true", vec![]),
    ] {
        let res = app
            .get(&format!("{path}{query}"), d.token("unit-admin"))
            .await;
        assert_eq!(res.status.as_u16(), 200, "{query}: {}", res.body);
        let got: Vec<&str> = res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["filing_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, expected, "{query}");
        assert_eq!(res.body["counts"]["total"], expected.len(), "{query}");
    }

    // Pages of one.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&limit=1&cursor={c}"),
            None => format!("{path}&limit=1"),
        };
        let res = app.get(&url, d.token("inspector")).await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        assert_eq!(res.body["counts"]["total"], 3);
        seen.extend(
            res.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["filing_id"].as_str().unwrap().to_owned()),
        );
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![ids[2].clone(), ids[0].clone(), ids[1].clone()]);

    // Without unit_id: the caller's whole scope (the bureau for its inspector).
    let res = app.get("/api/v1/ledger", d.token("inspector")).await;
    assert_eq!(res.body["counts"]["total"], 3);
    // The system administrator sees the district: the other bureau's filing too.
    let res = app.get("/api/v1/ledger", d.token("admin")).await;
    assert_eq!(res.body["counts"]["total"], 4);
}

#[actix_web::test]
async fn the_ledger_exports_csv_in_chinese_or_english_and_xlsx() {
    let (app, d, ids) = setup().await;
    let path = format!("/api/v1/ledger?unit_id={}", d.bureau);
    let res = app
        .send(
            TestRequest::get()
                .uri(&path)
                .insert_header(("authorization", format!("Bearer {}", d.token("inspector"))))
                .insert_header(("accept", "text/csv")),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200);
    assert!(res.header("content-type").starts_with("text/csv"));
    let text = res
        .body
        .as_str()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_owned();
    let mut lines = text.lines();
    let head = lines.next().unwrap();
    assert!(head.starts_with("申报编号,姓名,工号"), "{head}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with(&ids[2]));
    assert!(
        rows[2].contains(",是,否,否,"),
        "late, not overdue, not departed before approval: {}",
        rows[2]
    );

    let res = app
        .send(
            TestRequest::get()
                .uri(&format!("{path}&format=csv&status=approved"))
                .insert_header(("authorization", format!("Bearer {}", d.token("inspector"))))
                .insert_header(("accept-language", "en")),
        )
        .await;
    let text = res
        .body
        .as_str()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("filing_id,name,employee_no,rank"),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains(",no,no,no,"), "{}", lines[1]);

    let service =
        actix_web::test::init_service(whereabouts_api::app::build(app.state.clone())).await;
    let req = TestRequest::get()
        .uri(&format!("{path}&format=xlsx"))
        .insert_header(("authorization", format!("Bearer {}", d.token("unit-admin"))))
        .to_request();
    let res = actix_web::test::call_service(&service, req).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = actix_web::test::read_body(res).await;
    assert!(bytes.starts_with(b"PK\x03\x04"), "an XLSX is a zip");
    assert!(bytes.len() > 1000);
}

#[actix_web::test]
async fn the_ledger_refuses_bad_queries_and_other_scopes() {
    let (app, d, _) = setup().await;
    let bureau = format!("/api/v1/ledger?unit_id={}", d.bureau);
    app.get(&bureau, d.token("other-admin"))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{bureau}&format=csv"), d.token("other-admin"))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{bureau}&format=xlsx"), d.token("other-admin"))
        .await
        .assert_problem(404, "not_found");
    app.get(&bureau, d.token("clerk"))
        .await
        .assert_problem(403, "forbidden");
    // The other bureau's admin sees only its own filing.
    let res = app.get("/api/v1/ledger", d.token("other-admin")).await;
    assert_eq!(res.body["counts"]["total"], 1);
    app.get(&format!("{bureau}&format=pdf"), d.token("inspector"))
        .await
        .assert_problem(422, "validation_failed");
    app.get(
        &format!("{bureau}&from=2027-05-20&to=2027-05-01"),
        d.token("inspector"),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get(
        &format!("{bureau}&cursor=bm90LWEtY3Vyc29y"),
        d.token("inspector"),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get(&format!("{bureau}&limit=0"), d.token("inspector"))
        .await
        .assert_problem(422, "validation_failed");
    app.get(&format!("{bureau}&status=lost"), d.token("inspector"))
        .await
        .assert_problem(400, "malformed_request");
}
