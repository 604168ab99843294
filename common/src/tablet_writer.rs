//! A load's rows on their way to the replicas of their tablets (Doris's
//! memtables and delta writers, without a memtable's key merge: the segment
//! writer sorts). Rows are buffered per tablet; a tablet whose buffer fills is
//! flushed as one segment to every replica while the load goes on, so a large
//! load never holds all its rows and parsing overlaps writing.

use crate::control_client::ControlClient;
use crate::rpc::{TabletId, TxnId};
use crate::sink::{ReplicaResults, TabletSink};
use crate::{Error, Result};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

/// A tablet's buffer is flushed at this size by default (the BE's
/// `write_buffer_size`; Doris's is 200 MB, but smaller buffers start writing
/// sooner and keep a load's memory lower).
pub const DEFAULT_WRITE_BUFFER_SIZE: u64 = 64 << 20;
/// All buffers together, in write buffers: past this the largest one is
/// flushed early.
const MAX_BUFFERS: usize = 8;

/// The rowsets of the backend running the load, written in process: a
/// coordinator holding a replica skips the RPC and its Arrow IPC copies.
pub trait LocalRowsets: Send + Sync {
    /// Adds `batches` as a segment of `txn_id`'s pending rowset of the tablet.
    fn write_rowset(
        &self,
        txn_id: TxnId,
        tablet_id: TabletId,
        batches: &[RecordBatch],
    ) -> Result<()>;
}

/// This backend's id and its rowsets.
pub type Local = (u64, Arc<dyn LocalRowsets>);

#[derive(Default)]
struct Buffer {
    batches: Vec<RecordBatch>,
    bytes: usize,
}

pub struct TabletWriter {
    sink: Arc<TabletSink>,
    client: ControlClient,
    txn_id: TxnId,
    local: Option<Local>,
    /// A tablet's buffer is flushed at this size.
    flush_bytes: usize,
    buffers: BTreeMap<(u64, TabletId), Buffer>,
    buffered: usize,
    /// (partition id, tablet id)s that got rows.
    written: BTreeSet<(u64, TabletId)>,
    flushes: JoinSet<ReplicaResults>,
    /// Bounds the flushes in flight: a load that outpaces its writes waits.
    slots: Arc<Semaphore>,
    /// One flush at a time per tablet, so its segments join the rowset in
    /// load order (the newest row of a key must come last).
    turns: BTreeMap<(u64, TabletId), Arc<Mutex<()>>>,
    /// Each replica's outcome so far; one failed flush fails the replica.
    outcome: BTreeMap<(TabletId, u64), Result<()>>,
}

