//! [`Source`]: where the dashboard's data comes from, one method per
//! [`Command`](crate::app::Command) — so the runtime can be driven without a
//! server — and [`ClientSource`], the implementation over parking-client.

use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use parking_api::{
    Alert, AlertsQuery, LotSearchQuery, ManagedLotsQuery, OccupancyQuery, Page, QuoteQuery,
    Reservation, ReservationStatusDto, ReservationsQuery, RevenueGrouping, RevenueQuery, Role,
    SpotsQuery, UpdateReservationRequest,
};
use parking_client::{Client, ClientError};
use uuid::Uuid;

use crate::app::{Action, Fetched, Msg, short_id};
use crate::model::{LotDetail, SpotCounts, WatchedLot, money, status_text};

/// Lots the dashboard watches at most (pages of the listing).
pub const MAX_LOTS: usize = 2000;
/// Requests in flight at once when counting many lots' spots.
const PARALLEL_REQUESTS: usize = 4;
/// Bookings loaded for one lot's screen at most.
const LOT_BOOKINGS: u32 = 100;

/// The circle of the city the dashboard watches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    /// Latitude of the centre.
    pub lat: f64,
    /// Longitude of the centre.
    pub lng: f64,
    /// Radius in metres (at most parkd's search limit, 50 km).
    pub radius_m: u32,
}

/// Which lots the dashboard watches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Watch {
    /// Every lot the caller manages (an operator's tenant's; an admin's all).
    Managed,
    /// The lots in a circle (any caller, drivers and anonymous users too).
    Area(Area),
}

impl Watch {
    /// What to watch for a caller with `roles` (`None`: not logged in) and the
    /// area asked for on the command line, if any: the area when one is
    /// given, else the managed lots — which only staff have, so a driver or an
    /// anonymous user must name an area.
    pub fn choose(near: Option<Area>, roles: Option<&[Role]>) -> Result<Watch, String> {
        if let Some(area) = near {
            return Ok(Watch::Area(area));
        }
        let staff = roles
            .is_some_and(|roles| roles.contains(&Role::Operator) || roles.contains(&Role::Admin));
        if staff {
            Ok(Watch::Managed)
        } else if roles.is_some() {
            Err(
                "--near LAT,LNG is required for drivers: only operators and admins have \
                 managed lots to watch (e.g. --near 51.05,13.74 --radius 2000)"
                    .to_owned(),
            )
        } else {
            Err(
                "--near LAT,LNG is required when not logged in (e.g. --near 51.05,13.74); \
                 operators and admins who ran parkctl login watch their own lots without it"
                    .to_owned(),
            )
        }
    }
}

/// The dashboard's data, each method answering one command.
pub trait Source: Send + Sync + 'static {
    /// The watched lots (managed, or in the area) with their free counts.
    fn lots(&self) -> impl Future<Output = Result<Vec<WatchedLot>, String>> + Send;
    /// Spot-level counts of `lots`.
    fn counts(
        &self,
        lots: Vec<Uuid>,
    ) -> impl Future<Output = Result<Vec<SpotCounts>, String>> + Send;
    /// The alerts, newest first.
    fn alerts(&self) -> impl Future<Output = Fetched<Vec<Alert>>> + Send;
    /// One lot's screen.
    fn lot(&self, id: Uuid) -> impl Future<Output = Result<LotDetail, String>> + Send;
    /// A page of bookings.
    fn bookings(
        &self,
        query: ReservationsQuery,
    ) -> impl Future<Output = Result<Page<Reservation>, String>> + Send;
    /// One lot's analytics.
    fn analytics(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<crate::model::Analytics, String>> + Send;
    /// Runs `action`; answers [`Msg::ActionDone`] or [`Msg::AlertAcked`].
    fn act(&self, action: Action) -> impl Future<Output = Msg> + Send;
    /// A current access token for the live feed (refreshed when needed), or
    /// `None` when not logged in.
    fn access_token(&self) -> impl Future<Output = Option<String>> + Send;
    /// The server's base URL.
    fn server(&self) -> String;
}

/// [`Source`] over parkd's REST API.
#[derive(Clone, Debug)]
pub struct ClientSource {
    client: Client,
    watch: Watch,
}

