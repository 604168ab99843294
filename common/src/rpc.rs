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
    /// Carries the FE's HTTP port: a backend calls the FE there (at the
    /// address the heartbeat came from) to run Stream Loads.
    Heartbeat {
        #[serde(default)]
        fe_http_port: u16,
        /// The FE's cluster token: a backend's own calls (a group commit's
        /// flush) authenticate with it rather than a user's password.
        #[serde(default)]
        fe_token: String,
        /// The id the FE knows this backend by: a load's coordinator writes
        /// its own replicas directly, without a round trip through RPC.
        #[serde(default)]
        backend_id: Option<u64>,
    },
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
        tablets: Vec<PublishTablet>,
    },
    /// Discard the rowsets an unfinished transaction wrote.
    AbortTxn {
        txn_id: TxnId,
    },
    /// Every tablet this backend holds, with its version (Doris's tablet report).
    ReportTablets,
    /// Copy the published rowsets this replica lacks, up to `version`, from the
    /// replica on the backend whose control service is at `src`.
    CloneTablet {
        tablet_id: TabletId,
        schema: TabletSchema,
        src: String,
        version: Version,
    },
    /// The tablet's schema with other bitmap indexes: the new ones are built
    /// for the segments it has.
    AlterIndexes {
        tablet_id: TabletId,
        schema: TabletSchema,
    },
    /// `DELETE FROM` on a DUPLICATE or AGGREGATE table: a pending rowset of
    /// `txn_id` with no rows, whose predicate (SQL over the tablet's columns)
    /// deletes the matching rows of every older version once published.
    WriteDeletePredicate {
        txn_id: TxnId,
        tablet_id: TabletId,
        predicate: String,
    },
    /// The published rowsets of a tablet up to `version` (asked by a cloning backend).
    GetRowsets {
        tablet_id: TabletId,
        version: Version,
    },
}

/// One tablet of a publish. A tablet that got no rows in the load still moves
/// to the version (with an empty rowset), so every replica's versions stay
/// contiguous; `has_rows` lets the backend refuse a publish it has no data for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct PublishTablet {
    pub tablet_id: TabletId,
    pub version: Version,
    pub has_rows: bool,
}

/// A replica as its backend reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TabletInfo {
    pub tablet_id: TabletId,
    /// The highest version up to which every version is present.
    pub version: Version,
    pub num_rows: u64,
    pub data_size: u64,
    /// Published rowsets making up the tablet (Doris's version count).
    #[serde(default)]
    pub version_count: u64,
}

/// A published rowset as a cloning backend copies it: its version and files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowsetFiles {
    /// A rowset of a `DELETE FROM`: its predicate, and no files.
    #[serde(default)]
    pub delete_predicate: Option<String>,
    /// The versions the rowset holds: one for a load, a range after a compaction.
    #[serde(default)]
    pub start_version: Version,
    pub version: Version,
    pub segments: Vec<String>,
    pub num_rows: u64,
    pub data_size: u64,
}

/// `do_get` ticket for one file of a tablet; the reply streams its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileTicket {
    pub tablet_id: TabletId,
    pub file: String,
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
    Tablets {
        tablets: Vec<TabletInfo>,
    },
    /// The tablets of a publish that could not be published.
    Published {
        failed: Vec<TabletId>,
    },
    Rowsets {
        rowsets: Vec<RowsetFiles>,
    },
    /// The replica's contiguous version after a clone.
    Cloned {
        version: Version,
    },
}

/// Descriptor of a `do_put`: the batches that follow become one pending rowset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteRowsetRequest {
    pub txn_id: TxnId,
    pub tablet_id: TabletId,
}
