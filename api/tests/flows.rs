//! The main flows of the foundation, end to end in process: build a tree, set a
//! policy, assess a May Day trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

#[actix_web::test]
async fn a_clerk_learns_what_a_may_day_trip_requires() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let policy = json!({"rules": [{
        "id": "staff", "applies_to": {"ranks": ["clerk", "section"], "positions": ["staff"]},
        "trip_kinds": ["leave_jurisdiction"], "periods": ["normal", "holiday", "special"],
        "requirement": "approval", "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}],
        "form": "online", "notice": {"days": 3, "working_days": true},
        "return_report": {"required": true, "within_hours": 24}, "max_days": 30
    }]});
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("unit-admin"),
            policy,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["version"], 1);

    let draft = json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": "May Day with family",
        "destinations": [{"code": "310000"}], "depart_on": "2027-05-01", "return_on": "2027-05-05", "contact_phone": "13800138000"});
    let res = app
        .post(
            "/api/v1/assessments",
            d.token("clerk"),
            json!({"draft": draft}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["valid"], true, "{}", res.body);
    assert_eq!(res.body["requirement"], "approval");
    assert_eq!(res.body["rule_id"], "staff");
    assert_eq!(res.body["policy_unit_id"], d.bureau.to_string());
    assert_eq!(res.body["approvers"][0]["account_id"], d.head.to_string());
    assert_eq!(
        res.body["approvers"][1]["account_id"],
        d.principal.to_string()
    );
    assert_eq!(res.body["return_report_due"], "2027-05-07T00:00:00+08:00");
}

#[actix_web::test]
async fn the_policy_snapshot_carries_what_the_phone_needs_and_answers_304_when_unchanged() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let policy = json!({"rules": [{"id": "all", "requirement": "approval", "approvers": [{"kind": "department_head"}],
        "form": "online", "notice": {"days": 2, "working_days": true}}]});
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            d.token("unit-admin"),
            policy,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);

    let snap = app
        .get("/api/v1/me/policy-snapshot", d.token("clerk"))
        .await;
    assert_eq!(snap.status.as_u16(), 200, "{}", snap.body);
    assert_eq!(snap.body["schema_version"], 1);
    assert_eq!(snap.body["profile"]["account_id"], d.clerk.to_string());
    assert_eq!(snap.body["policy"]["source_unit_id"], d.bureau.to_string());
    assert_eq!(snap.body["settings"]["home_code"], "110000");
    let names: Vec<&str> = snap.body["org"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["display_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"head name"),
        "the department head the chain resolves to is in the snapshot: {names:?}"
    );
    // The phone can assess offline with it and get the server's answer.
    let mut input = snap.body.clone();
    input["now"] = json!("2027-04-01T09:00:00+08:00");
    input["draft"] = json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": "trip", "destinations": [{"code": "310000"}],
        "depart_on": "2027-05-10", "return_on": "2027-05-12", "contact_phone": "13800138000"});
    let input: whereabouts_core::AssessmentInput = serde_json::from_value(input).unwrap();
    let offline = whereabouts_core::assess(&input);
    assert_eq!(offline.approvers[0].account_id, d.head);

    let tag = snap.header("etag");
    assert!(!tag.is_empty());
    let again = app
        .send(
            actix_web::test::TestRequest::get()
                .uri("/api/v1/me/policy-snapshot")
                .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
                .insert_header(("if-none-match", tag.clone())),
        )
        .await;
    assert_eq!(again.status.as_u16(), 304);
    // A new policy version changes the snapshot.
    let res = app
        .put(&format!("/api/v1/units/{}/policy", d.bureau), d.token("unit-admin"), json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1}}]}))
        .await;
    assert_eq!(res.status.as_u16(), 200);
    let changed = app
        .send(
            actix_web::test::TestRequest::get()
                .uri("/api/v1/me/policy-snapshot")
                .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
                .insert_header(("if-none-match", tag)),
        )
        .await;
    assert_eq!(changed.status.as_u16(), 200);
}

