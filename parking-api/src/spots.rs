//! Spots: `GET|POST /parking-lots/{id}/spots`, `PATCH /parking-lots/{id}/spots/{spot_id}`,
//! and the spot kind every other resource names.

use chrono::{DateTime, Utc};
use parking_core::model::{Spot as CoreSpot, SpotKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::alerts::SensorState;
use crate::common::{Checks, FieldError};

/// The most spots one bulk request creates.
pub const MAX_SPOTS_PER_REQUEST: u32 = 1000;
/// The longest spot label, in characters.
pub const MAX_LABEL_CHARS: usize = 50;
/// The longest label prefix of a generated batch, in characters.
pub const MAX_PREFIX_CHARS: usize = 20;
/// The longest zone name, in characters.
pub const MAX_ZONE_CHARS: usize = 100;

/// What a spot is for (the wire twin of [`parking_core::model::SpotKind`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = SpotKind)]
pub enum SpotKindDto {
    /// A standard car bay.
    Regular,
    /// A bay for small cars.
    Compact,
    /// A wider bay for disabled badge holders.
    Accessible,
    /// A bay with an EV charger.
    Ev,
    /// A motorcycle bay.
    Motorcycle,
}

impl From<SpotKind> for SpotKindDto {
    fn from(kind: SpotKind) -> Self {
        match kind {
            SpotKind::Regular => SpotKindDto::Regular,
            SpotKind::Compact => SpotKindDto::Compact,
            SpotKind::Accessible => SpotKindDto::Accessible,
            SpotKind::Ev => SpotKindDto::Ev,
            SpotKind::Motorcycle => SpotKindDto::Motorcycle,
        }
    }
}

impl From<SpotKindDto> for SpotKind {
    fn from(kind: SpotKindDto) -> Self {
        match kind {
            SpotKindDto::Regular => SpotKind::Regular,
            SpotKindDto::Compact => SpotKind::Compact,
            SpotKindDto::Accessible => SpotKind::Accessible,
            SpotKindDto::Ev => SpotKind::Ev,
            SpotKindDto::Motorcycle => SpotKind::Motorcycle,
        }
    }
}

/// A spot (bay) of a lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Spot {
    /// The spot's id.
    pub id: Uuid,
    /// The lot it belongs to.
    pub lot_id: Uuid,
    /// The label painted on the ground; unique within the lot.
    pub label: String,
    /// What the spot is for.
    pub kind: SpotKindDto,
    /// Level or zone, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// False while out of service (never allocated then).
    pub in_service: bool,
    /// Whether the spot is free for the asked window (or now); absent when
    /// the answer is not about availability (e.g. after creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    /// The spot's last sensor reading, if it has a sensor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<SensorState>,
}

impl From<&CoreSpot> for Spot {
    fn from(spot: &CoreSpot) -> Self {
        Spot {
            id: spot.id.as_uuid(),
            lot_id: spot.lot_id.as_uuid(),
            label: spot.label.clone(),
            kind: spot.kind.into(),
            zone: spot.zone.clone(),
            in_service: spot.in_service,
            available: None,
            sensor: None,
        }
    }
}

impl Spot {
    /// Sets the availability flag.
    pub fn with_available(mut self, available: bool) -> Self {
        self.available = Some(available);
        self
    }
}

/// `POST /parking-lots/{id}/spots`: create spots in bulk, either a numbered
/// batch `{count, prefix, kind, zone?}` or a list `{spots: [{label, kind, zone?}]}`.
///
/// The two shapes share no field; a body mixing them, or with a field of
/// neither, is refused with a message naming the two shapes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged, try_from = "RawCreateSpots")]
pub enum CreateSpotsRequest {
    /// `count` spots labelled `prefix` + a running number.
    Batch(SpotBatch),
    /// Spots with their own labels.
    List(SpotList),
}

/// A numbered batch of spots of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpotBatch {
    /// How many spots, 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub count: u32,
    /// Prepended to each running number (`"B-"` gives `B-001`…); at most 20
    /// characters.
    #[schema(max_length = 20, example = "B-")]
    pub prefix: String,
    /// The kind of every spot of the batch.
    pub kind: SpotKindDto,
    /// The zone of every spot of the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl SpotBatch {
    /// The labels of the batch when numbering starts at `first`: the prefix and
    /// the number, zero-padded to at least three digits (`B-001`, `B-002`, …).
    pub fn labels(&self, first: u32) -> impl Iterator<Item = String> + '_ {
        let last = first.saturating_add(self.count.saturating_sub(1));
        let width = last.to_string().len().max(3);
        (first..=last)
            .take(self.count as usize)
            .map(move |n| format!("{}{n:0width$}", self.prefix))
    }
}

/// Spots listed one by one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpotList {
    /// 1 to 1000 spots with distinct labels.
    pub spots: Vec<NewSpot>,
}

