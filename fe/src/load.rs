//! The load transaction every write goes through (INSERT now, Stream Load
//! later): rows are routed to tablets by partition and bucket, written to every
//! replica as pending rowsets, committed in the edit log once a majority of each
//! tablet's replicas hold them, published on the backends, then VISIBLE.

use crate::Frontend;
use basalt_catalog::{DistributionInfo, EditLogEntry, OlapTable, Transaction, TxnStatus};
use basalt_common::load_rpc::{GroupCommitReply, GROUP_COMMIT_PATH, TOKEN_HEADER};
use basalt_common::now_ms;
use basalt_common::rpc::{
    ControlRequest, ControlResponse, PublishTablet, TabletId, TxnId, Version,
};
use basalt_common::sink::{ReplicaResults, SinkPartition, SinkTablet, TabletSink};
use basalt_common::tablet_writer::{TabletWriter, DEFAULT_WRITE_BUFFER_SIZE};
use basalt_common::{Error, ErrorKind, Result};
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Runs one load transaction of rows shaped like the table. Returns its id and
/// status: VISIBLE, or COMMITTED when the rows are durable but their publish is
/// still being retried (as in Doris, that is a success: the rows become visible
/// without a new load).
pub async fn load(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    label: &str,
    batch: RecordBatch,
) -> Result<(TxnId, TxnStatus)> {
    let txn_id = begin(fe, db, table, label, LoadSource::statement())?;
    let written = async {
        let (sink, partition_of) = partitioned(fe, table, &batch)?;
        let client = fe.backends.rpc.clone();
        let flush = DEFAULT_WRITE_BUFFER_SIZE;
        let mut writer = TabletWriter::new(Arc::new(sink), client, txn_id, None, flush);
        writer.add(&batch, &partition_of).await?;
        Ok(writer.finish().await)
    }
    .await;
    let result = match written {
        Ok((written, results)) => commit(fe, db, table, txn_id, &written, &results).await,
        Err(e) => Err(e),
    };
    finish(fe, db, txn_id, result)
        .await
        .map(|status| (txn_id, status))
}

/// An INSERT under the `group_commit` session variable: the rows join the
/// table's group commit on a backend (the same one for every INSERT into the
/// table, so they batch), as Stream Load's `group_commit` header does.
/// Returns the group's label, its transaction once known, and whether the
/// rows are visible (`sync_mode`) or only logged (`async_mode`).
pub async fn group_commit(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    batch: &RecordBatch,
    sync: bool,
) -> Result<(String, Option<TxnId>)> {
    partitioned(fe, table, batch)?;
    let backends = fe.load_backends();
    if backends.is_empty() {
        return Err(Error::backend("No backend alive."));
    }
    let be = &backends[(table.id % backends.len() as u64) as usize];
    let ipc = |e: datafusion::arrow::error::ArrowError| Error::internal(e.to_string());
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema()).map_err(ipc)?;
    writer.write(batch).map_err(ipc)?;
    writer.finish().map_err(ipc)?;
    let body = writer.into_inner().map_err(ipc)?;
    let url = format!(
        "http://{}:{}{GROUP_COMMIT_PATH}/{db}/{}",
        be.host, be.http_port, table.name
    );
    let mode = if sync { "sync_mode" } else { "async_mode" };
    // A backend's group commit gives up on a group after 300 s.
    let reply = fe
        .http
        .post(url)
        .timeout(std::time::Duration::from_secs(330))
        .header(TOKEN_HEADER, &fe.cluster_token)
        .header("group_commit", mode)
        .body(body)
        .send()
        .await
        .map_err(|e| Error::backend(format!("group commit on backend {}: {e}", be.id)))?
        .json::<GroupCommitReply>()
        .await
        .map_err(|e| Error::backend(format!("group commit on backend {}: {e}", be.id)))?;
    match reply {
        GroupCommitReply::Accepted { txn_id, label } => Ok((label, txn_id)),
        GroupCommitReply::Failed { message } => Err(Error::backend(message)),
    }
}

/// The table's sink and each row's partition; an INSERT row no partition
/// takes fails the statement (Doris's strict insert).
pub(crate) fn partitioned(
    fe: &Frontend,
    table: &OlapTable,
    batch: &RecordBatch,
) -> Result<(TabletSink, Vec<Option<usize>>)> {
    let sink = sink(fe, table);
    let partition_of = sink.partition_of_rows(batch)?;
    if let Some(row) = partition_of.iter().position(Option::is_none) {
        return Err(Error::invalid(format!(
            "Insert has filtered data in strict mode: no partition for this tuple, row {row}"
        )));
    }
    Ok((sink, partition_of))
}

