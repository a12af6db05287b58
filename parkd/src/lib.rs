//! # parkd
//!
//! The self-hostable parking daemon: the whole system over HTTP, on embedded
//! SQLite by default. Layers, top to bottom:
//!
//! - [`api`] — axum routes per resource, extractors, problem+json errors, the
//!   OpenAPI document; [`error`] is the one error type they render.
//! - [`service`] — use cases (booking, accounts) and their authorization.
//! - [`engine`] — the core's in-memory state (inventories, rate cards, spatial
//!   index), kept in step with the store.
//! - [`store`] — persistence behind one interface ([`store::interface::Store`]),
//!   with the SQLite implementation in [`store::sqlite`].
//! - [`auth`] — passwords, tokens, encryption of personal data, key files.
//! - [`outbox`] — the dispatcher publishing the event outbox to an in-process
//!   bus, in order, at least once; [`kafka`] — the same outbox to a Kafka topic
//!   (feature `kafka`).
//! - [`payments`] — the Stripe adapter (async-stripe client, webhook
//!   verification); the payment flows are [`service::payments`]. With the
//!   `test-support` feature, `fake_stripe` is a Stripe stand-in for tests.
//! - [`realtime`] — WebSocket delivery of availability, reservation events and
//!   alerts from that bus (`GET /api/v1/ws`).
//! - [`app`] — start-up, background jobs, serving and graceful shutdown;
//!   [`config`] — defaults, TOML file, `PARKD_*` environment, flags.
//!
//! Tests drive [`api::router`] and [`app::serve`] on `127.0.0.1:0`.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod demo;
pub mod engine;
pub mod error;
#[cfg(feature = "test-support")]
pub mod fake_stripe;
pub mod kafka;
pub mod limits;
pub mod metrics;
pub mod outbox;
pub mod payments;
pub mod realtime;
pub mod service;
pub mod state;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;
