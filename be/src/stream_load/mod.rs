//! Stream Load on a backend: `PUT /api/{db}/{table}/_stream_load`. This BE
//! coordinates the load: the FE begins the transaction (checking the user and
//! the label) and hands over the table's sink; the body is parsed here, rows
//! are routed to tablets and written to every replica, and the FE commits on
//! a majority and publishes. The answer is Doris's JSON.

mod body;
mod columns;
mod csv;
mod group_commit;
mod json;
mod options;
mod rows;

pub use group_commit::{insert as group_commit_insert, list_wal};

use crate::storage::StorageEngine;
use crate::MasterAddress;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use basalt_common::config::BeConfig;
use basalt_common::control_client::ControlClient;
use basalt_common::load_rpc::{
    AbortLoad, BeginLoad, BeginLoadReply, CommitLoad, CommitLoadReply, StreamLoadRecord,
    ABORT_PATH, BEGIN_PATH, COMMIT_PATH, RECORD_PATH,
};
use basalt_common::sink::TabletSink;
use basalt_common::tablet_writer::{LocalRowsets, TabletWriter};
use csv::Rejects;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use options::LoadOptions;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct StreamLoader {
    master: MasterAddress,
    groups: group_commit::Groups,
    /// Group commit's write-ahead log.
    wal_dir: PathBuf,
    /// This backend's control port, which names it to the FE.
    heartbeat_port: u16,
    /// `streaming_load_max_mb` in bytes.
    max_body_bytes: u64,
    /// `streaming_load_json_max_mb` in bytes.
    max_json_bytes: u64,
    write_buffer_size: u64,
    error_dir: PathBuf,
    rpc: ControlClient,
    http: reqwest::Client,
    /// Where the replicas on this backend are written.
    engine: Arc<StorageEngine>,
}

impl StreamLoader {
    /// The engine's root holds the error logs and group commit's write-ahead log.
    pub fn new(
        master: MasterAddress,
        heartbeat_port: u16,
        engine: Arc<StorageEngine>,
        cfg: &BeConfig,
    ) -> basalt_common::Result<Self> {
        let root = engine.root().to_path_buf();
        let error_dir = root.join("error_log");
        std::fs::create_dir_all(&error_dir)?;
        Ok(Self {
            master,
            groups: Default::default(),
            wal_dir: root.join("wal"),
            heartbeat_port,
            max_body_bytes: cfg.streaming_load_max_mb.saturating_mul(1 << 20),
            max_json_bytes: cfg.streaming_load_json_max_mb.saturating_mul(1 << 20),
            write_buffer_size: cfg.write_buffer_size,
            error_dir,
            rpc: ControlClient::default(),
            http: reqwest::Client::new(),
            engine,
        })
    }

    /// A writer of `txn_id`'s rows to the tablets of `sink`; this backend's
    /// own replicas are written in process.
    fn writer(&self, sink: &Arc<TabletSink>, txn_id: u64) -> TabletWriter {
        let local = self.master.get().and_then(|m| m.backend_id).map(|id| {
            let engine = Arc::clone(&self.engine) as Arc<dyn LocalRowsets>;
            (id, engine)
        });
        let (rpc, flush) = (self.rpc.clone(), self.write_buffer_size);
        TabletWriter::new(Arc::clone(sink), rpc, txn_id, local, flush)
    }

    /// Waits for the writer's last writes, then has the FE commit (or
    /// precommit, for a two-phase load) on the replicas that hold the rows.
    /// Returns the status the FE answered, and how long the writes' end and
    /// the commit took.
    async fn commit(
        &self,
        db: &str,
        txn_id: u64,
        auth: Option<&str>,
        writer: TabletWriter,
        two_phase: bool,
    ) -> Result<(String, Duration, Duration), String> {
        let write = Instant::now();
        let (written, results) = writer.finish().await;
        let write = write.elapsed();
        let commit = Instant::now();
        let req = CommitLoad::new(db, txn_id, written, results, two_phase);
        match self.fe(COMMIT_PATH, auth, &req).await? {
            CommitLoadReply::Committed { status } => Ok((status, write, commit.elapsed())),
            CommitLoadReply::Failed { message } => Err(message),
        }
    }

