//! Day-ahead occupancy forecast: the seasonal profile blended with seasonal-naive
//! values (the same local time one and two weeks earlier), each brought to the
//! current level.
//!
//! Why: a car park's week repeats, but slowly drifts (e.g. trade grows week on week
//! towards Christmas). The smoothed profile of [`Forecaster`] is stable but lags the
//! drift; last week's value is current but noisy. A weighted blend of both, with
//! each part scaled by how much busier the lot is now than when that part was
//! observed, keeps the stability and follows the drift.
//!
//! Model, fitted at a forecast *origin* on the samples before it:
//! 1. **Parts** at a target instant `t`:
//!    - *profile*: [`Forecaster::profile_at`] (recency-weighted slot-of-week mean,
//!      parameters [`BlendParams::profile`]);
//!    - *last week*: the series at the same local wall-clock time 7 days before `t`,
//!      linearly interpolated between the two samples around it when they are at
//!      most an hour apart, else the sample nearest it within ±15 min;
//!    - *two weeks*: the same, 14 days before `t`.
//!
//!    A seasonal-naive part is missing when nothing was observed there, or when that
//!    instant is not before the origin (the model never reads the future).
//! 2. **Level ratios**, measured over the samples in the last
//!    [`BlendParams::trend_window`] before the origin: Σ observed / Σ the same
//!    instants one week earlier (`g₁`), two weeks earlier (`g₂`), and the profile's
//!    own recent level [`Forecaster::level`] (`L`, observed / profile). Ratios are
//!    clamped to `[0.5, 2]` so a nearly empty week cannot explode them.
//! 3. **Blend**: `w₁·last_week·a(g₁) + w₂·two_weeks·a(g₂) + (1 − w₁ − w₂)·profile·a(L)`,
//!    with the damped adjustment `a(g) = 1 + φ·(g − 1)`, `φ` =
//!    [`BlendParams::damping`]. Weights of missing parts are dropped and the rest
//!    renormalised. The result is clamped to `[0, 1]`.
//!
//! Fitting is one pass for the profile and a binary search per sample in the trend
//! window: O(n log n). Everything is deterministic.
//!
//! **Choosing the parameters.** [`tune`] grid-searches them on *validation days cut
//! from the end of the training data*, forecasting each validation day from a model
//! refitted at that day's local midnight (the same day-ahead protocol as
//! [`evaluate_blend_day_ahead`]). Held-out test data must never be passed to it.
//! [`BlendParams::default`] is what [`tune`] chose with [`BlendGrid::default`] on the
//! training part of the Birmingham data (all car parks, last 14 days before each
//! split as validation) — see `tests/forecast.rs`, which re-runs that tuning and
//! checks that it still picks the default: no profile recency (a plain mean of all
//! weeks), `w₁ = 0.5`, `w₂ = 0.1` (profile 0.4), a 7-day trend window, `φ = 0.75`.
//! Not searched, inherited from [`ForecastParams::default`]: the 30-min slot and the
//! profile level's 7-day window, 2-day half-life and multiplicative form (those
//! defaults predate this model and were picked on the Birmingham hold-out period).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::AnalyticsError;
use super::forecast::{
    Correction, ForecastEvaluation, ForecastParams, Forecaster, OccupancySample, clean, score,
};
use crate::model::local_time::{local_date, local_to_utc, start_of_local_day};

/// Two samples further apart than this are not interpolated between.
const MAX_INTERPOLATION_GAP_MINUTES: i64 = 60;
/// Without samples around it, the nearest sample within this counts.
const NEAREST_TOLERANCE_MINUTES: i64 = 15;
/// Level ratios are clamped to `[1 / MAX_RATIO, MAX_RATIO]`.
const MAX_RATIO: f64 = 2.0;

/// Parameters of [`BlendForecaster`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlendParams {
    /// The seasonal profile's parameters (slot, recency, level window).
    pub profile: ForecastParams,
    /// Weight `w₁` of the value one week earlier, in `[0, 1]`.
    pub last_week: f64,
    /// Weight `w₂` of the value two weeks earlier, in `[0, 1]`; `w₁ + w₂ ≤ 1` and the
    /// profile gets the rest.
    pub two_weeks: f64,
    /// How far back from the origin the week-on-week level ratios are measured;
    /// at least an hour.
    pub trend_window: Duration,
    /// Damping `φ` in `[0, 1]` of every level adjustment: 0 ignores the level
    /// ratios, 1 applies them in full.
    pub damping: f64,
}

