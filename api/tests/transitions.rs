//! Every transition in and out of every filing status, by every kind of actor:
//! the filer, the current step's approver and their delegate, an approver of the
//! chain who is not current, the unit admin who reads the filing but is not on
//! its chain, and an outsider who cannot read it. Allowed ones move the filing
//! exactly as core's lifecycle says; refused ones answer the right problem and
//! change nothing. Also: stale `If-Match` on every allowed transition, and
//! idempotent retries of filing and approving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use std::fmt;

const NOW: &str = "2027-04-20T02:00:00Z";
// Tomorrow: departure may be reported today.
const DEPART: &str = "2027-04-21";
const RETURN: &str = "2027-05-12";
const EXTENDED: &str = "2027-05-15";

fn staff_draft() -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": "320500"}], "depart_on": DEPART, "return_on": RETURN, "contact_phone": "13800138000"})
}

fn leader_draft(d: &District) -> Value {
    let mut draft = staff_draft();
    draft["substitute_id"] = json!(d.deputy);
    draft
}

/// The seeded district with a policy: staff need their head and then the
/// bureau's principal; leaders (the principal) only report. The head has
/// delegated their approvals to the deputy for the whole window of the tests.
async fn setup() -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = NOW.parse().ok()).await;
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
    let res = app
        .put(
            "/api/v1/me/delegation",
            d.token("head"),
            json!({"delegate_id": d.deputy, "starts_at": "2027-04-01T00:00:00Z", "ends_at": "2027-06-30T00:00:00Z"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    (app, d)
}

/// Something a person does to a filing, as its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Submit,
    Withdraw,
    Cancel,
    Depart,
    Return,
    Extend,
    Approve,
    Reject,
}

const ACTS: [Act; 8] = [
    Act::Submit,
    Act::Withdraw,
    Act::Cancel,
    Act::Depart,
    Act::Return,
    Act::Extend,
    Act::Approve,
    Act::Reject,
];

impl Act {
    fn route(self) -> &'static str {
        match self {
            Act::Submit => "submit",
            Act::Withdraw => "withdraw",
            Act::Cancel => "cancel",
            Act::Depart => "depart",
            Act::Return => "return",
            Act::Extend => "extensions",
            Act::Approve => "approve",
            Act::Reject => "reject",
        }
    }

    /// A body the action accepts when it is allowed (a reject with its comment).
    fn body(self) -> Value {
        match self {
            Act::Extend => json!({"new_return_on": EXTENDED, "reason": "flight cancelled"}),
            Act::Reject => json!({"comment": "not now"}),
            Act::Approve => json!({"comment": "ok"}),
            Act::Return => json!({"report": "back safely"}),
            _ => json!({}),
        }
    }

    fn decides(self) -> bool {
        matches!(self, Act::Approve | Act::Reject)
    }
}

/// The people who act, by what they are to a filing of the clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    /// The filer (the clerk; the principal for report-only trips).
    Filer,
    /// The head: step 1 of the chain.
    Approver1,
    /// The principal: step 2 of the chain.
    Approver2,
    /// The deputy, the head's active delegate.
    Delegate,
    /// The unit admin of the filer's bureau: reads, is not on the chain.
    UnitAdmin,
    /// A member of another bureau: cannot read.
    Outsider,
}

const WHOS: [Who; 6] = [
    Who::Filer,
    Who::Approver1,
    Who::Approver2,
    Who::Delegate,
    Who::UnitAdmin,
    Who::Outsider,
];

impl Who {
    /// The login of this person for a filing of this fixture; `None` when the
    /// role does not exist there (the principal files report-only trips).
    fn login(self, fixture: Fixture) -> Option<&'static str> {
        match self {
            Who::Filer if fixture.report_only() => Some("principal"),
            Who::Filer => Some("clerk"),
            Who::Approver1 => Some("head"),
            Who::Approver2 if fixture.report_only() => None,
            Who::Approver2 => Some("principal"),
            Who::Delegate => Some("deputy"),
            Who::UnitAdmin => Some("unit-admin"),
            Who::Outsider => Some("outsider"),
        }
    }
}

