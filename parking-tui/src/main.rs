//! `parking-tui`: the live monitoring dashboard for parkd.

use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::Parser;
use parking_client::Client;
use parking_client::profiles::{Config, FileTokens};
use parking_tui::app::App;
use parking_tui::source::{Area, ClientSource, Watch};
use parking_tui::theme::Theme;

/// The live monitoring dashboard for parkd: every lot you manage (or, with
/// --near, every lot in an area) at a glance (occupancy, per-kind counts,
/// trend, alerts), the spot grid of a lot, bookings with their actions,
/// analytics and alerts.
///
/// It logs in with parkctl's profiles: run `parkctl login` first. Operators
/// and admins watch their managed lots without --near; drivers and anonymous
/// users name an area with --near. Press `?`
/// inside for every key, `q` to quit. Colours are off when NO_COLOR is set.
#[derive(Debug, Parser)]
#[command(name = "parking-tui", version, about, long_about)]
struct Cli {
    /// The parkctl profile to use (default: the current one, else `default`).
    #[arg(long, env = "PARKCTL_PROFILE")]
    profile: Option<String>,
    /// parkd's base URL, overriding the profile's.
    #[arg(long, env = "PARKCTL_SERVER")]
    server: Option<String>,
    /// Watch the lots in an area around LAT,LNG (e.g. 51.05,13.74) instead
    /// of the lots you manage; required for drivers and when not logged in.
    #[arg(long, env = "PARKING_TUI_NEAR", value_name = "LAT,LNG", value_parser = parse_point)]
    near: Option<(f64, f64)>,
    /// The radius of the area around --near, metres (1 to 50000).
    #[arg(long, env = "PARKING_TUI_RADIUS", default_value_t = 50_000, requires = "near",
          value_parser = clap::value_parser!(u32).range(1..=50_000))]
    radius: u32,
}

fn parse_point(text: &str) -> Result<(f64, f64), String> {
    let bad = || format!("'{text}' is not LAT,LNG such as 51.05,13.74");
    let (lat, lng) = text.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lng: f64 = lng.trim().parse().map_err(|_| bad())?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
        return Err(format!(
            "'{text}': latitude must be -90..90 and longitude -180..180"
        ));
    }
    Ok((lat, lng))
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("parking-tui: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load()?;
    let profile = config.selected(cli.profile.as_deref());
    let stored = config.profiles.get(&profile).cloned().unwrap_or_default();
    let server = match cli
        .server
        .or(Some(stored.server.clone()).filter(|s| !s.is_empty()))
    {
        Some(server) => server,
        None => bail!(
            "profile '{profile}' has no server: run parkctl login --server URL --email EMAIL, or pass --server URL"
        ),
    };
    let user = match (&stored.email, stored.tokens()) {
        (Some(email), Some(_)) => email.clone(),
        _ => "anonymous (run parkctl login)".to_owned(),
    };
    let client = Client::new(server.clone())
        .with_tokens(FileTokens::new(Arc::new(Mutex::new(config)), profile));
    let area = cli.near.map(|(lat, lng)| Area {
        lat,
        lng,
        radius_m: cli.radius,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Without an area, what to watch depends on who the caller is: asked
    // before the terminal is taken over, so a refusal reads as a CLI error.
    let roles = match (area, client.tokens()) {
        (None, Some(_)) => Some(
            runtime
                .block_on(client.me())
                .with_context(|| format!("cannot ask {server} who you are"))?
                .roles,
        ),
        _ => None,
    };
    let watch = Watch::choose(area, roles.as_deref()).map_err(anyhow::Error::msg)?;
    let source = Arc::new(ClientSource::watching(client, watch));
    let mut app = App::new(server, user, Utc::now());
    app.theme = Theme::from_env();
    app.managed = watch == Watch::Managed;
    // `try_init` also installs a panic hook that restores the terminal before
    // the panic message is printed. A panic on any thread (a background task
    // too) then ends the process: drawing on after the terminal was restored
    // would leave the user's shell in a mess.
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            ratatui::restore();
            return Err(e).context("cannot take over the terminal (is this a terminal?)");
        }
    };
    let restore_then_print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_then_print(info);
        std::process::exit(101);
    }));
    let result = runtime.block_on(parking_tui::runtime::run(&mut terminal, app, source));
    ratatui::restore();
    // Background requests still in flight are dropped with the runtime.
    runtime.shutdown_background();
    result
}
