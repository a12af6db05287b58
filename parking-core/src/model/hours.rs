//! Weekly operating hours in a lot's local time, with overnight windows and dated
//! closures, and the check that a booking lies entirely inside them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::interval::Interval;
use super::local_time::{local_date, local_to_utc, start_of_local_day};

/// One weekly opening window in local time.
///
/// `close <= open` means the window runs overnight and closes on the next day;
/// `open == close` means 24 hours from `open`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenWindow {
    /// The weekday on which the window opens.
    pub day: Weekday,
    /// Local opening time.
    pub open: NaiveTime,
    /// Local closing time (on the next day when not after `open`).
    pub close: NaiveTime,
}

/// A dated closure: the lot is shut on the local dates `from..=to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Closure {
    /// First closed local date.
    pub from: NaiveDate,
    /// Last closed local date (inclusive).
    pub to: NaiveDate,
    /// Shown to drivers whose booking is refused ("Christmas Day").
    pub reason: String,
}

/// When a lot is open: weekly windows (or around the clock) minus dated closures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatingHours {
    /// `None`: open around the clock. `Some(windows)`: open only inside them.
    #[serde(default)]
    pub weekly: Option<Vec<OpenWindow>>,
    /// Dated closures, applied on top of the weekly windows.
    #[serde(default)]
    pub closures: Vec<Closure>,
}

/// Why operating hours were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HoursError {
    /// A closure ends before it starts.
    #[error("closure {reason:?} ends on {to}, before it starts on {from}")]
    ClosureReversed {
        /// First date.
        from: NaiveDate,
        /// Last date.
        to: NaiveDate,
        /// The closure's reason.
        reason: String,
    },
}

/// Why a booking falls outside a lot's opening hours.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClosedError {
    /// The lot is closed under its weekly hours at `closed_from`.
    #[error("the lot is closed from {closed_from}{}", reopens_text(.reopens_at))]
    OutsideOpeningHours {
        /// The first instant of the booking at which the lot is closed.
        closed_from: DateTime<Utc>,
        /// When it opens again, if that is within a day of the booking's end.
        reopens_at: Option<DateTime<Utc>>,
    },
    /// The booking spans a dated closure.
    #[error("the lot is closed on {date}: {reason}")]
    Closure {
        /// The first closed local date the booking touches.
        date: NaiveDate,
        /// The closure's reason.
        reason: String,
    },
}

fn reopens_text(reopens: &Option<DateTime<Utc>>) -> String {
    reopens.map_or_else(String::new, |t| format!(" until {t}"))
}

impl OperatingHours {
    /// Open around the clock, no closures.
    pub fn always_open() -> Self {
        OperatingHours::default()
    }

    /// Weekly windows and closures, validated.
    pub fn new(
        weekly: Option<Vec<OpenWindow>>,
        closures: Vec<Closure>,
    ) -> Result<Self, HoursError> {
        let hours = OperatingHours { weekly, closures };
        hours.validate()?;
        Ok(hours)
    }

    /// Checks invariants of values built by hand or deserialised.
    pub fn validate(&self) -> Result<(), HoursError> {
        for c in &self.closures {
            if c.to < c.from {
                return Err(HoursError::ClosureReversed {
                    from: c.from,
                    to: c.to,
                    reason: c.reason.clone(),
                });
            }
        }
        Ok(())
    }

    /// Ok if the lot is open for the whole of `interval`; otherwise the first reason
    /// it is not, closures before weekly hours.
    pub fn check(&self, tz: Tz, interval: &Interval) -> Result<(), ClosedError> {
        if self.weekly.is_none() && self.closures.is_empty() {
            return Ok(());
        }
        // Overnight windows that opened the day before the booking matter, and so does
        // the day after its end for telling when the lot reopens.
        let first = local_date(tz, interval.start()) - Duration::days(1);
        let last = local_date(tz, interval.end()) + Duration::days(1);
        let closed = self.closure_spans(tz, first, last);
        let open = subtract(self.weekly_spans(tz, first, last), &closed);

        let covering = open
            .iter()
            .find(|(s, e)| *s <= interval.start() && interval.start() < *e);
        let gap_start = match covering {
            Some((_, end)) if *end >= interval.end() => return Ok(()),
            Some((_, end)) => *end,
            None => interval.start(),
        };
        if let Some((_, reason)) = closed
            .iter()
            .find(|((s, e), _)| *s <= gap_start && gap_start < *e)
        {
            return Err(ClosedError::Closure {
                date: local_date(tz, gap_start),
                reason: reason.clone(),
            });
        }
        Err(ClosedError::OutsideOpeningHours {
            closed_from: gap_start,
            reopens_at: open.iter().map(|(s, _)| *s).find(|s| *s > gap_start),
        })
    }

    /// Merged, sorted UTC spans of the weekly windows opening on local dates
    /// `first..=last`.
    fn weekly_spans(&self, tz: Tz, first: NaiveDate, last: NaiveDate) -> Vec<Span> {
        let Some(windows) = &self.weekly else {
            let end = start_of_local_day(tz, last + Duration::days(1));
            return vec![(start_of_local_day(tz, first), end)];
        };
        let mut spans = Vec::new();
        for date in first.iter_days().take_while(|d| *d <= last) {
            for w in windows.iter().filter(|w| w.day == date.weekday()) {
                let open = local_to_utc(tz, date.and_time(w.open));
                let close_date = if w.close <= w.open {
                    date + Duration::days(1)
                } else {
                    date
                };
                let close = local_to_utc(tz, close_date.and_time(w.close));
                if close > open {
                    spans.push((open, close));
                }
            }
        }
        merge(spans)
    }

