//! Travel documents in the unit's custody: numbers sealed at rest and masked
//! except to the unit administrators of the holder's scope; checked out only
//! against an approved filing of the holder of the matching kind, due back
//! seven days after the trip's return; overdue and expiring lists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use uuid::Uuid;

/// "Now" for every test: Tuesday 1 June 2027, 10:00 in Beijing.
const NOW: &str = "2027-06-01T02:00:00Z";
const NUMBER: &str = "E12345678";
const MASKED: &str = "******678";

fn trip(kind: &str, code: &str, depart: &str, ret: &str) -> Value {
    json!({"kind": kind, "purpose": "tourism", "reason": "A family holiday",
        "destinations": [{"code": code}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

/// The seeded district whose bureau asks every trip of the head and then the
/// principal (an approver who is the filer is skipped).
async fn setup() -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = NOW.parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
        {"id": "all", "trip_kinds": ["leave_jurisdiction", "abroad_private", "hk_macau_private", "taiwan_private"],
         "requirement": "approval", "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}],
         "form": "online", "notice": {"days": 1, "working_days": false}}
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

/// Files and submits a trip; answers the filing's id.
async fn file(app: &TestApp, d: &District, who: &str, draft: Value) -> Uuid {
    let res = app
        .post(
            "/api/v1/filings",
            d.token(who),
            json!({"draft": draft, "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["status"], "pending", "{}", res.body);
    res.id("/id")
}

/// Files a trip and has it approved by the whole chain.
async fn file_approved(app: &TestApp, d: &District, who: &str, draft: Value) -> Uuid {
    let id = file(app, d, who, draft).await;
    for approver in ["head", "principal"] {
        if approver == who {
            continue;
        }
        let res = app
            .post(
                &format!("/api/v1/filings/{id}/approve"),
                d.token(approver),
                json!({}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    }
    let res = app
        .get(&format!("/api/v1/filings/{id}"), d.token(who))
        .await;
    assert_eq!(res.body["status"], "approved", "{}", res.body);
    id
}

fn document(account: Uuid, kind: &str, number: &str, issued: &str, expires: &str) -> Value {
    json!({"account_id": account, "kind": kind, "number": number, "issued_on": issued, "expires_on": expires})
}

/// Registers a document as the bureau's unit admin; answers its id.
async fn register(app: &TestApp, d: &District, body: Value) -> Uuid {
    let res = app
        .post("/api/v1/documents", d.token("unit-admin"), body)
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    res.id("/id")
}

fn ids(res: &Resp) -> Vec<String> {
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    res.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {}", res.body))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The error codes of a 422.
fn issue_codes(res: &Resp) -> Vec<(String, String)> {
    res.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["code"].as_str().unwrap_or_default().to_owned(),
                        e["field"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The tables (and how many rows of each) whose rows, as text, hold `needle`.
fn database_hits(app: &TestApp, needle: &str) -> Vec<(String, i64)> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.connect();
    let tables = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .load::<Name>(&mut conn)
    .unwrap();
    assert!(tables.iter().any(|t| t.name == "travel_documents"));
    assert!(tables.iter().any(|t| t.name == "audit_log"));
    let mut hits = Vec::new();
    for table in tables {
        let n = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM \"{}\" t WHERE strpos(upper(t::text), upper($1)) > 0",
            table.name
        ))
        .bind::<diesel::sql_types::Text, _>(needle)
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
        if n > 0 {
            hits.push((table.name, n));
        }
    }
    hits
}

/// Asserts the number is nowhere in the database: neither as text nor as the
/// hex form bytea columns take when a row is read as text.
fn assert_not_stored(app: &TestApp, number: &str) {
    assert_eq!(
        database_hits(app, number),
        vec![],
        "{number} is stored in the clear"
    );
    let hex: String = number.bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        database_hits(app, &hex),
        vec![],
        "{number} is stored in the clear in a bytea column (hex {hex})"
    );
}

/// Everything every thread of this test binary logs, at every level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Arc::clone(&logs);
        // Global, not thread-local: database work runs on blocking threads.
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(Arc::clone(&sink)))
            .try_init()
            .expect("install the capturing subscriber");
        logs
    })
    .clone()
}

/// The app's configuration with "now" moved (the state is rebuilt into a
/// service on every request, so the next request sees it).
fn at(app: &TestApp, now: &str) -> Arc<whereabouts_api::config::Config> {
    let mut config = (*app.state.config).clone();
    config.fixed_now = now.parse().ok();
    Arc::new(config)
}

fn logs_text(logs: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}

#[actix_web::test]
async fn a_registered_number_is_whole_only_for_the_holders_unit_admins() {
    let (app, d) = setup().await;
    let res = app
        .post(
            "/api/v1/documents",
            d.token("unit-admin"),
            document(d.clerk, "passport", NUMBER, "2020-03-01", "2030-02-28"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let id = res.id("/id");
    assert_eq!(res.body["number"], NUMBER);
    assert_eq!(res.body["number_masked"], false);
    assert_eq!(res.body["account_id"], d.clerk.to_string());
    assert_eq!(res.body["display_name"], "clerk name");
    assert_eq!(res.body["kind"], "passport");
    assert_eq!(res.body["issued_on"], "2020-03-01");
    assert_eq!(res.body["expires_on"], "2030-02-28");
    assert_eq!(res.body["in_custody"], true);
    assert_eq!(res.body["state"], "held");
    assert_eq!(res.body["checkout"], Value::Null);
    assert_eq!(res.body["version"], 1);
    assert_eq!(res.header("etag"), "\"1\"");

    let path = format!("/api/v1/documents/{id}");
    let res = app.get(&path, d.token("unit-admin")).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["number"], NUMBER);
    assert_eq!(res.body["number_masked"], false);
    // The inspector of the scope and the holder see it masked.
    for who in ["inspector", "clerk"] {
        let res = app.get(&path, d.token(who)).await;
        assert_eq!(res.status.as_u16(), 200, "{who}: {}", res.body);
        assert_eq!(res.body["number"], MASKED, "{who}");
        assert_eq!(res.body["number_masked"], true, "{who}");
        assert_eq!(res.body["state"], "held", "{who}");
    }
    // Others: not found.
    for who in ["other-admin", "outsider", "head", "principal"] {
        app.get(&path, d.token(who))
            .await
            .assert_problem(404, "not_found");
    }
    app.get(
        &format!("/api/v1/documents/{}", Uuid::new_v4()),
        d.token("unit-admin"),
    )
    .await
    .assert_problem(404, "not_found");

    // Lists: the same masking, in scope only.
    let res = app.get("/api/v1/documents", d.token("unit-admin")).await;
    assert_eq!(ids(&res), vec![id.to_string()]);
    assert_eq!(res.body["items"][0]["number"], NUMBER);
    let res = app
        .get(
            &format!("/api/v1/documents?unit_id={}", d.bureau),
            d.token("inspector"),
        )
        .await;
    assert_eq!(ids(&res), vec![id.to_string()]);
    assert_eq!(res.body["items"][0]["number"], MASKED);
    assert_eq!(res.body["items"][0]["number_masked"], true);
    let res = app
        .get(
            &format!("/api/v1/documents?account_id={}", d.clerk),
            d.token("unit-admin"),
        )
        .await;
    assert_eq!(ids(&res), vec![id.to_string()]);
    let res = app
        .get(
            &format!("/api/v1/documents?account_id={}", d.head),
            d.token("unit-admin"),
        )
        .await;
    assert_eq!(ids(&res), Vec::<String>::new());
    let res = app.get("/api/v1/documents", d.token("other-admin")).await;
    assert_eq!(ids(&res), Vec::<String>::new());
    let res = app
        .get(
            &format!("/api/v1/documents?unit_id={}", d.other_bureau),
            d.token("other-admin"),
        )
        .await;
    assert_eq!(ids(&res), Vec::<String>::new());
    app.get(
        &format!("/api/v1/documents?unit_id={}", d.bureau),
        d.token("other-admin"),
    )
    .await
    .assert_problem(404, "not_found");
    app.get("/api/v1/documents", d.token("clerk"))
        .await
        .assert_problem(403, "forbidden");

    // Lower case and surrounding spaces are the same number.
    let res = app
        .post(
            "/api/v1/documents",
            d.token("unit-admin"),
            document(
                d.head,
                "hk_macau_pass",
                " c98765432 ",
                "2022-01-01",
                "2032-01-01",
            ),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["number"], "C98765432");
    let res = app
        .get(
            &format!("/api/v1/documents/{}", res.str("/id")),
            d.token("head"),
        )
        .await;
    assert_eq!(res.body["number"], "******432");
}

#[actix_web::test]
async fn registration_refuses_bad_input_other_scopes_and_non_admins() {
    let (app, d) = setup().await;
    let before = app.fingerprint();
    for (number, issued, expires, field) in [
        ("E123", "2020-03-01", "2030-02-28", "number"),
        ("E12-345678", "2020-03-01", "2030-02-28", "number"),
        (
            "E1234567890123456789012",
            "2020-03-01",
            "2030-02-28",
            "number",
        ),
        ("", "2020-03-01", "2030-02-28", "number"),
        (NUMBER, "2030-02-28", "2020-03-01", "expires_on"),
        (NUMBER, "2020-03-01", "2020-03-01", "expires_on"),
    ] {
        let res = app
            .post(
                "/api/v1/documents",
                d.token("unit-admin"),
                document(d.clerk, "passport", number, issued, expires),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert!(
            issue_codes(&res).iter().any(|(_, f)| f == field),
            "{number} {issued}..{expires}: {}",
            res.body
        );
    }
    let res = app
        .post(
            "/api/v1/documents",
            d.token("unit-admin"),
            document(d.clerk, "visa", NUMBER, "2020-03-01", "2030-02-28"),
        )
        .await;
    res.assert_problem(422, "validation_failed");

    // A person outside the caller's scope, or nobody at all.
    for (who, account) in [
        ("unit-admin", d.outsider),
        ("unit-admin", Uuid::new_v4()),
        ("other-admin", d.clerk),
    ] {
        let res = app
            .post(
                "/api/v1/documents",
                d.token(who),
                document(account, "passport", NUMBER, "2020-03-01", "2030-02-28"),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(
            issue_codes(&res),
            vec![("unknown_person".to_owned(), "account_id".to_owned())],
            "{}",
            res.body
        );
    }
    // No administrator role.
    for who in ["clerk", "inspector", "head"] {
        app.post(
            "/api/v1/documents",
            d.token(who),
            document(d.clerk, "passport", NUMBER, "2020-03-01", "2030-02-28"),
        )
        .await
        .assert_problem(403, "forbidden");
    }
    app.post(
        "/api/v1/documents",
        "",
        document(d.clerk, "passport", NUMBER, "2020-03-01", "2030-02-28"),
    )
    .await
    .assert_problem(401, "unauthorized");
    assert_eq!(app.fingerprint(), before);
    assert_eq!(app.count("travel_documents"), 0);
}

#[actix_web::test]
async fn the_number_never_reaches_the_database_or_the_logs() {
    let logs = captured_logs();
    let (app, d) = setup().await;
    let number = "G20261127";
    let id = register(
        &app,
        &d,
        document(d.clerk, "passport", number, "2021-01-01", "2031-01-01"),
    )
    .await;
    let filing = file_approved(
        &app,
        &d,
        "clerk",
        trip("abroad_private", "JP", "2027-06-10", "2027-06-15"),
    )
    .await;
    let res = app
        .get(&format!("/api/v1/documents/{id}"), d.token("unit-admin"))
        .await;
    assert_eq!(res.body["number"], number);
    app.get(&format!("/api/v1/documents/{id}"), d.token("clerk"))
        .await;
    app.get("/api/v1/documents", d.token("unit-admin")).await;
    app.get("/api/v1/documents", d.token("admin")).await;
    let res = app
        .post(
            &format!("/api/v1/documents/{id}/checkout"),
            d.token("unit-admin"),
            json!({"filing_id": filing}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let res = app
        .post(
            &format!("/api/v1/documents/{id}/return"),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["number"], number);

    assert_eq!(app.count("travel_documents"), 1);
    assert!(app.count("audit_log") > 0);
    assert_not_stored(&app, number);

    let text = logs_text(&logs);
    assert!(
        text.contains("answered") && text.contains(&format!("/api/v1/documents/{id}")),
        "the capture sees the requests' log lines"
    );
    assert!(
        !text.to_uppercase().contains(number),
        "the number is in the logs"
    );
}

/// A client retrying a registration after a timeout sends an
/// `Idempotency-Key`; the answer kept for the retry must not hold the number
/// in the clear either.
#[actix_web::test]
async fn the_number_is_not_kept_in_the_clear_with_an_idempotent_answer() {
    let (app, d) = setup().await;
    let number = "K31415926";
    let req = TestRequest::post()
        .uri("/api/v1/documents")
        .insert_header(("authorization", format!("Bearer {}", d.token("unit-admin"))))
        .insert_header(("idempotency-key", "register-passport-1"))
        .set_json(document(
            d.clerk,
            "passport",
            number,
            "2021-01-01",
            "2031-01-01",
        ));
    let res = app.send(req).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["number"], number);
    assert_eq!(app.count("travel_documents"), 1);
    assert_not_stored(&app, number);
}

#[actix_web::test]
async fn checkout_needs_an_approved_filing_of_the_holder_of_the_matching_kind() {
    let (app, d) = setup().await;
    let passport = register(
        &app,
        &d,
        document(d.clerk, "passport", NUMBER, "2020-03-01", "2030-02-28"),
    )
    .await;
    let pass = register(
        &app,
        &d,
        document(
            d.clerk,
            "hk_macau_pass",
            "C11112222",
            "2020-03-01",
            "2030-02-28",
        ),
    )
    .await;
    let mut kept = document(
        d.clerk,
        "taiwan_pass",
        "T55556666",
        "2020-03-01",
        "2030-02-28",
    );
    kept["in_custody"] = json!(false);
    let res = app
        .post("/api/v1/documents", d.token("unit-admin"), kept)
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["in_custody"], false);
    assert_eq!(res.body["state"], "with_holder");
    let with_holder = res.id("/id");

    let pending = file(
        &app,
        &d,
        "clerk",
        trip("abroad_private", "JP", "2027-07-01", "2027-07-05"),
    )
    .await;
    let leave = file_approved(
        &app,
        &d,
        "clerk",
        trip("leave_jurisdiction", "310000", "2027-06-05", "2027-06-06"),
    )
    .await;
    let heads = file_approved(
        &app,
        &d,
        "head",
        trip("abroad_private", "JP", "2027-06-10", "2027-06-15"),
    )
    .await;
    let abroad = file_approved(
        &app,
        &d,
        "clerk",
        trip("abroad_private", "JP", "2027-06-10", "2027-06-15"),
    )
    .await;
    let taiwan = file_approved(
        &app,
        &d,
        "clerk",
        trip("taiwan_private", "TW", "2027-08-10", "2027-08-12"),
    )
    .await;

    let checkout = |doc: Uuid| format!("/api/v1/documents/{doc}/checkout");
    let before = app.fingerprint();
    app.post(
        &checkout(passport),
        d.token("unit-admin"),
        json!({"filing_id": pending}),
    )
    .await
    .assert_problem(409, "filing_not_approved");
    for (doc, filing, why) in [
        (
            passport,
            leave,
            "a trip inside the country needs no passport",
        ),
        (passport, heads, "another person's filing"),
        (passport, Uuid::new_v4(), "an unknown filing"),
        (
            pass,
            abroad,
            "a Hong Kong and Macau pass is not for a trip abroad",
        ),
    ] {
        let res = app
            .post(
                &checkout(doc),
                d.token("unit-admin"),
                json!({"filing_id": filing}),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert!(
            issue_codes(&res).iter().any(|(_, f)| f == "filing_id"),
            "{why}: {}",
            res.body
        );
    }
    app.post(
        &checkout(with_holder),
        d.token("unit-admin"),
        json!({"filing_id": taiwan}),
    )
    .await
    .assert_problem(409, "not_in_custody");
    app.post(&checkout(passport), d.token("unit-admin"), json!({}))
        .await
        .assert_problem(422, "validation_failed");
    // Only the holder's unit admins hand documents out.
    for who in ["clerk", "inspector"] {
        app.post(
            &checkout(passport),
            d.token(who),
            json!({"filing_id": abroad}),
        )
        .await
        .assert_problem(403, "forbidden");
    }
    app.post(
        &checkout(passport),
        d.token("other-admin"),
        json!({"filing_id": abroad}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &checkout(Uuid::new_v4()),
        d.token("unit-admin"),
        json!({"filing_id": abroad}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/documents/{passport}/return"),
        d.token("unit-admin"),
        json!({}),
    )
    .await
    .assert_problem(409, "not_checked_out");
    app.post(
        &format!("/api/v1/documents/{passport}/return"),
        d.token("other-admin"),
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/documents/{passport}/return"),
        d.token("clerk"),
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(
        app.fingerprint(),
        before,
        "refused requests changed something"
    );
    assert_eq!(app.count("document_checkouts"), 0);

    // The approved trip abroad: out, due back seven days after the return.
    let res = app
        .post(
            &checkout(passport),
            d.token("unit-admin"),
            json!({"filing_id": abroad}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["state"], "checked_out");
    assert_eq!(res.body["number"], NUMBER);
    assert_eq!(res.body["checkout"]["filing_id"], abroad.to_string());
    assert_eq!(
        res.body["checkout"]["checked_out_by"],
        d.unit_admin.to_string()
    );
    assert_eq!(
        res.body["checkout"]["checked_out_at"],
        "2027-06-01T02:00:00Z"
    );
    assert_eq!(res.body["checkout"]["due_on"], "2027-06-22");
    assert_eq!(res.body["checkout"]["overdue"], false);
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.header("etag"), "\"2\"");
    let res = app
        .get(&format!("/api/v1/documents/{passport}"), d.token("clerk"))
        .await;
    assert_eq!(res.body["state"], "checked_out");
    assert_eq!(res.body["number"], MASKED);
    assert_eq!(res.body["checkout"]["due_on"], "2027-06-22");

    let before = app.fingerprint();
    for filing in [abroad, pending] {
        app.post(
            &checkout(passport),
            d.token("unit-admin"),
            json!({"filing_id": filing}),
        )
        .await
        .assert_problem(409, "already_checked_out");
    }
    assert_eq!(app.fingerprint(), before);

    // The Taiwan pass kept by its holder is unaffected; the Taiwan trip does
    // not take the passport.
    let res = app
        .post(
            &format!("/api/v1/documents/{passport}/return"),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["state"], "held");
    assert_eq!(res.body["checkout"], Value::Null);
    assert_eq!(res.body["version"], 3);
    let before = app.fingerprint();
    app.post(
        &format!("/api/v1/documents/{passport}/return"),
        d.token("unit-admin"),
        json!({}),
    )
    .await
    .assert_problem(409, "not_checked_out");
    app.post(
        &checkout(passport),
        d.token("unit-admin"),
        json!({"filing_id": taiwan}),
    )
    .await
    .assert_problem(422, "validation_failed");
    assert_eq!(app.fingerprint(), before);
    assert_eq!(app.count("document_checkouts"), 1);

    // The system administrator may hand it out too.
    let res = app
        .post(
            &checkout(passport),
            d.token("admin"),
            json!({"filing_id": abroad}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["state"], "checked_out");
}

#[actix_web::test]
async fn an_overdue_checkout_is_listed_once_past_its_due_day_in_beijing() {
    let (mut app, d) = setup().await;
    let passport = register(
        &app,
        &d,
        document(d.clerk, "passport", NUMBER, "2020-03-01", "2030-02-28"),
    )
    .await;
    let other = register(
        &app,
        &d,
        document(d.head, "passport", "E87654321", "2020-03-01", "2030-02-28"),
    )
    .await;
    let abroad = file_approved(
        &app,
        &d,
        "clerk",
        trip("abroad_private", "JP", "2027-06-10", "2027-06-15"),
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/documents/{passport}/checkout"),
            d.token("unit-admin"),
            json!({"filing_id": abroad}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["checkout"]["due_on"], "2027-06-22");

    let overdue = "/api/v1/documents?overdue=true";
    let not_overdue = "/api/v1/documents?overdue=false";
    assert_eq!(
        ids(&app.get(overdue, d.token("unit-admin")).await),
        Vec::<String>::new()
    );
    let mut both = vec![passport.to_string(), other.to_string()];
    both.sort();
    let mut got = ids(&app.get(not_overdue, d.token("unit-admin")).await);
    got.sort();
    assert_eq!(got, both);

    // Time passes. 23:30 on the due day in Beijing: not yet overdue.
    app.state.config = at(&app, "2027-06-22T15:30:00Z");
    assert_eq!(
        ids(&app.get(overdue, d.token("unit-admin")).await),
        Vec::<String>::new()
    );
    let res = app
        .get(
            &format!("/api/v1/documents/{passport}"),
            d.token("unit-admin"),
        )
        .await;
    assert_eq!(res.body["checkout"]["overdue"], false);

    // 00:30 the next day in Beijing (still the 22nd in UTC): overdue.
    app.state.config = at(&app, "2027-06-22T16:30:00Z");
    for who in ["unit-admin", "inspector", "admin"] {
        let res = app.get(overdue, d.token(who)).await;
        assert_eq!(ids(&res), vec![passport.to_string()], "{who}");
        assert_eq!(res.body["items"][0]["state"], "checked_out");
        assert_eq!(res.body["items"][0]["checkout"]["overdue"], true);
        assert_eq!(res.body["items"][0]["checkout"]["due_on"], "2027-06-22");
        assert_eq!(
            ids(&app.get(not_overdue, d.token(who)).await),
            vec![other.to_string()],
            "{who}"
        );
    }
    assert_eq!(
        ids(&app.get(overdue, d.token("other-admin")).await),
        Vec::<String>::new()
    );
    let res = app
        .get(&format!("/api/v1/documents/{passport}"), d.token("clerk"))
        .await;
    assert_eq!(res.body["checkout"]["overdue"], true);

    // Back in the safe: no longer overdue.
    let res = app
        .post(
            &format!("/api/v1/documents/{passport}/return"),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(
        ids(&app.get(overdue, d.token("unit-admin")).await),
        Vec::<String>::new()
    );
    let mut got = ids(&app.get(not_overdue, d.token("unit-admin")).await);
    got.sort();
    assert_eq!(got, both);
}

#[actix_web::test]
async fn expiring_documents_are_listed_by_days_left() {
    let (app, d) = setup().await;
    // Today is 1 June 2027.
    let soon = register(
        &app,
        &d,
        document(d.clerk, "passport", NUMBER, "2017-06-20", "2027-06-20"),
    )
    .await;
    let edge = register(
        &app,
        &d,
        document(
            d.head,
            "hk_macau_pass",
            "C11112222",
            "2017-07-01",
            "2027-07-01",
        ),
    )
    .await;
    let later = register(
        &app,
        &d,
        document(
            d.principal,
            "passport",
            "E87654321",
            "2020-03-01",
            "2030-02-28",
        ),
    )
    .await;
    let outside = app
        .post(
            "/api/v1/documents",
            d.token("other-admin"),
            document(
                d.outsider,
                "passport",
                "E24682468",
                "2017-06-10",
                "2027-06-10",
            ),
        )
        .await;
    assert_eq!(outside.status.as_u16(), 201, "{}", outside.body);

    let list = |days: &str| format!("/api/v1/documents?expiring_within_days={days}");
    assert_eq!(
        ids(&app.get(&list("30"), d.token("unit-admin")).await),
        vec![soon.to_string(), edge.to_string()],
        "by expiry, the 30th day included"
    );
    assert_eq!(
        ids(&app.get(&list("29"), d.token("inspector")).await),
        vec![soon.to_string()]
    );
    assert_eq!(
        ids(&app.get(&list("5"), d.token("unit-admin")).await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&app.get(&list("3650"), d.token("unit-admin")).await),
        vec![soon.to_string(), edge.to_string(), later.to_string()]
    );
    assert_eq!(
        ids(&app.get(&list("30"), d.token("other-admin")).await),
        vec![outside.str("/id")]
    );
    assert_eq!(
        ids(&app
            .get(
                &format!("{}&unit_id={}", list("30"), d.office),
                d.token("unit-admin")
            )
            .await),
        vec![soon.to_string(), edge.to_string()]
    );

    let before = app.fingerprint();
    for days in ["-1", "3651"] {
        app.get(&list(days), d.token("unit-admin"))
            .await
            .assert_problem(422, "validation_failed");
    }
    app.get(&list("soon"), d.token("unit-admin"))
        .await
        .assert_problem(400, "malformed_request");
    app.get("/api/v1/documents?overdue=maybe", d.token("unit-admin"))
        .await
        .assert_problem(400, "malformed_request");
    assert_eq!(app.fingerprint(), before);

    // Pages of one, in the same order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{}&limit=1&cursor={c}", list("3650")),
            None => format!("{}&limit=1", list("3650")),
        };
        let res = app.get(&url, d.token("unit-admin")).await;
        seen.extend(ids(&res));
        match res.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![soon.to_string(), edge.to_string(), later.to_string()]
    );
}
