//! `authctl phone add|update|remove`: one quick phone fix, the imperative steps of Microsoft's walkthrough.
//!
//! There is no second implementation of the rules here: a change becomes a one-user, merge-mode [`DesiredUser`]
//! (only the touched type is managed), the user is read with the same pipeline `plan` uses, planned with the pure
//! engine (number validation, canonical comparison, ordering, "alternateMobile needs a mobile", SMS sign-in states,
//! the lock-out preflight), and executed with apply's executor (freshness, idempotency, convergence). What is added
//! on top is only what an imperative verb means: `add` refuses to overwrite an existing phone (that is `update`),
//! `update` refuses to create one (that is `add`), and `--manifests` warns when a manifest would undo the change.
//! `authctl sms-sign-in` runs through [`run_change`] too.

use std::collections::BTreeMap;
use std::time::Duration;

use miette::miette;

use crate::apply::{ApplyOptions, apply_user};
use crate::cli::Context;
use crate::cli::graph_args::GraphArgs;
use crate::exit::ExitCode;
use crate::model::{
    DesiredPhone, DesiredUser, Mode, ObservedUser, PhoneType, SmsSignIn, SourceLocation,
};
use crate::observe::{NoProgress, finish_plan, fresh_salt, observe};
use crate::phone::PhoneNumber;
use crate::plan::{ApplyReport, Observed, PlanSettings, UserOutcome, canonical_observed};
use crate::render::report::apply_report_text;

/// Arguments of `authctl phone`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// `authctl phone` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Add a phone of a type the user doesn't have yet.
    Add(SetArgs),
    /// Change the number of the user's phone of a type.
    Update(SetArgs),
    /// Remove the user's phone of a type (nothing to do when there is none).
    Remove(RemoveArgs),
}

/// `--type`: Graph's phone types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TypeArg {
    /// The mobile (SMS and voice; the only type for SMS sign-in).
    #[value(name = "mobile")]
    Mobile,
    /// A second mobile (voice; needs a mobile).
    #[value(name = "alternateMobile")]
    AlternateMobile,
    /// An office phone (voice; the only type that may have an extension).
    #[value(name = "office")]
    Office,
}

impl From<TypeArg> for PhoneType {
    fn from(t: TypeArg) -> PhoneType {
        match t {
            TypeArg::Mobile => PhoneType::Mobile,
            TypeArg::AlternateMobile => PhoneType::AlternateMobile,
            TypeArg::Office => PhoneType::Office,
        }
    }
}

