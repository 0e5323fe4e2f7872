#![allow(clippy::unwrap_used, clippy::expect_used)]
//! May Day 2027, end to end through the API: a district with two bureaus, a
//! second-level unit and departments; one policy for the whole district; the
//! 2027 holidays loaded by the administrator; then the holiday itself: a clerk
//! reports, a section chief is approved in two steps (the second by the
//! principal's delegate), the principal goes abroad with a substitute and the
//! district's deputy in charge approves, late and retroactive filings are
//! flagged, one filing is rejected, a trip is extended, a clerk does not come
//! back on time. Then the roster, the inboxes, the feeds, the webhooks and the
//! audit chain must all tell the same story.
//!
//! [`district`] sets the scene (units, accounts, leaders, policy, holidays, a
//! webhook receiver, each checked as it is made). Each phase of the story is a
//! function that checks what happens as it plays and returns the filing it
//! made; [`may_day`] plays phases 1 to 7 in order, [`two_come_back`] and
//! [`sweep`] carry the story on. Each test plays the phases it needs on its own
//! database (so they run in parallel):
//!
//! - `the_administrator_sets_up_the_district_its_policy_and_the_2027_holidays`:
//!   the set-up alone, which publishes no event.
//! - `a_clerk_reports_a_may_day_trip_and_is_recorded_at_once`: phase 1.
//! - `a_section_chief_is_approved_in_two_steps_the_second_by_the_delegate`:
//!   phase 2.
//! - `the_principal_going_abroad_needs_a_substitute_and_the_deputy_in_charge_approves`:
//!   phase 3.
//! - `late_and_retroactive_filings_are_flagged`: phases 4a and 4b.
//! - `a_refusal_needs_a_reason_and_the_refused_trip_cannot_begin`: phase 5.
//! - `an_extension_on_the_road_goes_through_the_same_chain_and_the_delegate`:
//!   phases 2 and 6.
//! - `the_roster_on_may_day_shows_who_is_away_roughly_where_and_who_stands_in`:
//!   phases 1 to 7, then the rosters of 2 May.
//! - `after_the_returns_only_the_hong_kong_trip_waits_and_each_ledger_holds_its_units`:
//!   the story to the returns, then the inboxes and the ledgers.
//! - `a_clerk_who_does_not_come_back_is_told_once_then_reported_overdue`: the
//!   story to the sweep, then the clerk's feed.
//! - `the_feeds_webhooks_and_audit_chain_tell_the_same_story`: the whole
//!   story, then every other feed, the webhook deliveries and the audit chain.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use uuid::Uuid;
use whereabouts_api::worker;

/// "Now" for the whole app: Tuesday 20 April 2027, 10:00 in Beijing.
const NOW: &str = "2027-04-20T02:00:00Z";
/// The eve of May Day, 10:00 in Beijing: departures for 1 May may be reported from then.
const EVE: &str = "2027-04-30T02:00:00Z";
const WEBHOOK_SECRET: &str = "may-day-2027-webhook-secret";

/// What the receiver saw: each request's headers and body.
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

/// A one-thread HTTP receiver that records every request and answers 200.
fn receiver() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                if let Some((k, v)) = trimmed.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push((headers, body));
            write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
        }
    });
    (url, seen)
}

/// The people of the story: ids and access tokens by login.
#[derive(Default)]
struct Cast {
    ids: HashMap<&'static str, Uuid>,
    tokens: HashMap<&'static str, String>,
}

impl Cast {
    fn id(&self, login: &str) -> Uuid {
        *self
            .ids
            .get(login)
            .unwrap_or_else(|| panic!("nobody called {login}"))
    }

    fn token(&self, login: &str) -> &str {
        self.tokens
            .get(login)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no token for {login}"))
    }

