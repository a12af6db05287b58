//! The quote algorithm and its result: [`quote`], [`Quote`], [`QuoteLine`].
//!
//! Steps (the [`pricing`](crate::pricing) module documents the rules and rounding):
//! billed interval → time lines per local day and band → daily cap lines → the
//! cheapest eligible flat rate if it beats the time-based total → total.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::card::{DAY_SECONDS, RateCard, end_secs, scale_permille, secs};
use super::demand::Occupancy;
use super::error::PricingError;
use crate::model::local_time::{local_to_utc, start_of_local_day};
use crate::model::money::div_round_half_away;
use crate::model::{Currency, Interval, Money, SpotKind};

const NANOS_PER_HOUR: i128 = 3_600_000_000_000;
const NANOS_PER_MINUTE: i128 = 60_000_000_000;

/// A priced stay: line items whose amounts sum to [`Quote::total`].
///
/// Built only by [`quote`], which guarantees `total == Σ lines[i].amount` and that
/// every amount is in the card's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quote {
    /// What the stay costs.
    pub total: Money,
    /// The stay with its end rounded up to a whole number of billing increments.
    pub billed: Interval,
    /// The line items, in time order; caps follow the day they cap.
    pub lines: Vec<QuoteLine>,
    /// The kind factor applied (permille).
    pub kind_factor_permille: u32,
    /// The demand factor applied to hourly rates (permille; 1000 without a policy).
    pub demand_factor_permille: u32,
}

/// One line of a quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteLine {
    /// What the line is for.
    pub kind: LineKind,
    /// The local calendar day (lot time zone) the line belongs to. Time and cap
    /// lines never span two local days; a flat line belongs to the entry day.
    pub local_date: NaiveDate,
    /// The part of the billed interval the line covers.
    pub segment: Interval,
    /// The effective hourly rate (after kind and demand factors) for time lines.
    pub hourly_rate: Option<i64>,
    /// The amount; negative for a daily-cap reduction.
    pub amount: Money,
}

/// The kinds of quote line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LineKind {
    /// Time charged at an hourly rate (a band's or the base rate).
    Time,
    /// A reduction bringing one local day down to the daily maximum.
    DailyCap,
    /// The whole stay at a flat price.
    FlatRate {
        /// The flat rate's name from the card.
        name: String,
    },
}

impl fmt::Display for QuoteLine {
    /// A one-line description, e.g.
    /// `2026-03-02 time 06:50–08:00 UTC at 1.88 EUR/h: 2.19 EUR`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            LineKind::Time => "time",
            LineKind::DailyCap => "daily maximum",
            LineKind::FlatRate { name } => name.as_str(),
        };
        write!(
            f,
            "{} {what} {}–{} UTC",
            self.local_date,
            self.segment.start().format("%H:%M"),
            self.segment.end().format("%H:%M"),
        )?;
        if let Some(rate) = self.hourly_rate {
            write!(f, " at {}/h", Money::new(rate, self.amount.currency))?;
        }
        write!(f, ": {}", self.amount)
    }
}

/// Prices a stay of `kind` over `interval` at a lot in time zone `tz` whose
/// occupancy is `occupancy`.
///
/// Validates the card first (cheap and allocation-free for a valid card), so an
/// invalid card is an error here rather than a wrong price.
pub fn quote(
    card: &RateCard,
    tz: Tz,
    kind: SpotKind,
    interval: &Interval,
    occupancy: Occupancy,
) -> Result<Quote, PricingError> {
    card.validate()?;
    let currency = card.currency;
    let kind_factor = card.kind_factor_permille(kind);
    let demand_factor = card
        .demand
        .map_or(1000, |policy| policy.factor_permille(occupancy));
    let billed = billed_interval(interval, card.increment_minutes)?;

    let pricer = TimePricer {
        card,
        tz,
        billed,
        currency,
        factor: i128::from(kind_factor) * i128::from(demand_factor),
        daily_max: card.daily_max_for(kind),
    };
    let mut lines = pricer.lines()?;
    let time_total = Money::sum(currency, lines.iter().map(|l| l.amount))?;

    if let Some(flat) = cheapest_flat(card, tz, kind_factor, interval)?
        && flat.amount < time_total.amount
    {
        lines = vec![QuoteLine {
            kind: LineKind::FlatRate { name: flat.name },
            local_date: flat.entry_date,
            segment: billed,
            hourly_rate: None,
            amount: Money::new(flat.amount, currency),
        }];
    }

    let total = Money::sum(currency, lines.iter().map(|l| l.amount))?;
    Ok(Quote {
        total,
        billed,
        lines,
        kind_factor_permille: kind_factor,
        demand_factor_permille: demand_factor,
    })
}

