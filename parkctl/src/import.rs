//! Reading lots to import: what `parkctl lots import FILE` turns a GeoJSON or
//! CSV file into before it talks to parkd.
//!
//! [`parse_geojson`] and [`parse_csv`] are pure (text in, [`ImportFile`] out):
//! every row either becomes an [`ImportRow`] — a [`CreateLotRequest`] that
//! passes the server's own validation, its spots per kind and an optional base
//! rate — or a [`Rejected`] with its [`Position`] in the file (feature number or
//! line number) and the reason, so one bad row never stops an import. Only a
//! file that cannot be read as a whole (not JSON, not a FeatureCollection, a
//! CSV header without a required column) is an [`ImportError`].
//!
//! Every row carries an external id, unique within the file (a repeated id
//! rejects the later row): re-running an import matches rows to lots with
//! `GET /parking-lots/by-external-id/{external_id}`, so it updates instead of
//! duplicating.
//!
//! # GeoJSON: the ParkAPI format
//!
//! A `FeatureCollection` of `Point` features (`coordinates` are
//! `[longitude, latitude]`) whose `properties` are:
//!
//! | property   | use |
//! |------------|-----|
//! | `id`       | the external id (else the feature's own `id`); required |
//! | `name`     | the lot's name; required |
//! | `address`  | multi-line; see below. Missing: the lot's name stands in |
//! | `capacity` | a whole number above 0; required. All spots are `regular` |
//! | `type`     | `garage`, `underground` and `level` make the lot `covered` |
//!
//! ParkAPI addresses are several lines, of which only the first few are the
//! postal address; the rest are directions and contact details. The address is
//! the lines up to the one holding the postcode (`Altmarkt 1, 01067 Dresden`),
//! DB BahnPark's `city / postcode / street` is put in postal order
//! (`Ludwigstraße, 63739 Aschaffenburg`), and without a postcode the first line
//! alone is kept.
//!
//! Rejected: features without geometry, not a `Point`, with coordinates missing,
//! out of range or exactly `0, 0` (a placeholder), without an id or a name,
//! with a capacity missing, 0, not a whole number or above [`MAX_CAPACITY`].
//!
//! # CSV
//!
//! UTF-8, comma-separated, a header row naming the columns in any order:
//!
//! ```text
//! external_id,name,address,lat,lng,capacity,kinds,rate
//! dd-altmarkt,Altmarkt,"Altmarkt 1, 01067 Dresden",51.05067,13.74179,400,"regular:380,ev:20",2.50
//! dd-messe,Messe,"Messering 6, 01067 Dresden",51.0689,13.7183,1400,,
//! ```
//!
//! | column        | meaning |
//! |---------------|---------|
//! | `external_id` | the lot's id in your data; required, unique in the file |
//! | `name`        | required |
//! | `address`     | required |
//! | `lat`, `lng`  | decimal degrees with a point (`51.05`), required |
//! | `capacity`    | spots in all, a whole number from 1 to [`MAX_CAPACITY`] |
//! | `kinds`       | optional `kind:count` pairs separated by `,` or `;` (quote the cell), e.g. `regular:90,ev:10`, summing to `capacity`; kinds are `regular`, `compact`, `accessible`, `ev`, `motorcycle`. Empty: all `regular` |
//! | `rate`        | optional base hourly price in the currency's main unit with at most two decimals (`2.50`), read as minor units (250) |
//!
//! `kinds` and `rate` may be left out of the header. Cells are trimmed. A row is
//! rejected with its line number (the header is line 1) and every reason found:
//! a missing field, a bad number, a latitude or longitude out of range, kinds
//! that are unknown or do not sum to the capacity, the wrong number of cells, a
//! repeated external id, or anything the server would refuse (e.g. a name over
//! 200 characters).

use std::collections::HashMap;
use std::fmt;

use parking_api::common::{Checks, FieldError};
use parking_api::lots::{AmenityDto, CreateLotRequest, Location};
use parking_api::spots::SpotKindDto;
use serde_json::Value;

/// The time zone lots get unless the command is told otherwise.
pub const DEFAULT_TIMEZONE: &str = "Europe/Berlin";

/// The largest capacity one imported lot may have.
pub const MAX_CAPACITY: u32 = 100_000;

