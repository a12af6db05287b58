//! Reservations and their status lifecycle.
//!
//! ```text
//! held ──confirm──▶ confirmed ──check_in──▶ checked_in ──check_out──▶ completed
//!  │  │                 │  │
//!  │  └─expire─▶ expired │  └─no_show─▶ no_show
//!  └──cancel──▶ cancelled ◀─cancel─┘
//! ```
//! Only `held` (until it expires), `confirmed` and `checked_in` block their spot.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{LotId, ReservationId, SpotId, UserId};
use super::interval::Interval;
use super::money::Money;

/// Where a reservation is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// Blocking the spot until `hold_expires_at`, waiting for confirmation (payment).
    Held,
    /// Booked.
    Confirmed,
    /// The driver has arrived.
    CheckedIn,
    /// The driver has left. Final.
    Completed,
    /// Cancelled by the driver or an operator. Final.
    Cancelled,
    /// Not checked in within the grace period. Final.
    NoShow,
    /// A hold that was never confirmed. Final.
    Expired,
}

impl ReservationStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Confirmed => "confirmed",
            ReservationStatus::CheckedIn => "checked_in",
            ReservationStatus::Completed => "completed",
            ReservationStatus::Cancelled => "cancelled",
            ReservationStatus::NoShow => "no_show",
            ReservationStatus::Expired => "expired",
        }
    }

    /// True for statuses that can never change again.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            ReservationStatus::Completed
                | ReservationStatus::Cancelled
                | ReservationStatus::NoShow
                | ReservationStatus::Expired
        )
    }

    /// True if a move from `self` to `to` is allowed.
    pub const fn can_become(self, to: ReservationStatus) -> bool {
        use ReservationStatus::*;
        matches!(
            (self, to),
            (Held, Confirmed | Cancelled | Expired)
                | (Confirmed, CheckedIn | Cancelled | NoShow)
                | (CheckedIn, Completed)
        )
    }
}

impl std::fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused lifecycle step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LifecycleError {
    /// The transition is not in the lifecycle.
    #[error("a {from} reservation cannot become {to}")]
    IllegalTransition {
        /// Current status.
        from: ReservationStatus,
        /// Requested status.
        to: ReservationStatus,
    },
    /// The hold ran out before it was confirmed.
    #[error("the hold expired at {expired_at}")]
    HoldExpired {
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// Expiry was asked for before the hold's time.
    #[error("the hold does not expire until {expires_at}")]
    HoldNotDue {
        /// When it will expire.
        expires_at: DateTime<Utc>,
    },
}

/// One reservation of one spot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The reservation's id.
    pub id: ReservationId,
    /// The lot.
    pub lot_id: LotId,
    /// The spot it holds.
    pub spot_id: SpotId,
    /// The driver it is for.
    pub user_id: UserId,
    /// The booked time.
    pub interval: Interval,
    /// Lifecycle status.
    pub status: ReservationStatus,
    /// When a `held` reservation stops blocking; `None` for other statuses.
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// The price the driver accepted.
    pub total: Money,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl Reservation {
    /// True if the reservation blocks its spot at `now`: held and not expired,
    /// confirmed, or checked in.
    pub fn is_blocking(&self, now: DateTime<Utc>) -> bool {
        match self.status {
            ReservationStatus::Held => self.hold_expires_at.is_none_or(|t| now < t),
            ReservationStatus::Confirmed | ReservationStatus::CheckedIn => true,
            _ => false,
        }
    }

    fn transition(&mut self, to: ReservationStatus) -> Result<(), LifecycleError> {
        if !self.status.can_become(to) {
            return Err(LifecycleError::IllegalTransition {
                from: self.status,
                to,
            });
        }
        self.status = to;
        if to != ReservationStatus::Held {
            self.hold_expires_at = None;
        }
        Ok(())
    }

    /// held → confirmed, refused once the hold has expired.
    pub fn confirm(&mut self, now: DateTime<Utc>) -> Result<(), LifecycleError> {
        if let (ReservationStatus::Held, Some(expired_at)) = (self.status, self.hold_expires_at)
            && now >= expired_at
        {
            return Err(LifecycleError::HoldExpired { expired_at });
        }
        self.transition(ReservationStatus::Confirmed)
    }

    /// held → expired, only once the hold's time has come.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Result<(), LifecycleError> {
        if let (ReservationStatus::Held, Some(expires_at)) = (self.status, self.hold_expires_at)
            && now < expires_at
        {
            return Err(LifecycleError::HoldNotDue { expires_at });
        }
        self.transition(ReservationStatus::Expired)
    }

    /// confirmed → checked in.
    pub fn check_in(&mut self) -> Result<(), LifecycleError> {
        self.transition(ReservationStatus::CheckedIn)
    }

    /// checked in → completed.
    pub fn check_out(&mut self) -> Result<(), LifecycleError> {
        self.transition(ReservationStatus::Completed)
    }

    /// held or confirmed → cancelled.
    pub fn cancel(&mut self) -> Result<(), LifecycleError> {
        self.transition(ReservationStatus::Cancelled)
    }

    /// confirmed → no-show.
    pub fn mark_no_show(&mut self) -> Result<(), LifecycleError> {
        self.transition(ReservationStatus::NoShow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::money::Currency;
    use ReservationStatus::*;
    use chrono::{Duration, TimeZone};

    fn held(now: DateTime<Utc>) -> Reservation {
        let start = now + Duration::hours(1);
        Reservation {
            id: ReservationId::from_u128(1),
            lot_id: LotId::from_u128(2),
            spot_id: SpotId::from_u128(3),
            user_id: UserId::from_u128(4),
            interval: Interval::new(start, start + Duration::hours(2)).expect("valid"),
            status: Held,
            hold_expires_at: Some(now + Duration::minutes(10)),
            total: Money::new(500, Currency::EUR),
            created_at: now,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn the_happy_path_runs_to_completion() {
        let mut r = held(now());
        assert!(r.is_blocking(now()));
        r.confirm(now()).expect("confirm");
        assert_eq!((r.status, r.hold_expires_at), (Confirmed, None));
        r.check_in().expect("check in");
        r.check_out().expect("check out");
        assert_eq!(r.status, Completed);
        assert!(!r.is_blocking(now()));
    }

    #[test]
    fn only_lifecycle_transitions_are_allowed() {
        let all = [
            Held, Confirmed, CheckedIn, Completed, Cancelled, NoShow, Expired,
        ];
        let allowed = [
            (Held, Confirmed),
            (Held, Cancelled),
            (Held, Expired),
            (Confirmed, CheckedIn),
            (Confirmed, Cancelled),
            (Confirmed, NoShow),
            (CheckedIn, Completed),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
            if from.is_final() {
                assert!(all.iter().all(|to| !from.can_become(*to)));
            }
        }
        let mut r = held(now());
        assert_eq!(
            r.check_in(),
            Err(LifecycleError::IllegalTransition {
                from: Held,
                to: CheckedIn
            })
        );
        assert_eq!(r.status, Held, "a refused step changes nothing");
    }

    #[test]
    fn holds_expire_and_cannot_be_confirmed_afterwards() {
        let mut r = held(now());
        let later = now() + Duration::minutes(10);
        assert!(!r.is_blocking(later));
        assert!(matches!(
            r.expire(now()),
            Err(LifecycleError::HoldNotDue { .. })
        ));
        assert!(matches!(
            r.confirm(later),
            Err(LifecycleError::HoldExpired { .. })
        ));
        r.expire(later).expect("expire");
        assert_eq!(r.status, Expired);
    }
}
