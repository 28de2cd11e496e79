//! `authctl import`: write a manifest of users' current authentication methods, the starting point for managing
//! users that already have them. Users are named by object id (stable across renames) with the UPN as a YAML
//! comment; numbers are in canonical form; `smsSignIn` is written only where the mobile's state says something a
//! manifest can keep (`ready` → `enabled`, `notEnabled` → `disabled`). The result passes `validate` and plans clean.
//!
//! `--kind AuthenticationMethods` (the default) also reads each user's full method list
//! (`GET /users/{id}/authentication/methods`, through `$batch`) and writes the password-reset email and, per
//! registered type the user has, a keep-list of today's ids with the names and dates Graph showed as comments.
//! `--kind PhoneMethods` writes phones and SMS sign-in only, as before the new kind existed.
//!
//! Masked numbers (a caller without full read rights) are refused for the whole run: a manifest of masks would
//! delete or overwrite real numbers when applied.

use std::io::Read as _;
use std::path::PathBuf;

use miette::miette;

use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::cli::output::print_stdout;
use crate::exit::ExitCode;
use std::collections::HashMap;

use crate::graph::types::{email_address, method_kind, registration};
use crate::manifest::model::Kind;
use crate::manifest::{self, write::ImportedUser};
use crate::model::{MethodKind, Mode, ObservedUser, Registration};
use crate::observe::{self, NoProgress};
use crate::plan::{Observed, RunError, UserState};

/// `--mode`: required, like `spec.mode`, so deletion is always asked for visibly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportMode {
    /// Phone types (and the email) not listed are removed when applied.
    Exact,
    /// Only the phone types (and the email) listed are managed.
    Merge,
}

impl From<ImportMode> for Mode {
    fn from(m: ImportMode) -> Mode {
        match m {
            ImportMode::Exact => Mode::Exact,
            ImportMode::Merge => Mode::Merge,
        }
    }
}

/// `--kind`: which manifest kind to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportKind {
    /// Phones, SMS sign-in, the password-reset email and the registered method types.
    #[value(name = "AuthenticationMethods")]
    AuthenticationMethods,
    /// Phones and SMS sign-in only.
    #[value(name = "PhoneMethods")]
    PhoneMethods,
}

impl From<ImportKind> for Kind {
    fn from(k: ImportKind) -> Kind {
        match k {
            ImportKind::AuthenticationMethods => Kind::AuthenticationMethods,
            ImportKind::PhoneMethods => Kind::PhoneMethods,
        }
    }
}

/// `--report-format` of `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Warnings and a summary line on stderr.
    Text,
    /// One JSON document on stdout.
    Json,
}

/// The JSON import report (`--report-format json`).
#[derive(Debug, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// The manifest written.
    out: String,
    /// `exact` or `merge`.
    mode: String,
    /// The manifest's kind: `AuthenticationMethods` or `PhoneMethods`.
    kind: String,
    /// The users written to the manifest.
    imported: Vec<ReportedUser>,
    /// Users named that do not exist in the tenant, as given.
    missing: Vec<String>,
    /// Users that could not be read.
    errors: Vec<ImportError>,
    /// What the manifest cannot keep (e.g. an SMS sign-in state left out).
    warnings: Vec<String>,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ImportedUser")]
struct ReportedUser {
    id: String,
    user_principal_name: String,
}

#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ImportError {
    user: String,
    message: String,
}

