//! End to end: the real `whereabouts` binary against a database that does not
//! exist yet. The CLI creates an administrator, the server creates and migrates
//! the database, a client builds a small unit tree with a policy over HTTP, and
//! SIGTERM stops the server cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common.rs"]
mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_binary_creates_its_database_an_admin_builds_a_tree_and_it_stops_on_sigterm() {
    let (_cleanup, database_url) = database_with_admin();

    let mut child = Command::new(binary())
        .arg("serve")
        .env("DATABASE_URL", &database_url)
        .env("WHEREABOUTS_BIND", "127.0.0.1:0")
        .env(
            "WHEREABOUTS_JWT_SECRET",
            "an-e2e-secret-an-e2e-secret-an-e2e-secret",
        )
        // The second factor has a test of its own (`tests/e2e/mfa.rs`).
        .env("WHEREABOUTS_MFA_REQUIRED_ROLES", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();

    let mut client = Client { base, token: None };
    assert_eq!(client.call("GET", "/healthz", None).0, 200);
    assert_eq!(client.call("GET", "/readyz", None).0, 200);
    let (status, body) = client.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "root", "password": "root-password-1"})),
    );
    assert_eq!(status, 200, "{body}");
    client.token = Some(body["access_token"].as_str().unwrap().to_owned());

    let create_unit = |code: &str, kind: &str, parent: Value| {
        let (status, body) = client.call(
            "POST",
            "/api/v1/units",
            Some(json!({"code": code, "name": code, "kind": kind, "parent_id": parent})),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].clone()
    };
    let district = create_unit("dongcheng", "jurisdiction", Value::Null);
    let bureau = create_unit("finance-bureau", "unit", district.clone());
    let office = create_unit("finance-office", "department", bureau.clone());

    let (status, clerk) = client.call(
        "POST",
        "/api/v1/accounts",
        Some(json!({"login": "wang.wu", "display_name": "王五", "unit_id": office, "rank": "clerk", "position": "staff", "password": "wang-wu-password-1"})),
    );
    assert_eq!(status, 201, "{clerk}");

    let policy = json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1, "working_days": true}}]});
    let (status, body) = client.call(
        "PUT",
        &format!("/api/v1/units/{}/policy", bureau.as_str().unwrap()),
        Some(policy),
    );
    assert_eq!(status, 200, "{body}");
    let (status, effective) = client.call(
        "GET",
        &format!(
            "/api/v1/units/{}/effective-policy",
            office.as_str().unwrap()
        ),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        effective["source_unit_id"], bureau,
        "the department inherits the bureau's policy"
    );

    let (_, body) = client.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "wang.wu", "password": "wang-wu-password-1"})),
    );
    client.token = Some(body["access_token"].as_str().unwrap().to_owned());
    let draft = json!({"kind": "leave_jurisdiction", "purpose": "visit_relatives", "reason": "parents", "destinations": [{"code": "320500"}],
        "depart_on": "2027-05-01", "return_on": "2027-05-03", "contact_phone": "13800138000"});
    let (status, assessment) =
        client.call("POST", "/api/v1/assessments", Some(json!({"draft": draft})));
    assert_eq!(status, 200, "{assessment}");
    assert_eq!(assessment["requirement"], "report");
    assert_eq!(assessment["rule_id"], "all");

    // Every change so far is in the audit chain, and the CLI verifies it.
    let out = Command::new(binary())
        .args(["audit", "verify"])
        .env("DATABASE_URL", &database_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verification: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verification["ok"], true);
    assert!(
        verification["checked"].as_i64().unwrap() >= 6,
        "{verification}"
    );

    // SIGTERM: the server stops accepting and exits cleanly.
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the server exited with {status}");
}

