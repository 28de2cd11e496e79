//! Client assertions: a certificate assertion (signed with the app's registered certificate) or a federated one
//! (a registered federated credential's issuer, subject and audience, signed with its issuer key), each refusal
//! with Entra's AADSTS code.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use sha2::Digest;

use super::super::store::EmulatorState;
use super::super::tenant::App;
use super::unix;

/// Checks a client assertion: a certificate assertion (`iss` = `sub` = the client id, signed with the registered
/// certificate's key, PS256 or RS256, `x5t#S256` matching when sent) or a federated one (issuer, subject and
/// audience of a registered federated credential, signed with its issuer key).
pub(super) fn check_assertion(
    state: &EmulatorState,
    base: &str,
    tenant: &str,
    tid: &str,
    app: &App,
    assertion: &str,
) -> Result<(), (u32, String)> {
    let jws = Jws::parse(assertion)
        .ok_or_else(|| (50027, "JWT token is invalid or malformed.".to_string()))?;
    let header = &jws.header;
    let claims = &jws.claims;
    let iss = claims["iss"].as_str().unwrap_or_default();
    let now = unix(state.now()) as f64;
    let skew = 300.0;
    if let Some(exp) = numeric_date(&claims["exp"])
        && now > exp + skew
    {
        return Err((
            700024,
            "Client assertion is not within its valid time range.".into(),
        ));
    }
    if let Some(nbf) = numeric_date(&claims["nbf"])
        && now + skew < nbf
    {
        return Err((
            700024,
            "Client assertion is not within its valid time range.".into(),
        ));
    }
    if numeric_date(&claims["exp"]).is_none() {
        return Err((
            50027,
            "JWT token is invalid or malformed: no exp claim.".into(),
        ));
    }
    if iss.eq_ignore_ascii_case(&app.client_id) {
        // Certificate credential.
        let Some(pem) = &app.certificate else {
            return Err((700027, "Client assertion failed signature validation: no certificate is registered for the application.".into()));
        };
        if !matches!(header.alg, Algorithm::PS256 | Algorithm::RS256) {
            return Err((
                5002738,
                format!(
                    "Invalid JWT token. '{:?}' is not a supported signature algorithm.",
                    header.alg
                ),
            ));
        }
        let (der, key) = certificate_key(pem).map_err(|e| (700027, e))?;
        if let Some(t) = &header.x5t_s256 {
            // base64url of the SHA-256 of the DER, with or without padding (azure-identity pads it).
            if b64url(t).as_deref() != Some(sha2::Sha256::digest(&der).as_slice()) {
                return Err((
                    700027,
                    format!(
                        "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{t}']"
                    ),
                ));
            }
        } else if header.x5t.is_none() {
            return Err((
                700027,
                "Client assertion contains no x5t#S256 or x5t header.".into(),
            ));
        }
        verify_signature(&jws, &key).map_err(|_| {
            (
                700027,
                "Client assertion contains an invalid signature.".into(),
            )
        })?;
        if claims["sub"].as_str() != Some(app.client_id.as_str()) {
            return Err((700023, "Client assertion audience claim does not match Realm issuer: sub must be the client id.".into()));
        }
        let aud_ok = audiences(claims).iter().any(|a| {
            let a = a.trim_end_matches('/');
            [tenant, tid].iter().any(|t| {
                a.eq_ignore_ascii_case(&format!("{base}/{t}/oauth2/v2.0/token"))
                    || a.to_ascii_lowercase()
                        .ends_with(&format!("/{}/oauth2/v2.0/token", t.to_ascii_lowercase()))
            })
        });
        if !aud_ok {
            return Err((
                700212,
                format!(
                    "No matching federated identity record found for presented assertion audience. The audience must be {base}/{tid}/oauth2/v2.0/token."
                ),
            ));
        }
        if claims["jti"].as_str().is_none() {
            return Err((
                50027,
                "JWT token is invalid or malformed: no jti claim.".into(),
            ));
        }
        return Ok(());
    }
    // Federated credential.
    let creds: Vec<_> = app
        .federated_credentials
        .iter()
        .filter(|f| f.issuer == iss)
        .collect();
    if creds.is_empty() {
        return Err((
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'."
            ),
        ));
    }
    let sub = claims["sub"].as_str().unwrap_or_default();
    let creds: Vec<_> = creds.into_iter().filter(|f| f.subject == sub).collect();
    if creds.is_empty() {
        return Err((
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{sub}'."
            ),
        ));
    }
    let auds = audiences(claims);
    let Some(cred) = creds.into_iter().find(|f| auds.contains(&f.audience)) else {
        return Err((
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                auds.join(",")
            ),
        ));
    };
    let key = issuer_key(&cred.issuer_key).map_err(|e| (700024, e))?;
    if !matches!(
        header.alg,
        Algorithm::RS256
            | Algorithm::PS256
            | Algorithm::ES256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::ES384
    ) {
        return Err((
            5002738,
            format!(
                "Invalid JWT token. '{:?}' is not a supported signature algorithm.",
                header.alg
            ),
        ));
    }
    verify_signature(&jws, &key).map_err(|_| {
        (700024, "Client assertion failed signature validation against the federated credential's issuer key.".to_string())
    })?;
    Ok(())
}

fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The header fields of a client assertion the checks read.
struct AssertionHeader {
    alg: Algorithm,
    x5t: Option<String>,
    x5t_s256: Option<String>,
}

/// A client assertion's three segments, decoded as Entra decodes them: base64url with or without `=` padding (MSAL
/// omits it, azure-identity's async credentials keep it), the signature checked over the segments as sent.
struct Jws<'a> {
    header: AssertionHeader,
    claims: Value,
    /// `header.payload` exactly as sent: what was signed.
    message: &'a str,
    /// The signature segment without padding.
    signature: &'a str,
}

/// base64url, padded or not.
fn b64url(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

impl<'a> Jws<'a> {
    fn parse(token: &'a str) -> Option<Jws<'a>> {
        let (message, signature) = token.trim().rsplit_once('.')?;
        let (h, p) = message.split_once('.')?;
        let header: Value = serde_json::from_slice(&b64url(h)?).ok()?;
        let claims: Value = serde_json::from_slice(&b64url(p)?).ok()?;
        if !claims.is_object() {
            return None;
        }
        let text = |k: &str| header.get(k).and_then(Value::as_str).map(str::to_string);
        let alg: Algorithm = text("alg")?.parse().ok()?;
        Some(Jws {
            header: AssertionHeader {
                alg,
                x5t: text("x5t"),
                x5t_s256: text("x5t#S256"),
            },
            claims,
            message,
            signature: signature.trim_end_matches('='),
        })
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, an integer or not (MSAL writes `1733112345.123`).
fn numeric_date(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.is_finite())
}

fn verify_signature(jws: &Jws<'_>, key: &DecodingKey) -> Result<(), ()> {
    match jsonwebtoken::crypto::verify(jws.signature, jws.message.as_bytes(), key, jws.header.alg) {
        Ok(true) => Ok(()),
        _ => Err(()),
    }
}

/// The DER bytes and RSA public key of a PEM certificate.
fn certificate_key(pem: &str) -> Result<(Vec<u8>, DecodingKey), String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| format!("the registered certificate is not PEM: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("the registered certificate is not X.509: {e}"))?;
    let spki = cert.public_key();
    let key = DecodingKey::from_rsa_der(&spki.subject_public_key.data);
    Ok((pem.contents.clone(), key))
}

/// A federated issuer's key: a PEM public key (RSA or EC) or a PEM certificate.
fn issuer_key(pem: &str) -> Result<DecodingKey, String> {
    if pem.contains("BEGIN CERTIFICATE") {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
        let cert = p.parse_x509().map_err(|e| e.to_string())?;
        let spki = cert.public_key();
        let data = &spki.subject_public_key.data;
        return Ok(
            if spki.algorithm.algorithm.to_id_string() == "1.2.840.10045.2.1" {
                DecodingKey::from_ec_der(data)
            } else {
                DecodingKey::from_rsa_der(data)
            },
        );
    }
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .or_else(|_| DecodingKey::from_ec_pem(pem.as_bytes()))
        .map_err(|e| format!("the federated credential's issuer key is not a PEM public key: {e}"))
}
