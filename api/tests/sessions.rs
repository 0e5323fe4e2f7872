//! Sessions and the answers around them: logout ends a session's access token
//! at once, a suspended account looks like a wrong password, password changes
//! and logins are throttled per account and per (login, address) without
//! locking out other addresses, and an idempotent replay re-authorizes its
//! caller.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::net::SocketAddr;
use uuid::Uuid;

/// The key of `Config::for_tests`.
const TEST_SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

/// A client address (port 40000).
fn address(text: &str) -> SocketAddr {
    SocketAddr::new(text.parse().unwrap(), 40000)
}

async fn login_from(app: &TestApp, login: &str, password: &str, from: &str) -> Resp {
    app.send(
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .peer_addr(address(from))
            .set_json(json!({"login": login, "password": password})),
    )
    .await
}

async fn login_pair(app: &TestApp, login: &str, password: &str) -> Resp {
    login_from(app, login, password, "192.0.2.1").await
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    app.post("/api/v1/auth/refresh", "", json!({"refresh_token": token}))
        .await
}

async fn logout(app: &TestApp, token: &str) -> Resp {
    app.post("/api/v1/auth/logout", "", json!({"refresh_token": token}))
        .await
}

/// The claims of a token, read from its payload.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(TEST_SECRET),
    )
    .unwrap()
}

fn assert_ok(res: &Resp) {
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
}

fn retry_after(res: &Resp) -> u64 {
    res.header("retry-after").parse().unwrap_or_else(|_| {
        panic!(
            "Retry-After: {:?} in {}",
            res.header("retry-after"),
            res.body
        )
    })
}

/// Runs SQL on the test database.
fn sql(app: &TestApp, query: &str) {
    let mut conn = app.db.connect();
    diesel::sql_query(query).execute(&mut conn).unwrap();
}

// 1. Sessions: logout ends the access token of its session at once.

#[actix_web::test]
async fn logout_ends_the_access_token_of_its_session_at_once() {
    let app = TestApp::new().await;
    seed(&app).await;
    let pair = login_pair(&app, "clerk", PASSWORD).await;
    let (access, refresh_token) = (pair.str("/access_token"), pair.str("/refresh_token"));
    let other = login_pair(&app, "clerk", PASSWORD).await;
    assert_ok(&app.get("/api/v1/me", &access).await);

    let res = logout(&app, &refresh_token).await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);

    app.get("/api/v1/me", &access)
        .await
        .assert_problem(401, "token_revoked");
    // The account's other session goes on.
    assert_ok(&app.get("/api/v1/me", &other.str("/access_token")).await);
    assert_ok(&refresh(&app, &other.str("/refresh_token")).await);
}

#[actix_web::test]
async fn refresh_keeps_the_session_and_logout_ends_all_its_access_tokens() {
    let app = TestApp::new().await;
    seed(&app).await;
    let first = login_pair(&app, "clerk", PASSWORD).await;
    let sid = claims(&first.str("/access_token"))["sid"].clone();
    assert!(sid.is_string(), "no session in {}", first.body);

    let second = refresh(&app, &first.str("/refresh_token")).await;
    assert_ok(&second);
    assert_eq!(claims(&second.str("/access_token"))["sid"], sid);
    assert_ok(&app.get("/api/v1/me", &first.str("/access_token")).await);
    assert_ok(&app.get("/api/v1/me", &second.str("/access_token")).await);

    let res = logout(&app, &second.str("/refresh_token")).await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
    for access in [first.str("/access_token"), second.str("/access_token")] {
        app.get("/api/v1/me", &access)
            .await
            .assert_problem(401, "token_revoked");
    }
}

