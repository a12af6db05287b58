//! The storage interface of sensors: device keys, the per-spot sensor state,
//! and the alerts raised by reconciling sensors with bookings.
//!
//! A supertrait of [`super::interface::Store`], so each backend implements it
//! in its own file. Every write that changes state writes its domain events in
//! the same transaction (the outbox invariant): a batch of readings with its
//! `spot_status_changed` and `alert_raised` events, a sweep with the alerts it
//! raised, an acknowledgement with `alert_acknowledged`.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use parking_core::events::{AlertKind, DomainEvent};
use parking_core::model::{AlertId, LotId, ReservationId, SpotId, TenantId, UserId};
use uuid::Uuid;

use super::StoreError;
use super::interface::{PageRequest, Scope};

/// A device key as stored: only the hash of the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device's id.
    pub id: Uuid,
    /// The lot whose sensors it speaks for.
    pub lot_id: LotId,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the key, lower-case hex.
    pub key_hash: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last sent a batch that was stored.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// One reading to apply, its spot already resolved (by id or label) among
/// the device's lot's spots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    /// The spot.
    pub spot_id: SpotId,
    /// Whether the spot is in service (for the event).
    pub in_service: bool,
    /// A vehicle is present.
    pub occupied: bool,
    /// When the sensor saw it.
    pub at: DateTime<Utc>,
}

/// What applying a batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Readings that changed a spot's occupancy.
    pub applied: u32,
    /// Readings not newer than the spot's newest reading, or repeating its
    /// state: nothing changed.
    pub stale: u32,
    /// Alerts the batch raised.
    pub alerts: Vec<AlertRecord>,
}

/// A spot's sensor state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpotSensor {
    /// The spot.
    pub spot_id: SpotId,
    /// A vehicle is present.
    pub occupied: bool,
    /// The reading that set this occupancy.
    pub since: DateTime<Utc>,
}

/// An alert as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRecord {
    /// The alert.
    pub id: AlertId,
    /// What it is about.
    pub kind: AlertKind,
    /// Its lot.
    pub lot_id: LotId,
    /// The spot.
    pub spot_id: SpotId,
    /// The spot's label.
    pub spot_label: String,
    /// The booking concerned.
    pub reservation_id: Option<ReservationId>,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// A sentence for people.
    pub detail: String,
    /// When it was acknowledged.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<UserId>,
}

impl AlertRecord {
    /// The `alert_raised` event of this alert.
    pub fn raised_event(&self) -> DomainEvent {
        DomainEvent::AlertRaised {
            alert_id: self.id,
            kind: self.kind,
            lot_id: self.lot_id,
            spot_id: self.spot_id,
            spot_label: self.spot_label.clone(),
            reservation_id: self.reservation_id,
            raised_at: self.raised_at,
            detail: self.detail.clone(),
        }
    }

    /// The `alert_acknowledged` event, once acknowledged (`None` before).
    pub fn acknowledged_event(&self) -> Option<DomainEvent> {
        Some(DomainEvent::AlertAcknowledged {
            alert_id: self.id,
            kind: self.kind,
            lot_id: self.lot_id,
            spot_id: self.spot_id,
            spot_label: self.spot_label.clone(),
            reservation_id: self.reservation_id,
            raised_at: self.raised_at,
            detail: self.detail.clone(),
            by: self.acknowledged_by?,
            at: self.acknowledged_at?,
        })
    }
}

/// Filters of an alert listing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this lot.
    pub lot_id: Option<LotId>,
    /// Only this kind.
    pub kind: Option<AlertKind>,
    /// `Some(false)`: open only; `Some(true)`: acknowledged only.
    pub acknowledged: Option<bool>,
}

/// What acknowledging did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// It was open and is now acknowledged (its event was written).
    Acknowledged(AlertRecord),
    /// It had been acknowledged before: nothing changed.
    AlreadyAcknowledged(AlertRecord),
}

impl AckOutcome {
    /// The alert after the call.
    pub fn into_alert(self) -> AlertRecord {
        match self {
            AckOutcome::Acknowledged(a) | AckOutcome::AlreadyAcknowledged(a) => a,
        }
    }
}

// --- the reconciliation rules, shared by every backend -------------------------

/// A booking as the reconciliation rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookingOnSpot {
    /// The reservation.
    pub id: ReservationId,
    /// Its start.
    pub start: DateTime<Utc>,
    /// Its (exclusive) end.
    pub end: DateTime<Utc>,
}

/// The stored name of an alert kind.
pub fn alert_kind_name(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::UnexpectedOccupancy => "unexpected_occupancy",
        AlertKind::NoShowCandidate => "no_show_candidate",
        AlertKind::Overstay => "overstay",
    }
}

