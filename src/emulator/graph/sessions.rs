//! `POST /users/{id}/revokeSignInSessions`: sets the user's `signInSessionsValidFromDateTime` to now and forgets
//! the refresh tokens the emulator issued to that user, answering Graph's `{"value": true}`.

use serde_json::json;

use super::super::ids::iso;
use super::super::store::{Data, EmulatorState};
use super::{Fault, Req, Resp, body, commit};

/// `POST …/revokeSignInSessions`: 200 `{"value": true}`; the action takes no parameters.
pub(super) fn revoke(
    state: &EmulatorState,
    req: &Req,
    data: &mut Data,
    index: usize,
) -> Result<Resp, Fault> {
    body::action(req, "revokeSignInSessions", &[])?;
    let before = data.tenant.users[index].clone();
    let uid = before.id.clone();
    data.tenant.users[index].sign_in_sessions_valid_from = Some(iso(state.now()));
    data.refresh_tokens
        .retain(|_, g| !g.user_id.eq_ignore_ascii_case(&uid));
    commit(state, data, index, before)?;
    Ok(Resp::new(
        200,
        Some(json!({
            "@odata.context": format!("{}/v1.0/$metadata#Edm.Boolean", req.base),
            "value": true,
        })),
    ))
}
