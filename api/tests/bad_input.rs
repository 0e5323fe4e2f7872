//! Bad input on every JSON body route: malformed JSON, missing fields, wrong
//! types, unknown enum values, oversized bodies and wrong media types. Each is
//! refused with the right problem and changes nothing. Also domain checks,
//! duplicates, lost updates, paging parameters, languages and request ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use std::panic::AssertUnwindSafe;
use uuid::Uuid;

/// Sends raw bytes with a content type.
async fn raw(
    app: &TestApp,
    method: &Method,
    path: &str,
    token: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Resp {
    let mut req = TestRequest::default()
        .method(method.clone())
        .uri(path)
        .insert_header(("content-type", content_type.to_owned()))
        .set_payload(bytes);
    if !token.is_empty() {
        req = req.insert_header(("authorization", format!("Bearer {token}")));
    }
    app.send(req).await
}

async fn json_call(app: &TestApp, method: &Method, path: &str, token: &str, body: &Value) -> Resp {
    raw(
        app,
        method,
        path,
        token,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await
}

/// Runs a check, turning a failed assertion into a message.
fn check(label: &str, f: impl FnOnce()) -> Result<(), String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        let text = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!(
            "{label}: {}",
            text.lines().take(3).collect::<Vec<_>>().join(" | ")
        )
    })
}

/// Asserts a 422 whose first error has this code and field.
fn assert_issue(res: &Resp, code: &str, field: &str) {
    res.assert_problem(422, "validation_failed");
    let errors = res.body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{}", res.body);
    assert_eq!(errors[0]["code"], code, "{}", res.body);
    assert_eq!(errors[0]["field"], field, "{}", res.body);
    assert!(
        errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        res.body
    );
}

/// Asserts a 422 with an error of this code at this field, anywhere in the list.
fn assert_has_issue(res: &Resp, code: &str, field: &str) {
    res.assert_problem(422, "validation_failed");
    let errors = res.body["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["code"] == code && e["field"] == field),
        "no {code} at {field}: {}",
        res.body
    );
}

