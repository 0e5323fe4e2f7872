//! Self-examination (API.md, "Authorization" and "Evidence and
//! reconciliation"): the person concerned is notified of a discrepancy about
//! them, lists, reads and explains it; inspectors and admins of scope then
//! confirm it or clear it, never about themselves; every step is an event of
//! its history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use diesel::connection::SimpleConnection;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

/// "Now": Tuesday 1 June 2027, 10:00 in Beijing, after the May reviewed here.
const NOW: &str = "2027-06-01T02:00:00Z";
/// The days the clerk was in Shanghai with no filing: four discrepancies.
const CLERK_DAYS: [&str; 4] = ["2027-05-03", "2027-05-10", "2027-05-17", "2027-05-24"];

/// The reporting district, a colleague of the clerk in the office (a plain
/// cadre), and the bureau's May reconciled by the inspector: four
/// discrepancies about the clerk and one about the unit admin.
struct Case {
    app: TestApp,
    d: District,
    /// The clerk's discrepancies, by first day.
    clerk: Vec<String>,
    /// The unit admin's.
    admin_own: String,
}

async fn import(app: &TestApp, d: &District, key: &str, records: Value) {
    let res = app
        .post(
            "/api/v1/evidence/imports",
            d.token("inspector"),
            json!({"batch_key": key, "unit_id": d.bureau, "source": "itinerary", "records": records}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["rejected"], json!([]), "{}", res.body);
}

async fn reconcile(app: &TestApp, d: &District) -> Resp {
    let res = app
        .post(
            "/api/v1/reconciliations",
            d.token("inspector"),
            json!({"unit_id": d.bureau, "from": "2027-05-01", "to": "2027-05-31"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    res
}

async fn setup() -> Case {
    let (app, mut d) = reporting_district(NOW).await;
    app.account("colleague", d.office, "clerk", "staff").await;
    d.tokens
        .insert("colleague", app.login("colleague", PASSWORD).await);
    let mut records: Vec<Value> = CLERK_DAYS
        .iter()
        .map(|day| json!({"login": "clerk", "date": day, "location_code": "310000"}))
        .collect();
    records.push(json!({"login": "unit-admin", "date": "2027-05-12", "location_code": "440100"}));
    import(&app, &d, "may", json!(records)).await;
    let res = reconcile(&app, &d).await;
    assert_eq!(res.body["created"], 5, "{}", res.body);
    let mut clerk: Vec<(String, String)> = Vec::new();
    let mut admin_own = String::new();
    for item in res.body["discrepancies"].as_array().unwrap() {
        assert_eq!(item["kind"], "unreported_departure", "{item}");
        assert_eq!(item["status"], "open", "{item}");
        let id = item["id"].as_str().unwrap().to_owned();
        if item["account_id"] == json!(d.clerk) {
            clerk.push((item["from"].as_str().unwrap().to_owned(), id));
        } else {
            assert_eq!(item["account_id"], json!(d.unit_admin), "{item}");
            admin_own = id;
        }
    }
    clerk.sort();
    assert_eq!(
        clerk
            .iter()
            .map(|(from, _)| from.as_str())
            .collect::<Vec<_>>(),
        CLERK_DAYS
    );
    Case {
        app,
        d,
        clerk: clerk.into_iter().map(|(_, id)| id).collect(),
        admin_own,
    }
}

fn one(id: &str) -> String {
    format!("/api/v1/discrepancies/{id}")
}

fn on(id: &str, action: &str) -> String {
    format!("/api/v1/discrepancies/{id}/{action}")
}

fn explanation() -> Value {
    json!({"explanation": "Visited my mother in hospital; I filed nothing, my mistake"})
}

/// A POST with a JSON body and an `If-Match` header.
async fn post_if_match(app: &TestApp, token: &str, uri: &str, tag: &str, body: Value) -> Resp {
    let req = TestRequest::post()
        .uri(uri)
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("if-match", tag))
        .set_json(body);
    app.send(req).await
}

fn ids(page: &Value) -> BTreeSet<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

/// Answers `200` and the discrepancy, or panics with the body.
fn ok(res: Resp) -> Value {
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    res.body
}

#[actix_web::test]
async fn the_person_concerned_lists_reads_and_explains_their_own() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let clerk = d.token("clerk");

    // Their own four, none of the unit admin's.
    let res = app.get("/api/v1/me/discrepancies", clerk).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(ids(&res.body), c.clerk.iter().cloned().collect());
    assert!(res.body["next_cursor"].is_null(), "{}", res.body);
    for item in res.body["items"].as_array().unwrap() {
        assert_eq!(item["account_id"], json!(d.clerk));
        assert_eq!(item["evidence"].as_array().unwrap().len(), 1, "{item}");
    }
    let res = app
        .get("/api/v1/me/discrepancies", d.token("unit-admin"))
        .await;
    assert_eq!(ids(&res.body), set(&[&c.admin_own]));
    let res = app
        .get("/api/v1/me/discrepancies", d.token("colleague"))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["items"], json!([]));

    // Paged, by first day.
    let mut paged = Vec::new();
    let mut uri = "/api/v1/me/discrepancies?limit=3".to_owned();
    loop {
        let res = app.get(&uri, clerk).await;
        assert_eq!(res.status.as_u16(), 200, "{}", res.body);
        paged.extend(
            res.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_owned()),
        );
        match res.body["next_cursor"].as_str() {
            Some(next) => uri = format!("/api/v1/me/discrepancies?limit=3&cursor={next}"),
            None => break,
        }
        assert!(paged.len() <= 4, "the pages do not end: {paged:?}");
    }
    assert_eq!(paged, c.clerk);

    // One, with its version as the ETag.
    let first = &c.clerk[0];
    let res = app.get(&one(first), clerk).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["id"], json!(first));
    assert_eq!(res.body["from"], "2027-05-03");
    assert_eq!(res.body["status"], "open");
    let tag = res.header("etag");
    assert_eq!(tag, format!("\"{}\"", res.body["version"]), "{}", res.body);

    // Explained by themselves, with the current tag.
    let res = post_if_match(app, clerk, &on(first, "explain"), &tag, explanation()).await;
    let body = ok(res);
    assert_eq!(body["status"], "explained");
    assert_eq!(body["explained_by"], json!(d.clerk));
    assert_eq!(body["explanation"], explanation()["explanation"]);
    // Again, with more detail: still explained.
    let body = ok(app
        .post(
            &on(first, "explain"),
            clerk,
            json!({"explanation": "Visited my mother in hospital in Shanghai"}),
        )
        .await);
    assert_eq!(body["status"], "explained");
    let res = app.get(&one(first), clerk).await;
    assert_eq!(
        res.body["explanation"],
        "Visited my mother in hospital in Shanghai"
    );
    assert_eq!(res.header("etag"), format!("\"{}\"", body["version"]));

    let res = app
        .get("/api/v1/me/discrepancies?status=explained", clerk)
        .await;
    assert_eq!(ids(&res.body), set(&[first]));
    let res = app.get("/api/v1/me/discrepancies?status=open", clerk).await;
    assert_eq!(
        ids(&res.body),
        set(&[&c.clerk[1], &c.clerk[2], &c.clerk[3]])
    );
    // Reviewers see the same.
    let res = app
        .get(
            &format!(
                "/api/v1/discrepancies?unit_id={}&status=explained",
                d.bureau
            ),
            d.token("inspector"),
        )
        .await;
    assert_eq!(ids(&res.body), set(&[first]));
}

