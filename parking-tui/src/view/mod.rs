//! [`view`]: draws an [`App`] into a frame. Pure: the same state draws the
//! same screen, so every screen is tested with `TestBackend` snapshots.
//!
//! Layout, top to bottom: the tabs, the screen, the message line, the status
//! line. One file per screen; `?` opens [`help`] over any of them.

pub mod alerts;
pub mod analytics;
pub mod bookings;
pub mod help;
pub mod lot;
pub mod overview;
pub mod status;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::{App, Screen};

/// Draws `app` into `frame`.
pub fn view(app: &App, frame: &mut Frame) {
    let [tabs, body, notice, status_line] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(app, frame, tabs);
    match app.screen {
        Screen::Overview => overview::draw(app, frame, body),
        Screen::Lot => lot::draw(app, frame, body),
        Screen::Bookings => bookings::draw(app, frame, body),
        Screen::Analytics => analytics::draw(app, frame, body),
        Screen::Alerts => alerts::draw(app, frame, body),
    }
    status::draw_notice(app, frame, notice);
    status::draw_status(app, frame, status_line);
    if app.help {
        help::draw(app, frame, body);
    }
}

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let mut spans = vec![Span::styled(" parking ", theme.header())];
    for (i, screen) in Screen::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, screen.title());
        let style = if *screen == app.screen {
            theme.selected().patch(theme.header())
        } else {
            theme.dim()
        };
        spans.push(Span::styled(text, style));
    }
    spans.push(Span::styled("  ? help", theme.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `text` cut to `width` characters, with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// The first row to show so that `selected` is visible in `height` rows.
pub fn scroll_offset(selected: usize, height: usize) -> usize {
    if height == 0 {
        return 0;
    }
    selected.saturating_sub(height - 1)
}
