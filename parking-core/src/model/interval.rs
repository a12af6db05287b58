//! Half-open UTC intervals `[start, end)`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A non-empty half-open interval of UTC instants `[start, end)`.
///
/// Two intervals that only touch (`a.end == b.start`) do not overlap, so back-to-back
/// bookings are allowed. The constructor refuses `end <= start`; code holding an
/// `Interval` never re-checks that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawInterval", into = "RawInterval")]
pub struct Interval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// The interval's end is not after its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("interval end {end} must be after its start {start}")]
pub struct EmptyInterval {
    /// The rejected start.
    pub start: DateTime<Utc>,
    /// The rejected end.
    pub end: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TryFrom<RawInterval> for Interval {
    type Error = EmptyInterval;

    fn try_from(raw: RawInterval) -> Result<Self, Self::Error> {
        Interval::new(raw.start, raw.end)
    }
}

impl From<Interval> for RawInterval {
    fn from(i: Interval) -> Self {
        RawInterval {
            start: i.start,
            end: i.end,
        }
    }
}

impl Interval {
    /// `[start, end)`; refuses `end <= start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, EmptyInterval> {
        if end > start {
            Ok(Interval { start, end })
        } else {
            Err(EmptyInterval { start, end })
        }
    }

    /// `[start, start + length)`; refuses a non-positive length.
    pub fn starting_at(start: DateTime<Utc>, length: Duration) -> Result<Self, EmptyInterval> {
        Interval::new(start, start + length)
    }

    /// The first instant inside the interval.
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after the interval.
    pub const fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// `end - start`, always positive.
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    /// True if the intervals share at least one instant.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// True if `t` lies in `[start, end)`.
    pub fn contains_instant(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// True if `other` lies entirely inside `self`.
    pub fn contains(&self, other: &Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// The shared part of two intervals, if any.
    pub fn intersection(&self, other: &Interval) -> Option<Interval> {
        Interval::new(self.start.max(other.start), self.end.min(other.end)).ok()
    }

    /// The interval widened by `margin` on both sides (the turnover buffer).
    pub fn widened(&self, margin: Duration) -> Interval {
        Interval {
            start: self.start - margin,
            end: self.end + margin,
        }
    }

    /// A copy with another end; refuses an end not after the start.
    pub fn with_end(&self, end: DateTime<Utc>) -> Result<Interval, EmptyInterval> {
        Interval::new(self.start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn empty_and_reversed_intervals_are_refused() {
        assert!(Interval::new(t(10), t(10)).is_err());
        assert!(Interval::new(t(11), t(10)).is_err());
        assert!(Interval::new(t(10), t(11)).is_ok());
    }

    #[test]
    fn touching_intervals_do_not_overlap() {
        let a = Interval::new(t(8), t(10)).expect("valid");
        let b = Interval::new(t(10), t(12)).expect("valid");
        let c = Interval::new(t(9), t(11)).expect("valid");
        assert!(!a.overlaps(&b));
        assert!(a.overlaps(&c) && c.overlaps(&b));
        assert!(a.contains_instant(t(8)) && !a.contains_instant(t(10)));
        assert_eq!(a.intersection(&b), None);
        assert_eq!(a.intersection(&c), Interval::new(t(9), t(10)).ok());
    }

    #[test]
    fn json_refuses_an_empty_interval() {
        let bad = r#"{"start":"2026-01-01T10:00:00Z","end":"2026-01-01T09:00:00Z"}"#;
        assert!(serde_json::from_str::<Interval>(bad).is_err());
        let good = r#"{"start":"2026-01-01T10:00:00Z","end":"2026-01-01T11:00:00Z"}"#;
        let parsed: Interval = serde_json::from_str(good).expect("valid");
        assert_eq!(parsed, Interval::new(t(10), t(11)).expect("valid"));
    }
}