    /// One call to the FE, authenticated as the load's user (`auth`, the
    /// request's Authorization header) or, without one, as this backend.
    async fn fe<Req: Serialize, Reply: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        auth: Option<&str>,
        req: &Req,
    ) -> Result<Reply, String> {
        let master = self
            .master
            .get()
            .ok_or("this backend has not been heartbeated by a frontend yet")?;
        let call = self
            .http
            .post(format!("http://{}{path}", master.addr))
            .json(req);
        let call = match auth {
            Some(auth) => call.header(header::AUTHORIZATION, auth),
            None => call.header(basalt_common::load_rpc::TOKEN_HEADER, master.token),
        };
        let resp = call
            .send()
            .await
            .map_err(|e| format!("calling the frontend: {e}"))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            return Err(body["Message"]
                .as_str()
                .unwrap_or("unauthorized")
                .to_string());
        }
        let text = resp
            .text()
            .await
            .map_err(|e| format!("reading the frontend's answer: {e}"))?;
        serde_json::from_str(&text).map_err(|e| {
            let head: String = text.chars().take(200).collect();
            format!("bad answer from the frontend ({e}): {head}")
        })
    }
}

/// Doris's Stream Load answer, field for field and in its order.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct LoadResult {
    txn_id: i64,
    label: String,
    comment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    two_phase_commit: Option<String>,
    /// Replaces TwoPhaseCommit for a group commit, as in Doris.
    #[serde(skip_serializing_if = "Option::is_none")]
    group_commit: Option<bool>,
    status: String,
    message: String,
    number_total_rows: u64,
    number_loaded_rows: u64,
    number_filtered_rows: u64,
    number_unselected_rows: u64,
    load_bytes: u64,
    load_time_ms: u64,
    begin_txn_time_ms: u64,
    stream_load_put_time_ms: u64,
    read_data_time_ms: u64,
    write_data_time_ms: u64,
    commit_and_publish_time_ms: u64,
    #[serde(rename = "ErrorURL", skip_serializing_if = "Option::is_none")]
    error_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    existing_job_status: Option<String>,
}

impl LoadResult {
    fn fail(mut self, message: impl Into<String>) -> Self {
        self.status = "Fail".into();
        self.message = message.into();
        self
    }
}

/// This backend's host as the client reached it (the Host header, without the port).
fn host_of(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => host.to_string(),
    }
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

