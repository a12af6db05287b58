//! The rate card: what a lot charges, as data, and its validation.
//!
//! Owns [`RateCard`], [`RateBand`], [`FlatRate`] and [`CardError`]. The card is the
//! wire shape of parkd's `GET/PUT /rates` (JSON, unknown fields refused);
//! [`RateCard::validate`] is the gate every card passes before it is priced with,
//! and reports each problem with the path of the offending field
//! (`bands[2].end`, `flat_rates[0].price`, `demand.target_low_pct`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::demand::DemandPolicy;
use crate::model::{Currency, SpotKind};

/// Seconds in a local wall-clock day (a band may end at 24:00, written `00:00`).
pub(crate) const DAY_SECONDS: u32 = 86_400;

/// The neutral factor: ×1.0 in permille.
pub const NEUTRAL_PERMILLE: u32 = 1000;

/// Longest billing increment accepted: one day.
pub const MAX_INCREMENT_MINUTES: u32 = 24 * 60;

/// What a lot charges. All amounts are integer minor units of [`RateCard::currency`];
/// all times are wall-clock times in the lot's time zone.
///
/// See the [`pricing`](crate::pricing) module for how a card turns into a quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCard {
    /// The currency of every amount on the card and in its quotes.
    pub currency: Currency,
    /// Hourly rate (minor units per hour) wherever no band applies.
    pub base_hourly: i64,
    /// Time-of-day / day-of-week bands; bands of one weekday must not overlap.
    #[serde(default)]
    pub bands: Vec<RateBand>,
    /// Per-kind multipliers in permille; a kind not listed pays ×1.0 (1000).
    /// The factor scales hourly rates, flat prices and the daily maximum alike.
    #[serde(default)]
    pub kind_factors_permille: BTreeMap<SpotKind, u32>,
    /// Billing increment in minutes (1..=1440): the stay is rounded *up* to a whole
    /// number of increments, counted from the entry.
    pub increment_minutes: u32,
    /// Flat rates (early bird, evening); a quote takes the cheapest eligible one
    /// when it beats the time-based price.
    #[serde(default)]
    pub flat_rates: Vec<FlatRate>,
    /// Most a stay pays for the time it spends in one local calendar day.
    #[serde(default)]
    pub daily_max: Option<i64>,
    /// Demand-responsive adjustment of hourly rates from occupancy.
    #[serde(default)]
    pub demand: Option<DemandPolicy>,
}

/// An hourly rate for a local time-of-day window on some weekdays.
///
/// `[start, end)` with `end == 00:00` meaning midnight at the end of the day; any
/// other `end` must be after `start`. A band never crosses midnight: an overnight
/// rate is two bands (`22:00–00:00` on Monday and `00:00–06:00` on Tuesday).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBand {
    /// The weekdays (of the local calendar day) the band applies on.
    pub days: Vec<Weekday>,
    /// First local time of the band.
    pub start: NaiveTime,
    /// First local time after the band; `00:00` is the end of the day.
    pub end: NaiveTime,
    /// Rate in minor units per hour.
    pub hourly: i64,
}

/// A flat price for a stay that enters in a window and leaves by a deadline.
///
/// Eligible when the entry is on one of `days` (local weekday of the entry) at a
/// local time in `[enter_from, enter_until)` (`enter_until == 00:00` is the end of
/// the day) and the actual exit is at or before `exit_by`, which is on the entry
/// day when `exit_by > enter_from` and on the next day otherwise (an evening flat
/// entering 17:00–00:00 and leaving by 06:00).
///
/// There is deliberately no "leave after" condition; see the
/// [`pricing`](crate::pricing) module documentation for why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatRate {
    /// Shown on the quote line, e.g. `"early bird"`.
    pub name: String,
    /// Local weekdays of the entry.
    pub days: Vec<Weekday>,
    /// Earliest local entry time.
    pub enter_from: NaiveTime,
    /// First local time at which entering no longer qualifies (`00:00` = end of day).
    pub enter_until: NaiveTime,
    /// Latest local exit time (next day when `exit_by <= enter_from`).
    pub exit_by: NaiveTime,
    /// The flat price in minor units (before the kind factor).
    pub price: i64,
}

