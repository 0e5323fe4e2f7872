//! Test support: a database per test, copied from a migrated template.
//!
//! The template is migrated once per set of migrations (its name carries a hash
//! of their names and their SQL) under an advisory lock, so test processes running in
//! parallel share it safely. Each [`TestDatabase`] is a fresh copy, dropped
//! with everything in it when the value is dropped.
#![allow(clippy::expect_used, reason = "test support fails loudly by design")]

use crate::db::{self, MIGRATIONS};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

/// The server part of the URL tests use (`WHEREABOUTS_TEST_DATABASE_URL`).
pub fn server_url() -> String {
    std::env::var("WHEREABOUTS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@localhost:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

fn template_name() -> String {
    let mut hasher = Sha256::new();
    let migrations = MigrationSource::<Pg>::migrations(&MIGRATIONS).expect("embedded migrations");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    for migration in migrations {
        let name = migration.name().to_string();
        hasher.update(name.as_bytes());
        // A migration edited in place (same name, new SQL) makes a new template.
        let up = std::fs::read(dir.join(&name).join("up.sql")).expect("a migration's up.sql");
        hasher.update(&up);
    }
    format!(
        "whereabouts_template_{}",
        &hex::encode(hasher.finalize())[..16]
    )
}

fn ensure_template(admin: &mut PgConnection, server: &str) -> String {
    let name = template_name();
    admin
        .batch_execute("SELECT pg_advisory_lock(4242026)")
        .expect("lock");
    let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
    )))
    .get_result(admin)
    .expect("query pg_database");
    if !exists {
        let building = format!("{name}_building");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .expect("drop a half-built template");
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .expect("create template");
        db::migrate(&format!("{server}/{building}")).expect("migrate template");
        admin
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .expect("publish template");
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(4242026)")
        .expect("unlock");
    name
}

/// A database of its own for one test.
pub struct TestDatabase {
    name: String,
    url: String,
    server: String,
}

impl TestDatabase {
    /// Copies the migrated template into a new database.
    pub fn new() -> Self {
        let server = server_url();
        let mut admin =
            PgConnection::establish(&format!("{server}/postgres")).expect("connect to PostgreSQL");
        let template = ensure_template(&mut admin, &server);
        let name = format!("whereabouts_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .expect("copy the template");
        let url = format!("{server}/{name}");
        Self { name, url, server }
    }

    /// Its connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to it.
    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", self.server)) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