#[actix_web::test]
async fn coverage_shows_own_inherited_and_missing_policies() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let res = app
        .get(
            &format!("/api/v1/units/{}/policy-coverage", d.district),
            d.token("admin"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["units"], 4);
    assert_eq!(res.body["uncovered"], 4);
    let complete = json!({"rules": [{"id": "all", "requirement": "approval", "approvers": [{"kind": "unit_principal"}], "form": "online", "notice": {"days": 3, "working_days": true}}]});
    app.put(
        &format!("/api/v1/units/{}/policy", d.bureau),
        d.token("admin"),
        complete,
    )
    .await;
    let incomplete = json!({"rules": [{"id": "leave", "trip_kinds": ["leave_jurisdiction"], "requirement": "report", "form": "online", "notice": {"days": 1}}]});
    app.put(
        &format!("/api/v1/units/{}/policy", d.other_bureau),
        d.token("admin"),
        incomplete,
    )
    .await;
    let res = app
        .get(
            &format!("/api/v1/units/{}/policy-coverage", d.district),
            d.token("admin"),
        )
        .await;
    let items = res.body["items"].as_array().unwrap();
    let by_code = |code: &str| items.iter().find(|i| i["code"] == code).unwrap().clone();
    assert_eq!(by_code("district")["source"], "none");
    assert_eq!(by_code("bureau")["source"], "own");
    assert_eq!(by_code("bureau")["complete"], true);
    assert_eq!(by_code("office")["source"], "inherited");
    assert_eq!(by_code("office")["covered_by"], d.bureau.to_string());
    assert_eq!(by_code("other-bureau")["complete"], false);
    // Three trip kinds of four lack a rule: 4 ranks × 4 positions × 3 kinds × 3 periods.
    assert_eq!(by_code("other-bureau")["missing_count"], 144);
    assert_eq!(res.body["complete"], 2);
    assert_eq!(res.body["uncovered"], 1);
}

#[actix_web::test]
async fn special_periods_and_calendar_years_change_the_assessment() {
    let app = TestApp::with_config(|c| c.fixed_now = "2027-09-01T02:00:00Z".parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 2, "working_days": true}}]});
    app.put(
        &format!("/api/v1/units/{}/policy", d.bureau),
        d.token("admin"),
        policy,
    )
    .await;
    let draft = json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": "holiday", "destinations": [{"code": "420100"}],
        "depart_on": "2027-10-04", "return_on": "2027-10-06", "contact_phone": "13800138000"});
    let before = app
        .post(
            "/api/v1/assessments",
            d.token("clerk"),
            json!({"draft": draft}),
        )
        .await;
    assert_eq!(before.body["period"], "normal", "{}", before.body);
    assert_eq!(before.body["requirement"], "report");
    // Monday 4 October: two working days back is Thursday 30 September.
    assert_eq!(before.body["submit_by"], "2027-09-30T18:00:00+08:00");

    let year = json!({"days": [{"date": "2027-10-01", "kind": "holiday", "name": "国庆节"}, {"date": "2027-10-04", "kind": "holiday", "name": "国庆节"},
        {"date": "2027-10-05", "kind": "holiday", "name": "国庆节"}, {"date": "2027-09-26", "kind": "workday", "name": "国庆节"}]});
    let res = app
        .put("/api/v1/calendar/2027", d.token("admin"), year)
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["source"], "custom");
    let res = app
        .post("/api/v1/special-periods", d.token("unit-admin"), json!({"name": "National Day 2027", "unit_id": d.bureau, "starts_on": "2027-10-01", "ends_on": "2027-10-07",
            "trip_kinds": ["leave_jurisdiction"], "min_requirement": "approval", "approvers": [{"kind": "unit_principal"}],
            "restricted_destinations": [{"code": "310000", "action": "blocked"}]}))
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let period_id = res.id("/id");

    let after = app
        .post(
            "/api/v1/assessments",
            d.token("clerk"),
            json!({"draft": draft}),
        )
        .await;
    assert_eq!(after.body["period"], "special", "{}", after.body);
    assert_eq!(after.body["requirement"], "approval");
    assert_eq!(after.body["special_period_ids"], json!([period_id]));
    assert_eq!(
        after.body["approvers"][0]["account_id"],
        d.principal.to_string()
    );
    // 1 October is now a holiday and Sunday 26 September a working day: 30 Sep, 29 Sep.
    assert_eq!(after.body["submit_by"], "2027-09-29T18:00:00+08:00");
    let mut blocked = draft.clone();
    blocked["destinations"] = json!([{"code": "310000"}]);
    let res = app
        .post(
            "/api/v1/assessments",
            d.token("clerk"),
            json!({"draft": blocked}),
        )
        .await;
    assert_eq!(res.body["valid"], false);
    assert_eq!(res.body["errors"][0]["code"], "destination_blocked");
    // The other bureau is outside the period's subtree.
    let res = app
        .post(
            "/api/v1/assessments",
            d.token("outsider"),
            json!({"draft": draft}),
        )
        .await;
    assert_eq!(res.body["special_period_ids"], json!([]));
}

