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

/// Every role authctl knows by name.
pub const KNOWN_ROLES: &[Role] = &[
    GLOBAL_ADMIN,
    GLOBAL_READER,
    AUTH_ADMIN,
    PRIV_AUTH_ADMIN,
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
    let need = |perms: &[&str], roles: Option<&[Role]>, what: &str| -> (bool, Option<String>) {
        let perm_ok = g.has_any(perms);
        let role_ok = !delegated || roles.is_none_or(|r| g.has_role(r));
        let mut missing = Vec::new();
        if !perm_ok {
            missing.push(format!(
                "{} {}",
                if delegated {
                    "delegated scope"
                } else {
                    "application permission"
                },
                perms.join(" or ")
            ));
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
    let masked =
        delegated && g.has_role(&[AUTH_ADMIN]) && !g.has_role(&[PRIV_AUTH_ADMIN, GLOBAL_ADMIN]);
    let read_note = masked.then(|| {
        "Authentication Administrator sees masked numbers: plan/drift will stop; use Privileged Authentication Administrator or an app permission".to_string()
    });
    let (read_ok, read_why) = need(READ_PHONES, Some(READ_ROLES), "reading phones");
    let (users_ok, users_why) = need(READ_USERS, None, "resolving UPNs");
    let (write_ok, write_why) = need(WRITE_PHONES, Some(WRITE_ROLES), "writing phones");
    let (all_ok, all_why) = need(READ_ALL_METHODS, Some(READ_ROLES), "listing all methods");
    let join = |a: Option<String>, b: Option<String>| -> Option<String> {
        match (a, b) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    };
    let read = (
        read_ok && users_ok,
        join(join(read_why.clone(), users_why.clone()), read_note.clone()),
    );
    let mut out = vec![
        CommandAccess {
            command: "plan",
            allowed: read.0,
            note: read.1.clone(),
        },
        CommandAccess {
            command: "drift",
            allowed: read.0,
            note: read.1.clone(),
        },
        CommandAccess {
            command: "import",
            allowed: read.0,
            note: read.1.clone(),
        },
        CommandAccess {
            command: "apply",
            allowed: read.0 && write_ok && all_ok,
            note: join(
                join(read.1.clone(), write_why.clone()),
                all_why.clone().map(|w| format!("{w} (lock-out preflight)")),
            ),
        },
        CommandAccess {
            command: "phone",
            allowed: write_ok && read_ok,
            note: join(write_why.clone(), read_why.clone()),
        },
        CommandAccess {
            command: "sms-sign-in",
            allowed: write_ok,
            note: write_why,
        },
        CommandAccess {
            command: "methods",
            allowed: all_ok,
            note: join(all_why, read_note),
        },
    ];
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
    out.push(CommandAccess {
        command: "password reset",
        allowed: reset.0,
        note: reset.1,
    });
    out
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
        assert_eq!(allowed(&g), ["plan", "drift", "import", "methods"]);
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
                "apply",
                "phone",
                "sms-sign-in",
                "methods"
            ]
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
        assert_eq!(allowed(&admin).len(), 8);
        let no_role = grants(
            json!({"upn":"u@contoso.com","scp":"UserAuthenticationMethod.ReadWrite.All User.Read.All"}),
        );
        assert!(allowed(&no_role).is_empty());
        let helpdesk = grants(
            json!({"upn":"h@c","scp":"UserAuthenticationMethod.ReadWrite.All","wids":[HELPDESK_ADMIN.id]}),
        );
        assert_eq!(allowed(&helpdesk), ["password reset"]);
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
