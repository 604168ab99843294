//! SHOW output about the cluster, with Doris's columns: backends, frontends,
//! tablets and replicas, `SHOW PROC` paths, `ADMIN SHOW REPLICA ...`.

use super::{format_time, Out};
use crate::cluster::placement::replica_counts;
use crate::cluster::scheduler::{tablet_health, TabletHealth};
use crate::rows::{i, s, typed_cols};
use crate::session::Session;
use crate::sql::ast::Filter;
use crate::Frontend;
use basalt_catalog::{CatalogState, OlapTable};
use basalt_common::{Error, Result};
use std::collections::BTreeMap;

/// Doris's way of printing a size: three decimals and a unit.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    if b == 0 {
        return "0.000 ".into();
    }
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.3} {}", UNITS[unit])
}

pub fn backends(fe: &Frontend) -> Out {
    let state = fe.catalog.read();
    let counts = replica_counts(&state);
    let rows = state
        .backends
        .values()
        .map(|b| {
            let st = fe.backends.status(b.id);
            let info = &st.info;
            let used_pct = if info.total_bytes > 0 {
                100.0 * (info.total_bytes - info.avail_bytes.min(info.total_bytes)) as f64
                    / info.total_bytes as f64
            } else {
                0.0
            };
            let report = match st.last_report_ms {
                0 => "N/A".to_string(),
                ms => format_time(ms),
            };
            vec![
                i(b.id as i64),
                s(&b.host),
                i(i64::from(b.heartbeat_port)),
                i(-1i64),
                i(i64::from(b.http_port)),
                i(i64::from(b.brpc_port)),
                s(format_time(info.start_time_ms)),
                s(format_time(st.last_heartbeat_ms)),
                s(st.alive.to_string()),
                s(b.decommissioned.to_string()),
                i(counts.get(&b.id).copied().unwrap_or(0) as i64),
                s(human_bytes(info.data_used_bytes)),
                s(human_bytes(0)),
                s(human_bytes(info.avail_bytes)),
                s(human_bytes(info.total_bytes)),
                s(format!("{used_pct:.2} %")),
                s(format!("{used_pct:.2} %")),
                s(human_bytes(0)),
                s("{\"location\" : \"default\"}"),
                s(&st.err_msg),
                s(&info.be_version),
                s(format!(
                    "{{\"lastSuccessReportTabletsTime\":\"{report}\",\"lastStreamLoadTime\":-1,\"isQueryDisabled\":false,\"isLoadDisabled\":false}}"
                )),
                i(i64::from(st.failures)),
                s(if st.alive { "mix" } else { "" }),
            ]
        })
        .collect();
    let names = [
        "BackendId",
        "Host",
        "HeartbeatPort",
        "BePort",
        "HttpPort",
        "BrpcPort",
        "LastStartTime",
        "LastHeartbeat",
        "Alive",
        "SystemDecommissioned",
        "TabletNum",
        "DataUsedCapacity",
        "TrashUsedCapacity",
        "AvailCapacity",
        "TotalCapacity",
        "UsedPct",
        "MaxDiskUsedPct",
        "RemoteUsedCapacity",
        "Tag",
        "ErrMsg",
        "Version",
        "Status",
        "HeartbeatFailureCounter",
        "NodeRole",
    ];
    (
        typed_cols(&names, &[0, 2, 3, 4, 5, 10, 22]),
        rows,
        Filter::None,
    )
}

pub fn frontends(fe: &Frontend) -> Out {
    let c = &fe.config;
    let row = vec![
        s(format!("fe_{}", c.edit_log_port)),
        s("127.0.0.1"),
        i(i64::from(c.edit_log_port)),
        i(i64::from(c.http_port)),
        i(i64::from(c.query_port)),
        i(-1i64),
        i(-1i64),
        s("FOLLOWER"),
        s("true"),
        s("0"),
        s("true"),
        s("true"),
        i(0i64),
        s(format_time(fe.start_time_ms)),
        s(format_time(basalt_common::now_ms())),
        s("true"),
        s(""),
        s(env!("CARGO_PKG_VERSION")),
        s("Yes"),
    ];
    let names = [
        "Name",
        "Host",
        "EditLogPort",
        "HttpPort",
        "QueryPort",
        "RpcPort",
        "ArrowFlightSqlPort",
        "Role",
        "IsMaster",
        "ClusterId",
        "Join",
        "Alive",
        "ReplayedJournalId",
        "LastStartTime",
        "LastHeartbeat",
        "IsHelper",
        "ErrMsg",
        "Version",
        "CurrentConnected",
    ];
    (
        typed_cols(&names, &[2, 3, 4, 5, 6, 12]),
        vec![row],
        Filter::None,
    )
}