#[actix_web::test]
async fn cadres_who_are_not_the_person_concerned_find_nothing() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let id = &c.clerk[0];
    let before = app.fingerprint();
    // A colleague of the same office, and a cadre of the sibling bureau.
    for who in ["colleague", "outsider"] {
        let token = d.token(who);
        app.get(&one(id), token)
            .await
            .assert_problem(404, "not_found");
        app.get(&on(id, "events"), token)
            .await
            .assert_problem(404, "not_found");
        app.post(&on(id, "explain"), token, explanation())
            .await
            .assert_problem(404, "not_found");
        for action in ["confirm", "clear"] {
            app.post(&on(id, action), token, json!({}))
                .await
                .assert_problem(404, "not_found");
        }
    }
    // The sibling bureau's admin: outside its scope.
    let token = d.token("other-admin");
    app.get(&one(id), token)
        .await
        .assert_problem(404, "not_found");
    app.get(&on(id, "events"), token)
        .await
        .assert_problem(404, "not_found");
    app.post(&on(id, "explain"), token, explanation())
        .await
        .assert_problem(404, "not_found");
    app.post(&on(id, "confirm"), token, json!({}))
        .await
        .assert_problem(404, "not_found");
    // An unknown id, to the person and to a reviewer.
    let unknown = Uuid::new_v4().to_string();
    for who in ["clerk", "inspector"] {
        app.get(&one(&unknown), d.token(who))
            .await
            .assert_problem(404, "not_found");
        app.get(&on(&unknown, "events"), d.token(who))
            .await
            .assert_problem(404, "not_found");
        app.post(&on(&unknown, "explain"), d.token(who), explanation())
            .await
            .assert_problem(404, "not_found");
    }
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn an_admin_of_the_scope_explains_for_the_person_and_an_inspector_does_not() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let id = &c.clerk[1];
    app.post(&on(id, "explain"), d.token("inspector"), explanation())
        .await
        .assert_problem(403, "forbidden");
    let body = ok(app
        .post(&on(id, "explain"), d.token("unit-admin"), explanation())
        .await);
    assert_eq!(body["status"], "explained");
    assert_eq!(body["explained_by"], json!(d.unit_admin));
    // Reviewers read it and its history.
    for who in ["unit-admin", "inspector", "admin"] {
        let res = app.get(&one(id), d.token(who)).await;
        assert_eq!(res.status.as_u16(), 200, "{who}: {}", res.body);
        let res = app.get(&on(id, "events"), d.token(who)).await;
        assert_eq!(res.status.as_u16(), 200, "{who}: {}", res.body);
    }
}

