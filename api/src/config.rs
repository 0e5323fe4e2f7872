//! Configuration from the environment, with defaults that run on a developer's
//! machine. In production (`WHEREABOUTS_ENV=production`) secrets have no default.

use chrono_tz::Tz;
use rand::RngCore;
use std::net::SocketAddr;
use thiserror::Error;
use whereabouts_core::Role;

/// Default database: the local PostgreSQL.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@localhost:5432/whereabouts";

/// Server configuration.
#[derive(Clone)]
pub struct Config {
    /// PostgreSQL connection string (`DATABASE_URL`).
    pub database_url: String,
    /// Address to listen on (`WHEREABOUTS_BIND`).
    pub bind: SocketAddr,
    /// Jurisdiction time zone (`WHEREABOUTS_TIME_ZONE`).
    pub time_zone: Tz,
    /// Home jurisdiction division code (`WHEREABOUTS_HOME_CODE`).
    pub home_code: String,
    /// HMAC key for access tokens (`WHEREABOUTS_JWT_SECRET`).
    pub jwt_secret: Vec<u8>,
    /// Whether the key was generated because none was configured.
    pub jwt_secret_generated: bool,
    /// Production mode (`WHEREABOUTS_ENV=production`).
    pub production: bool,
    /// Access token lifetime in seconds (`WHEREABOUTS_ACCESS_TTL_SECONDS`).
    pub access_ttl_seconds: i64,
    /// Refresh token lifetime in days (`WHEREABOUTS_REFRESH_TTL_DAYS`).
    pub refresh_ttl_days: i64,
    /// A session unused this long ends (`WHEREABOUTS_SESSION_IDLE_MINUTES`;
    /// at least the access token's lifetime).
    pub session_idle_minutes: i64,
    /// No session lasts longer than this after its login
    /// (`WHEREABOUTS_SESSION_MAX_HOURS`).
    pub session_max_hours: i64,
    /// Database pool size (`WHEREABOUTS_DB_POOL_SIZE`).
    pub pool_size: u32,
    /// Failed logins of one login from one client address that lock that pair
    /// (`WHEREABOUTS_LOGIN_MAX_FAILURES`).
    pub login_max_failures: i32,
    /// Failed logins from one client address, over all logins, that lock the
    /// address (`WHEREABOUTS_LOGIN_MAX_FAILURES_PER_ADDRESS`).
    pub login_max_failures_per_address: i32,
    /// Seconds without a failure after which a throttle bucket forgets its
    /// failures (`WHEREABOUTS_LOGIN_WINDOW_SECONDS`).
    pub login_window_seconds: i64,
    /// Failed logins of one login, over all addresses, after which each
    /// attempt at it waits a delay (`WHEREABOUTS_LOGIN_SLOWDOWN_AFTER`).
    pub login_slowdown_after: i32,
    /// The first such delay in seconds, doubled by each further failure
    /// (`WHEREABOUTS_LOGIN_SLOWDOWN_SECONDS`).
    pub login_slowdown_seconds: i64,
    /// The longest such delay in seconds (`WHEREABOUTS_LOGIN_SLOWDOWN_MAX_SECONDS`).
    pub login_slowdown_max_seconds: i64,
    /// Hours after the planned return before an away filing is overdue
    /// (`WHEREABOUTS_OVERDUE_GRACE_HOURS`).
    pub overdue_grace_hours: i64,
    /// Milliseconds between two rounds of the background worker
    /// (`WHEREABOUTS_WORKER_INTERVAL_MS`).
    pub worker_interval_ms: u64,
    /// Seconds between two sweeps for due and overdue returns
    /// (`WHEREABOUTS_SWEEP_INTERVAL_SECONDS`).
    pub sweep_interval_seconds: i64,
    /// AEAD key sealing travel document numbers at rest
    /// (`WHEREABOUTS_DOCUMENT_KEY`, 32 bytes in base64).
    pub document_key: [u8; 32],
    /// Whether that key was generated because none was configured.
    pub document_key_generated: bool,
    /// The key of the audit chain's HMAC (`WHEREABOUTS_AUDIT_KEY`, 32 bytes
    /// in base64; required in production).
    pub audit_key: [u8; 32],
    /// Whether that key is the built-in development key, because none was
    /// configured.
    pub audit_key_development: bool,
    /// Minutes between the audit checkpoints the worker publishes as
    /// `audit.checkpoint` webhook events (`WHEREABOUTS_AUDIT_CHECKPOINT_MINUTES`;
    /// 0: none).
    pub audit_checkpoint_minutes: i64,
    /// Days the access log keeps its entries (`WHEREABOUTS_ACCESS_LOG_DAYS`;
    /// at least 180, as the Cybersecurity Law asks).
    pub access_log_days: i64,
    /// Days after a trip's return by which a document in custody must be back
    /// (`WHEREABOUTS_DOCUMENT_RETURN_DAYS`).
    pub document_return_days: i64,
    /// Whether webhooks may target addresses inside the network
    /// (`WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE`, development only).
    pub webhook_allow_private: bool,
    /// How long a request body may take to arrive
    /// (`WHEREABOUTS_BODY_TIMEOUT_SECONDS`).
    pub body_read_timeout: std::time::Duration,
    /// A fixed "now" for assessments instead of the clock (tests and
    /// Heavy reads (ledger exports, campaign reports) served at once by this
    /// server; more answer 429 with `Retry-After`.
    pub heavy_read_slots: u32,
    /// Statement timeout of heavy reads, in seconds.
    pub heavy_read_timeout_seconds: u64,
    /// reproducible demos only; never set from the environment).
    pub fixed_now: Option<chrono::DateTime<chrono::Utc>>,
    /// Roles whose holders must enrol a second factor before anything but
    /// `/me`, `/me/mfa/*` and `/auth/*` answers them
    /// (`WHEREABOUTS_MFA_REQUIRED_ROLES`, comma-separated; by default
    /// `system_admin,unit_admin,inspector`; empty: none).
    pub mfa_required_roles: std::sync::Arc<[Role]>,
}

