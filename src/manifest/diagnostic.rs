//! Diagnostics: one problem found in the manifests (or, later, by the plan engine), with file, line, column, field
//! path, a stable code and a way to fix it; and their three renderings: miette snippets on a terminal, one JSON
//! array, and GitHub Actions workflow commands.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::model::SourceLocation;

/// How bad a diagnostic is. Warnings are shown but keep `validate`'s exit code 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// How `render_diagnostics` writes diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagnosticFormat {
    /// miette's snippets, for people.
    Text,
    /// One JSON array of `{file, line, column, path, severity, code, message, help}`.
    Json,
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…::…`), which annotate the pull request.
    Github,
}

/// Renders `diagnostics` in `format`. `sources` supplies file texts for snippets (text format only); `color`
/// applies to the text format.
pub fn render(
    diagnostics: &[Diagnostic],
    sources: &[SourceFile],
    format: DiagnosticFormat,
    color: bool,
) -> String {
    match format {
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(diagnostics)
                .expect("diagnostics are always serialisable to JSON");
            s.push('\n');
            s
        }
        DiagnosticFormat::Github => diagnostics.iter().map(github_line).collect(),
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
            for d in diagnostics {
                let m = MietteDiagnostic::build(d, sources);
                // Rendering into a String cannot fail for lack of space; a formatting error would be a miette bug.
                let _ = handler.render_report(&mut out, &m);
            }
            out
        }
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

/// The byte offset of 1-based `line`:`column` (characters) in `text`, clamped to the text. Lines end as YAML ends
/// them: at `\n`, `\r\n` or a lone `\r` (the parser's line numbers count all three; found by fuzzing).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in yaml_lines(text).enumerate() {
        if i + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(l.len(), |(b, _)| b);
            return offset + col;
        }
        offset += l.len();
    }
    text.len()
}

/// The text miette shows: a lone `\r` (an old Mac line break, a line break to YAML) becomes `\n`, which miette
/// counts; one byte for one, so every offset stays where it was.
fn for_display(text: &Arc<str>) -> Arc<str> {
    let b = text.as_bytes();
    let lone_cr = |i: usize| b[i] == b'\r' && b.get(i + 1) != Some(&b'\n');
    if !(0..b.len()).any(lone_cr) {
        return text.clone();
    }
    let mut out = b.to_vec();
    for (i, c) in out.iter_mut().enumerate() {
        if lone_cr(i) {
            *c = b'\n';
        }
    }
    Arc::from(String::from_utf8(out).expect("ASCII for ASCII keeps UTF-8"))
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

/// A [`Diagnostic`] shaped for miette: one source per diagnostic, so labels in other files become related
/// diagnostics with their own snippet.
#[derive(Debug)]
struct MietteDiagnostic {
    message: String,
    code: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    related: Vec<MietteDiagnostic>,
}

impl MietteDiagnostic {
    fn build(d: &Diagnostic, sources: &[SourceFile]) -> MietteDiagnostic {
        let find = |name: &str| sources.iter().find(|s| s.name == name);
        let source_file = find(&d.file).filter(|_| d.line > 0);
        let mut labels = Vec::new();
        let mut related = Vec::new();
        if let Some(sf) = source_file {
            let at = offset_of(&sf.text, d.line, d.column);
            let len = d.len.min(sf.text.len() - at);
            labels.push(LabeledSpan::new_primary_with_span(
                d.primary_label.clone(),
                SourceSpan::from((at, len)),
            ));
        }
        for l in &d.labels {
            match (source_file, find(&l.file)) {
                (Some(sf), Some(other)) if other.name == sf.name => {
                    let at = offset_of(&sf.text, l.line, l.column);
                    let len = l.len.min(sf.text.len() - at);
                    labels.push(LabeledSpan::new_with_span(
                        Some(l.text.clone()),
                        SourceSpan::from((at, len)),
                    ));
                }
                (_, Some(other)) => {
                    let at = offset_of(&other.text, l.line, l.column);
                    let len = l.len.min(other.text.len() - at);
                    related.push(MietteDiagnostic {
                        message: format!("{} ({}:{}:{})", l.text, l.file, l.line, l.column),
                        code: String::new(),
                        severity: miette::Severity::Advice,
                        help: None,
                        source: Some(NamedSource::new(
                            other.name.clone(),
                            for_display(&other.text),
                        )),
                        labels: vec![LabeledSpan::new_primary_with_span(
                            Some(l.text.clone()),
                            SourceSpan::from((at, len)),
                        )],
                        related: Vec::new(),
                    });
                }
                (_, None) => related.push(MietteDiagnostic {
                    message: format!("{} ({}:{}:{})", l.text, l.file, l.line, l.column),
                    code: String::new(),
                    severity: miette::Severity::Advice,
                    help: None,
                    source: None,
                    labels: Vec::new(),
                    related: Vec::new(),
                }),
            }
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
            source: source_file.map(|sf| NamedSource::new(sf.name.clone(), for_display(&sf.text))),
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

    #[test]
    fn lone_carriage_returns_show_as_line_breaks_and_keep_offsets() {
        let t: Arc<str> = Arc::from("a: 1\rb: 2\r\nc: 3\n");
        assert_eq!(&*for_display(&t), "a: 1\nb: 2\r\nc: 3\n");
        let plain: Arc<str> = Arc::from("a: 1\n");
        assert!(Arc::ptr_eq(&for_display(&plain), &plain));
    }

    #[test]
    fn offsets_follow_yaml_line_numbers_in_old_mac_files() {
        // Line 3, column 2 of a CR-only file is the byte after `4` (the parser's place for this fuzz find).
        assert_eq!(offset_of("\r\r4\0", 3, 2), 3);
        assert_eq!(offset_of("a: 1\rb: 2\r", 2, 4), 8);
        assert_eq!(offset_of("a: 1\r\nb: 2\n", 2, 1), 6);
        // Past the end: clamped.
        assert_eq!(offset_of("a", 9, 9), 1);
    }
}
