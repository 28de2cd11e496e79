//! Reading a JWT's claims without verifying it: authctl is not the token's audience, it only needs `exp` (to
//! renew in time) and, for `auth check`, who the token is and what it may do. Signature checks are Graph's job.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The claims (payload) of a compact JWT.
pub fn decode_claims(token: &str) -> Result<Map<String, Value>, String> {
    let mut parts = token.split('.');
    let (_, payload) = match (parts.next(), parts.next()) {
        (Some(h), Some(p)) => (h, p),
        _ => return Err("not a JWT (expected header.payload.signature)".into()),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the JWT payload is not base64url: {e}"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the JWT payload is not a JSON object".into()),
        Err(e) => Err(format!("the JWT payload is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_and_garbage_is_refused() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"tid":"t","exp":5}"#);
        let c = decode_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(c["tid"], "t");
        assert!(decode_claims("opaque-token").is_err());
        assert!(decode_claims("a.!!!.c").is_err());
    }
}
