//! Lots: `GET /parking-lots` (nearby search), `GET /parking-lots/managed` (the
//! lots the caller manages), `GET|PATCH|DELETE /parking-lots/{id}`,
//! `POST /parking-lots`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use parking_core::model::{
    Amenity, BookingRules, CancellationPolicy, GeoPoint, KindCounts, Lot as CoreLot, LotId,
    OperatingHours, TenantId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::common::{Checks, FieldError, MoneyDto, PageQuery, double_option};
use crate::payments::PaymentModeDto;
use crate::spots::SpotKindDto;

/// The search radius when none is given, in metres.
pub const DEFAULT_RADIUS_M: u32 = 1000;
/// The largest search radius, in metres.
pub const MAX_RADIUS_M: u32 = 50_000;
/// The longest lot name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 500;
/// The largest value of any lot minute setting (one year).
pub const MAX_MINUTES: u32 = 366 * 24 * 60;
/// The longest external id (the lot's id in an imported data set), in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 200;

/// A WGS-84 position in decimal degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lat": 51.0406, "lng": 13.732}))]
pub struct Location {
    /// Latitude, -90 to 90.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Longitude, -180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
}

impl From<GeoPoint> for Location {
    fn from(p: GeoPoint) -> Self {
        Location {
            lat: p.lat(),
            lng: p.lng(),
        }
    }
}

impl TryFrom<Location> for GeoPoint {
    type Error = parking_core::model::GeoError;

    fn try_from(l: Location) -> Result<Self, Self::Error> {
        GeoPoint::new(l.lat, l.lng)
    }
}

/// What a lot offers besides spaces (the wire twin of
/// [`parking_core::model::Amenity`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = Amenity)]
pub enum AmenityDto {
    /// Roofed or underground.
    Covered,
    /// Staffed while open.
    Attended,
    /// Video surveillance.
    Cctv,
    /// Lifts between levels.
    Elevator,
    /// Toilets on site.
    Restrooms,
    /// Bicycle parking.
    BikeParking,
    /// Car wash.
    CarWash,
    /// Park and ride to public transport.
    ParkAndRide,
}

impl From<Amenity> for AmenityDto {
    fn from(a: Amenity) -> Self {
        match a {
            Amenity::Covered => AmenityDto::Covered,
            Amenity::Attended => AmenityDto::Attended,
            Amenity::Cctv => AmenityDto::Cctv,
            Amenity::Elevator => AmenityDto::Elevator,
            Amenity::Restrooms => AmenityDto::Restrooms,
            Amenity::BikeParking => AmenityDto::BikeParking,
            Amenity::CarWash => AmenityDto::CarWash,
            Amenity::ParkAndRide => AmenityDto::ParkAndRide,
        }
    }
}

impl From<AmenityDto> for Amenity {
    fn from(a: AmenityDto) -> Self {
        match a {
            AmenityDto::Covered => Amenity::Covered,
            AmenityDto::Attended => Amenity::Attended,
            AmenityDto::Cctv => Amenity::Cctv,
            AmenityDto::Elevator => Amenity::Elevator,
            AmenityDto::Restrooms => Amenity::Restrooms,
            AmenityDto::BikeParking => Amenity::BikeParking,
            AmenityDto::CarWash => Amenity::CarWash,
            AmenityDto::ParkAndRide => Amenity::ParkAndRide,
        }
    }
}

/// Spot counts per kind, e.g. `{"regular": 12, "ev": 2}`.
pub type KindCountsDto = BTreeMap<SpotKindDto, u32>;

/// A [`KindCounts`] as a wire map (every kind present, zeros included).
pub fn kind_counts(counts: &KindCounts) -> KindCountsDto {
    counts.iter().map(|(k, n)| (k.into(), n)).collect()
}