/// An alert kind from its stored name.
pub fn parse_alert_kind(text: &str) -> Option<AlertKind> {
    match text {
        "unexpected_occupancy" => Some(AlertKind::UnexpectedOccupancy),
        "no_show_candidate" => Some(AlertKind::NoShowCandidate),
        "overstay" => Some(AlertKind::Overstay),
        _ => None,
    }
}

/// An instant at the precision stored (microseconds), so that what a write
/// answers equals what a later read returns.
pub fn stored_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// A spot's sensor state as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SensorState {
    /// A vehicle is present.
    pub occupied: bool,
    /// The reading that set this occupancy.
    pub since: DateTime<Utc>,
    /// The spot's newest reading.
    pub reading_at: DateTime<Utc>,
}

/// What one reading does to its spot (newest reading wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Not newer than the spot's newest reading: nothing changes.
    Stale,
    /// Repeats the state: only the newest-reading instant moves (the state
    /// after it).
    Repeat(SensorState),
    /// Changes the spot's occupancy, or is its first reading: the state is
    /// stored with a `spot_status_changed` (the state after it).
    Change(SensorState),
}

impl Step {
    /// Judges a reading of `occupied` at `at` against the spot's stored state.
    pub fn judge(state: Option<SensorState>, occupied: bool, at: DateTime<Utc>) -> Step {
        let at = stored_precision(at);
        match state {
            Some(s) if at <= s.reading_at => Step::Stale,
            Some(s) if s.occupied == occupied => Step::Repeat(SensorState {
                reading_at: at,
                ..s
            }),
            _ => Step::Change(SensorState {
                occupied,
                since: at,
                reading_at: at,
            }),
        }
    }

    /// What the step calls for once stored.
    pub fn check(self) -> Check {
        match self {
            Step::Change(s) if s.occupied => Check::Arrival { at: s.since },
            Step::Repeat(s) if s.occupied => Check::StillThere {
                since: s.since,
                at: s.reading_at,
            },
            _ => Check::Nothing,
        }
    }
}

/// What a reading calls for once the spot's state is updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// No alert.
    Nothing,
    /// A car arrived at `at`: unexpected unless a booking covers it (and
    /// the spot has no open unexpected-occupancy alert already).
    Arrival {
        /// The reading's instant.
        at: DateTime<Utc>,
    },
    /// A car has stood there since `since` and still did at `at`: an
    /// overstay if a booking ended in between and none covers `at`.
    StillThere {
        /// When it arrived.
        since: DateTime<Utc>,
        /// The reading's instant.
        at: DateTime<Utc>,
    },
}

/// A spot named in an alert.
#[derive(Clone, Copy, Debug)]
pub struct AlertSpot<'a> {
    /// Its lot.
    pub lot_id: LotId,
    /// The spot.
    pub spot_id: SpotId,
    /// Its label.
    pub label: &'a str,
}

impl AlertRecord {
    fn open(
        kind: AlertKind,
        spot: AlertSpot<'_>,
        reservation_id: Option<ReservationId>,
        raised_at: DateTime<Utc>,
        detail: String,
    ) -> AlertRecord {
        AlertRecord {
            id: AlertId::new(),
            kind,
            lot_id: spot.lot_id,
            spot_id: spot.spot_id,
            spot_label: spot.label.to_owned(),
            reservation_id,
            raised_at,
            detail,
            acknowledged_at: None,
            acknowledged_by: None,
        }
    }

    /// A new unexpected occupancy: a car seen at `at` with no booking
    /// covering it.
    pub fn unexpected_occupancy(
        spot: AlertSpot<'_>,
        at: DateTime<Utc>,
        raised_at: DateTime<Utc>,
    ) -> AlertRecord {
        let detail = format!(
            "spot {} is occupied since {} and no booking covers it",
            spot.label,
            at.format("%Y-%m-%d %H:%M:%S UTC")
        );
        AlertRecord::open(
            AlertKind::UnexpectedOccupancy,
            spot,
            None,
            raised_at,
            detail,
        )
    }

    /// A new no-show candidate: the spot still read empty after the lot's
    /// grace period.
    pub fn no_show_candidate(
        spot: AlertSpot<'_>,
        booking: &BookingOnSpot,
        grace_minutes: u32,
        raised_at: DateTime<Utc>,
    ) -> AlertRecord {
        let detail = format!(
            "booking {} started at {} and spot {} still reads empty after the {grace_minutes}-minute grace period",
            booking.id,
            booking.start.format("%Y-%m-%d %H:%M UTC"),
            spot.label,
        );
        AlertRecord::open(
            AlertKind::NoShowCandidate,
            spot,
            Some(booking.id),
            raised_at,
            detail,
        )
    }