/// Who runs a load: what SHOW TRANSACTION shows (`BACKEND_STREAMING` /
/// `BE: host`, `INSERT_STREAMING` / `FE: host`), and what ends it early.
pub struct LoadSource {
    pub source_type: &'static str,
    pub coordinator: String,
    /// A Stream Load's backend: its death aborts the load.
    pub coordinator_backend: Option<u64>,
    /// That backend's start time (from its heartbeats).
    pub coordinator_start_time: i64,
    /// 0: no timeout.
    pub timeout_ms: i64,
}

impl LoadSource {
    /// A load the FE runs for a statement (INSERT, DELETE, UPDATE).
    pub fn statement() -> Self {
        LoadSource {
            source_type: "INSERT_STREAMING",
            coordinator: "FE: 127.0.0.1".into(),
            coordinator_backend: None,
            coordinator_start_time: 0,
            timeout_ms: 0,
        }
    }
}

/// Doris's rule for a label, as its regex reads in the error.
pub const LABEL_REGEX: &str = "^[-_A-Za-z0-9:]{1,128}$";

/// Refuses a label outside [`LABEL_REGEX`] with Doris's message (a 100 KB
/// label, or one with `/`, was taken as it came).
pub fn check_label(label: &str) -> Result<()> {
    let valid = (1..=128).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'));
    if valid {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "Label format error. regex: {LABEL_REGEX}, label: {label}"
    )))
}

/// Begins a load transaction under `label` (unique in the database).
pub fn begin(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    label: &str,
    source: LoadSource,
) -> Result<TxnId> {
    check_label(label)?;
    let txn_id = fe.catalog.alloc_ids(1);
    let txn = Transaction {
        id: txn_id,
        label: label.to_string(),
        table_id: table.id,
        status: TxnStatus::Prepare,
        partition_versions: Vec::new(),
        tablets: Vec::new(),
        replicas: Vec::new(),
        commit_seq: 0,
        create_time: now_ms(),
        reason: String::new(),
        source_type: source.source_type.to_string(),
        coordinator: source.coordinator,
        precommit_time: 0,
        commit_time: 0,
        finish_time: 0,
        timeout_ms: source.timeout_ms,
        coordinator_backend: source.coordinator_backend,
        coordinator_start_time: source.coordinator_start_time,
    };
    fe.catalog.log(EditLogEntry::BeginTxn {
        db: db.to_string(),
        txn,
    })?;
    Ok(txn_id)
}

/// The table as a load writes it: partitions, buckets, replicas on live backends.
pub fn sink(fe: &Frontend, table: &OlapTable) -> TabletSink {
    let backends = fe
        .backend_addrs()
        .into_iter()
        .filter(|(be, _)| fe.backends.is_alive(*be))
        .collect();
    TabletSink {
        table_id: table.id,
        table: table.name.clone(),
        schema: table.schema.clone(),
        partition_columns: table.partition_info.columns().to_vec(),
        distribution_columns: match &table.distribution {
            DistributionInfo::Hash { columns, .. } => Some(columns.clone()),
            DistributionInfo::Random { .. } => None,
        },
        buckets: table.distribution.buckets(),
        partitions: table
            .partitions
            .iter()
            .map(|p| SinkPartition {
                id: p.id,
                name: p.name.clone(),
                range: p.range.clone(),
                list_values: p.list_values.clone(),
                tablets: p
                    .index
                    .tablets
                    .iter()
                    .map(|t| SinkTablet {
                        id: t.id,
                        backends: t.replicas.iter().map(|r| r.backend_id).collect(),
                    })
                    .collect(),
            })
            .collect(),
        backends,
    }
}

/// How a load ended: its status once it succeeded (VISIBLE, or PRECOMMITTED
/// for a two-phase load); a failure before the commit aborts it; a commit that
/// reached the log stays (COMMITTED) and is published later.
pub async fn finish(
    fe: &Arc<Frontend>,
    db: &str,
    txn_id: TxnId,
    result: Result<()>,
) -> Result<TxnStatus> {
    let status = fe
        .catalog
        .read()
        .db(db)
        .ok()
        .and_then(|d| d.transactions.get(&txn_id).map(|t| t.status));
    let Err(e) = result else {
        return Ok(status.unwrap_or(TxnStatus::Visible));
    };
    if status == Some(TxnStatus::Prepare) {
        let _ = abort(fe, db, txn_id, &e.message).await;
    }
    if status == Some(TxnStatus::Committed) {
        tracing::warn!("load {txn_id} is committed, its publish is retried: {e}");
        return Ok(TxnStatus::Committed);
    }
    Err(e)
}