/// Arguments of `phone add` and `phone update`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The user: userPrincipalName or object id.
    #[arg(value_name = "USER")]
    pub user: String,
    /// The phone type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub phone_type: TypeArg,
    /// The number, with `+` and country code, e.g. `+1 2065555555` (extension `x123` only on office).
    #[arg(long, value_name = "N")]
    pub number: String,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Arguments of `phone remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The user: userPrincipalName or object id.
    #[arg(value_name = "USER")]
    pub user: String,
    /// The phone type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub phone_type: TypeArg,
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// Flags every imperative change takes (`phone …`, `sms-sign-in …`).
#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Manifests (files, directories, `-`) to check: warn when they declare the user in a way that would undo
    /// this change at the next apply.
    #[arg(long, num_args = 1.., value_name = "PATHS")]
    pub manifests: Vec<String>,
    /// Allow a change that leaves the user nothing usable as a second factor or for sign-in.
    #[arg(long)]
    pub allow_lockout: bool,
    /// How long to re-read the user until Graph shows the change (replication lag).
    #[arg(long, default_value = "60s", value_parser = crate::units::parse_duration, value_name = "DURATION")]
    pub converge_timeout: Duration,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// One imperative change to one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `phone add`: a phone of a type the user doesn't have.
    Add(PhoneType, PhoneNumber),
    /// `phone update`: a new number for an existing phone.
    Update(PhoneType, PhoneNumber),
    /// `phone remove`.
    Remove(PhoneType),
    /// `sms-sign-in enable|disable`.
    SmsSignIn(SmsSignIn),
}

impl Change {
    /// The change as the one-user, merge-mode desired state the plan engine takes: only the touched type (or SMS
    /// sign-in) is managed, everything else is left alone.
    pub fn desired(&self, user: &str) -> DesiredUser {
        let mut phones = BTreeMap::new();
        let mut sms_sign_in = None;
        match self {
            Change::Add(t, n) | Change::Update(t, n) => {
                phones.insert(*t, DesiredPhone::Number(n.clone()));
            }
            Change::Remove(t) => {
                phones.insert(*t, DesiredPhone::Absent);
            }
            Change::SmsSignIn(s) => sms_sign_in = Some(*s),
        }
        DesiredUser {
            user: user.to_string(),
            mode: Mode::Merge,
            phones,
            sms_sign_in,
            source: SourceLocation {
                file: "(command line)".to_string(),
                line: 1,
                column: 1,
            },
        }
    }

    /// What the verb promises on top of the desired state: `add` never overwrites, `update` never creates.
    pub fn precondition(&self, observed: &ObservedUser) -> Result<(), String> {
        let who = &observed.user_principal_name;
        match self {
            Change::Add(t, n) => match observed.phones.get(t) {
                Some(p) => {
                    let current = canonical_observed(p).unwrap_or_else(|m| m.number);
                    if current == n.canonical() {
                        Ok(())
                    } else {
                        Err(format!(
                            "{who} already has {} {t} phone ({current}); use `authctl phone update {who} --type {t} \
                             --number \"{n}\"` to change it",
                            article(*t)
                        ))
                    }
                }
                None => Ok(()),
            },
            Change::Update(t, _) if !observed.phones.contains_key(t) => Err(format!(
                "{who} has no {t} phone to update; use `authctl phone add {who} --type {t} --number …` to add one"
            )),
            _ => Ok(()),
        }
    }

    /// When `declared` (a manifest's entry for the same user) would undo this change at the next apply: what it
    /// declares instead.
    pub fn undone_by(&self, declared: &DesiredUser) -> Option<String> {
        let mode_note = |t: PhoneType| {
            if declared.phones.contains_key(&t) {
                format!("{t}: absent")
            } else {
                format!("no {t} (exact mode: undeclared types are removed)")
            }
        };
        match self {
            Change::Add(t, n) | Change::Update(t, n) => match declared.desired(*t) {
                Some(DesiredPhone::Number(m)) if m != n => Some(format!("{t}: {m}")),
                Some(DesiredPhone::Absent) => Some(mode_note(*t)),
                _ => None,
            },
            Change::Remove(t) => match declared.desired(*t) {
                Some(DesiredPhone::Number(m)) => Some(format!("{t}: {m}")),
                _ => None,
            },
            Change::SmsSignIn(s) => match declared.sms_sign_in {
                Some(d) if d != *s => Some(format!("smsSignIn: {d}")),
                _ => None,
            },
        }
    }

    /// The change in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Change::Add(t, n) => format!("add {t} {n}"),
            Change::Update(t, n) => format!("update {t} to {n}"),
            Change::Remove(t) => format!("remove {t}"),
            Change::SmsSignIn(s) => match s {
                SmsSignIn::Enabled => "enable SMS sign-in".to_string(),
                SmsSignIn::Disabled => "disable SMS sign-in".to_string(),
            },
        }
    }
}

/// "a mobile", "an alternateMobile", "an office".
fn article(t: PhoneType) -> &'static str {
    match t {
        PhoneType::Mobile => "a",
        PhoneType::AlternateMobile | PhoneType::Office => "an",
    }
}

/// Parses a number given on the command line with the manifests' rules: strict parse (warning when possible but
/// not valid for the country), an extension only on an office phone.
pub fn parse_number(t: PhoneType, input: &str) -> Result<PhoneNumber, String> {
    let parsed = PhoneNumber::parse(input).map_err(|e| format!("--number: {e}"))?;
    if let Some(ext) = parsed.number.extension()
        && t != PhoneType::Office
    {
        return Err(format!(
            "--number: `{input}` has an extension (x{ext}); only an office phone may have one (remove the \
             extension, or use --type office)"
        ));
    }
    if let Some(w) = parsed.warning {
        tracing::warn!("{w}");
    }
    Ok(parsed.number)
}

/// Runs the command.
pub async fn run(args: Args, ctx: &Context) -> miette::Result<ExitCode> {
    let (user, change, common) = match args.action {
        Action::Add(a) => {
            let t = PhoneType::from(a.phone_type);
            let n = parse_number(t, &a.number).map_err(|e| miette!("{e}"))?;
            (a.user, Change::Add(t, n), a.change)
        }
        Action::Update(a) => {
            let t = PhoneType::from(a.phone_type);
            let n = parse_number(t, &a.number).map_err(|e| miette!("{e}"))?;
            (a.user, Change::Update(t, n), a.change)
        }
        Action::Remove(a) => (a.user, Change::Remove(a.phone_type.into()), a.change),
    };
    run_change(&user, change, &common, ctx).await
}

