//! Password reset: `resetPassword` (an admin-given or a generated password, the synced-user rule) and the
//! long-running operation it starts, which each poll moves one step to its outcome (banned passwords fail it).

use serde_json::{Map, Value, json};

use super::super::ids::{PASSWORD_METHOD_ID, iso, new_guid};
use super::super::store::{Data, EmulatorState, Operation};
use super::{Fault, Req, Resp, body, commit, query_param, seed};

fn generate_password() -> String {
    use rand::Rng;
    let mut r = rand::rng();
    let up = b"BCDFGHJKLMNPQRSTVWXZ"[r.random_range(0..20)] as char;
    let low: String = (0..3)
        .map(|_| b"aeiouybcdfghjkmnpqrstvwxz"[r.random_range(0..25)] as char)
        .collect();
    format!("{up}{low}{:04}", r.random_range(0..10000))
}

/// `POST …/methods/{id}/resetPassword`: 202 with the operation's `Location` (and the generated password when none
/// was given).
pub(super) fn reset(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
) -> Result<Resp, Fault> {
    if !id.eq_ignore_ascii_case(PASSWORD_METHOD_ID) {
        return Err(Fault::item_not_found(format!(
            "Password method '{id}' not found."
        )));
    }
    let body = body::action(req, "resetPassword", &["newPassword"])?;
    let given = match body.get("newPassword") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Fault::bad_request("newPassword must be a string.")),
    };
    let user = &data.tenant.users[index];
    if user.synced && given.is_none() {
        return Err(Fault::bad_request(
            "newPassword is required for users whose password is managed on-premises (hybrid).",
        ));
    }
    let generated = given.is_none();
    let new_password = given.unwrap_or_else(generate_password);
    let op_id = new_guid();
    let now = state.now();
    data.operations.insert(
        op_id.clone(),
        Operation {
            user_id: user.id.clone(),
            created: now,
            last_action: now,
            polls: 0,
            new_password: new_password.clone(),
            outcome: None,
        },
    );
    let location_base = data
        .tenant
        .operations
        .location_base
        .as_deref()
        .map_or(req.base.as_str(), |b| b.trim_end_matches('/'));
    let location = format!(
        "{location_base}/v1.0/users/{}/authentication/operations/{op_id}?aadgdc=EMU01P&aadgsu=ssprprod-a",
        user.id
    );
    let retry = data.tenant.operations.retry_after_seconds.to_string();
    let body = generated.then(|| {
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#microsoft.graph.passwordResetResponse", req.base),
            "newPassword": new_password,
        })
    });
    Ok(Resp::new(202, body)
        .header("Location", location)
        .header("Retry-After", retry))
}

/// `GET …/operations/{id}`: each poll moves the operation one step (`notStarted`, `running`, its outcome).
pub(super) fn get_operation(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
    id: &str,
) -> Result<Resp, Fault> {
    let uid = data.tenant.users[index].id.clone();
    let Some(op) = data
        .operations
        .get(id)
        .cloned()
        .filter(|o| o.user_id == uid)
    else {
        return Err(Fault::item_not_found(format!(
            "Operation '{id}' not found."
        )));
    };
    let behaviour = data.tenant.operations.clone();
    let now = state.now();
    let polls = op.polls + 1;
    let mut op2 = op.clone();
    op2.polls = polls;
    // Poll 1 sees notStarted, the next `runningPolls` see running, then the outcome (by polls, not by time, so a
    // client's polling loop is deterministic whatever its clock).
    let status = if polls == 1 {
        "notStarted".to_string()
    } else if polls <= 1 + behaviour.running_polls {
        op2.last_action = now;
        "running".to_string()
    } else {
        if op2.outcome.is_none() {
            op2.last_action = now;
            let banned = data.tenant.banned_passwords.iter().any(|b| {
                !b.is_empty() && op.new_password.to_lowercase().contains(&b.to_lowercase())
            });
            op2.outcome = Some(if banned {
                (
                    "failed".into(),
                    Some(
                        "The password is on the banned password list; choose another password."
                            .into(),
                    ),
                )
            } else if behaviour.outcome == "failed" {
                (
                    "failed".into(),
                    Some(
                        behaviour
                            .failure_detail
                            .clone()
                            .unwrap_or_else(|| "The password could not be reset.".into()),
                    ),
                )
            } else {
                ("succeeded".into(), None)
            });
            if op2.outcome.as_ref().is_some_and(|o| o.0 == "succeeded") {
                let before = data.tenant.users[index].clone();
                data.tenant.users[index].password = Some(op.new_password.clone());
                commit(state, data, index, before)?;
            }
        }
        op2.outcome
            .as_ref()
            .map(|o| o.0.clone())
            .unwrap_or_default()
    };
    let detail = op2.outcome.as_ref().and_then(|o| o.1.clone());
    data.operations.insert(id.to_string(), op2.clone());
    let terminal = matches!(status.as_str(), "succeeded" | "failed");
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users('{uid}')/authentication/operations/$entity", req.base),
        "id": id,
        "createdDateTime": iso(op2.created),
        "lastActionDateTime": iso(op2.last_action),
        "resourceLocation": format!("{}/v1.0/users/{uid}/authentication/methods/{PASSWORD_METHOD_ID}", req.base),
        "status": status,
        "statusDetail": detail,
    });
    let select = query_param(&req.query, "$select");
    let body = match select {
        Some(sel) => {
            let keep: Vec<String> = sel.split(',').map(|s| s.trim().to_string()).collect();
            let mut m = Map::new();
            if let Value::Object(o) = &body {
                for (k, v) in o {
                    if k == "@odata.context" || keep.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                        m.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(m)
        }
        None => body,
    };
    // The reference shows 200; a walkthrough shows 202 while running (seed bit 1 picks it).
    let status_code = if !terminal && seed(state) & 2 == 2 {
        202
    } else {
        200
    };
    let mut r = Resp::new(status_code, Some(body));
    if !terminal {
        r = r.header("Retry-After", behaviour.retry_after_seconds.to_string());
    }
    Ok(r)
}