/// `GET /parking-lots?lat&lng&radius&spot_type&start_time&end_time&max_price&page&per_page`:
/// lots near a point, nearest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LotSearchQuery {
    /// Latitude of the search centre.
    pub lat: f64,
    /// Longitude of the search centre.
    pub lng: f64,
    /// Metres, 1 to 50000; default 1000.
    #[serde(default)]
    #[param(minimum = 1, maximum = 50000, default = 1000)]
    pub radius: Option<u32>,
    /// Only lots with a free spot of this kind.
    #[serde(default)]
    pub spot_type: Option<SpotKindDto>,
    /// Window start (with `end_time`); availability is for now without one.
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    /// Window end (with `start_time`).
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
    /// Only lots whose price for the window is at most this, in minor units of
    /// the lot's currency; needs a window.
    #[serde(default)]
    #[param(minimum = 0)]
    pub max_price: Option<i64>,
    /// Page number from 1; default 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Page size 1 to 100; default 20.
    #[serde(default)]
    pub per_page: Option<u32>,
}

impl LotSearchQuery {
    /// Checks coordinates, radius, window, price and paging.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        checks.coordinates("", self.lat, self.lng);
        if let Some(radius) = self.radius {
            checks.range("radius", radius, 1, MAX_RADIUS_M);
        }
        checks.optional_window(("start_time", self.start_time), ("end_time", self.end_time));
        if let Some(price) = self.max_price {
            if price < 0 {
                checks.push("max_price", "must not be negative");
            }
            if self.start_time.is_none() {
                checks.push("max_price", "needs start_time and end_time");
            }
        }
        checks.page(self.page_query());
        checks.finish()
    }

    /// The radius in metres, default filled in.
    pub fn radius_m(&self) -> u32 {
        self.radius.unwrap_or(DEFAULT_RADIUS_M)
    }

    /// The paging, defaults filled in.
    pub fn page_query(&self) -> PageQuery {
        PageQuery::from_parts(self.page, self.per_page)
    }
}

/// `GET /parking-lots/managed?tenant_id&page&per_page`: the lots the caller
/// manages, by name then id. An operator's are their own tenant's; an admin's
/// are every lot, or one tenant's with `tenant_id`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ManagedLotsQuery {
    /// Only this tenant's lots (admins; an operator may name only their own).
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
    /// Page number from 1; default 1.
    #[serde(default)]
    pub page: Option<u32>,
    /// Page size 1 to 100; default 20.
    #[serde(default)]
    pub per_page: Option<u32>,
}

impl ManagedLotsQuery {
    /// Checks the paging.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.page_query().validate()
    }

    /// The paging, defaults filled in.
    pub fn page_query(&self) -> PageQuery {
        PageQuery::from_parts(self.page, self.per_page)
    }
}

/// One lot of a search answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LotSummary {
    /// The lot's id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Where the entrance is.
    pub location: Location,
    /// Great-circle distance from the search centre, metres.
    pub distance_m: f64,
    /// Spots in service (of the kind asked for, or all).
    pub total_spots: u32,
    /// Of those, free for the window (or now).
    pub available_spots: u32,
    /// The price for the window, when a window was asked for and the lot has
    /// rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<MoneyDto>,
}

/// A lot in full.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Lot {
    /// The lot's id.
    pub id: Uuid,
    /// The operator that owns it.
    pub tenant_id: Uuid,
    /// The lot's id in the data set it was imported from (e.g. ParkAPI's
    /// `dresdenaltmarkt`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Where the entrance is.
    pub location: Location,
    /// IANA time zone of its local rules.
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    /// Weekly windows in local time (`weekly: null` = around the clock) and
    /// dated closures.
    #[schema(value_type = Object)]
    pub operating_hours: OperatingHours,
    /// Minutes kept free between two bookings of a spot.
    pub turnover_buffer_minutes: u32,
    /// How long before its start a booking must be made.
    pub min_lead_minutes: u32,
    /// The longest booking, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_minutes: Option<u32>,
    /// How long an unconfirmed hold blocks its spot.
    pub hold_minutes: u32,
    /// How long after its start a booking waits for check-in.
    pub no_show_grace_minutes: u32,
    /// Refunds on cancellation.
    #[schema(value_type = Object)]
    pub cancellation: CancellationPolicy,
    /// What it offers.
    pub amenities: Vec<AmenityDto>,
    /// Spots in service.
    pub total_spots: u32,
    /// Free spots now, per kind.
    #[schema(value_type = BTreeMap<String, u32>)]
    pub available: KindCountsDto,
    /// How bookings are paid.
    #[serde(default)]
    pub payment_mode: PaymentModeDto,
}

