//! Diagnostics: one problem found in the manifests (or, later, by the plan engine), with file, line, column, field
//! path, a stable code and a way to fix it; and their three renderings: miette snippets on a terminal, one JSON
//! array, and GitHub Actions workflow commands.

pub mod sarif;

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};
use serde::Serialize;

use crate::escape::{visible_capped, visible_keep_tabs};
use crate::model::SourceLocation;

/// How bad a diagnostic is. Warnings are shown but keep `validate`'s exit code 0.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; does not fail the run.
    Warning,
    /// The manifests cannot be used as written.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A secondary place a diagnostic points at (e.g. the first declaration of a duplicated user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The file (`-` for stdin).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// Length of the marked text in bytes (0 marks a point).
    pub len: usize,
    /// What the label says.
    pub text: String,
}

/// One problem found in the manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Diagnostic {
    /// The file (as given on the command line or found in a directory; `-` for stdin).
    pub file: String,
    /// 1-based line; 0 when the problem has no position (e.g. a file that cannot be read).
    pub line: usize,
    /// 1-based column; 0 when the problem has no position.
    pub column: usize,
    /// The field path, e.g. `spec.users[2].phones.mobile` (empty for the whole file).
    pub path: String,
    /// Error or warning.
    pub severity: Severity,
    /// A stable code, e.g. `authctl::manifest::unknown-field`.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Length in bytes of the text at `line:column` the problem is about (0 marks a point).
    #[serde(skip)]
    pub len: usize,
    /// What the mark under the diagnostic's own position says, when it needs telling apart from `labels`.
    #[serde(skip)]
    pub primary_label: Option<String>,
    /// Other places the problem involves, each shown with its own snippet.
    #[serde(skip)]
    pub labels: Vec<Label>,
}

impl Diagnostic {
    /// An error at `loc`. `code` is the last part (`unknown-field`), to which `authctl::manifest::` is prefixed, or a
    /// full code (`authctl::plan::user-resolved-twice`) when it already contains `::`.
    pub fn error(
        code: &str,
        loc: &SourceLocation,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic::new(Severity::Error, code, loc, path, message)
    }

    /// A warning at `loc`.
    pub fn warning(
        code: &str,
        loc: &SourceLocation,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic::new(Severity::Warning, code, loc, path, message)
    }

    fn new(
        severity: Severity,
        code: &str,
        loc: &SourceLocation,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let code = if code.contains("::") {
            code.to_string()
        } else {
            format!("authctl::manifest::{code}")
        };
        Diagnostic {
            file: loc.file.clone(),
            line: loc.line,
            column: loc.column,
            path: path.into(),
            severity,
            code,
            message: message.into(),
            help: None,
            len: 0,
            primary_label: None,
            labels: Vec::new(),
        }
    }

    /// The same problem as a warning.
    #[must_use]
    pub fn into_warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// Adds how to fix it.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets how many bytes at the diagnostic's position it is about.
    #[must_use]
    pub fn with_len(mut self, len: usize) -> Self {
        self.len = len;
        self
    }

    /// Says what the mark under the diagnostic's own position is (when other labels need telling apart).
    #[must_use]
    pub fn with_primary_label(mut self, text: impl Into<String>) -> Self {
        self.primary_label = Some(text.into());
        self
    }

    /// Points at another place too.
    #[must_use]
    pub fn with_label(mut self, loc: &SourceLocation, len: usize, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            file: loc.file.clone(),
            line: loc.line,
            column: loc.column,
            len,
            text: text.into(),
        });
        self
    }

    /// `true` for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Where the diagnostic is.
    pub fn location(&self) -> SourceLocation {
        SourceLocation {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
        }
    }
}

/// A file's text, kept for rendering snippets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The file's name as diagnostics give it.
    pub name: String,
    /// Its text.
    pub text: Arc<str>,
}

