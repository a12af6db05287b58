//! The occupancy forecast on real data: Birmingham car parks, Oct–Dec 2016
//! (UCI "Parking Birmingham", see `tests/data/birmingham-occupancy/SOURCE.txt`).
//!
//! For every car park with at least four weeks of history before the split, the last
//! 14 days of its data (5–19 Dec 2016) are held back. Two steps, in this order:
//! 1. **Tuning, training data only.** [`tune`] searches [`BlendGrid::default`] on each
//!    car park's samples before its split, validating day-ahead on the last 14 days
//!    of that training part (pooled over car parks). A test checks that this choice
//!    is exactly [`BlendParams::default`], so the library default is not chosen on
//!    the held-out data.
//! 2. **Held-out test, once.** Protocol: day-ahead with a rolling origin — each
//!    held-back local day is forecast by a model refitted at that day's local
//!    midnight on every earlier sample, earlier held-back days included (a nightly
//!    batch job). The baseline is unchanged: the sample nearest the same local time
//!    seven days earlier, within ±15 min. Both are scored on the same held-back
//!    samples (those with a baseline value); the sample-weighted MAE of the model
//!    must be below the baseline's.
//!
//! Measured: model 4.11 pp vs naive 4.40 pp over 28 car parks, 5,659 held-back
//! samples; the model is better on 19 of them. The file is read as it
//! is; its flaws are handled here:
//! - naive UK local timestamps → UTC through `local_to_utc` with Europe/London (the
//!   series crosses the 2016-10-30 BST→GMT change);
//! - occupancy above capacity or below zero → the ratio is clamped to `[0, 1]`
//!   (a full car park is full; a negative count is a sensor error at "empty");
//! - duplicate (car park, timestamp) rows → averaged by the library's cleaning;
//! - missing days and short series → the profile ignores what is missing; car parks
//!   without four weeks of history are listed as skipped.
//!
//! `cargo test -p parking-core --test forecast -- --nocapture` prints the table.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Europe::London;
use parking_core::analytics::{
    BlendGrid, BlendParams, ForecastEvaluation, OccupancySample, Tuned, evaluate_blend_day_ahead,
    tune,
};
use parking_core::model::local_time::local_to_utc;

const DATASET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/birmingham-occupancy/dataset.csv"
);

/// Samples per car park: `SystemCodeNumber,Capacity,Occupancy,LastUpdated`.
fn load() -> BTreeMap<String, Vec<OccupancySample>> {
    let text = std::fs::read_to_string(DATASET).expect("the dataset is in tests/data");
    let mut parks: BTreeMap<String, Vec<OccupancySample>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
        let [code, capacity, occupancy, updated] = fields[..] else {
            panic!("line {}: expected 4 fields: {line:?}", i + 1);
        };
        let capacity: f64 = capacity.parse().expect("capacity is an integer");
        let occupancy: f64 = occupancy.parse().expect("occupancy is an integer");
        let local = NaiveDateTime::parse_from_str(updated, "%Y-%m-%d %H:%M:%S")
            .expect("LastUpdated is YYYY-MM-DD HH:MM:SS");
        let ratio = (occupancy / capacity).clamp(0.0, 1.0);
        parks
            .entry(code.to_owned())
            .or_default()
            .push((local_to_utc(London, local), ratio));
    }
    parks
}

#[test]
fn timestamps_cross_the_autumn_dst_change() {
    let parks = load();
    let samples = parks.get("BHMBCCMKT01").expect("car park present");
    let at = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    };
    // 07:59:42 local on 2016-10-04 is BST (UTC+1); on 2016-11-01 it is GMT.
    assert!(
        samples
            .iter()
            .any(|(t, _)| *t == at("2016-10-04T06:59:42Z"))
    );
    assert!(samples.iter().all(|(_, r)| (0.0..=1.0).contains(r)));
    assert_eq!(parks.len(), 30);
}

/// A car park's code, samples and split instant.
type Eligible<'a> = (&'a str, &'a [OccupancySample], DateTime<Utc>);

