//! [`update`]: the one place the dashboard's state changes. Pure: it takes a
//! [`Msg`], changes the [`App`] and returns the [`Command`]s for the I/O
//! layer; time comes in through [`Msg::Tick`].

use chrono::Duration;
use parking_api::ws::ServerMessage;
use parking_api::{ReservationStatusDto, SpotKindDto};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use uuid::Uuid;

use crate::app::{
    Action, AlertsStatus, App, Command, Confirm, Fetched, LiveEvent, MAX_SEARCH_CHARS, Msg, Notice,
    Screen, SortBy, short_id,
};
use crate::link::{LIVE_RESYNC_EVERY, Link, POLL_EVERY};
use crate::model::{LotRow, Span, spot_groups};

/// Spot counts and alerts are refreshed this often (the live feed carries
/// only free counts).
pub const REFRESH_EVERY: Duration = Duration::seconds(30);
/// The open lot screen is refreshed this often.
pub const LOT_REFRESH_EVERY: Duration = Duration::seconds(5);
/// Extending a booking moves its end by this much.
pub const EXTEND_BY: Duration = Duration::hours(1);

/// Applies `msg` to `app`; returns what to fetch or do.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Msg::Tick(now) => on_tick(app, now),
        Msg::Lots(result) => on_lots(app, result),
        Msg::Counts(Ok(counts)) => {
            for c in counts {
                if let Some(row) = app.lots.iter_mut().find(|l| l.id == c.lot_id) {
                    row.out_of_service = c.out_of_service;
                    row.occupied = c.occupied;
                    row.set_availability(
                        c.in_service,
                        c.free,
                        Some((c.capacity, c.available)),
                        app.now,
                    );
                }
            }
            app.updated_at = Some(app.now);
            resort(app);
            Vec::new()
        }
        Msg::Counts(Err(e)) => {
            error(app, format!("spot counts: {e}"));
            Vec::new()
        }
        Msg::Alerts(fetched) => {
            match fetched {
                Fetched::Ok(items) => {
                    app.alerts.status = AlertsStatus::Available;
                    app.alerts.items = items;
                    app.alerts
                        .items
                        .sort_by_key(|a| std::cmp::Reverse(a.raised_at));
                    clamp(&mut app.alerts.selected, app.alerts.items.len());
                }
                Fetched::Unavailable => {
                    app.alerts.status = AlertsStatus::Unavailable;
                    app.alerts.items.clear();
                }
                Fetched::Failed(e) => app.alerts.status = AlertsStatus::Failed(e),
            }
            count_alerts(app);
            resort(app);
            Vec::new()
        }
        Msg::LotLoaded(result) => {
            app.lot.loading = None;
            match result {
                Ok(detail) => {
                    if app.lot.detail.as_ref().map(|d| d.lot.id) != Some(detail.lot.id) {
                        app.lot.selected_spot = 0;
                    }
                    clamp(&mut app.lot.selected_spot, detail.spots.len());
                    app.lot.detail = Some(detail);
                    app.lot.error = None;
                }
                Err(e) => app.lot.error = Some(e),
            }
            Vec::new()
        }
        Msg::BookingsLoaded(result) => {
            app.bookings.loading = false;
            match result {
                Ok(page) => {
                    app.bookings.items = page.items;
                    app.bookings.total = page.total;
                    app.bookings.has_next = page.has_next;
                    let visible = app.visible_bookings().len();
                    clamp(&mut app.bookings.selected, visible);
                }
                Err(e) => error(app, format!("bookings: {e}")),
            }
            Vec::new()
        }
        Msg::AnalyticsLoaded(result) => {
            app.analytics.loading = None;
            match result {
                Ok(data) => {
                    app.analytics.data = Some(data);
                    app.analytics.error = None;
                }
                Err(e) => app.analytics.error = Some(e),
            }
            Vec::new()
        }
        Msg::Live(event) => on_live(app, event),
        Msg::ActionDone(Ok(text)) => {
            info(app, text);
            let mut commands = vec![Command::FetchBookings(app.bookings_query())];
            commands.extend(refresh_counts(app));
            if let Some(detail) = &app.lot.detail {
                commands.push(Command::FetchLot(detail.lot.id));
            }
            commands
        }
        Msg::ActionDone(Err(e)) => {
            error(app, e);
            Vec::new()
        }
        Msg::AlertAcked(Ok(alert)) => {
            info(
                app,
                format!("acknowledged the alert on spot {}", alert.spot_label),
            );
            upsert_alert(app, alert);
            Vec::new()
        }
        Msg::AlertAcked(Err(e)) | Msg::Warn(e) => {
            error(app, e);
            Vec::new()
        }
    }
}

