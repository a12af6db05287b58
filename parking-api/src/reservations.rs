//! Reservations: `POST|GET /reservations`, `GET|PUT|DELETE /reservations/{id}`,
//! `POST /parking-lots/{id}/spots/{spot_id}/reserve`, and the lifecycle
//! transitions (`confirm`, `check-in`, `check-out`), which take no body.

use chrono::{DateTime, Duration, Utc};
use parking_core::model::{Interval, Reservation as CoreReservation, ReservationStatus};
use parking_core::pricing::Quote;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::common::{Checks, FieldError, MoneyDto, PageQuery};
use crate::payments::ReservationPayment;
use crate::rates::QuoteDto;
use crate::spots::SpotKindDto;

/// The header that makes a booking request safe to retry.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// The longest booking any request may ask for, whatever the lot allows.
pub const MAX_BOOKING_DAYS: i64 = 366;

/// Where a reservation is in its lifecycle (the wire twin of
/// [`parking_core::model::ReservationStatus`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReservationStatus)]
pub enum ReservationStatusDto {
    /// Blocking the spot until `hold_expires_at`, waiting for confirmation.
    Held,
    /// Booked.
    Confirmed,
    /// The driver has arrived.
    CheckedIn,
    /// The driver has left.
    Completed,
    /// Cancelled.
    Cancelled,
    /// Not checked in within the grace period.
    NoShow,
    /// A hold that was never confirmed.
    Expired,
}

impl From<ReservationStatus> for ReservationStatusDto {
    fn from(s: ReservationStatus) -> Self {
        match s {
            ReservationStatus::Held => ReservationStatusDto::Held,
            ReservationStatus::Confirmed => ReservationStatusDto::Confirmed,
            ReservationStatus::CheckedIn => ReservationStatusDto::CheckedIn,
            ReservationStatus::Completed => ReservationStatusDto::Completed,
            ReservationStatus::Cancelled => ReservationStatusDto::Cancelled,
            ReservationStatus::NoShow => ReservationStatusDto::NoShow,
            ReservationStatus::Expired => ReservationStatusDto::Expired,
        }
    }
}

impl From<ReservationStatusDto> for ReservationStatus {
    fn from(s: ReservationStatusDto) -> Self {
        match s {
            ReservationStatusDto::Held => ReservationStatus::Held,
            ReservationStatusDto::Confirmed => ReservationStatus::Confirmed,
            ReservationStatusDto::CheckedIn => ReservationStatus::CheckedIn,
            ReservationStatusDto::Completed => ReservationStatus::Completed,
            ReservationStatusDto::Cancelled => ReservationStatus::Cancelled,
            ReservationStatusDto::NoShow => ReservationStatus::NoShow,
            ReservationStatusDto::Expired => ReservationStatus::Expired,
        }
    }
}

/// `POST /reservations`: book a spot of a lot; without `spot_id` one of
/// `spot_type` (default `regular`) is allocated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReservationRequest {
    /// The lot.
    pub lot_id: Uuid,
    /// A particular spot of the lot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_id: Option<Uuid>,
    /// The kind of spot to allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_type: Option<SpotKindDto>,
    /// Arrival.
    pub start_time: DateTime<Utc>,
    /// Departure, after arrival.
    pub end_time: DateTime<Utc>,
    /// True: make a `held` booking that `POST /reservations/{id}/confirm` must
    /// confirm before the lot's hold time runs out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<bool>,
    /// The price the driver was quoted; if the price is different now the
    /// answer is 409 with the new quote and nothing is booked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_total: Option<MoneyDto>,
}

impl CreateReservationRequest {
    /// Checks the window (end after start, at most a year) and the expected
    /// total's currency. Lot rules (lead time, opening hours…) are parkd's.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        check_booking_window(&mut checks, self.start_time, self.end_time);
        if let Some(total) = &self.expected_total {
            total.check("expected_total", &mut checks);
        }
        checks.finish()
    }

    /// The booked interval; `None` if `end_time` is not after `start_time`.
    pub fn interval(&self) -> Option<Interval> {
        Interval::new(self.start_time, self.end_time).ok()
    }
}

