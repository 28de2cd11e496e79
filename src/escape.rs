//! Escaping for text that came from outside (a manifest, a saved plan, a Graph answer) before it reaches a terminal,
//! a GitHub annotation or a Markdown comment: control characters (C0, DEL, C1: `ESC`, `BEL`, `NUL`, …) and the
//! invisible or bidirectional formatting characters (`U+202E`, zero-width spaces, …) are shown as `\u{…}`, so a
//! value can neither drive the terminal nor hide or reorder what a reviewer reads. A leaf that knows no output format,
//! so the pure core (manifest diagnostics) and every renderer share it; `crate::render::escape` names it too.

use std::borrow::Cow;

/// `true` for a character that must not reach an output as is: every control character but tab, and the
/// invisible/bidirectional formatting characters.
pub fn is_hostile(c: char) -> bool {
    (c.is_control() && c != '\t') || is_invisible_format(c)
}

/// The invisible and bidirectional formatting characters (Unicode `Cf` characters that reorder or hide text, plus
/// the line and paragraph separators).
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

/// `s` with every [`is_hostile`] character written as `\u{…}` (and, with `tab`, tabs too).
fn escape(s: &str, tab: bool) -> Cow<'_, str> {
    let bad = |c: char| is_hostile(c) || (tab && c == '\t');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` safe to print on one line: hostile characters, line breaks and tabs escaped.
pub fn visible(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// `s` safe to print, keeping tabs (for a source line shown in a snippet).
pub fn visible_keep_tabs(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// [`visible`], cut to `max` characters (an ellipsis marks the cut), so a 10 MB key cannot make a 10 MB message.
pub fn visible_capped(s: &str, max: usize) -> String {
    let v = visible(s);
    if v.chars().count() <= max {
        return v.into_owned();
    }
    let mut out: String = v.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `s` as a Markdown code span that nothing in `s` can close: the fence is one backtick longer than the longest run
/// of backticks inside, with spaces when `s` starts or ends with a backtick (CommonMark's rule).
pub fn markdown_code_span(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_and_plain_text_is_borrowed() {
        assert_eq!(
            visible("\u{1b}]0;PWN\u{7}\u{1b}[2J"),
            "\\u{1b}]0;PWN\\u{7}\\u{1b}[2J"
        );
        assert_eq!(
            visible("a\u{202e}b\u{200b}c\0"),
            "a\\u{202e}b\\u{200b}c\\u{0}"
        );
        assert_eq!(visible("line\nbreak\ttab"), "line\\u{a}break\\u{9}tab");
        assert_eq!(visible_keep_tabs("a\tb"), "a\tb");
        assert!(matches!(visible("AdeleV@contoso.com"), Cow::Borrowed(_)));
        assert_eq!(visible("é ü 中"), "é ü 中");
    }

    #[test]
    fn capped_text_ends_in_an_ellipsis() {
        assert_eq!(visible_capped("abcdef", 4), "abc…");
        assert_eq!(visible_capped("abc", 4), "abc");
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(markdown_code_span("a"), "`a`");
        assert_eq!(markdown_code_span("a`b"), "``a`b``");
        assert_eq!(markdown_code_span("`x"), "`` `x ``");
    }
}
