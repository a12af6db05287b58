//! parkd's command line: `serve` (with `--demo`), `admin create-user`,
//! `default-config`, `migrate-data`.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use parkd::auth::{Password, Role};
use parkd::config::{Config, DEFAULT_CONFIG_TOML, DatabaseUrl, Overrides};
use parkd::error::ApiError;
use parkd::service::accounts::{self, NewUser};
use parking_core::model::TenantId;

/// The self-hostable parking daemon.
#[derive(Debug, Parser)]
#[command(name = "parkd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (SQLite in the data directory, or PostgreSQL with --database).
    Serve(ServeArgs),
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print a commented configuration file with every default.
    DefaultConfig,
    /// Copy a single-lot installation (SQLite) into a PostgreSQL city
    /// database, then verify counts and checksums; safe to run again.
    MigrateData(MigrateDataArgs),
}

#[derive(Debug, Args)]
struct MigrateDataArgs {
    /// The source: sqlite:PATH (the database file, or the data directory
    /// holding parkd.sqlite3). Stop the parkd using it first.
    #[arg(long)]
    from: String,
    /// The target: postgres://user:password@host:port/db.
    #[arg(long, hide_env_values = true, env = "PARKD_DATABASE_URL")]
    to: DatabaseUrl,
}

#[derive(Debug, Args)]
struct Common {
    /// Configuration file (TOML).
    #[arg(long, env = "PARKD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database, keys).
    #[arg(long, env = "PARKD_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Log format: json or pretty.
    #[arg(long, env = "PARKD_LOG_FORMAT")]
    log_format: Option<String>,
    /// PostgreSQL instead of SQLite: postgres://user:password@host:port/db.
    #[arg(long = "database", env = "PARKD_DATABASE_URL", hide_env_values = true)]
    database_url: Option<DatabaseUrl>,
    /// A PostgreSQL replica for analytics reads.
    #[arg(
        long = "read-database",
        env = "PARKD_READ_DATABASE_URL",
        hide_env_values = true
    )]
    read_database_url: Option<DatabaseUrl>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Address to listen on.
    #[arg(long, env = "PARKD_LISTEN")]
    listen: Option<SocketAddr>,
    /// Seed a demo city (real Dresden car parks) on first start and print how to
    /// log in.
    #[arg(long)]
    demo: bool,
    /// Rate limits: on or off (off for load tests on loopback).
    #[arg(long, env = "PARKD_RATE_LIMITS", value_parser = parse_switch)]
    rate_limits: Option<bool>,
    /// Also publish every event to Kafka at these brokers (host:port,...);
    /// needs a parkd built with `--features kafka`.
    #[arg(long, env = "PARKD_KAFKA_BROKERS")]
    kafka_brokers: Option<String>,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a user (the password is read from standard input).
    CreateUser(CreateUserArgs),
}

#[derive(Debug, Args)]
struct CreateUserArgs {
    #[command(flatten)]
    common: Common,
    /// Email address.
    #[arg(long)]
    email: String,
    /// Role: admin, operator or driver.
    #[arg(long)]
    role: Role,
    /// Tenant id (operators).
    #[arg(long)]
    tenant: Option<TenantId>,
    /// Given name.
    #[arg(long, default_value = "Admin")]
    first_name: String,
    /// Family name.
    #[arg(long, default_value = "User")]
    last_name: String,
    /// Read the password from standard input (required: never on the command line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
}

fn load_config(common: &Common, serve: Option<&ServeArgs>) -> anyhow::Result<Config> {
    Config::load(
        common.config.as_deref(),
        Overrides {
            listen: serve.and_then(|s| s.listen),
            data_dir: common.data_dir.clone(),
            rate_limits_enabled: serve.and_then(|s| s.rate_limits),
            log_format: common.log_format.clone(),
            kafka_brokers: serve.and_then(|s| s.kafka_brokers.clone()),
            database_url: common.database_url.clone(),
            read_database_url: common.read_database_url.clone(),
        },
    )
    .context("loading the configuration")
}

