//! ANSI colour for the text renderers, applied only when the caller asks (`--color`, `NO_COLOR`, terminal).

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
    fn code(self) -> &'static str {
        match self {
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Red => "31",
            Color::Cyan => "36",
            Color::Magenta => "35",
            Color::Bold => "1",
            Color::Dim => "2",
        }
    }
}

/// `s` in colour `c` when `on`, else `s` as is; either way with control and bidirectional characters escaped
/// ([`crate::escape::visible`]), since what is painted holds names and values from files and Graph.
pub(crate) fn paint(s: &str, c: Color, on: bool) -> String {
    let s = crate::escape::visible(s);
    if on {
        format!("\u{1b}[{}m{s}\u{1b}[0m", c.code())
    } else {
        s.into_owned()
    }
}