/// `[start, start + ceil(duration / increment) × increment)`.
fn billed_interval(interval: &Interval, increment_minutes: u32) -> Result<Interval, PricingError> {
    let increment = i128::from(increment_minutes.max(1)) * NANOS_PER_MINUTE;
    let stay = i128::from(
        interval
            .duration()
            .num_nanoseconds()
            .ok_or(PricingError::OutOfRange)?,
    );
    let increments = (stay + increment - 1) / increment;
    let billed = i64::try_from(increments * increment).map_err(|_| PricingError::OutOfRange)?;
    let end = interval
        .start()
        .checked_add_signed(Duration::nanoseconds(billed))
        .ok_or(PricingError::OutOfRange)?;
    Interval::new(interval.start(), end).map_err(|_| PricingError::OutOfRange)
}

/// Splits the billed interval into local days and bands and prices the pieces.
struct TimePricer<'a> {
    card: &'a RateCard,
    tz: Tz,
    billed: Interval,
    currency: Currency,
    /// kind factor × demand factor, in millionths.
    factor: i128,
    daily_max: Option<i64>,
}

/// A run of time at one effective rate inside one local day, not yet priced.
#[derive(Clone, Copy)]
struct Run {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rate: i64,
}

impl TimePricer<'_> {
    fn lines(&self) -> Result<Vec<QuoteLine>, PricingError> {
        let mut lines = Vec::with_capacity(8);
        // The bands of the current weekday as (start s, end s, hourly), sorted.
        let mut bands: Vec<(u32, u32, i64)> = Vec::with_capacity(self.card.bands.len());
        let start = self.billed.start();
        let mut date = start.with_timezone(&self.tz).date_naive();
        let mut day_start = start_of_local_day(self.tz, date);
        // Where a zone falls back across midnight, an instant's calendar date can
        // precede the day range containing it; step back to the range that does.
        while day_start > start {
            date = date.pred_opt().ok_or(PricingError::OutOfRange)?;
            day_start = start_of_local_day(self.tz, date);
        }
        loop {
            let next = date.succ_opt().ok_or(PricingError::OutOfRange)?;
            let day_end = start_of_local_day(self.tz, next);
            if day_end > start {
                let day = LocalDay {
                    tz: self.tz,
                    date,
                    start: day_start,
                    end: day_end,
                };
                self.price_day(&day, &mut bands, &mut lines)?;
            }
            if day_end >= self.billed.end() {
                return Ok(lines);
            }
            date = next;
            day_start = day_end;
        }
    }

    fn price_day(
        &self,
        day: &LocalDay,
        bands: &mut Vec<(u32, u32, i64)>,
        lines: &mut Vec<QuoteLine>,
    ) -> Result<(), PricingError> {
        let weekday = day.date.weekday();
        bands.clear();
        bands.extend(
            self.card
                .bands
                .iter()
                .filter(|b| b.days.contains(&weekday))
                .map(|b| {
                    let (s, e) = b.span_secs();
                    (s, e, b.hourly)
                }),
        );
        bands.sort_unstable_by_key(|b| b.0);

        let lo = self.billed.start().max(day.start);
        let hi = self.billed.end().min(day.end);
        let first_line = lines.len();
        let mut pending: Option<Run> = None;
        let base = self.card.base_hourly;
        let mut cursor = 0u32; // local seconds of the day already split off
        let mut cursor_at = day.start; // ... and the instant they end at
        let mut next_band = 0;
        loop {
            // The next piece: the gap before the next band (base rate), the band
            // itself, or the rest of the day after the last band (base rate).
            let (end, hourly) = match bands.get(next_band) {
                Some(&(s, _, _)) if cursor < s => (s, base),
                Some(&(_, e, hourly)) => {
                    next_band += 1;
                    (e, hourly)
                }
                None if cursor < DAY_SECONDS => (DAY_SECONDS, base),
                None => break,
            };
            let a = cursor_at;
            let b = day.instant(end);
            cursor = end;
            cursor_at = b;
            let (a, b) = (a.max(lo), b.min(hi));
            if a >= hi {
                break;
            }
            if a >= b {
                continue;
            }
            let rate = self.rate(hourly)?;
            match &mut pending {
                Some(run) if run.rate == rate && run.end == a => run.end = b,
                _ => {
                    if let Some(run) = pending.replace(Run {
                        start: a,
                        end: b,
                        rate,
                    }) {
                        lines.push(self.time_line(day.date, run)?);
                    }
                }
            }
        }
        if let Some(run) = pending {
            lines.push(self.time_line(day.date, run)?);
        }

        if let Some(max) = self.daily_max {
            let day_total = lines[first_line..]
                .iter()
                .try_fold(0i64, |sum, l| sum.checked_add(l.amount.amount))
                .ok_or(PricingError::Overflow)?;
            if day_total > max {
                lines.push(QuoteLine {
                    kind: LineKind::DailyCap,
                    local_date: day.date,
                    segment: Interval::new(lo, hi).map_err(|_| PricingError::OutOfRange)?,
                    hourly_rate: None,
                    amount: Money::new(max - day_total, self.currency),
                });
            }
        }
        Ok(())
    }

    /// `round_half_away(hourly × kind factor × demand factor / 10^6)`.
    fn rate(&self, hourly: i64) -> Result<i64, PricingError> {
        let rate = div_round_half_away(i128::from(hourly) * self.factor, 1_000_000);
        i64::try_from(rate).map_err(|_| PricingError::Overflow)
    }

    /// `round_half_away(rate × length / 1 h)`, the length exact to the nanosecond.
    fn time_line(&self, date: NaiveDate, run: Run) -> Result<QuoteLine, PricingError> {
        let nanos = (run.end - run.start)
            .num_nanoseconds()
            .ok_or(PricingError::OutOfRange)?;
        let amount = div_round_half_away(i128::from(run.rate) * i128::from(nanos), NANOS_PER_HOUR);
        Ok(QuoteLine {
            kind: LineKind::Time,
            local_date: date,
            segment: Interval::new(run.start, run.end).map_err(|_| PricingError::OutOfRange)?,
            hourly_rate: Some(run.rate),
            amount: Money::new(
                i64::try_from(amount).map_err(|_| PricingError::Overflow)?,
                self.currency,
            ),
        })
    }
}

