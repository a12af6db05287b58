//! parkd — the self-hostable parking daemon: REST + WebSocket over `parking-core`,
//! with storage, authentication, payments and events.
//!
//! Layout: [`auth`] holds the security primitives (password hashing, access and
//! refresh tokens, PII encryption, key files in the data directory).

pub mod auth;
