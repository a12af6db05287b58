//! The update logic without a terminal or a server: sorting, filtering,
//! search, paging, the confirmation flow, errors, staleness, the reconnect
//! schedule and resuming from the last sequence per lot, the polling and
//! alerts fallbacks.

mod support;

use std::collections::BTreeMap;

use chrono::Duration;
use parking_api::ws::ServerMessage;
use parking_api::{KindCountsDto, ReservationStatusDto, SpotKindDto};
use parking_tui::app::{
    Action, AlertsStatus, App, Command, Fetched, LiveEvent, Msg, Screen, SortBy,
};
use parking_tui::link::Link;
use parking_tui::update::update;
use parking_tui::view::status::connection_text;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use support::fixtures::*;
use uuid::Uuid;

fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::from(code)))
}

fn names(app: &App) -> Vec<String> {
    app.lots.iter().map(|l| l.name.clone()).collect()
}

fn availability(lot: Uuid, seq: u64, capacity: u32, free: u32) -> Msg {
    let mut cap = KindCountsDto::new();
    cap.insert(SpotKindDto::Regular, capacity);
    let mut avail = KindCountsDto::new();
    avail.insert(SpotKindDto::Regular, free);
    Msg::Live(LiveEvent::Message(Box::new(
        ServerMessage::AvailabilityUpdate {
            lot_id: lot,
            seq,
            capacity: cap,
            available: avail,
            at: t0(),
        },
    )))
}

#[test]
fn first_lots_start_counting_and_open_the_live_feed() {
    let mut app = empty_app();
    assert_eq!(app.init(), vec![Command::FetchLots, Command::FetchAlerts]);
    let commands = update(&mut app, Msg::Lots(Ok(summaries(3))));
    let ids = vec![lot_id(0), lot_id(1), lot_id(2)];
    assert!(matches!(&commands[0], Command::FetchCounts(lots) if lots.len() == 3));
    assert!(commands.contains(&Command::OpenLive {
        lots: app.lots.iter().map(|l| l.id).collect(),
        since: BTreeMap::new(),
    }));
    let mut seen: Vec<Uuid> = app.lots.iter().map(|l| l.id).collect();
    seen.sort();
    assert_eq!(seen, ids);
    assert_eq!(app.selected_lot, Some(app.lots[0].id));
    // A later answer (a poll) updates rows and opens nothing new.
    assert!(update(&mut app, Msg::Lots(Ok(summaries(3)))).is_empty());
}

#[test]
fn a_re_listing_drops_lots_gone_and_follows_new_ones_live() {
    let mut app = empty_app();
    update(&mut app, Msg::Lots(Ok(summaries(3))));
    update(&mut app, Msg::Live(LiveEvent::Opened));
    app.selected_lot = Some(lot_id(0));
    // Lot 0 was deleted, lot 3 created.
    let relisted: Vec<_> = summaries(4).into_iter().skip(1).collect();
    let commands = update(&mut app, Msg::Lots(Ok(relisted)));
    let mut seen: Vec<Uuid> = app.lots.iter().map(|l| l.id).collect();
    seen.sort();
    assert_eq!(seen, [lot_id(1), lot_id(2), lot_id(3)]);
    assert!(
        app.selected_lot.is_some_and(|id| id != lot_id(0)),
        "the selection moves off a lot that is gone"
    );
    assert_eq!(
        commands,
        vec![
            Command::FetchCounts(vec![lot_id(3)]),
            Command::OpenLive {
                lots: app.lots.iter().map(|l| l.id).collect(),
                since: app.feed.since.clone(),
            },
        ]
    );
    // The same set again changes nothing.
    let same: Vec<_> = summaries(4).into_iter().skip(1).collect();
    assert!(update(&mut app, Msg::Lots(Ok(same))).is_empty());
}

#[test]
fn sorting_cycles_occupancy_name_alerts_and_keeps_the_selection() {
    let mut app = overview_app(12);
    let occupancies: Vec<f64> = app.lots.iter().map(|l| l.occupancy()).collect();
    assert!(
        occupancies.windows(2).all(|w| w[0] >= w[1]),
        "fullest first: {occupancies:?}"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    let selected = app.selected_lot;
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort, SortBy::Name);
    let mut sorted = names(&app);
    sorted.sort();
    assert_eq!(names(&app), sorted);
    assert_eq!(app.selected_lot, selected, "the same lot stays highlighted");
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort, SortBy::Alerts);
    assert_eq!(app.lots[0].id, lot_id(3), "two open alerts");
    assert_eq!(app.lots[1].id, lot_id(1), "one open alert");
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(app.sort, SortBy::Occupancy);
}