impl ClientSource {
    /// Data from `client`, lots from `area`.
    pub fn new(client: Client, area: Area) -> Self {
        Self::watching(client, Watch::Area(area))
    }

    /// Data from `client`, lots as `watch` says.
    pub fn watching(client: Client, watch: Watch) -> Self {
        ClientSource { client, watch }
    }

    /// Every lot in `area`, nearest first, up to [`MAX_LOTS`].
    async fn area_lots(&self, area: Area) -> Result<Vec<WatchedLot>, ClientError> {
        watched_pages(|page| async move {
            let query = LotSearchQuery {
                lat: area.lat,
                lng: area.lng,
                radius: Some(area.radius_m),
                spot_type: None,
                start_time: None,
                end_time: None,
                max_price: None,
                page: Some(page),
                per_page: Some(parking_api::MAX_PER_PAGE),
            };
            self.client.search_lots(&query).await
        })
        .await
    }

    /// Every lot the caller manages, by name, up to [`MAX_LOTS`].
    async fn managed_lots(&self) -> Result<Vec<WatchedLot>, ClientError> {
        watched_pages(|page| async move {
            let query = ManagedLotsQuery {
                tenant_id: None,
                page: Some(page),
                per_page: Some(parking_api::MAX_PER_PAGE),
            };
            self.client.managed_lots(&query).await
        })
        .await
    }

    async fn counts_of(&self, lot: Uuid) -> Result<SpotCounts, ClientError> {
        let spots = self.client.list_spots(lot, &SpotsQuery::default()).await?;
        let checked_in = self
            .staff_bookings(ReservationsQuery {
                status: Some(ReservationStatusDto::CheckedIn),
                lot_id: Some(lot),
                per_page: Some(100),
                ..ReservationsQuery::default()
            })
            .await?;
        Ok(SpotCounts::from_spots(lot, &spots, &checked_in))
    }

