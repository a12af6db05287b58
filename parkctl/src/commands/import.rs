//! `parkctl lots import FILE`: reads the file with [`parkctl::import`], then
//! for each row looks the lot up by its external id and creates it (with its
//! spots and a rate card) or brings its name, address and location up to
//! date. Rows the parser refused and rows the server refused end up in one
//! summary, each with its line or feature number and the reason.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use parkctl::import::{self, ImportFile, ImportRow, Position};
use parking_api::{
    CreateSpotsRequest, Lot, MAX_SPOTS_PER_REQUEST, RateCardDto, SpotBatch, SpotKindDto,
    UpdateLotRequest,
};
use parking_client::{Client, ClientError};
use serde::Serialize;
use uuid::Uuid;

use crate::context::{Context, parse_id};
use crate::error::{CtlError, EXIT_ERROR};
use crate::output::{self, Format};

/// Files with more rows than this get a progress bar (on a terminal).
const PROGRESS_ABOVE: usize = 20;

/// How the bar looks: `█████░░░░ 120/589 lots dresdenaltmarkt`.
const BAR_TEMPLATE: &str = "{bar:40} {pos}/{len} lots {wide_msg}";

/// The billing increment of imported rate cards, in minutes.
const INCREMENT_MINUTES: u32 = 15;

/// `parkctl lots import FILE`.
#[derive(Debug, Args)]
#[command(after_help = "\
Re-runs are idempotent: each row is matched to a lot by its external id. A lot
that exists is updated when its name, address or location differ, else left
unchanged; its spots and rates are not touched again (spots are only added to a
matched lot that has none, e.g. after an earlier run failed half-way).

Exit codes: 0 when every row was imported or skipped (rows the file itself
refuses are listed, not fatal), 1 when the server refused a row, 2 when the
file cannot be read.")]
pub struct ImportArgs {
    /// A ParkAPI GeoJSON FeatureCollection or a CSV file (see the docs of
    /// parkctl::import for the columns).
    pub file: PathBuf,
    /// The file's format; default from its extension (.geojson/.json, .csv).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// The time zone of the imported lots.
    #[arg(long, default_value = import::DEFAULT_TIMEZONE)]
    pub timezone: String,
    /// The currency of the rates in the file.
    #[arg(long, default_value = "EUR")]
    pub currency: String,
    /// The tenant that owns new lots (admins must name one).
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
    /// Look every row up but change nothing; the summary says what would happen.
    #[arg(long)]
    pub dry_run: bool,
}

/// An import file's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// A GeoJSON FeatureCollection of points (ParkAPI).
    Geojson,
    /// CSV with a header row.
    Csv,
}

/// What happened to one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// A row that was not imported.
#[derive(Debug, Serialize)]
struct RejectedRow {
    /// `line 7` or `feature 12`.
    position: String,
    /// The line (CSV) or feature (GeoJSON) number.
    number: u64,
    /// The row's external id, when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    /// `file` (the parser refused it) or `server`.
    source: &'static str,
    /// The HTTP status of a server refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// Why.
    reason: String,
}

/// The summary printed at the end (`-o json` prints it as it is).
#[derive(Debug, Default, Serialize)]
struct Summary {
    file: String,
    dry_run: bool,
    created: usize,
    updated: usize,
    unchanged: usize,
    rejected: usize,
    rejected_rows: Vec<RejectedRow>,
}

impl Summary {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn server_refusals(&self) -> usize {
        self.rejected_rows
            .iter()
            .filter(|r| r.source == "server")
            .count()
    }
}

fn number(position: Position) -> u64 {
    match position {
        Position::Line(n) => n,
        Position::Feature(n) => n as u64,
    }
}

