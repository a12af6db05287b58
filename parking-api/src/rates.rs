//! Prices: `GET|PUT /parking-lots/{id}/rates` (the rate card) and
//! `GET /parking-lots/{id}/quote` (an itemised quote).
//!
//! The rate card's wire shape is [`parking_core::pricing::RateCard`] itself: it
//! already derives serde with `deny_unknown_fields` at every level, and
//! mirroring its nested bands, flat rates and demand policy would only give the
//! two copies a chance to drift. [`RateCardDto`] wraps it transparently to give
//! it a schema and a field-error validation.

use chrono::{DateTime, NaiveDate, Utc};
use parking_core::pricing::{LineKind, Quote, QuoteLine, RateCard};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::common::{Checks, FieldError, MoneyDto};
use crate::spots::SpotKindDto;

/// The most time bands a card may hold.
pub const MAX_BANDS: usize = 200;
/// The most flat rates a card may hold.
pub const MAX_FLAT_RATES: usize = 50;
/// The longest flat-rate name, in characters.
pub const MAX_FLAT_NAME_CHARS: usize = 100;

/// A lot's rate card, as `GET` returns it and `PUT` takes it.
///
/// Fields: `currency` (ISO 4217), `base_hourly` (minor units per hour),
/// `bands` (`[{days: ["Mon", …], start: "07:00:00", end: "10:00:00", hourly}]`,
/// local time), `kind_factors_permille` (`{"ev": 1250}`), `increment_minutes`
/// (1–1440), `flat_rates` (`[{name, days, enter_from, enter_until, exit_by,
/// price}]`), `daily_max` (minor units, optional) and `demand` (target band,
/// step, floor and ceiling, optional). Unknown fields are refused at every level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(as = RateCard, value_type = Object)]
pub struct RateCardDto(pub RateCard);

impl From<RateCard> for RateCardDto {
    fn from(card: RateCard) -> Self {
        RateCardDto(card)
    }
}

impl From<RateCardDto> for RateCard {
    fn from(dto: RateCardDto) -> Self {
        dto.0
    }
}

impl RateCardDto {
    /// The core's card validation (each issue with its field path, e.g.
    /// `bands[2].end`) plus size limits on lists and names.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        let card = &self.0;
        if card.bands.len() > MAX_BANDS {
            checks.push("bands", format!("must hold at most {MAX_BANDS} bands"));
        }
        if card.flat_rates.len() > MAX_FLAT_RATES {
            checks.push(
                "flat_rates",
                format!("must hold at most {MAX_FLAT_RATES} flat rates"),
            );
        }
        for (i, flat) in card.flat_rates.iter().enumerate() {
            if flat.name.chars().count() > MAX_FLAT_NAME_CHARS {
                checks.push(
                    format!("flat_rates[{i}].name"),
                    format!("must be at most {MAX_FLAT_NAME_CHARS} characters"),
                );
            }
        }
        if let Err(e) = card.validate() {
            for issue in e.issues {
                checks.push(issue.field, issue.problem.to_string());
            }
        }
        checks.finish()
    }
}

/// `GET /parking-lots/{id}/quote?start_time&end_time&spot_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuoteQuery {
    /// Entry.
    pub start_time: DateTime<Utc>,
    /// Exit, after the entry.
    pub end_time: DateTime<Utc>,
    /// The kind of spot; default `regular`.
    #[serde(default)]
    pub spot_type: Option<SpotKindDto>,
}

impl QuoteQuery {
    /// The end after the start.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        checks.window("end_time", self.start_time, self.end_time);
        checks.finish()
    }
}

/// What a quote line is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuoteLineKind {
    /// Time at an hourly rate.
    Time,
    /// A (negative) reduction down to the daily maximum.
    DailyCap,
    /// The whole stay at a flat price.
    FlatRate,
}

/// One line of a quote; the lines' amounts sum to the total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuoteLineDto {
    /// What the line is for.
    pub kind: QuoteLineKind,
    /// For people: `time`, `daily maximum`, or the flat rate's name.
    pub description: String,
    /// The lot-local calendar day the line belongs to.
    pub local_date: NaiveDate,
    /// Start of the part of the billed stay the line covers.
    pub start: DateTime<Utc>,
    /// End of that part.
    pub end: DateTime<Utc>,
    /// Effective hourly rate in minor units (time lines only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly_rate: Option<i64>,
    /// The line's amount; negative for a daily-cap reduction.
    pub amount: MoneyDto,
}