/// `SHOW TABLETS FROM t`: one row per replica.
pub fn tablets(fe: &Frontend, t: &OlapTable) -> Out {
    let state = fe.catalog.read();
    let mut rows = Vec::new();
    for p in &t.partitions {
        for tablet in &p.index.tablets {
            for r in &tablet.replicas {
                let report = fe.backends.reported(r.backend_id, tablet.id);
                let backend = state.backends.get(&r.backend_id);
                let http = backend
                    .map(|b| format!("http://{}:{}", b.host, b.http_port))
                    .unwrap_or_default();
                let decommissioned = backend.is_none_or(|b| b.decommissioned);
                rows.push(vec![
                    i(tablet.id as i64),
                    i(r.id as i64),
                    i(r.backend_id as i64),
                    i(0i64),
                    i(r.version as i64),
                    i(r.version as i64),
                    i(r.last_failed_version.map_or(-1, |v| v as i64)),
                    s(match r.last_failed_time {
                        0 => "NULL".to_string(),
                        ms => format_time(ms),
                    }),
                    i(report.as_ref().map_or(0, |x| x.data_size as i64)),
                    i(0i64),
                    i(report.as_ref().map_or(0, |x| x.num_rows as i64)),
                    s(if decommissioned {
                        "DECOMMISSION"
                    } else {
                        "NORMAL"
                    }),
                    s("NULL"),
                    i(-1i64),
                    i(report.as_ref().map_or(0, |x| x.version_count as i64)),
                    i(report.as_ref().map_or(0, |x| x.version_count as i64)),
                    i(0i64),
                    i(0i64),
                    s(format!("data/{}", tablet.id)),
                    s(format!("{http}/api/meta/header/{}", tablet.id)),
                    s(format!(
                        "{http}/api/compaction/show?tablet_id={}",
                        tablet.id
                    )),
                    i(-1i64),
                    s(""),
                ]);
            }
        }
    }
    let names = [
        "TabletId",
        "ReplicaId",
        "BackendId",
        "SchemaHash",
        "Version",
        "LstSuccessVersion",
        "LstFailedVersion",
        "LstFailedTime",
        "LocalDataSize",
        "RemoteDataSize",
        "RowCount",
        "State",
        "LstConsistencyCheckTime",
        "CheckVersion",
        "VisibleVersionCount",
        "VersionCount",
        "QueryHits",
        "PathHash",
        "Path",
        "MetaUrl",
        "CompactionStatus",
        "CooldownReplicaId",
        "CooldownMetaId",
    ];
    let ints = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 13, 14, 15, 16, 17, 21];
    (typed_cols(&names, &ints), rows, Filter::None)
}

/// `ADMIN SHOW REPLICA STATUS FROM t`: every replica with Doris's status
/// (OK, DEAD, VERSION_ERROR) and a MISSING row per absent replica.
pub fn replica_status(fe: &Frontend, t: &OlapTable, filter: Filter) -> Out {
    let state = fe.catalog.read();
    let mut rows = Vec::new();
    for p in &t.partitions {
        for tablet in &p.index.tablets {
            for r in &tablet.replicas {
                let backend = state.backends.get(&r.backend_id);
                let status = if backend.is_none() || !fe.backends.is_alive(r.backend_id) {
                    "DEAD"
                } else if !r.is_complete(p.visible_version) {
                    "VERSION_ERROR"
                } else {
                    "OK"
                };
                let state_name = if backend.is_none_or(|b| b.decommissioned) {
                    "DECOMMISSION"
                } else {
                    "NORMAL"
                };
                rows.push(vec![
                    i(tablet.id as i64),
                    i(r.id as i64),
                    i(r.backend_id as i64),
                    i(r.version as i64),
                    i(r.last_failed_version.map_or(-1, |v| v as i64)),
                    i(r.version as i64),
                    i(p.visible_version as i64),
                    i(0i64),
                    i(r.version as i64),
                    s("false"),
                    s("false"),
                    s(state_name),
                    s(status),
                ]);
            }
            for _ in tablet.replicas.len()..t.replication_num() {
                let mut row = vec![i(tablet.id as i64)];
                row.extend((0..8).map(|_| i(-1i64)));
                row.extend((0..3).map(|_| s("\\N")));
                row.push(s("MISSING"));
                rows.push(row);
            }
        }
    }
    let names = [
        "TabletId",
        "ReplicaId",
        "BackendId",
        "Version",
        "LastFailedVersion",
        "LastSuccessVersion",
        "CommittedVersion",
        "SchemaHash",
        "VersionNum",
        "IsBad",
        "IsUserDrop",
        "State",
        "Status",
    ];
    (
        typed_cols(&names, &[0, 1, 2, 3, 4, 5, 6, 7, 8]),
        rows,
        filter,
    )
}