    /// Bookings a staff user may list; empty when not logged in or not
    /// allowed (a driver sees only their own, an anonymous user none).
    async fn staff_bookings(
        &self,
        query: ReservationsQuery,
    ) -> Result<Vec<Reservation>, ClientError> {
        if self.client.tokens().is_none() {
            return Ok(Vec::new());
        }
        match self.client.list_reservations(&query).await {
            Ok(page) => Ok(page.items),
            Err(e) if matches!(e.status(), Some(401 | 403)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

impl Source for ClientSource {
    async fn lots(&self) -> Result<Vec<WatchedLot>, String> {
        let lots = match self.watch {
            Watch::Managed => self.managed_lots().await,
            Watch::Area(area) => self.area_lots(area).await,
        };
        lots.map_err(|e| e.to_string())
    }

    async fn counts(&self, lots: Vec<Uuid>) -> Result<Vec<SpotCounts>, String> {
        let results: Vec<Result<SpotCounts, ClientError>> = futures_util::stream::iter(lots)
            .map(|lot| self.counts_of(lot))
            .buffer_unordered(PARALLEL_REQUESTS)
            .collect()
            .await;
        let mut counts = Vec::with_capacity(results.len());
        let mut first_error = None;
        for result in results {
            match result {
                Ok(c) => counts.push(c),
                // A lot deleted meanwhile is simply gone.
                Err(e) if e.status() == Some(404) => {}
                Err(e) => {
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        match first_error {
            Some(e) if counts.is_empty() => Err(e),
            _ => Ok(counts),
        }
    }

    async fn alerts(&self) -> Fetched<Vec<Alert>> {
        if self.client.tokens().is_none() {
            return Fetched::Failed("log in (parkctl login) to see alerts".to_owned());
        }
        let query = AlertsQuery {
            per_page: Some(100),
            ..AlertsQuery::default()
        };
        match self.client.list_alerts(&query).await {
            Ok(page) => Fetched::Ok(page.items),
            Err(e) if e.status() == Some(404) => Fetched::Unavailable,
            Err(e) => Fetched::Failed(e.to_string()),
        }
    }

    async fn lot(&self, id: Uuid) -> Result<LotDetail, String> {
        let now = Utc::now();
        let lot = self.client.get_lot(id).await.map_err(|e| e.to_string())?;
        let spots = self
            .client
            .list_spots(id, &SpotsQuery::default())
            .await
            .map_err(|e| e.to_string())?;
        let mut reservations = self
            .staff_bookings(ReservationsQuery {
                lot_id: Some(id),
                from: Some(now - Duration::hours(24)),
                to: Some(now + Duration::hours(24)),
                per_page: Some(LOT_BOOKINGS),
                ..ReservationsQuery::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        reservations.sort_by_key(|r| r.start_time);
        let hourly = self
            .client
            .quote(
                id,
                &QuoteQuery {
                    start_time: now,
                    end_time: now + Duration::hours(1),
                    spot_type: None,
                },
            )
            .await
            .ok();
        Ok(LotDetail {
            lot,
            spots,
            reservations,
            hourly,
            loaded_at: now,
        })
    }

    async fn bookings(&self, query: ReservationsQuery) -> Result<Page<Reservation>, String> {
        self.client
            .list_reservations(&query)
            .await
            .map_err(|e| e.to_string())
    }

    async fn analytics(&self, id: Uuid) -> Result<crate::model::Analytics, String> {
        let now = Utc::now();
        let from = now - Duration::days(7);
        let lot = self.client.get_lot(id).await.map_err(|e| e.to_string())?;
        let occupancy = self
            .client
            .occupancy(&OccupancyQuery {
                lot_id: id,
                from,
                to: now,
                bucket: Some("1h".to_owned()),
            })
            .await
            .map_err(|e| e.to_string())?;
        let revenue = self
            .client
            .revenue(&RevenueQuery {
                lot_id: id,
                from,
                to: now,
                group_by: RevenueGrouping::Day,
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(crate::insights::build(&lot, &occupancy, &revenue, now))
    }

    async fn act(&self, action: Action) -> Msg {
        let done = |verb: &str, r: &Reservation| {
            format!(
                "{verb} booking {} on {} (now {})",
                short_id(r.id),
                r.spot_label,
                status_text(r.status)
            )
        };
        let result = match action {
            Action::Cancel(id) => self.client.cancel_reservation(id).await.map(|c| {
                format!(
                    "{}; refund {}",
                    done("cancelled", &c.reservation),
                    money(c.refund.amount, &c.refund.currency)
                )
            }),
            Action::CheckIn(id) => self
                .client
                .check_in(id)
                .await
                .map(|r| done("checked in", &r)),
            Action::CheckOut(id) => self
                .client
                .check_out(id)
                .await
                .map(|r| done("checked out", &r)),
            Action::Extend { id, end_time } => self
                .client
                .update_reservation(
                    id,
                    &UpdateReservationRequest {
                        start_time: None,
                        end_time: Some(end_time),
                        expected_total: None,
                    },
                )
                .await
                .map(|r| format!("{} until {}", done("extended", &r), end(r.end_time))),
            Action::Acknowledge(id) => {
                return Msg::AlertAcked(match self.client.acknowledge_alert(id).await {
                    Ok(alert) => Ok(alert),
                    Err(e) if e.status() == Some(404) => {
                        Err("alerts unavailable on this server (or the alert is gone)".to_owned())
                    }
                    Err(e) => Err(e.to_string()),
                });
            }
        };
        Msg::ActionDone(result.map_err(|e| e.to_string()))
    }

    async fn access_token(&self) -> Option<String> {
        self.client.tokens()?;
        // Any authenticated call renews an expired access token first.
        let _ = self.client.me().await;
        self.client.tokens().map(|pair| pair.access_token)
    }

    fn server(&self) -> String {
        self.client.base_url().to_owned()
    }
}

/// The lots of a paged listing, page 1 onwards until the last page or
/// [`MAX_LOTS`] lots.
async fn watched_pages<T, Fut>(fetch: impl Fn(u32) -> Fut) -> Result<Vec<WatchedLot>, ClientError>
where
    T: Into<WatchedLot>,
    Fut: Future<Output = Result<Page<T>, ClientError>>,
{
    let mut lots = Vec::new();
    for page in 1.. {
        let found = fetch(page).await?;
        let done = !found.has_next || found.items.is_empty();
        lots.extend(found.items.into_iter().map(T::into));
        if done || lots.len() >= MAX_LOTS {
            break;
        }
    }
    lots.truncate(MAX_LOTS);
    Ok(lots)
}

fn end(t: DateTime<Utc>) -> String {
    t.format("%d %b %H:%M UTC").to_string()
}