/// The CSV columns, in the documented order; the last two are optional.
pub const CSV_COLUMNS: [&str; 8] = [
    "external_id",
    "name",
    "address",
    "lat",
    "lng",
    "capacity",
    "kinds",
    "rate",
];

const REQUIRED_CSV_COLUMNS: usize = 6;

/// Where a row is in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Position {
    /// A CSV line, from 1 (the header).
    Line(u64),
    /// A GeoJSON feature, from 1 in the order of the `features` array.
    Feature(usize),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Feature(n) => write!(f, "feature {n}"),
        }
    }
}

/// A row that is not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Where it is in the file.
    pub position: Position,
    /// Every problem found with it, for people, separated by `; `.
    pub reason: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position, self.reason)
    }
}

/// A lot to create, or to update when a lot with its external id exists.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    /// Where it is in the file.
    pub position: Position,
    /// Its id in the imported data, unique in the file (also in
    /// `lot.external_id`).
    pub external_id: String,
    /// The lot, valid by [`CreateLotRequest::validate`].
    pub lot: CreateLotRequest,
    /// Spots to add per kind, each count above 0, summing to the capacity.
    pub spots: Vec<(SpotKindDto, u32)>,
    /// The base hourly rate in minor units, if the file gives one.
    pub rate: Option<i64>,
}

impl ImportRow {
    /// Spots in all.
    pub fn capacity(&self) -> u32 {
        self.spots.iter().map(|&(_, n)| n).sum()
    }
}

/// What a file holds: the rows to import and the rows refused, each in file
/// order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportFile {
    /// Rows to create or update.
    pub rows: Vec<ImportRow>,
    /// Rows refused, with their reasons.
    pub rejected: Vec<Rejected>,
}

impl ImportFile {
    /// Rows read in all, accepted or not.
    pub fn total(&self) -> usize {
        self.rows.len() + self.rejected.len()
    }
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The time zone for the lots is not an IANA name.
    #[error("unknown time zone {0:?}: use an IANA name such as Europe/Berlin")]
    Timezone(String),
    /// The GeoJSON file is not JSON.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not a GeoJSON FeatureCollection.
    #[error("not a GeoJSON FeatureCollection: {0}")]
    NotFeatureCollection(&'static str),
    /// The CSV could not be read.
    #[error("unreadable CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The CSV header lacks a required column.
    #[error(
        "the CSV header has no {0} column (columns: external_id,name,address,lat,lng,capacity[,kinds][,rate])"
    )]
    MissingColumn(&'static str),
    /// The CSV header names a column this format does not have.
    #[error(
        "the CSV header has an unknown column {0:?} (columns: external_id,name,address,lat,lng,capacity[,kinds][,rate])"
    )]
    UnknownColumn(String),
    /// The CSV header names a column twice.
    #[error("the CSV header names the column {0} twice")]
    DuplicateColumn(String),
}

/// Reads a ParkAPI GeoJSON FeatureCollection (see the module docs); lots get
/// the time zone `timezone`.
pub fn parse_geojson(text: &str, timezone: &str) -> Result<ImportFile, ImportError> {
    check_timezone(timezone)?;
    let doc: Value = serde_json::from_str(text)?;
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(ImportError::NotFeatureCollection(
            "its \"type\" is not \"FeatureCollection\"",
        ));
    }
    let features =
        doc.get("features")
            .and_then(Value::as_array)
            .ok_or(ImportError::NotFeatureCollection(
                "it has no \"features\" array",
            ))?;
    let mut file = Collector::new(timezone);
    for (i, feature) in features.iter().enumerate() {
        file.add(Position::Feature(i + 1), feature_draft(feature));
    }
    Ok(file.finish())
}

/// Reads a CSV file (see the module docs for its columns); lots get the time
/// zone `timezone`.
pub fn parse_csv(text: &str, timezone: &str) -> Result<ImportFile, ImportError> {
    check_timezone(timezone)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let columns = Columns::from_header(reader.headers()?)?;
    let mut file = Collector::new(timezone);
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => match e.position() {
                Some(at) => {
                    file.reject(Position::Line(at.line()), format!("unreadable row: {e}"));
                    continue;
                }
                None => return Err(e.into()),
            },
        };
        let line = record.position().map_or(0, csv::Position::line);
        file.add(Position::Line(line), columns.draft(&record));
    }
    Ok(file.finish())
}

