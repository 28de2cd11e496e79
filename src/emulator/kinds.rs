//! The table of non-phone authentication method types the emulator serves per type: each type's short name (as
//! the tenant file's `methods[].type`), its path segment under `/users/{id}/authentication/`, its `@odata.type`,
//! the properties Graph declares on it (external authentication methods are listed and deleted here; their create
//! is not served), the `<M>` of its granular permissions (`UserAuthMethod-<M>.Read.All`) and
//! which writes Graph allows on it. A leaf module.

/// The email method's id, the same for every user ("always `3ddfcfc8-…`" in Graph's reference).
pub const EMAIL_METHOD_ID: &str = "3ddfcfc8-9383-446f-83cc-3ab9be4be18f";

/// A method type served at its own path.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// Short name: the tenant file's `type`, and `#microsoft.graph.{short}AuthenticationMethod`.
    pub short: &'static str,
    /// The path segment, e.g. `fido2Methods`.
    pub segment: &'static str,
    /// `<M>` in `UserAuthMethod-<M>.Read.All` / `.ReadWrite.All`.
    pub permission: &'static str,
    /// The properties the type declares (besides `id`), in Graph's order.
    pub properties: &'static [&'static str],
    /// `POST` on the collection creates one (email, TAP).
    pub creatable: bool,
    /// `PATCH` on an item updates it (email).
    pub updatable: bool,
    /// One per user at a singular path without an id (`qrCodePinMethod`: GET and DELETE on the segment itself).
    pub singular: bool,
}

impl Kind {
    /// Graph's `@odata.type`.
    pub fn odata_type(&self) -> String {
        odata_type_of(self.short)
    }
}

/// Graph's `@odata.type` for a short type name: `#microsoft.graph.{short}AuthenticationMethod`, except the external
/// authentication method, whose resource is `externalAuthenticationMethod` (its path segment is
/// `externalAuthenticationMethods`, its short name here `externalAuthentication`).
pub fn odata_type_of(short: &str) -> String {
    match short {
        "externalAuthentication" => "#microsoft.graph.externalAuthenticationMethod".to_string(),
        other => format!("#microsoft.graph.{other}AuthenticationMethod"),
    }
}

/// Every method type with its own endpoints, in the order `authctl methods` lists them.
pub const KINDS: &[Kind] = &[
    Kind {
        short: "email",
        segment: "emailMethods",
        permission: "Email",
        properties: &["emailAddress"],
        creatable: true,
        updatable: true,
        singular: false,
    },
    Kind {
        short: "microsoftAuthenticator",
        segment: "microsoftAuthenticatorMethods",
        permission: "MicrosoftAuthApp",
        properties: &[
            "displayName",
            "deviceTag",
            "phoneAppVersion",
            "createdDateTime",
        ],
        creatable: false,
        updatable: false,
        singular: false,
    },
    Kind {
        short: "fido2",
        segment: "fido2Methods",
        permission: "Passkey",
        properties: &[
            "displayName",
            "createdDateTime",
            "aaGuid",
            "model",
            "attestationCertificates",
            "attestationLevel",
        ],
        creatable: false,
        updatable: false,
        singular: false,
    },
    Kind {
        short: "windowsHelloForBusiness",
        segment: "windowsHelloForBusinessMethods",
        permission: "WindowsHello",
        properties: &["displayName", "createdDateTime", "keyStrength"],
        creatable: false,
        updatable: false,
        singular: false,
    },
    Kind {
        short: "softwareOath",
        segment: "softwareOathMethods",
        permission: "SoftwareOATH",
        properties: &["secretKey"],
        creatable: false,
        updatable: false,
        singular: false,
    },
    Kind {
        short: "platformCredential",
        segment: "platformCredentialMethods",
        permission: "PlatformCred",
        properties: &["displayName", "createdDateTime", "keyStrength", "platform"],
        creatable: false,
        updatable: false,
        singular: false,
    },
    Kind {
        short: "externalAuthentication",
        segment: "externalAuthenticationMethods",
        permission: "External",
        properties: &["configurationId", "displayName", "createdDateTime"],
        creatable: false,
        updatable: false,
        singular: false,
    },
    Kind {
        short: "qrCodePin",
        segment: "qrCodePinMethod",
        permission: "QR",
        properties: &[
            "createdDateTime",
            "standardQRCode",
            "temporaryQRCode",
            "pin",
        ],
        creatable: false,
        updatable: false,
        singular: true,
    },
    Kind {
        short: "temporaryAccessPass",
        segment: "temporaryAccessPassMethods",
        permission: "TAP",
        properties: &[
            "temporaryAccessPass",
            "createdDateTime",
            "startDateTime",
            "lifetimeInMinutes",
            "isUsableOnce",
            "isUsable",
            "methodUsabilityReason",
        ],
        creatable: true,
        updatable: false,
        singular: false,
    },
];

/// The type served at this path segment (exact, as OData segments are case-sensitive).
pub fn by_segment(segment: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.segment == segment)
}

/// The email kind.
pub fn email() -> &'static Kind {
    &KINDS[0]
}

/// The TAP kind.
pub fn tap() -> &'static Kind {
    &KINDS[KINDS.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lookups() {
        assert_eq!(email().short, "email");
        assert_eq!(tap().short, "temporaryAccessPass");
        assert_eq!(by_segment("fido2Methods").unwrap().short, "fido2");
        assert!(by_segment("FIDO2Methods").is_none());
        assert_eq!(
            by_segment("platformCredentialMethods")
                .unwrap()
                .odata_type(),
            "#microsoft.graph.platformCredentialAuthenticationMethod"
        );
        assert_eq!(
            by_segment("externalAuthenticationMethods")
                .unwrap()
                .odata_type(),
            "#microsoft.graph.externalAuthenticationMethod"
        );
    }
}
