//! INSERT: one load transaction. Rows are routed to tablets by partition and
//! bucket, written to every replica as pending rowsets, committed in the edit
//! log with a version per partition, published on the backends, then VISIBLE.

use super::ast::Insert;
use super::ddl::resolve;
use crate::session::{QueryResult, Session};
use crate::Frontend;
use basalt_catalog::partition::{KeyValue, PartitionKey};
use basalt_catalog::{
    DistributionInfo, EditLogEntry, OlapTable, PartitionInfo, Transaction, TxnStatus,
};
use basalt_common::now_ms;
use basalt_common::rpc::{ControlRequest, TabletId, TxnId, Version};
use basalt_common::{Error, ErrorKind, Result};
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, StringArray, UInt32Array,
};
use datafusion::arrow::compute::{
    cast_with_options, concat_batches, take_record_batch, CastOptions,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast as sql;
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn execute(session: &mut Session, insert: Insert) -> Result<QueryResult> {
    let fe = Arc::clone(&session.fe);
    let (db, table_name) = resolve(session, &insert.table)?;
    let table = fe.catalog.read().table(&db, &table_name)?.clone();
    let source = super::query(session, sql::Statement::Query(insert.source)).await?;
    let QueryResult::Rows { schema, batches } = source else {
        return Err(Error::internal("INSERT source returned no rows"));
    };
    let rows = concat_batches(&schema, &batches).map_err(|e| Error::internal(e.to_string()))?;
    let batch = shape_rows(&table, &insert.columns, rows)?;
    let label = insert
        .label
        .unwrap_or_else(|| format!("insert_{:016x}", rand::random::<u64>()));
    if batch.num_rows() == 0 {
        return Ok(QueryResult::Ok {
            affected_rows: 0,
            info: String::new(),
        });
    }
    let txn_id = load(&fe, &db, &table, &label, batch.clone()).await?;
    Ok(QueryResult::Ok {
        affected_rows: batch.num_rows() as u64,
        info: format!("{{'label':'{label}', 'status':'VISIBLE', 'txnId':'{txn_id}'}}"),
    })
}

/// Casts the source rows to the table's columns, filling unnamed columns with
/// their defaults, and enforces NOT NULL and string lengths (Doris's strict insert).
fn shape_rows(table: &OlapTable, names: &[String], rows: RecordBatch) -> Result<RecordBatch> {
    let columns = &table.schema.columns;
    let targets: Vec<usize> = if names.is_empty() {
        (0..columns.len()).collect()
    } else {
        names
            .iter()
            .map(|n| {
                columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(n))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::UnknownColumn,
                            format!("Unknown column '{n}' in '{}'", table.name),
                        )
                    })
            })
            .collect::<Result<_>>()?
    };
    if targets.len() != rows.num_columns() {
        return Err(Error::new(
            ErrorKind::ColumnCountMismatch,
            "Column count doesn't match value count",
        ));
    }
    let n = rows.num_rows();
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (idx, col) in columns.iter().enumerate() {
        let ty = col.data_type.to_arrow();
        let array = match targets.iter().position(|t| *t == idx) {
            Some(src) => cast_with_options(rows.column(src), &ty, &strict).map_err(|e| {
                Error::invalid(format!(
                    "Insert has filtered data in strict mode: column {}: {e}",
                    col.name
                ))
            })?,
            None => match col.default_value.as_deref() {
                None | Some("NULL") if col.nullable => new_null_array(&ty, n),
                None | Some("NULL") => {
                    return Err(Error::invalid(format!(
                        "Column has no default value, column={}",
                        col.name
                    )))
                }
                Some("CURRENT_TIMESTAMP") => {
                    let now = chrono::Utc::now()
                        .naive_utc()
                        .format("%Y-%m-%d %H:%M:%S%.6f")
                        .to_string();
                    cast_with_options(&StringArray::from(vec![now; n]), &ty, &strict)
                        .map_err(|e| Error::internal(e.to_string()))?
                }
                Some(d) => cast_with_options(&StringArray::from(vec![d; n]), &ty, &strict)
                    .map_err(|e| Error::invalid(format!("bad default of {}: {e}", col.name)))?,
            },
        };
        if !col.nullable && array.null_count() > 0 {
            return Err(Error::invalid(format!(
                "Insert has filtered data in strict mode: null value for not null column {}",
                col.name
            )));
        }
        if let basalt_common::types::DorisType::Char { len }
        | basalt_common::types::DorisType::Varchar { len } = col.data_type
        {
            let strings = array.as_string::<i32>();
            if let Some(v) = strings.iter().flatten().find(|v| v.len() > len as usize) {
                return Err(Error::invalid(format!(
                    "Insert has filtered data in strict mode: the length of input string '{}' is too long than schema. column {}, length {len}",
                    v.chars().take(32).collect::<String>(),
                    col.name
                )));
            }
        }
        arrays.push(array);
    }
    RecordBatch::try_new(table.schema.arrow_schema(), arrays)
        .map_err(|e| Error::internal(e.to_string()))
}

