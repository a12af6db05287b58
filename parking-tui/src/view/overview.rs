//! The overview: one row per lot with its occupancy gauge (occupied, booked,
//! free, out of service), free/in-service counts, per-kind free counts, the
//! trend arrow and open alerts. Only the rows that fit are built, so a city
//! of hundreds of lots draws in the same time as a dozen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::App;
use crate::model::{LotRow, SpotState, Trend, kind_short};
use crate::theme::Theme;
use crate::update::KINDS;
use crate::view::{fit, scroll_offset};

/// Draws the overview into `area`.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let stale = app.feed.stale_for(app.now, app.started);
    let mut title = vec![Span::styled(
        format!(" Lots ({}) · by {} ", app.lots.len(), app.sort.label()),
        theme.header(),
    )];
    if let Some(age) = stale {
        title.push(Span::styled(
            format!(" STALE {} s ", age.num_seconds()),
            theme.warn(),
        ));
    }
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [legend, header, rows, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(legend_line(theme)), legend);
    if let Some(lot) = app.selected_row() {
        frame.render_widget(
            Paragraph::new(selected_line(app, lot, usize::from(footer.width))),
            footer,
        );
    }

    let widths = Widths::for_width(inner.width);
    frame.render_widget(
        Paragraph::new(Line::styled(widths.header(), theme.header())),
        header,
    );
    if app.lots.is_empty() {
        let text = if app.discovered && app.managed {
            "No lots you manage."
        } else if app.discovered {
            "No lots in the watched area."
        } else {
            "Looking for lots…"
        };
        frame.render_widget(Paragraph::new(text).style(theme.dim()), rows);
        return;
    }
    let height = usize::from(rows.height);
    let selected = app.selected_index();
    let first = scroll_offset(selected, height);
    let lines: Vec<Line> = app
        .lots
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, lot)| {
            let line = row_line(app, lot, &widths, stale.is_some());
            if i == selected {
                line.patch_style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rows);
}

/// Column widths for a terminal `width` wide.
struct Widths {
    name: usize,
    gauge: usize,
    kinds: bool,
}

impl Widths {
    fn for_width(width: u16) -> Widths {
        let width = usize::from(width);
        // name, space, gauge | " free/in" 10 | " occ%" 5 | "  ↑" 3 | " !!!" 4 | kinds 26
        let fixed = 1 + 10 + 5 + 3 + 4;
        let kinds = width >= 100;
        // The kinds take " " and five columns of five.
        let rest = width.saturating_sub(fixed + if kinds { 26 } else { 0 });
        let name = (rest * 45 / 100).clamp(8, 32);
        let gauge = rest.saturating_sub(name).max(4);
        Widths { name, gauge, kinds }
    }

    fn header(&self) -> String {
        let mut text = format!(
            "{:<name$} {:<gauge$} {:>9} {:>4}  ↕ {:>3}",
            "Lot",
            "Occupancy",
            "free/in",
            "occ",
            "!",
            name = self.name,
            gauge = self.gauge
        );
        if self.kinds {
            // Matches the row's " " and five columns of five (see `row_line`).
            text.push(' ');
            for kind in KINDS {
                text.push_str(&format!("{:>5}", kind_short(kind)));
            }
        }
        text
    }
}

fn row_line<'a>(app: &App, lot: &'a LotRow, widths: &Widths, stale: bool) -> Line<'a> {
    let theme = app.theme;
    let base = if stale { theme.dim() } else { Style::default() };
    let mut spans = vec![Span::styled(
        format!("{:<w$} ", fit(&lot.name, widths.name), w = widths.name),
        base,
    )];
    spans.extend(gauge(theme, lot, widths.gauge));
    let alerts = app.open_alerts(lot.id);
    let trend = match lot.trend(app.now) {
        Trend::Rising => "↑",
        Trend::Falling => "↓",
        Trend::Flat => "→",
    };
    spans.push(Span::styled(
        format!(
            " {:>9} {:>3}%  {trend}",
            format!("{}/{}", lot.free, lot.in_service),
            (lot.occupancy() * 100.0).round() as u32,
        ),
        base,
    ));
    let alert_style = if alerts > 0 { theme.error() } else { base };
    spans.push(Span::styled(format!(" {alerts:>3}"), alert_style));
    if widths.kinds {
        // Free spots per kind in fixed columns under the header's kind names;
        // `-` where the lot has no spot of that kind.
        let mut text = String::from(" ");
        for kind in KINDS {
            match lot.capacity.get(&kind) {
                Some(_) => {
                    let free = lot.available.get(&kind).copied().unwrap_or(0);
                    text.push_str(&format!("{free:>5}"));
                }
                None => text.push_str("    -"),
            }
        }
        spans.push(Span::styled(text, base));
    }
    Line::from(spans)
}

/// The gauge: occupied, booked, free, out of service, `width` cells, each
/// segment proportional to its share (cumulative rounding, so the cells add
/// up to `width`).
pub fn gauge(theme: Theme, lot: &LotRow, width: usize) -> Vec<Span<'static>> {
    let parts = [
        (SpotState::Occupied, lot.occupied),
        (SpotState::Booked, lot.booked()),
        (SpotState::Free, lot.free),
        (SpotState::OutOfService, lot.out_of_service),
    ];
    let total: u64 = parts.iter().map(|&(_, n)| u64::from(n)).sum();
    if total == 0 {
        return vec![Span::styled(" ".repeat(width), theme.dim())];
    }
    let mut spans = Vec::with_capacity(parts.len());
    let mut done = 0_u64;
    let mut drawn = 0_usize;
    for (state, n) in parts {
        done += u64::from(n);
        let until = usize::try_from((done * width as u64 + total / 2) / total).unwrap_or(width);
        let cells = until.saturating_sub(drawn);
        drawn = until;
        if cells > 0 {
            let glyph = theme.gauge_glyph(state).to_string().repeat(cells);
            spans.push(Span::styled(glyph, theme.gauge(state)));
        }
    }
    spans
}

/// The highlighted lot's counts in full, whatever the width: free/in-service
/// per kind and every part of the gauge.
fn selected_line(app: &App, lot: &LotRow, width: usize) -> Line<'static> {
    let kinds: Vec<String> = KINDS
        .iter()
        .filter_map(|k| {
            let cap = lot.capacity.get(k)?;
            let free = lot.available.get(k).copied().unwrap_or(0);
            Some(format!("{} {free}/{cap}", kind_short(*k)))
        })
        .collect();
    let kinds = if kinds.is_empty() {
        "kinds not counted yet".to_owned()
    } else {
        kinds.join(" ")
    };
    // Kinds first: the row above shows the rest, except on narrow terminals.
    let text = format!(
        "▶ {} │ {kinds} │ occupied {} booked {} free {} out of service {}",
        lot.name,
        lot.occupied,
        lot.booked(),
        lot.free,
        lot.out_of_service,
    );
    Line::styled(fit(&text, width), app.theme.header())
}

fn legend_line(theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    for state in [
        SpotState::Occupied,
        SpotState::Booked,
        SpotState::Free,
        SpotState::OutOfService,
    ] {
        spans.push(Span::styled(
            theme.gauge_glyph(state).to_string(),
            theme.gauge(state),
        ));
        spans.push(Span::styled(format!(" {}  ", state.label()), theme.dim()));
    }
    spans.push(Span::styled("↑↓ trend  ! open alerts", theme.dim()));
    Line::from(spans)
}
