//! Phone methods: list, get, create, update, delete, and `enableSmsSignIn`/`disableSmsSignIn`, with Graph's rules
//! (one phone per type, a mobile before an alternateMobile, an immutable `phoneType`, a read-only `smsSignInState`,
//! the default method can't be deleted) and SMS sign-in registration (policy scope, one holder per number).

use serde_json::{Value, json};

use crate::model::PhoneType;

use super::super::rules;
use super::super::store::{Data, EmulatorState};
use super::super::tenant::Phone;
use super::policy::{SmsScope, sms_scope};
use super::{Fault, Req, Resp, body, commit, seed};

const PHONE_TYPE: &str = "microsoft.graph.phoneAuthenticationMethod";
/// The properties `phoneAuthenticationMethod` declares (its own and `authenticationMethod`'s `id`);
/// `smsSignInState` is declared but read-only.
const PHONE_PROPERTIES: &[&str] = &["id", "phoneNumber", "phoneType", "smsSignInState"];

/// The masking style of this run (varied by the seed; see ASSUMPTIONS.md).
fn mask_style(state: &EmulatorState) -> u8 {
    ((seed(state) >> 2) % 3) as u8
}

/// The effective SMS sign-in state of a stored phone. With the per-user flag, the stored state wins and an unset
/// one follows the flag. Derived from the SMS configuration: out of its scope is always `notAllowedByPolicy`; in
/// scope, an unset state is `ready` (registered automatically), one stored while out of scope is `notEnabled`
/// (the number must be enabled now), any other stored state stands (ASSUMPTIONS.md).
pub(super) fn sms_state(scope: SmsScope, t: PhoneType, p: &Phone) -> String {
    if t != PhoneType::Mobile {
        return "notSupported".into();
    }
    let stored = p.sms_sign_in_state.as_deref();
    if scope.derived {
        return match (scope.in_scope, stored) {
            (false, _) => "notAllowedByPolicy",
            (true, None) => "ready",
            (true, Some("notAllowedByPolicy")) => "notEnabled",
            (true, Some(s)) => s,
        }
        .into();
    }
    match stored {
        Some(s) => s.into(),
        None if scope.in_scope => "ready".into(),
        None => "notAllowedByPolicy".into(),
    }
}

/// A phone method as Graph shows it.
pub(super) fn phone_json(
    state: &EmulatorState,
    scope: SmsScope,
    t: PhoneType,
    p: &Phone,
    masked: bool,
) -> Value {
    let number = if masked {
        rules::mask(&p.number, mask_style(state))
    } else {
        p.number.clone()
    };
    json!({
        "id": t.method_id(),
        "phoneNumber": number,
        "phoneType": t.as_str(),
        "smsSignInState": sms_state(scope, t, p),
    })
}

fn no_such_id(id: &str) -> Fault {
    Fault::item_not_found(format!("Phone method '{id}' not found for the user."))
}

fn no_such_type(t: PhoneType) -> Fault {
    Fault::item_not_found(format!("The user has no {t} phone method."))
}

/// `GET …/phoneMethods`.
pub(super) fn list(
    state: &EmulatorState,
    req: &Req,
    data: &Data,
    index: usize,
    masked: bool,
) -> Resp {
    let seen = state.read_user(data, index);
    let value: Vec<Value> = seen
        .phones
        .iter()
        .map(|(t, p)| phone_json(state, sms_scope(data, &seen), *t, p, masked))
        .collect();
    Resp::new(
        200,
        Some(json!({
            "@odata.context": format!("{}/v1.0/$metadata#users('{}')/authentication/phoneMethods", req.base, seen.id),
            "value": value,
        })),
    )
}

/// `GET …/phoneMethods/{id}`.
pub(super) fn get(
    state: &EmulatorState,
    req: &Req,
    data: &Data,
    index: usize,
    id: &str,
    masked: bool,
) -> Result<Resp, Fault> {
    let seen = state.read_user(data, index);
    let (t, p) = PhoneType::from_method_id(id)
        .and_then(|t| seen.phones.get(&t).map(|p| (t, p)))
        .ok_or_else(|| no_such_id(id))?;
    let mut v = phone_json(state, sms_scope(data, &seen), t, p, masked);
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#users('{}')/authentication/phoneMethods/$entity",
        req.base, seen.id
    ));
    Ok(Resp::new(200, Some(v)))
}