impl From<&QuoteLine> for QuoteLineDto {
    fn from(line: &QuoteLine) -> Self {
        let (kind, description) = match &line.kind {
            LineKind::Time => (QuoteLineKind::Time, "time".to_owned()),
            LineKind::DailyCap => (QuoteLineKind::DailyCap, "daily maximum".to_owned()),
            LineKind::FlatRate { name } => (QuoteLineKind::FlatRate, name.clone()),
        };
        QuoteLineDto {
            kind,
            description,
            local_date: line.local_date,
            start: line.segment.start(),
            end: line.segment.end(),
            hourly_rate: line.hourly_rate,
            amount: line.amount.into(),
        }
    }
}

/// A priced stay: what it costs and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuoteDto {
    /// The price; always the sum of the lines.
    pub total: MoneyDto,
    /// Start of the billed stay (the entry).
    pub billed_start: DateTime<Utc>,
    /// End of the billed stay: the exit rounded up to whole billing increments.
    pub billed_end: DateTime<Utc>,
    /// The line items in time order.
    pub lines: Vec<QuoteLineDto>,
    /// The demand factor applied to hourly rates, ‰ (1000 = none).
    pub demand_factor_permille: u32,
    /// The spot-kind factor applied, ‰ (1000 = none).
    pub kind_factor_permille: u32,
}

impl From<&Quote> for QuoteDto {
    fn from(q: &Quote) -> Self {
        QuoteDto {
            total: q.total.into(),
            billed_start: q.billed.start(),
            billed_end: q.billed.end(),
            lines: q.lines.iter().map(QuoteLineDto::from).collect(),
            demand_factor_permille: q.demand_factor_permille,
            kind_factor_permille: q.kind_factor_permille,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;
    use chrono::TimeZone;
    use parking_core::model::{Interval, SpotKind};
    use parking_core::pricing::{Occupancy, quote};
    use serde_json::json;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn the_rate_card_round_trips_and_validates_with_field_paths() {
        let card = RateCard::example_eur();
        let json = serde_json::to_value(RateCardDto(card.clone())).expect("serialise");
        let back: RateCardDto = serde_json::from_value(json.clone()).expect("parse");
        assert_eq!(back.0, card);
        assert_eq!(back.validate(), Ok(()));

        let mut extra = json.clone();
        extra["surcharge"] = json!(5);
        assert!(serde_json::from_value::<RateCardDto>(extra).is_err());

        let mut bad = card.clone();
        bad.base_hourly = -1;
        bad.increment_minutes = 0;
        let got = fields(RateCardDto(bad).validate());
        assert!(got.contains(&"base_hourly".to_owned()), "{got:?}");
        assert!(got.contains(&"increment_minutes".to_owned()), "{got:?}");
    }

    #[test]
    fn quotes_keep_their_lines_and_total() {
        let stay = Interval::new(at(5, 50), at(7, 2)).expect("non-empty");
        let q = quote(
            &RateCard::example_eur(),
            chrono_tz::Europe::Berlin,
            SpotKind::Ev,
            &stay,
            Occupancy::from_counts(85, 100),
        )
        .expect("priced");
        let dto = QuoteDto::from(&q);
        assert_eq!(dto.total, MoneyDto::from(q.total));
        assert_eq!((dto.billed_start, dto.billed_end), (at(5, 50), at(7, 5)));
        assert_eq!(dto.demand_factor_permille, 1100);
        let sum: i64 = dto.lines.iter().map(|l| l.amount.amount).sum();
        assert_eq!(sum, dto.total.amount);
        let json = serde_json::to_value(&dto).expect("serialise");
        assert_eq!(json["lines"][0]["kind"], "time");
        assert_eq!(json["lines"][0]["hourly_rate"], 206);
        assert_eq!(json["lines"][0]["local_date"], "2026-03-02");
        assert_eq!(json["total"], json!({"amount": 630, "currency": "EUR"}));
    }

    #[test]
    fn quote_query_needs_an_ordered_window() {
        let q: QuoteQuery = serde_json::from_value(json!({
            "start_time": "2026-03-02T08:00:00Z", "end_time": "2026-03-02T10:00:00Z", "spot_type": "ev"
        }))
        .expect("parses");
        assert_eq!(q.validate(), Ok(()));
        let back = QuoteQuery {
            end_time: q.start_time,
            ..q
        };
        assert_eq!(fields(back.validate()), ["end_time"]);
        assert!(
            serde_json::from_value::<QuoteQuery>(json!({"start_time": "2026-03-02T08:00:00Z"}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<QuoteQuery>(json!({
                "start_time": "2026-03-02T08:00:00Z", "end_time": "2026-03-02T10:00:00Z", "kind": "ev"
            }))
            .is_err()
        );
    }
}
