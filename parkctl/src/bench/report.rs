//! [`Report`]: what a run measured, as printed (`--json` or a table).

use std::collections::BTreeMap;

use serde::Serialize;

use super::histogram::Histogram;
use super::load::{Op, OpStats, Plan, Scenario, Stats};

/// Latency figures in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyMs {
    /// The fastest request.
    pub min: f64,
    /// The mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// The slowest request (exact).
    pub max: f64,
}

impl LatencyMs {
    /// The figures of `h` (recorded in µs).
    pub fn of(h: &Histogram) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencyMs {
            min: ms(h.min()),
            mean: h.mean().round() / 1000.0,
            p50: ms(h.percentile(50.0)),
            p90: ms(h.percentile(90.0)),
            p99: ms(h.percentile(99.0)),
            max: ms(h.max()),
        }
    }
}

/// The figures for one kind of request (or all of them).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figures {
    /// Requests answered or failed.
    pub requests: u64,
    /// `requests` over the elapsed time.
    pub requests_per_s: f64,
    /// 2xx answers.
    pub ok: u64,
    /// 409 answers (window taken), counted apart from errors.
    pub conflicts: u64,
    /// All errors.
    pub errors: u64,
    /// Errors by kind: `http <status>`, `connection`, `timeout`, `decode`.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Latency from when the request was due.
    pub latency_ms: LatencyMs,
}

impl Figures {
    fn of(stats: &OpStats, elapsed_s: f64) -> Self {
        let errors: u64 = stats.errors.values().sum();
        // Every request records one latency, answered or not.
        let requests = stats.latency.count();
        Figures {
            requests,
            requests_per_s: if elapsed_s > 0.0 {
                (requests as f64 / elapsed_s * 10.0).round() / 10.0
            } else {
                0.0
            },
            ok: stats.ok,
            conflicts: stats.conflicts,
            errors,
            errors_by_kind: stats.errors.clone(),
            latency_ms: LatencyMs::of(&stats.latency),
        }
    }
}

/// A run's report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The scenario run.
    pub scenario: Scenario,
    /// The parkd measured.
    pub server: String,
    /// Concurrent connections.
    pub connections: u32,
    /// The requested duration, seconds.
    pub duration_s: f64,
    /// From the first request to the last answer, seconds.
    pub elapsed_s: f64,
    /// The target rate (open loop), or `null` for a closed loop.
    pub target_rate: Option<u64>,
    /// All requests together.
    #[serde(flatten)]
    pub total: Figures,
    /// Per kind of request.
    pub operations: BTreeMap<Op, Figures>,
}

impl Report {
    /// The report of `stats` from running `plan` against `server`.
    pub fn new(plan: &Plan, server: &str, stats: &Stats) -> Self {
        let elapsed_s = stats.elapsed.as_secs_f64();
        let mut all = OpStats::default();
        for s in stats.ops.values() {
            all.merge(s);
        }
        Report {
            scenario: plan.scenario,
            server: server.to_owned(),
            connections: plan.connections,
            duration_s: plan.duration.as_secs_f64(),
            elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
            target_rate: plan.rate,
            total: Figures::of(&all, elapsed_s),
            operations: stats
                .ops
                .iter()
                .map(|(op, s)| (*op, Figures::of(s, elapsed_s)))
                .collect(),
        }
    }

    /// Table rows: one per kind of request, then the total.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let row = |name: &str, f: &Figures| {
            let ms = |v: f64| format!("{v:.2}");
            vec![
                name.to_owned(),
                f.requests.to_string(),
                format!("{:.1}", f.requests_per_s),
                ms(f.latency_ms.p50),
                ms(f.latency_ms.p90),
                ms(f.latency_ms.p99),
                ms(f.latency_ms.max),
                f.conflicts.to_string(),
                f.errors.to_string(),
            ]
        };
        let mut rows: Vec<Vec<String>> = self
            .operations
            .iter()
            .map(|(op, f)| row(op_name(*op), f))
            .collect();
        if self.operations.len() != 1 {
            rows.push(row("total", &self.total));
        }
        rows
    }
}

/// The table's column names.
pub const HEADERS: [&str; 9] = [
    "request",
    "requests",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "conflicts (409)",
    "errors",
];

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Search => "search",
        Op::Book => "book",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;

    #[test]
    fn totals_add_up_and_rates_use_the_elapsed_time() {
        let mut search = OpStats::default();
        for v in 1..=90 {
            search.latency.record_micros(v * 2);
        }
        search.ok = 89;
        search.errors.insert("http 500".into(), 1);
        let mut book = OpStats::default();
        for v in 1..=10 {
            book.latency.record_micros(v * 100);
        }
        book.ok = 7;
        book.conflicts = 3;
        let stats = Stats {
            ops: BTreeMap::from([(Op::Search, search), (Op::Book, book)]),
            elapsed: Duration::from_secs(2),
        };
        let plan = Plan {
            scenario: Scenario::Mixed,
            connections: 4,
            duration: Duration::from_secs(2),
            rate: None,
            centre: (0.0, 0.0),
            lots: Vec::new(),
            first_slot: Utc::now(),
        };
        let report = Report::new(&plan, "http://127.0.0.1:1", &stats);
        assert_eq!(report.total.requests, 100);
        assert_eq!(report.total.requests_per_s, 50.0);
        assert_eq!(report.total.conflicts, 3);
        assert_eq!(report.total.errors, 1);
        assert_eq!(report.operations[&Op::Book].conflicts, 3);
        assert_eq!(report.operations[&Op::Book].errors, 0);
        // 90 searches at 2..180 µs and 10 bookings at 100..1000 µs.
        assert_eq!(report.total.latency_ms.max, 1.0);
        assert_eq!(report.total.latency_ms.min, 0.002);
        assert_eq!(report.operations[&Op::Search].latency_ms.p50, 0.09);
        assert_eq!(report.rows().len(), 3);
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["requests"], 100);
        assert_eq!(json["operations"]["book"]["conflicts"], 3);
    }
}
