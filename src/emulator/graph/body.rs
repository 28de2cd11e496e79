//! Write bodies: the JSON object a POST or PATCH carries, refused the way Graph refuses a payload it can't read, and
//! its `@odata.type` checked against the entity type the endpoint writes.

use serde_json::{Map, Value};

use super::{Fault, Req};

const UNREADABLE: &str = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";

/// The body as a JSON object, or `None` when it is empty (only whitespace).
pub(super) fn optional(req: &Req) -> Result<Option<Map<String, Value>>, Fault> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(Fault::new(400, "BadRequest", UNREADABLE)),
    }
}

/// The body as a JSON object of the entity type `odata_type` (when it names one); an empty body is refused.
pub(super) fn entity(req: &Req, odata_type: &str) -> Result<Map<String, Value>, Fault> {
    let body = optional(req)?
        .ok_or_else(|| Fault::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    check_odata_type(&body, odata_type)?;
    Ok(body)
}

fn check_odata_type(body: &Map<String, Value>, want: &str) -> Result<(), Fault> {
    match body.get("@odata.type").and_then(Value::as_str) {
        None => Ok(()),
        Some(t) if t.trim_start_matches('#') == want.trim_start_matches('#') => Ok(()),
        Some(t) => Err(Fault::new(
            400,
            "BadRequest",
            format!(
                "A type named '{t}' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
            ),
        )),
    }
}
