//! Integration tests of parking-client against a real parkd served in-process
//! on 127.0.0.1:0 (one test binary, modules per area).

mod auth;
mod bookings;
mod helpers;
mod lots;
mod payments;