/// Whether another user holds this number for SMS sign-in (`ready`).
fn number_taken(data: &Data, index: usize, number: &str) -> bool {
    let key = rules::sms_key(number);
    data.tenant.users.iter().enumerate().any(|(i, u)| {
        i != index
            && u.phones.get(&PhoneType::Mobile).is_some_and(|p| {
                rules::sms_key(&p.number) == key
                    && sms_state(sms_scope(data, u), PhoneType::Mobile, p) == "ready"
            })
    })
}

/// SMS sign-in auto-registration after a mobile was added or changed: `ready` when the user is in policy scope
/// and the number is free, `phoneNumberNotUnique` when someone else holds it, `notAllowedByPolicy` out of scope.
fn register(data: &Data, index: usize, number: &str) -> &'static str {
    let u = &data.tenant.users[index];
    if !sms_scope(data, u).in_scope {
        "notAllowedByPolicy"
    } else if number_taken(data, index, number) {
        "phoneNumberNotUnique"
    } else {
        "ready"
    }
}

/// `smsSignInState` can't be written.
fn refuse_sms_state(body: &serde_json::Map<String, Value>) -> Result<(), Fault> {
    if body.contains_key("smsSignInState") {
        return Err(Fault::bad_request(
            "smsSignInState is read-only and can't be set.",
        ));
    }
    Ok(())
}

/// The number in Graph's format for this phone type.
fn check_number(t: PhoneType, number: &str) -> Result<(), Fault> {
    rules::check_number(t, number).map_err(|e| {
        Fault::bad_request(format!(
            "Invalid phone number '{number}': {e}. Use the format +{{country code}} {{number}}x{{extension}}."
        ))
    })
}

/// Stores the phone of type `t` and commits. `registered` is the outcome of an SMS sign-in registration this
/// write triggered (a mobile added or its number changed): it becomes the stored state, and
/// `phoneNumberNotUnique` answers 409 with the phone saved, as Graph does. Without one the stored state is kept.
fn save(
    state: &EmulatorState,
    data: &mut Data,
    index: usize,
    t: PhoneType,
    number: String,
    registered: Option<&str>,
) -> Result<(), Fault> {
    let before = data.tenant.users[index].clone();
    let kept = before
        .phones
        .get(&t)
        .and_then(|p| p.sms_sign_in_state.clone());
    data.tenant.users[index].phones.insert(
        t,
        Phone {
            number,
            sms_sign_in_state: registered.map(str::to_string).or(kept),
        },
    );
    commit(state, data, index, before)?;
    if registered == Some("phoneNumberNotUnique") {
        return Err(Fault::new(
            409,
            "phoneNumberNotUnique",
            "The phone number was saved, but it is already used for SMS sign-in by another user, so it can't be registered for SMS sign-in.",
        ));
    }
    Ok(())
}

/// `POST …/phoneMethods`.
pub(super) fn create(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
) -> Result<Resp, Fault> {
    let body = body::entity(req, PHONE_TYPE, PHONE_PROPERTIES)?;
    refuse_sms_state(&body)?;
    let (Some(number), Some(ptype)) = (
        body.get("phoneNumber").and_then(Value::as_str),
        body.get("phoneType").and_then(Value::as_str),
    ) else {
        return Err(Fault::bad_request(
            "phoneNumber and phoneType are required.",
        ));
    };
    let t = PhoneType::parse(ptype)
        .ok_or_else(|| Fault::bad_request(format!("Invalid phoneType '{ptype}'.")))?;
    check_number(t, number)?;
    let user = &data.tenant.users[index];
    if user.phones.contains_key(&t) {
        return Err(Fault::bad_request(format!(
            "The user already has a phone method of type {t}; update it instead."
        )));
    }
    if t == PhoneType::AlternateMobile && !user.phones.contains_key(&PhoneType::Mobile) {
        return Err(Fault::bad_request(
            "A mobile phone must be registered before an alternateMobile phone can be added.",
        ));
    }
    let registered = (t == PhoneType::Mobile).then(|| register(data, index, number));
    save(state, data, index, t, number.to_string(), registered)?;
    let user = &data.tenant.users[index];
    let mut v = phone_json(state, sms_scope(data, user), t, &user.phones[&t], false);
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#users('{}')/authentication/phoneMethods/$entity",
        req.base, user.id
    ));
    // The reference page says 201; a Microsoft walkthrough shows 200 (seed bit 0 picks it).
    let status = if seed(state) & 1 == 1 { 200 } else { 201 };
    Ok(Resp::new(status, Some(v)).header(
        "Location",
        format!(
            "{}/v1.0/users/{}/authentication/phoneMethods/{}",
            req.base,
            user.id,
            t.method_id()
        ),
    ))
}

