//! Domain events as plain data.
//!
//! Every state change produces one of these; `parkd` writes it to its outbox in the
//! same transaction as the change and publishes it (WebSocket, Kafka). The JSON form
//! is tagged by `type`, so consumers in any language can dispatch on it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{
    AlertId, Interval, LotId, Money, PaymentId, ReservationId, ReservationStatus, SpotId, TenantId,
    UserId,
};

/// Why a spot was given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    /// The driver checked out.
    Completed,
    /// A hold was never confirmed.
    Expired,
    /// The driver never arrived.
    NoShow,
    /// The booking was cancelled.
    Cancelled,
}

/// What an alert is about (sensors reconciled with bookings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A spot is occupied and no booking covers it.
    UnexpectedOccupancy,
    /// A booking's spot stayed empty past the lot's no-show grace.
    NoShowCandidate,
    /// A spot is still occupied after its booking ended.
    Overstay,
}

/// A business event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    /// A spot was booked (held or confirmed), or a booking's times changed.
    ParkingSpotBooked {
        /// The reservation.
        reservation_id: ReservationId,
        /// Its lot.
        lot_id: LotId,
        /// Its spot.
        spot_id: SpotId,
        /// The driver.
        user_id: UserId,
        /// The booked time.
        interval: Interval,
        /// `held` or `confirmed`.
        status: ReservationStatus,
        /// The agreed price.
        total: Money,
    },
    /// The driver arrived: a confirmed booking was checked in (the spot stays
    /// blocked until check-out).
    ReservationCheckedIn {
        /// The reservation.
        reservation_id: ReservationId,
        /// Its lot.
        lot_id: LotId,
        /// Its spot.
        spot_id: SpotId,
        /// The driver.
        user_id: UserId,
    },
    /// A spot stopped being blocked by a reservation.
    ParkingSpotReleased {
        /// The reservation.
        reservation_id: ReservationId,
        /// Its lot.
        lot_id: LotId,
        /// Its spot.
        spot_id: SpotId,
        /// Why.
        reason: ReleaseReason,
    },
    /// A booking was cancelled, with what is refunded.
    ReservationCancelled {
        /// The reservation.
        reservation_id: ReservationId,
        /// Its lot.
        lot_id: LotId,
        /// Its spot.
        spot_id: SpotId,
        /// The refund due under the lot's cancellation policy.
        refund: Money,
    },
    /// A payment for a reservation succeeded.
    PaymentProcessed {
        /// The payment.
        payment_id: PaymentId,
        /// The reservation paid for.
        reservation_id: ReservationId,
        /// Its lot.
        lot_id: LotId,
        /// The amount taken.
        amount: Money,
    },
    /// A user signed up.
    UserRegistered {
        /// The user.
        user_id: UserId,
        /// Their tenant, for operators.
        tenant_id: Option<TenantId>,
    },
    /// A spot's sensor or service state changed.
    SpotStatusChanged {
        /// Its lot.
        lot_id: LotId,
        /// The spot.
        spot_id: SpotId,
        /// Sensor reading: a vehicle is present (`None`: no sensor reading in this change).
        occupied: Option<bool>,
        /// Service state after the change.
        in_service: bool,
    },
    /// Reconciling sensors with bookings found something for staff to see.
    AlertRaised {
        /// The alert.
        alert_id: AlertId,
        /// What it is about.
        kind: AlertKind,
        /// Its lot.
        lot_id: LotId,
        /// The spot.
        spot_id: SpotId,
        /// The spot's label, for display.
        spot_label: String,
        /// The booking concerned (no-show candidates, overstays).
        reservation_id: Option<ReservationId>,
        /// When it was raised.
        raised_at: DateTime<Utc>,
        /// A sentence for people.
        detail: String,
    },
    /// Someone acknowledged an alert. Carries the whole alert so consumers
    /// need no lookup.
    AlertAcknowledged {
        /// The alert.
        alert_id: AlertId,
        /// What it is about.
        kind: AlertKind,
        /// Its lot.
        lot_id: LotId,
        /// The spot.
        spot_id: SpotId,
        /// The spot's label, for display.
        spot_label: String,
        /// The booking concerned.
        reservation_id: Option<ReservationId>,
        /// When it was raised.
        raised_at: DateTime<Utc>,
        /// A sentence for people.
        detail: String,
        /// Who acknowledged it.
        by: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// A sensor device key was issued for a lot (the key itself never
    /// travels): the lot's audit trail of who may report its spots.
    DeviceKeyIssued {
        /// The device.
        device_id: Uuid,
        /// Its lot.
        lot_id: LotId,
        /// Its name for people.
        name: String,
        /// Who issued it.
        by: UserId,
    },
    /// A device key was revoked: its readings are refused from now on.
    DeviceKeyRevoked {
        /// The device.
        device_id: Uuid,
        /// Its lot.
        lot_id: LotId,
        /// Who revoked it.
        by: UserId,
    },
}