impl Default for BlendParams {
    /// Chosen by [`tune`] on the Birmingham training data (see the module notes).
    fn default() -> Self {
        BlendParams {
            profile: ForecastParams {
                profile_half_life: None,
                ..ForecastParams::default()
            },
            last_week: 0.5,
            two_weeks: 0.1,
            trend_window: Duration::days(7),
            damping: 0.75,
        }
    }
}

impl BlendParams {
    /// The profile's weight, `1 − w₁ − w₂`.
    pub fn profile_weight(&self) -> f64 {
        (1.0 - self.last_week - self.two_weeks).max(0.0)
    }

    /// Refuses weights outside `[0, 1]` or summing above 1, a damping outside
    /// `[0, 1]` and a trend window under an hour.
    pub fn validate(&self) -> Result<(), AnalyticsError> {
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        if !unit(self.last_week)
            || !unit(self.two_weeks)
            || self.last_week + self.two_weeks > 1.0 + 1e-9
        {
            return Err(AnalyticsError::InvalidParams {
                reason: "blend weights lie in [0, 1] and sum to at most 1",
            });
        }
        if !unit(self.damping) {
            return Err(AnalyticsError::InvalidParams {
                reason: "the damping lies in [0, 1]",
            });
        }
        if self.trend_window < Duration::hours(1) {
            return Err(AnalyticsError::InvalidParams {
                reason: "the trend window is at least an hour",
            });
        }
        Ok(())
    }
}

/// The parts of a forecast at one instant, before blending.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Parts {
    profile: f64,
    last_week: Option<f64>,
    two_weeks: Option<f64>,
}

/// Level ratios found at fitting time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Levels {
    /// Observed / one week earlier, over the trend window.
    week: f64,
    /// Observed / two weeks earlier, over the trend window.
    two_weeks: f64,
    /// The profile's own recent level (ratio, or residual if additive).
    profile: f64,
    correction: Correction,
}

/// Blends `parts` with weights and damping from `params`.
fn blend(parts: Parts, levels: Levels, params: &BlendParams) -> f64 {
    let adjust = |value: f64, ratio: f64| value * (1.0 + params.damping * (ratio - 1.0));
    let profile = match levels.correction {
        Correction::Multiplicative => adjust(parts.profile, levels.profile),
        Correction::Additive => parts.profile + params.damping * levels.profile,
    };
    let mut sum = params.profile_weight() * profile;
    let mut weight = params.profile_weight();
    if let Some(v) = parts.last_week {
        sum += params.last_week * adjust(v, levels.week);
        weight += params.last_week;
    }
    if let Some(v) = parts.two_weeks {
        sum += params.two_weeks * adjust(v, levels.two_weeks);
        weight += params.two_weeks;
    }
    let value = if weight > f64::EPSILON {
        sum / weight
    } else {
        profile
    };
    value.clamp(0.0, 1.0)
}

/// The series' value at `target`: interpolated between the samples around it if
/// they are close enough, else the nearest sample within the tolerance.
fn value_at(history: &[OccupancySample], target: DateTime<Utc>) -> Option<f64> {
    let i = history.partition_point(|&(s, _)| s < target);
    let after = history.get(i).copied();
    let before = i.checked_sub(1).and_then(|j| history.get(j)).copied();
    if let (Some((t0, v0)), Some((t1, v1))) = (before, after) {
        let span = (t1 - t0).num_milliseconds();
        if t1 == target || span <= 0 {
            return Some(v1);
        }
        if t1 - t0 <= Duration::minutes(MAX_INTERPOLATION_GAP_MINUTES) {
            let w = (target - t0).num_milliseconds() as f64 / span as f64;
            return Some(v0 + (v1 - v0) * w);
        }
    }
    let tolerance = Duration::minutes(NEAREST_TOLERANCE_MINUTES);
    [before, after]
        .into_iter()
        .flatten()
        .filter(|(s, _)| (*s - target).abs() <= tolerance)
        .min_by_key(|(s, _)| (*s - target).abs())
        .map(|(_, v)| v)
}

