//! Stamps the version string with the git commit and the build date: `0.1.0 (commit 1a2b3c4d5e6f, built
//! 2026-12-02)`. Outside a git checkout (a source tarball, `cargo install` from crates.io) or without git, the commit
//! is left out; `AUTHCTL_BUILD_COMMIT` sets it explicitly (packagers), `SOURCE_DATE_EPOCH` fixes the date
//! (reproducible builds).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=AUTHCTL_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let commit = std::env::var("AUTHCTL_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .map(|c| c.trim().to_string())
        .or_else(|| git_commit(std::path::Path::new(".")));
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let date = format!("{y:04}-{m:02}-{d:02}");
    let version = env!("CARGO_PKG_VERSION");
    let long = long_version(version, commit.as_deref(), &date);
    println!("cargo:rustc-env=AUTHCTL_LONG_VERSION={long}");
    println!(
        "cargo:rustc-env=AUTHCTL_BUILD_COMMIT={}",
        commit.as_deref().unwrap_or("")
    );
    println!("cargo:rustc-env=AUTHCTL_BUILD_DATE={date}");
}

/// `0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02)`, or `0.1.0 (built 2026-12-02)` without a commit.
fn long_version(version: &str, commit: Option<&str>, date: &str) -> String {
    match commit {
        Some(c) => format!("{version} (commit {c}, built {date})"),
        None => format!("{version} (built {date})"),
    }
}

/// The commit checked out at `dir` (12 hex digits), and the files whose change means a
/// new commit, so the build script runs again then.
fn git_commit(dir: &std::path::Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    if !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &r])
    {
        println!("cargo:rerun-if-changed={p}");
    }
    Some(commit)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_423), (2025, 12, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn outside_a_git_checkout_the_version_has_no_commit() {
        let dir = std::env::temp_dir().join(format!("authctl-build-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let found = git_commit(&dir);
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(found, None);
        assert_eq!(
            long_version("0.1.0", None, "2026-12-02"),
            "0.1.0 (built 2026-12-02)"
        );
        assert_eq!(
            long_version("0.1.0", Some("1a2b3c4d5e6f"), "2026-12-02"),
            "0.1.0 (commit 1a2b3c4d5e6f, built 2026-12-02)"
        );
    }

    #[test]
    fn inside_this_checkout_the_commit_is_twelve_hex_digits() {
        // Source tarballs have no .git: then there is nothing to check.
        if std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".git")
            .exists()
        {
            let c = git_commit(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
            assert_eq!(c.len(), 12);
        }
    }
}
