//! Control-RPC messages from the FE to a BE's `heartbeat_service_port`.
//!
//! They travel as JSON bodies of Arrow Flight actions (`do_action`, type
//! [`CONTROL_ACTION`]); a rowset's rows travel as a Flight `do_put` stream whose
//! descriptor command is a JSON [`WriteRowsetRequest`]. Flight gives us a typed,
//! streaming RPC without a protobuf toolchain at build time.

use crate::schema::TabletSchema;
use serde::{Deserialize, Serialize};

pub const CONTROL_ACTION: &str = "basalt.control";

pub type TabletId = u64;
pub type TxnId = u64;
pub type Version = u64;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ControlRequest {
    Heartbeat,
    CreateTablet {
        tablet_id: TabletId,
        schema: TabletSchema,
    },
    DropTablet {
        tablet_id: TabletId,
    },
    /// Make the rowsets `txn_id` wrote visible, each tablet at its version.
    PublishVersion {
        txn_id: TxnId,
        tablets: Vec<(TabletId, Version)>,
    },
    /// Discard the rowsets an unfinished transaction wrote.
    AbortTxn {
        txn_id: TxnId,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub be_version: String,
    pub http_port: u16,
    pub brpc_port: u16,
    pub start_time_ms: i64,
    pub tablet_num: u64,
    pub data_used_bytes: u64,
    pub avail_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum ControlResponse {
    Ok,
    Heartbeat(HeartbeatResponse),
}

/// Descriptor of a `do_put`: the batches that follow become one pending rowset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteRowsetRequest {
    pub txn_id: TxnId,
    pub tablet_id: TabletId,
}