/// A JSON body route and bodies that are wrong in each way.
struct Route {
    method: Method,
    path: String,
    token: String,
    /// A body that would be accepted.
    valid: Value,
    /// A body lacking a required field, and the field's path.
    missing: Option<(Value, &'static str)>,
    /// A body with a value of the wrong type, and its path.
    wrong_type: (Value, &'static str),
    /// A body with an unknown enum value, and its path.
    bad_enum: Option<(Value, &'static str)>,
}

async fn exercise(app: &TestApp, route: &Route) -> Vec<String> {
    let mut failures = Vec::new();
    let label = |what: &str| format!("{} {} {what}", route.method, route.path);
    let before = app.fingerprint();
    let (m, p, t) = (&route.method, route.path.as_str(), route.token.as_str());

    let valid = route.valid.to_string();
    let malformed = [
        ("truncated", valid[..valid.len() - 1].to_owned()),
        ("trailing bytes", format!("{valid} x")),
        ("not JSON", "not json".to_owned()),
        ("single quotes", valid.replace('"', "'")),
        ("empty", String::new()),
    ];
    for (what, body) in malformed {
        let res = raw(app, m, p, t, "application/json", body.into_bytes()).await;
        failures.extend(
            check(&label(&format!("malformed ({what})")), || {
                res.assert_problem(400, "malformed_request")
            })
            .err(),
        );
    }

    if let Some((body, field)) = &route.missing {
        let res = json_call(app, m, p, t, body).await;
        failures.extend(
            check(&label("missing field"), || {
                assert_issue(&res, "required", field)
            })
            .err(),
        );
    }
    let (body, field) = &route.wrong_type;
    let res = json_call(app, m, p, t, body).await;
    failures.extend(
        check(&label("wrong type"), || {
            assert_issue(&res, "invalid", field)
        })
        .err(),
    );
    if let Some((body, field)) = &route.bad_enum {
        let res = json_call(app, m, p, t, body).await;
        failures.extend(
            check(&label("unknown enum value"), || {
                assert_issue(&res, "invalid", field)
            })
            .err(),
        );
    }

    let big = json!({"padding": "x".repeat(300 * 1024)});
    let res = json_call(app, m, p, t, &big).await;
    failures.extend(
        check(&label("oversized"), || {
            res.assert_problem(413, "payload_too_large")
        })
        .err(),
    );
    // Just over the limit, and a valid document otherwise.
    let mut padded = route.valid.clone();
    if let Some(object) = padded.as_object_mut() {
        let filler = 256 * 1024 + 1 - route.valid.to_string().len() - "\"zz\":\"\",".len();
        object.insert("zz".into(), Value::String("y".repeat(filler)));
        let bytes = padded.to_string().into_bytes();
        assert_eq!(bytes.len(), 256 * 1024 + 1);
        let res = raw(app, m, p, t, "application/json", bytes).await;
        failures.extend(
            check(&label("one byte over"), || {
                res.assert_problem(413, "payload_too_large")
            })
            .err(),
        );
    }

    let res = raw(
        app,
        m,
        p,
        t,
        "text/plain",
        route.valid.to_string().into_bytes(),
    )
    .await;
    failures.extend(
        check(&label("text/plain"), || {
            res.assert_problem(415, "unsupported_media_type")
        })
        .err(),
    );
    let mut req = TestRequest::default()
        .method(m.clone())
        .uri(p)
        .set_payload(route.valid.to_string());
    if !t.is_empty() {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    let res = app.send(req).await;
    failures.extend(
        check(&label("no content type"), || {
            res.assert_problem(415, "unsupported_media_type")
        })
        .err(),
    );

    if app.fingerprint() != before {
        failures.push(label("changed data"));
    }
    failures
}

struct Fixture {
    d: District,
    target: Uuid,
    period: Uuid,
}

async fn fixture(app: &TestApp) -> Fixture {
    let d = seed(app).await;
    let target = app.account("target", d.office, "clerk", "staff").await;
    let res = app
        .post(
            "/api/v1/special-periods",
            &app.admin,
            json!({"name": "National Day", "unit_id": d.bureau, "starts_on": "2027-10-01", "ends_on": "2027-10-07",
                "min_requirement": "approval"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let period = res.id("/id");
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.bureau),
            &app.admin,
            policy(),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    Fixture { d, target, period }
}

fn policy() -> Value {
    json!({"rules": [{
        "id": "staff", "applies_to": {"ranks": ["clerk"], "positions": ["staff"]},
        "trip_kinds": ["leave_jurisdiction"], "periods": ["normal"],
        "requirement": "approval", "approvers": [{"kind": "department_head"}],
        "form": "online", "notice": {"days": 3, "working_days": true},
        "return_report": {"required": true, "within_hours": 24}, "max_days": 30
    }]})
}

fn draft() -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": "May Day",
        "destinations": [{"code": "310000"}], "depart_on": "2027-05-03", "return_on": "2027-05-05",
        "contact_phone": "13800138000"})
}

/// Replaces (or removes, with `None`) a member of a JSON object at a pointer.
fn with(mut value: Value, pointer: &str, new: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut value
    } else {
        value.pointer_mut(parent).unwrap()
    };
    match (target, new) {
        (Value::Object(map), Some(v)) => {
            map.insert(key.to_owned(), v);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(v)) => items[key.parse::<usize>().unwrap()] = v,
        (Value::Array(items), None) => {
            items.remove(key.parse::<usize>().unwrap());
        }
        _ => panic!("no container at {pointer}"),
    }
    value
}

#[actix_web::test]
async fn every_json_route_refuses_bad_bodies_and_changes_nothing() {
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let d = &f.d;
    let admin = app.admin.clone();
    let clerk = d.token("clerk").to_owned();

    let unit = json!({"code": "desk", "name": "Desk", "kind": "department", "parent_id": d.office});
    let leaders = json!({"principal_id": d.principal, "deputies": [{"account_id": d.deputy, "in_charge_of": [d.office]}]});
    let account = json!({"login": "newbie", "display_name": "Newbie", "unit_id": d.office,
        "employee_no": "E-new", "mobile": "13800138000", "rank": "clerk", "position": "staff",
        "party_member": false, "public_official": true, "key_post": false, "password": PASSWORD});
    let roles = json!([{"role": "inspector", "unit_id": d.office}]);
    let period = json!({"name": "Spring", "unit_id": d.bureau, "starts_on": "2027-04-01", "ends_on": "2027-04-07",
        "trip_kinds": ["abroad_private"], "min_requirement": "report"});
    let calendar =
        json!({"days": [{"date": "2027-10-01", "kind": "holiday", "name": "National Day"}]});
    let assessment = json!({"draft": draft()});
    let login = json!({"login": "clerk", "password": PASSWORD});
    let refresh = json!({"refresh_token": "whatever"});
    let password = json!({"current_password": PASSWORD, "new_password": "another password 9"});

    let routes = vec![
        Route {
            method: Method::POST,
            path: "/api/v1/units".into(),
            token: admin.clone(),
            missing: Some((with(unit.clone(), "/kind", None), "kind")),
            wrong_type: (with(unit.clone(), "/name", Some(json!(5))), "name"),
            bad_enum: Some((with(unit.clone(), "/kind", Some(json!("galaxy"))), "kind")),
            valid: unit,
        },
        Route {
            method: Method::PATCH,
            path: format!("/api/v1/units/{}", d.office),
            token: admin.clone(),
            missing: None,
            wrong_type: (json!({"name": ["Office"]}), "name"),
            bad_enum: Some((json!({"kind": "galaxy"}), "kind")),
            valid: json!({"name": "Office 2"}),
        },
        Route {
            method: Method::PUT,
            path: format!("/api/v1/units/{}/leaders", d.bureau),
            token: admin.clone(),
            missing: Some((
                with(leaders.clone(), "/deputies/0/account_id", None),
                "deputies[0].account_id",
            )),
            wrong_type: (
                with(leaders.clone(), "/principal_id", Some(json!(5))),
                "principal_id",
            ),
            bad_enum: None,
            valid: leaders,
        },
        Route {
            method: Method::PUT,
            path: format!("/api/v1/units/{}/policy", d.bureau),
            token: admin.clone(),
            missing: Some((with(policy(), "/rules/0/id", None), "rules[0].id")),
            wrong_type: (
                with(policy(), "/rules/0/notice/days", Some(json!("three"))),
                "rules[0].notice.days",
            ),
            bad_enum: Some((
                with(policy(), "/rules/0/requirement", Some(json!("maybe"))),
                "rules[0].requirement",
            )),
            valid: policy(),
        },
        Route {
            method: Method::POST,
            path: "/api/v1/accounts".into(),
            token: admin.clone(),
            missing: Some((with(account.clone(), "/login", None), "login")),
            wrong_type: (
                with(account.clone(), "/party_member", Some(json!("yes"))),
                "party_member",
            ),
            bad_enum: Some((
                with(account.clone(), "/rank", Some(json!("general"))),
                "rank",
            )),
            valid: account,
        },
        Route {
            method: Method::PATCH,
            path: format!("/api/v1/accounts/{}", f.target),
            token: admin.clone(),
            missing: None,
            wrong_type: (json!({"key_post": "sometimes"}), "key_post"),
            bad_enum: Some((json!({"position": "king"}), "position")),
            valid: json!({"display_name": "Target 2"}),
        },
        Route {
            method: Method::PUT,
            path: format!("/api/v1/accounts/{}/roles", f.target),
            token: admin.clone(),
            missing: Some((json!([{"unit_id": d.office}]), "[0].role")),
            wrong_type: (json!([{"role": "inspector", "unit_id": 7}]), "[0].unit_id"),
            bad_enum: Some((
                json!([{"role": "emperor", "unit_id": d.office}]),
                "[0].role",
            )),
            valid: roles,
        },
        Route {
            method: Method::POST,
            path: "/api/v1/special-periods".into(),
            token: admin.clone(),
            missing: Some((
                with(period.clone(), "/min_requirement", None),
                "min_requirement",
            )),
            wrong_type: (
                with(period.clone(), "/starts_on", Some(json!(20270401))),
                "starts_on",
            ),
            bad_enum: Some((
                with(period.clone(), "/trip_kinds/0", Some(json!("moonwalk"))),
                "trip_kinds[0]",
            )),
            valid: period,
        },
        Route {
            method: Method::PATCH,
            path: format!("/api/v1/special-periods/{}", f.period),
            token: admin.clone(),
            missing: None,
            wrong_type: (json!({"name": 5}), "name"),
            bad_enum: Some((json!({"min_requirement": "extreme"}), "min_requirement")),
            valid: json!({"name": "National Day 2"}),
        },
        Route {
            method: Method::PUT,
            path: "/api/v1/calendar/2027".into(),
            token: admin.clone(),
            missing: Some((json!({}), "days")),
            wrong_type: (json!({"days": 5}), "days"),
            bad_enum: Some((
                with(calendar.clone(), "/days/0/kind", Some(json!("party"))),
                "days[0].kind",
            )),
            valid: calendar,
        },
        Route {
            method: Method::POST,
            path: "/api/v1/assessments".into(),
            token: clerk.clone(),
            missing: Some((json!({}), "draft")),
            wrong_type: (
                with(assessment.clone(), "/draft/depart_on", Some(json!(5))),
                "draft.depart_on",
            ),
            bad_enum: Some((
                with(assessment.clone(), "/draft/kind", Some(json!("teleport"))),
                "draft.kind",
            )),
            valid: assessment,
        },
        Route {
            method: Method::POST,
            path: "/api/v1/auth/login".into(),
            token: String::new(),
            missing: Some((with(login.clone(), "/password", None), "password")),
            wrong_type: (with(login.clone(), "/login", Some(json!(5))), "login"),
            bad_enum: None,
            valid: login,
        },
        Route {
            method: Method::POST,
            path: "/api/v1/auth/refresh".into(),
            token: String::new(),
            missing: Some((json!({}), "refresh_token")),
            wrong_type: (json!({"refresh_token": 5}), "refresh_token"),
            bad_enum: None,
            valid: refresh.clone(),
        },
        Route {
            method: Method::POST,
            path: "/api/v1/auth/logout".into(),
            token: String::new(),
            missing: Some((json!({}), "refresh_token")),
            wrong_type: (json!({"refresh_token": true}), "refresh_token"),
            bad_enum: None,
            valid: refresh,
        },
        Route {
            method: Method::PUT,
            path: "/api/v1/me/password".into(),
            token: clerk.clone(),
            missing: Some((
                with(password.clone(), "/new_password", None),
                "new_password",
            )),
            wrong_type: (
                with(password.clone(), "/current_password", Some(json!(null))),
                "current_password",
            ),
            bad_enum: None,
            valid: password,
        },
    ];
    let mut failures = Vec::new();
    for route in &routes {
        failures.extend(exercise(&app, route).await);
    }
    // The clerk's password is what it was.
    app.login("clerk", PASSWORD).await;
    assert!(
        failures.is_empty(),
        "{} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[actix_web::test]
async fn malformed_json_is_400_even_after_a_shape_error() {
    // API.md: "Malformed JSON is 400". A document that is not JSON stays
    // malformed even when a value before the syntax error has the wrong type.
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let before = app.fingerprint();
    let cases = [
        (
            Method::PUT,
            format!("/api/v1/accounts/{}/roles", f.target),
            "{\"role\": ".to_owned(),
        ),
        (
            Method::POST,
            "/api/v1/units".to_owned(),
            "{\"name\": 5, \"kind\": ".to_owned(),
        ),
        (
            Method::POST,
            "/api/v1/accounts".to_owned(),
            "{\"rank\": \"general\", \"login\": ".to_owned(),
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body) in cases {
        let res = raw(
            &app,
            &method,
            &path,
            &app.admin,
            "application/json",
            body.clone().into_bytes(),
        )
        .await;
        failures.extend(
            check(&format!("{method} {path} with {body:?}"), || {
                res.assert_problem(400, "malformed_request")
            })
            .err(),
        );
    }
    assert_eq!(app.fingerprint(), before);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[actix_web::test]
async fn policies_are_checked_before_they_are_saved() {
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let path = format!("/api/v1/units/{}/policy", f.d.bureau);
    let before = app.fingerprint();

    let mut twice = policy();
    let rule = twice["rules"][0].clone();
    twice["rules"].as_array_mut().unwrap().push(rule);
    let res = app.put(&path, &app.admin, twice).await;
    assert_has_issue(&res, "duplicate_rule_id", "rules[1].id");

    let res = app
        .put(
            &path,
            &app.admin,
            with(policy(), "/rules/0/notice/days", Some(json!(61))),
        )
        .await;
    assert_has_issue(&res, "out_of_range", "rules[0].notice.days");
    assert_eq!(res.body["errors"][0]["params"]["max"], 60, "{}", res.body);

    let res = app
        .put(
            &path,
            &app.admin,
            with(policy(), "/rules/0/max_days", Some(json!(0))),
        )
        .await;
    assert_has_issue(&res, "out_of_range", "rules[0].max_days");

    let res = app
        .put(
            &path,
            &app.admin,
            with(
                policy(),
                "/rules/0/approvers/0",
                Some(json!({"kind": "account", "account_id": Uuid::new_v4()})),
            ),
        )
        .await;
    assert_has_issue(&res, "invalid", "rules[0].approvers[0]");
    assert_eq!(app.fingerprint(), before, "a refused policy was stored");

    // 60 days is the limit and is accepted.
    let res = app
        .put(
            &path,
            &app.admin,
            with(policy(), "/rules/0/notice/days", Some(json!(60))),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["version"], 2);
}

#[actix_web::test]
async fn domain_checks_of_periods_calendar_and_accounts() {
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let d = &f.d;
    let before = app.fingerprint();

    let res = app
        .post(
            "/api/v1/special-periods",
            &app.admin,
            json!({"name": "Backwards", "unit_id": d.bureau, "starts_on": "2027-10-07", "ends_on": "2027-10-01",
                "min_requirement": "approval"}),
        )
        .await;
    assert_issue(&res, "return_before_departure", "ends_on");
    let res = app
        .patch(
            &format!("/api/v1/special-periods/{}", f.period),
            &app.admin,
            json!({"ends_on": "2027-09-30"}),
        )
        .await;
    assert_issue(&res, "return_before_departure", "ends_on");
    let res = app
        .post(
            "/api/v1/special-periods",
            &app.admin,
            json!({"name": "  ", "unit_id": d.bureau, "starts_on": "2027-10-01", "ends_on": "2027-10-02",
                "min_requirement": "approval", "restricted_destinations": [{"code": "ZZ", "action": "blocked"}]}),
        )
        .await;
    assert_has_issue(&res, "required", "name");
    assert_has_issue(
        &res,
        "destination_unknown",
        "restricted_destinations[0].code",
    );

    let res = app
        .put(
            "/api/v1/calendar/2027",
            &app.admin,
            json!({"days": [{"date": "2027-10-01", "kind": "holiday", "name": "National Day"},
                {"date": "2028-01-01", "kind": "holiday", "name": "New Year"}]}),
        )
        .await;
    assert_issue(&res, "out_of_range", "days[1].date");

    let account = json!({"login": "newbie", "display_name": "Newbie", "unit_id": d.office,
        "mobile": "12345", "rank": "clerk", "position": "staff"});
    let res = app.post("/api/v1/accounts", &app.admin, account).await;
    assert_issue(&res, "phone_invalid", "mobile");
    let res = app
        .patch(
            &format!("/api/v1/accounts/{}", f.target),
            &app.admin,
            json!({"mobile": "not a phone"}),
        )
        .await;
    assert_issue(&res, "phone_invalid", "mobile");
    let res = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"login": "weak", "display_name": "Weak", "unit_id": d.office,
                "rank": "clerk", "position": "staff", "password": "short"}),
        )
        .await;
    assert_issue(&res, "invalid", "password");
    let res = app
        .post(
            "/api/v1/units",
            &app.admin,
            json!({"code": "has space", "name": "Bad", "kind": "unit", "parent_id": d.district}),
        )
        .await;
    assert_issue(&res, "invalid", "code");
    assert_eq!(app.fingerprint(), before, "a refused body changed data");
}

#[actix_web::test]
async fn duplicates_are_409() {
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let d = &f.d;
    let accounts = app.count("accounts");
    for login in ["clerk", "CLERK", " clerk "] {
        let res = app
            .post(
                "/api/v1/accounts",
                &app.admin,
                json!({"login": login, "display_name": "Second clerk", "unit_id": d.office,
                    "rank": "clerk", "position": "staff"}),
            )
            .await;
        res.assert_problem(409, "duplicate");
    }
    let res = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"login": "fresh", "display_name": "Fresh", "unit_id": d.office,
                "employee_no": "E-clerk", "rank": "clerk", "position": "staff"}),
        )
        .await;
    res.assert_problem(409, "duplicate");
    assert_eq!(app.count("accounts"), accounts);

