//! The permission matrix: which application roles, delegated scopes and directory roles
//! each authctl command needs, and what a given token therefore allows. Used by `authctl auth check`.

use serde::Serialize;
use serde_json::{Map, Value};

/// Application roles or delegated scopes that read phone methods.
pub const READ_PHONES: &[&str] = &[
    "UserAuthMethod-Phone.Read.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthMethod-Phone.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
/// … that write phone methods and SMS sign-in.
pub const WRITE_PHONES: &[&str] = &[
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-Phone.ReadWrite.All",
];
/// … that list every method (and the lock-out preflight).
pub const READ_ALL_METHODS: &[&str] = &[
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
/// … that resolve UPNs.
pub const READ_USERS: &[&str] = &[
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// … that read users' full profiles, `onPremisesSyncEnabled` included (`User.ReadBasic.All` reads only the basic
/// profile; Graph answers the other properties `null`).
pub const READ_FULL_USERS: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Delegated scope for password reset.
pub const RESET_PASSWORD: &[&str] = &["UserAuthenticationMethod.ReadWrite.All"];
/// … that read the authentication methods policy (`import --policy`, plans of an `AuthenticationMethodsPolicy`
/// manifest, `tap issue`'s policy check).
pub const READ_POLICY: &[&str] = &[
    "Policy.Read.AuthenticationMethod",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
];
/// … that change it.
pub const WRITE_POLICY: &[&str] = &["Policy.ReadWrite.AuthenticationMethod"];
/// … that find groups by id or display name (`GET /groups`: the policy's targets by name).
pub const READ_GROUPS: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// … that read a user's group memberships (`transitiveMemberOf`: whether a TAP policy targeting groups reaches them).
pub const READ_MEMBERSHIPS: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// … that revoke users' sign-in sessions (`offboard --revoke-sessions`).
pub const REVOKE_SESSIONS: &[&str] = &[
    "User.RevokeSessions.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// Each method type an admin writes or removes, with the `<M>` of its granular permission
/// `UserAuthMethod-<M>.ReadWrite.All` (the classic `UserAuthenticationMethod.ReadWrite.All` covers them all).
pub const METHOD_PERMISSIONS: &[(&str, &str)] = &[
    ("phone", "Phone"),
    ("email", "Email"),
    ("microsoftAuthenticator", "MicrosoftAuthApp"),
    ("fido2", "Passkey"),
    ("windowsHelloForBusiness", "WindowsHello"),
    ("softwareOath", "SoftwareOATH"),
    ("platformCredential", "PlatformCred"),
    ("temporaryAccessPass", "TAP"),
    ("externalAuthentication", "External"),
    ("qrCodePin", "QR"),
];

/// The permissions that write (and read) one method type: its granular `UserAuthMethod-<M>.ReadWrite.All` or the
/// classic `UserAuthenticationMethod.ReadWrite.All`.
fn write_type(m: &str) -> [String; 2] {
    [
        format!("UserAuthMethod-{m}.ReadWrite.All"),
        "UserAuthenticationMethod.ReadWrite.All".to_string(),
    ]
}

/// A directory role: template id and name.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// The role template id (as in the token's `wids`).
    pub id: &'static str,
    /// The display name.
    pub name: &'static str,
}

/// Global Administrator.
pub const GLOBAL_ADMIN: Role = Role {
    id: "62e90394-69f5-4237-9190-012177145e10",
    name: "Global Administrator",
};
/// Global Reader.
pub const GLOBAL_READER: Role = Role {
    id: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    name: "Global Reader",
};
/// Authentication Administrator (sees masked numbers).
pub const AUTH_ADMIN: Role = Role {
    id: "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    name: "Authentication Administrator",
};
/// Privileged Authentication Administrator.
pub const PRIV_AUTH_ADMIN: Role = Role {
    id: "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    name: "Privileged Authentication Administrator",
};
/// Helpdesk Administrator.
pub const HELPDESK_ADMIN: Role = Role {
    id: "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    name: "Helpdesk Administrator",
};
/// Password Administrator.
pub const PASSWORD_ADMIN: Role = Role {
    id: "966707d0-3269-4727-9be2-8c3a10f19b9d",
    name: "Password Administrator",
};
/// User Administrator.
pub const USER_ADMIN: Role = Role {
    id: "fe930be7-5e62-47db-91af-98c3a49a38b1",
    name: "User Administrator",
};

/// Authentication Policy Administrator (the authentication methods policy).
pub const AUTH_POLICY_ADMIN: Role = Role {
    id: "0526716b-113d-4c15-b2c8-68e3c22b9f80",
    name: "Authentication Policy Administrator",
};

/// Every role authctl knows by name.
pub const KNOWN_ROLES: &[Role] = &[
    GLOBAL_ADMIN,
    GLOBAL_READER,
    AUTH_ADMIN,
    PRIV_AUTH_ADMIN,
    AUTH_POLICY_ADMIN,
    HELPDESK_ADMIN,
    PASSWORD_ADMIN,
    USER_ADMIN,
];

/// Roles that let a delegated caller read others' methods.
const READ_ROLES: &[Role] = &[GLOBAL_ADMIN, GLOBAL_READER, AUTH_ADMIN, PRIV_AUTH_ADMIN];
/// … write others' phone methods.
const WRITE_ROLES: &[Role] = &[GLOBAL_ADMIN, AUTH_ADMIN, PRIV_AUTH_ADMIN];
/// … reset others' passwords.
const RESET_ROLES: &[Role] = &[
    GLOBAL_ADMIN,
    AUTH_ADMIN,
    PRIV_AUTH_ADMIN,
    HELPDESK_ADMIN,
    PASSWORD_ADMIN,
    USER_ADMIN,
];

/// … read the authentication methods policy.
const POLICY_READ_ROLES: &[Role] = &[GLOBAL_ADMIN, GLOBAL_READER, AUTH_POLICY_ADMIN];
/// … change it.
const POLICY_WRITE_ROLES: &[Role] = &[GLOBAL_ADMIN, AUTH_POLICY_ADMIN];
/// … revoke others' sign-in sessions (the three administrators below only for users without an admin role).
const REVOKE_ROLES: &[Role] = &[
    GLOBAL_ADMIN,
    PRIV_AUTH_ADMIN,
    USER_ADMIN,
    HELPDESK_ADMIN,
    AUTH_ADMIN,
];

/// What a token carries, read from its claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Grants {
    /// Tenant id (`tid`).
    pub tenant: Option<String>,
    /// App id (`appid` or `azp`).
    pub app_id: Option<String>,
    /// The signed-in user (`upn`, `preferred_username` or `unique_name`); `None` for app-only tokens.
    pub user: Option<String>,
    /// Object id (`oid`).
    pub object_id: Option<String>,
    /// Application roles (`roles`).
    pub roles: Vec<String>,
    /// Delegated scopes (`scp`).
    pub scopes: Vec<String>,
    /// Directory role template ids (`wids`), or names when a token carries names.
    pub directory_roles: Vec<String>,
    /// Expiry (`exp`, seconds since the epoch).
    pub expires: Option<i64>,
}

impl Grants {
    /// Reads the grants from decoded claims.
    pub fn from_claims(c: &Map<String, Value>) -> Grants {
        let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
        let list = |k: &str| -> Vec<String> {
            match c.get(k) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
                _ => Vec::new(),
            }
        };
        let scopes = list("scp");
        let user = if scopes.is_empty() {
            None
        } else {
            s("upn")
                .or_else(|| s("preferred_username"))
                .or_else(|| s("unique_name"))
        };
        Grants {
            tenant: s("tid"),
            app_id: s("appid").or_else(|| s("azp")),
            user,
            object_id: s("oid"),
            roles: list("roles"),
            scopes,
            directory_roles: list("wids"),
            expires: c.get("exp").and_then(Value::as_i64),
        }
    }

    /// True for a delegated (user) token.
    pub fn is_delegated(&self) -> bool {
        !self.scopes.is_empty()
    }

    fn has_any(&self, perms: &[&str]) -> bool {
        let granted = if self.is_delegated() {
            &self.scopes
        } else {
            &self.roles
        };
        granted
            .iter()
            .any(|g| perms.iter().any(|p| g.eq_ignore_ascii_case(p)))
    }

    fn has_role(&self, roles: &[Role]) -> bool {
        self.directory_roles.iter().any(|w| {
            roles
                .iter()
                .any(|r| w.eq_ignore_ascii_case(r.id) || w.eq_ignore_ascii_case(r.name))
        })
    }

    /// Whether the token reads other users' `onPremisesSyncEnabled` (a full-profile permission, not just
    /// `User.ReadBasic.All`).
    pub fn reads_sync_state(&self) -> bool {
        self.has_any(READ_FULL_USERS)
    }

    /// Names of the directory roles (ids authctl does not know are shown as they are).
    pub fn role_names(&self) -> Vec<String> {
        self.directory_roles
            .iter()
            .map(|w| {
                KNOWN_ROLES
                    .iter()
                    .find(|r| w.eq_ignore_ascii_case(r.id))
                    .map_or_else(|| w.clone(), |r| r.name.to_string())
            })
            .collect()
    }
}

/// One command's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CommandAccess {
    /// The command (`plan`, `apply`, …).
    pub command: &'static str,
    /// Whether the token allows it.
    pub allowed: bool,
    /// What is missing, or a caveat (masked numbers).
    pub note: Option<String>,
}

