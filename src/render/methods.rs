//! `authctl methods`: what each authentication method of a user is, in words. Pure: Graph's polymorphic method
//! objects (`@odata.type` kept) in, a readable name and the properties an admin looks at out, as text or JSON.
//!
//! Graph keeps adding method types, so a type authctl does not know is described by its `@odata.type` and
//! `displayName` (if any) rather than refused: listing must never fail because of a new type.

use serde_json::{Map, Value, json};

use crate::graph::types::method_kind;
use crate::model::{MethodKind, PhoneType};
use crate::plan::GraphErrorSummary;

/// One method, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodView {
    /// `@odata.type` as Graph sent it (empty when missing).
    pub odata_type: String,
    /// The method id (empty when missing).
    pub id: String,
    /// What it is.
    pub kind: MethodKind,
    /// A readable name: the kind's label, `Phone (mobile)` for phones, the `@odata.type` for unknown types.
    pub name: String,
    /// The properties worth showing, in a fixed order: (label, value).
    pub details: Vec<(&'static str, String)>,
}

impl MethodView {
    /// The details as one line: `number: +1 2065555555; SMS sign-in: ready`.
    pub fn summary(&self) -> String {
        self.details
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(a.iter().filter_map(text).collect::<Vec<_>>().join(", ")),
        Value::Object(_) => Some(v.to_string()),
    }
}

/// `createdDateTime`, or `creationDateTime` as some of Microsoft's examples spell it.
fn created(m: &Map<String, Value>) -> Option<String> {
    m.get("createdDateTime")
        .and_then(text)
        .or_else(|| m.get("creationDateTime").and_then(text))
}

/// Describes one method object from `GET …/authentication/methods` (or a per-type list).
pub fn describe(raw: &Value) -> MethodView {
    let empty = Map::new();
    let m = raw.as_object().unwrap_or(&empty);
    let odata_type = m
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let id = m
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = method_kind(raw);
    let mut details: Vec<(&'static str, String)> = Vec::new();
    let mut put = |label: &'static str, key: &str| {
        if let Some(v) = m.get(key).and_then(text) {
            details.push((label, v));
        }
    };
    let name = match kind {
        MethodKind::Phone => {
            put("number", "phoneNumber");
            put("SMS sign-in", "smsSignInState");
            let t = m
                .get("phoneType")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| PhoneType::from_method_id(&id).map(|t| t.as_str().to_string()));
            match t {
                Some(t) => format!("Phone ({t})"),
                None => "Phone".to_string(),
            }
        }
        MethodKind::Fido2 => {
            put("name", "displayName");
            put("model", "model");
            put("AAGUID", "aaGuid");
            put("attestation", "attestationLevel");
            kind.label().to_string()
        }
        MethodKind::MicrosoftAuthenticator | MethodKind::PasswordlessMicrosoftAuthenticator => {
            put("device", "displayName");
            put("device tag", "deviceTag");
            put("app version", "phoneAppVersion");
            kind.label().to_string()
        }
        MethodKind::WindowsHelloForBusiness | MethodKind::PlatformCredential => {
            put("device", "displayName");
            put("platform", "platform");
            put("key strength", "keyStrength");
            kind.label().to_string()
        }
        MethodKind::TemporaryAccessPass => {
            put("starts", "startDateTime");
            put("lifetime (minutes)", "lifetimeInMinutes");
            put("usable once", "isUsableOnce");
            put("usable", "isUsable");
            put("usability", "methodUsabilityReason");
            kind.label().to_string()
        }
        MethodKind::Email => {
            put("address", "emailAddress");
            kind.label().to_string()
        }
        MethodKind::HardwareOath => {
            put("name", "displayName");
            if let Some(Value::Object(d)) = m.get("device") {
                for (label, key) in [
                    ("serial number", "serialNumber"),
                    ("manufacturer", "manufacturer"),
                    ("model", "model"),
                ] {
                    if let Some(v) = d.get(key).and_then(text) {
                        details.push((label, v));
                    }
                }
            }
            kind.label().to_string()
        }
        MethodKind::External => {
            put("name", "displayName");
            put("configuration", "configurationId");
            kind.label().to_string()
        }
        MethodKind::Password | MethodKind::SoftwareOath | MethodKind::QrCodePin => {
            put("name", "displayName");
            kind.label().to_string()
        }
        MethodKind::Unknown => {
            put("name", "displayName");
            if odata_type.is_empty() {
                "Unknown method type (no @odata.type)".to_string()
            } else {
                odata_type.clone()
            }
        }
    };
    if let Some(c) = created(m) {
        details.push(("created", c));
    }
    MethodView {
        odata_type,
        id,
        kind,
        name,
        details,
    }
}