/// `PATCH …/phoneMethods/{id}`.
pub(super) fn update(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
) -> Result<Resp, Fault> {
    let body = body::entity(req, PHONE_TYPE, PHONE_PROPERTIES)?;
    let t = PhoneType::from_method_id(id).ok_or_else(|| no_such_id(id))?;
    let existing = data.tenant.users[index]
        .phones
        .get(&t)
        .cloned()
        .ok_or_else(|| no_such_type(t))?;
    if let Some(pt) = body.get("phoneType")
        && pt.as_str() != Some(t.as_str())
    {
        return Err(Fault::bad_request(
            "The phoneType of a phone method can't be changed; add a phone of the new type and delete the old one.",
        ));
    }
    refuse_sms_state(&body)?;
    let number = match body.get("phoneNumber") {
        None => existing.number.clone(),
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err(Fault::bad_request("phoneNumber must be a string.")),
    };
    check_number(t, &number)?;
    let changed = number != existing.number;
    let registered = (t == PhoneType::Mobile && changed).then(|| register(data, index, &number));
    save(state, data, index, t, number, registered)?;
    Ok(Resp::new(204, None))
}

/// `DELETE …/phoneMethods/{id}`.
pub(super) fn delete(
    state: &EmulatorState,
    data: &mut Data,
    index: usize,
    id: &str,
) -> Result<Resp, Fault> {
    let t = PhoneType::from_method_id(id).ok_or_else(|| no_such_id(id))?;
    let user = &data.tenant.users[index];
    if !user.phones.contains_key(&t) {
        return Err(no_such_type(t));
    }
    let is_default = user.default_method == Some(t);
    if is_default && user.methods_besides_password() > 1 {
        return Err(Fault::bad_request(format!(
            "The requested authentication method id of [{}] matches the user's current default authentication method, and cannot be deleted until the default authentication method is changed.",
            t.method_id()
        )));
    }
    if t == PhoneType::Mobile && user.phones.contains_key(&PhoneType::AlternateMobile) {
        return Err(Fault::bad_request(
            "A mobile phone can't be deleted while an alternateMobile phone exists; update the mobile or delete the alternateMobile first.",
        ));
    }
    let before = user.clone();
    let user = &mut data.tenant.users[index];
    user.phones.remove(&t);
    if is_default {
        user.default_method = None;
    }
    commit(state, data, index, before)?;
    Ok(Resp::new(204, None))
}

/// `POST …/phoneMethods/{id}/enableSmsSignIn` and `disableSmsSignIn`.
pub(super) fn sms_action(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
    enable: bool,
) -> Result<Resp, Fault> {
    let name = if enable {
        "enableSmsSignIn"
    } else {
        "disableSmsSignIn"
    };
    body::action(req, name, &[])?;
    let t = PhoneType::from_method_id(id).ok_or_else(|| no_such_id(id))?;
    if t != PhoneType::Mobile {
        return Err(Fault::bad_request(
            "SMS sign-in can only be enabled or disabled on the mobile phone method.",
        ));
    }
    let user = &data.tenant.users[index];
    let phone = user
        .phones
        .get(&t)
        .cloned()
        .ok_or_else(|| Fault::item_not_found("The user has no mobile phone method."))?;
    let scope = sms_scope(data, user);
    let current = sms_state(scope, t, &phone);
    let next = if enable {
        if !scope.in_scope {
            return Err(Fault::bad_request(
                "The user is not enabled for SMS sign-in in the authentication methods policy.",
            ));
        }
        if number_taken(data, index, &phone.number) {
            return Err(Fault::new(
                409,
                "phoneNumberNotUnique",
                "The phone number is already used for SMS sign-in by another user.",
            ));
        }
        "ready".to_string()
    } else if matches!(
        current.as_str(),
        "ready" | "notConfigured" | "phoneNumberNotUnique"
    ) {
        "notEnabled".to_string()
    } else {
        current.clone()
    };
    if next != current || phone.sms_sign_in_state.is_none() {
        let before = data.tenant.users[index].clone();
        data.tenant.users[index].phones.insert(
            t,
            Phone {
                number: phone.number,
                sms_sign_in_state: Some(next),
            },
        );
        commit(state, data, index, before)?;
    }
    Ok(Resp::new(204, None))
}
