//! Analytics (operator for their own tenant, admin for all):
//! `GET /analytics/occupancy`, `GET /analytics/revenue`, `GET /analytics/summary`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use parking_core::analytics::OccupancyPoint as CoreOccupancyPoint;
use parking_core::model::Money;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::common::{Checks, FieldError, MoneyDto};

/// The bucket of an occupancy series when none is given.
pub const DEFAULT_BUCKET: &str = "1h";
/// The longest bucket, in minutes (one week).
pub const MAX_BUCKET_MINUTES: u32 = 7 * 24 * 60;
/// The most buckets one series may hold.
pub const MAX_BUCKETS: i64 = 10_000;
/// The longest range an analytics query may cover, in days.
pub const MAX_RANGE_DAYS: i64 = 366;

/// `GET /analytics/occupancy?lot_id&from&to&bucket`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OccupancyQuery {
    /// The lot.
    pub lot_id: Uuid,
    /// Series start.
    pub from: DateTime<Utc>,
    /// Series end, after `from`; at most 366 days later.
    pub to: DateTime<Utc>,
    /// Bucket length: `15m`, `1h`, `1d` or plain minutes (`30`); default `1h`,
    /// at most a week, and at most 10000 buckets per series.
    #[serde(default)]
    #[param(example = "15m")]
    pub bucket: Option<String>,
}

impl OccupancyQuery {
    /// Checks the range and the bucket.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        check_range(&mut checks, self.from, self.to);
        match self.bucket_minutes() {
            Err(message) => checks.push("bucket", message),
            Ok(minutes) if self.to > self.from => {
                let buckets = (self.to - self.from).num_minutes() / i64::from(minutes);
                if buckets > MAX_BUCKETS {
                    checks.push(
                        "bucket",
                        format!("gives {buckets} buckets; at most {MAX_BUCKETS} are served"),
                    );
                }
            }
            Ok(_) => {}
        }
        checks.finish()
    }

    /// The bucket length in minutes, default filled in.
    pub fn bucket_minutes(&self) -> Result<u32, String> {
        parse_bucket(self.bucket.as_deref().unwrap_or(DEFAULT_BUCKET))
    }

    /// The bucket length, default filled in.
    pub fn bucket_duration(&self) -> Result<Duration, String> {
        self.bucket_minutes()
            .map(|m| Duration::minutes(i64::from(m)))
    }
}

/// Parses a bucket length: `<n>m`, `<n>h`, `<n>d` or a bare number of minutes,
/// between one minute and a week.
pub fn parse_bucket(text: &str) -> Result<u32, String> {
    let bad =
        || format!("must be a length such as 15m, 1h or 1d (at most {MAX_BUCKET_MINUTES} minutes)");
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, 'm')) => (&text[..i], 1),
        Some((i, 'h')) => (&text[..i], 60),
        Some((i, 'd')) => (&text[..i], 24 * 60),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let minutes = digits
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(bad)?;
    if (1..=MAX_BUCKET_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(bad())
    }
}

/// Occupancy over one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OccupancyPoint {
    /// Bucket start.
    pub start: DateTime<Utc>,
    /// Bucket end (the last bucket may be shorter).
    pub end: DateTime<Utc>,
    /// Average occupancy over the bucket, 0 to 1 (above 1 only if overbooked).
    pub ratio: f64,
    /// The most stays in progress at one instant of the bucket.
    pub peak: u32,
}

impl From<&CoreOccupancyPoint> for OccupancyPoint {
    fn from(p: &CoreOccupancyPoint) -> Self {
        OccupancyPoint {
            start: p.bucket.start(),
            end: p.bucket.end(),
            ratio: p.ratio,
            peak: p.peak,
        }
    }
}

/// The answer to `GET /analytics/occupancy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OccupancyReport {
    /// The lot.
    pub lot_id: Uuid,
    /// The bucket length used, minutes.
    pub bucket_minutes: u32,
    /// The buckets in time order.
    pub points: Vec<OccupancyPoint>,
}

/// How revenue is grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevenueGrouping {
    /// Per lot-local calendar day.
    #[default]
    Day,
}

/// `GET /analytics/revenue?lot_id&from&to&group_by=day`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevenueQuery {
    /// The lot.
    pub lot_id: Uuid,
    /// Range start.
    pub from: DateTime<Utc>,
    /// Range end, after `from`; at most 366 days later.
    pub to: DateTime<Utc>,
    /// Grouping; only `day` (the default).
    #[serde(default)]
    pub group_by: RevenueGrouping,
}

impl RevenueQuery {
    /// Checks the range.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        check_range(&mut checks, self.from, self.to);
        checks.finish()
    }
}

/// Revenue of one lot-local day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevenueDay {
    /// The local calendar day.
    pub date: NaiveDate,
    /// What the stays starting that day earned.
    pub amount: MoneyDto,
}

