//! # parking-tui
//!
//! The live monitoring dashboard for parkd: every lot of a city at a glance,
//! live over the WebSocket (or by polling when the server has none), with
//! the spot grid, bookings and their actions, analytics and alerts.
//!
//! Elm-like, so everything but the I/O is tested without a terminal or a
//! server:
//! - [`app`] — the state ([`app::App`]), what happens ([`app::Msg`]) and what
//!   to do ([`app::Command`]);
//! - [`update`] — the pure state transition, including keys;
//! - [`view`] — the pure drawing, one file per screen; [`theme`] its styles
//!   (monochrome under `NO_COLOR`);
//! - [`model`] — lots, spots and their states in display terms;
//!   [`insights`] — forecast and heat map for the analytics screen;
//!   [`link`] — the feed's state: live, reconnecting with backoff, polling,
//!   stale;
//! - [`source`] — the data behind a trait, over parking-client;
//!   [`live`] — the WebSocket client; [`runtime`] — the event loop tying
//!   terminal, tick, commands and the feed together.

pub mod app;
pub mod insights;
pub mod link;
pub mod live;
pub mod model;
pub mod runtime;
pub mod source;
pub mod theme;
pub mod update;
pub mod view;