/// `ADMIN SHOW REPLICA DISTRIBUTION FROM t`: replicas and bytes per backend.
pub fn replica_distribution(fe: &Frontend, t: &OlapTable) -> Out {
    let state = fe.catalog.read();
    let mut per_backend: BTreeMap<u64, (u64, u64)> =
        state.backends.keys().map(|id| (*id, (0, 0))).collect();
    for p in &t.partitions {
        for tablet in &p.index.tablets {
            for r in &tablet.replicas {
                let size = fe
                    .backends
                    .reported(r.backend_id, tablet.id)
                    .map_or(0, |x| x.data_size);
                let e = per_backend.entry(r.backend_id).or_default();
                e.0 += 1;
                e.1 += size;
            }
        }
    }
    let (total_num, total_size) = per_backend
        .values()
        .fold((0, 0), |(n, b), (x, y)| (n + x, b + y));
    let pct = |part: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            100.0 * part as f64 / total as f64
        }
    };
    let rows = per_backend
        .into_iter()
        .map(|(id, (num, size))| {
            let (np, sp) = (pct(num, total_num), pct(size, total_size));
            vec![
                i(id as i64),
                i(num as i64),
                i(size as i64),
                s(">".repeat(np.ceil() as usize)),
                s(format!("{np:.2} %")),
                s(">".repeat(sp.ceil() as usize)),
                s(format!("{sp:.2} %")),
            ]
        })
        .collect();
    let names = [
        "BackendId",
        "ReplicaNum",
        "ReplicaSize",
        "NumGraph",
        "NumPercent",
        "SizeGraph",
        "SizePercent",
    ];
    (typed_cols(&names, &[0, 1, 2]), rows, Filter::None)
}

/// `SHOW PROC '<path>'`.
pub fn proc(session: &Session, path: &str) -> Result<Out> {
    let fe = &session.fe;
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["backends"] => Ok(backends(fe)),
        ["frontends"] => Ok(frontends(fe)),
        ["dbs"] => Ok(dbs(fe)),
        ["dbs", id] => {
            let state = fe.catalog.read();
            let db = id
                .parse::<u64>()
                .ok()
                .and_then(|id| state.databases.values().find(|d| d.id == id))
                .ok_or_else(|| Error::invalid(format!("Database[{id}] does not exist.")))?;
            Ok(tables_of(&state, &db.name))
        }
        ["cluster_health", "tablet_health"] => Ok(tablet_health_rows(fe)),
        ["statistic"] => Ok(statistic(fe)),
        _ => Err(Error::invalid(format!("Proc path '{path}' does not exist"))),
    }
}

fn replica_count(t: &OlapTable) -> usize {
    t.partitions
        .iter()
        .flat_map(|p| &p.index.tablets)
        .map(|tb| tb.replicas.len())
        .sum()
}

fn table_size(fe: &Frontend, t: &OlapTable) -> u64 {
    t.partitions
        .iter()
        .flat_map(|p| &p.index.tablets)
        .flat_map(|tb| {
            tb.replicas
                .iter()
                .map(move |r| fe.backends.reported(r.backend_id, tb.id))
        })
        .map(|x| x.map_or(0, |x| x.data_size))
        .sum()
}

