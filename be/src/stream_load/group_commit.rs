//! Group commit (`group_commit: sync_mode | async_mode`): many small loads of
//! a table become one transaction, and one version, per interval (the table's
//! `group_commit_interval_ms`) or per 64 MiB. `sync_mode` answers once the
//! group is visible; `async_mode` answers once the rows are in this backend's
//! write-ahead log (an Arrow IPC file, fsynced), which a restart replays.
//! The group's own calls to the FE use the cluster token, not a user's password.

use super::StreamLoader;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use basalt_common::load_rpc::{
    AbortLoad, BeginLoad, BeginLoadReply, GetSink, GetSinkReply, GroupCommitReply, ABORT_PATH,
    BEGIN_PATH, SINK_PATH, TOKEN_HEADER,
};
use basalt_common::sink::TabletSink;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// A group's transaction is aborted if not committed within this long.
const GROUP_TIMEOUT_SECOND: u64 = 300;

/// A group is flushed early once it holds this much.
const MAX_GROUP_BYTES: usize = 64 << 20;

/// What a `sync_mode` load learns when its group is committed.
pub type Outcome = Result<(u64, String), String>;

#[derive(Default)]
struct Group {
    label: String,
    /// Each load's rows, with its write-ahead-log file for `async_mode`.
    loads: Vec<(RecordBatch, Option<PathBuf>)>,
    bytes: usize,
    waiters: Vec<oneshot::Sender<Outcome>>,
}

/// The open group of every table, by (db, table).
#[derive(Default)]
pub struct Groups {
    open: Mutex<HashMap<(String, String), Group>>,
}

fn new_label() -> String {
    format!("group_commit_{:032x}", rand::random::<u128>())
}

impl StreamLoader {
    fn wal_dir(&self, db: &str, table: &str) -> PathBuf {
        self.wal_dir.join(db).join(table)
    }

