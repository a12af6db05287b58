//! Property tests of the conflict rules against a brute-force model.
//!
//! Random sequences of book (named spot or by kind, confirmed or held), cancel,
//! reschedule, confirm and time passing (with hold expiry) run against both the
//! inventory and a model that scans every reservation. The inventory must accept
//! exactly what the model accepts (no false conflicts, no missed ones), choose the
//! spot the documented best-fit rule names (so the gap index agrees with a scan), and never hold two overlapping blocking
//! intervals on one spot, turnover buffer included.

use chrono::{DateTime, Duration, TimeZone, Utc};
use parking_core::conflict::{BookingError, BookingRequest, LotInventory, SpotChoice};
use parking_core::model::{
    BookingRules, GeoPoint, Interval, Lot, LotId, OperatingHours, ReservationId, Spot, SpotId,
    SpotKind, TenantId,
};
use proptest::prelude::*;

const KINDS: [SpotKind; 5] = [
    SpotKind::Regular,
    SpotKind::Regular,
    SpotKind::Ev,
    SpotKind::Regular,
    SpotKind::Ev,
];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid")
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

fn lot(buffer: u32) -> Lot {
    Lot {
        id: LotId::from_u128(1),
        tenant_id: TenantId::from_u128(1),
        name: "Prop lot".into(),
        address: "Nowhere 1".into(),
        location: GeoPoint::new(51.05, 13.74).expect("valid"),
        time_zone: chrono_tz::Europe::Berlin,
        hours: OperatingHours::always_open(),
        amenities: Default::default(),
        rules: BookingRules {
            turnover_buffer_minutes: buffer,
            ..BookingRules::default()
        },
    }
}

fn spot_id(i: usize) -> SpotId {
    SpotId::from_u128(100 + i as u128)
}

#[derive(Clone, Debug)]
enum Op {
    Book {
        spot: Option<usize>,
        kind_ev: bool,
        start: i64,
        len: i64,
        hold: Option<i64>,
    },
    Cancel(usize),
    Reschedule {
        pick: usize,
        start: i64,
        len: i64,
    },
    Confirm(usize),
    Advance(i64),
    ToggleService(usize),
    Prune,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (
            prop::option::of(0..KINDS.len()),
            any::<bool>(),
            0i64..600,
            1i64..240,
            prop::option::weighted(0.3, 1i64..60)
        )
            .prop_map(|(spot, kind_ev, start, len, hold)| Op::Book { spot, kind_ev, start, len, hold }),
        1 => any::<usize>().prop_map(Op::Cancel),
        2 => (any::<usize>(), -60i64..600, 1i64..300)
            .prop_map(|(pick, start, len)| Op::Reschedule { pick, start, len }),
        1 => any::<usize>().prop_map(Op::Confirm),
        1 => (1i64..90).prop_map(Op::Advance),
        1 => (0..KINDS.len()).prop_map(Op::ToggleService),
        1 => Just(Op::Prune),
    ]
}

#[derive(Clone, Debug)]
struct ModelRes {
    id: ReservationId,
    spot: usize,
    start: i64,
    end: i64,
    expires: Option<i64>,
}

struct Model {
    buffer: i64,
    now: i64,
    in_service: [bool; KINDS.len()],
    res: Vec<ModelRes>,
}

impl Model {
    fn blocking(&self, r: &ModelRes) -> bool {
        r.expires.is_none_or(|x| self.now < x)
    }

    fn collides(&self, spot: usize, start: i64, end: i64, exclude: Option<ReservationId>) -> bool {
        self.res.iter().any(|r| {
            r.spot == spot
                && Some(r.id) != exclude
                && self.blocking(r)
                && r.start < end + self.buffer
                && r.end + self.buffer > start
        })
    }

    /// The documented best-fit key: (open sides, slack), computed by scanning.
    fn fit(&self, spot: usize, start: i64, end: i64) -> Option<(u8, i64)> {
        if !self.in_service[spot] || self.collides(spot, start, end, None) {
            return None;
        }
        let on_spot = || {
            self.res
                .iter()
                .filter(|r| r.spot == spot && self.blocking(r))
        };
        let prev = on_spot().filter(|r| r.end <= start).map(|r| r.end).max();
        let next = on_spot().filter(|r| r.start >= end).map(|r| r.start).min();
        let open = u8::from(prev.is_none()) + u8::from(next.is_none());
        let slack = prev.map_or(0, |p| start - p) + next.map_or(0, |n| n - end);
        Some((open, slack))
    }

    fn best(&self, kind: SpotKind, start: i64, end: i64) -> Option<usize> {
        (0..KINDS.len())
            .filter(|&i| KINDS[i] == kind)
            .filter_map(|i| self.fit(i, start, end).map(|f| (f, i)))
            .min()
            .map(|(_, i)| i)
    }

    fn live(&self) -> Vec<usize> {
        (0..self.res.len())
            .filter(|&i| self.blocking(&self.res[i]))
            .collect()
    }
}

fn iv(start: i64, end: i64) -> Interval {
    Interval::new(minutes(start), minutes(end)).expect("valid")
}

