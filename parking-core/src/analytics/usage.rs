//! Turnover and average stay duration over a range of local days.
//!
//! Turnover is the number of stays *started* per spot per local day (in the lot's
//! zone), averaged over the range; a stay belongs to the local day on which it
//! starts, however long it lasts. Durations are of whole stays, not clipped.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{AnalyticsError, Stay};
use crate::model::local_time::local_date;

/// Turnover and duration of one lot over a range of local days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Stays started on each local day of the range, in order, zeros included.
    pub starts_per_day: Vec<(NaiveDate, u32)>,
    /// Stays started per spot per day, averaged over the days of the range.
    pub turnover: f64,
    /// Mean length of the stays started in the range; `None` if there are none.
    pub average_duration: Option<Duration>,
}

/// Turnover and average duration of the stays of a lot with `capacity` spots that
/// start on local days `first..=last` in `tz`.
pub fn usage(
    stays: impl IntoIterator<Item = Stay>,
    capacity: u32,
    tz: Tz,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Usage, AnalyticsError> {
    if capacity == 0 {
        return Err(AnalyticsError::ZeroCapacity);
    }
    if last < first {
        return Err(AnalyticsError::EmptyDayRange);
    }
    let days = usize::try_from((last - first).num_days() + 1)
        .map_err(|_| AnalyticsError::EmptyDayRange)?;
    let mut starts = vec![0u32; days];
    let mut total_seconds: i128 = 0;
    let mut n: u32 = 0;
    for stay in stays {
        let day = local_date(tz, stay.interval.start());
        if day < first || day > last {
            continue;
        }
        let Ok(index) = usize::try_from((day - first).num_days()) else {
            continue;
        };
        if let Some(count) = starts.get_mut(index) {
            *count += 1;
            n += 1;
            total_seconds += i128::from(stay.interval.duration().num_seconds());
        }
    }
    let average_duration = (n > 0)
        .then(|| {
            i64::try_from(total_seconds / i128::from(n))
                .ok()
                .map(Duration::seconds)
        })
        .flatten();
    let starts_per_day = first.iter_days().zip(starts).collect::<Vec<_>>();
    Ok(Usage {
        turnover: f64::from(n) / (f64::from(capacity) * days as f64),
        starts_per_day,
        average_duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::local_time::local_to_utc;
    use crate::model::{Interval, SpotId};
    use chrono_tz::Asia::Tokyo;

    #[test]
    fn turnover_counts_starts_per_spot_per_local_day() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 4, day).expect("valid date");
        let at = |day, h| local_to_utc(Tokyo, d(day).and_hms_opt(h, 0, 0).expect("valid time"));
        let stay = |spot, from, hours| Stay {
            spot_id: SpotId::from_u128(spot),
            interval: Interval::starting_at(from, Duration::hours(hours)).expect("non-empty"),
        };
        let stays = [
            stay(1, at(1, 0), 1),  // local midnight of the 1st (15:00 UTC on the 31st)
            stay(1, at(1, 23), 3), // ends on the 2nd, counts on the 1st
            stay(2, at(3, 9), 2),
            stay(2, at(4, 9), 2), // outside the range
        ];
        let u = usage(stays, 2, Tokyo, d(1), d(3)).expect("valid range");
        assert_eq!(u.starts_per_day, vec![(d(1), 2), (d(2), 0), (d(3), 1)]);
        assert!((u.turnover - 3.0 / 6.0).abs() < 1e-12);
        assert_eq!(u.average_duration, Some(Duration::hours(2)));

        let none = usage([], 2, Tokyo, d(1), d(1)).expect("valid range");
        assert_eq!((none.turnover, none.average_duration), (0.0, None));
        assert_eq!(
            usage([], 2, Tokyo, d(2), d(1)),
            Err(AnalyticsError::EmptyDayRange)
        );
    }
}
