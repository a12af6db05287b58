//! Synthetic occupancy series shared by the forecast unit tests.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::forecast::OccupancySample;

/// 2026-01-05, a Monday; London is on GMT in January.
pub(super) fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .expect("valid instant")
}

/// Samples every 30 min at :07 and :37 past (inside their slots), for `weeks`.
pub(super) fn series(weeks: i64, value: impl Fn(DateTime<Utc>) -> f64) -> Vec<OccupancySample> {
    (0..weeks * 7 * 48)
        .map(|i| monday() + Duration::minutes(30 * i + 7))
        .map(|t| (t, value(t)))
        .collect()
}