/// Reads `kinds` like `regular:90,ev:10` (pairs separated by `,` or `;`) for a
/// lot of `capacity` spots: every kind known and named once, every count a
/// whole number, the counts summing to `capacity`. Kinds with count 0 are left
/// out; an empty spec means all `regular`.
pub fn parse_kinds(spec: &str, capacity: u32) -> Result<Vec<(SpotKindDto, u32)>, String> {
    let mut spots: Vec<(SpotKindDto, u32)> = Vec::new();
    let mut named: Vec<SpotKindDto> = Vec::new();
    let mut sum: u64 = 0;
    for part in spec
        .split([',', ';'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((name, count)) = part.split_once(':') else {
            return Err(format!("kinds: {part:?} is not kind:count"));
        };
        let (name, count) = (name.trim(), count.trim());
        let kind: SpotKindDto = serde_json::from_value(Value::String(name.to_lowercase()))
            .map_err(|_| {
                format!(
                    "kinds: unknown spot kind {name:?} (regular, compact, accessible, ev, motorcycle)"
                )
            })?;
        if named.contains(&kind) {
            return Err(format!("kinds: {name} is given twice"));
        }
        named.push(kind);
        let count: u32 = count
            .parse()
            .map_err(|_| format!("kinds: the count {count:?} of {name} is not a whole number"))?;
        sum += u64::from(count);
        if count > 0 {
            spots.push((kind, count));
        }
    }
    if named.is_empty() {
        return Ok(vec![(SpotKindDto::Regular, capacity)]);
    }
    if sum != u64::from(capacity) {
        return Err(format!("kinds sum to {sum} but the capacity is {capacity}"));
    }
    Ok(spots)
}

/// Reads a price in the currency's main unit with at most two decimals
/// (`2.50`, `3`, `0.5`) as minor units (250, 300, 50).
pub fn parse_rate(text: &str) -> Result<i64, String> {
    let bad = || format!("rate {text:?} is not a price like 2.50");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if text.contains(',') {
        return Err(format!(
            "rate {text:?}: write the decimals after a point, like 2.50"
        ));
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let cents: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().map_err(|_| bad())? * 10,
        _ => fraction.parse().map_err(|_| bad())?,
    };
    whole
        .checked_mul(100)
        .and_then(|m| m.checked_add(cents))
        .ok_or_else(bad)
}

/// The postal part of a ParkAPI multi-line address (see the module docs).
pub fn postal_address(raw: &str) -> String {
    let lines: Vec<&str> = raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let is_postcode = |s: &str| (4..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    match lines.as_slice() {
        [] => String::new(),
        // DB BahnPark: city, postcode, street.
        [city, postcode, street, ..] if is_postcode(postcode) => {
            format!("{street}, {postcode} {city}")
        }
        _ => {
            let postcode_line = lines.iter().take(3).position(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|first| is_postcode(first) && line.len() > first.len())
            });
            match postcode_line {
                Some(i) => lines[..=i].join(", "),
                None => lines[0].to_owned(),
            }
        }
    }
}

fn check_timezone(timezone: &str) -> Result<(), ImportError> {
    let mut checks = Checks::new();
    checks.timezone("timezone", timezone);
    checks
        .finish()
        .map_err(|_| ImportError::Timezone(timezone.to_owned()))
}

/// One row's fields as read, and what was wrong with them.
#[derive(Debug, Default)]
struct Draft {
    external_id: Option<String>,
    name: Option<String>,
    address: Option<String>,
    location: Option<Location>,
    spots: Option<Vec<(SpotKindDto, u32)>>,
    rate: Option<i64>,
    amenities: Option<Vec<AmenityDto>>,
    problems: Vec<String>,
}

impl Draft {
    fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    fn build(self, position: Position, timezone: &str) -> Result<ImportRow, String> {
        let (Some(external_id), Some(name), Some(address), Some(location), Some(spots)) = (
            self.external_id,
            self.name,
            self.address,
            self.location,
            self.spots,
        ) else {
            return Err(self.problems.join("; "));
        };
        if !self.problems.is_empty() {
            return Err(self.problems.join("; "));
        }
        let lot = CreateLotRequest {
            name,
            address,
            location,
            timezone: timezone.to_owned(),
            operating_hours: None,
            turnover_buffer_minutes: None,
            min_lead_minutes: None,
            max_duration_minutes: None,
            hold_minutes: None,
            no_show_grace_minutes: None,
            cancellation: None,
            amenities: self.amenities,
            tenant_id: None,
            external_id: Some(external_id.clone()),
            payment_mode: None,
        };
        // What the server would refuse is refused here, with its words.
        lot.validate().map_err(|errors| field_errors(&errors))?;
        Ok(ImportRow {
            position,
            external_id,
            lot,
            spots,
            rate: self.rate,
        })
    }
}