    let units = app.count("units");
    let res = app
        .post(
            "/api/v1/units",
            &app.admin,
            json!({"code": "office", "name": "Another office", "kind": "department", "parent_id": d.bureau}),
        )
        .await;
    res.assert_problem(409, "duplicate");
    let res = app
        .patch(
            &format!("/api/v1/units/{}", d.other_bureau),
            &app.admin,
            json!({"code": "bureau"}),
        )
        .await;
    res.assert_problem(409, "duplicate");
    assert_eq!(app.count("units"), units);
    let res = app
        .get(&format!("/api/v1/units/{}", d.other_bureau), &app.admin)
        .await;
    assert_eq!(res.body["code"], "other-bureau");
}

/// GETs a resource, PATCHes it with a stale `If-Match` (412, nothing changed),
/// then with its current ETag (200, a new ETag).
async fn lost_update(app: &TestApp, path: &str, change: Value) {
    let token = app.admin.clone();
    let res = app.get(path, &token).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let etag = res.header("etag");
    assert!(!etag.is_empty(), "GET {path} answers no ETag");
    let before = app.fingerprint();
    let res = app
        .send(
            TestRequest::patch()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {token}")))
                .insert_header(("if-match", "\"99\""))
                .set_json(change.clone()),
        )
        .await;
    res.assert_problem(412, "precondition_failed");
    assert_eq!(app.fingerprint(), before, "a 412 on {path} changed data");
    let res = app
        .send(
            TestRequest::patch()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {token}")))
                .insert_header(("if-match", etag.clone()))
                .set_json(change.clone()),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "PATCH {path}: {}", res.body);
    assert_ne!(
        app.fingerprint(),
        before,
        "the PATCH of {path} changed nothing"
    );
    let new_etag = res.header("etag");
    assert!(
        !new_etag.is_empty() && new_etag != etag,
        "{etag} → {new_etag}"
    );
    // The old tag is stale now.
    let res = app
        .send(
            TestRequest::patch()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {token}")))
                .insert_header(("if-match", etag))
                .set_json(change),
        )
        .await;
    res.assert_problem(412, "precondition_failed");
    let res = app.get(path, &app.admin).await;
    assert_eq!(res.header("etag"), new_etag);
}