impl Lot {
    /// The wire form of a lot with its counts (and no external id; see
    /// [`Lot::with_external_id`]).
    pub fn from_core(lot: &CoreLot, total_spots: u32, available: &KindCounts) -> Self {
        Lot {
            id: lot.id.as_uuid(),
            tenant_id: lot.tenant_id.as_uuid(),
            external_id: None,
            name: lot.name.clone(),
            address: lot.address.clone(),
            location: lot.location.into(),
            timezone: lot.time_zone.name().to_owned(),
            operating_hours: lot.hours.clone(),
            turnover_buffer_minutes: lot.rules.turnover_buffer_minutes,
            min_lead_minutes: lot.rules.min_lead_minutes,
            max_duration_minutes: lot.rules.max_duration_minutes,
            hold_minutes: lot.rules.hold_minutes,
            no_show_grace_minutes: lot.rules.no_show_grace_minutes,
            cancellation: lot.rules.cancellation,
            amenities: lot.amenities.iter().map(|&a| a.into()).collect(),
            total_spots,
            available: kind_counts(available),
            payment_mode: PaymentModeDto::OnSite,
        }
    }

    /// The same lot showing its payment mode (kept by parkd, not by the core).
    pub fn with_payment_mode(mut self, payment_mode: PaymentModeDto) -> Self {
        self.payment_mode = payment_mode;
        self
    }

    /// The same lot showing `external_id` (kept by storage, not by the core).
    pub fn with_external_id(mut self, external_id: Option<String>) -> Self {
        self.external_id = external_id;
        self
    }
}

/// `POST /parking-lots` (operator, admin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLotRequest {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// 1 to 500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub address: String,
    /// Where the entrance is.
    pub location: Location,
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[schema(example = "Europe/Berlin")]
    pub timezone: String,
    /// Absent: open around the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub operating_hours: Option<OperatingHours>,
    /// Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turnover_buffer_minutes: Option<u32>,
    /// Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_lead_minutes: Option<u32>,
    /// Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_minutes: Option<u32>,
    /// How long an unconfirmed hold blocks its spot; default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_minutes: Option<u32>,
    /// Minutes after the start before an unchecked-in booking is a no-show;
    /// default 15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show_grace_minutes: Option<u32>,
    /// Refunds on cancellation: full until `free_until_minutes_before` the start,
    /// then `late_refund_percent`, nothing once started; default 60 min / 50 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cancellation: Option<CancellationPolicy>,
    /// Default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amenities: Option<Vec<AmenityDto>>,
    /// The owning tenant; an admin must name it, an operator's lots always
    /// belong to their own tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    /// The lot's id in the data set it is imported from, 1 to 200 characters,
    /// unique across lots (a second lot with it is a 409). Lets an import find
    /// the lot again: `GET /parking-lots/by-external-id/{external_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200)]
    pub external_id: Option<String>,
    /// `on_site` (default) or `prepaid`; `prepaid` needs parkd configured
    /// with Stripe keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_mode: Option<PaymentModeDto>,
}