/// Arguments of `authctl import`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("who").required(true).multiple(true).args(["users", "from_file", "policy"]))]
pub struct Args {
    /// Users to import: userPrincipalName or object id.
    #[arg(value_name = "USER")]
    pub users: Vec<String>,
    /// Read the users from a file, one per line (`#` comments and blank lines ignored; `-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// The manifest's mode: `exact` (the phones, and with kind AuthenticationMethods the email, listed are all the
    /// user may have) or `merge` (only the types listed are managed). Registered types are written as keep-lists of
    /// today's ids in either mode.
    #[arg(long, value_enum, required_unless_present = "policy")]
    pub mode: Option<ImportMode>,
    /// The manifest's kind: `AuthenticationMethods` (phones, SMS sign-in, the password-reset email and a keep-list
    /// per registered method type) or `PhoneMethods` (phones and SMS sign-in only).
    #[arg(long, value_enum, default_value_t = ImportKind::AuthenticationMethods, conflicts_with = "policy")]
    pub kind: ImportKind,
    /// Write the tenant's authentication methods policy as an `AuthenticationMethodsPolicy` manifest instead of
    /// users (every method, its state, targets and settings; groups by display name where the name is unique).
    #[arg(long, conflicts_with_all = ["users", "from_file", "mode"])]
    pub policy: bool,
    /// Write the manifest to this file (mode 0600, replaced atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How to report what was imported: `text` (lines on stderr) or `json` (one document on stdout,
    /// schemas/import-report.schema.json; needs `--out`, since stdout then carries the report, not the manifest).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text, requires = "out")]
    pub report_format: ReportFormat,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `import --policy`: today's policy as a manifest that plans clean.
async fn run_policy(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let session = args.graph.connect(ctx).await?;
    let graph = &session.graph;
    observe::check_credentials(graph)
        .await
        .map_err(|e| miette!("{e}"))?;
    let policy = graph
        .get_methods_policy()
        .await
        .map_err(|e| miette!("cannot read the authentication methods policy: {e}"))?;
    let ids = crate::manifest::policy::target_group_ids(&policy);
    // A group is written by display name only when that name picks exactly this group.
    let mut refs = std::collections::HashMap::new();
    for id in ids {
        if let Ok(g) = graph.get_group(&id).await
            && let Some(name) = g.display_name
            && let Ok(found) = graph.find_groups_by_display_name(&name).await
            && found.len() == 1
            && found[0].id.eq_ignore_ascii_case(&id)
            && !crate::manifest::model::is_guid(&name)
        {
            refs.insert(id, name);
        }
    }
    let (yaml, warnings) = crate::manifest::policy::write_policy_manifest(&policy, &refs);
    for w in &warnings {
        eprintln!("warning: {}", crate::escape::visible(w));
    }
    match &args.out {
        Some(out) => {
            crate::private_file::write_with(out, |w| w.write_all(yaml.as_bytes()))
                .map_err(|e| miette!("cannot write {}: {e}", out.display()))?;
            if !ctx.quiet {
                eprintln!(
                    "Wrote the authentication methods policy to {}",
                    out.display()
                );
            }
        }
        None => print_stdout(&yaml)?,
    }
    session.finish().await?;
    Ok(ExitCode::Success)
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    if args.policy {
        return run_policy(args, ctx).await;
    }
    let mode: Mode = args.mode.unwrap_or(ImportMode::Exact).into();
    let mut refs = args.users.clone();
    if let Some(f) = &args.from_file {
        refs.extend(read_user_list(f)?);
    }
    if refs.is_empty() {
        return Err(miette!(
            "no users to import: name them, or give --from-file with one per line"
        ));
    }
    let session = args.graph.connect(ctx).await?;
    observe::check_credentials(&session.graph)
        .await
        .map_err(|e| miette!("{e}"))?;
    let observed = observe::observe_refs(&session.graph, &refs, &NoProgress).await;

    let mut code = ExitCode::Success;
    let mut users: Vec<&ObservedUser> = Vec::new();
    let mut masked = Vec::new();
    let mut seen_ids = std::collections::HashSet::new();
    let mut report = ImportReport::default();
    for r in &refs {
        match observed.get(r) {
            Some(Observed::Found { user, .. }) => {
                if UserState::from_observed(user).is_err() {
                    masked.push(user.user_principal_name.clone());
                } else if seen_ids.insert(user.id.clone()) {
                    users.push(user);
                }
            }
            Some(Observed::Missing) => {
                report.missing.push(r.clone());
                eprintln!("error: user `{r}` does not exist in the tenant");
                code = ExitCode::Error;
            }
            Some(Observed::Error(e)) => {
                report.errors.push(ImportError {
                    user: r.clone(),
                    message: e.to_string(),
                });
                eprintln!("error: user `{r}`: Graph error: {e}");
                code = ExitCode::Error;
            }
            None => {}
        }
    }
    if !masked.is_empty() {
        session.finish().await?;
        return Err(miette!("{}", RunError::MaskedNumbers { users: masked }));
    }
    let kind = Kind::from(args.kind);
    // The full method list of each user, for the email and the registered types: a user whose list can't be read
    // is not written (a manifest without their email would remove it in exact mode).
    let mut others: HashMap<String, OtherMethods> = HashMap::new();
    if kind == Kind::AuthenticationMethods && !users.is_empty() {
        let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
        for (id, r) in session.graph.list_methods_many(&ids).await {
            match r {
                Ok(list) => {
                    others.insert(id, OtherMethods::from_list(&list));
                }
                Err(e) => {
                    let upn = users
                        .iter()
                        .find(|u| u.id == id)
                        .map_or(id.clone(), |u| u.user_principal_name.clone());
                    eprintln!("error: user `{upn}`: cannot read the method list: {e}");
                    report.errors.push(ImportError {
                        user: upn,
                        message: e.to_string(),
                    });
                    code = ExitCode::Error;
                }
            }
        }
        users.retain(|u| others.contains_key(&u.id));
    }
    if users.is_empty() {
        session.finish().await?;
        return Ok(ExitCode::Error);
    }
    let (text, notes) = manifest_yaml_of(&users, mode, kind, &others);
    let json = args.report_format == ReportFormat::Json;
    if !ctx.quiet && !json {
        for n in &notes {
            eprintln!("warning: {n}");
        }
    }
    match &args.out {
        Some(out) => {
            crate::private_file::write(out, text.as_bytes())
                .map_err(|e| miette!("cannot write {}: {e}", out.display()))?;
            if json {
                report.out = out.display().to_string();
                report.mode = mode.to_string();
                report.kind = kind.as_str().to_string();
                report.imported = users
                    .iter()
                    .map(|u| ReportedUser {
                        id: u.id.clone(),
                        user_principal_name: u.user_principal_name.clone(),
                    })
                    .collect();
                report.warnings = notes;
                print_stdout(&crate::format_version::versioned_json(
                    crate::format_version::IMPORT_REPORT_FORMAT_VERSION,
                    &report,
                ))?;
            } else if !ctx.quiet {
                eprintln!("Wrote {} user(s) to {}", users.len(), out.display());
            }
        }
        None => print_stdout(&text)?,
    }
    session.finish().await?;
    Ok(code)
}

/// One user per line; `#` starts a comment; blank lines are skipped.
pub(crate) fn read_user_list(path: &std::path::Path) -> miette::Result<Vec<String>> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| miette!("cannot read the user list from stdin: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| miette!("cannot read {}: {e}", path.display()))?
    };
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// What a user's full method list says beyond phones: the email and the registrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherMethods {
    /// The password-reset email address, if any.
    pub email: Option<String>,
    /// Every registration of a registered type (known or not).
    pub registrations: Vec<Registration>,
}