/// `POST /parking-lots/{id}/spots/{spot_id}/reserve`: book a named spot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveSpotRequest {
    /// Arrival.
    pub start_time: DateTime<Utc>,
    /// Departure, after arrival.
    pub end_time: DateTime<Utc>,
    /// True: a `held` booking awaiting confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<bool>,
    /// The price the driver was quoted (see [`CreateReservationRequest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_total: Option<MoneyDto>,
}

impl ReserveSpotRequest {
    /// As [`CreateReservationRequest::validate`].
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        check_booking_window(&mut checks, self.start_time, self.end_time);
        if let Some(total) = &self.expected_total {
            total.check("expected_total", &mut checks);
        }
        checks.finish()
    }

    /// The same booking as a [`CreateReservationRequest`] for the spot named
    /// in the path.
    pub fn into_create(self, lot_id: Uuid, spot_id: Uuid) -> CreateReservationRequest {
        CreateReservationRequest {
            lot_id,
            spot_id: Some(spot_id),
            spot_type: None,
            start_time: self.start_time,
            end_time: self.end_time,
            hold: self.hold,
            expected_total: self.expected_total,
        }
    }
}

/// `PUT /reservations/{id}`: move or resize a booking; it is re-checked and
/// re-priced. Absent times stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateReservationRequest {
    /// New arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// New departure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// The new price the driver was quoted (409 with the quote if different).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_total: Option<MoneyDto>,
}

impl UpdateReservationRequest {
    /// Checks that something changes, the window when both ends are given,
    /// and the expected total's currency.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        match (self.start_time, self.end_time) {
            (None, None) => checks.push("start_time", "give start_time, end_time or both"),
            (Some(start), Some(end)) => check_booking_window(&mut checks, start, end),
            _ => {}
        }
        if let Some(total) = &self.expected_total {
            total.check("expected_total", &mut checks);
        }
        checks.finish()
    }

    /// The changed interval of a booking now spanning `current`; `None` if the
    /// new end is not after the new start.
    pub fn apply_to(&self, current: &Interval) -> Option<Interval> {
        Interval::new(
            self.start_time.unwrap_or(current.start()),
            self.end_time.unwrap_or(current.end()),
        )
        .ok()
    }
}

/// A reservation as its driver, the lot's operator or an admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reservation {
    /// The reservation's id.
    pub id: Uuid,
    /// The lot.
    pub lot_id: Uuid,
    /// The spot.
    pub spot_id: Uuid,
    /// The spot's label.
    pub spot_label: String,
    /// The driver.
    pub user_id: Uuid,
    /// Arrival.
    pub start_time: DateTime<Utc>,
    /// Departure.
    pub end_time: DateTime<Utc>,
    /// Lifecycle status.
    pub status: ReservationStatusDto,
    /// When a `held` booking stops blocking its spot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_expires_at: Option<DateTime<Utc>>,
    /// The price the driver accepted.
    pub total_cost: MoneyDto,
    /// How the price was made up (on creation and change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<QuoteDto>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Its latest payment, when it has one (bookings of prepaid lots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<ReservationPayment>,
}

impl Reservation {
    /// The wire form of a core reservation on the spot labelled `spot_label`.
    pub fn from_core(r: &CoreReservation, spot_label: &str, quote: Option<&Quote>) -> Self {
        Reservation {
            id: r.id.as_uuid(),
            lot_id: r.lot_id.as_uuid(),
            spot_id: r.spot_id.as_uuid(),
            spot_label: spot_label.to_owned(),
            user_id: r.user_id.as_uuid(),
            start_time: r.interval.start(),
            end_time: r.interval.end(),
            status: r.status.into(),
            hold_expires_at: r.hold_expires_at,
            total_cost: r.total.into(),
            quote: quote.map(QuoteDto::from),
            created_at: r.created_at,
            payment: None,
        }
    }

