//! The emulator's state: the tenant (users and their methods) behind one lock, the read-lag history, password-reset
//! operations, device codes and refresh tokens, request statistics, and the crash-safe journal.
//!
//! Journal: one JSON line per change holding the changed user's whole record, appended and fsynced before the
//! response is sent. Replaying a line replaces the user, so replay is idempotent. A torn last line (a crash
//! mid-append, never acknowledged) is ignored.
//!
//! A journal belongs to one state file: its first line (written with its first change) identifies the state file
//! it extends: device, inode, modification time, length and SHA-256. A journal whose header names another file
//! (a state file copied afresh over the old one, even with the same bytes; a fold that crashed between its rename
//! and the truncation) or that has no header is never replayed: it is moved aside to
//! `FILE.journal.stale-UNIXTIME`, kept for a human, and a warning says so.
//!
//! Lock: under `--persist` the state file is held with an exclusive lock on `FILE.lock` (which names the holder's
//! process id) for as long as the emulator runs, so a second writer (another `authctl emulator --persist`, another
//! `apply --emulate-persist`) is refused instead of both acknowledging changes and one losing the other's. The
//! operating system releases the lock when the holder exits, however it exits. Within one process the lock is
//! shared (a restarted in-process emulator takes it over).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;

use super::faults::Faults;
use super::tenant::{Tenant, User};
use super::{EmulatorError, Options, Stats};

/// A password-reset operation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub user_id: String,
    pub created: Timestamp,
    pub last_action: Timestamp,
    pub polls: u32,
    pub new_password: String,
    /// Set once the operation reached its end.
    pub outcome: Option<(String, Option<String>)>,
}

/// A pending device-code sign-in.
#[derive(Debug, Clone)]
pub(crate) struct DeviceCode {
    pub user_code: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires: Timestamp,
    pub approved_user: Option<String>,
}

/// A refresh token's grant.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
}

/// Everything behind the data lock.
#[derive(Debug)]
pub(crate) struct Data {
    pub tenant: Tenant,
    /// Per user: (time of a change, the user's record before it), oldest first; kept only while `lag` > 0.
    pub history: HashMap<String, Vec<(Timestamp, User)>>,
    pub operations: HashMap<String, Operation>,
    pub device_codes: HashMap<String, DeviceCode>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    /// Each user's object id and UPN, ASCII-lowercased, to its index in `tenant.users` (users are never added or
    /// removed once the state is built, so the index never goes stale). Without it every lookup scanned the
    /// tenant, which made a 10,000-user plan quadratic.
    pub by_key: HashMap<String, usize>,
}

impl Data {
    /// The index of the user named by `id_or_upn` (object id or UPN, case-insensitive).
    pub fn find(&self, id_or_upn: &str) -> Option<usize> {
        self.by_key.get(&id_or_upn.to_ascii_lowercase()).copied()
    }
}

fn index_users(tenant: &Tenant) -> HashMap<String, usize> {
    let mut by_key = HashMap::with_capacity(tenant.users.len() * 2);
    for (i, u) in tenant.users.iter().enumerate() {
        by_key.insert(u.id.to_ascii_lowercase(), i);
        by_key.insert(u.user_principal_name.to_ascii_lowercase(), i);
    }
    by_key
}

struct Journal {
    path: PathBuf,
    file: File,
    /// The identity of the state file the journal extends ([`state_identity`]), written as its first line.
    state_id: String,
}

/// The journal's first line.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JournalHeader {
    /// The state file's identity when the journal began ([`state_identity`]).
    journal_of: String,
}

/// A journal line recording the policy (every other line is a user record).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyRecord {
    authentication_methods_policy: Option<serde_json::Value>,
}