#[actix_web::test]
async fn a_reused_refresh_token_ends_the_session_and_its_access_tokens() {
    let app = TestApp::new().await;
    seed(&app).await;
    let first = login_pair(&app, "clerk", PASSWORD).await;
    let second = refresh(&app, &first.str("/refresh_token")).await;
    assert_ok(&second);
    let access = second.str("/access_token");
    assert_ok(&app.get("/api/v1/me", &access).await);

    refresh(&app, &first.str("/refresh_token"))
        .await
        .assert_problem(401, "refresh_token_reused");
    app.get("/api/v1/me", &access)
        .await
        .assert_problem(401, "token_revoked");
    refresh(&app, &second.str("/refresh_token"))
        .await
        .assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn an_access_token_without_a_live_session_of_its_account_is_refused() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let real = claims(d.token("clerk"));
    let now = chrono::Utc::now().timestamp();
    let base = json!({"sub": d.clerk, "iss": "whereabouts", "aud": "whereabouts-api",
        "iat": now - 60, "exp": now + 600, "cv": real["cv"], "sid": real["sid"]});
    // The crafted token is good when nothing is wrong with it.
    assert_ok(&app.get("/api/v1/me", &sign(&base)).await);

    let mut unknown = base.clone();
    unknown["sid"] = json!(Uuid::new_v4());
    app.get("/api/v1/me", &sign(&unknown))
        .await
        .assert_problem(401, "token_revoked");

    // Another account's live session is not the clerk's.
    let mut borrowed = base.clone();
    borrowed["sid"] = claims(d.token("head"))["sid"].clone();
    app.get("/api/v1/me", &sign(&borrowed))
        .await
        .assert_problem(401, "token_revoked");

    let mut without = base.clone();
    without.as_object_mut().unwrap().remove("sid");
    app.get("/api/v1/me", &sign(&without))
        .await
        .assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn a_login_records_its_session_with_user_agent_and_address() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let res = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/login")
                .peer_addr(address("198.51.100.7"))
                .insert_header(("user-agent", "Whereabouts-Android/3.1"))
                .set_json(json!({"login": "clerk", "password": PASSWORD})),
        )
        .await;
    assert_ok(&res);
    let sid = claims(&res.str("/access_token"))["sid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    #[derive(QueryableByName)]
    struct Session {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        account_id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        user_agent: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        address: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        live: bool,
    }
    let mut conn = app.db.connect();
    let session: Session = diesel::sql_query(
        "SELECT account_id, user_agent, address, ended_at IS NULL AS live FROM sessions WHERE id::text = $1",
    )
    .bind::<diesel::sql_types::Text, _>(&sid)
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(session.account_id, d.clerk);
    assert_eq!(
        session.user_agent.as_deref(),
        Some("Whereabouts-Android/3.1")
    );
    assert_eq!(session.address.as_deref(), Some("198.51.100.7"));
    assert!(session.live);
}

#[actix_web::test]
async fn a_password_change_keeps_the_callers_session_and_ends_the_others() {
    let app = TestApp::new().await;
    seed(&app).await;
    let mine = login_pair(&app, "clerk", PASSWORD).await;
    let other = login_pair(&app, "clerk", PASSWORD).await;
    let res = app
        .put(
            "/api/v1/me/password",
            &mine.str("/access_token"),
            json!({"current_password": PASSWORD, "new_password": "a much better password 7"}),
        )
        .await;
    assert_ok(&res);
    assert_eq!(
        claims(&res.str("/access_token"))["sid"],
        claims(&mine.str("/access_token"))["sid"]
    );
    assert_ok(&app.get("/api/v1/me", &res.str("/access_token")).await);
    // The other session has ended: even a token carrying the new credentials
    // version is refused.
    let mut crafted = claims(&res.str("/access_token"));
    crafted["sid"] = claims(&other.str("/access_token"))["sid"].clone();
    app.get("/api/v1/me", &sign(&crafted))
        .await
        .assert_problem(401, "token_revoked");
}

// 2. A suspended account answers exactly as a wrong password does.

/// The parts of a problem answer that do not change from request to request.
fn answer(res: &Resp) -> (u16, Value, String, String) {
    let mut body = res.body.clone();
    body.as_object_mut().unwrap().remove("request_id");
    (
        res.status.as_u16(),
        body,
        res.header("content-type"),
        res.header("www-authenticate"),
    )
}

#[actix_web::test]
async fn a_suspended_account_answers_the_right_password_as_a_wrong_one() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let res = app
        .post(
            &format!("/api/v1/accounts/{}/suspend", d.clerk),
            &app.admin,
            json!({}),
        )
        .await;
    assert_ok(&res);

    let right = login_pair(&app, "clerk", PASSWORD).await;
    let wrong = login_pair(&app, "clerk", "not the password 1").await;
    wrong.assert_problem(401, "invalid_credentials");
    assert_eq!(answer(&right), answer(&wrong));
}

#[actix_web::test]
async fn right_passwords_of_a_suspended_account_count_as_failures() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let res = app
        .post(
            &format!("/api/v1/accounts/{}/suspend", d.clerk),
            &app.admin,
            json!({}),
        )
        .await;
    assert_ok(&res);
    for _ in 0..5 {
        login_pair(&app, "clerk", PASSWORD)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let res = login_pair(&app, "clerk", PASSWORD).await;
    res.assert_problem(429, "rate_limited");
    assert!(retry_after(&res) >= 1);
}

#[actix_web::test]
async fn refresh_for_a_suspended_account_answers_as_an_unknown_token() {
    let app = TestApp::new().await;
    seed(&app).await;
    let pair = login_pair(&app, "clerk", PASSWORD).await;
    // Suspended underneath the session, its refresh tokens untouched.
    sql(
        &app,
        "UPDATE accounts SET status = 'suspended' WHERE login = 'clerk'",
    );
    let suspended = refresh(&app, &pair.str("/refresh_token")).await;
    let unknown = refresh(&app, "a token nobody issued").await;
    unknown.assert_problem(401, "invalid_token");
    assert_eq!(answer(&suspended), answer(&unknown));
}

