//! What the server writes out stays inert: CSV cells never start a formula,
//! and document numbers show no more than the contract allows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};

/// "Now": Tuesday 20 April 2027, 10:00 in Beijing.
const NOW: &str = "2027-04-20T02:00:00Z";

fn draft(depart: &str, ret: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "=HYPERLINK(\"http://evil\")",
        "destinations": [{"code": "320500"}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

async fn setup() -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = NOW.parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
        {"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1}}
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
