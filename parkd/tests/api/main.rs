//! Black-box tests of parkd over HTTP: each test starts its own parkd on
//! `127.0.0.1:0` over a fresh data directory (see [`helpers::TestApp`]).

mod alerts;
mod analytics;
mod auth;
mod devices;
mod events;
mod helpers;
mod lots;
mod lots_import;
mod lots_managed;
mod openapi;
mod ops;
mod payments;
mod rates;
mod reservations;
mod sensors;
mod spots;
mod users;
mod ws;
