//! Manifests: the YAML model (serde + schemars), loading files, directories and stdin with locations, and offline
//! validation that collects every problem of a run as a diagnostic naming file, line, column and field path.
//!
//! [`load`] is the entry point: it reads every input (a file, a directory walked recursively for `*.yaml` and
//! `*.yml` in sorted order, or `-` for stdin), parses each document with serde-saphyr (duplicate keys rejected,
//! strict booleans, alias and size budgets), checks every rule that needs no tenant, and returns the valid users
//! with all diagnostics. Reading files is the only I/O here; parsing and validation are pure.

pub mod diagnostic;
pub mod email;
pub mod header;
pub mod model;
pub mod names;
pub mod node;
pub mod policy;
pub mod policy_schema;
pub mod registered;
pub mod validate;
pub mod write;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

pub use diagnostic::{Diagnostic, DiagnosticFormat, Label, Severity, SourceFile};

use crate::model::{DesiredUser, SourceLocation};

/// Everything read from a run's manifest inputs.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// The users of every document, in file and document order. Only users without errors are listed; a run with
    /// errors must not be planned ([`Manifests::has_errors`]).
    pub users: Vec<DesiredUser>,
    /// The tenant's authentication methods policy, when a document of kind `AuthenticationMethodsPolicy` declares
    /// it (one per run; `None` when there is none or it has errors).
    pub policy: Option<policy::DesiredPolicy>,
    /// Every problem found, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// SHA-256 (hex) over the files in order: each file's name, a NUL, its length as decimal, a NUL, its bytes.
    pub digest: String,
    /// The files read, in order (`-` for stdin).
    pub files: Vec<String>,
    sources: Vec<SourceFile>,
}

impl Manifests {
    /// `true` when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The number of error diagnostics.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// The number of warning diagnostics.
    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    /// The text of every file read, for rendering snippets (also of diagnostics added later, e.g. by the planner).
    pub fn sources(&self) -> &[SourceFile] {
        &self.sources
    }
}

/// Renders the diagnostics of `m` in `format`; see [`diagnostic::render`].
pub fn render_diagnostics(m: &Manifests, format: DiagnosticFormat, color: bool) -> String {
    diagnostic::render(&m.diagnostics, &m.sources, format, color)
}

/// The largest manifest file authctl reads (64 MiB; 100,000 users take about 12 MiB). Checked before reading, so an
/// oversized file (or an endless stdin) is refused at once instead of being held in memory and parsed.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

fn too_large(file: &str, size: Option<u64>) -> Diagnostic {
    let size = size.map_or_else(|| "more than 64 MiB".to_string(), |n| format!("{n} bytes"));
    Diagnostic::error(
        "budget",
        &SourceLocation {
            file: file.to_string(),
            line: 0,
            column: 0,
        },
        "",
        format!(
            "the manifest is {size}, over authctl's limit of {MAX_FILE_BYTES} bytes (64 MiB) per file; it was not read"
        ),
    )
    .with_help("split the users over several files in a directory (authctl reads them all), or check that this is a manifest")
}

/// Loads manifests from paths, directories and `-` (the process's stdin).
pub fn load(inputs: &[String]) -> Manifests {
    load_from(inputs, &mut std::io::stdin().lock())
}

/// Loads manifests, reading `-` from `stdin`.
pub fn load_from(inputs: &[String], stdin: &mut dyn Read) -> Manifests {
    let mut m = Manifests::default();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut stdin_read = false;
    for input in inputs {
        if input == "-" {
            if stdin_read {
                m.diagnostics.push(io_error(
                    "-",
                    "stdin (`-`) is given more than once",
                    "give `-` once",
                ));
                continue;
            }
            stdin_read = true;
            let mut text = String::new();
            match Read::take(&mut *stdin, MAX_FILE_BYTES + 1).read_to_string(&mut text) {
                Ok(n) if n as u64 > MAX_FILE_BYTES => m.diagnostics.push(too_large("-", None)),
                Ok(_) => texts.push(("-".to_string(), text)),
                Err(e) => m.diagnostics.push(io_error(
                    "-",
                    &format!("cannot read stdin: {e}"),
                    "pipe a UTF-8 YAML manifest into authctl",
                )),
            }
            continue;
        }
        let path = Path::new(input);
        let files = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let mut found = Vec::new();
                walk(path, &mut found, &mut m.diagnostics);
                found.sort();
                if found.is_empty() {
                    m.diagnostics.push(io_error(
                        input,
                        "the directory holds no `*.yaml` or `*.yml` files",
                        "give a directory of manifests, or the files themselves",
                    ));
                }
                found
            }
            Ok(_) => vec![path.to_path_buf()],
            Err(e) => {
                m.diagnostics.push(io_error(
                    input,
                    &format!("cannot read: {e}"),
                    "give an existing manifest file, a directory of them, or `-` for stdin",
                ));
                continue;
            }
        };
        for file in files {
            // The same file reached twice (named and inside a named directory) is read once, so its users are not
            // reported as declared twice.
            let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let name = file.to_string_lossy().into_owned();
            match read_capped(&file, MAX_FILE_BYTES) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => texts.push((name, text)),
                    Err(_) => m.diagnostics.push(io_error(
                        &name,
                        "the file is not UTF-8 text",
                        "save the manifest as UTF-8",
                    )),
                },
                Err(ReadError::TooLarge { size }) => m.diagnostics.push(too_large(&name, size)),
                Err(ReadError::Io(e)) => m.diagnostics.push(io_error(
                    &name,
                    &format!("cannot read: {e}"),
                    "check the path and its permissions",
                )),
            }
        }
    }

    let mut hasher = Sha256::new();
    let mut declarations = Vec::new();
    let mut policies = Vec::new();
    for (name, text) in texts {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(text.len().to_string().as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        let text: Arc<str> = Arc::from(text);
        validate::check_file_with_policies(
            &name,
            &text,
            &mut declarations,
            &mut policies,
            &mut m.diagnostics,
        );
        m.files.push(name.clone());
        m.sources.push(SourceFile { name, text });
    }
    validate::check_across_users(&declarations, &mut m.diagnostics);
    validate::check_across_policies(&policies, &mut m.diagnostics);
    if let [only] = policies.as_slice()
        && only.valid
    {
        m.policy = Some(only.desired.clone());
    }
    // Read order: by file as given, then by position (the walk meets some fields out of order).
    let rank = |f: &str| m.files.iter().position(|x| x == f).unwrap_or(usize::MAX);
    m.diagnostics
        .sort_by_key(|d| (d.line > 0, rank(&d.file), d.line, d.column));
    m.users = declarations
        .into_iter()
        .filter(|d| d.valid)
        .map(|d| d.desired)
        .collect();
    m.digest = hex::encode(hasher.finalize());
    m
}