impl OtherMethods {
    /// Reads the objects of `GET /users/{id}/authentication/methods`.
    pub fn from_list(list: &[serde_json::Value]) -> OtherMethods {
        OtherMethods {
            email: list
                .iter()
                .filter(|m| method_kind(m) == MethodKind::Email)
                .find_map(email_address),
            registrations: list.iter().filter_map(registration).collect(),
        }
    }
}

/// The manifest text for `users` (whose numbers are known not to be masked) as a `PhoneMethods` document, and
/// warnings for the operator; see [`manifest_yaml_of`].
pub fn manifest_yaml(users: &[&ObservedUser], mode: Mode) -> (String, Vec<String>) {
    manifest_yaml_of(users, mode, Kind::PhoneMethods, &HashMap::new())
}

/// The manifest text for `users` of `kind`, with each user's email and registrations from `others` (by object
/// id), and warnings for the operator: the observed users as [`ImportedUser`]s (numbers canonical), written by
/// [`manifest::write::manifest_yaml`].
pub fn manifest_yaml_of(
    users: &[&ObservedUser],
    mode: Mode,
    kind: Kind,
    others: &HashMap<String, OtherMethods>,
) -> (String, Vec<String>) {
    let imported: Vec<ImportedUser<'_>> = users
        .iter()
        .map(|u| {
            let state = UserState::from_observed(u).unwrap_or_default();
            let other = others.get(&u.id).cloned().unwrap_or_default();
            ImportedUser {
                id: &u.id,
                user_principal_name: &u.user_principal_name,
                phones: state.phones,
                sms_sign_in_state: state.sms_sign_in_state,
                unknown_phone_types: u
                    .unknown_phones
                    .iter()
                    .map(|raw| {
                        raw.get("phoneType")
                            .and_then(|v| v.as_str())
                            .unwrap_or("(none)")
                            .to_string()
                    })
                    .collect(),
                email: other.email,
                registrations: other.registrations,
            }
        })
        .collect();
    manifest::write::manifest_yaml(&imported, mode, kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObservedPhone, PhoneType, SmsSignInState};

    fn user(phones: &[(PhoneType, &str, SmsSignInState)]) -> ObservedUser {
        ObservedUser {
            id: "4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e".into(),
            user_principal_name: "o'brien.pat@contoso.com".into(),
            phones: phones
                .iter()
                .map(|(t, n, s)| {
                    (
                        *t,
                        ObservedPhone {
                            phone_type: *t,
                            phone_number: (*n).into(),
                            sms_sign_in_state: s.clone(),
                        },
                    )
                })
                .collect(),
            unknown_phones: vec![],
            ..Default::default()
        }
    }

    #[test]
    fn numbers_are_canonical_and_sms_follows_state() {
        let u = user(&[
            (PhoneType::Mobile, "+12065550100", SmsSignInState::Ready),
            (
                PhoneType::Office,
                "+1 4255550100x12",
                SmsSignInState::NotSupported,
            ),
        ]);
        let (text, notes) = manifest_yaml(&[&u], Mode::Exact);
        assert!(
            text.contains(
                "- user: 4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e   # o'brien.pat@contoso.com"
            ),
            "{text}"
        );
        assert!(text.contains("mobile: \"+1 2065550100\""), "{text}");
        assert!(text.contains("office: \"+1 4255550100x12\""), "{text}");
        assert!(text.contains("smsSignIn: enabled"), "{text}");
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn sms_states_a_manifest_cannot_keep_stay_unmanaged() {
        let u = user(&[(
            PhoneType::Mobile,
            "+1 2065550100",
            SmsSignInState::NotConfigured,
        )]);
        let (text, _) = manifest_yaml(&[&u], Mode::Merge);
        assert!(!text.contains("smsSignIn: "), "{text}");
        assert!(text.contains("notConfigured"), "{text}");
    }

    #[test]
    fn the_method_list_gives_the_email_and_every_registration() {
        let list: Vec<serde_json::Value> = serde_json::from_str(
            r##"[
              {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490"},
              {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": "+1 2065550100", "phoneType": "mobile"},
              {"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": "3ddfcfc8-9383-446f-83cc-3ab9be4be18f", "emailAddress": "kim@fabrikam.example"},
              {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "k1", "displayName": "Red key", "model": "NFC key", "createdDateTime": "2020-08-10T06:44:09Z"},
              {"@odata.type": "#microsoft.graph.quantumKeyAuthenticationMethod", "id": "q1"}
            ]"##,
        )
        .unwrap();
        let o = OtherMethods::from_list(&list);
        assert_eq!(o.email.as_deref(), Some("kim@fabrikam.example"));
        let got: Vec<(&str, &str)> = o
            .registrations
            .iter()
            .map(|r| (r.method_type.name(), r.id.as_str()))
            .collect();
        assert_eq!(got, [("fido2", "k1"), ("quantumKey", "q1")]);
        assert_eq!(o.registrations[0].detail.as_deref(), Some("NFC key"));
        assert_eq!(OtherMethods::from_list(&[]), OtherMethods::default());
    }

    #[test]
    fn a_user_without_phones_lists_every_type_absent() {
        let (text, _) = manifest_yaml(&[&user(&[])], Mode::Exact);
        for t in ["mobile", "alternateMobile", "office"] {
            assert!(text.contains(&format!("{t}: absent")), "{text}");
        }
    }
}