/// A filing driven into one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixture {
    Draft,
    /// Pending at step 1 of 2 (the head's).
    Pending1,
    /// Pending at step 2 of 2 (the principal's); the head approved step 1.
    Pending2,
    Approved,
    /// A report-only trip of the principal.
    Recorded,
    /// Rejected by the head at step 1.
    Rejected,
    /// Withdrawn at step 1.
    Withdrawn,
    /// Approved, then cancelled.
    Cancelled,
    /// Approved, departed.
    Away,
    /// Away with an extension pending at step 1 (round 1).
    AwayExtension,
    /// Away, then returned.
    Returned,
    /// The principal's report-only trip, departed (a chain of 0 steps).
    AwayReportOnly,
}

const FIXTURES: [Fixture; 12] = [
    Fixture::Draft,
    Fixture::Pending1,
    Fixture::Pending2,
    Fixture::Approved,
    Fixture::Recorded,
    Fixture::Rejected,
    Fixture::Withdrawn,
    Fixture::Cancelled,
    Fixture::Away,
    Fixture::AwayExtension,
    Fixture::Returned,
    Fixture::AwayReportOnly,
];

/// What the API shows of where a filing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    status: &'static str,
    current_step: Option<i64>,
    extension_pending: bool,
    return_on: &'static str,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(step) = self.current_step {
            write!(f, " step {step}")?;
        }
        if self.extension_pending {
            write!(f, " +extension_pending")?;
        }
        write!(f, " return_on {}", self.return_on)
    }
}

const fn shape(status: &'static str, current_step: Option<i64>, extension_pending: bool) -> Shape {
    Shape {
        status,
        current_step,
        extension_pending,
        return_on: RETURN,
    }
}

impl Fixture {
    fn report_only(self) -> bool {
        matches!(self, Fixture::Recorded | Fixture::AwayReportOnly)
    }

    fn shape(self) -> Shape {
        match self {
            Fixture::Draft => shape("draft", None, false),
            Fixture::Pending1 => shape("pending", Some(1), false),
            Fixture::Pending2 => shape("pending", Some(2), false),
            Fixture::Approved => shape("approved", None, false),
            Fixture::Recorded => shape("recorded", None, false),
            Fixture::Rejected => shape("rejected", None, false),
            Fixture::Withdrawn => shape("withdrawn", None, false),
            Fixture::Cancelled => shape("cancelled", None, false),
            Fixture::Away | Fixture::AwayReportOnly => shape("away", None, false),
            Fixture::AwayExtension => shape("away", Some(1), true),
            Fixture::Returned => shape("returned", None, false),
        }
    }

    /// The steps that drive a fresh filing here, after it is created (and
    /// submitted unless it stays a draft): who does what.
    fn path(self) -> &'static [(&'static str, Act)] {
        use Act::*;
        match self {
            Fixture::Draft | Fixture::Pending1 | Fixture::Recorded => &[],
            Fixture::Pending2 => &[("head", Approve)],
            Fixture::Approved => &[("head", Approve), ("principal", Approve)],
            Fixture::Rejected => &[("head", Reject)],
            Fixture::Withdrawn => &[("clerk", Withdraw)],
            Fixture::Cancelled => &[("head", Approve), ("principal", Approve), ("clerk", Cancel)],
            Fixture::Away => &[("head", Approve), ("principal", Approve), ("clerk", Depart)],
            Fixture::AwayExtension => &[
                ("head", Approve),
                ("principal", Approve),
                ("clerk", Depart),
                ("clerk", Extend),
            ],
            Fixture::Returned => &[
                ("head", Approve),
                ("principal", Approve),
                ("clerk", Depart),
                ("clerk", Return),
            ],
            Fixture::AwayReportOnly => &[("principal", Depart)],
        }
    }
}

// ---------------------------------------------------------------------------
// The expected outcomes, written out from core's lifecycle (`apply`,
// `actor_may`) and the API's reading and deciding rules. Not computed by the
// core, so the test fails if the server diverges from them.
// ---------------------------------------------------------------------------

/// Core's `Actor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Filer,
    CurrentApprover,
    Other,
}

