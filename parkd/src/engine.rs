//! The in-memory engine: the core's [`City`] (inventories, rate cards, spatial
//! index) kept in step with the store.
//!
//! Booking takes the write lock only for the synchronous core work (microseconds):
//! the spot is taken in memory *before* the store commits, so concurrent requests
//! see it as taken, and given back if the commit fails. The lock is never held
//! across an `.await`, so many bookings wait for one group commit together.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use parking_core::city::City;
use parking_core::model::Reservation;

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
}

impl Engine {
    /// Builds the engine from a store snapshot.
    pub fn load(snapshot: &Snapshot, now: DateTime<Utc>) -> Result<Engine, EngineError> {
        let mut city = City::new();
        let mut rates: std::collections::HashMap<_, _> = snapshot.rates.iter().cloned().collect();
        for record in &snapshot.lots {
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
