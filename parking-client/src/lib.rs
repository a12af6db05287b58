//! # parking-client
//!
//! The one typed async HTTP client for parkd's REST API, shared by `parkctl`
//! and `parking-tui`. Request and response bodies are the wire types of
//! [`parking_api`]; nothing here depends on parkd itself.
//!
//! Layout:
//! - [`client`] — [`Client`]: base URL, the transport, problem+json decoding
//!   and the automatic token refresh (one refresh and one retry per call);
//! - [`error`] — [`ClientError`], one `Display` line per failure;
//! - [`tokens`] — [`TokenStore`], where the token pair lives and how a
//!   rotated pair is persisted ([`MemoryTokens`] keeps it in memory);
//! - [`profiles`] — the login profiles of parkctl and parking-tui, and
//!   [`profiles::FileTokens`], the token store over one of them;
//! - one module per resource, each adding its methods to [`Client`]:
//!   [`auth`], [`users`], [`lots`], [`spots`], [`rates`], [`reservations`],
//!   [`analytics`], [`alerts`], [`ops`], [`devices`], [`payments`].

pub mod alerts;
pub mod analytics;
pub mod auth;
pub mod client;
pub mod devices;
pub mod error;
pub mod lots;
pub mod ops;
pub mod payments;
pub mod profiles;
pub mod rates;
pub mod reservations;
pub mod spots;
pub mod tokens;
pub mod users;

pub use client::Client;
pub use error::{AuthError, ClientError};
pub use tokens::{MemoryTokens, TokenStore};

/// The wire types, re-exported so callers need not name `parking-api` twice.
pub use parking_api as api;
