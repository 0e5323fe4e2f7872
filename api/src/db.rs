//! The database: a pool of blocking diesel connections, used from request
//! handlers through [`Db::run`], which moves the work onto actix's blocking
//! thread pool. Migrations are embedded and run at start.
//!
//! Why blocking diesel and not diesel-async: transactions are plain closures,
//! the embedded migration harness is synchronous anyway, and each request does a
//! few short queries, so a blocking pool sized like the connection pool costs
//! nothing measurable (see BENCHMARKS.md) while keeping the code simple.

use crate::error::ApiError;
use crate::tx::{self, Claim, Tx};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

/// The migrations in `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// A pooled connection.
pub type Conn = PooledConnection<ConnectionManager<PgConnection>>;

/// The connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<PgConnection>>,
}

/// Errors while preparing the database at start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Could not connect or run SQL.
    #[error("database: {0}")]
    Connection(String),
    /// A migration failed.
    #[error("migration: {0}")]
    Migration(String),
}

/// Session settings of every pooled connection: no JIT compilation. The
/// server's queries are short or index-driven; JIT only pays off for long
/// analytic scans and costs tens to hundreds of milliseconds when a plan's
/// estimate crosses its threshold (the ledger's counts did). Heavy reads also
/// get a statement timeout.
#[derive(Debug, Clone, Copy)]
struct Session {
    statement_timeout_ms: Option<u64>,
}

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for Session {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        let sql = match self.statement_timeout_ms {
            None => "SET jit = off".to_owned(),
            Some(ms) => format!("SET jit = off; SET statement_timeout = {ms}"),
        };
        conn.batch_execute(&sql)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Db {
    /// Opens a pool of `size` connections.
    pub fn connect(url: &str, size: u32) -> Result<Self, SetupError> {
        let manager = ConnectionManager::<PgConnection>::new(url);
        let pool = Pool::builder()
            .max_size(size)
            // No `SELECT 1` before each use: a connection that broke is
            // found by the query that meets it, and the pool drops it.
            .test_on_check_out(false)
            .connection_customizer(Box::new(Session {
                statement_timeout_ms: None,
            }))
            .connection_timeout(Duration::from_secs(5))
            .build(manager)
            .map_err(|e| SetupError::Connection(e.to_string()))?;
        Ok(Self { pool })
    }

    /// A pool of its own for heavy reads (exports, large reports), so ordinary
    /// requests never wait behind them: `size` connections, opened when first
    /// needed, each with a statement timeout.
    pub fn heavy(url: &str, size: u32, statement_timeout: Duration) -> Self {
        let manager = ConnectionManager::<PgConnection>::new(url);
        let millis = u64::try_from(statement_timeout.as_millis()).unwrap_or(u64::MAX);
        let pool = Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(0))
            .connection_customizer(Box::new(Session {
                statement_timeout_ms: Some(millis.max(1)),
            }))
            .connection_timeout(Duration::from_secs(5))
            .build_unchecked(manager);
        Self { pool }
    }

    /// A pooled connection for blocking work outside requests (the worker).
    pub fn get(&self) -> Result<Conn, diesel::r2d2::PoolError> {
        self.pool.get()
    }

    /// Runs blocking database work on the blocking pool with a pooled connection.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        // Keep the request's span (and its request id) on log lines written
        // from the blocking thread.
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(|e| {
                tracing::error!(error = %e, "no database connection");
                ApiError::Unavailable
            })?;
            work(&mut conn)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "blocking task failed");
            ApiError::Internal
        })?
    }

    /// Runs work in one transaction (see [`tx::run`]): with the request's
    /// `Idempotency-Key` claim, the key is claimed in the same transaction.
    pub async fn transaction<T, F>(&self, claim: Option<Claim>, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, ApiError> + Send + 'static,
    {
        self.run(move |conn| tx::run(conn, claim.as_ref(), work))
            .await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.run(|conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map(|_| ())
                .map_err(ApiError::from)
        })
        .await
        .is_ok()
    }
}

/// Splits a URL into the server part and the database name.
fn split_database_url(url: &str) -> Option<(&str, &str)> {
    let (server, rest) = url.rsplit_once('/')?;
    let name = rest.split('?').next()?;
    (!name.is_empty() && server.contains("://") && !server.ends_with('/')).then_some((server, name))
}

/// Creates the database named in `url` if it does not exist yet.
pub fn create_database_if_missing(url: &str) -> Result<(), SetupError> {
    if PgConnection::establish(url).is_ok() {
        return Ok(());
    }
    let (server, name) = split_database_url(url)
        .ok_or_else(|| SetupError::Connection("DATABASE_URL names no database".into()))?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(SetupError::Connection(
            "database name has unusual characters".into(),
        ));
    }
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))
        .map_err(|e| SetupError::Connection(e.to_string()))?;
    match admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")) {
        Ok(()) => {
            tracing::info!(database = name, "created the database");
            Ok(())
        }
        // Another replica created it at the same moment.
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("already exists") =>
        {
            Ok(())
        }
        Err(e) => Err(SetupError::Connection(e.to_string())),
    }
}

/// Runs the pending migrations; several replicas starting at once take turns
/// behind an advisory lock.
pub fn migrate(url: &str) -> Result<usize, SetupError> {
    let mut conn =
        PgConnection::establish(url).map_err(|e| SetupError::Connection(e.to_string()))?;
    conn.batch_execute("SELECT pg_advisory_lock(7172026)")
        .map_err(|e| SetupError::Connection(e.to_string()))?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|applied| applied.len())
        .map_err(|e| SetupError::Migration(e.to_string()));
    let _ = conn.batch_execute("SELECT pg_advisory_unlock(7172026)");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_database_urls() {
        assert_eq!(
            split_database_url("postgres://postgres@localhost:5432/whereabouts"),
            Some(("postgres://postgres@localhost:5432", "whereabouts"))
        );
        assert_eq!(
            split_database_url("postgres://u@h/db?sslmode=disable"),
            Some(("postgres://u@h", "db"))
        );
        assert_eq!(split_database_url("postgres://u@h/"), None);
    }
}
