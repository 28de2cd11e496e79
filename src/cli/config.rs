//! The repository config file: `authctl.yaml` or `.authctl.toml` at the manifests' root, found by walking up from
//! the first manifest path (or the working directory, for commands without manifests) to the repository's root (the
//! directory holding `.git`) or the filesystem's. It holds defaults a team shares: tenant, client id, cloud, limits
//! and protected accounts. Flags and environment variables win over it; `auth check` shows where each setting came
//! from.
//!
//! ```yaml
//! tenant: contoso.onmicrosoft.com
//! clientId: 5a1e0c3d-7b2f-4e6a-9c8d-1f2e3a4b5c6d
//! cloud: global
//! limits: { parallelism: 8, maxRate: 800/1s, maxDeletes: 10 }
//! protectedAccounts: [breakglass@contoso.com]
//! ```

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::graph::Cloud;

/// The names looked for in each directory.
pub const FILE_NAMES: [&str; 2] = ["authctl.yaml", ".authctl.toml"];

/// A config file is small; more than this is refused.
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RepoConfig {
    /// Tenant id or domain.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The app's client id.
    #[serde(default, alias = "client_id", alias = "client-id")]
    pub client_id: Option<String>,
    /// The Microsoft cloud (`global`, `usgov`, `usgov-dod`).
    #[serde(default)]
    pub cloud: Option<String>,
    /// Limits.
    #[serde(default)]
    pub limits: Limits,
    /// Accounts authctl must never change (UPNs or object ids, compared case-insensitively).
    #[serde(default, alias = "protected_accounts", alias = "protected-accounts")]
    pub protected_accounts: Vec<String>,
}

/// `limits:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// `--parallelism`.
    #[serde(default)]
    pub parallelism: Option<u16>,
    /// `--max-rate` (`800/1s` or `off`).
    #[serde(default, alias = "max_rate", alias = "max-rate")]
    pub max_rate: Option<String>,
    /// `--max-deletes`.
    #[serde(default, alias = "max_deletes", alias = "max-deletes")]
    pub max_deletes: Option<usize>,
}

/// A config file found and read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where it is.
    pub path: PathBuf,
    /// What it says.
    pub config: RepoConfig,
}

impl Loaded {
    /// The cloud, checked.
    pub fn cloud(&self) -> Result<Option<Cloud>, String> {
        use clap::ValueEnum as _;
        self.config
            .cloud
            .as_deref()
            .map(|c| {
                Cloud::from_str(c, true).map_err(|_| {
                    format!(
                        "{}: cloud `{c}` is not one of global, usgov, usgov-dod",
                        self.path.display()
                    )
                })
            })
            .transpose()
    }

    /// True when `who` (a UPN, object id or the name in the manifest) is protected.
    pub fn is_protected(&self, who: &str) -> bool {
        self.config
            .protected_accounts
            .iter()
            .any(|p| p.trim().eq_ignore_ascii_case(who.trim()))
    }
}

/// Finds and reads the config file for manifests at `start` (a file or directory). `Ok(None)` when there is none.
pub fn discover(start: &Path) -> Result<Option<Loaded>, String> {
    let start = if start.is_file() {
        start.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        start.to_path_buf()
    };
    let start = if start.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        start
    };
    let Ok(mut dir) = std::fs::canonicalize(&start) else {
        return Ok(None);
    };
    loop {
        let found: Vec<PathBuf> = FILE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect();
        match found.as_slice() {
            [one] => return load(one).map(Some),
            [a, b, ..] => {
                return Err(format!(
                    "both {} and {} exist; keep one",
                    a.display(),
                    b.display()
                ));
            }
            [] => {}
        }
        if dir.join(".git").exists() {
            return Ok(None);
        }
        match dir.parent() {
            Some(p) => dir = p.to_path_buf(),
            None => return Ok(None),
        }
    }
}

