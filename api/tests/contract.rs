#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What a client generated from the OpenAPI document relies on: the ledger's
//! export operations answer files, imports take `multipart/form-data` file
//! uploads, and bodies the document calls optional may be left out entirely.

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::json;

/// "Now": Tuesday 20 April 2027, 10:00 in Beijing.
const NOW: &str = "2027-04-20T02:00:00Z";

fn trip(depart: &str, ret: &str) -> serde_json::Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": "310000"}], "depart_on": depart, "return_on": ret,
        "contact_phone": "13800138000"})
}

/// A `multipart/form-data` body of text fields and one file part.
fn multipart(fields: &[(&str, &str)], file: Option<&str>) -> (String, Vec<u8>) {
    let boundary = "whereabouts-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    if let Some(file) = file {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"records.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

async fn upload(app: &TestApp, token: &str, uri: &str, content_type: &str, body: Vec<u8>) -> Resp {
    app.send(
        TestRequest::post()
            .uri(uri)
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", content_type))
            .set_payload(body),
    )
    .await
}

async fn filed(app: &TestApp, d: &District) -> String {
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": trip("2027-04-21", "2027-04-24"), "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    res.str("/id")
}

#[actix_web::test]
async fn the_ledger_exports_as_csv_and_xlsx_through_operations_of_their_own() {
    let (app, d) = reporting_district(NOW).await;
    let filing = filed(&app, &d).await;
    let uri = format!("/api/v1/ledger/export.csv?unit_id={}", d.bureau);
    let res = app
        .send(
            TestRequest::get()
                .uri(&uri)
                .insert_header(("authorization", format!("Bearer {}", d.token("inspector"))))
                .insert_header(("accept-language", "en")),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert!(res.header("content-type").starts_with("text/csv"));
    assert!(res.header("content-disposition").starts_with("attachment"));
    let csv = res.body.as_str().unwrap();
    assert!(
        csv.trim_start_matches('\u{feff}').starts_with("filing_id,"),
        "{csv}"
    );
    assert!(csv.contains(&filing), "{csv}");

    let res = app
        .send(
            TestRequest::get()
                .uri(&format!("/api/v1/ledger/export.xlsx?unit_id={}", d.bureau))
                .insert_header(("authorization", format!("Bearer {}", d.token("inspector")))),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(
        res.header("content-type"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(res.header("content-disposition").contains(".xlsx"));
    // The body is a zip archive; the test support reads it as lossy text.
    assert!(res.body.as_str().unwrap().starts_with("PK"));
}

#[actix_web::test]
async fn the_export_operations_refuse_as_the_ledger_does() {
    let (app, d) = reporting_district(NOW).await;
    for path in ["/api/v1/ledger/export.csv", "/api/v1/ledger/export.xlsx"] {
        app.get(path, "").await.assert_problem(401, "unauthorized");
        app.get(path, d.token("clerk"))
            .await
            .assert_problem(403, "forbidden");
        app.get(
            &format!("{path}?unit_id={}", d.other_bureau),
            d.token("inspector"),
        )
        .await
        .assert_problem(404, "not_found");
        app.get(
            &format!("{path}?from=2027-05-10&to=2027-05-01"),
            d.token("inspector"),
        )
        .await
        .assert_problem(422, "validation_failed");
        app.get(&format!("{path}?from=1800-01-01"), d.token("inspector"))
            .await
            .assert_problem(422, "date_out_of_range");
    }
}

#[actix_web::test]
async fn the_deprecated_format_parameter_still_exports_and_refuses_unknown_values() {
    let (app, d) = reporting_district(NOW).await;
    filed(&app, &d).await;
    let res = app
        .get("/api/v1/ledger?format=csv", d.token("inspector"))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert!(res.header("content-type").starts_with("text/csv"));
    let res = app
        .get("/api/v1/ledger?format=pdf", d.token("inspector"))
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "format");
}

#[actix_web::test]
async fn evidence_is_imported_from_a_csv_file_upload() {
    let (app, d) = reporting_district(NOW).await;
    let bureau = d.bureau.to_string();
    let (content_type, body) = multipart(
        &[
            ("batch_key", "upload-1"),
            ("unit_id", &bureau),
            ("source", "itinerary"),
        ],
        Some("login,date,location_code\nclerk,2027-04-10,310000\nnobody,2027-04-10,310000\n"),
    );
    let before = app.count("evidence");
    let res = upload(
        &app,
        d.token("inspector"),
        "/api/v1/evidence/imports",
        &content_type,
        body.clone(),
    )
    .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 1, "{}", res.body);
    assert_eq!(res.body["rejected"][0]["row"], 3, "{}", res.body);
    assert_eq!(app.count("evidence"), before + 1);
    // The same batch again changes nothing and answers the first result.
    let again = upload(
        &app,
        d.token("inspector"),
        "/api/v1/evidence/imports",
        &content_type,
        body,
    )
    .await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.body);
    assert_eq!(again.body["id"], res.body["id"]);
    assert_eq!(app.count("evidence"), before + 1);
}

#[actix_web::test]
async fn an_upload_without_its_file_or_fields_or_well_formed_parts_changes_nothing() {
    let (app, d) = reporting_district(NOW).await;
    let bureau = d.bureau.to_string();
    let before = app.fingerprint();
    let (content_type, body) = multipart(
        &[
            ("batch_key", "u"),
            ("unit_id", &bureau),
            ("source", "itinerary"),
        ],
        None,
    );
    let res = upload(
        &app,
        d.token("inspector"),
        "/api/v1/evidence/imports",
        &content_type,
        body,
    )
    .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "file");

    let (content_type, body) =
        multipart(&[("unit_id", &bureau)], Some("login,date,location_code\n"));
    let res = upload(
        &app,
        d.token("inspector"),
        "/api/v1/evidence/imports",
        &content_type,
        body,
    )
    .await;
    res.assert_problem(422, "validation_failed");
    let fields: Vec<String> = res.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["batch_key", "source"]);

    let (content_type, body) = multipart(
        &[
            ("batch_key", "u"),
            ("unit_id", "not-a-uuid"),
            ("source", "itinerary"),
        ],
        Some("login,date,location_code\n"),
    );
    let res = upload(
        &app,
        d.token("inspector"),
        "/api/v1/evidence/imports",
        &content_type,
        body,
    )
    .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "unit_id");

    let res = upload(
        &app,
        d.token("inspector"),
        "/api/v1/evidence/imports",
        "multipart/form-data",
        b"no boundary".to_vec(),
    )
    .await;
    res.assert_problem(400, "malformed_request");
    let res = upload(
        &app,
        d.token("inspector"),
        "/api/v1/evidence/imports",
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ncut off".to_vec(),
    )
    .await;
    res.assert_problem(400, "malformed_request");
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn accounts_are_imported_from_a_csv_file_upload() {
    let (app, d) = reporting_district(NOW).await;
    let (content_type, body) = multipart(
        &[],
        Some("login,display_name,unit_code,rank,position\nzhao.liu,赵六,office,clerk,staff\n"),
    );
    let res = upload(
        &app,
        d.token("unit-admin"),
        "/api/v1/accounts/import",
        &content_type,
        body,
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["created"], 1, "{}", res.body);
    assert!(res.body["initial_passwords"]["zhao.liu"].is_string());

    let before = app.fingerprint();
    let (content_type, body) = multipart(&[("note", "no file")], None);
    let res = upload(
        &app,
        d.token("unit-admin"),
        "/api/v1/accounts/import",
        &content_type,
        body,
    )
    .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "file");
    let res = upload(
        &app,
        d.token("unit-admin"),
        "/api/v1/accounts/import",
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    res.assert_problem(415, "unsupported_media_type");
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn bodies_the_document_calls_optional_may_be_left_out() {
    let app = TestApp::with_config(|c| c.fixed_now = NOW.parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
        {"id": "all", "requirement": "approval", "approvers": [{"kind": "department_head"}],
         "form": "online", "notice": {"days": 1}}
    ]});
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("admin"),
            policy,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let filing = filed(&app, &d).await;
    let bare = |path: String, token: &str| {
        TestRequest::post()
            .uri(&path)
            .insert_header(("authorization", format!("Bearer {token}")))
    };
    // No body and no content type at all: what a generated client sends.
    let res = app
        .send(bare(
            format!("/api/v1/filings/{filing}/approve"),
            d.token("head"),
        ))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "approved");
    let res = app
        .send(bare(
            format!("/api/v1/filings/{filing}/depart"),
            d.token("clerk"),
        ))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let res = app
        .send(bare(
            format!("/api/v1/filings/{filing}/return"),
            d.token("clerk"),
        ))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "returned");
    let res = app
        .send(bare(
            format!("/api/v1/accounts/{}/reset-password", d.clerk),
            d.token("unit-admin"),
        ))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
}

