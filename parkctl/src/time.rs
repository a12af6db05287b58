//! Times on the command line: RFC 3339, or friendly forms — `now`, `+2h`,
//! `+30m`, `+1d`, `today 08:00`, `tomorrow 08:00`, `2026-05-01 08:00` — the
//! wall-clock ones in the lot's time zone (UTC when no lot is involved).

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::CtlError;

/// A time as typed, before the zone is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeSpec {
    /// An instant (RFC 3339, `now`, or `+…` from now).
    Instant(DateTime<Utc>),
    /// A wall-clock time on a day counted from today (or a date).
    Local(LocalDay, NaiveTime),
}

/// Which local day a wall-clock time is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalDay {
    /// Today plus this many days.
    FromToday(i64),
    /// This date.
    Date(NaiveDate),
}

impl TimeSpec {
    /// Parses `text`, relative to `now`.
    pub fn parse(text: &str, now: DateTime<Utc>) -> Result<TimeSpec, CtlError> {
        let bad = || {
            CtlError::Usage(format!(
                "bad time '{text}': use RFC 3339 (2026-05-01T08:00:00Z), now, +2h, +30m, \
                 'today 18:00', 'tomorrow 08:00' or '2026-05-01 08:00'"
            ))
        };
        let trimmed = text.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
            return Ok(TimeSpec::Instant(t.with_timezone(&Utc)));
        }
        if trimmed.eq_ignore_ascii_case("now") {
            return Ok(TimeSpec::Instant(now));
        }
        if let Some(rest) = trimmed.strip_prefix('+') {
            let unit_at = rest.len().checked_sub(1).ok_or_else(bad)?;
            let (number, unit) = rest.split_at(unit_at);
            let n: i64 = number.parse().map_err(|_| bad())?;
            let duration = match unit {
                "m" => Duration::try_minutes(n),
                "h" => Duration::try_hours(n),
                "d" => Duration::try_days(n),
                _ => None,
            }
            .ok_or_else(bad)?;
            return now
                .checked_add_signed(duration)
                .map(TimeSpec::Instant)
                .ok_or_else(bad);
        }
        let (day, clock) = trimmed.split_once(' ').ok_or_else(bad)?;
        let clock = NaiveTime::parse_from_str(clock.trim(), "%H:%M").map_err(|_| bad())?;
        let day = match day.to_ascii_lowercase().as_str() {
            "today" => LocalDay::FromToday(0),
            "tomorrow" => LocalDay::FromToday(1),
            date => LocalDay::Date(NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad())?),
        };
        Ok(TimeSpec::Local(day, clock))
    }

    /// Whether resolving needs a time zone.
    pub fn needs_zone(&self) -> bool {
        matches!(self, TimeSpec::Local(..))
    }

    /// The instant, with wall-clock forms read in `zone`.
    pub fn resolve(&self, now: DateTime<Utc>, zone: Tz) -> Result<DateTime<Utc>, CtlError> {
        match self {
            TimeSpec::Instant(t) => Ok(*t),
            TimeSpec::Local(day, clock) => {
                let date = match day {
                    LocalDay::FromToday(n) => {
                        now.with_timezone(&zone).date_naive() + Duration::days(*n)
                    }
                    LocalDay::Date(d) => *d,
                };
                zone.from_local_datetime(&date.and_time(*clock))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| {
                        CtlError::Usage(format!("{date} {clock} does not exist in {zone}"))
                    })
            }
        }
    }
}

/// Parses and resolves `text`, echoing the instant on stderr as `label`.
pub fn resolve_echo(label: &str, text: &str, zone: Tz) -> Result<DateTime<Utc>, CtlError> {
    let now = Utc::now();
    let at = TimeSpec::parse(text, now)?.resolve(now, zone)?;
    eprintln!(
        "{label}: {} ({} {})",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        at.with_timezone(&zone).format("%Y-%m-%d %H:%M"),
        zone
    );
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn at(text: &str, zone: Tz) -> Result<String, CtlError> {
        TimeSpec::parse(text, now())?
            .resolve(now(), zone)
            .map(|t| t.to_rfc3339())
    }

    #[test]
    fn friendly_forms_resolve() {
        let utc = chrono_tz::UTC;
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(at("now", utc).expect("now"), "2026-05-01T10:00:00+00:00");
        assert_eq!(at("+2h", utc).expect("+2h"), "2026-05-01T12:00:00+00:00");
        assert_eq!(at("+30m", utc).expect("+30m"), "2026-05-01T10:30:00+00:00");
        assert_eq!(at("+1d", utc).expect("+1d"), "2026-05-02T10:00:00+00:00");
        assert_eq!(
            at("tomorrow 08:00", berlin).expect("tomorrow"),
            "2026-05-02T06:00:00+00:00",
            "08:00 in Berlin in summer is 06:00 UTC"
        );
        assert_eq!(
            at("today 08:00", utc).expect("today"),
            "2026-05-01T08:00:00+00:00"
        );
        assert_eq!(
            at("2026-12-24 18:30", berlin).expect("date"),
            "2026-12-24T17:30:00+00:00"
        );
        assert_eq!(
            at("2026-05-01T08:00:00+02:00", utc).expect("rfc3339"),
            "2026-05-01T06:00:00+00:00"
        );
    }

    #[test]
    fn bad_times_are_usage_errors() {
        for text in [
            "",
            "soon",
            "+2",
            "+h",
            "+2y",
            "tomorrow",
            "tomorrow 25:00",
            "2026-13-01 08:00",
        ] {
            let error = at(text, chrono_tz::UTC).expect_err(text);
            assert!(matches!(error, CtlError::Usage(_)), "{text}");
            assert!(error.to_string().contains("RFC 3339") || error.to_string().contains("exist"));
        }
    }
}