/// The roles that must enrol a second factor unless configured otherwise.
pub const DEFAULT_MFA_REQUIRED_ROLES: [Role; 3] =
    [Role::SystemAdmin, Role::UnitAdmin, Role::Inspector];

/// The roles of `WHEREABOUTS_MFA_REQUIRED_ROLES`: unset is the default, set
/// and empty is none.
fn mfa_required_roles(value: Option<&str>) -> Result<Vec<Role>, ConfigError> {
    let Some(value) = value else {
        return Ok(DEFAULT_MFA_REQUIRED_ROLES.to_vec());
    };
    let mut roles = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let role = [Role::SystemAdmin, Role::UnitAdmin, Role::Inspector]
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| ConfigError::Invalid {
                name: "WHEREABOUTS_MFA_REQUIRED_ROLES",
                reason: format!(
                    "unknown role {name:?}: the roles are system_admin, unit_admin and inspector"
                ),
            })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

/// The audit key of a development server that has none configured.
const DEVELOPMENT_AUDIT_KEY: [u8; 32] = *b"whereabouts-development-only-key";

/// A 32-byte key given in base64.
fn key_32(name: &'static str, text: &str) -> Result<[u8; 32], ConfigError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or(ConfigError::Invalid {
            name,
            reason: "must be 32 bytes in base64".into(),
        })
}