/// Warns (stderr) for every manifest entry of this user that would undo `change`.
fn warn_about_manifests(paths: &[String], change: &Change, observed: &ObservedUser) {
    let manifests = crate::manifest::load(paths);
    if manifests.has_errors() {
        tracing::warn!(
            errors = manifests.error_count(),
            "--manifests: the manifests have errors; checked only the users that loaded (run `authctl validate`)"
        );
    }
    let names = [
        observed.id.to_lowercase(),
        observed.user_principal_name.to_lowercase(),
    ];
    for d in &manifests.users {
        if !names.contains(&d.user.to_lowercase()) {
            continue;
        }
        if let Some(declared) = change.undone_by(d) {
            eprintln!(
                "warning: {} is declared at {} with {declared} ({} mode); the next `authctl apply` of those \
                 manifests would undo this change ({}). Change the manifest too.",
                observed.user_principal_name,
                d.source,
                d.mode,
                change.describe()
            );
        }
    }
}

/// Plans and applies one change to one user through the plan engine and apply's executor.
pub async fn run_change(
    user: &str,
    change: Change,
    common: &ChangeArgs,
    ctx: &Context,
) -> miette::Result<ExitCode> {
    let session = common.graph.connect(ctx).await?;
    let graph = session.graph.clone();
    let result = change_with(&graph, user, &change, common, ctx).await;
    session.finish().await?;
    result
}

