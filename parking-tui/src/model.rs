//! What the dashboard knows about the city, in display terms: a lot's counts
//! and trend ([`LotRow`]), a spot's state ([`SpotState`]), and the data each
//! screen loads. Pure data and arithmetic; nothing here draws or does I/O.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};
use parking_api::payments::{PaymentStatusDto, ReservationPayment};
use parking_api::{Alert, AlertKind, KindCountsDto, Lot, LotSummary, QuoteDto, Reservation, Spot};
use parking_api::{ReservationStatusDto, RevenueDay, SpotKindDto};
use uuid::Uuid;

/// How far back the trend looks.
pub const TREND_WINDOW: Duration = Duration::minutes(10);
/// A change of occupancy smaller than this (share of capacity) is flat.
pub const TREND_THRESHOLD: f64 = 0.02;
/// Occupancy samples kept per lot for the trend.
const HISTORY_CAP: usize = 64;

/// One lot the dashboard watches with its counts now, as a listing answers
/// it: the area search (a [`LotSummary`]) or the caller's managed lots (a
/// [`Lot`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedLot {
    /// The lot.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Spots in service.
    pub total_spots: u32,
    /// Spots free now, every kind.
    pub available_spots: u32,
}

impl From<LotSummary> for WatchedLot {
    fn from(summary: LotSummary) -> Self {
        WatchedLot {
            id: summary.id,
            name: summary.name,
            total_spots: summary.total_spots,
            available_spots: summary.available_spots,
        }
    }
}

impl From<Lot> for WatchedLot {
    fn from(lot: Lot) -> Self {
        WatchedLot {
            id: lot.id,
            available_spots: lot
                .available
                .values()
                .fold(0u32, |sum, n| sum.saturating_add(*n)),
            name: lot.name,
            total_spots: lot.total_spots,
        }
    }
}

/// One lot on the overview.
#[derive(Clone, Debug, PartialEq)]
pub struct LotRow {
    /// The lot.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Spots in service.
    pub in_service: u32,
    /// Spots free now.
    pub free: u32,
    /// Spots taken out of service (known after the first spot refresh).
    pub out_of_service: u32,
    /// Spots with a car in them now: a sensor says so or a booking is checked
    /// in (known after the first spot refresh).
    pub occupied: u32,
    /// Spots in service per kind.
    pub capacity: KindCountsDto,
    /// Free spots per kind.
    pub available: KindCountsDto,
    /// Occupancy share samples, oldest first, for the trend arrow.
    pub history: VecDeque<(DateTime<Utc>, f64)>,
}

/// Which way a lot's occupancy is heading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    /// Filling up.
    Rising,
    /// Emptying.
    Falling,
    /// No real change (or not enough history).
    Flat,
}

impl LotRow {
    /// A lot known only by name so far.
    pub fn new(id: Uuid, name: String) -> Self {
        LotRow {
            id,
            name,
            in_service: 0,
            free: 0,
            out_of_service: 0,
            occupied: 0,
            capacity: KindCountsDto::new(),
            available: KindCountsDto::new(),
            history: VecDeque::new(),
        }
    }

    /// Spots taken by a booking but with no car (yet): in service, not free,
    /// not occupied.
    pub fn booked(&self) -> u32 {
        self.in_service
            .saturating_sub(self.free)
            .saturating_sub(self.occupied)
    }

    /// The share of in-service spots that are not free, 0–1.
    pub fn occupancy(&self) -> f64 {
        if self.in_service == 0 {
            0.0
        } else {
            f64::from(self.in_service.saturating_sub(self.free)) / f64::from(self.in_service)
        }
    }

    /// Takes new free/in-service totals (and per-kind counts when known),
    /// recording the occupancy for the trend.
    pub fn set_availability(
        &mut self,
        in_service: u32,
        free: u32,
        per_kind: Option<(KindCountsDto, KindCountsDto)>,
        at: DateTime<Utc>,
    ) {
        self.in_service = in_service;
        self.free = free.min(in_service);
        if let Some((capacity, available)) = per_kind {
            self.capacity = capacity;
            self.available = available;
        }
        let ratio = self.occupancy();
        if self.history.back().map(|&(_, r)| r) != Some(ratio) || self.history.is_empty() {
            self.history.push_back((at, ratio));
        }
        while self.history.len() > HISTORY_CAP {
            self.history.pop_front();
        }
    }