/// Aborts a transaction not yet committed and drops what it wrote.
pub async fn abort(fe: &Arc<Frontend>, db: &str, txn_id: TxnId, reason: &str) -> Result<()> {
    fe.catalog.log(EditLogEntry::AbortTxn {
        db: db.to_string(),
        txn_id,
        reason: reason.to_string(),
        time: now_ms(),
    })?;
    abort_on_backends(fe, txn_id, None).await;
    Ok(())
}

/// The table with this id in `db` as the catalog holds it now.
fn table_by_id<'a>(
    state: &'a basalt_catalog::CatalogState,
    db: &str,
    table: &OlapTable,
) -> Result<&'a OlapTable> {
    state
        .db(db)?
        .tables
        .values()
        .find(|t| t.id == table.id)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownTable,
                format!("table {} was dropped during the load", table.name),
            )
        })
}

/// Commits once a majority of each tablet's replicas hold the rows written to
/// the `written` (partition, tablet)s, then publishes.
pub async fn commit(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    txn_id: TxnId,
    written: &[(u64, TabletId)],
    results: &ReplicaResults,
) -> Result<()> {
    let replicas = quorum_replicas(fe, db, table, txn_id, written, results)?;
    let pids: BTreeSet<u64> = written.iter().map(|(p, _)| *p).collect();
    let tablets: Vec<TabletId> = written.iter().map(|(_, t)| *t).collect();
    commit_and_publish(fe, db, table, txn_id, &pids, replicas, tablets).await
}

/// The first phase of a two-phase load: the rows are on a majority of every
/// tablet's replicas; the client commits or aborts later.
pub fn precommit(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    txn_id: TxnId,
    written: &[(u64, TabletId)],
    results: &ReplicaResults,
) -> Result<()> {
    let replicas = quorum_replicas(fe, db, table, txn_id, written, results)?;
    fe.catalog.log(EditLogEntry::PrecommitTxn {
        db: db.to_string(),
        txn_id,
        replicas,
        tablets: written.iter().map(|(_, t)| *t).collect(),
        time: now_ms(),
    })
}

/// A transaction of `db` and the table it loads.
pub fn txn_and_table(fe: &Frontend, db: &str, txn_id: TxnId) -> Result<(Transaction, OlapTable)> {
    let state = fe.catalog.read();
    let d = state.db(db)?;
    let txn = d
        .transactions
        .get(&txn_id)
        .ok_or_else(|| Error::invalid(format!("transaction [{txn_id}] not found.")))?;
    let table = d
        .tables
        .values()
        .find(|t| t.id == txn.table_id)
        .ok_or_else(|| Error::invalid("the table of the load was dropped"))?;
    Ok((txn.clone(), table.clone()))
}

/// The second phase: commits a PRECOMMITTED load and publishes it.
pub async fn commit_precommitted(fe: &Arc<Frontend>, db: &str, txn_id: TxnId) -> Result<()> {
    let (txn, table) = txn_and_table(fe, db, txn_id)?;
    let (replicas, tablets) = (txn.replicas, txn.tablets);
    let pids: BTreeSet<u64> = table
        .partitions
        .iter()
        .filter(|p| p.index.tablets.iter().any(|t| tablets.contains(&t.id)))
        .map(|p| p.id)
        .collect();
    commit_and_publish(fe, db, &table, txn_id, &pids, replicas, tablets).await
}

