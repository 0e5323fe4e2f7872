//! The access log: bulk reads of whereabouts, sign-ins, failed sign-ins and
//! refused authorizations are appended with who, what (with the filters),
//! how many rows, the address and the request id; system administrators and
//! inspectors read it within their scope; it is append-only and kept 180
//! days at least.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};
use uuid::Uuid;

const LOG: &str = "/api/v1/access-log";

/// A GET from an address, with a request id.
async fn get_from(app: &TestApp, path: &str, token: &str, request_id: &str) -> Resp {
    app.send(
        TestRequest::get()
            .uri(path)
            .peer_addr("203.0.113.9:41000".parse().unwrap())
            .insert_header(("x-request-id", request_id))
            .insert_header(("authorization", format!("Bearer {token}"))),
    )
    .await
}

/// The log's entries of one action, as the system administrator reads them.
async fn entries(app: &TestApp, action: &str) -> Vec<Value> {
    let res = app
        .get(&format!("{LOG}?action={action}&limit=500"), &app.admin)
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    res.body["items"].as_array().unwrap().clone()
}

/// The one entry with this request id.
async fn by_request(app: &TestApp, action: &str, request_id: &str) -> Value {
    let found: Vec<Value> = entries(app, action)
        .await
        .into_iter()
        .filter(|e| e["request_id"] == request_id)
        .collect();
    assert_eq!(found.len(), 1, "{action} {request_id}: {found:?}");
    found[0].clone()
}

/// A trip of the clerk's, filed.
async fn filed(app: &TestApp, d: &District) {
    let draft = json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "parents",
        "destinations": [{"code": "310000"}], "depart_on": "2027-05-10", "return_on": "2027-05-12",
        "contact_phone": "13800138000"});
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft, "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
}

async fn setup() -> (TestApp, District) {
    let mut app = TestApp::new().await;
    app.set_now("2027-04-20T02:00:00Z");
    let d = seed(&app).await;
    filed(&app, &d).await;
    (app, d)
}

