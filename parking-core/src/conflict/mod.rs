//! Reservation conflict rules: per-spot calendars of blocking intervals and the
//! lot inventory over them (check, best-fit allocation, release, reschedule,
//! hold expiry, availability counts).
//!
//! Invariant: no two blocking reservations on one spot overlap, with the lot's
//! turnover buffer kept free between them.

mod calendar;
mod inventory;

pub use inventory::{Booked, BookingError, BookingRequest, LotInventory, SpotChoice, SpotError};