fn on_tick(app: &mut App, now: chrono::DateTime<chrono::Utc>) -> Vec<Command> {
    app.now = now;
    let mut commands = Vec::new();
    match app.feed.link {
        Link::Reconnecting { retry_at, .. } if now >= retry_at => {
            app.feed.link = Link::Connecting;
            commands.push(open_live(app));
        }
        Link::Polling if app.feed.next_poll.is_none_or(|due| now >= due) => {
            app.feed.next_poll = Some(now + POLL_EVERY);
            commands.push(Command::FetchLots);
        }
        Link::Live if app.feed.next_poll.is_some_and(|due| now >= due) => {
            app.feed.next_poll = Some(now + LIVE_RESYNC_EVERY);
            commands.push(Command::FetchLots);
        }
        _ => {}
    }
    if app.discovered && app.next_refresh.is_some_and(|due| now >= due) {
        commands.extend(refresh_counts(app));
        commands.push(Command::FetchAlerts);
    }
    if app.screen == Screen::Lot
        && app.lot.loading.is_none()
        && app.next_lot_refresh.is_some_and(|due| now >= due)
        && let Some(detail) = &app.lot.detail
    {
        let id = detail.lot.id;
        commands.push(load_lot(app, id));
    }
    commands
}

fn on_lots(app: &mut App, result: Result<Vec<crate::model::WatchedLot>, String>) -> Vec<Command> {
    let lots = match result {
        Ok(lots) => lots,
        Err(e) => {
            error(app, format!("lots: {e}"));
            return Vec::new();
        }
    };
    let first = !app.discovered;
    app.discovered = true;
    // The answer is every watched lot: a lot no longer in it (deleted, moved
    // out of the area, given to another tenant) leaves the overview.
    let listed: std::collections::HashSet<uuid::Uuid> = lots.iter().map(|l| l.id).collect();
    let before = app.lots.len();
    app.lots.retain(|row| listed.contains(&row.id));
    let removed = app.lots.len() != before;
    let mut added = Vec::new();
    for summary in lots {
        let row = match app.lots.iter_mut().position(|l| l.id == summary.id) {
            Some(i) => &mut app.lots[i],
            None => {
                added.push(summary.id);
                app.lots.push(LotRow::new(summary.id, summary.name.clone()));
                let last = app.lots.len() - 1;
                &mut app.lots[last]
            }
        };
        row.name = summary.name;
        row.set_availability(summary.total_spots, summary.available_spots, None, app.now);
    }
    app.updated_at = Some(app.now);
    if app.feed.link == Link::Polling {
        app.feed.heard_at = Some(app.now);
    }
    if app
        .selected_lot
        .is_some_and(|id| !app.lots.iter().any(|l| l.id == id))
    {
        app.selected_lot = None;
    }
    resort(app);
    if app.selected_lot.is_none() {
        app.selected_lot = app.lots.first().map(|l| l.id);
    }
    if !first {
        let mut commands = Vec::new();
        if !added.is_empty() {
            commands.push(Command::FetchCounts(added.clone()));
        }
        // An open feed is subscribed to the old set: open it again for the
        // new one (resuming from the seen sequences). A feed reconnecting or
        // polling picks up the current set by itself.
        if app.feed.link == Link::Live && (removed || !added.is_empty()) {
            commands.push(open_live(app));
        }
        return commands;
    }
    let mut commands = refresh_counts(app);
    commands.push(open_live(app));
    commands
}