impl DomainEvent {
    /// The lot the event belongs to (events are ordered per lot); `None` for
    /// events about users.
    pub fn lot_id(&self) -> Option<LotId> {
        match self {
            DomainEvent::ParkingSpotBooked { lot_id, .. }
            | DomainEvent::ParkingSpotReleased { lot_id, .. }
            | DomainEvent::ReservationCheckedIn { lot_id, .. }
            | DomainEvent::ReservationCancelled { lot_id, .. }
            | DomainEvent::PaymentProcessed { lot_id, .. }
            | DomainEvent::SpotStatusChanged { lot_id, .. }
            | DomainEvent::AlertRaised { lot_id, .. }
            | DomainEvent::AlertAcknowledged { lot_id, .. }
            | DomainEvent::DeviceKeyIssued { lot_id, .. }
            | DomainEvent::DeviceKeyRevoked { lot_id, .. } => Some(*lot_id),
            DomainEvent::UserRegistered { .. } => None,
        }
    }

    /// The event's type name as it appears in JSON (`"parking_spot_booked"`).
    pub fn type_name(&self) -> &'static str {
        match self {
            DomainEvent::ParkingSpotBooked { .. } => "parking_spot_booked",
            DomainEvent::ParkingSpotReleased { .. } => "parking_spot_released",
            DomainEvent::ReservationCheckedIn { .. } => "reservation_checked_in",
            DomainEvent::ReservationCancelled { .. } => "reservation_cancelled",
            DomainEvent::PaymentProcessed { .. } => "payment_processed",
            DomainEvent::UserRegistered { .. } => "user_registered",
            DomainEvent::SpotStatusChanged { .. } => "spot_status_changed",
            DomainEvent::AlertRaised { .. } => "alert_raised",
            DomainEvent::AlertAcknowledged { .. } => "alert_acknowledged",
            DomainEvent::DeviceKeyIssued { .. } => "device_key_issued",
            DomainEvent::DeviceKeyRevoked { .. } => "device_key_revoked",
        }
    }
}

/// An event with the instant it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub event: DomainEvent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Currency;

    #[test]
    fn events_serialise_tagged_by_type_and_round_trip() {
        let event = DomainEvent::ReservationCancelled {
            reservation_id: ReservationId::from_u128(1),
            lot_id: LotId::from_u128(2),
            spot_id: SpotId::from_u128(3),
            refund: Money::new(250, Currency::EUR),
        };
        let json = serde_json::to_value(&event).expect("serialize");
        assert_eq!(json["type"], event.type_name());
        assert_eq!(json["refund"]["amount"], 250);
        let back: DomainEvent = serde_json::from_value(json).expect("parse");
        assert_eq!(back, event);
        assert_eq!(event.lot_id(), Some(LotId::from_u128(2)));
        let user = DomainEvent::UserRegistered {
            user_id: UserId::from_u128(9),
            tenant_id: None,
        };
        assert_eq!(user.lot_id(), None);
        assert_eq!(
            serde_json::to_value(&user).expect("serialize")["type"],
            user.type_name()
        );
    }
}
