//! Server messages rendered to text frames once, then shared by every
//! connection that gets them (a frame is a cheaply cloned byte buffer).

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use parking_api::lots::kind_counts;
use parking_api::ws::ServerMessage;
use parking_core::model::{KindCounts, LotId};

/// A rendered [`ServerMessage`].
pub type Frame = Utf8Bytes;

/// Renders `message` as a JSON text frame.
pub fn render(message: &ServerMessage) -> Frame {
    match serde_json::to_string(message) {
        Ok(text) => Frame::from(text),
        // Our messages have string keys and plain fields: this cannot fail, but
        // a bug here must not take the connection down with a panic.
        Err(e) => {
            tracing::error!(error = %e, "rendering a WebSocket message failed");
            Frame::from_static(
                r#"{"type":"error","code":"internal","detail":"a message could not be rendered"}"#,
            )
        }
    }
}

/// A lot's availability at one `seq`, rendered both ways: as the snapshot a
/// new subscriber gets first and as the update everyone else gets.
#[derive(Debug)]
pub struct LotFrames {
    /// The lot's event sequence this state reflects.
    pub seq: u64,
    /// Spots in service per kind.
    pub capacity: KindCounts,
    /// Free spots now per kind.
    pub available: KindCounts,
    /// `type: snapshot`.
    pub snapshot: Frame,
    /// `type: availability_update`.
    pub update: Frame,
}

impl LotFrames {
    /// Renders the state of `lot`.
    pub fn new(
        lot: LotId,
        seq: u64,
        capacity: KindCounts,
        available: KindCounts,
        at: DateTime<Utc>,
    ) -> LotFrames {
        let lot_id = lot.as_uuid();
        let snapshot = render(&ServerMessage::Snapshot {
            lot_id,
            seq,
            capacity: kind_counts(&capacity),
            available: kind_counts(&available),
            at,
        });
        let update = render(&ServerMessage::AvailabilityUpdate {
            lot_id,
            seq,
            capacity: kind_counts(&capacity),
            available: kind_counts(&available),
            at,
        });
        LotFrames {
            seq,
            capacity,
            available,
            snapshot,
            update,
        }
    }

    /// True if `capacity` and `available` are what these frames say.
    pub fn shows(&self, capacity: &KindCounts, available: &KindCounts) -> bool {
        self.capacity == *capacity && self.available == *available
    }
}

/// Each frame's `type` and `seq` (tests).
#[cfg(test)]
pub(crate) fn seqs(frames: &[Frame]) -> Vec<(String, u64)> {
    frames
        .iter()
        .map(|f| {
            let v: serde_json::Value = serde_json::from_str(f.as_str()).expect("json");
            (
                v["type"].as_str().unwrap_or_default().to_owned(),
                v["seq"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}
