//! Authorization: the permission matrix of the Graph endpoints the emulator serves (application permissions,
//! delegated scopes, directory roles, own account or another's) and whether the caller sees masked phone numbers.

use std::collections::BTreeSet;

use super::super::kinds::Kind;
use super::super::roles::{
    AUTHENTICATION_ADMINISTRATOR as AA, AUTHENTICATION_POLICY_ADMINISTRATOR as APA,
    GLOBAL_ADMINISTRATOR as GA, GLOBAL_READER as GR, HELPDESK_ADMINISTRATOR as HA,
    PASSWORD_ADMINISTRATOR as PWA, PRIVILEGED_AUTHENTICATION_ADMINISTRATOR as PAA,
    USER_ADMINISTRATOR as UA,
};
use super::super::tenant::User;
use super::super::tokens::Caller;
use super::Fault;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    PhoneRead,
    PhoneWrite,
    MethodsRead,
    UserRead,
    ResetPassword,
    OperationRead,
    /// Read a per-type method collection or item.
    KindRead(&'static Kind),
    /// Write (create, update, delete) a method of this type.
    KindWrite(&'static Kind),
    /// `revokeSignInSessions`.
    RevokeSessions,
    /// Groups (`/groups`) and a user's `memberOf`/`transitiveMemberOf`.
    GroupRead,
    /// The authentication methods policy and its configurations.
    PolicyRead,
    PolicyWrite,
}

const GROUP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const MEMBERSHIP_READ: &[&str] = &[
    "GroupMember.Read.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const POLICY_READ: &[&str] = &[
    "Policy.Read.AuthenticationMethod",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
];
const POLICY_WRITE: &[&str] = &["Policy.ReadWrite.AuthenticationMethod"];

/// The granular and classic permission names that allow `need` on a method type: `UserAuthMethod-<M>.…` beside
/// `UserAuthenticationMethod.…`; `own` adds the self-service (non-`.All`) forms.
fn kind_permissions(kind: &Kind, write: bool, own: bool) -> Vec<String> {
    let m = kind.permission;
    let mut names = vec![
        format!("UserAuthMethod-{m}.ReadWrite.All"),
        "UserAuthenticationMethod.ReadWrite.All".to_string(),
    ];
    if !write {
        names.push(format!("UserAuthMethod-{m}.Read.All"));
        names.push("UserAuthenticationMethod.Read.All".into());
    }
    if own {
        names.push(format!("UserAuthMethod-{m}.ReadWrite"));
        names.push("UserAuthenticationMethod.ReadWrite".into());
        if !write {
            names.push(format!("UserAuthMethod-{m}.Read"));
            names.push("UserAuthenticationMethod.Read".into());
        }
    }
    names
}

const REVOKE: &[&str] = &[
    "User.RevokeSessions.All",
    "User.ReadWrite.All",
    "Directory.ReadWrite.All",
];

fn any_owned(set: &BTreeSet<String>, names: &[String]) -> bool {
    names
        .iter()
        .any(|n| set.iter().any(|s| s.eq_ignore_ascii_case(n)))
}

/// Graph's answer when reading users is not allowed.
fn insufficient() -> Fault {
    Fault::new(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn any(set: &BTreeSet<String>, names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| set.iter().any(|s| s.eq_ignore_ascii_case(n)))
}

/// The permission matrix: which application permissions, delegated scopes and directory roles allow each need,
/// on one's own account or another user's (Microsoft's permission reference for each authentication-method API;
/// the emulator's reading is recorded in ASSUMPTIONS.md). `Ok(masked)`: allowed, and whether phone numbers must be
/// masked.
pub(super) fn authorize(caller: &Caller, need: Need, target: &User) -> Result<bool, Fault> {
    let denied = Fault::access_denied;
    let Some(me) = &caller.user_id else {
        // App-only.
        let ok = match need {
            Need::PhoneRead => any(
                &caller.roles,
                &[
                    "UserAuthMethod-Phone.Read.All",
                    "UserAuthMethod-Phone.ReadWrite.All",
                    "UserAuthenticationMethod.Read.All",
                    "UserAuthenticationMethod.ReadWrite.All",
                ],
            ),
            Need::PhoneWrite => any(
                &caller.roles,
                &[
                    "UserAuthMethod-Phone.ReadWrite.All",
                    "UserAuthenticationMethod.ReadWrite.All",
                ],
            ),
            Need::MethodsRead => any(
                &caller.roles,
                &[
                    "UserAuthenticationMethod.Read.All",
                    "UserAuthenticationMethod.ReadWrite.All",
                ],
            ),
            Need::UserRead => any(
                &caller.roles,
                &[
                    "User.Read.All",
                    "User.ReadBasic.All",
                    "User.ReadWrite.All",
                    "Directory.Read.All",
                    "Directory.ReadWrite.All",
                ],
            ),
            Need::KindRead(k) => any_owned(&caller.roles, &kind_permissions(k, false, false)),
            Need::KindWrite(k) => any_owned(&caller.roles, &kind_permissions(k, true, false)),
            Need::RevokeSessions => any(&caller.roles, REVOKE),
            Need::GroupRead => any(&caller.roles, MEMBERSHIP_READ),
            Need::PolicyRead => any(&caller.roles, POLICY_READ),
            Need::PolicyWrite => any(&caller.roles, POLICY_WRITE),
            Need::ResetPassword | Need::OperationRead => {
                return Err(denied(
                    "Request Authorization failed: this operation does not support application permissions.",
                ));
            }
        };
        if matches!(
            need,
            Need::UserRead | Need::RevokeSessions | Need::GroupRead
        ) && !ok
        {
            return Err(insufficient());
        }
        return if ok {
            Ok(false)
        } else {
            Err(denied("Request Authorization failed"))
        };
    };
    let own = target.id.eq_ignore_ascii_case(me);
    let scopes = &caller.scopes;
    let scope_ok = match (need, own) {
        (Need::PhoneRead, true) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.Read",
                "UserAuthMethod-Phone.ReadWrite",
                "UserAuthMethod-Phone.Read.All",
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.Read",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::PhoneRead, false) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.Read.All",
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::PhoneWrite, true) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.ReadWrite",
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::PhoneWrite, false) => any(
            scopes,
            &[
                "UserAuthMethod-Phone.ReadWrite.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::MethodsRead, true) => any(
            scopes,
            &[
                "UserAuthenticationMethod.Read",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::MethodsRead, false) => any(
            scopes,
            &[
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
        (Need::UserRead, true) => any(
            scopes,
            &[
                "User.Read",
                "User.ReadBasic.All",
                "User.Read.All",
                "User.ReadWrite",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        ),
        (Need::UserRead, false) => any(
            scopes,
            &[
                "User.ReadBasic.All",
                "User.Read.All",
                "User.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
        ),
        (Need::KindRead(k), own) => any_owned(scopes, &kind_permissions(k, false, own)),
        (Need::KindWrite(k), own) => any_owned(scopes, &kind_permissions(k, true, own)),
        (Need::RevokeSessions, _) => any(scopes, REVOKE),
        (Need::GroupRead, true) => any(scopes, MEMBERSHIP_READ) || any(scopes, &["User.Read"]),
        (Need::GroupRead, false) => any(scopes, MEMBERSHIP_READ),
        (Need::PolicyRead, _) => any(scopes, POLICY_READ),
        (Need::PolicyWrite, _) => any(scopes, POLICY_WRITE),
        (Need::ResetPassword, _) => any(scopes, &["UserAuthenticationMethod.ReadWrite.All"]),
        (Need::OperationRead, _) => any(
            scopes,
            &[
                "UserAuthenticationMethod.Read",
                "UserAuthenticationMethod.ReadWrite",
                "UserAuthenticationMethod.Read.All",
                "UserAuthenticationMethod.ReadWrite.All",
            ],
        ),
    };
    if !scope_ok {
        return Err(
            if matches!(
                need,
                Need::UserRead | Need::RevokeSessions | Need::GroupRead
            ) {
                insufficient()
            } else {
                denied("Request Authorization failed")
            },
        );
    }
    if need == Need::ResetPassword && own {
        return Err(denied(
            "An administrator can't reset their own password with this API; use self-service password reset.",
        ));
    }
    if own || matches!(need, Need::UserRead | Need::GroupRead) {
        return Ok(false);
    }
    let w = &caller.wids;
    let target_is_admin = !target.roles.is_empty();
    let has = |r: &str| w.contains(r);
    let allowed = match need {
        Need::PhoneRead | Need::MethodsRead | Need::KindRead(_) => {
            has(GA) || has(GR) || has(PAA) || has(AA)
        }
        Need::PhoneWrite | Need::KindWrite(_) => {
            has(GA) || has(PAA) || (has(AA) && !target_is_admin)
        }
        Need::RevokeSessions => {
            has(GA) || has(PAA) || ((has(UA) || has(HA) || has(AA)) && !target_is_admin)
        }
        Need::ResetPassword => {
            has(GA) || has(PAA) || ((has(AA) || has(UA) || has(HA) || has(PWA)) && !target_is_admin)
        }
        Need::OperationRead => {
            has(GA) || has(GR) || has(PAA) || has(AA) || has(UA) || has(HA) || has(PWA)
        }
        Need::UserRead | Need::GroupRead => true,
        Need::PolicyRead => has(GA) || has(GR) || has(APA),
        Need::PolicyWrite => has(GA) || has(APA),
    };
    if !allowed && need == Need::RevokeSessions {
        return Err(insufficient());
    }
    if !allowed && matches!(need, Need::PolicyRead | Need::PolicyWrite) {
        return Err(denied(
            "Request Authorization failed: the signed-in user's directory roles do not allow this operation on the authentication methods policy.",
        ));
    }
    if !allowed {
        return Err(denied(
            "Request Authorization failed: the signed-in user's directory roles do not allow this operation on this user.",
        ));
    }
    if matches!(need, Need::PolicyRead | Need::PolicyWrite) {
        return Ok(false);
    }
    // Only Global Administrators and Privileged Authentication Administrators read full numbers of others.
    Ok(!(has(GA) || has(PAA)))
}

/// The permission of `GET /groups`, which (unlike a user's `memberOf`) user permissions don't give.
pub(super) fn authorize_groups(caller: &Caller) -> Result<(), Fault> {
    let set = if caller.user_id.is_some() {
        &caller.scopes
    } else {
        &caller.roles
    };
    if any(set, GROUP_READ) {
        Ok(())
    } else {
        Err(insufficient())
    }
}

/// Whether the caller reads users' full profiles, or only the basic one: `User.ReadBasic.All` alone gives
/// `displayName`, `givenName`, `id`, `mail`, `surname` and `userPrincipalName`; Graph answers the other properties
/// as `null` (ASSUMPTIONS.md). `User.Read`/`User.ReadWrite` read the signed-in user's own full profile.
pub(super) fn reads_full_profile(caller: &Caller, own: bool) -> bool {
    let full = [
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ];
    match caller.user_id {
        None => any(&caller.roles, &full),
        Some(_) => {
            any(&caller.scopes, &full)
                || (own && any(&caller.scopes, &["User.Read", "User.ReadWrite"]))
        }
    }
}
