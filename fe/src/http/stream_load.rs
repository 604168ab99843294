//! Stream Load on the FE: the client's `PUT /api/{db}/{table}/_stream_load` is
//! redirected (307, credentials in the Location, as Doris does) to a live
//! backend, which runs the load and calls back here to begin, commit or abort
//! its transaction. Every call is authenticated from its own `Authorization`.

use crate::load;
use crate::Frontend;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use basalt_catalog::TxnStatus;
use basalt_common::load_rpc::{
    AbortLoad, BeginLoad, BeginLoadReply, CommitLoad, CommitLoadReply, GetSink, GetSinkReply,
    StreamLoadRecord,
};
use basalt_common::{ErrorKind, Result};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A failure before any backend is involved, in Stream Load's response shape.
pub fn fail(code: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "TxnId": -1,
        "Label": "",
        "Status": "Fail",
        "Message": message,
    });
    (code, Json(body)).into_response()
}

/// The request's user, or why it is refused (answered with 401).
fn authorized(headers: &HeaderMap) -> std::result::Result<String, String> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    crate::auth::check_basic(auth)
}

/// A user's call, or a backend's own (with the cluster token).
fn authorized_or_backend(fe: &Frontend, headers: &HeaderMap) -> std::result::Result<(), String> {
    let token = headers
        .get(basalt_common::load_rpc::TOKEN_HEADER)
        .and_then(|v| v.to_str().ok());
    match token {
        Some(t) if t == fe.cluster_token => Ok(()),
        Some(_) => Err("invalid cluster token".into()),
        None => authorized(headers).map(|_| ()),
    }
}

/// `PUT /api/{db}/{table}/_stream_load`: 307 to a live, not decommissioned
/// backend, or, in proxy mode, the body forwarded there and its answer returned.
pub async fn redirect(
    State(fe): State<Arc<Frontend>>,
    Path((db, table)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let user = match authorized(&headers) {
        Ok(u) => u,
        Err(m) => return fail(StatusCode::UNAUTHORIZED, &m),
    };
    if let Err(e) = fe.catalog.read().table(&db, &table) {
        return fail(StatusCode::OK, &e.message);
    }
    let candidates = fe.load_backends();
    if candidates.is_empty() {
        return fail(StatusCode::OK, "No backend alive.");
    }
    let be = &candidates[rand::random::<u32>() as usize % candidates.len()];
    let (host, port) = (&be.host, be.http_port);
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let policy = headers
        .get("redirect-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&fe.config.streamload_redirect_policy);
    if policy.eq_ignore_ascii_case("proxy") {
        let url = format!("http://{host}:{port}{path}");
        return proxy(&fe.http, &url, &headers, body).await;
    }
    let password = crate::auth::password_of(&user).unwrap_or_default();
    let location = format!("http://{user}:{password}@{host}:{port}{path}");
    (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response()
}

/// An error as Doris words a load's status: `[CODE]message`.
fn status_text(e: &basalt_common::Error) -> String {
    let code = match e.kind {
        ErrorKind::UnknownDatabase | ErrorKind::UnknownTable => "NOT_FOUND",
        ErrorKind::Backend | ErrorKind::Internal => "INTERNAL_ERROR",
        _ => "ANALYSIS_ERROR",
    };
    format!("[{code}]{}", e.message)
}

/// Streams the request to the backend and its answer back to the client.
async fn proxy(http: &reqwest::Client, url: &str, headers: &HeaderMap, body: Body) -> Response {
    let mut forwarded = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        // Hop-by-hop headers stay here; the body is re-framed by the client library.
        let hop = [
            header::HOST,
            header::EXPECT,
            header::CONNECTION,
            header::TRANSFER_ENCODING,
        ];
        if !hop.contains(name) {
            forwarded.append(name.clone(), value.clone());
        }
    }
    let sent = http
        .put(url)
        .headers(forwarded)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            return fail(
                StatusCode::OK,
                &format!("forwarding the load to {url}: {e}"),
            )
        }
    };
    let status = resp.status();
    match resp.bytes().await {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => fail(StatusCode::OK, &format!("reading the answer of {url}: {e}")),
    }
}

