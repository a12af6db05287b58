//! `parkctl lots list|show|create|update|delete|import` (the import itself
//! is in [`super::import`]).

use clap::Subcommand;
use parking_api::{
    CreateLotRequest, Location, Lot, LotSearchQuery, ManagedLotsQuery, UpdateLotRequest,
};
use parking_client::{AuthError, Client, ClientError};

use super::import::ImportArgs;
use crate::context::{Context, parse_id};
use crate::error::{CtlError, EXIT_AUTH, EXIT_CONFLICT, EXIT_ERROR};
use crate::output::{self, Format};

/// `parkctl lots …`.
#[derive(Debug, Subcommand)]
pub enum LotsCommand {
    /// Lots near a point, nearest first (--near); without --near, every lot
    /// you manage by name (operators: your tenant's; admins: all, or --tenant's).
    List {
        /// The point to search around, as LAT,LNG.
        #[arg(long, value_name = "LAT,LNG", allow_hyphen_values = true)]
        near: Option<String>,
        /// Search radius in metres (default 1000, at most 50000).
        #[arg(long, value_name = "M", requires = "near")]
        radius: Option<u32>,
        /// Only this tenant's managed lots (admins).
        #[arg(long, value_name = "ID", conflicts_with = "near")]
        tenant: Option<String>,
    },
    /// One lot in detail.
    Show {
        /// The lot's id.
        id: String,
    },
    /// Create a lot (without spots or rates: see spots add, rates set).
    Create {
        /// Display name, 1 to 200 characters.
        #[arg(long)]
        name: String,
        /// Postal address, 1 to 500 characters.
        #[arg(long)]
        address: String,
        /// Latitude of the entrance, -90 to 90.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude of the entrance, -180 to 180.
        #[arg(long, allow_hyphen_values = true)]
        lng: f64,
        /// IANA time zone of the lot's local rules, e.g. Europe/Berlin.
        #[arg(long)]
        timezone: String,
        /// The owning tenant (admins must name one; an operator's lots are
        /// their tenant's).
        #[arg(long, value_name = "ID")]
        tenant: Option<String>,
        /// Minutes kept free between two bookings of a spot (default 0).
        #[arg(long, value_name = "MIN")]
        buffer: Option<u32>,
        /// The lot's id in your own data, unique (imports match on it).
        #[arg(long, value_name = "E")]
        external_id: Option<String>,
    },
    /// Change a lot's name, address, location or turnover buffer.
    Update {
        /// The lot's id.
        id: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// New postal address.
        #[arg(long)]
        address: Option<String>,
        /// New latitude (with --lng).
        #[arg(long, allow_hyphen_values = true, requires = "lng")]
        lat: Option<f64>,
        /// New longitude (with --lat).
        #[arg(long, allow_hyphen_values = true, requires = "lat")]
        lng: Option<f64>,
        /// New turnover buffer in minutes.
        #[arg(long, value_name = "MIN")]
        buffer: Option<u32>,
    },
    /// Delete a lot; refused (exit 3) while it has bookings.
    Delete {
        /// The lot's id.
        id: String,
    },
    /// Import lots from a GeoJSON (ParkAPI) or CSV file; re-runs update.
    Import(ImportArgs),
}

