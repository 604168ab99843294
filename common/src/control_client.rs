//! The client side of a backend's control service, shared by the FE (which
//! drives backends) and the BEs (which pull replicas from each other to clone).

use crate::rpc::{
    ControlRequest, ControlResponse, FileTicket, TabletId, TxnId, WriteRowsetRequest,
    CONTROL_ACTION,
};
use crate::{Error, Result};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::{Action, FlightDescriptor, Ticket};
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// Control calls answer quickly; a clone copies whole tablets and gets longer.
const RPC_TIMEOUT: Duration = Duration::from_secs(60);
pub const CLONE_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// Connections to control services, one lazily connected channel per address
/// (clones share them).
#[derive(Default, Clone)]
pub struct ControlClient {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
}

impl ControlClient {
    fn client(&self, addr: &str) -> Result<FlightServiceClient<Channel>> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let channel = match channels.get(addr) {
            Some(c) => c.clone(),
            None => {
                let c = Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(|e| Error::invalid(format!("bad backend address {addr}: {e}")))?
                    .connect_timeout(Duration::from_secs(3))
                    .connect_lazy();
                channels.insert(addr.to_string(), c.clone());
                c
            }
        };
        Ok(FlightServiceClient::new(channel).max_decoding_message_size(usize::MAX))
    }

    /// One control call to the service at `addr`.
    pub async fn call(&self, addr: &str, req: &ControlRequest) -> Result<ControlResponse> {
        self.call_within(addr, req, RPC_TIMEOUT).await
    }

    /// One control call that may take up to `timeout`.
    pub async fn call_within(
        &self,
        addr: &str,
        req: &ControlRequest,
        timeout: Duration,
    ) -> Result<ControlResponse> {
        tokio::time::timeout(timeout, self.call_once(addr, req))
            .await
            .unwrap_or_else(|_| {
                Err(Error::backend(format!(
                    "backend {addr} did not answer within {} s",
                    timeout.as_secs()
                )))
            })
    }

    async fn call_once(&self, addr: &str, req: &ControlRequest) -> Result<ControlResponse> {
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
        let mut replies = client
            .do_put(futures::stream::iter(flight))
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

    /// Streams one file of a tablet from the backend at `addr` into `out`.
    pub async fn fetch_file(
        &self,
        addr: &str,
        ticket: &FileTicket,
        out: &mut std::fs::File,
    ) -> Result<u64> {
        let mut client = self.client(addr)?;
        let ticket = Ticket::new(serde_json::to_vec(ticket)?);
        let mut stream = client
            .do_get(ticket)
            .await
            .map_err(|s| from_status(addr, s))?
            .into_inner();
        let mut written = 0u64;
        while let Some(chunk) = stream.message().await.map_err(|s| from_status(addr, s))? {
            out.write_all(&chunk.data_body)?;
            written += chunk.data_body.len() as u64;
        }
        Ok(written)
    }
}

/// A Basalt error crosses the RPC as JSON in the status message, keeping its kind.
pub fn to_status(e: Error) -> tonic::Status {
    tonic::Status::unknown(serde_json::to_string(&e).unwrap_or(e.message))
}

fn from_status(addr: &str, s: tonic::Status) -> Error {
    serde_json::from_str::<Error>(s.message()).unwrap_or_else(|_| {
        Error::backend(format!("backend {addr}: {} ({:?})", s.message(), s.code()))
    })
}