/// Validation failures as one line naming every field: `name: too long; location.lat: …`.
pub fn field_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds an [`ImportFile`] row by row, rejecting repeated external ids.
struct Collector<'a> {
    timezone: &'a str,
    seen: HashMap<String, Position>,
    file: ImportFile,
}

impl<'a> Collector<'a> {
    fn new(timezone: &'a str) -> Self {
        Collector {
            timezone,
            seen: HashMap::new(),
            file: ImportFile::default(),
        }
    }

    fn add(&mut self, position: Position, mut draft: Draft) {
        if let Some(id) = &draft.external_id {
            // Ids of rejected rows count too: which of two rows was meant is
            // unknowable, so the first stays authoritative.
            if let Some(first) = self.seen.get(id) {
                let repeated = format!("external_id {id:?} repeats the one at {first}");
                draft.problem(repeated);
            } else {
                self.seen.insert(id.clone(), position);
            }
        }
        match draft.build(position, self.timezone) {
            Ok(row) => self.file.rows.push(row),
            Err(reason) => self.reject(position, reason),
        }
    }

    fn reject(&mut self, position: Position, reason: String) {
        self.file.rejected.push(Rejected { position, reason });
    }

    fn finish(self) -> ImportFile {
        self.file
    }
}

fn feature_draft(feature: &Value) -> Draft {
    let mut draft = Draft::default();
    if !feature.is_object() {
        draft.problem("not a JSON object");
        return draft;
    }
    let props = feature.get("properties").unwrap_or(&Value::Null);
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let id = props
        .get("id")
        .filter(|v| !v.is_null())
        .or_else(|| feature.get("id"));
    draft.external_id = match id {
        Some(Value::Number(n)) => Some(n.to_string()),
        other => text(other),
    };
    if draft.external_id.is_none() {
        draft.problem("no id");
    }
    draft.name = text(props.get("name"));
    if draft.name.is_none() {
        draft.problem("no name");
    }
    draft.address = text(props.get("address"))
        .map(|raw| postal_address(&raw))
        .filter(|a| !a.is_empty())
        .or_else(|| draft.name.clone());
    draft.location = match feature.get("geometry") {
        None | Some(Value::Null) => {
            draft.problem("no geometry");
            None
        }
        Some(geometry) => point(geometry).map_err(|p| draft.problem(p)).ok(),
    };
    draft.spots = match props.get("capacity") {
        None | Some(Value::Null) => {
            draft.problem("capacity missing");
            None
        }
        Some(v) => capacity(v.as_u64(), &v.to_string())
            .map(|n| vec![(SpotKindDto::Regular, n)])
            .map_err(|p| draft.problem(p))
            .ok(),
    };
    if let Some("garage" | "underground" | "level") = props.get("type").and_then(Value::as_str) {
        draft.amenities = Some(vec![AmenityDto::Covered]);
    }
    draft
}

fn point(geometry: &Value) -> Result<Location, String> {
    match geometry.get("type").and_then(Value::as_str) {
        Some("Point") => {}
        Some(other) => return Err(format!("geometry is a {other}, not a Point")),
        None => return Err("geometry has no type".to_owned()),
    }
    let coordinates = geometry
        .get("coordinates")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>());
    match coordinates {
        Some(Some(c)) if c.len() >= 2 => location(c[1], c[0]),
        _ => Err("coordinates are not [longitude, latitude]".to_owned()),
    }
}

fn location(lat: f64, lng: f64) -> Result<Location, String> {
    let mut problems = Vec::new();
    if !(-90.0..=90.0).contains(&lat) {
        problems.push(format!("latitude {lat} is out of range (-90 to 90)"));
    }
    if !(-180.0..=180.0).contains(&lng) {
        problems.push(format!("longitude {lng} is out of range (-180 to 180)"));
    }
    if lat == 0.0 && lng == 0.0 {
        problems.push("coordinates 0, 0 are a placeholder, not a place".to_owned());
    }
    if problems.is_empty() {
        Ok(Location { lat, lng })
    } else {
        Err(problems.join("; "))
    }
}

