//! The demo city: real Dresden car parks (ParkAPI data in `examples/data/`,
//! compiled in), with generated spots of every kind, rate cards, demo users and a
//! morning's worth of bookings. Seeded once per data directory; later starts just
//! print how to log in again.

use std::path::PathBuf;

use chrono::{Duration, DurationRound, NaiveTime, Utc, Weekday};
use futures::future::join_all;
use parking_core::conflict::SpotChoice;
use parking_core::model::{
    BookingRules, GeoPoint, Interval, Lot, LotId, OpenWindow, OperatingHours, Spot, SpotId,
    SpotKind, TenantId,
};
use parking_core::pricing::RateCard;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::extract::Actor;
use crate::auth::{Password, Role};
use crate::service::accounts::{self, NewUser};
use crate::service::booking::{self, NewBooking};
use crate::state::AppState;
use crate::store::interface::{LotRecord, TenantRecord};

/// The real lots the demo is built from (see `examples/data/SOURCE.txt`).
const DRESDEN: &str = include_str!("../../examples/data/dresden.geojson");

/// The Altmarkt, Dresden's centre: prices fall with distance from it.
const CENTRE: (f64, f64) = (51.0507, 13.7418);

const CREDENTIALS_FILE: &str = "demo-credentials.json";

/// How to log in to the demo.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoInfo {
    /// `(role, email, password)` of each demo user.
    pub users: Vec<(String, String, String)>,
    /// Lots seeded.
    pub lots: usize,
    /// Spots seeded.
    pub spots: usize,
}

impl DemoInfo {
    /// Lines telling a person how to log in.
    pub fn login_help(&self, url: &str) -> String {
        let mut out = format!(
            "  demo city: {} Dresden car parks, {} spots. Log in with POST {url}/api/v1/auth/login:\n",
            self.lots, self.spots
        );
        for (role, email, password) in &self.users {
            out.push_str(&format!("    {role:<9} {email}  password: {password}\n"));
        }
        out.push_str(&format!(
            "  e.g. curl -s {url}/api/v1/parking-lots?lat=51.0507\\&lng=13.7418\\&radius=1000"
        ));
        out
    }
}

fn error(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(error)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

/// Seeds the demo city unless this data directory already has it.
pub async fn seed(state: &AppState) -> Result<DemoInfo, String> {
    let path: PathBuf = state.config.data_dir.join(CREDENTIALS_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return serde_json::from_str(&text).map_err(error);
    }
    if !state.engine.read().is_empty() {
        return Err(
            "the data directory already has lots; use a fresh --data-dir for the demo".into(),
        );
    }
    let tenant = TenantRecord {
        id: TenantId::new(),
        name: "Dresden Demo Parking".into(),
        created_at: Utc::now(),
    };
    state
        .store
        .create_tenant(tenant.clone())
        .await
        .map_err(error)?;

    let mut users = Vec::new();
    let mut fleet = None;
    for (role, email, tenant_id) in [
        (Role::Admin, "admin@demo.parking", None),
        (Role::Operator, "operator@demo.parking", Some(tenant.id)),
        (Role::Driver, "driver@demo.parking", None),
        (Role::Driver, "fleet@demo.parking", None),
    ] {
        let password = random_password()?;
        let user = accounts::create_user(
            state,
            NewUser {
                email: email.into(),
                password: Password::new(password.clone()).map_err(error)?,
                first_name: "Demo".into(),
                last_name: role.to_string(),
                phone: None,
                roles: vec![role],
                tenant_id,
            },
        )
        .await
        .map_err(error)?;
        if email.starts_with("fleet") {
            fleet = Some(user);
        } else {
            users.push((role.to_string(), email.to_owned(), password));
        }
    }

    let (lots, spots) = seed_lots(state, tenant.id).await?;
    if let Some(fleet) = fleet {
        seed_bookings(state, &fleet, &lots).await?;
    }
    let info = DemoInfo {
        users,
        lots: lots.len(),
        spots,
    };
    write_private(&path, &serde_json::to_string_pretty(&info).map_err(error)?)?;
    Ok(info)
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).map_err(error)?;
    file.write_all(text.as_bytes()).map_err(error)
}

/// The spot kinds of a lot of `capacity` spots: about 3 % accessible, 5 % EV,
/// 2 % motorcycle, 10 % compact, the rest regular — at least one of each.
fn kinds(capacity: usize) -> Vec<SpotKind> {
    let share = |pct: usize| (capacity * pct / 100).max(1);
    let mut kinds = Vec::with_capacity(capacity);
    for (kind, n) in [
        (SpotKind::Accessible, share(3)),
        (SpotKind::Ev, share(5)),
        (SpotKind::Motorcycle, share(2)),
        (SpotKind::Compact, share(10)),
    ] {
        kinds.extend(std::iter::repeat_n(kind, n));
    }
    let regular = capacity.saturating_sub(kinds.len()).max(1);
    kinds.extend(std::iter::repeat_n(SpotKind::Regular, regular));
    kinds
}

fn rate_card(distance_m: f64) -> RateCard {
    let mut card = RateCard::example_eur();
    let scale = if distance_m < 800.0 {
        130
    } else if distance_m < 2_000.0 {
        100
    } else {
        70
    };
    card.base_hourly = card.base_hourly * scale / 100;
    for band in &mut card.bands {
        band.hourly = band.hourly * scale / 100;
    }
    card
}