/// One local calendar day of the lot as the UTC range `[start, end)`.
struct LocalDay {
    tz: Tz,
    date: NaiveDate,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl LocalDay {
    /// The UTC instant of local time `secs` (seconds since midnight, 86 400 = the
    /// next midnight) on this day, by the DST rule of [`local_to_utc`].
    fn instant(&self, secs: u32) -> DateTime<Utc> {
        if secs >= DAY_SECONDS {
            return self.end;
        }
        if secs == 0 {
            return self.start;
        }
        let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or(NaiveTime::MIN);
        local_to_utc(self.tz, self.date.and_time(time))
    }
}

/// The cheapest flat rate the stay qualifies for, at its kind-adjusted price.
struct FlatChoice {
    name: String,
    entry_date: NaiveDate,
    amount: i64,
}

fn cheapest_flat(
    card: &RateCard,
    tz: Tz,
    kind_factor: u32,
    interval: &Interval,
) -> Result<Option<FlatChoice>, PricingError> {
    if card.flat_rates.is_empty() {
        return Ok(None);
    }
    let entry = interval.start().with_timezone(&tz);
    let entry_date = entry.date_naive();
    let entry_secs = entry.time().num_seconds_from_midnight();
    let weekday = entry_date.weekday();
    let mut best: Option<(usize, i64)> = None;
    for (i, flat) in card.flat_rates.iter().enumerate() {
        let enters = flat.days.contains(&weekday)
            && secs(flat.enter_from) <= entry_secs
            && entry_secs < end_secs(flat.enter_until);
        if !enters {
            continue;
        }
        let exit_date = if flat.exit_by > flat.enter_from {
            entry_date
        } else {
            entry_date.succ_opt().ok_or(PricingError::OutOfRange)?
        };
        if interval.end() > local_to_utc(tz, exit_date.and_time(flat.exit_by)) {
            continue;
        }
        let price = scale_permille(flat.price, kind_factor);
        if best.is_none_or(|(_, b)| price < b) {
            best = Some((i, price));
        }
    }
    Ok(best.map(|(i, amount)| FlatChoice {
        name: card.flat_rates[i].name.clone(),
        entry_date,
        amount,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{NaiveDateTime, Weekday};
    use chrono_tz::Europe::Berlin;

    use super::*;
    use crate::pricing::{DemandPolicy, FlatRate, RateBand};

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    /// A local wall-clock time in `tz` as a UTC instant.
    fn local(tz: Tz, d: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
        local_to_utc(tz, NaiveDateTime::new(d, hm(h, m)))
    }

    fn stay(tz: Tz, from: (NaiveDate, u32, u32), to: (NaiveDate, u32, u32)) -> Interval {
        Interval::new(
            local(tz, from.0, from.1, from.2),
            local(tz, to.0, to.1, to.2),
        )
        .expect("non-empty stay")
    }

    /// Base 1.00 €/h; Mon–Fri 08:00–18:00 3.00 €/h; 1-minute increments.
    fn simple_card() -> RateCard {
        use Weekday::{Fri, Mon, Thu, Tue, Wed};
        RateCard {
            currency: Currency::EUR,
            base_hourly: 100,
            bands: vec![RateBand {
                days: vec![Mon, Tue, Wed, Thu, Fri],
                start: hm(8, 0),
                end: hm(18, 0),
                hourly: 300,
            }],
            kind_factors_permille: BTreeMap::new(),
            increment_minutes: 1,
            flat_rates: Vec::new(),
            daily_max: None,
            demand: None,
        }
    }

    const MON: (i32, u32, u32) = (2026, 3, 2);

    fn mon() -> NaiveDate {
        date(MON.0, MON.1, MON.2)
    }

    fn priced(card: &RateCard, kind: SpotKind, interval: &Interval, occ: Occupancy) -> Quote {
        let q = quote(card, Berlin, kind, interval, occ).expect("priced");
        let sum: i64 = q.lines.iter().map(|l| l.amount.amount).sum();
        assert_eq!(q.total.amount, sum, "total is the sum of the lines");
        assert!(q.lines.iter().all(|l| l.amount.currency == card.currency));
        q
    }

    fn amounts(q: &Quote) -> Vec<(Option<i64>, i64)> {
        q.lines
            .iter()
            .map(|l| (l.hourly_rate, l.amount.amount))
            .collect()
    }

    #[test]
    fn a_stay_is_split_at_band_boundaries() {
        let s = stay(Berlin, (mon(), 7, 0), (mon(), 9, 30));
        let q = priced(&simple_card(), SpotKind::Regular, &s, Occupancy::EMPTY);
        assert_eq!(amounts(&q), [(Some(100), 100), (Some(300), 450)]);
        assert_eq!(q.total, Money::new(550, Currency::EUR));
        assert_eq!(q.lines[1].segment.start(), local(Berlin, mon(), 8, 0));
        assert!(q.lines.iter().all(|l| l.local_date == mon()));
    }

    #[test]
    fn the_kind_factor_scales_the_hourly_rate() {
        let mut card = simple_card();
        card.kind_factors_permille.insert(SpotKind::Ev, 1250);
        let s = stay(Berlin, (mon(), 7, 0), (mon(), 9, 30));
        let ev = priced(&card, SpotKind::Ev, &s, Occupancy::EMPTY);
        // 375 €c/h × 1.5 h = 562.5 → 563 (half away from zero).
        assert_eq!(amounts(&ev), [(Some(125), 125), (Some(375), 563)]);
        assert_eq!(ev.kind_factor_permille, 1250);
        let regular = priced(&card, SpotKind::Regular, &s, Occupancy::EMPTY);
        assert_eq!(regular.total.amount, 550);
    }

    #[test]
    fn the_stay_is_rounded_up_to_whole_increments() {
        let mut card = simple_card();
        card.increment_minutes = 15;
        let s = stay(Berlin, (mon(), 8, 0), (mon(), 9, 1));
        let q = priced(&card, SpotKind::Regular, &s, Occupancy::EMPTY);
        assert_eq!(q.billed.end(), local(Berlin, mon(), 9, 15));
        assert_eq!(q.total.amount, 375);
        let exact = stay(Berlin, (mon(), 8, 0), (mon(), 9, 0));
        let q = priced(&card, SpotKind::Regular, &exact, Occupancy::EMPTY);
        assert_eq!(q.billed, exact);
        assert_eq!(q.total.amount, 300);
    }

    #[test]
    fn adjacent_pieces_at_the_same_rate_merge_into_one_line() {
        let mut card = simple_card();
        card.bands.push(RateBand {
            days: vec![Weekday::Mon],
            start: hm(18, 0),
            end: hm(20, 0),
            hourly: 300,
        });
        let s = stay(Berlin, (mon(), 17, 0), (mon(), 21, 0));
        let q = priced(&card, SpotKind::Regular, &s, Occupancy::EMPTY);
        assert_eq!(amounts(&q), [(Some(300), 900), (Some(100), 100)]);
    }

    #[test]
    fn early_bird_applies_when_cheaper_and_only_until_exit_by() {
        let card = RateCard::example_eur();
        let occ = Occupancy::from_permille(700); // inside the demand band
        let day = stay(Berlin, (mon(), 8, 0), (mon(), 18, 30));
        let q = priced(&card, SpotKind::Regular, &day, occ);
        assert_eq!(q.lines.len(), 1);
        assert_eq!(
            q.lines[0].kind,
            LineKind::FlatRate {
                name: "early bird".into()
            }
        );
        assert_eq!(q.total.amount, 1200);
        assert_eq!(q.lines[0].local_date, mon());

        // Leaving after 19:00: time-based, 800 + 2400 + 250 → capped at 24.00 €.
        let late = stay(Berlin, (mon(), 8, 0), (mon(), 19, 1));
        let q = priced(&card, SpotKind::Regular, &late, occ);
        assert_eq!(q.total.amount, 2400);
        assert_eq!(q.lines.last().map(|l| &l.kind), Some(&LineKind::DailyCap));

        // A short stay stays cheaper than the flat price.
        let short = stay(Berlin, (mon(), 8, 0), (mon(), 9, 0));
        let q = priced(&card, SpotKind::Regular, &short, occ);
        assert_eq!(amounts(&q), [(Some(400), 400)]);

        // EV bays pay the flat price × 1.25.
        let q = priced(&card, SpotKind::Ev, &day, occ);
        assert_eq!(q.total.amount, 1500);

        // Entering at 09:00 is too late.
        let q = priced(
            &card,
            SpotKind::Regular,
            &stay(Berlin, (mon(), 9, 0), (mon(), 18, 0)),
            occ,
        );
        assert!(
            q.lines
                .iter()
                .all(|l| !matches!(l.kind, LineKind::FlatRate { .. }))
        );
    }

    #[test]
    fn evening_flat_crosses_midnight() {
        let card = RateCard::example_eur();
        let occ = Occupancy::from_permille(700);
        let (tue, wed) = (date(2026, 3, 3), date(2026, 3, 4));
        let q = priced(
            &card,
            SpotKind::Regular,
            &stay(Berlin, (tue, 20, 0), (wed, 5, 30)),
            occ,
        );
        assert_eq!(
            q.lines[0].kind,
            LineKind::FlatRate {
                name: "evening".into()
            }
        );
        assert_eq!((q.lines.len(), q.total.amount), (1, 600));
        assert_eq!(q.lines[0].local_date, tue);

        // Past 06:00 the flat no longer applies: 4 h × 2.50 + 6.25 h × 1.50.
        let q = priced(
            &card,
            SpotKind::Regular,
            &stay(Berlin, (tue, 20, 0), (wed, 6, 15)),
            occ,
        );
        assert_eq!(amounts(&q), [(Some(250), 1000), (Some(150), 938)]);
        assert_eq!(q.lines[0].local_date, tue);
        assert_eq!(q.lines[1].local_date, wed);
    }

    #[test]
    fn daily_cap_applies_per_local_day_of_a_three_day_stay() {
        let mut card = simple_card();
        card.daily_max = Some(2000);
        let thu = date(2026, 3, 5);
        let q = priced(
            &card,
            SpotKind::Regular,
            &stay(Berlin, (mon(), 12, 0), (thu, 10, 0)),
            Occupancy::EMPTY,
        );
        // Mon 1800 + 600 → 2000; Tue and Wed 800 + 3000 + 600 → 2000; Thu 800 + 600.
        assert_eq!(q.total.amount, 2000 * 3 + 1400);
        let caps: Vec<(NaiveDate, i64)> = q
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::DailyCap)
            .map(|l| (l.local_date, l.amount.amount))
            .collect();
        assert_eq!(
            caps,
            [
                (mon(), -400),
                (date(2026, 3, 3), -2400),
                (date(2026, 3, 4), -2400)
            ]
        );
        // Kind factors scale the cap too.
        card.kind_factors_permille.insert(SpotKind::Motorcycle, 500);
        let q = priced(
            &card,
            SpotKind::Motorcycle,
            &stay(Berlin, (mon(), 0, 0), (date(2026, 3, 3), 0, 0)),
            Occupancy::EMPTY,
        );
        assert_eq!(q.total.amount, 1000);
    }

    #[test]
    fn demand_moves_hourly_rates_within_floor_and_ceiling() {
        let mut card = simple_card();
        card.demand = Some(DemandPolicy {
            target_low_pct: 60,
            target_high_pct: 80,
            step_pct: 10,
            floor_permille: 900,
            ceiling_permille: 2000,
        });
        let hour = stay(Berlin, (mon(), 9, 0), (mon(), 10, 0));
        let at = |occ| priced(&card, SpotKind::Regular, &hour, occ);
        let up = at(Occupancy::from_counts(90, 100));
        assert_eq!((up.demand_factor_permille, up.total.amount), (1100, 330));
        let inside = at(Occupancy::from_counts(70, 100));
        assert_eq!(
            (inside.demand_factor_permille, inside.total.amount),
            (1000, 300)
        );
        // 50 % is one started width below 60 %; 0 % would be 700 ‰, floored at 900 ‰.
        let down = at(Occupancy::from_counts(50, 100));
        assert_eq!((down.demand_factor_permille, down.total.amount), (900, 270));
        let floored = at(Occupancy::EMPTY);
        assert_eq!(
            (floored.demand_factor_permille, floored.total.amount),
            (900, 270)
        );
    }

    #[test]
    fn demand_does_not_move_flat_prices() {
        let card = RateCard::example_eur();
        let day = stay(Berlin, (mon(), 8, 0), (mon(), 18, 30));
        let q = priced(&card, SpotKind::Regular, &day, Occupancy::FULL);
        assert_eq!((q.demand_factor_permille, q.total.amount), (1100, 1200));
    }

    #[test]
    fn yen_cards_have_no_minor_unit() {
        let card = RateCard {
            currency: Currency::JPY,
            base_hourly: 333,
            increment_minutes: 10,
            ..simple_card()
        };
        let sat = date(2026, 3, 7);
        let tokyo = chrono_tz::Asia::Tokyo;
        let q = quote(
            &card,
            tokyo,
            SpotKind::Regular,
            &stay(tokyo, (sat, 0, 0), (sat, 0, 25)),
            Occupancy::EMPTY,
        )
        .expect("priced");
        // Billed 30 min at 333 ¥/h = 166.5 → 167 ¥.
        assert_eq!(q.total, Money::new(167, Currency::JPY));
        assert_eq!(q.total.to_string(), "167 JPY");
    }

    #[test]
    fn dst_days_are_23_and_25_hours_long() {
        let mut card = simple_card();
        card.bands.push(RateBand {
            days: vec![Weekday::Sun],
            start: hm(1, 0),
            end: hm(4, 0),
            hourly: 300,
        });
        let (spring, autumn) = (date(2026, 3, 29), date(2026, 10, 25));
        let next = |d: NaiveDate| d.succ_opt().expect("valid");
        let q = priced(
            &card,
            SpotKind::Regular,
            &stay(Berlin, (spring, 0, 0), (next(spring), 0, 0)),
            Occupancy::EMPTY,
        );
        // 01:00–04:00 holds only two real hours (02:00–03:00 does not exist).
        assert_eq!(
            amounts(&q),
            [(Some(100), 100), (Some(300), 600), (Some(100), 2000)]
        );
        let q = priced(
            &card,
            SpotKind::Regular,
            &stay(Berlin, (autumn, 0, 0), (next(autumn), 0, 0)),
            Occupancy::EMPTY,
        );
        // 01:00–04:00 holds four real hours (02:00–03:00 happens twice).
        assert_eq!(
            amounts(&q),
            [(Some(100), 100), (Some(300), 1200), (Some(100), 2000)]
        );
        assert!(q.lines.iter().all(|l| l.local_date == autumn));
    }

    #[test]
    fn an_invalid_card_is_refused() {
        let mut card = simple_card();
        card.increment_minutes = 0;
        let s = stay(Berlin, (mon(), 8, 0), (mon(), 9, 0));
        let err = quote(&card, Berlin, SpotKind::Regular, &s, Occupancy::EMPTY)
            .expect_err("invalid card");
        assert!(matches!(err, PricingError::InvalidCard(e) if e.mentions("increment_minutes")));
    }

    #[test]
    fn flat_rate_lists_take_the_cheapest_and_respect_weekdays() {
        let mut card = simple_card();
        let flat = |name: &str, price| FlatRate {
            name: name.into(),
            days: vec![Weekday::Mon],
            enter_from: hm(6, 0),
            enter_until: hm(10, 0),
            exit_by: hm(20, 0),
            price,
        };
        card.flat_rates = vec![flat("a", 1500), flat("b", 1400), flat("c", 1400)];
        let s = stay(Berlin, (mon(), 8, 0), (mon(), 17, 0));
        let q = priced(&card, SpotKind::Regular, &s, Occupancy::EMPTY);
        assert_eq!(q.lines[0].kind, LineKind::FlatRate { name: "b".into() });
        let tue = date(2026, 3, 3);
        let q = priced(
            &card,
            SpotKind::Regular,
            &stay(Berlin, (tue, 8, 0), (tue, 17, 0)),
            Occupancy::EMPTY,
        );
        assert_eq!(q.total.amount, 2700);
    }
}