/// One spot of a [`SpotList`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSpot {
    /// 1 to 50 characters; unique within the lot.
    #[schema(min_length = 1, max_length = 50, example = "B2-017")]
    pub label: String,
    /// What the spot is for.
    pub kind: SpotKindDto,
    /// Level or zone; at most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// Every field of both shapes, so that one pass decides which shape was meant
/// and a wrong mix gets a clear message instead of serde's "no variant matched".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCreateSpots {
    count: Option<u32>,
    prefix: Option<String>,
    kind: Option<SpotKindDto>,
    zone: Option<String>,
    spots: Option<Vec<NewSpot>>,
}

impl TryFrom<RawCreateSpots> for CreateSpotsRequest {
    type Error = String;

    fn try_from(raw: RawCreateSpots) -> Result<Self, Self::Error> {
        const SHAPES: &str =
            "expected either {count, prefix, kind, zone?} or {spots: [{label, kind, zone?}]}";
        match raw {
            RawCreateSpots {
                count: Some(count),
                prefix: Some(prefix),
                kind: Some(kind),
                zone,
                spots: None,
            } => Ok(CreateSpotsRequest::Batch(SpotBatch {
                count,
                prefix,
                kind,
                zone,
            })),
            RawCreateSpots {
                count: None,
                prefix: None,
                kind: None,
                zone: None,
                spots: Some(spots),
            } => Ok(CreateSpotsRequest::List(SpotList { spots })),
            _ => Err(SHAPES.to_owned()),
        }
    }
}

impl CreateSpotsRequest {
    /// Checks counts, label and prefix lengths, zones, and that listed labels
    /// are distinct.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        match self {
            CreateSpotsRequest::Batch(batch) => {
                checks.range("count", batch.count, 1, MAX_SPOTS_PER_REQUEST);
                checks.length("prefix", &batch.prefix, 0, MAX_PREFIX_CHARS);
                if let Some(zone) = &batch.zone {
                    checks.length("zone", zone, 1, MAX_ZONE_CHARS);
                }
            }
            CreateSpotsRequest::List(list) => {
                if list.spots.is_empty() || list.spots.len() > MAX_SPOTS_PER_REQUEST as usize {
                    checks.push(
                        "spots",
                        format!("must list 1 to {MAX_SPOTS_PER_REQUEST} spots"),
                    );
                }
                let mut seen = std::collections::HashSet::new();
                for (i, spot) in list.spots.iter().enumerate() {
                    let field = format!("spots[{i}].label");
                    checks.length(&field, &spot.label, 1, MAX_LABEL_CHARS);
                    if !seen.insert(spot.label.as_str()) {
                        checks.push(field, "repeats an earlier label");
                    }
                    if let Some(zone) = &spot.zone {
                        checks.length(&format!("spots[{i}].zone"), zone, 1, MAX_ZONE_CHARS);
                    }
                }
            }
        }
        checks.finish()
    }

    /// How many spots the request creates.
    pub fn len(&self) -> usize {
        match self {
            CreateSpotsRequest::Batch(batch) => batch.count as usize,
            CreateSpotsRequest::List(list) => list.spots.len(),
        }
    }

    /// True if it creates none (refused by [`validate`](Self::validate)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `PATCH /parking-lots/{id}/spots/{spot_id}`: take a spot in or out of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSpotRequest {
    /// False takes the spot out of service; existing bookings stay.
    pub in_service: bool,
}

impl UpdateSpotRequest {
    /// Nothing can be wrong with a boolean; here for a uniform interface.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
}

/// `GET /parking-lots/{id}/spots?start_time&end_time&spot_type`: availability
/// is for the window when given, else for now.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams,
)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SpotsQuery {
    /// Window start (with `end_time`).
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    /// Window end (with `start_time`), after it.
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
    /// Only spots of this kind.
    #[serde(default)]
    pub spot_type: Option<SpotKindDto>,
}

impl SpotsQuery {
    /// Both window bounds or neither, the end after the start.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut checks = Checks::new();
        checks.optional_window(("start_time", self.start_time), ("end_time", self.end_time));
        checks.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::tests::fields;
    use serde_json::json;

    #[test]
    fn both_bulk_shapes_parse() {
        let batch: CreateSpotsRequest =
            serde_json::from_value(json!({"count": 40, "prefix": "B-", "kind": "regular"}))
                .expect("batch parses");
        assert_eq!(
            batch,
            CreateSpotsRequest::Batch(SpotBatch {
                count: 40,
                prefix: "B-".to_owned(),
                kind: SpotKindDto::Regular,
                zone: None
            })
        );
        assert_eq!(batch.validate(), Ok(()));
        let list: CreateSpotsRequest = serde_json::from_value(json!({
            "spots": [{"label": "EV-1", "kind": "ev"}, {"label": "EV-2", "kind": "ev", "zone": "Level -1"}]
        }))
        .expect("list parses");
        assert_eq!(list.len(), 2);
        assert_eq!(list.validate(), Ok(()));
        // Serialises back to the same shapes (untagged).
        assert_eq!(
            serde_json::to_value(&batch).expect("serialise"),
            json!({"count": 40, "prefix": "B-", "kind": "regular"})
        );
    }