#[actix_web::test]
async fn the_person_concerned_never_confirms_or_clears_their_own() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let clerk = d.token("clerk");
    let id = &c.clerk[0];
    ok(app.post(&on(id, "explain"), clerk, explanation()).await);
    let before = app.fingerprint();
    for action in ["confirm", "clear"] {
        app.post(&on(id, action), clerk, json!({}))
            .await
            .assert_problem(403, "self_change_forbidden");
    }
    // A unit admin over the bureau, about themselves: still refused, though
    // they explain their own like anyone.
    let admin = d.token("unit-admin");
    let own = &c.admin_own;
    ok(app.post(&on(own, "explain"), admin, explanation()).await);
    let explained = app.fingerprint();
    for action in ["confirm", "clear"] {
        app.post(&on(own, action), admin, json!({"comment": "Accepted"}))
            .await
            .assert_problem(403, "self_change_forbidden");
    }
    assert_eq!(app.fingerprint(), explained);
    // The same unit admin decides the clerk's; the inspector decides theirs.
    let body = ok(app.post(&on(id, "clear"), admin, json!({})).await);
    assert_eq!(body["status"], "cleared");
    let body = ok(app
        .post(&on(own, "confirm"), d.token("inspector"), json!({}))
        .await);
    assert_eq!(body["status"], "confirmed");
    assert_ne!(app.fingerprint(), before);
}

