//! `parkctl rates show|set` and `parkctl quote`.

use clap::{Args, Subcommand};
use parking_api::{QuoteQuery, RateCardDto, SpotKindDto};

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output::{self, Format};

/// `parkctl rates …`.
#[derive(Debug, Subcommand)]
pub enum RatesCommand {
    /// The lot's rate card (as TOML for `-o table`, which `rates set` reads back).
    Show {
        /// The lot's id.
        lot: String,
    },
    /// Replace the lot's rate card with a TOML file.
    Set {
        /// The lot's id.
        lot: String,
        /// The card as TOML: currency, base_hourly, increment_minutes, [[bands]], …
        #[arg(long)]
        file: std::path::PathBuf,
    },
}

/// `parkctl quote`.
#[derive(Debug, Args)]
pub struct QuoteArgs {
    /// The lot's id.
    pub lot: String,
    /// Arrival (RFC 3339, now, +2h, 'tomorrow 08:00' in the lot's zone).
    #[arg(long)]
    pub from: String,
    /// Departure.
    #[arg(long)]
    pub to: String,
    /// Spot kind (regular, compact, accessible, ev, motorcycle).
    #[arg(long, value_parser = super::spot_kind)]
    pub kind: Option<SpotKindDto>,
}

/// Runs a rates command.
pub async fn run(ctx: &Context, command: RatesCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        RatesCommand::Show { lot } => {
            let card = client
                .get_rates(parse_id("lot", &lot)?)
                .await
                .map_err(|e| ctx.fail(e))?;
            print_card(ctx.format, &card)
        }
        RatesCommand::Set { lot, file } => {
            let lot = parse_id("lot", &lot)?;
            let name = file.display().to_string();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CtlError::Usage(format!("cannot read {name}: {e}")))?;
            let card: RateCardDto = toml::from_str(&text).map_err(|e| {
                CtlError::Usage(format!("{name}: {}", e.to_string().replace('\n', " ")))
            })?;
            let card = client.put_rates(lot, &card).await.map_err(|error| {
                if error.status() == Some(422) {
                    CtlError::Rejected {
                        file: name.clone(),
                        error,
                    }
                } else {
                    ctx.fail(error)
                }
            })?;
            eprintln!("rates of lot {lot} set from {name}");
            print_card(ctx.format, &card)
        }
    }
}

fn print_card(format: Format, card: &RateCardDto) -> Result<(), CtlError> {
    match format {
        Format::Table => {
            let text = toml::to_string_pretty(card)
                .map_err(|e| CtlError::Config(format!("cannot print the card: {e}")))?;
            print!("{text}");
            Ok(())
        }
        _ => output::print_json(card),
    }
}

/// Prices a stay: the lines and the total.
pub async fn quote(ctx: &Context, args: QuoteArgs) -> Result<(), CtlError> {
    let client = ctx.client()?;
    let lot = parse_id("lot", &args.lot)?;
    let start = ctx.time(&client, Some(lot), "from", &args.from).await?;
    let end = ctx.time(&client, Some(lot), "to", &args.to).await?;
    let quote = client
        .quote(
            lot,
            &QuoteQuery {
                start_time: start,
                end_time: end,
                spot_type: args.kind,
            },
        )
        .await
        .map_err(|e| ctx.fail(e))?;
    let mut rows: Vec<Vec<String>> = quote
        .lines
        .iter()
        .map(|l| {
            vec![
                l.local_date.to_string(),
                l.description.clone(),
                output::time(&l.start),
                output::time(&l.end),
                output::money(&l.amount),
            ]
        })
        .collect();
    if ctx.format == Format::Table {
        rows.push(vec![
            String::new(),
            "TOTAL".to_owned(),
            String::new(),
            String::new(),
            output::money(&quote.total),
        ]);
    }
    output::print(
        ctx.format,
        &["DATE", "LINE", "FROM", "TO", "AMOUNT"],
        rows,
        &quote,
    )
}