fn capacity(value: Option<u64>, shown: &str) -> Result<u32, String> {
    match value {
        None => Err(format!("capacity {shown} is not a whole number")),
        Some(0) => Err("capacity is 0".to_owned()),
        Some(n) if n > u64::from(MAX_CAPACITY) => {
            Err(format!("capacity {n} is above {MAX_CAPACITY}"))
        }
        Some(n) => u32::try_from(n).map_err(|_| format!("capacity {n} is above {MAX_CAPACITY}")),
    }
}

/// Where each column is in a CSV file.
#[derive(Debug)]
struct Columns {
    width: usize,
    index: [Option<usize>; 8],
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Columns, ImportError> {
        let mut index = [None; 8];
        for (at, name) in header.iter().enumerate() {
            let name = name.trim().to_lowercase();
            let Some(column) = CSV_COLUMNS.iter().position(|c| *c == name) else {
                return Err(ImportError::UnknownColumn(name));
            };
            if index[column].replace(at).is_some() {
                return Err(ImportError::DuplicateColumn(name));
            }
        }
        if let Some(missing) = (0..REQUIRED_CSV_COLUMNS).find(|&c| index[c].is_none()) {
            return Err(ImportError::MissingColumn(CSV_COLUMNS[missing]));
        }
        Ok(Columns {
            width: header.len(),
            index,
        })
    }

    /// The trimmed, non-empty cell of `column` (a name of [`CSV_COLUMNS`]).
    fn cell<'r>(&self, record: &'r csv::StringRecord, column: &str) -> Option<&'r str> {
        let at = CSV_COLUMNS.iter().position(|c| *c == column)?;
        self.index[at]
            .and_then(|i| record.get(i))
            .filter(|s| !s.is_empty())
    }

    fn draft(&self, record: &csv::StringRecord) -> Draft {
        let mut draft = Draft::default();
        if record.len() != self.width {
            draft.problem(format!(
                "{} cells where the header has {}",
                record.len(),
                self.width
            ));
        }
        let required = |draft: &mut Draft, column: &'static str| {
            let cell = self.cell(record, column);
            if cell.is_none() {
                draft.problem(format!("{column} missing"));
            }
            cell
        };
        draft.external_id = required(&mut draft, "external_id").map(str::to_owned);
        draft.name = required(&mut draft, "name").map(str::to_owned);
        // A quoted cell may span lines; an address is one line.
        draft.address = required(&mut draft, "address").map(|a| {
            a.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        });
        let lat = required(&mut draft, "lat").and_then(|s| degrees(&mut draft, "lat", s));
        let lng = required(&mut draft, "lng").and_then(|s| degrees(&mut draft, "lng", s));
        if let (Some(lat), Some(lng)) = (lat, lng) {
            draft.location = location(lat, lng).map_err(|p| draft.problem(p)).ok();
        }
        let capacity = required(&mut draft, "capacity").and_then(|s| {
            capacity(s.parse().ok(), &format!("{s:?}"))
                .map_err(|p| draft.problem(p))
                .ok()
        });
        if let Some(capacity) = capacity {
            let kinds = self.cell(record, "kinds").unwrap_or_default();
            draft.spots = parse_kinds(kinds, capacity)
                .map_err(|p| draft.problem(p))
                .ok();
        }
        if let Some(rate) = self.cell(record, "rate") {
            draft.rate = parse_rate(rate).map_err(|p| draft.problem(p)).ok();
        }
        draft
    }
}