    /// Adds rows to the table's open group. With `sync`, waits until the group
    /// is committed and returns its transaction; otherwise returns once the
    /// rows are in the write-ahead log. Either way the group's label.
    pub async fn group_commit(
        self: &Arc<Self>,
        db: &str,
        table: &str,
        batch: RecordBatch,
        interval: Duration,
        sync: bool,
    ) -> Result<(Option<u64>, String), String> {
        let wal = if sync {
            None
        } else {
            let dir = self.wal_dir(db, table);
            let batch = batch.clone();
            let path = tokio::task::spawn_blocking(move || write_wal(&dir, &batch))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("[INTERNAL_ERROR]writing the group commit log: {e}"))?;
            Some(path)
        };
        let (label, waiter) = self.join_group(db, table, batch, wal, sync, interval);
        match waiter {
            None => Ok((None, label)),
            Some(rx) => {
                let (txn_id, label) = rx
                    .await
                    .map_err(|_| "[INTERNAL_ERROR]the group commit was dropped".to_string())??;
                Ok((Some(txn_id), label))
            }
        }
    }

    fn join_group(
        self: &Arc<Self>,
        db: &str,
        table: &str,
        batch: RecordBatch,
        wal: Option<PathBuf>,
        sync: bool,
        interval: Duration,
    ) -> (String, Option<oneshot::Receiver<Outcome>>) {
        let key = (db.to_string(), table.to_string());
        let mut open = self.groups.open.lock().unwrap_or_else(|e| e.into_inner());
        let group = open.entry(key.clone()).or_default();
        if group.label.is_empty() {
            group.label = new_label();
            // The first load of a group schedules its flush.
            let (loader, key, label) = (Arc::clone(self), key.clone(), group.label.clone());
            tokio::spawn(async move {
                tokio::time::sleep(interval).await;
                loader.flush(key, &label).await;
            });
        }
        group.bytes += batch.get_array_memory_size();
        group.loads.push((batch, wal));
        let waiter = sync.then(|| {
            let (tx, rx) = oneshot::channel();
            group.waiters.push(tx);
            rx
        });
        let label = group.label.clone();
        if group.bytes >= MAX_GROUP_BYTES {
            let (loader, label) = (Arc::clone(self), label.clone());
            tokio::spawn(async move { loader.flush(key, &label).await });
        }
        (label, waiter)
    }

    /// Commits the group `label` of a table, if it is still open.
    async fn flush(self: &Arc<Self>, key: (String, String), label: &str) {
        let group = {
            let mut open = self.groups.open.lock().unwrap_or_else(|e| e.into_inner());
            match open.get(&key) {
                Some(g) if g.label == label => open.remove(&key),
                _ => None,
            }
        };
        if let Some(group) = group {
            self.settle(key, group).await;
        }
    }

    /// Commits a group under its label, then tells its loads and deletes its
    /// logs; on failure retries the logged loads under the same label, so an
    /// attempt that did commit (its answer lost) is never committed twice.
    async fn settle(self: &Arc<Self>, key: (String, String), mut group: Group) {
        // Logs name their group's label before it begins: a replay after a
        // crash retries them under it.
        for (_, wal) in &mut group.loads {
            if let Some(path) = wal.as_mut() {
                if let Some(named) = with_label(path, &group.label) {
                    if std::fs::rename(&*path, &named).is_ok() {
                        *path = named;
                    }
                }
            }
        }
        loop {
            let outcome = self.commit_group(&key, &group).await;
            if let Err(e) = &outcome {
                tracing::warn!("group commit {} of {}.{}: {e}", group.label, key.0, key.1);
            }
            let done = outcome.is_ok() || e_is_permanent(&outcome);
            for w in std::mem::take(&mut group.waiters) {
                let _ = w.send(outcome.clone());
            }
            if done {
                for path in group.loads.iter().filter_map(|(_, w)| w.as_ref()) {
                    let _ = std::fs::remove_file(path);
                }
                return;
            }
            // The logged rows were promised: retry them. (A `sync_mode` load's
            // client was told of the failure, so it is not retried.)
            group.loads.retain(|(_, wal)| wal.is_some());
            if group.loads.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The table's sink and `group_commit_interval_ms`, asked of the FE as
    /// the user (`auth`) or as this backend.
    pub(super) async fn sink(
        &self,
        db: &str,
        table: &str,
        auth: Option<&str>,
    ) -> Result<(TabletSink, Duration), String> {
        let req = GetSink {
            db: db.to_string(),
            table: table.to_string(),
        };
        match self.fe(SINK_PATH, auth, &req).await? {
            GetSinkReply::Sink {
                sink,
                group_commit_interval_ms,
            } => Ok((*sink, Duration::from_millis(group_commit_interval_ms))),
            GetSinkReply::Failed { message } => Err(message),
        }
    }

    async fn commit_group(&self, (db, table): &(String, String), group: &Group) -> Outcome {
        let (sink, _) = self.sink(db, table, None).await?;
        let begin = BeginLoad {
            db: db.clone(),
            table: table.clone(),
            label: Some(group.label.clone()),
            coordinator_host: "127.0.0.1".into(),
            heartbeat_port: self.heartbeat_port,
            // A group left PREPARE by a crash must free its label soon: the
            // replay retries under it.
            timeout_second: Some(GROUP_TIMEOUT_SECOND),
        };
        let txn_id = match self.fe(BEGIN_PATH, None, &begin).await? {
            BeginLoadReply::Begun { txn_id, .. } => txn_id,
            // An earlier attempt of this group committed: nothing more to do.
            BeginLoadReply::LabelExists {
                existing_status, ..
            } if existing_status == "FINISHED" => return Ok((0, group.label.clone())),
            BeginLoadReply::LabelExists { message, .. } | BeginLoadReply::Failed { message } => {
                return Err(message)
            }
        };
        let sink = Arc::new(sink);
        let mut writer = self.writer(&sink, txn_id);
        let added = async {
            for (batch, _) in &group.loads {
                let partition_of = sink.partition_of_rows(batch).map_err(|e| e.message)?;
                writer
                    .add(batch, &partition_of)
                    .await
                    .map_err(|e| e.message)?;
            }
            Ok::<_, String>(())
        }
        .await;
        let written = match added {
            Ok(()) => self.commit(db, txn_id, None, writer, false).await,
            Err(e) => {
                // The abort below must not race a write still landing.
                writer.cancel().await;
                Err(e)
            }
        };
        match written {
            Ok(_) => Ok((txn_id, group.label.clone())),
            Err(reason) => {
                let abort = AbortLoad {
                    db: db.clone(),
                    txn_id,
                    reason: reason.clone(),
                };
                let _ = self
                    .fe::<_, serde_json::Value>(ABORT_PATH, None, &abort)
                    .await;
                Err(reason)
            }
        }
    }

    /// Re-queues the rows a previous run logged but did not commit (`logs`,
    /// listed before this run accepted any load). Logs of a group that had
    /// begun are retried under its label.
    pub async fn replay_wal(self: Arc<Self>, logs: Vec<WalFile>) {
        // The FE's address arrives with its first heartbeat.
        while self.master.get().is_none() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut begun: HashMap<(String, String, String), Group> = HashMap::new();
        for log in logs {
            let batch = match read_wal(&log.path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("unreadable log {}: {e}", log.path.display());
                    continue;
                }
            };
            tracing::info!("replaying {}", log.path.display());
            match label_of(&log.path) {
                Some(label) => {
                    let group = begun
                        .entry((log.db, log.table, label.clone()))
                        .or_insert_with(|| Group {
                            label,
                            ..Default::default()
                        });
                    group.loads.push((batch, Some(log.path)));
                }
                None => {
                    self.join_group(
                        &log.db,
                        &log.table,
                        batch,
                        Some(log.path),
                        false,
                        Duration::ZERO,
                    );
                }
            }
        }
        for ((db, table, _), group) in begun {
            let loader = Arc::clone(&self);
            tokio::spawn(async move { loader.settle((db, table), group).await });
        }
    }
}