    #[test]
    fn mixed_or_unknown_bulk_shapes_are_refused() {
        for body in [
            json!({"count": 2, "prefix": "A", "kind": "ev", "spots": []}),
            json!({"count": 2, "kind": "ev"}),
            json!({"spots": [], "kind": "ev"}),
            json!({"count": 2, "prefix": "A", "kind": "ev", "colour": "red"}),
            json!({"spots": [{"label": "A", "kind": "ev", "floor": 2}]}),
            json!({"spots": [{"label": "A", "kind": "truck"}]}),
            json!({}),
        ] {
            assert!(
                serde_json::from_value::<CreateSpotsRequest>(body.clone()).is_err(),
                "{body}"
            );
        }
        let err = serde_json::from_value::<CreateSpotsRequest>(json!({"count": 2}))
            .expect_err("incomplete");
        assert!(err.to_string().contains("expected either"), "{err}");
    }

    #[test]
    fn bulk_limits_name_their_fields() {
        let batch = CreateSpotsRequest::Batch(SpotBatch {
            count: 1001,
            prefix: "x".repeat(21),
            kind: SpotKindDto::Compact,
            zone: Some(String::new()),
        });
        assert_eq!(fields(batch.validate()), ["count", "prefix", "zone"]);
        let zero = CreateSpotsRequest::Batch(SpotBatch {
            count: 0,
            prefix: String::new(),
            kind: SpotKindDto::Compact,
            zone: None,
        });
        assert_eq!(fields(zero.validate()), ["count"]);
        let spot = |label: &str| NewSpot {
            label: label.to_owned(),
            kind: SpotKindDto::Ev,
            zone: None,
        };
        let list = CreateSpotsRequest::List(SpotList {
            spots: vec![spot("A"), spot(""), spot(&"y".repeat(51)), spot("A")],
        });
        assert_eq!(
            fields(list.validate()),
            ["spots[1].label", "spots[2].label", "spots[3].label"]
        );
        let empty = CreateSpotsRequest::List(SpotList { spots: vec![] });
        assert_eq!(fields(empty.validate()), ["spots"]);
    }

    #[test]
    fn batch_labels_are_numbered_and_padded() {
        let batch = SpotBatch {
            count: 3,
            prefix: "B-".to_owned(),
            kind: SpotKindDto::Regular,
            zone: None,
        };
        let labels: Vec<_> = batch.labels(999).collect();
        assert_eq!(labels, ["B-0999", "B-1000", "B-1001"]);
        assert_eq!(batch.labels(1).next().as_deref(), Some("B-001"));
    }

    #[test]
    fn kinds_mirror_the_core() {
        for kind in SpotKind::ALL {
            let dto = SpotKindDto::from(kind);
            assert_eq!(SpotKind::from(dto), kind);
            assert_eq!(
                serde_json::to_value(dto).expect("serialise"),
                json!(kind.as_str())
            );
        }
    }

    #[test]
    fn spots_and_queries() {
        let core = CoreSpot {
            id: parking_core::model::SpotId::from_u128(1),
            lot_id: parking_core::model::LotId::from_u128(2),
            label: "B2-017".to_owned(),
            kind: SpotKind::Accessible,
            zone: None,
            in_service: true,
        };
        let spot = Spot::from(&core).with_available(false);
        let json = serde_json::to_value(&spot).expect("serialise");
        assert_eq!(json["kind"], "accessible");
        assert_eq!(json["available"], false);
        assert!(json.get("zone").is_none());
        let patch: UpdateSpotRequest =
            serde_json::from_value(json!({"in_service": false})).expect("parses");
        assert!(!patch.in_service);
        assert!(
            serde_json::from_value::<UpdateSpotRequest>(json!({"in_service": false, "kind": "ev"}))
                .is_err()
        );
        let q: SpotsQuery = serde_json::from_value(json!({
            "start_time": "2026-05-01T10:00:00Z", "end_time": "2026-05-01T09:00:00Z", "spot_type": "ev"
        }))
        .expect("parses");
        assert_eq!(fields(q.validate()), ["end_time"]);
        let half: SpotsQuery =
            serde_json::from_value(json!({"start_time": "2026-05-01T10:00:00Z"})).expect("parses");
        assert_eq!(fields(half.validate()), ["end_time"]);
    }
}