    /// The trend over [`TREND_WINDOW`] before `now`: the latest occupancy
    /// against the oldest sample inside the window (or the newest before it).
    pub fn trend(&self, now: DateTime<Utc>) -> Trend {
        let Some(&(_, latest)) = self.history.back() else {
            return Trend::Flat;
        };
        let since = now - TREND_WINDOW;
        let base = self
            .history
            .iter()
            .rev()
            .find(|(t, _)| *t <= since)
            .or_else(|| self.history.iter().find(|(t, _)| *t >= since))
            .map(|&(_, r)| r)
            .unwrap_or(latest);
        let change = latest - base;
        if change > TREND_THRESHOLD {
            Trend::Rising
        } else if change < -TREND_THRESHOLD {
            Trend::Falling
        } else {
            Trend::Flat
        }
    }
}

/// Counts of one lot from its spots and its checked-in bookings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpotCounts {
    /// The lot.
    pub lot_id: Uuid,
    /// Spots in service.
    pub in_service: u32,
    /// Free now.
    pub free: u32,
    /// Out of service.
    pub out_of_service: u32,
    /// With a car in them.
    pub occupied: u32,
    /// In service per kind.
    pub capacity: KindCountsDto,
    /// Free per kind.
    pub available: KindCountsDto,
}

impl SpotCounts {
    /// Counts `spots` (with `available` for now), taking a spot as occupied
    /// when its sensor says so or one of `checked_in` is on it.
    pub fn from_spots(lot_id: Uuid, spots: &[Spot], checked_in: &[Reservation]) -> Self {
        let mut counts = SpotCounts {
            lot_id,
            in_service: 0,
            free: 0,
            out_of_service: 0,
            occupied: 0,
            capacity: KindCountsDto::new(),
            available: KindCountsDto::new(),
        };
        for spot in spots {
            if !spot.in_service {
                counts.out_of_service += 1;
                continue;
            }
            counts.in_service += 1;
            *counts.capacity.entry(spot.kind).or_default() += 1;
            let car = spot.sensor.is_some_and(|s| s.occupied)
                || checked_in.iter().any(|r| r.spot_id == spot.id);
            if spot.available == Some(true) && !car {
                counts.free += 1;
                *counts.available.entry(spot.kind).or_default() += 1;
            } else if car {
                counts.occupied += 1;
            }
        }
        counts
    }
}

/// The state a spot cell is coloured by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpotState {
    /// Nobody has it.
    Free,
    /// A booking covers now, no car yet.
    Booked,
    /// A car is in it.
    Occupied,
    /// A car is still in it after its booking ended.
    Overstay,
    /// Taken out of service.
    OutOfService,
    /// An open alert other than an overstay is about it.
    Alert,
}

impl SpotState {
    /// Every state, in legend order.
    pub const ALL: [SpotState; 6] = [
        SpotState::Free,
        SpotState::Booked,
        SpotState::Occupied,
        SpotState::Overstay,
        SpotState::OutOfService,
        SpotState::Alert,
    ];

    /// The word for the legend.
    pub fn label(self) -> &'static str {
        match self {
            SpotState::Free => "free",
            SpotState::Booked => "booked",
            SpotState::Occupied => "occupied",
            SpotState::Overstay => "overstay",
            SpotState::OutOfService => "out of service",
            SpotState::Alert => "alert",
        }
    }
}