#[actix_web::test]
async fn stale_if_match_is_412_and_changes_nothing() {
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let d = &f.d;
    lost_update(
        &app,
        &format!("/api/v1/units/{}", d.office),
        json!({"name": "Renamed office"}),
    )
    .await;
    lost_update(
        &app,
        &format!("/api/v1/accounts/{}", f.target),
        json!({"display_name": "Renamed target"}),
    )
    .await;
    lost_update(
        &app,
        &format!("/api/v1/special-periods/{}", f.period),
        json!({"name": "Renamed period"}),
    )
    .await;

    // PUTs that accept If-Match: leaders and policy.
    let before = app.fingerprint();
    let res = app
        .send(
            TestRequest::put()
                .uri(&format!("/api/v1/units/{}/leaders", d.bureau))
                .insert_header(("authorization", format!("Bearer {}", app.admin)))
                .insert_header(("if-match", "\"99\""))
                .set_json(json!({"principal_id": null, "deputies": []})),
        )
        .await;
    res.assert_problem(412, "precondition_failed");
    let res = app
        .send(
            TestRequest::put()
                .uri(&format!("/api/v1/units/{}/policy", d.bureau))
                .insert_header(("authorization", format!("Bearer {}", app.admin)))
                .insert_header(("if-match", "\"99\""))
                .set_json(json!({"rules": []})),
        )
        .await;
    res.assert_problem(412, "precondition_failed");
    assert_eq!(app.fingerprint(), before);
    let res = app
        .send(
            TestRequest::put()
                .uri(&format!("/api/v1/units/{}/policy", d.bureau))
                .insert_header(("authorization", format!("Bearer {}", app.admin)))
                .insert_header(("if-match", "\"1\""))
                .set_json(policy()),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.header("etag"), "\"2\"");
}

