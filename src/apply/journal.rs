//! `--journal FILE`: one JSON line per Graph call apply makes, written as it happens (appended and fsynced, mode
//! 0600), so an interrupted run leaves a record of what reached Graph. Lines carry time, user, operation, phone type,
//! HTTP status and Graph's `request-id`; never a token, never a number.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::graph::trace::CallRecord;

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// When Graph answered (RFC 3339, the client's clock).
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
    /// HTTP method and path of the exchange.
    pub request: String,
    /// The HTTP status; `null` when no answer arrived (dropped connection, timeout).
    pub status: Option<u16>,
    /// Graph's `request-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The `client-request-id` authctl sent.
    pub client_request_id: String,
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

    /// Appends one line per exchange in `records`, each fsynced.
    pub fn write(
        &self,
        subject: JournalSubject<'_>,
        records: &[CallRecord],
    ) -> std::io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            let entry = JournalEntry {
                time: r.time.to_string(),
                user: subject.user.map(str::to_string),
                users: subject.users,
                op: subject.op.to_string(),
                target: subject.target.map(str::to_string),
                request: format!("{} {}", r.method, r.path),
                status: r.status,
                request_id: r.request_id.clone(),
                client_request_id: r.client_request_id.clone(),
            };
            let mut line = serde_json::to_string(&entry).map_err(std::io::Error::other)?;
            line.push('\n');
            file.write_all(line.as_bytes())?;
            file.sync_data()?;
        }
        Ok(())
    }
}
