//! The authorization matrix: every route (but health and documents) called
//! without a token, by a plain member, by a role holder in scope and by one out
//! of scope. No role → 403, out of scope or unknown → 404, never a leak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use uuid::Uuid;

/// What a caller must get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Any 2xx.
    Ok,
    /// A problem+json answer with this status and code.
    Problem(u16, &'static str),
}

const OK: Want = Want::Ok;
const UNAUTHORIZED: Want = Want::Problem(401, "unauthorized");
const FORBIDDEN: Want = Want::Problem(403, "forbidden");
const NOT_FOUND: Want = Want::Problem(404, "not_found");

/// A request body; `#N#` in it is replaced by a number unique to the request.
#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Csv(String),
}

/// One route and what each caller gets. The caller `""` sends no token.
struct Case {
    method: Method,
    path: String,
    body: Body,
    callers: Vec<(&'static str, Want)>,
}

fn case(method: Method, path: String, body: Body, callers: &[(&'static str, Want)]) -> Case {
    Case {
        method,
        path,
        body,
        callers: callers.to_vec(),
    }
}

async fn call(app: &TestApp, case: &Case, token: &str, n: usize) -> Resp {
    let mut req = TestRequest::default()
        .method(case.method.clone())
        .uri(&case.path);
    if !token.is_empty() {
        req = req.insert_header(("authorization", format!("Bearer {token}")));
    }
    let n = n.to_string();
    req = match &case.body {
        Body::None => req,
        Body::Json(value) => {
            let text = value.to_string().replace("#N#", &n);
            req.set_json(serde_json::from_str::<Value>(&text).unwrap())
        }
        Body::Csv(text) => req
            .insert_header(("content-type", "text/csv"))
            .set_payload(text.replace("#N#", &n)),
    };
    app.send(req).await
}

/// Checks an answer; a problem is checked with [`Resp::assert_problem`].
fn verdict(res: &Resp, want: Want) -> Result<(), String> {
    match want {
        Want::Ok if res.status.is_success() => Ok(()),
        Want::Ok => Err(format!(
            "wanted 2xx, got {} {}",
            res.status.as_u16(),
            res.body
        )),
        Want::Problem(status, code) => {
            std::panic::catch_unwind(AssertUnwindSafe(|| res.assert_problem(status, code))).map_err(
                |_| {
                    format!(
                        "wanted {status} {code}, got {} {} ({})",
                        res.status.as_u16(),
                        res.body["code"],
                        res.header("content-type")
                    )
                },
            )
        }
    }
}

/// Runs every case for every caller, in order, and fails with the whole list
/// of mismatches.
async fn run(app: &TestApp, tokens: &HashMap<&'static str, String>, cases: &[Case]) {
    let mut failures = Vec::new();
    let mut n = 0;
    for case in cases {
        for (who, want) in &case.callers {
            n += 1;
            let token = if who.is_empty() {
                ""
            } else {
                tokens
                    .get(who)
                    .unwrap_or_else(|| panic!("no token for {who}"))
            };
            let res = call(app, case, token, n).await;
            if let Err(why) = verdict(&res, *want) {
                failures.push(format!("{} {} as {:?}: {why}", case.method, case.path, who));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the matrix failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The seeded district plus what the matrix works on: an account to suspend
/// and edit, a policy and a special period on the bureau, a system
/// administrator scoped to the other bureau, and an account that changes its
/// password.
struct World {
    d: District,
    target: Uuid,
    period: Uuid,
    tokens: HashMap<&'static str, String>,
}

fn policy() -> Value {
    json!({"rules": [{
        "id": "staff", "applies_to": {"ranks": [], "positions": []},
        "trip_kinds": [], "periods": [],
        "requirement": "report", "approvers": [],
        "form": "online", "notice": {"days": 3, "working_days": true},
        "return_report": {"required": true, "within_hours": 24}, "max_days": 30
    }]})
}

fn draft() -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": "May Day with family",
        "destinations": [{"code": "310000"}], "depart_on": "2027-05-03", "return_on": "2027-05-05",
        "contact_phone": "13800138000"})
}

fn period_body(unit: Uuid) -> Value {
    json!({"name": "National Day #N#", "unit_id": unit, "starts_on": "2027-10-01", "ends_on": "2027-10-07",
        "trip_kinds": ["leave_jurisdiction"], "min_requirement": "approval", "approvers": [{"kind": "unit_principal"}],
        "restricted_destinations": [{"code": "420000", "action": "approval"}]})
}

async fn world(app: &TestApp) -> World {
    let d = seed(app).await;
    let target = app.account("target", d.office, "clerk", "staff").await;
    let other_sys = app
        .account("other-sys", d.other_bureau, "section", "staff")
        .await;
    app.grant(other_sys, "system_admin", d.other_bureau).await;
    app.account("pw-changer", d.office, "clerk", "staff").await;

    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            &app.admin,
            policy(),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let body = period_body(d.bureau).to_string().replace("#N#", "0");
    let res = app
        .post(
            "/api/v1/special-periods",
            &app.admin,
            serde_json::from_str(&body).unwrap(),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let period = res.id("/id");

    let mut tokens: HashMap<&'static str, String> =
        d.tokens.iter().map(|(k, v)| (*k, v.clone())).collect();
    tokens.insert("other-sys", app.login("other-sys", PASSWORD).await);
    tokens.insert("pw-changer", app.login("pw-changer", PASSWORD).await);
    World {
        d,
        target,
        period,
        tokens,
    }
}

#[actix_web::test]
async fn every_route_answers_401_403_404_or_success_by_caller_and_scope() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let d = &w.d;
    let (bureau, office, district, other) = (d.bureau, d.office, d.district, d.other_bureau);
    let (target, period) = (w.target, w.period);
    let v1 = |p: String| format!("/api/v1{p}");

    let account_body = json!({"login": "new-#N#", "display_name": "New #N#", "unit_id": office,
        "employee_no": "N-#N#", "mobile": "13800138000", "rank": "clerk", "position": "staff",
        "party_member": false, "public_official": true, "key_post": false, "password": PASSWORD});
    let leaders = json!({"principal_id": d.principal, "deputies": [{"account_id": d.deputy, "in_charge_of": [office]}]});
    let csv = "login,display_name,unit_code,employee_no,mobile,rank,position\n\
               imp-#N#,Imported #N#,office,I-#N#,13800138000,clerk,staff\n"
        .to_owned();
    let calendar = json!({"days": [{"date": "2027-10-01", "kind": "holiday", "name": "National Day"},
        {"date": "2027-10-09", "kind": "workday", "name": "National Day"}]});

    let cases = vec![
        // Units.
        case(
            Method::POST,
            v1("/units".into()),
            Body::Json(
                json!({"code": "u-#N#", "name": "Unit #N#", "kind": "department", "parent_id": office}),
            ),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
                ("admin", OK),
            ],
        ),
        case(
            Method::POST,
            v1("/units".into()),
            Body::Json(
                json!({"code": "u-#N#", "name": "Unit #N#", "kind": "department", "parent_id": district}),
            ),
            &[("unit-admin", NOT_FOUND), ("other-admin", NOT_FOUND)],
        ),
        case(
            Method::POST,
            v1("/units".into()),
            Body::Json(
                json!({"code": "root-#N#", "name": "Root #N#", "kind": "jurisdiction", "parent_id": null}),
            ),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("unit-admin", FORBIDDEN),
                ("other-sys", FORBIDDEN),
                ("admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1("/units".into()),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("head", FORBIDDEN),
                ("inspector", OK),
                ("other-admin", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/units/{bureau}")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("principal", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("other-sys", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
                ("admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/units/{district}")),
            Body::None,
            &[("unit-admin", NOT_FOUND), ("inspector", NOT_FOUND)],
        ),
        case(
            Method::GET,
            v1(format!("/units/{other}")),
            Body::None,
            &[("unit-admin", NOT_FOUND), ("other-admin", OK)],
        ),
        case(
            Method::PATCH,
            v1(format!("/units/{office}")),
            Body::Json(json!({"name": "Office #N#"})),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::PATCH,
            v1(format!("/units/{other}")),
            Body::Json(json!({"name": "Other #N#"})),
            &[("unit-admin", NOT_FOUND), ("other-admin", OK)],
        ),
        case(
            Method::GET,
            v1(format!("/units/{bureau}/children")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/units/{bureau}/leaders")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::PUT,
            v1(format!("/units/{bureau}/leaders")),
            Body::Json(leaders.clone()),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("principal", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        // Policies.
        case(
            Method::PUT,
            v1(format!("/units/{bureau}/policy")),
            Body::Json(policy()),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::PUT,
            v1(format!("/units/{district}/policy")),
            Body::Json(policy()),
            &[("unit-admin", NOT_FOUND), ("other-admin", NOT_FOUND)],
        ),
        case(
            Method::GET,
            v1(format!("/units/{bureau}/policy")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/units/{office}/effective-policy")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/units/{bureau}/policy-coverage")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/units/{district}/policy-coverage")),
            Body::None,
            &[("unit-admin", NOT_FOUND), ("admin", OK)],
        ),
        // Accounts.
        case(
            Method::POST,
            v1("/accounts".into()),
            Body::Json(account_body.clone()),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/accounts?unit_id={bureau}")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/accounts?unit_id={other}")),
            Body::None,
            &[
                ("unit-admin", NOT_FOUND),
                ("inspector", NOT_FOUND),
                ("other-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1("/accounts".into()),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", OK),
                ("other-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/accounts/{target}")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/accounts/{}", d.outsider)),
            Body::None,
            &[("unit-admin", NOT_FOUND), ("other-admin", OK)],
        ),
        case(
            Method::PATCH,
            v1(format!("/accounts/{target}")),
            Body::Json(json!({"display_name": "Target #N#"})),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        // Moving an account out of the caller's scope.
        case(
            Method::PATCH,
            v1(format!("/accounts/{target}")),
            Body::Json(json!({"unit_id": other})),
            &[("unit-admin", NOT_FOUND)],
        ),
        case(
            Method::POST,
            v1(format!("/accounts/{target}/suspend")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::POST,
            v1(format!("/accounts/{target}/reactivate")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::POST,
            v1(format!("/accounts/{target}/reset-password")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::POST,
            v1(format!("/accounts/{target}/revoke-sessions")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
                ("admin", OK),
            ],
        ),
        case(
            Method::POST,
            v1(format!("/accounts/{target}/mfa/reset")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
                ("admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/accounts/{target}/roles")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::PUT,
            v1(format!("/accounts/{target}/roles")),
            Body::Json(json!([{"role": "inspector", "unit_id": office}])),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("unit-admin", FORBIDDEN),
                ("other-admin", FORBIDDEN),
                ("other-sys", NOT_FOUND),
                ("admin", OK),
            ],
        ),
        case(
            Method::POST,
            v1("/accounts/import".into()),
            Body::Csv(csv.clone()),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("unit-admin", OK),
            ],
        ),
        // Special periods.
        case(
            Method::POST,
            v1("/special-periods".into()),
            Body::Json(period_body(bureau)),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::POST,
            v1("/special-periods".into()),
            Body::Json(period_body(district)),
            &[("unit-admin", NOT_FOUND), ("admin", OK)],
        ),
        case(
            Method::GET,
            v1("/special-periods".into()),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", OK),
                ("other-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/special-periods?unit_id={bureau}")),
            Body::None,
            &[
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1(format!("/special-periods/{period}")),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
            ],
        ),
        case(
            Method::PATCH,
            v1(format!("/special-periods/{period}")),
            Body::Json(json!({"name": "Renamed #N#"})),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("unit-admin", OK),
            ],
        ),
        // Calendar.
        case(
            Method::GET,
            v1("/calendar/2027".into()),
            Body::None,
            &[("", UNAUTHORIZED), ("clerk", OK), ("outsider", OK)],
        ),
        case(
            Method::PUT,
            v1("/calendar/2027".into()),
            Body::Json(calendar),
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("inspector", FORBIDDEN),
                ("unit-admin", FORBIDDEN),
                ("other-admin", FORBIDDEN),
                ("admin", OK),
            ],
        ),
        // Assessments.
        case(
            Method::POST,
            v1("/assessments".into()),
            Body::Json(json!({"draft": draft()})),
            &[("", UNAUTHORIZED), ("clerk", OK), ("outsider", OK)],
        ),
        case(
            Method::POST,
            v1("/assessments".into()),
            Body::Json(json!({"draft": draft(), "account_id": d.clerk})),
            &[
                ("", UNAUTHORIZED),
                ("head", FORBIDDEN),
                ("outsider", FORBIDDEN),
                ("other-admin", NOT_FOUND),
                ("inspector", OK),
                ("unit-admin", OK),
                ("admin", OK),
            ],
        ),
        // The caller itself.
        case(
            Method::GET,
            v1("/me".into()),
            Body::None,
            &[("", UNAUTHORIZED), ("clerk", OK), ("admin", OK)],
        ),
        case(
            Method::GET,
            v1("/access-log".into()),
            Body::None,
            &[
                ("", UNAUTHORIZED),
                ("clerk", FORBIDDEN),
                ("unit-admin", FORBIDDEN),
                ("other-admin", FORBIDDEN),
                ("inspector", OK),
                ("admin", OK),
            ],
        ),
        case(
            Method::GET,
            v1("/me/sessions".into()),
            Body::None,
            &[("", UNAUTHORIZED), ("clerk", OK), ("admin", OK)],
        ),
        case(
            Method::GET,
            v1("/me/policy-snapshot".into()),
            Body::None,
            &[("", UNAUTHORIZED), ("clerk", OK), ("outsider", OK)],
        ),
        case(
            Method::PUT,
            v1("/me/password".into()),
            Body::Json(json!({"current_password": PASSWORD, "new_password": "a new password 2"})),
            &[("", UNAUTHORIZED), ("pw-changer", OK)],
        ),
    ];
    run(&app, &w.tokens, &cases).await;
}

#[actix_web::test]
async fn successful_calls_really_happened() {
    // The matrix only looks at statuses; here the in-scope successes are checked
    // for their effect and the refusals for the lack of one.
    let app = TestApp::new().await;
    let w = world(&app).await;
    let d = &w.d;

    let units = app.count("units");
    let res = app
        .post(
            "/api/v1/units",
            d.token("other-admin"),
            json!({"code": "sneaky", "name": "Sneaky", "kind": "department", "parent_id": d.office}),
        )
        .await;
    res.assert_problem(404, "not_found");
    assert_eq!(app.count("units"), units);
    let res = app
        .post(
            "/api/v1/units",
            d.token("unit-admin"),
            json!({"code": "desk", "name": "Desk", "kind": "department", "parent_id": d.office}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(app.count("units"), units + 1);

    let before = app.fingerprint();
    for who in ["clerk", "inspector", "other-admin"] {
        let res = app
            .post(
                &format!("/api/v1/accounts/{}/suspend", w.target),
                d.token(who),
                json!({}),
            )
            .await;
        assert!(matches!(res.status.as_u16(), 403 | 404), "{}", res.body);
        let res = app
            .patch(
                &format!("/api/v1/accounts/{}", w.target),
                d.token(who),
                json!({"display_name": "Hijacked"}),
            )
            .await;
        assert!(matches!(res.status.as_u16(), 403 | 404), "{}", res.body);
        let res = app
            .put(
                &format!("/api/v1/units/{}/policy", d.bureau),
                d.token(who),
                json!({"rules": []}),
            )
            .await;
        assert!(matches!(res.status.as_u16(), 403 | 404), "{}", res.body);
    }
    let res = app
        .put(
            &format!("/api/v1/accounts/{}/roles", w.target),
            d.token("unit-admin"),
            json!([{"role": "unit_admin", "unit_id": d.bureau}]),
        )
        .await;
    res.assert_problem(403, "forbidden");
    let res = app
        .put(
            "/api/v1/calendar/2027",
            d.token("unit-admin"),
            json!({"days": []}),
        )
        .await;
    res.assert_problem(403, "forbidden");
    assert_eq!(app.fingerprint(), before, "a refused call changed data");

    let res = app
        .post(
            &format!("/api/v1/accounts/{}/suspend", w.target),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "suspended");
}

#[actix_web::test]
async fn lists_hold_only_what_is_in_scope() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let d = &w.d;
    let codes = |res: &Resp| -> BTreeSet<String> {
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["code"].as_str().unwrap().to_owned())
            .collect()
    };
    let set =
        |items: &[&str]| -> BTreeSet<String> { items.iter().map(|s| (*s).to_owned()).collect() };

    let res = app.get("/api/v1/units", d.token("other-admin")).await;
    assert_eq!(codes(&res), set(&["other-bureau"]));
    let res = app.get("/api/v1/units", d.token("unit-admin")).await;
    assert_eq!(codes(&res), set(&["bureau", "office"]));
    let res = app.get("/api/v1/units", d.token("inspector")).await;
    assert_eq!(codes(&res), set(&["bureau", "office"]));
    let res = app
        .get("/api/v1/units?q=bureau", d.token("other-admin"))
        .await;
    assert_eq!(codes(&res), set(&["other-bureau"]));
    let res = app.get("/api/v1/units", &app.admin).await;
    assert_eq!(
        codes(&res),
        set(&["bureau", "district", "office", "other-bureau"])
    );
    let res = app
        .get(
            &format!("/api/v1/units/{}/children", d.bureau),
            d.token("unit-admin"),
        )
        .await;
    assert_eq!(codes(&res), set(&["office"]));

    let logins = |res: &Resp| -> BTreeSet<String> {
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["login"].as_str().unwrap().to_owned())
            .collect()
    };
    let res = app.get("/api/v1/accounts", d.token("other-admin")).await;
    assert_eq!(logins(&res), set(&["other-admin", "other-sys", "outsider"]));
    let res = app
        .get(
            &format!("/api/v1/accounts?unit_id={}", d.office),
            d.token("inspector"),
        )
        .await;
    assert_eq!(
        logins(&res),
        set(&["clerk", "head", "pw-changer", "target"])
    );
    let res = app
        .get("/api/v1/accounts?q=out", d.token("unit-admin"))
        .await;
    assert_eq!(logins(&res), set(&[]));

    let res = app
        .post(
            "/api/v1/special-periods",
            d.token("other-admin"),
            serde_json::from_str(
                &period_body(d.other_bureau)
                    .to_string()
                    .replace("#N#", "other"),
            )
            .unwrap(),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let other_period = res.id("/id");
    let ids = |res: &Resp| -> BTreeSet<String> {
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let res = app
        .get("/api/v1/special-periods", d.token("other-admin"))
        .await;
    assert_eq!(ids(&res), set(&[&other_period.to_string()]));
    let res = app
        .get("/api/v1/special-periods", d.token("unit-admin"))
        .await;
    assert_eq!(ids(&res), set(&[&w.period.to_string()]));
    let res = app
        .get(
            &format!("/api/v1/special-periods/{other_period}"),
            d.token("unit-admin"),
        )
        .await;
    res.assert_problem(404, "not_found");
}

#[actix_web::test]
async fn an_import_creates_only_in_scope() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let d = &w.d;
    let csv = "login,display_name,unit_code,rank,position\nsneak,Sneak,office,clerk,staff\n";
    let accounts = app.count("accounts");
    let res = app
        .send(
            TestRequest::post()
                .uri("/api/v1/accounts/import")
                .insert_header((
                    "authorization",
                    format!("Bearer {}", d.token("other-admin")),
                ))
                .insert_header(("content-type", "text/csv"))
                .set_payload(csv),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["created"], 0, "{}", res.body);
    assert_eq!(res.body["rejected"], 1, "{}", res.body);
    assert_eq!(res.body["rows"][0]["status"], "rejected");
    assert_eq!(res.body["rows"][0]["errors"][0]["field"], "unit_code");
    assert_eq!(app.count("accounts"), accounts);

    let res = app
        .send(
            TestRequest::post()
                .uri("/api/v1/accounts/import")
                .insert_header(("authorization", format!("Bearer {}", d.token("unit-admin"))))
                .insert_header(("content-type", "text/csv"))
                .set_payload(csv),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["created"], 1, "{}", res.body);
    assert_eq!(app.count("accounts"), accounts + 1);
}

#[actix_web::test]
async fn unknown_ids_and_paths_are_404() {
    let app = TestApp::new().await;
    let w = world(&app).await;
    let d = &w.d;
    let nobody = Uuid::new_v4();
    let gets = [
        format!("/api/v1/units/{nobody}"),
        format!("/api/v1/units/{nobody}/children"),
        format!("/api/v1/units/{nobody}/leaders"),
        format!("/api/v1/units/{nobody}/policy"),
        format!("/api/v1/units/{nobody}/effective-policy"),
        format!("/api/v1/units/{nobody}/policy-coverage"),
        format!("/api/v1/accounts/{nobody}"),
        format!("/api/v1/accounts/{nobody}/roles"),
        format!("/api/v1/accounts?unit_id={nobody}"),
        format!("/api/v1/special-periods/{nobody}"),
        format!("/api/v1/special-periods?unit_id={nobody}"),
        "/api/v1/units/not-a-uuid".to_owned(),
        "/api/v1/accounts/42".to_owned(),
        "/api/v1/no-such-route".to_owned(),
    ];
    for who in ["admin", "unit-admin"] {
        for path in &gets {
            let res = app.get(path, d.token(who)).await;
            assert_eq!(
                res.status.as_u16(),
                404,
                "GET {path} as {who}: {}",
                res.body
            );
            res.assert_problem(404, "not_found");
        }
    }
    let before = app.fingerprint();
    let posts = [
        format!("/api/v1/accounts/{nobody}/suspend"),
        format!("/api/v1/accounts/{nobody}/reactivate"),
        format!("/api/v1/accounts/{nobody}/reset-password"),
        format!("/api/v1/accounts/{nobody}/revoke-sessions"),
        format!("/api/v1/accounts/{nobody}/mfa/reset"),
    ];
    for path in &posts {
        let res = app.post(path, &app.admin, json!({})).await;
        assert_eq!(res.status.as_u16(), 404, "POST {path}: {}", res.body);
        res.assert_problem(404, "not_found");
    }
    let writes = [
        (
            Method::PATCH,
            format!("/api/v1/units/{nobody}"),
            json!({"name": "x"}),
        ),
        (
            Method::PUT,
            format!("/api/v1/units/{nobody}/leaders"),
            json!({"principal_id": null, "deputies": []}),
        ),
        (
            Method::PUT,
            format!("/api/v1/units/{nobody}/policy"),
            policy(),
        ),
        (
            Method::PATCH,
            format!("/api/v1/accounts/{nobody}"),
            json!({"display_name": "x"}),
        ),
        (
            Method::PUT,
            format!("/api/v1/accounts/{nobody}/roles"),
            json!([]),
        ),
        (
            Method::PATCH,
            format!("/api/v1/special-periods/{nobody}"),
            json!({"name": "x"}),
        ),
        (
            Method::POST,
            "/api/v1/units".to_owned(),
            json!({"code": "orphan", "name": "Orphan", "kind": "unit", "parent_id": nobody}),
        ),
        (
            Method::POST,
            "/api/v1/accounts".to_owned(),
            json!({"login": "orphan", "display_name": "Orphan", "unit_id": nobody, "rank": "clerk", "position": "staff"}),
        ),
        (
            Method::POST,
            "/api/v1/special-periods".to_owned(),
            serde_json::from_str(&period_body(nobody).to_string().replace("#N#", "x")).unwrap(),
        ),
        (
            Method::POST,
            "/api/v1/assessments".to_owned(),
            json!({"draft": draft(), "account_id": nobody}),
        ),
    ];
    for (method, path, body) in writes {
        let res = app
            .send(
                TestRequest::default()
                    .method(method.clone())
                    .uri(&path)
                    .insert_header(("authorization", format!("Bearer {}", app.admin)))
                    .set_json(body),
            )
            .await;
        assert_eq!(res.status.as_u16(), 404, "{method} {path}: {}", res.body);
        res.assert_problem(404, "not_found");
    }
    assert_eq!(app.fingerprint(), before, "a 404 changed data");
    // A year out of range is not a resource either.
    let res = app.get("/api/v1/calendar/99999", d.token("clerk")).await;
    res.assert_problem(404, "not_found");
}
