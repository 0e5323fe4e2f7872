//! The authorization policy as an attacker with a lower role would probe it:
//! acting on accounts of every privilege kind by callers of every kind, the
//! escalation paths of a unit admin, the roster above one's unit, global
//! resources in the hands of a subtree administrator, delegation across
//! units, and custody after a transfer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

/// The seeded district plus the privilege kinds the seed lacks: a unit admin
/// of the office (below the bureau's), a system administrator over the district
/// homed in the bureau, one over the whole tree homed in the district, and an
/// account of the bureau that leads the district.
struct Cast {
    d: District,
    office_admin: Uuid,
    bureau_sys: Uuid,
    root: Uuid,
    district_head: Uuid,
}

async fn cast(app: &TestApp) -> Cast {
    let mut d = seed(app).await;
    let office_admin = app
        .account("office-admin", d.office, "clerk", "staff")
        .await;
    app.grant(office_admin, "unit_admin", d.office).await;
    let bureau_sys = app
        .account("bureau-sys", d.bureau, "section", "staff")
        .await;
    app.grant(bureau_sys, "system_admin", d.district).await;
    let root = app.account("root", d.district, "section", "staff").await;
    let res = app
        .put(
            &format!("/api/v1/accounts/{root}/roles"),
            &app.admin,
            json!([{"role": "system_admin", "unit_id": null}]),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let district_head = app
        .account("district-head", d.bureau, "bureau", "principal")
        .await;
    let res = app
        .put(
            &format!("/api/v1/units/{}/leaders", d.district),
            &app.admin,
            json!({"principal_id": district_head, "deputies": []}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    for login in ["office-admin", "bureau-sys", "root", "district-head"] {
        let token = app.login(login, PASSWORD).await;
        d.tokens.insert(login, token);
    }
    Cast {
        d,
        office_admin,
        bureau_sys,
        root,
        district_head,
    }
}

/// What a call must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The policy lets it through: the stale `If-Match` then answers 412.
    Allowed,
    /// 403 `forbidden`.
    Forbidden,
    /// 403 `self_change_forbidden`.
    OwnStanding,
    /// 404: the target is outside the caller's scope.
    Hidden,
}

use Want::{Allowed as A, Forbidden as F, Hidden as H, OwnStanding as S};

/// The account actions that carry `If-Match`: with a stale tag, a call the
/// policy allows answers 412 and changes nothing.
const ACCOUNT_ACTIONS: [(&str, &str); 4] = [
    ("PATCH", ""),
    ("POST", "/suspend"),
    ("POST", "/reactivate"),
    ("POST", "/reset-password"),
];

async fn act(app: &TestApp, method: &str, path: &str, token: &str, body: Value) -> Resp {
    let req = match method {
        "PATCH" => TestRequest::patch(),
        "PUT" => TestRequest::put(),
        _ => TestRequest::post(),
    }
    .uri(path)
    .insert_header(("authorization", format!("Bearer {token}")))
    .insert_header(("if-match", "\"999\""))
    .set_json(body);
    app.send(req).await
}

fn check(res: &Resp, want: Want, what: &str) {
    let (status, code) = match want {
        Want::Allowed => (412, "precondition_failed"),
        Want::Forbidden => (403, "forbidden"),
        Want::OwnStanding => (403, "self_change_forbidden"),
        Want::Hidden => (404, "not_found"),
    };
    assert_eq!(
        (res.status.as_u16(), res.body["code"].as_str().unwrap_or("")),
        (status, code),
        "{what}: {}",
        res.body
    );
}

/// Every kind of caller against every kind of target account, for every
/// account action: the expected answers are written out by hand, one row a
/// caller, one column a target.
#[actix_web::test]
async fn acting_on_an_account_needs_scope_over_its_home_its_grants_and_its_leadership() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let d = &c.d;
    // Targets, in column order.
    let targets: [(&str, Uuid); 10] = [
        ("cadre", d.clerk),
        ("leader of the office", d.head),
        ("leader of the bureau", d.principal),
        ("leader of the district", c.district_head),
        ("unit admin of the office", c.office_admin),
        ("unit admin of the bureau", d.unit_admin),
        ("inspector of the bureau", d.inspector),
        ("subtree system admin", c.bureau_sys),
        ("whole-tree system admin", c.root),
        ("bootstrap administrator", app.admin_id),
    ];
    #[rustfmt::skip]
    let table: [(&str, [Want; 10]); 9] = [
        //                cadre leadO leadB leadD uaO uaB  insp sysD root boot
        ("clerk",        [S,    F,    F,    F,    F,  F,   F,   F,   F,   F]),
        ("head",         [F,    F,    F,    F,    F,  F,   F,   F,   F,   F]),
        ("principal",    [F,    F,    F,    F,    F,  F,   F,   F,   F,   F]),
        ("inspector",    [F,    F,    F,    F,    F,  F,   F,   F,   F,   F]),
        ("office-admin", [A,    A,    H,    H,    S,  H,   H,   H,   H,   H]),
        ("unit-admin",   [A,    A,    A,    F,    A,  S,   F,   F,   H,   H]),
        ("other-admin",  [H,    H,    H,    H,    H,  H,   H,   H,   H,   H]),
        ("bureau-sys",   [A,    A,    A,    A,    A,  A,   A,   S,   F,   H]),
        ("admin",        [A,    A,    A,    A,    A,  A,   A,   A,   F,   S]),
    ];
    let before = app.fingerprint();
    for (caller, row) in table {
        for ((target, id), want) in targets.iter().zip(row) {
            // A plain member holds no administrative action at all.
            let want = match (caller, want) {
                ("clerk", S) => F,
                _ => want,
            };
            for (method, suffix) in ACCOUNT_ACTIONS {
                let body = if method == "PATCH" {
                    json!({"position": "principal"})
                } else {
                    json!({})
                };
                let res = act(
                    &app,
                    method,
                    &format!("/api/v1/accounts/{id}{suffix}"),
                    d.token(caller),
                    body,
                )
                .await;
                check(
                    &res,
                    want,
                    &format!("{caller} {method}{suffix} on {target}"),
                );
            }
        }
    }
    // Only the audit chain's sealing could differ; no account changed.
    let after = app.fingerprint();
    let accounts = |f: &str| {
        f.split(';')
            .filter(|t| t.starts_with("accounts=") || t.starts_with("role_grants="))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(accounts(&before), accounts(&after));
}

/// What a privileged route answers, per caller, for each target node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    /// Done (2xx), or let through to a stale `If-Match` (412).
    Y,
    /// 403: the caller holds no role for it.
    F,
    /// 404: the target is outside the caller's scope.
    N,
}

/// Every privileged route that names a unit, called by every kind of caller
/// (a cadre, a leader, a unit admin, an inspector, a unit admin of a sibling
/// unit, a system administrator of a subtree, one of the whole tree) on nodes
/// at every level: the department, its unit, the district above, and the
/// sibling unit. The expected answers are written out by hand.
#[actix_web::test]
async fn every_privileged_route_answers_each_kind_of_caller_by_the_policy_table() {
    use Got::{F, N, Y};
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let d = &c.d;
    let bureau_only = app
        .account("bureau-only", d.bureau, "section", "staff")
        .await;
    app.grant(bureau_only, "system_admin", d.bureau).await;
    let mut tokens = d.tokens.clone();
    tokens.insert("bureau-only", app.login("bureau-only", PASSWORD).await);
    let targets = [
        ("office", d.office),
        ("bureau", d.bureau),
        ("district", d.district),
        ("other", d.other_bureau),
    ];
    let callers = [
        "clerk",
        "head",
        "unit-admin",
        "inspector",
        "other-admin",
        "bureau-only",
        "admin",
    ];
    // Each kind of grant, by target [office, bureau, district, other].
    let reader: [[Got; 4]; 7] = [
        [F, F, F, F], // cadre
        [F, F, F, F], // leader
        [Y, Y, N, N], // unit admin of the bureau
        [Y, Y, N, N], // inspector of the bureau
        [N, N, N, Y], // unit admin of the sibling
        [Y, Y, N, N], // system admin of the bureau
        [Y, Y, Y, Y], // system admin of the whole tree
    ];
    let manager: [[Got; 4]; 7] = [
        [F, F, F, F],
        [F, F, F, F],
        [Y, Y, N, N],
        [F, F, F, F],
        [N, N, N, Y],
        [Y, Y, N, N],
        [Y, Y, Y, Y],
    ];
    let inspector: [[Got; 4]; 7] = [
        [F, F, F, F],
        [F, F, F, F],
        [F, F, F, F],
        [Y, Y, N, N],
        [F, F, F, F],
        [Y, Y, N, N],
        [Y, Y, Y, Y],
    ];
    let system: [[Got; 4]; 7] = [
        [F, F, F, F],
        [F, F, F, F],
        [F, F, F, F],
        [F, F, F, F],
        [F, F, F, F],
        [Y, Y, N, N],
        [Y, Y, Y, Y],
    ];
    // Members read the roster of their unit and below, leaders what they
    // lead, scopes within themselves; the whole-tree admin everything.
    let roster: [[Got; 4]; 7] = [
        [Y, Y, N, N],
        [Y, Y, N, N],
        [Y, Y, N, N],
        [Y, Y, N, N],
        [N, N, N, Y],
        [Y, Y, N, N],
        [Y, Y, Y, Y],
    ];
    type Route = (&'static str, fn(Uuid) -> String, Option<fn(Uuid) -> Value>);
    let routes: Vec<(Route, [[Got; 4]; 7])> = vec![
        (("GET", |u| format!("/api/v1/units/{u}"), None), reader),
        (
            ("GET", |u| format!("/api/v1/units/{u}/children"), None),
            reader,
        ),
        (
            ("GET", |u| format!("/api/v1/units/{u}/leaders"), None),
            reader,
        ),
        (
            (
                "GET",
                |u| format!("/api/v1/units/{u}/effective-policy"),
                None,
            ),
            reader,
        ),
        (
            (
                "GET",
                |u| format!("/api/v1/units/{u}/policy-coverage"),
                None,
            ),
            reader,
        ),
        (
            ("GET", |u| format!("/api/v1/accounts?unit_id={u}"), None),
            reader,
        ),
        (
            (
                "GET",
                |u| format!("/api/v1/special-periods?unit_id={u}"),
                None,
            ),
            reader,
        ),
        (
            ("GET", |u| format!("/api/v1/ledger?unit_id={u}"), None),
            reader,
        ),
        (
            (
                "GET",
                |u| format!("/api/v1/ledger?unit_id={u}&format=csv"),
                None,
            ),
            reader,
        ),
        (
            (
                "GET",
                |u| format!("/api/v1/discrepancies?unit_id={u}"),
                None,
            ),
            reader,
        ),
        (
            ("GET", |u| format!("/api/v1/documents?unit_id={u}"), None),
            reader,
        ),
        (
            ("GET", |u| format!("/api/v1/units/{u}/roster"), None),
            roster,
        ),
        (
            (
                "POST",
                |_| "/api/v1/reconciliations".into(),
                Some(|u| json!({"unit_id": u, "from": "2026-05-01", "to": "2026-05-05"})),
            ),
            reader,
        ),
        (
            (
                "PATCH",
                |u| format!("/api/v1/units/{u}"),
                Some(|_| json!({"name": "Renamed"})),
            ),
            manager,
        ),
        (
            (
                "PUT",
                |u| format!("/api/v1/units/{u}/leaders"),
                Some(|_| json!({"principal_id": null, "deputies": []})),
            ),
            manager,
        ),
        (
            (
                "PUT",
                |u| format!("/api/v1/units/{u}/policy"),
                Some(
                    |_| json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1}}]}),
                ),
            ),
            manager,
        ),
        (
            (
                "POST",
                |_| "/api/v1/inspections".into(),
                Some(
                    |u| json!({"name": "Spot check", "unit_id": u, "from": "2026-05-01", "to": "2026-05-05"}),
                ),
            ),
            inspector,
        ),
        (
            (
                "POST",
                |_| "/api/v1/webhooks".into(),
                Some(|u| json!({"url": "https://hooks.example.com/w", "unit_id": u})),
            ),
            system,
        ),
    ];
    let mut failures = Vec::new();
    for ((method, path, body), table) in &routes {
        for (caller, row) in callers.iter().zip(table) {
            for ((name, unit), want) in targets.iter().zip(row) {
                let mut req = match *method {
                    "PATCH" => TestRequest::patch(),
                    "PUT" => TestRequest::put(),
                    "POST" => TestRequest::post(),
                    _ => TestRequest::get(),
                }
                .uri(&path(*unit))
                .insert_header(("authorization", format!("Bearer {}", tokens[caller])))
                // Writes that carry a version are let through to a stale tag.
                .insert_header(("if-match", "\"999\""));
                if let Some(body) = body {
                    req = req.set_json(body(*unit));
                }
                let res = app.send(req).await;
                let got = match res.status.as_u16() {
                    200..=299 | 412 => Y,
                    403 => F,
                    404 => N,
                    other => panic!("{method} {} as {caller}: {other} {}", path(*unit), res.body),
                };
                if got != *want {
                    failures.push(format!(
                        "{method} {} ({name}) as {caller}: wanted {want:?}, got {got:?} {}",
                        path(*unit),
                        res.body
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} answers differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Global: the calendar needs the whole tree.
    let days = json!({"days": [{"date": "2031-01-01", "kind": "holiday", "name": "元旦"}]});
    for caller in callers {
        let res = app
            .put("/api/v1/calendar/2031", &tokens[caller], days.clone())
            .await;
        let want = if caller == "admin" { 200 } else { 403 };
        assert_eq!(res.status.as_u16(), want, "{caller}: {}", res.body);
    }
}

/// Granting roles: system administrators only, never on oneself, never on an
/// account whose grants reach as far as one's own, never beyond one's scope.
#[actix_web::test]
async fn granting_roles_follows_the_same_rule_and_stays_inside_the_grantors_scope() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let d = &c.d;
    let roles = |id: Uuid| format!("/api/v1/accounts/{id}/roles");
    // The subtree system admin over the district.
    let sys = d.token("bureau-sys");
    let res = app
        .put(
            &roles(d.clerk),
            sys,
            json!([{"role": "inspector", "unit_id": d.office}]),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    // A grant over the whole tree needs a grant over the whole tree.
    app.put(
        &roles(d.clerk),
        sys,
        json!([{"role": "system_admin", "unit_id": null}]),
    )
    .await
    .assert_problem(403, "forbidden");
    // Its own roles, even to narrow them: someone above must.
    app.put(
        &roles(c.bureau_sys),
        sys,
        json!([{"role": "system_admin", "unit_id": d.bureau}]),
    )
    .await
    .assert_problem(403, "self_change_forbidden");
    // A peer over the whole tree cannot be demoted by another.
    app.put(&roles(c.root), &app.admin, json!([]))
        .await
        .assert_problem(403, "forbidden");
    // A unit admin grants nothing, not even below itself.
    app.put(
        &roles(d.clerk),
        d.token("unit-admin"),
        json!([{"role": "inspector", "unit_id": d.office}]),
    )
    .await
    .assert_problem(403, "forbidden");
    // Unchanged by the refusals.
    let res = app.get(&roles(d.clerk), &app.admin).await;
    assert_eq!(
        res.body,
        json!([{"role": "inspector", "unit_id": d.office}])
    );
    let res = app.get(&roles(c.bureau_sys), &app.admin).await;
    assert_eq!(
        res.body,
        json!([{"role": "system_admin", "unit_id": d.district}])
    );
}

/// The reach of an account: its grants and the nodes it leads.
async fn reach(app: &TestApp, id: Uuid) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let grants = app
        .get(&format!("/api/v1/accounts/{id}/roles"), &app.admin)
        .await;
    for g in grants.body.as_array().unwrap() {
        out.insert(format!("{}@{}", g["role"], g["unit_id"]));
    }
    let units = app.get("/api/v1/units?limit=500", &app.admin).await;
    for u in units.body["items"].as_array().unwrap() {
        let leaders = app
            .get(
                &format!("/api/v1/units/{}/leaders", u["id"].as_str().unwrap()),
                &app.admin,
            )
            .await;
        if leaders.body["principal_id"] == json!(id) {
            out.insert(format!("principal@{}", u["id"]));
        }
        for deputy in leaders.body["deputies"].as_array().unwrap() {
            if deputy["account_id"] == json!(id) {
                out.insert(format!("deputy@{}", u["id"]));
            }
        }
    }
    out
}

/// Starting from a unit admin's token, every call an insider would try to gain
/// scope is refused: its own grants, standing and leadership stay as they
/// were, and no account above it can be taken over, suspended or edited.
#[actix_web::test]
async fn a_unit_admin_cannot_gain_scope_by_any_sequence_of_calls() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let d = &c.d;
    let me = d.unit_admin;
    let token = d.token("unit-admin").to_owned();
    let own_before = reach(&app, me).await;
    let above: Vec<Uuid> = vec![
        c.bureau_sys,
        c.root,
        app.admin_id,
        c.district_head,
        d.inspector,
    ];
    let mut above_before = Vec::new();
    for id in &above {
        above_before.push(reach(&app, *id).await);
    }
    let acct = |id: Uuid, rest: &str| format!("/api/v1/accounts/{id}{rest}");
    let attempts: Vec<(&str, String, Value)> = vec![
        // A grant of its own, wider or equal.
        (
            "PUT",
            acct(me, "/roles"),
            json!([{"role": "system_admin", "unit_id": null}]),
        ),
        (
            "PUT",
            acct(me, "/roles"),
            json!([{"role": "unit_admin", "unit_id": d.district}]),
        ),
        (
            "PUT",
            acct(me, "/roles"),
            json!([{"role": "unit_admin", "unit_id": d.bureau}, {"role": "inspector", "unit_id": d.bureau}]),
        ),
        // Its own standing.
        ("PATCH", acct(me, ""), json!({"position": "principal"})),
        ("PATCH", acct(me, ""), json!({"rank": "bureau"})),
        ("PATCH", acct(me, ""), json!({"unit_id": d.office})),
        ("PATCH", acct(me, ""), json!({"key_post": true})),
        // A leadership of its own.
        (
            "PUT",
            format!("/api/v1/units/{}/leaders", d.bureau),
            json!({"principal_id": me, "deputies": []}),
        ),
        (
            "PUT",
            format!("/api/v1/units/{}/leaders", d.bureau),
            json!({"principal_id": d.principal, "deputies": [{"account_id": d.deputy, "in_charge_of": [d.office]}, {"account_id": me, "in_charge_of": []}]}),
        ),
        // Taking over, suspending or editing an account that reaches further.
        (
            "POST",
            acct(c.bureau_sys, "/reset-password"),
            json!({"password": "taken-over-password-1"}),
        ),
        ("POST", acct(c.bureau_sys, "/suspend"), json!({})),
        (
            "PATCH",
            acct(c.bureau_sys, ""),
            json!({"display_name": "renamed"}),
        ),
        ("PUT", acct(c.bureau_sys, "/roles"), json!([])),
        (
            "POST",
            acct(c.district_head, "/reset-password"),
            json!({"password": "taken-over-password-1"}),
        ),
        (
            "PATCH",
            acct(c.district_head, ""),
            json!({"unit_id": d.office}),
        ),
        (
            "POST",
            acct(d.inspector, "/reset-password"),
            json!({"password": "taken-over-password-1"}),
        ),
        (
            "POST",
            acct(c.root, "/reset-password"),
            json!({"password": "taken-over-password-1"}),
        ),
        (
            "POST",
            acct(app.admin_id, "/reset-password"),
            json!({"password": "taken-over-password-1"}),
        ),
        // Moving an account of a wider reach into its subtree.
        ("PATCH", acct(c.root, ""), json!({"unit_id": d.office})),
        // Handing the district's leadership to someone it controls.
        (
            "PUT",
            format!("/api/v1/units/{}/leaders", d.district),
            json!({"principal_id": d.clerk, "deputies": []}),
        ),
    ];
    for (method, path, body) in attempts {
        let req = match method {
            "PATCH" => TestRequest::patch(),
            "PUT" => TestRequest::put(),
            _ => TestRequest::post(),
        }
        .uri(&path)
        .insert_header(("authorization", format!("Bearer {token}")))
        .set_json(body.clone());
        let res = app.send(req).await;
        assert!(
            matches!(res.status.as_u16(), 403 | 404),
            "{method} {path} {body} answered {}: {}",
            res.status,
            res.body
        );
    }
    assert_eq!(reach(&app, me).await, own_before);
    for (id, was) in above.iter().zip(above_before) {
        assert_eq!(reach(&app, *id).await, was, "{id}");
    }
    // Nobody above can be logged into with a password the admin chose.
    for login in ["bureau-sys", "root", "admin", "district-head", "inspector"] {
        let res = app
            .post(
                "/api/v1/auth/login",
                "",
                json!({"login": login, "password": "taken-over-password-1"}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 401, "{login}: {}", res.body);
    }
    // Still able to do its own job: a member of the office.
    let res = act(&app, "POST", &acct(d.clerk, "/suspend"), &token, json!({})).await;
    check(&res, Want::Allowed, "suspend a member");
}

/// The roster is read by the members of the unit that holds the node, never
/// above it; leaders read the nodes they lead; scopes above read within them.
#[actix_web::test]
async fn the_roster_is_never_shown_above_the_readers_unit() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let d = &c.d;
    let roster = |unit: Uuid| format!("/api/v1/units/{unit}/roster");
    #[rustfmt::skip]
    let table: [(&str, Uuid, u16); 16] = [
        // The clerk belongs to the bureau (its department's unit).
        ("clerk", d.office, 200),
        ("clerk", d.bureau, 200),
        ("clerk", d.district, 404),
        ("clerk", d.other_bureau, 404),
        // A member of another bureau.
        ("outsider", d.other_bureau, 200),
        ("outsider", d.bureau, 404),
        ("outsider", d.office, 404),
        ("outsider", d.district, 404),
        // The bureau's principal is a member of the bureau, and leads it only.
        ("principal", d.district, 404),
        // The district's principal leads the district.
        ("district-head", d.district, 200),
        ("district-head", d.other_bureau, 200),
        // Scopes: the bureau's inspector, the district's system admin.
        ("inspector", d.bureau, 200),
        ("inspector", d.district, 404),
        ("bureau-sys", d.district, 200),
        ("other-admin", d.bureau, 404),
        ("admin", d.district, 200),
    ];
    for (who, unit, status) in table {
        let res = app.get(&roster(unit), d.token(who)).await;
        assert_eq!(
            res.status.as_u16(),
            status,
            "{who} reads {unit}: {}",
            res.body
        );
        if status == 404 {
            res.assert_problem(404, "not_found");
        }
    }
}

/// A system administrator of a subtree sees and removes only the webhooks of
/// its scope, hears only about filings inside it, and cannot replace the
/// calendar of the whole tree.
#[actix_web::test]
async fn a_subtree_system_admin_cannot_touch_global_resources() {
    let app =
        TestApp::with_config(|c| c.fixed_now = "2027-04-20T09:00:00+08:00".parse().ok()).await;
    let c = cast(&app).await;
    let d = &c.d;
    let bureau_only = app
        .account("bureau-only", d.bureau, "section", "staff")
        .await;
    app.grant(bureau_only, "system_admin", d.bureau).await;
    let sub = app.login("bureau-only", PASSWORD).await;
    let global = app
        .post(
            "/api/v1/webhooks",
            &app.admin,
            json!({"url": "https://hooks.example.com/global"}),
        )
        .await;
    assert_eq!(global.status.as_u16(), 201, "{}", global.body);
    assert_eq!(global.body["unit_id"], Value::Null);
    let global_id = global.id("/id");
    let own = app
        .post(
            "/api/v1/webhooks",
            &sub,
            json!({"url": "https://hooks.example.com/bureau"}),
        )
        .await;
    assert_eq!(own.status.as_u16(), 201, "{}", own.body);
    assert_eq!(own.body["unit_id"], json!(d.bureau));
    let own_id = own.id("/id");
    // It cannot register one over the whole tree or over a sibling.
    app.post(
        "/api/v1/webhooks",
        &sub,
        json!({"url": "https://hooks.example.com/x", "unit_id": d.other_bureau}),
    )
    .await
    .assert_problem(404, "not_found");
    // It lists only its own; the global one is hidden and cannot be removed.
    let list = app.get("/api/v1/webhooks", &sub).await;
    let ids: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![own_id.to_string()]);
    let del = TestRequest::delete()
        .uri(&format!("/api/v1/webhooks/{global_id}"))
        .insert_header(("authorization", format!("Bearer {sub}")));
    app.send(del).await.assert_problem(404, "not_found");
    let list = app.get("/api/v1/webhooks", &app.admin).await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    // Events: a filing in the other bureau reaches only the global webhook;
    // one in the bureau reaches both.
    let outbox = |app: &TestApp, hook: Uuid| {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = app.db.connect();
        diesel::sql_query(format!(
            "SELECT count(*) AS n FROM outbox WHERE webhook_id = '{hook}'"
        ))
        .get_result::<N>(&mut conn)
        .unwrap()
        .n
    };
    let res = app
        .put(
            &format!("/api/v1/units/{}/policy", d.district),
            &app.admin,
            json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1}}]}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let draft = |phone: &str| {
        json!({"draft": {"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": "310000"}], "depart_on": "2027-05-01", "return_on": "2027-05-03",
        "contact_phone": phone}, "submit": true})
    };
    let res = app
        .post("/api/v1/filings", d.token("outsider"), draft("13800138001"))
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert!(outbox(&app, global_id) > 0);
    assert_eq!(outbox(&app, own_id), 0, "an event outside its subtree");
    let res = app
        .post("/api/v1/filings", d.token("clerk"), draft("13800138002"))
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert!(outbox(&app, own_id) > 0, "an event inside its subtree");
    // The calendar is the whole tree's.
    let days = json!({"days": [{"date": "2031-01-01", "kind": "holiday", "name": "元旦"}]});
    app.put("/api/v1/calendar/2031", &sub, days.clone())
        .await
        .assert_problem(403, "forbidden");
    app.put("/api/v1/calendar/2031", d.token("bureau-sys"), days.clone())
        .await
        .assert_problem(403, "forbidden");
    let res = app.put("/api/v1/calendar/2031", &app.admin, days).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
}

