//! [`Radius`]: a validated search radius in metres, and the chord bound the
//! R-tree is queried with.

use crate::model::EARTH_RADIUS_M;

use super::SpatialError;

/// Slack added to every chord bound (unit sphere; about 6 mm on Earth).
///
/// The R-tree orders lots by straight-line chord through the sphere, the answer is
/// ordered by haversine distance; both are monotone in the true distance but are
/// computed differently, so they may disagree by a few ulps. A slack a million
/// times larger than that error makes "not yet seen by the tree" imply "farther
/// by haversine", which is what exactness against a brute-force scan rests on.
pub(crate) const CHORD_SLACK: f64 = 1e-9;

/// A search radius in metres: finite and not negative.
///
/// Radii of half the Earth's circumference or more cover the whole sphere.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Radius(f64);

impl Radius {
    /// A radius of `metres`; NaN, infinite and negative values are refused.
    pub fn new(metres: f64) -> Result<Self, SpatialError> {
        if metres.is_finite() && metres >= 0.0 {
            Ok(Radius(metres))
        } else {
            Err(SpatialError::InvalidRadius(metres))
        }
    }

    /// A radius that covers the whole Earth (half its circumference).
    pub fn everywhere() -> Self {
        Radius(std::f64::consts::PI * EARTH_RADIUS_M)
    }

    /// The radius in metres.
    pub const fn metres(&self) -> f64 {
        self.0
    }

    /// The largest chord (unit sphere) a lot within this radius can have, with
    /// slack; `None` when the radius reaches the antipode and so covers everything.
    pub(crate) fn chord_bound(&self) -> Option<f64> {
        let angle = self.0 / EARTH_RADIUS_M;
        if angle >= std::f64::consts::PI {
            None
        } else {
            Some(2.0 * (angle / 2.0).sin() + CHORD_SLACK)
        }
    }
}

impl TryFrom<f64> for Radius {
    type Error = SpatialError;

    fn try_from(metres: f64) -> Result<Self, Self::Error> {
        Radius::new(metres)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_radii_are_refused() {
        assert!(Radius::new(-1.0).is_err());
        assert!(Radius::new(f64::NAN).is_err());
        assert!(Radius::new(f64::INFINITY).is_err());
        assert_eq!(Radius::new(0.0).map(|r| r.metres()), Ok(0.0));
    }

    #[test]
    fn chord_bound_covers_the_arc() {
        let r = Radius::new(1_000.0).expect("valid radius");
        let chord = r.chord_bound().expect("bounded");
        // For small arcs the chord is just under the arc length.
        let arc = 1_000.0 / EARTH_RADIUS_M;
        assert!(chord > arc - 1e-12 && chord < arc + 2.0 * CHORD_SLACK);
        assert_eq!(Radius::everywhere().chord_bound(), None);
    }
}
