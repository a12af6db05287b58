//! Shared by the test binaries: fixed states. (`server.rs`, the requests
//! against a seeded parkd, is included by path where it is used.)

pub mod fixtures;
