//! The FE's view of its backends: control-RPC clients, liveness from heartbeats,
//! and the worker URLs queries are routed to.

use crate::Frontend;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{Action, FlightDescriptor};
use basalt_catalog::Backend;
use basalt_common::rpc::{
    ControlRequest, ControlResponse, HeartbeatResponse, TabletId, TxnId, WriteRowsetRequest,
    CONTROL_ACTION,
};
use basalt_common::{Error, Result};
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

const RPC_TIMEOUT: Duration = Duration::from_secs(60);
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the FE knows of a backend beyond its catalog entry (not persisted).
#[derive(Debug, Clone, Default)]
pub struct BackendStatus {
    pub alive: bool,
    pub last_heartbeat_ms: i64,
    pub failures: u32,
    pub err_msg: String,
    pub info: HeartbeatResponse,
}

#[derive(Default)]
pub struct BackendRegistry {
    channels: Mutex<HashMap<String, Channel>>,
    status: RwLock<HashMap<u64, BackendStatus>>,
}

impl BackendRegistry {
    fn client(&self, addr: &str) -> Result<FlightServiceClient<Channel>> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = channels.get(addr) {
            return Ok(FlightServiceClient::new(c.clone()).max_decoding_message_size(usize::MAX));
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Error::invalid(format!("bad backend address {addr}: {e}")))?
            .connect_timeout(Duration::from_secs(3))
            .timeout(RPC_TIMEOUT)
            .connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(FlightServiceClient::new(channel).max_decoding_message_size(usize::MAX))
    }

    /// One control call to the backend at `addr` (its heartbeat service).
    pub async fn call(&self, addr: &str, req: &ControlRequest) -> Result<ControlResponse> {
        let mut client = self.client(addr)?;
        let action = Action {
            r#type: CONTROL_ACTION.into(),
            body: serde_json::to_vec(req)?.into(),
        };
        let mut stream = client
            .do_action(action)
            .await
            .map_err(|s| from_status(addr, s))?
            .into_inner();
        let reply = stream
            .message()
            .await
            .map_err(|s| from_status(addr, s))?
            .ok_or_else(|| Error::backend(format!("backend {addr} sent no reply")))?;
        Ok(serde_json::from_slice(&reply.body)?)
    }

    /// Sends rows to one replica as a pending rowset of `txn_id`.
    pub async fn write_rowset(
        &self,
        addr: &str,
        txn_id: TxnId,
        tablet_id: TabletId,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let mut client = self.client(addr)?;
        let cmd = serde_json::to_vec(&WriteRowsetRequest { txn_id, tablet_id })?;
        // Encode up front: an encoding error must fail the write, never drop rows.
        let input = futures::stream::iter(batches.into_iter().map(Ok));
        let flight: Vec<arrow_flight::FlightData> = FlightDataEncoderBuilder::new()
            .with_flight_descriptor(Some(FlightDescriptor::new_cmd(cmd)))
            .build(input)
            .try_collect()
            .await
            .map_err(|e| Error::internal(format!("encoding rows for backend {addr}: {e}")))?;
        let flight = futures::stream::iter(flight);
        let mut replies = client
            .do_put(flight)
            .await
            .map_err(|s| from_status(addr, s))?
            .into_inner();
        while replies
            .message()
            .await
            .map_err(|s| from_status(addr, s))?
            .is_some()
        {}
        Ok(())
    }

    pub fn status(&self, id: u64) -> BackendStatus {
        self.status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    pub fn is_alive(&self, id: u64) -> bool {
        self.status(id).alive
    }

    fn set_status(&self, id: u64, f: impl FnOnce(&mut BackendStatus)) {
        let mut all = self.status.write().unwrap_or_else(|e| e.into_inner());
        f(all.entry(id).or_default());
    }

    /// Heartbeats one backend and records the outcome.
    pub async fn heartbeat(&self, be: &Backend, max_failures: u32) -> Result<HeartbeatResponse> {
        let reply = tokio::time::timeout(
            HEARTBEAT_TIMEOUT,
            self.call(&be.heartbeat_addr(), &ControlRequest::Heartbeat),
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

/// A status from a backend carries a Basalt error as JSON when the BE raised one.
fn from_status(addr: &str, s: tonic::Status) -> Error {
    serde_json::from_str::<Error>(s.message()).unwrap_or_else(|_| {
        Error::backend(format!("backend {addr}: {} ({:?})", s.message(), s.code()))
    })
}

/// One heartbeat to every backend, concurrently.
pub async fn heartbeat_all(fe: &Arc<Frontend>) {
    let backends: Vec<Backend> = fe.catalog.read().backends.values().cloned().collect();
    let max_failures = fe.config.max_backend_heartbeat_failure_times;
    futures::future::join_all(
        backends
            .iter()
            .map(|be| fe.backends.heartbeat(be, max_failures)),
    )
    .await;
}

/// Heartbeats every backend periodically and retries unfinished publishes.
pub async fn heartbeat_loop(fe: Arc<Frontend>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_secs(fe.config.heartbeat_interval_second.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        heartbeat_all(&fe).await;
        crate::sql::insert::publish_pending(&fe).await;
    }
}