/// One lot's screen: its spots, bookings around today, and price now.
#[derive(Clone, Debug, PartialEq)]
pub struct LotDetail {
    /// The lot.
    pub lot: Lot,
    /// Its spots, with `available` for now.
    pub spots: Vec<Spot>,
    /// Its bookings overlapping today and the next day, by start.
    pub reservations: Vec<Reservation>,
    /// The price of one regular hour from now, when the lot prices it.
    pub hourly: Option<QuoteDto>,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

impl LotDetail {
    /// The state of `spot` at `now`, given the open alerts.
    pub fn spot_state(&self, spot: &Spot, alerts: &[Alert], now: DateTime<Utc>) -> SpotState {
        if !spot.in_service {
            return SpotState::OutOfService;
        }
        let open = alerts
            .iter()
            .filter(|a| a.spot_id == spot.id && a.acknowledged_at.is_none());
        let mut alert = false;
        for a in open {
            if a.kind == AlertKind::Overstay {
                return SpotState::Overstay;
            }
            alert = true;
        }
        if alert {
            return SpotState::Alert;
        }
        let on_spot = || self.reservations.iter().filter(|r| r.spot_id == spot.id);
        if on_spot().any(|r| r.status == ReservationStatusDto::CheckedIn && r.end_time <= now) {
            return SpotState::Overstay;
        }
        if spot.sensor.is_some_and(|s| s.occupied)
            || on_spot().any(|r| r.status == ReservationStatusDto::CheckedIn)
        {
            return SpotState::Occupied;
        }
        if spot.available == Some(false)
            || on_spot().any(|r| blocking(r.status) && r.start_time <= now && now < r.end_time)
        {
            return SpotState::Booked;
        }
        SpotState::Free
    }

    /// Bookings starting after `now`, soonest first.
    pub fn upcoming(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Reservation> {
        self.reservations
            .iter()
            .filter(move |r| r.start_time > now && blocking(r.status))
    }

    /// `spot`'s bookings overlapping `[from, to)`.
    pub fn timeline(
        &self,
        spot: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = &Reservation> {
        self.reservations
            .iter()
            .filter(move |r| r.spot_id == spot && r.start_time < to && from < r.end_time)
    }
}

/// Whether a booking in `status` holds its spot.
pub fn blocking(status: ReservationStatusDto) -> bool {
    matches!(
        status,
        ReservationStatusDto::Held
            | ReservationStatusDto::Confirmed
            | ReservationStatusDto::CheckedIn
    )
}

/// The spots of a lot laid out for the grid: one group per zone (spots
/// without a zone last), labels in natural order within each.
pub fn spot_groups(spots: &[Spot]) -> Vec<(String, Vec<&Spot>)> {
    let mut groups: Vec<(String, Vec<&Spot>)> = Vec::new();
    let mut sorted: Vec<&Spot> = spots.iter().collect();
    sorted.sort_by(|a, b| {
        (a.zone.is_none(), &a.zone, natural_key(&a.label)).cmp(&(
            b.zone.is_none(),
            &b.zone,
            natural_key(&b.label),
        ))
    });
    for spot in sorted {
        let zone = spot.zone.clone().unwrap_or_else(|| "no zone".to_owned());
        match groups.last_mut() {
            Some((name, members)) if *name == zone => members.push(spot),
            _ => groups.push((zone, vec![spot])),
        }
    }
    groups
}

/// Sorts `A-2` before `A-10`: runs of digits compare as numbers.
fn natural_key(label: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in label.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                key.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

/// Which span the analytics screen shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// The last 24 hours (and the next 24 forecast).
    Day,
    /// The last 7 days (and the next day forecast).
    Week,
}

/// The analytics of one lot.
#[derive(Clone, Debug, PartialEq)]
pub struct Analytics {
    /// The lot.
    pub lot_id: Uuid,
    /// Its name.
    pub lot_name: String,
    /// Hourly occupancy share over the last 7 days: (bucket start, 0–1).
    pub occupancy: Vec<(DateTime<Utc>, f64)>,
    /// Forecast share for the next 24 hours, hourly.
    pub forecast: Vec<(DateTime<Utc>, f64)>,
    /// Revenue per local day over the last 7 days.
    pub revenue: Vec<RevenueDay>,
    /// Mean occupancy per local weekday (Monday first) and hour, 0–1; `None`
    /// where there is no sample.
    pub heat: [[Option<f64>; 24]; 7],
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// Short text for a spot kind.
pub fn kind_short(kind: SpotKindDto) -> &'static str {
    match kind {
        SpotKindDto::Regular => "reg",
        SpotKindDto::Compact => "cmp",
        SpotKindDto::Accessible => "acc",
        SpotKindDto::Ev => "ev",
        SpotKindDto::Motorcycle => "moto",
    }
}

/// Short text for a booking status.
pub fn status_text(status: ReservationStatusDto) -> &'static str {
    match status {
        ReservationStatusDto::Held => "held",
        ReservationStatusDto::Confirmed => "confirmed",
        ReservationStatusDto::CheckedIn => "checked in",
        ReservationStatusDto::Completed => "completed",
        ReservationStatusDto::Cancelled => "cancelled",
        ReservationStatusDto::NoShow => "no-show",
        ReservationStatusDto::Expired => "expired",
    }
}

/// Short text for a booking's latest payment; `-` for none (an on-site lot).
pub fn payment_text(payment: Option<&ReservationPayment>) -> &'static str {
    match payment.map(|p| p.status) {
        None => "-",
        Some(PaymentStatusDto::Pending) => "unpaid",
        Some(PaymentStatusDto::Succeeded) => "paid",
        Some(PaymentStatusDto::Failed) => "failed",
        Some(PaymentStatusDto::Refunded) => "refunded",
        Some(PaymentStatusDto::PartiallyRefunded) => "part refund",
    }
}

/// Short text for an alert kind.
pub fn alert_text(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::UnexpectedOccupancy => "sensor mismatch",
        AlertKind::NoShowCandidate => "no-show",
        AlertKind::Overstay => "overstay",
    }
}