/// The values a CHECK constraint allows a text column, read from the database.
fn allowed_values(app: &TestApp, table: &str, column: &str) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = diesel::sql_types::Text)]
        definition: String,
    }
    let mut conn = app.db.connect();
    let definitions: Vec<Definition> = diesel::sql_query(
        "SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint \
         WHERE conrelid = $1::regclass AND contype = 'c'",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .load(&mut conn)
    .unwrap();
    let definition = definitions
        .into_iter()
        .map(|d| d.definition)
        .find(|d| d.starts_with(&format!("CHECK (({column} = ANY")))
        .unwrap_or_else(|| panic!("no CHECK on {table}.{column}"));
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[actix_web::test]
async fn the_closed_sets_the_database_keeps_are_the_enums_the_document_names() {
    let app = TestApp::new().await;
    let doc: serde_json::Value =
        serde_json::from_str(&whereabouts_api::openapi::document()).unwrap();
    for (table, column, schema) in [
        ("filing_extensions", "status", "ExtensionStatus"),
        ("filing_steps", "decision", "Decision"),
        ("filings", "requirement", "Requirement"),
        ("filings", "status", "FilingStatus"),
        ("notifications", "kind", "NotificationKind"),
        ("discrepancies", "status", "DiscrepancyStatus"),
        ("evidence", "direction", "Direction"),
        ("evidence", "status", "AttendanceStatus"),
    ] {
        let mut stored = allowed_values(&app, table, column);
        let mut documented: Vec<String> = doc["components"]["schemas"][schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} is not an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        stored.sort();
        documented.sort();
        assert_eq!(stored, documented, "{table}.{column} against {schema}");
    }
}
