//! Authorization: the permission matrix of the Graph endpoints the emulator serves (application permissions,
//! delegated scopes, directory roles, own account or another's) and whether the caller sees masked phone numbers.

use std::collections::BTreeSet;

use super::super::roles::{
    AUTHENTICATION_ADMINISTRATOR as AA, GLOBAL_ADMINISTRATOR as GA, GLOBAL_READER as GR,
    HELPDESK_ADMINISTRATOR as HA, PASSWORD_ADMINISTRATOR as PWA,
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR as PAA, USER_ADMINISTRATOR as UA,
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
            Need::ResetPassword | Need::OperationRead => {
                return Err(denied(
                    "Request Authorization failed: this operation does not support application permissions.",
                ));
            }
        };
        if need == Need::UserRead && !ok {
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
        return Err(if need == Need::UserRead {
            insufficient()
        } else {
            denied("Request Authorization failed")
        });
    }
    if need == Need::ResetPassword && own {
        return Err(denied(
            "An administrator can't reset their own password with this API; use self-service password reset.",
        ));
    }
    if own || need == Need::UserRead {
        return Ok(false);
    }
    let w = &caller.wids;
    let target_is_admin = !target.roles.is_empty();
    let has = |r: &str| w.contains(r);
    let allowed = match need {
        Need::PhoneRead | Need::MethodsRead => has(GA) || has(GR) || has(PAA) || has(AA),
        Need::PhoneWrite => has(GA) || has(PAA) || (has(AA) && !target_is_admin),
        Need::ResetPassword => {
            has(GA) || has(PAA) || ((has(AA) || has(UA) || has(HA) || has(PWA)) && !target_is_admin)
        }
        Need::OperationRead => {
            has(GA) || has(GR) || has(PAA) || has(AA) || has(UA) || has(HA) || has(PWA)
        }
        Need::UserRead => true,
    };
    if !allowed {
        return Err(denied(
            "Request Authorization failed: the signed-in user's directory roles do not allow this operation on this user.",
        ));
    }
    // Only Global Administrators and Privileged Authentication Administrators read full numbers of others.
    Ok(!(has(GA) || has(PAA)))
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
