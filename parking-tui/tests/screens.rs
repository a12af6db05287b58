//! Every screen drawn from a fixed state into ratatui's `TestBackend`,
//! compared with its insta snapshot: at 80×24 (the smallest supported
//! terminal) and wider; and the monochrome styles used under `NO_COLOR`.

mod support;

use chrono::Duration;
use parking_api::{AlertKind, ReservationStatusDto};
use parking_tui::app::{App, Fetched, LiveEvent, Msg, Screen};
use parking_tui::model::{Span, SpotState};
use parking_tui::theme::Theme;
use parking_tui::update::update;
use parking_tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::style::{Color, Modifier};
use support::fixtures::*;

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|frame| view(app, frame)).expect("draws");
    terminal
}

fn key(app: &mut App, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::from(code)));
}

fn lot_app() -> App {
    let mut app = overview_app(12);
    app.screen = Screen::Lot;
    app.lot.detail = Some(Box::new(lot_detail(24)));
    app.lot.selected_spot = 5;
    app
}

fn bookings_app() -> App {
    let mut app = overview_app(12);
    app.screen = Screen::Bookings;
    update(&mut app, Msg::BookingsLoaded(Ok(bookings_page(24, 130, 2))));
    app.bookings.page = 2;
    app.bookings.selected = 2;
    app
}

#[test]
fn an_empty_overview_says_what_it_watches() {
    let text = |app: &App| {
        let terminal = draw(app, 80, 24);
        terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect::<String>()
    };
    let mut area = empty_app();
    update(&mut area, Msg::Lots(Ok(Vec::new())));
    assert!(text(&area).contains("No lots in the watched area."));
    let mut managed = empty_app();
    managed.managed = true;
    assert!(text(&managed).contains("Looking for lots"));
    update(&mut managed, Msg::Lots(Ok(Vec::new())));
    assert!(text(&managed).contains("No lots you manage."));
}