pub async fn handle(
    State(loader): State<Arc<StreamLoader>>,
    Path((db, table)): Path<(String, String)>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started_at = basalt_common::now_ms();
    let start = Instant::now();
    let mut result = LoadResult {
        txn_id: -1,
        two_phase_commit: Some("false".into()),
        ..Default::default()
    };
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        let r = result.fail("[NOT_AUTHORIZED]no valid Basic authorization");
        return (StatusCode::UNAUTHORIZED, Json(r)).into_response();
    };
    let opts = match LoadOptions::from_headers(&headers) {
        Ok(o) => o,
        Err(e) => return Json(result.fail(e)).into_response(),
    };
    if let Some(n) = opts.content_length.filter(|n| *n > loader.max_body_bytes) {
        return Json(result.fail(body::too_big(n, loader.max_body_bytes))).into_response();
    }
    result.label = opts.label.clone().unwrap_or_default();
    result.comment = opts.comment.clone();
    if opts.two_phase_commit {
        result.two_phase_commit = Some("true".into());
    } else if opts.group_commit.is_some() {
        return group_commit(&loader, &db, &table, &auth, &opts, body, &headers, result).await;
    }
    let begin = Instant::now();
    let reply: BeginLoadReply = match loader
        .fe(
            BEGIN_PATH,
            Some(&auth),
            &BeginLoad {
                db: db.clone(),
                table,
                label: opts.label.clone(),
                coordinator_host: host_of(&headers),
                heartbeat_port: loader.heartbeat_port,
                timeout_second: opts.timeout_second,
            },
        )
        .await
    {
        Ok(r) => r,
        Err(e) if e.starts_with("Access denied") || e.contains("authorization") => {
            return (StatusCode::UNAUTHORIZED, Json(result.fail(e))).into_response()
        }
        Err(e) => return Json(result.fail(e)).into_response(),
    };
    result.begin_txn_time_ms = ms(begin);
    let (txn_id, sink) = match reply {
        BeginLoadReply::Begun {
            txn_id,
            label,
            sink,
        } => {
            result.label = label;
            (txn_id, Arc::new(*sink))
        }
        BeginLoadReply::LabelExists {
            message,
            existing_status,
        } => {
            result.status = "Label Already Exists".into();
            result.message = format!("[LABEL_ALREADY_EXISTS]{message}");
            result.existing_job_status = Some(existing_status);
            return Json(result).into_response();
        }
        BeginLoadReply::Failed { message } => return Json(result.fail(message)).into_response(),
    };
    result.txn_id = txn_id as i64;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    // The load finishes (commits or aborts) in a task of its own: a client that
    // hangs up must not leave its transaction, and its label, in PREPARE.
    let work = {
        let (loader, db, auth, sink, opts) = (
            Arc::clone(&loader),
            db.clone(),
            auth.clone(),
            sink.clone(),
            opts.clone(),
        );
        tokio::spawn(async move {
            let outcome = run(
                &loader,
                &db,
                txn_id,
                &auth,
                &sink,
                &opts,
                body,
                &host,
                &mut result,
            )
            .await;
            if let Err(message) = outcome {
                let abort = AbortLoad {
                    db: db.clone(),
                    txn_id,
                    reason: message.clone(),
                };
                let _ = loader
                    .fe::<_, serde_json::Value>(ABORT_PATH, Some(&auth), &abort)
                    .await;
                result = result.fail(message);
            }
            result
        })
    };
    let mut result = match work.await {
        Ok(r) => r,
        Err(e) => {
            let r = LoadResult {
                txn_id: txn_id as i64,
                ..Default::default()
            };
            return Json(r.fail(format!("[INTERNAL_ERROR]{e}"))).into_response();
        }
    };
    result.load_time_ms = ms(start);
    let record = StreamLoadRecord {
        label: result.label.clone(),
        db,
        table: sink.table.clone(),
        client_ip: client.ip().to_string(),
        status: result.status.clone(),
        message: result.message.clone(),
        url: result.error_url.clone().unwrap_or_else(|| "N/A".into()),
        total_rows: result.number_total_rows,
        loaded_rows: result.number_loaded_rows,
        filtered_rows: result.number_filtered_rows,
        unselected_rows: result.number_unselected_rows,
        load_bytes: result.load_bytes,
        start_time: started_at,
        finish_time: basalt_common::now_ms(),
        user: String::new(),
        comment: result.comment.clone(),
    };
    // For SHOW STREAM LOAD; the answer does not wait for it.
    let loader = Arc::clone(&loader);
    tokio::spawn(async move {
        let sent = loader.fe::<_, serde_json::Value>(RECORD_PATH, Some(&auth), &record);
        if let Err(e) = sent.await {
            tracing::warn!("recording stream load {}: {e}", record.label);
        }
    });
    Json(result).into_response()
}

/// A load joining its table's group commit.
#[allow(clippy::too_many_arguments)]
async fn group_commit(
    loader: &Arc<StreamLoader>,
    db: &str,
    table: &str,
    auth: &str,
    opts: &LoadOptions,
    body: Body,
    headers: &HeaderMap,
    mut result: LoadResult,
) -> Response {
    let start = Instant::now();
    result.two_phase_commit = None;
    result.group_commit = Some(true);
    if opts.label.is_some() {
        let r =
            result.fail("[INVALID_ARGUMENT]label and group_commit can't be set at the same time");
        return Json(r).into_response();
    }
    let (sink, interval) = match loader.sink(db, table, Some(auth)).await {
        Ok(found) => found,
        Err(e) if e.starts_with("Access denied") => {
            return (StatusCode::UNAUTHORIZED, Json(result.fail(e))).into_response()
        }
        Err(e) => return Json(result.fail(e)).into_response(),
    };
    let host = host_of(headers);
    let log_id = format!("group_commit_{:08x}", rand_suffix());
    let sink = Arc::new(sink);
    let mut batches = Vec::new();
    let into = RowsTo::Memory(&mut batches);
    let read = read_rows(loader, &sink, opts, body, &host, &log_id, &mut result, into);
    if let Err(e) = read.await {
        return Json(result.fail(e)).into_response();
    }
    let batch = match concat_batches(&sink.schema.arrow_schema(), &batches) {
        Ok(b) => b,
        Err(e) => return Json(result.fail(format!("[INTERNAL_ERROR]{e}"))).into_response(),
    };
    let write = Instant::now();
    let sync = opts.group_commit == Some(true);
    match loader.group_commit(db, table, batch, interval, sync).await {
        Ok((txn_id, label)) => {
            result.txn_id = txn_id.map_or(-1, |t| t as i64);
            result.label = label;
            result.status = "Success".into();
            result.message = "OK".into();
        }
        Err(e) => result = result.fail(e),
    }
    result.write_data_time_ms = ms(write);
    result.load_time_ms = ms(start);
    Json(result).into_response()
}

