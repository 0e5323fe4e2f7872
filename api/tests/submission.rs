//! The submission path, statement by statement: `POST /filings` costs at most
//! six SQL statements in its transaction once the filer's context is cached,
//! for a report-only filing and for one that needs approval; the filing is
//! written once, and a stored draft filed later by one update of its row; and
//! a change made through one server reaches a submission to another server
//! sharing the database at once.
//!
//! Statements are counted through diesel's connection instrumentation, set
//! for every connection this test process opens (nextest runs each test in a
//! process of its own).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use serde_json::{Value, json};
use std::sync::Mutex;
use whereabouts_api::db::Db;
use whereabouts_api::extract::AppState;

/// What the connections of this process did, in order.
static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Begin,
    Commit,
    Rollback,
    Statement(String),
}

fn instrument() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        let event = match event {
            InstrumentationEvent::BeginTransaction { .. } => Event::Begin,
            InstrumentationEvent::CommitTransaction { .. } => Event::Commit,
            InstrumentationEvent::RollbackTransaction { .. } => Event::Rollback,
            InstrumentationEvent::StartQuery { query, .. } => {
                let sql = query.to_string();
                // The transaction's own BEGIN and COMMIT are counted as the
                // events above.
                if matches!(sql.trim(), "BEGIN" | "COMMIT" | "ROLLBACK") {
                    return;
                }
                Event::Statement(sql)
            }
            _ => return,
        };
        EVENTS.lock().unwrap().push(event);
    }))
}

/// Runs `work` and answers the events it caused.
async fn recorded<T>(work: impl std::future::Future<Output = T>) -> (T, Vec<Event>) {
    EVENTS.lock().unwrap().clear();
    let value = work.await;
    let events = std::mem::take(&mut *EVENTS.lock().unwrap());
    (value, events)
}

/// The statements of each transaction among `events`, and those outside any.
fn by_transaction(events: &[Event]) -> (Vec<Vec<String>>, Vec<String>) {
    let mut transactions = Vec::new();
    let mut outside = Vec::new();
    let mut open: Option<Vec<String>> = None;
    for event in events {
        match event {
            Event::Begin => open = Some(Vec::new()),
            Event::Commit | Event::Rollback => transactions.extend(open.take()),
            Event::Statement(sql) => match open.as_mut() {
                Some(statements) => statements.push(sql.clone()),
                None => outside.push(sql.clone()),
            },
        }
    }
    (transactions, outside)
}

