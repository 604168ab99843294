//! The Basalt backend: stores tablets and executes the fragments the FE sends.
//!
//! Three listeners, with Doris's port names: `heartbeat_service_port` (control
//! RPC: heartbeats, tablets, rowset writes, publish), `brpc_port` (the
//! datafusion-distributed worker that runs plan fragments) and `webserver_port`
//! (HTTP: health, Stream Load).

pub mod clone;
pub mod control;
pub mod http;
pub mod metrics;
pub mod storage;
pub mod stream_load;
pub mod worker;

use basalt_common::config::BeConfig;
use basalt_common::net::bind;
use basalt_common::Result;
use std::sync::Arc;
use storage::StorageEngine;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What this backend learns from the FE's heartbeats (Doris's TMasterInfo):
/// where the FE's HTTP port is, its cluster token, and this backend's id.
#[derive(Debug, Clone, Default)]
pub struct MasterInfo {
    /// `host:port` of the FE's HTTP server.
    pub addr: String,
    pub token: String,
    /// `None` until the FE names it.
    pub backend_id: Option<u64>,
}

/// The latest [`MasterInfo`], shared by the services that call the FE.
#[derive(Debug, Clone, Default)]
pub struct MasterAddress(Arc<std::sync::RwLock<Option<MasterInfo>>>);

impl MasterAddress {
    pub fn get(&self) -> Option<MasterInfo> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, info: MasterInfo) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(info);
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct BackendPorts {
    pub webserver_port: u16,
    pub heartbeat_service_port: u16,
    pub brpc_port: u16,
}

pub struct BackendHandle {
    pub ports: BackendPorts,
    pub engine: Arc<StorageEngine>,
    tasks: Vec<JoinHandle<()>>,
}

impl BackendHandle {
    /// Waits until every listener has stopped (after the shutdown signal).
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Opens the storage and starts every listener; they stop when `shutdown` turns true.
pub async fn start(cfg: &BeConfig, shutdown: watch::Receiver<bool>) -> Result<BackendHandle> {
    let engine = {
        let root = cfg.storage_root_path.clone();
        let compaction = storage::CompactionConfig::from_be(cfg);
        Arc::new(blocking(move || StorageEngine::open(&root, compaction)).await?)
    };
    let heartbeat = bind(&cfg.bind_host, cfg.heartbeat_service_port).await?;
    let brpc = bind(&cfg.bind_host, cfg.brpc_port).await?;
    let web = bind(&cfg.bind_host, cfg.webserver_port).await?;
    let ports = BackendPorts {
        webserver_port: web.local_addr()?.port(),
        heartbeat_service_port: heartbeat.local_addr()?.port(),
        brpc_port: brpc.local_addr()?.port(),
    };
    let master = MasterAddress::default();
    let control = control::ControlService {
        engine: Arc::clone(&engine),
        rpc: Default::default(),
        http_port: ports.webserver_port,
        brpc_port: ports.brpc_port,
        start_time_ms: basalt_common::now_ms(),
        master: master.clone(),
    };
    let loads = Arc::new(stream_load::StreamLoader::new(
        master,
        ports.heartbeat_service_port,
        Arc::clone(&engine),
        cfg,
    )?);
    // Group commits a previous run logged but did not commit: listed before
    // any new load can log.
    let logs = stream_load::list_wal(&engine.root().join("wal"));
    tokio::spawn(Arc::clone(&loads).replay_wal(logs));
    let tasks = vec![
        tokio::spawn(serve_grpc(
            tonic::transport::Server::builder().add_service(
                arrow_flight::flight_service_server::FlightServiceServer::new(control)
                    .max_decoding_message_size(usize::MAX),
            ),
            heartbeat,
            shutdown.clone(),
        )),
        tokio::spawn(serve_grpc(
            tonic::transport::Server::builder()
                .add_service(worker::worker(Arc::clone(&engine)).into_worker_server()),
            brpc,
            shutdown.clone(),
        )),
        tokio::spawn(http::serve(web, loads, shutdown.clone())),
        tokio::spawn(storage::run_compaction(Arc::clone(&engine), shutdown)),
    ];
    tracing::info!(?ports, "backend started");
    Ok(BackendHandle {
        ports,
        engine,
        tasks,
    })
}

/// File system and other blocking work runs off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| basalt_common::Error::internal(e.to_string()))?
}

async fn serve_grpc(
    router: tonic::transport::server::Router,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    // Without TCP_NODELAY small replies wait out delayed ACKs (~40 ms each).
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let signal = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    if let Err(e) = router.serve_with_incoming_shutdown(incoming, signal).await {
        tracing::error!("rpc server stopped: {e}");
    }
}
