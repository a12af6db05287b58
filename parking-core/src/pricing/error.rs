//! The pricing error type.

use thiserror::Error;

use super::card::CardError;
use crate::model::MoneyError;

/// Why a stay could not be priced.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PricingError {
    /// The rate card failed [`validate`](super::RateCard::validate).
    #[error(transparent)]
    InvalidCard(#[from] CardError),
    /// An amount or rate does not fit in 64-bit minor units.
    #[error("amount overflow while pricing")]
    Overflow,
    /// The stay reaches outside the range of representable dates.
    #[error("stay is too long to price")]
    OutOfRange,
    /// Money arithmetic failed (overflow while summing lines).
    #[error(transparent)]
    Money(#[from] MoneyError),
}
