//! Occupancy over time: bucketed series and the hour-of-week heat map.
//!
//! Both are computed by one sweep over the stays' start and end events, sorted once:
//! O((n + buckets) log n) rather than n × buckets. Intervals are half-open, so a stay
//! ending at `t` and another starting at `t` are never simultaneous.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{AnalyticsError, Stay};
use crate::model::Interval;
use crate::model::local_time::{local_date, local_to_utc};

/// Occupancy of a lot over one bucket of a series.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OccupancyPoint {
    /// The bucket `[start, end)`; the last one of a series may be shorter.
    pub bucket: Interval,
    /// Sum over stays of the seconds each overlaps the bucket.
    pub occupied_spot_seconds: i64,
    /// Average occupancy over the bucket: spot-seconds booked divided by
    /// capacity × bucket seconds. Above 1 only if the stays overbook the lot.
    pub ratio: f64,
    /// The most stays in progress at one instant of the bucket.
    pub peak: u32,
}

/// Average occupancy by local hour of week: `map[weekday][hour]`, Monday = 0,
/// hour 0–23 of the lot's local wall clock. `NaN` where there is no data.
pub type HeatMap = [[f64; 24]; 7];

/// One bucket's result of the sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BucketLoad {
    spot_seconds: i64,
    peak: u32,
}

/// Sweeps the stays across consecutive buckets `[bounds[i], bounds[i + 1])`.
/// `bounds` must be strictly increasing; stays are clipped to the whole range.
fn sweep(stays: impl IntoIterator<Item = Stay>, bounds: &[DateTime<Utc>]) -> Vec<BucketLoad> {
    let (Some(&first), Some(&last)) = (bounds.first(), bounds.last()) else {
        return Vec::new();
    };
    let mut events: Vec<(DateTime<Utc>, i64)> = Vec::new();
    for stay in stays {
        let start = stay.interval.start().max(first);
        let end = stay.interval.end().min(last);
        if start < end {
            events.push((start, 1));
            events.push((end, -1));
        }
    }
    // Ends before starts at equal instants (half-open intervals); zero-length
    // segments are skipped below, so this only matters for readability of `count`.
    events.sort_unstable();

    let mut loads = Vec::with_capacity(bounds.len().saturating_sub(1));
    let mut next = 0;
    let mut count: i64 = 0;
    for pair in bounds.windows(2) {
        let (bucket_start, bucket_end) = (pair[0], pair[1]);
        let mut load = BucketLoad::default();
        let mut cursor = bucket_start;
        let mut segment = |count: i64, from: DateTime<Utc>, to: DateTime<Utc>| {
            if to > from && count > 0 {
                load.spot_seconds += count * (to - from).num_seconds();
                load.peak = load.peak.max(u32::try_from(count).unwrap_or(u32::MAX));
            }
        };
        while let Some(&(t, delta)) = events.get(next) {
            if t >= bucket_end {
                break;
            }
            segment(count, cursor, t);
            count += delta;
            cursor = cursor.max(t);
            next += 1;
        }
        segment(count, cursor, bucket_end);
        loads.push(load);
    }
    loads
}

fn ratio(spot_seconds: i64, capacity: u32, seconds: i64) -> f64 {
    spot_seconds as f64 / (f64::from(capacity) * seconds as f64)
}

/// The occupancy of a lot with `capacity` spots over `window`, in buckets of
/// `bucket` (the last bucket ends at the window's end and may be shorter).
///
/// Pass the stays of one lot, e.g. [`Stay::from_reservations`], which keeps only
/// the statuses that [`occupies`](super::occupies). Stays are clipped to the window.
pub fn occupancy_series(
    stays: impl IntoIterator<Item = Stay>,
    capacity: u32,
    window: Interval,
    bucket: Duration,
) -> Result<Vec<OccupancyPoint>, AnalyticsError> {
    if capacity == 0 {
        return Err(AnalyticsError::ZeroCapacity);
    }
    if bucket.num_seconds() < 1 || bucket.subsec_nanos() != 0 {
        return Err(AnalyticsError::InvalidLength {
            seconds: bucket.num_seconds(),
            reason: "a bucket is a positive whole number of seconds",
        });
    }
    let mut bounds = vec![window.start()];
    let mut t = window.start();
    while t < window.end() {
        t = (t + bucket).min(window.end());
        bounds.push(t);
    }
    let loads = sweep(stays, &bounds);
    Ok(bounds
        .windows(2)
        .zip(loads)
        .filter_map(|(pair, load)| {
            let bucket = Interval::new(pair[0], pair[1]).ok()?;
            Some(OccupancyPoint {
                bucket,
                occupied_spot_seconds: load.spot_seconds,
                ratio: ratio(load.spot_seconds, capacity, bucket.duration().num_seconds()),
                peak: load.peak,
            })
        })
        .collect())
}

