//! Benchmark (not a test): how long `authctl validate` takes on a 10,000-user manifest set, and its peak memory.
//!
//! ```sh
//! cargo run --release --example bench_validate            # 10,000 users over 20 files
//! cargo run --release --example bench_validate -- 10000 1  # the same users in one file
//! ```
//!
//! It writes the manifests to a temporary directory, loads and validates them the way `authctl validate DIR` does,
//! and prints the time and the peak resident set size (`VmHWM` from `/proc/self/status`, Linux only).

use std::fmt::Write as _;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let users: usize = args
        .next()
        .map_or(10_000, |s| s.parse().expect("users: a number"));
    let files: usize = args
        .next()
        .map_or(20, |s| s.parse().expect("files: a number"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let per_file = users.div_ceil(files);
    let mut written = 0;
    for f in 0..files {
        let mode = if f % 2 == 0 { "exact" } else { "merge" };
        let mut y = format!(
            "# yaml-language-server: $schema=../../schemas/manifest.schema.json\n\
             apiVersion: authctl/v1\nkind: PhoneMethods\nspec:\n  mode: {mode}\n  users:\n"
        );
        for _ in 0..per_file {
            if written == users {
                break;
            }
            let i = written;
            written += 1;
            // Unique, valid US numbers (area code 206/425, exchange 2xx–9xx), a few spellings.
            let area = if i % 2 == 0 { 206 } else { 425 };
            let exchange = 200 + (i / 10_000) % 800;
            let line = i % 10_000;
            let _ = writeln!(y, "    - user: user{i:05}@contoso.com");
            let _ = writeln!(y, "      phones:");
            match i % 4 {
                0 => {
                    let _ = writeln!(y, "        mobile: \"+1 {area} {exchange} {line:04}\"");
                    let _ = writeln!(
                        y,
                        "        office: \"+1 (212) {exchange}-{line:04} x{}\"",
                        i % 1000 + 1
                    );
                    let _ = writeln!(y, "      smsSignIn: enabled");
                }
                1 => {
                    let _ = writeln!(y, "        mobile: \"+1{area}{exchange}{line:04}\"");
                    let _ = writeln!(
                        y,
                        "        alternateMobile: \"+1 312 {exchange} {line:04}\""
                    );
                    let _ = writeln!(y, "        office: absent");
                }
                2 => {
                    let _ = writeln!(y, "        mobile: \"+1-{area}-{exchange}-{line:04}\"");
                    let _ = writeln!(y, "      smsSignIn: disabled");
                }
                _ => {
                    let _ = writeln!(y, "        mobile: \"+1 {area} {exchange} {line:04}\"");
                    let _ = writeln!(y, "        alternateMobile: absent");
                }
            }
        }
        std::fs::write(dir.path().join(format!("team-{f:03}.yaml")), y).expect("write a manifest");
    }
    let bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();

    let start = Instant::now();
    let m = authctl::manifest::load(&[dir.path().to_string_lossy().into_owned()]);
    let elapsed = start.elapsed();

    assert!(
        !m.has_errors(),
        "{}",
        authctl::manifest::render_diagnostics(&m, authctl::manifest::DiagnosticFormat::Text, false)
    );
    println!(
        "validated {} users in {} files ({:.1} MiB of YAML) in {:.3} s; {} errors, {} warnings; peak RSS {}",
        m.users.len(),
        m.files.len(),
        bytes as f64 / (1024.0 * 1024.0),
        elapsed.as_secs_f64(),
        m.error_count(),
        m.warning_count(),
        peak_rss().unwrap_or_else(|| "unknown (no /proc/self/status)".into())
    );
}

/// `VmHWM` (peak resident set size) from `/proc/self/status`.
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().to_string())
}