#[actix_web::test]
async fn paging_parameters_are_checked() {
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let lists = [
        "/api/v1/units".to_owned(),
        "/api/v1/accounts".to_owned(),
        "/api/v1/special-periods".to_owned(),
        format!("/api/v1/units/{}/children", f.d.district),
    ];
    for list in &lists {
        for (query, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=-1", "limit"),
            ("cursor=!!!", "cursor"),
        ] {
            let res = app.get(&format!("{list}?{query}"), &app.admin).await;
            let outcome = check(&format!("GET {list}?{query}"), || {
                res.assert_problem(422, "validation_failed");
                assert_eq!(res.body["errors"][0]["field"], field, "{}", res.body);
            });
            if let Err(e) = outcome {
                panic!("{e}");
            }
        }
        let res = app.get(&format!("{list}?limit=500"), &app.admin).await;
        assert_eq!(res.status.as_u16(), 200, "{list}: {}", res.body);
        let res = app.get(&format!("{list}?limit=1"), &app.admin).await;
        assert_eq!(res.status.as_u16(), 200, "{list}: {}", res.body);
        assert!(res.body["items"].as_array().unwrap().len() <= 1);
    }
    // Pages follow each other without overlap.
    let res = app.get("/api/v1/units?limit=2", &app.admin).await;
    let cursor = res.str("/next_cursor");
    assert!(!cursor.is_empty(), "{}", res.body);
    let first: Vec<Value> = res.body["items"].as_array().unwrap().clone();
    let res = app
        .get(
            &format!("/api/v1/units?limit=2&cursor={cursor}"),
            &app.admin,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let second: Vec<Value> = res.body["items"].as_array().unwrap().clone();
    assert_eq!(first.len() + second.len(), 4);
    assert!(second.iter().all(|u| !first.contains(u)));
    assert!(res.body["next_cursor"].is_null(), "{}", res.body);
}

#[actix_web::test]
async fn the_language_of_problems_follows_accept_language() {
    let app = TestApp::new().await;
    let mut bodies = Vec::new();
    for lang in ["en", "zh-CN"] {
        let res = app
            .send(
                TestRequest::post()
                    .uri("/api/v1/units")
                    .insert_header(("authorization", format!("Bearer {}", app.admin)))
                    .insert_header(("accept-language", lang))
                    .set_json(json!({"code": "x", "name": "X", "parent_id": null})),
            )
            .await;
        assert_issue(&res, "required", "kind");
        bodies.push(res.body);
    }
    let (en, zh) = (&bodies[0], &bodies[1]);
    assert_eq!(en["title"], "Validation failed");
    assert_ne!(en["title"], zh["title"]);
    assert_ne!(en["detail"], zh["detail"]);
    assert_ne!(en["errors"][0]["message"], zh["errors"][0]["message"]);
    assert_eq!(en["errors"][0]["code"], zh["errors"][0]["code"]);
    assert_eq!(en["errors"][0]["field"], zh["errors"][0]["field"]);
    assert!(
        zh["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_ascii()),
        "{zh}"
    );

    for lang in ["en", "zh-CN"] {
        let res = app
            .send(
                TestRequest::get()
                    .uri("/api/v1/me")
                    .insert_header(("accept-language", lang)),
            )
            .await;
        res.assert_problem(401, "unauthorized");
        bodies.push(res.body);
    }
    assert_eq!(bodies[2]["title"], "Unauthorized");
    assert_ne!(bodies[2]["title"], bodies[3]["title"]);
}

#[actix_web::test]
async fn every_answer_carries_its_request_id() {
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let clerk = f.d.token("clerk").to_owned();
    let requests = vec![
        TestRequest::get().uri("/api/v1/me"),
        TestRequest::get()
            .uri("/api/v1/me")
            .insert_header(("authorization", format!("Bearer {clerk}"))),
        TestRequest::get()
            .uri("/api/v1/units")
            .insert_header(("authorization", format!("Bearer {clerk}"))),
        TestRequest::get()
            .uri("/api/v1/nowhere")
            .insert_header(("authorization", format!("Bearer {clerk}"))),
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .insert_header(("content-type", "application/json"))
            .set_payload("{"),
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .set_json(json!({"login": "clerk"})),
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .insert_header(("content-type", "text/plain"))
            .set_payload("hi"),
        TestRequest::get().uri("/healthz"),
    ];
    for req in requests {
        let res = app.send(req).await;
        let id = res.header("x-request-id");
        assert!(
            !id.is_empty(),
            "no x-request-id: {} {}",
            res.status,
            res.body
        );
        if !res.status.is_success() {
            assert_eq!(res.body["request_id"], id.as_str(), "{}", res.body);
        }
    }
    // A well-formed id sent by the client is kept; a bad one is replaced.
    let res = app
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("x-request-id", "trace-1234")),
        )
        .await;
    assert_eq!(res.header("x-request-id"), "trace-1234");
    assert_eq!(res.body["request_id"], "trace-1234");
    let res = app
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("x-request-id", "bad id <script>")),
        )
        .await;
    let id = res.header("x-request-id");
    assert!(!id.is_empty() && id != "bad id <script>");
    assert_eq!(res.body["request_id"], id.as_str());
}