/// One thing wrong with a rate card.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{field}: {problem}")]
pub struct CardIssue {
    /// Path of the offending field, e.g. `bands[2].end`.
    pub field: String,
    /// What is wrong with it.
    pub problem: CardProblem,
}

/// The kinds of problem [`RateCard::validate`] reports.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CardProblem {
    /// A price or rate below zero.
    #[error("must not be negative (got {0})")]
    Negative(i64),
    /// The billing increment is outside `1..=1440` minutes.
    #[error("billing increment must be 1..=1440 minutes (got {0})")]
    Increment(u32),
    /// A time window whose end is not after its start (and is not `00:00`).
    #[error("must be after the start (use 00:00 for midnight; split overnight windows)")]
    EndNotAfterStart,
    /// Two bands cover the same local time on the same weekday.
    #[error("overlaps {other} on {day}")]
    Overlap {
        /// Path of the other band, e.g. `bands[0]`.
        other: String,
        /// The weekday on which they overlap.
        day: Weekday,
    },
    /// A band or flat rate that applies on no weekday.
    #[error("must list at least one weekday")]
    NoDays,
    /// A flat rate without a name.
    #[error("must not be empty")]
    EmptyName,
    /// A time with a fractional second.
    #[error("must be a whole second")]
    FractionalSecond,
    /// The demand target band is empty or beyond 100 %.
    #[error("target band must satisfy low < high <= 100 (got {low}–{high})")]
    DemandBand {
        /// The low edge given.
        low: u8,
        /// The high edge given.
        high: u8,
    },
    /// The demand step is above 100 %.
    #[error("step must be at most 100 % (got {0})")]
    DemandStep(u8),
    /// The demand floor and ceiling do not bracket the neutral factor.
    #[error("must satisfy floor <= 1000 <= ceiling (got {floor}..{ceiling})")]
    DemandBounds {
        /// The floor given.
        floor: u32,
        /// The ceiling given.
        ceiling: u32,
    },
}

/// A rate card failed validation; lists every problem found, in field order.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct CardError {
    /// The problems, each with its field path.
    pub issues: Vec<CardIssue>,
}

impl fmt::Display for CardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid rate card: ")?;
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl CardError {
    /// True if some issue is about exactly this field path.
    pub fn mentions(&self, field: &str) -> bool {
        self.issues.iter().any(|i| i.field == field)
    }
}

/// Seconds since local midnight of a time that starts a window.
pub(crate) fn secs(t: NaiveTime) -> u32 {
    t.num_seconds_from_midnight()
}

/// Seconds since local midnight of a time that ends a window (`00:00` = 24:00).
pub(crate) fn end_secs(t: NaiveTime) -> u32 {
    match t.num_seconds_from_midnight() {
        0 => DAY_SECONDS,
        s => s,
    }
}

impl RateBand {
    /// The band as `[start, end)` seconds of the local day.
    pub(crate) fn span_secs(&self) -> (u32, u32) {
        (secs(self.start), end_secs(self.end))
    }
}

impl RateCard {
    /// The kind factor in permille (1000 when the kind is not listed).
    pub fn kind_factor_permille(&self, kind: SpotKind) -> u32 {
        self.kind_factors_permille
            .get(&kind)
            .copied()
            .unwrap_or(NEUTRAL_PERMILLE)
    }

    /// The daily maximum that applies to `kind`: `daily_max × kind factor`,
    /// rounded half away from zero. `None` when the card has no daily maximum.
    pub fn daily_max_for(&self, kind: SpotKind) -> Option<i64> {
        self.daily_max
            .map(|max| scale_permille(max, self.kind_factor_permille(kind)))
    }

