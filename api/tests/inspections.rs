//! Inspection campaigns through the API (API.md, "Routes → Supervision";
//! DESIGN.md, "Inspection campaign"): the campaign report checked unit by unit
//! against counts made here from what the test created (and, for members,
//! from the database), findings with categories and measures, rectification
//! items through to completion and overdue, and the scope every route keeps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// Filing time: Tuesday 20 April 2027, 10:00 in Beijing.
const T0: &str = "2027-04-20T02:00:00Z";
/// Evidence, reconciliation and the campaign: Thursday 20 May 2027, 10:00 in Beijing.
const T1: &str = "2027-05-20T02:00:00Z";
/// After some rectification deadlines: Tuesday 15 June 2027.
const T2: &str = "2027-06-15T02:00:00Z";
/// The campaign's window: the May Day holiday and the days after it.
const FROM: &str = "2027-05-01";
const TO: &str = "2027-05-10";

/// Moves the app's clock (tokens stay valid: they are checked against the real clock).
fn set_now(app: &mut TestApp, now: &str) {
    let mut config = (*app.state.config).clone();
    config.fixed_now = Some(now.parse().unwrap());
    app.state.config = Arc::new(config);
}

fn trip(code: &str, depart: &str, ret: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": code}], "depart_on": depart, "return_on": ret,
        "contact_phone": "13800138000"})
}

/// A request with a JSON body and an `If-Match` header.
async fn with_if_match(
    app: &TestApp,
    req: TestRequest,
    token: &str,
    tag: &str,
    body: Value,
) -> Resp {
    app.send(
        req.insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("if-match", tag))
            .set_json(body),
    )
    .await
}

async fn patch_if_match(app: &TestApp, uri: &str, token: &str, tag: &str, body: Value) -> Resp {
    with_if_match(app, TestRequest::patch().uri(uri), token, tag, body).await
}

/// One filing as created here, with what the API said about it.
#[derive(Debug, Clone)]
struct Filed {
    /// The unit the filer reports into (the nearest node that is not a department).
    owner: Uuid,
    depart: String,
    ret: String,
    status: String,
    late: bool,
}

/// The seeded district grown into a small tree:
///
/// ```text
/// district (jurisdiction, no policy)      d-inspector (inspector of the district)
/// ├── bureau (unit, own complete policy)  principal, deputy, unit-admin, inspector, retired (suspended)
/// │   ├── office (department)             clerk, head
/// │   ├── branch (subunit, own policy for leaving Beijing only → incomplete)  br-lead
/// │   │   └── branch-desk (department)    br-staff1, br-staff2
/// │   └── annex (subunit, inherits the bureau's policy)
/// └── other-bureau (unit, no policy)      other-admin, outsider
/// ```
struct World {
    app: TestApp,
    d: District,
    branch: Uuid,
    branch_desk: Uuid,
    annex: Uuid,
    d_inspector: Uuid,
    br_staff2: Uuid,
    tokens: HashMap<&'static str, String>,
    filed: Vec<Filed>,
    /// Each discrepancy of the reconciliation: (account, owner unit, kind, from, to, status).
    discrepancies: Vec<(Uuid, Uuid, String, String, String, String)>,
}

impl World {
    fn token(&self, who: &str) -> &str {
        self.tokens
            .get(who)
            .map(String::as_str)
            .unwrap_or_else(|| self.d.token(who))
    }
}