    /// Creates an account as the administrator and logs it in.
    async fn hire(
        &mut self,
        app: &TestApp,
        login: &'static str,
        name: &str,
        unit: Uuid,
        rank: &str,
        position: &str,
    ) {
        let res = app
            .post(
                "/api/v1/accounts",
                &app.admin,
                json!({"login": login, "display_name": name, "unit_id": unit, "employee_no": format!("E-{login}"),
                       "mobile": "13800138000", "rank": rank, "position": position, "party_member": true,
                       "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status.as_u16(), 201, "{login}: {}", res.body);
        assert_eq!(res.body["rank"], rank, "{}", res.body);
        assert_eq!(res.body["position"], position, "{}", res.body);
        self.ids.insert(login, res.id("/id"));
        self.tokens.insert(login, app.login(login, PASSWORD).await);
    }
}

fn trip(kind: &str, destination: &str, depart: &str, ret: &str) -> Value {
    json!({"kind": kind, "purpose": "visit_relatives", "reason": "May Day with the family",
        "destinations": [{"code": destination}], "depart_on": depart, "return_on": ret,
        "contact_phone": "13800138000"})
}

async fn file(app: &TestApp, token: &str, draft: Value) -> Resp {
    app.post(
        "/api/v1/filings",
        token,
        json!({"draft": draft, "submit": true}),
    )
    .await
}

async fn act(app: &TestApp, token: &str, filing: &str, action: &str, body: Value) -> Resp {
    let res = app
        .post(&format!("/api/v1/filings/{filing}/{action}"), token, body)
        .await;
    assert_eq!(res.status.as_u16(), 200, "{action}: {}", res.body);
    res
}

async fn leaders(app: &TestApp, unit: Uuid, principal: Uuid, deputies: Value) {
    let res = app
        .put(
            &format!("/api/v1/units/{unit}/leaders"),
            &app.admin,
            json!({"principal_id": principal, "deputies": deputies}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
}

/// The ids of the filings awaiting this account's decision.
async fn inbox(app: &TestApp, token: &str) -> Vec<String> {
    let res = app.get("/api/v1/approvals/pending", token).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn history(app: &TestApp, token: &str, filing: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/api/v1/filings/{filing}/events"), token)
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    res.body.as_array().unwrap().clone()
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// The feed of an account, newest first, as (kind, filing id, data).
async fn feed(app: &TestApp, token: &str) -> Vec<(String, String, Value)> {
    let res = app.get("/api/v1/me/notifications", token).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["filing_id"].as_str().unwrap_or_default().to_owned(),
                n["data"].clone(),
            )
        })
        .collect()
}

fn has_error(res: &Resp, code: &str, field: &str) -> bool {
    res.body["errors"].as_array().is_some_and(|errors| {
        errors
            .iter()
            .any(|e| e["code"] == code && e["field"] == field)
    })
}

/// The district of the story, set up and ready for May Day.
struct World {
    app: TestApp,
    cast: Cast,
    district: Uuid,
    bureau_a: Uuid,
    dept_a1: Uuid,
    bureau_b: Uuid,
    /// Every webhook event published from the set-up on, in order.
    published: Vec<&'static str>,
    /// What the administrator's webhook receiver saw.
    seen: Seen,
}

impl World {
    /// An account's id, as text.
    fn id(&self, login: &str) -> String {
        self.cast.id(login).to_string()
    }

    /// Accounts' ids, as a JSON array.
    fn ids(&self, logins: &[&str]) -> Value {
        json!(logins.iter().map(|l| self.cast.id(l)).collect::<Vec<_>>())
    }
}

/// The filings of the whole story, by what they are.
struct Story {
    /// The clerk's trip to Shanghai, reported (phase 1).
    clerk_trip: String,
    /// The section chief's trip to Suzhou, approved then extended (phases 2, 6).
    section_trip: String,
    /// The principal's trip to Japan (phase 3).
    principal_trip: String,
    /// The Hong Kong trip asked for late, still pending (phase 4a).
    hk_trip: String,
    /// The trip to Tianjin filed after leaving (phase 4b).
    retro_trip: String,
    /// The field auditor's refused trip to Shenzhen (phase 5).
    refused_trip: String,
}

/// The administrator subscribes a webhook, loads the 2027 holidays, builds the
/// district, hires its people, names its leaders and sets one policy for it.
async fn district() -> World {
    let app = TestApp::with_config(|c| c.fixed_now = NOW.parse().ok()).await;
    let admin = app.admin.clone();
    // Every webhook event published from here on, in order.
    let published: Vec<&'static str> = Vec::new();

    // ---- The administrator subscribes to every event, before anything happens.
    let (url, seen) = receiver();
    let hook = app
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": url, "secret": WEBHOOK_SECRET}),
        )
        .await;
    assert_eq!(hook.status.as_u16(), 201, "{}", hook.body);
    assert_eq!(hook.body["events"], json!([]), "empty: every event");
    assert_eq!(hook.body["secret"], WEBHOOK_SECRET);

    // ---- The 2027 calendar: the core ships 2020-2026 only.
    let days: Vec<Value> = (1..=5)
        .map(|d| json!({"date": format!("2027-05-0{d}"), "kind": "holiday", "name": "劳动节"}))
        .collect();
    let res = app
        .put("/api/v1/calendar/2027", &admin, json!({"days": days}))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["source"], "custom");
    assert_eq!(res.body["days"].as_array().unwrap().len(), 5);

    // ---- The district and its units.
    let district = app.unit("dongcheng", "jurisdiction", None).await;
    let bureau_a = app.unit("finance-bureau", "unit", Some(district)).await;
    let dept_a1 = app
        .unit("budget-office", "department", Some(bureau_a))
        .await;
    let subunit = app.unit("audit-centre", "subunit", Some(bureau_a)).await;
    let dept_as1 = app.unit("field-audit", "department", Some(subunit)).await;
    let bureau_b = app.unit("transport-bureau", "unit", Some(district)).await;
    let dept_b1 = app.unit("road-office", "department", Some(bureau_b)).await;

    let mut cast = Cast::default();
    // The district's own leadership and its inspector.
    cast.hire(
        &app,
        "d-principal",
        "Sun Li",
        district,
        "bureau",
        "principal",
    )
    .await;
    cast.hire(&app, "d-deputy-b", "Ma Tao", district, "bureau", "deputy")
        .await;
    cast.hire(&app, "d-deputy-a", "Hu Jun", district, "bureau", "deputy")
        .await;
    cast.hire(&app, "d-inspector", "Guo Min", district, "section", "staff")
        .await;
    // The finance bureau.
    cast.hire(
        &app,
        "a-principal",
        "Zhao Gang",
        bureau_a,
        "bureau",
        "principal",
    )
    .await;
    cast.hire(
        &app,
        "a-deputy",
        "Qian Hong",
        bureau_a,
        "division",
        "deputy",
    )
    .await;
    cast.hire(&app, "a-admin", "Feng Yu", bureau_a, "section", "staff")
        .await;
    cast.hire(
        &app,
        "a1-head",
        "Zhou Yan",
        dept_a1,
        "section",
        "department_head",
    )
    .await;
    cast.hire(&app, "a1-section", "Li Ming", dept_a1, "section", "staff")
        .await;
    cast.hire(&app, "a1-clerk", "Chen Jing", dept_a1, "clerk", "staff")
        .await;
    cast.hire(
        &app,
        "as-head",
        "Wu Qiang",
        subunit,
        "division",
        "department_head",
    )
    .await;
    cast.hire(
        &app,
        "as1-head",
        "Xu Ping",
        dept_as1,
        "section",
        "department_head",
    )
    .await;
    cast.hire(
        &app,
        "as1-section",
        "Yang Fan",
        dept_as1,
        "section",
        "staff",
    )
    .await;
    // The transport bureau.
    cast.hire(
        &app,
        "b-principal",
        "Lin Bo",
        bureau_b,
        "bureau",
        "principal",
    )
    .await;
    cast.hire(&app, "b-deputy", "He Wei", bureau_b, "division", "deputy")
        .await;
    cast.hire(
        &app,
        "b1-head",
        "Deng Hui",
        dept_b1,
        "section",
        "department_head",
    )
    .await;
    cast.hire(&app, "b1-section", "Luo Xin", dept_b1, "section", "staff")
        .await;
    cast.hire(&app, "b1-staff", "Tang Lei", dept_b1, "section", "staff")
        .await;

    // Leadership. The district's first deputy looks after the transport
    // bureau, the second after the finance bureau.
    leaders(
        &app,
        district,
        cast.id("d-principal"),
        json!([
            {"account_id": cast.id("d-deputy-b"), "in_charge_of": [bureau_b]},
            {"account_id": cast.id("d-deputy-a"), "in_charge_of": [bureau_a]}
        ]),
    )
    .await;
    leaders(
        &app,
        bureau_a,
        cast.id("a-principal"),
        json!([
            {"account_id": cast.id("a-deputy"), "in_charge_of": [dept_a1, subunit]}
        ]),
    )
    .await;
    leaders(&app, dept_a1, cast.id("a1-head"), json!([])).await;
    leaders(&app, subunit, cast.id("as-head"), json!([])).await;
    leaders(&app, dept_as1, cast.id("as1-head"), json!([])).await;
    leaders(
        &app,
        bureau_b,
        cast.id("b-principal"),
        json!([
            {"account_id": cast.id("b-deputy"), "in_charge_of": [dept_b1]}
        ]),
    )
    .await;
    leaders(&app, dept_b1, cast.id("b1-head"), json!([])).await;
    app.grant(cast.id("a-admin"), "unit_admin", bureau_a).await;
    app.grant(cast.id("d-inspector"), "inspector", district)
        .await;

    // ---- One policy for the whole district, inherited by every unit below.
    let policy = json!({"rules": [
        {"id": "principal-abroad", "applies_to": {"positions": ["principal"]},
         "trip_kinds": ["abroad_private", "hk_macau_private", "taiwan_private"],
         "requirement": "approval", "approvers": [{"kind": "superior_deputy_in_charge"}],
         "filed_with": [{"kind": "unit", "unit_id": district}], "form": "online_and_written",
         "notice": {"days": 5, "working_days": true}, "return_report": {"required": true, "within_hours": 24},
         "max_days": 15, "documents_required": true},
        {"id": "leaders", "applies_to": {"positions": ["principal", "deputy"]}, "requirement": "report",
         "form": "online", "notice": {"days": 1, "working_days": false},
         "return_report": {"required": true, "within_hours": 24}},
        {"id": "cross-border", "trip_kinds": ["abroad_private", "hk_macau_private", "taiwan_private"],
         "requirement": "approval", "approvers": [{"kind": "department_head"}, {"kind": "deputy_in_charge"}],
         "form": "online", "notice": {"days": 10, "working_days": true},
         "return_report": {"required": true, "within_hours": 24}, "documents_required": true},
        {"id": "clerks", "applies_to": {"ranks": ["clerk"]}, "trip_kinds": ["leave_jurisdiction"],
         "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": true},
         "return_report": {"required": true, "within_hours": 24}},
        {"id": "section", "applies_to": {"ranks": ["section"], "positions": ["staff", "department_head"]},
         "trip_kinds": ["leave_jurisdiction"], "requirement": "approval",
         "approvers": [{"kind": "department_head"}, {"kind": "unit_principal"}], "form": "online",
         "notice": {"days": 3, "working_days": true}, "return_report": {"required": true, "within_hours": 24},
         "max_days": 15},
        {"id": "others", "requirement": "approval",
         "approvers": [{"kind": "deputy_in_charge"}, {"kind": "unit_principal"}], "form": "online",
         "notice": {"days": 3, "working_days": true}}
    ]});
    let res = app
        .put(&format!("/api/v1/units/{district}/policy"), &admin, policy)
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["version"], 1, "{}", res.body);
    // The department of the second-level unit is covered by the district's policy.
    let res = app
        .get(
            &format!("/api/v1/units/{dept_as1}/effective-policy"),
            &admin,
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["source_unit_id"], district.to_string());
    assert_eq!(res.body["version"], 1);