    /// Checks every rule the quote relies on and lists all violations.
    ///
    /// Does not allocate when the card is valid, so quoting can afford to call it
    /// on every request.
    pub fn validate(&self) -> Result<(), CardError> {
        let mut issues = Vec::new();
        let mut report = |field: String, problem: CardProblem| {
            issues.push(CardIssue { field, problem });
        };
        if self.base_hourly < 0 {
            report(
                "base_hourly".into(),
                CardProblem::Negative(self.base_hourly),
            );
        }
        for (i, band) in self.bands.iter().enumerate() {
            if band.days.is_empty() {
                report(format!("bands[{i}].days"), CardProblem::NoDays);
            }
            for (name, t) in [("start", band.start), ("end", band.end)] {
                if t.nanosecond() != 0 {
                    report(format!("bands[{i}].{name}"), CardProblem::FractionalSecond);
                }
            }
            let (start, end) = band.span_secs();
            if end <= start {
                report(format!("bands[{i}].end"), CardProblem::EndNotAfterStart);
            }
            if band.hourly < 0 {
                report(
                    format!("bands[{i}].hourly"),
                    CardProblem::Negative(band.hourly),
                );
            }
            // Compare with every earlier band; report the later one as the culprit.
            for (j, other) in self.bands.iter().enumerate().take(i) {
                let (o_start, o_end) = other.span_secs();
                if start < o_end
                    && o_start < end
                    && let Some(day) = band.days.iter().find(|d| other.days.contains(d))
                {
                    report(
                        format!("bands[{i}]"),
                        CardProblem::Overlap {
                            other: format!("bands[{j}]"),
                            day: *day,
                        },
                    );
                }
            }
        }
        if !(1..=MAX_INCREMENT_MINUTES).contains(&self.increment_minutes) {
            report(
                "increment_minutes".into(),
                CardProblem::Increment(self.increment_minutes),
            );
        }
        for (i, flat) in self.flat_rates.iter().enumerate() {
            if flat.name.trim().is_empty() {
                report(format!("flat_rates[{i}].name"), CardProblem::EmptyName);
            }
            if flat.days.is_empty() {
                report(format!("flat_rates[{i}].days"), CardProblem::NoDays);
            }
            for (name, t) in [
                ("enter_from", flat.enter_from),
                ("enter_until", flat.enter_until),
                ("exit_by", flat.exit_by),
            ] {
                if t.nanosecond() != 0 {
                    report(
                        format!("flat_rates[{i}].{name}"),
                        CardProblem::FractionalSecond,
                    );
                }
            }
            if end_secs(flat.enter_until) <= secs(flat.enter_from) {
                report(
                    format!("flat_rates[{i}].enter_until"),
                    CardProblem::EndNotAfterStart,
                );
            }
            if flat.price < 0 {
                report(
                    format!("flat_rates[{i}].price"),
                    CardProblem::Negative(flat.price),
                );
            }
        }
        if let Some(max) = self.daily_max
            && max < 0
        {
            report("daily_max".into(), CardProblem::Negative(max));
        }
        if let Some(demand) = &self.demand {
            let (low, high) = (demand.target_low_pct, demand.target_high_pct);
            if low >= high || high > 100 {
                report(
                    "demand.target_low_pct".into(),
                    CardProblem::DemandBand { low, high },
                );
            }
            if demand.step_pct > 100 {
                report(
                    "demand.step_pct".into(),
                    CardProblem::DemandStep(demand.step_pct),
                );
            }
            let (floor, ceiling) = (demand.floor_permille, demand.ceiling_permille);
            if floor > NEUTRAL_PERMILLE || ceiling < NEUTRAL_PERMILLE {
                report(
                    "demand.floor_permille".into(),
                    CardProblem::DemandBounds { floor, ceiling },
                );
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(CardError { issues })
        }
    }

    /// A realistic city-centre card in EUR, used by docs, examples and benches.
    ///
    /// - base 1.50 €/h (nights, Sundays and Saturday evenings);
    /// - Mon–Fri 07:00–10:00 peak 4.00 €/h, 10:00–18:00 3.00 €/h,
    ///   18:00–24:00 2.50 €/h; Saturday 09:00–18:00 3.00 €/h;
    /// - EV bays ×1.25, motorcycles ×0.5; 15-minute increments;
    /// - early bird 12.00 € (enter Mon–Fri 05:00–09:00, leave by 19:00) and
    ///   evening flat 6.00 € (enter any day 17:00–24:00, leave by 06:00 next day);
    /// - at most 24.00 € per local day; SFpark demand policy 60–80 %, ±10 % per
    ///   20-point step, between ×0.5 and ×2.0.
    pub fn example_eur() -> RateCard {
        use Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
        let weekdays = vec![Mon, Tue, Wed, Thu, Fri];
        let hm = |h: u32, m: u32| NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN);
        RateCard {
            currency: Currency::EUR,
            base_hourly: 150,
            bands: vec![
                RateBand {
                    days: weekdays.clone(),
                    start: hm(7, 0),
                    end: hm(10, 0),
                    hourly: 400,
                },
                RateBand {
                    days: weekdays.clone(),
                    start: hm(10, 0),
                    end: hm(18, 0),
                    hourly: 300,
                },
                RateBand {
                    days: weekdays.clone(),
                    start: hm(18, 0),
                    end: NaiveTime::MIN,
                    hourly: 250,
                },
                RateBand {
                    days: vec![Sat],
                    start: hm(9, 0),
                    end: hm(18, 0),
                    hourly: 300,
                },
            ],
            kind_factors_permille: BTreeMap::from([
                (SpotKind::Ev, 1250),
                (SpotKind::Motorcycle, 500),
            ]),
            increment_minutes: 15,
            flat_rates: vec![
                FlatRate {
                    name: "early bird".into(),
                    days: weekdays,
                    enter_from: hm(5, 0),
                    enter_until: hm(9, 0),
                    exit_by: hm(19, 0),
                    price: 1200,
                },
                FlatRate {
                    name: "evening".into(),
                    days: vec![Mon, Tue, Wed, Thu, Fri, Sat, Sun],
                    enter_from: hm(17, 0),
                    enter_until: NaiveTime::MIN,
                    exit_by: hm(6, 0),
                    price: 600,
                },
            ],
            daily_max: Some(2400),
            demand: Some(DemandPolicy {
                target_low_pct: 60,
                target_high_pct: 80,
                step_pct: 10,
                floor_permille: 500,
                ceiling_permille: 2000,
            }),
        }
    }
}

