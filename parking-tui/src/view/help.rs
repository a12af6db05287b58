//! `?`: every key, over the current screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::app::App;

/// Every key and what it does, grouped by screen.
pub const KEYS: &[(&str, &str)] = &[
    ("1-5 Tab S-Tab", "switch screen"),
    ("?", "this help (any key closes)"),
    ("q  Ctrl-C", "quit"),
    ("r", "reload this screen"),
    ("Esc", "clear the message line"),
    ("↑↓ j k PgUp PgDn", "move (overview, bookings, alerts)"),
    ("Home End", "first / last (overview, lot)"),
    ("Overview: s", "sort by occupancy / name / alerts"),
    ("Overview: Enter l", "open the lot"),
    ("Overview: b a", "the lot's bookings / analytics"),
    ("Lot: ←→↑↓ h j k l", "select a spot (timeline beside)"),
    ("Bookings: /", "search the page (Enter: keep, Esc: clear)"),
    ("Bookings: f L", "filter by status / this lot or all"),
    ("Bookings: n p", "next / previous page"),
    ("Bookings: c i o e", "cancel / check in / check out / +1 h"),
    ("Bookings: y n", "confirm / refuse the action asked"),
    ("Analytics: w", "last 24 h / last 7 days"),
    ("Alerts: a Enter", "acknowledge"),
];

/// Draws the help box centred in `area`.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let width = area.width.min(66);
    let height = area.height.min(KEYS.len() as u16 + 2);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| Line::raw(format!("{keys:<20} {what}")))
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys ")
                .title_style(app.theme.header()),
        ),
        popup,
    );
}