/// A log renamed for its group: `<label>__<file>`.
fn with_label(path: &Path, label: &str) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with(label) {
        return None;
    }
    Some(path.with_file_name(format!("{label}__{name}")))
}

/// The group label a log was renamed with, if any.
fn label_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let (label, _) = name.split_once("__")?;
    label
        .starts_with("group_commit_")
        .then(|| label.to_string())
}

/// A write-ahead-log file of a table.
pub struct WalFile {
    db: String,
    table: String,
    path: PathBuf,
}

/// The log files a previous run left; files it did not finish are removed.
pub fn list_wal(wal_dir: &Path) -> Vec<WalFile> {
    let mut out = Vec::new();
    let entries = |p: &Path| std::fs::read_dir(p).into_iter().flatten().flatten();
    for db in entries(wal_dir) {
        for table in entries(&db.path()) {
            for file in entries(&table.path()) {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "arrow") {
                    out.push(WalFile {
                        db: db.file_name().to_string_lossy().to_string(),
                        table: table.file_name().to_string_lossy().to_string(),
                        path,
                    });
                } else {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }
    out
}

/// A failure retrying cannot fix: the table is gone.
fn e_is_permanent(outcome: &Outcome) -> bool {
    outcome
        .as_ref()
        .err()
        .is_some_and(|e| e.starts_with("[NOT_FOUND]"))
}

/// `POST {GROUP_COMMIT_PATH}/{db}/{table}`: an INSERT's rows, sent by the FE
/// (with the cluster token) as an Arrow IPC stream, join the table's group.
pub async fn insert(
    State(loader): State<Arc<StreamLoader>>,
    UrlPath((db, table)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    let master = loader.master.get();
    if token.is_none() || token != master.as_ref().map(|m| m.token.as_str()) {
        let reply = GroupCommitReply::Failed {
            message: "[NOT_AUTHORIZED]not the cluster's frontend".into(),
        };
        return (StatusCode::UNAUTHORIZED, Json(reply)).into_response();
    }
    let sync = headers.get("group_commit").and_then(|v| v.to_str().ok()) == Some("sync_mode");
    let accepted = async {
        let bytes = axum::body::to_bytes(body, loader.max_body_bytes as usize)
            .await
            .map_err(|e| format!("[INTERNAL_ERROR]receiving the rows failed: {e}"))?;
        let rows = StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .and_then(|r| r.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("[INTERNAL_ERROR]bad rows: {e}"))?;
        let (sink, interval) = loader.sink(&db, &table, None).await?;
        let batch = concat_batches(&sink.schema.arrow_schema(), &rows)
            .map_err(|e| format!("[INTERNAL_ERROR]rows do not fit table {table}: {e}"))?;
        loader
            .group_commit(&db, &table, batch, interval, sync)
            .await
    };
    let reply = match accepted.await {
        Ok((txn_id, label)) => GroupCommitReply::Accepted { txn_id, label },
        Err(message) => GroupCommitReply::Failed { message },
    };
    Json(reply).into_response()
}

fn write_wal(dir: &Path, batch: &RecordBatch) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{:032x}.arrow", rand::random::<u128>()));
    let tmp = path.with_extension("tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut writer = FileWriter::try_new(&file, &batch.schema()).map_err(std::io::Error::other)?;
    writer.write(batch).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    file.sync_all()?;
    // Only a complete log file takes the final name; the directory entry is synced too.
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

fn read_wal(path: &Path) -> Result<RecordBatch, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let reader = FileReader::try_new(file, None).map_err(|e| e.to_string())?;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    concat_batches(&schema, &batches).map_err(|e| e.to_string())
}
