//! The dashboard's state ([`App`]), what can happen to it ([`Msg`]) and what
//! it asks the I/O layer to do ([`Command`]). [`crate::update`] changes the
//! state; [`crate::view`] draws it. Neither does I/O.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use parking_api::ws::ServerMessage;
use parking_api::{Alert, Page, Reservation, ReservationStatusDto, ReservationsQuery};
use ratatui::crossterm::event::KeyEvent;
use uuid::Uuid;

use crate::link::Feed;
use crate::model::{Analytics, LotDetail, LotRow, Span, SpotCounts, WatchedLot};
use crate::theme::Theme;

/// Bookings fetched per page.
pub const BOOKINGS_PER_PAGE: u32 = 50;
/// Search text longer than this is not taken (it would not fit anyway).
pub const MAX_SEARCH_CHARS: usize = 64;

/// The screens, in tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// Every lot with its gauge.
    Overview,
    /// One lot's spot grid.
    Lot,
    /// The bookings table.
    Bookings,
    /// Charts of one lot.
    Analytics,
    /// Open and acknowledged alerts.
    Alerts,
}

impl Screen {
    /// Every screen, in tab order.
    pub const ALL: [Screen; 5] = [
        Screen::Overview,
        Screen::Lot,
        Screen::Bookings,
        Screen::Analytics,
        Screen::Alerts,
    ];

    /// The tab title.
    pub fn title(self) -> &'static str {
        match self {
            Screen::Overview => "Overview",
            Screen::Lot => "Lot",
            Screen::Bookings => "Bookings",
            Screen::Analytics => "Analytics",
            Screen::Alerts => "Alerts",
        }
    }
}

/// The overview's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// Fullest first.
    Occupancy,
    /// A to Z.
    Name,
    /// Most open alerts first.
    Alerts,
}

impl SortBy {
    /// The next order (`s` cycles).
    pub fn next(self) -> SortBy {
        match self {
            SortBy::Occupancy => SortBy::Name,
            SortBy::Name => SortBy::Alerts,
            SortBy::Alerts => SortBy::Occupancy,
        }
    }

    /// The word shown in the title.
    pub fn label(self) -> &'static str {
        match self {
            SortBy::Occupancy => "occupancy",
            SortBy::Name => "name",
            SortBy::Alerts => "alerts",
        }
    }
}

/// The outcome of a fetch that a server may not offer yet.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched<T> {
    /// The data.
    Ok(T),
    /// The server has no such endpoint (404).
    Unavailable,
    /// Any other failure, as one line.
    Failed(String),
}

/// What the live feed task reports.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveEvent {
    /// Connected, authenticated (when logged in) and subscribed.
    Opened,
    /// A message from the server.
    Message(Box<ServerMessage>),
    /// A ping from the server: the connection is alive.
    Heartbeat,
    /// The connection failed or closed; why.
    Closed(String),
    /// The server has no WebSocket endpoint; why.
    Unavailable(String),
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// The terminal changed size.
    Resize(u16, u16),
    /// The clock ticked.
    Tick(DateTime<Utc>),
    /// The watched lots (the caller's managed lots, or those in the area),
    /// with their free counts.
    Lots(Result<Vec<WatchedLot>, String>),
    /// Spot-level counts of lots.
    Counts(Result<Vec<SpotCounts>, String>),
    /// The alerts, newest first.
    Alerts(Fetched<Vec<Alert>>),
    /// A lot's screen data.
    LotLoaded(Result<Box<LotDetail>, String>),
    /// A page of bookings.
    BookingsLoaded(Result<Page<Reservation>, String>),
    /// A lot's analytics.
    AnalyticsLoaded(Result<Box<Analytics>, String>),
    /// The live feed.
    Live(LiveEvent),
    /// A booking action finished: what was done, or why not.
    ActionDone(Result<String, String>),
    /// An alert was acknowledged.
    AlertAcked(Result<Alert, String>),
    /// Something the user should know, for the message line.
    Warn(String),
}

/// An action on the server, run after confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Cancel a booking.
    Cancel(Uuid),
    /// Check a booking in.
    CheckIn(Uuid),
    /// Check a booking out.
    CheckOut(Uuid),
    /// Move a booking's end.
    Extend {
        /// The booking.
        id: Uuid,
        /// Its new end.
        end_time: DateTime<Utc>,
    },
    /// Acknowledge an alert.
    Acknowledge(Uuid),
}

