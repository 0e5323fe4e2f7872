//! The `whereabouts` command: the server and its administrative commands.

use actix_web::HttpServer;
use clap::{Parser, Subcommand};
use diesel::Connection;
use diesel::pg::PgConnection;
use std::process::ExitCode;
use whereabouts_api::app;
use whereabouts_api::config::Config;
use whereabouts_api::db::{self, Db};
use whereabouts_api::extract::AppState;

/// Whereabouts: whereabouts reporting for public officials.
#[derive(Parser)]
#[command(name = "whereabouts", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create the database if missing and run pending migrations.
    Migrate,
    /// Create a system administrator over the whole tree. The password comes
    /// from WHEREABOUTS_ADMIN_PASSWORD, or is generated and printed once.
    CreateAdmin {
        /// Login name of the new administrator.
        #[arg(long)]
        login: String,
    },
    /// Remove an account's second factor and end its sessions: for an
    /// account that lost its authenticator and its recovery codes when no
    /// administrator of wider scope can reset it.
    ResetMfa {
        /// Login name of the account.
        #[arg(long)]
        login: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// The audit chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the chain under WHEREABOUTS_AUDIT_KEY; exits 1 and names the
    /// first bad row if it does not verify. With a checkpoint, also exits 1
    /// when rows at or before it were removed from the chain's end or
    /// rewritten since.
    Verify {
        /// A checkpoint printed earlier by `whereabouts audit checkpoint`.
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Print a checkpoint of the chain's end, signed under
    /// WHEREABOUTS_AUDIT_KEY, as JSON: keep it outside the database.
    Checkpoint,
}

fn verify_audit(config: &Config, checkpoint: Option<&std::path::Path>) -> Result<(), String> {
    use whereabouts_api::audit::{self, Checkpoint, Tail};
    let checkpoint: Option<Checkpoint> = match checkpoint {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            Some(
                serde_json::from_str(&text)
                    .map_err(|e| format!("{} is not a checkpoint: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let mut conn = PgConnection::establish(&config.database_url).map_err(|e| e.to_string())?;
    let key = &config.audit_key;
    let result = audit::verify(&mut conn, key).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&result).map_err(|e| e.to_string())?
    );
    if let Some(id) = result.first_bad_id {
        return Err(format!("the audit chain breaks at row {id}"));
    }
    let Some(checkpoint) = checkpoint else {
        return Ok(());
    };
    match audit::check_tail(&mut conn, key, &checkpoint).map_err(|e| e.to_string())? {
        Tail::Intact => {
            println!(
                "the chain holds the checkpoint of {} (position {})",
                checkpoint.at, checkpoint.seq
            );
            Ok(())
        }
        Tail::Forged => Err("the checkpoint's signature does not hold under this audit key".into()),
        Tail::Truncated { last } => Err(format!(
            "rows were removed from the end of the audit chain: it ends at position {last}, the checkpoint names position {}",
            checkpoint.seq
        )),
        Tail::Rewritten { seq } => Err(format!(
            "the audit chain was rewritten at or before position {seq}, the checkpoint's"
        )),
    }
}

fn print_checkpoint(config: &Config) -> Result<(), String> {
    let mut conn = PgConnection::establish(&config.database_url).map_err(|e| e.to_string())?;
    let checkpoint = whereabouts_api::audit::checkpoint(&mut conn, &config.audit_key)
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&checkpoint).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn init_tracing(production: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if production {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn prepare_database(config: &Config) -> Result<(), String> {
    db::create_database_if_missing(&config.database_url).map_err(|e| e.to_string())?;
    let applied = db::migrate(&config.database_url).map_err(|e| e.to_string())?;
    if applied > 0 {
        tracing::info!(applied, "ran migrations");
    }
    Ok(())
}

async fn serve(config: Config) -> Result<(), String> {
    if config.jwt_secret_generated {
        tracing::warn!("==============================================================");
        tracing::warn!("DEVELOPMENT MODE: WHEREABOUTS_JWT_SECRET is not set; a random");
        tracing::warn!("key was generated and tokens die with this process. Set it, and");
        tracing::warn!("WHEREABOUTS_ENV=production, for any real deployment.");
        tracing::warn!("==============================================================");
    }
    if config.document_key_generated {
        tracing::warn!("DEVELOPMENT MODE: WHEREABOUTS_DOCUMENT_KEY is not set; travel document");
        tracing::warn!("numbers and second factors enrolled now cannot be read after this");
        tracing::warn!("process ends (`whereabouts reset-mfa` removes such a second factor).");
    }
    if config.audit_key_development {
        tracing::warn!("DEVELOPMENT MODE: WHEREABOUTS_AUDIT_KEY is not set; the audit chain");
        tracing::warn!("is sealed under a built-in key anyone can read, and proves nothing.");
    }
    prepare_database(&config)?;
    let pool = Db::connect(&config.database_url, config.pool_size).map_err(|e| e.to_string())?;
    let bind = config.bind;
    let state = AppState::new(config, pool.clone());
    let config = state.config.clone();
    let server = HttpServer::new(move || app::build(state.clone()))
        .shutdown_timeout(30)
        .bind(bind)
        .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    for addr in server.addrs() {
        // Printed on stdout so scripts and tests can find the port.
        println!("listening on http://{addr}");
        tracing::info!(%addr, "listening");
    }
    let worker = whereabouts_api::worker::Worker::spawn(config, pool).map_err(|e| e.to_string())?;
    // actix-web stops accepting on SIGTERM or SIGINT and lets requests in flight
    // finish; then the worker finishes its round and stops.
    let result = server.run().await.map_err(|e| e.to_string());
    worker.stop();
    result?;
    tracing::info!("stopped");
    Ok(())
}

fn create_admin(config: &Config, login: &str) -> Result<(), String> {
    prepare_database(config)?;
    let (password, generated) = match std::env::var("WHEREABOUTS_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (whereabouts_api::auth::random_token(15), true),
    };
    let mut conn = PgConnection::establish(&config.database_url).map_err(|e| e.to_string())?;
    match whereabouts_api::store::accounts::create_admin(&mut conn, login, &password) {
        Ok(id) => {
            println!("created system administrator {login} ({id})");
            if generated {
                println!("password (shown once): {password}");
            }
            Ok(())
        }
        Err(whereabouts_api::error::ApiError::Conflict(_)) => {
            Err(format!("the login {login} is taken"))
        }
        Err(whereabouts_api::error::ApiError::Validation(issues)) => Err(format!(
            "invalid: {}",
            issues
                .iter()
                .map(|i| format!(
                    "{} {}",
                    i.field.clone().unwrap_or_default(),
                    i.code.as_str()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn reset_mfa(config: &Config, login: &str) -> Result<(), String> {
    let mut conn = PgConnection::establish(&config.database_url).map_err(|e| e.to_string())?;
    match whereabouts_api::mfa::reset_from_console(&mut conn, login).map_err(|e| e.to_string())? {
        None => Err(format!("no account has the login {login}")),
        Some(had) => {
            let what = if had {
                "removed its second factor"
            } else {
                "it had no second factor"
            };
            println!(
                "{}: {what}; every session of it has ended",
                login.trim().to_lowercase()
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", whereabouts_api::openapi::document());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(config.production);
    let result = match cli.command {
        None | Some(Command::Serve) => actix_web::rt::System::new().block_on(serve(config)),
        Some(Command::Migrate) => {
            prepare_database(&config).map(|()| println!("database is up to date"))
        }
        Some(Command::CreateAdmin { login }) => create_admin(&config, &login),
        Some(Command::ResetMfa { login }) => reset_mfa(&config, &login),
        Some(Command::Audit {
            command: AuditCommand::Verify { checkpoint },
        }) => verify_audit(&config, checkpoint.as_deref()),
        Some(Command::Audit {
            command: AuditCommand::Checkpoint,
        }) => print_checkpoint(&config),
        Some(Command::Openapi) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
