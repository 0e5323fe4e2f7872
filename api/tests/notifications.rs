//! The in-app feed, the away roster, and webhook delivery through the outbox.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

fn draft(depart: &str, ret: &str, code: &str) -> Value {
    json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "Visiting my parents",
        "destinations": [{"code": code}], "depart_on": depart, "return_on": ret, "contact_phone": "13800138000"})
}

async fn setup(now: &str) -> (TestApp, District) {
    let app = TestApp::with_config(|c| c.fixed_now = now.parse().ok()).await;
    let d = seed(&app).await;
    let policy = json!({"rules": [
        {"id": "staff", "applies_to": {"positions": ["staff"]}, "requirement": "approval",
         "approvers": [{"kind": "department_head"}], "form": "online", "notice": {"days": 1}},
        {"id": "leaders", "requirement": "report", "form": "online", "notice": {"days": 1}}
    ]});
    app.put(
        &format!("/api/v1/units/{}/policy", d.bureau),
        d.token("admin"),
        policy,
    )
    .await;
    (app, d)
}

fn kinds(res: &Resp) -> Vec<String> {
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn approvers_and_filers_are_told_what_awaits_them_and_what_was_decided() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12", "320500"), "submit": true}),
        )
        .await;
    let id = res.str("/id");
    let feed = app.get("/api/v1/me/notifications", d.token("head")).await;
    assert_eq!(kinds(&feed), vec!["approval_requested"]);
    assert_eq!(feed.body["items"][0]["filing_id"], id);
    app.post(
        &format!("/api/v1/filings/{id}/approve"),
        d.token("head"),
        json!({}),
    )
    .await;
    let feed = app
        .get("/api/v1/me/notifications?unread=true", d.token("clerk"))
        .await;
    assert_eq!(kinds(&feed), vec!["filing_decided"]);
    assert_eq!(feed.body["items"][0]["data"]["decision"], "approved");
    let note = feed.str("/items/0/id");
    let res = app
        .post(
            &format!("/api/v1/me/notifications/{note}/read"),
            d.token("clerk"),
            json!({}),
        )
        .await;
    assert!(res.body["read_at"].is_string());
    let feed = app
        .get("/api/v1/me/notifications?unread=true", d.token("clerk"))
        .await;
    assert_eq!(feed.body["items"], json!([]));
    // Nobody reads another account's notification.
    app.post(
        &format!("/api/v1/me/notifications/{note}/read"),
        d.token("head"),
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn the_sweep_reminds_of_due_and_overdue_returns_once() {
    // The day before the trip: departure may be reported from today.
    let (app, d) = setup("2027-05-21T02:00:00Z").await;
    let mut leader = draft("2027-05-22", "2027-05-24", "310000");
    leader["substitute_id"] = json!(d.deputy);
    let res = app
        .post(
            "/api/v1/filings",
            d.token("principal"),
            json!({"draft": leader, "submit": true}),
        )
        .await;
    let id = res.str("/id");
    app.post(
        &format!("/api/v1/filings/{id}/depart"),
        d.token("principal"),
        json!({}),
    )
    .await;
    let mut config = (*app.state.config).clone();
    let mut conn = app.db.connect();
    // The day after the trip: the return report is due, not yet overdue.
    let now = "2027-05-25T09:00:00+08:00".parse().unwrap();
    assert_eq!(
        whereabouts_api::worker::sweep(&mut conn, &config, now).unwrap(),
        1
    );
    assert_eq!(
        whereabouts_api::worker::sweep(&mut conn, &config, now).unwrap(),
        0,
        "a second sweep notifies nobody again"
    );
    config.overdue_grace_hours = 24;
    let later = "2027-05-26T09:00:00+08:00".parse().unwrap();
    assert_eq!(
        whereabouts_api::worker::sweep(&mut conn, &config, later).unwrap(),
        1
    );
    let feed = app
        .get("/api/v1/me/notifications", d.token("principal"))
        .await;
    assert_eq!(kinds(&feed), vec!["return_overdue", "return_report_due"]);
}

#[actix_web::test]
async fn the_roster_shows_who_is_away_coarsely_and_only_to_the_unit_and_above() {
    let (mut app, d) = setup("2027-04-20T02:00:00Z").await;
    let mut leader = draft("2027-05-01", "2027-05-05", "320500");
    leader["substitute_id"] = json!(d.deputy);
    let res = app
        .post(
            "/api/v1/filings",
            d.token("principal"),
            json!({"draft": leader, "submit": true}),
        )
        .await;
    // The day of departure, 08:30 in Beijing.
    app.set_now("2027-05-01T00:30:00Z");
    app.post(
        &format!("/api/v1/filings/{}/depart", res.str("/id")),
        d.token("principal"),
        json!({}),
    )
    .await;
    app.post(
        "/api/v1/filings",
        d.token("clerk"),
        json!({"draft": draft("2027-05-04", "2027-05-06", "JP"), "submit": false}),
    )
    .await;

    let roster = app
        .get(
            &format!("/api/v1/units/{}/roster?on=2027-05-03", d.bureau),
            d.token("clerk"),
        )
        .await;
    assert_eq!(roster.status.as_u16(), 200, "{}", roster.body);
    let items = roster.body["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "drafts are not on the roster: {}",
        roster.body
    );
    assert_eq!(items[0]["account_id"], d.principal.to_string());
    assert_eq!(items[0]["status"], "away");
    // Suzhou shows as Jiangsu.
    assert_eq!(
        items[0]["destinations"],
        json!([{"code": "320000", "name_zh": "江苏省", "name_en": "Jiangsu"}])
    );
    assert_eq!(items[0]["substitute_name"], "deputy name");
    let empty = app
        .get(
            &format!("/api/v1/units/{}/roster?on=2027-04-30", d.bureau),
            d.token("inspector"),
        )
        .await;
    assert_eq!(empty.body["items"], json!([]));
    app.get(
        &format!("/api/v1/units/{}/roster?on=2027-05-03", d.bureau),
        d.token("outsider"),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/units/{}/roster?on=2027-05-03", d.bureau),
        d.token("other-admin"),
    )
    .await
    .assert_problem(404, "not_found");
}

/// A one-thread HTTP receiver that records each request's headers and body and
/// answers with the given statuses in turn (then 200).
/// What the receiver saw: each request's headers and body.
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

fn receiver(statuses: Vec<u16>) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
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
            let status = statuses.next().unwrap_or(200);
            log.lock().unwrap().push((headers, body));
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
        }
    });
    (url, seen)
}

