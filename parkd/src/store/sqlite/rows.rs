//! Conversions between domain values and SQLite column values: instants as
//! integer microseconds since the Unix epoch, ids as UUID text, JSON as text.

use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::store::StoreError;

/// An instant as stored.
pub fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored instant; out-of-range values are corrupt data.
pub fn instant(micros: i64) -> Result<DateTime<Utc>, rusqlite::Error> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(0, Type::Integer, "instant out of range".into())
    })
}

/// A stored UUID.
pub fn uuid(text: &str) -> Result<Uuid, rusqlite::Error> {
    Uuid::parse_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))
}

/// A value as JSON text.
pub fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Internal(format!("encoding JSON: {e}")))
}

/// A value from JSON text.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, rusqlite::Error> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))
}

/// A value parsed from text with `FromStr`.
pub fn parse<T>(text: &str) -> Result<T, rusqlite::Error>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))
}
