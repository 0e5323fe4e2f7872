//! What the server writes out stays inert: CSV cells never start a formula,
//! webhooks never reach inside the network, and document numbers show no
//! more than the contract allows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// "Now": Tuesday 20 April 2027, 10:00 in Beijing.
const NOW: &str = "2027-04-20T02:00:00Z";

fn draft(depart: &str, ret: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "=HYPERLINK(\"http://evil\")",
        "destinations": [{"code": "320500"}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

async fn setup() -> (TestApp, District) {
    reporting_district(NOW).await
}

/// The rows of a CSV answer (after its byte order mark), header first.
fn csv_rows(res: &Resp) -> Vec<Vec<String>> {
    let text = res.body.as_str().expect("a CSV body");
    let text = text.trim_start_matches('\u{feff}');
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[actix_web::test]
async fn csv_exports_neutralise_cells_that_begin_a_formula() {
    let (app, d) = setup().await;
    // Through the API: a name, an employee number and a unit name that each
    // begin a formula.
    let res = app
        .patch(
            &format!("/api/v1/accounts/{}", d.clerk),
            d.token("admin"),
            json!({"display_name": "=1+2", "employee_no": "+3"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let res = app
        .patch(
            &format!("/api/v1/accounts/{}", d.head),
            d.token("admin"),
            json!({"display_name": "@SUM(A1)"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let res = app
        .patch(
            &format!("/api/v1/units/{}", d.office),
            d.token("admin"),
            json!({"name": "-4"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    // The API trims leading tabs and carriage returns, but stored text may
    // come from elsewhere (an import, an older version): the export must not
    // trust it.
    {
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        diesel::sql_query("UPDATE accounts SET employee_no = E'\\tTAB' WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(d.head)
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query("UPDATE accounts SET display_name = E'\\rCR' WHERE id = $1")
            .bind::<diesel::sql_types::Uuid, _>(d.unit_admin)
            .execute(&mut conn)
            .unwrap();
    }
    for who in ["clerk", "head", "unit-admin"] {
        let res = app
            .post(
                "/api/v1/filings",
                d.token(who),
                json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 201, "{who}: {}", res.body);
    }

    let by_format = app.get("/api/v1/ledger?format=csv", d.token("admin")).await;
    let by_accept = app
        .send(
            TestRequest::get()
                .uri("/api/v1/ledger")
                .insert_header(("authorization", format!("Bearer {}", d.token("admin"))))
                .insert_header(("accept", "text/csv")),
        )
        .await;
    for res in [&by_format, &by_accept] {
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        assert!(res.header("content-type").starts_with("text/csv"));
        let rows = csv_rows(res);
        assert_eq!(rows.len(), 4, "a header and three filings: {rows:?}");
        let cells: Vec<&str> = rows[1..].iter().flatten().map(String::as_str).collect();
        for expected in ["'=1+2", "'+3", "'-4", "'@SUM(A1)", "'\tTAB", "'\rCR"] {
            assert!(
                cells.contains(&expected),
                "{expected:?} is missing from {cells:?}"
            );
        }
        for cell in &cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} begins a formula"
            );
        }
    }
    // JSON answers carry the text as stored.
    let page = app.get("/api/v1/ledger", d.token("admin")).await;
    let names: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["display_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"=1+2"), "{names:?}");
}

#[actix_web::test]
async fn a_masked_document_number_shows_at_most_a_third_of_it_and_no_more_than_three() {
    let (app, d) = setup().await;
    for (number, masked) in [("E12345678", "******678"), ("AB123", "****3")] {
        let res = app
            .post(
                "/api/v1/documents",
                d.token("unit-admin"),
                json!({"account_id": d.clerk, "kind": "passport", "number": number,
                       "issued_on": "2020-03-01", "expires_on": "2030-02-28"}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.body);
        assert_eq!(
            res.body["number"], number,
            "its administrator sees it whole"
        );
        let res = app
            .get(
                &format!("/api/v1/documents/{}", res.str("/id")),
                d.token("clerk"),
            )
            .await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        assert_eq!(res.body["number"], masked);
        assert_eq!(res.body["number_masked"], true);
    }
}

/// Webhook targets no notation may smuggle inside the network.
const FORBIDDEN_TARGETS: &[&str] = &[
    // Not http or https.
    "ftp://hooks.example.com/x",
    "file:///etc/passwd",
    "gopher://hooks.example.com:70/_x",
    "hooks.example.com/x",
    // User-info.
    "http://user:pw@hooks.example.com/",
    "https://user@hooks.example.com/",
    // Loopback, in every IPv4 notation.
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.0.0.1.:8080/",
    "http://%31%32%37.0.0.1/",
    "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
    "http://127.254.1.2/",
    // Loopback by name.
    "http://localhost/",
    "http://LOCALHOST:8080/hook",
    "http://localhost./",
    "http://foo.localhost/",
    // IPv6 loopback, and IPv4 inside IPv6.
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    // Private.
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.255/",
    "http://192.168.1.1/",
    "http://0xc0a80101/",
    // Link-local (the cloud metadata service).
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    // Unique-local.
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    // Shared address space (CGNAT).
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    // Multicast and broadcast.
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    // Unspecified.
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
];

#[actix_web::test]
async fn webhook_targets_inside_the_network_are_refused_in_every_notation() {
    let app = TestApp::with_config(|c| c.webhook_allow_private = false).await;
    let before = app.fingerprint();
    for url in FORBIDDEN_TARGETS {
        let res = app
            .post("/api/v1/webhooks", &app.admin, json!({"url": url}))
            .await;
        assert_eq!(res.status.as_u16(), 422, "{url}: {}", res.body);
        res.assert_problem(422, "webhook_target_forbidden");
        assert_eq!(res.body["errors"][0]["field"], "url", "{url}");
    }
    assert_eq!(app.count("webhooks"), 0);
    assert_eq!(app.fingerprint(), before, "a refused target changed data");

    for url in [
        "https://hooks.example.com/x",
        "http://hooks.example.com:8080/a?b=c",
        "http://8.8.8.8/hook",
        "https://172.32.0.1/",
        "http://100.128.0.1/",
        "http://[2001:4860:4860::8888]/hook",
    ] {
        let res = app
            .post("/api/v1/webhooks", &app.admin, json!({"url": url}))
            .await;
        assert_eq!(res.status.as_u16(), 201, "{url}: {}", res.body);
    }
    assert_eq!(app.count("webhooks"), 6);
}

#[actix_web::test]
async fn webhook_targets_inside_the_network_are_accepted_when_private_targets_are_allowed() {
    let app = TestApp::with_config(|c| c.webhook_allow_private = true).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/",
        "http://[::1]/",
    ] {
        let res = app
            .post("/api/v1/webhooks", &app.admin, json!({"url": url}))
            .await;
        assert_eq!(res.status.as_u16(), 201, "{url}: {}", res.body);
    }
    // Other schemes and user-info stay refused.
    for url in ["ftp://127.0.0.1/", "http://user:pw@127.0.0.1/"] {
        app.post("/api/v1/webhooks", &app.admin, json!({"url": url}))
            .await
            .assert_problem(422, "webhook_target_forbidden");
    }
}

/// A receiver on 127.0.0.1 that answers every request with `answer` and
/// counts them; answers its base URL (no path) and the count.
fn receiver(answer: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut line, mut length) = (String::new(), 0usize);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.trim_end().to_ascii_lowercase();
                if lower.is_empty() {
                    break;
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            count.fetch_add(1, Ordering::SeqCst);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (base, hits)
}

const NO_CONTENT: &str = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";

/// The outbox: each row's delivery time and last error, by id.
fn outbox(app: &TestApp) -> Vec<(bool, String)> {
    use diesel::prelude::*;
    use whereabouts_api::schema::outbox;
    let mut conn = app.db.connect();
    outbox::table
        .order(outbox::id)
        .select((outbox::delivered_at.is_not_null(), outbox::last_error))
        .load::<(bool, Option<String>)>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|(delivered, error)| (delivered, error.unwrap_or_default()))
        .collect()
}

/// A moment at which every queued delivery is due.
fn due() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now().max(NOW.parse().unwrap()) + chrono::Duration::minutes(1)
}

#[actix_web::test]
async fn a_delivery_to_an_address_inside_the_network_is_refused_when_private_targets_are_not_allowed()
 {
    // Registered while private targets were allowed (or before the check).
    let (app, d) = setup().await;
    let (base, hits) = receiver(NO_CONTENT.to_owned());
    let port = base.rsplit(':').next().unwrap().to_owned();
    for url in [
        format!("{base}/hook"),
        format!("http://localhost:{port}/hook"),
    ] {
        let res = app
            .post("/api/v1/webhooks", d.token("admin"), json!({"url": url}))
            .await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    }
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(app.count("outbox"), 2);

    let mut conn = app.db.connect();
    let strict = whereabouts_api::webhook_target::Client::new(false);
    assert_eq!(
        whereabouts_api::worker::deliver_due(&mut conn, &strict, due()).unwrap(),
        2
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the receiver"
    );
    for (delivered, error) in outbox(&app) {
        assert!(!delivered);
        assert!(error.contains("inside the network"), "{error}");
    }
    // The same deliveries go out once private targets are allowed.
    let lenient = whereabouts_api::webhook_target::Client::new(true);
    let later = due() + chrono::Duration::hours(2);
    assert_eq!(
        whereabouts_api::worker::deliver_due(&mut conn, &lenient, later).unwrap(),
        2
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert!(outbox(&app).iter().all(|(delivered, _)| *delivered));
}

#[actix_web::test]
async fn a_delivery_follows_no_redirect() {
    let (app, d) = setup().await;
    let (inside, inside_hits) = receiver(NO_CONTENT.to_owned());
    let (redirecting, redirect_hits) = receiver(format!(
        "HTTP/1.1 303 See Other\r\nlocation: {inside}/metadata\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ));
    let res = app
        .post(
            "/api/v1/webhooks",
            d.token("admin"),
            json!({"url": format!("{redirecting}/hook")}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    app.post(
        "/api/v1/filings",
        d.token("clerk"),
        json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
    )
    .await;
    let mut conn = app.db.connect();
    let client = whereabouts_api::webhook_target::Client::new(true);
    assert_eq!(
        whereabouts_api::worker::deliver_due(&mut conn, &client, due()).unwrap(),
        1
    );
    assert_eq!(redirect_hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        inside_hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
    assert_eq!(outbox(&app), vec![(false, "status 303".to_owned())]);
}