impl CreateLotRequest {
    /// Checks lengths, coordinates, time zone, hours and minute settings.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        checks.length("name", &self.name, 1, MAX_NAME_CHARS);
        checks.length("address", &self.address, 1, MAX_ADDRESS_CHARS);
        checks.coordinates("location.", self.location.lat, self.location.lng);
        checks.timezone("timezone", &self.timezone);
        if let Some(external_id) = &self.external_id {
            check_external_id(&mut checks, external_id);
        }
        if let Some(hours) = &self.operating_hours {
            check_hours(&mut checks, hours);
        }
        check_minutes(
            &mut checks,
            [
                ("turnover_buffer_minutes", self.turnover_buffer_minutes, 0),
                ("min_lead_minutes", self.min_lead_minutes, 0),
                ("max_duration_minutes", self.max_duration_minutes, 1),
                ("hold_minutes", self.hold_minutes, 1),
                ("no_show_grace_minutes", self.no_show_grace_minutes, 0),
            ],
        );
        checks.finish()
    }

    /// Validates and builds the core lot, defaults filled in.
    pub fn to_lot(&self, id: LotId, tenant_id: TenantId) -> Result<CoreLot, Vec<FieldError>> {
        self.validate()?;
        let defaults = BookingRules::default();
        Ok(CoreLot {
            id,
            tenant_id,
            name: self.name.trim().to_owned(),
            address: self.address.trim().to_owned(),
            location: geo(self.location)?,
            time_zone: tz(&self.timezone)?,
            hours: self.operating_hours.clone().unwrap_or_default(),
            amenities: amenities(self.amenities.as_deref().unwrap_or_default()),
            rules: BookingRules {
                turnover_buffer_minutes: self
                    .turnover_buffer_minutes
                    .unwrap_or(defaults.turnover_buffer_minutes),
                min_lead_minutes: self.min_lead_minutes.unwrap_or(defaults.min_lead_minutes),
                max_duration_minutes: self.max_duration_minutes,
                hold_minutes: self.hold_minutes.unwrap_or(defaults.hold_minutes),
                no_show_grace_minutes: self
                    .no_show_grace_minutes
                    .unwrap_or(defaults.no_show_grace_minutes),
                cancellation: self.cancellation.unwrap_or(defaults.cancellation),
            },
        })
    }
}

/// `PATCH /parking-lots/{id}`: only the fields present change;
/// `"max_duration_minutes": null` removes the limit and
/// `"operating_hours": null` opens the lot around the clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLotRequest {
    /// 1 to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 1 to 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where the entrance is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// IANA time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// New opening hours; `null` for around the clock.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Object>, nullable = true)]
    pub operating_hours: Option<Option<OperatingHours>>,
    /// Minutes kept free between bookings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turnover_buffer_minutes: Option<u32>,
    /// Minimum lead time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_lead_minutes: Option<u32>,
    /// Maximum duration; `null` removes the limit.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>, nullable = true)]
    pub max_duration_minutes: Option<Option<u32>>,
    /// Hold length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_minutes: Option<u32>,
    /// No-show grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show_grace_minutes: Option<u32>,
    /// Refunds on cancellation: full until `free_until_minutes_before` the start,
    /// then `late_refund_percent`, nothing once started; default 60 min / 50 %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cancellation: Option<CancellationPolicy>,
    /// Replaces the amenities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amenities: Option<Vec<AmenityDto>>,
    /// `on_site` or `prepaid` (needs Stripe keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_mode: Option<PaymentModeDto>,
}

