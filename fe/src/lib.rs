//! The Basalt frontend: MySQL protocol, SQL parsing and planning, the catalog,
//! load transactions, and the coordination of backends.

pub mod auth;
pub mod backend;
pub mod cluster;
pub mod config;
pub mod connections;
pub mod http;
pub mod load;
pub mod mysql;
pub mod planner;
pub mod rows;
pub mod session;
pub mod sql;
pub mod variables;

use basalt_catalog::Catalog;
use basalt_common::config::FeConfig;
use basalt_common::Result;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Frontend {
    /// The config the FE started with; `mutable_config` holds the keys that
    /// ADMIN SET FRONTEND CONFIG changes.
    pub config: FeConfig,
    pub mutable_config: config::MutableConfig,
    pub catalog: Catalog,
    pub backends: backend::BackendRegistry,
    next_connection_id: AtomicU32,
    /// Commit and publish run one at a time, so versions become visible in order.
    pub publish_lock: tokio::sync::Mutex<()>,
    pub start_time_ms: i64,
    /// Replicas being created by DDL or clones, not yet in the catalog.
    pub creating: cluster::CreatingReplicas,
    /// Live MySQL connections, for SHOW PROCESSLIST and KILL.
    pub connections: connections::Connections,
    /// Where queries execute: a pool of its own, so a busy query never starves
    /// the connections, heartbeats and KILL.
    pub query_runtime: tokio::runtime::Handle,
    /// Clones running now, for `SHOW PROC '/cluster_health/tablet_health'`.
    pub cloning: std::sync::atomic::AtomicUsize,
    /// Authenticates backends' own calls (not users'); backends learn it from
    /// heartbeats, so it may change with every start.
    pub cluster_token: String,
    /// The latest Stream Loads' outcomes, for SHOW STREAM LOAD (in memory,
    /// as Doris keeps them outside its edit log).
    pub stream_loads:
        std::sync::Mutex<std::collections::VecDeque<basalt_common::load_rpc::StreamLoadRecord>>,
    /// HTTP calls to backends (proxied Stream Loads, INSERT group commits),
    /// one connection pool for all.
    pub http: reqwest::Client,
}

/// How many Stream Load outcomes SHOW STREAM LOAD can list.
pub const MAX_STREAM_LOAD_RECORDS: usize = 5000;

impl std::fmt::Debug for Frontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frontend")
            .field("query_port", &self.config.query_port)
            .finish()
    }
}

impl Frontend {
    pub fn open(config: FeConfig) -> Result<Arc<Self>> {
        let catalog = Catalog::open(&config.meta_dir)?;
        Ok(Arc::new(Self {
            mutable_config: config::MutableConfig::new(&config),
            config,
            catalog,
            backends: Default::default(),
            next_connection_id: AtomicU32::new(1),
            publish_lock: Default::default(),
            start_time_ms: basalt_common::now_ms(),
            creating: Default::default(),
            connections: Default::default(),
            query_runtime: query_runtime()?,
            cloning: Default::default(),
            cluster_token: format!("{:032x}", rand::random::<u128>()),
            stream_loads: Default::default(),
            http: reqwest::Client::new(),
        }))
    }

    /// What heartbeats tell backends of this FE: its HTTP port and cluster token.
    pub fn master_info(&self) -> (u16, &str) {
        (self.config.http_port, &self.cluster_token)
    }

    /// The backends that may run a load: alive and not decommissioned, by id.
    pub fn load_backends(&self) -> Vec<basalt_catalog::Backend> {
        let state = self.catalog.read();
        state
            .backends
            .values()
            .filter(|b| !b.decommissioned && self.backends.is_alive(b.id))
            .cloned()
            .collect()
    }

    /// Each backend's control-RPC address, by backend id.
    pub fn backend_addrs(&self) -> std::collections::BTreeMap<u64, String> {
        let state = self.catalog.read();
        state
            .backends
            .values()
            .map(|b| (b.id, b.heartbeat_addr()))
            .collect()
    }

    /// Backends that can run query fragments now.
    pub fn alive_backends(&self) -> usize {
        let state = self.catalog.read();
        state
            .backends
            .keys()
            .filter(|id| self.backends.is_alive(**id))
            .count()
    }

    pub fn next_connection_id(&self) -> u32 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// The query pool lives as long as the process: a runtime cannot be dropped
/// from async code, and the FE needs it until it exits.
fn query_runtime() -> Result<tokio::runtime::Handle> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let runtime = basalt_common::runtime_builder("query")
        .worker_threads(threads)
        .build()?;
    Ok(Box::leak(Box::new(runtime)).handle().clone())
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct FrontendPorts {
    pub query_port: u16,
    pub http_port: u16,
    pub edit_log_port: u16,
}

pub struct FrontendHandle {
    pub ports: FrontendPorts,
    pub fe: Arc<Frontend>,
    tasks: Vec<JoinHandle<()>>,
}

impl FrontendHandle {
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Opens the catalog and starts the listeners; they stop when `shutdown` turns true.
pub async fn start(config: FeConfig, shutdown: watch::Receiver<bool>) -> Result<FrontendHandle> {
    let query = basalt_common::net::bind(&config.bind_host, config.query_port).await?;
    let http = basalt_common::net::bind(&config.bind_host, config.http_port).await?;
    // Reserved for edit-log replication between FEs (HA); bound so the port is owned.
    let edit_log = basalt_common::net::bind(&config.bind_host, config.edit_log_port).await?;
    let ports = FrontendPorts {
        query_port: query.local_addr()?.port(),
        http_port: http.local_addr()?.port(),
        edit_log_port: edit_log.local_addr()?.port(),
    };
    // The configuration shows the bound ports (port 0 picks a free one).
    let mut config = config;
    config.query_port = ports.query_port;
    config.http_port = ports.http_port;
    config.edit_log_port = ports.edit_log_port;
    let fe = tokio::task::spawn_blocking(move || Frontend::open(config))
        .await
        .map_err(|e| basalt_common::Error::internal(e.to_string()))??;
    // Loads that were writing when the FE stopped can never commit: abort them,
    // which frees their labels and the backends' pending rowsets.
    let interrupted = load::abort_interrupted(&fe)?;
    // Know which backends are alive before the first query arrives.
    backend::heartbeat_all(&fe).await;
    load::publish_pending(&fe).await;
    let tasks = vec![
        tokio::spawn(mysql::serve(Arc::clone(&fe), query, shutdown.clone())),
        tokio::spawn(http::serve(Arc::clone(&fe), http, shutdown.clone())),
        tokio::spawn(backend::heartbeat_loop(Arc::clone(&fe), shutdown.clone())),
        tokio::spawn(cluster::scheduler::run(Arc::clone(&fe), shutdown.clone())),
        tokio::spawn(load::abort_on_backends_later(Arc::clone(&fe), interrupted)),
        tokio::spawn(async move {
            let mut shutdown = shutdown;
            let _ = shutdown.wait_for(|s| *s).await;
            drop(edit_log);
        }),
    ];
    tracing::info!(?ports, "frontend started");
    Ok(FrontendHandle { ports, fe, tasks })
}
