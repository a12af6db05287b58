//! The alerts screen: sensor mismatches, overstays and no-shows, newest
//! first; `a` acknowledges the highlighted one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::{AlertsStatus, App};
use crate::model::alert_text;
use crate::view::{fit, scroll_offset};

/// Draws the alerts screen into `area`.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let open = app
        .alerts
        .items
        .iter()
        .filter(|a| a.acknowledged_at.is_none())
        .count();
    let title = Line::from(vec![
        Span::styled(" Alerts ", theme.header()),
        Span::raw(format!("{open} open · newest first · a: acknowledge ")),
    ]);
    let block = Block::default().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let empty = match &app.alerts.status {
        AlertsStatus::Unknown => Some("Loading…".to_owned()),
        AlertsStatus::Unavailable => {
            Some("Alerts unavailable: this server does not list alerts.".to_owned())
        }
        AlertsStatus::Failed(e) if app.alerts.items.is_empty() => {
            Some(format!("Could not load alerts: {e}"))
        }
        _ if app.alerts.items.is_empty() => Some("No alerts.".to_owned()),
        _ => None,
    };
    if let Some(text) = empty {
        frame.render_widget(Paragraph::new(text).style(theme.dim()), inner);
        return;
    }
    let [header, rows] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let width = usize::from(inner.width);
    let detail_width = width.saturating_sub(12 + 1 + 15 + 1 + 14 + 1 + 7 + 1 + 4);
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!(
                "{:<12} {:<15} {:<14} {:<7} {:<4} {}",
                "raised", "kind", "lot", "spot", "ack", "detail"
            ),
            theme.header(),
        )),
        header,
    );
    let height = usize::from(rows.height);
    let first = scroll_offset(app.alerts.selected, height);
    let lines: Vec<Line> = app
        .alerts
        .items
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, a)| {
            let acked = a.acknowledged_at.is_some();
            let text = format!(
                "{:<12} {:<15} {:<14} {:<7} {:<4} {}",
                a.raised_at.format("%d %b %H:%M"),
                alert_text(a.kind),
                fit(&app.lot_name(a.lot_id), 14),
                fit(&a.spot_label, 7),
                if acked { "yes" } else { "—" },
                fit(&a.detail, detail_width)
            );
            let style = if acked { theme.dim() } else { theme.warn() };
            let line = Line::styled(text, style);
            if i == app.alerts.selected {
                line.patch_style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rows);
}