impl TabletWriter {
    pub fn new(
        sink: Arc<TabletSink>,
        client: ControlClient,
        txn_id: TxnId,
        local: Option<Local>,
        flush_bytes: u64,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            sink,
            client,
            txn_id,
            local,
            flush_bytes: flush_bytes.max(1) as usize,
            buffers: BTreeMap::new(),
            buffered: 0,
            written: BTreeSet::new(),
            flushes: JoinSet::new(),
            slots: Arc::new(Semaphore::new(cores)),
            turns: BTreeMap::new(),
            outcome: BTreeMap::new(),
        }
    }

    /// Routes rows to their tablets (`partition_of` from
    /// [`TabletSink::partition_of_rows`], a partition for every row) and
    /// flushes the buffers that filled.
    pub async fn add(&mut self, batch: &RecordBatch, partition_of: &[Option<usize>]) -> Result<()> {
        for (key, rows) in self.sink.route(batch, partition_of)? {
            let size = rows.get_array_memory_size();
            let buffer = self.buffers.entry(key).or_default();
            buffer.batches.push(rows);
            buffer.bytes += size;
            self.buffered += size;
            self.written.insert(key);
            if buffer.bytes >= self.flush_bytes {
                self.flush(key).await;
            }
        }
        while self.buffered > self.flush_bytes * MAX_BUFFERS {
            let largest = self.buffers.iter().max_by_key(|(_, b)| b.bytes);
            let Some((key, _)) = largest.map(|(k, b)| (*k, b)) else {
                break;
            };
            self.flush(key).await;
        }
        Ok(())
    }

    /// Drops what is buffered and waits for the writes in flight, for a load
    /// about to be aborted.
    pub async fn cancel(mut self) {
        self.buffers.clear();
        while self.flushes.join_next().await.is_some() {}
    }

    /// Flushes what is left and waits for every write to settle (an abort
    /// must not race a write still landing on a backend). Returns the tablets
    /// that got rows, and each replica's outcome.
    pub async fn finish(mut self) -> (Vec<(u64, TabletId)>, ReplicaResults) {
        let keys: Vec<_> = self.buffers.keys().copied().collect();
        for key in keys {
            self.flush(key).await;
        }
        while let Some(done) = self.flushes.join_next().await {
            self.record(done);
        }
        (
            self.written.into_iter().collect(),
            self.outcome.into_iter().collect(),
        )
    }

    fn record(&mut self, done: std::result::Result<ReplicaResults, tokio::task::JoinError>) {
        let results = done.unwrap_or_else(|e| {
            // A panicked flush: its replicas are unknown, so fail every
            // replica of every tablet rather than guess.
            let why = Error::internal(format!("a segment write failed: {e}"));
            self.replicas().map(|r| (r, Err(why.clone()))).collect()
        });
        for (replica, r) in results {
            match (self.outcome.get(&replica), r) {
                (Some(Err(_)), _) => {}
                (_, r) => {
                    self.outcome.insert(replica, r);
                }
            }
        }
    }

    fn replicas(&self) -> impl Iterator<Item = (TabletId, u64)> + '_ {
        self.written.iter().flat_map(|(pid, tablet)| {
            self.tablet_backends(*pid, *tablet)
                .map(move |be| (*tablet, be))
        })
    }

    fn tablet_backends(&self, pid: u64, tablet: TabletId) -> impl Iterator<Item = u64> + '_ {
        self.sink
            .partitions
            .iter()
            .filter(move |p| p.id == pid)
            .flat_map(|p| &p.tablets)
            .filter(move |t| t.id == tablet)
            .flat_map(|t| t.backends.iter().copied())
    }

    /// Writes one tablet's buffer to every replica that has not failed yet,
    /// once a flush slot is free.
    async fn flush(&mut self, key: (u64, TabletId)) {
        let Some(buffer) = self.buffers.remove(&key) else {
            return;
        };
        self.buffered -= buffer.bytes;
        while let Some(done) = self.flushes.try_join_next() {
            self.record(done);
        }
        let turn = Arc::clone(self.turns.entry(key).or_default());
        let turn = turn.lock_owned().await;
        let slot = Arc::clone(&self.slots).acquire_owned().await.ok();
        let (pid, tablet) = key;
        let mut writes = Vec::new();
        for be in self.tablet_backends(pid, tablet).collect::<Vec<_>>() {
            if matches!(self.outcome.get(&(tablet, be)), Some(Err(_))) {
                continue;
            }
            let batches = buffer.batches.clone();
            let txn_id = self.txn_id;
            let addr = self.sink.backends.iter().find(|(id, _)| *id == be);
            let write = match (addr, &self.local) {
                // A backend the FE left out of the sink is dead: not waited for.
                (None, _) => Write::Dead,
                (Some(_), Some((id, local))) if *id == be => {
                    Write::Local(Arc::clone(local), batches)
                }
                (Some((_, addr)), _) => Write::Remote(self.client.clone(), addr.clone(), batches),
            };
            writes.push(async move {
                let r = match write {
                    Write::Local(local, batches) => tokio::task::spawn_blocking(move || {
                        local.write_rowset(txn_id, tablet, &batches)
                    })
                    .await
                    .unwrap_or_else(|e| Err(Error::internal(e.to_string()))),
                    Write::Remote(client, addr, batches) => {
                        client.write_rowset(&addr, txn_id, tablet, batches).await
                    }
                    Write::Dead => Err(Error::backend(format!("backend {be} is not alive"))),
                };
                ((tablet, be), r)
            });
        }
        self.flushes.spawn(async move {
            let results = futures::future::join_all(writes).await;
            drop((slot, turn));
            results
        });
    }
}

enum Write {
    Local(Arc<dyn LocalRowsets>, Vec<RecordBatch>),
    Remote(ControlClient, String, Vec<RecordBatch>),
    Dead,
}