#[actix_web::test]
async fn an_inspector_clears_an_explained_one_and_confirms_another() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let inspector = d.token("inspector");
    let (explained, open) = (&c.clerk[0], &c.clerk[1]);
    ok(app
        .post(&on(explained, "explain"), d.token("clerk"), explanation())
        .await);
    let res = app
        .post(
            &on(explained, "clear"),
            inspector,
            json!({"comment": "The hospital's note is on file"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.header("etag"), format!("\"{}\"", res.body["version"]));
    assert_eq!(res.body["status"], "cleared");
    assert_eq!(res.body["cleared_by"], json!(d.inspector));
    assert!(res.body["cleared_at"].is_string(), "{}", res.body);
    assert_eq!(res.body["explained_by"], json!(d.clerk));
    assert!(res.body["confirmed_by"].is_null(), "{}", res.body);

    let body = ok(app
        .post(
            &on(open, "confirm"),
            inspector,
            json!({"comment": "Left for Shanghai without reporting"}),
        )
        .await);
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["confirmed_by"], json!(d.inspector));
    assert!(body["cleared_by"].is_null(), "{}", body);

    // Both lists filter on the new status.
    let res = app
        .get("/api/v1/me/discrepancies?status=cleared", d.token("clerk"))
        .await;
    assert_eq!(ids(&res.body), set(&[explained]));
    let res = app
        .get(
            &format!("/api/v1/discrepancies?unit_id={}&status=cleared", d.bureau),
            inspector,
        )
        .await;
    assert_eq!(ids(&res.body), set(&[explained]));
    let res = app
        .get(
            &format!(
                "/api/v1/discrepancies?unit_id={}&status=confirmed",
                d.bureau
            ),
            inspector,
        )
        .await;
    assert_eq!(ids(&res.body), set(&[open]));
}

#[actix_web::test]
async fn clearing_needs_an_explanation_and_a_decision_is_final() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let inspector = d.token("inspector");
    let clerk = d.token("clerk");
    let (cleared, confirmed) = (&c.clerk[0], &c.clerk[1]);
    let before = app.fingerprint();
    app.post(&on(cleared, "clear"), inspector, json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    assert_eq!(app.fingerprint(), before);

    ok(app
        .post(&on(cleared, "explain"), clerk, explanation())
        .await);
    ok(app.post(&on(cleared, "clear"), inspector, json!({})).await);
    ok(app
        .post(&on(confirmed, "explain"), clerk, explanation())
        .await);
    ok(app
        .post(&on(confirmed, "confirm"), inspector, json!({}))
        .await);

    let before = app.fingerprint();
    for id in [cleared, confirmed] {
        app.post(&on(id, "explain"), clerk, explanation())
            .await
            .assert_problem(409, "invalid_transition");
        for action in ["confirm", "clear"] {
            app.post(&on(id, action), inspector, json!({}))
                .await
                .assert_problem(409, "invalid_transition");
        }
        app.post(&on(id, "explain"), d.token("unit-admin"), explanation())
            .await
            .assert_problem(409, "invalid_transition");
    }
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn a_stale_if_match_changes_nothing() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let id = &c.clerk[0];
    let stale = app.get(&one(id), d.token("clerk")).await.header("etag");
    ok(app
        .post(&on(id, "explain"), d.token("clerk"), explanation())
        .await);
    let before = app.fingerprint();
    post_if_match(
        app,
        d.token("clerk"),
        &on(id, "explain"),
        &stale,
        explanation(),
    )
    .await
    .assert_problem(412, "precondition_failed");
    for action in ["clear", "confirm"] {
        post_if_match(
            app,
            d.token("inspector"),
            &on(id, action),
            &stale,
            json!({}),
        )
        .await
        .assert_problem(412, "precondition_failed");
    }
    assert_eq!(app.fingerprint(), before);
    let current = app.get(&one(id), d.token("inspector")).await.header("etag");
    assert_ne!(current, stale);
    let body = ok(post_if_match(
        app,
        d.token("inspector"),
        &on(id, "clear"),
        &current,
        json!({}),
    )
    .await);
    assert_eq!(body["status"], "cleared");
}

