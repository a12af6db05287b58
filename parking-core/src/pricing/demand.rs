//! Demand-responsive adjustment (SFpark-style): occupancy in, a rate factor out.
//!
//! Owns [`Occupancy`] (an integer share of a lot's spots in use) and
//! [`DemandPolicy`] (target band, step, floor and ceiling) with the rule that maps
//! one to a factor in permille. Everything is integer arithmetic.

use serde::{Deserialize, Serialize};

use crate::model::money::div_round_half_away;

/// How full a lot is, in permille (0 = empty, 1000 = every spot in use).
///
/// An integer so that the demand rule is exact and deterministic: two callers
/// with the same counts always get the same factor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Occupancy(u16);

impl Occupancy {
    /// An empty lot.
    pub const EMPTY: Occupancy = Occupancy(0);
    /// A full lot.
    pub const FULL: Occupancy = Occupancy(1000);

    /// `occupied / capacity` in permille, rounded half away from zero.
    ///
    /// A lot without capacity counts as empty (0); more occupied spots than
    /// capacity (a sensor glitch, an overbooked hold) count as full (1000).
    pub fn from_counts(occupied: u32, capacity: u32) -> Occupancy {
        if capacity == 0 {
            return Occupancy::EMPTY;
        }
        let permille = div_round_half_away(i128::from(occupied) * 1000, i128::from(capacity));
        Occupancy(u16::try_from(permille.clamp(0, 1000)).unwrap_or(1000))
    }

    /// An occupancy given directly in permille; values above 1000 are clamped.
    pub fn from_permille(permille: u16) -> Occupancy {
        Occupancy(permille.min(1000))
    }

    /// The occupancy in permille, `0..=1000`.
    pub const fn permille(self) -> u16 {
        self.0
    }
}

/// An SFpark-style demand policy: keep occupancy inside a target band by stepping
/// the hourly rate up when the lot is fuller and down when it is emptier.
///
/// The band is `[target_low_pct, target_high_pct]` (both ends inside). Outside it,
/// the rate moves by `step_pct` percent for each *started* band width beyond the
/// nearer edge, and the resulting factor is clamped to
/// `[floor_permille, ceiling_permille]`. With 60–80 %, step 10 %:
///
/// | occupancy | widths outside | factor |
/// |-----------|----------------|--------|
/// | 70 %      | 0              | 1000 ‰ |
/// | 80 %      | 0              | 1000 ‰ |
/// | 80.1 %    | 1 (started)    | 1100 ‰ |
/// | 100 %     | 1              | 1100 ‰ |
/// | 59 %      | 1              | 900 ‰  |
/// | 0 %       | 3              | 700 ‰  |
///
/// The factor applies to hourly rates only, never to posted flat prices or the
/// daily maximum (see the [`pricing`](crate::pricing) module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandPolicy {
    /// Lower edge of the target band, percent (e.g. 60).
    pub target_low_pct: u8,
    /// Upper edge of the target band, percent (e.g. 80); must exceed the low edge
    /// and be at most 100.
    pub target_high_pct: u8,
    /// Rate step in percent per started band width outside the target (e.g. 10).
    pub step_pct: u8,
    /// Smallest factor, permille (e.g. 500 = never below half price); at most 1000.
    pub floor_permille: u32,
    /// Largest factor, permille (e.g. 2000 = never above double); at least 1000.
    pub ceiling_permille: u32,
}

impl DemandPolicy {
    /// The rate factor in permille for an occupancy (1000 = unchanged).
    ///
    /// Assumes a validated policy (`low < high`); a degenerate band of width zero
    /// is treated as width one permille so that this never divides by zero.
    pub fn factor_permille(&self, occupancy: Occupancy) -> u32 {
        let low = i64::from(self.target_low_pct) * 10;
        let high = i64::from(self.target_high_pct) * 10;
        let width = (high - low).max(1);
        let occ = i64::from(occupancy.permille());
        let step = i64::from(self.step_pct) * 10;
        let steps = if occ > high {
            ceil_div(occ - high, width)
        } else if occ < low {
            -ceil_div(low - occ, width)
        } else {
            0
        };
        let raw = 1000 + steps * step;
        let floor = i64::from(self.floor_permille);
        let ceiling = i64::from(self.ceiling_permille).max(floor);
        u32::try_from(raw.clamp(floor, ceiling)).unwrap_or(self.floor_permille)
    }
}

/// `ceil(n / d)` for `n >= 0`, `d > 0`.
fn ceil_div(n: i64, d: i64) -> i64 {
    (n + d - 1) / d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sfpark() -> DemandPolicy {
        DemandPolicy {
            target_low_pct: 60,
            target_high_pct: 80,
            step_pct: 10,
            floor_permille: 500,
            ceiling_permille: 2000,
        }
    }

    #[test]
    fn occupancy_from_counts_rounds_and_clamps() {
        assert_eq!(Occupancy::from_counts(0, 0), Occupancy::EMPTY);
        assert_eq!(Occupancy::from_counts(5, 0), Occupancy::EMPTY);
        assert_eq!(Occupancy::from_counts(2, 3).permille(), 667); // 666.67
        assert_eq!(Occupancy::from_counts(1, 2000).permille(), 1); // 0.5 -> 1
        assert_eq!(Occupancy::from_counts(7, 5), Occupancy::FULL);
        assert_eq!(Occupancy::from_permille(1200), Occupancy::FULL);
    }

    #[test]
    fn inside_the_band_is_neutral() {
        let p = sfpark();
        for permille in [600, 700, 800] {
            assert_eq!(p.factor_permille(Occupancy::from_permille(permille)), 1000);
        }
    }

    #[test]
    fn above_the_band_steps_up_per_started_width() {
        let p = sfpark();
        assert_eq!(p.factor_permille(Occupancy::from_permille(801)), 1100);
        assert_eq!(p.factor_permille(Occupancy::from_permille(1000)), 1100);
        let narrow = DemandPolicy {
            target_low_pct: 70,
            target_high_pct: 75,
            ..p
        };
        // 100 % is 250 ‰ above 75 %: five widths of 50 ‰.
        assert_eq!(narrow.factor_permille(Occupancy::FULL), 1500);
        assert_eq!(narrow.factor_permille(Occupancy::from_permille(751)), 1100);
    }

    #[test]
    fn below_the_band_steps_down_per_started_width() {
        let p = sfpark();
        assert_eq!(p.factor_permille(Occupancy::from_permille(599)), 900);
        assert_eq!(p.factor_permille(Occupancy::from_permille(400)), 900);
        assert_eq!(p.factor_permille(Occupancy::from_permille(399)), 800);
        assert_eq!(p.factor_permille(Occupancy::EMPTY), 700);
    }

    #[test]
    fn factor_is_clamped_to_floor_and_ceiling() {
        let steep = DemandPolicy {
            target_low_pct: 70,
            target_high_pct: 75,
            step_pct: 50,
            floor_permille: 500,
            ceiling_permille: 2000,
        };
        // Raw would be 1000 + 5 × 500 = 3500 and 1000 − 14 × 500 < 0.
        assert_eq!(steep.factor_permille(Occupancy::FULL), 2000);
        assert_eq!(steep.factor_permille(Occupancy::EMPTY), 500);
    }
}