/// A delegate belongs to the delegator's unit or to a node above it.
#[actix_web::test]
async fn delegation_stays_within_the_delegators_unit_and_above() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let d = &c.d;
    let delegate = |to: Uuid| json!({"delegate_id": to, "starts_at": "2027-04-01T00:00:00+08:00", "ends_at": "2027-05-10T00:00:00+08:00"});
    // The office's head: the clerk (same department), the deputy (the bureau)
    // and the district's head (above) are fine.
    for to in [d.clerk, d.deputy, c.district_head] {
        let res = app
            .put("/api/v1/me/delegation", d.token("head"), delegate(to))
            .await;
        assert_eq!(res.status.as_u16(), 200, "{to}: {}", res.body);
    }
    let before = app.fingerprint();
    // A member of another bureau is not.
    let res = app
        .put(
            "/api/v1/me/delegation",
            d.token("head"),
            delegate(d.outsider),
        )
        .await;
    res.assert_problem(422, "delegate_out_of_unit");
    assert_eq!(res.body["errors"][0]["field"], "delegate_id");
    // Nor is an account of no unit.
    app.put(
        "/api/v1/me/delegation",
        d.token("head"),
        delegate(app.admin_id),
    )
    .await
    .assert_problem(422, "delegate_out_of_unit");
    assert_eq!(app.fingerprint(), before);
}