/// Minor units for people with the currency's own decimals: `12.50 EUR`,
/// `1500 JPY` ([`parking_api::payments::format_minor`]).
pub fn money(amount: i64, currency: &str) -> String {
    parking_api::payments::format_minor(amount, currency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0)
            .single()
            .expect("valid")
            + Duration::minutes(minute)
    }

    #[test]
    fn booked_is_what_is_neither_free_nor_occupied() {
        let mut row = LotRow::new(Uuid::nil(), "A".into());
        row.set_availability(10, 4, None, at(0));
        row.occupied = 3;
        assert_eq!(row.booked(), 3);
        assert!((row.occupancy() - 0.6).abs() < 1e-9);
        // A poll that counts a sensor-only car as free does not erase it.
        row.set_availability(10, 9, None, at(1));
        assert_eq!(row.occupied, 3);
        assert_eq!(row.booked(), 0, "never negative");
    }

    #[test]
    fn trend_compares_with_ten_minutes_ago() {
        let mut row = LotRow::new(Uuid::nil(), "A".into());
        assert_eq!(row.trend(at(0)), Trend::Flat, "no history");
        row.set_availability(100, 50, None, at(0));
        row.set_availability(100, 40, None, at(5));
        assert_eq!(row.trend(at(5)), Trend::Rising);
        row.set_availability(100, 49, None, at(12));
        assert_eq!(row.trend(at(12)), Trend::Flat, "51% now, 50% at minute 2");
        assert_eq!(
            row.trend(at(16)),
            Trend::Falling,
            "51% now, 60% at minute 6"
        );
        row.set_availability(100, 50, None, at(30));
        assert_eq!(
            row.trend(at(30)),
            Trend::Flat,
            "51% vs 50%: within the threshold"
        );
    }

    #[test]
    fn labels_sort_naturally_within_zones() {
        let spot = |label: &str, zone: Option<&str>| Spot {
            id: Uuid::new_v4(),
            lot_id: Uuid::nil(),
            label: label.into(),
            kind: SpotKindDto::Regular,
            zone: zone.map(str::to_owned),
            in_service: true,
            available: Some(true),
            sensor: None,
        };
        let spots = vec![
            spot("A-10", Some("L1")),
            spot("X", None),
            spot("A-2", Some("L1")),
            spot("B-1", Some("L0")),
        ];
        let groups = spot_groups(&spots);
        let names: Vec<(&str, Vec<&str>)> = groups
            .iter()
            .map(|(z, s)| (z.as_str(), s.iter().map(|s| s.label.as_str()).collect()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("L0", vec!["B-1"]),
                ("L1", vec!["A-2", "A-10"]),
                ("no zone", vec!["X"])
            ]
        );
    }

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(1250, "EUR"), "12.50 EUR");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
    }
}