/// The car parks with at least four weeks of history before their split (the last
/// 14 days of each car park's data), with that split; and the skipped ones.
fn eligible(parks: &BTreeMap<String, Vec<OccupancySample>>) -> (Vec<Eligible<'_>>, Vec<String>) {
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for (code, samples) in parks {
        let first = samples.iter().map(|s| s.0).min().expect("non-empty");
        let last = samples.iter().map(|s| s.0).max().expect("non-empty");
        let split = last - Duration::days(14);
        if split - first < Duration::weeks(4) {
            skipped.push(format!("{code} ({} samples)", samples.len()));
        } else {
            kept.push((code.as_str(), samples.as_slice(), split));
        }
    }
    (kept, skipped)
}

/// Step 1, training data only: the parameters [`tune`] picks with its default grid
/// on each car park's samples *before* its split, validating day-ahead on the last
/// 14 days of that training part.
fn tuned_on_training_data(parks: &BTreeMap<String, Vec<OccupancySample>>) -> Tuned {
    let (kept, _) = eligible(parks);
    let training: Vec<Vec<OccupancySample>> = kept
        .iter()
        .map(|(_, samples, split)| samples.iter().copied().filter(|(t, _)| t < split).collect())
        .collect();
    let training: Vec<&[OccupancySample]> = training.iter().map(Vec::as_slice).collect();
    tune(&training, London, Duration::days(14), &BlendGrid::default())
        .expect("the training data has validation days")
}

/// Step 2, once: the held-back 14 days, day-ahead with a rolling origin (see
/// [`evaluate_blend_day_ahead`]). Prints the per-car-park table; returns the
/// sample-weighted (model, naive) MAE in pp.
fn birmingham_errors(params: BlendParams) -> (f64, f64) {
    let parks = load();
    let (kept, skipped) = eligible(&parks);
    let mut skipped = skipped;
    let mut rows: Vec<(&str, ForecastEvaluation)> = Vec::new();
    for (code, samples, split) in kept {
        let e = evaluate_blend_day_ahead(samples, split, London, params).expect("enough history");
        if e.n > 0 {
            rows.push((code, e));
        } else {
            skipped.push(format!("{code} (no baseline)"));
        }
    }

    println!("{params:?}");
    println!(
        "{:<18} {:>5} {:>6} {:>10} {:>10}",
        "car park", "n", "no-bl", "model pp", "naive pp"
    );
    for (code, e) in &rows {
        println!(
            "{code:<18} {:>5} {:>6} {:>10.2} {:>10.2}",
            e.n, e.without_baseline, e.model_mae_pp, e.naive_mae_pp
        );
    }
    let n: usize = rows.iter().map(|(_, e)| e.n).sum();
    let weighted = |f: fn(&ForecastEvaluation) -> f64| {
        rows.iter().map(|(_, e)| f(e) * e.n as f64).sum::<f64>() / n as f64
    };
    let model = weighted(|e| e.model_mae_pp);
    let naive = weighted(|e| e.naive_mae_pp);
    let wins = rows
        .iter()
        .filter(|(_, e)| e.model_mae_pp < e.naive_mae_pp)
        .count();
    println!(
        "aggregate over {} car parks, {n} held-back samples: model {model:.2} pp, naive {naive:.2} pp; model better on {wins}",
        rows.len()
    );
    println!("skipped: {}", skipped.join(", "));

    assert!(rows.len() >= 25, "most car parks have enough history");
    (model, naive)
}

/// The library default is exactly what tuning on the training data picks, so the
/// held-out figure below is not the result of choosing parameters on it.
#[test]
fn the_default_blend_is_what_tuning_on_training_data_picks() {
    let tuned = tuned_on_training_data(&load());
    println!(
        "tuned on training data: {:?}, validation MAE {:.2} pp over {} samples",
        tuned.params, tuned.validation_mae_pp, tuned.n
    );
    assert_eq!(tuned.params, BlendParams::default());
}

/// The acceptance criterion: on the held-back 14 days, the day-ahead blend
/// beats the naive "sample nearest the same local time a week earlier (±15 min)"
/// baseline, pooled over the car parks (sample-weighted MAE).
#[test]
fn the_model_beats_the_same_slot_last_week_on_birmingham_car_parks() {
    let (model, naive) = birmingham_errors(BlendParams::default());
    assert!(model.is_finite() && naive.is_finite());
    assert!(
        model < naive,
        "model MAE {model:.2} pp must beat naive {naive:.2} pp"
    );
}