#[actix_web::test]
async fn bulk_reads_of_whereabouts_are_logged_with_filters_rows_address_and_request_id() {
    let (app, d) = setup().await;
    let admin = d.token("unit-admin");
    let ledger = format!("/api/v1/ledger?unit_id={}&from=2027-05-01", d.bureau);
    assert_eq!(
        get_from(&app, &ledger, admin, "req-ledger")
            .await
            .status
            .as_u16(),
        200
    );
    let entry = by_request(&app, "ledger.read", "req-ledger").await;
    assert_eq!(entry["actor_id"], json!(d.unit_admin));
    assert_eq!(entry["target"], json!(d.bureau.to_string()));
    assert_eq!(
        entry["filters"],
        json!({"unit_id": d.bureau.to_string(), "from": "2027-05-01"})
    );
    assert_eq!(entry["rows"], 1);
    assert_eq!(entry["address"], "203.0.113.9");
    assert!(entry["at"].is_string() && entry["id"].is_i64());

    let export = format!("/api/v1/ledger/export.csv?unit_id={}", d.bureau);
    assert_eq!(
        get_from(&app, &export, admin, "req-export")
            .await
            .status
            .as_u16(),
        200
    );
    let entry = by_request(&app, "ledger.export", "req-export").await;
    assert_eq!(entry["rows"], Value::Null, "an export streams, uncounted");

    let roster = format!("/api/v1/units/{}/roster?on=2027-05-11", d.bureau);
    assert_eq!(
        get_from(&app, &roster, admin, "req-roster")
            .await
            .status
            .as_u16(),
        200
    );
    let entry = by_request(&app, "roster.read", "req-roster").await;
    assert_eq!(entry["rows"], 1);
    assert_eq!(entry["filters"], json!({"on": "2027-05-11"}));

    let list = "/api/v1/discrepancies?status=open";
    assert_eq!(
        get_from(&app, list, admin, "req-disc")
            .await
            .status
            .as_u16(),
        200
    );
    let entry = by_request(&app, "discrepancies.read", "req-disc").await;
    assert_eq!(entry["rows"], 0);
    assert_eq!(entry["filters"], json!({"status": "open"}));

    let import = app
        .send(
            TestRequest::post()
                .uri("/api/v1/evidence/imports")
                .insert_header(("x-request-id", "req-import"))
                .insert_header(("authorization", format!("Bearer {admin}")))
                .set_json(json!({"batch_key": "gate-1", "unit_id": d.bureau, "source": "itinerary",
                    "records": [{"employee_no": "E-clerk", "date": "2027-05-11", "location_code": "310000"}]})),
        )
        .await;
    assert_eq!(import.status.as_u16(), 201, "{}", import.body);
    let entry = by_request(&app, "evidence.import", "req-import").await;
    assert_eq!(entry["target"], "gate-1");
    assert_eq!(entry["rows"], 1);

    let inspector = d.token("inspector");
    let campaign = app
        .post(
            "/api/v1/inspections",
            inspector,
            json!({"name": "May Day", "unit_id": d.bureau, "from": "2027-05-01", "to": "2027-05-07"}),
        )
        .await;
    assert_eq!(campaign.status.as_u16(), 201, "{}", campaign.body);
    let report = format!("/api/v1/inspections/{}/report", campaign.str("/id"));
    assert_eq!(
        get_from(&app, &report, inspector, "req-report")
            .await
            .status
            .as_u16(),
        200
    );
    let entry = by_request(&app, "inspection.report", "req-report").await;
    assert_eq!(entry["target"], campaign.body["id"]);
    assert_eq!(entry["actor_id"], json!(d.inspector));

    let document = app
        .post(
            "/api/v1/documents",
            admin,
            json!({"account_id": d.clerk, "kind": "passport", "number": "E12345678",
                   "issued_on": "2020-01-01", "expires_on": "2030-01-01"}),
        )
        .await;
    assert_eq!(document.status.as_u16(), 201, "{}", document.body);
    let path = format!("/api/v1/documents/{}", document.str("/id"));
    assert_eq!(
        get_from(&app, &path, admin, "req-doc")
            .await
            .status
            .as_u16(),
        200
    );
    let entry = by_request(&app, "document.number", "req-doc").await;
    assert_eq!(entry["target"], document.body["id"]);
    // The holder sees the number masked: nothing to log.
    assert_eq!(
        get_from(&app, &path, d.token("clerk"), "req-doc-masked")
            .await
            .status
            .as_u16(),
        200
    );
    assert!(
        entries(&app, "document.number")
            .await
            .iter()
            .all(|e| e["request_id"] != "req-doc-masked")
    );
}

#[actix_web::test]
async fn sign_ins_failed_sign_ins_and_refused_authorizations_are_logged() {
    let (app, d) = setup().await;
    let login = |login: &str, password: &str, id: &str| {
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .peer_addr("198.51.100.4:40000".parse().unwrap())
            .insert_header(("x-request-id", id.to_owned()))
            .set_json(json!({"login": login, "password": password}))
    };
    assert_eq!(
        app.send(login("clerk", PASSWORD, "req-in"))
            .await
            .status
            .as_u16(),
        200
    );
    let entry = by_request(&app, "auth.login", "req-in").await;
    assert_eq!(entry["actor_id"], json!(d.clerk));
    assert_eq!(entry["address"], "198.51.100.4");
    assert!(
        entry["target"].as_str().unwrap().parse::<Uuid>().is_ok(),
        "the session"
    );

    app.send(login("clerk", "not the password", "req-wrong"))
        .await
        .assert_problem(401, "invalid_credentials");
    let entry = by_request(&app, "auth.login_failed", "req-wrong").await;
    assert_eq!(entry["actor_id"], json!(d.clerk));
    assert_eq!(entry["target"], "clerk");
    app.send(login("nobody", "not the password", "req-nobody"))
        .await
        .assert_problem(401, "invalid_credentials");
    let entry = by_request(&app, "auth.login_failed", "req-nobody").await;
    assert_eq!(entry["actor_id"], Value::Null);
    assert_eq!(entry["target"], "nobody");

    get_from(
        &app,
        "/api/v1/ledger?status=away",
        d.token("clerk"),
        "req-refused",
    )
    .await
    .assert_problem(403, "forbidden");
    let entry = by_request(&app, "authorization.refused", "req-refused").await;
    assert_eq!(entry["actor_id"], json!(d.clerk));
    assert_eq!(entry["target"], "GET /api/v1/ledger");
    assert_eq!(
        entry["filters"],
        json!({"query": {"status": "away"}, "code": "forbidden"})
    );
}

