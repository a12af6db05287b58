//! The bookings screen: a page of bookings (filtered by lot and status on
//! the server, searched with `/` on the page), and the confirmation question
//! of a pending action.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::{App, BOOKINGS_PER_PAGE, short_id};
use crate::model::{money, payment_text, status_text};
use crate::view::{fit, scroll_offset};

/// Draws the bookings screen into `area`.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let b = &app.bookings;
    let lot = match b.lot {
        Some(id) => app.lot_name(id),
        None => "all lots".to_owned(),
    };
    let status = b.status.map(status_text).unwrap_or("any status");
    let first = u64::from(b.page.saturating_sub(1)) * u64::from(BOOKINGS_PER_PAGE);
    let range = if b.items.is_empty() {
        "none".to_owned()
    } else {
        format!(
            "{}–{} of {}",
            first + 1,
            first + b.items.len() as u64,
            b.total
        )
    };
    let title = Line::from(vec![
        Span::styled(" Bookings ", theme.header()),
        Span::raw(format!(
            "{} · {status} · page {} ({range}) ",
            fit(&lot, 24),
            b.page
        )),
    ]);
    let block = Block::default().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [bar, header, rows] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);

    let bar_line = if let Some(confirm) = &b.confirm {
        Line::from(vec![
            Span::styled(
                format!(" {} ", confirm.prompt),
                theme.warn().patch(theme.selected()),
            ),
            Span::raw(" y: yes  n: no"),
        ])
    } else if b.editing || !b.search.is_empty() {
        let cursor = if b.editing { "▏" } else { "" };
        Line::from(vec![
            Span::styled("/", theme.header()),
            Span::raw(format!("{}{cursor}", b.search)),
            Span::styled(
                if b.editing {
                    "  Enter: keep  Esc: clear"
                } else {
                    ""
                },
                theme.dim(),
            ),
        ])
    } else {
        Line::styled(
            "/ search  f status  L this lot/all  n/p page  c cancel  i check in  o check out  e extend",
            theme.dim(),
        )
    };
    frame.render_widget(Paragraph::new(bar_line), bar);

    let wide = inner.width >= 100;
    let header_text = if wide {
        format!(
            "{:<8} {:<8} {:<20} {:<12} {:<12} {:<10} {:>12} {:<11}",
            "id", "spot", "lot", "start UTC", "end", "status", "total", "payment"
        )
    } else {
        format!(
            "{:<8} {:<7} {:<12} {:<12} {:<10} {:>11}",
            "id", "spot", "start UTC", "end", "status", "total"
        )
    };
    frame.render_widget(
        Paragraph::new(Line::styled(header_text, theme.header())),
        header,
    );

    let visible = app.visible_bookings();
    if visible.is_empty() {
        let text = if b.loading {
            "Loading…"
        } else if b.items.is_empty() {
            "No bookings."
        } else {
            "No booking on this page matches the search."
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()), rows);
        return;
    }
    let height = usize::from(rows.height);
    let first_row = scroll_offset(b.selected, height);
    let lines: Vec<Line> = visible
        .iter()
        .enumerate()
        .skip(first_row)
        .take(height)
        .map(|(i, r)| {
            let start = r.start_time.format("%d %b %H:%M").to_string();
            let end = if r.end_time.date_naive() == r.start_time.date_naive() {
                r.end_time.format("%H:%M").to_string()
            } else {
                r.end_time.format("%d %b %H:%M").to_string()
            };
            let total = money(r.total_cost.amount, &r.total_cost.currency);
            let text = if wide {
                format!(
                    "{:<8} {:<8} {:<20} {:<12} {:<12} {:<10} {:>12} {:<11}",
                    short_id(r.id),
                    fit(&r.spot_label, 8),
                    fit(&app.lot_name(r.lot_id), 20),
                    start,
                    end,
                    status_text(r.status),
                    total,
                    payment_text(r.payment.as_ref())
                )
            } else {
                format!(
                    "{:<8} {:<7} {:<12} {:<12} {:<10} {:>11}",
                    short_id(r.id),
                    fit(&r.spot_label, 7),
                    start,
                    end,
                    status_text(r.status),
                    total
                )
            };
            let line = Line::raw(text);
            if i == b.selected {
                line.patch_style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rows);
}
