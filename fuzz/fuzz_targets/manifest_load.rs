//! Fuzz target: any bytes as a manifest on stdin. The loader must answer with users or diagnostics, never panic,
//! and every error must point inside the input. The diagnostics are rendered in every format too (a column past
//! 65,535 once panicked inside miette's renderer), and what is rendered must be bounded and free of raw control
//! characters. Seeds: `fuzz/seeds/manifest_load/` (a 70,000-column line, 300 bad keys on one line, control
//! characters and tags).
#![no_main]

use authctl::manifest::DiagnosticFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stdin = data;
    let m = authctl::manifest::load_from(&["-".to_string()], &mut stdin);
    // Lines as YAML counts them (`\n`, `\r\n` and a lone `\r` each end one), plus one for a final break.
    let text = String::from_utf8_lossy(data);
    let lines = authctl::manifest::diagnostic::yaml_lines(&text).count().max(1) + 1;
    for d in &m.diagnostics {
        assert!(d.line <= lines, "{d:?}");
    }
    for format in [DiagnosticFormat::Text, DiagnosticFormat::Json, DiagnosticFormat::Github] {
        let shown = authctl::manifest::render_diagnostics(&m, format, false);
        // Per diagnostic: a message of at most 400 characters (escaped, so up to 10 bytes each), a help text,
        // labels, and a snippet of three 120-character windows.
        let bound = 64 * 1024 + m.diagnostics.len() * 16 * 1024;
        assert!(shown.len() <= bound, "{} bytes for {} diagnostics", shown.len(), m.diagnostics.len());
        assert!(!shown.contains(['\u{1b}', '\u{7}', '\0', '\u{202e}']), "{shown}");
    }
});
