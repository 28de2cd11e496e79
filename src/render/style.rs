//! Colour for the text renderers, applied only when the caller asks (`--color`, `NO_COLOR`, terminal). The escape
//! sequences come from anstyle (already in the tree through clap), not from hand-written codes.

use anstyle::{AnsiColor, Effects, Style};

/// Colours used by the text renderers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Color {
    Green,
    Yellow,
    Red,
    Cyan,
    Magenta,
    Bold,
    Dim,
}

impl Color {
    fn style(self) -> Style {
        let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        match self {
            Color::Green => fg(AnsiColor::Green),
            Color::Yellow => fg(AnsiColor::Yellow),
            Color::Red => fg(AnsiColor::Red),
            Color::Cyan => fg(AnsiColor::Cyan),
            Color::Magenta => fg(AnsiColor::Magenta),
            Color::Bold => Style::new().effects(Effects::BOLD),
            Color::Dim => Style::new().effects(Effects::DIMMED),
        }
    }
}

/// `s` in colour `c` when `on`, else `s` as is; either way with control and bidirectional characters escaped
/// ([`crate::escape::visible`]), since what is painted holds names and values from files and Graph.
pub(crate) fn paint(s: &str, c: Color, on: bool) -> String {
    let s = crate::escape::visible(s);
    if on {
        let style = c.style();
        format!("{style}{s}{style:#}")
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequences_are_the_plain_sgr_codes() {
        assert_eq!(paint("x", Color::Green, true), "\u{1b}[32mx\u{1b}[0m");
        assert_eq!(paint("x", Color::Bold, true), "\u{1b}[1mx\u{1b}[0m");
        assert_eq!(paint("x", Color::Dim, true), "\u{1b}[2mx\u{1b}[0m");
        assert_eq!(paint("x", Color::Red, false), "x");
    }
}
