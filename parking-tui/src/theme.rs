//! Styles: colours normally, and under `NO_COLOR` only modifiers (bold,
//! reverse, dim, underline) chosen so that every state stays distinguishable.

use ratatui::style::{Color, Modifier, Style};

use crate::model::SpotState;

/// The palette in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Whether colours may be used.
    pub color: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to anything non-empty
    /// (<https://no-color.org>).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    /// With colours.
    pub const COLOR: Theme = Theme { color: true };
    /// Without.
    pub const MONO: Theme = Theme { color: false };

    fn pick(self, colored: Style, mono: Style) -> Style {
        if self.color { colored } else { mono }
    }

    /// Titles and headers.
    pub fn header(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    /// The highlighted row or cell.
    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    /// Secondary text.
    pub fn dim(self) -> Style {
        self.pick(
            Style::default().fg(Color::DarkGray),
            Style::default().add_modifier(Modifier::DIM),
        )
    }

    /// A failure.
    pub fn error(self) -> Style {
        self.pick(
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }

    /// Good news (live).
    pub fn ok(self) -> Style {
        self.pick(
            Style::default()
                .fg(Color::Green)
                .add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD),
        )
    }

    /// A warning (polling, reconnecting, stale).
    pub fn warn(self) -> Style {
        self.pick(
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        )
    }

    /// A spot cell or gauge segment in `state`. Without colour: free plain,
    /// booked underlined, occupied reversed, overstay reversed+bold, out of
    /// service dim, alert bold+underlined (the cell text marks it too).
    pub fn spot(self, state: SpotState) -> Style {
        let colored = match state {
            SpotState::Free => Style::default().fg(Color::Black).bg(Color::Green),
            SpotState::Booked => Style::default().fg(Color::Black).bg(Color::Yellow),
            SpotState::Occupied => Style::default().fg(Color::White).bg(Color::Blue),
            SpotState::Overstay => Style::default().fg(Color::White).bg(Color::Magenta),
            SpotState::OutOfService => Style::default().fg(Color::White).bg(Color::DarkGray),
            SpotState::Alert => Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        };
        let mono = match state {
            SpotState::Free => Style::default(),
            SpotState::Booked => Style::default().add_modifier(Modifier::UNDERLINED),
            SpotState::Occupied => Style::default().add_modifier(Modifier::REVERSED),
            SpotState::Overstay => {
                Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            }
            SpotState::OutOfService => Style::default().add_modifier(Modifier::DIM),
            SpotState::Alert => {
                Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
            }
        };
        self.pick(colored, mono)
    }

    /// The glyph a gauge segment of `state` is drawn with: distinct per
    /// state, so the gauge reads without colour too.
    pub fn gauge_glyph(self, state: SpotState) -> char {
        match state {
            SpotState::Occupied => '█',
            SpotState::Booked => '▓',
            SpotState::Free => '░',
            SpotState::OutOfService => '×',
            SpotState::Overstay | SpotState::Alert => '!',
        }
    }

    /// The foreground colour of a gauge segment.
    pub fn gauge(self, state: SpotState) -> Style {
        if !self.color {
            return Style::default();
        }
        let color = match state {
            SpotState::Free => Color::Green,
            SpotState::Booked => Color::Yellow,
            SpotState::Occupied => Color::Blue,
            SpotState::Overstay => Color::Magenta,
            SpotState::OutOfService => Color::DarkGray,
            SpotState::Alert => Color::Red,
        };
        Style::default().fg(color)
    }

    /// A heat-map cell for a share 0–1.
    pub fn heat(self, share: f64) -> Style {
        if !self.color {
            return Style::default();
        }
        let color = if share >= 0.85 {
            Color::Red
        } else if share >= 0.6 {
            Color::LightRed
        } else if share >= 0.35 {
            Color::Yellow
        } else if share > 0.1 {
            Color::Green
        } else {
            Color::DarkGray
        };
        Style::default().fg(color)
    }
}