    /// The same reservation showing its payment.
    pub fn with_payment(mut self, payment: Option<ReservationPayment>) -> Self {
        self.payment = payment;
        self
    }
}

/// `DELETE /reservations/{id}`: the cancelled booking and the refund due under
/// the lot's cancellation policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CancelResponse {
    /// The reservation, now `cancelled`.
    pub reservation: Reservation,
    /// What is refunded (zero if nothing).
    pub refund: MoneyDto,
}

/// `GET /reservations?status&lot_id&from&to&page&per_page`: the caller's
/// visible reservations overlapping `[from, to)`, newest start first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReservationsQuery {
    /// Only this status.
    #[serde(default)]
    pub status: Option<ReservationStatusDto>,
    /// Only this lot.
    #[serde(default)]
    pub lot_id: Option<Uuid>,
    /// Only bookings ending after this instant.
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Only bookings starting before this instant.
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
    /// Page number from 1; default 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Page size 1 to 100; default 20.
    #[serde(default)]
    pub per_page: Option<u32>,
}

impl ReservationsQuery {
    /// Checks `to > from` when both are given, and the paging.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        if let (Some(from), Some(to)) = (self.from, self.to) {
            checks.window("to", from, to);
        }
        checks.page(self.page_query());
        checks.finish()
    }

    /// The paging, defaults filled in.
    pub fn page_query(&self) -> PageQuery {
        PageQuery::from_parts(self.page, self.per_page)
    }
}

