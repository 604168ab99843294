//! The FE's view of its backends: control-RPC clients, liveness from heartbeats,
//! and the worker URLs queries are routed to.

use crate::Frontend;
use basalt_catalog::Backend;
use basalt_common::control_client::ControlClient;
use basalt_common::rpc::{
    ControlRequest, ControlResponse, HeartbeatResponse, TabletId, TabletInfo,
};
use basalt_common::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the FE knows of a backend beyond its catalog entry (not persisted).
#[derive(Debug, Clone, Default)]
pub struct BackendStatus {
    pub alive: bool,
    pub last_heartbeat_ms: i64,
    pub failures: u32,
    pub err_msg: String,
    pub info: HeartbeatResponse,
    /// When the backend last answered a heartbeat.
    pub last_alive_ms: i64,
    /// When the FE last reconciled the backend's tablet report, and the
    /// backend's start time then (a restart asks for a fresh report).
    pub last_report_ms: i64,
    pub reported_start_ms: i64,
}

#[derive(Default)]
pub struct BackendRegistry {
    pub rpc: ControlClient,
    status: RwLock<HashMap<u64, BackendStatus>>,
    /// Each backend's last tablet report (sizes and row counts for SHOW).
    reports: RwLock<HashMap<u64, HashMap<TabletId, TabletInfo>>>,
}

impl BackendRegistry {
    pub fn status(&self, id: u64) -> BackendStatus {
        self.status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn set_report(&self, backend: u64, tablets: HashMap<TabletId, TabletInfo>) {
        let mut all = self.reports.write().unwrap_or_else(|e| e.into_inner());
        all.insert(backend, tablets);
    }

    /// A replica as its backend last reported it.
    pub fn reported(&self, backend: u64, tablet: TabletId) -> Option<TabletInfo> {
        let all = self.reports.read().unwrap_or_else(|e| e.into_inner());
        all.get(&backend)?.get(&tablet).cloned()
    }

    pub fn is_alive(&self, id: u64) -> bool {
        self.status(id).alive
    }

    pub fn set_status(&self, id: u64, f: impl FnOnce(&mut BackendStatus)) {
        let mut all = self.status.write().unwrap_or_else(|e| e.into_inner());
        f(all.entry(id).or_default());
    }

    /// Heartbeats one backend and records the outcome.
    pub async fn heartbeat(
        &self,
        be: &Backend,
        max_failures: u32,
        (fe_http_port, fe_token): (u16, &str),
    ) -> Result<HeartbeatResponse> {
        let reply = tokio::time::timeout(
            HEARTBEAT_TIMEOUT,
            self.rpc.call(
                &be.heartbeat_addr(),
                &ControlRequest::Heartbeat {
                    fe_http_port,
                    fe_token: fe_token.to_string(),
                    backend_id: Some(be.id),
                },
            ),
        )
        .await
        .unwrap_or_else(|_| Err(Error::backend("heartbeat timed out")));
        match reply {
            Ok(ControlResponse::Heartbeat(info)) => {
                self.set_status(be.id, |s| {
                    s.alive = true;
                    s.failures = 0;
                    s.err_msg.clear();
                    s.last_heartbeat_ms = basalt_common::now_ms();
                    s.last_alive_ms = s.last_heartbeat_ms;
                    s.info = info.clone();
                });
                Ok(info)
            }
            Ok(other) => Err(Error::backend(format!(
                "unexpected heartbeat reply {other:?}"
            ))),
            Err(e) => {
                self.set_status(be.id, |s| {
                    s.failures += 1;
                    if s.failures >= max_failures {
                        s.alive = false;
                    }
                    s.err_msg = e.message.clone();
                });
                Err(e)
            }
        }
    }
}

/// One heartbeat to every backend, concurrently. A backend that restarted on
/// other HTTP or data ports gets its catalog entry updated.
pub async fn heartbeat_all(fe: &Arc<Frontend>) {
    let backends: Vec<Backend> = fe.catalog.read().backends.values().cloned().collect();
    let max_failures = fe.config.max_backend_heartbeat_failure_tolerance_count;
    let replies = futures::future::join_all(
        backends
            .iter()
            .map(|be| fe.backends.heartbeat(be, max_failures, fe.master_info())),
    )
    .await;
    for (be, reply) in backends.into_iter().zip(replies) {
        let Ok(info) = reply else { continue };
        if (info.http_port, info.brpc_port) != (be.http_port, be.brpc_port) {
            // The entry as it is now: a decommission or drop since the snapshot stays.
            let Some(current) = fe.catalog.read().backends.get(&be.id).cloned() else {
                continue;
            };
            let backend = Backend {
                http_port: info.http_port,
                brpc_port: info.brpc_port,
                ..current
            };
            if let Err(e) = fe
                .catalog
                .log(basalt_catalog::EditLogEntry::AddBackend { backend })
            {
                tracing::warn!("updating the ports of a backend: {e}");
            }
        }
    }
}

/// Heartbeats every backend periodically and retries unfinished publishes.
pub async fn heartbeat_loop(fe: Arc<Frontend>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_secs(fe.config.heartbeat_interval_second.max(1));
    while basalt_common::sleep_or_shutdown(interval, &mut shutdown).await {
        heartbeat_all(&fe).await;
        crate::load::abort_stale(&fe).await;
        crate::load::publish_pending(&fe).await;
        crate::load::expire_labels(&fe);
    }
}