/// Runs the import.
pub async fn run(ctx: &Context, client: &Client, args: ImportArgs) -> Result<(), CtlError> {
    let tenant = args
        .tenant
        .as_deref()
        .map(|t| parse_id("tenant", t))
        .transpose()?;
    rate_card(0, &args.currency).map_err(|_| {
        CtlError::Usage(format!(
            "unknown currency {:?}: use an ISO 4217 code such as EUR",
            args.currency
        ))
    })?;
    let file = read(&args)?;
    let mut summary = Summary {
        file: args.file.display().to_string(),
        dry_run: args.dry_run,
        ..Summary::default()
    };
    for rejected in &file.rejected {
        summary.rejected_rows.push(RejectedRow {
            position: rejected.position.to_string(),
            number: number(rejected.position),
            external_id: None,
            source: "file",
            status: None,
            reason: rejected.reason.clone(),
        });
    }

    let bar = progress(file.rows.len());
    for row in &file.rows {
        bar.set_message(row.external_id.clone());
        match import_row(client, row, tenant, &args).await {
            Ok(outcome) => summary.count(outcome),
            Err(error) if is_fatal(&error) => {
                bar.finish_and_clear();
                return Err(ctx.fail(error));
            }
            Err(error) => summary.rejected_rows.push(RejectedRow {
                position: row.position.to_string(),
                number: number(row.position),
                external_id: Some(row.external_id.clone()),
                source: "server",
                status: error.status(),
                reason: error.to_string(),
            }),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    summary.rejected_rows.sort_by_key(|r| r.number);
    summary.rejected = summary.rejected_rows.len();
    print(ctx.format, &summary)?;
    match summary.server_refusals() {
        0 => Ok(()),
        n => Err(CtlError::Failed {
            message: format!(
                "the server refused {n} of {} rows (listed above)",
                file.total()
            ),
            code: EXIT_ERROR,
            hint: Some("fix them and run the import again; rows already imported stay".to_owned()),
        }),
    }
}

/// Reads and parses the file; anything that stops the whole file is a usage
/// error (exit 2).
fn read(args: &ImportArgs) -> Result<ImportFile, CtlError> {
    let path = &args.file;
    let format = match args.format {
        Some(format) => format,
        None => format_of(path)?,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let parsed = match format {
        FileFormat::Geojson => import::parse_geojson(&text, &args.timezone),
        FileFormat::Csv => import::parse_csv(&text, &args.timezone),
    };
    parsed.map_err(|e| CtlError::Usage(format!("{}: {e}", path.display())))
}

fn format_of(path: &Path) -> Result<FileFormat, CtlError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("geojson" | "json") => Ok(FileFormat::Geojson),
        Some("csv") => Ok(FileFormat::Csv),
        _ => Err(CtlError::Usage(format!(
            "cannot tell the format of {} from its extension: pass --format geojson or --format csv",
            path.display()
        ))),
    }
}

/// Errors that would fail every further row too: no server, no session, no
/// permission. The import stops on them.
fn is_fatal(error: &ClientError) -> bool {
    !matches!(error, ClientError::Api { status, .. } if !matches!(status, 401 | 403))
}

/// A bar on stderr for long imports, only on a terminal and without
/// `NO_COLOR`; hidden otherwise.
fn progress(rows: usize) -> ProgressBar {
    let quiet = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if rows <= PROGRESS_ABOVE || quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(rows as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE) {
        bar.set_style(style);
    }
    bar
}

/// Creates or updates the row's lot.
async fn import_row(
    client: &Client,
    row: &ImportRow,
    tenant: Option<Uuid>,
    args: &ImportArgs,
) -> Result<Outcome, ClientError> {
    match client.lot_by_external_id(&row.external_id).await? {
        None => {
            if !args.dry_run {
                let mut request = row.lot.clone();
                request.tenant_id = tenant.or(request.tenant_id);
                let lot = client.create_lot(&request).await?;
                add_spots(client, lot.id, &row.spots).await?;
                if let Some(rate) = row.rate {
                    client
                        .put_rates(lot.id, &rate_card(rate, &args.currency)?)
                        .await?;
                }
            }
            Ok(Outcome::Created)
        }
        Some(lot) => {
            let change = changes(&lot, row);
            let refill = lot.total_spots == 0 && row.capacity() > 0;
            if change.is_none() && !refill {
                return Ok(Outcome::Unchanged);
            }
            if !args.dry_run {
                if let Some(change) = change {
                    client.update_lot(lot.id, &change).await?;
                }
                if refill {
                    add_spots(client, lot.id, &row.spots).await?;
                }
            }
            Ok(Outcome::Updated)
        }
    }
}

/// The PATCH bringing `lot` in line with the row, if anything differs.
fn changes(lot: &Lot, row: &ImportRow) -> Option<UpdateLotRequest> {
    let wanted = &row.lot;
    let mut update = UpdateLotRequest::default();
    if lot.name != wanted.name {
        update.name = Some(wanted.name.clone());
    }
    if lot.address != wanted.address {
        update.address = Some(wanted.address.clone());
    }
    // Coordinates go through the store as f64; allow for the last digits.
    let moved = (lot.location.lat - wanted.location.lat).abs() > 1e-9
        || (lot.location.lng - wanted.location.lng).abs() > 1e-9;
    if moved {
        update.location = Some(wanted.location);
    }
    (update != UpdateLotRequest::default()).then_some(update)
}

/// Adds the spots kind by kind, at most [`MAX_SPOTS_PER_REQUEST`] a request.
async fn add_spots(
    client: &Client,
    lot: Uuid,
    spots: &[(SpotKindDto, u32)],
) -> Result<(), ClientError> {
    for &(kind, count) in spots {
        let mut left = count;
        while left > 0 {
            let batch = left.min(MAX_SPOTS_PER_REQUEST);
            let request = CreateSpotsRequest::Batch(SpotBatch {
                count: batch,
                prefix: prefix(kind).to_owned(),
                kind,
                zone: None,
            });
            client.add_spots(lot, &request).await?;
            left -= batch;
        }
    }
    Ok(())
}

/// Label prefixes per kind (`P-001`, `E-001`, …); parkd numbers on from the
/// highest label with the prefix.
fn prefix(kind: SpotKindDto) -> &'static str {
    match kind {
        SpotKindDto::Regular => "P-",
        SpotKindDto::Compact => "C-",
        SpotKindDto::Accessible => "A-",
        SpotKindDto::Ev => "E-",
        SpotKindDto::Motorcycle => "M-",
    }
}