#[actix_web::test]
async fn webhooks_get_signed_events_through_the_outbox_with_retries() {
    let (app, d) = setup("2027-04-20T02:00:00Z").await;
    let (url, seen) = receiver(vec![500]);
    let res = app
        .post(
            "/api/v1/webhooks",
            d.token("admin"),
            json!({"url": url, "secret": "a-secret-of-some-length", "events": ["filing.submit"]}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    app.post(
        "/api/v1/webhooks",
        d.token("unit-admin"),
        json!({"url": url}),
    )
    .await
    .assert_problem(403, "forbidden");
    let listed = app.get("/api/v1/webhooks", d.token("admin")).await;
    assert!(
        listed.body[0].get("secret").is_none(),
        "secrets are shown only once"
    );

    // A filing that rolls back queues nothing.
    let mut bad = draft("2027-05-10", "2027-05-12", "110000");
    bad["reason"] = json!("");
    app.post(
        "/api/v1/filings",
        d.token("clerk"),
        json!({"draft": bad, "submit": true}),
    )
    .await
    .assert_problem(422, "validation_failed");
    assert_eq!(app.count("outbox"), 0);

    let res = app
        .post(
            "/api/v1/filings",
            d.token("clerk"),
            json!({"draft": draft("2027-05-10", "2027-05-12", "320500"), "submit": true}),
        )
        .await;
    let id = res.str("/id");
    app.post(
        &format!("/api/v1/filings/{id}/approve"),
        d.token("head"),
        json!({}),
    )
    .await;
    assert_eq!(
        app.count("outbox"),
        1,
        "only the subscribed event is queued"
    );

    // The receiver listens on 127.0.0.1: private targets are allowed here.
    let agent = whereabouts_api::webhook_target::Client::new(true);
    let mut conn = app.db.connect();
    let now: chrono::DateTime<chrono::Utc> = "2027-04-20T02:00:00Z".parse().unwrap();
    // The receiver fails the first attempt: the delivery waits and is retried.
    assert_eq!(
        whereabouts_api::worker::deliver_due(&mut conn, &agent, now).unwrap(),
        1
    );
    assert_eq!(
        whereabouts_api::worker::deliver_due(&mut conn, &agent, now).unwrap(),
        0,
        "backing off"
    );
    let later = now + chrono::Duration::seconds(3);
    assert_eq!(
        whereabouts_api::worker::deliver_due(&mut conn, &agent, later).unwrap(),
        1
    );
    assert_eq!(
        whereabouts_api::worker::deliver_due(&mut conn, &agent, later + chrono::Duration::hours(2))
            .unwrap(),
        0,
        "delivered once"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let (headers, body) = &seen[1];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("x-whereabouts-event"), "filing.submit");
    assert_eq!(
        header("x-whereabouts-signature"),
        whereabouts_api::worker::signature("a-secret-of-some-length", body)
    );
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(payload["data"]["filing_id"], id);
    assert_eq!(payload["data"]["status"], "pending");
}

#[actix_web::test]
async fn the_roster_of_a_past_day_keeps_the_returned_and_an_overdue_traveller_stays_on_it() {
    let (mut app, d) = setup("2027-04-20T02:00:00Z").await;
    let mut leader = draft("2027-05-01", "2027-05-03", "310000");
    leader["substitute_id"] = json!(d.deputy);
    let back = app
        .post(
            "/api/v1/filings",
            d.token("principal"),
            json!({"draft": leader, "submit": true}),
        )
        .await
        .str("/id");
    let mut deputy = draft("2027-05-01", "2027-05-02", "310000");
    deputy["substitute_id"] = json!(d.principal);
    let late = app
        .post(
            "/api/v1/filings",
            d.token("deputy"),
            json!({"draft": deputy, "submit": true}),
        )
        .await
        .str("/id");
    // The day of departure, 08:30 in Beijing.
    app.set_now("2027-05-01T00:30:00Z");
    app.post(
        &format!("/api/v1/filings/{back}/depart"),
        d.token("principal"),
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/filings/{back}/return"),
        d.token("principal"),
        json!({}),
    )
    .await;
    app.post(
        &format!("/api/v1/filings/{late}/depart"),
        d.token("deputy"),
        json!({}),
    )
    .await;

    let roster = app
        .get(
            &format!("/api/v1/units/{}/roster?on=2027-05-02", d.bureau),
            d.token("admin"),
        )
        .await;
    let statuses: Vec<&str> = roster.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["away", "returned"], "{}", roster.body);
    // After the planned return the deputy is still away; the principal is back.
    let roster = app
        .get(
            &format!("/api/v1/units/{}/roster?on=2027-05-05", d.bureau),
            d.token("admin"),
        )
        .await;
    let who: Vec<&str> = roster.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(who, vec![d.deputy.to_string()]);
}
