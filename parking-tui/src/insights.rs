//! Turns parkd's analytics answers into what the analytics screen draws: the
//! history, a forecast of the next 24 hours (parking-core's seasonal
//! forecaster fitted on that history), and the weekday × hour heat map.

use chrono::{DateTime, Duration, DurationRound, Utc};
use chrono_tz::Tz;
use parking_api::{Lot, OccupancyReport, RevenueReport};
use parking_core::analytics::{ForecastParams, Forecaster, OccupancySample, heat_map_from_samples};

use crate::model::Analytics;

/// Forecast hours drawn after now.
pub const FORECAST_HOURS: i64 = 24;

/// The analytics of `lot` from its hourly occupancy over the last week and
/// its revenue per day, at `now`.
pub fn build(
    lot: &Lot,
    occupancy: &OccupancyReport,
    revenue: &RevenueReport,
    now: DateTime<Utc>,
) -> Analytics {
    let tz: Tz = lot.timezone.parse().unwrap_or(Tz::UTC);
    let samples: Vec<OccupancySample> = occupancy
        .points
        .iter()
        .filter(|p| p.ratio.is_finite())
        .map(|p| (p.start, p.ratio.clamp(0.0, 1.0)))
        .collect();
    Analytics {
        lot_id: lot.id,
        lot_name: lot.name.clone(),
        forecast: forecast(&samples, tz, now),
        heat: heat_map(&samples, tz),
        occupancy: samples,
        revenue: revenue.days.clone(),
        loaded_at: now,
    }
}

/// Hourly forecast for the next [`FORECAST_HOURS`]; empty without history.
pub fn forecast(
    samples: &[OccupancySample],
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, f64)> {
    let Ok(model) = Forecaster::fit(samples, tz, ForecastParams::default()) else {
        return Vec::new();
    };
    let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    (0..=FORECAST_HOURS)
        .map(|h| {
            let at = hour + Duration::hours(h);
            (at, model.forecast(at).clamp(0.0, 1.0))
        })
        .collect()
}

/// Mean occupancy per local weekday (Monday first) and local hour:
/// parking-core's [`heat_map_from_samples`], `None` where it has no sample.
pub fn heat_map(samples: &[OccupancySample], tz: Tz) -> [[Option<f64>; 24]; 7] {
    heat_map_from_samples(samples, tz).map(|row| row.map(|mean| (!mean.is_nan()).then_some(mean)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};

    #[test]
    fn heat_map_averages_by_local_weekday_and_hour() {
        // 2026-11-23 is a Monday; 07:00 UTC is 08:00 in Berlin (CET).
        let monday = Utc
            .with_ymd_and_hms(2026, 11, 23, 7, 0, 0)
            .single()
            .expect("valid");
        let samples = vec![
            (monday, 0.5),
            (monday + Duration::days(7), 1.0),
            (monday + Duration::days(1), 0.2),
        ];
        let heat = heat_map(&samples, chrono_tz::Europe::Berlin);
        assert_eq!(heat[0][8], Some(0.75));
        assert_eq!(heat[1][8], Some(0.2));
        assert_eq!(heat[0][7], None);
    }

    #[test]
    fn forecast_follows_a_repeating_day() {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 12, 0, 0, 0)
            .single()
            .expect("valid");
        // Two weeks of a lot that is full from 08:00 to 18:00 UTC, empty otherwise.
        let samples: Vec<OccupancySample> = (0..14 * 24)
            .map(|h| {
                let t = start + Duration::hours(h);
                let busy = (8..18).contains(&t.hour());
                (t, if busy { 0.9 } else { 0.1 })
            })
            .collect();
        let now = start + Duration::days(14);
        let series = forecast(&samples, Tz::UTC, now);
        assert_eq!(series.len(), 25);
        let at = |hour: i64| series[usize::try_from(hour).expect("hour")].1;
        assert!(at(12) > 0.7, "midday is busy: {}", at(12));
        assert!(at(3) < 0.3, "night is quiet: {}", at(3));
        assert!(
            forecast(&[], Tz::UTC, now).is_empty(),
            "no history, no forecast"
        );
    }
}
