//! `parkctl spots list|add|disable|enable`.

use clap::Subcommand;
use parking_api::{CreateSpotsRequest, Spot, SpotBatch, SpotKindDto};
use parking_client::Client;
use uuid::Uuid;

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output;

/// `parkctl spots …`.
#[derive(Debug, Subcommand)]
pub enum SpotsCommand {
    /// The lot's spots.
    List {
        /// The lot's id.
        lot: String,
    },
    /// Add COUNT spots labelled PREFIX1, PREFIX2, … (continuing the numbering).
    Add {
        /// The lot's id.
        lot: String,
        /// How many spots.
        #[arg(long)]
        count: u32,
        /// The label prefix.
        #[arg(long)]
        prefix: String,
        /// regular, compact, accessible, ev or motorcycle.
        #[arg(long, value_parser = super::spot_kind)]
        kind: SpotKindDto,
        /// An optional zone (level, row).
        #[arg(long)]
        zone: Option<String>,
    },
    /// Take a spot out of service.
    Disable {
        /// The lot's id.
        lot: String,
        /// The spot's id or label.
        spot: String,
    },
    /// Put a spot back in service.
    Enable {
        /// The lot's id.
        lot: String,
        /// The spot's id or label.
        spot: String,
    },
}

const HEADERS: [&str; 5] = ["ID", "LABEL", "KIND", "ZONE", "IN SERVICE"];

fn rows(spots: &[Spot]) -> Vec<Vec<String>> {
    spots
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.label.clone(),
                output::name(&s.kind),
                s.zone.clone().unwrap_or_default(),
                if s.in_service { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect()
}

/// Runs a spots command.
pub async fn run(ctx: &Context, command: SpotsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        SpotsCommand::List { lot } => {
            let spots = client
                .list_spots(parse_id("lot", &lot)?, &Default::default())
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(ctx.format, &HEADERS, rows(&spots), &spots)
        }
        SpotsCommand::Add {
            lot,
            count,
            prefix,
            kind,
            zone,
        } => {
            let request = CreateSpotsRequest::Batch(SpotBatch {
                count,
                prefix,
                kind,
                zone,
            });
            let spots = client
                .add_spots(parse_id("lot", &lot)?, &request)
                .await
                .map_err(|e| ctx.fail(e))?;
            output::print(ctx.format, &HEADERS, rows(&spots), &spots)
        }
        SpotsCommand::Disable { lot, spot } => set(ctx, &client, &lot, &spot, false).await,
        SpotsCommand::Enable { lot, spot } => set(ctx, &client, &lot, &spot, true).await,
    }
}

async fn set(
    ctx: &Context,
    client: &Client,
    lot: &str,
    spot: &str,
    in_service: bool,
) -> Result<(), CtlError> {
    let lot = parse_id("lot", lot)?;
    let spot = resolve_spot(ctx, client, lot, spot).await?;
    let spot = client
        .set_in_service(lot, spot, in_service)
        .await
        .map_err(|e| ctx.fail(e))?;
    output::print(
        ctx.format,
        &HEADERS,
        rows(std::slice::from_ref(&spot)),
        &spot,
    )
}

/// A spot given by id or by label.
async fn resolve_spot(
    ctx: &Context,
    client: &Client,
    lot: Uuid,
    spot: &str,
) -> Result<Uuid, CtlError> {
    if let Ok(id) = spot.parse() {
        return Ok(id);
    }
    let spots = client
        .list_spots(lot, &Default::default())
        .await
        .map_err(|e| ctx.fail(e))?;
    spots
        .iter()
        .find(|s| s.label == spot)
        .map(|s| s.id)
        .ok_or_else(|| CtlError::Usage(format!("no spot labelled '{spot}' in lot {lot}")))
}
