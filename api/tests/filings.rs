//! The filing lifecycle through the API: filing, approving step by step (also
//! by a delegate), departing, extending, returning; refusals that change
//! nothing; races between approvers; and the audit chain over all of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

fn draft(depart: &str, ret: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": "320500"}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

/// The seeded district with a policy: staff need their head and then the
/// bureau's principal; leaders only report.
async fn setup(now: &str) -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = now.parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
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

async fn act(app: &TestApp, token: &str, filing: &str, action: &str, body: Value) -> Resp {
    app.post(&format!("/api/v1/filings/{filing}/{action}"), token, body)
        .await
}

#[actix_web::test]
async fn a_trip_is_filed_approved_in_two_steps_departs_extends_and_returns() {
    let (mut app, d) = setup("2027-04-20T02:00:00Z").await;
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let id = res.str("/id");
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["current_step"], 1);
    assert_eq!(res.body["approvals"][0]["candidates"], json!([d.head]));
    assert_eq!(res.body["approvals"][1]["candidates"], json!([d.principal]));
    assert_eq!(res.body["late"], false);
    assert_eq!(res.header("etag"), "\"2\"");

    // The head's inbox holds it; the principal's does not yet.
    let inbox = app.get("/api/v1/approvals/pending", d.token("head")).await;
    assert_eq!(inbox.body["items"][0]["id"], id);
    let inbox = app
        .get("/api/v1/approvals/pending", d.token("principal"))
        .await;
    assert_eq!(inbox.body["items"], json!([]));

    // The filer never approves; the second approver cannot jump the queue.
    act(&app, d.token("clerk"), &id, "approve", json!({}))
        .await
        .assert_problem(403, "forbidden");
    act(&app, d.token("principal"), &id, "approve", json!({}))
        .await
        .assert_problem(403, "forbidden");
    act(&app, d.token("outsider"), &id, "approve", json!({}))
        .await
        .assert_problem(404, "not_found");

    let res = act(
        &app,
        d.token("head"),
        &id,
        "approve",
        json!({"comment": "ok"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["current_step"], 2);
    let res = act(&app, d.token("principal"), &id, "approve", json!({})).await;
    assert_eq!(res.body["status"], "approved", "{}", res.body);
    assert!(res.body["approved_at"].is_string());

    // The day of departure, 09:00 in Beijing.
    app.set_now("2027-05-10T01:00:00Z");
    let res = act(&app, d.token("clerk"), &id, "depart", json!({})).await;
    assert_eq!(res.body["status"], "away");
    let res = act(
        &app,
        d.token("clerk"),
        &id,
        "extensions",
        json!({"new_return_on": "2027-05-15", "reason": "flight cancelled"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "away");
    assert_eq!(res.body["extension_pending"], true);
    assert_eq!(res.body["return_on"], "2027-05-12");
    act(&app, d.token("head"), &id, "approve", json!({})).await;
    let res = act(&app, d.token("principal"), &id, "approve", json!({})).await;
    assert_eq!(res.body["extension_pending"], false);
    assert_eq!(res.body["return_on"], "2027-05-15");
    assert_eq!(res.body["extensions"][0]["status"], "approved");

    let res = act(
        &app,
        d.token("clerk"),
        &id,
        "return",
        json!({"report": "back safely"}),
    )
    .await;
    assert_eq!(res.body["status"], "returned");
    assert_eq!(res.body["return_report"], "back safely");

    let events = app
        .get(&format!("/api/v1/filings/{id}/events"), d.token("clerk"))
        .await;
    let actions: Vec<&str> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "create", "submit", "approve", "approve", "depart", "extend", "approve", "approve",
            "return"
        ]
    );

    let verify = app.get("/api/v1/audit/verify", d.token("admin")).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.body);
    assert!(verify.body["checked"].as_i64().unwrap() >= 9);
}

#[actix_web::test]
async fn a_report_only_trip_is_recorded_and_a_bad_draft_is_refused_without_a_trace() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    let res = app.post("/api/v1/filings", d.token("principal"), json!({"draft": {
        "kind": "leave_jurisdiction", "purpose": "tourism", "reason": "trip", "destinations": [{"code": "310000"}],
        "depart_on": "2027-05-10", "return_on": "2027-05-12", "contact_phone": "13800138000", "substitute_id": d.deputy}, "submit": true})).await;
    assert_eq!(res.body["status"], "recorded", "{}", res.body);
    assert_eq!(res.body["approvals"], json!([]));

    let before = app.count("filings");
    let mut bad = draft("2027-05-10", "2027-05-12");
    bad["destinations"] = json!([{"code": "110000"}]);
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": bad, "submit": true}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(
        res.body["errors"][0]["code"],
        "destination_inside_jurisdiction"
    );
    assert_eq!(app.count("filings"), before);
    assert_eq!(app.count("filing_events"), 1 + 1);
}

