//! `--journal FILE`: JSON lines written as apply works (appended and fsynced, mode 0600), so an interrupted run
//! leaves a record of what may have reached Graph. For each operation (a write of one phone, a read of a chunk of
//! users): an `intent` line *before* its first request is sent, one `call` line per HTTP exchange, and an `outcome`
//! line after. An `intent` without its `outcome` (a run killed with SIGKILL) marks an operation that may or may not
//! have landed; a re-run re-reads the user before acting, and a human knows which call to check. Lines carry time,
//! user, operation, phone type, HTTP status and Graph's `request-id`; never a token, never a number.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::graph::trace::CallRecord;

/// What a journal line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JournalPhase {
    /// Written before the operation's first request is sent.
    Intent,
    /// One HTTP exchange (the lines journals had before phases; the default when reading them).
    #[default]
    Call,
    /// Written after the operation ended: see [`JournalEntry::outcome`].
    Outcome,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// `intent`, `call` or `outcome`.
    #[serde(default)]
    pub phase: JournalPhase,
    /// When Graph answered (`call`), or when the line was written (RFC 3339, the client's clock).
    pub time: String,
    /// The user's object id, for single-user calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// How many users a multi-user read covered (`resolve`, `read` of a chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<usize>,
    /// `resolve`, `read`, `create`, `update`, `delete`, `enable`, `disable`.
    pub op: String,
    /// `mobile`, `alternateMobile`, `office`, `smsSignIn` (for writes).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// HTTP method and path of the exchange (`call` lines).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request: String,
    /// The HTTP status; `null` when no answer arrived (dropped connection, timeout).
    pub status: Option<u16>,
    /// Graph's `request-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The `client-request-id` authctl sent (`call` lines).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_request_id: String,
    /// How the operation ended (`outcome` lines): `answered STATUS` (the last exchange's status), or `no answer: it
    /// may have landed` when the last request got no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

/// The open journal file. Shared by every worker; each line is written whole and fsynced before the next.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

/// What a journal line is about (besides the exchange itself).
#[derive(Debug, Clone, Copy)]
pub struct JournalSubject<'a> {
    /// The user's object id (single-user calls).
    pub user: Option<&'a str>,
    /// The number of users (multi-user reads).
    pub users: Option<usize>,
    /// The operation.
    pub op: &'a str,
    /// The phone type or `smsSignIn`.
    pub target: Option<&'a str>,
}

impl Journal {
    /// Opens (creating) `path` for appending, mode 0600 (also tightening an existing file's mode).
    pub fn open(path: &Path) -> std::io::Result<Journal> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the `intent` line of an operation about to start, fsynced before any request of it is sent.
    pub fn intent(
        &self,
        subject: JournalSubject<'_>,
        time: jiff::Timestamp,
    ) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let entry = line(JournalPhase::Intent, subject, time.to_string());
        append(&mut file, &entry)
    }

    /// Appends one `call` line per exchange in `records`, then the operation's `outcome` line, each fsynced.
    pub fn write(
        &self,
        subject: JournalSubject<'_>,
        records: &[CallRecord],
    ) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            let entry = JournalEntry {
                request: format!("{} {}", r.method, r.path),
                status: r.status,
                request_id: r.request_id.clone(),
                client_request_id: r.client_request_id.clone(),
                ..line(JournalPhase::Call, subject, r.time.to_string())
            };
            append(&mut file, &entry)?;
        }
        let time = records
            .last()
            .map(|r| r.time.to_string())
            .unwrap_or_default();
        let outcome = match records.last() {
            None => "no request sent".to_string(),
            Some(CallRecord {
                status: Some(s), ..
            }) => format!("answered {s}"),
            Some(_) => "no answer: it may have landed".to_string(),
        };
        let entry = JournalEntry {
            outcome: Some(outcome),
            status: records.last().and_then(|r| r.status),
            ..line(JournalPhase::Outcome, subject, time)
        };
        append(&mut file, &entry)
    }
}

/// Runs `fut` (Graph calls of one operation) with its journal lines when `journal` is set: the `intent` line,
/// fsynced, before the first request; a `call` line per exchange and the `outcome` line after. For the commands that
/// write outside a plan (`offboard`, `tap`); apply's executor goes through its runner, which does the same. `Err` when
/// a line could not be written (the caller stops starting new work).
pub async fn journaled<T>(
    journal: Option<&Journal>,
    now: jiff::Timestamp,
    subject: JournalSubject<'_>,
    fut: impl std::future::Future<Output = T>,
) -> (T, std::io::Result<()>) {
    let Some(journal) = journal else {
        return (fut.await, Ok(()));
    };
    if let Err(e) = journal.intent(subject, now) {
        return (fut.await, Err(e));
    }
    let (out, records) = crate::graph::trace::traced(fut).await;
    let written = journal.write(subject, &records);
    (out, written)
}

fn line(phase: JournalPhase, subject: JournalSubject<'_>, time: String) -> JournalEntry {
    JournalEntry {
        phase,
        time,
        user: subject.user.map(str::to_string),
        users: subject.users,
        op: subject.op.to_string(),
        target: subject.target.map(str::to_string),
        request: String::new(),
        status: None,
        request_id: None,
        client_request_id: String::new(),
        outcome: None,
    }
}

fn append(file: &mut File, entry: &JournalEntry) -> std::io::Result<()> {
    let mut text = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    text.push('\n');
    file.write_all(text.as_bytes())?;
    file.sync_data()
}
