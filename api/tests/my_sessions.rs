//! A caller's sessions: listed with the current one marked, ended one at a
//! time by their account or all at once by an administrator allowed to act
//! on it, and ended by their idle and longest lifetimes; an ended session's
//! tokens stop at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use diesel::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

/// A login from a user agent: its access and refresh tokens.
async fn login_as(app: &TestApp, login: &str, agent: &str) -> (String, String) {
    let res = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .peer_addr("198.51.100.7:40000".parse().unwrap())
                .insert_header(("user-agent", agent))
                .set_json(json!({"login": login, "password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    (res.str("/access_token"), res.str("/refresh_token"))
}

fn session_of(token: &str) -> Uuid {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().parse().unwrap()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> Resp {
    app.send(
        TestRequest::delete()
            .uri(path)
            .insert_header(("authorization", format!("Bearer {token}"))),
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    app.post("/api/v1/auth/refresh", "", json!({"refresh_token": token}))
        .await
}

fn ids(list: &Resp) -> Vec<Uuid> {
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn sql(app: &TestApp, query: &str) {
    let mut conn = app.db.connect();
    diesel::sql_query(query).execute(&mut conn).unwrap();
}

#[actix_web::test]
async fn my_sessions_are_the_live_ones_with_the_current_one_marked() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let (phone, _) = login_as(&app, "clerk", "Whereabouts-Android/3.1").await;
    let (desk, desk_refresh) = login_as(&app, "clerk", "Mozilla/5.0").await;
    let ended = app
        .post(
            "/api/v1/auth/logout",
            "",
            json!({"refresh_token": desk_refresh}),
        )
        .await;
    assert_eq!(ended.status.as_u16(), 204);

    let list = app.get("/api/v1/me/sessions", &phone).await;
    assert_eq!(list.status.as_u16(), 200, "{}", list.body);
    let listed = ids(&list);
    // The seed's login and the phone's; the logged-out one is gone.
    assert_eq!(listed.len(), 2, "{}", list.body);
    assert!(listed.contains(&session_of(&phone)));
    assert!(listed.contains(&session_of(d.token("clerk"))));
    assert!(!listed.contains(&session_of(&desk)));
    let items = list.body["items"].as_array().unwrap();
    let current: Vec<&Value> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], json!(session_of(&phone)));
    assert_eq!(current[0]["user_agent"], "Whereabouts-Android/3.1");
    assert_eq!(current[0]["address"], "198.51.100.7");
    assert!(current[0]["created_at"].is_string() && current[0]["last_used_at"].is_string());
    // The most recently used first.
    assert_eq!(items[0]["id"], json!(session_of(&phone)));

    // Nobody else's sessions show.
    let theirs = app.get("/api/v1/me/sessions", d.token("head")).await;
    assert_eq!(ids(&theirs), vec![session_of(d.token("head"))]);
    app.get("/api/v1/me/sessions", "")
        .await
        .assert_problem(401, "unauthorized");
}

#[actix_web::test]
async fn ending_a_session_stops_its_tokens_at_once_and_only_the_owner_can() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let (phone, phone_refresh) = login_as(&app, "clerk", "Whereabouts-iOS/3.1").await;
    let desk = d.token("clerk");
    let path = format!("/api/v1/me/sessions/{}", session_of(&phone));

    // Another account cannot end it, nor learn that it exists.
    let before = app.fingerprint();
    delete(&app, &path, d.token("head"))
        .await
        .assert_problem(404, "not_found");
    delete(&app, &path, d.token("admin"))
        .await
        .assert_problem(404, "not_found");
    delete(
        &app,
        &format!("/api/v1/me/sessions/{}", Uuid::new_v4()),
        desk,
    )
    .await
    .assert_problem(404, "not_found");
    delete(&app, "/api/v1/me/sessions/not-a-session", desk)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.fingerprint(), before);
    assert_eq!(app.get("/api/v1/me", &phone).await.status.as_u16(), 200);

    let res = delete(&app, &path, desk).await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
    app.get("/api/v1/me", &phone)
        .await
        .assert_problem(401, "token_revoked");
    refresh(&app, &phone_refresh)
        .await
        .assert_problem(401, "invalid_token");
    assert!(!ids(&app.get("/api/v1/me/sessions", desk).await).contains(&session_of(&phone)));
    // Ended already: nothing left to end.
    delete(&app, &path, desk)
        .await
        .assert_problem(404, "not_found");
    // The caller's own session goes on, and may end itself.
    assert_eq!(app.get("/api/v1/me", desk).await.status.as_u16(), 200);
    let own = format!("/api/v1/me/sessions/{}", session_of(desk));
    assert_eq!(delete(&app, &own, desk).await.status.as_u16(), 204);
    app.get("/api/v1/me", desk)
        .await
        .assert_problem(401, "token_revoked");
}

#[actix_web::test]
async fn an_administrator_of_wider_scope_ends_every_session_of_an_account() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let (phone, phone_refresh) = login_as(&app, "clerk", "Whereabouts-Android/3.1").await;
    let revoke = |id: Uuid| format!("/api/v1/accounts/{id}/revoke-sessions");

    // A cadre, a unit admin of a sibling unit, an inspector and the account
    // itself cannot; nothing changes.
    let before = app.fingerprint();
    app.post(&revoke(d.clerk), d.token("head"), json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.post(&revoke(d.clerk), d.token("other-admin"), json!({}))
        .await
        .assert_problem(404, "not_found");
    app.post(&revoke(d.clerk), d.token("inspector"), json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.post(&revoke(d.unit_admin), d.token("unit-admin"), json!({}))
        .await
        .assert_problem(403, "self_change_forbidden");
    app.post(&revoke(Uuid::new_v4()), d.token("admin"), json!({}))
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.fingerprint(), before);

    let res = app
        .post(&revoke(d.clerk), d.token("unit-admin"), json!({}))
        .await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
    for token in [phone.as_str(), d.token("clerk")] {
        app.get("/api/v1/me", token)
            .await
            .assert_problem(401, "token_revoked");
    }
    refresh(&app, &phone_refresh)
        .await
        .assert_problem(401, "invalid_token");
    // Other accounts keep theirs; the clerk can log in again.
    assert_eq!(
        app.get("/api/v1/me", d.token("head")).await.status.as_u16(),
        200
    );
    let (again, _) = login_as(&app, "clerk", "Whereabouts-Android/3.1").await;
    assert_eq!(ids(&app.get("/api/v1/me/sessions", &again).await).len(), 1);
}

#[actix_web::test]
async fn an_idle_session_and_one_past_its_longest_life_end() {
    let app = TestApp::with_config(|c| {
        c.session_idle_minutes = 60;
        c.session_max_hours = 24;
    })
    .await;
    let d = seed(&app).await;
    let (idle, idle_refresh) = login_as(&app, "clerk", "a").await;
    let (old, old_refresh) = login_as(&app, "clerk", "b").await;
    let (fresh, fresh_refresh) = login_as(&app, "clerk", "c").await;
    // Unused for 61 minutes; logged in 25 hours ago and refreshed since.
    sql(
        &app,
        &format!(
            "UPDATE sessions SET created_at = now() - interval '61 minutes',
                                 last_used_at = now() - interval '61 minutes'
             WHERE id = '{}'",
            session_of(&idle)
        ),
    );
    sql(
        &app,
        &format!(
            "UPDATE sessions SET created_at = now() - interval '25 hours',
                                 last_used_at = now() - interval '5 minutes'
             WHERE id = '{}'",
            session_of(&old)
        ),
    );
    for (access, refresh_token) in [(&idle, &idle_refresh), (&old, &old_refresh)] {
        app.get("/api/v1/me", access)
            .await
            .assert_problem(401, "token_revoked");
        refresh(&app, refresh_token)
            .await
            .assert_problem(401, "invalid_token");
    }
    let listed = ids(&app.get("/api/v1/me/sessions", &fresh).await);
    assert!(!listed.contains(&session_of(&idle)) && !listed.contains(&session_of(&old)));
    // Refused for their age, they have ended for good.
    assert_eq!(
        app.count("sessions WHERE ended_at IS NOT NULL AND user_agent IN ('a', 'b')"),
        2
    );
    // A session in use lives on.
    assert_eq!(refresh(&app, &fresh_refresh).await.status.as_u16(), 200);
    assert_eq!(
        app.get("/api/v1/me", d.token("head")).await.status.as_u16(),
        200
    );
}