/// The replicas that hold the load, when a majority of every tablet of the
/// written partitions does; an error naming the first tablet that falls short.
fn quorum_replicas(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    txn_id: TxnId,
    written: &[(u64, TabletId)],
    results: &ReplicaResults,
) -> Result<Vec<(TabletId, u64)>> {
    let pids: BTreeSet<u64> = written.iter().map(|(p, _)| *p).collect();
    // The replicas of the loaded partitions as they are now take part in the load;
    // a replica added later (by a clone) catches up by cloning again.
    let participants: Vec<(TabletId, u64)> = {
        let state = fe.catalog.read();
        table_by_id(&state, db, table)?
            .partitions
            .iter()
            .filter(|p| pids.contains(&p.id))
            .flat_map(|p| &p.index.tablets)
            .flat_map(|t| t.replicas.iter().map(move |r| (t.id, r.backend_id)))
            .collect()
    };
    let quorum = table.quorum();
    for ((tablet, be), result) in results {
        if let Err(e) = result {
            tracing::warn!("load {txn_id}: replica of tablet {tablet} on backend {be}: {e}");
        }
    }
    // A replica of a tablet with rows holds the load only if its write said so (a
    // replica added since the writer's sink was taken was never written). Every
    // tablet of the partitions moves to the new version, those without rows too:
    // a majority of each must be on live backends, or the publish could never finish.
    let ok: BTreeSet<(TabletId, u64)> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(k, _)| *k)
        .collect();
    let written_tablets: BTreeSet<TabletId> = written.iter().map(|(_, t)| *t).collect();
    let failed: BTreeSet<(TabletId, u64)> = participants
        .iter()
        .filter(|r| {
            if written_tablets.contains(&r.0) {
                !ok.contains(r)
            } else {
                !fe.backends.is_alive(r.1)
            }
        })
        .copied()
        .collect();
    let tablets: BTreeSet<TabletId> = participants.iter().map(|r| r.0).collect();
    for tablet in &tablets {
        let ok = participants
            .iter()
            .filter(|r| r.0 == *tablet && !failed.contains(r))
            .count();
        if ok < quorum {
            let why = results
                .iter()
                .find_map(|((t, _), r)| r.as_ref().err().filter(|_| t == tablet))
                .map(|e| e.message.clone())
                .unwrap_or_default();
            return Err(Error::backend(format!(
                "tablet {tablet}: {ok} of its replicas can take the load, a majority of {quorum} is needed{}",
                if why.is_empty() { String::new() } else { format!(": {why}") }
            )));
        }
    }
    Ok(participants
        .into_iter()
        .filter(|r| !failed.contains(r))
        .collect())
}

/// Gives the load the next version of each partition, logs the commit and publishes.
async fn commit_and_publish(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    txn_id: TxnId,
    pids: &BTreeSet<u64>,
    replicas: Vec<(TabletId, u64)>,
    tablets: Vec<TabletId>,
) -> Result<()> {
    let _guard = fe.publish_lock.lock().await;
    // Older committed loads first, so versions become visible in order.
    publish_committed(fe, db, pids).await?;
    let partition_versions: Vec<(u64, Version)> = {
        let state = fe.catalog.read();
        let t = table_by_id(&state, db, table)?;
        pids.iter()
            .map(|pid| {
                let p = t.partitions.iter().find(|p| p.id == *pid).ok_or_else(|| {
                    Error::invalid(format!("partition {pid} was dropped during the load"))
                })?;
                Ok((*pid, p.next_version))
            })
            .collect::<Result<_>>()?
    };
    fe.catalog.log(EditLogEntry::CommitTxn {
        db: db.to_string(),
        txn_id,
        partition_versions,
        replicas,
        tablets,
        time: now_ms(),
    })?;
    publish(fe, db, txn_id).await
}