/// Collects `*.yaml` and `*.yml` files under `dir`, recursively, in any order. Symlinked directories are not
/// followed (a link cycle would never end); symlinked files are read. Every entry that cannot be used is reported
/// under its own path and the walk goes on: an unreadable subdirectory, a dangling link or a link loop, and a
/// `*.yaml` name that is a device, FIFO or socket (reading one could block or never end) are errors.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, diagnostics: &mut Vec<Diagnostic>) {
    let name = |p: &Path| p.to_string_lossy().into_owned();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            diagnostics.push(io_error(
                &name(dir),
                &format!("cannot read directory: {e}"),
                "check the path and its permissions",
            ));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                diagnostics.push(io_error(
                    &name(dir),
                    &format!("cannot read directory: {e}"),
                    "check the path and its permissions",
                ));
                continue;
            }
        };
        let path = entry.path();
        let Ok(file_type) = entry.file_type() else {
            diagnostics.push(io_error(
                &name(&path),
                "cannot tell what kind of file this is",
                "check the path and its permissions",
            ));
            continue;
        };
        if file_type.is_dir() {
            walk(&path, out, diagnostics);
            continue;
        }
        if !is_manifest_name(&path) {
            continue;
        }
        if file_type.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => out.push(path),
                Ok(meta) if meta.is_dir() => diagnostics.push(
                    io_error(
                        &name(&path),
                        "a link to a directory, which is not followed",
                        "name the directory itself if its manifests belong to this run",
                    )
                    .into_warning(),
                ),
                Ok(meta) => diagnostics.push(io_error(
                    &name(&path),
                    &format!("a link to {}, not to a regular file", file_kind(&meta)),
                    "remove it, or point it at a manifest file",
                )),
                Err(e) if e.raw_os_error() == Some(40) => diagnostics.push(
                    io_error(
                        &name(&path),
                        "a symbolic link loop; it was skipped",
                        "remove the link, or point it at a manifest file",
                    )
                    .into_warning(),
                ),
                Err(e) => diagnostics.push(io_error(
                    &name(&path),
                    &format!("a link that cannot be followed (dangling?): {e}"),
                    "remove the link, or point it at an existing manifest file",
                )),
            }
        } else if file_type.is_file() {
            out.push(path);
        } else if let Ok(meta) = entry.metadata() {
            diagnostics.push(io_error(
                &name(&path),
                &format!(
                    "{} is not a regular file; it was not read",
                    file_kind(&meta)
                ),
                "manifests are regular files; remove it from the directory",
            ));
        }
    }
}

/// What kind of file `meta` describes, for messages.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// Why [`read_capped`] read nothing.
#[derive(Debug)]
pub enum ReadError {
    /// The file is over the limit: its size when the file system says, else `None` (a pipe or device that gave
    /// more than the limit before it was stopped).
    TooLarge {
        /// The file's length, for regular files.
        size: Option<u64>,
    },
    /// Opening or reading failed.
    Io(std::io::Error),
}

/// Reads at most `limit` bytes of `path`, whatever it is (a regular file, a pipe such as `<(…)`, a character
/// device such as `/dev/zero`): a regular file's length is checked first, and the read itself stops one byte past
/// the limit, so nothing larger is ever held in memory.
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if meta.is_file() && meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: Some(meta.len()),
        });
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: None });
    }
    Ok(bytes)
}

fn is_manifest_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == "yaml" || e == "yml")
}

fn io_error(file: &str, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error(
        "io",
        &SourceLocation {
            file: file.to_string(),
            line: 0,
            column: 0,
        },
        "",
        message,
    )
    .with_help(help)
}
