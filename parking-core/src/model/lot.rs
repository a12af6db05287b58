//! Lots and the booking rules each lot sets.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::geo::GeoPoint;
use super::hours::{ClosedError, OperatingHours};
use super::ids::{LotId, TenantId};
use super::interval::Interval;
use super::money::Money;

/// What a lot offers besides spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amenity {
    /// Roofed or underground.
    Covered,
    /// Staffed while open.
    Attended,
    /// Video surveillance.
    Cctv,
    /// Lifts between levels.
    Elevator,
    /// Toilets on site.
    Restrooms,
    /// Bicycle parking.
    BikeParking,
    /// Car wash.
    CarWash,
    /// Park and ride to public transport.
    ParkAndRide,
}

/// How much of a booking's price is refunded when it is cancelled.
///
/// Until `free_until_minutes_before` minutes before the start: everything. From
/// then until the start: `late_refund_percent` of it. From the start on: nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CancellationPolicy {
    /// Minutes before the start until which a cancellation is refunded in full.
    pub free_until_minutes_before: u32,
    /// Percentage refunded for a later cancellation before the start (0–100).
    pub late_refund_percent: u8,
}

impl Default for CancellationPolicy {
    fn default() -> Self {
        CancellationPolicy {
            free_until_minutes_before: 60,
            late_refund_percent: 50,
        }
    }
}

impl CancellationPolicy {
    /// The refund due for cancelling at `now` a booking of `total` starting at
    /// `start` (rounded half away from zero in minor units).
    pub fn refund(&self, total: Money, start: DateTime<Utc>, now: DateTime<Utc>) -> Money {
        let free_until = start - Duration::minutes(i64::from(self.free_until_minutes_before));
        if now < free_until {
            total
        } else if now < start {
            let percent = i64::from(self.late_refund_percent.min(100));
            total
                .mul_ratio(percent, 100)
                .unwrap_or(Money::zero(total.currency))
        } else {
            Money::zero(total.currency)
        }
    }
}

/// A lot's booking rules, in whole minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingRules {
    /// Minutes kept free on a spot between two bookings (cleaning, slow drivers).
    pub turnover_buffer_minutes: u32,
    /// How long before its start a booking must be made.
    pub min_lead_minutes: u32,
    /// The longest booking allowed; `None` for no limit.
    pub max_duration_minutes: Option<u32>,
    /// How long an unconfirmed hold blocks its spot.
    pub hold_minutes: u32,
    /// How long after its start a booking waits for check-in before it is a no-show.
    pub no_show_grace_minutes: u32,
    /// Refunds on cancellation.
    pub cancellation: CancellationPolicy,
}

impl Default for BookingRules {
    fn default() -> Self {
        BookingRules {
            turnover_buffer_minutes: 0,
            min_lead_minutes: 0,
            max_duration_minutes: None,
            hold_minutes: 10,
            no_show_grace_minutes: 15,
            cancellation: CancellationPolicy::default(),
        }
    }
}

/// Why a lot refuses a booking window (before any spot is looked at).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WindowError {
    /// The booking starts before `now`.
    #[error("the booking starts in the past")]
    InPast,
    /// The booking starts sooner than the lot's minimum lead time.
    #[error("bookings must be made at least {min_lead_minutes} minutes before they start")]
    TooSoon {
        /// The lot's minimum lead time.
        min_lead_minutes: u32,
    },
    /// The booking is longer than the lot allows.
    #[error("bookings may last at most {max_duration_minutes} minutes")]
    TooLong {
        /// The lot's maximum duration.
        max_duration_minutes: u32,
    },
    /// The booking falls outside opening hours or spans a closure.
    #[error(transparent)]
    Closed(#[from] ClosedError),
}

impl BookingRules {
    /// The turnover buffer as a duration.
    pub fn buffer(&self) -> Duration {
        Duration::minutes(i64::from(self.turnover_buffer_minutes))
    }

    /// Checks lead time and duration of a new booking made at `now`.
    pub fn check_new(&self, interval: &Interval, now: DateTime<Utc>) -> Result<(), WindowError> {
        if interval.start() < now {
            return Err(WindowError::InPast);
        }
        if interval.start() < now + Duration::minutes(i64::from(self.min_lead_minutes)) {
            return Err(WindowError::TooSoon {
                min_lead_minutes: self.min_lead_minutes,
            });
        }
        self.check_duration(interval)
    }

    /// Checks only the duration (for changes to a booking already under way).
    pub fn check_duration(&self, interval: &Interval) -> Result<(), WindowError> {
        match self.max_duration_minutes {
            Some(max) if interval.duration() > Duration::minutes(i64::from(max)) => {
                Err(WindowError::TooLong {
                    max_duration_minutes: max,
                })
            }
            _ => Ok(()),
        }
    }
}

/// A parking lot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lot {
    /// The lot's id.
    pub id: LotId,
    /// The operator that owns it.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// Postal address, one string.
    pub address: String,
    /// Where the entrance is.
    pub location: GeoPoint,
    /// The IANA time zone its local rules (hours, rate bands, daily caps) use.
    pub time_zone: Tz,
    /// When it is open.
    pub hours: OperatingHours,
    /// What it offers.
    pub amenities: BTreeSet<Amenity>,
    /// Booking rules.
    pub rules: BookingRules,
}

impl Lot {
    /// Checks a new booking window against the lot's rules and opening hours.
    pub fn check_new_booking(
        &self,
        interval: &Interval,
        now: DateTime<Utc>,
    ) -> Result<(), WindowError> {
        self.rules.check_new(interval, now)?;
        self.hours.check(self.time_zone, interval)?;
        Ok(())
    }

    /// Checks a changed window of an existing booking: duration and hours only (its
    /// start may already be past).
    pub fn check_changed_booking(&self, interval: &Interval) -> Result<(), WindowError> {
        self.rules.check_duration(interval)?;
        self.hours.check(self.time_zone, interval)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn refunds_follow_the_cancellation_policy() {
        let policy = CancellationPolicy::default();
        let total = Money::new(1_001, crate::model::Currency::EUR);
        let start = at(12, 0);
        assert_eq!(policy.refund(total, start, at(10, 59)).amount, 1_001);
        assert_eq!(
            policy.refund(total, start, at(11, 0)).amount,
            501,
            "50 %, half away from zero"
        );
        assert_eq!(policy.refund(total, start, at(11, 59)).amount, 501);
        assert_eq!(policy.refund(total, start, at(12, 0)).amount, 0);
    }

    #[test]
    fn lead_time_and_duration_are_enforced() {
        let rules = BookingRules {
            min_lead_minutes: 30,
            max_duration_minutes: Some(120),
            ..BookingRules::default()
        };
        let now = at(8, 0);
        let iv = |a, b| Interval::new(a, b).expect("valid");
        assert_eq!(
            rules.check_new(&iv(at(7, 0), at(9, 0)), now),
            Err(WindowError::InPast)
        );
        assert_eq!(
            rules.check_new(&iv(at(8, 10), at(9, 0)), now),
            Err(WindowError::TooSoon {
                min_lead_minutes: 30
            })
        );
        assert_eq!(rules.check_new(&iv(at(8, 30), at(10, 30)), now), Ok(()));
        assert_eq!(
            rules.check_new(&iv(at(8, 30), at(10, 31)), now),
            Err(WindowError::TooLong {
                max_duration_minutes: 120
            })
        );
    }
}