/// A backend begins a load's transaction: the label is checked and the
/// table's sink (partitions, buckets, replicas) returned.
pub async fn begin(
    State(fe): State<Arc<Frontend>>,
    ConnectInfo(caller): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<BeginLoad>,
) -> Response {
    if let Err(m) = authorized_or_backend(&fe, &headers) {
        return fail(StatusCode::UNAUTHORIZED, &m);
    }
    let reply = begin_load(&fe, &req, caller.ip()).unwrap_or_else(|e| match e.kind {
        ErrorKind::LabelAlreadyExists => {
            let status = fe.catalog.read().db(&req.db).ok().and_then(|d| {
                let txn = d.labels.get(req.label.as_deref()?)?;
                d.transactions.get(txn).map(|t| t.status)
            });
            let existing = match status {
                Some(TxnStatus::Precommitted) => "PRECOMMITTED",
                Some(TxnStatus::Committed | TxnStatus::Visible) => "FINISHED",
                _ => "RUNNING",
            };
            BeginLoadReply::LabelExists {
                message: e.message,
                existing_status: existing.into(),
            }
        }
        _ => BeginLoadReply::Failed {
            message: status_text(&e),
        },
    });
    Json(reply).into_response()
}

fn begin_load(fe: &Arc<Frontend>, req: &BeginLoad, caller: IpAddr) -> Result<BeginLoadReply> {
    let table = fe.catalog.read().table(&req.db, &req.table)?.clone();
    let label = req
        .label
        .clone()
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| format!("stream_load_{:016x}", rand::random::<u64>()));
    let timeout = req
        .timeout_second
        .unwrap_or(fe.config.stream_load_default_timeout_second);
    if !(1..=259_200).contains(&timeout) {
        return Err(basalt_common::Error::invalid(format!(
            "Invalid timeout: {timeout}. Timeout should between 1 and 259200 seconds"
        )));
    }
    // The calling backend: the one at the caller's address with that control port.
    let coordinator_backend = fe
        .catalog
        .read()
        .backends
        .values()
        .find(|b| {
            b.heartbeat_port == req.heartbeat_port
                && b.host.parse::<IpAddr>().is_ok_and(|ip| ip == caller)
        })
        .map(|b| b.id);
    let coordinator_start_time =
        coordinator_backend.map_or(0, |id| fe.backends.status(id).info.start_time_ms);
    let source = load::LoadSource {
        source_type: "BACKEND_STREAMING",
        coordinator: format!("BE: {}", req.coordinator_host),
        coordinator_backend,
        coordinator_start_time,
        timeout_ms: timeout as i64 * 1000,
    };
    let txn_id = load::begin(fe, &req.db, &table, &label, source)?;
    Ok(BeginLoadReply::Begun {
        txn_id,
        label,
        sink: Box::new(load::sink(fe, &table)),
    })
}

