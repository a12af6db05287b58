//! Spots and their kinds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{LotId, SpotId};

/// What a spot is for. A booking for a kind is only ever given a spot of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpotKind {
    /// A standard car bay.
    Regular,
    /// A bay for small cars.
    Compact,
    /// A wider bay reserved for disabled badge holders.
    Accessible,
    /// A bay with an EV charger.
    Ev,
    /// A motorcycle bay.
    Motorcycle,
}

impl SpotKind {
    /// Every kind, in a fixed order (the order of [`KindCounts`]).
    pub const ALL: [SpotKind; 5] = [
        SpotKind::Regular,
        SpotKind::Compact,
        SpotKind::Accessible,
        SpotKind::Ev,
        SpotKind::Motorcycle,
    ];

    /// The position of this kind in [`SpotKind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The wire name (`"regular"`, `"ev"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            SpotKind::Regular => "regular",
            SpotKind::Compact => "compact",
            SpotKind::Accessible => "accessible",
            SpotKind::Ev => "ev",
            SpotKind::Motorcycle => "motorcycle",
        }
    }
}

impl fmt::Display for SpotKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown spot kind name.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown spot kind {0:?}: expected one of regular, compact, accessible, ev, motorcycle")]
pub struct UnknownSpotKind(pub String);

impl FromStr for SpotKind {
    type Err = UnknownSpotKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpotKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownSpotKind(s.to_owned()))
    }
}

/// One count per spot kind, serialised as a map `{"regular": 12, "ev": 2, …}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KindCounts([u32; 5]);

impl KindCounts {
    /// The count for one kind.
    pub const fn get(&self, kind: SpotKind) -> u32 {
        self.0[kind.index()]
    }

    /// Sets the count for one kind.
    pub fn set(&mut self, kind: SpotKind, count: u32) {
        self.0[kind.index()] = count;
    }

    /// Adds one to a kind's count.
    pub fn increment(&mut self, kind: SpotKind) {
        self.0[kind.index()] = self.0[kind.index()].saturating_add(1);
    }

    /// Subtracts one from a kind's count (never below zero).
    pub fn decrement(&mut self, kind: SpotKind) {
        self.0[kind.index()] = self.0[kind.index()].saturating_sub(1);
    }

    /// The sum over all kinds.
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// `(kind, count)` pairs in [`SpotKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (SpotKind, u32)> + '_ {
        SpotKind::ALL.into_iter().map(|k| (k, self.get(k)))
    }
}

impl Serialize for KindCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(SpotKind::ALL.len()))?;
        for (kind, count) in self.iter() {
            map.serialize_entry(kind.as_str(), &count)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for KindCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<SpotKind, u32>::deserialize(deserializer)?;
        let mut counts = KindCounts::default();
        for (kind, count) in map {
            counts.set(kind, count);
        }
        Ok(counts)
    }
}

/// A parking spot (bay).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spot {
    /// The spot's id.
    pub id: SpotId,
    /// The lot it belongs to.
    pub lot_id: LotId,
    /// The label painted on the ground (`"B2-017"`); unique within a lot.
    pub label: String,
    /// What the spot is for.
    pub kind: SpotKind,
    /// Level or zone (`"Level -1"`, `"North"`), for display and layout.
    pub zone: Option<String>,
    /// False while the spot is out of service; it is then never allocated.
    pub in_service: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_print_their_wire_names() {
        for kind in SpotKind::ALL {
            assert_eq!(kind.as_str().parse::<SpotKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_string(&kind).expect("serialize"),
                format!("\"{kind}\"")
            );
        }
        assert!("truck".parse::<SpotKind>().is_err());
    }

    #[test]
    fn kind_counts_serialise_as_a_map() {
        let mut counts = KindCounts::default();
        counts.set(SpotKind::Ev, 3);
        counts.increment(SpotKind::Regular);
        let json = serde_json::to_string(&counts).expect("serialize");
        assert_eq!(
            json,
            r#"{"regular":1,"compact":0,"accessible":0,"ev":3,"motorcycle":0}"#
        );
        let back: KindCounts = serde_json::from_str(r#"{"ev":3,"regular":1}"#).expect("parse");
        assert_eq!(back, counts);
        assert_eq!(counts.total(), 4);
    }
}
