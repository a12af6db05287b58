//! `parkctl bookings list|show|create|cancel|extend|check-in|check-out|confirm`.

use clap::Subcommand;
use parking_api::{
    CreateReservationRequest, Reservation, ReservationStatusDto, ReservationsQuery, SpotKindDto,
    UpdateReservationRequest,
};

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output;

/// `parkctl bookings …`.
#[derive(Debug, Subcommand)]
pub enum BookingsCommand {
    /// Reservations (yours, or your lots' for operators).
    List {
        /// Only this lot.
        #[arg(long)]
        lot: Option<String>,
        /// Only this status (held, confirmed, checked_in, completed, cancelled, …).
        #[arg(long, value_parser = super::status)]
        status: Option<ReservationStatusDto>,
        /// Only those ending after this time.
        #[arg(long)]
        from: Option<String>,
        /// Only those starting before this time.
        #[arg(long)]
        to: Option<String>,
    },
    /// One reservation.
    Show {
        /// The reservation's id.
        id: String,
    },
    /// Book a spot.
    Create {
        /// The lot's id.
        #[arg(long)]
        lot: String,
        /// Arrival (RFC 3339, now, +2h, 'tomorrow 08:00' in the lot's zone).
        #[arg(long)]
        from: String,
        /// Departure.
        #[arg(long)]
        to: String,
        /// Spot kind when no spot is named.
        #[arg(long, value_parser = super::spot_kind)]
        kind: Option<SpotKindDto>,
        /// A specific spot's id.
        #[arg(long)]
        spot: Option<String>,
        /// Hold the spot for payment instead of confirming at once.
        #[arg(long)]
        hold: bool,
        /// Makes a retried create book nothing new.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Cancel a reservation (shows the refund).
    Cancel {
        /// The reservation's id.
        id: String,
    },
    /// Move the end of a reservation.
    Extend {
        /// The reservation's id.
        id: String,
        /// The new departure.
        #[arg(long)]
        to: String,
    },
    /// Confirm a held reservation.
    Confirm {
        /// The reservation's id.
        id: String,
    },
    /// Record arrival.
    CheckIn {
        /// The reservation's id.
        id: String,
    },
    /// Record departure.
    CheckOut {
        /// The reservation's id.
        id: String,
    },
}

const HEADERS: [&str; 8] = [
    "ID", "LOT", "SPOT", "FROM", "TO", "STATUS", "TOTAL", "PAYMENT",
];

fn rows(items: &[Reservation]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.lot_id.to_string(),
                r.spot_label.clone(),
                output::time(&r.start_time),
                output::time(&r.end_time),
                output::name(&r.status),
                output::money(&r.total_cost),
                // The latest payment's state at a prepaid lot; none on site.
                r.payment
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |p| output::name(&p.status)),
            ]
        })
        .collect()
}

fn one(ctx: &Context, r: &Reservation) -> Result<(), CtlError> {
    output::print(ctx.format, &HEADERS, rows(std::slice::from_ref(r)), r)
}

/// Runs a bookings command.
pub async fn run(ctx: &Context, command: BookingsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    let fail = |e| ctx.fail(e);
    match command {
        BookingsCommand::List {
            lot,
            status,
            from,
            to,
        } => {
            let lot = lot.as_deref().map(|l| parse_id("lot", l)).transpose()?;
            let from = ctx
                .optional_time(&client, lot, "from", from.as_deref())
                .await?;
            let to = ctx.optional_time(&client, lot, "to", to.as_deref()).await?;
            let query = ReservationsQuery {
                status,
                lot_id: lot,
                from,
                to,
                page: None,
                per_page: Some(parking_api::MAX_PER_PAGE),
            };
            let page = client.list_reservations(&query).await.map_err(fail)?;
            output::print(ctx.format, &HEADERS, rows(&page.items), &page.items)
        }
        BookingsCommand::Show { id } => {
            let r = client
                .get_reservation(parse_id("reservation", &id)?)
                .await
                .map_err(fail)?;
            one(ctx, &r)
        }
        BookingsCommand::Create {
            lot,
            from,
            to,
            kind,
            spot,
            hold,
            idempotency_key,
        } => {
            let lot = parse_id("lot", &lot)?;
            let spot = spot.as_deref().map(|s| parse_id("spot", s)).transpose()?;
            let start = ctx.time(&client, Some(lot), "from", &from).await?;
            let end = ctx.time(&client, Some(lot), "to", &to).await?;
            let request = CreateReservationRequest {
                lot_id: lot,
                spot_id: spot,
                spot_type: kind,
                start_time: start,
                end_time: end,
                hold: hold.then_some(true),
                expected_total: None,
            };
            let r = client
                .create_reservation(&request, idempotency_key.as_deref())
                .await
                .map_err(fail)?;
            one(ctx, &r)
        }
        BookingsCommand::Cancel { id } => {
            let answer = client
                .cancel_reservation(parse_id("reservation", &id)?)
                .await
                .map_err(fail)?;
            eprintln!("refund: {}", output::money(&answer.refund));
            match ctx.format {
                output::Format::Json => output::print_json(&answer),
                _ => one(ctx, &answer.reservation),
            }
        }
        BookingsCommand::Extend { id, to } => {
            let id = parse_id("reservation", &id)?;
            let current = client.get_reservation(id).await.map_err(fail)?;
            let end = ctx.time(&client, Some(current.lot_id), "to", &to).await?;
            let request = UpdateReservationRequest {
                start_time: None,
                end_time: Some(end),
                expected_total: None,
            };
            let r = client
                .update_reservation(id, &request)
                .await
                .map_err(fail)?;
            one(ctx, &r)
        }
        BookingsCommand::Confirm { id } => {
            let r = client
                .confirm(parse_id("reservation", &id)?)
                .await
                .map_err(fail)?;
            one(ctx, &r)
        }
        BookingsCommand::CheckIn { id } => {
            let r = client
                .check_in(parse_id("reservation", &id)?)
                .await
                .map_err(fail)?;
            one(ctx, &r)
        }
        BookingsCommand::CheckOut { id } => {
            let r = client
                .check_out(parse_id("reservation", &id)?)
                .await
                .map_err(fail)?;
            one(ctx, &r)
        }
    }
}
