//! One module per command group; each has its clap arguments and `run`.

pub mod analytics;
pub mod auth;
pub mod bench;
pub mod bookings;
pub mod devices;
pub mod docs;
pub mod import;
pub mod lots;
pub mod profile;
pub mod rates;
pub mod spots;
pub mod tenants;
pub mod users;

use parking_api::{ReservationStatusDto, SpotKindDto};

/// Parses a wire enum from its snake_case name (`ev`, `checked_in`).
fn wire_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.replace('-', "_")))
        .map_err(|_| format!("unknown value '{text}'"))
}

/// clap parser for a spot kind.
pub fn spot_kind(text: &str) -> Result<SpotKindDto, String> {
    wire_enum(text).map_err(|e| format!("{e}: regular, compact, accessible, ev or motorcycle"))
}

/// clap parser for a reservation status.
pub fn status(text: &str) -> Result<ReservationStatusDto, String> {
    wire_enum(text).map_err(|e| {
        format!("{e}: held, confirmed, checked_in, completed, cancelled, no_show or expired")
    })
}
