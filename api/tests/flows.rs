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
