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
    /// Recompute the chain; exits 1 and names the first bad row if it does not verify.
    Verify,
}

fn verify_audit(config: &Config) -> Result<(), String> {
    let mut conn = PgConnection::establish(&config.database_url).map_err(|e| e.to_string())?;
    let result = whereabouts_api::audit::verify(&mut conn).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&result).map_err(|e| e.to_string())?
    );
    match result.first_bad_id {
        None => Ok(()),
        Some(id) => Err(format!("the audit chain breaks at row {id}")),
    }
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
        tracing::warn!("numbers registered now cannot be read after this process ends.");
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
        Some(Command::Audit {
            command: AuditCommand::Verify,
        }) => verify_audit(&config),
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