    /// A new overstay: the spot is still occupied after `booking` ended.
    pub fn overstay(
        spot: AlertSpot<'_>,
        booking: &BookingOnSpot,
        raised_at: DateTime<Utc>,
    ) -> AlertRecord {
        let detail = format!(
            "spot {} is still occupied after booking {} ended at {}",
            spot.label,
            booking.id,
            booking.end.format("%Y-%m-%d %H:%M UTC")
        );
        AlertRecord::open(
            AlertKind::Overstay,
            spot,
            Some(booking.id),
            raised_at,
            detail,
        )
    }
}

/// A booking the time-driven sweep found, with its spot.
#[derive(Clone, Debug)]
pub struct SweepCandidate {
    /// Its lot.
    pub lot_id: LotId,
    /// Its spot.
    pub spot_id: SpotId,
    /// The spot's label.
    pub label: String,
    /// The booking.
    pub booking: BookingOnSpot,
    /// The lot's no-show grace (read for no-show candidates only).
    pub grace_minutes: u32,
}

impl SweepCandidate {
    /// The alert of `kind` (`NoShowCandidate` or `Overstay`) it raises at `now`.
    pub fn alert(&self, kind: AlertKind, now: DateTime<Utc>) -> AlertRecord {
        let spot = AlertSpot {
            lot_id: self.lot_id,
            spot_id: self.spot_id,
            label: &self.label,
        };
        match kind {
            AlertKind::NoShowCandidate => {
                AlertRecord::no_show_candidate(spot, &self.booking, self.grace_minutes, now)
            }
            _ => AlertRecord::overstay(spot, &self.booking, now),
        }
    }
}

/// The sensor storage.
#[async_trait]
pub trait SensorStore: Send + Sync {
    // --- device keys -------------------------------------------------------------

    /// Stores a new device key and its `event` (`device_key_issued`) in one
    /// transaction.
    async fn insert_device(
        &self,
        device: DeviceRecord,
        event: DomainEvent,
    ) -> Result<(), StoreError>;
    /// A lot's device keys, oldest first.
    async fn list_devices(&self, lot_id: LotId) -> Result<Vec<DeviceRecord>, StoreError>;
    /// Revokes a device key of `lot_id` (idempotent: a revoked key keeps its
    /// first revocation time, and only that first revocation writes `event`,
    /// `device_key_revoked`, in the same transaction); `NotFound` if the lot
    /// has no such device.
    async fn revoke_device(
        &self,
        lot_id: LotId,
        id: Uuid,
        now: DateTime<Utc>,
        event: DomainEvent,
    ) -> Result<DeviceRecord, StoreError>;
    /// The device with this key hash, revoked or not.
    async fn device_by_key_hash(
        &self,
        key_hash: String,
    ) -> Result<Option<DeviceRecord>, StoreError>;

    // --- readings ----------------------------------------------------------------

    /// Applies a batch of readings from `device` for its lot, in one
    /// transaction with their events: per spot the newest reading wins;
    /// a reading that changes a spot's occupancy writes `spot_status_changed`
    /// and may raise alerts (unexpected occupancy on arrival without a
    /// covering booking, overstay while still occupied after a booking's
    /// end). Records the device as seen at `now`. `NotFound` if the device
    /// was revoked (or deleted) meanwhile: nothing is written then.
    async fn apply_readings(
        &self,
        device_id: Uuid,
        lot_id: LotId,
        readings: Vec<Reading>,
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError>;
    /// The sensor state of a lot's spots that have one.
    async fn sensor_states(&self, lot_id: LotId) -> Result<Vec<SpotSensor>, StoreError>;

    // --- alerts ------------------------------------------------------------------

    /// The time-driven reconciliation at `now`, in one transaction with the
    /// events: confirmed bookings past their start plus the lot's no-show
    /// grace whose spot has read empty since the grace ended become
    /// `no_show_candidate`s; spots occupied since before a booking's end and
    /// still occupied after it, with no booking covering `now`, raise
    /// `overstay`. Only spots with a sensor state take part; at most `limit`
    /// alerts of each kind per call.
    async fn reconcile(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError>;
    /// Alerts visible in `scope` (tenant or all), newest first, one page,
    /// with the total.
    async fn list_alerts(
        &self,
        scope: Scope,
        filter: AlertFilter,
        page: PageRequest,
    ) -> Result<(Vec<AlertRecord>, u64), StoreError>;
    /// One alert with the tenant owning its lot.
    async fn alert(&self, id: AlertId) -> Result<Option<(AlertRecord, TenantId)>, StoreError>;
    /// Acknowledges an alert (with its event) unless it already was;
    /// `NotFound` if there is none.
    async fn acknowledge_alert(
        &self,
        id: AlertId,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<AckOutcome, StoreError>;
}
