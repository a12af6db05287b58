//! `parkctl bench`: a load generator against a parkd, the project's own
//! benchmark tool. The load itself lives in [`crate::bench`]; this module is
//! the flags, the optional test data (`--setup`) and the printing.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DurationRound, Utc};
use clap::Args;
use parking_api::{
    CreateLotRequest, CreateSpotsRequest, CreateTenantRequest, Location, LotSearchQuery,
    RateCardDto, RegisterRequest, Role, SpotBatch, SpotKindDto,
};
use parking_client::{Client, MemoryTokens};
use uuid::Uuid;

use crate::bench::load::{self, Plan, Scenario};
use crate::bench::report::{HEADERS, Report};
use crate::context::Context;
use crate::error::CtlError;
use crate::output::{self, Format};

/// The Dresden demo city's centre.
const DEFAULT_CENTRE: &str = "51.0507,13.7418";
/// Lots `--setup` creates.
const SETUP_LOTS: usize = 4;
/// Regular spots per lot `--setup` creates.
const SETUP_SPOTS: u32 = 500;
/// The longest run accepted.
const MAX_DURATION: Duration = Duration::from_secs(3600);

/// `parkctl bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to send: nearby searches, bookings, or 90 % / 10 % of both.
    #[arg(long, value_enum, default_value_t = Scenario::Search)]
    scenario: Scenario,
    /// Concurrent connections, one task each.
    #[arg(short, long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    connections: u32,
    /// How long to send for (`10s`, `500ms`, `2m`); at most an hour.
    #[arg(short, long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Total requests per second, paced evenly over the connections (open
    /// loop); without it each connection sends as soon as it has its answer.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
    /// Create the test data first (needs an admin or operator login): a
    /// tenant (admin) or the operator's own, lots of 500 regular spots with a
    /// rate card near the centre, and a driver who makes the bookings.
    #[arg(long)]
    setup: bool,
    /// Search around this point (and, without --setup, book lots near it).
    #[arg(long, value_name = "LAT,LNG", default_value = DEFAULT_CENTRE)]
    near: String,
    /// Client worker threads (run.sh's wrk uses one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    threads: u32,
    /// Print the report as JSON (same as `-o json`).
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark and prints its report.
pub async fn run(ctx: &Context, args: BenchArgs) -> Result<(), CtlError> {
    let centre = super::lots::parse_point(&args.near)?;
    if args.duration.is_zero() || args.duration > MAX_DURATION {
        return Err(CtlError::Usage(
            "--duration must be more than 0 and at most 1h".into(),
        ));
    }
    let server = ctx.server()?;
    let admin = ctx.client()?;
    let (lots, load_client) = if args.setup {
        let setup = setup(ctx, &admin, &server, centre).await?;
        eprintln!(
            "setup: {} lots of {SETUP_SPOTS} regular spots near {},{}; bookings by {}",
            setup.lots.len(),
            centre.0,
            centre.1,
            setup.driver
        );
        (setup.lots, setup.client)
    } else if args.scenario.books() {
        // Refresh the session now, not under load; the load client saves any
        // later refresh to the profile like every other command.
        admin.me().await.map_err(|e| ctx.fail(e))?;
        let lots = bookable_lots(ctx, &admin, centre).await?;
        eprintln!(
            "booking on {} existing lots near {},{} as the logged-in user",
            lots.len(),
            centre.0,
            centre.1
        );
        (lots, ctx.client()?)
    } else {
        (Vec::new(), ctx.client()?)
    };
    let now = Utc::now();
    let first_slot = now
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap_or(now)
        + chrono::Duration::hours(48);
    let plan = Arc::new(Plan {
        scenario: args.scenario,
        connections: args.connections,
        duration: args.duration,
        rate: args.rate,
        centre,
        lots,
        first_slot,
    });
    let threads = args.threads as usize;
    let load_plan = Arc::clone(&plan);
    // Its own runtime, so the load can use more than the command's one thread.
    let stats = tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .map(|runtime| runtime.block_on(load::run(load_client, load_plan)))
    })
    .await
    .map_err(|e| CtlError::Config(format!("the load stopped: {e}")))?
    .map_err(|e| CtlError::Config(format!("cannot start the load's runtime: {e}")))?;
    let report = Report::new(&plan, &server, &stats);
    if args.json || ctx.format == Format::Json {
        return output::print_json(&report);
    }
    let mode = match plan.rate {
        Some(rate) => format!("open loop at {rate} req/s"),
        None => "closed loop".to_owned(),
    };
    println!(
        "{:?} against {server}: {} connections, {:.1} s ({mode})",
        plan.scenario, plan.connections, report.elapsed_s
    );
    println!("{}", output::table(&HEADERS, report.rows()));
    if report.total.errors > 0 {
        let kinds: Vec<String> = report
            .total
            .errors_by_kind
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect();
        println!("errors: {}", kinds.join(", "));
    }
    if plan.scenario.books() {
        println!(
            "409 answers (window taken) are counted as conflicts, not errors; latency counts from when a request was due."
        );
    }
    Ok(())
}

