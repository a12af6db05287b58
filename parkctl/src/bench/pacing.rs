//! Open-loop pacing: with `--rate R` over `N` connections, connection `c`
//! sends its `k`-th request at `(c + k·N) / R` seconds after the start, so
//! the connections together send one request every `1/R` seconds, evenly
//! interleaved. Times are computed from the start in integer nanoseconds (no
//! drift over long runs). A connection that falls behind sends at once, and
//! its latency is measured from when the request was due, not when it went
//! out, so a slow server is not hidden by the generator slowing down with it
//! (coordinated omission).

use std::time::Duration;

/// One connection's timetable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    rate: u64,
    connections: u64,
    connection: u64,
}

impl Schedule {
    /// The timetable of `connection` (0-based) of `connections` sharing
    /// `rate` requests per second. `None` if `rate` or `connections` is 0 or
    /// `connection` is out of range.
    pub fn new(rate: u64, connections: u64, connection: u64) -> Option<Schedule> {
        (rate > 0 && connection < connections).then_some(Schedule {
            rate,
            connections,
            connection,
        })
    }

    /// When request `k` (0-based) of this connection is due, from the start.
    pub fn due(&self, k: u64) -> Duration {
        let slot = u128::from(self.connection) + u128::from(k) * u128::from(self.connections);
        let nanos = slot * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_interleave_into_one_even_stream() {
        // 1,000 req/s over 3 connections: together one request every 1 ms.
        let schedules: Vec<Schedule> = (0..3)
            .map(|c| Schedule::new(1000, 3, c).expect("valid"))
            .collect();
        let mut all: Vec<Duration> = schedules
            .iter()
            .flat_map(|s| (0..100).map(|k| s.due(k)))
            .collect();
        all.sort();
        let want: Vec<Duration> = (0..300).map(Duration::from_millis).collect();
        assert_eq!(all, want);
        assert_eq!(schedules[0].due(1), Duration::from_millis(3));
    }

    #[test]
    fn a_rate_below_the_connection_count_spaces_connections_out() {
        // 2 req/s over 4 connections: each sends every 2 s, offset by 0.5 s.
        let s = Schedule::new(2, 4, 1).expect("valid");
        assert_eq!(s.due(0), Duration::from_millis(500));
        assert_eq!(s.due(1), Duration::from_millis(2500));
    }

    #[test]
    fn no_drift_with_rates_that_do_not_divide_a_second() {
        // 3 req/s on one connection: request 3·10⁶ is due exactly at 10⁶ s.
        let s = Schedule::new(3, 1, 0).expect("valid");
        assert_eq!(s.due(1), Duration::from_nanos(333_333_333));
        assert_eq!(s.due(3_000_000), Duration::from_secs(1_000_000));
    }

    #[test]
    fn refuses_nonsense() {
        assert_eq!(Schedule::new(0, 4, 0), None);
        assert_eq!(Schedule::new(10, 4, 4), None);
        assert_eq!(Schedule::new(10, 0, 0), None);
    }
}
