//! Write bodies: the `Content-Type` a write must declare, the JSON object a POST or PATCH carries (refused the way
//! Graph refuses a payload it can't read), its `@odata.type` checked against the entity type the endpoint writes,
//! and its property or parameter names checked against those the type or action declares.

use serde_json::{Map, Value};

use super::{Fault, Req};

const UNREADABLE: &str = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.";

/// A POST, PATCH or PUT with a body must declare `Content-Type: application/json` (parameters such as
/// `charset` allowed). Graph answers 400 naming the header when it is missing; the emulator answers the same for a
/// media type that is not JSON (ASSUMPTIONS.md). Writes without a body (the SMS actions) need no header.
pub(super) fn content_type(req: &Req) -> Result<(), Fault> {
    if !matches!(req.method.as_str(), "POST" | "PATCH" | "PUT")
        || req.body.iter().all(u8::is_ascii_whitespace)
    {
        return Ok(());
    }
    let Some(ct) = req.content_type.as_deref() else {
        return Err(Fault::new(
            400,
            "BadRequest",
            "Write requests (excluding DELETE) must contain the Content-Type header declaration.",
        ));
    };
    let media = ct.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Fault::new(
            400,
            "BadRequest",
            format!(
                "The Content-Type '{ct}' is not supported for this request. Set the Content-Type header to application/json."
            ),
        ))
    }
}

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

/// An instance annotation (`@odata.type`) or a property annotation (`phoneNumber@odata.type`): not a property.
fn is_annotation(key: &str) -> bool {
    key.contains('@')
}

/// The body as a JSON object of the entity type `odata_type` (when it names one), holding only the declared
/// `properties` (names compared exactly, as OData does); an empty body is refused.
pub(super) fn entity(
    req: &Req,
    odata_type: &str,
    properties: &[&str],
) -> Result<Map<String, Value>, Fault> {
    let body = optional(req)?
        .ok_or_else(|| Fault::new(400, "BadRequest", "Empty Payload. JSON content expected."))?;
    check_odata_type(&body, odata_type)?;
    if let Some(k) = body
        .keys()
        .find(|k| !is_annotation(k) && !properties.contains(&k.as_str()))
    {
        return Err(Fault::new(
            400,
            "BadRequest",
            format!(
                "The property '{k}' does not exist on type '{}'. Make sure to only use property names that are defined by the type or mark the type as open type.",
                odata_type.trim_start_matches('#')
            ),
        ));
    }
    Ok(body)
}

/// The parameters of an action call (`resetPassword`, `enableSmsSignIn`): an empty body is no parameters; a name
/// the action does not declare is refused.
pub(super) fn action(
    req: &Req,
    action: &str,
    parameters: &[&str],
) -> Result<Map<String, Value>, Fault> {
    let body = optional(req)?.unwrap_or_default();
    if let Some(k) = body
        .keys()
        .find(|k| !is_annotation(k) && !parameters.contains(&k.as_str()))
    {
        return Err(Fault::new(
            400,
            "BadRequest",
            format!(
                "The parameter '{k}' in the request payload is not a valid parameter for the operation '{action}'."
            ),
        ));
    }
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
