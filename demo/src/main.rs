//! `whereabouts-demo`: fills an empty database with the synthetic district of
//! `whereabouts_demo` for demonstrations and benchmarks. Reads `DATABASE_URL`
//! like the server; creates and migrates the database first, and refuses one
//! that already has units.

use clap::Parser;
use std::process::ExitCode;
use whereabouts_demo::{DEFAULT_PASSWORD, DemoOptions};

/// Fill an empty database with a synthetic district (133 units, their
/// cadres, policies, the May Day 2026 filings and travel evidence).
#[derive(Debug, Parser)]
#[command(name = "whereabouts-demo", version)]
struct Cli {
    /// The database to fill, as for the server.
    #[arg(long, env = "DATABASE_URL", default_value = whereabouts_api::config::DEFAULT_DATABASE_URL)]
    database_url: String,
    /// Cadres to create (leaders included; administrators come on top).
    #[arg(long, default_value_t = 40_000)]
    accounts: u32,
    /// Historical trips over 2025-01-01..2026-04-13 besides May Day's; those
    /// the core would refuse are not filed.
    #[arg(long, default_value_t = 0)]
    filings: u32,
    /// Working days of attendance `present` records per person from 2026-05-06.
    #[arg(long, default_value_t = 0)]
    evidence_days: u32,
    /// The password of every demo account.
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    password: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let options = DemoOptions {
        accounts: cli.accounts,
        filings: cli.filings,
        evidence_days: cli.evidence_days,
        password: cli.password,
    };
    match whereabouts_demo::run(&cli.database_url, &options) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
