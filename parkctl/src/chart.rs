//! Tiny terminal charts under the analytics tables: a [`sparkline`] of
//! occupancy per bucket and horizontal [`bars`] of revenue per day. Pure
//! functions of their numbers (no terminal queries), so they are tested as
//! exact strings.

/// The eight sparkline levels, lowest first.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Partial blocks for the end of a bar, one eighth to seven eighths wide.
const EIGHTHS: [char; 7] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/// One character per value, `▁` for 0 (or less) up to `█` for `top` (or
/// more). A non-positive or non-finite `top` draws every value as `▁`;
/// non-finite values are drawn as `▁` too.
pub fn sparkline(values: &[f64], top: f64) -> String {
    values
        .iter()
        .map(|&v| {
            if !(top.is_finite() && top > 0.0 && v.is_finite()) {
                return LEVELS[0];
            }
            let scaled = (v / top).clamp(0.0, 1.0) * (LEVELS.len() - 1) as f64;
            // In range 0..=7 after the clamp, so the cast cannot truncate.
            LEVELS[scaled.round() as usize]
        })
        .collect()
}

/// A bar `width` cells long at `max`, in eighths of a cell; zero and
/// negative values are empty.
pub fn bar(value: i64, max: i64, width: usize) -> String {
    if value <= 0 || max <= 0 || width == 0 {
        return String::new();
    }
    let value = value.min(max);
    // Eighths of a cell, rounded to the nearest; at least one so that a
    // small non-zero value is visible.
    let eighths =
        ((i128::from(value) * (width as i128) * 8 + i128::from(max) / 2) / i128::from(max)).max(1);
    let full = (eighths / 8) as usize;
    let rest = (eighths % 8) as usize;
    let mut out = "█".repeat(full);
    if rest > 0 {
        out.push(EIGHTHS[rest - 1]);
    }
    out
}

/// Horizontal bars, one line per `(label, value, shown)`: the labels padded
/// to the longest, the bar scaled so the largest value is `width` cells, then
/// `shown` (the value as people read it).
pub fn bars(rows: &[(String, i64, String)], width: usize) -> Vec<String> {
    let max = rows.iter().map(|(_, v, _)| *v).max().unwrap_or(0);
    let label_width = rows
        .iter()
        .map(|(l, _, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(label, value, shown)| {
            let bar = bar(*value, max, width);
            let pad = width.saturating_sub(bar.chars().count());
            format!("{label:<label_width$}  {bar}{:pad$}  {shown}", "")
                .trim_end()
                .to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_the_eight_levels() {
        let values: Vec<f64> = (0..8).map(|n| f64::from(n) / 7.0).collect();
        assert_eq!(sparkline(&values, 1.0), "▁▂▃▄▅▆▇█");
    }

    #[test]
    fn sparkline_clamps_and_rounds() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0, 1.5, -1.0], 1.0), "▁▅██▁");
        assert_eq!(sparkline(&[0.07, 0.08], 1.0), "▁▂");
        assert_eq!(sparkline(&[2.0, 4.0], 4.0), "▅█");
    }

    #[test]
    fn sparkline_of_nothing_is_empty_and_bad_scales_are_flat() {
        assert_eq!(sparkline(&[], 1.0), "");
        assert_eq!(sparkline(&[0.5, 1.0], 0.0), "▁▁");
        assert_eq!(sparkline(&[f64::NAN, 1.0], 1.0), "▁█");
    }

    #[test]
    fn bar_uses_eighths() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 4), "██");
        assert_eq!(bar(1, 16, 2), "▏");
        assert_eq!(bar(3, 16, 2), "▍");
        assert_eq!(bar(15, 16, 2), "█▉");
        assert_eq!(bar(13, 16, 2), "█▋");
        assert_eq!(bar(1, 1_000_000, 10), "▏", "tiny but visible");
        assert_eq!(bar(0, 10, 4), "");
        assert_eq!(bar(-3, 10, 4), "");
        assert_eq!(bar(20, 10, 4), "████", "capped at the width");
    }

    #[test]
    fn bars_align_labels_bars_and_values() {
        let rows = vec![
            ("2026-05-01".to_owned(), 800, "8.00 EUR".to_owned()),
            ("2026-05-02".to_owned(), 400, "4.00 EUR".to_owned()),
            ("2026-05-03".to_owned(), 0, "0.00 EUR".to_owned()),
        ];
        assert_eq!(
            bars(&rows, 8),
            vec![
                "2026-05-01  ████████  8.00 EUR",
                "2026-05-02  ████      4.00 EUR",
                "2026-05-03            0.00 EUR",
            ]
        );
        assert!(bars(&[], 8).is_empty());
    }
}