#[test]
fn production_mode_refuses_to_start_without_real_secrets() {
    let out = Command::new(binary())
        .arg("serve")
        .env("WHEREABOUTS_ENV", "production")
        .env("DATABASE_URL", format!("{}/never_created", server_url()))
        .env_remove("WHEREABOUTS_JWT_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WHEREABOUTS_JWT_SECRET must be set"));

    let out = Command::new(binary())
        .arg("serve")
        .env("WHEREABOUTS_ENV", "production")
        .env("DATABASE_URL", format!("{}/never_created", server_url()))
        .env("WHEREABOUTS_JWT_SECRET", "too-short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));

    // Travel document numbers are sealed with a configured key in production.
    let out = Command::new(binary())
        .arg("serve")
        .env("WHEREABOUTS_ENV", "production")
        .env("DATABASE_URL", format!("{}/never_created", server_url()))
        .env(
            "WHEREABOUTS_JWT_SECRET",
            "a-production-secret-a-production-secret",
        )
        .env_remove("WHEREABOUTS_DOCUMENT_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WHEREABOUTS_DOCUMENT_KEY must be set"));
    let out = Command::new(binary())
        .arg("serve")
        .env("WHEREABOUTS_ENV", "production")
        .env("DATABASE_URL", format!("{}/never_created", server_url()))
        .env(
            "WHEREABOUTS_JWT_SECRET",
            "a-production-secret-a-production-secret",
        )
        .env("WHEREABOUTS_DOCUMENT_KEY", "c2hvcnQ=")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("32 bytes in base64"));

    // The audit chain is keyed with a configured key in production.
    let production = |audit_key: Option<&str>| {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .env("WHEREABOUTS_ENV", "production")
            .env("DATABASE_URL", format!("{}/never_created", server_url()))
            .env(
                "WHEREABOUTS_JWT_SECRET",
                "a-production-secret-a-production-secret",
            )
            .env(
                "WHEREABOUTS_DOCUMENT_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            )
            .env_remove("WHEREABOUTS_AUDIT_KEY");
        if let Some(key) = audit_key {
            command.env("WHEREABOUTS_AUDIT_KEY", key);
        }
        command.output().unwrap()
    };
    let out = production(None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WHEREABOUTS_AUDIT_KEY must be set"));
    let out = production(Some("c2hvcnQ="));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WHEREABOUTS_AUDIT_KEY") && stderr.contains("32 bytes in base64"),
        "{stderr}"
    );
}

#[test]
fn the_openapi_command_prints_the_checked_in_document() {
    let out = Command::new(binary()).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let checked_in: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(
        printed == checked_in,
        "`whereabouts openapi` differs from openapi/openapi.json"
    );
}

/// Starts `whereabouts serve` on a free port and answers its base URL.
#[test]
fn two_replicas_on_one_database_deliver_each_webhook_event_once() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};

    let (_cleanup, database_url) = database_with_admin();

    // The receiver records each delivery id it is sent.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let deliveries: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = deliveries.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut line, mut length, mut id) = (String::new(), 0usize, String::new());
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let lower = line.trim_end().to_ascii_lowercase();
                if lower.is_empty() {
                    break;
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if let Some(v) = lower.strip_prefix("x-whereabouts-delivery:") {
                    id = v.trim().to_owned();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            seen.lock().unwrap().push(id);
            use std::io::Write;
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });

    // The receiver listens on 127.0.0.1: private targets are allowed here.
    let fast = [
        ("WHEREABOUTS_WORKER_INTERVAL_MS", "50"),
        ("WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE", "true"),
    ];
    let (_a, base_a) = start_server(&database_url, &fast);
    let (_b, base_b) = start_server(&database_url, &fast);
    let mut a = Client {
        base: base_a,
        token: None,
    };
    let (_, body) = a.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "root", "password": "root-password-1"})),
    );
    a.token = Some(body["access_token"].as_str().unwrap().to_owned());
    let (status, _) = a.call(
        "POST",
        "/api/v1/webhooks",
        Some(json!({"url": hook, "events": ["filing.submit"]})),
    );
    assert_eq!(status, 201);
    let (_, district) = a.call(
        "POST",
        "/api/v1/units",
        Some(json!({"code": "d", "name": "d", "kind": "jurisdiction", "parent_id": null})),
    );
    let (_, unit) = a.call(
        "POST",
        "/api/v1/units",
        Some(json!({"code": "u", "name": "u", "kind": "unit", "parent_id": district["id"]})),
    );
    let policy = json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1}}]});
    let (status, _) = a.call(
        "PUT",
        &format!("/api/v1/units/{}/policy", unit["id"].as_str().unwrap()),
        Some(policy),
    );
    assert_eq!(status, 200);
    let (status, _) = a.call(
        "POST",
        "/api/v1/accounts",
        Some(json!({"login": "filer", "display_name": "Filer", "unit_id": unit["id"], "rank": "clerk", "position": "staff", "password": "filer-password-1"})),
    );
    assert_eq!(status, 201);

    let mut clients = Vec::new();
    for base in [a.base.clone(), base_b] {
        let mut c = Client { base, token: None };
        let (_, body) = c.call(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"login": "filer", "password": "filer-password-1"})),
        );
        c.token = Some(body["access_token"].as_str().unwrap().to_owned());
        clients.push(c);
    }
    let filings = 20;
    for i in 0..filings {
        let draft = json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": format!("trip {i}"), "destinations": [{"code": "310000"}],
            "depart_on": "2027-06-01", "return_on": "2027-06-02", "contact_phone": "13800138000"});
        let (status, body) = clients[i % 2].call(
            "POST",
            "/api/v1/filings",
            Some(json!({"draft": draft, "submit": true})),
        );
        assert_eq!(status, 201, "{body}");
    }
    let started = Instant::now();
    while deliveries.lock().unwrap().len() < filings && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Give a duplicate, if there were one, the time to arrive.
    std::thread::sleep(Duration::from_millis(500));
    let mut ids = deliveries.lock().unwrap().clone();
    assert_eq!(ids.len(), filings, "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), filings, "a delivery arrived twice");
}