#[actix_web::test]
async fn a_draft_is_kept_then_submitted_and_refusals_change_nothing() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12")}),
        )
        .await;
    assert_eq!(res.body["status"], "draft");
    let id = res.str("/id");
    // Only the filer moves it, and only along the lifecycle.
    act(&app, d.token("clerk"), &id, "depart", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    act(&app, d.token("head"), &id, "submit", json!({}))
        .await
        .assert_problem(404, "not_found");
    let stale = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/filings/{id}/submit"))
                .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
                .insert_header(("if-match", "\"9\"")),
        )
        .await;
    stale.assert_problem(412, "precondition_failed");
    let fresh = app
        .get(&format!("/api/v1/filings/{id}"), d.token("clerk"))
        .await;
    assert_eq!(fresh.body["status"], "draft");
    assert_eq!(fresh.body["version"], 1);

    let res = app
        .send(
            TestRequest::post()
                .uri(&format!("/api/v1/filings/{id}/submit"))
                .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
                .insert_header(("if-match", fresh.header("etag"))),
        )
        .await;
    assert_eq!(res.body["status"], "pending", "{}", res.body);
    // Rejecting needs a comment; the rejection then stands.
    act(&app, d.token("head"), &id, "reject", json!({}))
        .await
        .assert_problem(422, "validation_failed");
    let res = act(
        &app,
        d.token("head"),
        &id,
        "reject",
        json!({"comment": "not now"}),
    )
    .await;
    assert_eq!(res.body["status"], "rejected");
    act(&app, d.token("clerk"), &id, "withdraw", json!({}))
        .await
        .assert_problem(409, "invalid_transition");

    // Withdraw a pending one; cancel a recorded one.
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-06-10", "2027-06-12"), "submit": true}),
        )
        .await;
    let res = act(
        &app,
        d.token("clerk"),
        &res.str("/id"),
        "withdraw",
        json!({}),
    )
    .await;
    assert_eq!(res.body["status"], "withdrawn");
    let mut leader = draft("2027-06-10", "2027-06-12");
    leader["substitute_id"] = json!(d.deputy);
    let res = app
        .post(
            "/api/v1/filings",
            d.token("principal"),
            json!({"draft": leader, "submit": true}),
        )
        .await;
    let res = act(
        &app,
        d.token("principal"),
        &res.str("/id"),
        "cancel",
        json!({}),
    )
    .await;
    assert_eq!(res.body["status"], "cancelled");
    let mine = app
        .get(
            "/api/v1/filings?mine=true&status=withdrawn",
            d.token("clerk"),
        )
        .await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_delegate_decides_for_the_approver_and_the_history_says_so() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    let res = app
        .put("/api/v1/me/delegation", d.token("head"), json!({"delegate_id": d.deputy, "starts_at": "2027-04-01T00:00:00Z", "ends_at": "2027-05-01T00:00:00Z"}))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
        )
        .await;
    let id = res.str("/id");
    let inbox = app
        .get("/api/v1/approvals/pending", d.token("deputy"))
        .await;
    assert_eq!(inbox.body["items"][0]["id"], id, "{}", inbox.body);
    let res = act(&app, d.token("deputy"), &id, "approve", json!({})).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["approvals"][0]["decided_by"], d.deputy.to_string());
    assert_eq!(res.body["approvals"][0]["decided_for"], d.head.to_string());
    let events = app
        .get(&format!("/api/v1/filings/{id}/events"), d.token("clerk"))
        .await;
    assert_eq!(events.body[2]["on_behalf_of"], d.head.to_string());
    // Once the delegation ends, the delegate decides nothing.
    let res = app
        .send(
            TestRequest::delete()
                .uri("/api/v1/me/delegation")
                .insert_header(("authorization", format!("Bearer {}", d.token("head")))),
        )
        .await;
    assert_eq!(res.status.as_u16(), 204);
}

