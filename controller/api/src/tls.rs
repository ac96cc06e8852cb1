//! TLS with rustls (ring): what a server needs to serve HTTPS from PEM
//! files, and what [`Client`](crate::Client) needs to call one.
//!
//! Tokens travel in headers, so an API reached over a network should be
//! served with TLS (`--tls-cert`/`--tls-key`); on loopback, plain HTTP is
//! the default. A client trusts the usual web roots (`webpki-roots`) plus,
//! optionally, one more CA bundle (a self-signed or private CA).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Errors loading TLS settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// `certificates` or `a private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the settings (e.g. a key that does not match).
    #[error("invalid TLS settings")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM file.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail =
        |reason: String| TlsError::Pem { what: "certificates", path: path.to_owned(), reason };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no `CERTIFICATE` block".into()));
    }
    Ok(certs)
}

/// Server settings from a certificate chain and a private key (PEM).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        what: "a private key",
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Client settings: the web roots, plus the CA certificates in `extra_ca`.
pub fn client_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in certificates(path)? {
            roots.add(cert)?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A server's TLS acceptor, for `server::serve_with`.
#[cfg(feature = "server")]
#[derive(Clone)]
pub struct Acceptor(pub tokio_rustls::TlsAcceptor);

#[cfg(feature = "server")]
impl Acceptor {
    /// Loads a certificate chain and key (PEM).
    pub fn from_pem(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        Ok(Self(tokio_rustls::TlsAcceptor::from(server_config(cert, key)?)))
    }
}

#[cfg(feature = "server")]
impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}