fn on_live(app: &mut App, event: LiveEvent) -> Vec<Command> {
    match event {
        LiveEvent::Opened => {
            let was_lost = app.feed.failures > 0;
            app.feed.opened(app.now);
            if was_lost {
                info(app, "live feed back".to_owned());
            }
            Vec::new()
        }
        LiveEvent::Heartbeat => {
            if app.feed.link == Link::Live {
                app.feed.heard_at = Some(app.now);
            }
            Vec::new()
        }
        LiveEvent::Closed(why) => {
            if app.feed.link != Link::Polling {
                app.feed.dropped(app.now);
                error(app, format!("live feed lost: {why}"));
            }
            Vec::new()
        }
        LiveEvent::Unavailable(why) => {
            app.feed.link = Link::Polling;
            app.feed.next_poll = Some(app.now + POLL_EVERY);
            info(app, format!("no live feed on this server ({why}): polling"));
            Vec::new()
        }
        LiveEvent::Message(message) => on_server_message(app, *message),
    }
}

fn on_server_message(app: &mut App, message: ServerMessage) -> Vec<Command> {
    if app.feed.link == Link::Live {
        app.feed.heard_at = Some(app.now);
    }
    match message {
        ServerMessage::Snapshot {
            lot_id,
            seq,
            capacity,
            available,
            ..
        }
        | ServerMessage::AvailabilityUpdate {
            lot_id,
            seq,
            capacity,
            available,
            ..
        } => {
            // A snapshot always replaces; an update older than what was seen
            // is a replay after a resume and changes nothing.
            if !app.feed.advance(lot_id, seq) {
                return Vec::new();
            }
            let Some(row) = app.lots.iter_mut().find(|l| l.id == lot_id) else {
                return Vec::new();
            };
            let in_service = capacity.values().sum();
            let free = available.values().sum();
            row.set_availability(in_service, free, Some((capacity, available)), app.now);
            app.updated_at = Some(app.now);
            resort(app);
            if app.screen == Screen::Lot
                && app.lot.loading.is_none()
                && app.lot.detail.as_ref().is_some_and(|d| d.lot.id == lot_id)
            {
                return vec![load_lot(app, lot_id)];
            }
            Vec::new()
        }
        ServerMessage::Alert { alert } => {
            upsert_alert(app, alert);
            Vec::new()
        }
        ServerMessage::Error { code, detail } => {
            error(app, format!("live feed: {code}: {detail}"));
            Vec::new()
        }
        // The handshake's answers, drivers' reservation events, and events
        // replayed on resume (the availability update after them carries
        // their newest `seq`) change nothing on screen; variants a newer
        // protocol adds neither.
        _ => Vec::new(),
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return Vec::new();
    }
    if app.screen == Screen::Bookings && app.bookings.editing {
        return search_key(app, key);
    }
    if app.bookings.confirm.is_some() {
        return confirm_key(app, key);
    }
    if app.help {
        // Any key closes the help; `q` still quits.
        app.help = false;
        if key.code == KeyCode::Char('q') {
            app.quit = true;
        }
        return Vec::new();
    }
    match key.code {
        KeyCode::Char('q') => {
            app.quit = true;
            return Vec::new();
        }
        KeyCode::Char('?') => {
            app.help = true;
            return Vec::new();
        }
        KeyCode::Esc => {
            app.notice = None;
            return Vec::new();
        }
        KeyCode::Tab => {
            let next = (screen_index(app.screen) + 1) % Screen::ALL.len();
            return switch(app, Screen::ALL[next]);
        }
        KeyCode::BackTab => {
            let n = Screen::ALL.len();
            let prev = (screen_index(app.screen) + n - 1) % n;
            return switch(app, Screen::ALL[prev]);
        }
        KeyCode::Char(c @ '1'..='5') => {
            let i = usize::from(c as u8 - b'1');
            return switch(app, Screen::ALL[i]);
        }
        KeyCode::Char('r') => return reload(app),
        _ => {}
    }
    match app.screen {
        Screen::Overview => overview_key(app, key),
        Screen::Lot => lot_key(app, key),
        Screen::Bookings => bookings_key(app, key),
        Screen::Analytics => analytics_key(app, key),
        Screen::Alerts => alerts_key(app, key),
    }
}