    World {
        app,
        cast,
        district,
        bureau_a,
        dept_a1,
        bureau_b,
        published,
        seen,
    }
}

/// Phase 1: a clerk reports a May Day trip to Shanghai; it is recorded at once,
/// with no approval, under the district's `clerks` rule and the holiday calendar.
async fn a_clerk_reports(w: &mut World) -> String {
    let district = w.district;
    let res = file(
        &w.app,
        w.cast.token("a1-clerk"),
        trip("leave_jurisdiction", "310000", "2027-05-01", "2027-05-05"),
    )
    .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    w.published.push("filing.submit");
    let clerk_trip = res.str("/id");
    assert_eq!(res.body["status"], "recorded");
    assert_eq!(res.body["requirement"], "report");
    assert_eq!(res.body["current_step"], Value::Null);
    assert_eq!(res.body["approvals"], json!([]));
    assert_eq!(res.body["late"], false);
    assert_eq!(res.body["departed_before_approval"], false);
    assert_eq!(res.body["assessment"]["rule_id"], "clerks");
    assert_eq!(
        res.body["assessment"]["policy_unit_id"],
        district.to_string()
    );
    assert_eq!(
        res.body["assessment"]["period"], "holiday",
        "1-5 May are holidays by the 2027 calendar"
    );
    // One working day before Saturday 1 May: Friday 30 April, 18:00 in Beijing.
    assert_eq!(
        res.body["assessment"]["submit_by"],
        "2027-04-30T18:00:00+08:00"
    );
    assert_eq!(res.body["submit_by"], "2027-04-30T10:00:00Z");
    assert_eq!(
        res.body["assessment"]["return_report_due"],
        "2027-05-07T00:00:00+08:00"
    );

    clerk_trip
}

/// Phase 2: the finance bureau's principal delegates to his deputy; a section
/// chief's trip to Suzhou is approved by the head of department, then by the
/// delegate on the principal's behalf.
async fn a_section_chief_is_approved(w: &mut World) -> String {
    let res = w.app
        .put(
            "/api/v1/me/delegation",
            w.cast.token("a-principal"),
            json!({"delegate_id": w.cast.id("a-deputy"), "starts_at": "2027-04-20T00:00:00Z", "ends_at": "2027-05-07T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["delegate_id"], w.id("a-deputy"));

    // A section chief files a trip to Suzhou: head of department, then unit principal.
    let res = file(
        &w.app,
        w.cast.token("a1-section"),
        trip("leave_jurisdiction", "320500", "2027-05-01", "2027-05-03"),
    )
    .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    w.published.push("filing.submit");
    let section_trip = res.str("/id");
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["current_step"], 1);
    assert_eq!(res.body["assessment"]["rule_id"], "section");
    assert_eq!(res.body["late"], false);
    // Three working days before 1 May: 30, 29, 28 April.
    assert_eq!(res.body["submit_by"], "2027-04-28T10:00:00Z");
    let approvals = res.body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 2, "{}", res.body);
    assert_eq!(approvals[0]["round"], 0);
    assert_eq!(approvals[0]["step"], 1);
    assert_eq!(approvals[0]["rule"], json!({"kind": "department_head"}));
    assert_eq!(approvals[0]["candidates"], w.ids(&["a1-head"]));
    assert_eq!(approvals[1]["step"], 2);
    assert_eq!(approvals[1]["rule"], json!({"kind": "unit_principal"}));
    assert_eq!(approvals[1]["candidates"], w.ids(&["a-principal"]));

    assert_eq!(
        inbox(&w.app, w.cast.token("a1-head")).await,
        vec![section_trip.clone()]
    );
    assert!(inbox(&w.app, w.cast.token("a-principal")).await.is_empty());
    assert!(inbox(&w.app, w.cast.token("a-deputy")).await.is_empty());

    let res = act(
        &w.app,
        w.cast.token("a1-head"),
        &section_trip,
        "approve",
        json!({"comment": "Enjoy the holiday"}),
    )
    .await;
    w.published.push("filing.approve");
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["current_step"], 2);
    assert_eq!(res.body["approvals"][0]["decision"], "approved");
    assert_eq!(res.body["approvals"][0]["decided_by"], w.id("a1-head"));
    assert_eq!(res.body["approvals"][0]["decided_for"], Value::Null);
    assert!(inbox(&w.app, w.cast.token("a1-head")).await.is_empty());
    assert_eq!(
        inbox(&w.app, w.cast.token("a-principal")).await,
        vec![section_trip.clone()]
    );
    assert_eq!(
        inbox(&w.app, w.cast.token("a-deputy")).await,
        vec![section_trip.clone()],
        "the delegate sees what awaits the principal"
    );

    let res = act(
        &w.app,
        w.cast.token("a-deputy"),
        &section_trip,
        "approve",
        json!({}),
    )
    .await;
    w.published.push("filing.approve");
    assert_eq!(res.body["status"], "approved");
    assert_eq!(res.body["current_step"], Value::Null);
    assert_eq!(res.body["approved_at"], "2027-04-20T02:00:00Z");
    assert_eq!(res.body["approvals"][1]["decision"], "approved");
    assert_eq!(res.body["approvals"][1]["decided_by"], w.id("a-deputy"));
    assert_eq!(res.body["approvals"][1]["decided_for"], w.id("a-principal"));
    assert_eq!(res.body["departed_before_approval"], false);
    let events = history(&w.app, w.cast.token("a1-section"), &section_trip).await;
    assert_eq!(
        actions(&events),
        vec!["create", "submit", "approve", "approve"]
    );
    assert_eq!(events[2]["actor_id"], w.id("a1-head"));
    assert_eq!(events[2]["on_behalf_of"], Value::Null);
    assert_eq!(events[2]["comment"], "Enjoy the holiday");
    assert_eq!(events[3]["actor_id"], w.id("a-deputy"));
    assert_eq!(events[3]["on_behalf_of"], w.id("a-principal"));
    assert_eq!(events[3]["from_status"], "pending");
    assert_eq!(events[3]["to_status"], "approved");

    section_trip
}