/// Which state file this is: `dev:inode:mtime-ns:length:sha256`. A copy put in its place (even of the same bytes)
/// has another modification time; a fold's rename gives a new inode.
fn state_identity(path: &Path, bytes: &[u8]) -> Result<String, EmulatorError> {
    use sha2::Digest as _;
    let meta = std::fs::metadata(path)
        .map_err(|e| EmulatorError::Io(format!("cannot read {}: {e}", path.display())))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let (dev, ino) = {
        use std::os::unix::fs::MetadataExt as _;
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let (dev, ino) = (0u64, 0u64);
    Ok(format!(
        "{dev}:{ino}:{mtime}:{}:{}",
        meta.len(),
        hex::encode(sha2::Sha256::digest(bytes))
    ))
}

/// The exclusive lock of a state file, shared by every emulator state of this process on that file.
struct StateLock {
    path: PathBuf,
    _file: File,
}

/// This process's state-file locks, by canonical path; an entry lives as long as some state holds it.
fn locks() -> &'static Mutex<HashMap<PathBuf, std::sync::Weak<StateLock>>> {
    static LOCKS: std::sync::OnceLock<Mutex<HashMap<PathBuf, std::sync::Weak<StateLock>>>> =
        std::sync::OnceLock::new();
    LOCKS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The lock file of a state file: `FILE.lock` beside it.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    state.with_file_name(name)
}

/// Takes the exclusive lock of `state` (or shares this process's). Refuses, naming the holder, when another
/// process holds it.
fn lock_state(state: &Path) -> Result<Arc<StateLock>, EmulatorError> {
    let key = std::fs::canonicalize(state).unwrap_or_else(|_| state.to_path_buf());
    let mut held = lock(locks());
    if let Some(l) = held.get(&key).and_then(std::sync::Weak::upgrade) {
        return Ok(l);
    }
    let path = lock_path(state);
    let mut o = OpenOptions::new();
    o.create(true).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut file = o
        .open(&path)
        .map_err(|e| EmulatorError::Io(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                "another process".to_string()
            } else {
                crate::escape::visible_capped(holder, 200)
            };
            return Err(EmulatorError::Io(format!(
                "the state file {} is in use by {holder} (lock {}); a second writer would lose one of the two runs' \
                 changes: wait for it to finish, or use a copy of the state file",
                state.display(),
                path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(EmulatorError::Io(format!(
                "cannot lock {}: {e}",
                path.display()
            )));
        }
    }
    let who = format!(
        "authctl process {} (since {})",
        std::process::id(),
        Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or(Timestamp::now())
    );
    let _ = file
        .set_len(0)
        .and_then(|_| file.write_all(who.as_bytes()))
        .and_then(|_| file.sync_data());
    let l = Arc::new(StateLock { path, _file: file });
    held.insert(key, Arc::downgrade(&l));
    Ok(l)
}

impl std::fmt::Debug for StateLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateLock")
            .field("path", &self.path)
            .finish()
    }
}

pub(crate) struct Shared {
    pub options: Options,
    /// The HS256 key of this process's tokens.
    pub key: Vec<u8>,
    pub data: Mutex<Data>,
    pub stats: Mutex<Stats>,
    pub faults: Mutex<Faults>,
    /// Added to the clock by `POST /_emulator/clock`.
    offset: Mutex<Duration>,
    journal: Option<Mutex<Journal>>,
    /// The state file's lock (under `--persist`), released when the last state holding it goes.
    _lock: Option<Arc<StateLock>>,
    /// Something changed since the state file was read (a replayed journal or a new change): only then does a
    /// clean shutdown rewrite the file (which drops its comments).
    dirty: AtomicBool,
}

