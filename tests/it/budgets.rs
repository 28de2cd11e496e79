//! Integration tests: the manifest loader's budgets stop alias bombs, deep nesting, oversized files and endless stdin
//! with one clear error (security against hostile manifests).

use authctl::manifest::{self, Manifests, Severity};

use crate::fuzz::load_text;

#[test]
fn an_alias_bomb_is_rejected_by_the_budget_with_a_clear_error() {
    // Nine levels of nine-fold aliases: 9^9 (≈387 million) nodes if expanded.
    let mut y = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        y.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    y = format!(
        "apiVersion: authctl/v1\nkind: PhoneMethods\n{y}spec:\n  mode: exact\n  users: []\n"
    );
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(budget.message.contains("alias bomb"), "{}", budget.message);
    assert!(budget.help.is_some());
}

#[test]
fn a_manifest_nested_past_the_depth_budget_is_rejected_with_a_clear_error() {
    let deep = format!("{}x{}", "[".repeat(200), "]".repeat(200));
    let y = format!(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users: []\nextra: {deep}\n"
    );
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(
        budget.message.contains("authctl's YAML limits") || budget.message.contains("deep"),
        "{}",
        budget.message
    );
}

#[test]
fn an_oversized_manifest_file_is_refused_before_it_is_read() {
    // A sparse file one byte past the 64 MiB cap: refused from its size alone, so it costs no memory or parse time.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(manifest::MAX_FILE_BYTES + 1).unwrap();
    drop(f);
    let m = manifest::load(&[path.to_string_lossy().into_owned()]);
    let d = only_file_budget_error(&m);
    assert_eq!(d.file, path.to_string_lossy());
    assert!(
        d.message
            .contains(&format!("{} bytes", manifest::MAX_FILE_BYTES + 1)),
        "{}",
        d.message
    );
    assert!(d.message.contains("64 MiB"), "{}", d.message);
}

#[test]
fn an_endless_stdin_is_cut_off_at_the_cap_with_a_clear_error() {
    // `yes x | authctl validate -`: the loader stops reading at the cap instead of filling memory.
    let mut endless = std::io::repeat(b'x');
    let m = manifest::load_from(&["-".to_string()], &mut endless);
    let d = only_file_budget_error(&m);
    assert_eq!(d.file, "-");
    assert!(d.message.contains("over authctl's limit"), "{}", d.message);
}

/// The one error of `m`, which must be the file-level `budget` error (no line: the file was not read).
#[track_caller]
fn only_file_budget_error(m: &Manifests) -> &manifest::Diagnostic {
    let d = the_budget_error(m);
    assert_eq!(d.line, 0, "{d:#?}");
    d
}

#[test]
fn a_manifest_with_more_aliases_than_the_budget_is_rejected_with_a_clear_error() {
    // Cheap to expand (each alias is one scalar) but more aliases than any manifest needs.
    let mut y = String::from(
        "apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: exact\n  users: []\nx: &x y\nextra: [",
    );
    for _ in 0..10_001 {
        y.push_str("*x, ");
    }
    y.push_str("]\n");
    let m = load_text(&y);
    let budget = only_budget_error(&m);
    assert!(budget.message.contains("limit"), "{}", budget.message);
}

/// The one error of `m`, which must be the loader's `budget` error at a real place.
#[track_caller]
fn only_budget_error(m: &Manifests) -> &manifest::Diagnostic {
    let d = the_budget_error(m);
    assert!(d.line >= 1, "{d:#?}");
    d
}

/// The one error of `m`: a `budget` error with a fix, and no user loaded.
#[track_caller]
fn the_budget_error(m: &Manifests) -> &manifest::Diagnostic {
    let errors: Vec<_> = m
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let d = errors[0];
    assert_eq!(d.code, "authctl::manifest::budget", "{d:#?}");
    assert!(d.help.is_some(), "{d:#?}");
    assert!(m.users.is_empty());
    d
}