#[test]
fn bookings_filter_paging_and_search() {
    let mut app = overview_app(12);
    app.selected_lot = Some(lot_id(4));
    let commands = key(&mut app, KeyCode::Char('b'));
    assert_eq!(app.screen, Screen::Bookings);
    let Command::FetchBookings(query) = &commands[0] else {
        panic!("{commands:?}");
    };
    assert_eq!(
        (query.lot_id, query.page, query.status),
        (Some(lot_id(4)), Some(1), None)
    );

    update(&mut app, Msg::BookingsLoaded(Ok(bookings_page(20, 130, 1))));
    let commands = key(&mut app, KeyCode::Char('f'));
    assert_eq!(
        commands,
        vec![Command::FetchBookings(app.bookings_query())],
        "a new filter fetches page 1"
    );
    assert_eq!(app.bookings.status, Some(ReservationStatusDto::Held));
    key(&mut app, KeyCode::Char('f'));
    assert_eq!(app.bookings.status, Some(ReservationStatusDto::Confirmed));

    let commands = key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.bookings.page, 2);
    assert!(matches!(&commands[0], Command::FetchBookings(q) if q.page == Some(2)));
    update(&mut app, Msg::BookingsLoaded(Ok(bookings_page(20, 130, 2))));
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(app.bookings.page, 1);
    assert!(key(&mut app, KeyCode::Char('p')).is_empty(), "no page 0");
    update(&mut app, Msg::BookingsLoaded(Ok(bookings_page(20, 20, 1))));
    assert!(key(&mut app, KeyCode::Char('n')).is_empty(), "no next page");

    key(&mut app, KeyCode::Char('/'));
    for c in "held".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert!(app.bookings.editing);
    assert!(!app.quit, "typing q-less words is not a command");
    let visible = app.visible_bookings();
    assert_eq!(visible.len(), 4);
    assert!(
        visible
            .iter()
            .all(|r| r.status == ReservationStatusDto::Held)
    );
    key(&mut app, KeyCode::Char('q'));
    assert!(!app.quit, "q while searching is text");
    key(&mut app, KeyCode::Esc);
    assert!(!app.bookings.editing);
    assert_eq!(app.visible_bookings().len(), 20, "Esc clears the search");
}

#[test]
fn actions_ask_first_and_run_only_on_yes() {
    let mut app = overview_app(12);
    app.screen = Screen::Bookings;
    update(&mut app, Msg::BookingsLoaded(Ok(bookings_page(5, 5, 1))));
    app.bookings.selected = 1;
    let chosen = app.visible_bookings()[1].clone();

    assert!(key(&mut app, KeyCode::Char('c')).is_empty(), "only asks");
    let prompt = app.bookings.confirm.as_ref().expect("asked").prompt.clone();
    assert!(prompt.starts_with("Cancel booking"), "{prompt}");
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(!app.quit, "other keys wait for the answer");
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(app.bookings.confirm.is_none());

    key(&mut app, KeyCode::Char('c'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Command::Act(Action::Cancel(chosen.id))]
    );
    key(&mut app, KeyCode::Char('i'));
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Command::Act(Action::CheckIn(chosen.id))]
    );
    key(&mut app, KeyCode::Char('o'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Command::Act(Action::CheckOut(chosen.id))]
    );
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![Command::Act(Action::Extend {
            id: chosen.id,
            end_time: chosen.end_time + Duration::hours(1)
        })]
    );
}

#[test]
fn an_action_error_is_a_message_and_the_screen_stays() {
    let mut app = overview_app(12);
    app.screen = Screen::Bookings;
    update(&mut app, Msg::BookingsLoaded(Ok(bookings_page(5, 5, 1))));
    let before = app.bookings.items.clone();
    let commands = update(
        &mut app,
        Msg::ActionDone(Err(
            "the reservation cannot be checked in: it is cancelled".into()
        )),
    );
    assert!(commands.is_empty());
    let notice = app.notice.as_ref().expect("shown");
    assert!(notice.error && notice.text.contains("cannot be checked in"));
    assert_eq!(app.bookings.items, before);
    assert_eq!(app.screen, Screen::Bookings);

    let commands = update(&mut app, Msg::ActionDone(Ok("cancelled booking x".into())));
    assert!(
        commands.contains(&Command::FetchBookings(app.bookings_query())),
        "a done action reloads the table: {commands:?}"
    );
    assert!(!app.notice.as_ref().expect("shown").error);
}

