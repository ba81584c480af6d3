//! TLS with rustls (ring provider): HTTP/1.1 and h2 by ALPN, and a certificate that can be
//! replaced while serving (P7).
//!
//! # Design
//! The server config never holds the certificate itself: it asks [`ReloadingCert`] on every
//! handshake, which hands out the current `CertifiedKey` from behind a lock. SIGHUP re-reads
//! the PEM files and swaps the key in; connections already open keep the session they
//! negotiated, new ones get the new certificate. A reload that fails (missing file, key
//! that does not match) keeps the old certificate and logs why.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

/// The PEM files of the server certificate (chain) and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// Certificate chain, leaf first.
    pub(crate) cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub(crate) key: PathBuf,
}

/// Why the certificate could not be loaded. Paths are the operator's own, safe to show.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A file could not be read.
    #[error("could not read {what} {path}")]
    Read {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not PEM of the expected kind.
    #[error("{path} holds no PEM {what}")]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the pair (unsupported key type, key not matching the certificate…).
    #[error("the TLS certificate and key cannot be used together")]
    Rustls(#[source] rustls::Error),
}

/// A TLS acceptor and the handle that reloads its certificate.
pub(crate) struct Tls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Arc<ReloadingCert>,
    acceptor: TlsAcceptor,
}

impl Tls {
    /// Loads the certificate and builds the acceptor.
    ///
    /// # Errors
    /// [`TlsError`] when the files cannot be read or used.
    pub(crate) fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = load_certified_key(&files, &provider)?;
        let current = Arc::new(ReloadingCert {
            key: RwLock::new(Arc::new(key)),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            files,
            provider,
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// The acceptor (cheap to clone).
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Re-reads the PEM files and, if they load, serves the new certificate from the next
    /// handshake on. On error the current certificate stays.
    ///
    /// # Errors
    /// [`TlsError`] when the files cannot be read or used.
    pub(crate) async fn reload(&self) -> Result<(), TlsError> {
        let files = self.files.clone();
        let provider = Arc::clone(&self.provider);
        let key = tokio::task::spawn_blocking(move || load_certified_key(&files, &provider))
            .await
            .map_err(|join| TlsError::Read {
                what: "certificate",
                path: self.files.cert.clone(),
                source: std::io::Error::other(join),
            })??;
        self.current.replace(key);
        Ok(())
    }
}

/// Reloads the certificate on every SIGHUP, for as long as the server runs.
pub(crate) async fn reload_on_sighup(tls: Arc<Tls>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(hup) => hup,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; the TLS certificate will not reload");
                return;
            }
        };
        while hup.recv().await.is_some() {
            match tls.reload().await {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(error) => tracing::warn!(
                    error = %error,
                    cause = ?std::error::Error::source(&error).map(ToString::to_string),
                    "TLS certificate reload failed; still serving the previous certificate"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    drop(tls);
}

/// The certificate rustls asks for on each handshake.
struct ReloadingCert {
    key: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    fn replace(&self, key: CertifiedKey) {
        // A poisoned lock only means a panic elsewhere while swapping an Arc: the value is
        // still a whole key, so keep going.
        let mut slot = self
            .key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Arc::new(key);
    }
}

impl fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReloadingCert")
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let slot = self
            .key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(Arc::clone(&slot))
    }
}

fn read(what: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| TlsError::Read {
            what,
            path: path.to_owned(),
            source,
        })
}

/// Reads and checks a certificate chain and its key.
fn load_certified_key(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let pem_error = |what, path: &Path| TlsError::Pem {
        what,
        path: path.to_owned(),
    };
    let cert_pem = read("certificate", &files.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| pem_error("certificate", &files.cert))?;
    if chain.is_empty() {
        return Err(pem_error("certificate", &files.cert));
    }
    let key_pem = read("private key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| pem_error("private key", &files.key))?;
    CertifiedKey::from_der(chain, key, provider).map_err(TlsError::Rustls)
}