/// `amount × permille / 1000`, rounded half away from zero, saturating at the
/// `i64` range (validated cards never get near it).
pub(crate) fn scale_permille(amount: i64, permille: u32) -> i64 {
    let scaled =
        crate::model::money::div_round_half_away(i128::from(amount) * i128::from(permille), 1000);
    i64::try_from(scaled).unwrap_or(if scaled < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    fn errors(card: &RateCard) -> CardError {
        card.validate().expect_err("card should be invalid")
    }

    #[test]
    fn the_example_card_is_valid() {
        assert_eq!(RateCard::example_eur().validate(), Ok(()));
        assert_eq!(RateCard::example_eur().bands.len(), 4);
    }

    #[test]
    fn overlapping_bands_on_a_shared_weekday_are_refused() {
        let mut card = RateCard::example_eur();
        card.bands.push(RateBand {
            days: vec![Weekday::Sun, Weekday::Wed],
            start: hm(9, 30),
            end: hm(11, 0),
            hourly: 100,
        });
        let err = errors(&card);
        assert!(err.mentions("bands[4]"), "{err}");
        assert!(matches!(
            &err.issues[0].problem,
            CardProblem::Overlap { other, day: Weekday::Wed } if other == "bands[0]"
        ));
        assert_eq!(err.issues.len(), 2, "overlaps bands[0] and bands[1]: {err}");
        // The same window on Sunday alone overlaps nothing.
        if let Some(band) = card.bands.last_mut() {
            band.days = vec![Weekday::Sun];
        }
        assert_eq!(card.validate(), Ok(()));
    }

    #[test]
    fn touching_bands_and_midnight_ends_are_fine() {
        let card = RateCard::example_eur();
        // 18:00–00:00 ends at midnight and touches 10:00–18:00.
        assert_eq!(card.bands[2].span_secs(), (18 * 3600, DAY_SECONDS));
        assert_eq!(card.validate(), Ok(()));
    }

    #[test]
    fn reversed_and_overnight_bands_are_refused() {
        let mut card = RateCard::example_eur();
        card.bands[2].start = hm(22, 0);
        card.bands[2].end = hm(6, 0);
        let err = errors(&card);
        assert_eq!(err.issues.len(), 1, "{err}");
        assert!(err.mentions("bands[2].end"), "{err}");
        assert_eq!(
            err.to_string(),
            "invalid rate card: bands[2].end: must be after the start (use 00:00 for midnight; split overnight windows)"
        );
    }

    #[test]
    fn zero_and_huge_increments_are_refused() {
        let mut card = RateCard::example_eur();
        card.increment_minutes = 0;
        assert_eq!(
            errors(&card).issues,
            vec![CardIssue {
                field: "increment_minutes".into(),
                problem: CardProblem::Increment(0)
            }]
        );
        card.increment_minutes = 1441;
        assert!(errors(&card).mentions("increment_minutes"));
    }

    #[test]
    fn negative_prices_are_refused_everywhere() {
        let mut card = RateCard::example_eur();
        card.base_hourly = -1;
        card.bands[3].hourly = -300;
        card.flat_rates[1].price = -600;
        card.daily_max = Some(-1);
        let err = errors(&card);
        for field in [
            "base_hourly",
            "bands[3].hourly",
            "flat_rates[1].price",
            "daily_max",
        ] {
            assert!(err.mentions(field), "{field} missing from {err}");
        }
        assert_eq!(err.issues.len(), 4);
    }

    #[test]
    fn bad_demand_policies_are_refused() {
        let mut card = RateCard::example_eur();
        let Some(demand) = card.demand.as_mut() else {
            panic!("example card has a demand policy");
        };
        demand.target_low_pct = 80;
        demand.target_high_pct = 80;
        demand.floor_permille = 2500;
        demand.ceiling_permille = 2000;
        let err = errors(&card);
        assert!(err.mentions("demand.target_low_pct"), "{err}");
        assert!(err.mentions("demand.floor_permille"), "{err}");
        assert!(err.issues.iter().any(|i| i.problem
            == CardProblem::DemandBounds {
                floor: 2500,
                ceiling: 2000
            }));
    }

    #[test]
    fn flat_rates_need_a_name_days_and_a_window() {
        let mut card = RateCard::example_eur();
        card.flat_rates[0].name = " ".into();
        card.flat_rates[0].days.clear();
        card.flat_rates[0].enter_until = hm(4, 0);
        let err = errors(&card);
        for field in [
            "flat_rates[0].name",
            "flat_rates[0].days",
            "flat_rates[0].enter_until",
        ] {
            assert!(err.mentions(field), "{field} missing from {err}");
        }
    }

    #[test]
    fn json_round_trips_and_refuses_unknown_fields() {
        let card = RateCard::example_eur();
        let json = serde_json::to_string_pretty(&card).expect("serialises");
        let back: RateCard = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, card);
        assert!(json.contains("\"ev\": 1250"), "{json}");
        assert!(json.contains("\"Mon\""), "{json}");

        let mut value: serde_json::Value = serde_json::from_str(&json).expect("parses");
        value["surcharge"] = serde_json::json!(5);
        let err = serde_json::from_value::<RateCard>(value).expect_err("unknown field");
        assert!(err.to_string().contains("surcharge"), "{err}");

        let nested = json.replacen("\"hourly\": 400", "\"hourly\": 400, \"colour\": \"red\"", 1);
        assert!(serde_json::from_str::<RateCard>(&nested).is_err());
    }

    #[test]
    fn minimal_json_uses_defaults() {
        let json = r#"{"currency":"JPY","base_hourly":300,"increment_minutes":30,
            "bands":[{"days":["Sat","Sun"],"start":"10:00","end":"00:00","hourly":400}]}"#;
        let card: RateCard = serde_json::from_str(json).expect("parses");
        assert_eq!(card.currency, Currency::JPY);
        assert_eq!(card.bands[0].span_secs(), (36_000, DAY_SECONDS));
        assert!(card.flat_rates.is_empty() && card.daily_max.is_none());
        assert_eq!(card.kind_factor_permille(SpotKind::Ev), 1000);
        assert_eq!(card.validate(), Ok(()));
    }
}