/// Reads and converts the rows, routes and writes them as they come, then
/// has the FE commit.
#[allow(clippy::too_many_arguments)]
async fn run(
    loader: &StreamLoader,
    db: &str,
    txn_id: u64,
    auth: &str,
    sink: &Arc<TabletSink>,
    opts: &LoadOptions,
    body: Body,
    host: &str,
    result: &mut LoadResult,
) -> Result<(), String> {
    let mut writer = loader.writer(sink, txn_id);
    let mut writing = Duration::ZERO;
    let into = RowsTo::Writer(&mut writer, &mut writing);
    let log_id = txn_id.to_string();
    let read = read_rows(loader, sink, opts, body, host, &log_id, result, into).await;
    if let Err(e) = read {
        // The abort that follows must not race a write still landing.
        writer.cancel().await;
        return Err(e);
    }
    let (status, write, commit) = loader
        .commit(db, txn_id, Some(auth), writer, opts.two_phase_commit)
        .await
        .inspect_err(|_| result.number_loaded_rows = 0)?;
    result.write_data_time_ms = (writing + write).as_millis() as u64;
    result.commit_and_publish_time_ms = commit.as_millis() as u64;
    // Committed but not yet visible: Doris calls that a publish timeout.
    if status == "VISIBLE" || status == "PRECOMMITTED" {
        result.status = "Success".into();
        result.message = "OK".into();
    } else {
        result.status = "Publish Timeout".into();
        result.message =
            "[PUBLISH_TIMEOUT]transaction commit successfully, BUT data will be visible later"
                .into();
    }
    Ok(())
}

/// Where a load's rows go as they are parsed.
enum RowsTo<'a> {
    /// To the tablets, counting the time spent writing.
    Writer(&'a mut TabletWriter, &'a mut Duration),
    /// Kept (a group commit's load).
    Memory(&'a mut Vec<RecordBatch>),
}

impl RowsTo<'_> {
    async fn take(
        &mut self,
        batch: RecordBatch,
        partition_of: &[Option<usize>],
    ) -> Result<(), String> {
        match self {
            RowsTo::Writer(writer, writing) => {
                let start = Instant::now();
                let added = writer.add(&batch, partition_of).await;
                **writing += start.elapsed();
                added.map_err(|e| e.message)
            }
            RowsTo::Memory(batches) => {
                batches.push(batch);
                Ok(())
            }
        }
    }
}

