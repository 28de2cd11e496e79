//! The habits users bring: shell completions and man pages from the clap definitions, `--version` with the commit
//! and build date, global flags under their own heading in `--help`.

use crate::support::authctl_cmd;

fn stdout_of(args: &[&str]) -> String {
    let out = authctl_cmd().args(args).output().expect("authctl runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn completions_for_each_shell_name_the_commands_and_their_flags() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef authctl"),
        ("fish", "complete -c authctl"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let s = stdout_of(&["completions", shell]);
        assert!(s.contains(marker), "{shell}: no `{marker}`");
        for word in ["plan", "apply", "drift", "max-deletes", "detailed-exitcode"] {
            assert!(s.contains(word), "{shell}: `{word}` missing");
        }
    }
    let out = authctl_cmd()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn man_pages_are_generated_for_every_command() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH authctl 1"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(
        page.contains("authctl\\-plan") || page.contains("authctl-plan"),
        "subcommands listed"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    stdout_of(&["man", "--dir", out.to_str().unwrap()]);
    for name in [
        "authctl.1",
        "authctl-plan.1",
        "authctl-apply.1",
        "authctl-auth-check.1",
        "authctl-completions.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH"), "{name}");
    }
    let plan = std::fs::read_to_string(out.join("authctl-plan.1")).unwrap();
    assert!(
        plan.contains("max\\-deletes"),
        "the plan page documents its flags"
    );
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let v = stdout_of(&["--version"]);
    let re_date = |s: &str| {
        s.split("built ").nth(1).is_some_and(|d| {
            let d = d.trim().trim_end_matches(')');
            d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-'
        })
    };
    assert!(
        v.starts_with(&format!("authctl {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(re_date(&v), "{v}");
    if std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".git")
        .exists()
    {
        let commit = v
            .split("commit ")
            .nth(1)
            .unwrap_or_else(|| panic!("no commit in {v}"));
        assert!(commit[..12].chars().all(|c| c.is_ascii_hexdigit()), "{v}");
    }
    // Every command shows the same version.
    assert_eq!(
        stdout_of(&["plan", "--version"]).replace("authctl-plan", "authctl"),
        v
    );
}

#[test]
fn global_flags_are_grouped_apart_from_each_commands_own_in_help() {
    for cmd in ["plan", "apply", "validate", "auth check"] {
        let mut args: Vec<&str> = cmd.split(' ').collect();
        args.push("--help");
        let help = stdout_of(&args);
        let global = help
            .find("Global options:")
            .unwrap_or_else(|| panic!("{cmd}: {help}"));
        let verbose = help.find("--verbose").unwrap();
        let color = help.find("--color").unwrap();
        assert!(
            verbose > global && color > global,
            "{cmd}: global flags under their heading"
        );
        let own = help.find("Options:").unwrap();
        assert!(own < global, "{cmd}: the command's own options come first");
    }
}

/// `authctl plan --out FILE` then `authctl show FILE`: the saved plan rendered without Graph, by the same renderers.
#[test]
fn show_renders_a_saved_plan_without_graph_in_each_format() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plan.json");
    let f = file.to_str().unwrap();
    let tenant = format!("{root}/examples/tenant.yaml");
    let manifests = format!("{root}/examples/manifests");
    let out = authctl_cmd()
        .args(["plan", &manifests, "--emulate", &tenant, "--virtual-clock"])
        .args(["--format", "markdown", "--out", f])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let planned_markdown = String::from_utf8(out.stdout).unwrap();
    // No Graph: no --emulate, no credentials, an unreachable Graph URL.
    let show = |format: &str| {
        let out = authctl_cmd()
            .env("AUTHCTL_GRAPH_URL", "http://127.0.0.1:9")
            .args(["show", f, "--format", format])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(show("markdown"), planned_markdown);
    let json: serde_json::Value = serde_json::from_str(&show("json")).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json, saved, "the JSON is the saved plan");
    let text = show("text");
    assert!(
        text.contains("AlexW@contoso.com") && text.contains("+ alternateMobile"),
        "{text}"
    );
    // Stdin too.
    let out = authctl_cmd()
        .args(["show", "-"])
        .write_stdin(std::fs::read(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), text);

    // Not a plan, or another format version: refused, naming the file.
    std::fs::write(&file, r#"{"formatVersion": 99}"#).unwrap();
    let out = authctl_cmd().args(["show", f]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plan.json") && err.contains("format version"),
        "{err}"
    );
    std::fs::write(&file, "not json").unwrap();
    let out = authctl_cmd().args(["show", f]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}
