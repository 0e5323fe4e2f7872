//! What the end-to-end tests share: the built binary, a fresh database with
//! an administrator, a running server and a small HTTP client.
#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("WHEREABOUTS_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/binary-<hash> → target/<profile>/whereabouts
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("whereabouts");
    assert!(
        path.exists(),
        "build the server first (cargo build -p whereabouts-api): {}",
        path.display()
    );
    path
}

pub fn server_url() -> String {
    std::env::var("WHEREABOUTS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@localhost:5432".to_owned())
}

/// Drops the test's database however the test ends.
pub struct DropDatabase(pub String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", server_url())) {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
        }
    }
}

/// Kills the server if the test fails before stopping it.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A database that does not exist yet (dropped with the guard), in which the
/// CLI has created the system administrator `root`; the server creates and
/// migrates the database itself.
pub fn database_with_admin() -> (DropDatabase, String) {
    let name = format!("whereabouts_e2e_{}", uuid::Uuid::new_v4().simple());
    let guard = DropDatabase(name.clone());
    let database_url = format!("{}/{name}", server_url());
    let out = Command::new(binary())
        .args(["create-admin", "--login", "root"])
        .env("DATABASE_URL", &database_url)
        .env("WHEREABOUTS_ADMIN_PASSWORD", "root-password-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "create-admin failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created system administrator root"));
    (guard, database_url)
}

pub struct Client {
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let url = format!("{}{}", self.base, path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => {
                let mut req = agent.get(&url);
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.call()
            }
            (method, body) => {
                let mut req = match method {
                    "POST" => agent.post(&url),
                    "PUT" => agent.put(&url),
                    "DELETE" => agent.delete(&url).force_send_body(),
                    _ => agent.patch(&url),
                };
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.send_json(body.unwrap_or(Value::Null))
            }
        }
        .unwrap();
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

pub fn start_server(database_url: &str, extra: &[(&str, &str)]) -> (Server, String) {
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("WHEREABOUTS_BIND", "127.0.0.1:0")
        .env(
            "WHEREABOUTS_JWT_SECRET",
            "an-e2e-secret-an-e2e-secret-an-e2e-secret",
        )
        // No role must enrol a second factor unless a test says so.
        .env("WHEREABOUTS_MFA_REQUIRED_ROLES", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (server, base)
}

impl Client {
    /// POSTs JSON with an `Accept-Language`.
    pub fn call_with_lang(&self, path: &str, body: Value, lang: &str) -> (u16, Value) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut req = agent
            .post(format!("{}{}", self.base, path))
            .header("accept-language", lang);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let response = req.send_json(body).unwrap();
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}