#[actix_web::test]
async fn a_csv_import_creates_good_rows_and_reports_bad_ones() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let csv = "login,display_name,unit_code,employee_no,mobile,rank,position,party_member,public_official,key_post\n\
               zhao.liu,赵六,office,E9001,13900139000,clerk,staff,true,true,false\n\
               qian.qi,钱七,office,E9002,,general,staff,,,\n\
               sun.ba,孙八,nowhere,E9003,,clerk,staff,,,\n\
               clerk,Again,office,E9004,,clerk,staff,,,\n\
               zhou.jiu,周九,office,E9005,12,clerk,staff,maybe,,\n";
    let before = app.count("accounts");
    let res = app
        .send(
            actix_web::test::TestRequest::post()
                .uri("/api/v1/accounts/import")
                .insert_header(("authorization", format!("Bearer {}", d.token("unit-admin"))))
                .insert_header(("content-type", "text/csv"))
                .set_payload(csv),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["created"], 1);
    assert_eq!(res.body["rejected"], 4);
    let rows = res.body["rows"].as_array().unwrap();
    assert_eq!(rows[0]["row"], 2);
    assert_eq!(rows[0]["status"], "created");
    assert_eq!(rows[1]["errors"][0]["field"], "rank");
    assert_eq!(rows[2]["errors"][0]["field"], "unit_code");
    assert_eq!(rows[3]["errors"][0]["params"]["reason"], "duplicate");
    let fields: Vec<&str> = rows[4]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["mobile", "party_member"]);
    assert_eq!(app.count("accounts"), before + 1);
    assert!(res.body["initial_passwords"]["zhao.liu"].is_string());
    let token = app
        .login(
            "zhao.liu",
            res.body["initial_passwords"]["zhao.liu"].as_str().unwrap(),
        )
        .await;
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.body["unit"]["id"], d.office.to_string());
}

#[actix_web::test]
async fn children_and_leaders_describe_the_tree() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let res = app
        .get(
            &format!("/api/v1/units/{}/children", d.district),
            d.token("admin"),
        )
        .await;
    let codes: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["bureau", "other-bureau"]);
    let res = app
        .get(
            &format!("/api/v1/units/{}/children?limit=1", d.district),
            d.token("admin"),
        )
        .await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
    let cursor = res.str("/next_cursor");
    let res = app
        .get(
            &format!(
                "/api/v1/units/{}/children?limit=1&cursor={cursor}",
                d.district
            ),
            d.token("admin"),
        )
        .await;
    assert_eq!(res.body["items"][0]["code"], "other-bureau");
    assert!(res.body["next_cursor"].is_null());
    let res = app
        .get(
            &format!("/api/v1/units/{}/leaders", d.bureau),
            d.token("inspector"),
        )
        .await;
    assert_eq!(res.body["principal_id"], d.principal.to_string());
    assert_eq!(res.body["deputies"][0]["in_charge_of"], json!([d.office]));
    // A leader must belong to the unit's subtree.
    let res = app
        .put(
            &format!("/api/v1/units/{}/leaders", d.bureau),
            d.token("admin"),
            json!({"principal_id": d.outsider, "deputies": []}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "principal_id");
}