fn dbs(fe: &Frontend) -> Out {
    let state = fe.catalog.read();
    let mut dbs: Vec<_> = state.databases.values().collect();
    dbs.sort_by_key(|d| d.id);
    let rows = dbs
        .into_iter()
        .map(|d| {
            let size: u64 = d.tables.values().map(|t| table_size(fe, t)).sum();
            let replicas: usize = d.tables.values().map(replica_count).sum();
            let running = d.transactions.values().filter(|t| t.is_running()).count();
            let updated = d
                .tables
                .values()
                .flat_map(|t| &t.partitions)
                .map(|p| p.visible_version_time)
                .max()
                .unwrap_or(0);
            vec![
                i(d.id as i64),
                s(&d.name),
                i(d.tables.len() as i64),
                s(human_bytes(size)),
                s("1024.000 TB"),
                s("NULL"),
                i(replicas as i64),
                i(1i64 << 30),
                i(running as i64),
                i(1000i64),
                s(format_time(updated)),
            ]
        })
        .collect();
    let names = [
        "DbId",
        "DbName",
        "TableNum",
        "Size",
        "Quota",
        "LastConsistencyCheckTime",
        "ReplicaCount",
        "ReplicaQuota",
        "RunningTransactionNum",
        "TransactionQuota",
        "LastUpdateTime",
    ];
    (typed_cols(&names, &[0, 2, 6, 7, 8, 9]), rows, Filter::None)
}

fn tables_of(state: &CatalogState, db: &str) -> Out {
    let mut tables: Vec<&OlapTable> = state
        .databases
        .get(db)
        .map(|d| d.tables.values().collect())
        .unwrap_or_default();
    tables.sort_by_key(|t| t.id);
    let rows = tables
        .into_iter()
        .map(|t| {
            let cols = t.partition_info.columns();
            let newest = t.partitions.iter().max_by_key(|p| p.visible_version_time);
            vec![
                i(t.id as i64),
                s(&t.name),
                i(1i64),
                s(if cols.is_empty() {
                    "NULL".to_string()
                } else {
                    cols.join(", ")
                }),
                i(t.partitions.len() as i64),
                s("NORMAL"),
                s("OLAP"),
                s("NULL"),
                i(replica_count(t) as i64),
                i(newest.map_or(1, |p| p.visible_version) as i64),
                s(format_time(
                    newest.map_or(t.create_time, |p| p.visible_version_time),
                )),
                s(format_time(
                    newest.map_or(t.create_time, |p| p.visible_version_time),
                )),
            ]
        })
        .collect();
    let names = [
        "TableId",
        "TableName",
        "IndexNum",
        "PartitionColumnName",
        "PartitionNum",
        "State",
        "Type",
        "LastConsistencyCheckTime",
        "ReplicaCount",
        "VisibleVersion",
        "VisibleVersionTime",
        "LastUpdateTime",
    ];
    (typed_cols(&names, &[0, 2, 4, 8, 9]), rows, Filter::None)
}

/// One row per database counting tablets by health, then a Total row.
fn tablet_health_rows(fe: &Frontend) -> Out {
    let state = fe.catalog.read();
    let mut rows = Vec::new();
    let mut total = [0i64; 7];
    let mut dbs: Vec<_> = state.databases.values().collect();
    dbs.sort_by(|a, b| a.name.cmp(&b.name));
    let cloning = fe.cloning.load(std::sync::atomic::Ordering::Relaxed) as i64;
    for d in &dbs {
        // TabletNum, Healthy, ReplicaMissing, VersionIncomplete, Relocating, Redundant, Unrecoverable
        let mut n = [0i64; 7];
        for t in d.tables.values() {
            for p in &t.partitions {
                for tablet in &p.index.tablets {
                    n[0] += 1;
                    let h =
                        tablet_health(fe, &state, tablet, p.visible_version, t.replication_num());
                    n[match h {
                        TabletHealth::Healthy => 1,
                        TabletHealth::ReplicaMissing => 2,
                        TabletHealth::VersionIncomplete => 3,
                        TabletHealth::ReplicaRelocating => 4,
                        TabletHealth::Redundant => 5,
                        TabletHealth::Unrecoverable => 6,
                    }] += 1;
                }
            }
        }
        for (t, x) in total.iter_mut().zip(n) {
            *t += x;
        }
        rows.push(health_row(s(d.id.to_string()), s(&d.name), n, 0));
    }
    rows.push(health_row(
        s("Total"),
        s(dbs.len().to_string()),
        total,
        cloning,
    ));
    let names = [
        "DbId",
        "DbName",
        "TabletNum",
        "HealthyNum",
        "ReplicaMissingNum",
        "VersionIncompleteNum",
        "ReplicaRelocatingNum",
        "RedundantNum",
        "ReplicaMissingForTagNum",
        "ForceRedundantNum",
        "ColocateMismatchNum",
        "ColocateRedundantNum",
        "NeedFurtherRepairNum",
        "UnrecoverableNum",
        "ReplicaCompactionTooSlowNum",
        "InconsistentNum",
        "OversizeNum",
        "CloningNum",
    ];
    let mut cols = typed_cols(&names, &(2..18).collect::<Vec<_>>());
    // DbId holds "Total" in the last row.
    cols[0].1 = datafusion::arrow::datatypes::DataType::Utf8;
    (cols, rows, Filter::None)
}

