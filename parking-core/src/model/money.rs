//! Money: integer minor units plus an ISO-4217 currency. Never floats.
//!
//! Arithmetic that would mix currencies or overflow is an error, not a panic
//! and not a silent wrap.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// An ISO-4217 alphabetic currency code (three upper-case ASCII letters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

/// Errors from building or combining money values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// The code is not three upper-case ASCII letters.
    #[error("invalid currency code {0:?}: expected three upper-case letters such as EUR")]
    InvalidCurrency(String),
    /// Two amounts in different currencies were combined.
    #[error("cannot combine amounts in {left} and {right}")]
    CurrencyMismatch {
        /// The currency of the left operand.
        left: Currency,
        /// The currency of the right operand.
        right: Currency,
    },
    /// The result does not fit in 64-bit minor units.
    #[error("amount overflow")]
    Overflow,
}

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Pound sterling.
    pub const GBP: Currency = Currency(*b"GBP");
    /// Swiss franc.
    pub const CHF: Currency = Currency(*b"CHF");
    /// Danish krone.
    pub const DKK: Currency = Currency(*b"DKK");
    /// Australian dollar.
    pub const AUD: Currency = Currency(*b"AUD");
    /// Japanese yen (no minor unit).
    pub const JPY: Currency = Currency(*b"JPY");

    /// Parses a code; lower case is refused so that stored values stay canonical.
    pub fn new(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([bytes[0], bytes[1], bytes[2]]))
        } else {
            Err(MoneyError::InvalidCurrency(code.to_owned()))
        }
    }

    /// The code as a string slice.
    pub fn code(&self) -> &str {
        // The constructor admits only ASCII letters, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Number of decimal digits of the minor unit (ISO-4217), e.g. 2 for EUR,
    /// 0 for JPY, 3 for KWD. Codes not in the exception lists have 2.
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            b"CLF" | b"UYW" => 4,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::new(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::new(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money in integer minor units (cents, pence, yen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Minor units; may be negative (discounts, refunds, cap adjustments).
    pub amount: i64,
    /// The currency the amount is in.
    pub currency: Currency,
}

impl Money {
    /// An amount in minor units.
    pub const fn new(amount: i64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Zero in a currency.
    pub const fn zero(currency: Currency) -> Self {
        Money::new(0, currency)
    }

    /// True if the amount is zero.
    pub const fn is_zero(&self) -> bool {
        self.amount == 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// `self + other`, refusing mixed currencies and overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self - other`, refusing mixed currencies and overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let amount = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// The smaller of two amounts in the same currency.
    pub fn checked_min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        Ok(if other.amount < self.amount {
            other
        } else {
            self
        })
    }

    /// Multiplies by `numerator / denominator`, rounding half away from zero.
    /// Used for percentages (refund policies) without floats.
    pub fn mul_ratio(self, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::Overflow);
        }
        let value = div_round_half_away(
            i128::from(self.amount) * i128::from(numerator),
            i128::from(denominator),
        );
        let amount = i64::try_from(value).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Sums amounts that must all be in `currency`.
    pub fn sum<I: IntoIterator<Item = Money>>(
        currency: Currency,
        items: I,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }
}

/// Integer division rounding half away from zero. `denominator` must be non-zero.
pub(crate) fn div_round_half_away(numerator: i128, denominator: i128) -> i128 {
    let (n, d) = if denominator < 0 {
        (-numerator, -denominator)
    } else {
        (numerator, denominator)
    };
    if n >= 0 {
        (n + d / 2) / d
    } else {
        -((-n + d / 2) / d)
    }
}

impl fmt::Display for Money {
    /// Formats with the currency's exponent: `12.50 EUR`, `1500 JPY`, `1.250 KWD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        if exp == 0 {
            return write!(f, "{sign}{abs} {}", self.currency);
        }
        let scale = 10u64.pow(exp);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / scale,
            abs % scale,
            self.currency,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_validated() {
        assert_eq!(Currency::new("EUR"), Ok(Currency::EUR));
        assert!(Currency::new("eur").is_err());
        assert!(Currency::new("EURO").is_err());
        assert!(Currency::new("E1R").is_err());
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let eur = Money::new(100, Currency::EUR);
        let usd = Money::new(100, Currency::USD);
        assert_eq!(
            eur.checked_add(usd),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::USD
            })
        );
        assert_eq!(eur.checked_add(eur), Ok(Money::new(200, Currency::EUR)));
        assert_eq!(
            Money::new(i64::MAX, Currency::EUR).checked_add(Money::new(1, Currency::EUR)),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn display_uses_the_currency_exponent() {
        assert_eq!(Money::new(1250, Currency::EUR).to_string(), "12.50 EUR");
        assert_eq!(Money::new(-5, Currency::EUR).to_string(), "-0.05 EUR");
        assert_eq!(Money::new(1500, Currency::JPY).to_string(), "1500 JPY");
        let kwd = Currency::new("KWD").expect("valid");
        assert_eq!(Money::new(1250, kwd).to_string(), "1.250 KWD");
    }

    #[test]
    fn ratios_round_half_away_from_zero() {
        let m = Money::new(999, Currency::EUR);
        assert_eq!(m.mul_ratio(50, 100).map(|m| m.amount), Ok(500)); // 499.5 -> 500
        assert_eq!(
            Money::new(-999, Currency::EUR)
                .mul_ratio(1, 2)
                .map(|m| m.amount),
            Ok(-500)
        );
        assert_eq!(m.mul_ratio(1, 0), Err(MoneyError::Overflow));
        assert_eq!(div_round_half_away(5, 2), 3);
        assert_eq!(div_round_half_away(4, 3), 1);
        assert_eq!(div_round_half_away(-5, 2), -3);
    }
}
