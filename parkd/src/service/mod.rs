//! Use cases over the engine and the store, with their authorization decisions.

pub mod accounts;
pub mod booking;
pub mod lots;
pub mod sensors;