#[test]
fn live_data_goes_stale_after_silence() {
    let mut app = overview_app(3);
    let heard = app.feed.heard_at.expect("heard");
    update(&mut app, Msg::Tick(heard + Duration::seconds(45)));
    assert_eq!(connection_text(&app), ("live".to_owned(), true));
    update(&mut app, Msg::Tick(heard + Duration::seconds(46)));
    assert_eq!(
        connection_text(&app),
        ("live · stale for 46 s".to_owned(), false)
    );
    update(&mut app, Msg::Live(LiveEvent::Heartbeat));
    assert_eq!(
        connection_text(&app),
        ("live".to_owned(), true),
        "a ping is news"
    );
}

#[test]
fn live_feeds_search_the_area_again_every_15_s() {
    let mut app = empty_app();
    update(&mut app, Msg::Lots(Ok(summaries(2))));
    update(&mut app, Msg::Live(LiveEvent::Opened));
    assert!(update(&mut app, Msg::Tick(t0() + Duration::seconds(14))).is_empty());
    assert_eq!(
        update(&mut app, Msg::Tick(t0() + Duration::seconds(15))),
        vec![Command::FetchLots],
        "bookings that start later change free counts without an event"
    );
    assert!(update(&mut app, Msg::Tick(t0() + Duration::seconds(16))).is_empty());
}

#[test]
fn reconnects_with_backoff_and_resumes_from_the_last_seq_per_lot() {
    let mut app = overview_app(3);
    let start = app.now;
    let (a, b) = (lot_id(0), lot_id(1));
    update(&mut app, availability(a, 5, 50, 20));
    update(&mut app, availability(b, 2, 50, 30));

    update(&mut app, Msg::Live(LiveEvent::Closed("reset".into())));
    assert_eq!(
        app.feed.link,
        Link::Reconnecting {
            attempt: 1,
            retry_at: start + Duration::milliseconds(500)
        }
    );
    assert!(update(&mut app, Msg::Tick(start + Duration::milliseconds(400))).is_empty());
    let commands = update(&mut app, Msg::Tick(start + Duration::seconds(1)));
    let Some(Command::OpenLive { since, .. }) = commands.first() else {
        panic!("{commands:?}");
    };
    assert_eq!(since.get(&a), Some(&5));
    assert_eq!(since.get(&b), Some(&2));
    assert_eq!(since.get(&lot_id(5)), Some(&9), "from the fixture's update");

    // The retry fails too: the next wait doubles.
    update(&mut app, Msg::Live(LiveEvent::Closed("refused".into())));
    assert_eq!(
        app.feed.link,
        Link::Reconnecting {
            attempt: 2,
            retry_at: start + Duration::seconds(2)
        }
    );
    update(&mut app, Msg::Tick(start + Duration::seconds(2)));
    update(&mut app, Msg::Live(LiveEvent::Opened));
    assert_eq!(app.feed.link, Link::Live);
    let notice = app.notice.as_ref().expect("told");
    assert_eq!(
        (notice.text.as_str(), notice.error),
        ("live feed back", false)
    );

    // After the resume, a replayed old update changes nothing; a newer one does.
    let free = |app: &App| app.lots.iter().find(|l| l.id == a).expect("lot").free;
    update(&mut app, availability(a, 4, 50, 49));
    assert_eq!(free(&app), 20);
    update(&mut app, availability(a, 6, 50, 10));
    assert_eq!(free(&app), 10);
    assert_eq!(app.feed.since.get(&a), Some(&6));
}

#[test]
fn no_ws_endpoint_means_polling_never_live() {
    let mut app = empty_app();
    update(&mut app, Msg::Lots(Ok(summaries(2))));
    update(
        &mut app,
        Msg::Live(LiveEvent::Unavailable("HTTP 404 on /api/v1/ws".into())),
    );
    assert_eq!(app.feed.link, Link::Polling);
    let (text, good) = connection_text(&app);
    assert!(text.starts_with("polling") && !good, "{text}");
    assert!(update(&mut app, Msg::Tick(t0() + Duration::seconds(2))).is_empty());
    let commands = update(&mut app, Msg::Tick(t0() + Duration::seconds(3)));
    assert_eq!(commands, vec![Command::FetchLots]);
    // A successful poll is what keeps polled data fresh.
    update(&mut app, Msg::Tick(t0() + Duration::seconds(20)));
    assert!(connection_text(&app).0.contains("stale for"));
    update(&mut app, Msg::Lots(Ok(summaries(2))));
    assert_eq!(connection_text(&app).0, "polling every 3 s");
    // A closing feed while polling schedules no reconnect.
    update(&mut app, Msg::Live(LiveEvent::Closed("late".into())));
    assert_eq!(app.feed.link, Link::Polling);
}