/// Logs go to stderr (stdout carries the start-up banner) through a writer thread,
/// so request handlers never wait on a terminal or a pipe; lines are dropped rather
/// than blocking when the log consumer falls far behind. Keep the guard alive until
/// exit: dropping it flushes what is queued.
fn init_logging(format: &str) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let filter = log_filter(std::env::var("PARKD_LOG").ok().as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if format == "pretty" {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
    guard
}

/// The log filter of `PARKD_LOG` (`info` when unset or unreadable).
/// tokio-postgres logs every statement's parameters at debug — payment client
/// secrets and token hashes among them — so it stays at info unless the
/// filter names it.
fn log_filter(spec: Option<&str>) -> tracing_subscriber::EnvFilter {
    let spec = spec.unwrap_or("info");
    let filter = tracing_subscriber::EnvFilter::try_new(spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if spec.contains("tokio_postgres") {
        return filter;
    }
    match "tokio_postgres=info".parse() {
        Ok(quiet) => filter.add_directive(quiet),
        Err(_) => filter,
    }
}

/// An [`ApiError`] as one line for a person at a terminal: validation errors
/// name their fields (their `Display` alone says only "invalid fields").
fn describe(e: &ApiError) -> String {
    match e {
        ApiError::Validation(errors) => errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args.common, Some(&args))?;
    let _log_guard = init_logging(&config.log_format);
    // Install the SIGTERM/SIGINT handlers first: a signal during start-up (or
    // right after the address is printed) then shuts down gracefully instead of
    // killing parkd half-way through seeding the demo.
    let shutdown = parkd::app::shutdown_signal();
    let listen = config.listen;
    let state = parkd::app::build(config).await.context("starting parkd")?;
    parkd::app::bootstrap_admin(&state)
        .await
        .map_err(|e| anyhow::anyhow!("creating the bootstrap admin: {}", describe(&e)))?;
    let demo = if args.demo {
        Some(
            parkd::demo::seed(&state)
                .await
                .map_err(anyhow::Error::msg)
                .context("seeding the demo city")?,
        )
    } else {
        None
    };
    let listener = parkd::app::bind(listen).await?;
    let url = format!(
        "http://{}",
        listener.local_addr().context("reading the bound address")?
    );
    println!("parkd {} listening on {url}", env!("CARGO_PKG_VERSION"));
    println!("  API:     {url}/api/v1   (OpenAPI: {url}/api/v1/openapi.json)");
    println!("  health:  {url}/health   metrics: {url}/metrics");
    if let Some(demo) = demo {
        println!("{}", demo.login_help(&url));
    }
    parkd::app::serve(listener, state, shutdown)
        .await
        .context("serving")?;
    Ok(())
}

async fn create_user(args: CreateUserArgs) -> anyhow::Result<()> {
    let config = load_config(&args.common, None)?;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    let password = Password::new(password).context("the password")?;
    if args.role == Role::Operator && args.tenant.is_none() {
        bail!("an operator needs --tenant ID (create one with POST /api/v1/tenants)");
    }
    parkd::app::check_account_fields(&args.email, &args.first_name, &args.last_name)
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let state = parkd::app::build(config)
        .await
        .context("opening the data directory")?;
    let created = accounts::create_user(
        &state,
        NewUser {
            email: args.email,
            password,
            first_name: args.first_name,
            last_name: args.last_name,
            phone: None,
            roles: vec![args.role],
            tenant_id: args.tenant,
        },
    )
    .await;
    // Close (flush the writer) whether or not the user was created.
    let closed = state.store.close().await;
    let user = created.map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    closed.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("created {} {} ({})", args.role, user.email, user.id);
    Ok(())
}

async fn migrate_data(args: MigrateDataArgs) -> anyhow::Result<()> {
    use parkd::store::interface::Store;
    use parkd::store::postgres::{PgOptions, PgStore, is_postgres_url};
    use parkd::store::sqlite::store::SqliteStore;
    use parkd::store::sqlite::{SqliteDb, SqliteOptions};
    let Some(path) = args.from.strip_prefix("sqlite:") else {
        bail!(
            "--from must be sqlite:PATH (the database file or the data directory), got {:?}",
            args.from
        );
    };
    let mut path = PathBuf::from(path);
    if path.is_dir() {
        path = path.join("parkd.sqlite3");
    }
    if !path.is_file() {
        bail!("no SQLite database at {}", path.display());
    }
    if !is_postgres_url(args.to.expose()) {
        bail!("--to must be a PostgreSQL URL such as postgres://parkd:secret@127.0.0.1:5432/city");
    }
    let db = tokio::task::spawn_blocking(move || SqliteDb::open(&path, SqliteOptions::default()))
        .await
        .context("opening the SQLite database")?
        .context("opening the SQLite database")?;
    let source = SqliteStore::new(db);
    let target = PgStore::connect(args.to.expose(), None, PgOptions::default())
        .await
        .context("connecting to PostgreSQL")?;
    let reports = parkd::store::postgres::import::migrate_data(&source, &target).await;
    let _ = target.close().await;
    let _ = source.close().await;
    let reports = reports.context("copying")?;
    let mut all_good = true;
    for r in &reports {
        let verdict = if r.verified() { "verified" } else { "MISMATCH" };
        all_good &= r.verified();
        println!(
            "{:<13} {:>7} in source {:>7} copied now   checksum {}…  {verdict}",
            r.table,
            r.source,
            r.copied,
            &r.source_checksum[..12.min(r.source_checksum.len())]
        );
    }
    if !all_good {
        bail!("the target does not hold what the source does (see MISMATCH above)");
    }
    println!("migration complete and verified");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(AdminCommand::CreateUser(args)) => create_user(args).await,
        Command::MigrateData(args) => migrate_data(args).await,
        Command::DefaultConfig => {
            print!("{DEFAULT_CONFIG_TOML}");
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parkd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn postgres_statement_parameters_stay_out_of_debug_logs() {
        let debug = log_filter(Some("debug")).to_string();
        assert!(debug.contains("tokio_postgres=info"), "{debug}");
        assert!(debug.contains("debug"), "{debug}");
        assert!(log_filter(None).to_string().contains("tokio_postgres=info"));
        // Asked for by name, it is the operator's choice.
        let named = log_filter(Some("info,tokio_postgres=debug")).to_string();
        assert!(!named.contains("tokio_postgres=info"), "{named}");
    }
}