fn check_booking_window(checks: &mut Checks, start: DateTime<Utc>, end: DateTime<Utc>) {
    if end <= start {
        checks.push("end_time", "must be after start_time");
    } else if end - start > Duration::days(MAX_BOOKING_DAYS) {
        checks.push(
            "end_time",
            format!("a booking may last at most {MAX_BOOKING_DAYS} days"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;
    use parking_core::model::{Currency, LotId, Money, ReservationId, SpotId, UserId};
    use serde_json::json;

    fn create_body() -> serde_json::Value {
        json!({
            "lot_id": "6c0f3b0e-8a43-4c1e-9f63-2f5a4d1c7b10",
            "spot_type": "ev",
            "start_time": "2026-05-01T08:00:00Z",
            "end_time": "2026-05-01T10:30:00Z"
        })
    }

    #[test]
    fn the_issue_bodies_parse() {
        let r: CreateReservationRequest =
            serde_json::from_value(create_body()).expect("issue body");
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(r.spot_type, Some(SpotKindDto::Ev));
        assert_eq!(
            r.interval().map(|i| i.duration()),
            Some(Duration::minutes(150))
        );
        let mut held = create_body();
        held["hold"] = json!(true);
        held["expected_total"] = json!({"amount": 630, "currency": "EUR"});
        held["spot_id"] = json!("00000000-0000-0000-0000-000000000007");
        let r: CreateReservationRequest = serde_json::from_value(held).expect("hold body");
        assert_eq!((r.hold, r.validate()), (Some(true), Ok(())));
        let spot: ReserveSpotRequest = serde_json::from_value(json!({
            "start_time": "2026-05-01T08:00:00Z", "end_time": "2026-05-01T10:30:00Z"
        }))
        .expect("reserve body");
        let lot = Uuid::from_u128(1);
        let same = spot.clone().into_create(lot, Uuid::from_u128(2));
        assert_eq!((same.lot_id, same.spot_id), (lot, Some(Uuid::from_u128(2))));
        assert_eq!(spot.validate(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut body = create_body();
        body["user_id"] = json!("00000000-0000-0000-0000-000000000001");
        assert!(serde_json::from_value::<CreateReservationRequest>(body).is_err());
        assert!(
            serde_json::from_value::<ReserveSpotRequest>(json!({
                "start_time": "2026-05-01T08:00:00Z", "end_time": "2026-05-01T10:30:00Z",
                "spot_type": "ev"
            }))
            .is_err()
        );
        assert!(
            serde_json::from_value::<UpdateReservationRequest>(json!({"status": "confirmed"}))
                .is_err()
        );
        assert!(serde_json::from_value::<ReservationsQuery>(json!({"user_id": "x"})).is_err());
    }

    #[test]
    fn windows_and_money_are_checked() {
        let mut r: CreateReservationRequest =
            serde_json::from_value(create_body()).expect("parses");
        r.end_time = r.start_time;
        r.expected_total = Some(MoneyDto {
            amount: 1,
            currency: "euro".to_owned(),
        });
        assert_eq!(
            fields(r.validate()),
            ["end_time", "expected_total.currency"]
        );
        assert_eq!(r.interval(), None);
        r.end_time = r.start_time + Duration::days(MAX_BOOKING_DAYS + 1);
        r.expected_total = None;
        assert_eq!(fields(r.validate()), ["end_time"]);

        let nothing = UpdateReservationRequest::default();
        assert_eq!(fields(nothing.validate()), ["start_time"]);
        let later: UpdateReservationRequest =
            serde_json::from_value(json!({"end_time": "2026-05-01T12:00:00Z"})).expect("parses");
        assert_eq!(later.validate(), Ok(()));
        let current = r.interval().expect("valid");
        let moved = later.apply_to(&current).expect("valid");
        assert_eq!(moved.start(), current.start());
        let reversed: UpdateReservationRequest = serde_json::from_value(json!({
            "start_time": "2026-05-01T12:00:00Z", "end_time": "2026-05-01T11:00:00Z"
        }))
        .expect("parses");
        assert_eq!(fields(reversed.validate()), ["end_time"]);

        let q: ReservationsQuery = serde_json::from_value(json!({
            "status": "no_show", "from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z",
            "per_page": 500
        }))
        .expect("parses");
        assert_eq!(q.status, Some(ReservationStatusDto::NoShow));
        assert_eq!(fields(q.validate()), ["to", "per_page"]);
    }

    #[test]
    fn statuses_mirror_the_core_in_snake_case() {
        use ReservationStatus::*;
        for (status, name) in [
            (Held, "held"),
            (Confirmed, "confirmed"),
            (CheckedIn, "checked_in"),
            (Completed, "completed"),
            (Cancelled, "cancelled"),
            (NoShow, "no_show"),
            (Expired, "expired"),
        ] {
            let dto = ReservationStatusDto::from(status);
            assert_eq!(ReservationStatus::from(dto), status);
            assert_eq!(serde_json::to_value(dto).expect("serialise"), json!(name));
        }
    }

    #[test]
    fn reservations_serialise_with_the_issue_fields() {
        let start = DateTime::parse_from_rfc3339("2026-05-01T08:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let core = CoreReservation {
            id: ReservationId::from_u128(1),
            lot_id: LotId::from_u128(2),
            spot_id: SpotId::from_u128(3),
            user_id: UserId::from_u128(4),
            interval: Interval::new(start, start + Duration::hours(2)).expect("valid"),
            status: ReservationStatus::Held,
            hold_expires_at: Some(start - Duration::hours(1)),
            total: Money::new(500, Currency::EUR),
            created_at: start - Duration::hours(2),
        };
        let wire = Reservation::from_core(&core, "B-001", None);
        let json = serde_json::to_value(CancelResponse {
            reservation: wire,
            refund: Money::new(500, Currency::EUR).into(),
        })
        .expect("serialise");
        let r = &json["reservation"];
        for key in [
            "id",
            "lot_id",
            "spot_id",
            "spot_label",
            "start_time",
            "end_time",
            "status",
            "total_cost",
            "hold_expires_at",
        ] {
            assert!(r.get(key).is_some(), "{key}");
        }
        assert_eq!(r["status"], "held");
        assert_eq!(r["start_time"], "2026-05-01T08:00:00Z");
        assert_eq!(r["total_cost"], json!({"amount": 500, "currency": "EUR"}));
        assert!(r.get("quote").is_none());
        assert_eq!(json["refund"]["amount"], 500);
    }
}
