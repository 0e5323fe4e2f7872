//! The second factor through the API: enrolment with a secret, an
//! `otpauth://` URI and a confirming code that hands out ten recovery codes;
//! the two-step login; codes taken once and wrong ones throttled and logged;
//! removal with a code; an administrator of wider scope resetting another
//! account's; and roles that must enrol held to `/me`, `/me/mfa/*` and
//! `/auth/*` until they do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use common::*;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};
use whereabouts_api::config::DEFAULT_MFA_REQUIRED_ROLES;

/// The code an authenticator app holding `secret` (base32) shows `steps`
/// steps from now.
fn code(secret: &str, steps: i64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).unwrap();
    let now = chrono::Utc::now().timestamp() + steps * 30;
    totp.generate(u64::try_from(now).unwrap())
}

/// Enrols `token`'s account: its secret and recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let started = app.post("/api/v1/me/mfa/totp", token, json!({})).await;
    assert_eq!(started.status.as_u16(), 200, "{}", started.body);
    let secret = started.str("/secret");
    let confirmed = app
        .post(
            "/api/v1/me/mfa/totp/confirm",
            token,
            json!({"code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(confirmed.status.as_u16(), 200, "{}", confirmed.body);
    let codes = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// The first step of a login of an enrolled account: its `mfa_token`.
async fn challenge(app: &TestApp, login: &str) -> String {
    let res = app
        .post(
            "/api/v1/auth/login",
            "",
            json!({"login": login, "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["mfa_required"], true, "{}", res.body);
    assert!(res.body.get("access_token").is_none(), "{}", res.body);
    assert_eq!(res.body["expires_in"], 300);
    res.str("/mfa_token")
}

async fn second_step(app: &TestApp, mfa_token: &str, code: &str) -> Resp {
    app.post(
        "/api/v1/auth/mfa",
        "",
        json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

async fn delete_mfa(app: &TestApp, token: &str, body: Value) -> Resp {
    app.send(
        TestRequest::delete()
            .uri("/api/v1/me/mfa")
            .insert_header(("authorization", format!("Bearer {token}")))
            .set_json(body),
    )
    .await
}

fn access_actions(app: &TestApp, action: &str) -> i64 {
    use diesel::prelude::*;
    let mut conn = app.db.connect();
    whereabouts_api::schema::access_log::table
        .filter(whereabouts_api::schema::access_log::action.eq(action))
        .count()
        .get_result(&mut conn)
        .unwrap()
}

#[actix_web::test]
async fn an_enrolled_account_logs_in_with_its_password_and_a_code() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let clerk = d.token("clerk");

    let me = app.get("/api/v1/me", clerk).await;
    assert_eq!(
        me.body["mfa"],
        json!({"enrolled": false, "required": false, "recovery_codes_left": 0})
    );
    let started = app.post("/api/v1/me/mfa/totp", clerk, json!({})).await;
    assert_eq!(started.status.as_u16(), 200, "{}", started.body);
    let secret = started.str("/secret");
    assert_eq!(secret.len(), 32, "160 bits in base32");
    assert_eq!(
        started.str("/otpauth_uri"),
        format!("otpauth://totp/Whereabouts:clerk?secret={secret}&issuer=Whereabouts")
    );
    // Not enrolled until confirmed: the login is still one step.
    let res = app
        .post(
            "/api/v1/auth/login",
            "",
            json!({"login": "clerk", "password": PASSWORD}),
        )
        .await;
    assert!(res.body["access_token"].is_string(), "{}", res.body);

    let wrong = app
        .post(
            "/api/v1/me/mfa/totp/confirm",
            clerk,
            json!({"code": "000000"}),
        )
        .await;
    wrong.assert_problem(401, "invalid_code");
    let confirmed = app
        .post(
            "/api/v1/me/mfa/totp/confirm",
            clerk,
            json!({"code": code(&secret, 0)}),
        )
        .await;
    assert_eq!(confirmed.status.as_u16(), 200, "{}", confirmed.body);
    let codes = confirmed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::BTreeSet<_> =
        codes.iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 10);
    // The caller's own session goes on.
    let me = app.get("/api/v1/me", clerk).await;
    assert_eq!(me.status.as_u16(), 200, "{}", me.body);
    assert_eq!(
        me.body["mfa"],
        json!({"enrolled": true, "required": false, "recovery_codes_left": 10})
    );

    let mfa_token = challenge(&app, "clerk").await;
    // An mfa_token is no access token.
    app.get("/api/v1/me", &mfa_token)
        .await
        .assert_problem(401, "invalid_token");
    let tokens = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/mfa")
                .insert_header(("user-agent", "Whereabouts-iOS/2.0"))
                .set_json(json!({"mfa_token": mfa_token, "code": code(&secret, 1)})),
        )
        .await;
    assert_eq!(tokens.status.as_u16(), 200, "{}", tokens.body);
    assert_eq!(tokens.body["token_type"], "Bearer");
    let access = tokens.str("/access_token");
    // The session started at the second step, where it came from.
    let sessions = app.get("/api/v1/me/sessions", &access).await;
    let current: Vec<&Value> = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current.len(), 1, "{}", sessions.body);
    assert_eq!(current[0]["user_agent"], "Whereabouts-iOS/2.0");
    let me = app.get("/api/v1/me", &access).await;
    assert_eq!(me.id("/account/id"), d.clerk);
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            "",
            json!({"refresh_token": tokens.str("/refresh_token")}),
        )
        .await;
    assert_eq!(refreshed.status.as_u16(), 200, "{}", refreshed.body);
    assert_eq!(access_actions(&app, "auth.mfa_failed"), 1);
}

#[actix_web::test]
async fn a_code_is_taken_once_even_within_its_window() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let (secret, _) = enrol(&app, d.token("clerk")).await;
    // The code that confirmed the enrolment is spent.
    let mfa_token = challenge(&app, "clerk").await;
    second_step(&app, &mfa_token, &code(&secret, 0))
        .await
        .assert_problem(401, "invalid_code");
    // The next step's code (a phone a little ahead) is taken, once.
    let next = code(&secret, 1);
    let first = second_step(&app, &mfa_token, &next).await;
    assert_eq!(first.status.as_u16(), 200, "{}", first.body);
    second_step(&app, &challenge(&app, "clerk").await, &next)
        .await
        .assert_problem(401, "invalid_code");
    // Two steps away is outside the window either way.
    second_step(&app, &mfa_token, &code(&secret, 3))
        .await
        .assert_problem(401, "invalid_code");
}

#[actix_web::test]
async fn a_recovery_code_stands_in_for_a_code_once() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let (_, codes) = enrol(&app, d.token("clerk")).await;
    let mfa_token = challenge(&app, "clerk").await;
    // Typed in capitals and with spaces, as from paper.
    let typed = format!(" {} ", codes[3].to_uppercase());
    let res = second_step(&app, &mfa_token, &typed).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    second_step(&app, &mfa_token, &codes[3])
        .await
        .assert_problem(401, "invalid_code");
    let me = app.get("/api/v1/me", &res.str("/access_token")).await;
    assert_eq!(me.body["mfa"]["recovery_codes_left"], 9);
    // Another account's recovery code is no code here.
    let (_, others) = enrol(&app, d.token("head")).await;
    second_step(&app, &mfa_token, &others[0])
        .await
        .assert_problem(401, "invalid_code");
    // Logins record how the second factor was given.
    use diesel::prelude::*;
    use whereabouts_api::schema::access_log::dsl as log;
    let mut conn = app.db.connect();
    let filters: Vec<Value> = log::access_log
        .filter(log::action.eq("auth.login"))
        .filter(log::actor_id.eq(d.clerk))
        .select(log::filters)
        .load(&mut conn)
        .unwrap();
    assert!(
        filters.contains(&json!({"second_factor": "recovery_code"})),
        "{filters:?}"
    );
}

#[actix_web::test]
async fn wrong_codes_are_throttled_like_passwords_and_logged() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let (secret, _) = enrol(&app, d.token("clerk")).await;
    let mfa_token = challenge(&app, "clerk").await;
    let before = access_actions(&app, "auth.mfa_failed");
    for wrong in ["000000", "111111", "222222", "abcde-fghjk", "123"] {
        second_step(&app, &mfa_token, wrong)
            .await
            .assert_problem(401, "invalid_code");
    }
    assert_eq!(access_actions(&app, "auth.mfa_failed") - before, 5);
    // Past the limit even the right code waits.
    let locked = second_step(&app, &mfa_token, &code(&secret, 1)).await;
    locked.assert_problem(429, "rate_limited");
    let wait: u64 = locked.header("retry-after").parse().unwrap();
    assert!(wait > 0 && wait <= 900, "{wait}");
    // The same count holds the codes the signed-in account sends.
    let removal = delete_mfa(&app, d.token("clerk"), json!({"code": code(&secret, 1)})).await;
    removal.assert_problem(429, "rate_limited");
    // Another account is not held back.
    let (other, _) = enrol(&app, d.token("head")).await;
    let res = second_step(&app, &challenge(&app, "head").await, &code(&other, 1)).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
}