/// The same local wall-clock time `weeks` weeks before `t` (DST-aware).
fn weeks_before(tz: Tz, t: DateTime<Utc>, weeks: i64) -> DateTime<Utc> {
    local_to_utc(
        tz,
        t.with_timezone(&tz).naive_local() - Duration::weeks(weeks),
    )
}

/// A fitted day-ahead blend for one lot; see the module notes.
#[derive(Clone, Debug, PartialEq)]
pub struct BlendForecaster {
    tz: Tz,
    params: BlendParams,
    origin: DateTime<Utc>,
    profile: Forecaster,
    /// The cleaned samples before the origin, for the seasonal-naive parts.
    history: Vec<OccupancySample>,
    levels: Levels,
}

impl BlendForecaster {
    /// Fits on the samples of `samples` strictly before `origin` (any order;
    /// non-finite ratios ignored) in the lot's zone `tz`. Fails on invalid
    /// parameters, an unusable slot length, or no usable sample before `origin`.
    pub fn fit(
        samples: &[OccupancySample],
        origin: DateTime<Utc>,
        tz: Tz,
        params: BlendParams,
    ) -> Result<BlendForecaster, AnalyticsError> {
        params.validate()?;
        let mut history = clean(samples);
        history.truncate(history.partition_point(|&(t, _)| t < origin));
        Self::fit_clean(history, origin, tz, params)
    }

    /// [`fit`](Self::fit) on samples already cleaned and cut at `origin`.
    fn fit_clean(
        history: Vec<OccupancySample>,
        origin: DateTime<Utc>,
        tz: Tz,
        params: BlendParams,
    ) -> Result<BlendForecaster, AnalyticsError> {
        let profile = Forecaster::fit(&history, tz, params.profile)?;
        let ratio = |weeks: i64| {
            let from = history.partition_point(|&(s, _)| s < origin - params.trend_window);
            let (mut now, mut then) = (0.0, 0.0);
            for &(s, v) in history.get(from..).unwrap_or_default() {
                if let Some(earlier) = value_at(&history, weeks_before(tz, s, weeks)) {
                    now += v;
                    then += earlier;
                }
            }
            if then > f64::EPSILON {
                (now / then).clamp(1.0 / MAX_RATIO, MAX_RATIO)
            } else {
                1.0
            }
        };
        let profile_level = match params.profile.correction {
            Correction::Multiplicative => profile.level().clamp(1.0 / MAX_RATIO, MAX_RATIO),
            Correction::Additive => profile.level(),
        };
        let levels = Levels {
            week: ratio(1),
            two_weeks: ratio(2),
            profile: profile_level,
            correction: params.profile.correction,
        };
        Ok(BlendForecaster {
            tz,
            params,
            origin,
            profile,
            history,
            levels,
        })
    }

    /// The forecast origin: only samples before it were used.
    pub fn origin(&self) -> DateTime<Utc> {
        self.origin
    }

    /// The parameters the model was fitted with.
    pub fn params(&self) -> BlendParams {
        self.params
    }

    /// The week-on-week level ratio `g₁` (1 when nothing could be compared).
    pub fn week_on_week(&self) -> f64 {
        self.levels.week
    }

    /// The parts at `at`; seasonal-naive parts at or after the origin are missing.
    fn parts(&self, at: DateTime<Utc>) -> Parts {
        let lag = |weeks| {
            let target = weeks_before(self.tz, at, weeks);
            if target < self.origin {
                value_at(&self.history, target)
            } else {
                None
            }
        };
        Parts {
            profile: self.profile.profile_at(at),
            last_week: lag(1),
            two_weeks: lag(2),
        }
    }

    /// The forecast occupancy ratio at `at`, in `[0, 1]`.
    pub fn forecast(&self, at: DateTime<Utc>) -> f64 {
        blend(self.parts(at), self.levels, &self.params)
    }
}

/// Day-ahead refitting: the model for an instant is fitted on every sample before
/// that instant's local midnight (or before `split_at`, if later), once per day.
#[derive(Debug)]
struct DayAhead {
    tz: Tz,
    split_at: DateTime<Utc>,
    params: BlendParams,
    fitted: Option<(NaiveDate, BlendForecaster)>,
}

impl DayAhead {
    fn new(tz: Tz, split_at: DateTime<Utc>, params: BlendParams) -> DayAhead {
        DayAhead {
            tz,
            split_at,
            params,
            fitted: None,
        }
    }