// 3. Wrong current passwords are throttled like logins.

async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> Resp {
    app.put(
        "/api/v1/me/password",
        token,
        json!({"current_password": current, "new_password": new}),
    )
    .await
}

#[actix_web::test]
async fn wrong_current_passwords_are_throttled_like_logins() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let token = d.token("clerk").to_owned();
    for i in 0..5 {
        let res = change_password(
            &app,
            &token,
            &format!("not my password {i}"),
            "a much better password 7",
        )
        .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "current_password");
    }
    let res = change_password(&app, &token, PASSWORD, "a much better password 7").await;
    res.assert_problem(429, "rate_limited");
    let wait = retry_after(&res);
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    // Nothing changed: the old password still logs in.
    assert_ok(&login_pair(&app, "clerk", PASSWORD).await);
    // The throttle is per account: another account changes its password.
    assert_ok(&change_password(&app, d.token("head"), PASSWORD, "a much better password 7").await);
}

#[actix_web::test]
async fn a_right_current_password_clears_the_password_failures() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let token = d.token("clerk").to_owned();
    for _ in 0..4 {
        change_password(
            &app,
            &token,
            "not my password 1",
            "a much better password 7",
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    let res = change_password(&app, &token, PASSWORD, "a much better password 7").await;
    assert_ok(&res);
    let token = res.str("/access_token");
    for _ in 0..4 {
        change_password(
            &app,
            &token,
            "not my password 1",
            "a better password still 8",
        )
        .await
        .assert_problem(422, "validation_failed");
    }
    assert_ok(
        &change_password(
            &app,
            &token,
            "a much better password 7",
            "a better password still 8",
        )
        .await,
    );
}

// 4. Lockouts: per (login, address), with a slowdown per login and a generous
//    cap per address.

#[actix_web::test]
async fn failures_from_one_address_do_not_lock_the_login_from_another() {
    let app = TestApp::new().await;
    seed(&app).await;
    for i in 0..5 {
        login_from(&app, "clerk", &format!("wrong password {i}"), "203.0.113.1")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let res = login_from(&app, "clerk", PASSWORD, "203.0.113.1").await;
    res.assert_problem(429, "rate_limited");
    assert!((1..=900).contains(&retry_after(&res)));
    assert_ok(&login_from(&app, "clerk", PASSWORD, "198.51.100.2").await);
    assert_ok(&login_from(&app, "clerk", PASSWORD, "2001:db8::2").await);
    // The locked pair stays locked.
    login_from(&app, "clerk", PASSWORD, "203.0.113.1")
        .await
        .assert_problem(429, "rate_limited");
}

#[actix_web::test]
async fn failures_for_other_logins_from_an_address_do_not_lock_a_login_from_it() {
    let app = TestApp::new().await;
    seed(&app).await;
    // 55 failures from one address, more than the old limit of 50, far under
    // the per-address cap of 200.
    for n in 0..11 {
        for i in 0..5 {
            login_from(
                &app,
                &format!("nobody-{n}"),
                &format!("wrong password {i}"),
                "203.0.113.9",
            )
            .await
            .assert_problem(401, "invalid_credentials");
        }
    }
    assert_ok(&login_from(&app, "clerk", PASSWORD, "203.0.113.9").await);
}

#[actix_web::test]
async fn many_failures_for_a_login_across_addresses_slow_it_down_and_never_lock_it() {
    let app = TestApp::new().await;
    seed(&app).await;
    // 20 failures from four addresses: each pair is locked, the login is not.
    for a in 1..=4 {
        for i in 0..5 {
            login_from(
                &app,
                "clerk",
                &format!("wrong password {i}"),
                &format!("203.0.113.{a}"),
            )
            .await
            .assert_problem(401, "invalid_credentials");
        }
    }
    // Now every attempt at the login waits a while after the last failure,
    // wherever it comes from, even with the right password.
    let res = login_from(&app, "clerk", PASSWORD, "198.51.100.5").await;
    res.assert_problem(429, "rate_limited");
    let first_wait = retry_after(&res);
    assert!((1..=2).contains(&first_wait), "Retry-After {first_wait}");

    // Once the delay has passed, the next attempt is heard.
    sql(
        &app,
        "UPDATE login_throttle SET last_failure_at = last_failure_at - interval '3 seconds' WHERE bucket = 'login:clerk'",
    );
    login_from(&app, "clerk", "wrong password 9", "198.51.100.5")
        .await
        .assert_problem(401, "invalid_credentials");
    // Each further failure doubles the delay.
    let res = login_from(&app, "clerk", PASSWORD, "198.51.100.6").await;
    res.assert_problem(429, "rate_limited");
    let second_wait = retry_after(&res);
    assert!((3..=4).contains(&second_wait), "Retry-After {second_wait}");
    sql(
        &app,
        "UPDATE login_throttle SET last_failure_at = last_failure_at - interval '5 seconds' WHERE bucket = 'login:clerk'",
    );
    assert_ok(&login_from(&app, "clerk", PASSWORD, "198.51.100.6").await);

    // However many failures there were, the delay has a ceiling: it slows,
    // it never locks.
    sql(
        &app,
        "UPDATE login_throttle SET failures = 100000, last_failure_at = now() WHERE bucket = 'login:clerk'",
    );
    let res = login_from(&app, "clerk", PASSWORD, "198.51.100.7").await;
    res.assert_problem(429, "rate_limited");
    let capped = retry_after(&res);
    assert!((1..=300).contains(&capped), "Retry-After {capped}");
    sql(
        &app,
        "UPDATE login_throttle SET last_failure_at = last_failure_at - interval '301 seconds' WHERE bucket = 'login:clerk'",
    );
    assert_ok(&login_from(&app, "clerk", PASSWORD, "198.51.100.7").await);
}

#[actix_web::test]
async fn the_login_throttle_settings_apply() {
    let app = TestApp::with_config(|c| {
        c.login_max_failures = 2;
        c.login_slowdown_after = 3;
        c.login_slowdown_seconds = 60;
        c.login_slowdown_max_seconds = 120;
    })
    .await;
    seed(&app).await;
    for from in ["203.0.113.1", "203.0.113.1", "203.0.113.2"] {
        login_from(&app, "clerk", "wrong password 1", from)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    login_from(&app, "clerk", PASSWORD, "203.0.113.1")
        .await
        .assert_problem(429, "rate_limited");
    let res = login_from(&app, "clerk", PASSWORD, "203.0.113.3").await;
    res.assert_problem(429, "rate_limited");
    assert!(
        (59..=60).contains(&retry_after(&res)),
        "{}",
        retry_after(&res)
    );
}

// 5. An idempotent replay re-authorizes its caller.

async fn create_with_key(app: &TestApp, token: &str, key: &str, unit: Uuid) -> Resp {
    app.send(
        TestRequest::post()
            .uri("/api/v1/accounts")
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("idempotency-key", key))
            .set_json(json!({"login": "new-member", "display_name": "New Member", "unit_id": unit,
                "rank": "clerk", "position": "staff", "employee_no": "E-new", "mobile": "13800138000",
                "party_member": false})),
    )
    .await
}

#[actix_web::test]
async fn an_idempotent_replay_is_refused_to_a_caller_suspended_since() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let token = d.token("unit-admin").to_owned();
    let first = create_with_key(&app, &token, "create-member-1", d.office).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    assert!(first.body["initial_password"].is_string(), "{}", first.body);
    // The stored answer replays while the caller is in good standing.
    let again = create_with_key(&app, &token, "create-member-1", d.office).await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), "true");

    let res = app
        .post(
            &format!("/api/v1/accounts/{}/suspend", d.unit_admin),
            &app.admin,
            json!({}),
        )
        .await;
    assert_ok(&res);
    let replay = create_with_key(&app, &token, "create-member-1", d.office).await;
    replay.assert_problem(401, "account_suspended");
    assert!(replay.body.get("initial_password").is_none());
    // Nor does the key tell the caller what it was used for.
    create_with_key(&app, &token, "create-member-1", d.bureau)
        .await
        .assert_problem(401, "account_suspended");
}

#[actix_web::test]
async fn an_idempotent_replay_is_refused_after_its_session_ended() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let pair = login_pair(&app, "unit-admin", PASSWORD).await;
    let token = pair.str("/access_token");
    let first = create_with_key(&app, &token, "create-member-2", d.office).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let res = logout(&app, &pair.str("/refresh_token")).await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
    let replay = create_with_key(&app, &token, "create-member-2", d.office).await;
    replay.assert_problem(401, "token_revoked");
    assert!(replay.body.get("initial_password").is_none());
}

#[actix_web::test]
async fn an_idempotent_replay_is_refused_after_a_password_reset() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let token = d.token("unit-admin").to_owned();
    let first = create_with_key(&app, &token, "create-member-3", d.office).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let res = app
        .post(
            &format!("/api/v1/accounts/{}/reset-password", d.unit_admin),
            &app.admin,
            json!({}),
        )
        .await;
    assert_ok(&res);
    let replay = create_with_key(&app, &token, "create-member-3", d.office).await;
    replay.assert_problem(401, "token_revoked");
}