fn degrees(draft: &mut Draft, column: &str, cell: &str) -> Option<f64> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => {
            draft.problem(format!("{column} {cell:?} is not a number like 51.05"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BERLIN: &str = DEFAULT_TIMEZONE;

    fn reasons(file: &ImportFile) -> Vec<(Position, &str)> {
        file.rejected
            .iter()
            .map(|r| (r.position, r.reason.as_str()))
            .collect()
    }

    #[test]
    fn a_parkapi_feature_becomes_a_lot_with_regular_spots() {
        let text = r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "dresdenaltmarkt", "name": "Altmarkt",
              "type": "underground", "capacity": 400,
              "address": "Altmarkt 1\n01067 Dresden\nEinfahrt von Wilsdruffer Straße"},
             "geometry": {"type": "Point", "coordinates": [13.741789104, 51.0506700789]}},
            {"type": "Feature", "properties": {"id": 17, "name": " Lot ", "type": "lot",
              "capacity": 12, "address": null},
             "geometry": {"type": "Point", "coordinates": [6.1, 50.7]}}
        ]}"#;
        let file = parse_geojson(text, BERLIN).expect("readable");
        assert_eq!(file.rejected, []);
        let [garage, lot] = file.rows.as_slice() else {
            panic!("two rows: {:?}", file.rows)
        };
        assert_eq!(garage.position, Position::Feature(1));
        assert_eq!(garage.external_id, "dresdenaltmarkt");
        assert_eq!(garage.lot.external_id.as_deref(), Some("dresdenaltmarkt"));
        assert_eq!(garage.lot.address, "Altmarkt 1, 01067 Dresden");
        assert_eq!(
            garage.lot.location,
            Location {
                lat: 51.0506700789,
                lng: 13.741789104
            }
        );
        assert_eq!(garage.lot.timezone, "Europe/Berlin");
        assert_eq!(garage.lot.amenities, Some(vec![AmenityDto::Covered]));
        assert_eq!(garage.spots, [(SpotKindDto::Regular, 400)]);
        assert_eq!(garage.rate, None);
        assert_eq!(lot.external_id, "17");
        assert_eq!(lot.lot.name, "Lot");
        assert_eq!(
            lot.lot.address, "Lot",
            "the name stands in for a missing address"
        );
        assert_eq!(lot.lot.amenities, None);
    }

    #[test]
    fn bad_features_are_rejected_with_their_number_and_reason() {
        let text = r#"{"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "a", "name": "A", "capacity": 5}},
            {"type": "Feature", "properties": {"id": "b", "name": "B", "capacity": 5},
             "geometry": {"type": "Point", "coordinates": [13.7, 95.0]}},
            {"type": "Feature", "properties": {"id": "c", "capacity": 5},
             "geometry": {"type": "Point", "coordinates": [13.7, 51.0]}},
            {"type": "Feature", "properties": {"id": "d", "name": "D", "capacity": 0},
             "geometry": {"type": "Point", "coordinates": [13.7, 51.0]}},
            {"type": "Feature", "properties": {"id": "e", "name": "E", "capacity": null},
             "geometry": {"type": "Point", "coordinates": [13.7, 51.0]}},
            {"type": "Feature", "properties": {"id": "f", "name": "F", "capacity": 2.5},
             "geometry": {"type": "LineString", "coordinates": [[13.7, 51.0], [13.8, 51.1]]}},
            {"type": "Feature", "properties": {"id": "a", "name": "A again", "capacity": 5},
             "geometry": {"type": "Point", "coordinates": [13.7, 51.0]}},
            {"type": "Feature", "properties": {"name": "G", "capacity": 5},
             "geometry": {"type": "Point", "coordinates": [0, 0]}},
            {"type": "Feature", "properties": {"id": "h", "name": "H", "capacity": 5},
             "geometry": {"type": "Point", "coordinates": ["13.7", 51.0]}},
            {"type": "Feature", "properties": {"id": "i", "name": "I", "capacity": 5},
             "geometry": {"type": "Point", "coordinates": [13.7, 51.0]}},
            []
        ]}"#;
        let file = parse_geojson(text, BERLIN).expect("readable");
        assert_eq!(
            reasons(&file),
            [
                (Position::Feature(1), "no geometry"),
                (
                    Position::Feature(2),
                    "latitude 95 is out of range (-90 to 90)"
                ),
                (Position::Feature(3), "no name"),
                (Position::Feature(4), "capacity is 0"),
                (Position::Feature(5), "capacity missing"),
                (
                    Position::Feature(6),
                    "geometry is a LineString, not a Point; capacity 2.5 is not a whole number"
                ),
                (
                    Position::Feature(7),
                    "external_id \"a\" repeats the one at feature 1"
                ),
                (
                    Position::Feature(8),
                    "no id; coordinates 0, 0 are a placeholder, not a place"
                ),
                (
                    Position::Feature(9),
                    "coordinates are not [longitude, latitude]"
                ),
                (Position::Feature(11), "not a JSON object"),
            ]
        );
        assert_eq!(file.rows.len(), 1);
        assert_eq!(file.rows[0].position, Position::Feature(10));
        assert_eq!(file.total(), 11);
    }

    #[test]
    fn files_that_are_not_feature_collections_are_errors() {
        for text in [
            "",
            "{",
            "[]",
            r#"{"type": "Feature"}"#,
            r#"{"type": "FeatureCollection"}"#,
        ] {
            assert!(parse_geojson(text, BERLIN).is_err(), "{text:?}");
        }
        let empty = r#"{"type": "FeatureCollection", "features": []}"#;
        assert_eq!(
            parse_geojson(empty, BERLIN).expect("empty"),
            ImportFile::default()
        );
        assert!(matches!(
            parse_geojson(empty, "Mars/Olympus"),
            Err(ImportError::Timezone(_))
        ));
    }

    #[test]
    fn addresses_keep_the_postal_lines() {
        for (raw, want) in [
            (
                "Altmarkt 1\n01067 Dresden\nKontakt: 03 51 / 481 02 74",
                "Altmarkt 1, 01067 Dresden",
            ),
            (
                "Güterstrasse 115\n4053 Basel\n(Einfahrt via Meret Oppenheim-Strasse)",
                "Güterstrasse 115, 4053 Basel",
            ),
            (
                "Aschaffenburg\n63739\nLudwigstraße",
                "Ludwigstraße, 63739 Aschaffenburg",
            ),
            (
                "Bautzner Landstraße\n Dresden\ntiefbauamt@dresden.de",
                "Bautzner Landstraße",
            ),
            ("Am Markt 3", "Am Markt 3"),
            ("\n  \n", ""),
        ] {
            assert_eq!(postal_address(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn kinds_must_be_known_once_and_sum_to_the_capacity() {
        assert_eq!(
            parse_kinds("regular:90,ev:10", 100),
            Ok(vec![(SpotKindDto::Regular, 90), (SpotKindDto::Ev, 10)])
        );
        assert_eq!(
            parse_kinds(" Regular : 8 ; accessible:2; ev:0 ", 10),
            Ok(vec![
                (SpotKindDto::Regular, 8),
                (SpotKindDto::Accessible, 2)
            ])
        );
        assert_eq!(parse_kinds("", 7), Ok(vec![(SpotKindDto::Regular, 7)]));
        for (spec, reason) in [
            ("regular:90,ev:5", "kinds sum to 95 but the capacity is 100"),
            ("regular:90,truck:10", "unknown spot kind \"truck\""),
            ("regular:50,regular:50", "regular is given twice"),
            ("regular", "\"regular\" is not kind:count"),
            (
                "regular:ninety",
                "\"ninety\" of regular is not a whole number",
            ),
            ("regular:-100", "\"-100\" of regular is not a whole number"),
        ] {
            let got = parse_kinds(spec, 100).expect_err(spec);
            assert!(got.contains(reason), "{spec:?}: {got}");
        }
    }

    #[test]
    fn rates_are_prices_in_main_units() {
        for (text, want) in [
            ("2.50", 250),
            ("3", 300),
            ("0.5", 50),
            ("0", 0),
            ("12.05", 1205),
        ] {
            assert_eq!(parse_rate(text), Ok(want), "{text}");
        }
        for text in [
            "2,50",
            "-1",
            "2.505",
            ".5",
            "two",
            "1e3",
            "99999999999999999999",
        ] {
            assert!(parse_rate(text).is_err(), "{text}");
        }
    }

    const HEADER: &str = "external_id,name,address,lat,lng,capacity,kinds,rate\n";

    #[test]
    fn csv_rows_become_lots() {
        let text = format!(
            "{HEADER}p1,Altmarkt,\"Altmarkt 1, 01067 Dresden\",51.05067,13.74179,100,\"regular:90,ev:10\",2.50\n\
             p2 , Messe , Messering 6 , 51.0689 , 13.7183 , 40 , , \n"
        );
        let file = parse_csv(&text, "Europe/Zurich").expect("readable");
        assert_eq!(file.rejected, []);
        let [p1, p2] = file.rows.as_slice() else {
            panic!("two rows: {:?}", file.rows)
        };
        assert_eq!(p1.position, Position::Line(2));
        assert_eq!(p1.lot.address, "Altmarkt 1, 01067 Dresden");
        assert_eq!(p1.lot.timezone, "Europe/Zurich");
        assert_eq!(
            p1.spots,
            [(SpotKindDto::Regular, 90), (SpotKindDto::Ev, 10)]
        );
        assert_eq!(p1.rate, Some(250));
        assert_eq!(p1.capacity(), 100);
        assert_eq!(
            (p2.position, p2.external_id.as_str()),
            (Position::Line(3), "p2")
        );
        assert_eq!(p2.lot.name, "Messe");
        assert_eq!(p2.spots, [(SpotKindDto::Regular, 40)]);
        assert_eq!(p2.rate, None);
    }

    #[test]
    fn csv_columns_may_come_in_any_order_and_kinds_and_rate_may_be_left_out() {
        let text = "\u{feff}Capacity,lng,lat,address,name,external_id\n5,13.7,51.0,Street 1,P,x\n";
        let file = parse_csv(text, BERLIN).expect("readable");
        assert_eq!(file.rejected, []);
        assert_eq!(file.rows[0].spots, [(SpotKindDto::Regular, 5)]);
        assert_eq!(
            file.rows[0].lot.location,
            Location {
                lat: 51.0,
                lng: 13.7
            }
        );
    }

    #[test]
    fn csv_headers_that_do_not_fit_are_errors() {
        let missing = parse_csv("external_id,name,address,lat,lng\n", BERLIN);
        assert!(matches!(
            missing,
            Err(ImportError::MissingColumn("capacity"))
        ));
        let unknown = parse_csv("external_id,name,address,lat,lng,capacity,kind\n", BERLIN);
        assert!(matches!(unknown, Err(ImportError::UnknownColumn(c)) if c == "kind"));
        let twice = parse_csv("external_id,name,name,address,lat,lng,capacity\n", BERLIN);
        assert!(matches!(twice, Err(ImportError::DuplicateColumn(c)) if c == "name"));
        let empty = parse_csv("", BERLIN);
        assert!(matches!(
            empty,
            Err(ImportError::MissingColumn("external_id"))
        ));
    }

    #[test]
    fn bad_csv_rows_are_rejected_with_their_line_and_every_reason() {
        let text = format!(
            "{HEADER}\
             a,A,Street 1,51.05,13.74,10,,\n\
             b,B,Street 2,\"51,05\",13.74,10,,\n\
             c,C,Street 3,91,181,10,,\n\
             ,,,,,,,\n\
             e,E,Street 5,51.05,13.74,lots,,\n\
             f,F,Street 6,51.05,13.74,10,\"regular:5,ev:4\",\n\
             a,A2,Street 7,51.05,13.74,10,,\n\
             h,H,Street 8,51.05,13.74,10,,2,50\n\
             i,I,\"Multi\nline\",51.05,13.74,10,,\n\
             j,{long},Street 10,51.05,13.74,10,,\n\
             k,K,Street 11,NaN,13.74,10\n",
            long = "x".repeat(201)
        );
        let file = parse_csv(&text, BERLIN).expect("readable");
        assert_eq!(
            reasons(&file),
            [
                (
                    Position::Line(3),
                    "lat \"51,05\" is not a number like 51.05"
                ),
                (
                    Position::Line(4),
                    "latitude 91 is out of range (-90 to 90); longitude 181 is out of range (-180 to 180)"
                ),
                (
                    Position::Line(5),
                    "external_id missing; name missing; address missing; lat missing; lng missing; capacity missing"
                ),
                (Position::Line(6), "capacity \"lots\" is not a whole number"),
                (Position::Line(7), "kinds sum to 9 but the capacity is 10"),
                (
                    Position::Line(8),
                    "external_id \"a\" repeats the one at line 2"
                ),
                (Position::Line(9), "9 cells where the header has 8"),
                (Position::Line(12), "name: must be 1 to 200 characters"),
                (
                    Position::Line(13),
                    "6 cells where the header has 8; lat \"NaN\" is not a number like 51.05"
                ),
            ]
        );
        let accepted: Vec<_> = file
            .rows
            .iter()
            .map(|r| (r.position, r.lot.address.as_str()))
            .collect();
        assert_eq!(
            accepted,
            [
                (Position::Line(2), "Street 1"),
                (Position::Line(10), "Multi, line")
            ]
        );
    }
}