#[actix_web::test]
async fn two_holders_of_one_step_race_and_exactly_one_decision_stands() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    // The office gets a second head-like approver through a role step.
    let policy = json!({"rules": [{"id": "staff", "requirement": "approval",
        "approvers": [{"kind": "role", "role": "unit_admin", "unit_id": d.bureau}], "form": "online", "notice": {"days": 1}}]});
    app.put(
        &format!("/api/v1/units/{}/policy", d.bureau),
        d.token("admin"),
        policy,
    )
    .await;
    let second = app
        .account("second-admin", d.bureau, "section", "staff")
        .await;
    app.grant(second, "unit_admin", d.bureau).await;
    let second_token = app.login("second-admin", PASSWORD).await;
    for _ in 0..25 {
        let res = app
            .post(
                "/api/v1/filings",
                d.token("clerk"),
                json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
            )
            .await;
        let id = res.str("/id");
        let (a, b) = futures_util::join!(
            act(&app, d.token("unit-admin"), &id, "approve", json!({})),
            act(&app, &second_token, &id, "approve", json!({}))
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses[0], 200, "{} {}", a.body, b.body);
        assert!(
            statuses[1] == 409 || statuses[1] == 412 || statuses[1] == 403,
            "{} {}",
            a.body,
            b.body
        );
        let events = app
            .get(&format!("/api/v1/filings/{id}/events"), d.token("clerk"))
            .await;
        let approvals = events
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "approve")
            .count();
        assert_eq!(approvals, 1);
    }
}

#[actix_web::test]
async fn a_late_filing_after_departure_needs_a_reason_and_is_flagged() {
    let (app, d) = setup("2027-05-11T02:00:00Z").await;
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert!(
        res.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "late_reason_required")
    );
    let mut late = draft("2027-05-10", "2027-05-12");
    late["late_reason"] = json!("called away by a family emergency");
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": late, "submit": true}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["late"], true);
    assert_eq!(res.body["departed_before_approval"], true);
}

#[actix_web::test]
async fn tampering_with_the_audit_chain_is_found() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    for _ in 0..3 {
        app.post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true}),
        )
        .await;
    }
    let ok = app.get("/api/v1/audit/verify", d.token("admin")).await;
    assert_eq!(ok.body["ok"], true, "{}", ok.body);
    let mut conn = app.db.connect();
    assert!(
        conn.batch_execute("UPDATE audit_log SET action = 'x' WHERE id = 2")
            .is_err(),
        "the trigger refuses updates"
    );
    assert!(
        conn.batch_execute("DELETE FROM audit_log WHERE id = 2")
            .is_err(),
        "the trigger refuses deletes"
    );
    conn.batch_execute(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
         UPDATE audit_log SET data = '{\"forged\": true}' WHERE id = 3;
         ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;",
    )
    .unwrap();
    let bad = app.get("/api/v1/audit/verify", d.token("admin")).await;
    assert_eq!(bad.body["ok"], false);
    assert_eq!(bad.body["first_bad_id"], 3);
    assert_eq!(bad.body["checked"], 2);
    app.get("/api/v1/audit/verify", d.token("unit-admin"))
        .await
        .assert_problem(403, "forbidden");
}

