//! Authentication: login, throttling, refresh rotation and reuse detection,
//! logout, forged and stale access tokens, suspension and password changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

/// The key of `Config::for_tests`.
const TEST_SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

async fn login_pair(app: &TestApp, login: &str, password: &str) -> Resp {
    app.post(
        "/api/v1/auth/login",
        "",
        json!({"login": login, "password": password}),
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    app.post("/api/v1/auth/refresh", "", json!({"refresh_token": token}))
        .await
}

/// The claims of a token, read from its payload.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn assert_pair(res: &Resp) {
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["token_type"], "Bearer");
    assert_eq!(res.body["expires_in"], 900);
    assert!(
        res.str("/access_token").split('.').count() == 3,
        "{}",
        res.body
    );
    assert!(!res.str("/refresh_token").is_empty(), "{}", res.body);
}

#[actix_web::test]
async fn login_answers_a_bearer_pair_that_works() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let res = login_pair(&app, "clerk", PASSWORD).await;
    assert_pair(&res);
    let access = res.str("/access_token");
    let c = claims(&access);
    assert_eq!(c["sub"], d.clerk.to_string());
    assert_eq!(c["iss"], "whereabouts");
    assert_eq!(c["aud"], "whereabouts-api");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert!(c["cv"].is_i64(), "{c}");
    let me = app.get("/api/v1/me", &access).await;
    assert_eq!(me.status.as_u16(), 200, "{}", me.body);
    assert_eq!(me.body["account"]["id"], d.clerk.to_string());
    assert!(me.body["account"].get("password_hash").is_none());

    // Logins are case-insensitive and trimmed.
    assert_pair(&login_pair(&app, " CLERK ", PASSWORD).await);
}

#[actix_web::test]
async fn wrong_password_and_unknown_login_look_the_same() {
    let app = TestApp::new().await;
    seed(&app).await;
    let tokens = app.count("refresh_tokens");
    let wrong = login_pair(&app, "clerk", "not the password 1").await;
    wrong.assert_problem(401, "invalid_credentials");
    let unknown = login_pair(&app, "nobody-at-all", PASSWORD).await;
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    assert_eq!(wrong.body["title"], unknown.body["title"]);
    let empty = login_pair(&app, "clerk", "").await;
    empty.assert_problem(401, "invalid_credentials");
    assert_eq!(app.count("refresh_tokens"), tokens);
}

#[actix_web::test]
async fn failed_logins_are_rate_limited_per_login() {
    let app = TestApp::new().await;
    seed(&app).await;
    for i in 0..5 {
        let res = login_pair(&app, "clerk", &format!("wrong password {i}")).await;
        res.assert_problem(401, "invalid_credentials");
    }
    let tokens = app.count("refresh_tokens");
    // The sixth attempt is refused even with the right password.
    let res = login_pair(&app, "clerk", PASSWORD).await;
    res.assert_problem(429, "rate_limited");
    let retry: u64 = res
        .header("retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After: {:?}", res.header("retry-after")));
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    let res = login_pair(&app, "Clerk", PASSWORD).await;
    res.assert_problem(429, "rate_limited");
    assert_eq!(app.count("refresh_tokens"), tokens);
    // Another login is not affected.
    assert_pair(&login_pair(&app, "head", PASSWORD).await);
}

