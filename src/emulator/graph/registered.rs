//! The per-type method endpoints other than phones: list, get and delete for every type of `kinds::KINDS`
//! (email, Microsoft Authenticator, FIDO2, Windows Hello for Business, software OATH, platform credential, TAP),
//! and the email method's create and update (one per user, the fixed id). The TAP create is in [`super::tap`].

use serde_json::{Map, Value, json};

use super::super::kinds::{EMAIL_METHOD_ID, Kind, email};
use super::super::store::{Data, EmulatorState};
use super::super::tenant::{Method, User};
use super::shown::method_json;
use super::{Fault, Req, Resp, body, commit};

fn context(req: &Req, user: &User, kind: &Kind, entity: bool) -> String {
    format!(
        "{}/v1.0/$metadata#users('{}')/authentication/{}{}",
        req.base,
        user.id,
        kind.segment,
        if entity && !kind.singular {
            "/$entity"
        } else {
            ""
        }
    )
}

fn not_found(kind: &Kind, id: &str) -> Fault {
    if kind.singular {
        return Fault::item_not_found(format!(
            "The user has no {} authentication method.",
            kind.short
        ));
    }
    Fault::item_not_found(format!(
        "The {} authentication method '{id}' was not found for the user.",
        kind.short
    ))
}

/// Whether `m` is the method addressed as `id` at `kind`'s path (a singular path addresses the user's one).
fn is(m: &Method, kind: &Kind, id: &str) -> bool {
    m.kind == kind.short && (kind.singular || m.id.eq_ignore_ascii_case(id))
}

/// `GET …/{kind}Methods`.
pub(super) fn list(
    state: &EmulatorState,
    req: &Req,
    data: &Data,
    index: usize,
    kind: &Kind,
) -> Resp {
    let seen = state.read_user(data, index);
    let value: Vec<Value> = seen
        .methods
        .iter()
        .filter(|m| m.kind == kind.short)
        .map(|m| super::shown::shown(state, data, &seen, m))
        .collect();
    Resp::new(
        200,
        Some(json!({ "@odata.context": context(req, &seen, kind, false), "value": value })),
    )
}

/// `GET …/{kind}Methods/{id}`.
pub(super) fn get(
    state: &EmulatorState,
    req: &Req,
    data: &Data,
    index: usize,
    kind: &Kind,
    id: &str,
) -> Result<Resp, Fault> {
    let seen = state.read_user(data, index);
    let m = seen
        .methods
        .iter()
        .find(|m| is(m, kind, id))
        .ok_or_else(|| not_found(kind, id))?;
    let mut v = super::shown::shown(state, data, &seen, m);
    v["@odata.context"] = json!(context(req, &seen, kind, true));
    Ok(Resp::new(200, Some(v)))
}

/// Graph's answer to deleting the user's default method.
pub(super) fn default_method_refused(id: &str) -> Fault {
    Fault::bad_request(format!(
        "The requested authentication method id of [{id}] matches the user's current default authentication method, and cannot be deleted until the default authentication method is changed."
    ))
}

/// `DELETE …/{kind}Methods/{id}`: 204; 404 for an id the user has no method of this type under; 400 for the
/// default method while the user has another method besides the password.
pub(super) fn delete(
    state: &EmulatorState,
    data: &mut Data,
    index: usize,
    kind: &Kind,
    id: &str,
) -> Result<Resp, Fault> {
    let user = &data.tenant.users[index];
    let pos = user
        .methods
        .iter()
        .position(|m| is(m, kind, id))
        .ok_or_else(|| not_found(kind, id))?;
    let is_default = user
        .default_method_id
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(&user.methods[pos].id));
    if is_default && user.methods_besides_password() > 1 {
        return Err(default_method_refused(&user.methods[pos].id));
    }
    let before = user.clone();
    let user = &mut data.tenant.users[index];
    user.methods.remove(pos);
    if is_default {
        user.default_method_id = None;
    }
    commit(state, data, index, before)?;
    Ok(Resp::new(204, None))
}

