//! What requests may carry: names with something to see, dates in a sane
//! range, and bodies that arrive whole, in time and within their limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use uuid::Uuid;

/// A request body as a stream of chunks.
type BoxedPayloadStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>>,
>;

/// "Now": Tuesday 20 April 2027, 10:00 in Beijing.
const NOW: &str = "2027-04-20T02:00:00Z";

async fn setup() -> (TestApp, District) {
    reporting_district(NOW).await
}

fn draft(depart: &str, ret: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": "320500"}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

fn special_period(name: &str, unit: Uuid, starts: &str, ends: &str) -> Value {
    json!({"name": name, "unit_id": unit, "starts_on": starts, "ends_on": ends,
           "trip_kinds": ["leave_jurisdiction"], "min_requirement": "approval"})
}

/// Asserts a 422 that names `field` with `code`.
fn assert_issue(res: &Resp, problem: &str, code: &str, field: &str) {
    res.assert_problem(422, problem);
    let issues = res.body["errors"].as_array().unwrap();
    assert!(
        issues
            .iter()
            .any(|i| i["code"] == code && i["field"] == field),
        "no {code} at {field}: {}",
        res.body
    );
}

// ---------------------------------------------------------------- names

/// Names with nothing to see: whitespace, bidi controls, zero-width
/// characters and byte order marks, alone and mixed.
const INVISIBLE_NAMES: &[&str] = &[
    " ",
    "\u{3000}",
    "\u{200B}",
    "\u{200C}\u{200D}",
    "\u{2060}",
    "\u{FEFF}",
    "\u{200E}",
    "\u{200F}",
    "\u{202A}\u{202B}\u{202C}\u{202D}\u{202E}",
    "\u{2066}\u{2067}\u{2068}\u{2069}",
    " \u{200B}\t\u{FEFF}\u{202E} ",
];

#[actix_web::test]
async fn names_made_only_of_invisible_characters_are_refused_everywhere() {
    let (app, d) = setup().await;
    let admin = d.token("admin");
    let period = app
        .post(
            "/api/v1/special-periods",
            admin,
            special_period("National Day", d.bureau, "2027-10-01", "2027-10-07"),
        )
        .await;
    assert_eq!(period.status.as_u16(), 201, "{}", period.body);
    let period = period.str("/id");
    let before = app.fingerprint();
    for name in INVISIBLE_NAMES {
        let res = app
            .post(
                "/api/v1/accounts",
                admin,
                json!({"login": "newbie", "display_name": name, "unit_id": d.office,
                       "rank": "clerk", "position": "staff", "password": PASSWORD}),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "display_name");
        let res = app
            .patch(
                &format!("/api/v1/accounts/{}", d.clerk),
                admin,
                json!({"display_name": name}),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "display_name");
        let res = app
            .post(
                "/api/v1/units",
                admin,
                json!({"code": "new-unit", "name": name, "kind": "department", "parent_id": d.bureau}),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "name");
        let res = app
            .patch(
                &format!("/api/v1/units/{}", d.office),
                admin,
                json!({"name": name}),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "name");
        let res = app
            .post(
                "/api/v1/special-periods",
                admin,
                special_period(name, d.bureau, "2027-10-01", "2027-10-07"),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "name");
        let res = app
            .patch(
                &format!("/api/v1/special-periods/{period}"),
                admin,
                json!({"name": name}),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "name");
        let res = app
            .post(
                "/api/v1/inspections",
                d.token("inspector"),
                json!({"name": name, "unit_id": d.bureau, "from": "2027-01-01", "to": "2027-03-31"}),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "name");
        let res = app
            .put(
                "/api/v1/calendar/2027",
                admin,
                json!({"days": [{"date": "2027-10-01", "kind": "holiday", "name": name}]}),
            )
            .await;
        assert_issue(&res, "validation_failed", "required", "days[0].name");
        // A CSV import refuses the row.
        let csv = format!(
            "login,display_name,unit_code,rank,position\nnewbie,\"{name}\",office,clerk,staff\n"
        );
        let res = app
            .send(
                TestRequest::post()
                    .uri("/api/v1/accounts/import")
                    .insert_header(("authorization", format!("Bearer {admin}")))
                    .insert_header(("content-type", "text/csv"))
                    .set_payload(csv),
            )
            .await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        assert_eq!(res.body["created"], 0, "{name:?}: {}", res.body);
        assert_eq!(res.body["rows"][0]["status"], "rejected");
        assert!(
            res.body["rows"][0]["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["code"] == "required" && i["field"] == "display_name"),
            "{}",
            res.body
        );
    }
    assert_eq!(app.fingerprint(), before, "a refused name changed data");

    // Invisible characters around a visible one are the writer's business.
    let res = app
        .patch(
            &format!("/api/v1/accounts/{}", d.clerk),
            admin,
            json!({"display_name": "\u{200F}王五\u{200B}"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
}

// ---------------------------------------------------------------- dates

/// Days outside 1900-01-01..=2100-12-31 in every notation chrono reads.
const FAR_YEARS: &[&str] = &["0000", "-0001", "9999", "+10000", "1899", "2101"];

/// A date for a query string (a `+` would read as a space).
fn q(date: &str) -> String {
    date.replace('+', "%2B")
}

#[actix_web::test]
async fn dates_outside_1900_to_2100_in_request_bodies_are_refused() {
    let (app, d) = setup().await;
    let admin = d.token("admin");
    let period = app
        .post(
            "/api/v1/special-periods",
            admin,
            special_period("National Day", d.bureau, "2027-10-01", "2027-10-07"),
        )
        .await
        .str("/id");
    // Leaving tomorrow: departure may be reported today.
    let away = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-04-21", "2027-05-12"), "submit": true}),
        )
        .await
        .str("/id");
    let res = app
        .post(
            &format!("/api/v1/filings/{away}/depart"),
            d.token("clerk"),
            json!({}),
        )
        .await;
    assert_eq!(res.body["status"], "away", "{}", res.body);
    let inspection = app
        .post(
            "/api/v1/inspections",
            d.token("inspector"),
            json!({"name": "Spring check", "unit_id": d.bureau, "from": "2027-01-01", "to": "2027-03-31"}),
        )
        .await
        .str("/id");
    let finding = app
        .post(
            &format!("/api/v1/inspections/{inspection}/findings"),
            d.token("inspector"),
            json!({"unit_id": d.office, "category": "not_implemented", "description": "No records"}),
        )
        .await;
    assert_eq!(finding.status.as_u16(), 201, "{}", finding.body);
    let finding = finding.str("/id");
    let before = app.fingerprint();

    for year in FAR_YEARS {
        let day = |md: &str| format!("{year}-{md}");
        let cases: Vec<(&str, String, &str, Value, &str)> = vec![
            (
                "PUT",
                "/api/v1/calendar/2027".into(),
                admin,
                json!({"days": [{"date": day("10-01"), "kind": "holiday", "name": "National Day"}]}),
                "days[0].date",
            ),
            (
                "POST",
                "/api/v1/special-periods".into(),
                admin,
                special_period("Far", d.bureau, &day("06-01"), &day("06-02")),
                "starts_on",
            ),
            (
                "POST",
                "/api/v1/special-periods".into(),
                admin,
                special_period("Far", d.bureau, "2027-06-01", &day("06-02")),
                "ends_on",
            ),
            (
                "PATCH",
                format!("/api/v1/special-periods/{period}"),
                admin,
                json!({"ends_on": day("10-07")}),
                "ends_on",
            ),
            (
                "POST",
                "/api/v1/inspections".into(),
                d.token("inspector"),
                json!({"name": "Far", "unit_id": d.bureau, "from": day("06-01"), "to": day("06-02")}),
                "from",
            ),
            (
                "POST",
                "/api/v1/reconciliations".into(),
                d.token("inspector"),
                json!({"unit_id": d.bureau, "from": day("06-01"), "to": day("06-02")}),
                "from",
            ),
            (
                "POST",
                "/api/v1/evidence/imports".into(),
                d.token("inspector"),
                json!({"batch_key": format!("far-{year}"), "unit_id": d.bureau, "source": "itinerary",
                       "from": "2027-01-01", "to": day("06-02"), "records": []}),
                "to",
            ),
            (
                "POST",
                "/api/v1/documents".into(),
                d.token("unit-admin"),
                json!({"account_id": d.clerk, "kind": "passport", "number": "E12345678",
                       "issued_on": day("03-01"), "expires_on": "2030-02-28"}),
                "issued_on",
            ),
            (
                "POST",
                "/api/v1/filings".into(),
                d.token("clerk"),
                json!({"draft": draft("2027-05-20", &day("05-22")), "submit": false}),
                "draft.return_on",
            ),
            (
                "POST",
                "/api/v1/assessments".into(),
                d.token("clerk"),
                json!({"draft": draft(&day("05-20"), "2027-05-22")}),
                "draft.depart_on",
            ),
            (
                "POST",
                format!("/api/v1/filings/{away}/extensions"),
                d.token("clerk"),
                json!({"new_return_on": day("05-14"), "reason": "The flight was cancelled"}),
                "new_return_on",
            ),
            (
                "POST",
                format!("/api/v1/inspections/{inspection}/findings/{finding}/rectifications"),
                d.token("inspector"),
                json!({"description": "Keep records", "deadline": day("05-15")}),
                "deadline",
            ),
        ];
        for (method, path, token, body, field) in cases {
            let res = match method {
                "PUT" => app.put(&path, token, body).await,
                "PATCH" => app.patch(&path, token, body).await,
                _ => app.post(&path, token, body).await,
            };
            assert_eq!(
                res.status.as_u16(),
                422,
                "{method} {path} with {year}: {}",
                res.body
            );
            assert_issue(&res, "date_out_of_range", "date_out_of_range", field);
        }
    }
    // Instants in a delegation, in the notations RFC 3339 allows.
    for year in ["0000", "1899", "2101", "9999"] {
        let res = app
            .put(
                "/api/v1/me/delegation",
                d.token("head"),
                json!({"delegate_id": d.deputy, "starts_at": "2027-05-01T00:00:00Z",
                       "ends_at": format!("{year}-05-01T00:00:00Z")}),
            )
            .await;
        assert_issue(&res, "date_out_of_range", "date_out_of_range", "ends_at");
    }
    assert_eq!(app.fingerprint(), before, "a refused date changed data");
}

#[actix_web::test]
async fn dates_outside_1900_to_2100_in_query_strings_are_refused() {
    let (app, d) = setup().await;
    let before = app.fingerprint();
    for year in FAR_YEARS {
        let date = q(&format!("{year}-06-01"));
        let csv_import = format!(
            "/api/v1/evidence/imports?batch_key=far&unit_id={}&source=itinerary&from={date}",
            d.bureau
        );
        for (path, field) in [
            (format!("/api/v1/ledger?from={date}"), "from"),
            (format!("/api/v1/ledger?format=csv&to={date}"), "to"),
            (format!("/api/v1/units/{}/roster?on={date}", d.bureau), "on"),
            (format!("/api/v1/discrepancies?from={date}"), "from"),
            (
                format!("/api/v1/special-periods?active_on={date}"),
                "active_on",
            ),
        ] {
            let res = app.get(&path, d.token("admin")).await;
            assert_eq!(res.status.as_u16(), 422, "{path}: {}", res.body);
            assert_issue(&res, "date_out_of_range", "date_out_of_range", field);
        }
        let res = app
            .send(
                TestRequest::post()
                    .uri(&csv_import)
                    .insert_header(("authorization", format!("Bearer {}", d.token("admin"))))
                    .insert_header(("content-type", "text/csv"))
                    .set_payload("employee_no,date,location_code\n"),
            )
            .await;
        assert_issue(&res, "date_out_of_range", "date_out_of_range", "from");
    }
    assert_eq!(app.fingerprint(), before, "a refused date changed data");
    // The first and the last day of the range are fine.
    for path in [
        "/api/v1/ledger?from=1900-01-01&to=2100-12-31".to_owned(),
        format!("/api/v1/units/{}/roster?on=1900-01-01", d.bureau),
        format!("/api/v1/units/{}/roster?on=2100-12-31", d.bureau),
    ] {
        let res = app.get(&path, d.token("admin")).await;
        assert_eq!(res.status.as_u16(), 200, "{path}: {}", res.body);
    }
}

#[actix_web::test]
async fn evidence_records_dated_outside_1900_to_2100_are_rejected_row_by_row() {
    let (app, d) = setup().await;
    let records: Vec<Value> = FAR_YEARS
        .iter()
        .map(|year| json!({"employee_no": "E-clerk", "date": format!("{year}-06-01"), "location_code": "310000"}))
        .chain([json!({"employee_no": "E-clerk", "date": "2027-04-01", "location_code": "310000"})])
        .collect();
    let res = app
        .post(
            "/api/v1/evidence/imports",
            d.token("inspector"),
            json!({"batch_key": "far-rows", "unit_id": d.bureau, "source": "itinerary", "records": records}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 1, "{}", res.body);
    let rejected: Vec<(i64, String, String)> = res.body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_i64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
                r["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(i64, String, String)> = (1..=6)
        .map(|row| (row, "date_out_of_range".into(), "date".into()))
        .collect();
    assert_eq!(rejected, expected);
    assert_eq!(app.count("evidence"), 1);
}

// ---------------------------------------------------------------- bodies

/// A body of `total` bytes in 64 KiB chunks, counting what the server pulled.
fn chunked_body(total: usize, pulled: Arc<AtomicUsize>) -> actix_web::dev::Payload {
    const CHUNK: usize = 64 * 1024;
    let stream = futures_util::stream::iter((0..total.div_ceil(CHUNK)).map(move |_| {
        pulled.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, actix_web::error::PayloadError>(Bytes::from(vec![b' '; CHUNK]))
    }));
    let boxed: BoxedPayloadStream = Box::pin(stream);
    actix_web::dev::Payload::from(boxed)
}

#[actix_web::test]
async fn a_chunked_body_over_its_limit_is_refused_as_soon_as_it_crosses_it() {
    let (app, d) = setup().await;
    let admin = d.token("admin");
    let before = app.fingerprint();
    let cases = [
        ("/api/v1/units", "application/json", None, 256 * 1024),
        (
            "/api/v1/units",
            "application/json",
            Some("a-key"),
            256 * 1024,
        ),
        ("/api/v1/accounts/import", "text/csv", None, 5 * 1024 * 1024),
        (
            "/api/v1/evidence/imports?batch_key=k&unit_id=00000000-0000-0000-0000-000000000000&source=itinerary",
            "text/csv",
            None,
            32 * 1024 * 1024,
        ),
    ];
    for (path, media, key, limit) in cases {
        let pulled = Arc::new(AtomicUsize::new(0));
        let mut req = TestRequest::post()
            .uri(path)
            .insert_header(("authorization", format!("Bearer {admin}")))
            .insert_header(("content-type", media));
        if let Some(key) = key {
            req = req.insert_header(("idempotency-key", key));
        }
        let res = app
            .send_with_payload(req, chunked_body(40 * 1024 * 1024, pulled.clone()))
            .await;
        res.assert_problem(413, "payload_too_large");
        let pulled = pulled.load(Ordering::SeqCst);
        assert!(
            pulled <= limit + 64 * 1024,
            "{path}: {pulled} bytes read for a limit of {limit}"
        );
    }
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn a_body_that_does_not_arrive_in_time_is_cut_off() {
    let app = TestApp::with_config(|c| {
        c.body_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let before = app.fingerprint();
    // One byte, then nothing more.
    let stream = futures_util::stream::iter([Ok::<_, actix_web::error::PayloadError>(
        Bytes::from_static(b"{"),
    )])
    .chain(futures_util::stream::pending());
    let boxed: BoxedPayloadStream = Box::pin(stream);
    let sent = app.send_with_payload(
        TestRequest::post()
            .uri("/api/v1/units")
            .insert_header(("authorization", format!("Bearer {}", app.admin)))
            .insert_header(("content-type", "application/json")),
        actix_web::dev::Payload::from(boxed),
    );
    // Without a deadline the server would wait for the rest forever.
    let res = actix_web::rt::time::timeout(std::time::Duration::from_secs(20), sent)
        .await
        .expect("the server still waits for the body");
    res.assert_problem(408, "request_timeout");
    assert_eq!(app.fingerprint(), before);
}