#[actix_web::test]
async fn an_mfa_token_is_good_only_for_its_account_as_it_stands() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let (secret, _) = enrol(&app, d.token("clerk")).await;
    // Not a token at all, an access token, a tampered one.
    second_step(&app, "not-a-token", &code(&secret, 1))
        .await
        .assert_problem(401, "invalid_token");
    second_step(&app, d.token("head"), &code(&secret, 1))
        .await
        .assert_problem(401, "invalid_token");
    let mfa_token = challenge(&app, "clerk").await;
    let tampered = format!("{}x", &mfa_token);
    second_step(&app, &tampered, &code(&secret, 1))
        .await
        .assert_problem(401, "invalid_token");
    // Suspended since: refused, as a token nobody issued.
    let res = app
        .post(
            &format!("/api/v1/accounts/{}/suspend", d.clerk),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    second_step(&app, &mfa_token, &code(&secret, 1))
        .await
        .assert_problem(401, "invalid_token");
    // An account whose second factor was reset since.
    let (head_secret, _) = enrol(&app, d.token("head")).await;
    let head_token = challenge(&app, "head").await;
    let reset = app
        .post(
            &format!("/api/v1/accounts/{}/mfa/reset", d.head),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(reset.status.as_u16(), 204, "{}", reset.body);
    second_step(&app, &head_token, &code(&head_secret, 1))
        .await
        .assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn bad_codes_answer_422_and_change_nothing() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let clerk = d.token("clerk");
    let started = app.post("/api/v1/me/mfa/totp", clerk, json!({})).await;
    assert_eq!(started.status.as_u16(), 200);
    let mfa_token = {
        let (_, _) = enrol(&app, d.token("head")).await;
        challenge(&app, "head").await
    };
    let before = app.fingerprint();
    let long = "1".repeat(65);
    for (path, body, field) in [
        ("/api/v1/me/mfa/totp/confirm", json!({}), "code"),
        (
            "/api/v1/me/mfa/totp/confirm",
            json!({"code": " - "}),
            "code",
        ),
        (
            "/api/v1/me/mfa/totp/confirm",
            json!({"code": 123456}),
            "code",
        ),
        ("/api/v1/me/mfa/totp/confirm", json!({"code": long}), "code"),
        ("/api/v1/auth/mfa", json!({"mfa_token": mfa_token}), "code"),
        ("/api/v1/auth/mfa", json!({"code": "123456"}), "mfa_token"),
        (
            "/api/v1/auth/mfa",
            json!({"mfa_token": mfa_token, "code": ""}),
            "code",
        ),
    ] {
        let res = app.post(path, clerk, body.clone()).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], field, "{path} {body}");
    }
    let res = delete_mfa(&app, d.token("head"), json!({"code": ""})).await;
    res.assert_problem(422, "validation_failed");
    let res = app
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/mfa")
                .insert_header(("content-type", "application/json"))
                .set_payload("{\"mfa_token\":"),
        )
        .await;
    res.assert_problem(400, "malformed_request");
    assert_eq!(app.fingerprint(), before);
}

