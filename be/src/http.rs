//! The BE's HTTP server on `webserver_port`: health, Stream Load and its error logs.

use crate::stream_load::{self, StreamLoader};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use basalt_common::load_rpc::GROUP_COMMIT_PATH;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(
    listener: TcpListener,
    loads: Arc<StreamLoader>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/api/health", get(health))
        .route("/metrics", get(|| async { crate::metrics::render() }))
        .route("/api/{db}/{table}/_stream_load", put(stream_load::handle))
        .route("/api/_load_error_log", get(stream_load::error_log))
        .route("/api/{db}/_stream_load_2pc", put(stream_load::two_phase))
        .route(
            "/api/{db}/{table}/_stream_load_2pc",
            put(stream_load::two_phase),
        )
        .route(
            &format!("{GROUP_COMMIT_PATH}/{{db}}/{{table}}"),
            post(stream_load::group_commit_insert),
        )
        .with_state(loads);
    let signal = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    // Stream Load records the client's address.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    // Small answers must not wait out delayed ACKs (~40 ms each).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
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
