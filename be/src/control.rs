//! The BE's control service on `heartbeat_service_port`: heartbeats, tablet
//! creation, rowset writes (`do_put`), publish and abort, as Arrow Flight calls.

use crate::storage::StorageEngine;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use basalt_common::control_client::{to_status, ControlClient};
use basalt_common::rpc::{
    ControlRequest, ControlResponse, FileTicket, HeartbeatResponse, WriteRowsetRequest,
    CONTROL_ACTION,
};
use basalt_common::Error;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tonic::{Request, Response, Status, Streaming};

pub struct ControlService {
    pub engine: Arc<StorageEngine>,
    /// For pulling replicas from other backends when cloning.
    pub rpc: ControlClient,
    pub http_port: u16,
    pub brpc_port: u16,
    pub start_time_ms: i64,
    pub master: crate::MasterAddress,
}

type Stream<T> = BoxStream<'static, Result<T, Status>>;

impl ControlService {
    async fn handle(&self, req: ControlRequest) -> basalt_common::Result<ControlResponse> {
        let engine = Arc::clone(&self.engine);
        match req {
            ControlRequest::Heartbeat { .. } => {
                let (total, avail) = disk_space(&engine);
                Ok(ControlResponse::Heartbeat(HeartbeatResponse {
                    be_version: env!("CARGO_PKG_VERSION").to_string(),
                    http_port: self.http_port,
                    brpc_port: self.brpc_port,
                    start_time_ms: self.start_time_ms,
                    tablet_num: engine.tablet_count(),
                    data_used_bytes: engine.data_size(),
                    avail_bytes: avail,
                    total_bytes: total,
                }))
            }
            ControlRequest::ReportTablets => Ok(ControlResponse::Tablets {
                tablets: engine.report(),
            }),
            ControlRequest::GetRowsets { tablet_id, version } => Ok(ControlResponse::Rowsets {
                rowsets: engine.rowset_files(tablet_id, version)?,
            }),
            ControlRequest::CloneTablet {
                tablet_id,
                schema,
                src,
                version,
            } => {
                let version =
                    crate::clone::clone_tablet(engine, &self.rpc, tablet_id, schema, &src, version)
                        .await?;
                Ok(ControlResponse::Cloned { version })
            }
            other => {
                // Storage calls fsync: keep them off the async workers.
                tokio::task::spawn_blocking(move || match other {
                    ControlRequest::CreateTablet { tablet_id, schema } => engine
                        .create_tablet(tablet_id, schema)
                        .map(|_| ControlResponse::Ok),
                    ControlRequest::DropTablet { tablet_id } => {
                        engine.drop_tablet(tablet_id).map(|_| ControlResponse::Ok)
                    }
                    ControlRequest::PublishVersion { txn_id, tablets } => engine
                        .publish(txn_id, &tablets)
                        .map(|failed| ControlResponse::Published { failed }),
                    ControlRequest::AlterIndexes { tablet_id, schema } => engine
                        .alter_indexes(tablet_id, schema)
                        .map(|_| ControlResponse::Ok),
                    ControlRequest::WriteDeletePredicate {
                        txn_id,
                        tablet_id,
                        predicate,
                    } => engine
                        .write_delete_predicate(txn_id, tablet_id, predicate)
                        .map(|_| ControlResponse::Ok),
                    ControlRequest::AbortTxn { txn_id } => {
                        engine.abort(txn_id).map(|_| ControlResponse::Ok)
                    }
                    _ => Err(Error::internal("not a storage request")),
                })
                .await
                .map_err(|e| Error::internal(e.to_string()))?
            }
        }
    }
}

/// Total and available bytes of the storage root's file system.
fn disk_space(engine: &StorageEngine) -> (u64, u64) {
    fs_stats(engine.root()).unwrap_or((0, 0))
}

fn fs_stats(path: &std::path::Path) -> Option<(u64, u64)> {
    // `df` is everywhere and saves a platform-specific statvfs binding.
    let out = std::process::Command::new("df")
        .arg("-kP")
        .arg(path)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let cols: Vec<&str> = text.lines().nth(1)?.split_whitespace().collect();
    Some((
        cols.get(1)?.parse::<u64>().ok()? * 1024,
        cols.get(3)?.parse::<u64>().ok()? * 1024,
    ))
}

