//! The client-certificate credential (`AZURE_CLIENT_CERTIFICATE_PATH`): a PEM file holding the private key and the
//! certificate, or a PKCS#12 (`.pfx`/`.p12`) file opened with `AZURE_CLIENT_CERTIFICATE_PASSWORD` (empty when unset). Each token request carries a fresh client assertion: a JWT signed PS256 (RSA-PSS) with header
//! `x5t#S256` = base64url(SHA-256 of the certificate's DER), claims `aud` = the token endpoint, `iss` = `sub` =
//! client id, a unique `jti`, `nbf`/`iat` = now and `exp` = now + 10 minutes, as Entra's current docs describe.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::entra::request_token;
use super::{AccessToken, TokenContext, new_uuid};
use crate::clock;
use crate::graph::error::AuthError;
use crate::graph::secret::Secret;

/// The client-assertion type of certificate and federated credentials.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An app's certificate credential.
pub struct Certificate {
    /// Tenant id or domain.
    pub tenant: String,
    /// The app's client id.
    pub client_id: String,
    /// Where the PEM came from (for messages).
    pub path: PathBuf,
    key: EncodingKey,
    x5t_s256: String,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("path", &self.path)
            .field("x5t_s256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

impl Certificate {
    /// Reads the file at `path`: PEM (private key + certificate, in any order) or PKCS#12, told apart by content
    /// (PEM is text with `-----BEGIN`; PKCS#12 is DER). `password` opens a PKCS#12 file.
    pub fn from_file(
        tenant: &str,
        client_id: &str,
        path: &Path,
        password: Option<&Secret>,
    ) -> Result<Certificate, AuthError> {
        let bytes = read_bounded(path)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("-----BEGIN ") => {
                Certificate::from_pem(tenant, client_id, path, text)
            }
            _ => Certificate::from_pkcs12(
                tenant,
                client_id,
                path,
                &bytes,
                password.map(Secret::expose).unwrap_or(""),
            ),
        }
    }

    /// Opens PKCS#12 bytes with `password`: the first private key and the certificate stored with it.
    pub fn from_pkcs12(
        tenant: &str,
        client_id: &str,
        path: &Path,
        der: &[u8],
        password: &str,
    ) -> Result<Certificate, AuthError> {
        let where_ = path.display();
        let store = p12_keystore::KeyStore::from_pkcs12(
            der,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|e| {
            let why = match e {
                p12_keystore::error::Error::MacError(_) => {
                    "the password is wrong (set AZURE_CLIENT_CERTIFICATE_PASSWORD)".to_string()
                }
                other => format!(
                    "it is neither PEM nor a PKCS#12 file authctl can open ({other}); a wrong \
                     AZURE_CLIENT_CERTIFICATE_PASSWORD also shows this way"
                ),
            };
            AuthError::Config(format!("{where_}: {why}"))
        })?;
        let (_, chain) = store.private_key_chain().ok_or_else(|| {
            AuthError::Config(format!(
                "{where_}: the PKCS#12 file holds no private key (export it with its key)"
            ))
        })?;
        let cert = chain.certs().first().ok_or_else(|| {
            AuthError::Config(format!(
                "{where_}: the PKCS#12 file holds no certificate for its private key"
            ))
        })?;
        let key_pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(chain.key().as_der())
        );
        let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).map_err(|e| {
            AuthError::Config(format!(
                "{where_}: the private key is not a usable RSA key: {e}"
            ))
        })?;
        Ok(Certificate {
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            path: path.to_path_buf(),
            key,
            x5t_s256: thumbprint_s256(cert.as_der()),
        })
    }

    /// Parses PEM text holding an RSA private key (PKCS#8 or PKCS#1) and the certificate.
    pub fn from_pem(
        tenant: &str,
        client_id: &str,
        path: &Path,
        pem: &str,
    ) -> Result<Certificate, AuthError> {
        let blocks = pem_blocks(pem);
        let where_ = path.display();
        if blocks.iter().any(|b| b.label == "ENCRYPTED PRIVATE KEY") {
            return Err(AuthError::Config(format!(
                "{where_}: the private key is encrypted; authctl needs an unencrypted PEM (key + certificate)"
            )));
        }
        let key_block = blocks
            .iter()
            .find(|b| b.label == "PRIVATE KEY" || b.label == "RSA PRIVATE KEY")
            .ok_or_else(|| {
                AuthError::Config(format!(
                    "{where_}: no private key (PEM `PRIVATE KEY`) found"
                ))
            })?;
        let cert_block = blocks
            .iter()
            .find(|b| b.label == "CERTIFICATE")
            .ok_or_else(|| {
                AuthError::Config(format!(
                    "{where_}: no certificate (PEM `CERTIFICATE`) found"
                ))
            })?;
        let key = EncodingKey::from_rsa_pem(key_block.text.as_bytes()).map_err(|e| {
            AuthError::Config(format!(
                "{where_}: the private key is not a usable RSA key: {e}"
            ))
        })?;
        let der = STANDARD.decode(cert_block.base64.as_bytes()).map_err(|e| {
            AuthError::Config(format!(
                "{where_}: the certificate is not valid base64: {e}"
            ))
        })?;
        Ok(Certificate {
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            path: path.to_path_buf(),
            key,
            x5t_s256: thumbprint_s256(&der),
        })
    }

    /// The certificate's `x5t#S256` thumbprint.
    pub fn x5t_s256(&self) -> &str {
        &self.x5t_s256
    }

    /// A fresh client assertion for the token endpoint `aud`.
    pub fn assertion(&self, aud: &str, now: jiff::Timestamp) -> Result<Secret, AuthError> {
        let mut header = Header::new(Algorithm::PS256);
        header.typ = Some("JWT".into());
        header.x5t_s256 = Some(self.x5t_s256.clone());
        let nbf = now.as_second();
        let claims = AssertionClaims {
            aud,
            iss: &self.client_id,
            sub: &self.client_id,
            jti: new_uuid(),
            nbf,
            iat: nbf,
            exp: clock::add(now, Duration::from_secs(600)).as_second(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| AuthError::Config(format!("cannot sign the client assertion: {e}")))
    }

    /// Gets a token with a signed client assertion.
    pub async fn fetch(&self, cx: &TokenContext) -> Result<AccessToken, AuthError> {
        let aud = cx.endpoint(&self.tenant, "token")?;
        let assertion = self.assertion(aud.as_str(), cx.clock.now())?;
        let scope = cx.scope();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("scope", scope.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.expose()),
        ];
        Ok(request_token(cx, &self.tenant, &form).await?.access)
    }
}

