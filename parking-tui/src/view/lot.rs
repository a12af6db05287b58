//! The lot screen: the spot grid by zone, each cell coloured by its state,
//! and beside it the price of an hour now, the selected spot's timeline for
//! today (in the lot's time zone) and the upcoming bookings.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use parking_core::model::local_time::{local_date, start_of_local_day};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::App;
use crate::model::{LotDetail, SpotState, money, spot_groups, status_text};
use crate::update::selected_spot;
use crate::view::fit;

/// Width of the panel beside the grid.
pub const SIDE_WIDTH: u16 = 34;
/// Width of one grid cell: a marker, five characters of label, a gap.
pub const CELL_WIDTH: u16 = 7;

/// Grid cells per row on a terminal `width` wide.
pub fn grid_columns(width: u16) -> usize {
    usize::from(width.saturating_sub(SIDE_WIDTH) / CELL_WIDTH).max(1)
}

/// Draws the lot screen into `area`.
pub fn draw(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let Some(detail) = &app.lot.detail else {
        let text = match (&app.lot.error, app.lot.loading, app.selected_lot) {
            (Some(e), _, _) => format!("Could not load the lot: {e}"),
            (None, Some(_), _) => "Loading…".to_owned(),
            (None, None, None) => "No lot selected: pick one on the overview (1).".to_owned(),
            (None, None, Some(_)) => "Press r to load the lot.".to_owned(),
        };
        frame.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::TOP).title(" Lot ")),
            area,
        );
        return;
    };
    let title = Line::from(vec![
        Span::styled(format!(" {} ", detail.lot.name), theme.header()),
        Span::styled(format!("{} spots ", detail.spots.len()), theme.dim()),
    ]);
    let block = Block::default().borders(Borders::TOP).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [grid, side] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(SIDE_WIDTH)]).areas(inner);
    draw_grid(app, detail, frame, grid);
    draw_side(app, detail, frame, side);
}

fn draw_grid(app: &App, detail: &LotDetail, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    // The same arithmetic as the arrow keys use (`grid_columns`).
    let columns = grid_columns(area.width + SIDE_WIDTH);
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    let mut index = 0;
    for (zone, spots) in spot_groups(&detail.spots) {
        lines.push(Line::styled(
            format!("{zone} ({})", spots.len()),
            theme.header(),
        ));
        for row in spots.chunks(columns) {
            let mut spans = Vec::with_capacity(row.len());
            for spot in row {
                let state = detail.spot_state(spot, &app.alerts.items, app.now);
                let selected = index == app.lot.selected_spot;
                if selected {
                    selected_line = lines.len();
                }
                let marker = if selected { '▶' } else { ' ' };
                let mut style = theme.spot(state);
                if selected {
                    style = style.add_modifier(Modifier::BOLD);
                }
                spans.push(Span::styled(
                    format!("{marker}{:<5}", fit(&spot.label, 5)),
                    style,
                ));
                spans.push(Span::raw(" "));
                index += 1;
            }
            lines.push(Line::from(spans));
        }
    }
    let height = usize::from(area.height.saturating_sub(1));
    let first = selected_line.saturating_sub(height.saturating_sub(1));
    let shown: Vec<Line> = lines.into_iter().skip(first).take(height).collect();
    let [grid, legend] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    frame.render_widget(Paragraph::new(shown), grid);
    let mut spans = Vec::new();
    for state in SpotState::ALL {
        spans.push(Span::styled(" ", theme.spot(state)));
        let label = match state {
            SpotState::OutOfService => "oos",
            other => other.label(),
        };
        spans.push(Span::styled(format!(" {label} "), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), legend);
}

fn draw_side(app: &App, detail: &LotDetail, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let width = usize::from(area.width.saturating_sub(1));
    let tz: Tz = detail.lot.timezone.parse().unwrap_or(Tz::UTC);
    let mut lines: Vec<Line> = Vec::new();
    let rate = match &detail.hourly {
        Some(q) => format!("1 h from now: {}", money(q.total.amount, &q.total.currency)),
        None => "1 h from now: not priced".to_owned(),
    };
    lines.push(Line::raw(fit(&rate, width)));
    let mut counts = [0_u32; 6];
    for spot in &detail.spots {
        let state = detail.spot_state(spot, &app.alerts.items, app.now);
        counts[SpotState::ALL.iter().position(|&s| s == state).unwrap_or(0)] += 1;
    }
    lines.push(Line::styled(
        fit(
            &format!(
                "free {} booked {} occ {} over {} oos {} alert {}",
                counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]
            ),
            width,
        ),
        theme.dim(),
    ));
    lines.push(Line::raw(""));
    if let Some(spot) = selected_spot(app) {
        let state = detail.spot_state(spot, &app.alerts.items, app.now);
        lines.push(Line::from(vec![
            Span::styled(
                fit(&format!("Spot {}", spot.label), width / 2),
                theme.header(),
            ),
            Span::raw(" "),
            Span::styled(format!(" {} ", state.label()), theme.spot(state)),
        ]));
        let (start, end) = local_day(app.now, tz);
        lines.push(timeline_bar(app, detail, spot.id, start, end));
        lines.push(Line::styled("0     6     12    18    24", theme.dim()));
        let today: Vec<_> = detail.timeline(spot.id, start, end).collect();
        if today.is_empty() {
            lines.push(Line::styled("no bookings today", theme.dim()));
        }
        for r in today.iter().take(4) {
            lines.push(Line::raw(fit(
                &format!(
                    "{}–{} {}",
                    r.start_time.with_timezone(&tz).format("%H:%M"),
                    r.end_time.with_timezone(&tz).format("%H:%M"),
                    status_text(r.status)
                ),
                width,
            )));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled("Upcoming", theme.header()));
    let upcoming: Vec<_> = detail.upcoming(app.now).collect();
    if upcoming.is_empty() {
        lines.push(Line::styled("none", theme.dim()));
    }
    for r in upcoming {
        lines.push(Line::raw(fit(
            &format!(
                "{} {:<6} {}",
                r.start_time.with_timezone(&tz).format("%a %H:%M"),
                fit(&r.spot_label, 6),
                status_text(r.status)
            ),
            width,
        )));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::LEFT)),
        area,
    );
}

/// Today in `tz`, as UTC instants `[midnight, next midnight)` (parking-core's
/// local-day rule, so a midnight lost to DST starts the day when clocks resume).
pub fn local_day(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let date = local_date(tz, now);
    let next = date.succ_opt().unwrap_or(date);
    (start_of_local_day(tz, date), start_of_local_day(tz, next))
}

/// 24 cells, one per hour of `[start, end)`: `█` booked, `·` free, `│` now.
fn timeline_bar(
    app: &App,
    detail: &LotDetail,
    spot: uuid::Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Line<'static> {
    let theme = app.theme;
    let hours = (end - start).num_hours().clamp(1, 25);
    let mut spans = Vec::new();
    for h in 0..hours {
        let from = start + Duration::hours(h);
        let to = from + Duration::hours(1);
        let booked = detail.timeline(spot, from, to).next().is_some();
        let now_here = from <= app.now && app.now < to;
        let (glyph, style) = match (booked, now_here) {
            (true, true) => ("▓", theme.spot(SpotState::Occupied)),
            (true, false) => ("█", theme.gauge(SpotState::Booked)),
            (false, true) => ("│", theme.header()),
            (false, false) => ("·", theme.dim()),
        };
        spans.push(Span::styled(glyph, style));
    }
    Line::from(spans)
}