/// What `--setup` made.
struct Setup {
    lots: Vec<Uuid>,
    driver: String,
    client: Client,
}

/// Creates a tenant (admin) or uses the operator's, lots with spots and a
/// rate card, and a driver logged in on a new client.
async fn setup(
    ctx: &Context,
    admin: &Client,
    server: &str,
    centre: (f64, f64),
) -> Result<Setup, CtlError> {
    let me = admin.me().await.map_err(|e| ctx.fail(e))?;
    let run = Uuid::new_v4().simple().to_string();
    let run = &run[..8];
    let tenant_id = if me.roles.contains(&Role::Admin) {
        let tenant = admin
            .create_tenant(&CreateTenantRequest {
                name: format!("parkctl bench {run}"),
            })
            .await
            .map_err(|e| ctx.fail(e))?;
        Some(tenant.id)
    } else if me.roles.contains(&Role::Operator) {
        None
    } else {
        return Err(CtlError::Usage(
            "bench --setup needs an admin or operator login (or run it without --setup)".into(),
        ));
    };
    let card: RateCardDto = serde_json::from_value(serde_json::json!({
        "currency": "EUR",
        "base_hourly": 200,
        "increment_minutes": 15,
    }))
    .map_err(|e| CtlError::Config(format!("the bench rate card: {e}")))?;
    let mut lots = Vec::with_capacity(SETUP_LOTS);
    for n in 0..SETUP_LOTS {
        let bearing = std::f64::consts::TAU * n as f64 / SETUP_LOTS as f64;
        let (lat, lng) = load::offset(centre, 300.0, bearing);
        let lot = admin
            .create_lot(&CreateLotRequest {
                name: format!("parkctl bench {run} lot {}", n + 1),
                address: "Benchmark, not a real place".into(),
                location: Location { lat, lng },
                timezone: "Europe/Berlin".into(),
                operating_hours: None,
                turnover_buffer_minutes: None,
                min_lead_minutes: None,
                max_duration_minutes: None,
                hold_minutes: None,
                no_show_grace_minutes: None,
                cancellation: None,
                amenities: None,
                tenant_id,
                external_id: None,
                payment_mode: None,
            })
            .await
            .map_err(|e| ctx.fail(e))?;
        admin
            .add_spots(
                lot.id,
                &CreateSpotsRequest::Batch(SpotBatch {
                    count: SETUP_SPOTS,
                    prefix: "B-".into(),
                    kind: SpotKindDto::Regular,
                    zone: None,
                }),
            )
            .await
            .map_err(|e| ctx.fail(e))?;
        admin
            .put_rates(lot.id, &card)
            .await
            .map_err(|e| ctx.fail(e))?;
        lots.push(lot.id);
    }
    let driver = format!("bench-{run}@example.com");
    let password = Uuid::new_v4().simple().to_string();
    let client = Client::new(server).with_tokens(MemoryTokens::default());
    client
        .register(&RegisterRequest {
            email: driver.clone(),
            password: password.clone(),
            first_name: "Bench".into(),
            last_name: "Driver".into(),
            phone: None,
        })
        .await
        .map_err(|e| ctx.fail(e))?;
    client
        .login(&driver, &password)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Setup {
        lots,
        driver,
        client,
    })
}

/// Lots near `centre` that bookings will not overflow: open around the
/// clock (others refuse night slots) with at least 100 spots.
async fn bookable_lots(
    ctx: &Context,
    client: &Client,
    centre: (f64, f64),
) -> Result<Vec<Uuid>, CtlError> {
    let page = client
        .search_lots(&LotSearchQuery {
            lat: centre.0,
            lng: centre.1,
            radius: Some(50_000),
            spot_type: None,
            start_time: None,
            end_time: None,
            max_price: None,
            page: None,
            per_page: Some(100),
        })
        .await
        .map_err(|e| ctx.fail(e))?;
    let mut lots = Vec::new();
    for summary in page.items.iter().filter(|l| l.total_spots >= 100) {
        let lot = client.get_lot(summary.id).await.map_err(|e| ctx.fail(e))?;
        if lot.operating_hours.weekly.is_none() {
            lots.push(lot.id);
        }
    }
    if lots.is_empty() {
        return Err(CtlError::Usage(format!(
            "no lot near {},{} is open around the clock with 100 spots or more: use --setup",
            centre.0, centre.1
        )));
    }
    Ok(lots)
}

/// `10s`, `500ms`, `2m`, `1h` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad duration '{text}': expected e.g. 10s, 500ms, 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("bad duration unit '{unit}': use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("bad duration '{text}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("s").is_err());
    }
}