const EMAIL_TYPE: &str = "microsoft.graph.emailAuthenticationMethod";
const EMAIL_PROPERTIES: &[&str] = &["id", "emailAddress"];

/// The emulator's email syntax check: one `@`, a non-empty local part and a dotted domain, no whitespace or
/// control characters, no display name (`Kim <kim@contoso.com>`). Graph's own rule is undocumented (ASSUMPTIONS.md).
fn check_email(address: &str) -> Result<(), Fault> {
    let bad = || {
        Fault::bad_request(format!(
            "Invalid email address '{address}'. Provide an address of the form name@domain."
        ))
    };
    if address.len() > 254 || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(bad());
    };
    if local.is_empty()
        || local.contains('@')
        || local.contains(['<', '>'])
        || domain.contains(['<', '>'])
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(())
}

fn email_address(body: &Map<String, Value>) -> Result<Option<String>, Fault> {
    match body.get("emailAddress") {
        None => Ok(None),
        Some(Value::String(s)) => {
            check_email(s)?;
            Ok(Some(s.clone()))
        }
        Some(_) => Err(Fault::bad_request("emailAddress must be a string.")),
    }
}

/// `POST …/emailMethods`: 201 with the method; 400 when the user already has one (ASSUMPTIONS.md).
pub(super) fn email_create(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
) -> Result<Resp, Fault> {
    let body = body::entity(req, EMAIL_TYPE, EMAIL_PROPERTIES)?;
    let address =
        email_address(&body)?.ok_or_else(|| Fault::bad_request("emailAddress is required."))?;
    let user = &data.tenant.users[index];
    if user.methods.iter().any(|m| m.kind == "email") {
        return Err(Fault::bad_request(
            "The user already has an email authentication method; update it instead.",
        ));
    }
    let before = user.clone();
    let m = Method {
        kind: "email".into(),
        id: EMAIL_METHOD_ID.into(),
        properties: [("emailAddress".to_string(), json!(address))]
            .into_iter()
            .collect(),
    };
    data.tenant.users[index].methods.push(m.clone());
    commit(state, data, index, before)?;
    let user = &data.tenant.users[index];
    let mut v = method_json(&m);
    v["@odata.context"] = json!(context(req, user, email(), true));
    Ok(Resp::new(201, Some(v)).header(
        "Location",
        format!(
            "{}/v1.0/users/{}/authentication/emailMethods/{EMAIL_METHOD_ID}",
            req.base, user.id
        ),
    ))
}

/// `PATCH …/emailMethods/{id}`: 204.
pub(super) fn email_update(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
) -> Result<Resp, Fault> {
    let body = body::entity(req, EMAIL_TYPE, EMAIL_PROPERTIES)?;
    let address = email_address(&body)?;
    let user = &data.tenant.users[index];
    let pos = user
        .methods
        .iter()
        .position(|m| m.kind == "email" && m.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| not_found(email(), id))?;
    if let Some(i) = body.get("id")
        && !i.as_str().is_some_and(|i| i.eq_ignore_ascii_case(id))
    {
        return Err(Fault::bad_request("The id of a method can't be changed."));
    }
    let Some(address) = address else {
        return Ok(Resp::new(204, None));
    };
    let before = user.clone();
    data.tenant.users[index].methods[pos]
        .properties
        .insert("emailAddress".into(), json!(address));
    commit(state, data, index, before)?;
    Ok(Resp::new(204, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_syntax() {
        for ok in [
            "kim@contoso.com",
            "a.b+c@sub.example.org",
            "k@bücher.example",
        ] {
            assert!(check_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "kim",
            "kim@contoso",
            "kim @contoso.com",
            "Kim <kim@contoso.com>",
            "@contoso.com",
            "kim@.com",
            "kim@contoso..com",
            "kim@contoso.com.",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