/// `validate --format json` (with `formatVersion` in front: schemas/validate.schema.json).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ValidateReport {
    /// Every problem found, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// How `render_diagnostics` writes diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagnosticFormat {
    /// miette's snippets, for people.
    Text,
    /// One JSON document `{formatVersion, diagnostics: [{file, line, column, path, severity, code, message, help}]}`.
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…::…`), which annotate the pull request.
    Github,
    /// One SARIF 2.1.0 log (for GitHub code scanning and other static-analysis viewers).
    Sarif,
}

/// How many diagnostics of one run are shown with a snippet; the rest are printed as their message line only (a
/// note says how many), so 300 problems on one 10 MB line cannot print gigabytes.
pub const SNIPPET_LIMIT: usize = 50;

/// The longest message, field path or help text shown (characters); longer ones (a 10 MB key quoted in a message)
/// are cut with an ellipsis.
pub const TEXT_LIMIT: usize = 400;

/// A source line longer than this (characters) is shown as a window of this size around the column.
pub const SNIPPET_WIDTH: usize = 120;

/// Renders `diagnostics` in `format`. `sources` supplies file texts for snippets (text format only); `color`
/// applies to the text format. Text from the files (names, keys, values) is escaped and cut to [`TEXT_LIMIT`] in
/// every format; snippets show a window of each line and stop after [`SNIPPET_LIMIT`] diagnostics.
pub fn render(
    diagnostics: &[Diagnostic],
    sources: &[SourceFile],
    format: DiagnosticFormat,
    color: bool,
) -> String {
    let shown: Vec<Diagnostic> = diagnostics.iter().map(shown).collect();
    match format {
        DiagnosticFormat::Json => crate::format_version::versioned_json(
            crate::format_version::VALIDATE_FORMAT_VERSION,
            &ValidateReport { diagnostics: shown },
        ),
        DiagnosticFormat::Sarif => sarif::sarif_log(&shown),
        DiagnosticFormat::Github => shown.iter().map(github_line).collect(),
        DiagnosticFormat::Text => {
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme)
                .with_width(110)
                .with_links(false)
                .with_context_lines(1);
            let mut out = String::new();
            for (i, (d, raw)) in shown.iter().zip(diagnostics).enumerate() {
                if i == SNIPPET_LIMIT {
                    let rest = shown.len() - SNIPPET_LIMIT;
                    out.push_str(&format!(
                        "note: {rest} more diagnostic{} follow without snippets (the first {SNIPPET_LIMIT} have them)\n",
                        if rest == 1 { "" } else { "s" }
                    ));
                }
                let m = MietteDiagnostic::build(d, raw, sources, i < SNIPPET_LIMIT);
                // Rendering into a String cannot fail for lack of space; a formatting error would be a miette bug.
                let _ = handler.render_report(&mut out, &m);
            }
            out
        }
    }
}

/// `d` as it may be shown: file, path, message, help and label texts escaped and cut to [`TEXT_LIMIT`].
fn shown(d: &Diagnostic) -> Diagnostic {
    let cap = |s: &str| visible_capped(s, TEXT_LIMIT);
    Diagnostic {
        file: cap(&d.file),
        path: cap(&d.path),
        message: cap(&d.message),
        help: d.help.as_deref().map(cap),
        primary_label: d.primary_label.as_deref().map(cap),
        labels: d
            .labels
            .iter()
            .map(|l| Label {
                file: cap(&l.file),
                text: cap(&l.text),
                ..l.clone()
            })
            .collect(),
        ..d.clone()
    }
}

/// One GitHub Actions workflow command. Properties and message are escaped as the runner expects.
fn github_line(d: &Diagnostic) -> String {
    fn esc_data(s: &str) -> String {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    }
    fn esc_prop(s: &str) -> String {
        esc_data(s).replace(':', "%3A").replace(',', "%2C")
    }
    let mut props = vec![format!("file={}", esc_prop(&d.file))];
    if d.line > 0 {
        props.push(format!("line={}", d.line));
        props.push(format!("col={}", d.column.max(1)));
    }
    props.push(format!("title={}", esc_prop(&d.code)));
    let mut msg = if d.path.is_empty() {
        d.message.clone()
    } else {
        format!("{}: {}", d.path, d.message)
    };
    if let Some(help) = &d.help {
        msg.push_str("\nhelp: ");
        msg.push_str(help);
    }
    format!("::{} {}::{}\n", d.severity, props.join(","), esc_data(&msg))
}

/// A point to mark in a snippet: 1-based line and column (characters), length in bytes.
#[derive(Debug, Clone, Copy)]
struct Point {
    line: usize,
    column: usize,
    len: usize,
}

/// The few lines of a file a snippet shows, each cut to a window of [`SNIPPET_WIDTH`] characters around the marked
/// column and escaped ([`visible_keep_tabs`]), with the places of the marks in it. miette reads this instead of the
/// whole file: a snippet costs the window, not the line, and a column past 65,535 never reaches miette's renderer.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    /// The 1-based line number of the excerpt's first line in the file.
    first_line: usize,
    /// Each mark's byte offset in `text`, with its 1-based line and column in the file.
    marks: Vec<(usize, usize, usize)>,
}

impl Excerpt {
    /// The excerpt of `text` around `points` (all in this file), and each point's span in it. `None` when the file
    /// has no lines.
    fn build(name: &str, text: &str, points: &[Point]) -> Option<(Excerpt, Vec<SourceSpan>)> {
        let line_count = yaml_lines(text).count();
        if line_count == 0 || points.is_empty() {
            return None;
        }
        let points: Vec<Point> = points
            .iter()
            .map(|p| Point {
                line: p.line.clamp(1, line_count),
                ..*p
            })
            .collect();
        let lo = points
            .iter()
            .map(|p| p.line)
            .min()?
            .saturating_sub(1)
            .max(1);
        let hi = (points.iter().map(|p| p.line).max()? + 1).min(line_count);
        let mut out = String::new();
        let mut spans = vec![SourceSpan::from((0, 0)); points.len()];
        let mut marks = Vec::new();
        for (number, raw) in (lo..).zip(yaml_lines(text).skip(lo - 1).take(hi - lo + 1)) {
            let line = raw.trim_end_matches(['\n', '\r']);
            let chars: Vec<(usize, char)> = line.char_indices().collect();
            let here: Vec<usize> = (0..points.len())
                .filter(|&k| points[k].line == number)
                .collect();
            // The window: the whole line when it is short, else around the first mark on it (or the diagnostic's
            // own column, for a context line).
            let focus = here
                .first()
                .map_or(points[0].column, |&k| points[k].column)
                .saturating_sub(1)
                .min(chars.len());
            let (start, end) = if chars.len() <= SNIPPET_WIDTH {
                (0, chars.len())
            } else {
                let start = focus.saturating_sub(SNIPPET_WIDTH / 3);
                (start, (start + SNIPPET_WIDTH).min(chars.len()))
            };
            let line_start = out.len();
            if start > 0 {
                out.push('…');
            }
            // Byte offset in `out` of each character index in the window (and one past its end).
            let mut at = Vec::with_capacity(end - start + 1);
            for &(_, c) in &chars[start..end] {
                at.push(out.len());
                let mut buf = [0u8; 4];
                out.push_str(&visible_keep_tabs(c.encode_utf8(&mut buf)));
            }
            at.push(out.len());
            if end < chars.len() {
                out.push('…');
            }
            out.push('\n');
            for k in here {
                let p = points[k];
                let col = p.column.saturating_sub(1).min(chars.len());
                let (from, to) = if col < start || col > end {
                    // A second mark outside the window: point at the line's start.
                    (line_start, line_start)
                } else {
                    let byte = chars.get(col).map_or(line.len(), |&(b, _)| b);
                    let inside = chars[col..]
                        .iter()
                        .take_while(|(b, _)| *b < byte + p.len)
                        .count();
                    let to_col = (col + inside).min(end);
                    (at[col - start], at[to_col - start])
                };
                spans[k] = SourceSpan::from((from, to - from));
                marks.push((from, p.line, p.column.max(1)));
            }
        }
        let excerpt = Excerpt {
            name: visible_capped(name, TEXT_LIMIT),
            text: out,
            first_line: lo,
            marks,
        };
        Some((excerpt, spans))
    }
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = <str as miette::SourceCode>::read_span(
            self.text.as_str(),
            span,
            context_lines_before,
            context_lines_after,
        )?;
        // The header names the mark's place in the file, not in the excerpt.
        let (line, column) = self
            .marks
            .iter()
            .find(|m| m.0 == span.offset())
            .filter(|_| context_lines_before == 0 && context_lines_after == 0)
            .map_or((inner.line() + self.first_line - 1, inner.column()), |m| {
                (m.1 - 1, m.2 - 1)
            });
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            line,
            column,
            inner.line_count(),
        )))
    }
}

/// `text` split after each YAML line break (`\n`, `\r\n`, a lone `\r`), breaks kept.
pub fn yaml_lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => {
                    i += 1;
                    break;
                }
                b'\r' => {
                    i += if bytes.get(i + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                    break;
                }
                _ => i += 1,
            }
        }
        let line = &text[start..i];
        start = i;
        Some(line)
    })
}

/// A [`Diagnostic`] shaped for miette: one source per diagnostic, so labels in other files (or far away in the same
/// file) become related diagnostics with their own snippet.
#[derive(Debug)]
struct MietteDiagnostic {
    message: String,
    code: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<Excerpt>,
    labels: Vec<LabeledSpan>,
    related: Vec<MietteDiagnostic>,
}

/// Labels this many lines or fewer from the diagnostic's own line share its snippet; others get their own.
const NEAR_LINES: usize = 8;

impl MietteDiagnostic {
    /// `d` is the escaped diagnostic to show ([`shown`]), `raw` the one found (for the places of its labels);
    /// `snippets` is false past [`SNIPPET_LIMIT`].
    fn build(
        d: &Diagnostic,
        raw: &Diagnostic,
        sources: &[SourceFile],
        snippets: bool,
    ) -> MietteDiagnostic {
        let find = |name: &str| sources.iter().find(|s| s.name == name);
        let source_file = find(&raw.file).filter(|_| d.line > 0 && snippets);
        let near = |l: &Label| {
            source_file.is_some_and(|sf| sf.name == l.file) && l.line.abs_diff(d.line) <= NEAR_LINES
        };
        let mut labels = Vec::new();
        let mut related = Vec::new();
        let mut source = None;
        if let Some(sf) = source_file {
            let mut points = vec![Point {
                line: d.line,
                column: d.column,
                len: d.len,
            }];
            let mut texts = vec![(true, d.primary_label.clone())];
            for (l, shown_l) in raw.labels.iter().zip(&d.labels) {
                if near(l) {
                    points.push(Point {
                        line: l.line,
                        column: l.column,
                        len: l.len,
                    });
                    texts.push((false, Some(shown_l.text.clone())));
                }
            }
            if let Some((excerpt, spans)) = Excerpt::build(&sf.name, &sf.text, &points) {
                for ((primary, text), span) in texts.into_iter().zip(spans) {
                    labels.push(if primary {
                        LabeledSpan::new_primary_with_span(text, span)
                    } else {
                        LabeledSpan::new_with_span(text, span)
                    });
                }
                source = Some(excerpt);
            }
        }
        for (l, shown_l) in raw.labels.iter().zip(&d.labels) {
            if near(l) && source.is_some() {
                continue;
            }
            let point = Point {
                line: l.line,
                column: l.column,
                len: l.len,
            };
            let excerpt = find(&l.file)
                .filter(|_| snippets)
                .and_then(|other| Excerpt::build(&other.name, &other.text, &[point]));
            let (source, labels) = match excerpt {
                Some((excerpt, spans)) => (
                    Some(excerpt),
                    vec![LabeledSpan::new_primary_with_span(
                        Some(shown_l.text.clone()),
                        spans[0],
                    )],
                ),
                None => (None, Vec::new()),
            };
            related.push(MietteDiagnostic {
                message: format!(
                    "{} ({}:{}:{})",
                    shown_l.text, shown_l.file, l.line, l.column
                ),
                code: String::new(),
                severity: miette::Severity::Advice,
                help: None,
                source,
                labels,
                related: Vec::new(),
            });
        }
        let location = if d.line > 0 {
            format!("{}:{}:{}", d.file, d.line, d.column)
        } else {
            d.file.clone()
        };
        let message = if d.path.is_empty() {
            format!("{location}: {}", d.message)
        } else {
            format!("{location}: {}: {}", d.path, d.message)
        };
        MietteDiagnostic {
            message,
            code: d.code.clone(),
            severity: match d.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help: d.help.clone(),
            source,
            labels,
            related,
        }
    }
}

impl fmt::Display for MietteDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteDiagnostic {}

impl miette::Diagnostic for MietteDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(&self.code) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty()).then(|| Box::new(self.labels.iter().cloned()) as Box<_>)
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        (!self.related.is_empty())
            .then(|| Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)) as Box<_>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_lines_end_at_lf_crlf_and_a_lone_cr() {
        let lines: Vec<&str> = yaml_lines("a\nb\r\nc\rd").collect();
        assert_eq!(lines, ["a\n", "b\r\n", "c\r", "d"]);
        assert_eq!(yaml_lines("").count(), 0);
        assert_eq!(yaml_lines("\r\r4\0").count(), 3);
    }

    fn excerpt(text: &str, line: usize, column: usize, len: usize) -> (String, SourceSpan) {
        let (e, spans) = Excerpt::build("f", text, &[Point { line, column, len }]).unwrap();
        (e.text, spans[0])
    }

    #[test]
    fn excerpts_follow_yaml_line_numbers_in_old_mac_files() {
        // Line 3, column 2 of a CR-only file is the byte after `4` (the parser's place for this fuzz find).
        let (text, span) = excerpt("\r\r4\0", 3, 2, 0);
        assert_eq!(text, "\n4\\u{0}\n");
        assert_eq!(span.offset(), 2);
        let (text, span) = excerpt("a: 1\rb: 2\r", 2, 4, 1);
        assert_eq!(
            (text.as_str(), span.offset(), span.len()),
            ("a: 1\nb: 2\n", 8, 1)
        );
        // Past the end: clamped.
        let (_, span) = excerpt("a", 9, 9, 0);
        assert_eq!(span.offset(), 1);
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_column() {
        let line = format!("{}x: 1", " ".repeat(70_000));
        let (text, span) = excerpt(&line, 1, 70_001, 1);
        assert!(text.chars().count() <= SNIPPET_WIDTH + 3, "{text}");
        assert!(text.starts_with('…') && text.contains("x: 1"), "{text}");
        assert_eq!(&text[span.offset()..span.offset() + 1], "x");
    }
}
