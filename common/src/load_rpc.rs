//! Calls a backend coordinating a Stream Load makes to the FE, as JSON over the
//! FE's HTTP port (`/api/_basalt/load/...`). Each carries the load's own
//! `Authorization` header: the FE checks the user itself on every call, so a
//! backend never vouches for a request.

use crate::rpc::{TabletId, TxnId};
use crate::sink::{ReplicaResults, TabletSink};
use serde::{Deserialize, Serialize};

pub const BEGIN_PATH: &str = "/api/_basalt/load/begin";
pub const COMMIT_PATH: &str = "/api/_basalt/load/commit";
pub const ABORT_PATH: &str = "/api/_basalt/load/abort";
pub const SINK_PATH: &str = "/api/_basalt/load/sink";
pub const RECORD_PATH: &str = "/api/_basalt/load/record";
/// On a backend: `POST {GROUP_COMMIT_PATH}/{db}/{table}` adds an INSERT's rows
/// (an Arrow IPC stream, from the FE with the cluster token) to the table's
/// group commit; the `group_commit` header names the mode.
pub const GROUP_COMMIT_PATH: &str = "/api/_basalt/group_commit";

/// The header carrying the FE's cluster token on a backend's own calls.
pub const TOKEN_HEADER: &str = "x-basalt-token";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BeginLoad {
    pub db: String,
    pub table: String,
    /// The client's label; the FE makes one up when it is absent.
    pub label: Option<String>,
    /// The coordinating backend's host, for SHOW TRANSACTION.
    pub coordinator_host: String,
    /// The coordinating backend's control port: with the caller's address it
    /// names the backend, whose death aborts the load.
    pub heartbeat_port: u16,
    /// The `timeout` header, in seconds.
    pub timeout_second: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum BeginLoadReply {
    Begun {
        txn_id: TxnId,
        label: String,
        sink: Box<TabletSink>,
    },
    /// Doris's `Label Already Exists`, with the existing job's status
    /// (`RUNNING` or `FINISHED`).
    LabelExists {
        message: String,
        existing_status: String,
    },
    Failed {
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitLoad {
    pub db: String,
    pub txn_id: TxnId,
    /// The (partition id, tablet id)s that got rows.
    pub written: Vec<(u64, TabletId)>,
    /// Replicas that hold the rows: (tablet, backend). Only these count
    /// towards a tablet's majority.
    pub succeeded: Vec<(TabletId, u64)>,
    /// Replicas whose write failed: (tablet, backend, why).
    pub failed: Vec<(TabletId, u64, String)>,
    /// `two_phase_commit: true`: stop at PRECOMMITTED.
    pub two_phase: bool,
}

impl CommitLoad {
    pub fn new(
        db: &str,
        txn_id: TxnId,
        written: Vec<(u64, TabletId)>,
        results: ReplicaResults,
        two_phase: bool,
    ) -> Self {
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        for ((tablet, be), r) in results {
            match r {
                Ok(()) => succeeded.push((tablet, be)),
                Err(e) => failed.push((tablet, be, e.message)),
            }
        }
        Self {
            db: db.to_string(),
            txn_id,
            written,
            succeeded,
            failed,
            two_phase,
        }
    }

    /// The replica writes' outcomes, as the FE's commit reads them.
    pub fn results(&self) -> ReplicaResults {
        let ok = self.succeeded.iter().map(|r| (*r, Ok(())));
        let failed = self
            .failed
            .iter()
            .map(|(t, be, why)| ((*t, *be), Err(crate::Error::backend(why.clone()))));
        ok.chain(failed).collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CommitLoadReply {
    /// `VISIBLE`, `COMMITTED` when the publish is still being retried, or
    /// `PRECOMMITTED` for a two-phase load.
    Committed {
        status: String,
    },
    Failed {
        message: String,
    },
}

/// Asks for a table's sink without beginning a load (group commit checks the
/// user and reads the rows first; the group's flush begins the transaction).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetSink {
    pub db: String,
    pub table: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum GetSinkReply {
    Sink {
        sink: Box<TabletSink>,
        /// The table's `group_commit_interval_ms`.
        group_commit_interval_ms: u64,
    },
    Failed {
        message: String,
    },
}

/// What a backend answers an INSERT's group commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum GroupCommitReply {
    /// `txn_id` once known: a `sync_mode` load waits for its group's commit;
    /// an `async_mode` one is answered once logged.
    Accepted {
        txn_id: Option<u64>,
        label: String,
    },
    Failed {
        message: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AbortLoad {
    pub db: String,
    pub txn_id: TxnId,
    pub reason: String,
}

/// How a Stream Load ended, for `SHOW STREAM LOAD` (the FE keeps the recent ones).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamLoadRecord {
    pub label: String,
    pub db: String,
    pub table: String,
    pub client_ip: String,
    pub status: String,
    pub message: String,
    pub url: String,
    pub total_rows: u64,
    pub loaded_rows: u64,
    pub filtered_rows: u64,
    pub unselected_rows: u64,
    pub load_bytes: u64,
    /// Milliseconds since the epoch.
    pub start_time: i64,
    pub finish_time: i64,
    pub user: String,
    pub comment: String,
}