/// A certificate file is small; more than this is not one.
const MAX_CERTIFICATE_FILE: u64 = 1024 * 1024;

fn read_bounded(path: &Path) -> Result<Vec<u8>, AuthError> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| {
        AuthError::Config(format!(
            "cannot read the certificate file {}: {e}",
            path.display()
        ))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_CERTIFICATE_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_CERTIFICATE_FILE {
        return Err(AuthError::Config(format!(
            "{}: larger than 1 MiB; not a certificate file",
            path.display()
        )));
    }
    Ok(bytes)
}

/// base64url(SHA-256(DER)), the `x5t#S256` header value.
pub fn thumbprint_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

struct PemBlock {
    label: String,
    /// The whole block, BEGIN and END lines included.
    text: String,
    /// The base64 body without whitespace.
    base64: String,
}

fn pem_blocks(pem: &str) -> Vec<PemBlock> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in pem.lines() {
        let l = line.trim();
        if let Some(label) = l
            .strip_prefix("-----BEGIN ")
            .and_then(|r| r.strip_suffix("-----"))
        {
            current = Some((label.to_string(), vec![l]));
        } else if let Some(label) = l
            .strip_prefix("-----END ")
            .and_then(|r| r.strip_suffix("-----"))
        {
            if let Some((begin, mut lines)) = current.take()
                && begin == label
            {
                lines.push(l);
                let base64 = lines[1..lines.len() - 1]
                    .iter()
                    .filter(|x| !x.contains(':'))
                    .copied()
                    .collect::<String>();
                out.push(PemBlock {
                    label: begin,
                    text: lines.join("\n") + "\n",
                    base64,
                });
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(l);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_is_base64url_sha256_of_der() {
        // SHA-256("abc") = ba7816bf…, base64url without padding.
        assert_eq!(
            thumbprint_s256(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn pem_blocks_are_found_in_any_order() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nREVG\n-----END PRIVATE KEY-----\n";
        let b = pem_blocks(pem);
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].label.as_str(), b[0].base64.as_str()),
            ("CERTIFICATE", "QUJD")
        );
        assert_eq!(b[1].label, "PRIVATE KEY");
    }

    #[test]
    fn a_pem_without_key_says_so() {
        let pem = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n";
        let e = Certificate::from_pem("t", "c", Path::new("c.pem"), pem).unwrap_err();
        assert!(e.to_string().contains("no private key"), "{e}");
    }

    #[test]
    fn assertion_is_ps256_with_x5t_s256_and_the_documented_claims() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["authctl.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let pem = format!("{}{}", key.serialize_pem(), cert.pem());
        let c = Certificate::from_pem("tid", "cid", Path::new("x.pem"), &pem).unwrap();
        assert_eq!(c.x5t_s256(), thumbprint_s256(cert.der()));
        let now = jiff::Timestamp::from_second(1_767_225_600).unwrap();
        let aud = "https://login.microsoftonline.com/tid/oauth2/v2.0/token";
        let a = c.assertion(aud, now).unwrap();
        let header = jsonwebtoken::decode_header(a.expose()).unwrap();
        assert_eq!(header.alg, Algorithm::PS256);
        assert_eq!(header.x5t_s256.as_deref(), Some(c.x5t_s256()));
        let claims = crate::graph::jwt::decode_claims(a.expose()).unwrap();
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iss"], "cid");
        assert_eq!(claims["sub"], "cid");
        assert_eq!(claims["nbf"], now.as_second());
        assert_eq!(claims["exp"], now.as_second() + 600);
        // The signature verifies with the certificate's public key (RSA-PSS).
        let pubkey = jsonwebtoken::DecodingKey::from_rsa_der(&rsa_public_key_der(&key));
        let mut v = jsonwebtoken::Validation::new(Algorithm::PS256);
        v.set_audience(&[aud]);
        v.validate_exp = false;
        v.validate_nbf = false;
        jsonwebtoken::decode::<serde_json::Value>(a.expose(), &pubkey, &v).unwrap();
        // Each assertion is unique.
        let b = c.assertion(aud, now).unwrap();
        assert_ne!(
            claims["jti"],
            crate::graph::jwt::decode_claims(b.expose()).unwrap()["jti"]
        );
    }

    /// A PFX holding `key` and `cert`, made with p12-keystore (AES-256/PBKDF2 as OpenSSL 3 and Windows write them).
    pub(crate) fn pfx(key: &rcgen::KeyPair, cert: &rcgen::Certificate, password: &str) -> Vec<u8> {
        let chain = p12_keystore::PrivateKeyChain::new(
            vec![1u8; 20],
            p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
        );
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("app", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password).write().unwrap()
    }

    #[test]
    fn a_pfx_with_a_password_opens_and_a_wrong_password_says_so() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["authctl.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.pfx");
        std::fs::write(&path, pfx(&key, &cert, "s3cret-pfx")).unwrap();
        let c = Certificate::from_file("t", "c", &path, Some(&Secret::new("s3cret-pfx"))).unwrap();
        assert_eq!(c.x5t_s256(), thumbprint_s256(cert.der()));
        let aud = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let a = c
            .assertion(aud, jiff::Timestamp::from_second(1_767_225_600).unwrap())
            .unwrap();
        let pubkey = jsonwebtoken::DecodingKey::from_rsa_der(&rsa_public_key_der(&key));
        let mut v = jsonwebtoken::Validation::new(Algorithm::PS256);
        v.set_audience(&[aud]);
        v.validate_exp = false;
        v.validate_nbf = false;
        jsonwebtoken::decode::<serde_json::Value>(a.expose(), &pubkey, &v).unwrap();
        for wrong in [None, Some(Secret::new("nope"))] {
            let e = Certificate::from_file("t", "c", &path, wrong.as_ref()).unwrap_err();
            let s = e.to_string();
            assert!(
                s.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD") && s.contains("app.pfx"),
                "{s}"
            );
            assert!(!s.contains("s3cret-pfx"));
        }
        std::fs::write(&path, b"\x30\x03\x02\x01\x03").unwrap();
        let e = Certificate::from_file("t", "c", &path, None).unwrap_err();
        assert!(e.to_string().contains("neither PEM nor"), "{e}");
    }

    /// The PKCS#1 RSAPublicKey inside rcgen's SubjectPublicKeyInfo.
    fn rsa_public_key_der(key: &rcgen::KeyPair) -> Vec<u8> {
        key.public_key_raw().to_vec()
    }
}
