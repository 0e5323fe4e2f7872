#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Supervision through the API (API.md, "Routes → Supervision" and "Evidence
//! and reconciliation"): evidence imports (JSON and CSV), reconciliation of
//! evidence against filings, and the discrepancies it finds, with every
//! expected value worked out from the contract rather than from the handlers.

mod common;

use actix_web::dev::ServiceResponse;
use actix_web::test::{self, TestRequest};
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

/// "Now" for the whole app: Tuesday 20 April 2027, 10:00 in Beijing.
const NOW: &str = "2027-04-20T02:00:00Z";
const IMPORTS: &str = "/api/v1/evidence/imports";
const RECONCILE: &str = "/api/v1/reconciliations";

/// The seeded district with a policy on the bureau: section-rank staff only
/// report; other staff need their department head and then the bureau's
/// principal; leaders report.
async fn setup() -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = NOW.parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
        {"id": "reporters", "applies_to": {"ranks": ["section"], "positions": ["staff"]}, "requirement": "report",
         "form": "online", "notice": {"days": 1, "working_days": false}},
        {"id": "staff", "applies_to": {"positions": ["staff"]}, "requirement": "approval",
         "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}], "form": "online",
         "notice": {"days": 3, "working_days": true}, "return_report": {"required": true, "within_hours": 24}},
        {"id": "leaders", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": false}}
    ]});
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("admin"),
            policy,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    (app, d)
}

fn trip(destination: &str, depart: &str, ret: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": destination}], "depart_on": depart, "return_on": ret,
        "contact_phone": "13800138000"})
}

/// Files and submits a trip; answers the filing's id after checking its status.
async fn file(app: &TestApp, token: &str, draft: Value, status: &str) -> String {
    let res = app
        .post(
            "/api/v1/filings",
            token,
            json!({"draft": draft, "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["status"], status, "{}", res.body);
    res.str("/id")
}

async fn act(app: &TestApp, token: &str, filing: &str, action: &str, body: Value) -> Resp {
    let res = app
        .post(&format!("/api/v1/filings/{filing}/{action}"), token, body)
        .await;
    assert_eq!(res.status.as_u16(), 200, "{action}: {}", res.body);
    res
}

/// Both steps of the chain (the office's head, then the bureau's principal).
async fn approve(app: &TestApp, d: &District, filing: &str) -> Resp {
    act(app, d.token("head"), filing, "approve", json!({})).await;
    act(app, d.token("principal"), filing, "approve", json!({})).await
}

/// Sends a body with a content type (or none) to a path, as a POST.
async fn raw(
    app: &TestApp,
    token: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Resp {
    let mut req = TestRequest::post().uri(uri).set_payload(body);
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    if !token.is_empty() {
        req = req.insert_header(("authorization", format!("Bearer {token}")));
    }
    app.send(req).await
}

/// Sends a request as a server would answer it: an error a middleware
/// returns becomes its error response (`TestApp::send` panics on one).
async fn send_as_server(app: &TestApp, req: TestRequest) -> Resp {
    let service = test::init_service(whereabouts_api::app::build(app.state.clone())).await;
    let res = match test::try_call_service(&service, req.to_request()).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(error) => {
            let (req, _) = req_parts();
            ServiceResponse::new(req, error.error_response())
        }
    };
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = test::read_body(res).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Resp {
        status,
        headers,
        body,
    }
}

fn req_parts() -> (actix_web::HttpRequest, actix_web::dev::Payload) {
    TestRequest::default().to_http_parts()
}

/// A POST with a JSON body and an `If-Match` header.
async fn post_if_match(app: &TestApp, token: &str, uri: &str, tag: &str, body: Value) -> Resp {
    let req = TestRequest::post()
        .uri(uri)
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("if-match", tag))
        .set_json(body);
    app.send(req).await
}

/// A problem document with this status (whatever its code).
fn assert_status_problem(res: &Resp, status: u16) {
    assert_eq!(res.status.as_u16(), status, "{}", res.body);
    assert_eq!(
        res.header("content-type"),
        "application/problem+json",
        "{}",
        res.body
    );
    assert!(res.body["code"].is_string(), "{}", res.body);
    assert_eq!(res.body["status"], status, "{}", res.body);
}

/// The stored evidence ids of an import, by row number.
fn evidence_ids(app: &TestApp, import: Uuid) -> HashMap<i32, i64> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        row_number: i32,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let mut conn = app.db.connect();
    diesel::sql_query(format!(
        "SELECT row_number, id FROM evidence WHERE import_id = '{import}'"
    ))
    .load::<Row>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|r| (r.row_number, r.id))
    .collect()
}