#[actix_web::test]
async fn an_idempotency_key_is_claimed_with_the_change_so_a_retry_never_files_twice() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    let body = json!({"draft": draft("2027-05-10", "2027-05-12"), "submit": true});
    let send = |key: &'static str| {
        TestRequest::post()
            .uri("/api/v1/filings")
            .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
            .insert_header(("idempotency-key", key))
            .set_json(body.clone())
    };
    // Two at once with one key: one filing; the other answers the same or 409.
    let (a, b) = futures_util::join!(app.send(send("phone-1")), app.send(send("phone-1")));
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert!(
        statuses == [201, 201] || statuses == [201, 409],
        "{statuses:?} {} {}",
        a.body,
        b.body
    );
    assert_eq!(app.count("filings"), 1);
    if statuses == [201, 201] {
        assert_eq!(a.body["id"], b.body["id"]);
    }

    // The change committed but the answer was never stored (the process died in
    // between): a retry finds the claim and does not file again. (The stored
    // hash covers the method, path and body, not the key.)
    let mut conn = app.db.connect();
    conn.batch_execute(&format!(
        "INSERT INTO idempotency_keys (account_id, key, request_hash) VALUES ('{}', 'phone-2', \
         (SELECT request_hash FROM idempotency_keys WHERE key = 'phone-1'))",
        d.clerk
    ))
    .unwrap();
    let before = app.count("filings");
    let retry = app.send(send("phone-2")).await;
    retry.assert_problem(409, "idempotency_key_in_progress");
    assert_eq!(app.count("filings"), before);
}

#[actix_web::test]
async fn the_inbox_pages_by_cursor_and_checks_its_caller_before_anything_else() {
    use base64::Engine;
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    let mut filed = Vec::new();
    for day in ["2027-05-10", "2027-05-17", "2027-05-24"] {
        let res = app
            .post(
                "/api/v1/filings",
                d.token("clerk"),
                json!({"draft": draft(day, day), "submit": true}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.body);
        filed.push(res.str("/id"));
    }
    filed.sort();

    // Pages of two, in id order, until the cursor runs out.
    let first = app
        .get("/api/v1/approvals/pending?limit=2", d.token("head"))
        .await;
    assert_eq!(first.status.as_u16(), 200, "{}", first.body);
    let cursor = first.str("/next_cursor");
    let second = app
        .get(
            &format!("/api/v1/approvals/pending?limit=2&cursor={cursor}"),
            d.token("head"),
        )
        .await;
    assert_eq!(second.status.as_u16(), 200, "{}", second.body);
    assert_eq!(second.body["next_cursor"], Value::Null);
    let paged: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|page| page.body["items"].as_array().unwrap().clone())
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paged, filed);
    // Each item is the whole filing, with its stored assessment.
    assert_eq!(
        first.body["items"][0]["assessment"]["requirement"],
        "approval"
    );
    assert_eq!(
        first.body["items"][0]["approvals"][0]["rule"]["kind"],
        "department_head"
    );

    // A cursor that is not one, or a limit out of range, is refused.
    let not_an_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("not-an-id");
    for query in ["cursor=%21%21", &format!("cursor={not_an_id}")] {
        let res = app
            .get(
                &format!("/api/v1/approvals/pending?{query}"),
                d.token("head"),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "cursor", "{}", res.body);
    }
    app.get("/api/v1/approvals/pending?limit=0", d.token("head"))
        .await
        .assert_problem(422, "validation_failed");

    // The caller is checked first: no token, a bad one, a suspended account.
    app.get("/api/v1/approvals/pending", "")
        .await
        .assert_problem(401, "unauthorized");
    app.get("/api/v1/approvals/pending", "not-a-token")
        .await
        .assert_problem(401, "invalid_token");
    let res = app
        .post(
            &format!("/api/v1/accounts/{}/suspend", d.head),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    app.get("/api/v1/approvals/pending", d.token("head"))
        .await
        .assert_problem(401, "account_suspended");
    app.get("/api/v1/approvals/pending?cursor=%21%21", d.token("head"))
        .await
        .assert_problem(401, "account_suspended");
}