/// Runs one load transaction and returns its id once the rows are visible.
pub async fn load(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    label: &str,
    batch: RecordBatch,
) -> Result<TxnId> {
    let routed = route(table, &batch)?;
    let txn_id = fe.catalog.alloc_ids(1);
    let tablets: Vec<TabletId> = routed.keys().map(|(_, t)| *t).collect();
    let txn = Transaction {
        id: txn_id,
        label: label.to_string(),
        table_id: table.id,
        status: TxnStatus::Prepare,
        partition_versions: Vec::new(),
        tablets: tablets.clone(),
        create_time: now_ms(),
        reason: String::new(),
    };
    fe.catalog.log(EditLogEntry::BeginTxn {
        db: db.to_string(),
        txn,
    })?;
    match write_and_publish(fe, db, table, txn_id, routed).await {
        Ok(()) => Ok(txn_id),
        Err(e) => {
            // A commit that reached the log stays and is published later; anything earlier aborts.
            let status = fe
                .catalog
                .read()
                .db(db)
                .ok()
                .and_then(|d| d.transactions.get(&txn_id).map(|t| t.status));
            if status == Some(TxnStatus::Prepare) {
                let _ = fe.catalog.log(EditLogEntry::AbortTxn {
                    db: db.to_string(),
                    txn_id,
                    reason: e.message.clone(),
                });
                abort_on_backends(fe, txn_id).await;
            }
            Err(e)
        }
    }
}

/// Rows per (partition id, tablet id).
fn route(table: &OlapTable, batch: &RecordBatch) -> Result<BTreeMap<(u64, TabletId), RecordBatch>> {
    let n = batch.num_rows();
    let partition_of: Vec<usize> = match &table.partition_info {
        PartitionInfo::Unpartitioned => vec![0; n],
        info => {
            let cols = columns_of(table, batch, info.columns())?;
            (0..n)
                .map(|row| {
                    let key = PartitionKey { values: cols.iter().map(|c| key_value(c, row)).collect(), text: vec![] };
                    table
                        .partitions
                        .iter()
                        .position(|p| match &p.range {
                            Some((lo, hi)) => *lo <= key && key < *hi,
                            None => p.list_values.contains(&key),
                        })
                        .ok_or_else(|| {
                            Error::invalid(format!(
                                "Insert has filtered data in strict mode: no partition for this tuple, row {row}: {:?}",
                                key.values
                            ))
                        })
                })
                .collect::<Result<_>>()?
        }
    };
    let buckets = table.distribution.buckets();
    let bucket_of: Vec<u32> = match &table.distribution {
        DistributionInfo::Hash { columns, .. } => {
            let cols = columns_of(table, batch, columns)?;
            basalt_common::hash::buckets_of(&cols, buckets).map_err(Error::invalid)?
        }
        // Doris's random distribution sends one load to one tablet per partition.
        DistributionInfo::Random { .. } => vec![rand::random::<u32>() % buckets.max(1); n],
    };
    let mut rows: BTreeMap<(u64, TabletId), Vec<u32>> = BTreeMap::new();
    for row in 0..n {
        let p = &table.partitions[partition_of[row]];
        let tablet = &p.index.tablets[bucket_of[row] as usize];
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

/// The arrays of the named table columns in a batch shaped like the table.
fn columns_of(table: &OlapTable, batch: &RecordBatch, names: &[String]) -> Result<Vec<ArrayRef>> {
    names
        .iter()
        .map(|name| {
            let idx = table
                .schema
                .columns
                .iter()
                .position(|c| &c.name == name)
                .ok_or_else(|| {
                    Error::internal(format!("column {name} of table {} is missing", table.name))
                })?;
            Ok(batch.column(idx).clone())
        })
        .collect()
}

/// The partition key value of one cell, in the catalog's canonical form.
fn key_value(array: &ArrayRef, row: usize) -> KeyValue {
    if array.is_null(row) {
        return KeyValue::Min;
    }
    match array.data_type() {
        DataType::Int8 => KeyValue::Int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => KeyValue::Int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => KeyValue::Int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => KeyValue::Int(array.as_primitive::<Int64Type>().value(row).into()),
        DataType::Decimal128(_, _) => KeyValue::Int(
            array
                .as_primitive::<datafusion::arrow::datatypes::Decimal128Type>()
                .value(row),
        ),
        DataType::Date32 => KeyValue::Int(array.as_primitive::<Date32Type>().value(row).into()),
        DataType::Timestamp(_, _) => KeyValue::Int(
            array
                .as_primitive::<TimestampMicrosecondType>()
                .value(row)
                .into(),
        ),
        DataType::Boolean => KeyValue::Int(array.as_boolean().value(row).into()),
        DataType::Utf8 => KeyValue::Text(array.as_string::<i32>().value(row).to_string()),
        _ => KeyValue::Min,
    }
}

async fn write_and_publish(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    txn_id: TxnId,
    routed: BTreeMap<(u64, TabletId), RecordBatch>,
) -> Result<()> {
    let addrs = fe.backend_addrs();
    let replicas: BTreeMap<TabletId, Vec<u64>> = table
        .partitions
        .iter()
        .flat_map(|p| &p.index.tablets)
        .map(|t| (t.id, t.replicas.iter().map(|r| r.backend_id).collect()))
        .collect();
    // Every replica of every tablet gets its rows (a later issue accepts a majority).
    let mut writes = Vec::new();
    for ((_, tablet), batch) in &routed {
        for be in replicas.get(tablet).into_iter().flatten() {
            let addr = addrs
                .get(be)
                .cloned()
                .ok_or_else(|| Error::internal("replica on unknown backend"))?;
            let (fe, batch, tablet) = (Arc::clone(fe), batch.clone(), *tablet);
            writes.push(async move {
                fe.backends
                    .write_rowset(&addr, txn_id, tablet, vec![batch])
                    .await
            });
        }
    }
    // Let every write settle before deciding: an abort must not race a write
    // still landing on a backend.
    for result in futures::future::join_all(writes).await {
        result?;
    }

    let _guard = fe.publish_lock.lock().await;
    // Older committed loads first, so versions become visible in order.
    publish_committed(fe, db).await?;
    let partition_versions: Vec<(u64, Version)> = {
        let state = fe.catalog.read();
        let t = state
            .db(db)?
            .tables
            .values()
            .find(|t| t.id == table.id)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownTable,
                    format!("table {} was dropped during the load", table.name),
                )
            })?;
        let mut pids: Vec<u64> = routed.keys().map(|(p, _)| *p).collect();
        pids.dedup();
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
    })?;
    publish(fe, db, txn_id).await
}