/// Publishes one committed transaction on its replicas and marks it VISIBLE once
/// a majority of every tablet's replicas published; the others missed it and
/// are caught up by the tablet scheduler.
async fn publish(fe: &Arc<Frontend>, db: &str, txn_id: TxnId) -> Result<()> {
    let (per_backend, tablets, quorum, mut missed) = {
        let state = fe.catalog.read();
        let d = state.db(db)?;
        let txn = d
            .transactions
            .get(&txn_id)
            .ok_or_else(|| Error::internal("transaction vanished"))?;
        let versions: BTreeMap<u64, Version> = txn.partition_versions.iter().copied().collect();
        let targets: BTreeSet<(TabletId, u64)> = txn.replicas.iter().copied().collect();
        let has_rows: BTreeSet<TabletId> = txn.tablets.iter().copied().collect();
        let mut per_backend: BTreeMap<u64, Vec<PublishTablet>> = BTreeMap::new();
        let mut tablets = Vec::new();
        let mut quorum = 1;
        // Backends of replicas that are not published on (their write failed).
        let mut missed: BTreeSet<u64> = BTreeSet::new();
        for t in d.tables.values().filter(|t| t.id == txn.table_id) {
            quorum = t.quorum();
            for p in &t.partitions {
                let Some(v) = versions.get(&p.id) else {
                    continue;
                };
                // Every tablet of the partition moves to the new version, written to or not.
                for tablet in &p.index.tablets {
                    if targets.is_empty() || targets.iter().any(|(t, _)| *t == tablet.id) {
                        tablets.push(tablet.id);
                    }
                    for r in &tablet.replicas {
                        if targets.is_empty() || targets.contains(&(tablet.id, r.backend_id)) {
                            per_backend
                                .entry(r.backend_id)
                                .or_default()
                                .push(PublishTablet {
                                    tablet_id: tablet.id,
                                    version: *v,
                                    has_rows: has_rows.contains(&tablet.id),
                                });
                        } else {
                            missed.insert(r.backend_id);
                        }
                    }
                }
            }
        }
        (per_backend, tablets, quorum, missed)
    };
    let addrs = fe.backend_addrs();
    let calls = per_backend.into_iter().map(|(be, tablets)| {
        let addr = addrs.get(&be).cloned();
        async move {
            let ids: Vec<TabletId> = tablets.iter().map(|t| t.tablet_id).collect();
            let reply = match addr {
                Some(addr) if fe.backends.is_alive(be) => {
                    fe.backends
                        .rpc
                        .call(&addr, &ControlRequest::PublishVersion { txn_id, tablets })
                        .await
                }
                _ => Err(Error::backend(format!("backend {be} is not alive"))),
            };
            let failed: Vec<TabletId> = match reply {
                Ok(ControlResponse::Published { failed }) => failed,
                Ok(_) => ids.clone(),
                Err(e) => {
                    tracing::warn!("publishing load {txn_id} on backend {be}: {e}");
                    ids.clone()
                }
            };
            (be, ids, failed)
        }
    });
    let mut published: BTreeMap<TabletId, usize> = BTreeMap::new();
    let mut failed = Vec::new();
    for (be, ids, bad) in futures::future::join_all(calls).await {
        for id in ids {
            if bad.contains(&id) {
                failed.push((id, be));
            } else {
                *published.entry(id).or_default() += 1;
            }
        }
    }
    if let Some(short) = tablets
        .iter()
        .find(|t| published.get(t).copied().unwrap_or(0) < quorum)
    {
        return Err(Error::backend(format!(
            "load {txn_id} is committed but not yet visible: tablet {short} was published on fewer than {quorum} replicas; it is retried"
        )));
    }
    missed.extend(failed.iter().map(|(_, be)| *be));
    fe.catalog.log(EditLogEntry::VisibleTxn {
        db: db.to_string(),
        txn_id,
        time: now_ms(),
        failed,
    })?;
    // The load is visible: whatever of it is still pending on a backend belongs
    // to a replica that missed it (a clone catches that replica up), so drop it.
    if !missed.is_empty() {
        let fe = Arc::clone(fe);
        tokio::spawn(async move { abort_on_backends(&fe, txn_id, Some(&missed)).await });
    }
    Ok(())
}