impl UpdateLotRequest {
    /// Checks the fields present with the rules of [`CreateLotRequest`].
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        if let Some(name) = &self.name {
            checks.length("name", name, 1, MAX_NAME_CHARS);
        }
        if let Some(address) = &self.address {
            checks.length("address", address, 1, MAX_ADDRESS_CHARS);
        }
        if let Some(l) = self.location {
            checks.coordinates("location.", l.lat, l.lng);
        }
        if let Some(timezone) = &self.timezone {
            checks.timezone("timezone", timezone);
        }
        if let Some(Some(hours)) = &self.operating_hours {
            check_hours(&mut checks, hours);
        }
        check_minutes(
            &mut checks,
            [
                ("turnover_buffer_minutes", self.turnover_buffer_minutes, 0),
                ("min_lead_minutes", self.min_lead_minutes, 0),
                (
                    "max_duration_minutes",
                    self.max_duration_minutes.flatten(),
                    1,
                ),
                ("hold_minutes", self.hold_minutes, 1),
                ("no_show_grace_minutes", self.no_show_grace_minutes, 0),
            ],
        );
        checks.finish()
    }

    /// Validates and applies the present fields to `lot`; on error `lot` is
    /// unchanged.
    pub fn apply(&self, lot: &mut CoreLot) -> Result<(), Vec<FieldError>> {
        self.validate()?;
        let location = self.location.map(geo).transpose()?;
        let time_zone = self.timezone.as_deref().map(tz).transpose()?;
        if let Some(name) = &self.name {
            lot.name = name.trim().to_owned();
        }
        if let Some(address) = &self.address {
            lot.address = address.trim().to_owned();
        }
        if let Some(location) = location {
            lot.location = location;
        }
        if let Some(time_zone) = time_zone {
            lot.time_zone = time_zone;
        }
        if let Some(hours) = &self.operating_hours {
            lot.hours = hours.clone().unwrap_or_default();
        }
        if let Some(v) = self.turnover_buffer_minutes {
            lot.rules.turnover_buffer_minutes = v;
        }
        if let Some(v) = self.min_lead_minutes {
            lot.rules.min_lead_minutes = v;
        }
        if let Some(v) = self.max_duration_minutes {
            lot.rules.max_duration_minutes = v;
        }
        if let Some(v) = self.hold_minutes {
            lot.rules.hold_minutes = v;
        }
        if let Some(v) = self.cancellation {
            lot.rules.cancellation = v;
        }
        if let Some(v) = self.no_show_grace_minutes {
            lot.rules.no_show_grace_minutes = v;
        }
        if let Some(list) = &self.amenities {
            lot.amenities = amenities(list);
        }
        Ok(())
    }
}

/// An external id is matched exactly (it is a key, not a label), so it may not
/// carry surrounding whitespace or control characters that would make two ids
/// look alike.
fn check_external_id(checks: &mut Checks, external_id: &str) {
    checks.length("external_id", external_id, 1, MAX_EXTERNAL_ID_CHARS);
    let padded = external_id.trim() != external_id && !external_id.trim().is_empty();
    if padded || external_id.chars().any(char::is_control) {
        checks.push(
            "external_id",
            "must not start or end with whitespace nor contain control characters",
        );
    }
}

fn check_hours(checks: &mut Checks, hours: &OperatingHours) {
    if let Err(e) = hours.validate() {
        checks.push("operating_hours", e.to_string());
    }
}

fn check_minutes<const N: usize>(checks: &mut Checks, fields: [(&str, Option<u32>, u32); N]) {
    for (field, value, min) in fields {
        if let Some(v) = value {
            checks.range(field, v, min, MAX_MINUTES);
        }
    }
}

fn geo(l: Location) -> Result<GeoPoint, Vec<FieldError>> {
    GeoPoint::try_from(l).map_err(|e| vec![FieldError::new("location", e.to_string())])
}

fn tz(name: &str) -> Result<chrono_tz::Tz, Vec<FieldError>> {
    name.parse()
        .map_err(|_| vec![FieldError::new("timezone", "unknown IANA time zone")])
}