#[actix_web::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let id = &c.clerk[0];
    let clerk = d.token("clerk");
    let before = app.fingerprint();
    for body in [json!({"explanation": ""}), json!({"explanation": " \n\t "})] {
        let res = app.post(&on(id, "explain"), clerk, body).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["code"], "required", "{}", res.body);
        assert_eq!(
            res.body["errors"][0]["field"], "explanation",
            "{}",
            res.body
        );
    }
    app.post(&on(id, "explain"), clerk, json!({}))
        .await
        .assert_problem(422, "validation_failed");
    let res = app
        .post(
            &on(id, "explain"),
            clerk,
            json!({"explanation": "x".repeat(2001)}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["code"], "too_long", "{}", res.body);
    let res = app
        .post(
            &on(id, "clear"),
            d.token("inspector"),
            json!({"comment": "x".repeat(2001)}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "comment", "{}", res.body);
    app.get("/api/v1/me/discrepancies?cursor=not-a-cursor", clerk)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/me/discrepancies?limit=0", clerk)
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/me/discrepancies?status=forgiven", clerk)
        .await
        .assert_problem(400, "malformed_request");
    // No token.
    for uri in [
        "/api/v1/me/discrepancies".to_owned(),
        one(id),
        on(id, "events"),
    ] {
        app.get(&uri, "").await.assert_problem(401, "unauthorized");
    }
    for action in ["explain", "confirm", "clear"] {
        app.post(&on(id, action), "", explanation())
            .await
            .assert_problem(401, "unauthorized");
    }
    assert_eq!(app.fingerprint(), before);
}

/// The `discrepancy_opened` notifications in an account's feed, as
/// (discrepancy id, kind, from, to).
async fn opened_notes(app: &TestApp, token: &str) -> Vec<(String, String, String, String)> {
    let res = app.get("/api/v1/me/notifications?limit=500", token).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let mut notes: Vec<_> = res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "discrepancy_opened")
        .map(|n| {
            let data = &n["data"];
            (
                data["discrepancy_id"].as_str().unwrap().to_owned(),
                data["kind"].as_str().unwrap().to_owned(),
                data["from"].as_str().unwrap().to_owned(),
                data["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    notes.sort_by(|a, b| a.2.cmp(&b.2));
    notes
}

#[actix_web::test]
async fn the_person_is_notified_once_of_each_discrepancy_that_opens() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let expected: Vec<(String, String, String, String)> = c
        .clerk
        .iter()
        .zip(CLERK_DAYS)
        .map(|(id, day)| {
            (
                id.clone(),
                "unreported_departure".to_owned(),
                day.to_owned(),
                day.to_owned(),
            )
        })
        .collect();
    assert_eq!(opened_notes(app, d.token("clerk")).await, expected);
    // Running it again creates nothing and notifies nobody again.
    let res = reconcile(app, d).await;
    assert_eq!(res.body["created"], 0, "{}", res.body);
    assert_eq!(opened_notes(app, d.token("clerk")).await, expected);
    let own = opened_notes(app, d.token("unit-admin")).await;
    assert_eq!(
        own,
        vec![(
            c.admin_own.clone(),
            "unreported_departure".to_owned(),
            "2027-05-12".to_owned(),
            "2027-05-12".to_owned()
        )]
    );
    // Neither the colleague nor the inspector who ran it hears of them.
    assert!(opened_notes(app, d.token("colleague")).await.is_empty());
    assert!(opened_notes(app, d.token("inspector")).await.is_empty());
    // An open discrepancy that grows by a day is the same discrepancy: no
    // second notification. A day apart from every other is a new one.
    import(
        app,
        d,
        "may-more",
        json!([
            {"login": "clerk", "date": "2027-05-04", "location_code": "310000"},
            {"login": "clerk", "date": "2027-05-28", "location_code": "310000"}
        ]),
    )
    .await;
    let res = reconcile(app, d).await;
    assert_eq!(res.body["created"], 1, "{}", res.body);
    let grown = res.body["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == json!(c.clerk[0]))
        .unwrap();
    assert_eq!(grown["to"], "2027-05-04", "{grown}");
    let notes = opened_notes(app, d.token("clerk")).await;
    assert_eq!(notes.len(), 5, "{notes:?}");
    assert_eq!(&notes[..4], &expected[..]);
    assert_eq!(notes[4].2, "2027-05-28");
    // Exactly one a discrepancy, however often it ran.
    let unique: BTreeSet<&String> = notes.iter().map(|n| &n.0).collect();
    assert_eq!(unique.len(), 5);
}

/// The events of a discrepancy as (action, actor, from, to, note).
async fn history(
    app: &TestApp,
    token: &str,
    id: &str,
) -> Vec<(String, Uuid, Value, String, Value)> {
    let res = app.get(&on(id, "events"), token).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    let items = res.body["items"].as_array().unwrap();
    let seq: Vec<i64> = items.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    let mut sorted = seq.clone();
    sorted.sort_unstable();
    assert_eq!(seq, sorted, "oldest first");
    items
        .iter()
        .map(|e| {
            assert!(e["at"].is_string(), "{e}");
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor_id"].as_str().unwrap().parse().unwrap(),
                e["from_status"].clone(),
                e["to_status"].as_str().unwrap().to_owned(),
                e["note"].clone(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_history_shows_each_step_and_who_took_it() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let id = &c.clerk[0];
    let opened = (
        "opened".to_owned(),
        d.inspector,
        Value::Null,
        "open".to_owned(),
        Value::Null,
    );
    assert_eq!(
        history(app, d.token("clerk"), id).await,
        vec![opened.clone()]
    );
    ok(app
        .post(&on(id, "explain"), d.token("clerk"), explanation())
        .await);
    ok(app
        .post(
            &on(id, "clear"),
            d.token("inspector"),
            json!({"comment": "  Accepted  "}),
        )
        .await);
    let want = vec![
        opened.clone(),
        (
            "explained".to_owned(),
            d.clerk,
            json!("open"),
            "explained".to_owned(),
            explanation()["explanation"].clone(),
        ),
        (
            "cleared".to_owned(),
            d.inspector,
            json!("explained"),
            "cleared".to_owned(),
            json!("Accepted"),
        ),
    ];
    assert_eq!(history(app, d.token("clerk"), id).await, want);
    assert_eq!(history(app, d.token("unit-admin"), id).await, want);

    // Confirmed straight from open, without a comment.
    let other = &c.clerk[1];
    ok(app
        .post(&on(other, "confirm"), d.token("unit-admin"), json!({}))
        .await);
    assert_eq!(
        history(app, d.token("clerk"), other).await,
        vec![
            opened,
            (
                "confirmed".to_owned(),
                d.unit_admin,
                json!("open"),
                "confirmed".to_owned(),
                Value::Null,
            ),
        ]
    );

    // The history is append-only in the database itself.
    let mut conn = app.db.connect();
    for sql in [
        "UPDATE discrepancy_events SET note = 'rewritten'",
        "DELETE FROM discrepancy_events",
        "TRUNCATE discrepancy_events",
    ] {
        assert!(conn.batch_execute(sql).is_err(), "accepted: {sql}");
    }
    assert_eq!(app.count("discrepancy_events"), 5 + 2 + 1);
}

#[actix_web::test]
async fn a_cleared_discrepancy_is_no_longer_a_problem_in_a_campaign_report() {
    let c = setup().await;
    let (app, d) = (&c.app, &c.d);
    let res = app
        .post(
            "/api/v1/inspections",
            d.token("inspector"),
            json!({"name": "May", "unit_id": d.bureau, "from": "2027-05-01", "to": "2027-05-31"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let report = format!("/api/v1/inspections/{}/report", res.str("/id"));
    let open = |body: &Value| body["overall"]["people_with_open_discrepancies"].clone();
    let res = app.get(&report, d.token("inspector")).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(open(&res.body), 2, "{}", res.body["overall"]);
    for id in &c.clerk {
        ok(app
            .post(&on(id, "explain"), d.token("clerk"), explanation())
            .await);
        ok(app
            .post(&on(id, "clear"), d.token("inspector"), json!({}))
            .await);
    }
    let res = app.get(&report, d.token("inspector")).await;
    assert_eq!(open(&res.body), 1, "{}", res.body["overall"]);
    assert_eq!(
        res.body["overall"]["people_with_confirmed_discrepancies"], 0,
        "{}",
        res.body["overall"]
    );
}
