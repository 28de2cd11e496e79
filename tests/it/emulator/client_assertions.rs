//! Client assertions at the token endpoint: certificate (PS256/RS256, `x5t#S256`), federated, and the forms
//! Microsoft's own libraries write (MSAL's fractional dates, azure-identity's padded segments), each refusal with
//! its AADSTS code.

use super::*;

/// A certificate assertion built by hand: `header` and `claims` JSON, base64url segments padded (`pad`) or not,
/// signed with `key` over the segments as written.
fn hand_assertion(
    key_pem: &str,
    alg: jsonwebtoken::Algorithm,
    header: Value,
    claims: Value,
    pad: bool,
) -> String {
    use base64::Engine;
    let enc = |b: &[u8]| {
        if pad {
            base64::engine::general_purpose::URL_SAFE.encode(b)
        } else {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        }
    };
    let message = format!(
        "{}.{}",
        enc(header.to_string().as_bytes()),
        enc(claims.to_string().as_bytes())
    );
    let sig = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap(),
        alg,
    )
    .unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    format!("{message}.{}", enc(&sig))
}

/// What Entra accepts from Microsoft's own credentials: MSAL's non-integer NumericDates (`exp`/`iat` as
/// `1733112345.5`, which RFC 7519 allows) and azure-identity's async form (padded base64url segments and a padded
/// `x5t#S256`). What it refuses stays refused: expired, wrong audience, another certificate, a bad signature.
#[tokio::test]
async fn token_certificate_assertions_as_msal_and_azure_identity_write_them() {
    use base64::Engine;
    use sha2::Digest;
    let (cert, key, der) = make_certificate();
    let (_, issuer_pub) = make_issuer_key();
    let emu = Emu::start(&cert_tenant(&cert, &issuer_pub)).await;
    let now = emu.handle.state().now().as_second() as f64;
    let aud = emu.token_url();
    let padded_thumb = base64::engine::general_purpose::URL_SAFE.encode(sha2::Sha256::digest(&der));
    assert!(
        padded_thumb.ends_with('='),
        "SHA-256 in base64 pads: {padded_thumb}"
    );
    let header = |thumb: &str| json!({"typ": "JWT", "alg": "PS256", "x5t#S256": thumb});
    let claims = |exp: f64, aud: &str| json!({"aud": aud, "iss": CERT_APP, "sub": CERT_APP, "jti": format!("j{exp}"), "nbf": now, "iat": now + 0.25, "exp": exp});
    let ps = jsonwebtoken::Algorithm::PS256;
    // MSAL (sync): fractional dates, unpadded segments.
    let msal = hand_assertion(
        &key,
        ps,
        header(padded_thumb.trim_end_matches('=')),
        claims(now + 600.5, &aud),
        false,
    );
    let (s, b) = post_form(&emu, &assertion_form(&msal)).await;
    assert_eq!(s, 200, "MSAL's assertion: {b}");
    // azure-identity (async): padded segments and thumbprint, RS256 too.
    for alg in [ps, jsonwebtoken::Algorithm::RS256] {
        let mut h = header(&padded_thumb);
        h["alg"] = json!(format!("{alg:?}"));
        let a = hand_assertion(&key, alg, h, claims(now + 600.0, &aud), true);
        assert!(a.contains('='), "padded: {a}");
        let (s, b) = post_form(&emu, &assertion_form(&a)).await;
        assert_eq!(s, 200, "azure-identity's {alg:?} assertion: {b}");
    }
    let code = |b: &Value| b["error_codes"][0].as_u64();
    // Expired (fractional), wrong audience, another certificate's thumbprint, another key's signature.
    let expired = hand_assertion(
        &key,
        ps,
        header(&padded_thumb),
        claims(now - 400.5, &aud),
        true,
    );
    let (s, b) = post_form(&emu, &assertion_form(&expired)).await;
    assert_eq!((s, code(&b)), (401, Some(700024)), "{b}");
    let wrong_aud = hand_assertion(
        &key,
        ps,
        header(&padded_thumb),
        claims(
            now + 600.0,
            "https://login.microsoftonline.com/other/oauth2/v2.0/token",
        ),
        true,
    );
    let (s, b) = post_form(&emu, &assertion_form(&wrong_aud)).await;
    assert_eq!((s, code(&b)), (401, Some(700212)), "{b}");
    let (_, other_key, other_der) = make_certificate();
    let other_thumb =
        base64::engine::general_purpose::URL_SAFE.encode(sha2::Sha256::digest(&other_der));
    let unknown = hand_assertion(
        &key,
        ps,
        header(&other_thumb),
        claims(now + 600.0, &aud),
        true,
    );
    let (s, b) = post_form(&emu, &assertion_form(&unknown)).await;
    assert_eq!((s, code(&b)), (401, Some(700027)), "{b}");
    let forged = hand_assertion(
        &other_key,
        ps,
        header(&padded_thumb),
        claims(now + 600.0, &aud),
        true,
    );
    let (s, b) = post_form(&emu, &assertion_form(&forged)).await;
    assert_eq!((s, code(&b)), (401, Some(700027)), "{b}");
    // Garbage stays malformed.
    let (s, b) = post_form(&emu, &assertion_form("a.b")).await;
    assert_eq!(code(&b), Some(50027), "{s} {b}");
}