#[actix_web::test]
async fn enrolment_goes_in_order() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let clerk = d.token("clerk");
    // Nothing to confirm or remove yet.
    app.post(
        "/api/v1/me/mfa/totp/confirm",
        clerk,
        json!({"code": "123456"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    delete_mfa(&app, clerk, json!({"code": "123456"}))
        .await
        .assert_problem(409, "invalid_transition");
    // Starting again replaces the secret: the first one confirms nothing.
    let first = app.post("/api/v1/me/mfa/totp", clerk, json!({})).await;
    let second = app.post("/api/v1/me/mfa/totp", clerk, json!({})).await;
    assert_ne!(first.str("/secret"), second.str("/secret"));
    app.post(
        "/api/v1/me/mfa/totp/confirm",
        clerk,
        json!({"code": code(&first.str("/secret"), 0)}),
    )
    .await
    .assert_problem(401, "invalid_code");
    let confirmed = app
        .post(
            "/api/v1/me/mfa/totp/confirm",
            clerk,
            json!({"code": code(&second.str("/secret"), 0)}),
        )
        .await;
    assert_eq!(confirmed.status.as_u16(), 200, "{}", confirmed.body);
    // An Idempotency-Key keeps no secret to replay: each call is a new one.
    let keyed = || {
        TestRequest::post()
            .uri("/api/v1/me/mfa/totp")
            .insert_header(("authorization", format!("Bearer {}", d.token("head"))))
            .insert_header(("idempotency-key", "enrol-once"))
    };
    let (a, b) = (app.send(keyed()).await, app.send(keyed()).await);
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (200, 200),
        "{}",
        b.body
    );
    assert_ne!(a.str("/secret"), b.str("/secret"));
    assert_eq!(app.count("idempotency_keys"), 0);
    // Enrolled: no new secret and no second confirmation.
    app.post("/api/v1/me/mfa/totp", clerk, json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    app.post(
        "/api/v1/me/mfa/totp/confirm",
        clerk,
        json!({"code": code(&second.str("/secret"), 1)}),
    )
    .await
    .assert_problem(409, "invalid_transition");
}

#[actix_web::test]
async fn enrolling_and_removing_end_the_other_sessions() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let other = app.login("clerk", PASSWORD).await;
    let (secret, codes) = enrol(&app, d.token("clerk")).await;
    app.get("/api/v1/me", &other)
        .await
        .assert_problem(401, "token_revoked");

    let tokens = second_step(&app, &challenge(&app, "clerk").await, &codes[0]).await;
    let elsewhere = tokens.str("/access_token");
    // A wrong code removes nothing.
    delete_mfa(&app, d.token("clerk"), json!({"code": "000000"}))
        .await
        .assert_problem(401, "invalid_code");
    let removed = delete_mfa(&app, d.token("clerk"), json!({"code": code(&secret, 1)})).await;
    assert_eq!(removed.status.as_u16(), 204, "{}", removed.body);
    app.get("/api/v1/me", &elsewhere)
        .await
        .assert_problem(401, "token_revoked");
    let me = app.get("/api/v1/me", d.token("clerk")).await;
    assert_eq!(
        me.body["mfa"],
        json!({"enrolled": false, "required": false, "recovery_codes_left": 0})
    );
    // The password alone logs in again.
    app.login("clerk", PASSWORD).await;
    // A recovery code removes one as well.
    let (_, codes) = enrol(&app, d.token("clerk")).await;
    let removed = delete_mfa(&app, d.token("clerk"), json!({"code": codes[9]})).await;
    assert_eq!(removed.status.as_u16(), 204, "{}", removed.body);
}

#[actix_web::test]
async fn an_administrator_of_wider_scope_resets_a_second_factor() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    enrol(&app, d.token("clerk")).await;
    let reset = |token: String, id: uuid::Uuid| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/accounts/{id}/mfa/reset"),
                &token,
                json!({}),
            )
            .await
        }
    };
    // (caller, target, status, code)
    let refusals = [
        ("clerk", d.head, 403, "forbidden"),
        ("inspector", d.clerk, 403, "forbidden"),
        ("other-admin", d.clerk, 404, "not_found"),
        ("unit-admin", d.unit_admin, 403, "self_change_forbidden"),
        ("unit-admin", app.admin_id, 404, "not_found"),
        ("unit-admin", d.inspector, 403, "forbidden"),
    ];
    let before = app.fingerprint();
    for (who, target, status, code) in refusals {
        reset(d.token(who).to_owned(), target)
            .await
            .assert_problem(status, code);
    }
    assert_eq!(app.fingerprint(), before);
    reset(String::new(), d.clerk)
        .await
        .assert_problem(401, "unauthorized");

    let res = reset(d.token("unit-admin").to_owned(), d.clerk).await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
    // Every session of the account has ended; the password alone logs in.
    app.get("/api/v1/me", d.token("clerk"))
        .await
        .assert_problem(401, "token_revoked");
    let token = app.login("clerk", PASSWORD).await;
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.body["mfa"]["enrolled"], false);
    // Again, on an account with none: still 204.
    let res = reset(d.token("unit-admin").to_owned(), d.clerk).await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
}