/// Runs a lots command.
pub async fn run(ctx: &Context, command: LotsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
        LotsCommand::List {
            near: None, tenant, ..
        } => {
            let tenant = tenant
                .as_deref()
                .map(|t| parse_id("tenant", t))
                .transpose()?;
            let lots = all_managed_lots(ctx, &client, tenant).await?;
            let rows = lots
                .iter()
                .map(|l| {
                    let free: u32 = l.available.values().sum();
                    vec![
                        l.id.to_string(),
                        l.name.clone(),
                        l.address.clone(),
                        format!("{free}/{}", l.total_spots),
                    ]
                })
                .collect();
            output::print(
                ctx.format,
                &["ID", "NAME", "ADDRESS", "FREE/TOTAL"],
                rows,
                &lots,
            )
        }
        LotsCommand::List {
            near: Some(near),
            radius,
            ..
        } => {
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
            print_lot(ctx.format, &lot)
        }
        LotsCommand::Create {
            name,
            address,
            lat,
            lng,
            timezone,
            tenant,
            buffer,
            external_id,
        } => {
            let request = CreateLotRequest {
                name,
                address,
                location: Location { lat, lng },
                timezone,
                operating_hours: None,
                turnover_buffer_minutes: buffer,
                min_lead_minutes: None,
                max_duration_minutes: None,
                hold_minutes: None,
                no_show_grace_minutes: None,
                cancellation: None,
                amenities: None,
                tenant_id: tenant
                    .as_deref()
                    .map(|t| parse_id("tenant", t))
                    .transpose()?,
                external_id,
                payment_mode: None,
            };
            request.validate().map_err(invalid)?;
            let lot = client.create_lot(&request).await.map_err(|e| ctx.fail(e))?;
            print_lot(ctx.format, &lot)
        }
        LotsCommand::Update {
            id,
            name,
            address,
            lat,
            lng,
            buffer,
        } => {
            let request = UpdateLotRequest {
                name,
                address,
                location: lat.zip(lng).map(|(lat, lng)| Location { lat, lng }),
                turnover_buffer_minutes: buffer,
                ..UpdateLotRequest::default()
            };
            if request == UpdateLotRequest::default() {
                return Err(CtlError::Usage(
                    "nothing to change: pass --name, --address, --lat/--lng or --buffer".into(),
                ));
            }
            request.validate().map_err(invalid)?;
            let lot = client
                .update_lot(parse_id("lot", &id)?, &request)
                .await
                .map_err(|e| ctx.fail(e))?;
            print_lot(ctx.format, &lot)
        }
        LotsCommand::Delete { id } => {
            let lot = parse_id("lot", &id)?;
            match client.delete_lot(lot).await {
                Ok(()) => {
                    if ctx.format == Format::Json {
                        output::print_json(&serde_json::json!({ "deleted": lot }))
                    } else {
                        println!("deleted lot {lot}");
                        Ok(())
                    }
                }
                Err(error @ ClientError::Api { status: 409, .. }) => Err(CtlError::Failed {
                    message: error.to_string(),
                    code: EXIT_CONFLICT,
                    hint: Some(
                        "cancel its bookings or let them finish, then delete it again".into(),
                    ),
                }),
                Err(error) => Err(ctx.fail(error)),
            }
        }
        LotsCommand::Import(args) => super::import::run(ctx, &client, args).await,
    }
}

/// The most pages of managed lots fetched (100 lots each): a bound on what a
/// misbehaving server can make parkctl hold.
const MAX_MANAGED_PAGES: u32 = 1000;

/// Every lot the caller manages, page after page. A driver's 403 becomes a
/// hint to search an area instead.
async fn all_managed_lots(
    ctx: &Context,
    client: &Client,
    tenant: Option<uuid::Uuid>,
) -> Result<Vec<Lot>, CtlError> {
    let mut lots = Vec::new();
    for page in 1..=MAX_MANAGED_PAGES {
        let query = ManagedLotsQuery {
            tenant_id: tenant,
            page: Some(page),
            per_page: Some(parking_api::MAX_PER_PAGE),
        };
        let answer = match client.managed_lots(&query).await {
            Ok(answer) => answer,
            Err(error @ ClientError::Api { status: 403, .. }) => {
                return Err(CtlError::Failed {
                    message: error.to_string(),
                    code: EXIT_AUTH,
                    hint: Some(
                        "only operators and admins manage lots: pass --near LAT,LNG to list lots near a point"
                            .into(),
                    ),
                });
            }
            Err(error @ ClientError::Auth(AuthError::NotLoggedIn)) => {
                return Err(CtlError::Failed {
                    message: error.to_string(),
                    code: EXIT_AUTH,
                    hint: Some(
                        "log in as an operator or admin (parkctl login) to list the lots you manage, or pass --near LAT,LNG"
                            .into(),
                    ),
                });
            }
            Err(error) => return Err(ctx.fail(error)),
        };
        let done = !answer.has_next || answer.items.is_empty();
        lots.extend(answer.items);
        if done {
            return Ok(lots);
        }
    }
    Err(CtlError::Failed {
        message: format!(
            "parkd reports more than {} managed lots",
            MAX_MANAGED_PAGES * parking_api::MAX_PER_PAGE
        ),
        code: EXIT_ERROR,
        hint: Some("narrow the list with --tenant ID or --near LAT,LNG".into()),
    })
}

/// Local validation failures as one usage error naming every field.
fn invalid(errors: Vec<parking_api::FieldError>) -> CtlError {
    CtlError::Usage(format!(
        "invalid lot: {}",
        parkctl::import::field_errors(&errors)
    ))
}

/// One lot: JSON as parkd sent it, or a FIELD/VALUE table.
fn print_lot(format: Format, lot: &Lot) -> Result<(), CtlError> {
    if format != Format::Table {
        return output::print_json(lot);
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