#[test]
fn missing_alerts_endpoint_is_shown_as_unavailable() {
    let mut app = overview_app(3);
    update(&mut app, Msg::Alerts(Fetched::Unavailable));
    assert_eq!(app.alerts.status, AlertsStatus::Unavailable);
    assert!(app.alert_counts.is_empty());
    update(&mut app, Msg::Alerts(Fetched::Failed("timeout".into())));
    assert_eq!(app.alerts.status, AlertsStatus::Failed("timeout".into()));
}

#[test]
fn alerts_arrive_live_and_are_acknowledged() {
    let mut app = overview_app(12);
    let newest = alert(
        9,
        parking_api::AlertKind::Overstay,
        lot_id(2),
        spot_id(4),
        0,
    );
    update(
        &mut app,
        Msg::Live(LiveEvent::Message(Box::new(ServerMessage::Alert {
            alert: newest.clone(),
        }))),
    );
    assert_eq!(app.alerts.items[0].id, newest.id, "newest first");
    assert_eq!(app.open_alerts(lot_id(2)), 1);
    app.screen = Screen::Alerts;
    assert_eq!(
        key(&mut app, KeyCode::Char('a')),
        vec![Command::Act(Action::Acknowledge(newest.id))]
    );
    let mut acked = newest.clone();
    acked.acknowledged_at = Some(t0());
    update(&mut app, Msg::AlertAcked(Ok(acked)));
    assert_eq!(app.open_alerts(lot_id(2)), 0);
    assert!(
        key(&mut app, KeyCode::Char('a')).is_empty(),
        "already acknowledged"
    );
}

#[test]
fn screens_keys_help_and_quit() {
    let mut app = overview_app(3);
    let commands = key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen, Screen::Lot);
    assert_eq!(
        commands,
        vec![Command::FetchLot(app.selected_lot.expect("one"))]
    );
    key(&mut app, KeyCode::Char('?'));
    assert!(app.help);
    key(&mut app, KeyCode::Char('x'));
    assert!(!app.help && !app.quit, "any key closes the help");
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.screen, Screen::Bookings);
    key(&mut app, KeyCode::Char('5'));
    assert_eq!(app.screen, Screen::Alerts);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.screen, Screen::Analytics);
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(app.quit);
    let mut app = overview_app(3);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn lot_screen_refreshes_on_its_own_and_on_live_changes() {
    let mut app = overview_app(12);
    app.selected_lot = Some(lot_id(3));
    key(&mut app, KeyCode::Enter);
    update(&mut app, Msg::LotLoaded(Ok(Box::new(lot_detail(24)))));
    let loaded = app.now;
    assert!(update(&mut app, Msg::Tick(loaded + Duration::seconds(1))).is_empty());
    assert_eq!(
        update(&mut app, Msg::Tick(loaded + Duration::seconds(5))),
        vec![Command::FetchLot(lot_id(3))]
    );
    update(&mut app, Msg::LotLoaded(Ok(Box::new(lot_detail(24)))));
    assert_eq!(
        update(&mut app, availability(lot_id(3), 50, 48, 3)),
        vec![Command::FetchLot(lot_id(3))]
    );
    // Spot selection moves along the grid and stays inside it.
    key(&mut app, KeyCode::End);
    assert_eq!(app.lot.selected_spot, 47);
    key(&mut app, KeyCode::Right);
    assert_eq!(app.lot.selected_spot, 47);
    key(&mut app, KeyCode::Up);
    assert_eq!(
        app.lot.selected_spot,
        47 - 6,
        "six cells a row at 80 columns"
    );
}

#[test]
fn resize_is_remembered_for_grid_moves() {
    let mut app = overview_app(3);
    update(&mut app, Msg::Resize(132, 40));
    assert_eq!(app.size, (132, 40));
}