    /// UTC spans of the closures touching local dates `first..=last`, with reasons.
    fn closure_spans(&self, tz: Tz, first: NaiveDate, last: NaiveDate) -> Vec<(Span, String)> {
        self.closures
            .iter()
            .filter(|c| c.from <= last && c.to >= first)
            .map(|c| {
                let span = (
                    start_of_local_day(tz, c.from),
                    start_of_local_day(tz, c.to + Duration::days(1)),
                );
                (span, c.reason.clone())
            })
            .collect()
    }
}

type Span = (DateTime<Utc>, DateTime<Utc>);

fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// `open` minus every closed span: each open span keeps its parts before and after
/// each closure.
fn subtract(open: Vec<Span>, closed: &[(Span, String)]) -> Vec<Span> {
    closed.iter().fold(open, |spans, ((cs, ce), _)| {
        let mut out = Vec::with_capacity(spans.len() + 1);
        for (s, e) in spans {
            if e <= *cs || s >= *ce {
                out.push((s, e)); // untouched by this closure
                continue;
            }
            if s < *cs {
                out.push((s, *cs));
            }
            if e > *ce {
                out.push((*ce, e));
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid")
    }

    /// Berlin local time to UTC.
    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("unambiguous")
            .with_timezone(&Utc)
    }

    fn interval(a: DateTime<Utc>, b: DateTime<Utc>) -> Interval {
        Interval::new(a, b).expect("valid")
    }

    fn weekdays_7_to_19_and_fri_night() -> OperatingHours {
        let mut weekly: Vec<OpenWindow> = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu]
            .into_iter()
            .map(|day| OpenWindow {
                day,
                open: time(7, 0),
                close: time(19, 0),
            })
            .collect();
        // Friday: 07:00 until 02:00 on Saturday (an overnight window).
        weekly.push(OpenWindow {
            day: Weekday::Fri,
            open: time(7, 0),
            close: time(2, 0),
        });
        OperatingHours::new(
            Some(weekly),
            vec![Closure {
                from: NaiveDate::from_ymd_opt(2026, 12, 24).expect("valid"),
                to: NaiveDate::from_ymd_opt(2026, 12, 25).expect("valid"),
                reason: "Christmas".into(),
            }],
        )
        .expect("valid")
    }

    #[test]
    fn bookings_inside_a_window_are_accepted() {
        let hours = weekdays_7_to_19_and_fri_night();
        // Monday 2026-11-30 08:00-18:00.
        let ok = interval(local(2026, 11, 30, 8, 0), local(2026, 11, 30, 18, 0));
        assert_eq!(hours.check(Berlin, &ok), Ok(()));
        // Exactly the window is fine too: intervals are half-open.
        let edge = interval(local(2026, 11, 30, 7, 0), local(2026, 11, 30, 19, 0));
        assert_eq!(hours.check(Berlin, &edge), Ok(()));
    }

    #[test]
    fn overnight_windows_run_into_the_next_day() {
        let hours = weekdays_7_to_19_and_fri_night();
        // Friday 2026-11-27 22:00 to Saturday 01:30.
        let night = interval(local(2026, 11, 27, 22, 0), local(2026, 11, 28, 1, 30));
        assert_eq!(hours.check(Berlin, &night), Ok(()));
        // Until 03:00 it is not: closed from 02:00, reopening Monday 07:00.
        let late = interval(local(2026, 11, 27, 22, 0), local(2026, 11, 28, 3, 0));
        assert_eq!(
            hours.check(Berlin, &late),
            Err(ClosedError::OutsideOpeningHours {
                closed_from: local(2026, 11, 28, 2, 0),
                reopens_at: None, // Monday is beyond the day examined after the booking
            })
        );
    }

    #[test]
    fn bookings_across_closing_time_say_when_it_reopens() {
        let hours = weekdays_7_to_19_and_fri_night();
        let across = interval(local(2026, 11, 30, 18, 0), local(2026, 11, 30, 20, 0));
        assert_eq!(
            hours.check(Berlin, &across),
            Err(ClosedError::OutsideOpeningHours {
                closed_from: local(2026, 11, 30, 19, 0),
                reopens_at: Some(local(2026, 12, 1, 7, 0)),
            })
        );
    }

    #[test]
    fn closures_are_refused_with_their_reason() {
        let hours = weekdays_7_to_19_and_fri_night();
        // Thursday 24 December 2026 is a weekday but closed.
        let xmas = interval(local(2026, 12, 24, 9, 0), local(2026, 12, 24, 10, 0));
        let err = hours.check(Berlin, &xmas).expect_err("closed");
        assert_eq!(
            err,
            ClosedError::Closure {
                date: NaiveDate::from_ymd_opt(2026, 12, 24).expect("valid"),
                reason: "Christmas".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "the lot is closed on 2026-12-24: Christmas"
        );
        // Around the clock with a closure: a multi-day stay across it is refused.
        let always = OperatingHours::new(None, hours.closures.clone()).expect("valid");
        let week = interval(local(2026, 12, 20, 9, 0), local(2026, 12, 27, 9, 0));
        assert!(matches!(
            always.check(Berlin, &week),
            Err(ClosedError::Closure { .. })
        ));
        let before = interval(local(2026, 12, 20, 9, 0), local(2026, 12, 24, 0, 0));
        assert_eq!(always.check(Berlin, &before), Ok(()));
    }

    #[test]
    fn reversed_closures_are_invalid() {
        let bad = Closure {
            from: NaiveDate::from_ymd_opt(2026, 12, 25).expect("valid"),
            to: NaiveDate::from_ymd_opt(2026, 12, 24).expect("valid"),
            reason: "typo".into(),
        };
        assert!(OperatingHours::new(None, vec![bad]).is_err());
    }
}
