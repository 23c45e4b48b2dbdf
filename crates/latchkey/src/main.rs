//! `latchkey`: the OAuth 2.0 authorization server, its admin CLI and client tools.
#![forbid(unsafe_code)]

mod admin;
mod demo_api;
mod token_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use latchkey_server::{Config, Context, Server, StartError, shutdown_signal};

/// Exit code for bad configuration, an unreachable database or an unusable address.
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(name = "latchkey", version, about = "An OAuth 2.0 authorization server")]
struct Cli {
    /// TOML configuration file; every key can be overridden by LATCHKEY_<KEY>
    /// (nested keys joined with __).
    #[arg(long, global = true, env = "LATCHKEY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Delete expired tokens and revocation records now (the server also does it periodically).
    Janitor,
    /// Manage clients, directly in the database (a running server sees changes within 2 s).
    #[command(subcommand)]
    Client(admin::ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Manage users (resource owners).
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Inspect and revoke users' consents.
    #[command(subcommand)]
    Consent(admin::ConsentCommand),
    /// Run a small API protected by bearer tokens (the Resource Server of the flow).
    DemoApi(demo_api::DemoApiArgs),
    /// Talk to an authorization server as a client (the Business Client of the flow).
    #[command(subcommand)]
    Token(token_cli::TokenCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

async fn run(cli: Cli) -> ExitCode {
    // These two talk to servers over HTTP and need no configuration or database.
    let command = match cli.command {
        Command::DemoApi(args) => return demo_api::run(args).await,
        Command::Token(cmd) => return token_cli::run(cmd).await,
        other => other,
    };
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => return fail_start(StartError::Config(e)),
    };
    let ctx = match Context::open(config).await {
        Ok(c) => c,
        Err(e) => return fail_start(e),
    };
    match command {
        Command::Serve => serve(ctx).await,
        Command::Migrate => {
            println!("migrations applied");
            ExitCode::SUCCESS
        }
        Command::Janitor => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            match latchkey_server::serve::janitor(ctx.store.as_ref(), now).await {
                Ok(n) => {
                    println!("deleted {n} expired rows");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Client(cmd) => admin::client(ctx, cmd).await,
        Command::Keys(cmd) => admin::keys(ctx, cmd).await,
        Command::User(cmd) => admin::user(ctx, cmd).await,
        Command::Consent(cmd) => admin::consent(ctx, cmd).await,
        Command::DemoApi(_) | Command::Token(_) => ExitCode::FAILURE,
    }
}

fn fail_start(e: StartError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_CONFIG)
}

async fn serve(ctx: Context) -> ExitCode {
    let server = match Server::bind(ctx).await {
        Ok(s) => s,
        Err(e) => return fail_start(e),
    };
    match server.local_addr() {
        Ok(addr) => {
            tracing::info!(issuer = server.issuer(), "latchkey is ready");
            // One machine-readable line on stdout: scripts and tests wait for it.
            println!("listening on http://{addr}");
        }
        Err(e) => return fail_start(StartError::Bind { addr: "?".into(), source: e }),
    }
    match server.run(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: server failed: {e}");
            ExitCode::FAILURE
        }
    }
}
