//! Shared by the test binaries: fixed states, and the end-to-end harness.

pub mod fixtures;
