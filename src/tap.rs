//! Temporary Access Passes, the pure part: checking what `tap issue` asks for against the tenant's TAP policy (before
//! any write, with the policy's numbers), whether the policy reaches a user, and the rows handed to the operator
//! (text, CSV, JSON). No HTTP: `cli::tap` reads the policy and the users, creates the passes and writes these rows.
//!
//! A row holds the pass itself; its `Debug` never shows it, and nothing but [`rows_text`], [`rows_csv`] and
//! [`rows_json`] (the operator's copy: stdout on request, or a 0600 file) writes it.

use serde::Serialize;

/// The numbers of the TAP policy `tap issue` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `state` is `enabled`.
    pub enabled: bool,
    /// `minimumLifetimeInMinutes`.
    pub minimum_minutes: u32,
    /// `maximumLifetimeInMinutes`.
    pub maximum_minutes: u32,
    /// `defaultLifetimeInMinutes`.
    pub default_minutes: u32,
    /// `isUsableOnce`: every pass must be one-time.
    pub one_time_only: bool,
}

/// What the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ask {
    /// `--lifetime`, in minutes.
    pub lifetime_minutes: Option<u32>,
    /// `--once` (`Some(true)`) or `--reusable` (`Some(false)`).
    pub usable_once: Option<bool>,
}

/// `90` → `1h30m`, `480` → `8h`, `45` → `45m`.
pub fn minutes_text(m: u32) -> String {
    match (m / 60, m % 60) {
        (0, r) => format!("{r}m"),
        (h, 0) => format!("{h}h"),
        (h, r) => format!("{h}h{r}m"),
    }
}

/// Checks `ask` against the policy: `Err` (nothing may be created) for a lifetime outside the policy's range or a
/// reusable pass the policy forbids, each with the policy's numbers; `Ok` with warnings otherwise (the policy is
/// disabled: passes are created but nobody can sign in with them).
pub fn check(limits: &Limits, ask: &Ask) -> Result<Vec<String>, String> {
    let lifetime = ask.lifetime_minutes.unwrap_or(limits.default_minutes);
    if lifetime < limits.minimum_minutes || lifetime > limits.maximum_minutes {
        let what = match ask.lifetime_minutes {
            Some(_) => format!("--lifetime {}", minutes_text(lifetime)),
            None => format!("the policy's default lifetime {}", minutes_text(lifetime)),
        };
        return Err(format!(
            "{what} is outside the Temporary Access Pass policy's range of {} to {} minutes ({} to {}); no pass was \
             created",
            limits.minimum_minutes,
            limits.maximum_minutes,
            minutes_text(limits.minimum_minutes),
            minutes_text(limits.maximum_minutes)
        ));
    }
    if ask.usable_once == Some(false) && limits.one_time_only {
        return Err(
            "--reusable: the Temporary Access Pass policy allows only one-time passes (isUsableOnce: true); no pass \
             was created"
                .to_string(),
        );
    }
    let mut warnings = Vec::new();
    if !limits.enabled {
        warnings.push(
            "the Temporary Access Pass method is disabled in the authentication methods policy: Graph creates the \
             passes, but nobody can sign in with them until it is enabled"
                .to_string(),
        );
    }
    Ok(warnings)
}

/// A policy target (`includeTargets`/`excludeTargets`): a group id (`all_users` for everyone) or a user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The id.
    pub id: String,
    /// `group` or `user`.
    pub target_type: String,
}

/// The special target id for every user.
pub const ALL_USERS: &str = "all_users";

/// Whether the user's groups must be read to tell if the targets reach them (a target other than `all_users` or the
/// user themselves names a group).
pub fn needs_groups(include: &[Target], exclude: &[Target]) -> bool {
    include
        .iter()
        .chain(exclude)
        .any(|t| t.target_type.eq_ignore_ascii_case("group") && t.id != ALL_USERS)
}

/// Whether the targets reach the user (`group_ids`: every group the user is in, nested ones included).
pub fn targeted(
    include: &[Target],
    exclude: &[Target],
    user_id: &str,
    group_ids: &[String],
) -> bool {
    let hits = |t: &Target| {
        t.id == ALL_USERS
            || t.id.eq_ignore_ascii_case(user_id)
            || (t.target_type.eq_ignore_ascii_case("group")
                && group_ids.iter().any(|g| g.eq_ignore_ascii_case(&t.id)))
    };
    include.iter().any(hits) && !exclude.iter().any(hits)
}

/// One pass issued: what the operator hands to the user.
#[derive(Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The user as given.
    pub user: String,
    /// userPrincipalName.
    pub user_principal_name: String,
    /// Object id.
    pub id: String,
    /// The pass.
    pub pass: String,
    /// When it becomes usable (RFC 3339).
    pub valid_from: String,
    /// When it expires (RFC 3339).
    pub valid_until: String,
    /// One sign-in only.
    pub one_time: bool,
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("user", &self.user)
            .field("id", &self.id)
            .field("pass", &"<redacted>")
            .field("valid_from", &self.valid_from)
            .field("valid_until", &self.valid_until)
            .field("one_time", &self.one_time)
            .finish()
    }
}

/// A user that got no pass, with the reason (Graph's words, or authctl's refusal).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The user as given.
    pub user: String,
    /// Why.
    pub error: String,
}

