//! # parking-api
//!
//! The wire types of parkd's REST API (`/api/v1`): every request body, response
//! body and query string, written once and shared by `parkd` (server),
//! `parkctl` and `parking-tui` (clients). Each type derives `serde` and
//! `utoipa::ToSchema` (queries also `utoipa::IntoParams`), so the OpenAPI
//! document is generated from the same definitions the code uses.
//!
//! Layout, one module per resource:
//! - [`common`] — [`Page`], [`PageQuery`], RFC 9457 [`Problem`] with
//!   [`FieldError`]s, [`MoneyDto`], and the [`Checks`] validation helper;
//! - [`auth`] — registration, login, token pairs, users, tenants, roles;
//! - [`lots`] — nearby search, lot detail, create and patch, [`Location`],
//!   [`AmenityDto`];
//! - [`rates`] — the rate card ([`RateCardDto`]), quote queries, [`QuoteDto`];
//! - [`reservations`] — booking, changing, cancelling, listing,
//!   [`ReservationStatusDto`];
//! - [`spots`] — [`SpotKindDto`], spots, bulk creation, service changes;
//!
//! Conventions: times are `DateTime<Utc>` (RFC 3339 on the wire); ids are
//! UUIDs; enums are snake_case strings; money is integer minor units with an
//! ISO-4217 code. Request bodies refuse unknown fields, and each request type
//! has a `validate()` returning every bad field as a [`FieldError`], which
//! parkd answers with a 422 [`Problem`]. Conversions from `parking-core` types
//! live next to the wire types; nothing here does I/O.

pub mod auth;
pub mod common;
pub mod lots;
pub mod rates;
pub mod reservations;
pub mod spots;

pub use auth::*;
pub use common::*;
pub use lots::*;
pub use rates::*;
pub use reservations::*;
pub use spots::*;