/// Phase 3: the principal goes to Japan: without a substitute nothing is filed;
/// with one, the district deputy in charge of the finance bureau approves, and
/// the district (which it is filed with) can read it.
async fn the_principal_goes_abroad(w: &mut World) -> String {
    let district = w.district;
    let filings_before = w.app.count("filings");
    let outbox_before = w.app.count("outbox");
    let res = file(
        &w.app,
        w.cast.token("a-principal"),
        trip("abroad_private", "JP", "2027-05-01", "2027-05-05"),
    )
    .await;
    res.assert_problem(422, "validation_failed");
    assert!(
        has_error(&res, "substitute_required", "substitute_id"),
        "{}",
        res.body
    );
    assert_eq!(w.app.count("filings"), filings_before);
    assert_eq!(w.app.count("outbox"), outbox_before);

    let mut abroad = trip("abroad_private", "JP", "2027-05-01", "2027-05-05");
    abroad["substitute_id"] = json!(w.cast.id("a-deputy"));
    let res = file(&w.app, w.cast.token("a-principal"), abroad).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    w.published.push("filing.submit");
    let principal_trip = res.str("/id");
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["current_step"], 1);
    assert_eq!(res.body["assessment"]["rule_id"], "principal-abroad");
    assert_eq!(res.body["assessment"]["form"], "online_and_written");
    assert_eq!(
        res.body["assessment"]["documents_required"],
        json!(["passport"])
    );
    assert_eq!(
        res.body["filed_with"],
        json!([{"kind": "unit", "unit_id": district}])
    );
    // Five working days before 1 May: 30, 29, 28, 27, 26 April.
    assert_eq!(res.body["submit_by"], "2027-04-26T10:00:00Z");
    assert_eq!(res.body["late"], false);
    let approvals = res.body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1, "{}", res.body);
    assert_eq!(
        approvals[0]["rule"],
        json!({"kind": "superior_deputy_in_charge"})
    );
    assert_eq!(
        approvals[0]["candidates"],
        w.ids(&["d-deputy-a"]),
        "the district deputy in charge of the finance bureau, not the first deputy"
    );
    assert!(inbox(&w.app, w.cast.token("d-deputy-b")).await.is_empty());
    assert_eq!(
        inbox(&w.app, w.cast.token("d-deputy-a")).await,
        vec![principal_trip.clone()]
    );
    let res = act(
        &w.app,
        w.cast.token("d-deputy-a"),
        &principal_trip,
        "approve",
        json!({"comment": "Hand over to your deputy before leaving"}),
    )
    .await;
    w.published.push("filing.approve");
    assert_eq!(res.body["status"], "approved");
    assert_eq!(res.body["approvals"][0]["decided_by"], w.id("d-deputy-a"));
    assert_eq!(res.body["approvals"][0]["decided_for"], Value::Null);
    assert_eq!(
        res.body["approvals"][0]["comment"],
        "Hand over to your deputy before leaving"
    );
    // The district, which it is filed with, reads it; another bureau does not.
    let res = w
        .app
        .get(
            &format!("/api/v1/filings/{principal_trip}"),
            w.cast.token("d-principal"),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    w.app
        .get(
            &format!("/api/v1/filings/{principal_trip}"),
            w.cast.token("b1-section"),
        )
        .await
        .assert_problem(404, "not_found");

    principal_trip
}

/// Phase 4a: Hong Kong over May Day, asked for after the ten-working-day notice:
/// flagged late, left pending at its first step.
async fn hong_kong_inside_the_notice(w: &mut World) -> String {
    let res = file(
        &w.app,
        w.cast.token("b1-section"),
        trip("hk_macau_private", "HK", "2027-05-01", "2027-05-05"),
    )
    .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    w.published.push("filing.submit");
    let hk_trip = res.str("/id");
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["current_step"], 1);
    assert_eq!(res.body["assessment"]["rule_id"], "cross-border");
    assert_eq!(
        res.body["assessment"]["documents_required"],
        json!(["hk_macau_pass"])
    );
    // Ten working days before 1 May is Monday 19 April.
    assert_eq!(res.body["submit_by"], "2027-04-19T10:00:00Z");
    assert_eq!(res.body["late"], true);
    assert_eq!(res.body["departed_before_approval"], false);
    assert_eq!(res.body["approvals"][0]["candidates"], w.ids(&["b1-head"]));
    assert_eq!(
        res.body["approvals"][1]["rule"],
        json!({"kind": "deputy_in_charge"})
    );
    assert_eq!(res.body["approvals"][1]["candidates"], w.ids(&["b-deputy"]));

    hk_trip
}

