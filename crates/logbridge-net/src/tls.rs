//! TLS options shared by every listener and client, and their translation
//! into rustls configurations.
//!
//! Servers take a certificate chain and key (PEM) and, for mutual TLS, the
//! CA certificates that client certificates must chain to. Clients take
//! extra CA certificates (or only those), an optional client certificate
//! for mTLS, and may skip verification for tests against self-signed
//! servers. Files are read when the component is built, so a wrong path is
//! a config error with the option's line, not a failure at the first
//! connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use logbridge_component::BuildError;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// TLS for a listener.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// The server's certificate chain, PEM.
    pub crt_file: PathBuf,
    /// The private key of `crt_file`, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to. When
    /// set, every client must present a valid certificate (mutual TLS).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// TLS for a client connecting to a server.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsClientConfig {
    /// CA certificates (PEM) to trust in addition to the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain (PEM) to present, for servers that
    /// require mutual TLS. Needs `key_file`.
    #[serde(default)]
    pub crt_file: Option<PathBuf>,
    /// The private key of `crt_file` (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Check the server's certificate and name. Turn off only for tests
    /// against self-signed servers.
    #[serde(default = "default_true")]
    pub verify_certificate: bool,
}

fn default_true() -> bool {
    true
}

/// A PEM file that could not be used, with the option that named it.
fn file_error(option: &str, path: &Path, what: &str) -> BuildError {
    BuildError::new(option, format!("{}: {what}", path.display()))
}

pub(crate) fn read_certs(
    option: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(option, path, &e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(option, path, &e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error(option, path, "no PEM certificate in the file")
            .with_hint("expected -----BEGIN CERTIFICATE----- blocks"));
    }
    Ok(certs)
}

fn read_key(option: &str, path: &Path) -> Result<PrivateKeyDer<'static>, BuildError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| {
        file_error(option, path, &e.to_string())
            .with_hint("expected a PEM private key (PKCS#8, PKCS#1 or SEC1)")
    })
}

/// The rustls provider: aws-lc-rs, the one the HTTP client already uses, so
/// the binary carries one crypto library.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn builder_error(option: &str, e: impl std::fmt::Display) -> BuildError {
    BuildError::new(option, format!("unusable TLS settings: {e}"))
}

impl TlsServerConfig {
    /// The rustls server configuration, advertising `alpn` (such as `h2`
    /// and `http/1.1`).
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, BuildError> {
        let certs = read_certs("tls.crt_file", &self.crt_file)?;
        let key = read_key("tls.key_file", &self.key_file)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| builder_error("tls", e))?;
        let builder = match &self.ca_file {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in read_certs("tls.ca_file", ca)? {
                    roots
                        .add(cert)
                        .map_err(|e| file_error("tls.ca_file", ca, &e.to_string()))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| builder_error("tls.ca_file", e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| builder_error("tls.key_file", e))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl TlsClientConfig {
    /// Applies these settings to an HTTP client.
    pub fn apply_to_reqwest(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, BuildError> {
        if let Some(ca) = &self.ca_file {
            for cert in read_certs("tls.ca_file", ca)? {
                let cert = reqwest::Certificate::from_der(&cert)
                    .map_err(|e| file_error("tls.ca_file", ca, &e.to_string()))?;
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = self.identity_pem()? {
            let identity =
                reqwest::Identity::from_pem(&pem).map_err(|e| builder_error("tls.crt_file", e))?;
            builder = builder.identity(identity);
        }
        if !self.verify_certificate {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        Ok(builder)
    }

    /// The settings for a gRPC channel.
    #[cfg(feature = "grpc")]
    pub fn tonic_config(&self) -> Result<tonic::transport::ClientTlsConfig, BuildError> {
        if !self.verify_certificate {
            return Err(BuildError::new(
                "tls.verify_certificate",
                "the gRPC client always verifies the server's certificate",
            )
            .with_hint("give the server's CA in tls.ca_file instead"));
        }
        let mut config = tonic::transport::ClientTlsConfig::new().with_native_roots();
        if let Some(ca) = &self.ca_file {
            let pem =
                std::fs::read(ca).map_err(|e| file_error("tls.ca_file", ca, &e.to_string()))?;
            read_certs("tls.ca_file", ca)?;
            config = config.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        if let (Some(crt), Some(key)) = (&self.crt_file, &self.key_file) {
            let crt_pem =
                std::fs::read(crt).map_err(|e| file_error("tls.crt_file", crt, &e.to_string()))?;
            let key_pem =
                std::fs::read(key).map_err(|e| file_error("tls.key_file", key, &e.to_string()))?;
            config = config.identity(tonic::transport::Identity::from_pem(crt_pem, key_pem));
        }
        Ok(config)
    }

    /// The client certificate and key as one PEM, checked for shape.
    fn identity_pem(&self) -> Result<Option<Vec<u8>>, BuildError> {
        match (&self.crt_file, &self.key_file) {
            (None, None) => Ok(None),
            (Some(crt), Some(key)) => {
                read_certs("tls.crt_file", crt)?;
                read_key("tls.key_file", key)?;
                let mut pem = std::fs::read(crt)
                    .map_err(|e| file_error("tls.crt_file", crt, &e.to_string()))?;
                pem.push(b'\n');
                pem.extend(
                    std::fs::read(key)
                        .map_err(|e| file_error("tls.key_file", key, &e.to_string()))?,
                );
                Ok(Some(pem))
            }
            (Some(_), None) => Err(BuildError::new(
                "tls.key_file",
                "tls.crt_file is set but tls.key_file is not",
            )),
            (None, Some(_)) => Err(BuildError::new(
                "tls.crt_file",
                "tls.key_file is set but tls.crt_file is not",
            )),
        }
    }

    /// Checks the files now, so that a bad path fails the config check.
    pub fn validate(&self) -> Result<(), BuildError> {
        if let Some(ca) = &self.ca_file {
            read_certs("tls.ca_file", ca)?;
        }
        self.identity_pem().map(|_| ())
    }
}