#[test]
fn overview_at_80x24() {
    let app = overview_app(30);
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn overview_wide_shows_counts_per_kind() {
    let app = overview_app(30);
    insta::assert_snapshot!(draw(&app, 132, 30).backend());
}

#[test]
fn overview_sorted_by_alerts_while_stale() {
    let mut app = overview_app(30);
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Char('s'));
    // Live, and then nothing for 50 s: stale.
    update(
        &mut app,
        Msg::Tick(t0() + Duration::minutes(10) + Duration::seconds(50)),
    );
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn lot_grid_with_every_state() {
    let app = lot_app();
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn lot_grid_wide() {
    let app = lot_app();
    insta::assert_snapshot!(draw(&app, 132, 30).backend());
}

#[test]
fn bookings_table() {
    let app = bookings_app();
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn bookings_wide_with_lot_names() {
    let app = bookings_app();
    insta::assert_snapshot!(draw(&app, 132, 30).backend());
}

#[test]
fn bookings_search_and_confirmation() {
    let mut app = bookings_app();
    key(&mut app, KeyCode::Char('/'));
    for c in "checked".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('o'));
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn analytics_day_and_week() {
    let mut app = overview_app(12);
    app.screen = Screen::Analytics;
    app.analytics.data = Some(Box::new(analytics()));
    app.now = t0();
    insta::assert_snapshot!("analytics_day", draw(&app, 80, 24).backend());
    app.analytics.span = Span::Week;
    insta::assert_snapshot!("analytics_week", draw(&app, 80, 24).backend());
}

#[test]
fn alerts_newest_first() {
    let mut app = overview_app(12);
    app.screen = Screen::Alerts;
    let mut acked = alert(4, AlertKind::Overstay, lot_id(2), spot_id(1), 90);
    acked.acknowledged_at = Some(t0() - Duration::minutes(60));
    update(
        &mut app,
        Msg::Alerts(Fetched::Ok(vec![
            acked,
            alert(1, AlertKind::Overstay, lot_id(3), spot_id(3), 5),
            alert(2, AlertKind::UnexpectedOccupancy, lot_id(3), spot_id(7), 12),
            alert(3, AlertKind::NoShowCandidate, lot_id(1), spot_id(900), 30),
        ])),
    );
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn alerts_unavailable_and_polling() {
    let mut app = overview_app(12);
    app.screen = Screen::Alerts;
    update(&mut app, Msg::Alerts(Fetched::Unavailable));
    update(&mut app, Msg::Live(LiveEvent::Closed("reset".to_owned())));
    update(
        &mut app,
        Msg::Live(LiveEvent::Unavailable("HTTP 404 on /api/v1/ws".to_owned())),
    );
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn help_lists_every_key() {
    let mut app = overview_app(12);
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(draw(&app, 80, 24).backend());
}

#[test]
fn reconnecting_status_and_error_line() {
    let mut app = overview_app(12);
    update(
        &mut app,
        Msg::Live(LiveEvent::Closed("connection reset".to_owned())),
    );
    update(
        &mut app,
        Msg::Live(LiveEvent::Closed("connection refused".to_owned())),
    );
    update(
        &mut app,
        Msg::Live(LiveEvent::Closed("connection refused".to_owned())),
    );
    let terminal = draw(&app, 80, 24);
    let text = terminal.backend().to_string();
    assert!(text.contains("reconnecting (try 3 in 2 s)"), "{text}");
    assert!(
        text.contains("stale for 0 s"),
        "never shown as live: {text}"
    );
    assert!(
        text.contains("live feed lost: connection refused"),
        "{text}"
    );
    assert!(!text.contains(" live "), "{text}");
}

#[test]
fn screens_fit_a_tiny_terminal_without_panicking_and_still_show_the_status() {
    for screen in Screen::ALL {
        let mut app = lot_app();
        update(&mut app, Msg::BookingsLoaded(Ok(bookings_page(5, 5, 1))));
        app.analytics.data = Some(Box::new(analytics()));
        app.screen = screen;
        let terminal = draw(&app, 40, 10);
        let text = terminal.backend().to_string();
        assert!(text.contains("http://"), "{screen:?}: {text}");
    }
}

/// The cell style of the first cell showing `needle` on the screen.
fn style_of(terminal: &Terminal<TestBackend>, needle: &str) -> ratatui::style::Style {
    let buffer = terminal.backend().buffer();
    let area = buffer.area;
    for y in 0..area.height {
        let line: String = (0..area.width)
            .map(|x| buffer[(x, y)].symbol().to_owned())
            .collect();
        if let Some(byte) = line.find(needle) {
            let x = u16::try_from(line[..byte].chars().count()).expect("fits");
            return buffer[(x, y)].style();
        }
    }
    panic!("{needle} not on screen");
}

#[test]
fn no_color_keeps_states_apart_with_modifiers_only() {
    let mut app = lot_app();
    // 1-005: sensor says occupied; 1-017: out of service; 1-001: free.
    app.theme = Theme::MONO;
    let mono = draw(&app, 80, 24);
    let occupied = style_of(&mono, "1-005");
    let out_of_service = style_of(&mono, "1-017");
    let free = style_of(&mono, "1-001");
    for style in [occupied, out_of_service, free] {
        assert!(style.fg.is_none_or(|c| c == Color::Reset), "{style:?}");
        assert!(style.bg.is_none_or(|c| c == Color::Reset), "{style:?}");
    }
    assert!(occupied.add_modifier.contains(Modifier::REVERSED));
    assert!(out_of_service.add_modifier.contains(Modifier::DIM));
    assert_ne!(free.add_modifier, occupied.add_modifier);

    app.theme = Theme::COLOR;
    let color = draw(&app, 80, 24);
    assert_eq!(style_of(&color, "1-005").bg, Some(Color::Blue));
    assert_eq!(style_of(&color, "1-001").bg, Some(Color::Green));
    assert_eq!(
        Theme::COLOR.spot(SpotState::Overstay).bg,
        Some(Color::Magenta)
    );
}

#[test]
fn lot_states_follow_bookings_sensors_and_alerts() {
    let app = lot_app();
    let detail = app.lot.detail.as_ref().expect("loaded");
    let state = |label: &str| {
        let spot = detail
            .spots
            .iter()
            .find(|s| s.label == label)
            .expect("spot");
        detail.spot_state(spot, &app.alerts.items, app.now)
    };
    assert_eq!(state("1-001"), SpotState::Free);
    assert_eq!(
        state("1-003"),
        SpotState::Overstay,
        "an open overstay alert"
    );
    assert_eq!(state("1-007"), SpotState::Alert, "a sensor mismatch alert");
    assert_eq!(state("1-006"), SpotState::Occupied, "checked in");
    assert_eq!(
        state("1-009"),
        SpotState::Overstay,
        "checked in past its end"
    );
    assert_eq!(state("1-005"), SpotState::Occupied, "the sensor says so");
    assert_eq!(state("1-017"), SpotState::OutOfService);
    assert_eq!(state("1-012"), SpotState::Booked, "not available now");
    let upcoming: Vec<ReservationStatusDto> = detail.upcoming(app.now).map(|r| r.status).collect();
    assert_eq!(upcoming.len(), 3);
}
