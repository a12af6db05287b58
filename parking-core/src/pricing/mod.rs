//! Pricing: rate cards, demand-responsive adjustment and quotes.
//!
//! Layout:
//! - [`card`] — [`RateCard`] (base rate, bands, kind factors, increment, flat
//!   rates, daily maximum, demand policy) and its validation ([`CardError`] names
//!   the offending field, e.g. `bands[2].end`);
//! - [`demand`] — [`Occupancy`] and the SFpark-style [`DemandPolicy`];
//! - [`quote`](mod@quote) — [`quote()`](quote::quote), [`Quote`] and [`QuoteLine`].
//!
//! # How a stay is priced
//!
//! 1. **Billed interval.** `[start, start + ⌈stay / increment⌉ × increment)`:
//!    the stay is rounded *up* to whole billing increments counted from the entry.
//! 2. **Time lines.** The billed interval is split at local midnights and at local
//!    band boundaries, in the lot's time zone, through
//!    [`local_to_utc`](crate::model::local_time::local_to_utc) and
//!    [`start_of_local_day`](crate::model::local_time::start_of_local_day), so
//!    23- and 25-hour DST days are split correctly (a boundary inside a
//!    spring-forward gap moves to the end of the gap; a repeated local time means
//!    its first occurrence). Time outside every band is charged at the base rate.
//!    Each piece's *effective hourly rate* is
//!    `round(band_or_base × kind_factor × demand_factor / 10⁶)` and its amount
//!    `round(rate × length / 1 h)`, the length exact to the nanosecond. Adjacent
//!    pieces of one local day at the same effective rate are merged into one line
//!    before the amount is computed. Every line belongs to exactly one local day
//!    ([`QuoteLine::local_date`]).
//! 3. **Daily maximum.** Per local calendar day, if that day's time lines exceed
//!    `daily_max × kind_factor`, a negative [`LineKind::DailyCap`] line brings the
//!    day down to it.
//! 4. **Flat rates.** A flat rate is eligible when the entry is on one of its
//!    weekdays at a local time in `[enter_from, enter_until)` and the *actual*
//!    exit is at or before its `exit_by` instant. The cheapest eligible flat price
//!    (× kind factor) replaces the whole quote with a single
//!    [`LineKind::FlatRate`] line when it is strictly below the time-based total
//!    (caps included); on a tie the itemised time lines are kept.
//! 5. **Total** = the sum of the lines, always, in the card's currency.
//!
//! # Factors
//!
//! The kind factor (e.g. EV ×1.25) scales everything a kind pays: hourly rates,
//! flat prices and the daily maximum, so an EV bay costs 1.25 × a regular bay
//! under every rule. The demand factor scales hourly rates only: flat prices and
//! the daily maximum are posted promises at the gate and do not float with
//! occupancy.
//!
//! # Rounding
//!
//! Integer minor units throughout (`i64`, with `i128` intermediates), every
//! division rounding half away from zero; an amount that does not fit is
//! [`PricingError::Overflow`], never a wrap. Rounding happens in exactly three
//! places: the effective hourly rate, each time line's amount, and the
//! kind-scaled flat price / daily maximum. Quotes are deterministic: the same
//! inputs give the same lines.
//!
//! # Longer never costs less
//!
//! For a fixed entry, the total never decreases as the exit moves later. Every
//! rate is non-negative (validated), each line's rounding is monotone in its
//! length, a per-day cap `min(day, cap)` is monotone, and flat eligibility only
//! ever *ends* as the exit moves later (there is an `exit_by`, but no minimum
//! stay). So `total(later) ≥ time(later) ≥ time(earlier) ≥ min(time, flat)(earlier)`.
//!
//! There is deliberately **no "must leave after Y" condition** on flat rates. The
//! classic early-bird rule "enter before 09:00, leave after 15:30, pay 12 €" makes
//! a driver who leaves at 15:00 pay more by the hour than one who stays until
//! 18:00 — the short stay costs more than the long one. With
//! `min(time-based, flat)` the flat price is reached naturally once a stay gets
//! long enough, and leaving earlier can only be cheaper.
//!
//! # Worked example
//!
//! [`RateCard::example_eur`]: peak band 07:00–10:00 at 4.00 €/h, base 1.50 €/h,
//! EV ×1.25, 15-minute increments, demand 60–80 % stepping 10 %. An EV driver
//! enters a Berlin lot on Monday 2026-03-02 at 06:50 local (05:50 UTC) and leaves
//! at 08:02; the lot is 85 % full.
//!
//! - Demand: 85 % is above 80 % by less than one 20-point width → ×1.10.
//! - Billed: 72 min → 5 increments → 06:50–08:05.
//! - 06:50–07:00 base: rate `150 × 1250 × 1100 / 10⁶ = 206.25 → 206`;
//!   amount `206 × 10/60 = 34.33 → 34`.
//! - 07:00–08:05 peak: rate `400 × 1.375 = 550`; amount `550 × 65/60 = 595.83 → 596`.
//! - The early bird is eligible (entered 05:00–09:00, left by 19:00) but costs
//!   `1200 × 1.25 = 1500` > 630, so the time lines stand. Total 6.30 €.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use parking_core::model::{Interval, SpotKind};
//! use parking_core::pricing::{quote, LineKind, Occupancy, RateCard};
//!
//! let card = RateCard::example_eur();
//! let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).single().expect("valid");
//! let stay = Interval::new(at(5, 50), at(7, 2)).expect("non-empty");
//! let q = quote(&card, chrono_tz::Europe::Berlin, SpotKind::Ev, &stay,
//!               Occupancy::from_counts(85, 100)).expect("priced");
//!
//! assert_eq!(q.demand_factor_permille, 1100);
//! assert_eq!(q.billed.end(), at(7, 5));
//! let amounts: Vec<(Option<i64>, i64)> =
//!     q.lines.iter().map(|l| (l.hourly_rate, l.amount.amount)).collect();
//! assert_eq!(amounts, [(Some(206), 34), (Some(550), 596)]);
//! assert!(q.lines.iter().all(|l| l.kind == LineKind::Time));
//! assert_eq!(q.total.to_string(), "6.30 EUR");
//! assert_eq!(q.lines[0].to_string(), "2026-03-02 time 05:50–06:00 UTC at 2.06 EUR/h: 0.34 EUR");
//! ```

pub mod card;
pub mod demand;
mod error;
pub mod quote;

pub use card::{CardError, CardIssue, CardProblem, FlatRate, RateBand, RateCard};
pub use demand::{DemandPolicy, Occupancy};
pub use error::PricingError;
pub use quote::{LineKind, Quote, QuoteLine, quote};