/// Publishes one committed transaction on its backends and marks it VISIBLE.
async fn publish(fe: &Arc<Frontend>, db: &str, txn_id: TxnId) -> Result<()> {
    let per_backend = {
        let state = fe.catalog.read();
        let d = state.db(db)?;
        let txn = d
            .transactions
            .get(&txn_id)
            .ok_or_else(|| Error::internal("transaction vanished"))?;
        let versions: BTreeMap<u64, Version> = txn.partition_versions.iter().copied().collect();
        let mut per_backend: BTreeMap<u64, Vec<(TabletId, Version)>> = BTreeMap::new();
        for t in d.tables.values().filter(|t| t.id == txn.table_id) {
            for p in &t.partitions {
                let Some(v) = versions.get(&p.id) else {
                    continue;
                };
                // Every tablet of the partition moves to the new version, written to or not.
                for tablet in &p.index.tablets {
                    for r in &tablet.replicas {
                        per_backend
                            .entry(r.backend_id)
                            .or_default()
                            .push((tablet.id, *v));
                    }
                }
            }
        }
        per_backend
    };
    let addrs = fe.backend_addrs();
    for (be, tablets) in per_backend {
        let addr = addrs
            .get(&be)
            .ok_or_else(|| Error::internal("replica on unknown backend"))?;
        fe.backends
            .call(addr, &ControlRequest::PublishVersion { txn_id, tablets })
            .await?;
    }
    fe.catalog.log(EditLogEntry::VisibleTxn {
        db: db.to_string(),
        txn_id,
        time: now_ms(),
    })
}

/// Publishes every committed, not yet visible transaction of `db`, oldest first.
async fn publish_committed(fe: &Arc<Frontend>, db: &str) -> Result<()> {
    let pending: Vec<TxnId> = {
        let state = fe.catalog.read();
        let Ok(d) = state.db(db) else { return Ok(()) };
        d.transactions
            .values()
            .filter(|t| t.status == TxnStatus::Committed)
            .map(|t| t.id)
            .collect()
    };
    for txn_id in pending {
        publish(fe, db, txn_id).await?;
    }
    Ok(())
}

/// Called periodically: finishes publishes a crash or a dead backend interrupted.
pub async fn publish_pending(fe: &Arc<Frontend>) {
    let dbs: Vec<String> = fe.catalog.read().databases.keys().cloned().collect();
    let _guard = fe.publish_lock.lock().await;
    for db in dbs {
        if let Err(e) = publish_committed(fe, &db).await {
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
        abort_on_backends(&fe, txn_id).await;
    }
}

async fn abort_on_backends(fe: &Arc<Frontend>, txn_id: TxnId) {
    for addr in fe.backend_addrs().into_values() {
        let _ = fe
            .backends
            .call(&addr, &ControlRequest::AbortTxn { txn_id })
            .await;
    }
}