/// Replaces the `phoneNumber` of every phone method with `mask(number)` (for `--redact`).
pub fn redact_numbers(methods: &mut [Value], mask: &dyn Fn(&str) -> String) {
    for m in methods {
        if let Some(Value::String(n)) = m.get_mut("phoneNumber") {
            *n = mask(n);
        }
    }
}

/// One user's listing: who, and their methods or the error Graph gave.
#[derive(Debug, Clone, PartialEq)]
pub struct UserMethods {
    /// The user as given on the command line.
    pub user: String,
    /// Object id, once resolved.
    pub id: Option<String>,
    /// userPrincipalName, once resolved.
    pub upn: Option<String>,
    /// Display name, if Graph sent one.
    pub display_name: Option<String>,
    /// The methods (raw, `@odata.type` kept) or Graph's error.
    pub methods: Result<Vec<Value>, GraphErrorSummary>,
}

/// The listing as text: one block per user, one line per method with its properties.
pub fn methods_text(users: &[UserMethods]) -> String {
    let mut out = String::new();
    for (i, u) in users.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let who = u.upn.as_deref().unwrap_or(&u.user);
        out.push_str(who);
        let mut extra = Vec::new();
        if let Some(d) = &u.display_name {
            extra.push(d.clone());
        }
        if let Some(id) = &u.id {
            extra.push(id.clone());
        }
        if !extra.is_empty() {
            out.push_str(&format!(" ({})", extra.join(", ")));
        }
        out.push('\n');
        match &u.methods {
            Err(e) => out.push_str(&format!("  error: {e}\n")),
            Ok(methods) if methods.is_empty() => out.push_str("  (no methods)\n"),
            Ok(methods) => {
                let views: Vec<MethodView> = methods.iter().map(describe).collect();
                let width = views
                    .iter()
                    .map(|v| v.name.chars().count())
                    .max()
                    .unwrap_or(0);
                for v in views {
                    let pad = width - v.name.chars().count();
                    out.push_str(&format!("  {}{}  id {}", v.name, " ".repeat(pad), v.id));
                    if !v.details.is_empty() {
                        out.push_str("; ");
                        out.push_str(&v.summary());
                    }
                    out.push('\n');
                }
            }
        }
    }
    // Everything here came from Graph (names, device names, numbers): no control character reaches the terminal.
    out.split_inclusive('\n')
        .map(|l| {
            let (body, nl) = l.strip_suffix('\n').map_or((l, ""), |b| (b, "\n"));
            format!("{}{nl}", super::escape::visible(body))
        })
        .collect()
}

