//! The state of the feed from parkd: live over the WebSocket, reconnecting
//! with backoff, or polling the REST API when the server has no `/ws`; when
//! the data last was known to be current, and so whether it is stale.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// The first reconnect waits this long; each further one twice as long.
pub const BACKOFF_BASE: Duration = Duration::milliseconds(500);
/// No reconnect waits longer than this.
pub const BACKOFF_CAP: Duration = Duration::seconds(30);
/// How often the REST API is polled when there is no live feed.
pub const POLL_EVERY: Duration = Duration::seconds(3);
/// While live, the area is searched again this often: a booking that starts
/// later changes "free now" when it starts, and no event marks that moment.
pub const LIVE_RESYNC_EVERY: Duration = Duration::seconds(15);
/// A live feed silent this long (no message, no ping) is stale. parkd pings
/// every `heartbeat_secs` (30 s by default in the protocol).
pub const LIVE_STALE_AFTER: Duration = Duration::seconds(45);
/// Polled data older than this is stale (three missed polls).
pub const POLL_STALE_AFTER: Duration = Duration::seconds(10);

/// How the dashboard hears about changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not connected yet.
    Connecting,
    /// The WebSocket is open and subscribed.
    Live,
    /// The WebSocket dropped; the next attempt is due at `retry_at`.
    Reconnecting {
        /// Attempts so far since the last good connection (1 = first retry).
        attempt: u32,
        /// When to try again.
        retry_at: DateTime<Utc>,
    },
    /// The server has no live feed: the REST API is polled.
    Polling,
}

/// The wait before reconnect attempt `attempt` (1-based): 0.5 s, 1 s, 2 s, …
/// up to [`BACKOFF_CAP`].
pub fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let wait = BACKOFF_BASE * 2_i32.pow(doublings);
    wait.min(BACKOFF_CAP)
}

/// The feed's state and what is needed to resume it.
#[derive(Clone, Debug, PartialEq)]
pub struct Feed {
    /// The connection.
    pub link: Link,
    /// The last moment the data was known to be current: a live message or
    /// ping, or a successful poll.
    pub heard_at: Option<DateTime<Utc>>,
    /// The last `seq` seen per lot, sent on reconnect so the server replays
    /// what was missed instead of resending every snapshot.
    pub since: BTreeMap<Uuid, u64>,
    /// When the next search of the area is due (polling, or the live
    /// resync).
    pub next_poll: Option<DateTime<Utc>>,
    /// Connection attempts that failed since the last good connection.
    pub failures: u32,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            link: Link::Connecting,
            heard_at: None,
            since: BTreeMap::new(),
            next_poll: None,
            failures: 0,
        }
    }
}

impl Feed {
    /// How long the data has been stale at `now`, or `None` while it is
    /// current. Data never heard of is stale from the start.
    pub fn stale_for(&self, now: DateTime<Utc>, started: DateTime<Utc>) -> Option<Duration> {
        let heard = self.heard_at.unwrap_or(started);
        let age = now - heard;
        let limit = match self.link {
            Link::Live => LIVE_STALE_AFTER,
            Link::Polling => POLL_STALE_AFTER,
            Link::Connecting | Link::Reconnecting { .. } => {
                return self.heard_at.map(|_| age.max(Duration::zero()));
            }
        };
        (age > limit).then_some(age)
    }

    /// Records `seq` for `lot`; `false` when it is not newer than what was
    /// seen (a replayed or duplicated update to ignore).
    pub fn advance(&mut self, lot: Uuid, seq: u64) -> bool {
        match self.since.get(&lot) {
            Some(&seen) if seq <= seen && seq != 0 => false,
            _ => {
                self.since.insert(lot, seq);
                true
            }
        }
    }

    /// The feed is connected and subscribed at `now`.
    pub fn opened(&mut self, now: DateTime<Utc>) {
        self.link = Link::Live;
        self.heard_at = Some(now);
        self.failures = 0;
        self.next_poll = Some(now + LIVE_RESYNC_EVERY);
    }

    /// The connection dropped (or could not be opened) at `now`: schedule
    /// the next attempt, each consecutive failure waiting twice as long.
    pub fn dropped(&mut self, now: DateTime<Utc>) {
        self.failures = self.failures.saturating_add(1);
        self.link = Link::Reconnecting {
            attempt: self.failures,
            retry_at: now + backoff(self.failures),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn backoff_doubles_from_half_a_second_up_to_thirty() {
        let waits: Vec<i64> = (1..=9).map(|a| backoff(a).num_milliseconds()).collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP, "no overflow");
    }

    #[test]
    fn drops_count_up_attempts_until_a_connection_succeeds() {
        let mut feed = Feed::default();
        feed.dropped(t0());
        assert_eq!(
            feed.link,
            Link::Reconnecting {
                attempt: 1,
                retry_at: t0() + Duration::milliseconds(500)
            }
        );
        feed.link = Link::Connecting;
        feed.dropped(t0());
        assert_eq!(
            feed.link,
            Link::Reconnecting {
                attempt: 2,
                retry_at: t0() + Duration::seconds(1)
            },
            "a failed retry counts on"
        );
        feed.opened(t0());
        feed.dropped(t0());
        assert!(matches!(feed.link, Link::Reconnecting { attempt: 1, .. }));
    }

    #[test]
    fn sequences_only_move_forward_per_lot() {
        let mut feed = Feed::default();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(feed.advance(a, 5));
        assert!(feed.advance(b, 1));
        assert!(!feed.advance(a, 5), "a duplicate");
        assert!(!feed.advance(a, 4), "a replay of an older update");
        assert!(feed.advance(a, 6));
        assert_eq!(feed.since.get(&a), Some(&6));
        assert_eq!(feed.since.get(&b), Some(&1));
    }

    #[test]
    fn data_goes_stale_after_silence_and_while_reconnecting() {
        let mut feed = Feed {
            link: Link::Live,
            heard_at: Some(t0()),
            ..Feed::default()
        };
        assert_eq!(feed.stale_for(t0() + Duration::seconds(45), t0()), None);
        assert_eq!(
            feed.stale_for(t0() + Duration::seconds(46), t0()),
            Some(Duration::seconds(46))
        );
        feed.link = Link::Polling;
        assert_eq!(
            feed.stale_for(t0() + Duration::seconds(11), t0()),
            Some(Duration::seconds(11))
        );
        feed.dropped(t0() + Duration::seconds(2));
        assert_eq!(
            feed.stale_for(t0() + Duration::seconds(2), t0()),
            Some(Duration::seconds(2)),
            "a dropped feed is never shown as current"
        );
        let fresh = Feed::default();
        assert_eq!(fresh.stale_for(t0(), t0()), None, "nothing known yet");
    }
}