async fn setup() -> World {
    let mut app = TestApp::with_config(|c| c.fixed_now = T0.parse().ok()).await;
    let d = seed(&app).await;
    let branch = app.unit("branch", "subunit", Some(d.bureau)).await;
    let branch_desk = app.unit("branch-desk", "department", Some(branch)).await;
    let annex = app.unit("annex", "subunit", Some(d.bureau)).await;
    let d_inspector = app
        .account("d-inspector", d.district, "division", "staff")
        .await;
    app.grant(d_inspector, "inspector", d.district).await;
    let br_lead = app
        .account("br-lead", branch, "division", "principal")
        .await;
    app.account("br-staff1", branch_desk, "clerk", "staff")
        .await;
    let br_staff2 = app
        .account("br-staff2", branch_desk, "clerk", "staff")
        .await;
    let retired = app.account("retired", d.bureau, "section", "staff").await;
    let res = app
        .post(
            &format!("/api/v1/accounts/{retired}/suspend"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "suspended");
    let res = app
        .put(
            &format!("/api/v1/units/{branch}/leaders"),
            &app.admin,
            json!({"principal_id": br_lead, "deputies": []}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);

    // The bureau: staff ask their head and then the principal; leaders
    // report. Every combination has a complete rule.
    let complete = json!({"rules": [
        {"id": "staff", "applies_to": {"positions": ["staff"]}, "requirement": "approval",
         "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}], "form": "online",
         "notice": {"days": 3, "working_days": true}},
        {"id": "leaders", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": false}}
    ]});
    // The branch: its own rules, for leaving Beijing only.
    let leave_only = json!({"rules": [
        {"id": "leave", "trip_kinds": ["leave_jurisdiction"], "requirement": "report", "form": "online",
         "notice": {"days": 1, "working_days": false}}
    ]});
    for (unit, policy) in [(d.bureau, complete), (branch, leave_only)] {
        let res = app
            .put(&format!("/api/v1/units/{unit}/policy"), &app.admin, policy)
            .await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    }

    let mut tokens = HashMap::new();
    for login in ["d-inspector", "br-lead", "br-staff1", "br-staff2"] {
        tokens.insert(login, app.login(login, PASSWORD).await);
    }
    let token = |who: &str| -> String {
        tokens
            .get(who)
            .cloned()
            .unwrap_or_else(|| d.token(who).to_owned())
    };

    // Filings, all made at T0 (Tuesday 20 April, 10:00). Staff of the bureau
    // need 3 working days' notice, everyone else 1 calendar day (the other
    // bureau has no rules: its deadline is the start of the departure day).
    let with_substitute = |mut draft: Value, substitute: Uuid| {
        draft["substitute_id"] = json!(substitute);
        draft
    };
    let late_reason = |mut draft: Value| {
        draft["late_reason"] = json!("Called away at short notice");
        draft
    };
    let plan: Vec<(&str, Uuid, Value, bool, &str, bool)> = vec![
        // (filer, owner, draft, submit, expected status, expected late)
        // In time; approved below; 1–3 May.
        (
            "clerk",
            d.bureau,
            trip("320500", "2027-05-01", "2027-05-03"),
            true,
            "pending",
            false,
        ),
        // Leaves today, ends on 2 May: late.
        (
            "head",
            d.bureau,
            late_reason(trip("310000", "2027-04-20", "2027-05-02")),
            true,
            "recorded",
            true,
        ),
        (
            "principal",
            d.bureau,
            with_substitute(trip("310000", "2027-05-03", "2027-05-05"), d.deputy),
            true,
            "recorded",
            false,
        ),
        (
            "deputy",
            d.bureau,
            with_substitute(trip("310000", "2027-05-01", "2027-05-02"), d.principal),
            true,
            "recorded",
            false,
        ),
        // 22 April – 1 May with three working days' notice (due Monday the 19th): late; left pending.
        (
            "inspector",
            d.bureau,
            trip("310000", "2027-04-22", "2027-05-01"),
            true,
            "pending",
            true,
        ),
        // Late, but before the window.
        (
            "clerk",
            d.bureau,
            trip("310000", "2027-04-22", "2027-04-23"),
            true,
            "pending",
            true,
        ),
        // After the window.
        (
            "principal",
            d.bureau,
            with_substitute(trip("310000", "2027-05-11", "2027-05-12"), d.deputy),
            true,
            "recorded",
            false,
        ),
        // A draft is no filing.
        (
            "unit-admin",
            d.bureau,
            trip("310000", "2027-05-06", "2027-05-07"),
            false,
            "draft",
            false,
        ),
        (
            "br-staff1",
            branch,
            trip("320500", "2027-05-01", "2027-05-03"),
            true,
            "recorded",
            false,
        ),
        (
            "br-lead",
            branch,
            late_reason(with_substitute(
                trip("310000", "2027-04-20", "2027-05-01"),
                br_staff2,
            )),
            true,
            "recorded",
            true,
        ),
        (
            "outsider",
            d.other_bureau,
            trip("310000", "2027-05-02", "2027-05-04"),
            true,
            "recorded",
            false,
        ),
    ];
    let mut filed = Vec::new();
    let mut clerk_trip = None;
    for (who, owner, draft, submit, status, late) in plan {
        let depart = draft["depart_on"].as_str().unwrap().to_owned();
        let ret = draft["return_on"].as_str().unwrap().to_owned();
        let res = app
            .post(
                "/api/v1/filings",
                &token(who),
                json!({"draft": draft, "submit": submit}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 201, "{who}: {}", res.body);
        assert_eq!(res.body["status"], status, "{who}: {}", res.body);
        assert_eq!(res.body["late"], late, "{who} {depart}: {}", res.body);
        if clerk_trip.is_none() && who == "clerk" {
            clerk_trip = Some(res.str("/id"));
        }
        filed.push(Filed {
            owner,
            depart,
            ret,
            status: status.to_owned(),
            late,
        });
    }
    let clerk_trip = clerk_trip.unwrap();
    for approver in ["head", "principal"] {
        let res = app
            .post(
                &format!("/api/v1/filings/{clerk_trip}/approve"),
                &token(approver),
                json!({}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    }
    assert_eq!(filed[0].status, "pending");
    filed[0].status = "approved".to_owned();

    // A month later: where people were, by their itineraries.
    set_now(&mut app, T1);
    let records = json!([
        {"login": "clerk", "date": "2027-05-02", "location_code": "320500"},     // covered by the approved trip
        {"login": "clerk", "date": "2027-05-06", "location_code": "310000"},     // returned late
        {"login": "head", "date": "2027-05-01", "location_code": "310000"},      // covered
        {"login": "inspector", "date": "2027-05-01", "location_code": "310000"}, // still pending: departed before approval
        {"login": "unit-admin", "date": "2027-05-07", "location_code": "310000"},// only a draft: unreported (explained below)
        {"login": "br-staff2", "date": "2027-05-02", "location_code": "310000"}, // unreported
        {"login": "br-staff2", "date": "2027-05-06", "location_code": "440000"}, // unreported again
        {"login": "other-admin", "date": "2027-05-05", "location_code": "330000"},// unreported (confirmed below)
        {"login": "outsider", "date": "2027-05-03", "location_code": "310000"},  // covered
        {"login": "outsider", "date": "2027-05-20", "location_code": "310000"}   // unreported, after the campaign's window
    ]);
    let res = app
        .post(
            "/api/v1/evidence/imports",
            &app.admin,
            json!({"batch_key": "may-day-itinerary", "unit_id": d.district, "source": "itinerary", "records": records}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["accepted"], 10, "{}", res.body);
    assert_eq!(res.body["rejected"], json!([]));
    let res = app
        .post(
            "/api/v1/reconciliations",
            &app.admin,
            json!({"unit_id": d.district, "from": "2027-05-01", "to": "2027-05-31"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);

    let owner_of: HashMap<Uuid, Uuid> = [
        (d.clerk, d.bureau),
        (d.head, d.bureau),
        (d.inspector, d.bureau),
        (d.unit_admin, d.bureau),
        (br_staff2, branch),
        (d.other_admin, d.other_bureau),
        (d.outsider, d.other_bureau),
    ]
    .into_iter()
    .collect();
    let mut discrepancies: Vec<(Uuid, Uuid, String, String, String, String)> = Vec::new();
    let mut by_account: HashMap<Uuid, Vec<String>> = HashMap::new();
    for item in res.body["discrepancies"].as_array().unwrap() {
        let account: Uuid = item["account_id"].as_str().unwrap().parse().unwrap();
        let owner = *owner_of
            .get(&account)
            .unwrap_or_else(|| panic!("an unexpected discrepancy: {item}"));
        let kind = item["kind"].as_str().unwrap().to_owned();
        by_account.entry(account).or_default().push(kind.clone());
        let mut status = item["status"].as_str().unwrap().to_owned();
        if account == d.unit_admin || account == d.other_admin {
            let (action, body) = if account == d.unit_admin {
                (
                    "explain",
                    json!({"explanation": "On official business, see the travel order"}),
                )
            } else {
                (
                    "confirm",
                    json!({"comment": "Left for Hangzhou without reporting"}),
                )
            };
            let res = app
                .post(
                    &format!(
                        "/api/v1/discrepancies/{}/{action}",
                        item["id"].as_str().unwrap()
                    ),
                    &app.admin,
                    body,
                )
                .await;
            assert_eq!(res.status.as_u16(), 200, "{}", res.body);
            status = res.str("/status");
        }
        discrepancies.push((
            account,
            owner,
            kind,
            item["from"].as_str().unwrap().to_owned(),
            item["to"].as_str().unwrap().to_owned(),
            status,
        ));
    }
    // What the reconciliation is expected to have found (API.md, "Evidence and reconciliation").
    let kinds = |who: Uuid| {
        let mut k = by_account.get(&who).cloned().unwrap_or_default();
        k.sort();
        k
    };
    assert_eq!(kinds(d.clerk), vec!["returned_late"]);
    assert_eq!(kinds(d.head), Vec::<String>::new());
    assert_eq!(kinds(d.inspector), vec!["departed_before_approval"]);
    assert_eq!(kinds(d.unit_admin), vec!["unreported_departure"]);
    assert_eq!(
        kinds(br_staff2),
        vec!["unreported_departure", "unreported_departure"]
    );
    assert_eq!(kinds(d.other_admin), vec!["unreported_departure"]);
    assert_eq!(kinds(d.outsider), vec!["unreported_departure"]);
    assert_eq!(discrepancies.len(), 7);

    World {
        app,
        d,
        branch,
        branch_desk,
        annex,
        d_inspector,
        br_staff2,
        tokens,
        filed,
        discrepancies,
    }
}

/// Opens a campaign; answers its id.
async fn open(w: &World, token: &str, unit: Uuid) -> String {
    let res = w
        .app
        .post(
            "/api/v1/inspections",
            token,
            json!({"name": "May Day 2027 whereabouts check", "unit_id": unit, "from": FROM, "to": TO}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.header("etag"), "\"1\"");
    res.str("/id")
}

/// Active accounts per reporting unit, counted from the database: an account
/// counts in its node, or in the nearest node above that is not a department.
fn members_from_db(app: &TestApp) -> HashMap<Uuid, i64> {
    use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct UnitRow {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Nullable<SqlUuid>)]
        parent_id: Option<Uuid>,
    }
    #[derive(QueryableByName)]
    struct AccountRow {
        #[diesel(sql_type = Nullable<SqlUuid>)]
        unit_id: Option<Uuid>,
        #[diesel(sql_type = Text)]
        status: String,
    }
    let mut conn = app.db.connect();
    let units: HashMap<Uuid, (String, Option<Uuid>)> =
        diesel::sql_query("SELECT id, kind, parent_id FROM units")
            .load::<UnitRow>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|u| (u.id, (u.kind, u.parent_id)))
            .collect();
    let accounts = diesel::sql_query("SELECT unit_id, status FROM accounts")
        .load::<AccountRow>(&mut conn)
        .unwrap();
    let mut out = HashMap::new();
    for account in accounts {
        let Some(mut unit) = account.unit_id else {
            continue;
        };
        if account.status != "active" {
            continue;
        }
        while units[&unit].0 == "department" {
            unit = units[&unit].1.unwrap();
        }
        *out.entry(unit).or_default() += 1;
    }
    out
}

/// The report's entry for a unit.
fn unit_of(report: &Value, unit: Uuid) -> &Value {
    report["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["unit_id"] == json!(unit))
        .unwrap_or_else(|| panic!("no unit {unit} in {report}"))
}

fn problems(entry: &Value) -> BTreeSet<String> {
    entry["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------- the report

#[actix_web::test]
async fn the_report_counts_members_filings_discrepancies_and_rules_per_unit() {
    let w = setup().await;
    let d = &w.d;
    let id = open(&w, w.token("d-inspector"), d.district).await;
    let res = w
        .app
        .get(&format!("/api/v1/inspections/{id}"), w.token("d-inspector"))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.header("etag"), "\"1\"");
    assert_eq!(res.body["unit_id"], json!(d.district));
    assert_eq!(res.body["from"], FROM);
    assert_eq!(res.body["to"], TO);
    assert_eq!(res.body["opened_by"], json!(w.d_inspector));

    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("d-inspector"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let report = &res.body;
    assert_eq!(report["inspection"]["id"], id);

    // Every node but departments, the root first.
    let reported: Vec<Uuid> = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["unit_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(reported[0], d.district);
    let expected_units: BTreeSet<Uuid> = [d.district, d.bureau, w.branch, w.annex, d.other_bureau]
        .into_iter()
        .collect();
    assert_eq!(
        reported.iter().copied().collect::<BTreeSet<_>>(),
        expected_units
    );
    assert_eq!(reported.len(), 5);
    assert!(!reported.contains(&d.office) && !reported.contains(&w.branch_desk));

    // The independent count.
    let members = members_from_db(&w.app);
    let from: &str = FROM;
    let to: &str = TO;
    let in_window =
        |f: &&Filed| f.status != "draft" && f.depart.as_str() <= to && f.ret.as_str() >= from;
    let filings = |unit: Uuid| {
        w.filed
            .iter()
            .filter(in_window)
            .filter(|f| f.owner == unit)
            .count() as i64
    };
    let late = |unit: Uuid| {
        w.filed
            .iter()
            .filter(in_window)
            .filter(|f| f.owner == unit && f.late)
            .count() as i64
    };
    let people = |unit: Option<Uuid>, confirmed: bool| {
        w.discrepancies
            .iter()
            .filter(|x| unit.is_none_or(|u| x.1 == u))
            .filter(|x| x.3.as_str() <= to && x.4.as_str() >= from)
            .filter(|x| (x.5 == "confirmed") == confirmed)
            .map(|x| x.0)
            .collect::<BTreeSet<_>>()
            .len() as i64
    };
    // And the same numbers worked out by hand from the setup, so that a slip in
    // the count above cannot hide one in the report.
    // (unit, members, filings, late, open people, confirmed people)
    let by_hand = [
        (d.district, 1, 0, 0, 0, 0),
        // principal, deputy, unit-admin, inspector, clerk, head (the suspended one not)
        // filings: clerk 1–3 May, head, principal 3–5 May, deputy, inspector (ends 1 May)
        // open: clerk (returned late), inspector (before approval), unit-admin (explained)
        (d.bureau, 6, 5, 2, 3, 0),
        (w.branch, 3, 2, 1, 1, 0),
        (w.annex, 0, 0, 0, 0, 0),
        // other-admin's departure confirmed; the outsider's is after the window
        (d.other_bureau, 2, 1, 0, 0, 1),
    ];
    for (unit, m, f, l, open, confirmed) in by_hand {
        assert_eq!(
            members.get(&unit).copied().unwrap_or(0),
            m,
            "members of {unit} by the database"
        );
        assert_eq!(filings(unit), f, "filings of {unit} by the setup");
        assert_eq!(late(unit), l, "late filings of {unit} by the setup");
        assert_eq!(
            people(Some(unit), false),
            open,
            "open people of {unit} by the setup"
        );
        assert_eq!(
            people(Some(unit), true),
            confirmed,
            "confirmed people of {unit} by the setup"
        );
        let entry = unit_of(report, unit);
        assert_eq!(entry["members"], m, "members: {entry}");
        assert_eq!(entry["filings"], f, "filings: {entry}");
        assert_eq!(entry["late_filings"], l, "late filings: {entry}");
        assert_eq!(
            entry["people_with_open_discrepancies"], open,
            "open: {entry}"
        );
        assert_eq!(
            entry["people_with_confirmed_discrepancies"], confirmed,
            "confirmed: {entry}"
        );
        assert_eq!(entry["findings"], 0);
        assert_eq!(entry["overdue_rectifications"], 0);
    }

    // Rules: 4 ranks × 4 positions × 4 trip kinds × 3 periods; the branch's
    // rule covers one trip kind of four.
    let all = 4 * 4 * 4 * 3;
    let district = unit_of(report, d.district);
    assert_eq!(district["kind"], "jurisdiction");
    assert_eq!(district["parent_id"], Value::Null);
    assert_eq!(district["policy"]["source"], "none");
    assert_eq!(district["policy"]["source_unit_id"], Value::Null);
    assert_eq!(district["policy"]["complete"], false);
    assert_eq!(district["policy"]["missing_count"], all);
    assert_eq!(district["policy"]["second_level_uncovered"], 0);
    assert_eq!(problems(district), set(&["no_rules"]));

    let bureau = unit_of(report, d.bureau);
    assert_eq!(bureau["kind"], "unit");
    assert_eq!(bureau["name"], "bureau name");
    assert_eq!(bureau["parent_id"], json!(d.district));
    assert_eq!(bureau["policy"]["source"], "own");
    assert_eq!(bureau["policy"]["source_unit_id"], json!(d.bureau));
    assert_eq!(bureau["policy"]["source_unit_name"], "bureau name");
    assert_eq!(bureau["policy"]["version"], 1);
    assert_eq!(bureau["policy"]["complete"], true);
    assert_eq!(bureau["policy"]["missing_count"], 0);
    // The branch's own rules are incomplete; the annex inherits the bureau's.
    assert_eq!(bureau["policy"]["second_level_uncovered"], 1);
    assert_eq!(
        problems(bureau),
        set(&["not_extended", "unreported_people", "late_filings"])
    );

    let branch = unit_of(report, w.branch);
    assert_eq!(branch["kind"], "subunit");
    assert_eq!(branch["parent_id"], json!(d.bureau));
    assert_eq!(branch["policy"]["source"], "own");
    assert_eq!(branch["policy"]["source_unit_id"], json!(w.branch));
    assert_eq!(branch["policy"]["complete"], false);
    assert_eq!(branch["policy"]["missing_count"], all / 4 * 3);
    assert_eq!(branch["policy"]["second_level_uncovered"], 0);
    assert_eq!(
        problems(branch),
        set(&["incomplete_rules", "unreported_people", "late_filings"])
    );

    let annex = unit_of(report, w.annex);
    assert_eq!(annex["policy"]["source"], "inherited");
    assert_eq!(annex["policy"]["source_unit_id"], json!(d.bureau));
    assert_eq!(annex["policy"]["source_unit_name"], "bureau name");
    assert_eq!(annex["policy"]["complete"], true);
    assert_eq!(annex["policy"]["missing_count"], 0);
    assert_eq!(problems(annex), BTreeSet::new());

    let other = unit_of(report, d.other_bureau);
    assert_eq!(other["policy"]["source"], "none");
    assert_eq!(other["policy"]["complete"], false);
    assert_eq!(problems(other), set(&["no_rules", "unreported_people"]));

    // At a glance.
    let overall = &report["overall"];
    assert_eq!(overall["units"], 5);
    assert_eq!(overall["units_with_problems"], 4);
    assert!(
        (overall["share_with_problems"].as_f64().unwrap() - 0.8).abs() < 1e-9,
        "{overall}"
    );
    let total_members: i64 = expected_units
        .iter()
        .map(|u| members.get(u).copied().unwrap_or(0))
        .sum();
    assert_eq!(total_members, 12);
    assert_eq!(overall["members"], total_members);
    assert_eq!(overall["filings"], 8);
    assert_eq!(overall["late_filings"], 3);
    assert_eq!(people(None, false), 4);
    assert_eq!(people(None, true), 1);
    assert_eq!(overall["people_with_open_discrepancies"], 4);
    assert_eq!(overall["people_with_confirmed_discrepancies"], 1);
    // Left without reporting, not explained, in the window: br-staff2 (clerk,
    // twice, one person) and other-admin (section, confirmed). The unit
    // admin's was explained; the outsider's is after the window.
    assert_eq!(
        overall["people_unreported_by_rank"],
        json!({"clerk": 1, "section": 1, "division": 0, "bureau": 0})
    );
    assert_eq!(
        w.discrepancies
            .iter()
            .filter(|x| x.0 == w.br_staff2)
            .count(),
        2
    );

    // The campaigns list holds it; reading the report changed nothing.
    let before = w.app.fingerprint();
    let res = w
        .app
        .get("/api/v1/inspections", w.token("d-inspector"))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["items"][0]["id"], id);
    assert_eq!(res.body["next_cursor"], Value::Null);
    w.app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("admin"),
        )
        .await;
    assert_eq!(w.app.fingerprint(), before);
}

#[actix_web::test]
async fn a_campaign_over_the_bureau_reports_its_subtree_only() {
    let w = setup().await;
    let d = &w.d;
    let id = open(&w, w.token("inspector"), d.bureau).await;
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("inspector"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let report = &res.body;
    let reported: Vec<Uuid> = report["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["unit_id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(reported[0], d.bureau);
    assert_eq!(
        reported.iter().copied().collect::<BTreeSet<_>>(),
        [d.bureau, w.branch, w.annex].into_iter().collect()
    );
    let overall = &report["overall"];
    assert_eq!(overall["units"], 3);
    assert_eq!(overall["units_with_problems"], 2);
    assert_eq!(overall["members"], 6 + 3);
    assert_eq!(overall["filings"], 5 + 2);
    assert_eq!(overall["late_filings"], 2 + 1);
    assert_eq!(overall["people_with_open_discrepancies"], 3 + 1);
    assert_eq!(overall["people_with_confirmed_discrepancies"], 0);
    assert_eq!(
        overall["people_unreported_by_rank"],
        json!({"clerk": 1, "section": 0, "division": 0, "bureau": 0})
    );
}

#[actix_web::test]
async fn a_campaign_below_the_policy_unit_names_the_unit_it_inherits_from() {
    // The annex inherits the bureau's rules; a campaign over the annex alone
    // still says whose rules those are.
    let w = setup().await;
    let id = open(&w, w.token("inspector"), w.annex).await;
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("inspector"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let annex = unit_of(&res.body, w.annex);
    assert_eq!(annex["members"], 0);
    assert_eq!(annex["policy"]["source"], "inherited");
    assert_eq!(annex["policy"]["source_unit_id"], json!(w.d.bureau));
    assert_eq!(annex["policy"]["complete"], true);
    assert_eq!(
        annex["policy"]["source_unit_name"], "bureau name",
        "the name of the unit whose rules apply: {annex}"
    );
}

// ---------------------------------------------------------------- findings

#[actix_web::test]
async fn findings_carry_a_category_and_measures_and_refuse_bad_input() {
    let w = setup().await;
    let d = &w.d;
    let id = open(&w, w.token("d-inspector"), d.district).await;
    let findings = format!("/api/v1/inspections/{id}/findings");

    let res = w
        .app
        .post(
            &findings,
            w.token("d-inspector"),
            json!({"unit_id": w.branch, "category": "incomplete_rules",
                   "description": "The branch's rules cover leaving Beijing only",
                   "measures": ["criticism_education", "reminder_letter"]}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.header("etag"), "\"1\"");
    let branch_finding = res.str("/id");
    assert_eq!(res.body["inspection_id"], id);
    assert_eq!(res.body["unit_id"], json!(w.branch));
    assert_eq!(res.body["category"], "incomplete_rules");
    assert_eq!(
        res.body["measures"],
        json!(["criticism_education", "reminder_letter"])
    );
    assert_eq!(res.body["rectifications"], json!([]));
    assert_eq!(res.body["created_by"], json!(w.d_inspector));
    assert_eq!(res.body["version"], 1);

    // Without measures yet.
    let res = w
        .app
        .post(
            &findings,
            w.token("d-inspector"),
            json!({"unit_id": d.bureau, "category": "not_extended",
                   "description": "Rules not extended to the branch"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let bureau_finding = res.str("/id");
    assert_eq!(res.body["measures"], json!([]));

    // Refusals, none of which leaves a trace.
    let bureau_campaign = open(&w, w.token("inspector"), d.bureau).await;
    let before = w.app.fingerprint();
    let good = json!({"unit_id": d.bureau, "category": "not_implemented", "description": "x"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, field) in [
        (with("category", json!("lax_rules")), "category"),
        (with("measures", json!(["public_shaming"])), "measures"),
        (with("description", json!("   ")), "description"),
        (with("description", json!("")), "description"),
        (with("description", json!("x".repeat(4001))), "description"),
        (with("unit_id", json!(Uuid::new_v4())), "unit_id"),
    ] {
        let res = w
            .app
            .post(&findings, w.token("d-inspector"), body.clone())
            .await;
        res.assert_problem(422, "validation_failed");
        let fields: Vec<&str> = res.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "{field} in {}",
            res.body
        );
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("description");
    w.app
        .post(&findings, w.token("d-inspector"), missing)
        .await
        .assert_problem(422, "validation_failed");
    w.app
        .post(
            &findings,
            w.token("d-inspector"),
            json!({"unit_id": "not-a-uuid", "category": "no_rules", "description": "x"}),
        )
        .await
        .assert_problem(422, "validation_failed");
    // The other bureau lies outside a campaign over the bureau.
    let res = w
        .app
        .post(
            &format!("/api/v1/inspections/{bureau_campaign}/findings"),
            w.token("inspector"),
            with("unit_id", json!(d.other_bureau)),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "unit_id", "{}", res.body);
    // Malformed JSON.
    let res = w
        .app
        .send(
            TestRequest::post()
                .uri(&findings)
                .insert_header((
                    "authorization",
                    format!("Bearer {}", w.token("d-inspector")),
                ))
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"unit_id\": "),
        )
        .await;
    res.assert_problem(400, "malformed_request");
    // Only inspectors record findings.
    for who in ["clerk", "unit-admin"] {
        w.app
            .post(&findings, w.token(who), good.clone())
            .await
            .assert_problem(403, "forbidden");
    }
    // An unknown campaign.
    w.app
        .post(
            &format!("/api/v1/inspections/{}/findings", Uuid::new_v4()),
            w.token("d-inspector"),
            good.clone(),
        )
        .await
        .assert_problem(404, "not_found");
    assert_eq!(w.app.fingerprint(), before);

    // The list, oldest first.
    let res = w.app.get(&findings, w.token("d-inspector")).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let listed: Vec<&str> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        vec![branch_finding.as_str(), bureau_finding.as_str()]
    );

    // Changing a finding: the current tag wins once, a stale one is refused.
    let one = format!("{findings}/{bureau_finding}");
    let res = patch_if_match(
        &w.app,
        &one,
        w.token("d-inspector"),
        "\"1\"",
        json!({"measures": ["reminder_letter", "supervision_proposal"], "description": "Rules never reached the branch"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.header("etag"), "\"2\"");
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.body["category"], "not_extended");
    assert_eq!(res.body["description"], "Rules never reached the branch");
    assert_eq!(
        res.body["measures"],
        json!(["reminder_letter", "supervision_proposal"])
    );
    let before = w.app.fingerprint();
    patch_if_match(
        &w.app,
        &one,
        w.token("d-inspector"),
        "\"1\"",
        json!({"category": "falsified"}),
    )
    .await
    .assert_problem(412, "precondition_failed");
    patch_if_match(
        &w.app,
        &one,
        w.token("d-inspector"),
        "\"2\"",
        json!({"description": " "}),
    )
    .await
    .assert_problem(422, "validation_failed");
    patch_if_match(
        &w.app,
        &one,
        w.token("d-inspector"),
        "\"2\"",
        json!({"category": "sloppy"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    patch_if_match(
        &w.app,
        &one,
        w.token("unit-admin"),
        "\"2\"",
        json!({"category": "falsified"}),
    )
    .await
    .assert_problem(403, "forbidden");
    patch_if_match(
        &w.app,
        &one,
        w.token("inspector"),
        "\"2\"",
        json!({"category": "falsified"}),
    )
    .await
    .assert_problem(404, "not_found");
    // A finding of another campaign is not found under this one.
    patch_if_match(
        &w.app,
        &format!("/api/v1/inspections/{bureau_campaign}/findings/{bureau_finding}"),
        w.token("inspector"),
        "\"2\"",
        json!({"category": "falsified"}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(w.app.fingerprint(), before);
    let res = patch_if_match(
        &w.app,
        &one,
        w.token("d-inspector"),
        "\"2\"",
        json!({"category": "not_implemented"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["category"], "not_implemented");
    assert_eq!(res.body["description"], "Rules never reached the branch");
    assert_eq!(res.body["version"], 3);

    // The report counts them per unit.
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("d-inspector"),
        )
        .await;
    assert_eq!(unit_of(&res.body, w.branch)["findings"], 1);
    assert_eq!(unit_of(&res.body, d.bureau)["findings"], 1);
    assert_eq!(unit_of(&res.body, d.district)["findings"], 0);
    assert_eq!(unit_of(&res.body, d.other_bureau)["findings"], 0);
    // Not those of the other campaign.
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{bureau_campaign}/report"),
            w.token("inspector"),
        )
        .await;
    assert_eq!(unit_of(&res.body, d.bureau)["findings"], 0);
}

#[actix_web::test]
async fn a_finding_about_a_department_counts_in_its_unit() {
    // Departments are not reported on their own: they count in their unit
    // (InspectionReport.units), and so do the findings about them.
    let w = setup().await;
    let d = &w.d;
    let id = open(&w, w.token("d-inspector"), d.district).await;
    let res = w
        .app
        .post(
            &format!("/api/v1/inspections/{id}/findings"),
            w.token("d-inspector"),
            json!({"unit_id": d.office, "category": "not_implemented",
                   "description": "The office's attendance sheet only says 'out'"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let finding = res.str("/id");
    // Due before today (20 May): overdue at once.
    let res = w
        .app
        .post(
            &format!("/api/v1/inspections/{id}/findings/{finding}/rectifications"),
            w.token("d-inspector"),
            json!({"description": "Record destinations", "deadline": "2027-05-15"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["overdue"], true);
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("d-inspector"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let bureau = unit_of(&res.body, d.bureau);
    assert_eq!(
        bureau["findings"], 1,
        "the office's finding counts in the bureau: {bureau}"
    );
    assert_eq!(bureau["overdue_rectifications"], 1, "{bureau}");
}

// ---------------------------------------------------------------- rectification

#[actix_web::test]
async fn rectification_items_move_to_completion_and_become_overdue_after_their_deadline() {
    let mut w = setup().await;
    let d = &w.d;
    let bureau = d.bureau;
    let id = open(&w, w.token("d-inspector"), d.district).await;
    let res = w
        .app
        .post(
            &format!("/api/v1/inspections/{id}/findings"),
            w.token("d-inspector"),
            json!({"unit_id": bureau, "category": "not_implemented",
                   "description": "Staff left over May Day without filing", "measures": ["reminder_letter"]}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let finding = res.str("/id");
    let items = format!("/api/v1/inspections/{id}/findings/{finding}/rectifications");

    // The look-back review cannot come before the deadline.
    let before = w.app.fingerprint();
    let res = w
        .app
        .post(
            &items,
            w.token("d-inspector"),
            json!({"description": "Brief every department", "deadline": "2027-06-30", "review_on": "2027-06-01"}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "review_on");
    w.app
        .post(
            &items,
            w.token("d-inspector"),
            json!({"description": " ", "deadline": "2027-06-30"}),
        )
        .await
        .assert_problem(422, "validation_failed");
    w.app
        .post(
            &items,
            w.token("d-inspector"),
            json!({"description": "x", "deadline": "30/06/2027"}),
        )
        .await
        .assert_problem(422, "validation_failed");
    w.app
        .post(
            &items,
            w.token("unit-admin"),
            json!({"description": "x", "deadline": "2027-06-30"}),
        )
        .await
        .assert_problem(403, "forbidden");
    w.app
        .post(
            &format!(
                "/api/v1/inspections/{id}/findings/{}/rectifications",
                Uuid::new_v4()
            ),
            w.token("d-inspector"),
            json!({"description": "x", "deadline": "2027-06-30"}),
        )
        .await
        .assert_problem(404, "not_found");
    assert_eq!(w.app.fingerprint(), before);

    let mut created = Vec::new();
    for (text, deadline, review) in [
        ("Brief every department", "2027-06-30", Some("2027-09-30")),
        ("Collect missing filings", "2027-06-10", None),
        ("Publish the rules", "2027-06-05", None),
    ] {
        let res = w
            .app
            .post(
                &items,
                w.token("d-inspector"),
                json!({"description": text, "deadline": deadline, "review_on": review}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.body);
        assert_eq!(res.header("etag"), "\"1\"");
        assert_eq!(res.body["status"], "open");
        assert_eq!(res.body["deadline"], deadline);
        assert_eq!(res.body["review_on"], json!(review));
        assert_eq!(res.body["overdue"], false);
        assert_eq!(res.body["completed_at"], Value::Null);
        assert_eq!(res.body["finding_id"], finding);
        created.push(res.str("/id"));
    }
    let (brief, collect, publish) = (
        format!("{items}/{}", created[0]),
        format!("{items}/{}", created[1]),
        format!("{items}/{}", created[2]),
    );

    // The unit's administrator reports progress.
    let res = patch_if_match(
        &w.app,
        &brief,
        w.token("unit-admin"),
        "\"1\"",
        json!({"status": "in_progress"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "in_progress");
    assert_eq!(res.header("etag"), "\"2\"");
    let before = w.app.fingerprint();
    // Completing needs evidence.
    let res = patch_if_match(
        &w.app,
        &publish,
        w.token("unit-admin"),
        "\"1\"",
        json!({"status": "completed"}),
    )
    .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "evidence");
    // Moving the deadline or the review is the inspectors' call.
    patch_if_match(
        &w.app,
        &brief,
        w.token("unit-admin"),
        "\"2\"",
        json!({"deadline": "2027-08-31"}),
    )
    .await
    .assert_problem(403, "forbidden");
    patch_if_match(
        &w.app,
        &brief,
        w.token("unit-admin"),
        "\"2\"",
        json!({"review_on": "2027-12-31"}),
    )
    .await
    .assert_problem(403, "forbidden");
    // A stale tag; an unknown status; people without a say.
    patch_if_match(
        &w.app,
        &brief,
        w.token("unit-admin"),
        "\"1\"",
        json!({"status": "completed", "evidence": "minutes"}),
    )
    .await
    .assert_problem(412, "precondition_failed");
    patch_if_match(
        &w.app,
        &brief,
        w.token("unit-admin"),
        "\"2\"",
        json!({"status": "abandoned"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    patch_if_match(
        &w.app,
        &brief,
        w.token("other-admin"),
        "\"2\"",
        json!({"status": "completed", "evidence": "minutes"}),
    )
    .await
    .assert_problem(404, "not_found");
    patch_if_match(
        &w.app,
        &brief,
        w.token("clerk"),
        "\"2\"",
        json!({"status": "completed", "evidence": "minutes"}),
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(w.app.fingerprint(), before);

    let res = patch_if_match(
        &w.app,
        &publish,
        w.token("unit-admin"),
        "\"1\"",
        json!({"status": "completed", "evidence": "Rules posted on the intranet on 25 May"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "completed");
    assert_eq!(
        res.body["evidence"],
        "Rules posted on the intranet on 25 May"
    );
    let completed_at: chrono::DateTime<chrono::Utc> =
        res.body["completed_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        completed_at,
        T1.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );

    // The inspectors may move a deadline (with the current tag).
    let res = patch_if_match(
        &w.app,
        &brief,
        w.token("d-inspector"),
        "\"2\"",
        json!({"deadline": "2027-07-15"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["deadline"], "2027-07-15");
    assert_eq!(res.body["status"], "in_progress");
    assert_eq!(res.body["review_on"], "2027-09-30");
    // But not past the review.
    patch_if_match(
        &w.app,
        &brief,
        w.token("d-inspector"),
        "\"3\"",
        json!({"deadline": "2027-10-15"}),
    )
    .await
    .assert_problem(422, "validation_failed");

    // After 10 June the collection item is overdue; the completed one and the
    // one due in July are not.
    set_now(&mut w.app, T2);
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/findings"),
            w.token("d-inspector"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let listed = &res.body["items"][0]["rectifications"];
    let overdue: BTreeMap<String, bool> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["overdue"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        overdue,
        [
            (created[0].clone(), false),
            (created[1].clone(), true),
            (created[2].clone(), false),
        ]
        .into_iter()
        .collect()
    );
    // By deadline.
    let order: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        vec![
            created[2].as_str(),
            created[1].as_str(),
            created[0].as_str()
        ]
    );
    // The unit's administrator sees the finding about their unit too.
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/findings"),
            w.token("unit-admin"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["items"][0]["rectifications"][1]["overdue"], true);

    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("d-inspector"),
        )
        .await;
    let entry = unit_of(&res.body, bureau);
    assert_eq!(entry["findings"], 1);
    assert_eq!(entry["overdue_rectifications"], 1);
    assert_eq!(unit_of(&res.body, w.branch)["overdue_rectifications"], 0);
    assert_eq!(
        res.body["generated_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        T2.parse::<chrono::DateTime<chrono::Utc>>().unwrap()
    );

    // Work under way is still overdue; done is not.
    let res = patch_if_match(
        &w.app,
        &collect,
        w.token("unit-admin"),
        "\"1\"",
        json!({"status": "in_progress"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["overdue"], true);
    let res = patch_if_match(
        &w.app,
        &collect,
        w.token("unit-admin"),
        "\"2\"",
        json!({"status": "completed", "evidence": "All filed"}),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["overdue"], false);
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{id}/report"),
            w.token("d-inspector"),
        )
        .await;
    assert_eq!(unit_of(&res.body, bureau)["overdue_rectifications"], 0);
}

// ---------------------------------------------------------------- scope

#[actix_web::test]
async fn campaigns_and_findings_stay_within_scope() {
    let w = setup().await;
    let d = &w.d;
    let body = |unit: Uuid| json!({"name": "Spot check", "unit_id": unit, "from": FROM, "to": TO});

    let before = w.app.fingerprint();
    // Without an inspector's role: 403, whatever the unit.
    for who in ["clerk", "principal", "unit-admin", "other-admin"] {
        w.app
            .post("/api/v1/inspections", w.token(who), body(d.bureau))
            .await
            .assert_problem(403, "forbidden");
    }
    w.app
        .post("/api/v1/inspections", "", body(d.bureau))
        .await
        .assert_problem(401, "unauthorized");
    // The bureau's inspector: not over the district, another bureau or an unknown unit.
    for unit in [d.district, d.other_bureau, Uuid::new_v4()] {
        w.app
            .post("/api/v1/inspections", w.token("inspector"), body(unit))
            .await
            .assert_problem(404, "not_found");
    }
    // Bad campaigns.
    for bad in [
        json!({"name": "  ", "unit_id": d.bureau, "from": FROM, "to": TO}),
        json!({"name": "x".repeat(201), "unit_id": d.bureau, "from": FROM, "to": TO}),
        json!({"name": "Backwards", "unit_id": d.bureau, "from": TO, "to": FROM}),
        json!({"name": "Too long", "unit_id": d.bureau, "from": "2027-01-01", "to": "2028-01-03"}),
        json!({"name": "No window", "unit_id": d.bureau}),
        json!({"name": "Bad date", "unit_id": d.bureau, "from": "2027-13-01", "to": TO}),
    ] {
        w.app
            .post("/api/v1/inspections", w.token("inspector"), bad.clone())
            .await
            .assert_problem(422, "validation_failed");
    }
    assert_eq!(w.app.fingerprint(), before);

    // Over the bureau it may.
    let bureau_campaign = open(&w, w.token("inspector"), d.bureau).await;
    let district_campaign = open(&w, w.token("d-inspector"), d.district).await;
    let res = w
        .app
        .post(
            &format!("/api/v1/inspections/{district_campaign}/findings"),
            w.token("d-inspector"),
            json!({"unit_id": d.bureau, "category": "not_extended", "description": "Branch not covered"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let finding = res.str("/id");
    let res = w
        .app
        .post(
            &format!("/api/v1/inspections/{district_campaign}/findings/{finding}/rectifications"),
            w.token("d-inspector"),
            json!({"description": "Extend the rules", "deadline": "2027-06-30"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let item = res.str("/id");

    let before = w.app.fingerprint();
    // The other bureau's administrator sees neither campaign.
    for campaign in [&bureau_campaign, &district_campaign] {
        for path in ["", "/report", "/findings"] {
            w.app
                .get(
                    &format!("/api/v1/inspections/{campaign}{path}"),
                    w.token("other-admin"),
                )
                .await
                .assert_problem(404, "not_found");
        }
    }
    let res = w
        .app
        .get("/api/v1/inspections", w.token("other-admin"))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["items"], json!([]));
    // The bureau's inspector does not read the district's campaign, nor work on it.
    for path in ["", "/report", "/findings"] {
        w.app
            .get(
                &format!("/api/v1/inspections/{district_campaign}{path}"),
                w.token("inspector"),
            )
            .await
            .assert_problem(404, "not_found");
    }
    w.app
        .post(
            &format!("/api/v1/inspections/{district_campaign}/findings"),
            w.token("inspector"),
            json!({"unit_id": d.bureau, "category": "no_rules", "description": "x"}),
        )
        .await
        .assert_problem(404, "not_found");
    w.app
        .post(
            &format!("/api/v1/inspections/{district_campaign}/findings/{finding}/rectifications"),
            w.token("inspector"),
            json!({"description": "x", "deadline": "2027-06-30"}),
        )
        .await
        .assert_problem(404, "not_found");
    patch_if_match(
        &w.app,
        &format!("/api/v1/inspections/{district_campaign}/findings/{finding}"),
        w.token("inspector"),
        "\"1\"",
        json!({"category": "no_rules"}),
    )
    .await
    .assert_problem(404, "not_found");
    // A member without a role reads nothing.
    for path in ["", "/report", "/findings"] {
        w.app
            .get(
                &format!("/api/v1/inspections/{bureau_campaign}{path}"),
                w.token("clerk"),
            )
            .await
            .assert_problem(403, "forbidden");
    }
    w.app
        .get("/api/v1/inspections", w.token("clerk"))
        .await
        .assert_problem(403, "forbidden");
    // The other bureau's administrator does not touch the bureau's rectification.
    patch_if_match(
        &w.app,
        &format!(
            "/api/v1/inspections/{district_campaign}/findings/{finding}/rectifications/{item}"
        ),
        w.token("other-admin"),
        "\"1\"",
        json!({"status": "in_progress"}),
    )
    .await
    .assert_problem(404, "not_found");
    // Unknown campaigns.
    for path in ["", "/report", "/findings"] {
        w.app
            .get(
                &format!("/api/v1/inspections/{}{path}", Uuid::new_v4()),
                w.token("admin"),
            )
            .await
            .assert_problem(404, "not_found");
    }
    assert_eq!(w.app.fingerprint(), before);

    // Who sees which campaign.
    let listed = |res: &Resp| -> BTreeSet<String> {
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let res = w.app.get("/api/v1/inspections", w.token("inspector")).await;
    assert_eq!(listed(&res), set(&[bureau_campaign.as_str()]));
    let res = w
        .app
        .get("/api/v1/inspections", w.token("unit-admin"))
        .await;
    assert_eq!(listed(&res), set(&[bureau_campaign.as_str()]));
    for who in ["admin", "d-inspector"] {
        let res = w.app.get("/api/v1/inspections", w.token(who)).await;
        assert_eq!(
            listed(&res),
            set(&[bureau_campaign.as_str(), district_campaign.as_str()]),
            "{who}"
        );
    }
    let res = w
        .app
        .get("/api/v1/inspections?limit=1", w.token("admin"))
        .await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
    assert!(res.body["next_cursor"].is_string(), "{}", res.body);
    // The bureau's unit administrator reads the bureau's campaign, and the
    // district's findings about the bureau (not the campaign itself).
    for path in ["", "/report", "/findings"] {
        let res = w
            .app
            .get(
                &format!("/api/v1/inspections/{bureau_campaign}{path}"),
                w.token("unit-admin"),
            )
            .await;
        assert_eq!(res.status.as_u16(), 200, "{path}: {}", res.body);
    }
    let res = w
        .app
        .get(
            &format!("/api/v1/inspections/{district_campaign}/findings"),
            w.token("unit-admin"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(listed(&res), set(&[finding.as_str()]));
    w.app
        .get(
            &format!("/api/v1/inspections/{district_campaign}/report"),
            w.token("unit-admin"),
        )
        .await
        .assert_problem(404, "not_found");

    // The same Idempotency-Key and body answers the first campaign again.
    let key_req = || {
        TestRequest::post()
            .uri("/api/v1/inspections")
            .insert_header(("authorization", format!("Bearer {}", w.token("inspector"))))
            .insert_header(("idempotency-key", "campaign-2027-05"))
            .set_json(body(w.branch))
    };
    let first = w.app.send(key_req()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let count = w.app.count("inspections");
    let again = w.app.send(key_req()).await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(w.app.count("inspections"), count);
}