/// A configuration value that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A variable has a value that does not parse.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A secret is missing in production.
    #[error("{0} must be set when WHEREABOUTS_ENV=production")]
    MissingSecret(&'static str),
    /// A development-only setting is on in production.
    #[error("{0} must not be set when WHEREABOUTS_ENV=production")]
    DevelopmentOnly(&'static str),
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

impl Config {
    /// Reads the configuration from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let production =
            var("WHEREABOUTS_ENV").is_some_and(|v| v.eq_ignore_ascii_case("production"));
        let database_url = var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let (jwt_secret, jwt_secret_generated) = match var("WHEREABOUTS_JWT_SECRET") {
            Some(secret) if secret.len() >= 32 => (secret.into_bytes(), false),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "WHEREABOUTS_JWT_SECRET",
                    reason: "must be at least 32 bytes".into(),
                });
            }
            None if production => return Err(ConfigError::MissingSecret("WHEREABOUTS_JWT_SECRET")),
            None => {
                let mut key = vec![0u8; 32];
                rand::rng().fill_bytes(&mut key);
                (key, true)
            }
        };
        let (document_key, document_key_generated) = match var("WHEREABOUTS_DOCUMENT_KEY") {
            Some(text) => (key_32("WHEREABOUTS_DOCUMENT_KEY", &text)?, false),
            None if production => {
                return Err(ConfigError::MissingSecret("WHEREABOUTS_DOCUMENT_KEY"));
            }
            None => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                (key, true)
            }
        };
        let (audit_key, audit_key_development) = match var("WHEREABOUTS_AUDIT_KEY") {
            Some(text) => (key_32("WHEREABOUTS_AUDIT_KEY", &text)?, false),
            None if production => return Err(ConfigError::MissingSecret("WHEREABOUTS_AUDIT_KEY")),
            // A fixed key, so a development chain still verifies after a
            // restart; it protects nothing.
            None => (DEVELOPMENT_AUDIT_KEY, true),
        };
        if production && var("DATABASE_URL").is_none() {
            return Err(ConfigError::MissingSecret("DATABASE_URL"));
        }
        let time_zone: Tz = parsed("WHEREABOUTS_TIME_ZONE", chrono_tz::Asia::Shanghai)?;
        let home_code = var("WHEREABOUTS_HOME_CODE").unwrap_or_else(|| "110000".to_owned());
        if whereabouts_core::regions::lookup(&home_code).is_none_or(|r| !r.kind.is_mainland()) {
            return Err(ConfigError::Invalid {
                name: "WHEREABOUTS_HOME_CODE",
                reason: "not a mainland division code".into(),
            });
        }
        let config = Self {
            database_url,
            bind: parsed("WHEREABOUTS_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            time_zone,
            home_code,
            jwt_secret,
            jwt_secret_generated,
            production,
            access_ttl_seconds: parsed("WHEREABOUTS_ACCESS_TTL_SECONDS", 900)?,
            refresh_ttl_days: parsed("WHEREABOUTS_REFRESH_TTL_DAYS", 30)?,
            session_idle_minutes: parsed("WHEREABOUTS_SESSION_IDLE_MINUTES", 10_080)?,
            session_max_hours: parsed("WHEREABOUTS_SESSION_MAX_HOURS", 720)?,
            pool_size: parsed("WHEREABOUTS_DB_POOL_SIZE", 16)?,
            login_max_failures: parsed("WHEREABOUTS_LOGIN_MAX_FAILURES", 5)?,
            login_max_failures_per_address: parsed(
                "WHEREABOUTS_LOGIN_MAX_FAILURES_PER_ADDRESS",
                200,
            )?,
            login_window_seconds: parsed("WHEREABOUTS_LOGIN_WINDOW_SECONDS", 900)?,
            login_slowdown_after: parsed("WHEREABOUTS_LOGIN_SLOWDOWN_AFTER", 20)?,
            login_slowdown_seconds: parsed("WHEREABOUTS_LOGIN_SLOWDOWN_SECONDS", 2)?,
            login_slowdown_max_seconds: parsed("WHEREABOUTS_LOGIN_SLOWDOWN_MAX_SECONDS", 300)?,
            overdue_grace_hours: parsed("WHEREABOUTS_OVERDUE_GRACE_HOURS", 24)?,
            worker_interval_ms: parsed("WHEREABOUTS_WORKER_INTERVAL_MS", 1000)?,
            sweep_interval_seconds: parsed("WHEREABOUTS_SWEEP_INTERVAL_SECONDS", 60)?,
            document_key,
            document_key_generated,
            audit_key,
            audit_key_development,
            audit_checkpoint_minutes: parsed("WHEREABOUTS_AUDIT_CHECKPOINT_MINUTES", 60)?,
            access_log_days: parsed("WHEREABOUTS_ACCESS_LOG_DAYS", 180)?,
            document_return_days: parsed("WHEREABOUTS_DOCUMENT_RETURN_DAYS", 7)?,
            heavy_read_slots: parsed("WHEREABOUTS_HEAVY_READ_SLOTS", 2)?,
            heavy_read_timeout_seconds: parsed("WHEREABOUTS_HEAVY_READ_TIMEOUT_SECONDS", 300)?,
            webhook_allow_private: parsed("WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE", false)?,
            body_read_timeout: std::time::Duration::from_secs(parsed(
                "WHEREABOUTS_BODY_TIMEOUT_SECONDS",
                10,
            )?),
            fixed_now: None,
            mfa_required_roles: mfa_required_roles(
                std::env::var("WHEREABOUTS_MFA_REQUIRED_ROLES")
                    .ok()
                    .as_deref(),
            )?
            .into(),
        };
        config.refuse_development_settings_in_production()?;
        config.check_lifetimes()?;
        Ok(config)
    }

    /// Refuses lifetimes that do not hold: the idle lifetime must hold an
    /// access token's whole life (the session is used again at its refresh),
    /// sessions must live at least an hour, and the access log must be kept
    /// at least 180 days.
    fn check_lifetimes(&self) -> Result<(), ConfigError> {
        if self.session_idle_minutes * 60 < self.access_ttl_seconds {
            return Err(ConfigError::Invalid {
                name: "WHEREABOUTS_SESSION_IDLE_MINUTES",
                reason: format!(
                    "must be at least the access token's lifetime ({} s)",
                    self.access_ttl_seconds
                ),
            });
        }
        if self.access_log_days < 180 {
            return Err(ConfigError::Invalid {
                name: "WHEREABOUTS_ACCESS_LOG_DAYS",
                reason: "must be at least 180: network logs are kept six months".into(),
            });
        }
        if self.session_max_hours < 1 {
            return Err(ConfigError::Invalid {
                name: "WHEREABOUTS_SESSION_MAX_HOURS",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Refuses, in production, settings meant only for development.
    fn refuse_development_settings_in_production(&self) -> Result<(), ConfigError> {
        if self.production && self.webhook_allow_private {
            return Err(ConfigError::DevelopmentOnly(
                "WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE",
            ));
        }
        Ok(())
    }

    /// A configuration for tests: a fixed key and the given database.
    pub fn for_tests(database_url: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            time_zone: chrono_tz::Asia::Shanghai,
            home_code: "110000".to_owned(),
            jwt_secret: b"test-secret-test-secret-test-secret!".to_vec(),
            jwt_secret_generated: false,
            production: false,
            access_ttl_seconds: 900,
            refresh_ttl_days: 30,
            session_idle_minutes: 10_080,
            session_max_hours: 720,
            pool_size: 4,
            login_max_failures: 5,
            login_max_failures_per_address: 200,
            login_window_seconds: 900,
            login_slowdown_after: 20,
            login_slowdown_seconds: 2,
            login_slowdown_max_seconds: 300,
            overdue_grace_hours: 24,
            worker_interval_ms: 100,
            sweep_interval_seconds: 60,
            document_key: *b"test-document-key-32-bytes-long!",
            document_key_generated: false,
            audit_key: *b"test-audit-key-of-32-bytes-long!",
            audit_key_development: false,
            audit_checkpoint_minutes: 0,
            access_log_days: 180,
            document_return_days: 7,
            heavy_read_slots: 2,
            heavy_read_timeout_seconds: 300,
            // Tests deliver webhooks to receivers on 127.0.0.1.
            webhook_allow_private: true,
            body_read_timeout: std::time::Duration::from_secs(10),
            fixed_now: None,
            // The second factor's own tests require it.
            mfa_required_roles: std::sync::Arc::new([]),
        }
    }

    /// The current time: the clock, unless fixed.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.fixed_now.unwrap_or_else(chrono::Utc::now)
    }

    /// The core's settings for this jurisdiction.
    pub fn settings(&self) -> whereabouts_core::Settings {
        whereabouts_core::Settings {
            home_code: self.home_code.clone(),
            time_zone: self.time_zone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_roles_read_as_documented() {
        assert_eq!(
            mfa_required_roles(None).unwrap(),
            DEFAULT_MFA_REQUIRED_ROLES.to_vec()
        );
        assert_eq!(mfa_required_roles(Some("")).unwrap(), vec![]);
        assert_eq!(mfa_required_roles(Some(" , ")).unwrap(), vec![]);
        assert_eq!(
            mfa_required_roles(Some("inspector, system_admin,inspector")).unwrap(),
            vec![Role::Inspector, Role::SystemAdmin]
        );
        let wrong = mfa_required_roles(Some("admin")).unwrap_err().to_string();
        assert!(wrong.contains("WHEREABOUTS_MFA_REQUIRED_ROLES"), "{wrong}");
    }

    #[test]
    fn production_refuses_private_webhook_targets() {
        let development = Config::for_tests("postgres://localhost/x");
        assert!(development.webhook_allow_private);
        assert!(
            development
                .refuse_development_settings_in_production()
                .is_ok()
        );
        let production = Config {
            production: true,
            ..development.clone()
        };
        assert!(matches!(
            production.refuse_development_settings_in_production(),
            Err(ConfigError::DevelopmentOnly(
                "WHEREABOUTS_WEBHOOK_ALLOW_PRIVATE"
            ))
        ));
        let strict = Config {
            webhook_allow_private: false,
            ..production
        };
        assert!(strict.refuse_development_settings_in_production().is_ok());
    }

    #[test]
    fn an_idle_lifetime_shorter_than_an_access_token_is_refused() {
        let mut config = Config::for_tests("postgres://localhost/x");
        assert!(config.check_lifetimes().is_ok());
        config.session_idle_minutes = 10;
        assert!(matches!(
            config.check_lifetimes(),
            Err(ConfigError::Invalid {
                name: "WHEREABOUTS_SESSION_IDLE_MINUTES",
                ..
            })
        ));
        config.session_idle_minutes = 15;
        config.session_max_hours = 0;
        assert!(matches!(
            config.check_lifetimes(),
            Err(ConfigError::Invalid {
                name: "WHEREABOUTS_SESSION_MAX_HOURS",
                ..
            })
        ));
    }

    #[test]
    fn an_access_log_kept_less_than_180_days_is_refused() {
        let mut config = Config::for_tests("postgres://localhost/x");
        config.access_log_days = 179;
        assert!(matches!(
            config.check_lifetimes(),
            Err(ConfigError::Invalid {
                name: "WHEREABOUTS_ACCESS_LOG_DAYS",
                ..
            })
        ));
        config.access_log_days = 365;
        assert!(config.check_lifetimes().is_ok());
    }
}
