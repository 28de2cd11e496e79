//! The one writer of private files (saved plans, imported manifests, the device-code token cache, generated
//! passwords): a temporary file with a unique name in the target's directory, created with `create_new` and mode
//! 0600 (never writing through a file or link someone else put there), filled, fsynced, renamed over the target (a
//! reader never sees half a file), then the directory fsynced so the rename survives a crash. On error the
//! temporary file is removed and the target is untouched. A leaf: every layer that writes such a file calls it.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` privately and atomically (see the module doc).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// [`write`] with the content streamed by `fill` (through a buffer), so a large plan is never held in memory as
/// text.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = directory_of(path);
    let tmp = temporary_name(dir, path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, opts.open(&tmp)?);
        fill(&mut w)?;
        let f = w
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The directory `path` is in (`.` for a bare file name).
pub fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `.NAME.PID.RANDOM.tmp` beside the target: unique per process and call, so two writers never share one.
fn temporary_name(dir: &Path, path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("authctl");
    dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        hex::encode(rand::random::<[u8; 4]>())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn private_files_are_0600_and_replaced() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.json");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&p, b"new").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        let text = std::fs::read_to_string(&p).unwrap();
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(mode, 0o600);
        assert_eq!(text, "new");
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }

    #[test]
    fn temporary_names_are_unique() {
        let p = Path::new("/x/plan.json");
        let a = temporary_name(directory_of(p), p);
        let b = temporary_name(directory_of(p), p);
        assert_ne!(a, b);
        let shown = a.to_string_lossy();
        assert!(shown.starts_with("/x/.plan.json."), "{shown}");
        assert_eq!(directory_of(Path::new("plan.json")), Path::new("."));
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_fill_leaves_the_target_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cache.json");
        std::fs::write(&p, "kept").unwrap();
        let e = write_with(&p, |_| Err(std::io::Error::other("boom"))).unwrap_err();
        assert_eq!(e.to_string(), "boom");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "kept");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