async fn change_with(
    graph: &crate::graph::Graph,
    user: &str,
    change: &Change,
    common: &ChangeArgs,
    ctx: &Context,
) -> miette::Result<ExitCode> {
    let desired = vec![change.desired(user)];
    let mut observed = observe(graph, &desired, &NoProgress).await;
    match observed.get(user) {
        Some(Observed::Found { user: o, .. }) => {
            if let Err(e) = change.precondition(o) {
                // Printed unwrapped: the message carries a command to copy.
                eprintln!("error: {e}");
                return Ok(ExitCode::Error);
            }
            if !common.manifests.is_empty() {
                warn_about_manifests(&common.manifests, change, o);
            }
        }
        Some(Observed::Missing) | None => {
            return Err(miette!("user `{user}` does not exist in the tenant"));
        }
        Some(Observed::Error(e)) => return Err(miette!("reading user `{user}`: {e}")),
    }
    let mut settings = PlanSettings::new(graph.clock().now(), fresh_salt());
    settings.allow_lockout = common.allow_lockout;
    let the_plan = finish_plan(graph, &desired, &mut observed, &settings, &NoProgress).await;
    // A run error (Graph masked the numbers) is said as plan, drift and import say it.
    if let Some(e) = &the_plan.error {
        return Err(miette!("{e}"));
    }
    let Some(up) = the_plan.users.first() else {
        return Err(miette!("nothing was planned for `{user}`"));
    };
    let who = up.display_name().to_string();
    if let Some(e) = &up.error {
        return Err(miette!("{who}: {e}"));
    }
    for w in &up.warnings {
        tracing::warn!("{who}: {w}");
    }
    if !up.blocked.is_empty() {
        for b in &up.blocked {
            eprintln!("{who}: refused to {}: {}", change.describe(), b.reason);
        }
        eprintln!("nothing was changed");
        return Ok(ExitCode::Error);
    }
    for p in &up.pending {
        eprintln!("{who}: pending user action ({}): {}", p.target, p.reason);
    }
    if up.actions.is_empty() {
        if !ctx.quiet {
            println!(
                "{who}: nothing to do ({} is already the case)",
                change.describe()
            );
        }
        return Ok(ExitCode::Success);
    }
    let options = ApplyOptions {
        parallelism: 1,
        converge_timeout: common.converge_timeout,
        ..ApplyOptions::default()
    };
    let report = apply_user(up, graph, &options).await;
    let failed = report.outcome != UserOutcome::Done;
    let report = ApplyReport {
        error: None,
        users: vec![report],
    };
    print!("{}", apply_report_text(&report, ctx.color_stdout));
    if failed || report.has_failures() {
        Ok(ExitCode::Error)
    } else {
        Ok(ExitCode::Success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObservedPhone, SmsSignInState};

    fn number(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap().number
    }

    fn observed(phones: &[(PhoneType, &str)]) -> ObservedUser {
        ObservedUser {
            id: "id-1".into(),
            user_principal_name: "CameronW@contoso.com".into(),
            phones: phones
                .iter()
                .map(|(t, n)| {
                    (
                        *t,
                        ObservedPhone {
                            phone_type: *t,
                            phone_number: n.to_string(),
                            sms_sign_in_state: SmsSignInState::NotSupported,
                        },
                    )
                })
                .collect(),
            unknown_phones: Vec::new(),
        }
    }

    #[test]
    fn a_change_is_a_merge_mode_user_managing_only_what_it_touches() {
        let d = Change::Add(PhoneType::Office, number("+1 4255550100x12")).desired("u@c");
        assert_eq!(d.mode, Mode::Merge);
        assert_eq!(d.desired(PhoneType::Mobile), None);
        assert_eq!(
            d.desired(PhoneType::Office),
            Some(&DesiredPhone::Number(number("+1 4255550100x12")))
        );
        assert_eq!(d.sms_sign_in, None);
        let d = Change::Remove(PhoneType::AlternateMobile).desired("u@c");
        assert_eq!(
            d.desired(PhoneType::AlternateMobile),
            Some(&DesiredPhone::Absent)
        );
        assert_eq!(d.desired(PhoneType::Office), None);
        let d = Change::SmsSignIn(SmsSignIn::Enabled).desired("u@c");
        assert!(d.phones.is_empty());
        assert_eq!(d.sms_sign_in, Some(SmsSignIn::Enabled));
    }

    #[test]
    fn add_never_overwrites_and_update_never_creates() {
        let o = observed(&[(PhoneType::Mobile, "+1 2065555555")]);
        let e = Change::Add(PhoneType::Mobile, number("+1 2065550000"))
            .precondition(&o)
            .unwrap_err();
        assert!(
            e.contains("already has a mobile phone (+1 2065555555)"),
            "{e}"
        );
        assert!(e.contains("authctl phone update"), "{e}");
        // The same number written differently: nothing to do, not an error.
        assert!(
            Change::Add(PhoneType::Mobile, number("+12065555555"))
                .precondition(&o)
                .is_ok()
        );
        let e = Change::Update(PhoneType::Office, number("+1 4255550100"))
            .precondition(&o)
            .unwrap_err();
        assert!(e.contains("has no office phone"), "{e}");
        assert!(e.contains("authctl phone add"), "{e}");
        assert!(Change::Remove(PhoneType::Office).precondition(&o).is_ok());
    }

    fn declared(
        mode: Mode,
        phones: &[(PhoneType, Option<&str>)],
        sms: Option<SmsSignIn>,
    ) -> DesiredUser {
        DesiredUser {
            user: "CameronW@contoso.com".into(),
            mode,
            phones: phones
                .iter()
                .map(|(t, n)| {
                    (
                        *t,
                        n.map_or(DesiredPhone::Absent, |n| DesiredPhone::Number(number(n))),
                    )
                })
                .collect(),
            sms_sign_in: sms,
            source: SourceLocation {
                file: "m.yaml".into(),
                line: 3,
                column: 7,
            },
        }
    }

    #[test]
    fn manifests_that_would_undo_the_change_are_found() {
        let add = Change::Add(PhoneType::Office, number("+1 4255550100"));
        // Exact mode without an office: the next apply deletes it.
        let d = declared(
            Mode::Exact,
            &[(PhoneType::Mobile, Some("+1 2065555555"))],
            None,
        );
        assert!(add.undone_by(&d).unwrap().contains("exact mode"));
        // Merge mode without an office: left alone.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Mobile, Some("+1 2065555555"))],
            None,
        );
        assert_eq!(add.undone_by(&d), None);
        // Another number declared.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Office, Some("+1 4255550199"))],
            None,
        );
        assert_eq!(add.undone_by(&d).as_deref(), Some("office: +1 4255550199"));
        // The same number, written differently: in agreement.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Office, Some("+14255550100"))],
            None,
        );
        assert_eq!(add.undone_by(&d), None);
        // Removing a phone the manifest declares.
        let d = declared(
            Mode::Merge,
            &[(PhoneType::Office, Some("+1 4255550100"))],
            None,
        );
        assert!(Change::Remove(PhoneType::Office).undone_by(&d).is_some());
        assert_eq!(Change::Remove(PhoneType::Mobile).undone_by(&d), None);
        // SMS sign-in declared the other way.
        let d = declared(Mode::Merge, &[], Some(SmsSignIn::Disabled));
        assert_eq!(
            Change::SmsSignIn(SmsSignIn::Enabled)
                .undone_by(&d)
                .as_deref(),
            Some("smsSignIn: disabled")
        );
        assert_eq!(Change::SmsSignIn(SmsSignIn::Disabled).undone_by(&d), None);
    }

    #[test]
    fn numbers_follow_the_manifest_rules() {
        assert_eq!(
            parse_number(PhoneType::Mobile, "+12065555555")
                .unwrap()
                .canonical(),
            "+1 2065555555"
        );
        let e = parse_number(PhoneType::Mobile, "+1 4255550100x12").unwrap_err();
        assert!(e.contains("only an office phone may have one"), "{e}");
        assert_eq!(
            parse_number(PhoneType::Office, "+1 4255550100 ext. 12")
                .unwrap()
                .canonical(),
            "+1 4255550100x12"
        );
        assert!(
            parse_number(PhoneType::Mobile, "2065555555").is_err(),
            "a + country code is required"
        );
    }
}