/// The local (weekday from Monday, hour) of a UTC instant.
fn hour_of_week(tz: Tz, t: DateTime<Utc>) -> (usize, usize) {
    let local = t.with_timezone(&tz);
    (
        local.weekday().num_days_from_monday() as usize,
        local.hour() as usize,
    )
}

/// Accumulates weighted values per hour-of-week cell and averages them.
#[derive(Debug)]
struct HeatAccumulator {
    sum: [[f64; 24]; 7],
    weight: [[f64; 24]; 7],
}

impl HeatAccumulator {
    fn new() -> Self {
        HeatAccumulator {
            sum: [[0.0; 24]; 7],
            weight: [[0.0; 24]; 7],
        }
    }

    fn add(&mut self, (day, hour): (usize, usize), value: f64, weight: f64) {
        self.sum[day][hour] += value * weight;
        self.weight[day][hour] += weight;
    }

    fn finish(self) -> HeatMap {
        let mut map = [[f64::NAN; 24]; 7];
        for (day, row) in map.iter_mut().enumerate() {
            for (hour, cell) in row.iter_mut().enumerate() {
                if self.weight[day][hour] > 0.0 {
                    *cell = self.sum[day][hour] / self.weight[day][hour];
                }
            }
        }
        map
    }
}

/// Peak hours from bookings: the average occupancy of each local hour of week
/// over `window`, time-weighted (an hour that occurs in two weeks of the window
/// is averaged over both). Local hours come from `tz`, so DST shifts are followed;
/// on a fall-back night the repeated hour counts towards its first label.
pub fn heat_map_from_stays(
    stays: impl IntoIterator<Item = Stay>,
    capacity: u32,
    tz: Tz,
    window: Interval,
) -> Result<HeatMap, AnalyticsError> {
    if capacity == 0 {
        return Err(AnalyticsError::ZeroCapacity);
    }
    // Boundaries: the window's ends and every local hour start strictly inside it.
    let mut bounds = vec![window.start()];
    let mut day = local_date(tz, window.start());
    let last_day = local_date(tz, window.end());
    while day <= last_day {
        for hour in 0..24 {
            let Some(time) = NaiveTime::from_hms_opt(hour, 0, 0) else {
                continue;
            };
            let t = local_to_utc(tz, day.and_time(time));
            if t > window.start() && t < window.end() && bounds.last().is_some_and(|&b| t > b) {
                bounds.push(t);
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    bounds.push(window.end());
    let loads = sweep(stays, &bounds);
    let mut acc = HeatAccumulator::new();
    for (pair, load) in bounds.windows(2).zip(loads) {
        let seconds = (pair[1] - pair[0]).num_seconds();
        if seconds > 0 {
            acc.add(
                hour_of_week(tz, pair[0]),
                ratio(load.spot_seconds, capacity, seconds),
                seconds as f64,
            );
        }
    }
    Ok(acc.finish())
}

/// Peak hours from occupancy samples `(instant, ratio)`, e.g. sensor counts:
/// the mean ratio of the samples falling in each local hour of week.
/// Non-finite ratios are ignored.
pub fn heat_map_from_samples(samples: &[(DateTime<Utc>, f64)], tz: Tz) -> HeatMap {
    let mut acc = HeatAccumulator::new();
    for &(t, value) in samples {
        if value.is_finite() {
            acc.add(hour_of_week(tz, t), value, 1.0);
        }
    }
    acc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SpotId;
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::America::New_York;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0)
            .single()
            .expect("valid instant")
    }

    fn stay(spot: u128, from: DateTime<Utc>, to: DateTime<Utc>) -> Stay {
        Stay {
            spot_id: SpotId::from_u128(spot),
            interval: Interval::new(from, to).expect("non-empty stay"),
        }
    }

    fn window(from: DateTime<Utc>, to: DateTime<Utc>) -> Interval {
        Interval::new(from, to).expect("non-empty window")
    }

    #[test]
    fn two_overlapping_stays_hand_computed() {
        // Spot 1: 08:00-10:00, spot 2: 09:30-11:00; capacity 4; hourly 08-12.
        let stays = [stay(1, t(8, 0), t(10, 0)), stay(2, t(9, 30), t(11, 0))];
        let s = occupancy_series(stays, 4, window(t(8, 0), t(12, 0)), Duration::hours(1))
            .expect("valid series");
        let got: Vec<(i64, u32)> = s
            .iter()
            .map(|p| (p.occupied_spot_seconds, p.peak))
            .collect();
        assert_eq!(got, vec![(3600, 1), (5400, 2), (3600, 1), (0, 0)]);
        assert_eq!(s[1].bucket, window(t(9, 0), t(10, 0)));
        assert!((s[0].ratio - 0.25).abs() < 1e-12);
        assert!((s[1].ratio - 5400.0 / 14400.0).abs() < 1e-12);
        assert_eq!(s[3].ratio, 0.0);
    }

    #[test]
    fn half_open_boundaries_do_not_double_count() {
        // Back-to-back stays on one spot meeting at 09:00, and one ending exactly at
        // a bucket edge: never two at once.
        let stays = [stay(1, t(8, 0), t(9, 0)), stay(1, t(9, 0), t(10, 0))];
        let s = occupancy_series(stays, 1, window(t(8, 0), t(10, 0)), Duration::minutes(30))
            .expect("valid series");
        assert!(
            s.iter()
                .all(|p| p.peak == 1 && p.occupied_spot_seconds == 1800)
        );
        assert!(s.iter().all(|p| (p.ratio - 1.0).abs() < 1e-12));
    }

    #[test]
    fn stays_outside_the_window_are_clipped_and_the_last_bucket_is_short() {
        let stays = [
            stay(1, t(6, 0), t(8, 30)),  // starts before the window
            stay(2, t(9, 45), t(13, 0)), // ends after it
            stay(3, t(11, 0), t(12, 0)), // entirely after
            stay(4, t(5, 0), t(7, 0)),   // entirely before
        ];
        let s = occupancy_series(stays, 2, window(t(8, 0), t(10, 0)), Duration::minutes(45))
            .expect("valid series");
        // Buckets 08:00-08:45, 08:45-09:30, 09:30-10:00 (short).
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].bucket, window(t(9, 30), t(10, 0)));
        assert_eq!(s[0].occupied_spot_seconds, 1800);
        assert_eq!(s[1].occupied_spot_seconds, 0);
        assert_eq!(s[2].occupied_spot_seconds, 900);
        assert!((s[2].ratio - 900.0 / (2.0 * 1800.0)).abs() < 1e-12);
        assert_eq!(s.iter().map(|p| p.peak).collect::<Vec<_>>(), vec![1, 0, 1]);
    }

    #[test]
    fn bad_arguments_are_typed_errors() {
        let w = window(t(8, 0), t(9, 0));
        assert_eq!(
            occupancy_series([], 0, w, Duration::hours(1)),
            Err(AnalyticsError::ZeroCapacity)
        );
        assert!(matches!(
            occupancy_series([], 1, w, Duration::zero()),
            Err(AnalyticsError::InvalidLength { .. })
        ));
    }

    #[test]
    fn monday_eight_local_lands_in_cell_zero_eight() {
        // 2026-03-02 is a Monday; 08:00 in New York (EST) is 13:00 UTC.
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid date");
        let at = |h| local_to_utc(New_York, day.and_hms_opt(h, 0, 0).expect("valid time"));
        let w = window(at(0), at(0) + Duration::days(7));
        let map =
            heat_map_from_stays([stay(1, at(8), at(9))], 1, New_York, w).expect("valid heat map");
        assert!((map[0][8] - 1.0).abs() < 1e-12);
        // Sunday 02:00 does not exist that week (DST starts): that cell is NaN.
        let total: f64 = map.iter().flatten().filter(|v| !v.is_nan()).sum();
        assert!((total - 1.0).abs() < 1e-12, "only one cell is occupied");

        let samples = heat_map_from_samples(&[(at(8) + Duration::minutes(20), 0.5)], New_York);
        assert!((samples[0][8] - 0.5).abs() < 1e-12);
        assert!(samples[0][9].is_nan() && samples[6][23].is_nan());
    }

    #[test]
    fn heat_map_follows_dst() {
        // 2026-03-08: New York springs forward. A stay 08:00-09:00 local on Sunday is
        // 12:00 UTC (EDT), not 13:00; it still lands in [6][8].
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).expect("valid date");
        let at = |h| local_to_utc(New_York, day.and_hms_opt(h, 0, 0).expect("valid time"));
        assert_eq!(at(8).hour(), 12);
        let w = window(at(0), at(0) + Duration::days(1));
        let map =
            heat_map_from_stays([stay(1, at(8), at(9))], 2, New_York, w).expect("valid heat map");
        assert!((map[6][8] - 0.5).abs() < 1e-12);
        assert_eq!(map[6][7], 0.0);
        assert!(map[6][2].is_nan(), "02:00 does not exist that night");
    }
}