#[actix_web::test]
async fn the_log_is_read_within_scope_and_an_inspector_never_reads_their_own() {
    let (app, d) = setup().await;
    // Reads in the bureau by the unit admin and the inspector; one in the
    // other bureau by its admin.
    for (who, unit, id) in [
        ("unit-admin", d.bureau, "in-bureau"),
        ("inspector", d.bureau, "by-inspector"),
        ("other-admin", d.other_bureau, "in-other"),
    ] {
        let path = format!("/api/v1/ledger?unit_id={unit}");
        assert_eq!(
            get_from(&app, &path, d.token(who), id)
                .await
                .status
                .as_u16(),
            200
        );
    }
    let ids = |res: &Resp| -> Vec<String> {
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["request_id"].as_str().map(str::to_owned))
            .collect()
    };
    let all = ids(&app.get(LOG, &app.admin).await);
    for id in ["in-bureau", "by-inspector", "in-other"] {
        assert!(all.contains(&id.to_owned()), "{id} in {all:?}");
    }
    let inspectors = ids(&app.get(LOG, d.token("inspector")).await);
    assert!(
        inspectors.contains(&"in-bureau".to_owned()),
        "{inspectors:?}"
    );
    assert!(
        !inspectors.contains(&"by-inspector".to_owned()),
        "their own"
    );
    assert!(
        !inspectors.contains(&"in-other".to_owned()),
        "outside their scope"
    );

    // Filters and pages.
    let mine = ids(&app
        .get(
            &format!("{LOG}?actor_id={}&action=ledger.read", d.unit_admin),
            &app.admin,
        )
        .await);
    assert_eq!(mine, ["in-bureau"]);
    let later = app
        .get(&format!("{LOG}?from=2100-01-01T00:00:00Z"), &app.admin)
        .await;
    assert_eq!(ids(&later), Vec::<String>::new());
    let first = app.get(&format!("{LOG}?limit=1"), &app.admin).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 1);
    let cursor = first.str("/next_cursor");
    let second = app
        .get(&format!("{LOG}?limit=1&cursor={cursor}"), &app.admin)
        .await;
    assert!(second.body["items"][0]["id"].as_i64() < first.body["items"][0]["id"].as_i64());

    // Nobody else reads it; bad filters are refused.
    for who in ["unit-admin", "clerk", "head"] {
        app.get(LOG, d.token(who))
            .await
            .assert_problem(403, "forbidden");
    }
    app.get(&format!("{LOG}?action=everything"), &app.admin)
        .await
        .assert_problem(422, "validation_failed");
    app.get(&format!("{LOG}?cursor=bm90LWFuLWlk"), &app.admin)
        .await
        .assert_problem(422, "validation_failed");
    app.get(&format!("{LOG}?from=yesterday"), &app.admin)
        .await
        .assert_problem(400, "malformed_request");
    app.get(LOG, "").await.assert_problem(401, "unauthorized");
}

#[actix_web::test]
async fn the_log_is_append_only_and_keeps_180_days_at_least() {
    let (app, _d) = setup().await;
    let mut conn = app.db.connect();
    assert!(app.count("access_log") > 0);
    for statement in [
        "UPDATE access_log SET action = 'x'",
        "DELETE FROM access_log",
        "TRUNCATE access_log",
    ] {
        assert!(conn.batch_execute(statement).is_err(), "{statement}");
    }
    conn.batch_execute(
        "INSERT INTO access_log (at, action) VALUES (now() - interval '200 days', 'auth.login'),
                                                    (now() - interval '100 days', 'auth.login')",
    )
    .unwrap();
    let before = app.count("access_log");
    // A retention shorter than 180 days still keeps 180.
    assert_eq!(
        whereabouts_api::store::access_log::sweep(&mut conn, 30).unwrap(),
        1
    );
    assert_eq!(app.count("access_log"), before - 1);
    assert_eq!(
        app.count("access_log WHERE at < now() - interval '150 days'"),
        0
    );
    assert_eq!(
        app.count("access_log WHERE at < now() - interval '90 days'"),
        1
    );
}
