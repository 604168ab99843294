//! Binding listeners from configuration.

use crate::{Error, Result};
use tokio::net::TcpListener;

/// Binds `host:port`; port 0 picks a free port (read it back from the listener).
pub async fn bind(host: &str, port: u16) -> Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .map_err(|e| Error::invalid(format!("cannot listen on {host}:{port}: {e}")))
}
