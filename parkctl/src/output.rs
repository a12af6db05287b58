//! Output: `-o table` (fits the terminal, colour only on a TTY and never
//! with `NO_COLOR`), `-o json` (the wire types as parkd sent them) and
//! `-o csv`.

use std::io::IsTerminal;

use clap::ValueEnum;
use comfy_table::{Attribute, Cell, ContentArrangement, Table, presets};
use parking_api::MoneyDto;
use serde::Serialize;

use crate::error::CtlError;

/// How a listing is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
    /// CSV with a header row.
    Csv,
}

/// Whether to use colour on stdout.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints rows under `headers` as a table or CSV, or `value` as JSON.
pub fn print(
    format: Format,
    headers: &[&str],
    rows: Vec<Vec<String>>,
    value: &impl Serialize,
) -> Result<(), CtlError> {
    match format {
        Format::Json => print_json(value),
        Format::Csv => {
            println!("{}", csv_line(headers.iter().map(|h| h.to_string())));
            for row in rows {
                println!("{}", csv_line(row.into_iter()));
            }
            Ok(())
        }
        Format::Table => {
            println!("{}", table(headers, rows));
            Ok(())
        }
    }
}

/// Pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> Result<(), CtlError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CtlError::Config(format!("cannot print JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// A table fitted to the terminal's width (when there is one).
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let bold = colour();
    table.set_header(headers.iter().map(|h| {
        let cell = Cell::new(h);
        if bold {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    if !bold {
        table.force_no_tty();
    }
    for row in rows {
        table.add_row(row);
    }
    table
}

fn csv_line(fields: impl Iterator<Item = String>) -> String {
    fields
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `12.50 EUR` from minor units (two decimals).
pub fn money(m: &MoneyDto) -> String {
    minor(m.amount, &m.currency)
}

/// Minor units of `currency` with the currency's own decimals: `12.50 EUR`,
/// `1500 JPY`, `1.250 KWD`.
pub fn minor(amount: i64, currency: &str) -> String {
    parking_api::payments::format_minor(amount, currency)
}

/// A time for tables: RFC 3339 to the second.
pub fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A wire enum's snake_case name.
pub fn name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(
            csv_line(["a".to_owned(), "b,c".to_owned(), "say \"hi\"".to_owned()].into_iter()),
            "a,\"b,c\",\"say \"\"hi\"\"\""
        );
    }

    #[test]
    fn money_has_two_decimals() {
        let m = |amount| MoneyDto {
            amount,
            currency: "EUR".into(),
        };
        assert_eq!(money(&m(1250)), "12.50 EUR");
        assert_eq!(money(&m(5)), "0.05 EUR");
        assert_eq!(money(&m(-300)), "-3.00 EUR");
    }
}