/// What `g` allows, command by command.
pub fn evaluate(g: &Grants) -> Vec<CommandAccess> {
    let delegated = g.is_delegated();
    let kind = if delegated {
        "delegated scope"
    } else {
        "application permission"
    };
    // `perm_ok`/`perm_text`: whether the permission part is met and how to name it; `roles`: the directory roles a
    // delegated caller also needs.
    let check = |perm_ok: bool,
                 perm_text: &str,
                 roles: Option<&[Role]>,
                 what: &str|
     -> (bool, Option<String>) {
        let role_ok = !delegated || roles.is_none_or(|r| g.has_role(r));
        let mut missing = Vec::new();
        if !perm_ok {
            missing.push(format!("{kind} {perm_text}"));
        }
        if !role_ok && let Some(r) = roles {
            missing.push(format!(
                "a directory role: {}",
                r.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
            ));
        }
        if missing.is_empty() {
            (true, None)
        } else {
            (
                false,
                Some(format!("{what} needs {}", missing.join(" and "))),
            )
        }
    };
    let need = |perms: &[&str], roles: Option<&[Role]>, what: &str| {
        check(g.has_any(perms), &perms.join(" or "), roles, what)
    };
    let join = |a: Option<String>, b: Option<String>| -> Option<String> {
        match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    };
    let row = |command: &'static str, (allowed, note): (bool, Option<String>)| CommandAccess {
        command,
        allowed,
        note,
    };
    // Both parts must hold; the notes of both are kept.
    let and = |(a, x): (bool, Option<String>), (b, y): (bool, Option<String>)| (a && b, join(x, y));
    let caveat = |(a, x): (bool, Option<String>), note: Option<String>| (a, join(x, note));

    let masked =
        delegated && g.has_role(&[AUTH_ADMIN]) && !g.has_role(&[PRIV_AUTH_ADMIN, GLOBAL_ADMIN]);
    let read_note = masked.then(|| {
        "Authentication Administrator sees masked numbers: plan/drift will stop; use Privileged Authentication Administrator or an app permission".to_string()
    });
    let users = need(READ_USERS, None, "resolving UPNs");
    let phones_read = need(READ_PHONES, Some(READ_ROLES), "reading phones");
    let phones_write = need(WRITE_PHONES, Some(WRITE_ROLES), "writing phones");
    let all_methods = need(READ_ALL_METHODS, Some(READ_ROLES), "listing all methods");
    let read = caveat(and(phones_read.clone(), users.clone()), read_note.clone());
    let list = and(
        need(
            READ_ALL_METHODS,
            Some(READ_ROLES),
            "reading the method list",
        ),
        users.clone(),
    );

    // The method types an admin writes: granular `UserAuthMethod-<M>.ReadWrite.All` or the classic permission.
    let classic_write = g.has_any(&["UserAuthenticationMethod.ReadWrite.All"]);
    let writable: Vec<&str> = METHOD_PERMISSIONS
        .iter()
        .filter(|(_, m)| classic_write || g.has_any(&[write_type(m)[0].as_str()]))
        .map(|(t, _)| *t)
        .collect();
    let not_writable: Vec<&str> = METHOD_PERMISSIONS
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| !writable.contains(t))
        .collect();
    let per_type =
        "UserAuthenticationMethod.ReadWrite.All or UserAuthMethod-<M>.ReadWrite.All per type";
    // Email and registered types (phones excluded: `apply` covers them).
    let other_writable: Vec<&str> = writable.iter().copied().filter(|t| *t != "phone").collect();
    let some_write = check(
        !other_writable.is_empty(),
        per_type,
        Some(WRITE_ROLES),
        "changing the email or registered types",
    );
    let partial = (!classic_write && !other_writable.is_empty()).then(|| {
        format!(
            "changes only {}; other types need {per_type}",
            other_writable.join(", ")
        )
    });
    let every_write = check(
        not_writable.is_empty(),
        per_type,
        Some(WRITE_ROLES),
        "removing every method",
    );
    let every_write = caveat(
        every_write,
        (!not_writable.is_empty() && !writable.is_empty())
            .then(|| format!("missing for {}", not_writable.join(", "))),
    );

    // The authentication methods policy; groups named by `GET /groups`.
    let groups_note = (!g.has_any(READ_GROUPS)).then(|| {
        format!(
            "groups named in the policy need {kind} {} (without it, names can't be resolved)",
            READ_GROUPS.join(" or ")
        )
    });
    let policy_read = need(
        READ_POLICY,
        Some(POLICY_READ_ROLES),
        "reading the methods policy",
    );
    let policy_write = need(
        WRITE_POLICY,
        Some(POLICY_WRITE_ROLES),
        "changing the methods policy",
    );

    // Temporary Access Passes: the TAP policy is read first, then each user's passes listed and created or deleted.
    let tap_perms = write_type("TAP");
    let tap_perms: Vec<&str> = tap_perms.iter().map(String::as_str).collect();
    let tap = and(
        need(
            &tap_perms,
            Some(WRITE_ROLES),
            "managing Temporary Access Passes",
        ),
        users.clone(),
    );
    let members_note = (!g.has_any(READ_MEMBERSHIPS)).then(|| {
        format!(
            "a TAP policy that targets groups needs {kind} {} to check membership",
            READ_MEMBERSHIPS.join(" or ")
        )
    });

    let offboard = and(list.clone(), every_write);
    let revoke = need(
        REVOKE_SESSIONS,
        Some(REVOKE_ROLES),
        "revoking sign-in sessions",
    );
    let reset = if delegated {
        need(RESET_PASSWORD, Some(RESET_ROLES), "password reset")
    } else {
        (
            false,
            Some(
                "password reset is delegated-only: sign in with `--auth device-code` as an admin"
                    .to_string(),
            ),
        )
    };
    vec![
        row("plan", read.clone()),
        row("drift", read.clone()),
        row(
            "import",
            caveat(
                (
                    list.0,
                    list.1
                        .clone()
                        .map(|w| format!("{w} (or use `--kind PhoneMethods`)")),
                ),
                read_note.clone(),
            ),
        ),
        row("import --kind PhoneMethods", read.clone()),
        row(
            "apply",
            and(
                and(read.clone(), phones_write.clone()),
                (
                    all_methods.0,
                    all_methods
                        .1
                        .clone()
                        .map(|w| format!("{w} (lock-out preflight)")),
                ),
            ),
        ),
        row(
            "plan/drift: email, registered types",
            caveat(list.clone(), read_note.clone()),
        ),
        row(
            "apply: email, registered types",
            caveat(and(list.clone(), some_write), partial),
        ),
        row(
            "plan/drift: methods policy",
            caveat(policy_read.clone(), groups_note.clone()),
        ),
        row(
            "apply: methods policy",
            caveat(policy_write, groups_note.clone()),
        ),
        row("import --policy", caveat(policy_read.clone(), groups_note)),
        row("phone", and(phones_write.clone(), phones_read)),
        row("sms-sign-in", phones_write),
        row("methods", caveat(all_methods, read_note)),
        row(
            "tap issue",
            caveat(and(tap.clone(), policy_read), members_note),
        ),
        row("tap revoke", tap),
        row("offboard", offboard.clone()),
        row("offboard --revoke-sessions", and(offboard, revoke)),
        row("password reset", reset),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grants(v: Value) -> Grants {
        Grants::from_claims(v.as_object().unwrap())
    }

    fn allowed(g: &Grants) -> Vec<&'static str> {
        evaluate(g)
            .into_iter()
            .filter(|c| c.allowed)
            .map(|c| c.command)
            .collect()
    }

    #[test]
    fn read_only_app() {
        let g = grants(
            json!({"tid":"t","appid":"a","roles":["UserAuthenticationMethod.Read.All","User.Read.All"]}),
        );
        assert!(!g.is_delegated());
        assert_eq!(
            allowed(&g),
            [
                "plan",
                "drift",
                "import",
                "import --kind PhoneMethods",
                "plan/drift: email, registered types",
                "methods"
            ]
        );
    }

    #[test]
    fn read_write_app_cannot_reset_passwords() {
        let g = grants(
            json!({"roles":["UserAuthenticationMethod.ReadWrite.All","User.ReadBasic.All"]}),
        );
        assert_eq!(
            allowed(&g),
            [
                "plan",
                "drift",
                "import",
                "import --kind PhoneMethods",
                "apply",
                "plan/drift: email, registered types",
                "apply: email, registered types",
                "phone",
                "sms-sign-in",
                "methods",
                "tap revoke",
                "offboard"
            ]
        );
        // The TAP policy is read before a pass is issued.
        let tap = evaluate(&g)
            .into_iter()
            .find(|c| c.command == "tap issue")
            .unwrap();
        assert!(!tap.allowed);
        assert!(
            tap.note
                .unwrap()
                .contains("Policy.Read.AuthenticationMethod"),
            "the policy permission is named"
        );
        let reset = evaluate(&g)
            .into_iter()
            .find(|c| c.command == "password reset")
            .unwrap();
        assert!(reset.note.unwrap().contains("delegated-only"));
    }

    #[test]
    fn delegated_admin_needs_scope_and_role() {
        let admin = grants(
            json!({"upn":"admin@contoso.com","scp":"UserAuthenticationMethod.ReadWrite.All User.Read.All","wids":[PRIV_AUTH_ADMIN.id]}),
        );
        assert_eq!(admin.user.as_deref(), Some("admin@contoso.com"));
        // Everything but the policy (no policy scope, no policy role) and revoking sessions.
        assert_eq!(allowed(&admin).len(), 13, "{:?}", allowed(&admin));
        let no_role = grants(
            json!({"upn":"u@contoso.com","scp":"UserAuthenticationMethod.ReadWrite.All User.Read.All"}),
        );
        assert!(allowed(&no_role).is_empty());
        let helpdesk = grants(
            json!({"upn":"h@c","scp":"UserAuthenticationMethod.ReadWrite.All","wids":[HELPDESK_ADMIN.id]}),
        );
        assert_eq!(allowed(&helpdesk), ["password reset"]);
    }

    fn note(g: &Grants, command: &str) -> (bool, String) {
        let c = evaluate(g)
            .into_iter()
            .find(|c| c.command == command)
            .unwrap();
        (c.allowed, c.note.unwrap_or_default())
    }

    #[test]
    fn the_policy_needs_its_own_permission_and_the_policy_admin_role() {
        let app = grants(json!({"roles":["Policy.Read.AuthenticationMethod"]}));
        assert_eq!(
            allowed(&app),
            ["plan/drift: methods policy", "import --policy"]
        );
        let (ok, why) = note(&app, "apply: methods policy");
        assert!(!ok);
        assert!(
            why.contains("Policy.ReadWrite.AuthenticationMethod"),
            "{why}"
        );
        let (_, why) = note(&app, "import --policy");
        assert!(why.contains("GroupMember.Read.All"), "group names: {why}");

        let writer = grants(
            json!({"roles":["Policy.ReadWrite.AuthenticationMethod","GroupMember.Read.All"]}),
        );
        let (ok, why) = note(&writer, "apply: methods policy");
        assert!(ok && why.is_empty(), "{why}");

        // Delegated: the scope alone is not enough; Authentication Policy Administrator is.
        let scope = "Policy.ReadWrite.AuthenticationMethod GroupMember.Read.All";
        let no_role = grants(json!({"upn":"p@c","scp":scope,"wids":[AUTH_ADMIN.id]}));
        let (ok, why) = note(&no_role, "apply: methods policy");
        assert!(!ok);
        assert!(why.contains("Authentication Policy Administrator"), "{why}");
        let apa = grants(json!({"upn":"p@c","scp":scope,"wids":[AUTH_POLICY_ADMIN.id]}));
        assert_eq!(
            allowed(&apa),
            [
                "plan/drift: methods policy",
                "apply: methods policy",
                "import --policy"
            ]
        );
        assert_eq!(apa.role_names(), ["Authentication Policy Administrator"]);
    }

    #[test]
    fn granular_permissions_allow_only_their_types() {
        // The full list is read with the classic permission; the email and TAP are written with granular ones.
        let g = grants(json!({"roles":[
            "UserAuthenticationMethod.Read.All",
            "UserAuthMethod-Email.ReadWrite.All",
            "UserAuthMethod-TAP.ReadWrite.All",
            "Policy.Read.AuthenticationMethod",
            "User.Read.All"
        ]}));
        let (ok, why) = note(&g, "apply: email, registered types");
        assert!(ok);
        assert!(
            why.contains("changes only email, temporaryAccessPass"),
            "{why}"
        );
        let (ok, _) = note(&g, "tap issue");
        assert!(ok, "TAP write + policy read + users");
        let (ok, _) = note(&g, "tap revoke");
        assert!(ok);
        let (ok, why) = note(&g, "offboard");
        assert!(!ok);
        assert!(
            why.contains("missing for phone, microsoftAuthenticator, fido2"),
            "{why}"
        );
        assert!(!why.contains("email,"), "{why}");

        // Phone read only: `import` (which reads the whole list) is refused, `--kind PhoneMethods` is not.
        let phones = grants(json!({"roles":["UserAuthMethod-Phone.Read.All","User.Read.All"]}));
        let (ok, why) = note(&phones, "import");
        assert!(!ok);
        assert!(why.contains("--kind PhoneMethods"), "{why}");
        assert!(note(&phones, "import --kind PhoneMethods").0);
        assert!(!note(&phones, "plan/drift: email, registered types").0);
    }

    #[test]
    fn offboarding_with_revocation_needs_the_revoke_permission_and_a_revoking_role() {
        let app =
            grants(json!({"roles":["UserAuthenticationMethod.ReadWrite.All","User.Read.All"]}));
        assert!(note(&app, "offboard").0);
        let (ok, why) = note(&app, "offboard --revoke-sessions");
        assert!(!ok);
        assert!(why.contains("User.RevokeSessions.All"), "{why}");
        let app = grants(
            json!({"roles":["UserAuthenticationMethod.ReadWrite.All","User.ReadWrite.All"]}),
        );
        assert!(note(&app, "offboard --revoke-sessions").0);

        let helpdesk = grants(json!({
            "upn":"h@c",
            "scp":"UserAuthenticationMethod.ReadWrite.All User.RevokeSessions.All User.Read.All",
            "wids":[HELPDESK_ADMIN.id]
        }));
        let (ok, why) = note(&helpdesk, "offboard");
        assert!(!ok, "Helpdesk Administrator can't remove methods");
        assert!(
            why.contains("Privileged Authentication Administrator"),
            "{why}"
        );
    }

    #[test]
    fn authentication_administrator_is_warned_about_masked_numbers() {
        let g = grants(
            json!({"upn":"a@c","scp":"UserAuthenticationMethod.ReadWrite.All User.Read.All","wids":[AUTH_ADMIN.id]}),
        );
        let plan = evaluate(&g)
            .into_iter()
            .find(|c| c.command == "plan")
            .unwrap();
        assert!(plan.note.unwrap().contains("masked"));
        assert_eq!(g.role_names(), ["Authentication Administrator"]);
    }
}