fn draft(depart: &str, ret: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": "320500"}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

/// The seeded district with a policy: staff need their head and then the
/// bureau's principal; leaders only report.
async fn setup() -> (TestApp, District) {
    set_default_instrumentation(instrument).unwrap();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let app = TestApp::with_config(|c| c.fixed_now = "2027-04-20T02:00:00Z".parse().ok()).await;
    let d = seed(&app).await;
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("admin"),
            policy(1),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    (app, d)
}

/// The district's policy, with `notice_days` days' notice for staff.
fn policy(notice_days: u32) -> Value {
    json!({"rules": [
        {"id": "staff", "applies_to": {"positions": ["staff"]}, "requirement": "approval",
         "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}], "form": "online",
         "notice": {"days": notice_days, "working_days": false}, "return_report": {"required": true, "within_hours": 24}},
        {"id": "leaders", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": false}}
    ]})
}

/// Files a trip as `who` with an idempotency key, as the apps do; a leader
/// names the deputy as substitute.
async fn file(app: &TestApp, d: &District, who: &str, depart: &str, ret: &str) -> Resp {
    let mut draft = draft(depart, ret);
    if who != "clerk" {
        draft["substitute_id"] = json!(d.deputy);
    }
    app.send(
        TestRequest::post()
            .uri("/api/v1/filings")
            .insert_header(("authorization", format!("Bearer {}", d.token(who))))
            .insert_header(("idempotency-key", uuid::Uuid::new_v4().to_string()))
            .set_json(json!({"draft": draft, "submit": true})),
    )
    .await
}

/// The start of a statement, for the log.
fn head(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(110)
        .collect()
}

/// The one transaction of a submission, after a warm-up filing.
async fn submission_statements(
    app: &TestApp,
    d: &District,
    who: &str,
    expect: &str,
) -> Vec<String> {
    let warm = file(app, d, who, "2027-05-10", "2027-05-12").await;
    assert_eq!(warm.status.as_u16(), 201, "{}", warm.body);
    let (res, events) = recorded(file(app, d, who, "2027-06-10", "2027-06-12")).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["status"], expect, "{}", res.body);
    let (transactions, outside) = by_transaction(&events);
    assert_eq!(
        transactions.len(),
        1,
        "one transaction per submission: {transactions:#?}"
    );
    println!(
        "{expect}: {} statements in the transaction, {} outside it",
        transactions[0].len(),
        outside.len()
    );
    for sql in &transactions[0] {
        println!("  in:  {}", head(sql));
    }
    for sql in &outside {
        println!("  out: {}", head(sql));
    }
    transactions.into_iter().next().unwrap()
}

#[actix_web::test]
async fn a_report_only_submission_takes_at_most_six_statements_in_its_transaction() {
    let (app, d) = setup().await;
    let statements = submission_statements(&app, &d, "principal", "recorded").await;
    assert!(statements.len() <= 6, "{statements:#?}");
}

#[actix_web::test]
async fn an_approval_submission_takes_at_most_six_statements_in_its_transaction() {
    let (app, d) = setup().await;
    let statements = submission_statements(&app, &d, "clerk", "pending").await;
    assert!(statements.len() <= 6, "{statements:#?}");
}

#[actix_web::test]
async fn a_submission_writes_its_filing_once_and_never_updates_it() {
    let (app, d) = setup().await;
    for (who, expect) in [("principal", "recorded"), ("clerk", "pending")] {
        let statements = submission_statements(&app, &d, who, expect).await;
        let writes: Vec<&String> = statements
            .iter()
            .filter(|sql| {
                let sql = sql.to_ascii_uppercase().replace('"', "");
                sql.contains("INSERT INTO FILINGS ") || sql.contains("UPDATE FILINGS ")
            })
            .collect();
        assert_eq!(writes.len(), 1, "{who}: {writes:#?}");
        assert!(
            !writes[0]
                .to_ascii_uppercase()
                .replace('"', "")
                .contains("UPDATE FILINGS "),
            "{who}: {writes:#?}"
        );
    }
}

/// Files a trip through the server of `state`.
async fn file_through(state: &AppState, token: &str, depart: &str, ret: &str) -> Resp {
    let service = actix_web::test::init_service(whereabouts_api::app::build(state.clone())).await;
    let req = TestRequest::post()
        .uri("/api/v1/filings")
        .insert_header(("authorization", format!("Bearer {token}")))
        .set_json(json!({"draft": draft(depart, ret), "submit": true}));
    answer(actix_web::test::call_service(&service, req.to_request()).await).await
}

#[actix_web::test]
async fn a_policy_changed_through_one_server_rules_the_next_submission_to_another() {
    let (app, d) = setup().await;
    // A second server over the same database, with a cache of its own.
    let other = AppState::new(
        (*app.state.config).clone(),
        Db::connect(app.db.url(), 2).unwrap(),
    );
    // The second server files once, so the clerk's context is in its cache:
    // one day's notice.
    let first = file_through(&other, d.token("clerk"), "2027-05-10", "2027-05-12").await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    assert_eq!(
        first.body["submit_by"], "2027-05-09T10:00:00Z",
        "{}",
        first.body
    );
    // Through the first server, staff now need three days' notice.
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("admin"),
            policy(3),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    // The second server's next submission is assessed under the new policy.
    let second = file_through(&other, d.token("clerk"), "2027-05-10", "2027-05-12").await;
    assert_eq!(second.status.as_u16(), 201, "{}", second.body);
    assert_eq!(
        second.body["submit_by"], "2027-05-07T10:00:00Z",
        "{}",
        second.body
    );
    assert_ne!(
        second.body["assessment"]["policy_version"], first.body["assessment"]["policy_version"],
        "{}",
        second.body
    );
}

#[actix_web::test]
async fn a_stored_draft_is_filed_by_one_update_of_its_row_with_all_that_comes_with_it() {
    let (app, d) = setup().await;
    let created = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12")}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    assert_eq!(created.body["status"], "draft");
    let id = created.str("/id");
    let (res, events) = recorded(
        app.send(
            TestRequest::post()
                .uri(&format!("/api/v1/filings/{id}/submit"))
                .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
                .insert_header(("if-match", created.header("etag"))),
        ),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.body["approvals"].as_array().unwrap().len(), 2);
    let (transactions, _) = by_transaction(&events);
    // Statements that write, their whitespace and quotes set aside.
    let writes: Vec<String> = transactions
        .concat()
        .iter()
        .map(|sql| {
            sql.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_uppercase()
                .replace('"', "")
        })
        .filter(|sql| {
            ["INSERT ", "UPDATE ", "WITH "]
                .iter()
                .any(|w| sql.starts_with(w))
        })
        .filter(|sql| !sql.contains("AUDIT_LOG") && !sql.contains("IDEMPOTENCY_KEYS"))
        .collect();
    // The row, its steps, its event, the notification and the webhook event
    // in one statement.
    assert_eq!(writes.len(), 1, "{writes:#?}");
    assert!(
        writes[0].starts_with("WITH FILING AS (UPDATE FILINGS SET"),
        "{writes:#?}"
    );
    // The approvers were told, and the history reads create then submit.
    assert_eq!(
        app.count("notifications WHERE kind = 'approval_requested'"),
        1
    );
    let history = app
        .get(&format!("/api/v1/filings/{id}/events"), d.token("clerk"))
        .await;
    let actions: Vec<&str> = history.body["items"]
        .as_array()
        .or(history.body.as_array())
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "submit"], "{}", history.body);
}