    /// The model for `t`; `history` cleaned, `params` valid.
    fn model(
        &mut self,
        history: &[OccupancySample],
        t: DateTime<Utc>,
    ) -> Result<&BlendForecaster, AnalyticsError> {
        let day = local_date(self.tz, t);
        let model = match self.fitted.take() {
            Some((fitted_day, model)) if fitted_day == day => model,
            _ => {
                let origin = start_of_local_day(self.tz, day).max(self.split_at);
                let end = history.partition_point(|&(s, _)| s < origin);
                let train = history.get(..end).unwrap_or_default().to_vec();
                BlendForecaster::fit_clean(train, origin, self.tz, self.params)?
            }
        };
        Ok(&self.fitted.insert((day, model)).1)
    }
}

/// Runs `per_sample` on each sample of `history[split..]` (cleaned) with its
/// day-ahead model.
fn day_ahead(
    history: &[OccupancySample],
    split_at: DateTime<Utc>,
    tz: Tz,
    params: BlendParams,
    mut per_sample: impl FnMut(&BlendForecaster, DateTime<Utc>, f64),
) -> Result<(), AnalyticsError> {
    let split = history.partition_point(|&(t, _)| t < split_at);
    let mut models = DayAhead::new(tz, split_at, params);
    for &(t, observed) in history.get(split..).unwrap_or_default() {
        per_sample(models.model(history, t)?, t, observed);
    }
    Ok(())
}

/// The blend's error on held-back history, day-ahead with a rolling origin, against
/// the naive baseline (the sample nearest the same local time seven days earlier,
/// within ±15 min).
///
/// Protocol: each held-back local day is forecast by a [`BlendForecaster`] refitted
/// at that day's local midnight (the first day at `split_at`) on every sample before
/// it, held-back days included — as a nightly batch job would. The model thus sees
/// what the baseline sees up to the origin and nothing after it. Held-back samples
/// without a baseline value are excluded from both errors.
pub fn evaluate_blend_day_ahead(
    history: &[OccupancySample],
    split_at: DateTime<Utc>,
    tz: Tz,
    params: BlendParams,
) -> Result<ForecastEvaluation, AnalyticsError> {
    params.validate()?;
    let history = clean(history);
    let split = history.partition_point(|&(t, _)| t < split_at);
    let mut models = DayAhead::new(tz, split_at, params);
    score(&history, split, tz, |history, t| {
        Ok(models.model(history, t)?.forecast(t))
    })
}

/// The candidates [`tune`] tries: every combination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlendGrid {
    /// Profile recency half-lives (`None`: a plain mean of all weeks).
    pub profile_half_lives: Vec<Option<Duration>>,
    /// Trend windows for the level ratios.
    pub trend_windows: Vec<Duration>,
    /// Weights `w₁` and `w₂` run over `0, 1/steps, …, 1` with `w₁ + w₂ ≤ 1`.
    pub weight_steps: u32,
    /// Dampings `φ`.
    pub dampings: Vec<f64>,
    /// Everything else (slot, level window, correction) comes from here.
    pub base: BlendParams,
}

impl Default for BlendGrid {
    fn default() -> Self {
        BlendGrid {
            profile_half_lives: vec![
                None,
                Some(Duration::days(7)),
                Some(Duration::days(14)),
                Some(Duration::days(28)),
            ],
            trend_windows: vec![Duration::days(3), Duration::days(7)],
            weight_steps: 10,
            dampings: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            base: BlendParams::default(),
        }
    }
}

/// What [`tune`] chose, and its validation error.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tuned {
    /// The best parameters of the grid.
    pub params: BlendParams,
    /// Their sample-weighted day-ahead MAE over the validation days, in pp.
    pub validation_mae_pp: f64,
    /// Validation samples scored.
    pub n: usize,
}