#[actix_web::test]
async fn a_successful_login_clears_the_failures() {
    let app = TestApp::new().await;
    seed(&app).await;
    for _ in 0..4 {
        login_pair(&app, "clerk", "wrong password 1")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_pair(&login_pair(&app, "clerk", PASSWORD).await);
    for _ in 0..4 {
        login_pair(&app, "clerk", "wrong password 1")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    assert_pair(&login_pair(&app, "clerk", PASSWORD).await);
}

#[actix_web::test]
async fn refresh_rotates_and_a_reused_token_revokes_its_family() {
    let app = TestApp::new().await;
    seed(&app).await;
    let first = login_pair(&app, "clerk", PASSWORD).await;
    let r1 = first.str("/refresh_token");
    // Another session of the same account, in its own family.
    let other = login_pair(&app, "clerk", PASSWORD)
        .await
        .str("/refresh_token");

    let second = refresh(&app, &r1).await;
    assert_pair(&second);
    let r2 = second.str("/refresh_token");
    assert_ne!(r1, r2);
    let me = app.get("/api/v1/me", &second.str("/access_token")).await;
    assert_eq!(me.status.as_u16(), 200, "{}", me.body);

    let third = refresh(&app, &r2).await;
    assert_pair(&third);
    let r3 = third.str("/refresh_token");

    // r2 works once only.
    refresh(&app, &r2)
        .await
        .assert_problem(401, "refresh_token_reused");
    // ... and its reuse revoked the newest token of the family too.
    let res = refresh(&app, &r3).await;
    assert_eq!(res.status.as_u16(), 401, "{}", res.body);
    assert_eq!(res.header("content-type"), "application/problem+json");
    assert!(
        res.body["code"] == "invalid_token" || res.body["code"] == "refresh_token_reused",
        "{}",
        res.body
    );
    // The first token of the family is spent as well.
    assert_eq!(refresh(&app, &r1).await.status.as_u16(), 401);
    // The other family is untouched.
    assert_pair(&refresh(&app, &other).await);
    // A token nobody issued.
    refresh(&app, "made-up-token")
        .await
        .assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn logout_revokes_the_family() {
    let app = TestApp::new().await;
    seed(&app).await;
    let r1 = login_pair(&app, "clerk", PASSWORD)
        .await
        .str("/refresh_token");
    let r2 = refresh(&app, &r1).await.str("/refresh_token");
    let res = app
        .post("/api/v1/auth/logout", "", json!({"refresh_token": r2}))
        .await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
    let res = refresh(&app, &r2).await;
    assert_eq!(res.status.as_u16(), 401, "{}", res.body);
    assert_eq!(res.header("content-type"), "application/problem+json");
    // Logging out an unknown token answers the same.
    let res = app
        .post("/api/v1/auth/logout", "", json!({"refresh_token": "nope"}))
        .await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
    // Logging out again changes nothing and still answers 204.
    let res = app
        .post("/api/v1/auth/logout", "", json!({"refresh_token": r2}))
        .await;
    assert_eq!(res.status.as_u16(), 204, "{}", res.body);
}

#[actix_web::test]
async fn forged_and_stale_access_tokens_are_refused() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let real = d.token("clerk").to_owned();
    let real_claims = claims(&real);
    let cv = real_claims["cv"].as_i64().unwrap();
    let base = json!({"sub": d.clerk, "iss": "whereabouts", "aud": "whereabouts-api",
        "iat": now() - 60, "exp": now() + 600, "cv": cv, "sid": real_claims["sid"]});

    // The crafted token is good when nothing is wrong with it.
    let good = sign(&base, TEST_SECRET);
    let res = app.get("/api/v1/me", &good).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);

    let with = |key: &str, value: Value| {
        let mut c = base.clone();
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = base.clone();
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            sign(&with("exp", json!(now() - 5)), TEST_SECRET),
            "token_expired",
        ),
        (
            "wrong audience",
            sign(&with("aud", json!("someone-else")), TEST_SECRET),
            "invalid_token",
        ),
        (
            "wrong issuer",
            sign(&with("iss", json!("mallory")), TEST_SECRET),
            "invalid_token",
        ),
        (
            "no expiry",
            sign(&without("exp"), TEST_SECRET),
            "invalid_token",
        ),
        (
            "no audience",
            sign(&without("aud"), TEST_SECRET),
            "invalid_token",
        ),
        (
            "another key",
            sign(&base, b"another-secret-another-secret-another"),
            "invalid_token",
        ),
        (
            "unknown account",
            sign(&with("sub", json!(Uuid::new_v4())), TEST_SECRET),
            "invalid_token",
        ),
        (
            "stale credentials",
            sign(&with("cv", json!(cv - 1)), TEST_SECRET),
            "token_revoked",
        ),
    ];
    let mut failures = Vec::new();
    for (what, token, code) in cases {
        let res = app.get("/api/v1/me", &token).await;
        if res.status.as_u16() != 401 || res.body["code"] != code {
            failures.push(format!(
                "{what}: wanted 401 {code}, got {} {}",
                res.status, res.body
            ));
        } else {
            res.assert_problem(401, code);
            assert_eq!(res.header("www-authenticate"), "Bearer");
        }
    }

    // alg none, with the real claims and no signature.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(base.to_string());
    let parts: Vec<&str> = real.split('.').collect();
    let forged = [
        ("alg none", format!("{header}.{payload}.")),
        ("alg none, no dot", format!("{header}.{payload}")),
        (
            "alg none with the real signature",
            format!("{header}.{payload}.{}", parts[2]),
        ),
        (
            "alg HS512",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS512),
                &base,
                &EncodingKey::from_secret(TEST_SECRET),
            )
            .unwrap(),
        ),
        (
            "tampered signature",
            format!("{}.{}.{}", parts[0], parts[1], flip(parts[2])),
        ),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                URL_SAFE_NO_PAD.encode(with("sub", json!(d.unit_admin)).to_string()),
                parts[2]
            ),
        ),
        ("no signature", format!("{}.{}.", parts[0], parts[1])),
        ("garbage", "not-a-token".to_owned()),
        ("empty", String::new()),
    ];
    for (what, token) in forged {
        let res = app
            .send(
                TestRequest::get()
                    .uri("/api/v1/me")
                    .insert_header(("authorization", format!("Bearer {token}"))),
            )
            .await;
        // An empty token may count as none at all.
        let expected = "invalid_token";
        let ok = res.body["code"] == expected
            || (token.is_empty() && res.body["code"] == "unauthorized");
        if res.status.as_u16() != 401 || !ok {
            failures.push(format!(
                "{what}: wanted 401 {expected}, got {} {}",
                res.status, res.body
            ));
        }
    }
    // Other schemes are no bearer token at all.
    for value in [format!("Basic {real}"), real.clone(), "Bearer".to_owned()] {
        let res = app
            .send(
                TestRequest::get()
                    .uri("/api/v1/me")
                    .insert_header(("authorization", value.clone())),
            )
            .await;
        if res.status.as_u16() != 401 {
            failures.push(format!(
                "Authorization {value:.20}: wanted 401, got {} {}",
                res.status, res.body
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The real token still works (lower-case scheme too).
    let res = app
        .send(
            TestRequest::get()
                .uri("/api/v1/me")
                .insert_header(("authorization", format!("bearer {real}"))),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
}

/// The same base64url text with its first character changed.
fn flip(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[actix_web::test]
async fn suspension_cuts_off_access_and_refresh_at_once() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let pair = login_pair(&app, "clerk", PASSWORD).await;
    let (access, refresh_token) = (pair.str("/access_token"), pair.str("/refresh_token"));
    assert_eq!(app.get("/api/v1/me", &access).await.status.as_u16(), 200);

    let res = app
        .post(
            &format!("/api/v1/accounts/{}/suspend", d.clerk),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "suspended");

    app.get("/api/v1/me", &access)
        .await
        .assert_problem(401, "account_suspended");
    app.get("/api/v1/me", d.token("clerk"))
        .await
        .assert_problem(401, "account_suspended");
    // A token crafted with the new credentials version is refused too.
    let cv = {
        use diesel::prelude::*;
        let mut conn = app.db.connect();
        whereabouts_api::schema::accounts::table
            .find(d.clerk)
            .select(whereabouts_api::schema::accounts::credentials_changed_at)
            .first::<chrono::DateTime<chrono::Utc>>(&mut conn)
            .unwrap()
            .timestamp_micros()
    };
    let crafted = sign(
        &json!({"sub": d.clerk, "iss": "whereabouts", "aud": "whereabouts-api",
            "iat": now(), "exp": now() + 600, "cv": cv, "sid": claims(&access)["sid"]}),
        TEST_SECRET,
    );
    app.get("/api/v1/me", &crafted)
        .await
        .assert_problem(401, "account_suspended");
    let res = refresh(&app, &refresh_token).await;
    assert_eq!(res.status.as_u16(), 401, "{}", res.body);
    // A suspended account is no way around the throttle or a password probe:
    // the right password is answered as a wrong one.
    login_pair(&app, "clerk", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    login_pair(&app, "clerk", "wrong password 1")
        .await
        .assert_problem(401, "invalid_credentials");

    let res = app
        .post(
            &format!("/api/v1/accounts/{}/reactivate", d.clerk),
            d.token("unit-admin"),
            json!({}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["status"], "active");
    // Old tokens stay dead; a new login works.
    app.get("/api/v1/me", &access)
        .await
        .assert_problem(401, "token_revoked");
    assert_eq!(refresh(&app, &refresh_token).await.status.as_u16(), 401);
    let pair = login_pair(&app, "clerk", PASSWORD).await;
    assert_pair(&pair);
    assert_eq!(
        app.get("/api/v1/me", &pair.str("/access_token"))
            .await
            .status
            .as_u16(),
        200
    );
    // Nobody suspends themselves.
    app.post(
        &format!("/api/v1/accounts/{}/suspend", d.unit_admin),
        d.token("unit-admin"),
        json!({}),
    )
    .await
    .assert_problem(403, "self_change_forbidden");
}

#[actix_web::test]
async fn a_password_change_answers_new_tokens_and_ends_the_old_ones() {
    let app = TestApp::new().await;
    seed(&app).await;
    let pair = login_pair(&app, "clerk", PASSWORD).await;
    let (access, refresh_token) = (pair.str("/access_token"), pair.str("/refresh_token"));
    let other_session = login_pair(&app, "clerk", PASSWORD).await;
    let new_password = "a much better password 7";

    let res = app
        .put(
            "/api/v1/me/password",
            &access,
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_pair(&res);
    let (new_access, new_refresh) = (res.str("/access_token"), res.str("/refresh_token"));
    assert_ne!(claims(&new_access)["cv"], claims(&access)["cv"]);

    app.get("/api/v1/me", &access)
        .await
        .assert_problem(401, "token_revoked");
    app.get("/api/v1/me", &other_session.str("/access_token"))
        .await
        .assert_problem(401, "token_revoked");
    assert_eq!(refresh(&app, &refresh_token).await.status.as_u16(), 401);
    assert_eq!(
        refresh(&app, &other_session.str("/refresh_token"))
            .await
            .status
            .as_u16(),
        401
    );
    assert_eq!(
        app.get("/api/v1/me", &new_access).await.status.as_u16(),
        200
    );
    assert_pair(&refresh(&app, &new_refresh).await);
    login_pair(&app, "clerk", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_pair(&login_pair(&app, "clerk", new_password).await);
}

#[actix_web::test]
async fn a_password_change_needs_the_current_password_and_a_strong_new_one() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let token = d.token("clerk").to_owned();
    // A wrong current password is counted by the throttle, and changes
    // nothing else.
    let unthrottled = |print: String| {
        print
            .split(';')
            .filter(|table| !table.starts_with("login_throttle="))
            .collect::<Vec<_>>()
            .join(";")
    };
    let before = unthrottled(app.fingerprint());
    let res = app
        .put(
            "/api/v1/me/password",
            &token,
            json!({"current_password": "not my password 1", "new_password": "a much better password 7"}),
        )
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["errors"][0]["field"], "current_password");
    let long = "a1".repeat(65);
    for weak in ["short1", "onlylettershere", "12345678901234", long.as_str()] {
        let res = app
            .put(
                "/api/v1/me/password",
                &token,
                json!({"current_password": PASSWORD, "new_password": weak}),
            )
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "new_password", "{weak}");
    }
    assert_eq!(
        unthrottled(app.fingerprint()),
        before,
        "a refused change changed data"
    );
    assert_eq!(app.get("/api/v1/me", &token).await.status.as_u16(), 200);
    assert_pair(&login_pair(&app, "clerk", PASSWORD).await);
}

#[actix_web::test]
async fn an_administrators_reset_ends_the_sessions() {
    let app = TestApp::new().await;
    let d = seed(&app).await;
    let pair = login_pair(&app, "clerk", PASSWORD).await;
    let res = app
        .post(
            &format!("/api/v1/accounts/{}/reset-password", d.clerk),
            d.token("unit-admin"),
            json!({"password": "reset password 42"}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.body);
    assert_eq!(res.body["password"], "reset password 42");
    app.get("/api/v1/me", &pair.str("/access_token"))
        .await
        .assert_problem(401, "token_revoked");
    assert_eq!(
        refresh(&app, &pair.str("/refresh_token"))
            .await
            .status
            .as_u16(),
        401
    );
    login_pair(&app, "clerk", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_pair(&login_pair(&app, "clerk", "reset password 42").await);
}

#[actix_web::test]
async fn failed_logins_are_rate_limited_per_client_address_across_logins() {
    let app = TestApp::with_config(|c| c.login_max_failures_per_address = 3).await;
    for login in ["nobody-1", "nobody-2", "nobody-3"] {
        let res = app
            .post(
                "/api/v1/auth/login",
                "",
                json!({"login": login, "password": "wrong-password-1"}),
            )
            .await;
        res.assert_problem(401, "invalid_credentials");
    }
    // A fourth login name from the same address is throttled, even the right password.
    let res = app
        .post(
            "/api/v1/auth/login",
            "",
            json!({"login": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    res.assert_problem(429, "rate_limited");
    let retry: u64 = res.header("retry-after").parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
}
