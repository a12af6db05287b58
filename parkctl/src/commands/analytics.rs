//! `parkctl analytics occupancy|revenue|summary`: a table, and under the
//! occupancy and revenue tables a small chart (see [`crate::chart`]).
//! `-o json|csv` print the data only.

use clap::{Args, Subcommand};
use parking_api::{OccupancyQuery, OccupancyReport, RevenueGrouping, RevenueQuery, RevenueReport};

use crate::chart;
use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output::{self, Format};

/// How many cells the longest revenue bar takes.
const BAR_WIDTH: usize = 30;

/// `parkctl analytics …`.
#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Occupancy per bucket, with a sparkline.
    Occupancy(OccupancyArgs),
    /// Revenue per lot-local day, with bars.
    Revenue(RevenueArgs),
    /// Spots, availability, occupancy, today's bookings and revenue.
    Summary {
        /// The lot's id.
        lot: String,
    },
}

/// `parkctl analytics occupancy LOT`.
#[derive(Debug, Args)]
pub struct OccupancyArgs {
    /// The lot's id.
    pub lot: String,
    /// Series start (RFC 3339 or a friendly form, in the lot's zone).
    #[arg(long, default_value = "today 00:00")]
    pub from: String,
    /// Series end.
    #[arg(long, default_value = "+24h")]
    pub to: String,
    /// Bucket length: 15m, 1h, 1d or plain minutes.
    #[arg(long, default_value = parking_api::analytics::DEFAULT_BUCKET)]
    pub bucket: String,
}

/// `parkctl analytics revenue LOT`.
#[derive(Debug, Args)]
pub struct RevenueArgs {
    /// The lot's id.
    pub lot: String,
    /// Range start (RFC 3339 or a friendly form, in the lot's zone).
    #[arg(long, default_value = "today 00:00")]
    pub from: String,
    /// Range end.
    #[arg(long, default_value = "now")]
    pub to: String,
}

/// Runs an analytics command.
pub async fn run(ctx: &Context, command: AnalyticsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        AnalyticsCommand::Occupancy(args) => {
            let lot = parse_id("lot", &args.lot)?;
            let query = OccupancyQuery {
                lot_id: lot,
                from: ctx.time(&client, Some(lot), "from", &args.from).await?,
                to: ctx.time(&client, Some(lot), "to", &args.to).await?,
                bucket: Some(args.bucket),
            };
            let report = client.occupancy(&query).await.map_err(|e| ctx.fail(e))?;
            output::print(
                ctx.format,
                OCCUPANCY_HEADERS,
                occupancy_rows(&report),
                &report,
            )?;
            if ctx.format == Format::Table {
                println!("{}", occupancy_chart(&report));
            }
            Ok(())
        }
        AnalyticsCommand::Revenue(args) => {
            let lot = parse_id("lot", &args.lot)?;
            let query = RevenueQuery {
                lot_id: lot,
                from: ctx.time(&client, Some(lot), "from", &args.from).await?,
                to: ctx.time(&client, Some(lot), "to", &args.to).await?,
                group_by: RevenueGrouping::Day,
            };
            let report = client.revenue(&query).await.map_err(|e| ctx.fail(e))?;
            match ctx.format {
                // The data only: one row per day, the total is their sum.
                Format::Json | Format::Csv => {
                    output::print(ctx.format, REVENUE_HEADERS, revenue_rows(&report), &report)
                }
                Format::Table => {
                    println!("{}", revenue_table(&report));
                    Ok(())
                }
            }
        }
        AnalyticsCommand::Summary { lot } => {
            let s = client
                .summary(parse_id("lot", &lot)?)
                .await
                .map_err(|e| ctx.fail(e))?;
            let rows = vec![vec![
                s.total_spots.to_string(),
                s.available_now.to_string(),
                format!("{:.0}%", s.occupancy_now * 100.0),
                s.active_reservations.to_string(),
                s.bookings_today.to_string(),
                output::money(&s.revenue_today),
            ]];
            output::print(
                ctx.format,
                &[
                    "SPOTS",
                    "FREE NOW",
                    "OCCUPIED",
                    "ACTIVE",
                    "BOOKED TODAY",
                    "REVENUE TODAY",
                ],
                rows,
                &s,
            )
        }
    }
}

const OCCUPANCY_HEADERS: &[&str] = &["START", "END", "OCCUPIED", "PEAK"];
const REVENUE_HEADERS: &[&str] = &["DATE", "REVENUE"];

fn occupancy_rows(report: &OccupancyReport) -> Vec<Vec<String>> {
    report
        .points
        .iter()
        .map(|p| {
            vec![
                output::time(&p.start),
                output::time(&p.end),
                format!("{:.0}%", p.ratio * 100.0),
                p.peak.to_string(),
            ]
        })
        .collect()
}

/// The sparkline under the occupancy table, scaled 0–100% (more if
/// overbooked), with the range it covers.
fn occupancy_chart(report: &OccupancyReport) -> String {
    let ratios: Vec<f64> = report.points.iter().map(|p| p.ratio).collect();
    let top = ratios.iter().copied().fold(1.0, f64::max);
    match (report.points.first(), report.points.last()) {
        (Some(first), Some(last)) => format!(
            "{}  {} → {}, {} min buckets, ▁ 0% … █ {:.0}%",
            chart::sparkline(&ratios, top),
            output::time(&first.start),
            output::time(&last.end),
            report.bucket_minutes,
            top * 100.0
        ),
        _ => "no buckets in this range".to_owned(),
    }
}

fn revenue_rows(report: &RevenueReport) -> Vec<Vec<String>> {
    report
        .days
        .iter()
        .map(|d| vec![d.date.to_string(), output::money(&d.amount)])
        .collect()
}

/// The revenue table for people: a bar per day and the total.
fn revenue_table(report: &RevenueReport) -> String {
    let bars = chart::bars(
        &report
            .days
            .iter()
            .map(|d| {
                (
                    d.date.to_string(),
                    d.amount.amount,
                    output::money(&d.amount),
                )
            })
            .collect::<Vec<_>>(),
        BAR_WIDTH,
    );
    let mut table = output::table(REVENUE_HEADERS, revenue_rows(report));
    table.add_row(vec!["TOTAL".to_owned(), output::money(&report.total)]);
    if bars.is_empty() {
        format!("{table}\nno revenue in this range")
    } else {
        format!("{table}\n{}", bars.join("\n"))
    }
}
