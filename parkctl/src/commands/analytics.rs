//! `parkctl analytics summary`.

use clap::Subcommand;

use crate::context::{Context, parse_id};
use crate::error::CtlError;
use crate::output;

/// `parkctl analytics …`.
#[derive(Debug, Subcommand)]
pub enum AnalyticsCommand {
    /// Spots, availability, occupancy, today's bookings and revenue.
    Summary {
        /// The lot's id.
        lot: String,
    },
}

/// Runs an analytics command.
pub async fn run(ctx: &Context, command: AnalyticsCommand) -> Result<(), CtlError> {
    let client = ctx.client()?;
    match command {
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
