//! TLS for `authctl emulator --tls`: the server identity (a certificate generated at start for `127.0.0.1`, `::1`
//! and `localhost`, or one brought as PEM files) and the rustls acceptor that serves it, HTTP/2 and HTTP/1.1 by ALPN.

use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::EmulatorError;

/// A server certificate chain and its private key, both PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate chain (leaf first), PEM: what clients should trust.
    pub cert_pem: String,
    /// The private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// A fresh self-signed certificate for `127.0.0.1`, `::1` and `localhost` (ECDSA P-256).
    pub fn generate() -> Result<TlsIdentity, EmulatorError> {
        let names = vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".to_string(),
        ];
        let c = rcgen::generate_simple_self_signed(names)
            .map_err(|e| EmulatorError::Io(format!("cannot generate the TLS certificate: {e}")))?;
        Ok(TlsIdentity {
            cert_pem: c.cert.pem(),
            key_pem: c.signing_key.serialize_pem(),
        })
    }

    /// The acceptor serving this identity.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, EmulatorError> {
        let bad = |what: &str, e: String| EmulatorError::Io(format!("TLS {what}: {e}"));
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| bad("certificate", e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("certificate", "no CERTIFICATE block in the PEM".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| bad("private key", e.to_string()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("configuration", e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| bad("certificate and key", e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
