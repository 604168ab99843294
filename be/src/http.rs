//! The BE's HTTP server on `webserver_port`.

use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let app = Router::new().route("/api/health", get(health));
    let signal = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await
    {
        tracing::error!("http server stopped: {e}");
    }
}

/// Doris answers `{"status": "OK", "msg": "To Be Added"}` here.
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "OK", "msg": "To Be Added"}))
}
