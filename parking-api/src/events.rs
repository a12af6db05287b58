//! The event log: `GET /events?after=SEQ&lot_id=&limit=` pages through the
//! outbox in `seq` order so a consumer can replay what it missed.

use chrono::{DateTime, Utc};
use parking_core::events::DomainEvent;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::common::{Checks, FieldError};

/// Events per page when `limit` is not given.
pub const DEFAULT_EVENTS_LIMIT: u32 = 100;
/// The most events one page may hold.
pub const MAX_EVENTS_LIMIT: u32 = 1000;

/// `GET /events`: the events after a sequence number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events with a larger `seq` (default 0: from the start); pass the
    /// previous page's `next_after`.
    #[serde(default)]
    pub after: Option<u64>,
    /// Only events of this lot.
    #[serde(default)]
    pub lot_id: Option<Uuid>,
    /// Page size 1 to 1000; default 100.
    #[serde(default)]
    pub limit: Option<u32>,
}

impl EventsQuery {
    /// Checks the page size.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        if let Some(limit) = self.limit
            && !(1..=MAX_EVENTS_LIMIT).contains(&limit)
        {
            checks.push("limit", format!("must be between 1 and {MAX_EVENTS_LIMIT}"));
        }
        checks.finish()
    }

    /// The page size, default filled in.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_EVENTS_LIMIT)
    }
}

/// One event of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventItem {
    /// Position in the whole log; strictly increasing.
    pub seq: u64,
    /// The lot the event belongs to; absent for events about users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot_id: Option<Uuid>,
    /// Position in the lot's own sequence: 1, 2, 3, … without gaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot_seq: Option<u64>,
    /// The event's type, e.g. `parking_spot_booked`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
    /// The event itself, tagged by `type` (the domain event's JSON form).
    #[schema(value_type = Object)]
    pub event: DomainEvent,
}

/// A page of the event log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    /// Events in `seq` order.
    pub items: Vec<EventItem>,
    /// The `after` of the next page: the last item's `seq`, or the request's
    /// `after` when the page is empty.
    pub next_after: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;

    #[test]
    fn limit_defaults_to_100_and_is_bounded() {
        let q: EventsQuery = serde_urlencoded::from_str("after=5").expect("parse");
        assert_eq!(q.after, Some(5));
        assert_eq!(q.limit(), DEFAULT_EVENTS_LIMIT);
        assert!(q.validate().is_ok());
        let q: EventsQuery = serde_urlencoded::from_str("limit=1001").expect("parse");
        assert_eq!(fields(q.validate()), vec!["limit"]);
        let q: EventsQuery = serde_urlencoded::from_str("limit=0").expect("parse");
        assert_eq!(fields(q.validate()), vec!["limit"]);
        assert!(serde_urlencoded::from_str::<EventsQuery>("page=2").is_err());
    }
}