/// The emulator's state, cheap to clone (an `Arc` inside). Build it with [`EmulatorState::new`] and serve it with
/// [`super::app`].
#[derive(Clone)]
pub struct EmulatorState {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for EmulatorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorState").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The journal's path for a state file: `FILE.journal` beside it.
pub fn journal_path(state: &Path) -> PathBuf {
    let mut name = state.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    state.with_file_name(name)
}

impl EmulatorState {
    /// Builds the state from a tenant. With `options.persist`, replays the journal beside the state file (changes
    /// acknowledged before a crash) and opens it for appending.
    pub fn new(mut tenant: Tenant, options: Options) -> Result<EmulatorState, EmulatorError> {
        let mut replayed = false;
        let mut state_lock = None;
        let journal = match &options.persist {
            Some(state_path) => {
                state_lock = Some(lock_state(state_path)?);
                let bytes = std::fs::read(state_path).map_err(|e| {
                    EmulatorError::Io(format!("cannot read {}: {e}", state_path.display()))
                })?;
                let state_id = state_identity(state_path, &bytes)?;
                let path = journal_path(state_path);
                replayed = replay(&path, &state_id, &mut tenant)?;
                let file = open_private(&path)?;
                Some(Mutex::new(Journal {
                    path,
                    file,
                    state_id,
                }))
            }
            None => None,
        };
        let mut key = vec![0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut key[..]);
        let faults = Faults::new(&options);
        Ok(EmulatorState {
            shared: Arc::new(Shared {
                key,
                data: Mutex::new(Data {
                    by_key: index_users(&tenant),
                    tenant,
                    history: HashMap::new(),
                    operations: HashMap::new(),
                    device_codes: HashMap::new(),
                    refresh_tokens: HashMap::new(),
                }),
                stats: Mutex::new(Stats::default()),
                faults: Mutex::new(faults),
                offset: Mutex::new(Duration::ZERO),
                journal,
                _lock: state_lock,
                options,
                dirty: AtomicBool::new(replayed),
            }),
        })
    }

    pub(crate) fn options(&self) -> &Options {
        &self.shared.options
    }

    /// The emulator's current time: its clock plus what `POST /_emulator/clock` added.
    pub fn now(&self) -> Timestamp {
        crate::clock::add(self.shared.options.clock.now(), *lock(&self.shared.offset))
    }

    /// Moves the emulator's time forward (token expiry, read lag, buckets).
    pub fn advance(&self, d: Duration) {
        *lock(&self.shared.offset) += d;
    }

    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.shared.data)
    }

    pub(crate) fn stats_mut(&self) -> MutexGuard<'_, Stats> {
        lock(&self.shared.stats)
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.shared.faults)
    }

    /// A copy of the request statistics.
    pub fn stats(&self) -> Stats {
        self.stats_mut().clone()
    }

    /// The current state as a tenant file.
    pub fn snapshot(&self) -> Tenant {
        self.data().tenant.clone()
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> String {
        self.data().tenant.tenant_id.clone()
    }

    /// Records that the tenant's authentication methods policy changed from `before`: appends the whole policy to
    /// the journal, fsynced, as one `{"authenticationMethodsPolicy": …}` line (replay replaces the policy). On a
    /// journal failure the change is undone. Policy reads have no read lag.
    pub(crate) fn commit_policy(
        &self,
        data: &mut Data,
        before: Option<serde_json::Value>,
    ) -> Result<(), String> {
        self.shared.dirty.store(true, Ordering::SeqCst);
        let record = PolicyRecord {
            authentication_methods_policy: data.tenant.authentication_methods_policy.clone(),
        };
        let line = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        if let Err(e) = self.append(&line) {
            data.tenant.authentication_methods_policy = before;
            return Err(e);
        }
        Ok(())
    }

    /// Appends one journal line (with the header first when the journal is empty), fsynced.
    fn append(&self, line: &str) -> Result<(), String> {
        let Some(j) = &self.shared.journal else {
            return Ok(());
        };
        let mut j = lock(j);
        let empty = j.file.metadata().map(|m| m.len() == 0).unwrap_or(false);
        let header = if empty {
            let h = JournalHeader {
                journal_of: j.state_id.clone(),
            };
            serde_json::to_string(&h).map_err(|e| e.to_string())? + "\n"
        } else {
            String::new()
        };
        writeln!(j.file, "{header}{line}")
            .and_then(|_| j.file.sync_data())
            .map_err(|e| format!("journal {}: {e}", j.path.display()))
    }

    /// Records that user `index` changed from `before`: keeps the read-lag history and appends the new record to
    /// the journal, fsynced. On a journal failure the change is undone and the error returned (the request then
    /// fails with 500, so no unjournalled change is ever acknowledged).
    pub(crate) fn commit(&self, data: &mut Data, index: usize, before: User) -> Result<(), String> {
        let after = data.tenant.users[index].clone();
        self.shared.dirty.store(true, Ordering::SeqCst);
        let line = serde_json::to_string(&after).map_err(|e| e.to_string())?;
        if let Err(e) = self.append(&line) {
            data.tenant.users[index] = before;
            return Err(e);
        }
        let lag = self.shared.options.lag;
        if !lag.is_zero() {
            let now = self.now();
            let h = data.history.entry(after.id.clone()).or_default();
            h.push((now, before));
            let horizon = now
                .checked_sub(jiff::SignedDuration::try_from(lag).unwrap_or_default())
                .unwrap_or(Timestamp::MIN);
            h.retain(|(t, _)| *t > horizon);
        }
        Ok(())
    }

    /// User `index` as a reader sees it: with read lag, the record as of `lag` ago.
    pub(crate) fn read_user(&self, data: &Data, index: usize) -> User {
        let current = &data.tenant.users[index];
        let lag = self.shared.options.lag;
        if lag.is_zero() {
            return current.clone();
        }
        let cutoff = self
            .now()
            .checked_sub(jiff::SignedDuration::try_from(lag).unwrap_or_default())
            .unwrap_or(Timestamp::MIN);
        // The first change after the cutoff: the reader still sees the record from before it.
        data.history
            .get(&current.id)
            .and_then(|h| h.iter().find(|(t, _)| *t > cutoff))
            .map(|(_, before)| before.clone())
            .unwrap_or_else(|| current.clone())
    }

    /// Writes the current state into the state file (atomically, mode 0600) and empties the journal. Called at
    /// clean shutdown with `--persist`.
    pub fn fold(&self) -> Result<(), EmulatorError> {
        let Some(path) = &self.shared.options.persist else {
            return Ok(());
        };
        if !self.shared.dirty.load(Ordering::SeqCst) {
            return Ok(());
        }
        let data = self.data();
        let yaml = data.tenant.to_yaml()?;
        write_atomic(path, yaml.as_bytes())?;
        if let Some(j) = &self.shared.journal {
            let mut j = lock(j);
            j.state_id = state_identity(path, yaml.as_bytes())?;
            j.file
                .set_len(0)
                .and_then(|_| j.file.sync_all())
                .map_err(|e| EmulatorError::Journal(format!("{}: {e}", j.path.display())))?;
        }
        Ok(())
    }
}

