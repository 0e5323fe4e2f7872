//! The second factor through the real binary, with codes computed by an
//! independent implementation: Python's `pyotp` reads the `otpauth://` URI
//! the server hands out and makes the codes an authenticator app would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;

/// The Python that has `pyotp` (scripts/requirements-ci.txt): the CI venv,
/// or `WHEREABOUTS_PYTHON`.
fn python() -> String {
    if let Ok(python) = std::env::var("WHEREABOUTS_PYTHON") {
        return python;
    }
    let venv = std::path::Path::new(&std::env::var("HOME").unwrap())
        .join(".cache/whereabouts/venv/bin/python");
    if venv.exists() {
        venv.display().to_string()
    } else {
        "python3".to_owned()
    }
}

/// Runs `script` with `pyotp` imported and `uri` bound; its standard output.
fn pyotp(script: &str, uri: &str) -> String {
    let out = Command::new(python())
        .args([
            "-c",
            &format!("import pyotp, sys, time\nuri = sys.argv[1]\n{script}"),
        ])
        .arg(uri)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyotp failed (pip install -r scripts/requirements-ci.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn login(client: &Client) -> Value {
    let (status, body) = client.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "root", "password": "root-password-1"})),
    );
    assert_eq!(status, 200, "{body}");
    body
}

/// A server on its own database where the system administrator `root` must
/// enrol a second factor, and `root` signed in to it.
fn server_with_root_signed_in() -> (DropDatabase, String, Server, Client) {
    let (cleanup, database_url) = database_with_admin();
    let (server, base) = start_server(
        &database_url,
        &[("WHEREABOUTS_MFA_REQUIRED_ROLES", "system_admin")],
    );
    let mut client = Client { base, token: None };
    let tokens = login(&client);
    client.token = Some(tokens["access_token"].as_str().unwrap().to_owned());
    (cleanup, database_url, server, client)
}

#[test]
fn a_required_administrator_enrols_with_codes_pyotp_computes_and_logs_in_with_them() {
    let (_cleanup, _, _server, client) = server_with_root_signed_in();

    // Held back until enrolled.
    let (status, body) = client.call("GET", "/api/v1/units", None);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("mfa_enrollment_required")),
        "{body}"
    );
    let (status, me) = client.call("GET", "/api/v1/me", None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["mfa"]["required"], true);

    let (status, enrolment) = client.call("POST", "/api/v1/me/mfa/totp", Some(json!({})));
    assert_eq!(status, 200, "{enrolment}");
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    // pyotp reads the URI as an authenticator app does.
    let read = pyotp(
        "t = pyotp.parse_uri(uri)\nprint(t.secret, t.issuer, t.name, t.digits, t.interval, t.digest().name)",
        uri,
    );
    assert_eq!(
        read,
        format!(
            "{} Whereabouts root 6 30 sha1",
            enrolment["secret"].as_str().unwrap()
        )
    );

    let now = pyotp("print(pyotp.parse_uri(uri).now())", uri);
    let (status, confirmed) = client.call(
        "POST",
        "/api/v1/me/mfa/totp/confirm",
        Some(json!({"code": now})),
    );
    assert_eq!(status, 200, "{confirmed}");
    let recovery = confirmed["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(recovery.len(), 10);
    let (status, body) = client.call("GET", "/api/v1/units", None);
    assert_eq!(status, 200, "{body}");

    // The two-step login, with the code of the next step (a phone's clock
    // a little ahead): the code just used is not taken again.
    let challenge = login(&client);
    assert_eq!(challenge["mfa_required"], true, "{challenge}");
    assert!(challenge.get("access_token").is_none());
    let mfa_token = challenge["mfa_token"].as_str().unwrap();
    let anonymous = Client {
        base: client.base.clone(),
        token: None,
    };
    let (status, body) = anonymous.call(
        "POST",
        "/api/v1/auth/mfa",
        Some(json!({"mfa_token": mfa_token, "code": now})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_code")),
        "{body}"
    );
    let next = pyotp("print(pyotp.parse_uri(uri).at(time.time() + 30))", uri);
    let (status, tokens) = anonymous.call(
        "POST",
        "/api/v1/auth/mfa",
        Some(json!({"mfa_token": mfa_token, "code": next})),
    );
    assert_eq!(status, 200, "{tokens}");
    let signed_in = Client {
        base: client.base.clone(),
        token: Some(tokens["access_token"].as_str().unwrap().to_owned()),
    };
    let (status, body) = signed_in.call("GET", "/api/v1/units", None);
    assert_eq!(status, 200, "{body}");

    // A recovery code stands in for a code; another removes the factor.
    let challenge = login(&client);
    let (status, tokens) = anonymous.call(
        "POST",
        "/api/v1/auth/mfa",
        Some(json!({"mfa_token": challenge["mfa_token"], "code": recovery[0]})),
    );
    assert_eq!(status, 200, "{tokens}");
    let (status, body) = signed_in.call(
        "DELETE",
        "/api/v1/me/mfa",
        Some(json!({"code": recovery[1]})),
    );
    assert_eq!(status, 204, "{body}");
    let tokens = login(&client);
    assert!(tokens["access_token"].is_string(), "{tokens}");
}

#[test]
fn an_operator_resets_a_lost_second_factor_from_the_console() {
    let (_cleanup, database_url, _server, mut client) = server_with_root_signed_in();
    let (_, enrolment) = client.call("POST", "/api/v1/me/mfa/totp", Some(json!({})));
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    let now = pyotp("print(pyotp.parse_uri(uri).now())", uri);
    let (status, body) = client.call(
        "POST",
        "/api/v1/me/mfa/totp/confirm",
        Some(json!({"code": now})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(login(&client)["mfa_required"], true);

    let reset = |login: &str| {
        Command::new(binary())
            .args(["reset-mfa", "--login", login])
            .env("DATABASE_URL", &database_url)
            .output()
            .unwrap()
    };
    let unknown = reset("nobody");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account has the login nobody"));
    let out = reset("ROOT");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("root: removed its second factor"));
    // Its sessions have ended; the password alone logs in, and enrolment is due again.
    let (status, body) = client.call("GET", "/api/v1/me", None);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("token_revoked")),
        "{body}"
    );
    let tokens = login(&client);
    client.token = Some(tokens["access_token"].as_str().unwrap().to_owned());
    let (status, body) = client.call("GET", "/api/v1/units", None);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("mfa_enrollment_required")),
        "{body}"
    );
}