async fn seed_lots(state: &AppState, tenant: TenantId) -> Result<(Vec<LotId>, usize), String> {
    let json: Value = serde_json::from_str(DRESDEN).map_err(error)?;
    let features = json["features"]
        .as_array()
        .ok_or("the demo data has no features")?;
    let centre = GeoPoint::new(CENTRE.0, CENTRE.1).map_err(error)?;
    let mut lot_ids = Vec::new();
    let mut spot_count = 0;
    for feature in features {
        let props = &feature["properties"];
        let coords = &feature["geometry"]["coordinates"];
        let (Some(lng), Some(lat)) = (coords[0].as_f64(), coords[1].as_f64()) else {
            continue; // real data: a few lots have no location
        };
        let Ok(location) = GeoPoint::new(lat, lng) else {
            continue;
        };
        let name = props["name"].as_str().unwrap_or("Car park").to_owned();
        let address = props["address"]
            .as_str()
            .and_then(|a| a.lines().next())
            .unwrap_or("Dresden")
            .to_owned();
        let capacity = props["capacity"].as_u64().unwrap_or(50).clamp(5, 2_000) as usize;
        // Surface lots close at night; garages are open around the clock.
        let hours = if props["type"].as_str() == Some("lot") {
            let week = [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
            ];
            OperatingHours::new(
                Some(
                    week.into_iter()
                        .map(|day| OpenWindow {
                            day,
                            open: hm(6, 0),
                            close: hm(22, 0),
                        })
                        .collect(),
                ),
                vec![],
            )
            .map_err(error)?
        } else {
            OperatingHours::always_open()
        };
        let lot = Lot {
            id: LotId::new(),
            tenant_id: tenant,
            name,
            address,
            location,
            time_zone: chrono_tz::Europe::Berlin,
            hours,
            amenities: Default::default(),
            rules: BookingRules {
                turnover_buffer_minutes: 5,
                ..BookingRules::default()
            },
        };
        let card = rate_card(centre.distance_m(&location));
        let spots: Vec<Spot> = kinds(capacity)
            .into_iter()
            .enumerate()
            .map(|(n, kind)| Spot {
                id: SpotId::new(),
                lot_id: lot.id,
                label: format!("{}-{:03}", n / 100 + 1, n % 100 + 1),
                kind,
                zone: Some(format!("Level {}", n / 100 + 1)),
                in_service: true,
            })
            .collect();
        let external_id = props["id"].as_str().map(str::to_owned);
        state
            .store
            .insert_lot(LotRecord {
                lot: lot.clone(),
                external_id: external_id.clone(),
                payment_mode: crate::store::payments::PaymentMode::OnSite,
            })
            .await
            .map_err(error)?;
        if let Some(external_id) = external_id {
            state.engine.external_ids_mut().insert(lot.id, external_id);
        }
        state
            .store
            .insert_spots(spots.clone())
            .await
            .map_err(error)?;
        state
            .store
            .put_rate_card(lot.id, card.clone())
            .await
            .map_err(error)?;
        let mut city = state.engine.write();
        city.add_lot(lot.clone(), Some(card)).map_err(error)?;
        spot_count += spots.len();
        for spot in spots {
            city.add_spot(spot).map_err(error)?;
        }
        lot_ids.push(lot.id);
    }
    Ok((lot_ids, spot_count))
}

/// About a third of each lot's regular spots booked for the next hours, so
/// availability and analytics have something to show.
async fn seed_bookings(
    state: &AppState,
    fleet: &crate::store::interface::UserRecord,
    lots: &[LotId],
) -> Result<(), String> {
    let actor = Actor {
        user_id: fleet.id,
        roles: fleet.roles.clone(),
        tenant_id: None,
        jti: uuid::Uuid::nil(),
        expires_at: Utc::now(),
    };
    let start = (Utc::now() + Duration::hours(1))
        .duration_trunc(Duration::minutes(15))
        .map_err(error)?;
    let mut requests = Vec::new();
    for (i, lot) in lots.iter().enumerate() {
        let regular = state
            .engine
            .read()
            .lot(*lot)
            .map(|l| l.inventory.capacity().get(SpotKind::Regular))
            .unwrap_or(0);
        for n in 0..regular / 3 {
            let offset = Duration::minutes(15 * i64::from((n + i as u32) % 8));
            let length = Duration::minutes(60 + 30 * i64::from(n % 5));
            let Ok(interval) = Interval::new(start + offset, start + offset + length) else {
                continue;
            };
            requests.push(NewBooking {
                lot_id: *lot,
                choice: SpotChoice::Kind(SpotKind::Regular),
                interval,
                hold: false,
                expected_total: None,
            });
        }
    }
    // Many at once: the writer commits them together.
    for chunk in requests.chunks(256) {
        let results =
            join_all(
                chunk.iter().cloned().map(|request| {
                    let actor = actor.clone();
                    async move {
                        booking::create(state, &actor, request, None, |_| Ok(String::new())).await
                    }
                }),
            )
            .await;
        for result in results {
            // Surface lots are closed at night; those bookings are refused. Fine.
            if let Err(e) = result
                && !matches!(
                    e,
                    crate::error::ApiError::Unprocessable(_)
                        | crate::error::ApiError::Conflict { .. }
                )
            {
                return Err(e.to_string());
            }
        }
    }
    Ok(())
}
