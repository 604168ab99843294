//! The FE's HTTP server on `http_port`: health, and Stream Load's entry.

mod stream_load;

use crate::Frontend;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use basalt_common::load_rpc::{ABORT_PATH, BEGIN_PATH, COMMIT_PATH, RECORD_PATH, SINK_PATH};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(fe: Arc<Frontend>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let app = Router::new()
        .route("/api/health", get(health))
        .route("/api/{db}/{table}/_stream_load", put(stream_load::redirect))
        .route("/api/{db}/_stream_load_2pc", put(stream_load::two_phase))
        .route(
            "/api/{db}/{table}/_stream_load_2pc",
            put(stream_load::two_phase_of_table),
        )
        .route(BEGIN_PATH, post(stream_load::begin))
        .route(COMMIT_PATH, post(stream_load::commit))
        .route(ABORT_PATH, post(stream_load::abort))
        .route(SINK_PATH, post(stream_load::sink))
        .route(RECORD_PATH, post(stream_load::record))
        .with_state(fe);
    let signal = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
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

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"code": 0, "msg": "success", "data": {"online_backend_num": 0}}))
}