/// Applies the journal's records to `tenant`; says whether there were any. A journal that does not belong to the
/// state file whose SHA-256 is `state_id` (see the module's docs) is moved aside, not replayed.
fn replay(path: &Path, state_id: &str, tenant: &mut Tenant) -> Result<bool, EmulatorError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(EmulatorError::Journal(format!("{}: {e}", path.display()))),
    };
    let mut lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| EmulatorError::Journal(format!("{}: {e}", path.display())))?;
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Ok(false);
    }
    let header = serde_json::from_str::<JournalHeader>(&lines[0]).ok();
    if header.as_ref().map(|h| h.journal_of.as_str()) != Some(state_id) {
        let mut aside = path.as_os_str().to_os_string();
        aside.push(format!(".stale-{}", Timestamp::now().as_second()));
        let aside = PathBuf::from(aside);
        std::fs::rename(path, &aside).map_err(|e| {
            EmulatorError::Journal(format!("cannot move {} aside: {e}", path.display()))
        })?;
        let why = if header.is_some() {
            "it was written for other contents of the state file (a copy put in its place, or a fold cut short)"
        } else {
            "it has no header naming its state file"
        };
        eprintln!(
            "warning: {} was not replayed: {why}; it is kept as {}",
            path.display(),
            aside.display()
        );
        return Ok(false);
    }
    lines.remove(0);
    let count = lines.len();
    let mut any = false;
    for (i, line) in lines.into_iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Ok(p) = serde_json::from_str::<PolicyRecord>(&line) {
            any = true;
            tenant.authentication_methods_policy = p.authentication_methods_policy;
            continue;
        }
        let user: User = match serde_json::from_str(&line) {
            Ok(u) => u,
            // A torn final line is a write that was never acknowledged.
            Err(_) if i + 1 == count => break,
            Err(e) => {
                return Err(EmulatorError::Journal(format!(
                    "{} line {}: {e}",
                    path.display(),
                    i + 1
                )));
            }
        };
        any = true;
        match tenant.users.iter_mut().find(|u| u.id == user.id) {
            Some(u) => *u = user,
            None => tenant.users.push(user),
        }
    }
    Ok(any)
}

