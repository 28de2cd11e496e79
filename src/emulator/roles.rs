//! The one table of Entra directory role template ids the emulator knows: tenant files name roles by display name
//! or id, tokens carry the ids as `wids`, and the permission checks test for them. A leaf module.

/// Global Administrator.
pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
/// Global Reader.
pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
/// Privileged Authentication Administrator.
pub const PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
/// Authentication Administrator.
pub const AUTHENTICATION_ADMINISTRATOR: &str = "c4e39bd9-1100-46d3-8c65-fb160da0071f";
/// User Administrator.
pub const USER_ADMINISTRATOR: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
/// Helpdesk Administrator.
pub const HELPDESK_ADMINISTRATOR: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
/// Password Administrator.
pub const PASSWORD_ADMINISTRATOR: &str = "966707d0-3269-4727-9be2-8c3a10f19b9d";

/// Authentication Policy Administrator.
pub const AUTHENTICATION_POLICY_ADMINISTRATOR: &str = "0526716b-113d-4c15-b2c8-68e3c22b9f80";

/// Well-known directory role template ids, by display name.
pub const ROLES: &[(&str, &str)] = &[
    ("Global Administrator", GLOBAL_ADMINISTRATOR),
    ("Global Reader", GLOBAL_READER),
    (
        "Privileged Authentication Administrator",
        PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    ),
    ("Authentication Administrator", AUTHENTICATION_ADMINISTRATOR),
    (
        "Authentication Policy Administrator",
        AUTHENTICATION_POLICY_ADMINISTRATOR,
    ),
    ("User Administrator", USER_ADMINISTRATOR),
    ("Helpdesk Administrator", HELPDESK_ADMINISTRATOR),
    ("Password Administrator", PASSWORD_ADMINISTRATOR),
];

/// The role template id for a role written by name or id (case-insensitive); unknown names are kept as written.
pub fn role_id(role: &str) -> String {
    ROLES
        .iter()
        .find(|(name, id)| name.eq_ignore_ascii_case(role) || id.eq_ignore_ascii_case(role))
        .map(|(_, id)| (*id).to_string())
        .unwrap_or_else(|| role.to_string())
}