/// Custody follows the holder: after a transfer the old unit's admin loses the
/// document and the new unit's admin reads its number whole.
#[actix_web::test]
async fn custody_follows_the_holder_to_a_new_unit() {
    let app = TestApp::new().await;
    let c = cast(&app).await;
    let d = &c.d;
    let res = app
        .post(
            "/api/v1/documents",
            d.token("unit-admin"),
            json!({"account_id": d.clerk, "kind": "passport", "number": "E12345678", "issued_on": "2020-01-01", "expires_on": "2030-01-01"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let doc = format!("/api/v1/documents/{}", res.id("/id"));
    app.get(&doc, d.token("other-admin"))
        .await
        .assert_problem(404, "not_found");
    let res = app
        .patch(
            &format!("/api/v1/accounts/{}", d.clerk),
            &app.admin,
            json!({"unit_id": d.other_bureau}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    app.get(&doc, d.token("unit-admin"))
        .await
        .assert_problem(404, "not_found");
    let res = app.get(&doc, d.token("other-admin")).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["number"], "E12345678");
    assert_eq!(res.body["number_masked"], false);
    let list = app
        .get(
            &format!("/api/v1/documents?unit_id={}", d.other_bureau),
            d.token("other-admin"),
        )
        .await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
    let list = app
        .get(
            &format!("/api/v1/documents?unit_id={}", d.bureau),
            d.token("unit-admin"),
        )
        .await;
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        0,
        "{}",
        list.body
    );
}

/// No route file compares roles itself: every decision goes through the policy.
#[test]
fn route_files_ask_the_policy_and_never_compare_roles() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in [
            "Role::",
            ".grants",
            "has_any",
            "is_global_admin",
            "crate::scope",
        ] {
            // Accounts name roles as data: a grant's shape and the bootstrap administrator.
            let allowed = path.ends_with("accounts.rs") && needle == "Role::";
            if allowed {
                continue;
            }
            assert!(
                !text.contains(needle),
                "{} compares roles itself ({needle})",
                path.display()
            );
        }
    }
}
