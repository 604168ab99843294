//! Where a load's rows go, as the FE hands it to whoever writes them (the FE
//! itself for INSERT, the coordinating BE for Stream Load): the table's schema,
//! how a row finds its partition and bucket, and every tablet's replicas.

use crate::partition::{KeyValue, PartitionKey};
use crate::rpc::TabletId;
use crate::schema::TabletSchema;
use crate::{Error, Result};
use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TabletSink {
    pub table_id: u64,
    pub table: String,
    pub schema: TabletSchema,
    /// Empty for an unpartitioned table.
    pub partition_columns: Vec<String>,
    /// The HASH columns; `None` for RANDOM distribution.
    pub distribution_columns: Option<Vec<String>>,
    pub buckets: u32,
    pub partitions: Vec<SinkPartition>,
    /// The control address of every live backend holding a replica (a list,
    /// not a map: JSON map keys are strings, which tagged enums cannot read back as ids).
    pub backends: Vec<(u64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SinkPartition {
    pub id: u64,
    pub name: String,
    /// `[lower, upper)` of a RANGE partition.
    pub range: Option<(PartitionKey, PartitionKey)>,
    /// The value tuples of a LIST partition.
    pub list_values: Vec<PartitionKey>,
    /// Tablet of each bucket.
    pub tablets: Vec<SinkTablet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SinkTablet {
    pub id: TabletId,
    /// Backends holding a replica.
    pub backends: Vec<u64>,
}

/// A load's rows per (partition id, tablet id).
pub type Routed = BTreeMap<(u64, TabletId), RecordBatch>;

/// What writing one replica came to, keyed by (tablet, backend).
pub type ReplicaResults = Vec<((TabletId, u64), Result<()>)>;

impl TabletSink {
    fn columns(&self, batch: &RecordBatch, names: &[String]) -> Result<Vec<ArrayRef>> {
        names
            .iter()
            .map(|name| {
                let idx = self
                    .schema
                    .columns
                    .iter()
                    .position(|c| &c.name == name)
                    .ok_or_else(|| {
                        Error::internal(format!("column {name} of table {} is missing", self.table))
                    })?;
                Ok(batch.column(idx).clone())
            })
            .collect()
    }

    /// The partition (index into `partitions`) of every row of a batch shaped
    /// like the table; `None` where no partition takes the row.
    pub fn partition_of_rows(&self, batch: &RecordBatch) -> Result<Vec<Option<usize>>> {
        let n = batch.num_rows();
        if self.partition_columns.is_empty() {
            return Ok(vec![(!self.partitions.is_empty()).then_some(0); n]);
        }
        let cols = self.columns(batch, &self.partition_columns)?;
        Ok((0..n)
            .map(|row| {
                let key = PartitionKey {
                    values: cols.iter().map(|c| KeyValue::of_cell(c, row)).collect(),
                    text: vec![],
                };
                self.partitions.iter().position(|p| match &p.range {
                    Some((lo, hi)) => *lo <= key && key < *hi,
                    None => p.list_values.contains(&key),
                })
            })
            .collect())
    }

    /// Splits rows into per-tablet batches; `partition_of` comes from
    /// [`Self::partition_of_rows`] and must have a partition for every row.
    pub fn route(&self, batch: &RecordBatch, partition_of: &[Option<usize>]) -> Result<Routed> {
        let n = batch.num_rows();
        let bucket_of: Vec<u32> = match &self.distribution_columns {
            Some(columns) => {
                let cols = self.columns(batch, columns)?;
                crate::hash::buckets_of(&cols, self.buckets).map_err(Error::invalid)?
            }
            // Doris's random distribution sends one load to one tablet per partition.
            None => vec![rand::random::<u32>() % self.buckets.max(1); n],
        };
        let mut rows: BTreeMap<(u64, TabletId), Vec<u32>> = BTreeMap::new();
        for row in 0..n {
            let p = partition_of[row]
                .and_then(|p| self.partitions.get(p))
                .ok_or_else(|| Error::internal(format!("row {row} has no partition")))?;
            let tablet = p
                .tablets
                .get(bucket_of[row] as usize)
                .ok_or_else(|| Error::internal(format!("partition {} lacks a bucket", p.name)))?;
            rows.entry((p.id, tablet.id)).or_default().push(row as u32);
        }
        rows.into_iter()
            .map(|(k, idx)| {
                let b = take_record_batch(batch, &UInt32Array::from(idx))
                    .map_err(|e| Error::internal(e.to_string()))?;
                Ok((k, b))
            })
            .collect()
    }
}