#[actix_web::test]
async fn state_changing_calls_on_an_account_honour_if_match() {
    // API.md: "Mutable resources answer an ETag; state-changing calls on them
    // accept If-Match." Suspension, reactivation and password resets change
    // the account (and its version), so a stale tag must stop them.
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let mut failures = Vec::new();
    for action in ["suspend", "reactivate", "reset-password"] {
        let before = app.fingerprint();
        let path = format!("/api/v1/accounts/{}/{action}", f.target);
        let res = app
            .send(
                TestRequest::post()
                    .uri(&path)
                    .insert_header(("authorization", format!("Bearer {}", app.admin)))
                    .insert_header(("if-match", "\"99\"")),
            )
            .await;
        let outcome = check(&format!("POST {path} with a stale If-Match"), || {
            res.assert_problem(412, "precondition_failed");
            assert_eq!(app.fingerprint(), before, "a 412 changed data");
        });
        failures.extend(outcome.err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[actix_web::test]
async fn an_idempotency_key_replays_the_first_create() {
    // API.md: "POST that creates accepts Idempotency-Key; the same key with the
    // same body from the same account answers the first result again, with a
    // different body 422 idempotency_key_reused."
    let app = TestApp::new().await;
    let f = fixture(&app).await;
    let d = &f.d;
    let creates = [
        (
            "/api/v1/units",
            "units",
            json!({"code": "desk", "name": "Desk", "kind": "department", "parent_id": d.office}),
            json!({"code": "desk2", "name": "Desk 2", "kind": "department", "parent_id": d.office}),
        ),
        (
            "/api/v1/accounts",
            "accounts",
            json!({"login": "newbie", "display_name": "Newbie", "unit_id": d.office, "rank": "clerk", "position": "staff"}),
            json!({"login": "newbie2", "display_name": "Newbie 2", "unit_id": d.office, "rank": "clerk", "position": "staff"}),
        ),
        (
            "/api/v1/special-periods",
            "special_periods",
            json!({"name": "Spring", "unit_id": d.bureau, "starts_on": "2027-04-01", "ends_on": "2027-04-07", "min_requirement": "report"}),
            json!({"name": "Autumn", "unit_id": d.bureau, "starts_on": "2027-09-01", "ends_on": "2027-09-07", "min_requirement": "report"}),
        ),
    ];
    let mut failures = Vec::new();
    for (path, table, body, other_body) in creates {
        let key = Uuid::new_v4().to_string();
        let send = |body: Value| {
            TestRequest::post()
                .uri(path)
                .insert_header(("authorization", format!("Bearer {}", app.admin)))
                .insert_header(("idempotency-key", key.clone()))
                .set_json(body)
        };
        let count = app.count(table);
        let first = app.send(send(body.clone())).await;
        assert_eq!(first.status.as_u16(), 201, "{path}: {}", first.body);
        let again = app.send(send(body.clone())).await;
        let outcome = check(&format!("POST {path} again with the same key"), || {
            assert_eq!(again.status.as_u16(), 201, "{}", again.body);
            assert_eq!(again.body["id"], first.body["id"], "{}", again.body);
            assert_eq!(app.count(table), count + 1);
        });
        failures.extend(outcome.err());
        let before = app.fingerprint();
        let other = app.send(send(other_body)).await;
        let outcome = check(
            &format!("POST {path} with the same key, another body"),
            || {
                other.assert_problem(422, "idempotency_key_reused");
                assert!(
                    other.body["errors"]
                        .as_array()
                        .is_some_and(|e| e.iter().any(|i| i["code"] == "idempotency_key_reused"))
                        || other.body["code"] == "idempotency_key_reused",
                    "{}",
                    other.body
                );
                assert_eq!(app.fingerprint(), before);
            },
        );
        failures.extend(outcome.err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
