//! The message line (the last action's outcome or error) and the status
//! line: server, user, connection state, and when data last changed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::app::App;
use crate::link::{Link, POLL_EVERY};
use crate::view::fit;

/// Draws the message line.
pub fn draw_notice(app: &App, frame: &mut Frame, area: Rect) {
    let Some(notice) = &app.notice else {
        return;
    };
    let style = if notice.error {
        app.theme.error()
    } else {
        app.theme.ok()
    };
    let text = fit(&notice.text, usize::from(area.width));
    frame.render_widget(Paragraph::new(Line::styled(text, style)), area);
}

/// The connection state in words, e.g. `live`, `polling every 3 s`,
/// `reconnecting (try 2 in 1 s)`, `stale for 12 s`.
pub fn connection_text(app: &App) -> (String, bool) {
    let stale = app.feed.stale_for(app.now, app.started);
    let (state, good) = match app.feed.link {
        Link::Connecting => ("connecting".to_owned(), false),
        Link::Live => ("live".to_owned(), true),
        Link::Polling => (
            format!("polling every {} s", POLL_EVERY.num_seconds()),
            false,
        ),
        Link::Reconnecting { attempt, retry_at } => (
            format!(
                "reconnecting (try {attempt} in {} s)",
                (retry_at - app.now).num_seconds().max(0)
            ),
            false,
        ),
    };
    match stale {
        Some(age) => (
            format!("{state} · stale for {} s", age.num_seconds()),
            false,
        ),
        None => (state, good),
    }
}

/// Draws the status line.
pub fn draw_status(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let (connection, good) = connection_text(app);
    let updated = match app.updated_at {
        Some(t) => t.format("%H:%M:%SZ").to_string(),
        None => "never".to_owned(),
    };
    let right = format!(" {connection} · updated {updated} ");
    let left_width = usize::from(area.width).saturating_sub(right.chars().count());
    let left = fit(&format!(" {} · {}", app.server, app.user), left_width);
    let pad = left_width.saturating_sub(left.chars().count());
    let conn_style = if good { theme.ok() } else { theme.warn() };
    let line = Line::from(vec![
        Span::styled(format!("{left}{}", " ".repeat(pad)), theme.selected()),
        Span::styled(right, conn_style.patch(theme.selected())),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}