#[test]
fn a_server_killed_mid_load_keeps_every_answered_submission_and_its_audit_chain() {
    use diesel::prelude::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let (_cleanup, database_url) = database_with_admin();
    let (mut server, base) = start_server(&database_url, &[]);
    let mut admin = Client {
        base: base.clone(),
        token: None,
    };
    let (_, body) = admin.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "root", "password": "root-password-1"})),
    );
    admin.token = Some(body["access_token"].as_str().unwrap().to_owned());
    let (_, district) = admin.call(
        "POST",
        "/api/v1/units",
        Some(json!({"code": "d", "name": "d", "kind": "jurisdiction", "parent_id": null})),
    );
    let policy = json!({"rules": [{"id": "all", "requirement": "report", "form": "online", "notice": {"days": 1}}]});
    admin.call(
        "PUT",
        &format!("/api/v1/units/{}/policy", district["id"].as_str().unwrap()),
        Some(policy),
    );
    admin.call(
        "POST",
        "/api/v1/accounts",
        Some(json!({"login": "filer", "display_name": "Filer", "unit_id": district["id"], "rank": "clerk", "position": "staff", "password": "filer-password-1"})),
    );
    let mut filer = Client { base, token: None };
    let (_, body) = filer.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "filer", "password": "filer-password-1"})),
    );
    filer.token = Some(body["access_token"].as_str().unwrap().to_owned());
    let filer = Arc::new(filer);

    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let killed = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (filer, answered, killed) = (filer.clone(), answered.clone(), killed.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if killed.load(Ordering::SeqCst) && i > 0 {
                        break;
                    }
                    let draft = json!({"kind": "leave_jurisdiction", "purpose": "tourism", "reason": format!("load {w}-{i}"),
                        "destinations": [{"code": "310000"}], "depart_on": "2027-06-01", "return_on": "2027-06-02", "contact_phone": "13800138000"});
                    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
                    let sent = agent
                        .post(&format!("{}/api/v1/filings", filer.base))
                        .header("authorization", &format!("Bearer {}", filer.token.as_deref().unwrap_or_default()))
                        .send_json(json!({"draft": draft, "submit": true}));
                    match sent {
                        Ok(response) if response.status().as_u16() == 201 => {
                            let body: Value = serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
                            answered.lock().unwrap().push(body["id"].as_str().unwrap().to_owned());
                        }
                        Ok(response) => panic!("unexpected status {}", response.status()),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Let the load run, then kill the server without warning.
    let started = Instant::now();
    while answered.lock().unwrap().len() < 40 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    killed.store(true, Ordering::SeqCst);
    let _ = server.0.wait();
    for worker in workers {
        worker.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 40,
        "only {} submissions were answered",
        answered.len()
    );

    let ids: Vec<uuid::Uuid> = answered.iter().map(|id| id.parse().unwrap()).collect();
    let mut conn = PgConnection::establish(&database_url).unwrap();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let stored = diesel::sql_query(
        "SELECT count(*) AS n FROM filings WHERE id = ANY($1) AND status = 'recorded'",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&ids)
    .get_result::<Count>(&mut conn)
    .unwrap();
    assert_eq!(
        stored.n,
        ids.len() as i64,
        "an answered submission was lost"
    );

    let out = Command::new(binary())
        .args(["audit", "verify"])
        .env("DATABASE_URL", &database_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the audit chain does not verify after the crash: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_body_sent_a_byte_at_a_time_is_cut_off_at_the_deadline() {
    use std::io::{ErrorKind, Read, Write};

    let (_cleanup, database_url) = database_with_admin();
    let (_server, base) = start_server(&database_url, &[("WHEREABOUTS_BODY_TIMEOUT_SECONDS", "1")]);
    let address = base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let body = br#"{"login": "root", "password": "root-password-1"}"#;
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // One byte every 400 ms, listening in between for an answer.
    stream
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut answer = Vec::new();
    let mut sent = 0;
    let mut buf = [0u8; 4096];
    for byte in body {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    assert!(
        sent < body.len(),
        "the server waited for the whole slow body"
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[test]
fn production_mode_refuses_to_allow_private_webhook_targets() {
    let out = Command::new(binary())
        .arg("serve")
        .env("WHEREABOUTS_ENV", "production")
        .env("DATABASE_URL", format!("{}/never_created", server_url()))
        .env(
            "WHEREABOUTS_JWT_SECRET",
            "a-production-secret-a-production-secret",
        )
        .env(
            "WHEREABOUTS_DOCUMENT_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        )
        .env(
            "WHEREABOUTS_AUDIT_KEY",
            "YXVkaXQta2V5LWF1ZGl0LWtleS1hdWRpdC1rZXktISE=",
        )
        .env("WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