/// The actions that exist from a status (core's `valid_from`).
fn exists_from(shape: Shape, act: Act) -> bool {
    use Act::*;
    let acts: &[Act] = match (shape.status, shape.extension_pending) {
        ("draft", _) => &[Submit],
        ("pending", _) => &[Approve, Reject, Withdraw],
        ("approved" | "recorded", _) => &[Cancel, Depart],
        ("away", false) => &[Return, Extend],
        ("away", true) => &[Approve, Reject, Return],
        _ => &[],
    };
    acts.contains(&act)
}

/// Core's `actor_may`: the filer files and travels; only the current approver decides.
fn actor_may(act: Act, rel: Rel) -> bool {
    if act.decides() {
        rel == Rel::CurrentApprover
    } else {
        rel == Rel::Filer
    }
}

/// What each person is to the filing: the current step's candidate or their
/// active delegate is the current approver.
fn relation(fixture: Fixture, who: Who) -> Rel {
    match (fixture, who) {
        (_, Who::Filer) => Rel::Filer,
        (Fixture::Pending1 | Fixture::AwayExtension, Who::Approver1 | Who::Delegate) => {
            Rel::CurrentApprover
        }
        (Fixture::Pending2, Who::Approver2) => Rel::CurrentApprover,
        _ => Rel::Other,
    }
}

/// Who may read it: the filer, the approvers of its chain and their delegates
/// (a chain exists once submitted; report-only trips have none), and the unit
/// admin whose scope holds the filer.
fn reads(fixture: Fixture, who: Who) -> bool {
    match who {
        Who::Filer | Who::UnitAdmin => true,
        Who::Outsider => false,
        Who::Approver1 | Who::Approver2 | Who::Delegate => {
            !matches!(fixture, Fixture::Draft) && !fixture.report_only()
        }
    }
}

/// Who (themselves or through the delegation) decided a step of the filing's
/// current round: a second decision by them answers 409 `already_decided`.
fn decided_this_round(fixture: Fixture, who: Who) -> bool {
    match fixture {
        Fixture::Pending2 | Fixture::Rejected => matches!(who, Who::Approver1 | Who::Delegate),
        Fixture::Approved | Fixture::Cancelled | Fixture::Away | Fixture::Returned => {
            matches!(who, Who::Approver1 | Who::Approver2 | Who::Delegate)
        }
        // Round 1 of the extension: nobody decided yet (round 0 is over).
        _ => false,
    }
}