/// The rejected rows of an import result, as (row, code).
fn rejected(res: &Resp) -> Vec<(i64, String)> {
    res.body["rejected"]
        .as_array()
        .unwrap_or_else(|| panic!("no rejected list: {}", res.body))
        .iter()
        .map(|r| {
            assert!(
                r["message"].as_str().is_some_and(|m| !m.trim().is_empty()),
                "a rejected row without a message: {r}"
            );
            (
                r["row"].as_i64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// One discrepancy as compared here.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    account: Uuid,
    kind: String,
    from: String,
    to: String,
    filing: Option<String>,
    evidence: Vec<i64>,
}

fn found(list: &Value) -> Vec<Found> {
    let mut out: Vec<Found> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|d| {
            let mut evidence: Vec<i64> = d["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap())
                .collect();
            evidence.sort_unstable();
            Found {
                account: d["account_id"].as_str().unwrap().parse().unwrap(),
                kind: d["kind"].as_str().unwrap().to_owned(),
                from: d["from"].as_str().unwrap().to_owned(),
                to: d["to"].as_str().unwrap().to_owned(),
                filing: d["filing_id"].as_str().map(str::to_owned),
                evidence,
            }
        })
        .collect();
    out.sort();
    out
}

fn expect(
    account: Uuid,
    kind: &str,
    from: &str,
    to: &str,
    filing: Option<&str>,
    evidence: &[i64],
) -> Found {
    let mut evidence = evidence.to_vec();
    evidence.sort_unstable();
    Found {
        account,
        kind: kind.to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
        filing: filing.map(str::to_owned),
        evidence,
    }
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------- imports

#[actix_web::test]
async fn a_json_import_stores_good_rows_and_lists_each_refused_one() {
    let (app, d) = setup().await;
    // The clerk gets a new employee number; the import names them by it.
    let res = app
        .patch(
            &format!("/api/v1/accounts/{}", d.clerk),
            d.token("admin"),
            json!({"employee_no": "E1001"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["employee_no"], "E1001");

    let itinerary = json!({
        "batch_key": "bureau-itinerary-2027-05",
        "unit_id": d.bureau,
        "source": "itinerary",
        "from": "2027-05-01",
        "to": "2027-05-31",
        "records": [
            {"employee_no": "E1001", "date": "2027-05-02", "location_code": "310000"},
            {"login": "head", "date": "2027-05-03", "location_code": "440100"},
            {"date": "2027-05-03", "location_code": "310000"},
            {"employee_no": "E1001", "date": "2027-05-32", "location_code": "310000"},
            {"employee_no": "E9999", "date": "2027-05-04", "location_code": "310000"},
            {"login": "outsider", "date": "2027-05-04", "location_code": "310000"},
            {"employee_no": "E-outsider", "date": "2027-05-04", "location_code": "310000"},
            {"employee_no": "E1001", "date": "2027-06-01", "location_code": "310000"},
            {"employee_no": "E1001", "date": "2027-04-30", "location_code": "310000"},
            {"employee_no": "E1001", "date": "2027-05-05", "location_code": "999999"},
            {"login": "deputy", "date": "2027-05-31", "location_code": "JP"},
            {"employee_no": "E-principal", "date": "2027-05-01", "location_code": "HK"}
        ]
    });
    let first = app
        .post(IMPORTS, d.token("unit-admin"), itinerary.clone())
        .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let import = first.id("/id");
    assert_eq!(first.body["accepted"], 4, "{}", first.body);
    assert_eq!(
        rejected(&first),
        vec![
            (3, "required".to_owned()),
            (4, "invalid".to_owned()),
            (5, "unknown_person".to_owned()),
            (6, "unknown_person".to_owned()),
            (7, "unknown_person".to_owned()),
            (8, "out_of_range".to_owned()),
            (9, "out_of_range".to_owned()),
            (10, "destination_unknown".to_owned()),
        ]
    );
    assert_eq!(app.count("evidence"), 4);
    let stored = evidence_ids(&app, import);
    assert_eq!(
        stored.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([1, 2, 11, 12])
    );

    // The same batch key again: the first result, nothing stored.
    let before = app.fingerprint();
    let again = app.post(IMPORTS, d.token("unit-admin"), itinerary).await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.body);
    assert_eq!(again.body, first.body);
    // Even with other records under the same key.
    let other = json!({"batch_key": "bureau-itinerary-2027-05", "unit_id": d.bureau, "source": "itinerary",
        "records": [{"login": "clerk", "date": "2027-05-09", "location_code": "120000"}]});
    let again = app.post(IMPORTS, d.token("unit-admin"), other).await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(app.count("evidence"), 4);
    assert_eq!(app.fingerprint(), before);

    // Border crossings: an exit needs its country; an entry need not name one.
    let border = json!({
        "batch_key": "bureau-border-2027-05",
        "unit_id": d.bureau,
        "source": "border_crossing",
        "records": [
            {"employee_no": "E1001", "date": "2027-05-02", "direction": "exit", "location_code": "JP"},
            {"employee_no": "E1001", "date": "2027-05-06", "direction": "entry"},
            {"login": "head", "date": "2027-05-02", "direction": "exit"},
            {"login": "head", "date": "2027-05-02", "direction": "sideways", "location_code": "JP"}
        ]
    });
    let res = app.post(IMPORTS, d.token("unit-admin"), border).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 2, "{}", res.body);
    assert_eq!(
        rejected(&res),
        vec![(3, "required".to_owned()), (4, "invalid".to_owned())]
    );

    // Attendance: the status must be one of present, out, absent, leave.
    let attendance = json!({
        "batch_key": "bureau-attendance-2027-05",
        "unit_id": d.bureau,
        "source": "attendance",
        "records": [
            {"login": "clerk", "date": "2027-05-06", "status": "absent"},
            {"login": "clerk", "date": "2027-05-07", "status": "asleep"},
            {"employee_no": "E1001", "date": "2027-05-10", "status": "present"},
            {"login": "clerk", "date": "2027-05-11"},
            {"employee_no": "E-head", "date": "2027-05-11", "status": "leave"},
            {"employee_no": "E-head", "date": "2027-05-12", "status": "out"}
        ]
    });
    let res = app.post(IMPORTS, d.token("unit-admin"), attendance).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 4, "{}", res.body);
    assert_eq!(
        rejected(&res),
        vec![(2, "invalid".to_owned()), (4, "required".to_owned())]
    );
    assert_eq!(app.count("evidence"), 4 + 2 + 4);
}

#[actix_web::test]
async fn a_csv_import_numbers_rows_by_line_and_refuses_bad_requests() {
    let (app, d) = setup().await;
    let token = d.token("unit-admin");
    let uri = format!(
        "{IMPORTS}?batch_key=csv-2027-05&unit_id={}&source=itinerary",
        d.bureau
    );
    let csv = "employee_no,login,date,location_code\n\
               E-clerk,,2027-05-02,310000\n\
               ,head,2027-05-03,440100\n\
               ,,2027-05-04,310000\n\
               E-clerk,,2027-02-30,310000\n\
               E-nobody,,2027-05-04,310000\n\
               ,outsider,2027-05-04,310000\n\
               E-clerk,,2027-05-05,999999\n";
    let first = raw(&app, token, &uri, Some("text/csv"), csv.into()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    assert_eq!(first.body["accepted"], 2, "{}", first.body);
    // The header is line 1: the first record is line 2.
    assert_eq!(
        rejected(&first),
        vec![
            (4, "required".to_owned()),
            (5, "invalid".to_owned()),
            (6, "unknown_person".to_owned()),
            (7, "unknown_person".to_owned()),
            (8, "destination_unknown".to_owned()),
        ]
    );
    let stored = evidence_ids(&app, first.id("/id"));
    assert_eq!(
        stored.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([2, 3])
    );
    assert_eq!(app.count("evidence"), 2);

    // The same batch again: the first answer, nothing more stored.
    let again = raw(
        &app,
        token,
        &uri,
        Some("text/csv; charset=utf-8"),
        csv.into(),
    )
    .await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(app.count("evidence"), 2);

    // An attendance batch with its own columns.
    let uri2 = format!(
        "{IMPORTS}?batch_key=csv-att-2027-05&unit_id={}&source=attendance",
        d.bureau
    );
    let res = raw(
        &app,
        token,
        &uri2,
        Some("text/csv"),
        "login,date,status\nclerk,2027-05-12,absent\nclerk,2027-05-13,asleep\n".into(),
    )
    .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 1, "{}", res.body);
    assert_eq!(rejected(&res), vec![(3, "invalid".to_owned())]);
    assert_eq!(app.count("evidence"), 3);

    let before = app.fingerprint();
    // A CSV without the header columns.
    let uri3 = format!(
        "{IMPORTS}?batch_key=csv-bad-header&unit_id={}&source=itinerary",
        d.bureau
    );
    let res = raw(
        &app,
        token,
        &uri3,
        Some("text/csv"),
        "who,when,where\nE-clerk,2027-05-02,310000\n".into(),
    )
    .await;
    assert_status_problem(&res, 400);
    // Records alone, with no header row naming date and person.
    let res = raw(
        &app,
        token,
        &uri3,
        Some("text/csv"),
        "E-clerk,,2027-05-02,310000\n".into(),
    )
    .await;
    assert_status_problem(&res, 400);

    // The query string must say batch, unit and source.
    let good = "employee_no,date,location_code\nE-clerk,2027-05-02,310000\n";
    let res = raw(
        &app,
        token,
        &format!("{IMPORTS}?source=itinerary"),
        Some("text/csv"),
        good.into(),
    )
    .await;
    res.assert_problem(422, "validation_failed");
    let fields: BTreeSet<&str> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default())
        .collect();
    assert!(
        fields.contains("batch_key") && fields.contains("unit_id"),
        "{}",
        res.body
    );
    for missing in [
        format!("{IMPORTS}?unit_id={}&source=itinerary", d.bureau),
        format!("{IMPORTS}?batch_key=b&unit_id={}", d.bureau),
        format!("{IMPORTS}?batch_key=b&source=itinerary"),
        IMPORTS.to_owned(),
    ] {
        let res = raw(&app, token, &missing, Some("text/csv"), good.into()).await;
        res.assert_problem(422, "validation_failed");
    }

    // Neither JSON nor CSV.
    for ct in [Some("text/plain"), Some("application/xml"), None] {
        let res = raw(&app, token, &uri3, ct, good.into()).await;
        res.assert_problem(415, "unsupported_media_type");
    }
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn an_import_over_32_mib_is_refused_and_stores_nothing() {
    let (app, d) = setup().await;
    let token = d.token("unit-admin");
    let before = app.fingerprint();
    let uri = format!(
        "{IMPORTS}?batch_key=huge&unit_id={}&source=itinerary",
        d.bureau
    );
    // A valid CSV (one good row, one with an absurd location) of `size` bytes.
    let csv_of = |size: usize| {
        let head =
            "employee_no,login,date,location_code\nE-clerk,,2027-05-02,310000\n,head,2027-05-03,";
        let mut body = String::with_capacity(size);
        body.push_str(head);
        body.push_str(&"9".repeat(size - head.len() - 1));
        body.push('\n');
        assert_eq!(body.len(), size);
        body.into_bytes()
    };
    const MIB: usize = 1024 * 1024;
    let mut answers = Vec::new();
    for size in [33 * MIB, 32 * MIB + 1, 50 * 1000 * 1000] {
        answers.push(raw(&app, token, &uri, Some("text/csv"), csv_of(size)).await);
    }
    // The same as JSON: 50 MB.
    let padding = "9".repeat(50 * 1000 * 1000);
    let body =
        json!({"batch_key": "huge-json", "unit_id": d.bureau, "source": "itinerary", "records": [
            {"employee_no": "E-clerk", "date": "2027-05-02", "location_code": "310000"},
            {"employee_no": "E-clerk", "date": "2027-05-03", "location_code": padding}
        ]})
        .to_string()
        .into_bytes();
    assert!(body.len() > 50 * 1000 * 1000);
    answers.push(raw(&app, token, IMPORTS, Some("application/json"), body).await);
    for res in &answers {
        assert_eq!(res.status.as_u16(), 413, "{}", res.body);
    }
    assert_eq!(app.count("evidence"), 0);
    assert_eq!(app.count("evidence_imports"), 0);
    assert_eq!(app.fingerprint(), before);
    // Like every error, a problem document with its code.
    for res in &answers {
        res.assert_problem(413, "payload_too_large");
    }
}

#[actix_web::test]
async fn an_import_under_32_mib_is_accepted_with_an_idempotency_key_too() {
    let (app, d) = setup().await;
    let token = d.token("unit-admin");
    // 6 MiB: over the 5 MiB of account imports, well under the 32 MiB of
    // evidence imports; one record, its long note an ignored extra column.
    let body = |batch: &str| {
        let head =
            format!("employee_no,date,location_code,note\nE-clerk,2027-05-02,310000,{batch}");
        let mut body = head.clone();
        body.push_str(&"n".repeat(6 * 1024 * 1024 - head.len() - 1));
        body.push('\n');
        body.into_bytes()
    };
    let uri = |batch: &str| {
        format!(
            "{IMPORTS}?batch_key={batch}&unit_id={}&source=itinerary",
            d.bureau
        )
    };
    let res = raw(&app, token, &uri("plain"), Some("text/csv"), body("plain")).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 1, "{}", res.body);

    let keyed = |key: &str| {
        TestRequest::post()
            .uri(&uri("keyed"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", "text/csv"))
            .insert_header(("idempotency-key", key.to_owned()))
            .set_payload(body("keyed"))
    };
    let first = send_as_server(&app, keyed("evidence-import-6mib")).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    assert_eq!(first.body["accepted"], 1, "{}", first.body);
    let again = send_as_server(&app, keyed("evidence-import-6mib")).await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(app.count("evidence"), 2);
}

#[actix_web::test]
async fn importing_outside_ones_scope_is_refused_and_changes_nothing() {
    let (app, d) = setup().await;
    let body = json!({"batch_key": "scope", "unit_id": d.bureau, "source": "itinerary",
        "records": [{"employee_no": "E-clerk", "date": "2027-05-02", "location_code": "310000"}]});
    let before = app.fingerprint();
    app.post(IMPORTS, d.token("other-admin"), body.clone())
        .await
        .assert_problem(404, "not_found");
    app.post(IMPORTS, d.token("clerk"), body.clone())
        .await
        .assert_problem(403, "forbidden");
    let csv_uri = format!(
        "{IMPORTS}?batch_key=scope&unit_id={}&source=itinerary",
        d.bureau
    );
    let csv = "employee_no,date,location_code\nE-clerk,2027-05-02,310000\n";
    raw(
        &app,
        d.token("other-admin"),
        &csv_uri,
        Some("text/csv"),
        csv.into(),
    )
    .await
    .assert_problem(404, "not_found");
    raw(
        &app,
        d.token("clerk"),
        &csv_uri,
        Some("text/csv"),
        csv.into(),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post(IMPORTS, "", body)
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(app.fingerprint(), before);

    // The other bureau's admin, in its own subtree, cannot name our people.
    let res = app
        .post(
            IMPORTS,
            d.token("other-admin"),
            json!({"batch_key": "scope", "unit_id": d.other_bureau, "source": "itinerary",
            "records": [{"employee_no": "E-clerk", "date": "2027-05-02", "location_code": "310000"},
                        {"login": "outsider", "date": "2027-05-02", "location_code": "310000"}]}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 1, "{}", res.body);
    assert_eq!(rejected(&res), vec![(1, "unknown_person".to_owned())]);
}

// --------------------------------------------------------- reconciliation

/// One record of a batch, labelled for the test.
type Labelled = (&'static str, Value);

/// Imports labelled records as one batch; answers each label's evidence id.
async fn import_labelled(
    app: &TestApp,
    token: &str,
    unit: Uuid,
    batch_key: &str,
    source: &str,
    records: Vec<Labelled>,
) -> HashMap<&'static str, i64> {
    let body = json!({"batch_key": batch_key, "unit_id": unit, "source": source,
        "records": records.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()});
    let res = app.post(IMPORTS, token, body).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["rejected"], json!([]), "{}", res.body);
    assert_eq!(res.body["accepted"], records.len(), "{}", res.body);
    let stored = evidence_ids(app, res.id("/id"));
    records
        .iter()
        .enumerate()
        .map(|(i, (label, _))| (*label, stored[&(i32::try_from(i).unwrap() + 1)]))
        .collect()
}

fn itin(person: &str, date: &str, code: &str) -> Value {
    json!({"employee_no": format!("E-{person}"), "date": date, "location_code": code})
}

#[actix_web::test]
async fn reconciliation_finds_each_kind_and_nothing_where_filings_agree() {
    let (mut app, d) = setup().await;
    let office = d.office;
    // One person per case, all in the office; employee numbers are E-<login>.
    let mut people: HashMap<&str, Uuid> = HashMap::new();
    for login in [
        "wang", "li", "zhao", "qian", "sun", "zhou", "wu", "feng", "chen", "chu", "he",
    ] {
        people.insert(login, app.account(login, office, "clerk", "staff").await);
    }
    // Section-rank staff only report.
    people.insert(
        "zheng",
        app.account("zheng", office, "section", "staff").await,
    );
    let mut tokens: HashMap<&str, String> = HashMap::new();
    for login in ["li", "zhao", "qian", "sun", "wu", "zheng", "chen"] {
        tokens.insert(login, app.login(login, PASSWORD).await);
    }
    let p = |login: &str| people[login];

    // li: to Shanghai 3–5 May, approved, away and back.
    let li_trip = file(
        &app,
        &tokens["li"],
        trip("310000", "2027-05-03", "2027-05-05"),
        "pending",
    )
    .await;
    approve(&app, &d, &li_trip).await;
    // zhao: 10–12 May still pending; 24–25 May rejected.
    let zhao_pending = file(
        &app,
        &tokens["zhao"],
        trip("310000", "2027-05-10", "2027-05-12"),
        "pending",
    )
    .await;
    let zhao_rejected = file(
        &app,
        &tokens["zhao"],
        trip("310000", "2027-05-24", "2027-05-25"),
        "pending",
    )
    .await;
    act(
        &app,
        d.token("head"),
        &zhao_rejected,
        "reject",
        json!({"comment": "not now"}),
    )
    .await;
    // qian: filed late for 15–21 April (already begun), approved today, 20 April 10:00.
    let mut late = trip("310000", "2027-04-15", "2027-04-21");
    late["late_reason"] = json!("My father was taken to hospital");
    let qian_trip = file(&app, &tokens["qian"], late, "pending").await;
    let res = approve(&app, &d, &qian_trip).await;
    assert_eq!(res.body["status"], "approved", "{}", res.body);
    // sun: approved for Shanghai 3–6 May.
    let sun_trip = file(
        &app,
        &tokens["sun"],
        trip("310000", "2027-05-03", "2027-05-06"),
        "pending",
    )
    .await;
    approve(&app, &d, &sun_trip).await;
    // wu: approved for Shanghai 3–5 May, away and back.
    let wu_trip = file(
        &app,
        &tokens["wu"],
        trip("310000", "2027-05-03", "2027-05-05"),
        "pending",
    )
    .await;
    approve(&app, &d, &wu_trip).await;
    // zheng: a report-only trip to Guangzhou 3–5 May, recorded before departure.
    file(
        &app,
        &tokens["zheng"],
        trip("440100", "2027-05-03", "2027-05-05"),
        "recorded",
    )
    .await;
    // chen: approved for Shanghai 3–5 May, away, extended to 8 May and the
    // extension approved by the same chain.
    let chen_trip = file(
        &app,
        &tokens["chen"],
        trip("310000", "2027-05-03", "2027-05-05"),
        "pending",
    )
    .await;
    approve(&app, &d, &chen_trip).await;

    // 2 May, 10:00 in Beijing: the eve of the trips of 3 May, from when their
    // departures may be reported. li and wu go and come back; sun goes; chen
    // goes and asks for more days.
    app.set_now("2027-05-02T02:00:00Z");
    for (login, trip) in [
        ("li", &li_trip),
        ("sun", &sun_trip),
        ("wu", &wu_trip),
        ("chen", &chen_trip),
    ] {
        act(&app, &tokens[login], trip, "depart", json!({})).await;
    }
    for (login, trip) in [("li", &li_trip), ("wu", &wu_trip)] {
        act(
            &app,
            &tokens[login],
            trip,
            "return",
            json!({"report": "back"}),
        )
        .await;
    }
    act(
        &app,
        &tokens["chen"],
        &chen_trip,
        "extensions",
        json!({"new_return_on": "2027-05-08", "reason": "flight cancelled"}),
    )
    .await;
    let res = approve(&app, &d, &chen_trip).await;
    assert_eq!(res.body["return_on"], "2027-05-08", "{}", res.body);

    let token = d.token("unit-admin");
    let it = import_labelled(
        &app,
        token,
        d.bureau,
        "itinerary-2027",
        "itinerary",
        vec![
            // wang: out 3–5 May (Shanghai, Suzhou, Guangzhou), again on 7 May.
            ("w1", itin("wang", "2027-05-03", "310000")),
            ("w2", itin("wang", "2027-05-04", "320500")),
            ("w3", itin("wang", "2027-05-05", "440100")),
            ("w4", itin("wang", "2027-05-07", "310000")),
            // li: on the trip 4 May; out again 8–9, 19 and 20 May.
            (
                "l1",
                json!({"login": "li", "date": "2027-05-04", "location_code": "310000"}),
            ),
            ("l2", itin("li", "2027-05-08", "310000")),
            ("l3", itin("li", "2027-05-09", "310000")),
            ("l4", itin("li", "2027-05-19", "310000")),
            ("l5", itin("li", "2027-05-20", "310000")),
            // zhao: gone on the pending and on the rejected trip.
            ("z1", itin("zhao", "2027-05-10", "310000")),
            ("z2", itin("zhao", "2027-05-11", "310000")),
            ("z3", itin("zhao", "2027-05-24", "310000")),
            // qian: out before the approval, and on the day it came.
            ("q1", itin("qian", "2027-04-16", "310000")),
            ("q2", itin("qian", "2027-04-17", "310000")),
            ("q3", itin("qian", "2027-04-20", "310000")),
            // sun: Shanghai, then Guangzhou for two days, then a Shanghai district.
            ("s1", itin("sun", "2027-05-03", "310000")),
            ("s2", itin("sun", "2027-05-04", "440100")),
            ("s3", itin("sun", "2027-05-05", "440100")),
            ("s4", itin("sun", "2027-05-06", "310105")),
            // wu: where the filing says.
            ("u1", itin("wu", "2027-05-03", "310000")),
            ("u2", itin("wu", "2027-05-04", "310115")),
            ("u3", itin("wu", "2027-05-05", "310000")),
            // zheng: Guangzhou and one of its districts.
            ("g1", itin("zheng", "2027-05-04", "440100")),
            ("g2", itin("zheng", "2027-05-05", "440106")),
            // feng: in Beijing.
            ("f1", itin("feng", "2027-05-03", "110105")),
            ("f2", itin("feng", "2027-05-04", "110000")),
            // chen: on the days the extension added.
            ("c1", itin("chen", "2027-05-07", "310000")),
            ("c2", itin("chen", "2027-05-08", "310000")),
            // he: in Shanghai on a day attendance also marks absent.
            ("h1", itin("he", "2027-05-12", "310000")),
        ],
    )
    .await;
    let bc = import_labelled(
        &app,
        token,
        d.bureau,
        "border-2027",
        "border_crossing",
        vec![
            // chu: abroad 20–22 May (exit 20, entry 23).
            ("x1", json!({"employee_no": "E-chu", "date": "2027-05-20", "direction": "exit", "location_code": "JP"})),
            ("x2", json!({"employee_no": "E-chu", "date": "2027-05-23", "direction": "entry", "location_code": "JP"})),
        ],
    )
    .await;
    let at = import_labelled(
        &app,
        token,
        d.bureau,
        "attendance-2027",
        "attendance",
        vec![
            // zhou: absent Wed 12 May, present 13, out Fri 14, absent Sat 15, leave Mon 17.
            (
                "a1",
                json!({"employee_no": "E-zhou", "date": "2027-05-12", "status": "absent"}),
            ),
            (
                "a2",
                json!({"employee_no": "E-zhou", "date": "2027-05-13", "status": "present"}),
            ),
            (
                "a3",
                json!({"employee_no": "E-zhou", "date": "2027-05-14", "status": "out"}),
            ),
            (
                "a4",
                json!({"employee_no": "E-zhou", "date": "2027-05-15", "status": "absent"}),
            ),
            (
                "a5",
                json!({"employee_no": "E-zhou", "date": "2027-05-17", "status": "leave"}),
            ),
            // wu: absent Tue 4 May, on the approved trip.
            (
                "a6",
                json!({"employee_no": "E-wu", "date": "2027-05-04", "status": "absent"}),
            ),
            // he: absent on the day the itinerary puts them in Shanghai.
            (
                "a7",
                json!({"employee_no": "E-he", "date": "2027-05-12", "status": "absent"}),
            ),
        ],
    )
    .await;
    let e = |label: &str| {
        it.get(label)
            .or_else(|| bc.get(label))
            .or_else(|| at.get(label))
            .copied()
            .unwrap_or_else(|| panic!("no record {label}"))
    };

    let window = json!({"unit_id": d.bureau, "from": "2027-04-01", "to": "2027-05-31"});
    let discrepancies_before = app.count("discrepancies");
    let first = app.post(RECONCILE, token, window.clone()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    assert!(first.body["id"].is_string(), "{}", first.body);
    let mut all = found(&first.body["discrepancies"]);

    // he: one discrepancy for the day, an unreported departure (being outside
    // comes first); the absence is not a second one.
    let he: Vec<Found> = all
        .iter()
        .filter(|f| f.account == p("he"))
        .cloned()
        .collect();
    assert_eq!(he.len(), 1, "{he:?}");
    assert_eq!(
        (
            he[0].kind.as_str(),
            he[0].from.as_str(),
            he[0].to.as_str(),
            &he[0].filing
        ),
        ("unreported_departure", "2027-05-12", "2027-05-12", &None)
    );
    assert!(he[0].evidence.contains(&e("h1")), "{he:?}");
    all.retain(|f| f.account != p("he"));

    let mut expected = vec![
        // Out three days in a row with no filing: one discrepancy; the 7th apart.
        expect(
            p("wang"),
            "unreported_departure",
            "2027-05-03",
            "2027-05-05",
            None,
            &[e("w1"), e("w2"), e("w3")],
        ),
        expect(
            p("wang"),
            "unreported_departure",
            "2027-05-07",
            "2027-05-07",
            None,
            &[e("w4")],
        ),
        // Within 14 days after the reported trip ended on 5 May (19 May is the
        // 14th day after); 20 May is past it.
        expect(
            p("li"),
            "returned_late",
            "2027-05-08",
            "2027-05-09",
            Some(&li_trip),
            &[e("l2"), e("l3")],
        ),
        expect(
            p("li"),
            "returned_late",
            "2027-05-19",
            "2027-05-19",
            Some(&li_trip),
            &[e("l4")],
        ),
        expect(
            p("li"),
            "unreported_departure",
            "2027-05-20",
            "2027-05-20",
            None,
            &[e("l5")],
        ),
        // Covered by a pending, then by a rejected filing.
        expect(
            p("zhao"),
            "departed_before_approval",
            "2027-05-10",
            "2027-05-11",
            Some(&zhao_pending),
            &[e("z1"), e("z2")],
        ),
        expect(
            p("zhao"),
            "departed_before_approval",
            "2027-05-24",
            "2027-05-24",
            Some(&zhao_rejected),
            &[e("z3")],
        ),
        // Approved only after those days ended; 20 April itself is fine.
        expect(
            p("qian"),
            "departed_before_approval",
            "2027-04-16",
            "2027-04-17",
            Some(&qian_trip),
            &[e("q1"), e("q2")],
        ),
        // Guangzhou is not inside Shanghai.
        expect(
            p("sun"),
            "destination_differs",
            "2027-05-04",
            "2027-05-05",
            Some(&sun_trip),
            &[e("s2"), e("s3")],
        ),
        // Absent or out on working days (12 and 14 May); Saturday 15 May is no working day.
        expect(
            p("zhou"),
            "absence_without_filing",
            "2027-05-12",
            "2027-05-12",
            None,
            &[e("a1")],
        ),
        expect(
            p("zhou"),
            "absence_without_filing",
            "2027-05-14",
            "2027-05-14",
            None,
            &[e("a3")],
        ),
        // Abroad from the exit to the day before the entry.
        expect(
            p("chu"),
            "unreported_departure",
            "2027-05-20",
            "2027-05-22",
            None,
            &[e("x1"), e("x2")],
        ),
    ];
    expected.sort();
    assert_eq!(all, expected);
    for quiet in ["wu", "zheng", "feng", "chen"] {
        assert!(
            !first.body["discrepancies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["account_id"] == json!(p(quiet))),
            "{quiet}: {}",
            first.body
        );
    }
    for x in first.body["discrepancies"].as_array().unwrap() {
        assert_eq!(x["status"], "open", "{x}");
        assert_eq!(x["unit_id"], json!(office), "{x}");
        assert!(x["id"].is_string(), "{x}");
    }
    // The evidence behind wang's run says where and when.
    let wang = first.body["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["account_id"] == json!(p("wang")) && x["from"] == "2027-05-03")
        .unwrap();
    let mut seen: Vec<(String, String)> = wang["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["source"], "itinerary", "{r}");
            (
                r["date"].as_str().unwrap().to_owned(),
                r["location_code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("2027-05-03".to_owned(), "310000".to_owned()),
            ("2027-05-04".to_owned(), "320500".to_owned()),
            ("2027-05-05".to_owned(), "440100".to_owned()),
        ]
    );
    let count = app.count("discrepancies");
    assert_eq!(count - discrepancies_before, 13);
    assert_eq!(first.body["created"], 13, "{}", first.body);

    // Again over the same data: nothing new.
    let second = app.post(RECONCILE, token, window).await;
    assert!(second.status.is_success(), "{}", second.body);
    assert_eq!(second.body["created"], 0, "{}", second.body);
    assert_eq!(
        ids(&second.body["discrepancies"]),
        ids(&first.body["discrepancies"])
    );
    assert_eq!(app.count("discrepancies"), count);

    // The other bureau's admin, over its own subtree, finds none of ours.
    let res = app
        .post(
            RECONCILE,
            d.token("other-admin"),
            json!({"unit_id": d.other_bureau, "from": "2027-04-01", "to": "2027-05-31"}),
        )
        .await;
    assert!(res.status.is_success(), "{}", res.body);
    assert_eq!(res.body["discrepancies"], json!([]), "{}", res.body);
    assert_eq!(app.count("discrepancies"), count);
}

#[actix_web::test]
async fn reconciliation_checks_its_window_and_scope() {
    let (app, d) = setup().await;
    let token = d.token("unit-admin");
    let before = app.fingerprint();
    let run = |from: &str, to: &str| json!({"unit_id": d.bureau, "from": from, "to": to});
    // Ends before it starts.
    app.post(RECONCILE, token, run("2027-05-10", "2027-05-09"))
        .await
        .assert_problem(422, "validation_failed");
    // Over 366 days, by any count.
    app.post(RECONCILE, token, run("2027-01-01", "2028-01-03"))
        .await
        .assert_problem(422, "validation_failed");
    app.post(RECONCILE, token, run("2027-01-01", "2029-01-01"))
        .await
        .assert_problem(422, "validation_failed");
    // Scope.
    app.post(
        RECONCILE,
        d.token("other-admin"),
        run("2027-05-01", "2027-05-31"),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(RECONCILE, d.token("clerk"), run("2027-05-01", "2027-05-31"))
        .await
        .assert_problem(403, "forbidden");
    app.post(RECONCILE, "", run("2027-05-01", "2027-05-31"))
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(app.fingerprint(), before);
    // 366 days, counting both ends, is allowed; a single day too.
    let res = app
        .post(RECONCILE, token, run("2027-01-01", "2027-12-31"))
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["discrepancies"], json!([]));
    let res = app
        .post(RECONCILE, token, run("2027-05-01", "2027-05-01"))
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
}

// ---------------------------------------------------------- discrepancies

/// Three open discrepancies in the office: two unreported departures and an
/// absence. Answers the reconciliation's discrepancies.
async fn three_discrepancies(app: &TestApp, d: &District) -> Value {
    for login in ["wang", "li", "zhou"] {
        app.account(login, d.office, "clerk", "staff").await;
    }
    let token = d.token("unit-admin");
    import_labelled(
        app,
        token,
        d.bureau,
        "itinerary",
        "itinerary",
        vec![
            ("w1", itin("wang", "2027-05-03", "310000")),
            ("w2", itin("wang", "2027-05-04", "310000")),
            ("l1", itin("li", "2027-05-20", "440100")),
        ],
    )
    .await;
    import_labelled(
        app,
        token,
        d.bureau,
        "attendance",
        "attendance",
        vec![(
            "a1",
            json!({"employee_no": "E-zhou", "date": "2027-05-12", "status": "absent"}),
        )],
    )
    .await;
    let res = app
        .post(
            RECONCILE,
            token,
            json!({"unit_id": d.bureau, "from": "2027-05-01", "to": "2027-05-31"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(
        res.body["discrepancies"].as_array().unwrap().len(),
        3,
        "{}",
        res.body
    );
    res.body["discrepancies"].clone()
}

#[actix_web::test]
async fn discrepancies_are_listed_filtered_and_paged_within_scope() {
    let (app, d) = setup().await;
    let made = three_discrepancies(&app, &d).await;
    let all = ids(&made);
    let list = format!("/api/v1/discrepancies?unit_id={}", d.bureau);

    for who in ["unit-admin", "inspector"] {
        let res = app.get(&list, d.token(who)).await;
        assert_eq!(res.status.as_u16(), 200, "{who}: {}", res.body);
        assert_eq!(ids(&res.body["items"]), all, "{who}");
        assert!(res.body["next_cursor"].is_null(), "{}", res.body);
        // Without unit_id: the caller's whole scope.
        let res = app.get("/api/v1/discrepancies", d.token(who)).await;
        assert_eq!(res.status.as_u16(), 200, "{who}: {}", res.body);
        assert_eq!(ids(&res.body["items"]), all, "{who}");
    }
    // A department inside the bureau holds them all too.
    let res = app
        .get(
            &format!("/api/v1/discrepancies?unit_id={}", d.office),
            d.token("inspector"),
        )
        .await;
    assert_eq!(ids(&res.body["items"]), all);

    // Filters.
    let res = app
        .get(
            &format!("{list}&kind=absence_without_filing"),
            d.token("unit-admin"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let items = res.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", res.body);
    assert_eq!(items[0]["kind"], "absence_without_filing");
    assert_eq!(items[0]["from"], "2027-05-12");
    let res = app
        .get(
            &format!("{list}&kind=unreported_departure"),
            d.token("unit-admin"),
        )
        .await;
    assert_eq!(
        res.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        res.body
    );
    let res = app
        .get(&format!("{list}&status=open"), d.token("unit-admin"))
        .await;
    assert_eq!(ids(&res.body["items"]), all);
    let res = app
        .get(&format!("{list}&status=explained"), d.token("unit-admin"))
        .await;
    assert_eq!(res.body["items"], json!([]), "{}", res.body);

    // One at a time.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            None => format!("{list}&limit=1"),
            Some(c) => format!("{list}&limit=1&cursor={}", urlencode(c)),
        };
        let res = app.get(&uri, d.token("inspector")).await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        let items = res.body["items"].as_array().unwrap();
        assert!(items.len() <= 1, "{}", res.body);
        paged.extend(items.iter().map(|x| x["id"].as_str().unwrap().to_owned()));
        match res.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(paged.len() <= 3, "the pages do not end: {paged:?}");
    }
    assert_eq!(paged.len(), 3, "{paged:?}");
    assert_eq!(paged.iter().cloned().collect::<BTreeSet<_>>(), all);

    // The other bureau: nothing of ours in its scope; ours is not its to read.
    let res = app
        .get("/api/v1/discrepancies", d.token("other-admin"))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["items"], json!([]), "{}", res.body);
    let res = app
        .get(
            &format!("/api/v1/discrepancies?unit_id={}", d.other_bureau),
            d.token("other-admin"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["items"], json!([]), "{}", res.body);
    app.get(&list, d.token("other-admin"))
        .await
        .assert_problem(404, "not_found");
    app.get(&list, d.token("clerk"))
        .await
        .assert_problem(403, "forbidden");
}

/// Percent-encodes a cursor for the query string.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[actix_web::test]
async fn a_discrepancy_is_explained_by_the_unit_admin_then_confirmed() {
    let (app, d) = setup().await;
    let made = three_discrepancies(&app, &d).await;
    let target = made
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "absence_without_filing")
        .unwrap()
        .clone();
    let id = target["id"].as_str().unwrap().to_owned();
    let first_version = target["version"].as_i64().expect("a version");
    let explain = format!("/api/v1/discrepancies/{id}/explain");
    let confirm = format!("/api/v1/discrepancies/{id}/confirm");
    let list = format!("/api/v1/discrepancies?unit_id={}", d.bureau);

    let before = app.fingerprint();
    // The explanation is required.
    app.post(&explain, d.token("unit-admin"), json!({}))
        .await
        .assert_problem(422, "validation_failed");
    let res = app
        .post(
            &explain,
            d.token("unit-admin"),
            json!({"explanation": "   "}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(
        res.body["errors"][0]["field"], "explanation",
        "{}",
        res.body
    );
    // Inspectors read and decide but do not explain for the person (a
    // tag of no version shows the confirmation let through, changing nothing); a
    // cadre who is not the person concerned does not see it, nor do other units.
    let text = json!({"explanation": "On sick leave; the note reached HR late"});
    app.post(&explain, d.token("inspector"), text.clone())
        .await
        .assert_problem(403, "forbidden");
    post_if_match(
        &app,
        d.token("inspector"),
        &confirm,
        &format!("\"{}\"", first_version + 1),
        json!({}),
    )
    .await
    .assert_problem(412, "precondition_failed");
    app.post(&explain, d.token("clerk"), text.clone())
        .await
        .assert_problem(404, "not_found");
    app.post(&explain, d.token("other-admin"), text.clone())
        .await
        .assert_problem(404, "not_found");
    app.post(&confirm, d.token("other-admin"), json!({}))
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/discrepancies/{}/explain", Uuid::new_v4()),
        d.token("unit-admin"),
        text.clone(),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.fingerprint(), before);

    // open → explained.
    let res = app
        .post(&explain, d.token("unit-admin"), text.clone())
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["id"], id);
    assert_eq!(res.body["status"], "explained");
    assert_eq!(res.body["explanation"], text["explanation"]);
    assert_eq!(res.body["explained_by"], json!(d.unit_admin));
    let tag = res.header("etag");
    assert!(!tag.is_empty(), "no ETag");
    assert_eq!(tag, format!("\"{}\"", res.body["version"]), "{}", res.body);
    assert_ne!(tag, format!("\"{first_version}\""));

    let res = app
        .get(&format!("{list}&status=explained"), d.token("inspector"))
        .await;
    assert_eq!(ids(&res.body["items"]), BTreeSet::from([id.clone()]));
    let res = app
        .get(&format!("{list}&status=open"), d.token("inspector"))
        .await;
    assert_eq!(
        res.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        res.body
    );

    // A stale tag is refused and changes nothing.
    let before = app.fingerprint();
    post_if_match(
        &app,
        d.token("unit-admin"),
        &confirm,
        &format!("\"{first_version}\""),
        json!({}),
    )
    .await
    .assert_problem(412, "precondition_failed");
    assert_eq!(app.fingerprint(), before);

    // explained → confirmed, with the current tag.
    let res = post_if_match(&app, d.token("unit-admin"), &confirm, &tag, json!({})).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "confirmed");
    assert_eq!(res.body["confirmed_by"], json!(d.unit_admin));
    assert_eq!(res.body["explanation"], text["explanation"]);
    assert!(!res.header("etag").is_empty());
    assert_ne!(res.header("etag"), tag);

    // Confirmed is final.
    let before = app.fingerprint();
    assert_status_problem(
        &app.post(&confirm, d.token("unit-admin"), json!({})).await,
        409,
    );
    assert_status_problem(
        &app.post(&explain, d.token("unit-admin"), text.clone())
            .await,
        409,
    );
    assert_eq!(app.fingerprint(), before);

    let res = app
        .get(&format!("{list}&status=confirmed"), d.token("inspector"))
        .await;
    assert_eq!(ids(&res.body["items"]), BTreeSet::from([id.clone()]));
    let item = &res.body["items"][0];
    assert_eq!(item["status"], "confirmed");
    assert_eq!(item["explained_by"], json!(d.unit_admin));

    // An open one may be confirmed directly.
    let other = made
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "unreported_departure")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            &format!("/api/v1/discrepancies/{other}/confirm"),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "confirmed");
}

#[actix_web::test]
async fn overlapping_windows_grow_an_open_discrepancy_and_keep_an_answered_one() {
    let (app, d) = setup().await;
    let import = |key: &'static str, days: &[&str]| {
        let records: Vec<Value> = days
            .iter()
            .map(|day| json!({"login": "clerk", "date": day, "location_code": "310000"}))
            .collect();
        json!({"batch_key": key, "unit_id": d.bureau, "source": "itinerary", "records": records})
    };
    let reconcile = |from: &str, to: &str| json!({"unit_id": d.bureau, "from": from, "to": to});
    let res = app
        .post(
            "/api/v1/evidence/imports",
            d.token("unit-admin"),
            import("first", &["2027-05-02", "2027-05-03", "2027-05-04"]),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);

    // The first window sees two of the three days.
    let first = app
        .post(
            "/api/v1/reconciliations",
            d.token("inspector"),
            reconcile("2027-05-01", "2027-05-03"),
        )
        .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    assert_eq!(first.body["created"], 1);
    let id = first.body["discrepancies"][0]["id"].clone();
    assert_eq!(first.body["discrepancies"][0]["to"], "2027-05-03");

    // A wider window finds the same discrepancy, grown to the third day.
    let wider = app
        .post(
            "/api/v1/reconciliations",
            d.token("inspector"),
            reconcile("2027-05-01", "2027-05-07"),
        )
        .await;
    assert_eq!(wider.body["created"], 0, "{}", wider.body);
    let list = wider.body["discrepancies"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(
        (list[0]["from"].as_str(), list[0]["to"].as_str()),
        (Some("2027-05-02"), Some("2027-05-04"))
    );
    assert_eq!(list[0]["evidence"].as_array().unwrap().len(), 3);

    // Once confirmed it keeps its days; new days after it are a new discrepancy.
    let res = app
        .post(
            &format!("/api/v1/discrepancies/{}/confirm", id.as_str().unwrap()),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let res = app
        .post(
            "/api/v1/evidence/imports",
            d.token("unit-admin"),
            import("second", &["2027-05-05", "2027-05-06"]),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let again = app
        .post(
            "/api/v1/reconciliations",
            d.token("inspector"),
            reconcile("2027-05-01", "2027-05-10"),
        )
        .await;
    assert_eq!(again.body["created"], 1, "{}", again.body);
    let mut runs: Vec<(String, String, String)> = again.body["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["from"].as_str().unwrap().to_owned(),
                x["to"].as_str().unwrap().to_owned(),
                x["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    runs.sort();
    assert_eq!(
        runs,
        vec![
            (
                "2027-05-02".to_owned(),
                "2027-05-04".to_owned(),
                "confirmed".to_owned()
            ),
            (
                "2027-05-05".to_owned(),
                "2027-05-06".to_owned(),
                "open".to_owned()
            ),
        ]
    );
    // And running it once more changes nothing.
    let last = app
        .post(
            "/api/v1/reconciliations",
            d.token("inspector"),
            reconcile("2027-05-01", "2027-05-10"),
        )
        .await;
    assert_eq!(last.body["created"], 0);
    assert_eq!(last.body["discrepancies"].as_array().unwrap().len(), 2);
}