/// One CSV field: quoted when it holds a comma, quote, or line break (quotes doubled), else as is.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The CSV header.
pub const CSV_HEADER: &str = "user,userPrincipalName,id,pass,validFrom,validUntil,oneTime";

/// The rows as CSV (a header line, then one line per pass).
pub fn rows_csv(rows: &[Row]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in rows {
        let fields = [
            csv_field(&r.user),
            csv_field(&r.user_principal_name),
            csv_field(&r.id),
            csv_field(&r.pass),
            csv_field(&r.valid_from),
            csv_field(&r.valid_until),
            r.one_time.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// The rows as aligned text, one line per pass.
pub fn rows_text(rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|r| {
            crate::escape::visible(&r.user_principal_name)
                .chars()
                .count()
        })
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:width$}  {:<12}  {:<20}  {:<20}  ONE-TIME\n",
        "USER", "PASS", "VALID FROM", "VALID UNTIL"
    );
    for r in rows {
        out.push_str(&format!(
            "{:width$}  {:<12}  {:<20}  {:<20}  {}\n",
            crate::escape::visible(&r.user_principal_name),
            r.pass,
            r.valid_from,
            r.valid_until,
            if r.one_time { "yes" } else { "no" }
        ));
    }
    out
}

/// The JSON document of a run (`passes`, `failed`).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Issued<'a> {
    /// The passes issued.
    pub passes: &'a [Row],
    /// The users that got none.
    pub failed: &'a [Failure],
}

/// The run as JSON (with its `formatVersion`).
pub fn rows_json(rows: &[Row], failed: &[Failure]) -> String {
    crate::format_version::versioned_json(
        crate::format_version::TAP_FORMAT_VERSION,
        &Issued {
            passes: rows,
            failed,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            enabled: true,
            minimum_minutes: 60,
            maximum_minutes: 480,
            default_minutes: 60,
            one_time_only: false,
        }
    }

    #[test]
    fn a_lifetime_outside_the_range_is_refused_with_the_policys_numbers() {
        let e = check(
            &limits(),
            &Ask {
                lifetime_minutes: Some(30),
                usable_once: None,
            },
        )
        .unwrap_err();
        assert!(e.contains("--lifetime 30m"), "{e}");
        assert!(e.contains("60 to 480 minutes (1h to 8h)"), "{e}");
        let e = check(
            &limits(),
            &Ask {
                lifetime_minutes: Some(481),
                usable_once: None,
            },
        )
        .unwrap_err();
        assert!(e.contains("8h1m"), "{e}");
        for ok in [60, 480, 90] {
            let a = Ask {
                lifetime_minutes: Some(ok),
                usable_once: None,
            };
            assert_eq!(check(&limits(), &a), Ok(vec![]));
        }
    }

    #[test]
    fn reusable_passes_need_the_policys_consent_and_a_disabled_policy_warns() {
        let once_only = Limits {
            one_time_only: true,
            enabled: false,
            ..limits()
        };
        let reusable = Ask {
            lifetime_minutes: None,
            usable_once: Some(false),
        };
        assert!(
            check(&once_only, &reusable)
                .unwrap_err()
                .contains("one-time")
        );
        let w = check(&once_only, &Ask::default()).unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("disabled"), "{w:?}");
        assert_eq!(check(&limits(), &reusable), Ok(vec![]));
    }

    #[test]
    fn targets_reach_users_directly_through_groups_or_all_users_minus_excludes() {
        let t = |id: &str, ty: &str| Target {
            id: id.into(),
            target_type: ty.into(),
        };
        let all = [t(ALL_USERS, "group")];
        assert!(targeted(&all, &[], "u1", &[]));
        assert!(!needs_groups(&all, &[]));
        let pilot = [t("g1", "group")];
        assert!(needs_groups(&pilot, &[]));
        assert!(targeted(&pilot, &[], "u1", &["G1".into()]));
        assert!(!targeted(&pilot, &[], "u1", &["g2".into()]));
        assert!(targeted(&[t("u1", "user")], &[], "U1", &[]));
        assert!(!targeted(&all, &[t("g1", "group")], "u1", &["g1".into()]));
        assert!(!targeted(&[], &[], "u1", &[]));
    }

    #[test]
    fn rows_are_written_as_csv_and_text_and_debug_hides_the_pass() {
        let r = Row {
            user: "o'brien,pat@contoso.com".into(),
            user_principal_name: "o'brien,pat@contoso.com".into(),
            id: "id-1".into(),
            pass: "+a\"b=c".into(),
            valid_from: "2026-01-01T00:00:00Z".into(),
            valid_until: "2026-01-01T01:00:00Z".into(),
            one_time: true,
        };
        let csv = rows_csv(std::slice::from_ref(&r));
        assert_eq!(
            csv,
            format!(
                "{CSV_HEADER}\n\"o'brien,pat@contoso.com\",\"o'brien,pat@contoso.com\",id-1,\"+a\"\"b=c\",2026-01-01T00:00:00Z,2026-01-01T01:00:00Z,true\n"
            )
        );
        assert!(rows_text(std::slice::from_ref(&r)).contains("+a\"b=c"));
        assert!(!format!("{r:?}").contains("+a"));
        assert_eq!(minutes_text(45), "45m");
    }
}