#[actix_web::test]
async fn roles_that_must_enrol_reach_only_me_mfa_and_auth_until_they_do() {
    let mut app = TestApp::new().await;
    let d = seed(&app).await;
    std::sync::Arc::make_mut(&mut app.state.config).mfa_required_roles =
        DEFAULT_MFA_REQUIRED_ROLES.to_vec().into();
    let admin = d.token("unit-admin");
    let units = app.get("/api/v1/units", admin).await;
    units.assert_problem(403, "mfa_enrollment_required");
    for path in [
        "/api/v1/me/sessions",
        "/api/v1/ledger",
        "/api/v1/access-log",
    ] {
        app.get(path, admin)
            .await
            .assert_problem(403, "mfa_enrollment_required");
    }
    app.post(
        &format!("/api/v1/accounts/{}/mfa/reset", d.clerk),
        admin,
        json!({}),
    )
    .await
    .assert_problem(403, "mfa_enrollment_required");
    // What stays open: /me, the second factor's own routes, /auth.
    let me = app.get("/api/v1/me", admin).await;
    assert_eq!(me.status.as_u16(), 200, "{}", me.body);
    assert_eq!(me.body["mfa"]["required"], true);
    assert_eq!(me.body["mfa"]["enrolled"], false);
    // A cadre holds no such role, and the system administrator must too.
    let clerk = app.get("/api/v1/me/sessions", d.token("clerk")).await;
    assert_eq!(clerk.status.as_u16(), 200, "{}", clerk.body);
    assert_eq!(clerk.body["items"].as_array().unwrap().len(), 1);
    app.get("/api/v1/units", &app.admin)
        .await
        .assert_problem(403, "mfa_enrollment_required");

    let (secret, _) = enrol(&app, admin).await;
    let units = app.get("/api/v1/units", admin).await;
    assert_eq!(units.status.as_u16(), 200, "{}", units.body);
    // Removed again: held back again.
    let removed = delete_mfa(&app, admin, json!({"code": code(&secret, 1)})).await;
    assert_eq!(removed.status.as_u16(), 204, "{}", removed.body);
    app.get("/api/v1/units", admin)
        .await
        .assert_problem(403, "mfa_enrollment_required");
    // The refusals are in the access log.
    assert!(access_actions(&app, "authorization.refused") >= 6);
}