fn overview_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let len = app.lots.len();
    let index = app.selected_index();
    let moved = match key.code {
        KeyCode::Up | KeyCode::Char('k') => Some(index.saturating_sub(1)),
        KeyCode::Down | KeyCode::Char('j') => Some((index + 1).min(len.saturating_sub(1))),
        KeyCode::PageUp => Some(index.saturating_sub(10)),
        KeyCode::PageDown => Some((index + 10).min(len.saturating_sub(1))),
        KeyCode::Home => Some(0),
        KeyCode::End => Some(len.saturating_sub(1)),
        _ => None,
    };
    if let Some(i) = moved {
        app.selected_lot = app.lots.get(i).map(|l| l.id);
        return Vec::new();
    }
    match key.code {
        KeyCode::Char('s') => {
            app.sort = app.sort.next();
            resort(app);
            info(app, format!("sorted by {}", app.sort.label()));
            Vec::new()
        }
        KeyCode::Enter | KeyCode::Char('l') => switch(app, Screen::Lot),
        KeyCode::Char('b') => {
            app.bookings.lot = app.selected_lot;
            app.bookings.page = 1;
            switch(app, Screen::Bookings)
        }
        KeyCode::Char('a') => switch(app, Screen::Analytics),
        _ => Vec::new(),
    }
}

fn lot_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let Some(detail) = &app.lot.detail else {
        return Vec::new();
    };
    let count = detail.spots.len();
    if count == 0 {
        return Vec::new();
    }
    let columns = crate::view::lot::grid_columns(app.size.0).max(1);
    // Moving up and down follows the grid's rows within a zone; crossing a
    // zone boundary is close enough to "the next row" for a keyboard.
    let i = app.lot.selected_spot;
    app.lot.selected_spot = match key.code {
        KeyCode::Left | KeyCode::Char('h') => i.saturating_sub(1),
        KeyCode::Right | KeyCode::Char('l') => (i + 1).min(count - 1),
        KeyCode::Up | KeyCode::Char('k') => i.saturating_sub(columns),
        KeyCode::Down | KeyCode::Char('j') => (i + columns).min(count - 1),
        KeyCode::Home => 0,
        KeyCode::End => count - 1,
        _ => i,
    };
    match key.code {
        KeyCode::Char('b') => {
            app.bookings.lot = Some(detail.lot.id);
            app.bookings.page = 1;
            switch(app, Screen::Bookings)
        }
        KeyCode::Char('a') => switch(app, Screen::Analytics),
        _ => Vec::new(),
    }
}

fn bookings_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let visible = app.visible_bookings().len();
    let selected = app.bookings.selected;
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.bookings.selected = selected.saturating_sub(1);
            Vec::new()
        }
        KeyCode::Down | KeyCode::Char('j') => {
            app.bookings.selected = (selected + 1).min(visible.saturating_sub(1));
            Vec::new()
        }
        KeyCode::Char('/') => {
            app.bookings.editing = true;
            Vec::new()
        }
        KeyCode::Char('f') => {
            app.bookings.status = next_status(app.bookings.status);
            app.bookings.page = 1;
            app.bookings.selected = 0;
            fetch_bookings(app)
        }
        KeyCode::Char('L') => {
            app.bookings.lot = match app.bookings.lot {
                Some(_) => None,
                None => app.selected_lot,
            };
            app.bookings.page = 1;
            app.bookings.selected = 0;
            fetch_bookings(app)
        }
        KeyCode::Char('n') | KeyCode::PageDown if app.bookings.has_next => {
            app.bookings.page += 1;
            app.bookings.selected = 0;
            fetch_bookings(app)
        }
        KeyCode::Char('p') | KeyCode::PageUp if app.bookings.page > 1 => {
            app.bookings.page -= 1;
            app.bookings.selected = 0;
            fetch_bookings(app)
        }
        KeyCode::Char(c @ ('c' | 'i' | 'o' | 'e')) => {
            let Some(r) = app.visible_bookings().get(selected).copied().cloned() else {
                info(app, "no booking selected".to_owned());
                return Vec::new();
            };
            let id = short_id(r.id);
            let (action, prompt) = match c {
                'c' => (
                    Action::Cancel(r.id),
                    format!("Cancel booking {id} on {}?", r.spot_label),
                ),
                'i' => (
                    Action::CheckIn(r.id),
                    format!("Check in booking {id} on {}?", r.spot_label),
                ),
                'o' => (
                    Action::CheckOut(r.id),
                    format!("Check out booking {id} on {}?", r.spot_label),
                ),
                _ => {
                    let end_time = r.end_time + EXTEND_BY;
                    (
                        Action::Extend { id: r.id, end_time },
                        format!(
                            "Extend booking {id} on {} to {}?",
                            r.spot_label,
                            end_time.format("%d %b %H:%M")
                        ),
                    )
                }
            };
            app.bookings.confirm = Some(Confirm { action, prompt });
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn search_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Enter => app.bookings.editing = false,
        KeyCode::Esc => {
            app.bookings.editing = false;
            app.bookings.search.clear();
        }
        KeyCode::Backspace => {
            app.bookings.search.pop();
        }
        KeyCode::Char(c) if app.bookings.search.chars().count() < MAX_SEARCH_CHARS => {
            app.bookings.search.push(c);
        }
        _ => {}
    }
    let visible = app.visible_bookings().len();
    clamp(&mut app.bookings.selected, visible);
    Vec::new()
}

