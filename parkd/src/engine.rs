//! The in-memory engine: the core's [`City`] (inventories, rate cards, spatial
//! index) kept in step with the store.
//!
//! Booking takes the write lock only for the synchronous core work (microseconds):
//! the spot is taken in memory *before* the store commits, so concurrent requests
//! see it as taken, and given back if the commit fails. The lock is never held
//! across an `.await`, so many bookings wait for one group commit together.
//!
//! With several instances on one database (PostgreSQL), each instance also
//! applies the others' changes: their outbox events ([`Engine::apply_event`]),
//! reloads of a lot ([`Engine::reload_lot`]) and of everything
//! ([`Engine::reload`]). The database stays the judge: a booking this instance
//! allows from a memory a moment stale is refused by the exclusion constraint
//! and answered 409.
//!
//! Beside the city it keeps [`ExternalIds`], the lots' ids in imported data
//! sets: storage owns them (the core has no use for them), but showing a lot and
//! finding one by external id should not cost a database read.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use parking_core::city::City;
use parking_core::events::DomainEvent;
use parking_core::model::{Lot, LotId, Reservation, ReservationStatus, Spot};
use parking_core::pricing::RateCard;

use crate::store::LotSnapshot;
use crate::store::interface::{Snapshot, StoredEvent};

/// What went wrong loading the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Stored data breaks a core rule (e.g. an overlap the database let through).
    #[error("stored data is inconsistent: {0}")]
    Inconsistent(String),
}

/// The core state behind a lock.
#[derive(Debug, Default)]
pub struct Engine {
    city: RwLock<City>,
    // A lock of its own: lookups by external id are rare and must not wait for
    // bookings holding the city's write lock, nor make them wait.
    external_ids: RwLock<ExternalIds>,
}

/// Lots' ids in imported data sets, both ways. Kept in step with the store by
/// the lot administration use cases (under their single admin lock).
#[derive(Debug, Default)]
pub struct ExternalIds {
    by_lot: HashMap<LotId, String>,
    by_external: HashMap<String, LotId>,
}

impl ExternalIds {
    /// Records that `lot` is `external_id` (replacing what the lot had).
    pub fn insert(&mut self, lot: LotId, external_id: String) {
        self.remove_lot(lot);
        self.by_external.insert(external_id.clone(), lot);
        self.by_lot.insert(lot, external_id);
    }

    /// Forgets the lot's external id, if it had one.
    pub fn remove_lot(&mut self, lot: LotId) {
        if let Some(old) = self.by_lot.remove(&lot) {
            self.by_external.remove(&old);
        }
    }

    /// The lot with this external id.
    pub fn lot(&self, external_id: &str) -> Option<LotId> {
        self.by_external.get(external_id).copied()
    }

    /// The lot's external id.
    pub fn of_lot(&self, lot: LotId) -> Option<&str> {
        self.by_lot.get(&lot).map(String::as_str)
    }
}

impl Engine {
    /// Builds the engine from a store snapshot.
    pub fn load(snapshot: &Snapshot, now: DateTime<Utc>) -> Result<Engine, EngineError> {
        let (city, external_ids) = build_city(snapshot, now)?;
        Ok(Engine {
            city: RwLock::new(city),
            external_ids: RwLock::new(external_ids),
        })
    }

