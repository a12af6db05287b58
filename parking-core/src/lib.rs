//! # parking-core
//!
//! The pure domain library of the parking system: no I/O, no async, no database
//! types. `parkd` wraps it with storage and HTTP; embedders link it directly.
//!
//! Layout:
//! - [`model`] — ids, [`Money`](model::Money), [`Interval`](model::Interval), lots
//!   with opening hours in their IANA time zone, spots, reservations and their
//!   lifecycle.
//! - [`conflict`] — per-spot calendars of blocking intervals and the lot
//!   inventory over them: conflict checks, best-fit allocation, availability.
//! - [`events`] — domain events as plain data.
//! - [`analytics`] — occupancy series, revenue per local day, turnover, peak hours,
//!   and an occupancy forecast measured against a naive baseline.
//!
//! Times are UTC instants; intervals are half-open `[start, end)`; money is integer
//! minor units with a currency.

pub mod analytics;
pub mod conflict;
pub mod events;
pub mod model;