/// What the I/O layer is asked to do; each answers with a [`Msg`].
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// List the watched lots: answers [`Msg::Lots`].
    FetchLots,
    /// Count these lots' spots: answers [`Msg::Counts`].
    FetchCounts(Vec<Uuid>),
    /// Answers [`Msg::Alerts`].
    FetchAlerts,
    /// Answers [`Msg::LotLoaded`].
    FetchLot(Uuid),
    /// Answers [`Msg::BookingsLoaded`].
    FetchBookings(ReservationsQuery),
    /// Answers [`Msg::AnalyticsLoaded`].
    FetchAnalytics(Uuid),
    /// Open the live feed for these lots, resuming after these sequences;
    /// answers [`Msg::Live`] events until it closes.
    OpenLive {
        /// Lots to watch.
        lots: Vec<Uuid>,
        /// The last `seq` seen per lot.
        since: BTreeMap<Uuid, u64>,
    },
    /// Run an action: answers [`Msg::ActionDone`] or [`Msg::AlertAcked`].
    Act(Action),
}

/// A line for the user under the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The text.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
}

/// Whether the alerts endpoint answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertsStatus {
    /// Not asked yet.
    Unknown,
    /// Listed.
    Available,
    /// The server has no alerts endpoint.
    Unavailable,
    /// The last fetch failed.
    Failed(String),
}

/// The alerts screen.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertsState {
    /// Whether the server lists alerts.
    pub status: AlertsStatus,
    /// Newest first.
    pub items: Vec<Alert>,
    /// The highlighted row.
    pub selected: usize,
}

/// The lot screen.
#[derive(Clone, Debug, PartialEq)]
pub struct LotState {
    /// The loaded lot.
    pub detail: Option<Box<LotDetail>>,
    /// The lot being loaded.
    pub loading: Option<Uuid>,
    /// The highlighted spot, in grid order.
    pub selected_spot: usize,
    /// Why the last load failed.
    pub error: Option<String>,
}

/// A question waiting for `y`/`n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirm {
    /// What `y` runs.
    pub action: Action,
    /// The question.
    pub prompt: String,
}

/// The bookings screen.
#[derive(Clone, Debug, PartialEq)]
pub struct BookingsState {
    /// Only this lot's bookings (`None`: every lot the user may see).
    pub lot: Option<Uuid>,
    /// Only this status (`f` cycles).
    pub status: Option<ReservationStatusDto>,
    /// The page shown, from 1.
    pub page: u32,
    /// The page's bookings.
    pub items: Vec<Reservation>,
    /// Bookings matching the filter, all pages.
    pub total: u64,
    /// Whether there is a next page.
    pub has_next: bool,
    /// The search text (`/`), matched against label, status and id.
    pub search: String,
    /// Whether keys go to the search text.
    pub editing: bool,
    /// The highlighted row among the matching ones.
    pub selected: usize,
    /// The action waiting for confirmation.
    pub confirm: Option<Confirm>,
    /// Whether a page is being loaded.
    pub loading: bool,
}

/// The analytics screen.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyticsState {
    /// The loaded analytics.
    pub data: Option<Box<Analytics>>,
    /// 24 hours or 7 days.
    pub span: Span,
    /// The lot being loaded.
    pub loading: Option<Uuid>,
    /// Why the last load failed.
    pub error: Option<String>,
}