/// A backend asks for a table's sink (group commit).
pub async fn sink(
    State(fe): State<Arc<Frontend>>,
    headers: HeaderMap,
    Json(req): Json<GetSink>,
) -> Response {
    if let Err(m) = authorized_or_backend(&fe, &headers) {
        return fail(StatusCode::UNAUTHORIZED, &m);
    }
    let table = fe.catalog.read().table(&req.db, &req.table).cloned();
    let reply = match table {
        Ok(table) => GetSinkReply::Sink {
            group_commit_interval_ms: table
                .properties
                .get("group_commit_interval_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(10_000),
            sink: Box::new(load::sink(&fe, &table)),
        },
        Err(e) => GetSinkReply::Failed {
            message: status_text(&e),
        },
    };
    Json(reply).into_response()
}

/// A backend wrote the replicas: commit on a majority, then publish.
pub async fn commit(
    State(fe): State<Arc<Frontend>>,
    headers: HeaderMap,
    Json(req): Json<CommitLoad>,
) -> Response {
    if let Err(m) = authorized_or_backend(&fe, &headers) {
        return fail(StatusCode::UNAUTHORIZED, &m);
    }
    let results = req.results();
    let result = match load::txn_and_table(&fe, &req.db, req.txn_id) {
        Ok((_, table)) if req.two_phase => {
            load::precommit(&fe, &req.db, &table, req.txn_id, &req.written, &results)
        }
        Ok((_, table)) => {
            load::commit(&fe, &req.db, &table, req.txn_id, &req.written, &results).await
        }
        Err(e) => Err(e),
    };
    let reply = match load::finish(&fe, &req.db, req.txn_id, result).await {
        Ok(status) => CommitLoadReply::Committed {
            status: status.to_string(),
        },
        Err(e) => CommitLoadReply::Failed {
            message: status_text(&e),
        },
    };
    Json(reply).into_response()
}

/// A backend reports how a Stream Load ended.
pub async fn record(
    State(fe): State<Arc<Frontend>>,
    headers: HeaderMap,
    Json(mut req): Json<StreamLoadRecord>,
) -> Response {
    let user = match authorized(&headers) {
        Ok(u) => u,
        Err(m) => return fail(StatusCode::UNAUTHORIZED, &m),
    };
    req.user = user;
    let mut records = fe.stream_loads.lock().unwrap_or_else(|e| e.into_inner());
    if records.len() >= crate::MAX_STREAM_LOAD_RECORDS {
        records.pop_front();
    }
    records.push_back(req);
    StatusCode::OK.into_response()
}

/// A backend gave up on a load (bad data, a failed write): abort it.
pub async fn abort(
    State(fe): State<Arc<Frontend>>,
    headers: HeaderMap,
    Json(req): Json<AbortLoad>,
) -> Response {
    if let Err(m) = authorized_or_backend(&fe, &headers) {
        return fail(StatusCode::UNAUTHORIZED, &m);
    }
    let status = fe
        .catalog
        .read()
        .db(&req.db)
        .ok()
        .and_then(|d| d.transactions.get(&req.txn_id).map(|t| t.status));
    match status {
        Some(TxnStatus::Prepare) => {
            let _ = load::abort(&fe, &req.db, req.txn_id, &req.reason).await;
        }
        // Aborted already (by its timeout, say) while writes were landing:
        // drop what they left on the backends.
        Some(TxnStatus::Aborted) => load::abort_on_backends(&fe, req.txn_id, None).await,
        _ => {}
    }
    StatusCode::OK.into_response()
}

/// `PUT /api/{db}/{table}/_stream_load_2pc`: the same, as Doris also accepts it.
pub async fn two_phase_of_table(
    State(fe): State<Arc<Frontend>>,
    Path((db, _table)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    two_phase(State(fe), Path(db), headers).await
}

/// `PUT /api/{db}/_stream_load_2pc` with `txn_id` or `label` and
/// `txn_operation: commit | abort`: the second phase of a two-phase load.
pub async fn two_phase(
    State(fe): State<Arc<Frontend>>,
    Path(db): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(m) = authorized(&headers) {
        return fail(StatusCode::UNAUTHORIZED, &m);
    }
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let answer = |status: &str, msg: String| {
        Json(serde_json::json!({"status": status, "msg": msg})).into_response()
    };
    let op = match get("txn_operation").map(str::to_ascii_lowercase).as_deref() {
        Some("commit") => "commit",
        Some("abort") => "abort",
        _ => {
            return answer(
                "INVALID_ARGUMENT",
                "transaction operation should be 'commit' or 'abort'".into(),
            )
        }
    };
    if get("txn_id").is_none() && get("label").is_none() {
        return answer(
            "INVALID_ARGUMENT",
            "No transaction id or label selected.".into(),
        );
    }
    if let Some(Err(e)) = get("label").map(load::check_label) {
        return answer("ANALYSIS_ERROR", e.message);
    }
    let found = {
        let state = fe.catalog.read();
        state.db(&db).map(|d| {
            let id = match (get("txn_id"), get("label")) {
                (Some(id), _) => id.parse::<u64>().ok(),
                (None, Some(label)) => d.labels.get(label).copied(),
                (None, None) => None,
            };
            id.and_then(|id| {
                d.transactions
                    .get(&id)
                    .map(|t| (id, t.status, t.reason.clone()))
            })
        })
    };
    let (txn_id, status, reason) = match found {
        Err(e) => return answer("NOT_FOUND", e.message),
        Ok(None) => {
            let which = get("txn_id").or(get("label")).unwrap_or_default();
            return answer(
                "ANALYSIS_ERROR",
                format!("transaction [{which}] not found."),
            );
        }
        Ok(Some(found)) => found,
    };
    let refused = match (op, status) {
        (_, TxnStatus::Aborted) => Some(format!(
            "transaction [{txn_id}] is already aborted. abort reason: {reason}"
        )),
        ("commit", TxnStatus::Prepare) => Some(format!(
            "transaction [{txn_id}] is prepare, not pre-committed."
        )),
        ("commit", TxnStatus::Committed | TxnStatus::Visible) => Some(format!(
            "transaction [{txn_id}] is already {}, not pre-committed.",
            status.to_string().to_lowercase()
        )),
        ("abort", TxnStatus::Committed | TxnStatus::Visible) => Some(format!(
            "transaction [{txn_id}] is already {status}, could not abort."
        )),
        _ => None,
    };
    if let Some(msg) = refused {
        return answer("ANALYSIS_ERROR", msg);
    }
    let result = if op == "commit" {
        let result = load::commit_precommitted(&fe, &db, txn_id).await;
        load::finish(&fe, &db, txn_id, result).await.map(|_| ())
    } else {
        load::abort(&fe, &db, txn_id, "User Abort").await
    };
    match result {
        Ok(()) => {
            let mut msg = String::new();
            if let Some(label) = get("label") {
                msg.push_str(&format!("label [{label}] "));
            }
            msg.push_str(&format!("transaction [{txn_id}] {op} successfully."));
            answer("Success", msg)
        }
        Err(e) => answer("ANALYSIS_ERROR", e.message),
    }
}
