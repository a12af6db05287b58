//! `parkctl lots list|show`.

use clap::Subcommand;
use parking_api::LotSearchQuery;

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output::{self, Format};

/// `parkctl lots …`.
#[derive(Debug, Subcommand)]
pub enum LotsCommand {
    /// Lots near a point, nearest first.
    List {
        /// The point to search around, as LAT,LNG.
        #[arg(long, value_name = "LAT,LNG", allow_hyphen_values = true)]
        near: String,
        /// Search radius in metres (default 1000, at most 50000).
        #[arg(long, value_name = "M")]
        radius: Option<u32>,
    },
    /// One lot in detail.
    Show {
        /// The lot's id.
        id: String,
    },
}

/// Runs a lots command.
pub async fn run(ctx: &Context, command: LotsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        LotsCommand::List { near, radius } => {
            let (lat, lng) = parse_point(&near)?;
            let query = LotSearchQuery {
                lat,
                lng,
                radius,
                spot_type: None,
                start_time: None,
                end_time: None,
                max_price: None,
                page: None,
                per_page: Some(parking_api::MAX_PER_PAGE),
            };
            let page = client.search_lots(&query).await.map_err(|e| ctx.fail(e))?;
            let rows = page
                .items
                .iter()
                .map(|l| {
                    vec![
                        l.id.to_string(),
                        l.name.clone(),
                        l.address.clone(),
                        format!("{:.0}", l.distance_m),
                        format!("{}/{}", l.available_spots, l.total_spots),
                    ]
                })
                .collect();
            output::print(
                ctx.format,
                &["ID", "NAME", "ADDRESS", "DISTANCE (M)", "FREE/TOTAL"],
                rows,
                &page.items,
            )
        }
        LotsCommand::Show { id } => {
            let lot = client
                .get_lot(parse_id("lot", &id)?)
                .await
                .map_err(|e| ctx.fail(e))?;
            if ctx.format != Format::Table {
                return output::print_json(&lot);
            }
            let available = lot
                .available
                .iter()
                .map(|(k, n)| format!("{}: {n}", output::name(k)))
                .collect::<Vec<_>>()
                .join(", ");
            let rows = vec![
                vec!["id".to_owned(), lot.id.to_string()],
                vec!["name".to_owned(), lot.name.clone()],
                vec!["address".to_owned(), lot.address.clone()],
                vec![
                    "location".to_owned(),
                    format!("{}, {}", lot.location.lat, lot.location.lng),
                ],
                vec!["time zone".to_owned(), lot.timezone.clone()],
                vec!["spots".to_owned(), lot.total_spots.to_string()],
                vec!["available".to_owned(), available],
            ];
            println!("{}", output::table(&["FIELD", "VALUE"], rows));
            Ok(())
        }
    }
}

/// `LAT,LNG` → coordinates.
pub fn parse_point(text: &str) -> Result<(f64, f64), CtlError> {
    let bad = || {
        CtlError::Usage(format!(
            "bad point '{text}': expected LAT,LNG such as 51.05,13.74"
        ))
    };
    let (lat, lng) = text.split_once(',').ok_or_else(bad)?;
    let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
    let lng: f64 = lng.trim().parse().map_err(|_| bad())?;
    Ok((lat, lng))
}