/// Reads the body block by block, parses blocks on every core, and hands
/// each block's rows (with their partitions: indexes into the sink's) on in
/// body order. Rejected rows are counted, logged and bounded by
/// `max_filter_ratio`.
#[allow(clippy::too_many_arguments)]
async fn read_rows(
    loader: &StreamLoader,
    sink: &Arc<TabletSink>,
    opts: &LoadOptions,
    body: Body,
    host: &str,
    log_id: &str,
    result: &mut LoadResult,
    mut into: RowsTo<'_>,
) -> Result<(), String> {
    let read = Instant::now();
    let sources = rows::sources(sink, opts)?;
    let mut reader =
        body::BodyReader::new(body, opts, loader.max_body_bytes, loader.max_json_bytes);
    // One block more than cores: a parser never waits for the next block.
    let in_flight = std::thread::available_parallelism().map_or(1, |n| n.get()) + 1;
    let mut parsing = std::collections::VecDeque::new();
    let mut rejects = Rejects::default();
    let mut body_done = false;
    loop {
        if !body_done && parsing.len() < in_flight {
            match reader.next().await? {
                Some(block) => {
                    let (sink, opts, sources) = (Arc::clone(sink), opts.clone(), sources.clone());
                    parsing.push_back(tokio::task::spawn_blocking(move || {
                        rows::parse(block, &sink, &opts, &sources)
                    }));
                }
                None => body_done = true,
            }
            continue;
        }
        let Some(next) = parsing.pop_front() else {
            break;
        };
        let parsed = next.await.map_err(|e| format!("[INTERNAL_ERROR]{e}"))??;
        result.number_total_rows += parsed.total;
        result.number_unselected_rows += parsed.unselected;
        result.number_loaded_rows += parsed.batch.num_rows() as u64;
        rejects.merge(parsed.rejects);
        if parsed.batch.num_rows() > 0 {
            into.take(parsed.batch, &parsed.partition_of).await?;
        }
    }
    result.load_bytes = reader.received;
    result.read_data_time_ms = ms(read);
    result.number_filtered_rows = rejects.count;
    crate::metrics::STREAM_LOAD_ROWS.fetch_add(
        result.number_loaded_rows,
        std::sync::atomic::Ordering::Relaxed,
    );
    if rejects.count > 0 {
        result.error_url = write_error_log(loader, log_id, &rejects, host);
        // Rows `where` dropped take no part in the ratio, as in Doris.
        let selected = result
            .number_total_rows
            .saturating_sub(result.number_unselected_rows);
        let ratio = rejects.count as f64 / selected.max(1) as f64;
        if ratio > opts.max_filter_ratio {
            result.number_loaded_rows = 0;
            return Err("[DATA_QUALITY_ERROR]too many filtered rows".into());
        }
    }
    Ok(())
}

/// Writes the rejected rows' reasons; returns the URL that serves them.
fn write_error_log(
    loader: &StreamLoader,
    id: &str,
    rejects: &Rejects,
    host: &str,
) -> Option<String> {
    let name = format!("error_log_{id}_{:08x}", rand_suffix());
    let path = loader.error_dir.join(&name);
    match std::fs::write(&path, rejects.lines.join("\n") + "\n") {
        Ok(()) => Some(format!("http://{host}/api/_load_error_log?file={name}")),
        Err(e) => {
            tracing::warn!("writing {}: {e}", path.display());
            None
        }
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// `PUT /api/{db}[/{table}]/_stream_load_2pc` on a backend: the second phase is
/// the FE's business; the request goes there with the client's credentials.
pub async fn two_phase(
    State(loader): State<Arc<StreamLoader>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let Some(master) = loader.master.get().map(|m| m.addr) else {
        let body = serde_json::json!({"status": "INTERNAL_ERROR",
            "msg": "this backend has not been heartbeated by a frontend yet"});
        return Json(body).into_response();
    };
    let mut forwarded = reqwest::header::HeaderMap::new();
    for name in ["authorization", "txn_id", "label", "txn_operation"] {
        if let Some(v) = headers.get(name) {
            forwarded.insert(name, v.clone());
        }
    }
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let sent = loader
        .http
        .put(format!("http://{master}{path}"))
        .headers(forwarded)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status();
            let body = resp.bytes().await.unwrap_or_default();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => Json(serde_json::json!({"status": "INTERNAL_ERROR",
            "msg": format!("calling the frontend: {e}")}))
        .into_response(),
    }
}

#[derive(serde::Deserialize)]
pub struct ErrorLogQuery {
    file: String,
}

/// `GET /api/_load_error_log?file=...`: a load's rejected rows and why.
pub async fn error_log(
    State(loader): State<Arc<StreamLoader>>,
    Query(q): Query<ErrorLogQuery>,
) -> Response {
    let valid = !q.file.is_empty()
        && q.file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return (StatusCode::BAD_REQUEST, "invalid file name").into_response();
    }
    match std::fs::read(loader.error_dir.join(&q.file)) {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "no such error log").into_response(),
    }
}