fn confirm_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
            let Some(confirm) = app.bookings.confirm.take() else {
                return Vec::new();
            };
            info(app, "working…".to_owned());
            vec![Command::Act(confirm.action)]
        }
        KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
            app.bookings.confirm = None;
            info(app, "nothing done".to_owned());
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn analytics_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.code == KeyCode::Char('w') {
        app.analytics.span = match app.analytics.span {
            Span::Day => Span::Week,
            Span::Week => Span::Day,
        };
    }
    Vec::new()
}

fn alerts_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    let len = app.alerts.items.len();
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => {
            app.alerts.selected = app.alerts.selected.saturating_sub(1);
            Vec::new()
        }
        KeyCode::Down | KeyCode::Char('j') => {
            app.alerts.selected = (app.alerts.selected + 1).min(len.saturating_sub(1));
            Vec::new()
        }
        KeyCode::Char('a') | KeyCode::Enter => match app.alerts.items.get(app.alerts.selected) {
            Some(alert) if alert.acknowledged_at.is_none() => {
                vec![Command::Act(Action::Acknowledge(alert.id))]
            }
            Some(_) => {
                info(app, "already acknowledged".to_owned());
                Vec::new()
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Shows `screen`, loading what it needs.
fn switch(app: &mut App, screen: Screen) -> Vec<Command> {
    app.screen = screen;
    match screen {
        Screen::Overview => Vec::new(),
        Screen::Lot => match app.selected_lot {
            Some(id) => vec![load_lot(app, id)],
            None => Vec::new(),
        },
        Screen::Bookings => fetch_bookings(app),
        Screen::Analytics => match app.selected_lot {
            Some(id)
                if app.analytics.data.as_ref().map(|d| d.lot_id) != Some(id)
                    && app.analytics.loading != Some(id) =>
            {
                app.analytics.loading = Some(id);
                vec![Command::FetchAnalytics(id)]
            }
            _ => Vec::new(),
        },
        Screen::Alerts => vec![Command::FetchAlerts],
    }
}

/// `r`: fetches the current screen's data again.
fn reload(app: &mut App) -> Vec<Command> {
    match app.screen {
        Screen::Overview => {
            let mut commands = vec![Command::FetchLots];
            commands.extend(refresh_counts(app));
            commands
        }
        Screen::Lot => match app
            .lot
            .detail
            .as_ref()
            .map(|d| d.lot.id)
            .or(app.selected_lot)
        {
            Some(id) => vec![load_lot(app, id)],
            None => Vec::new(),
        },
        Screen::Bookings => fetch_bookings(app),
        Screen::Analytics => match app.selected_lot {
            Some(id) => {
                app.analytics.loading = Some(id);
                vec![Command::FetchAnalytics(id)]
            }
            None => Vec::new(),
        },
        Screen::Alerts => vec![Command::FetchAlerts],
    }
}

fn load_lot(app: &mut App, id: Uuid) -> Command {
    app.lot.loading = Some(id);
    app.next_lot_refresh = Some(app.now + LOT_REFRESH_EVERY);
    Command::FetchLot(id)
}

fn fetch_bookings(app: &mut App) -> Vec<Command> {
    app.bookings.loading = true;
    vec![Command::FetchBookings(app.bookings_query())]
}

fn refresh_counts(app: &mut App) -> Vec<Command> {
    app.next_refresh = Some(app.now + REFRESH_EVERY);
    if app.lots.is_empty() {
        return Vec::new();
    }
    vec![Command::FetchCounts(
        app.lots.iter().map(|l| l.id).collect(),
    )]
}

fn open_live(app: &App) -> Command {
    Command::OpenLive {
        lots: app.lots.iter().map(|l| l.id).collect(),
        since: app.feed.since.clone(),
    }
}

/// The next status filter: none, then each status in lifecycle order.
fn next_status(current: Option<ReservationStatusDto>) -> Option<ReservationStatusDto> {
    use ReservationStatusDto::*;
    const ORDER: [ReservationStatusDto; 7] = [
        Held, Confirmed, CheckedIn, Completed, Cancelled, NoShow, Expired,
    ];
    match current {
        None => Some(ORDER[0]),
        Some(s) => ORDER
            .iter()
            .position(|&o| o == s)
            .and_then(|i| ORDER.get(i + 1).copied()),
    }
}

fn upsert_alert(app: &mut App, alert: parking_api::Alert) {
    match app.alerts.items.iter_mut().find(|a| a.id == alert.id) {
        Some(existing) => *existing = alert,
        None => app.alerts.items.push(alert),
    }
    app.alerts
        .items
        .sort_by_key(|a| std::cmp::Reverse(a.raised_at));
    if app.alerts.status != AlertsStatus::Unavailable {
        app.alerts.status = AlertsStatus::Available;
    }
    count_alerts(app);
    resort(app);
}

fn count_alerts(app: &mut App) {
    app.alert_counts.clear();
    for alert in app
        .alerts
        .items
        .iter()
        .filter(|a| a.acknowledged_at.is_none())
    {
        *app.alert_counts.entry(alert.lot_id).or_default() += 1;
    }
}

/// Puts the lots in the chosen order; ties by name, then id, so the order is
/// stable from one update to the next.
pub fn resort(app: &mut App) {
    let counts = &app.alert_counts;
    let alerts = |id: &Uuid| counts.get(id).copied().unwrap_or(0);
    match app.sort {
        SortBy::Occupancy => app.lots.sort_by(|a, b| {
            b.occupancy()
                .total_cmp(&a.occupancy())
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.id.cmp(&b.id))
        }),
        SortBy::Name => app
            .lots
            .sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id))),
        SortBy::Alerts => app.lots.sort_by(|a, b| {
            alerts(&b.id)
                .cmp(&alerts(&a.id))
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.id.cmp(&b.id))
        }),
    }
}

fn screen_index(screen: Screen) -> usize {
    Screen::ALL.iter().position(|&s| s == screen).unwrap_or(0)
}

fn clamp(index: &mut usize, len: usize) {
    *index = (*index).min(len.saturating_sub(1));
}

fn info(app: &mut App, text: String) {
    app.notice = Some(Notice { text, error: false });
}

fn error(app: &mut App, text: String) {
    app.notice = Some(Notice { text, error: true });
}

/// The spot highlighted on the lot screen, in the grid's order.
pub fn selected_spot(app: &App) -> Option<&parking_api::Spot> {
    let detail = app.lot.detail.as_ref()?;
    spot_groups(&detail.spots)
        .into_iter()
        .flat_map(|(_, spots)| spots)
        .nth(app.lot.selected_spot)
}

/// Kinds in display order, for per-kind counts.
pub const KINDS: [SpotKindDto; 5] = [
    SpotKindDto::Regular,
    SpotKindDto::Compact,
    SpotKindDto::Accessible,
    SpotKindDto::Ev,
    SpotKindDto::Motorcycle,
];