/// Where an allowed action leads (core's `apply`).
fn next(fixture: Fixture, act: Act) -> Shape {
    use Act::*;
    use Fixture::*;
    match (fixture, act) {
        (Draft, Submit) => shape("pending", Some(1), false),
        (Pending1, Approve) => shape("pending", Some(2), false),
        (Pending2, Approve) => shape("approved", None, false),
        (Pending1 | Pending2, Reject) => shape("rejected", None, false),
        (Pending1 | Pending2, Withdraw) => shape("withdrawn", None, false),
        (Approved | Recorded, Cancel) => shape("cancelled", None, false),
        (Approved | Recorded, Depart) => shape("away", None, false),
        (Away | AwayExtension | AwayReportOnly, Return) => shape("returned", None, false),
        (Away, Extend) => shape("away", Some(1), true),
        // A report-only trip's extension needs nobody: the return date moves at once.
        (AwayReportOnly, Extend) => Shape {
            return_on: EXTENDED,
            ..shape("away", None, false)
        },
        (AwayExtension, Approve) => shape("away", Some(2), true),
        (AwayExtension, Reject) => shape("away", None, false),
        other => panic!("the table has no next state for {other:?}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok(Shape),
    Refused(u16, &'static str),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ok(s) => write!(f, "200 {s}"),
            Expect::Refused(status, code) => write!(f, "{status} {code}"),
        }
    }
}

fn expect(fixture: Fixture, act: Act, who: Who) -> Expect {
    if !reads(fixture, who) {
        return Expect::Refused(404, "not_found");
    }
    let rel = relation(fixture, who);
    if act.decides() && rel != Rel::CurrentApprover && decided_this_round(fixture, who) {
        return Expect::Refused(409, "already_decided");
    }
    if !exists_from(fixture.shape(), act) {
        return Expect::Refused(409, "invalid_transition");
    }
    if !actor_may(act, rel) {
        return Expect::Refused(403, "forbidden");
    }
    Expect::Ok(next(fixture, act))
}

// ---------------------------------------------------------------------------
// Driving and observing.
// ---------------------------------------------------------------------------

async fn post_action(
    app: &TestApp,
    token: &str,
    filing: &str,
    act: Act,
    headers: &[(&str, String)],
) -> Resp {
    let mut req = TestRequest::post()
        .uri(&format!("/api/v1/filings/{filing}/{}", act.route()))
        .insert_header(("authorization", format!("Bearer {token}")))
        .set_json(act.body());
    for (name, value) in headers {
        req = req.insert_header((*name, value.clone()));
    }
    app.send(req).await
}

fn shape_of(body: &Value) -> Option<Shape> {
    let status = match body["status"].as_str()? {
        "draft" => "draft",
        "pending" => "pending",
        "approved" => "approved",
        "recorded" => "recorded",
        "rejected" => "rejected",
        "withdrawn" => "withdrawn",
        "cancelled" => "cancelled",
        "away" => "away",
        "returned" => "returned",
        _ => return None,
    };
    let return_on = match body["return_on"].as_str()? {
        RETURN => RETURN,
        EXTENDED => EXTENDED,
        _ => return None,
    };
    Some(Shape {
        status,
        current_step: body["current_step"].as_i64(),
        extension_pending: body["extension_pending"].as_bool()?,
        return_on,
    })
}

fn describe(res: &Resp) -> String {
    if res.status.is_success() {
        match shape_of(&res.body) {
            Some(s) => format!("{} {s}", res.status.as_u16()),
            None => format!("{} {}", res.status.as_u16(), res.body),
        }
    } else {
        format!(
            "{} {} ({})",
            res.status.as_u16(),
            res.body["code"].as_str().unwrap_or("?"),
            res.header("content-type")
        )
    }
}

/// Creates a filing and drives it into `fixture`; answers its id.
async fn drive(app: &TestApp, d: &District, fixture: Fixture) -> String {
    let (filer, draft) = if fixture.report_only() {
        ("principal", leader_draft(d))
    } else {
        ("clerk", staff_draft())
    };
    let submit = fixture != Fixture::Draft;
    let res = app
        .post(
            "/api/v1/filings",
            d.token(filer),
            json!({"draft": draft, "submit": submit}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{fixture:?}: {}", res.body);
    let id = res.str("/id");
    for (login, act) in fixture.path() {
        let res = post_action(app, d.token(login), &id, *act, &[]).await;
        assert_eq!(
            res.status.as_u16(),
            200,
            "driving to {fixture:?}: {login} {act:?}: {}",
            res.body
        );
    }
    let res = app
        .get(&format!("/api/v1/filings/{id}"), d.token(filer))
        .await;
    assert_eq!(
        shape_of(&res.body),
        Some(fixture.shape()),
        "driving to {fixture:?}: {}",
        res.body
    );
    id
}

/// Everything a request could change: the filing as its filer reads it (with
/// its ETag), the counts of events and audit rows, and a digest of every table.
#[derive(Debug, PartialEq)]
struct Snapshot {
    filing: Value,
    etag: String,
    events: i64,
    audit: i64,
    fingerprint: String,
}

async fn snapshot(app: &TestApp, filer_token: &str, id: &str) -> Snapshot {
    let res = app.get(&format!("/api/v1/filings/{id}"), filer_token).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    Snapshot {
        etag: res.header("etag"),
        filing: res.body,
        events: app.count("filing_events"),
        audit: app.count("audit_log"),
        fingerprint: app.fingerprint(),
    }
}

fn what_changed(before: &Snapshot, after: &Snapshot) -> String {
    let mut parts = Vec::new();
    if before.filing != after.filing {
        let keys: Vec<String> = before
            .filing
            .as_object()
            .map(|o| {
                o.keys()
                    .filter(|k| before.filing[k.as_str()] != after.filing[k.as_str()])
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        parts.push(format!("filing fields {keys:?}"));
    }
    if before.etag != after.etag {
        parts.push(format!("etag {} -> {}", before.etag, after.etag));
    }
    if before.events != after.events {
        parts.push(format!(
            "filing_events {} -> {}",
            before.events, after.events
        ));
    }
    if before.audit != after.audit {
        parts.push(format!("audit_log {} -> {}", before.audit, after.audit));
    }
    if parts.is_empty() && before.fingerprint != after.fingerprint {
        parts.push("other rows".to_owned());
    }
    parts.join(", ")
}

/// Checks an allowed answer against the expected shape and its traces.
fn check_allowed(res: &Resp, want: Shape, before: &Snapshot, after: &Snapshot) -> Option<String> {
    if res.status.as_u16() != 200 {
        return Some(format!("got {}", describe(res)));
    }
    let mut wrong = Vec::new();
    if shape_of(&res.body) != Some(want) {
        wrong.push(format!("answered {}", describe(res)));
    }
    if shape_of(&after.filing) != Some(want) {
        wrong.push(format!("reads back {}", after.filing["status"]));
    }
    let version = before.filing["version"].as_i64().unwrap_or_default();
    if res.body["version"].as_i64() != Some(version + 1) {
        wrong.push(format!("version {} -> {}", version, res.body["version"]));
    }
    if res.header("etag") != format!("\"{}\"", version + 1) {
        wrong.push(format!("etag {}", res.header("etag")));
    }
    if after.events != before.events + 1 || after.audit != before.audit + 1 {
        wrong.push(format!(
            "events +{} audit +{} (want +1 each)",
            after.events - before.events,
            after.audit - before.audit
        ));
    }
    (!wrong.is_empty()).then(|| wrong.join("; "))
}

fn report(title: &str, checked: usize, mismatches: &[String]) -> String {
    format!(
        "{title}: {} of {checked} cases diverge\n  {:<15} {:<10} {:<22} got / expected\n  {}",
        mismatches.len(),
        "status",
        "action",
        "actor",
        mismatches.join("\n  ")
    )
}

// ---------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------

#[test]
fn the_expectation_table_allows_exactly_the_documented_transitions() {
    // A sanity check of the table itself against the lifecycle diagram: who may
    // do what from where (by the actors that exist for that fixture).
    let mut allowed = Vec::new();
    for fixture in FIXTURES {
        for act in ACTS {
            for who in WHOS {
                if who.login(fixture).is_some()
                    && matches!(expect(fixture, act, who), Expect::Ok(_))
                {
                    allowed.push(format!("{fixture:?} {act:?} {who:?}"));
                }
            }
        }
    }
    let want = [
        "Draft Submit Filer",
        "Pending1 Withdraw Filer",
        "Pending1 Approve Approver1",
        "Pending1 Approve Delegate",
        "Pending1 Reject Approver1",
        "Pending1 Reject Delegate",
        "Pending2 Withdraw Filer",
        "Pending2 Approve Approver2",
        "Pending2 Reject Approver2",
        "Approved Cancel Filer",
        "Approved Depart Filer",
        "Recorded Cancel Filer",
        "Recorded Depart Filer",
        "Away Return Filer",
        "Away Extend Filer",
        "AwayExtension Return Filer",
        "AwayExtension Approve Approver1",
        "AwayExtension Approve Delegate",
        "AwayExtension Reject Approver1",
        "AwayExtension Reject Delegate",
        "AwayReportOnly Return Filer",
        "AwayReportOnly Extend Filer",
    ];
    assert_eq!(allowed, want);
}

/// Sends every action by every actor to a filing in each of `fixtures` and
/// answers how many cases ran and which diverge from the table.
async fn run_matrix(fixtures: &[Fixture]) -> (usize, Vec<String>) {
    let (app, d) = setup().await;
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for &fixture in fixtures {
        let filer = d.token(Who::Filer.login(fixture).unwrap()).to_owned();
        // The filing in `fixture` and how it looks, while no request moved it.
        let mut current: Option<(String, Snapshot)> = None;
        for act in ACTS {
            for who in WHOS {
                let Some(login) = who.login(fixture) else {
                    continue;
                };
                let (id, before) = match current.take() {
                    Some(current) => current,
                    None => {
                        let id = drive(&app, &d, fixture).await;
                        let before = snapshot(&app, &filer, &id).await;
                        (id, before)
                    }
                };
                let res = post_action(&app, d.token(login), &id, act, &[]).await;
                let after = snapshot(&app, &filer, &id).await;
                checked += 1;
                let expected = expect(fixture, act, who);
                let wrong = match expected {
                    Expect::Ok(want) => check_allowed(&res, want, &before, &after),
                    Expect::Refused(status, code) => {
                        let mut wrong = Vec::new();
                        if res.status.as_u16() != status
                            || res.body["code"] != code
                            || res.header("content-type") != "application/problem+json"
                        {
                            wrong.push(format!("got {}", describe(&res)));
                        }
                        if after != before {
                            wrong.push(format!("changed {}", what_changed(&before, &after)));
                        }
                        (!wrong.is_empty()).then(|| wrong.join("; "))
                    }
                };
                if let Some(wrong) = wrong {
                    mismatches.push(format!(
                        "{:<15} {:<10} {:<22} {wrong} / expected {expected}",
                        format!("{fixture:?}"),
                        act.route(),
                        format!("{who:?} ({login})"),
                    ));
                }
                // A filing that moved (or anything else that did) is not reused.
                if after == before {
                    current = Some((id, after));
                }
            }
        }
    }
    (checked, mismatches)
}

#[actix_web::test]
async fn every_action_by_every_actor_before_the_trip_is_decided() {
    let fixtures = [Fixture::Draft, Fixture::Pending1, Fixture::Pending2];
    let (checked, mismatches) = run_matrix(&fixtures).await;
    assert!(
        mismatches.is_empty(),
        "{}",
        report("draft and pending", checked, &mismatches)
    );
}

#[actix_web::test]
async fn every_action_by_every_actor_once_the_trip_is_decided_or_closed() {
    let fixtures = [
        Fixture::Approved,
        Fixture::Recorded,
        Fixture::Rejected,
        Fixture::Withdrawn,
        Fixture::Cancelled,
    ];
    let (checked, mismatches) = run_matrix(&fixtures).await;
    assert!(
        mismatches.is_empty(),
        "{}",
        report("decided and closed", checked, &mismatches)
    );
}

#[actix_web::test]
async fn every_action_by_every_actor_while_away_and_after_return() {
    let fixtures = [
        Fixture::Away,
        Fixture::AwayExtension,
        Fixture::Returned,
        Fixture::AwayReportOnly,
    ];
    let (checked, mismatches) = run_matrix(&fixtures).await;
    assert!(
        mismatches.is_empty(),
        "{}",
        report("away and returned", checked, &mismatches)
    );
}

#[actix_web::test]
async fn a_stale_if_match_refuses_every_allowed_transition_and_changes_nothing() {
    let (app, d) = setup().await;
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for fixture in FIXTURES {
        let filer = d.token(Who::Filer.login(fixture).unwrap()).to_owned();
        for act in ACTS {
            for who in WHOS {
                let Some(login) = who.login(fixture) else {
                    continue;
                };
                let Expect::Ok(want) = expect(fixture, act, who) else {
                    continue;
                };
                checked += 1;
                let id = drive(&app, &d, fixture).await;
                let before = snapshot(&app, &filer, &id).await;
                let version = before.filing["version"].as_i64().unwrap();
                let stale = format!("\"{}\"", version - 1);
                let res = post_action(
                    &app,
                    d.token(login),
                    &id,
                    act,
                    &[("if-match", stale.clone())],
                )
                .await;
                let after = snapshot(&app, &filer, &id).await;
                let mut wrong = Vec::new();
                if res.status.as_u16() != 412 || res.body["code"] != "precondition_failed" {
                    wrong.push(format!("If-Match {stale}: got {}", describe(&res)));
                }
                if after != before {
                    wrong.push(format!(
                        "If-Match {stale} changed {}",
                        what_changed(&before, &after)
                    ));
                }
                // The current ETag then goes through.
                let res = post_action(
                    &app,
                    d.token(login),
                    &id,
                    act,
                    &[("if-match", before.etag.clone())],
                )
                .await;
                let fresh = snapshot(&app, &filer, &id).await;
                if let Some(w) = check_allowed(&res, want, &after, &fresh) {
                    wrong.push(format!("If-Match {}: {w}", before.etag));
                }
                if !wrong.is_empty() {
                    mismatches.push(format!(
                        "{:<15} {:<10} {:<22} {} / expected 412 then 200 {want}",
                        format!("{fixture:?}"),
                        act.route(),
                        format!("{who:?} ({login})"),
                        wrong.join("; "),
                    ));
                }
            }
        }
    }
    assert_eq!(checked, 22);
    assert!(
        mismatches.is_empty(),
        "{}",
        report("stale If-Match", checked, &mismatches)
    );
}

#[actix_web::test]
async fn filing_twice_with_one_idempotency_key_makes_one_filing() {
    let (app, d) = setup().await;
    let body = json!({"draft": staff_draft(), "submit": true});
    let create = |key: &'static str, body: Value| {
        app.send(
            TestRequest::post()
                .uri("/api/v1/filings")
                .insert_header(("authorization", format!("Bearer {}", d.token("clerk"))))
                .insert_header(("idempotency-key", key))
                .set_json(body),
        )
    };
    let first = create("trip-2027-05", body.clone()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), "");
    let events = app.count("filing_events");
    let audit = app.count("audit_log");

    let second = create("trip-2027-05", body.clone()).await;
    assert_eq!(second.status.as_u16(), 201, "{}", second.body);
    assert_eq!(second.header("idempotent-replayed"), "true");
    assert_eq!(second.str("/id"), first.str("/id"));
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(app.count("filings"), 1);
    assert_eq!(app.count("filing_events"), events);
    assert_eq!(app.count("audit_log"), audit);

    // The same key with another body is refused and changes nothing.
    let mut other = body.clone();
    other["draft"]["reason"] = json!("Another reason");
    let before = app.fingerprint();
    create("trip-2027-05", other)
        .await
        .assert_problem(422, "idempotency_key_reused");
    assert_eq!(app.fingerprint(), before);
    assert_eq!(app.count("filings"), 1);
}

#[actix_web::test]
async fn approving_twice_with_one_idempotency_key_answers_the_first_approval() {
    let (app, d) = setup().await;
    let id = drive(&app, &d, Fixture::Pending1).await;
    let approve = |key: Option<&'static str>| {
        let mut req = TestRequest::post()
            .uri(&format!("/api/v1/filings/{id}/approve"))
            .insert_header(("authorization", format!("Bearer {}", d.token("head"))))
            .set_json(json!({"comment": "ok"}));
        if let Some(key) = key {
            req = req.insert_header(("idempotency-key", key));
        }
        app.send(req)
    };
    let first = approve(Some("approve-once")).await;
    assert_eq!(first.status.as_u16(), 200, "{}", first.body);
    assert_eq!(first.body["status"], "pending");
    assert_eq!(first.body["current_step"], 2);
    let snapshot_after_first = snapshot(&app, d.token("clerk"), &id).await;

    let second = approve(Some("approve-once")).await;
    assert_eq!(second.status.as_u16(), 200, "{}", second.body);
    assert_eq!(second.header("idempotent-replayed"), "true");
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(
        snapshot(&app, d.token("clerk"), &id).await,
        snapshot_after_first
    );

    // Without the key, the second decision is a race lost: 409.
    approve(None).await.assert_problem(409, "already_decided");
    assert_eq!(
        snapshot(&app, d.token("clerk"), &id).await,
        snapshot_after_first
    );

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
    assert_eq!(actions, vec!["create", "submit", "approve"]);
    let filing = app
        .get(&format!("/api/v1/filings/{id}"), d.token("clerk"))
        .await;
    let decided: Vec<&Value> = filing.body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["decision"].is_null())
        .collect();
    assert_eq!(decided.len(), 1, "{}", filing.body);
    assert_eq!(decided[0]["decided_by"], d.head.to_string());
}