/// Picks the [`BlendGrid`] combination with the lowest day-ahead MAE, pooled over
/// all lots, on the last `validation` of each lot's `training` samples (each lot
/// forecast from models refitted at every local midnight of its validation span,
/// on its samples before that midnight only). Pass training data only: whatever is
/// given may shape the choice. Ties go to the first combination in grid order
/// (half-life, window, `w₁`, `w₂`, `φ`). Fails on an empty grid, invalid
/// parameters, or no validation sample.
pub fn tune(
    training: &[&[OccupancySample]],
    tz: Tz,
    validation: Duration,
    grid: &BlendGrid,
) -> Result<Tuned, AnalyticsError> {
    let steps = grid.weight_steps.max(1);
    let mut weights: Vec<(f64, f64)> = Vec::new();
    for a in 0..=steps {
        for b in 0..=(steps - a) {
            weights.push((
                f64::from(a) / f64::from(steps),
                f64::from(b) / f64::from(steps),
            ));
        }
    }
    let lots: Vec<Vec<OccupancySample>> = training.iter().map(|s| clean(s)).collect();
    let mut best: Option<Tuned> = None;
    for &half_life in &grid.profile_half_lives {
        for &window in &grid.trend_windows {
            let structural = BlendParams {
                profile: ForecastParams {
                    profile_half_life: half_life,
                    ..grid.base.profile
                },
                trend_window: window,
                ..grid.base
            };
            structural.validate()?;
            // The parts do not depend on the weights or damping: compute them once.
            let mut cases: Vec<(f64, Parts, Levels)> = Vec::new();
            for lot in &lots {
                let Some(&(last, _)) = lot.last() else {
                    continue;
                };
                day_ahead(
                    lot,
                    last - validation,
                    tz,
                    structural,
                    |model, t, observed| {
                        cases.push((observed, model.parts(t), model.levels));
                    },
                )?;
            }
            if cases.is_empty() {
                continue;
            }
            for &(last_week, two_weeks) in &weights {
                for &damping in &grid.dampings {
                    let params = BlendParams {
                        last_week,
                        two_weeks,
                        damping,
                        ..structural
                    };
                    params.validate()?;
                    let err: f64 = cases
                        .iter()
                        .map(|&(observed, parts, levels)| {
                            (blend(parts, levels, &params) - observed).abs()
                        })
                        .sum();
                    let mae = 100.0 * err / cases.len() as f64;
                    if best.is_none_or(|b| mae < b.validation_mae_pp) {
                        best = Some(Tuned {
                            params,
                            validation_mae_pp: mae,
                            n: cases.len(),
                        });
                    }
                }
            }
        }
    }
    best.ok_or(AnalyticsError::NoHistory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::test_series::{monday, series};
    use chrono::{Datelike, Timelike};
    use chrono_tz::Europe::London;

    /// A weekly shape, busier by day and by weekday.
    fn weekly(t: DateTime<Utc>) -> f64 {
        let local = t.with_timezone(&London);
        let hour = f64::from(local.hour());
        let day = f64::from(local.weekday().num_days_from_monday());
        0.05 + 0.4 * (hour / 23.0) * (1.0 - day / 10.0)
    }

    /// The weekly shape growing 4 % a week, compounding daily.
    fn growing(t: DateTime<Utc>) -> f64 {
        let days = (t - monday()).num_seconds() as f64 / 86_400.0;
        weekly(t) * 1.04_f64.powf(days / 7.0)
    }

    fn pure_profile() -> BlendParams {
        BlendParams {
            last_week: 0.0,
            two_weeks: 0.0,
            damping: 0.0,
            ..BlendParams::default()
        }
    }

    #[test]
    fn on_a_growing_series_the_blend_beats_the_pure_profile() {
        let history = series(8, growing);
        let split = monday() + Duration::weeks(6);
        let blend = BlendParams {
            last_week: 0.7,
            two_weeks: 0.1,
            damping: 1.0,
            ..BlendParams::default()
        };
        let with_blend =
            evaluate_blend_day_ahead(&history, split, London, blend).expect("evaluates");
        let profile =
            evaluate_blend_day_ahead(&history, split, London, pure_profile()).expect("evaluates");
        assert_eq!(with_blend.n, 2 * 7 * 48);
        assert!(
            with_blend.model_mae_pp < profile.model_mae_pp / 3.0,
            "blend {} vs profile {}",
            with_blend.model_mae_pp,
            profile.model_mae_pp
        );
        // The level-adjusted seasonal naive also beats the plain one (the baseline).
        assert!(with_blend.model_mae_pp < with_blend.naive_mae_pp / 3.0);
    }

    #[test]
    fn the_week_on_week_ratio_measures_growth() {
        let history = series(4, growing);
        let origin = monday() + Duration::weeks(4);
        let model =
            BlendForecaster::fit(&history, origin, London, BlendParams::default()).expect("fits");
        assert!(
            (model.week_on_week() - 1.04).abs() < 1e-9,
            "{}",
            model.week_on_week()
        );
        assert_eq!(model.origin(), origin);
    }

    #[test]
    fn a_perfectly_weekly_series_is_forecast_exactly() {
        let history = series(5, weekly);
        let e = evaluate_blend_day_ahead(
            &history,
            monday() + Duration::weeks(3),
            London,
            BlendParams::default(),
        )
        .expect("evaluates");
        assert!(e.model_mae_pp < 1e-9, "{}", e.model_mae_pp);
    }

    #[test]
    fn the_model_never_reads_at_or_after_its_origin() {
        // A spike after the origin must not change the forecast.
        let history = series(4, weekly);
        let origin = monday() + Duration::weeks(3) + Duration::days(2);
        let mut spiked = history.clone();
        for s in spiked.iter_mut().filter(|(t, _)| *t >= origin) {
            s.1 = 1.0;
        }
        let a =
            BlendForecaster::fit(&history, origin, London, BlendParams::default()).expect("fits");
        let b =
            BlendForecaster::fit(&spiked, origin, London, BlendParams::default()).expect("fits");
        for i in 0..(14 * 48) {
            let t = origin + Duration::minutes(30 * i + 11);
            assert_eq!(a.forecast(t), b.forecast(t), "at {t}");
        }
        // Beyond a week ahead the last-week part would be after the origin: missing.
        let far = origin + Duration::days(8);
        assert_eq!(a.parts(far).last_week, None);
        assert!(a.parts(far).two_weeks.is_some());
    }

    #[test]
    fn values_are_interpolated_between_close_samples_only() {
        let at = |m| monday() + Duration::minutes(m);
        let history = vec![(at(0), 0.2), (at(30), 0.4), (at(200), 0.9)];
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-12);
        assert!(near(value_at(&history, at(15)), 0.3));
        assert!(near(value_at(&history, at(30)), 0.4));
        assert!(
            near(value_at(&history, at(40)), 0.4),
            "nearest within 15 min"
        );
        assert_eq!(value_at(&history, at(100)), None, "gap too wide, none near");
        assert!(near(value_at(&history, at(190)), 0.9));
        assert_eq!(value_at(&[], at(0)), None);
    }

    #[test]
    fn invalid_params_are_refused() {
        for bad in [
            BlendParams {
                last_week: 0.8,
                two_weeks: 0.3,
                ..BlendParams::default()
            },
            BlendParams {
                damping: 1.5,
                ..BlendParams::default()
            },
            BlendParams {
                last_week: f64::NAN,
                ..BlendParams::default()
            },
            BlendParams {
                trend_window: Duration::minutes(5),
                ..BlendParams::default()
            },
        ] {
            assert!(matches!(
                BlendForecaster::fit(&series(2, weekly), monday(), London, bad),
                Err(AnalyticsError::InvalidParams { .. })
            ));
        }
    }

    #[test]
    fn tuning_on_a_growing_series_picks_a_level_adjusted_blend() {
        let history = series(6, growing);
        let grid = BlendGrid {
            profile_half_lives: vec![None],
            trend_windows: vec![Duration::days(7)],
            weight_steps: 4,
            dampings: vec![0.0, 1.0],
            base: BlendParams::default(),
        };
        let tuned = tune(&[&history], London, Duration::days(7), &grid).expect("tunes");
        // The validation span [last - 7 d, last] includes both ends.
        assert_eq!(tuned.n, 7 * 48 + 1);
        // Either level-adjusted seasonal-naive part is exact here; the profile is not.
        assert!(tuned.params.damping > 0.0, "{tuned:?}");
        assert!(tuned.params.profile_weight() < 1e-9, "{tuned:?}");
        assert!(tuned.validation_mae_pp < 1e-6, "{tuned:?}");
        let empty = BlendGrid {
            dampings: vec![],
            ..grid
        };
        assert_eq!(
            tune(&[&history], London, Duration::days(7), &empty),
            Err(AnalyticsError::NoHistory)
        );
    }
}
