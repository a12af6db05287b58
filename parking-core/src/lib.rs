//! # parking-core
//!
//! The pure domain library of the parking system: no I/O, no async, no database
//! types. `parkd` wraps it with storage and HTTP; embedders link it directly.
//!
//! Layout:
//! - [`model`] — ids, [`Money`](model::Money), [`Interval`](model::Interval), lots
//!   with opening hours in their IANA time zone, spots, reservations and their
//!   lifecycle.
//! - [`city`] — many lots with inventories, rate cards and the spatial index: search
//!   with filters (kind free in a window, maximum price) and priced booking.
//! - [`conflict`] — per-spot calendars of blocking intervals and the lot
//!   inventory over them: conflict checks, best-fit allocation, availability.
//! - [`pricing`] — rate cards (bands, kind factors, increments, flat rates, daily
//!   maximum), demand-responsive adjustment and itemised quotes.
//! - [`spatial`] — an R-tree over lot locations on the unit sphere: within a
//!   radius, k-nearest and lazily filtered search, exact by great-circle distance.
//! - [`events`] — domain events as plain data.
//! - [`analytics`] — occupancy series, revenue per local day, turnover, peak hours,
//!   and an occupancy forecast measured against a naive baseline.
//!
//! Times are UTC instants; intervals are half-open `[start, end)`; money is integer
//! minor units with a currency.

pub mod analytics;
pub mod city;
pub mod conflict;
pub mod events;
pub mod model;
pub mod pricing;
pub mod spatial;
