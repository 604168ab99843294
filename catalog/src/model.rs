//! Doris's metadata model: databases, OLAP tables, partitions, materialized
//! indexes, tablets and their replicas, backends, and load transactions.

use crate::partition::PartitionKey;
use basalt_common::rpc::{TabletId, TxnId, Version};
use basalt_common::schema::{Column, TabletSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CatalogState {
    pub next_id: u64,
    pub databases: BTreeMap<String, Database>,
    pub backends: BTreeMap<u64, Backend>,
    /// Counts commits, so committed loads are published in commit order.
    #[serde(default)]
    pub commit_seq: u64,
}

impl CatalogState {
    /// Every table of every database.
    pub fn tables(&self) -> impl Iterator<Item = &OlapTable> {
        self.databases.values().flat_map(|d| d.tables.values())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Database {
    pub id: u64,
    pub name: String,
    pub tables: BTreeMap<String, OlapTable>,
    /// Load transactions by id; labels index into it.
    #[serde(default)]
    pub transactions: BTreeMap<TxnId, Transaction>,
    #[serde(default)]
    pub labels: BTreeMap<String, TxnId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OlapTable {
    pub id: u64,
    pub name: String,
    pub schema: TabletSchema,
    pub partition_info: PartitionInfo,
    pub distribution: DistributionInfo,
    /// PROPERTIES as given, with Doris's defaults filled in (`replication_num`, ...).
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub comment: String,
    pub partitions: Vec<Partition>,
    /// Milliseconds since the epoch.
    pub create_time: i64,
    /// What the last `ANALYZE` found, by column name: the planner's
    /// distinct counts, ranges and null counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_stats: BTreeMap<String, ColumnStats>,
}

/// One column's statistics, as `ANALYZE` collects them and `SHOW COLUMN
/// STATS` shows them (Doris's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// The table's row count when collected.
    pub count: u64,
    /// Distinct non-null values (a HyperLogLog estimate).
    pub ndv: u64,
    pub num_null: u64,
    /// Bytes of the values (strings' lengths, fixed-width types' widths).
    pub data_size: u64,
    /// The smallest and largest value as text; none for types without an order.
    pub min: Option<String>,
    pub max: Option<String>,
    /// Milliseconds since the epoch.
    pub updated_time: i64,
}

impl OlapTable {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.schema
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// A column users may name (not a hidden one), or the unknown-column error.
    pub fn visible_column(&self, name: &str) -> basalt_common::Result<&Column> {
        self.column(name)
            .filter(|c| !c.is_hidden())
            .ok_or_else(|| crate::unknown_column(&self.name, name))
    }

    pub fn partition(&self, name: &str) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.name == name)
    }

    pub fn replication_num(&self) -> usize {
        self.properties
            .get("replication_num")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }

    /// The colocation group named by `"colocate_with"`, if any.
    pub fn colocate_group(&self) -> Option<&str> {
        self.properties
            .get("colocate_with")
            .map(String::as_str)
            .filter(|g| !g.is_empty())
    }

    /// Replicas that must hold a load (write and publish) for it to count.
    pub fn quorum(&self) -> usize {
        self.replication_num() / 2 + 1
    }

    pub fn tablet_num(&self) -> usize {
        self.partitions.iter().map(|p| p.index.tablets.len()).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PartitionInfo {
    /// No PARTITION BY: one partition named after the table.
    Unpartitioned,
    Range {
        columns: Vec<String>,
    },
    List {
        columns: Vec<String>,
    },
}

impl PartitionInfo {
    pub fn columns(&self) -> &[String] {
        match self {
            PartitionInfo::Unpartitioned => &[],
            PartitionInfo::Range { columns } | PartitionInfo::List { columns } => columns,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DistributionInfo {
    Hash { columns: Vec<String>, buckets: u32 },
    Random { buckets: u32 },
}

impl DistributionInfo {
    pub fn buckets(&self) -> u32 {
        match self {
            DistributionInfo::Hash { buckets, .. } | DistributionInfo::Random { buckets } => {
                *buckets
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partition {
    pub id: u64,
    pub name: String,
    /// `[lower, upper)` of a RANGE partition.
    #[serde(default)]
    pub range: Option<(PartitionKey, PartitionKey)>,
    /// The value tuples of a LIST partition.
    #[serde(default)]
    pub list_values: Vec<PartitionKey>,
    /// Data up to this version is visible to queries. A new partition starts at 1.
    pub visible_version: Version,
    /// The version the next committed load gets.
    pub next_version: Version,
    pub visible_version_time: i64,
    /// The base index; rollups and sync MVs will sit beside it.
    pub index: MaterializedIndex,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaterializedIndex {
    pub id: u64,
    /// One tablet per bucket, in bucket order.
    pub tablets: Vec<Tablet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tablet {
    pub id: TabletId,
    pub replicas: Vec<Replica>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replica {
    pub id: u64,
    pub backend_id: u64,
    /// Every version up to this one is published on the replica.
    pub version: Version,
    /// The last load this replica missed (write or publish failed), until a
    /// clone catches it up; such a replica is not read.
    #[serde(default)]
    pub last_failed_version: Option<Version>,
    #[serde(default)]
    pub last_failed_time: i64,
}

impl Replica {
    pub fn new(id: u64, backend_id: u64, version: Version) -> Self {
        Self {
            id,
            backend_id,
            version,
            last_failed_version: None,
            last_failed_time: 0,
        }
    }

    /// Holds every version up to `visible` and missed no later load.
    pub fn is_complete(&self, visible: Version) -> bool {
        self.version >= visible && self.last_failed_version.is_none()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backend {
    pub id: u64,
    pub host: String,
    pub heartbeat_port: u16,
    pub http_port: u16,
    pub brpc_port: u16,
    /// `ALTER SYSTEM DECOMMISSION BACKEND`: its replicas move away, then it is dropped.
    #[serde(default)]
    pub decommissioned: bool,
}

impl Backend {
    pub fn heartbeat_addr(&self) -> String {
        format!("{}:{}", self.host, self.heartbeat_port)
    }
    /// The backend's datafusion-distributed worker address.
    pub fn worker_url(&self) -> String {
        format!("http://{}:{}", self.host, self.brpc_port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnStatus {
    Prepare,
    /// Written to a majority and waiting for the client's 2PC commit or abort.
    Precommitted,
    Committed,
    Visible,
    Aborted,
}

impl std::fmt::Display for TxnStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TxnStatus::Prepare => "PREPARE",
            TxnStatus::Precommitted => "PRECOMMITTED",
            TxnStatus::Committed => "COMMITTED",
            TxnStatus::Visible => "VISIBLE",
            TxnStatus::Aborted => "ABORTED",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transaction {
    pub id: TxnId,
    pub label: String,
    pub table_id: u64,
    pub status: TxnStatus,
    /// Per partition, the version this load becomes visible at (set at commit).
    #[serde(default)]
    pub partition_versions: Vec<(u64, Version)>,
    /// The tablets the load wrote, to publish or abort on their backends.
    #[serde(default)]
    pub tablets: Vec<TabletId>,
    /// Set at commit: the replicas (tablet, backend) that hold the load and are
    /// published; the other replicas of its partitions missed it.
    #[serde(default)]
    pub replicas: Vec<(TabletId, u64)>,
    /// Position in the commit order, for publishing in that order.
    #[serde(default)]
    pub commit_seq: u64,
    pub create_time: i64,
    #[serde(default)]
    pub reason: String,
    /// Doris's LoadJobSourceType: `BACKEND_STREAMING` (Stream Load) or
    /// `INSERT_STREAMING` (INSERT).
    #[serde(default)]
    pub source_type: String,
    /// Who ran the load: `BE: host` or `FE: host`.
    #[serde(default)]
    pub coordinator: String,
    #[serde(default)]
    pub precommit_time: i64,
    #[serde(default)]
    pub commit_time: i64,
    /// When it became VISIBLE or ABORTED.
    #[serde(default)]
    pub finish_time: i64,
    /// A load still writing after this long is aborted (0: never).
    #[serde(default)]
    pub timeout_ms: i64,
    /// The backend coordinating a Stream Load: if it dies, the load is aborted.
    #[serde(default)]
    pub coordinator_backend: Option<u64>,
    /// That backend's start time when the load began: a restart aborts the load too.
    #[serde(default)]
    pub coordinator_start_time: i64,
}

impl Transaction {
    /// Still running: it may yet write, commit or be published.
    pub fn is_running(&self) -> bool {
        matches!(
            self.status,
            TxnStatus::Prepare | TxnStatus::Precommitted | TxnStatus::Committed
        )
    }
}