/// Publishes every committed, not yet visible transaction of `db` in commit
/// order. Fails only when one that shares a partition with `mine` cannot be
/// published (a load must not become visible before an older one of the same
/// partition); other failures are retried later without blocking anyone.
async fn publish_committed(fe: &Arc<Frontend>, db: &str, mine: &BTreeSet<u64>) -> Result<()> {
    let mut pending: Vec<(u64, TxnId, bool)> = {
        let state = fe.catalog.read();
        let Ok(d) = state.db(db) else { return Ok(()) };
        d.transactions
            .values()
            .filter(|t| t.status == TxnStatus::Committed)
            .map(|t| {
                let shared = t.partition_versions.iter().any(|(p, _)| mine.contains(p));
                (t.commit_seq, t.id, shared)
            })
            .collect()
    };
    pending.sort_unstable();
    for (_, txn_id, shared) in pending {
        match publish(fe, db, txn_id).await {
            Err(e) if shared => return Err(e),
            Err(e) => tracing::warn!("publishing load {txn_id}: {e}"),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// Called periodically: aborts loads that can no longer finish: past their
/// timeout, precommitted too long, or coordinated by a backend that died.
pub async fn abort_stale(fe: &Arc<Frontend>) {
    let now = now_ms();
    let precommit_ms = fe.config.stream_load_default_precommit_timeout_second as i64 * 1000;
    let stale: Vec<(String, TxnId, String)> = {
        let state = fe.catalog.read();
        state
            .databases
            .values()
            .flat_map(|d| d.transactions.values().map(move |t| (d, t)))
            .filter_map(|(d, t)| {
                let why = match t.status {
                    TxnStatus::Prepare
                        if t.timeout_ms > 0 && now > t.create_time + t.timeout_ms =>
                    {
                        "timeout by txn manager".to_string()
                    }
                    TxnStatus::Prepare => {
                        let be = t.coordinator_backend?;
                        let status = fe.backends.status(be);
                        let started = status.info.start_time_ms;
                        if !status.alive {
                            format!("coordinate BE {be} is down")
                        } else if t.coordinator_start_time > 0
                            && started != t.coordinator_start_time
                        {
                            format!("coordinate BE {be} restarted")
                        } else {
                            return None;
                        }
                    }
                    TxnStatus::Precommitted if now > t.precommit_time + precommit_ms => {
                        "timeout by txn manager".to_string()
                    }
                    _ => return None,
                };
                Some((d.name.clone(), t.id, why))
            })
            .collect()
    };
    for (db, txn_id, why) in stale {
        tracing::info!("aborting load {txn_id} of {db}: {why}");
        if let Err(e) = abort(fe, &db, txn_id, &why).await {
            tracing::warn!("aborting load {txn_id}: {e}");
        }
    }
}

/// Called periodically: forgets finished loads older than
/// `streaming_label_keep_max_second`, freeing their labels, as Doris does.
pub fn expire_labels(fe: &Arc<Frontend>) {
    let keep_ms = fe.config.streaming_label_keep_max_second as i64 * 1000;
    let before = now_ms() - keep_ms;
    let expired: Vec<(String, Vec<TxnId>)> = {
        let state = fe.catalog.read();
        state
            .databases
            .values()
            .map(|d| {
                let ids = d
                    .transactions
                    .values()
                    .filter(|t| matches!(t.status, TxnStatus::Visible | TxnStatus::Aborted))
                    .filter(|t| t.finish_time > 0 && t.finish_time < before)
                    .map(|t| t.id)
                    .collect();
                (d.name.clone(), ids)
            })
            .filter(|(_, ids): &(String, Vec<TxnId>)| !ids.is_empty())
            .collect()
    };
    for (db, txn_ids) in expired {
        if let Err(e) = fe.catalog.log(EditLogEntry::ExpireTxns { db, txn_ids }) {
            tracing::warn!("expiring load labels: {e}");
        }
    }
}

/// Called periodically: finishes publishes a crash or a dead backend interrupted.
pub async fn publish_pending(fe: &Arc<Frontend>) {
    let dbs: Vec<String> = fe.catalog.read().databases.keys().cloned().collect();
    let _guard = fe.publish_lock.lock().await;
    for db in dbs {
        if let Err(e) = publish_committed(fe, &db, &BTreeSet::new()).await {
            tracing::warn!("publishing committed loads of {db}: {e}");
        }
    }
}

/// Logs an abort for every transaction still in PREPARE (called at start-up).
pub fn abort_interrupted(fe: &Arc<Frontend>) -> Result<Vec<TxnId>> {
    let prepared: Vec<(String, TxnId)> = {
        let state = fe.catalog.read();
        state
            .databases
            .values()
            .flat_map(|d| d.transactions.values().map(move |t| (d, t)))
            .filter(|(_, t)| t.status == TxnStatus::Prepare)
            .map(|(d, t)| (d.name.clone(), t.id))
            .collect()
    };
    for (db, txn_id) in &prepared {
        fe.catalog.log(EditLogEntry::AbortTxn {
            db: db.clone(),
            txn_id: *txn_id,
            reason: "the frontend restarted while the load was running".into(),
            time: now_ms(),
        })?;
    }
    Ok(prepared.into_iter().map(|(_, t)| t).collect())
}

/// Drops the pending rowsets of aborted loads once the backends answer heartbeats.
pub async fn abort_on_backends_later(fe: Arc<Frontend>, txns: Vec<TxnId>) {
    if txns.is_empty() {
        return;
    }
    tokio::time::sleep(std::time::Duration::from_secs(
        fe.config.heartbeat_interval_second.max(1),
    ))
    .await;
    for txn_id in txns {
        abort_on_backends(&fe, txn_id, None).await;
    }
}

/// Drops the unpublished rowsets of `txn_id` on the given backends (all by default).
pub async fn abort_on_backends(fe: &Arc<Frontend>, txn_id: TxnId, only: Option<&BTreeSet<u64>>) {
    let addrs = fe.backend_addrs();
    let targets = addrs
        .iter()
        .filter(|(be, _)| only.is_none_or(|o| o.contains(be)))
        .map(|(_, addr)| addr);
    for addr in targets {
        let _ = fe
            .backends
            .rpc
            .call(addr, &ControlRequest::AbortTxn { txn_id })
            .await;
    }
}
