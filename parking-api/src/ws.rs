//! The WebSocket protocol of `GET /api/v1/ws`: JSON text frames, each an
//! object tagged by `type`.
//!
//! A session:
//! 1. The server greets with [`ServerMessage::Welcome`] (heartbeat period,
//!    subscription cap).
//! 2. The client may authenticate with [`ClientMessage::Auth`] (the access
//!    token goes in a message, never in the URL). Anonymous clients see public
//!    availability only; an authenticated driver also gets its own
//!    reservations' events, an operator its lots' alerts.
//! 3. The client subscribes by lot ids or by area ([`ClientMessage::Subscribe`]).
//!    For every lot the server sends a [`ServerMessage::Snapshot`] (unless the
//!    client resumes from a sequence it still can: then it gets the missed
//!    events as [`ServerMessage::Missed`] and one
//!    [`ServerMessage::AvailabilityUpdate`] with the state now instead), then a
//!    delta each time the lot's availability changes.
//! 4. Heartbeats are WebSocket ping/pong frames; a client that sends nothing
//!    (not even a pong) for the idle timeout is closed with
//!    [`close_codes::IDLE_TIMEOUT`].
//!
//! `seq` is the lot's own event sequence (`lot_seq` of `GET /events`): it
//! grows by one per event of that lot, so a client that remembers the last
//! `seq` per lot can resume after a reconnect.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::alerts::Alert;
use crate::auth::Role;
use crate::lots::KindCountsDto;
use crate::reservations::ReservationStatusDto;

/// Close codes the server uses (RFC 6455 private range 4000–4999 for ours).
pub mod close_codes {
    /// The client sent nothing for the idle timeout.
    pub const IDLE_TIMEOUT: u16 = 4000;
    /// The client could not keep up: its outgoing queue overflowed even after
    /// coalescing. Reconnect and resume from the last `seq`.
    pub const SLOW_CONSUMER: u16 = 4001;
    /// The token in an `auth` message was invalid or expired.
    pub const UNAUTHORIZED: u16 = 4003;
    /// The client broke the protocol (unparsable frames, binary frames,
    /// oversized frames) repeatedly.
    pub const PROTOCOL_ERROR: u16 = 4002;
    /// The server is shutting down; reconnect elsewhere or later.
    pub const GOING_AWAY: u16 = 1001;
}

/// A message from the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Authenticate the connection with an access token.
    Auth {
        /// The access token from `/auth/login` or `/auth/refresh`.
        token: String,
    },
    /// Watch lots, by id or by area. Subscriptions add up; the total per
    /// connection is capped (see [`ServerMessage::Welcome`]).
    Subscribe {
        /// Lot ids to watch.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lots: Vec<Uuid>,
        /// Or every lot within a circle (the lots there when subscribing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        near: Option<Area>,
        /// The last `seq` seen per lot, for a reconnecting client: lots listed
        /// here get the updates after that `seq` instead of a snapshot (or a
        /// snapshot when that history is no longer kept).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        since: BTreeMap<Uuid, u64>,
    },
    /// Stop watching lots.
    Unsubscribe {
        /// Lot ids to stop watching.
        lots: Vec<Uuid>,
    },
}

/// A circle on the map.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Latitude of the centre, degrees.
    pub lat: f64,
    /// Longitude of the centre, degrees.
    pub lng: f64,
    /// Radius in metres (at most the search limit of `GET /parking-lots`).
    pub radius: f64,
}