/// Phase 4b: left for Tianjin on Sunday, files on Tuesday: a reason is required,
/// and the trip is flagged late and begun before its approval.
async fn back_from_tianjin_before_filing(w: &mut World) -> String {
    let mut retro = trip("leave_jurisdiction", "120000", "2027-04-18", "2027-04-21");
    let before = w.app.count("filings");
    let res = file(&w.app, w.cast.token("b1-staff"), retro.clone()).await;
    res.assert_problem(422, "validation_failed");
    assert!(
        has_error(&res, "late_reason_required", "late_reason"),
        "{}",
        res.body
    );
    assert_eq!(w.app.count("filings"), before);
    retro["late_reason"] = json!("My father was taken to hospital on Sunday morning");
    let res = file(&w.app, w.cast.token("b1-staff"), retro).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    w.published.push("filing.submit");
    let retro_trip = res.str("/id");
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["assessment"]["period"], "normal");
    assert_eq!(res.body["submit_by"], "2027-04-14T10:00:00Z");
    assert_eq!(res.body["late"], true);
    assert_eq!(res.body["departed_before_approval"], true);
    assert_eq!(res.body["approvals"][0]["candidates"], w.ids(&["b1-head"]));
    assert_eq!(
        res.body["approvals"][1]["candidates"],
        w.ids(&["b-principal"])
    );
    act(
        &w.app,
        w.cast.token("b1-head"),
        &retro_trip,
        "approve",
        json!({}),
    )
    .await;
    w.published.push("filing.approve");
    let res = act(
        &w.app,
        w.cast.token("b-principal"),
        &retro_trip,
        "approve",
        json!({}),
    )
    .await;
    w.published.push("filing.approve");
    assert_eq!(res.body["status"], "approved");
    assert_eq!(res.body["late"], true);
    assert_eq!(
        res.body["departed_before_approval"], true,
        "approved after the trip began"
    );
    let res = act(
        &w.app,
        w.cast.token("b1-staff"),
        &retro_trip,
        "depart",
        json!({}),
    )
    .await;
    w.published.push("filing.depart");
    assert_eq!(res.body["status"], "away");
    let res = act(
        &w.app,
        w.cast.token("b1-staff"),
        &retro_trip,
        "return",
        json!({"report": "Father is fine, back at work"}),
    )
    .await;
    w.published.push("filing.return");
    assert_eq!(res.body["status"], "returned");

    retro_trip
}

