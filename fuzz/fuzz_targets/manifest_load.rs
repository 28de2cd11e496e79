//! Fuzz target: any bytes as a manifest on stdin. The loader must answer with users or diagnostics, never panic,
//! and every error must point inside the input.
#![no_main]

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
});