/// Reads one config file (YAML or TOML by its name).
pub fn load(path: &Path) -> Result<Loaded, String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("{}: larger than 256 KiB", path.display()));
    }
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let config: RepoConfig = if is_toml {
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else if text.trim().is_empty() {
        RepoConfig::default()
    } else {
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let loaded = Loaded {
        path: path.to_path_buf(),
        config,
    };
    loaded.cloud()?;
    if loaded
        .config
        .limits
        .parallelism
        .is_some_and(|p| !(1..=256).contains(&p))
    {
        return Err(format!(
            "{}: limits.parallelism must be 1 to 256",
            path.display()
        ));
    }
    Ok(loaded)
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SettingSource {
    /// The setting (`tenant`, `client id`, `cloud`, `parallelism`, `max rate`, `max deletes`); in JSON as a
    /// camelCase key (`clientId`, `maxRate`, …), like every other name in authctl's JSON.
    #[serde(serialize_with = "camel_key")]
    #[schemars(with = "String")]
    pub setting: &'static str,
    /// Its value (ids and names only; never a secret).
    pub value: String,
    /// `--tenant`, `AZURE_TENANT_ID`, `/repo/authctl.yaml`, or `default`.
    pub from: String,
}

/// `client id` → `clientId`: a setting's name as a JSON key.
fn camel_key<S: serde::Serializer>(name: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split(' ').filter(|w| !w.is_empty()).enumerate() {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if i == 0 {
                out.extend(first.to_lowercase());
            } else {
                out.extend(first.to_uppercase());
            }
            out.push_str(chars.as_str());
        }
    }
    s.serialize_str(&out)
}

/// The settings given on the command line or through their environment variable (clap's value source), by arg id;
/// the config file fills only the others.
#[derive(Debug, Clone, Default)]
pub struct Explicit {
    /// Arg ids given on the command line.
    pub flags: BTreeSet<String>,
    /// Arg ids given through their environment variable.
    pub env: BTreeSet<String>,
}

impl Explicit {
    /// From the matches of the command that runs (the innermost subcommand).
    pub fn from_matches(m: &clap::ArgMatches) -> Explicit {
        let mut leaf = m;
        while let Some((_, sub)) = leaf.subcommand() {
            leaf = sub;
        }
        let mut e = Explicit::default();
        for id in leaf.ids() {
            match leaf.value_source(id.as_str()) {
                Some(clap::parser::ValueSource::CommandLine) => {
                    e.flags.insert(id.to_string());
                }
                Some(clap::parser::ValueSource::EnvVariable) => {
                    e.env.insert(id.to_string());
                }
                _ => {}
            }
        }
        e
    }

    /// True when `id` was given by flag or environment.
    pub fn given(&self, id: &str) -> bool {
        self.flags.contains(id) || self.env.contains(id)
    }
}

/// Where the manifests of `paths` start: the first path that is not `-`.
pub fn manifest_root(paths: &[String]) -> Option<PathBuf> {
    paths.iter().find(|p| *p != "-").map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_toml_say_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("authctl.yaml");
        std::fs::write(
            &y,
            "tenant: contoso.com\nclientId: app\ncloud: usgov\nlimits: { parallelism: 3, maxRate: 10/1s, maxDeletes: 2 }\nprotectedAccounts: [BreakGlass@contoso.com]\n",
        )
        .unwrap();
        let t = dir.path().join(".authctl.toml");
        std::fs::write(
            &t,
            "tenant = \"contoso.com\"\nclient_id = \"app\"\ncloud = \"usgov\"\nprotected_accounts = [\"BreakGlass@contoso.com\"]\n[limits]\nparallelism = 3\nmax_rate = \"10/1s\"\nmax_deletes = 2\n",
        )
        .unwrap();
        let a = load(&y).unwrap();
        let b = load(&t).unwrap();
        assert_eq!(a.config, b.config);
        assert_eq!(a.cloud().unwrap(), Some(Cloud::Usgov));
        assert!(a.is_protected("breakglass@contoso.com"));
        // Both in one directory: ambiguous.
        let e = discover(dir.path()).unwrap_err();
        assert!(e.contains("keep one"), "{e}");
    }

    #[test]
    fn found_by_walking_up_to_the_repository_root_and_no_further() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let deep = repo.join("manifests/emea");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("a.yaml"), "x").unwrap();
        std::fs::write(repo.join("authctl.yaml"), "tenant: t1\n").unwrap();
        let found = discover(&deep.join("a.yaml")).unwrap().unwrap();
        assert_eq!(found.config.tenant.as_deref(), Some("t1"));
        // A file above the repository root is not the repository's.
        std::fs::remove_file(repo.join("authctl.yaml")).unwrap();
        std::fs::create_dir(repo.join(".git")).unwrap();
        std::fs::write(dir.path().join("authctl.yaml"), "tenant: outer\n").unwrap();
        assert!(discover(&deep).unwrap().is_none());
    }

    #[test]
    fn mistakes_name_the_file_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("authctl.yaml");
        std::fs::write(&y, "tenant: t\ntennant: typo\n").unwrap();
        let e = load(&y).unwrap_err();
        assert!(e.contains("authctl.yaml") && e.contains("tennant"), "{e}");
        std::fs::write(&y, "cloud: mars\n").unwrap();
        assert!(load(&y).unwrap_err().contains("mars"));
        let t = dir.path().join(".authctl.toml");
        std::fs::write(&t, "[limits]\nparallelism = 0\n").unwrap();
        assert!(load(&t).unwrap_err().contains("parallelism"));
    }
}