/// Phase 5: a field auditor asks for an assessment (which changes nothing), then
/// files and is refused: a refusal needs a comment, and a refused trip cannot begin.
async fn a_field_auditor_is_refused(w: &mut World) -> String {
    let shenzhen = trip("leave_jurisdiction", "440300", "2027-05-01", "2027-05-05");
    let before = w.app.count("filings");
    let res = w
        .app
        .post(
            "/api/v1/assessments",
            w.cast.token("as1-section"),
            json!({"draft": shenzhen}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["valid"], true, "{}", res.body);
    assert_eq!(res.body["requirement"], "approval");
    assert_eq!(res.body["approvers"][0]["account_id"], w.id("as1-head"));
    assert_eq!(
        res.body["approvers"][1]["account_id"],
        w.id("a-principal"),
        "the unit of a second-level unit's department is the bureau"
    );
    assert_eq!(
        w.app.count("filings"),
        before,
        "an assessment changes nothing"
    );
    let res = file(&w.app, w.cast.token("as1-section"), shenzhen).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    w.published.push("filing.submit");
    let refused_trip = res.str("/id");
    assert_eq!(
        inbox(&w.app, w.cast.token("as1-head")).await,
        vec![refused_trip.clone()]
    );
    let res = w
        .app
        .post(
            &format!("/api/v1/filings/{refused_trip}/reject"),
            w.cast.token("as1-head"),
            json!({}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert!(has_error(&res, "required", "comment"), "{}", res.body);
    let res = act(
        &w.app,
        w.cast.token("as1-head"),
        &refused_trip,
        "reject",
        json!({"comment": "The audit of the district hospital runs through May Day"}),
    )
    .await;
    w.published.push("filing.reject");
    assert_eq!(res.body["status"], "rejected");
    assert_eq!(res.body["current_step"], Value::Null);
    assert_eq!(res.body["approvals"][0]["decision"], "rejected");
    assert_eq!(res.body["approvals"][0]["decided_by"], w.id("as1-head"));
    assert_eq!(res.body["approvals"][1]["decision"], Value::Null);
    let events = history(&w.app, w.cast.token("as1-section"), &refused_trip).await;
    assert_eq!(actions(&events), vec!["create", "submit", "reject"]);
    assert_eq!(
        events[2]["comment"],
        "The audit of the district hospital runs through May Day"
    );
    w.app
        .post(
            &format!("/api/v1/filings/{refused_trip}/depart"),
            w.cast.token("as1-section"),
            json!({}),
        )
        .await
        .assert_problem(409, "invalid_transition");

    refused_trip
}

/// Phase 6 (after phase 2): the eve of May Day; the section chief leaves and asks
/// for two more days; the same chain decides, the delegate again for the
/// principal. Moves the app's clock to [`EVE`] for good.
async fn the_section_chief_extends_on_the_road(w: &mut World, section_trip: &str) {
    let section_trip = section_trip.to_owned();
    // more days; the same chain decides.
    w.app.set_now(EVE);
    let res = act(
        &w.app,
        w.cast.token("a1-section"),
        &section_trip,
        "depart",
        json!({}),
    )
    .await;
    w.published.push("filing.depart");
    assert_eq!(res.body["status"], "away");
    assert_eq!(res.body["departed_at"], EVE);
    let res = act(
        &w.app,
        w.cast.token("a1-section"),
        &section_trip,
        "extensions",
        json!({"new_return_on": "2027-05-05", "reason": "No train tickets before the 5th"}),
    )
    .await;
    w.published.push("filing.extend");
    assert_eq!(res.body["status"], "away");
    assert_eq!(res.body["extension_pending"], true);
    assert_eq!(res.body["current_step"], 1);
    assert_eq!(res.body["return_on"], "2027-05-03");
    assert_eq!(res.body["extensions"][0]["round"], 1);
    assert_eq!(res.body["extensions"][0]["status"], "pending");
    assert_eq!(
        res.body["extensions"][0]["previous_return_on"],
        "2027-05-03"
    );
    let approvals = res.body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 4, "{}", res.body);
    assert_eq!(approvals[2]["round"], 1);
    assert_eq!(approvals[2]["step"], 1);
    assert_eq!(approvals[2]["candidates"], w.ids(&["a1-head"]));
    assert_eq!(approvals[3]["round"], 1);
    assert_eq!(approvals[3]["step"], 2);
    assert_eq!(approvals[3]["candidates"], w.ids(&["a-principal"]));
    assert_eq!(
        inbox(&w.app, w.cast.token("a1-head")).await,
        vec![section_trip.clone()]
    );
    act(
        &w.app,
        w.cast.token("a1-head"),
        &section_trip,
        "approve",
        json!({}),
    )
    .await;
    w.published.push("filing.approve");
    let res = act(
        &w.app,
        w.cast.token("a-deputy"),
        &section_trip,
        "approve",
        json!({}),
    )
    .await;
    w.published.push("filing.approve");
    assert_eq!(res.body["status"], "away");
    assert_eq!(res.body["extension_pending"], false);
    assert_eq!(res.body["current_step"], Value::Null);
    assert_eq!(res.body["return_on"], "2027-05-05");
    assert_eq!(res.body["extensions"][0]["status"], "approved");
    assert_eq!(res.body["approvals"][3]["decided_by"], w.id("a-deputy"));
    assert_eq!(res.body["approvals"][3]["decided_for"], w.id("a-principal"));
    let events = history(&w.app, w.cast.token("a1-section"), &section_trip).await;
    assert_eq!(
        actions(&events),
        vec![
            "create", "submit", "approve", "approve", "depart", "extend", "approve", "approve"
        ]
    );
    assert_eq!(events[7]["on_behalf_of"], w.id("a-principal"));
}

/// Phase 7 (after phases 1, 3 and 6): the clerk and the principal leave too.
async fn the_clerk_and_the_principal_leave(w: &mut World, story: &Story) {
    let clerk_trip = story.clerk_trip.clone();
    let principal_trip = story.principal_trip.clone();
    let res = act(
        &w.app,
        w.cast.token("a1-clerk"),
        &clerk_trip,
        "depart",
        json!({}),
    )
    .await;
    w.published.push("filing.depart");
    assert_eq!(res.body["status"], "away");
    let res = act(
        &w.app,
        w.cast.token("a-principal"),
        &principal_trip,
        "depart",
        json!({}),
    )
    .await;
    w.published.push("filing.depart");
    assert_eq!(res.body["status"], "away");
}

/// After phase 7: two come back and report; the clerk does not.
async fn two_come_back(w: &mut World, story: &Story) {
    let section_trip = story.section_trip.clone();
    let principal_trip = story.principal_trip.clone();
    // ---- Two come back and report; the clerk does not.
    let res = act(
        &w.app,
        w.cast.token("a1-section"),
        &section_trip,
        "return",
        json!({"report": "Back from Suzhou"}),
    )
    .await;
    w.published.push("filing.return");
    assert_eq!(res.body["status"], "returned");
    assert_eq!(res.body["return_report"], "Back from Suzhou");
    let res = act(
        &w.app,
        w.cast.token("a-principal"),
        &principal_trip,
        "return",
        json!({}),
    )
    .await;
    w.published.push("filing.return");
    assert_eq!(res.body["status"], "returned");
}

/// The whole story up to 2 May, in order: phases 1 to 7.
async fn may_day(w: &mut World) -> Story {
    let clerk_trip = a_clerk_reports(w).await;
    let section_trip = a_section_chief_is_approved(w).await;
    let principal_trip = the_principal_goes_abroad(w).await;
    let hk_trip = hong_kong_inside_the_notice(w).await;
    let retro_trip = back_from_tianjin_before_filing(w).await;
    let refused_trip = a_field_auditor_is_refused(w).await;
    let story = Story {
        clerk_trip,
        section_trip,
        principal_trip,
        hk_trip,
        retro_trip,
        refused_trip,
    };
    the_section_chief_extends_on_the_road(w, &story.section_trip).await;
    the_clerk_and_the_principal_leave(w, &story).await;
    story
}

/// After [`two_come_back`], the sweep: the clerk's return report is due (told
/// once), then the return is overdue. Returns the time of the second sweep.
async fn sweep(w: &mut World) -> DateTime<Utc> {
    let config = (*w.app.state.config).clone();
    let mut conn = w.app.db.connect();
    let day_after: DateTime<Utc> = "2027-05-06T09:00:00+08:00".parse().unwrap();
    assert_eq!(worker::sweep(&mut conn, &config, day_after).unwrap(), 1);
    w.published.push("filing.return_report_due");
    assert_eq!(
        worker::sweep(&mut conn, &config, day_after).unwrap(),
        0,
        "nobody is told twice"
    );
    let two_days_after: DateTime<Utc> = "2027-05-07T09:00:00+08:00".parse().unwrap();
    assert_eq!(
        worker::sweep(&mut conn, &config, two_days_after).unwrap(),
        1
    );
    w.published.push("filing.overdue");
    two_days_after
}

/// The set-up holds: the webhook, the 2027 calendar, the policy inherited two
/// levels down; and none of it publishes an event.
#[actix_web::test]
async fn the_administrator_sets_up_the_district_its_policy_and_the_2027_holidays() {
    let w = district().await;
    assert_eq!(w.app.count("outbox"), 0, "setting up publishes no event");
}

/// A clerk's report needs no approval: recorded at once, with its deadlines.
#[actix_web::test]
async fn a_clerk_reports_a_may_day_trip_and_is_recorded_at_once() {
    let mut w = district().await;
    a_clerk_reports(&mut w).await;
}

/// A section chief needs the head of department, then the unit principal, whose
/// delegate decides for him and is recorded as doing so.
#[actix_web::test]
async fn a_section_chief_is_approved_in_two_steps_the_second_by_the_delegate() {
    let mut w = district().await;
    a_section_chief_is_approved(&mut w).await;
}

/// A principal going abroad must name a substitute, and is approved by the
/// superior unit's deputy in charge of his unit, not by another deputy.
#[actix_web::test]
async fn the_principal_going_abroad_needs_a_substitute_and_the_deputy_in_charge_approves() {
    let mut w = district().await;
    the_principal_goes_abroad(&mut w).await;
}

/// A filing inside the notice period is flagged late; one filed after leaving
/// needs a reason and is flagged as begun before its approval.
#[actix_web::test]
async fn late_and_retroactive_filings_are_flagged() {
    let mut w = district().await;
    hong_kong_inside_the_notice(&mut w).await;
    back_from_tianjin_before_filing(&mut w).await;
}

/// An assessment changes nothing; a refusal needs a comment, stops the chain,
/// and the refused trip cannot begin.
#[actix_web::test]
async fn a_refusal_needs_a_reason_and_the_refused_trip_cannot_begin() {
    let mut w = district().await;
    a_field_auditor_is_refused(&mut w).await;
}

/// An extension asked for on the road goes through the same chain again, the
/// delegate deciding for the principal, and moves the return date.
#[actix_web::test]
async fn an_extension_on_the_road_goes_through_the_same_chain_and_the_delegate() {
    let mut w = district().await;
    let section_trip = a_section_chief_is_approved(&mut w).await;
    the_section_chief_extends_on_the_road(&mut w, &section_trip).await;
}

/// The finance bureau's roster on 2 May: who is away, roughly where, who stands
/// in; the unit admin sees the same, others see their own units only.
#[actix_web::test]
async fn the_roster_on_may_day_shows_who_is_away_roughly_where_and_who_stands_in() {
    let mut w = district().await;
    let story = may_day(&mut w).await;
    let World {
        app,
        cast,
        district,
        bureau_a,
        dept_a1,
        bureau_b,
        ..
    } = w;
    let Story {
        clerk_trip,
        hk_trip,
        ..
    } = story;
    let id = |login: &str| cast.id(login).to_string();
    // ---- The finance bureau's roster on 2 May: who is away, roughly where, who stands in.
    let roster_path = format!("/api/v1/units/{bureau_a}/roster?on=2027-05-02");
    let roster = app.get(&roster_path, cast.token("a1-clerk")).await;
    assert_eq!(roster.status.as_u16(), 200, "{}", roster.body);
    assert_eq!(roster.body["on"], "2027-05-02");
    let items = roster.body["items"].as_array().unwrap();
    let who: Vec<&str> = items
        .iter()
        .map(|i| i["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        who,
        vec!["Chen Jing", "Li Ming", "Zhao Gang"],
        "by name; the refused trip is not there: {}",
        roster.body
    );
    assert_eq!(items[0]["account_id"], id("a1-clerk"));
    assert_eq!(items[0]["filing_id"], clerk_trip);
    assert_eq!(items[0]["status"], "away");
    assert_eq!(
        items[0]["destinations"],
        json!([{"code": "310000", "name_zh": "上海市", "name_en": "Shanghai"}])
    );
    assert_eq!(items[0]["substitute_id"], Value::Null);
    assert_eq!(items[1]["account_id"], id("a1-section"));
    assert_eq!(
        items[1]["destinations"],
        json!([{"code": "320000", "name_zh": "江苏省", "name_en": "Jiangsu"}]),
        "Suzhou shows as its province"
    );
    assert_eq!(
        items[1]["return_on"], "2027-05-05",
        "moved by the extension"
    );
    assert_eq!(items[1]["unit_id"], dept_a1.to_string());
    assert!(items[1].get("reason").is_none() && items[1].get("contact_phone").is_none());
    assert_eq!(items[2]["account_id"], id("a-principal"));
    assert_eq!(items[2]["status"], "away");
    assert_eq!(
        items[2]["destinations"],
        json!([{"code": "JP", "name_zh": "日本", "name_en": "Japan"}])
    );
    assert_eq!(items[2]["substitute_id"], id("a-deputy"));
    assert_eq!(items[2]["substitute_name"], "Qian Hong");
    // The unit admin sees the same; the transport bureau is not theirs.
    let same = app.get(&roster_path, cast.token("a-admin")).await;
    assert_eq!(same.body["items"], roster.body["items"]);
    app.get(
        &format!("/api/v1/units/{bureau_b}/roster?on=2027-05-02"),
        cast.token("a-admin"),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&roster_path, cast.token("b1-section"))
        .await
        .assert_problem(404, "not_found");
    // The district inspector sees the transport bureau: the Hong Kong trip still pending.
    let roster_b = app
        .get(
            &format!("/api/v1/units/{bureau_b}/roster?on=2027-05-02"),
            cast.token("d-inspector"),
        )
        .await;
    assert_eq!(roster_b.status.as_u16(), 200, "{}", roster_b.body);
    let items_b = roster_b.body["items"].as_array().unwrap();
    assert_eq!(items_b.len(), 1, "{}", roster_b.body);
    assert_eq!(items_b[0]["filing_id"], hk_trip);
    assert_eq!(items_b[0]["status"], "pending");
    assert_eq!(
        items_b[0]["destinations"],
        json!([{"code": "HK", "name_zh": "中国香港", "name_en": "Hong Kong"}])
    );
    let whole = app
        .get(
            &format!("/api/v1/units/{district}/roster?on=2027-05-02"),
            cast.token("d-inspector"),
        )
        .await;
    assert_eq!(
        whole.body["items"].as_array().unwrap().len(),
        4,
        "{}",
        whole.body
    );
}

/// Once two are back, only the Hong Kong trip waits, for its department head;
/// the unit admin's ledger holds the finance bureau, the inspector's the district.
#[actix_web::test]
async fn after_the_returns_only_the_hong_kong_trip_waits_and_each_ledger_holds_its_units() {
    let mut w = district().await;
    let story = may_day(&mut w).await;
    two_come_back(&mut w, &story).await;
    let World { app, cast, .. } = w;
    let Story {
        clerk_trip,
        section_trip,
        principal_trip,
        hk_trip,
        refused_trip,
        ..
    } = story;
    // ---- Inboxes: only the Hong Kong trip still waits, for its department head.
    assert_eq!(
        inbox(&app, cast.token("b1-head")).await,
        vec![hk_trip.clone()]
    );
    for login in [
        "b-deputy",
        "b-principal",
        "a1-head",
        "a-deputy",
        "a-principal",
        "d-deputy-a",
        "as1-head",
    ] {
        assert!(inbox(&app, cast.token(login)).await.is_empty(), "{login}");
    }
    let res = app
        .get(
            &format!("/api/v1/filings/{hk_trip}"),
            cast.token("b1-section"),
        )
        .await;
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["current_step"], 1);

    // ---- The unit admin's ledger of the finance bureau, and the inspector's of the district.
    let listed = |res: &Resp| -> BTreeSet<String> {
        res.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let res = app
        .get("/api/v1/filings?mine=false", cast.token("a-admin"))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let finance: BTreeSet<String> = [&clerk_trip, &section_trip, &principal_trip, &refused_trip]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(listed(&res), finance);
    app.get(&format!("/api/v1/filings/{hk_trip}"), cast.token("a-admin"))
        .await
        .assert_problem(404, "not_found");
    let res = app
        .get("/api/v1/filings?mine=false", cast.token("d-inspector"))
        .await;
    assert_eq!(listed(&res).len(), 6, "{}", res.body);
}

/// The clerk who does not come back is told once that the return report is due,
/// then the return is reported overdue.
#[actix_web::test]
async fn a_clerk_who_does_not_come_back_is_told_once_then_reported_overdue() {
    let mut w = district().await;
    let story = may_day(&mut w).await;
    two_come_back(&mut w, &story).await;
    sweep(&mut w).await;
    let World { app, cast, .. } = w;
    let Story { clerk_trip, .. } = story;
    let notes = feed(&app, cast.token("a1-clerk")).await;
    let kinds: Vec<&str> = notes.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(kinds, vec!["return_overdue", "return_report_due"]);
    assert_eq!(notes[0].1, clerk_trip);
    assert_eq!(notes[0].2["return_on"], "2027-05-05");
}

/// Over the whole story, each feed holds its owner's part, the webhook receives one
/// signed delivery per published event in order, and the audit chain holds.
#[actix_web::test]
async fn the_feeds_webhooks_and_audit_chain_tell_the_same_story() {
    let mut w = district().await;
    let story = may_day(&mut w).await;
    two_come_back(&mut w, &story).await;
    let two_days_after = sweep(&mut w).await;
    let World {
        app,
        cast,
        published,
        seen,
        ..
    } = w;
    let Story {
        clerk_trip,
        section_trip,
        principal_trip,
        hk_trip,
        retro_trip,
        refused_trip,
        ..
    } = story;
    let mut conn = app.db.connect();
    let id = |login: &str| cast.id(login).to_string();
    let notes = feed(&app, cast.token("a1-section")).await;
    let kinds: Vec<&str> = notes.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(kinds, vec!["extension_decided", "filing_decided"]);
    assert!(notes.iter().all(|n| n.1 == section_trip));
    assert_eq!(notes[0].2["decision"], "approved");
    assert_eq!(notes[0].2["round"], 1);
    assert_eq!(notes[1].2["decision"], "approved");

    let notes = feed(&app, cast.token("as1-section")).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].0, "filing_decided");
    assert_eq!(notes[0].1, refused_trip);
    assert_eq!(notes[0].2["decision"], "rejected");

    let notes = feed(&app, cast.token("a1-head")).await;
    let seen_steps: Vec<(&str, &str, Value, Value)> = notes
        .iter()
        .map(|n| {
            (
                n.0.as_str(),
                n.1.as_str(),
                n.2["round"].clone(),
                n.2["step"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen_steps,
        vec![
            (
                "approval_requested",
                section_trip.as_str(),
                json!(1),
                json!(1)
            ),
            (
                "approval_requested",
                section_trip.as_str(),
                json!(0),
                json!(1)
            ),
        ]
    );
    // The delegate is told what awaits the principal, as is the principal.
    let notes = feed(&app, cast.token("a-deputy")).await;
    let seen_steps: Vec<(&str, &str, Value, Value)> = notes
        .iter()
        .map(|n| {
            (
                n.0.as_str(),
                n.1.as_str(),
                n.2["round"].clone(),
                n.2["step"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen_steps,
        vec![
            (
                "approval_requested",
                section_trip.as_str(),
                json!(1),
                json!(2)
            ),
            (
                "approval_requested",
                section_trip.as_str(),
                json!(0),
                json!(2)
            ),
        ]
    );
    let notes = feed(&app, cast.token("a-principal")).await;
    let kinds: Vec<(&str, &str)> = notes.iter().map(|n| (n.0.as_str(), n.1.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            ("approval_requested", section_trip.as_str()),
            ("filing_decided", principal_trip.as_str()),
            ("approval_requested", section_trip.as_str()),
        ]
    );
    let notes = feed(&app, cast.token("d-deputy-a")).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].0, "approval_requested");
    assert_eq!(notes[0].1, principal_trip);
    assert!(feed(&app, cast.token("d-deputy-b")).await.is_empty());
    let notes = feed(&app, cast.token("b1-head")).await;
    let kinds: Vec<(&str, &str)> = notes.iter().map(|n| (n.0.as_str(), n.1.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            ("approval_requested", retro_trip.as_str()),
            ("approval_requested", hk_trip.as_str()),
        ]
    );
    assert!(
        feed(&app, cast.token("b-deputy")).await.is_empty(),
        "step 2 is not reached"
    );
    assert!(feed(&app, cast.token("b1-section")).await.is_empty());

    // ---- Webhooks: one signed delivery per published event, in order.
    // The receiver listens on 127.0.0.1: private targets are allowed here.
    let agent = whereabouts_api::webhook_target::Client::new(true);
    let deliver_at = Utc::now().max(two_days_after) + chrono::Duration::minutes(1);
    let mut attempted = 0;
    loop {
        let n = worker::deliver_due(&mut conn, &agent, deliver_at).unwrap();
        if n == 0 {
            break;
        }
        attempted += n;
    }
    assert_eq!(attempted, published.len());
    assert_eq!(app.count("outbox"), i64::try_from(published.len()).unwrap());
    assert_eq!(app.count("outbox WHERE delivered_at IS NULL"), 0);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), published.len());
    let mut events_seen = Vec::new();
    let mut payloads = Vec::new();
    for (headers, body) in seen.iter() {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            header("x-whereabouts-signature"),
            worker::signature(WEBHOOK_SECRET, body)
        );
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            header("x-whereabouts-event"),
            payload["event"].as_str().unwrap()
        );
        assert_eq!(
            header("x-whereabouts-delivery"),
            payload["delivery_id"].to_string()
        );
        events_seen.push(payload["event"].as_str().unwrap().to_owned());
        payloads.push(payload);
    }
    assert_eq!(events_seen, published);
    // The principal's approval, as the webhook saw it.
    let approval = payloads
        .iter()
        .find(|p| p["event"] == "filing.approve" && p["data"]["filing_id"] == principal_trip)
        .expect("the principal's approval was delivered");
    assert_eq!(approval["data"]["status"], "approved");
    assert_eq!(approval["data"]["account_id"], id("a-principal"));
    assert_eq!(approval["data"]["current_step"], Value::Null);
    let overdue = payloads.last().unwrap();
    assert_eq!(overdue["event"], "filing.overdue");
    assert_eq!(overdue["data"]["filing_id"], clerk_trip);

    // ---- The audit chain holds, over every row written.
    let verify = app.get("/api/v1/audit/verify", &app.admin).await;
    assert_eq!(verify.status.as_u16(), 200, "{}", verify.body);
    assert_eq!(verify.body["ok"], true, "{}", verify.body);
    assert_eq!(verify.body["first_bad_id"], Value::Null);
    assert_eq!(verify.body["checked"], app.count("audit_log"));
}