#[tonic::async_trait]
impl FlightService for ControlService {
    type HandshakeStream = Stream<HandshakeResponse>;
    type ListFlightsStream = Stream<FlightInfo>;
    type DoGetStream = Stream<FlightData>;
    type DoPutStream = Stream<PutResult>;
    type DoExchangeStream = Stream<FlightData>;
    type DoActionStream = Stream<arrow_flight::Result>;
    type ListActionsStream = Stream<ActionType>;

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        let remote = request.remote_addr();
        let action = request.into_inner();
        if action.r#type != CONTROL_ACTION {
            return Err(Status::invalid_argument(format!(
                "unknown action {}",
                action.r#type
            )));
        }
        let req: ControlRequest = serde_json::from_slice(&action.body)
            .map_err(|e| Status::invalid_argument(format!("bad control request: {e}")))?;
        if let (
            ControlRequest::Heartbeat {
                fe_http_port,
                fe_token,
                backend_id,
            },
            Some(remote),
        ) = (&req, remote)
        {
            if *fe_http_port != 0 {
                self.master.set(crate::MasterInfo {
                    addr: format!("{}:{fe_http_port}", remote.ip()),
                    token: fe_token.clone(),
                    backend_id: *backend_id,
                });
            }
        }
        let resp = self.handle(req).await.map_err(to_status)?;
        let body = serde_json::to_vec(&resp).map_err(|e| Status::internal(e.to_string()))?;
        let out = arrow_flight::Result { body: body.into() };
        Ok(Response::new(stream::once(async { Ok(out) }).boxed()))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let mut input = request.into_inner();
        let first = input
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty do_put stream"))?;
        let descriptor = first
            .flight_descriptor
            .clone()
            .ok_or_else(|| Status::invalid_argument("do_put without descriptor"))?;
        let req: WriteRowsetRequest = serde_json::from_slice(&descriptor.cmd)
            .map_err(|e| Status::invalid_argument(format!("bad write request: {e}")))?;
        let data = stream::once(async { Ok(first) })
            .chain(input)
            .map_err(|e| FlightError::Tonic(Box::new(e)));
        let batches: Vec<_> = FlightRecordBatchStream::new_from_flight_data(data)
            .try_collect()
            .await
            .map_err(|e| Status::invalid_argument(format!("bad rowset data: {e}")))?;
        let engine = Arc::clone(&self.engine);
        crate::metrics::RPC_SEGMENT_WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            engine.write_rowset(req.txn_id, req.tablet_id, &batches)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(to_status)?;
        Ok(Response::new(
            stream::once(async { Ok(PutResult::default()) }).boxed(),
        ))
    }

    async fn handshake(
        &self,
        _: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented("handshake"))
    }
    async fn list_flights(
        &self,
        _: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        Err(Status::unimplemented("list_flights"))
    }
    async fn get_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        Err(Status::unimplemented("get_flight_info"))
    }
    async fn poll_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented("poll_flight_info"))
    }
    async fn get_schema(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        Err(Status::unimplemented("get_schema"))
    }
    /// Streams one file of a tablet to a backend cloning it.
    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let ticket: FileTicket = serde_json::from_slice(&request.into_inner().ticket)
            .map_err(|e| Status::invalid_argument(format!("bad file ticket: {e}")))?;
        let path = self
            .engine
            .tablet_file(ticket.tablet_id, &ticket.file)
            .map_err(to_status)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Status::not_found(format!("{}: {e}", path.display())))?;
        let chunks = stream::try_unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 1 << 20];
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| Status::internal(e.to_string()))?;
            if n == 0 {
                return Ok(None);
            }
            buf.truncate(n);
            let chunk = FlightData {
                data_body: buf.into(),
                ..Default::default()
            };
            Ok(Some((chunk, file)))
        });
        Ok(Response::new(chunks.boxed()))
    }
    async fn do_exchange(
        &self,
        _: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented("do_exchange"))
    }
    async fn list_actions(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        Err(Status::unimplemented("list_actions"))
    }
}
