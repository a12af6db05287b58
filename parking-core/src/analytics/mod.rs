//! Analytics: what happened in a lot and what is likely to happen next.
//!
//! Owns the maths only — callers (parkd, reports) fetch one lot's reservations or
//! occupancy samples and pass them in; nothing here does I/O.
//!
//! Layout:
//! - this file — [`Stay`] (the part of a reservation that occupies a spot), which
//!   statuses count, and [`AnalyticsError`];
//! - [`occupancy`] — bucketed occupancy series by an event sweep, and the
//!   hour-of-week heat map of peak hours;
//! - [`revenue`] — revenue per local calendar day;
//! - [`usage`](mod@usage) — turnover (stays started per spot per local day) and average duration;
//! - [`forecast`] — a seasonal slot-of-week profile with a recent-level correction,
//!   and its evaluation against the naive "same slot last week" baseline;
//! - [`blend`] — the day-ahead forecast to use: that profile blended with the values
//!   one and two weeks earlier, each scaled to the current level, with parameters
//!   tuned on validation days cut from the training data.
//!
//! Which reservations count: a reservation *occupies* its spot and *earns* its total
//! when it is `confirmed`, `checked_in` or `completed`. `held` is tentative (it may
//! still expire unpaid) and `cancelled`, `no_show` and `expired` did not use the spot.
//! A `no_show` leaves the spot empty even if the driver was charged, and refunds and
//! cancellation fees live in parkd's payment ledger: revenue here is booked revenue,
//! not cash collected.
//!
//! Local-day and hour-of-week logic always uses the lot's IANA zone through
//! [`crate::model::local_time`].

pub mod blend;
pub mod forecast;
pub mod occupancy;
pub mod revenue;
pub mod usage;

#[cfg(test)]
mod test_series;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{
    Currency, Interval, MoneyError, Reservation, ReservationId, ReservationStatus, SpotId,
};

pub use blend::{BlendForecaster, BlendGrid, BlendParams, Tuned, evaluate_blend_day_ahead, tune};
pub use forecast::{
    Correction, ForecastEvaluation, ForecastParams, Forecaster, OccupancySample, evaluate,
    evaluate_day_ahead, evaluate_with,
};
pub use occupancy::{
    HeatMap, OccupancyPoint, heat_map_from_samples, heat_map_from_stays, occupancy_series,
};
pub use revenue::revenue_by_local_day;
pub use usage::{Usage, usage};

/// Errors from the analytics functions.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnalyticsError {
    /// A bucket or forecast slot length is not usable.
    #[error("invalid length {seconds} s: {reason}")]
    InvalidLength {
        /// The rejected length in seconds.
        seconds: i64,
        /// What a valid length looks like.
        reason: &'static str,
    },
    /// A lot with no spots has no occupancy ratio.
    #[error("capacity must be at least one spot")]
    ZeroCapacity,
    /// A reservation is not in the lot's currency.
    #[error("reservation {reservation} is in {found}, the lot's currency is {expected}")]
    CurrencyMismatch {
        /// The offending reservation.
        reservation: ReservationId,
        /// The lot's currency.
        expected: Currency,
        /// The reservation's currency.
        found: Currency,
    },
    /// Summing amounts failed (overflow).
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The last local day of a range is before the first.
    #[error("the day range is empty")]
    EmptyDayRange,
    /// Forecast parameters out of range.
    #[error("invalid forecast parameters: {reason}")]
    InvalidParams {
        /// What valid parameters look like.
        reason: &'static str,
    },
    /// A forecast needs at least one finite training sample.
    #[error("no usable training samples")]
    NoHistory,
}

/// True if a reservation in `status` occupies its spot for its interval:
/// confirmed, checked in or completed.
pub const fn occupies(status: ReservationStatus) -> bool {
    matches!(
        status,
        ReservationStatus::Confirmed | ReservationStatus::CheckedIn | ReservationStatus::Completed
    )
}

/// True if a reservation in `status` counts towards revenue (the same statuses as
/// [`occupies`]; see the module notes on refunds).
pub const fn earns_revenue(status: ReservationStatus) -> bool {
    occupies(status)
}

/// One use of one spot over a time interval: the lighter input of the occupancy,
/// heat map and usage functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stay {
    /// The spot used.
    pub spot_id: SpotId,
    /// When it was used, `[start, end)`.
    pub interval: Interval,
}

impl Stay {
    /// The stay of a reservation, if its status [`occupies`] the spot.
    pub fn from_reservation(r: &Reservation) -> Option<Stay> {
        occupies(r.status).then_some(Stay {
            spot_id: r.spot_id,
            interval: r.interval,
        })
    }

    /// The stays of the occupying reservations among `reservations`.
    pub fn from_reservations(reservations: &[Reservation]) -> impl Iterator<Item = Stay> + '_ {
        reservations.iter().filter_map(Stay::from_reservation)
    }
}
