//! The read-only method lists: the polymorphic `…/methods` (password, phones, every other stored method type, and
//! methods passed through verbatim) and `…/passwordMethods`.

use serde_json::{Map, Value, json};

use super::super::ids::PASSWORD_METHOD_ID;
use super::super::store::{Data, EmulatorState};
use super::super::tenant::User;
use super::phones::phone_json;
use super::{Fault, Req, Resp};

fn password_method() -> Value {
    json!({ "id": PASSWORD_METHOD_ID, "password": null, "createdDateTime": null })
}

fn all_methods(state: &EmulatorState, data: &Data, u: &User, masked: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let mut pw = password_method();
    pw["@odata.type"] = json!("#microsoft.graph.passwordAuthenticationMethod");
    out.push(pw);
    for (t, p) in &u.phones {
        let mut v = phone_json(state, super::policy::sms_scope(data, u), *t, p, masked);
        v["@odata.type"] = json!("#microsoft.graph.phoneAuthenticationMethod");
        out.push(v);
    }
    for m in &u.methods {
        if m.kind == "password" {
            continue;
        }
        // `@odata.type` first, then the method as its own path shows it (a TAP's pass `null`, its usability now).
        let mut v = Map::new();
        v.insert("@odata.type".into(), json!(m.odata_type()));
        if let Value::Object(o) = super::shown::shown(state, data, u, m) {
            v.extend(o);
        }
        out.push(Value::Object(v));
    }
    out.extend(u.raw_methods.iter().cloned());
    out
}

/// `GET …/methods`.
pub(super) fn list(
    state: &EmulatorState,
    req: &Req,
    data: &Data,
    index: usize,
    masked: bool,
) -> Resp {
    let seen = state.read_user(data, index);
    let value = all_methods(state, data, &seen, masked);
    Resp::new(
        200,
        Some(json!({
            "@odata.context": format!("{}/v1.0/$metadata#users('{}')/authentication/methods", req.base, seen.id),
            "value": value,
        })),
    )
}

/// `GET …/methods/{id}`.
pub(super) fn get(
    state: &EmulatorState,
    req: &Req,
    data: &Data,
    index: usize,
    id: &str,
    masked: bool,
) -> Result<Resp, Fault> {
    let seen = state.read_user(data, index);
    let mut m = all_methods(state, data, &seen, masked)
        .into_iter()
        .find(|m| m["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id)))
        .ok_or_else(|| Fault::item_not_found(format!("Authentication method '{id}' not found.")))?;
    m["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#users('{}')/authentication/methods/$entity",
        req.base, seen.id
    ));
    Ok(Resp::new(200, Some(m)))
}

/// `GET …/passwordMethods`.
pub(super) fn password_list(req: &Req, data: &Data, index: usize) -> Resp {
    let uid = &data.tenant.users[index].id;
    Resp::new(
        200,
        Some(json!({
            "@odata.context": format!("{}/v1.0/$metadata#users('{uid}')/authentication/passwordMethods", req.base),
            "value": [password_method()],
        })),
    )
}

/// `GET …/passwordMethods/{id}`.
pub(super) fn password_get(req: &Req, data: &Data, index: usize, id: &str) -> Result<Resp, Fault> {
    if !id.eq_ignore_ascii_case(PASSWORD_METHOD_ID) {
        return Err(Fault::item_not_found(format!(
            "Password method '{id}' not found."
        )));
    }
    let uid = &data.tenant.users[index].id;
    let mut m = password_method();
    m["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#users('{uid}')/authentication/passwordMethods/$entity",
        req.base
    ));
    Ok(Resp::new(200, Some(m)))
}
