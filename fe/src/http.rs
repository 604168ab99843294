//! The FE's HTTP server on `http_port`.

use crate::Frontend;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(_fe: Arc<Frontend>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
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

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"code": 0, "msg": "success", "data": {"online_backend_num": 0}}))
}