/// The listing as one JSON document: per user, each method with its `@odata.type`, id, kind, readable name, the
/// text summary of its key properties, and every property Graph sent (`properties`, verbatim).
pub fn methods_json(users: &[UserMethods]) -> Value {
    let users: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut o = Map::new();
            o.insert("user".into(), json!(u.user));
            o.insert("id".into(), json!(u.id));
            o.insert("userPrincipalName".into(), json!(u.upn));
            o.insert("displayName".into(), json!(u.display_name));
            match &u.methods {
                Ok(methods) => {
                    let list: Vec<Value> = methods
                        .iter()
                        .map(|raw| {
                            let v = describe(raw);
                            json!({
                                "@odata.type": raw.get("@odata.type").cloned().unwrap_or(Value::Null),
                                "id": raw.get("id").cloned().unwrap_or(Value::Null),
                                "kind": v.kind.as_str(),
                                "name": v.name,
                                "summary": v.summary(),
                                "properties": raw,
                            })
                        })
                        .collect();
                    o.insert("methods".into(), Value::Array(list));
                }
                Err(e) => {
                    o.insert("error".into(), json!(e));
                }
            }
            Value::Object(o)
        })
        .collect();
    json!({ "users": users })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::types::method_kind_of_type;

    fn example_methods() -> Vec<Value> {
        // Microsoft's methods-list example, plus the password and phone shapes of the other examples.
        vec![
            json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "-2_GRUg2-HYz6_1YG4YRAQ2",
                   "displayName": "Red key", "creationDateTime": "2020-08-10T06:44:09Z",
                   "aaGuid": "2fc0579f-8113-47ea-b116-555a8db9202a", "model": "NFC key",
                   "attestationCertificates": ["dbe793efdf1945e2df25d93653a1e8a3268a9075"], "attestationLevel": "attested"}),
            json!({"@odata.type": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
                   "id": "b5e01f81-1f81-b5e0-811f-e0b5811fe0b5", "displayName": "Jordan's Surface Book",
                   "createdDateTime": "2020-11-27T23:12:49Z", "keyStrength": "normal"}),
            json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                   "id": "28c10230-6103-485e-b985-444c60001490", "password": null, "createdDateTime": null}),
            json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
                   "id": "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber": "+1 2065555555",
                   "phoneType": "mobile", "smsSignInState": "ready"}),
        ]
    }

    #[test]
    fn every_known_type_has_its_name_and_key_properties() {
        let cases = [
            (
                json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
                       "phoneNumber": "+1 4255550100x12", "phoneType": "office", "smsSignInState": "notSupported"}),
                "Phone (office)",
                vec![
                    ("number", "+1 4255550100x12"),
                    ("SMS sign-in", "notSupported"),
                ],
            ),
            (
                json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": "a",
                       "displayName": "Avery's iPhone", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2401.0119"}),
                "Microsoft Authenticator",
                vec![
                    ("device", "Avery's iPhone"),
                    ("device tag", "SoftwareTokenActivated"),
                    ("app version", "6.2401.0119"),
                ],
            ),
            (
                json!({"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": "b", "secretKey": null}),
                "Software OATH token",
                vec![],
            ),
            (
                json!({"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod", "id": "c",
                       "createdDateTime": "2026-01-01T00:00:00Z", "lifetimeInMinutes": 60, "isUsableOnce": true,
                       "isUsable": false, "methodUsabilityReason": "Expired"}),
                "Temporary Access Pass",
                vec![
                    ("lifetime (minutes)", "60"),
                    ("usable once", "yes"),
                    ("usable", "no"),
                    ("usability", "Expired"),
                    ("created", "2026-01-01T00:00:00Z"),
                ],
            ),
            (
                json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": "d", "emailAddress": "a@b.example"}),
                "Email (password reset)",
                vec![("address", "a@b.example")],
            ),
            (
                json!({"@odata.type": "#microsoft.graph.platformCredentialAuthenticationMethod", "id": "e",
                       "displayName": "Nestor's MacBook", "keyStrength": "normal", "platform": "macOS"}),
                "Platform credential",
                vec![
                    ("device", "Nestor's MacBook"),
                    ("platform", "macOS"),
                    ("key strength", "normal"),
                ],
            ),
            (
                json!({"@odata.type": "#microsoft.graph.hardwareOathAuthenticationMethod", "id": "f",
                       "device": {"serialNumber": "123", "manufacturer": "Contoso", "model": "T1"}}),
                "Hardware OATH token",
                vec![
                    ("serial number", "123"),
                    ("manufacturer", "Contoso"),
                    ("model", "T1"),
                ],
            ),
        ];
        for (raw, name, details) in cases {
            let v = describe(&raw);
            assert_eq!(v.name, name, "{raw}");
            assert_ne!(v.kind, MethodKind::Unknown);
            let got: Vec<(&str, &str)> = v.details.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(got, details, "{raw}");
        }
    }

    #[test]
    fn microsoft_examples_are_described() {
        let views: Vec<MethodView> = example_methods().iter().map(describe).collect();
        assert_eq!(views[0].kind, MethodKind::Fido2);
        assert!(views[0].details.contains(&("model", "NFC key".into())));
        // The example spells createdDateTime as creationDateTime; both are read.
        assert!(
            views[0]
                .details
                .contains(&("created", "2020-08-10T06:44:09Z".into()))
        );
        assert_eq!(views[1].name, "Windows Hello for Business");
        assert!(
            views[1]
                .details
                .contains(&("device", "Jordan's Surface Book".into()))
        );
        assert_eq!(views[2].name, "Password");
        assert!(views[2].details.is_empty());
        assert_eq!(views[3].name, "Phone (mobile)");
    }

    #[test]
    fn unknown_types_are_shown_by_their_type_not_refused() {
        let v = describe(
            &json!({"@odata.type": "#microsoft.graph.futureAuthenticationMethod", "id": "z",
                                 "displayName": "Something new"}),
        );
        assert_eq!(v.kind, MethodKind::Unknown);
        assert_eq!(v.name, "#microsoft.graph.futureAuthenticationMethod");
        assert_eq!(v.details, vec![("name", "Something new".to_string())]);
        let v = describe(&json!({"id": "y"}));
        assert_eq!(v.kind, MethodKind::Unknown);
        assert!(v.name.contains("no @odata.type"));
        // Not even an object: still described, never a panic.
        assert_eq!(describe(&json!(42)).kind, MethodKind::Unknown);
    }

    #[test]
    fn per_type_lists_without_odata_type_are_recognised_by_shape() {
        let v = describe(
            &json!({"id": "28c10230-6103-485e-b985-444c60001490", "password": null, "creationDateTime": null}),
        );
        assert_eq!(v.kind, MethodKind::Password);
        let v = describe(
            &json!({"id": "b6332ec1-7057-4abe-9331-3d72feddfe41", "phoneNumber": "+1 2065555556"}),
        );
        assert_eq!(v.name, "Phone (alternateMobile)");
    }

    #[test]
    fn odata_type_matching_is_lenient_about_prefix_and_case() {
        assert_eq!(
            method_kind_of_type("microsoft.graph.Fido2AuthenticationMethod"),
            MethodKind::Fido2
        );
        assert_eq!(
            method_kind_of_type("#microsoft.graph.qrCodePinAuthenticationMethod"),
            MethodKind::QrCodePin
        );
    }

    fn listing(methods: Result<Vec<Value>, GraphErrorSummary>) -> Vec<UserMethods> {
        vec![UserMethods {
            user: "CameronW@contoso.com".into(),
            id: Some("0d6e4f1a".into()),
            upn: Some("CameronW@contoso.com".into()),
            display_name: Some("Cameron White".into()),
            methods,
        }]
    }

    #[test]
    fn text_lists_one_line_per_method_and_errors_per_user() {
        let t = methods_text(&listing(Ok(example_methods())));
        assert!(
            t.starts_with("CameronW@contoso.com (Cameron White, 0d6e4f1a)\n"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 5, "{t}");
        assert!(t.contains("Phone (mobile)"), "{t}");
        assert!(
            t.contains(
                "id 3179e48a-750b-4051-897c-87b9720928f7; number: +1 2065555555; SMS sign-in: ready"
            ),
            "{t}"
        );
        let t = methods_text(&listing(Err(GraphErrorSummary {
            status: Some(404),
            code: Some("Request_ResourceNotFound".into()),
            message: "gone".into(),
            request_id: Some("r1".into()),
        })));
        assert!(
            t.contains("error: 404 Request_ResourceNotFound: gone (request-id r1)"),
            "{t}"
        );
    }

    #[test]
    fn json_keeps_type_id_and_every_property() {
        let j = methods_json(&listing(Ok(example_methods())));
        let m = &j["users"][0]["methods"];
        assert_eq!(m.as_array().unwrap().len(), 4);
        assert_eq!(
            m[0]["@odata.type"],
            "#microsoft.graph.fido2AuthenticationMethod"
        );
        assert_eq!(m[0]["id"], "-2_GRUg2-HYz6_1YG4YRAQ2");
        assert_eq!(m[0]["kind"], "fido2");
        assert_eq!(
            m[0]["properties"]["aaGuid"],
            "2fc0579f-8113-47ea-b116-555a8db9202a"
        );
        assert_eq!(m[3]["summary"], "number: +1 2065555555; SMS sign-in: ready");
        assert_eq!(j["users"][0]["id"], "0d6e4f1a");
    }

    #[test]
    fn redaction_masks_phone_numbers_only() {
        let mut methods = example_methods();
        redact_numbers(&mut methods, &|n: &str| format!("masked({})", n.len()));
        assert_eq!(methods[3]["phoneNumber"], "masked(13)");
        assert_eq!(methods[0]["displayName"], "Red key");
    }
}