fn run(buffer: u32, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let lot = lot(buffer);
    let mut inv = LotInventory::new(&lot);
    for (i, kind) in KINDS.iter().enumerate() {
        inv.add_spot(Spot {
            id: spot_id(i),
            lot_id: lot.id,
            label: format!("S{i}"),
            kind: *kind,
            zone: None,
            in_service: true,
        })
        .expect("fresh spot");
    }
    let mut m = Model {
        buffer: i64::from(buffer),
        now: 0,
        in_service: [true; KINDS.len()],
        res: Vec::new(),
    };
    let mut next_id = 1u128;
    for op in ops {
        let now = minutes(m.now);
        match op {
            Op::Book {
                spot,
                kind_ev,
                start,
                len,
                hold,
            } => {
                let (s, e) = (m.now + start, m.now + start + len);
                let id = ReservationId::from_u128(next_id);
                next_id += 1;
                let kind = if kind_ev {
                    SpotKind::Ev
                } else {
                    SpotKind::Regular
                };
                let choice = match spot {
                    Some(i) => SpotChoice::Spot(spot_id(i)),
                    None => SpotChoice::Kind(kind),
                };
                let expected = match spot {
                    Some(i) => (m.in_service[i] && !m.collides(i, s, e, None)).then_some(i),
                    None => m.best(kind, s, e),
                };
                let hold_until = hold.map(|h| minutes(m.now + h));
                let got = inv.book(
                    BookingRequest {
                        id,
                        choice,
                        interval: iv(s, e),
                        hold_until,
                    },
                    now,
                );
                match (got, expected) {
                    (Ok(booked), Some(i)) => {
                        prop_assert_eq!(booked.spot_id, spot_id(i), "best fit differs");
                        for gone in booked.expired_holds {
                            let r = m.res.iter().position(|r| r.id == gone);
                            prop_assert!(
                                r.is_some_and(|r| !m.blocking(&m.res[r])),
                                "purged a live booking"
                            );
                            m.res.retain(|r| r.id != gone);
                        }
                        m.res.push(ModelRes {
                            id,
                            spot: i,
                            start: s,
                            end: e,
                            expires: hold.map(|h| m.now + h),
                        });
                    }
                    (Err(err), None) => prop_assert!(matches!(
                        err,
                        BookingError::SpotTaken(_)
                            | BookingError::NoneAvailable(_)
                            | BookingError::OutOfService(_)
                    )),
                    (got, expected) => {
                        prop_assert!(false, "inventory {:?} vs model {:?}", got, expected)
                    }
                }
            }
            Op::Cancel(pick) => {
                let live = m.live();
                if let Some(&i) = live.get(pick % live.len().max(1)) {
                    let r = m.res.remove(i);
                    prop_assert_eq!(inv.release(r.id), Ok(spot_id(r.spot)));
                }
            }
            Op::Confirm(pick) => {
                let live = m.live();
                if let Some(&i) = live.get(pick % live.len().max(1)) {
                    prop_assert_eq!(inv.confirm(m.res[i].id), Ok(()));
                    m.res[i].expires = None;
                }
            }
            Op::Reschedule { pick, start, len } => {
                let live = m.live();
                if let Some(&i) = live.get(pick % live.len().max(1)) {
                    let r = m.res[i].clone();
                    let (s, e) = (m.now + start, m.now + start + len);
                    let accept = (s == r.start || s >= m.now)
                        && m.in_service[r.spot]
                        && !m.collides(r.spot, s, e, Some(r.id));
                    let got = inv.reschedule(r.id, iv(s, e), now);
                    prop_assert_eq!(got.is_ok(), accept, "reschedule {:?} -> [{}, {})", r, s, e);
                    if accept {
                        m.res[i].start = s;
                        m.res[i].end = e;
                    }
                }
            }
            Op::Advance(by) => {
                m.now += by;
                let mut expired = inv.expire_holds(minutes(m.now));
                expired.sort();
                let mut due: Vec<ReservationId> = m
                    .res
                    .iter()
                    .filter(|r| r.expires.is_some_and(|x| x <= m.now))
                    .map(|r| r.id)
                    .collect();
                due.sort();
                prop_assert_eq!(&expired, &due);
                m.res.retain(|r| !expired.contains(&r.id));
            }
            Op::Prune => {
                let mut pruned = inv.prune_ended(now);
                pruned.sort();
                let mut ended: Vec<ReservationId> = m
                    .res
                    .iter()
                    .filter(|r| r.end <= m.now)
                    .map(|r| r.id)
                    .collect();
                ended.sort();
                prop_assert_eq!(&pruned, &ended);
                m.res.retain(|r| r.end > m.now);
            }
            Op::ToggleService(i) => {
                m.in_service[i] = !m.in_service[i];
                inv.set_in_service(spot_id(i), m.in_service[i])
                    .expect("known spot");
            }
        }
        // Invariant: blocking intervals on a spot never overlap, buffer included.
        let live: Vec<&ModelRes> = m.res.iter().filter(|r| m.blocking(r)).collect();
        for a in &live {
            for b in &live {
                if a.id != b.id && a.spot == b.spot {
                    prop_assert!(
                        a.end + m.buffer <= b.start || b.end + m.buffer <= a.start,
                        "overlap {:?} {:?}",
                        a,
                        b
                    );
                }
            }
        }
        // Availability agrees with the model for a probe window.
        let probe = iv(m.now + 60, m.now + 120);
        let counts = inv.availability(&probe, minutes(m.now));
        for kind in [SpotKind::Regular, SpotKind::Ev] {
            let free = (0..KINDS.len())
                .filter(|&i| {
                    KINDS[i] == kind
                        && m.in_service[i]
                        && !m.collides(i, m.now + 60, m.now + 120, None)
                })
                .count() as u32;
            prop_assert_eq!(counts.get(kind), free, "availability of {}", kind);
            let in_service = (0..KINDS.len())
                .filter(|&i| KINDS[i] == kind && m.in_service[i])
                .count() as u32;
            prop_assert_eq!(inv.capacity().get(kind), in_service, "capacity of {}", kind);
        }
        prop_assert_eq!(inv.reservation_count(), m.res.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn inventory_matches_the_brute_force_model(buffer in prop_oneof![Just(0u32), 1u32..30], ops in prop::collection::vec(op(), 1..80)) {
        run(buffer, ops)?;
    }
}