/// A message from the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message of every connection.
    Welcome {
        /// How often the server pings, seconds.
        heartbeat_secs: u64,
        /// A connection silent for this long is closed, seconds.
        idle_timeout_secs: u64,
        /// The most lots one connection may watch.
        max_subscriptions: usize,
    },
    /// The `auth` message was accepted.
    Authenticated {
        /// The user.
        user_id: Uuid,
        /// Its role.
        role: Role,
    },
    /// The lots a `subscribe` added (those that exist and are visible).
    Subscribed {
        /// Lot ids now watched because of this request.
        lots: Vec<Uuid>,
    },
    /// The lots an `unsubscribe` removed.
    Unsubscribed {
        /// Lot ids no longer watched.
        lots: Vec<Uuid>,
    },
    /// The state of a lot at `seq`.
    Snapshot {
        /// The lot.
        lot_id: Uuid,
        /// The lot's last event sequence reflected here (0: no events yet).
        seq: u64,
        /// Spots in service per kind.
        #[schema(value_type = BTreeMap<String, u32>)]
        capacity: KindCountsDto,
        /// Free spots now, per kind.
        #[schema(value_type = BTreeMap<String, u32>)]
        available: KindCountsDto,
        /// When the counts were taken.
        at: DateTime<Utc>,
    },
    /// A lot's availability changed. Under back-pressure several changes are
    /// coalesced into one message carrying the newest state and `seq`.
    AvailabilityUpdate {
        /// The lot.
        lot_id: Uuid,
        /// The lot's event sequence this state reflects.
        seq: u64,
        /// Spots in service per kind.
        #[schema(value_type = BTreeMap<String, u32>)]
        capacity: KindCountsDto,
        /// Free spots now, per kind.
        #[schema(value_type = BTreeMap<String, u32>)]
        available: KindCountsDto,
        /// When the counts were taken.
        at: DateTime<Utc>,
    },
    /// One event of a lot that a resuming client missed (see `since` in
    /// [`ClientMessage::Subscribe`]), replayed in `seq` order; an
    /// [`ServerMessage::AvailabilityUpdate`] with the state now follows the
    /// last one. Who booked is never shown.
    Missed {
        /// The lot.
        lot_id: Uuid,
        /// The event's place in the lot's sequence.
        seq: u64,
        /// The event's type (`parking_spot_booked`, `parking_spot_released`, …,
        /// as in `GET /events`).
        event_type: String,
        /// The spot concerned, if the event is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spot_id: Option<Uuid>,
        /// When it happened.
        occurred_at: DateTime<Utc>,
    },
    /// An event about one of the authenticated driver's reservations.
    Reservation {
        /// What happened.
        event: ReservationEventKind,
        /// The reservation.
        reservation_id: Uuid,
        /// Its lot.
        lot_id: Uuid,
        /// Its status after the event.
        status: ReservationStatusDto,
        /// The lot's event sequence, when the event came from the outbox.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// For `hold_expiring`: when the hold lapses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<DateTime<Utc>>,
    },
    /// An alert on one of the operator's lots (raised or acknowledged).
    Alert {
        /// The alert as `GET /alerts` shows it.
        alert: Alert,
    },
    /// A request could not be served; the connection stays open.
    Error {
        /// Machine-readable reason, e.g. `bad_message`, `too_many_subscriptions`,
        /// `unknown_lot`, `radius_too_large`.
        code: String,
        /// What went wrong and how to fix it.
        detail: String,
    },
}

/// What happened to a driver's reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationEventKind {
    /// Booked as a hold (awaiting confirmation or payment).
    Held,
    /// Confirmed.
    Confirmed,
    /// The hold lapses soon unless confirmed.
    HoldExpiring,
    /// The hold lapsed.
    Expired,
    /// Cancelled.
    Cancelled,
    /// Times changed.
    Changed,
    /// Checked in.
    CheckedIn,
    /// Checked out.
    Completed,
    /// Marked as a no-show.
    NoShow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_parse_from_the_documented_json() {
        let sub: ClientMessage = serde_json::from_str(
            r#"{"type":"subscribe","near":{"lat":51.05,"lng":13.74,"radius":500}}"#,
        )
        .expect("subscribe near");
        assert_eq!(
            sub,
            ClientMessage::Subscribe {
                lots: vec![],
                near: Some(Area {
                    lat: 51.05,
                    lng: 13.74,
                    radius: 500.0
                }),
                since: BTreeMap::new(),
            }
        );
        let auth: ClientMessage =
            serde_json::from_str(r#"{"type":"auth","token":"abc"}"#).expect("auth");
        assert_eq!(
            auth,
            ClientMessage::Auth {
                token: "abc".into()
            }
        );
        assert!(
            serde_json::from_str::<ClientMessage>(r#"{"type":"subscribe","lotz":[]}"#).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn server_messages_are_tagged_snake_case() {
        let msg = ServerMessage::Error {
            code: "bad_message".into(),
            detail: "x".into(),
        };
        let json = serde_json::to_value(&msg).expect("json");
        assert_eq!(json["type"], "error");
        let update = ServerMessage::AvailabilityUpdate {
            lot_id: Uuid::nil(),
            seq: 7,
            capacity: KindCountsDto::new(),
            available: KindCountsDto::new(),
            at: DateTime::<Utc>::UNIX_EPOCH,
        };
        assert_eq!(
            serde_json::to_value(&update).expect("json")["type"],
            "availability_update"
        );
        let missed = ServerMessage::Missed {
            lot_id: Uuid::nil(),
            seq: 3,
            event_type: "parking_spot_booked".into(),
            spot_id: None,
            occurred_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let json = serde_json::to_value(&missed).expect("json");
        assert_eq!(
            (json["type"].as_str(), json["seq"].as_u64()),
            (Some("missed"), Some(3))
        );
        assert!(json.get("spot_id").is_none(), "absent, not null");
    }
}