/// Opens the journal for appending, mode 0600.
fn open_private(path: &Path) -> Result<File, EmulatorError> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let f = o
        .open(path)
        .map_err(|e| EmulatorError::Io(format!("cannot open {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(f)
}

/// Replaces `path` with `bytes` through [`crate::private_file::write`] (a unique 0600 temporary file beside it,
/// fsynced, renamed over it, the directory fsynced).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EmulatorError> {
    crate::private_file::write(path, bytes)
        .map_err(|e| EmulatorError::Io(format!("cannot replace {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Tenant {
        Tenant::from_yaml(
            "tenantId: t\nusers:\n  - id: u1\n    userPrincipalName: a@b.c\n  - id: u2\n    userPrincipalName: d@b.c\n",
        )
        .unwrap()
    }

    #[test]
    fn replay_applies_whole_records_and_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml.journal");
        let mut t = tenant();
        let mut u1 = t.users[0].clone();
        u1.display_name = "first".into();
        let mut u1b = u1.clone();
        u1b.display_name = "second".into();
        let text = format!(
            "{{\"journalOf\":\"abc\"}}\n{}\n{}\n{{\"id\":\"u2\",\"userPrinc",
            serde_json::to_string(&u1).unwrap(),
            serde_json::to_string(&u1b).unwrap()
        );
        std::fs::write(&path, text).unwrap();
        assert!(replay(&path, "abc", &mut t).unwrap());
        assert_eq!(t.users[0].display_name, "second");
        assert_eq!(t.users[1].display_name, "");
        // Replaying twice changes nothing (a journal that survived a fold is harmless).
        let once = t.clone();
        replay(&path, "abc", &mut t).unwrap();
        assert_eq!(t, once);
    }

    #[test]
    fn replay_applies_policy_records_beside_user_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml.journal");
        let mut t = tenant();
        let mut u1 = t.users[0].clone();
        u1.display_name = "changed".into();
        let text = format!(
            "{{\"journalOf\":\"abc\"}}\n{{\"authenticationMethodsPolicy\":{{\"id\":\"authenticationMethodsPolicy\"}}}}\n{}\n",
            serde_json::to_string(&u1).unwrap()
        );
        std::fs::write(&path, text).unwrap();
        assert!(replay(&path, "abc", &mut t).unwrap());
        assert_eq!(
            t.authentication_methods_policy,
            Some(serde_json::json!({"id": "authenticationMethodsPolicy"}))
        );
        assert_eq!(t.users[0].display_name, "changed");
    }

    #[test]
    fn a_torn_line_in_the_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml.journal");
        std::fs::write(&path, "{\"journalOf\":\"abc\"}\n{not json\n{}\n").unwrap();
        assert!(replay(&path, "abc", &mut tenant()).is_err());
        assert!(!replay(&dir.path().join("missing"), "abc", &mut tenant()).unwrap());
    }

    #[test]
    fn a_journal_of_other_state_file_contents_is_moved_aside_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml.journal");
        let mut t = tenant();
        let mut u1 = t.users[0].clone();
        u1.display_name = "changed".into();
        let record = serde_json::to_string(&u1).unwrap();
        for text in [
            format!("{{\"journalOf\":\"other\"}}\n{record}\n"),
            format!("{record}\n"),
        ] {
            std::fs::write(&path, &text).unwrap();
            assert!(!replay(&path, "abc", &mut t).unwrap());
            assert_eq!(t.users[0].display_name, "");
            assert!(!path.exists());
            let aside: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("t.yaml.journal.stale-"))
                .collect();
            assert_eq!(aside.len(), 1, "{aside:?}");
            let kept = dir.path().join(&aside[0]);
            assert_eq!(std::fs::read_to_string(&kept).unwrap(), text);
            std::fs::remove_file(kept).unwrap();
        }
    }

    #[test]
    fn journal_path_is_beside_the_state_file() {
        assert_eq!(
            journal_path(Path::new("/x/tenant.yaml")),
            PathBuf::from("/x/tenant.yaml.journal")
        );
    }
}
