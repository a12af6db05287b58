//! The in-memory engine: the core's [`City`] (inventories, rate cards, spatial
//! index) kept in step with the store.
//!
//! Booking takes the write lock only for the synchronous core work (microseconds):
//! the spot is taken in memory *before* the store commits, so concurrent requests
//! see it as taken, and given back if the commit fails. The lock is never held
//! across an `.await`, so many bookings wait for one group commit together.
//!
//! Beside the city it keeps [`ExternalIds`], the lots' ids in imported data
//! sets: storage owns them (the core has no use for them), but showing a lot and
//! finding one by external id should not cost a database read.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use parking_core::city::City;
use parking_core::model::{LotId, Reservation};

use crate::store::interface::Snapshot;

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
        let mut city = City::new();
        let mut external_ids = ExternalIds::default();
        let mut rates: HashMap<_, _> = snapshot.rates.iter().cloned().collect();
        for record in &snapshot.lots {
            if let Some(external_id) = &record.external_id {
                external_ids.insert(record.lot.id, external_id.clone());
            }
            let card = rates.remove(&record.lot.id);
            city.add_lot(record.lot.clone(), card)
                .map_err(|e| EngineError::Inconsistent(format!("lot {}: {e}", record.lot.id)))?;
        }
        for spot in &snapshot.spots {
            city.add_spot(spot.clone())
                .map_err(|e| EngineError::Inconsistent(format!("spot {}: {e}", spot.id)))?;
        }
        for r in &snapshot.blocking {
            restore(&mut city, r, now)?;
        }
        Ok(Engine {
            city: RwLock::new(city),
            external_ids: RwLock::new(external_ids),
        })
    }

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
