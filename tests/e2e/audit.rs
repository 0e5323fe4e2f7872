//! The audit chain's anchoring, through the real binary: the chain is keyed
//! under `WHEREABOUTS_AUDIT_KEY`, `whereabouts audit checkpoint` signs its end,
//! and `whereabouts audit verify --checkpoint` finds rows removed from the end
//! or rewritten since, an edit in the middle (naming the row), and a
//! checkpoint that was not signed under the key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common.rs"]
mod common;

use common::*;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{Value, json};
use std::process::{Command, Output};

/// The audit key of these tests (32 bytes in base64).
const KEY: &str = "ZTJlLWF1ZGl0LWtleS1vZi0zMi1ieXRlcy1sb25nISE=";
/// Another key.
const OTHER_KEY: &str = "b3RoZXItYXVkaXQta2V5LW9mLTMyLWJ5dGVzLWxvbmc=";

fn audit(database_url: &str, key: &str, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("audit")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("WHEREABOUTS_AUDIT_KEY", key)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A database whose chain holds the administrator's creation and ten units
/// made through the API, sealed under [`KEY`] by the server's worker.
fn chain() -> (DropDatabase, String) {
    let (guard, database_url) = database_with_admin();
    let (_server, base) = start_server(&database_url, &[("WHEREABOUTS_AUDIT_KEY", KEY)]);
    let mut client = Client { base, token: None };
    let (status, body) = client.call(
        "POST",
        "/api/v1/auth/login",
        Some(json!({"login": "root", "password": "root-password-1"})),
    );
    assert_eq!(status, 200, "{body}");
    client.token = Some(body["access_token"].as_str().unwrap().to_owned());
    let (status, body) = client.call(
        "POST",
        "/api/v1/units",
        Some(json!({"code": "district", "name": "District", "kind": "jurisdiction", "parent_id": null})),
    );
    assert_eq!(status, 201, "{body}");
    let district = body["id"].as_str().unwrap().to_owned();
    for i in 0..9 {
        let (status, body) = client.call(
            "POST",
            "/api/v1/units",
            Some(json!({"code": format!("bureau-{i}"), "name": format!("Bureau {i}"), "kind": "unit", "parent_id": district})),
        );
        assert_eq!(status, 201, "{body}");
    }
    let (status, verification) = client.call("GET", "/api/v1/audit/verify", None);
    assert_eq!(status, 200);
    assert_eq!(verification["ok"], true, "{verification}");
    assert_eq!(verification["checked"], 11, "{verification}");
    (guard, database_url)
}

fn connect(database_url: &str) -> PgConnection {
    PgConnection::establish(database_url).unwrap()
}

/// Runs statements on the audit table with its append-only trigger off, as
/// an intruder holding the database's superuser would.
fn tamper(database_url: &str, statements: &str) {
    connect(database_url)
        .batch_execute(&format!(
            "ALTER TABLE audit_log DISABLE TRIGGER USER; {statements}; ALTER TABLE audit_log ENABLE TRIGGER USER;"
        ))
        .unwrap();
}

/// A checkpoint taken now, written to a file of the test's.
fn checkpoint(database_url: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let out = audit(database_url, KEY, &["checkpoint"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checkpoint: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checkpoint["seq"], 11, "{checkpoint}");
    assert_eq!(checkpoint["hash"].as_str().unwrap().len(), 64);
    assert_eq!(checkpoint["signature"].as_str().unwrap().len(), 64);
    assert!(checkpoint["at"].is_string());
    let path = dir.join("checkpoint.json");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn scratch() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("whereabouts-audit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn rows_deleted_from_the_end_are_found_against_a_checkpoint() {
    let (_guard, database_url) = chain();
    let dir = scratch();
    let file = checkpoint(&database_url, &dir);
    let file = file.to_str().unwrap();
    let out = audit(&database_url, KEY, &["verify", "--checkpoint", file]);
    assert!(out.status.success(), "{}", stderr(&out));

    tamper(&database_url, "DELETE FROM audit_log WHERE seq > 9");
    // The chain that is left still fits together: only the checkpoint shows
    // what is gone.
    let plain = audit(&database_url, KEY, &["verify"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let out = audit(&database_url, KEY, &["verify", "--checkpoint", file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("rows were removed from the end of the audit chain: it ends at position 9, the checkpoint names position 11"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_last_row_rewritten_without_the_key_is_found_with_or_without_a_checkpoint() {
    let (_guard, database_url) = chain();
    let dir = scratch();
    let file = checkpoint(&database_url, &dir);
    let file = file.to_str().unwrap();
    // The intruder rewrites the last row and recomputes its hash as an
    // unkeyed chain would have it.
    tamper(
        &database_url,
        "UPDATE audit_log SET data = '{\"forged\": true}',
                hash = sha256(prev_hash || convert_to('{\"forged\": true}', 'UTF8'))
         WHERE seq = 11",
    );
    let last: i64 = {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        diesel::sql_query("SELECT id FROM audit_log WHERE seq = 11")
            .get_result::<Id>(&mut connect(&database_url))
            .unwrap()
            .id
    };
    for args in [vec!["verify"], vec!["verify", "--checkpoint", file]] {
        let out = audit(&database_url, KEY, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(&format!("the audit chain breaks at row {last}")),
            "{}",
            stderr(&out)
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_edit_in_the_middle_is_found_naming_the_row() {
    let (_guard, database_url) = chain();
    tamper(
        &database_url,
        "UPDATE audit_log SET action = 'forged' WHERE seq = 5",
    );
    let out = audit(&database_url, KEY, &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let verification: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verification["ok"], false);
    assert_eq!(verification["checked"], 4);
    let row = verification["first_bad_id"].as_i64().unwrap();
    assert!(
        stderr(&out).contains(&format!("the audit chain breaks at row {row}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_checkpoint_or_a_chain_under_another_key_does_not_hold() {
    let (_guard, database_url) = chain();
    let dir = scratch();
    let file = checkpoint(&database_url, &dir);
    // A checkpoint moved back to hide the last rows no longer holds.
    let mut moved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    moved["seq"] = json!(9);
    let forged = dir.join("forged.json");
    std::fs::write(&forged, moved.to_string()).unwrap();
    let out = audit(
        &database_url,
        KEY,
        &["verify", "--checkpoint", forged.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the checkpoint's signature does not hold under this audit key"),
        "{}",
        stderr(&out)
    );
    // Under another key the chain breaks at its first row.
    let out = audit(&database_url, OTHER_KEY, &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let verification: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verification["checked"], 0);
    // Not a checkpoint at all.
    let junk = dir.join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    let out = audit(
        &database_url,
        KEY,
        &["verify", "--checkpoint", junk.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a checkpoint"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(dir).unwrap();
}