    /// Replaces everything in memory with `snapshot` (after changes may have
    /// been missed). Bookings of this instance still in flight drop out of
    /// memory; their events put them back once they commit.
    pub fn reload(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> Result<(), EngineError> {
        let (city, external_ids) = build_city(snapshot, now)?;
        *self.write() = city;
        *self.external_ids_mut() = external_ids;
        Ok(())
    }

    /// Replaces one lot with its stored state, or forgets it (`None`: deleted).
    pub fn reload_lot(
        &self,
        lot: LotId,
        stored: Option<&LotSnapshot>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        {
            let mut city = self.write();
            city.remove_lot(lot);
            if let Some(stored) = stored {
                add_lot(&mut city, &stored.lot.lot, stored.rates.clone())?;
                add_spots_and_bookings(&mut city, &stored.spots, &stored.blocking, now)?;
            }
        }
        let mut ids = self.external_ids_mut();
        ids.remove_lot(lot);
        if let Some(external_id) = stored.and_then(|s| s.lot.external_id.clone()) {
            ids.insert(lot, external_id);
        }
        Ok(())
    }

    /// Applies a committed outbox event (this instance's or another's) to the
    /// inventory. Idempotent: applying an event twice, or one this instance
    /// already applied before committing, leaves the same state. An error
    /// means the event's booking collides with a booking in memory that has
    /// not committed (and will fail): the caller applies the event again later.
    /// Only events that change the inventory take the write lock: users,
    /// payments, alerts and device keys go by without stalling bookings.
    pub fn apply_event(&self, event: &StoredEvent, now: DateTime<Utc>) -> Result<(), EngineError> {
        match &event.payload {
            DomainEvent::ParkingSpotBooked {
                reservation_id,
                lot_id,
                spot_id,
                user_id,
                interval,
                status,
                total,
            } => {
                let mut city = self.write();
                let Ok(lot) = city.lot_mut(*lot_id) else {
                    return Ok(()); // a lot this instance does not know yet: its reload brings it
                };
                // The hold's expiry is not in the event: the lot's hold time
                // from when the event was written (within milliseconds of the
                // booking's own clock).
                let hold_expires_at = (*status == ReservationStatus::Held).then(|| {
                    event.occurred_at
                        + chrono::Duration::minutes(i64::from(lot.lot.rules.hold_minutes))
                });
                let reservation = Reservation {
                    id: *reservation_id,
                    lot_id: *lot_id,
                    spot_id: *spot_id,
                    user_id: *user_id,
                    interval: *interval,
                    status: *status,
                    hold_expires_at,
                    total: *total,
                    created_at: event.occurred_at,
                };
                // Its old times (if known) give way to the committed ones.
                let _ = lot.inventory.release(*reservation_id);
                if let Err(e) = lot.inventory.restore(&reservation, now) {
                    return Err(EngineError::Inconsistent(format!(
                        "reservation {reservation_id}: {e}"
                    )));
                }
            }
            DomainEvent::ParkingSpotReleased {
                reservation_id,
                lot_id,
                ..
            }
            | DomainEvent::ReservationCancelled {
                reservation_id,
                lot_id,
                ..
            } => {
                if let Ok(lot) = self.write().lot_mut(*lot_id) {
                    // Already gone is fine: the goal is that it is free.
                    let _ = lot.inventory.release(*reservation_id);
                }
            }
            DomainEvent::SpotStatusChanged {
                lot_id,
                spot_id,
                in_service,
                ..
            } => {
                if let Ok(lot) = self.write().lot_mut(*lot_id) {
                    let _ = lot.inventory.set_in_service(*spot_id, *in_service);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The city and the external ids of a snapshot.
fn build_city(snapshot: &Snapshot, now: DateTime<Utc>) -> Result<(City, ExternalIds), EngineError> {
    let mut city = City::new();
    let mut external_ids = ExternalIds::default();
    let mut rates: HashMap<_, _> = snapshot.rates.iter().cloned().collect();
    for record in &snapshot.lots {
        if let Some(external_id) = &record.external_id {
            external_ids.insert(record.lot.id, external_id.clone());
        }
        add_lot(&mut city, &record.lot, rates.remove(&record.lot.id))?;
    }
    add_spots_and_bookings(&mut city, &snapshot.spots, &snapshot.blocking, now)?;
    Ok((city, external_ids))
}

/// Adds a stored lot with its rate card.
fn add_lot(city: &mut City, lot: &Lot, card: Option<RateCard>) -> Result<(), EngineError> {
    city.add_lot(lot.clone(), card)
        .map_err(|e| EngineError::Inconsistent(format!("lot {}: {e}", lot.id)))
}

/// Adds stored spots, then the blocking bookings on them.
fn add_spots_and_bookings(
    city: &mut City,
    spots: &[Spot],
    blocking: &[Reservation],
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    for spot in spots {
        city.add_spot(spot.clone())
            .map_err(|e| EngineError::Inconsistent(format!("spot {}: {e}", spot.id)))?;
    }
    for r in blocking {
        restore(city, r, now)?;
    }
    Ok(())
}

impl Engine {
    /// Read access for searches and counts.
    pub fn read(&self) -> RwLockReadGuard<'_, City> {
        // A panic while holding the lock leaves the city as it was before the
        // panicking call's first mutation at worst; keep serving.
        self.city
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Write access for bookings and changes. Never hold it across an `.await`.
    pub fn write(&self) -> RwLockWriteGuard<'_, City> {
        self.city
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Read access to the lots' external ids.
    pub fn external_ids(&self) -> RwLockReadGuard<'_, ExternalIds> {
        self.external_ids
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Write access to the lots' external ids. Never hold it across an `.await`.
    pub fn external_ids_mut(&self) -> RwLockWriteGuard<'_, ExternalIds> {
        self.external_ids
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn restore(city: &mut City, r: &Reservation, now: DateTime<Utc>) -> Result<(), EngineError> {
    let state = city
        .lot_mut(r.lot_id)
        .map_err(|e| EngineError::Inconsistent(format!("reservation {}: {e}", r.id)))?;
    state
        .inventory
        .restore(r, now)
        .map(|_| ())
        .map_err(|e| EngineError::Inconsistent(format!("reservation {}: {e}", r.id)))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, DurationRound};
    use parking_core::events::ReleaseReason;
    use parking_core::model::{
        BookingRules, Currency, GeoPoint, Interval, Lot, Money, OperatingHours, ReservationId,
        Spot, SpotId, SpotKind, TenantId, UserId,
    };

    use super::*;
    use crate::store::interface::LotRecord;

    fn lot() -> (LotRecord, Spot) {
        let lot = Lot {
            id: LotId::new(),
            tenant_id: TenantId::new(),
            name: "L".into(),
            address: "A".into(),
            location: GeoPoint::new(51.0, 13.0).expect("valid"),
            time_zone: chrono_tz::Europe::Berlin,
            hours: OperatingHours::always_open(),
            amenities: Default::default(),
            rules: BookingRules::default(),
        };
        let spot = Spot {
            id: SpotId::new(),
            lot_id: lot.id,
            label: "S1".into(),
            kind: SpotKind::Regular,
            zone: None,
            in_service: true,
        };
        (
            LotRecord {
                lot,
                external_id: Some("X-1".into()),
                payment_mode: crate::store::payments::PaymentMode::OnSite,
            },
            spot,
        )
    }

    fn event(seq: u64, payload: DomainEvent) -> StoredEvent {
        StoredEvent {
            seq,
            lot_id: payload.lot_id(),
            lot_seq: Some(seq),
            event_type: payload.type_name().to_owned(),
            payload,
            occurred_at: Utc::now(),
        }
    }

    #[test]
    fn another_instances_booking_and_release_reach_memory_idempotently() {
        let (record, spot) = lot();
        let snapshot = Snapshot {
            lots: vec![record.clone()],
            spots: vec![spot.clone()],
            ..Snapshot::default()
        };
        let now = Utc::now();
        let engine = Engine::load(&snapshot, now).expect("load");
        let start = (now + Duration::hours(25))
            .duration_trunc(Duration::hours(1))
            .expect("hour");
        let window = Interval::new(start, start + Duration::hours(1)).expect("window");
        let id = ReservationId::new();
        let booked = event(
            1,
            DomainEvent::ParkingSpotBooked {
                reservation_id: id,
                lot_id: record.lot.id,
                spot_id: spot.id,
                user_id: UserId::new(),
                interval: window,
                status: ReservationStatus::Confirmed,
                total: Money::new(300, Currency::new("EUR").expect("EUR")),
            },
        );
        let free = |engine: &Engine| {
            engine
                .read()
                .lot(record.lot.id)
                .expect("lot")
                .inventory
                .is_free(spot.id, &window, now)
        };
        assert!(free(&engine));
        engine.apply_event(&booked, now).expect("apply");
        assert!(
            !free(&engine),
            "the other instance's booking holds the spot"
        );
        engine.apply_event(&booked, now).expect("apply twice");
        assert!(!free(&engine));
        // A clashing booking in memory (one this instance has not committed)
        // makes the event wait: an error, for the caller to retry.
        let released = event(
            2,
            DomainEvent::ParkingSpotReleased {
                reservation_id: id,
                lot_id: record.lot.id,
                spot_id: spot.id,
                reason: ReleaseReason::Cancelled,
            },
        );
        engine.apply_event(&released, now).expect("release");
        assert!(free(&engine));
        engine.apply_event(&released, now).expect("release twice");
        let mut clash = booked.clone();
        if let DomainEvent::ParkingSpotBooked { reservation_id, .. } = &mut clash.payload {
            *reservation_id = ReservationId::new();
        }
        engine.apply_event(&clash, now).expect("first of two");
        assert!(
            engine.apply_event(&booked, now).is_err(),
            "the clash is reported"
        );
    }

    #[test]
    fn a_lot_reload_replaces_it_and_a_deleted_lot_goes() {
        let (record, spot) = lot();
        let now = Utc::now();
        let engine = Engine::load(&Snapshot::default(), now).expect("empty");
        let stored = LotSnapshot {
            lot: record.clone(),
            spots: vec![spot.clone()],
            rates: None,
            blocking: Vec::new(),
        };
        engine
            .reload_lot(record.lot.id, Some(&stored), now)
            .expect("reload");
        assert_eq!(
            engine
                .read()
                .lot(record.lot.id)
                .expect("lot")
                .inventory
                .spots()
                .count(),
            1
        );
        assert_eq!(engine.external_ids().lot("X-1"), Some(record.lot.id));
        engine
            .reload_lot(record.lot.id, None, now)
            .expect("deleted");
        assert!(engine.read().lot(record.lot.id).is_err());
        assert_eq!(engine.external_ids().lot("X-1"), None);
    }
}
