//! The load generator behind `parkctl bench`.
//!
//! - [`histogram`]: the latency recorder (log-bucketed, exact min/max);
//! - [`pacing`]: open-loop timetables for `--rate`;
//! - [`load`]: the scenarios and the per-connection loop;
//! - [`report`]: the figures printed at the end.
//!
//! The command itself (flags, test data setup, printing) is
//! `commands/bench.rs`.

pub mod histogram;
pub mod load;
pub mod pacing;
pub mod report;
