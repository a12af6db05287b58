//! A TLS front for a test parkd, as a reverse proxy in front of a real
//! deployment would be: it terminates TLS with a fresh self-signed
//! certificate for 127.0.0.1 and pipes each connection to parkd.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A running front; stops when dropped.
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The certificate clients must trust, as PEM (for `SSL_CERT_FILE`).
    pub certificate_pem: String,
    task: JoinHandle<()>,
}

impl TlsFront {
    /// A front for the parkd at `backend` (`http://127.0.0.1:PORT`).
    pub async fn start(backend: &str) -> TlsFront {
        let backend = backend
            .strip_prefix("http://")
            .expect("a plain http backend")
            .to_owned();
        let issued =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.signing_key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(issued.cert.der().to_vec())], key)
            .expect("server config");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("https://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let backend = backend.clone();
                tokio::spawn(async move {
                    let Ok(mut client) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(&backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        TlsFront {
            url,
            certificate_pem: issued.cert.pem(),
            task,
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