/// A plain card: the row's rate every hour, billed per 15 minutes.
fn rate_card(base_hourly: i64, currency: &str) -> Result<RateCardDto, ClientError> {
    serde_json::from_value(serde_json::json!({
        "currency": currency,
        "base_hourly": base_hourly,
        "increment_minutes": INCREMENT_MINUTES,
    }))
    .map_err(|e| ClientError::Decode {
        message: format!("cannot build a rate card in {currency}: {e}"),
    })
}

fn print(format: Format, summary: &Summary) -> Result<(), CtlError> {
    if format == Format::Json {
        return output::print_json(summary);
    }
    let verb = if summary.dry_run { "would be " } else { "" };
    let counts = vec![
        vec![format!("{verb}created"), summary.created.to_string()],
        vec![format!("{verb}updated"), summary.updated.to_string()],
        vec!["unchanged".to_owned(), summary.unchanged.to_string()],
        vec!["rejected".to_owned(), summary.rejected.to_string()],
    ];
    let rows = summary
        .rejected_rows
        .iter()
        .map(|r| {
            vec![
                r.position.clone(),
                r.external_id.clone().unwrap_or_default(),
                r.source.to_owned(),
                r.reason.clone(),
            ]
        })
        .collect::<Vec<_>>();
    let headers = ["POSITION", "EXTERNAL ID", "SOURCE", "REASON"];
    if format == Format::Csv {
        return output::print(format, &headers, rows, summary);
    }
    println!("{}", output::table(&["LOTS", "COUNT"], counts));
    if !rows.is_empty() {
        println!("{}", output::table(&headers, rows));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(
            format_of(Path::new("a/dresden.geojson")).expect("geojson"),
            FileFormat::Geojson
        );
        assert_eq!(
            format_of(Path::new("LOTS.CSV")).expect("csv"),
            FileFormat::Csv
        );
        assert!(format_of(Path::new("lots.txt")).is_err());
    }

    #[test]
    fn the_bar_template_parses_and_short_files_get_no_bar() {
        assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
        assert!(progress(PROGRESS_ABOVE).is_hidden());
    }

    #[test]
    fn rate_cards_are_plain() {
        let card = rate_card(250, "EUR").expect("valid card");
        let value = serde_json::to_value(&card).expect("serialises");
        assert_eq!(value["base_hourly"], 250);
        assert_eq!(value["increment_minutes"], 15);
        assert!(rate_card(250, "euro").is_err());
    }

    #[test]
    fn only_api_refusals_other_than_auth_are_per_row() {
        let api = |status| ClientError::Api {
            status,
            problem: Box::new(parking_api::Problem::new(status, "x", "y")),
        };
        assert!(!is_fatal(&api(409)));
        assert!(!is_fatal(&api(422)));
        assert!(is_fatal(&api(401)));
        assert!(is_fatal(&api(403)));
    }
}
