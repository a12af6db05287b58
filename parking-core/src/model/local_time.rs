//! Mapping a lot's local wall-clock times to UTC instants.
//!
//! Lots set their rules in local time (opening hours, rate bands, the daily cap's
//! calendar day); bookings are UTC. Around DST changes a local time can be missing
//! (spring forward) or happen twice (fall back). The rule used everywhere:
//! a missing local time maps to the first instant after the gap (02:30 on a
//! spring-forward night is 03:00), and a repeated one to its first occurrence.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The UTC instant of a local wall-clock time in `tz` (see the module rule).
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => first_valid_after_gap(tz, local),
    }
}

/// `local` lies in a DST gap: the UTC instant where local time resumes.
fn first_valid_after_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let valid = |t: &NaiveDateTime| tz.from_local_datetime(t).earliest();
    // Gaps in the tz database are at most a few hours; step out of it a quarter
    // hour at a time, then binary-search the exact second where it ends.
    let mut lo = local;
    let mut hi = local;
    for _ in 0..(4 * 24) {
        hi += Duration::minutes(15);
        if valid(&hi).is_some() {
            break;
        }
        lo = hi;
    }
    while hi - lo > Duration::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if valid(&mid).is_some() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    // No real zone has a day-long gap; reading the time as UTC is a last resort.
    valid(&hi).map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

/// The UTC instant at which local calendar day `date` begins in `tz`.
pub fn start_of_local_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_to_utc(tz, date.and_time(NaiveTime::MIN))
}

/// The local calendar date of a UTC instant in `tz`.
pub fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn ndt(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .expect("valid")
    }

    #[test]
    fn missing_local_times_map_to_the_end_of_the_gap() {
        // 2026-03-29 02:00 -> 03:00 in Berlin; 02:30 does not exist.
        let t = local_to_utc(Berlin, ndt(2026, 3, 29, 2, 30));
        assert_eq!(t.to_rfc3339(), "2026-03-29T01:00:00+00:00");
    }

    #[test]
    fn repeated_local_times_map_to_the_first_occurrence() {
        // 2026-10-25 03:00 -> 02:00; 02:30 happens twice, first at 00:30 UTC.
        let t = local_to_utc(Berlin, ndt(2026, 10, 25, 2, 30));
        assert_eq!(t.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn local_days_can_be_23_or_25_hours_long() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).expect("valid");
        let spring = start_of_local_day(Berlin, d(3, 30)) - start_of_local_day(Berlin, d(3, 29));
        let autumn = start_of_local_day(Berlin, d(10, 26)) - start_of_local_day(Berlin, d(10, 25));
        assert_eq!(spring, Duration::hours(23));
        assert_eq!(autumn, Duration::hours(25));
    }
}