fn amenities(list: &[AmenityDto]) -> BTreeSet<Amenity> {
    list.iter().map(|&a| a.into()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;
    use parking_core::model::SpotKind;
    use serde_json::json;

    fn create_body() -> serde_json::Value {
        json!({
            "name": "Altmarkt-Galerie",
            "address": "Webergasse 1, 01067 Dresden",
            "location": {"lat": 51.0493, "lng": 13.7353},
            "timezone": "Europe/Berlin",
            "operating_hours": {
                "weekly": [{"day": "Mon", "open": "06:00:00", "close": "22:00:00"}],
                "closures": [{"from": "2026-12-25", "to": "2026-12-25", "reason": "Christmas Day"}]
            },
            "turnover_buffer_minutes": 10,
            "max_duration_minutes": 1440,
            "amenities": ["covered", "ev_charging_is_not_an_amenity"]
        })
    }

    #[test]
    fn create_body_parses_and_builds_a_core_lot() {
        let mut body = create_body();
        body["amenities"] = json!(["covered", "cctv"]);
        let req: CreateLotRequest = serde_json::from_value(body).expect("parses");
        assert_eq!(req.validate(), Ok(()));
        let lot = req
            .to_lot(LotId::from_u128(1), TenantId::from_u128(2))
            .expect("valid");
        assert_eq!(lot.time_zone, chrono_tz::Europe::Berlin);
        assert_eq!(lot.rules.turnover_buffer_minutes, 10);
        assert_eq!(lot.rules.hold_minutes, 10, "default");
        assert_eq!(lot.amenities.len(), 2);
        let mut counts = KindCounts::default();
        counts.set(SpotKind::Ev, 2);
        let wire = serde_json::to_value(Lot::from_core(&lot, 40, &counts)).expect("serialise");
        assert_eq!(wire["timezone"], "Europe/Berlin");
        assert_eq!(wire["available"]["ev"], 2);
        assert_eq!(wire["available"]["regular"], 0);
        assert_eq!(wire["location"], json!({"lat": 51.0493, "lng": 13.7353}));
        assert_eq!(wire["operating_hours"]["weekly"][0]["day"], "Mon");
        // Unknown amenity and unknown field are refused.
        assert!(serde_json::from_value::<CreateLotRequest>(create_body()).is_err());
        let mut extra = create_body();
        extra["amenities"] = json!([]);
        extra["floors"] = json!(3);
        assert!(serde_json::from_value::<CreateLotRequest>(extra).is_err());
        let minimal: CreateLotRequest = serde_json::from_value(json!({
            "name": "P1", "address": "Somewhere 1", "location": {"lat": 0, "lng": 0},
            "timezone": "UTC"
        }))
        .expect("minimal body");
        assert_eq!(minimal.validate(), Ok(()));
    }

    #[test]
    fn create_limits_name_their_fields() {
        let bad = CreateLotRequest {
            name: "x".repeat(201),
            address: "y".repeat(501),
            location: Location {
                lat: 91.0,
                lng: f64::NAN,
            },
            timezone: "Mars/Olympus_Mons".to_owned(),
            operating_hours: Some(OperatingHours {
                weekly: None,
                closures: vec![parking_core::model::Closure {
                    from: chrono::NaiveDate::from_ymd_opt(2026, 2, 2).expect("date"),
                    to: chrono::NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
                    reason: "reversed".to_owned(),
                }],
            }),
            turnover_buffer_minutes: Some(MAX_MINUTES + 1),
            min_lead_minutes: None,
            cancellation: None,
            max_duration_minutes: Some(0),
            hold_minutes: Some(0),
            no_show_grace_minutes: None,
            amenities: None,
            tenant_id: None,
            external_id: Some(" padded".to_owned()),
            payment_mode: None,
        };
        assert_eq!(
            fields(bad.validate()),
            [
                "name",
                "address",
                "location.lat",
                "location.lng",
                "timezone",
                "external_id",
                "operating_hours",
                "turnover_buffer_minutes",
                "max_duration_minutes",
                "hold_minutes"
            ]
        );
        assert!(bad.to_lot(LotId::new(), TenantId::new()).is_err());
    }

    #[test]
    fn external_ids_are_keys() {
        let mut body = create_body();
        body["amenities"] = json!([]);
        for (id, ok) in [
            ("dresdenaltmarkt", true),
            ("de:dresden/P 12", true),
            (&"x".repeat(200), true),
            (&"x".repeat(201), false),
            ("", false),
            ("   ", false),
            ("altmarkt ", false),
            ("alt\nmarkt", false),
        ] {
            body["external_id"] = json!(id);
            let req: CreateLotRequest = serde_json::from_value(body.clone()).expect("parses");
            match req.validate() {
                Ok(()) => assert!(ok, "{id:?} accepted"),
                Err(errors) => {
                    assert!(!ok, "{id:?} refused: {errors:?}");
                    assert!(errors.iter().all(|e| e.field == "external_id"), "{id:?}");
                }
            }
        }
        let req: CreateLotRequest = serde_json::from_value(body).expect("parses");
        assert_eq!(req.external_id.as_deref(), Some("alt\nmarkt"));
        let lot = LotId::from_u128(1);
        let core = CreateLotRequest {
            external_id: None,
            ..req
        }
        .to_lot(lot, TenantId::from_u128(2))
        .expect("valid");
        let wire = Lot::from_core(&core, 0, &KindCounts::default());
        let json = serde_json::to_value(&wire).expect("serialise");
        assert!(json.get("external_id").is_none(), "absent when none");
        let json = serde_json::to_value(wire.with_external_id(Some("p1".into()))).expect("json");
        assert_eq!(json["external_id"], "p1");
    }

    #[test]
    fn patch_applies_only_what_is_present() {
        let req: CreateLotRequest = serde_json::from_value(json!({
            "name": "P1", "address": "Somewhere 1", "location": {"lat": 0, "lng": 0},
            "timezone": "UTC", "max_duration_minutes": 60, "operating_hours": {"weekly": []}
        }))
        .expect("parses");
        let mut lot = req
            .to_lot(LotId::from_u128(1), TenantId::from_u128(2))
            .expect("valid");
        let patch: UpdateLotRequest = serde_json::from_value(json!({
            "name": "P1 North", "max_duration_minutes": null, "operating_hours": null
        }))
        .expect("parses");
        patch.apply(&mut lot).expect("valid");
        assert_eq!(lot.name, "P1 North");
        assert_eq!(lot.rules.max_duration_minutes, None);
        assert_eq!(lot.hours, OperatingHours::always_open());
        assert_eq!(lot.address, "Somewhere 1");
        let bad: UpdateLotRequest =
            serde_json::from_value(json!({"timezone": "Nowhere", "name": ""})).expect("parses");
        let before = lot.clone();
        assert_eq!(fields(bad.apply(&mut lot)), ["name", "timezone"]);
        assert_eq!(lot, before);
        assert!(serde_json::from_value::<UpdateLotRequest>(json!({"tenant_id": null})).is_err());
    }

    #[test]
    fn search_query_limits() {
        let q: LotSearchQuery =
            serde_json::from_value(json!({"lat": 51.05, "lng": 13.74})).expect("parses");
        assert_eq!(q.validate(), Ok(()));
        assert_eq!((q.radius_m(), q.page_query()), (1000, PageQuery::default()));
        let bad = LotSearchQuery {
            lat: -90.5,
            lng: 180.5,
            radius: Some(50_001),
            spot_type: Some(SpotKindDto::Ev),
            start_time: Some(chrono::DateTime::UNIX_EPOCH),
            end_time: Some(chrono::DateTime::UNIX_EPOCH),
            max_price: Some(-1),
            page: Some(0),
            per_page: Some(101),
        };
        assert_eq!(
            fields(bad.validate()),
            [
                "lat",
                "lng",
                "radius",
                "end_time",
                "max_price",
                "page",
                "per_page"
            ]
        );
        let zero = LotSearchQuery {
            radius: Some(0),
            max_price: Some(500),
            ..q
        };
        assert_eq!(fields(zero.validate()), ["radius", "max_price"]);
        assert!(
            serde_json::from_value::<LotSearchQuery>(json!({"lat": 1, "lng": 1, "limit": 5}))
                .is_err()
        );
    }
}
