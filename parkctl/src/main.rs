//! parkctl — the operators' command line for parkd.
//!
//! Layout: [`commands`] has one module per command group (clap arguments and
//! `run`); [`context`] resolves the profile, server and client; [`config`]
//! is the 0600 config file and the token store that re-saves refreshed
//! tokens; [`output`] prints tables, JSON and CSV; [`time`] reads friendly
//! times; [`error`] maps failures to one line and an exit code. `anyhow` is
//! used here only.

mod bench;
mod chart;
mod commands;
mod config;
mod context;
mod error;
mod output;
mod time;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{CommandFactory, Parser, Subcommand};

use commands::analytics::AnalyticsCommand;
use commands::auth::LoginArgs;
use commands::bench::BenchArgs;
use commands::bookings::BookingsCommand;
use commands::devices::DevicesCommand;
use commands::docs::{CompletionsArgs, ManArgs};
use commands::lots::LotsCommand;
use commands::profile::ProfileCommand;
use commands::rates::{QuoteArgs, RatesCommand};
use commands::spots::SpotsCommand;
use commands::tenants::TenantsCommand;
use commands::users::UsersCommand;
use config::Config;
use context::Context;
use error::CtlError;
use output::Format;

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  error (server unreachable, server error, config file)
  2  usage (bad flags, bad time, bad file)
  3  conflict (409: the spot or time is taken, wrong state)
  4  not found (404)
  5  auth (401/403: not logged in, session expired, not allowed)

Environment: PARKCTL_SERVER, PARKCTL_PROFILE, PARKCTL_CONFIG_DIR, NO_COLOR.";

/// The operators' command line for parkd.
#[derive(Debug, Parser)]
#[command(name = "parkctl", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// The profile to use (default: the current one, else `default`).
    #[arg(long, global = true, env = "PARKCTL_PROFILE")]
    profile: Option<String>,
    /// parkd's base URL, overriding the profile's.
    #[arg(long, global = true, env = "PARKCTL_SERVER")]
    server: Option<String>,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Log in and keep the tokens in the profile.
    Login(LoginArgs),
    /// Log out and forget the tokens.
    Logout,
    /// Named profiles.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Parking lots.
    #[command(subcommand)]
    Lots(LotsCommand),
    /// Spots of a lot.
    #[command(subcommand)]
    Spots(SpotsCommand),
    /// Device keys of a lot's sensors.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Rate cards.
    #[command(subcommand)]
    Rates(RatesCommand),
    /// Price a stay.
    Quote(QuoteArgs),
    /// Reservations.
    #[command(subcommand)]
    Bookings(BookingsCommand),
    /// Occupancy and revenue.
    #[command(subcommand)]
    Analytics(AnalyticsCommand),
    /// Users and their roles (admin).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Tenants (admin).
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (or write one per subcommand).
    Man(ManArgs),
    /// Load-test a parkd: requests/s and latency percentiles.
    Bench(BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::from(error::EXIT_OK),
        Err(e) => {
            let (code, line, details) = match e.downcast_ref::<CtlError>() {
                Some(ctl) => {
                    let line = match ctl.hint() {
                        Some(hint) => format!("{ctl} — {hint}"),
                        None => ctl.to_string(),
                    };
                    (ctl.exit_code(), line, ctl.details())
                }
                None => (error::EXIT_ERROR, format!("{e:#}"), Vec::new()),
            };
            eprintln!("parkctl: {line}");
            for detail in details {
                eprintln!("{detail}");
            }
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Generated from the clap definition: no config, server or runtime.
    let command = match cli.command {
        Command::Completions(args) => {
            return Ok(commands::docs::completions(Cli::command(), args)?);
        }
        Command::Man(args) => return Ok(commands::docs::man(Cli::command(), args)?),
        command => command,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let config = Config::load()?;
    let profile = config.selected(cli.profile.as_deref());
    let ctx = Context {
        config: Arc::new(Mutex::new(config)),
        profile,
        server_override: cli.server.map(|s| s.trim_end_matches('/').to_owned()),
        format: cli.output,
    };
    runtime.block_on(async {
        match command {
            Command::Login(args) => commands::auth::login(&ctx, args).await,
            Command::Logout => commands::auth::logout(&ctx).await,
            Command::Profile(c) => commands::profile::run(&ctx, c),
            Command::Lots(c) => commands::lots::run(&ctx, c).await,
            Command::Spots(c) => commands::spots::run(&ctx, c).await,
            Command::Devices(c) => commands::devices::run(&ctx, c).await,
            Command::Rates(c) => commands::rates::run(&ctx, c).await,
            Command::Quote(args) => commands::rates::quote(&ctx, args).await,
            Command::Bookings(c) => commands::bookings::run(&ctx, c).await,
            Command::Analytics(c) => commands::analytics::run(&ctx, c).await,
            Command::Users(c) => commands::users::run(&ctx, c).await,
            Command::Tenants(c) => commands::tenants::run(&ctx, c).await,
            Command::Completions(_) | Command::Man(_) => Ok(()),
            Command::Bench(args) => commands::bench::run(&ctx, args).await,
        }
    })?;
    Ok(())
}