fn health_row(
    id: datafusion::common::ScalarValue,
    name: datafusion::common::ScalarValue,
    n: [i64; 7],
    cloning: i64,
) -> Vec<datafusion::common::ScalarValue> {
    let mut row = vec![id, name];
    row.extend(n[..6].iter().map(|x| i(*x)));
    row.extend((0..5).map(|_| i(0i64)));
    row.push(i(n[6]));
    row.extend((0..3).map(|_| i(0i64)));
    row.push(i(cloning));
    row
}

fn statistic(fe: &Frontend) -> Out {
    let state = fe.catalog.read();
    let mut dbs: Vec<_> = state.databases.values().collect();
    dbs.sort_by_key(|d| d.id);
    let mut rows = Vec::new();
    let mut total = [0i64; 5];
    for d in &dbs {
        let tables = d.tables.len() as i64;
        let partitions: i64 = d.tables.values().map(|t| t.partitions.len() as i64).sum();
        let tablets: i64 = d.tables.values().map(|t| t.tablet_num() as i64).sum();
        let replicas: i64 = d.tables.values().map(|t| replica_count(t) as i64).sum();
        let n = [tables, partitions, partitions, tablets, replicas];
        for (t, x) in total.iter_mut().zip(n) {
            *t += x;
        }
        let mut row = vec![s(d.id.to_string()), s(&d.name)];
        row.extend(n.iter().map(|x| i(*x)));
        rows.push(row);
    }
    let mut row = vec![s("Total"), s(dbs.len().to_string())];
    row.extend(total.iter().map(|x| i(*x)));
    rows.push(row);
    let names = [
        "DbId",
        "DbName",
        "TableNum",
        "PartitionNum",
        "IndexNum",
        "TabletNum",
        "ReplicaNum",
    ];
    (typed_cols(&names, &[2, 3, 4, 5, 6]), rows, Filter::None)
}

/// `SHOW [FULL] PROCESSLIST`: every connection (root sees all, others their own).
pub fn processlist(session: &Session, full: bool) -> Out {
    let now = basalt_common::now_ms();
    let rows = session
        .fe
        .connections
        .all()
        .into_iter()
        .filter(|c| session.user == "root" || c.user == session.user)
        .map(|c| {
            let a = c.activity();
            let info = if full {
                a.info.clone()
            } else {
                a.info.chars().take(100).collect()
            };
            vec![
                s(if c.id == session.connection_id {
                    "Yes"
                } else {
                    "No"
                }),
                i(i64::from(c.id)),
                s(&c.user),
                s(&c.host),
                s(format_time(c.login_ms)),
                s("internal"),
                s(a.db.unwrap_or_default()),
                s(a.command),
                i((now - a.since_ms) / 1000),
                s(if a.command == "Query" { "OK" } else { "" }),
                s(a.query_id),
                s(info),
            ]
        })
        .collect();
    let names = [
        "CurrentConnected",
        "Id",
        "User",
        "Host",
        "LoginTime",
        "Catalog",
        "Db",
        "Command",
        "Time",
        "State",
        "QueryId",
        "Info",
    ];
    (typed_cols(&names, &[1, 8]), rows, Filter::None)
}
