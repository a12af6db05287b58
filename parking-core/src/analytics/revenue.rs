//! Revenue per local calendar day of a lot.
//!
//! A reservation's total is booked on the local day (in the lot's zone) on which
//! its stay starts — the day the driver parks — and is not split across midnight.
//! Only statuses that [`earn_revenue`](super::earns_revenue) count; refunds and
//! cancellation fees are parkd's payment ledger's business (see the module notes).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::{AnalyticsError, earns_revenue};
use crate::model::local_time::local_date;
use crate::model::{Currency, Money, Reservation};

/// Revenue of one lot per local day, ascending by date, for the days on which at
/// least one earning stay starts. `currency` is the lot's; a reservation in any
/// other currency is [`AnalyticsError::CurrencyMismatch`], not a silent mix.
pub fn revenue_by_local_day(
    reservations: &[Reservation],
    tz: Tz,
    currency: Currency,
) -> Result<Vec<(NaiveDate, Money)>, AnalyticsError> {
    let mut days: BTreeMap<NaiveDate, Money> = BTreeMap::new();
    for r in reservations.iter().filter(|r| earns_revenue(r.status)) {
        if r.total.currency != currency {
            return Err(AnalyticsError::CurrencyMismatch {
                reservation: r.id,
                expected: currency,
                found: r.total.currency,
            });
        }
        let day = days
            .entry(local_date(tz, r.interval.start()))
            .or_insert(Money::zero(currency));
        *day = day.checked_add(r.total)?;
    }
    Ok(days.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Interval, LotId, ReservationId, ReservationStatus, SpotId, UserId};
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use chrono_tz::{Australia::Sydney, Europe::Berlin};

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("valid instant")
    }

    fn reservation(
        id: u128,
        start: DateTime<Utc>,
        status: ReservationStatus,
        total: Money,
    ) -> Reservation {
        Reservation {
            id: ReservationId::from_u128(id),
            lot_id: LotId::from_u128(1),
            spot_id: SpotId::from_u128(id),
            user_id: UserId::from_u128(1),
            interval: Interval::starting_at(start, Duration::hours(2)).expect("non-empty"),
            status,
            hold_expires_at: None,
            total,
            created_at: start - Duration::days(1),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn revenue_is_grouped_by_local_day_not_utc_day() {
        use ReservationStatus::*;
        let aud = |a| Money::new(a, Currency::AUD);
        // Sydney is UTC+11 in January: 2026-01-10 14:00 UTC is already the 11th locally.
        let rs = [
            reservation(1, utc(2026, 1, 10, 14, 0), Completed, aud(1000)),
            reservation(2, utc(2026, 1, 10, 12, 59), CheckedIn, aud(500)),
            reservation(3, utc(2026, 1, 10, 13, 0), Confirmed, aud(250)),
            reservation(4, utc(2026, 1, 10, 13, 0), Cancelled, aud(9999)),
            reservation(5, utc(2026, 1, 10, 13, 0), NoShow, aud(9999)),
            reservation(6, utc(2026, 1, 10, 13, 0), Held, aud(9999)),
            reservation(7, utc(2026, 1, 10, 13, 0), Expired, aud(9999)),
        ];
        let got = revenue_by_local_day(&rs, Sydney, Currency::AUD).expect("one currency");
        assert_eq!(
            got,
            vec![
                (date(2026, 1, 10), aud(500)),
                (date(2026, 1, 11), aud(1250))
            ]
        );
    }

    #[test]
    fn revenue_days_follow_a_dst_change() {
        use ReservationStatus::Completed;
        let eur = |a| Money::new(a, Currency::EUR);
        // Berlin falls back on 2026-10-25 (the day has 25 hours). 22:30 UTC on the 24th
        // is 00:30 CEST on the 25th; 22:30 UTC on the 25th is 23:30 CET, still the 25th;
        // 23:00 UTC on the 25th is midnight CET, the 26th.
        let rs = [
            reservation(1, utc(2026, 10, 24, 21, 59), Completed, eur(100)),
            reservation(2, utc(2026, 10, 24, 22, 30), Completed, eur(200)),
            reservation(3, utc(2026, 10, 25, 22, 30), Completed, eur(300)),
            reservation(4, utc(2026, 10, 25, 23, 0), Completed, eur(400)),
        ];
        let got = revenue_by_local_day(&rs, Berlin, Currency::EUR).expect("one currency");
        assert_eq!(
            got,
            vec![
                (date(2026, 10, 24), eur(100)),
                (date(2026, 10, 25), eur(500)),
                (date(2026, 10, 26), eur(400)),
            ]
        );
    }

    #[test]
    fn a_foreign_currency_is_a_typed_error() {
        use ReservationStatus::Completed;
        let rs = [
            reservation(
                1,
                utc(2026, 1, 10, 9, 0),
                Completed,
                Money::new(100, Currency::EUR),
            ),
            reservation(
                2,
                utc(2026, 1, 10, 9, 0),
                Completed,
                Money::new(100, Currency::USD),
            ),
        ];
        assert_eq!(
            revenue_by_local_day(&rs, Berlin, Currency::EUR),
            Err(AnalyticsError::CurrencyMismatch {
                reservation: ReservationId::from_u128(2),
                expected: Currency::EUR,
                found: Currency::USD,
            })
        );
        // A cancelled foreign-currency reservation earns nothing and is not an error.
        let mut cancelled = rs[1].clone();
        cancelled.status = ReservationStatus::Cancelled;
        assert!(revenue_by_local_day(&[rs[0].clone(), cancelled], Berlin, Currency::EUR).is_ok());
    }
}
