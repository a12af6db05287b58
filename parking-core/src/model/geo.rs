//! Geographic points and great-circle distance.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Mean Earth radius in metres (IUGG), used for all distances.
///
/// A sphere is within 0.5 % of the WGS-84 ellipsoid for the distances a parking
/// search asks about, and it keeps distance a true metric (the R-tree relies on that).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS-84 position in decimal degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint", into = "RawPoint")]
pub struct GeoPoint {
    lat: f64,
    lng: f64,
}

/// A coordinate that is not a position on Earth.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum GeoError {
    /// Latitude outside [-90, 90] or not finite.
    #[error("latitude {0} is outside -90..=90")]
    Latitude(f64),
    /// Longitude outside [-180, 180] or not finite.
    #[error("longitude {0} is outside -180..=180")]
    Longitude(f64),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoint {
    lat: f64,
    lng: f64,
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = GeoError;

    fn try_from(raw: RawPoint) -> Result<Self, Self::Error> {
        GeoPoint::new(raw.lat, raw.lng)
    }
}

impl From<GeoPoint> for RawPoint {
    fn from(p: GeoPoint) -> Self {
        RawPoint {
            lat: p.lat,
            lng: p.lng,
        }
    }
}

impl GeoPoint {
    /// A point from latitude and longitude in degrees; NaN and out-of-range values
    /// are refused.
    pub fn new(lat: f64, lng: f64) -> Result<Self, GeoError> {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(GeoError::Latitude(lat));
        }
        if !(lng.is_finite() && (-180.0..=180.0).contains(&lng)) {
            return Err(GeoError::Longitude(lng));
        }
        Ok(GeoPoint { lat, lng })
    }

    /// Latitude in degrees.
    pub const fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub const fn lng(&self) -> f64 {
        self.lng
    }

    /// Great-circle distance in metres (haversine formula, numerically stable for
    /// small distances and for antipodal points).
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlng = (other.lng - self.lng).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }

    /// The point on the unit sphere, `[x, y, z]`.
    pub fn to_unit_vector(&self) -> [f64; 3] {
        let (lat, lng) = (self.lat.to_radians(), self.lng.to_radians());
        [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_coordinates_are_refused() {
        assert!(GeoPoint::new(90.5, 0.0).is_err());
        assert!(GeoPoint::new(0.0, -180.1).is_err());
        assert!(GeoPoint::new(f64::NAN, 0.0).is_err());
        assert!(GeoPoint::new(-90.0, 180.0).is_ok());
    }

    #[test]
    fn distances_match_known_values() {
        // Dresden Hauptbahnhof to Dresden Neustadt station: about 2.9 km.
        let hbf = GeoPoint::new(51.0406, 13.7320).expect("valid");
        let neustadt = GeoPoint::new(51.0654, 13.7409).expect("valid");
        let d = hbf.distance_m(&neustadt);
        assert!((2_700.0..3_000.0).contains(&d), "{d}");
        // Across the antimeridian: 0.2 degrees of longitude at the equator, about 22.2 km.
        let east = GeoPoint::new(0.0, 179.9).expect("valid");
        let west = GeoPoint::new(0.0, -179.9).expect("valid");
        let d = east.distance_m(&west);
        assert!((22_200.0..22_300.0).contains(&d), "{d}");
        // Near the pole, longitude barely matters.
        let a = GeoPoint::new(89.999, 0.0).expect("valid");
        let b = GeoPoint::new(89.999, 180.0).expect("valid");
        assert!((a.distance_m(&b) - 222.4).abs() < 1.0);
    }
}