impl From<(NaiveDate, Money)> for RevenueDay {
    fn from((date, amount): (NaiveDate, Money)) -> Self {
        RevenueDay {
            date,
            amount: amount.into(),
        }
    }
}

/// The answer to `GET /analytics/revenue`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevenueReport {
    /// The lot.
    pub lot_id: Uuid,
    /// The sum over the days.
    pub total: MoneyDto,
    /// Days with revenue, ascending.
    pub days: Vec<RevenueDay>,
}

/// `GET /analytics/summary?lot_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The lot.
    pub lot_id: Uuid,
}

/// A lot at a glance, now and today (lot-local day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// The lot.
    pub lot_id: Uuid,
    /// Spots in service.
    pub total_spots: u32,
    /// Of those, free now.
    pub available_now: u32,
    /// Occupied share now, 0 to 1.
    pub occupancy_now: f64,
    /// Held, confirmed and checked-in bookings in progress now.
    pub active_reservations: u32,
    /// Bookings starting today.
    pub bookings_today: u32,
    /// Revenue of bookings starting today.
    pub revenue_today: MoneyDto,
}

fn check_range(checks: &mut Checks, from: DateTime<Utc>, to: DateTime<Utc>) {
    if to <= from {
        checks.push("to", "must be after from");
    } else if to - from > Duration::days(MAX_RANGE_DAYS) {
        checks.push(
            "to",
            format!("must be at most {MAX_RANGE_DAYS} days after from"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;
    use parking_core::model::{Currency, Interval};
    use serde_json::json;

    #[test]
    fn buckets_parse_in_minutes_hours_and_days() {
        assert_eq!(parse_bucket("15m"), Ok(15));
        assert_eq!(parse_bucket("1h"), Ok(60));
        assert_eq!(parse_bucket("1d"), Ok(1440));
        assert_eq!(parse_bucket("30"), Ok(30));
        assert_eq!(parse_bucket("7d"), Ok(MAX_BUCKET_MINUTES));
        for bad in ["", "0m", "8d", "h", "-5m", "1.5h", "1w", "99999999999d"] {
            assert!(parse_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn occupancy_query_limits() {
        let q: OccupancyQuery = serde_json::from_value(json!({
            "lot_id": "00000000-0000-0000-0000-000000000001",
            "from": "2026-05-01T00:00:00Z", "to": "2026-05-08T00:00:00Z"
        }))
        .expect("parses");
        assert_eq!(q.validate(), Ok(()));
        assert_eq!(q.bucket_minutes(), Ok(60));
        let fine = OccupancyQuery {
            bucket: Some("1m".to_owned()),
            ..q.clone()
        };
        assert_eq!(fields(fine.validate()), ["bucket"], "10080 buckets");
        let bad = OccupancyQuery {
            to: q.from,
            bucket: Some("fortnight".to_owned()),
            ..q.clone()
        };
        assert_eq!(fields(bad.validate()), ["to", "bucket"]);
        let long = OccupancyQuery {
            to: q.from + Duration::days(367),
            bucket: Some("1d".to_owned()),
            ..q
        };
        assert_eq!(fields(long.validate()), ["to"]);
        assert!(
            serde_json::from_value::<OccupancyQuery>(json!({
                "lot_id": "00000000-0000-0000-0000-000000000001",
                "from": "2026-05-01T00:00:00Z", "to": "2026-05-08T00:00:00Z", "tz": "UTC"
            }))
            .is_err()
        );
    }

    #[test]
    fn revenue_and_summary_shapes() {
        let q: RevenueQuery = serde_json::from_value(json!({
            "lot_id": "00000000-0000-0000-0000-000000000001",
            "from": "2026-05-01T00:00:00Z", "to": "2026-05-08T00:00:00Z", "group_by": "day"
        }))
        .expect("parses");
        assert_eq!((q.group_by, q.validate()), (RevenueGrouping::Day, Ok(())));
        assert!(
            serde_json::from_value::<RevenueQuery>(json!({
                "lot_id": "00000000-0000-0000-0000-000000000001",
                "from": "2026-05-01T00:00:00Z", "to": "2026-05-08T00:00:00Z", "group_by": "week"
            }))
            .is_err()
        );
        let date = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        let day = RevenueDay::from((date, Money::new(1234, Currency::GBP)));
        assert_eq!(
            serde_json::to_value(&day).expect("serialise"),
            json!({"date": "2026-05-01", "amount": {"amount": 1234, "currency": "GBP"}})
        );
        let start = date.and_hms_opt(0, 0, 0).expect("time").and_utc();
        let core = CoreOccupancyPoint {
            bucket: Interval::new(start, start + Duration::hours(1)).expect("valid"),
            occupied_spot_seconds: 1800,
            ratio: 0.5,
            peak: 1,
        };
        let p = OccupancyPoint::from(&core);
        assert_eq!((p.start, p.ratio, p.peak), (start, 0.5, 1));
    }
}