/// Everything the dashboard shows.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// The server's base URL.
    pub server: String,
    /// Who is logged in (email), or `anonymous`.
    pub user: String,
    /// When the dashboard started.
    pub started: DateTime<Utc>,
    /// The clock, advanced by ticks (so drawing is a pure function of state).
    pub now: DateTime<Utc>,
    /// The terminal's size, for keys that move by rows of the grid.
    pub size: (u16, u16),
    /// Colours or monochrome.
    pub theme: Theme,
    /// The screen shown.
    pub screen: Screen,
    /// Whether the key help is open.
    pub help: bool,
    /// Set when the user quits.
    pub quit: bool,
    /// The message line.
    pub notice: Option<Notice>,
    /// The live feed.
    pub feed: Feed,
    /// When any data last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// Whether the first listing of the watched lots answered.
    pub discovered: bool,
    /// True when the watched lots are the caller's managed lots, false for an
    /// area.
    pub managed: bool,
    /// The lots, in the overview's order.
    pub lots: Vec<LotRow>,
    /// The overview's order.
    pub sort: SortBy,
    /// The highlighted lot (kept by id across re-sorting).
    pub selected_lot: Option<Uuid>,
    /// Open alerts per lot.
    pub alert_counts: HashMap<Uuid, u32>,
    /// When spot counts and alerts are next refreshed.
    pub next_refresh: Option<DateTime<Utc>>,
    /// When the open lot screen is next refreshed.
    pub next_lot_refresh: Option<DateTime<Utc>>,
    /// The alerts screen.
    pub alerts: AlertsState,
    /// The lot screen.
    pub lot: LotState,
    /// The bookings screen.
    pub bookings: BookingsState,
    /// The analytics screen.
    pub analytics: AnalyticsState,
}

impl App {
    /// A dashboard for `user` on `server`, started at `now`, with nothing
    /// loaded.
    pub fn new(server: String, user: String, now: DateTime<Utc>) -> Self {
        App {
            server,
            user,
            started: now,
            now,
            size: (80, 24),
            theme: Theme::COLOR,
            screen: Screen::Overview,
            help: false,
            quit: false,
            notice: None,
            feed: Feed::default(),
            updated_at: None,
            discovered: false,
            managed: false,
            lots: Vec::new(),
            sort: SortBy::Occupancy,
            selected_lot: None,
            alert_counts: HashMap::new(),
            next_refresh: None,
            next_lot_refresh: None,
            alerts: AlertsState {
                status: AlertsStatus::Unknown,
                items: Vec::new(),
                selected: 0,
            },
            lot: LotState {
                detail: None,
                loading: None,
                selected_spot: 0,
                error: None,
            },
            bookings: BookingsState {
                lot: None,
                status: None,
                page: 1,
                items: Vec::new(),
                total: 0,
                has_next: false,
                search: String::new(),
                editing: false,
                selected: 0,
                confirm: None,
                loading: false,
            },
            analytics: AnalyticsState {
                data: None,
                span: Span::Day,
                loading: None,
                error: None,
            },
        }
    }

    /// What to fetch first.
    pub fn init(&self) -> Vec<Command> {
        vec![Command::FetchLots, Command::FetchAlerts]
    }

    /// The highlighted lot's row.
    pub fn selected_row(&self) -> Option<&LotRow> {
        let id = self.selected_lot?;
        self.lots.iter().find(|l| l.id == id)
    }

    /// The index of the highlighted lot in the overview's order.
    pub fn selected_index(&self) -> usize {
        self.selected_lot
            .and_then(|id| self.lots.iter().position(|l| l.id == id))
            .unwrap_or(0)
    }

    /// The lot's name, or its id when not known.
    pub fn lot_name(&self, id: Uuid) -> String {
        self.lots
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| short_id(id))
    }

    /// Open alerts of `lot`.
    pub fn open_alerts(&self, lot: Uuid) -> u32 {
        self.alert_counts.get(&lot).copied().unwrap_or(0)
    }

    /// The bookings matching the search text, in page order.
    pub fn visible_bookings(&self) -> Vec<&Reservation> {
        let needle = self.bookings.search.trim().to_lowercase();
        self.bookings
            .items
            .iter()
            .filter(|r| needle.is_empty() || booking_matches(r, &needle))
            .collect()
    }

    /// The query for the bookings screen's current filter and page.
    pub fn bookings_query(&self) -> ReservationsQuery {
        ReservationsQuery {
            status: self.bookings.status,
            lot_id: self.bookings.lot,
            from: None,
            to: None,
            page: Some(self.bookings.page),
            per_page: Some(BOOKINGS_PER_PAGE),
        }
    }
}

/// Whether `r` matches the lower-case search text: its spot label, status,
/// id or lot id contain it.
fn booking_matches(r: &Reservation, needle: &str) -> bool {
    r.spot_label.to_lowercase().contains(needle)
        || crate::model::status_text(r.status).contains(needle)
        || r.id.to_string().contains(needle)
        || r.lot_id.to_string().contains(needle)
}

/// The first 8 hex digits of an id, as people quote them.
pub fn short_id(id: Uuid) -> String {
    id.simple().to_string().chars().take(8).collect()
}
