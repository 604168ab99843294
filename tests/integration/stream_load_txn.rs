//! Stream Load's transactions through the real `curl` client: two-phase
//! commit, SHOW TRANSACTION / SHOW LOAD / SHOW STREAM LOAD, the `partitions`
//! header and the body limit, and many parallel loaders with and without group
//! commit, every row exactly once.

use crate::stream_load::{curl, metric, row, stream_load, write, Server};
use basalt_tests::rows;
use mysql_async::prelude::Queryable;
use serde_json::Value;

/// `PUT /api/db/_stream_load_2pc` through the FE.
fn two_phase(s: &Server, headers: &[&str]) -> Value {
    let url = format!(
        "http://127.0.0.1:{}/api/db/_stream_load_2pc",
        s.server.port("http_port")
    );
    let mut args = vec!["--location-trusted", "-u", "root:", "-X", "PUT"];
    for h in headers {
        args.push("-H");
        args.push(h);
    }
    args.push(&url);
    let (code, body) = curl(&args);
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

async fn show_transaction(s: &Server, filter: &str) -> Vec<String> {
    let mut conn = s.server.connect().await;
    rows(
        &mut conn,
        &format!("SHOW TRANSACTION FROM db WHERE {filter}"),
    )
    .await
    .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_commit_and_show_transaction() {
    let s = Server::start("stream-load-2pc").await;
    let load = |name: &str, label: &str| {
        let file = write(&s.data, name, &format!("1,{name},1.00,2024-01-01\n"));
        let label = format!("label: {label}");
        let (_, r) = stream_load(
            &s.fe_url("t"),
            "root:",
            &file,
            &["column_separator: ,", "two_phase_commit: true", &label],
        );
        assert_eq!(r["Status"], "Success", "{r}");
        assert_eq!(r["TwoPhaseCommit"], "true", "{r}");
        r["TxnId"].as_i64().unwrap()
    };
    // Precommitted: nothing visible yet, the label is taken.
    let first = load("a", "tp1");
    assert!(s.table().await.is_empty());
    let t = show_transaction(&s, &format!("id = {first}")).await;
    assert_eq!(t[0], first.to_string());
    assert_eq!(
        (t[1].as_str(), t[3].as_str(), t[4].as_str()),
        ("tp1", "PRECOMMITTED", "BACKEND_STREAMING")
    );
    assert!(t[2].starts_with("BE: "), "{t:?}");
    assert_ne!(t[6], "NULL", "{t:?}");
    let file = write(&s.data, "again", "1,x,1.00,2024-01-01\n");
    let (_, r) = stream_load(
        &s.fe_url("t"),
        "root:",
        &file,
        &["column_separator: ,", "label: tp1"],
    );
    assert_eq!(r["Status"], "Label Already Exists", "{r}");
    assert_eq!(r["ExistingJobStatus"], "PRECOMMITTED", "{r}");

    // Commit by id: visible.
    let r = two_phase(&s, &["txn_operation: commit", &format!("txn_id: {first}")]);
    assert_eq!(r["status"], "Success", "{r}");
    assert_eq!(
        r["msg"],
        format!("transaction [{first}] commit successfully.")
    );
    assert_eq!(
        s.table().await,
        vec![row(&["1", "a", "1.00", "2024-01-01"])]
    );
    let t = show_transaction(&s, "label = 'tp1'").await;
    assert_eq!(t[3], "VISIBLE");
    assert_ne!(t[7], "NULL", "{t:?}");
    // A second commit is refused.
    let r = two_phase(&s, &["txn_operation: commit", &format!("txn_id: {first}")]);
    assert_eq!(r["status"], "ANALYSIS_ERROR", "{r}");

    // Abort by label (at the backend, which hands it to the FE): nothing visible, ever.
    let second = load("b", "tp2");
    let url = format!(
        "http://127.0.0.1:{}/api/db/t/_stream_load_2pc",
        s.server.port("webserver_port")
    );
    let (code, body) = curl(&[
        "-u",
        "root:",
        "-X",
        "PUT",
        "-H",
        "txn_operation: abort",
        "-H",
        "label: tp2",
        &url,
    ]);
    assert_eq!(code, 200, "{body}");
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["status"], "Success", "{r}");
    assert_eq!(
        r["msg"],
        format!("label [tp2] transaction [{second}] abort successfully.")
    );
    let t = show_transaction(&s, &format!("id = {second}")).await;
    assert_eq!((t[3].as_str(), t[10].as_str()), ("ABORTED", "User Abort"));
    let r = two_phase(&s, &["txn_operation: commit", "label: tp2"]);
    assert_eq!(r["status"], "ANALYSIS_ERROR", "{r}");
    assert!(
        r["msg"].as_str().unwrap().contains("already aborted"),
        "{r}"
    );
    assert_eq!(s.table().await.len(), 1);
    // An aborted label can be used again.
    load("c", "tp2");

    // INSERT goes through the same transactions and labels.
    let mut conn = s.server.connect().await;
    conn.query_drop("INSERT INTO db.t WITH LABEL ins1 VALUES (9, 'i', 9.00, '2024-09-09')")
        .await
        .unwrap();
    let t = show_transaction(&s, "label = 'ins1'").await;
    assert_eq!(
        (t[3].as_str(), t[4].as_str()),
        ("VISIBLE", "INSERT_STREAMING")
    );
    let err = conn
        .query_drop("SHOW TRANSACTION FROM db WHERE id = 999999")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

/// `loaders` threads each run `per_loader` small loads of 5 rows (unique ids)
/// with these extra headers; every answer must be a success.
/// Returns the labels the loads were answered with.
fn parallel_loads(
    s: &Server,
    table: &str,
    loaders: usize,
    per_loader: usize,
    headers: &[&str],
) -> Vec<String> {
    let labels = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for l in 0..loaders {
            let url = s.fe_url(table);
            let labels = &labels;
            let dir = s.data.clone();
            scope.spawn(move || {
                for k in 0..per_loader {
                    let base = (l * per_loader + k) * 5;
                    let text: String = (base..base + 5)
                        .map(|id| format!("{id},p{l},1.00,2024-01-01\n"))
                        .collect();
                    let file = write(&dir, &format!("par_{l}_{k}.csv"), &text);
                    let mut all = vec!["column_separator: ,"];
                    all.extend_from_slice(headers);
                    let (code, r) = stream_load(&url, "root:", &file, &all);
                    assert_eq!((code, &r["Status"]), (200, &Value::from("Success")), "{r}");
                    labels
                        .lock()
                        .unwrap()
                        .push(r["Label"].as_str().unwrap().to_string());
                }
            });
        }
    });
    labels.into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_parallel_loaders_load_every_row_exactly_once() {
    let s = Server::start("stream-load-parallel").await;
    let labels = parallel_loads(&s, "t", 8, 50, &[]);
    assert_eq!(labels.len(), 400);
    let mut conn = s.server.connect().await;
    let got = rows(
        &mut conn,
        "SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM db.t",
    )
    .await;
    assert_eq!(got, vec![row(&["2000", "2000", "0", "1999"])]);

    // With group commit the same loads share a few transactions.
    for (table, mode) in [("gs", "sync_mode"), ("ga", "async_mode")] {
        conn.query_drop(format!(
            "CREATE TABLE db.{table} (id INT NOT NULL, name VARCHAR(8), amount DECIMAL(10, 2), dt DATE) \
             DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3 \
             PROPERTIES ('group_commit_interval_ms' = '100')"
        ))
        .await
        .unwrap();
        let header = format!("group_commit: {mode}");
        let labels = parallel_loads(&s, table, 8, 50, &[&header]);
        let mut groups = labels.clone();
        groups.sort();
        groups.dedup();
        assert!(
            groups.iter().all(|l| l.starts_with("group_commit_")),
            "{groups:?}"
        );
        assert!(
            groups.len() < labels.len() / 4,
            "{} groups for {} loads",
            groups.len(),
            labels.len()
        );
        let q = format!("SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM db.{table}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            // An async_mode answer comes before its group is visible.
            let got = rows(&mut conn, &q).await;
            if got == vec![row(&["2000", "2000", "0", "1999"])] {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{mode}: {got:?}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    // A label and group commit do not go together.
    let file = write(&s.data, "gl.csv", "1,x,1.00,2024-01-01\n");
    let (_, r) = stream_load(
        &s.fe_url("gs"),
        "root:",
        &file,
        &[
            "column_separator: ,",
            "group_commit: sync_mode",
            "label: nope",
        ],
    );
    assert_eq!(r["Status"], "Fail", "{r}");
    assert_eq!(r["GroupCommit"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_body_limit_and_load_history() {
    let s = Server::start_with("stream-load-history", &["--streaming-load-max-mb", "1"]).await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.p (dt DATE NOT NULL, id INT NOT NULL) DUPLICATE KEY(dt, id) \
         PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), \
         PARTITION p2 VALUES LESS THAN ('2024-03-01')) DISTRIBUTED BY HASH(id) BUCKETS 2",
    )
    .await
    .unwrap();
    // `partitions`: rows of other partitions are filtered, as rows with none.
    let file = write(
        &s.data,
        "p.csv",
        "2024-01-05,1\n2024-02-05,2\n2024-01-06,3\n",
    );
    let (_, r) = stream_load(
        &s.fe_url("p"),
        "root:",
        &file,
        &[
            "column_separator: ,",
            "partitions: p1",
            "max_filter_ratio: 0.5",
            "label: part1",
            "comment: only january",
        ],
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(
        (&r["NumberLoadedRows"], &r["NumberFilteredRows"]),
        (&Value::from(2), &Value::from(1))
    );
    assert_eq!(r["Comment"], "only january");
    assert_eq!(
        rows(&mut conn, "SELECT id FROM db.p ORDER BY id").await,
        vec![row(&["1"]), row(&["3"])]
    );
    let (_, r) = stream_load(
        &s.fe_url("p"),
        "root:",
        &file,
        &["column_separator: ,", "partitions: p9"],
    );
    assert_eq!(r["Status"], "Fail", "{r}");
    assert!(
        r["Message"].as_str().unwrap().contains("Unknown partition"),
        "{r}"
    );

    // A body over streaming_load_max_mb is refused with Doris's words.
    let big = write(&s.data, "big.csv", &"2024-01-05,1\n".repeat(200_000));
    let (_, r) = stream_load(&s.fe_url("p"), "root:", &big, &["column_separator: ,"]);
    assert_eq!(r["Status"], "Fail", "{r}");
    assert!(
        r["Message"]
            .as_str()
            .unwrap()
            .contains("streaming_load_max_mb"),
        "{r}"
    );

    // SHOW STREAM LOAD: each load's outcome; SHOW LOAD: every load job.
    let history = rows(&mut conn, "SHOW STREAM LOAD FROM db").await;
    let first = history
        .iter()
        .find(|r| r[0] == "part1")
        .expect("part1 recorded");
    assert_eq!(
        (first[1].as_str(), first[2].as_str(), first[4].as_str()),
        ("db", "p", "Success")
    );
    assert_eq!(
        (first[7].as_str(), first[8].as_str(), first[9].as_str()),
        ("3", "2", "1")
    );
    assert_ne!(first[6], "N/A", "the error log URL: {first:?}");
    assert_eq!(
        (first[14].as_str(), first[15].as_str()),
        ("root", "only january")
    );
    assert!(history.iter().any(|r| r[4] == "Fail"), "{history:?}");
    let jobs = rows(&mut conn, "SHOW LOAD FROM db").await;
    let job = jobs.iter().find(|r| r[1] == "part1").expect("part1 listed");
    assert_eq!(
        (job[2].as_str(), job[4].as_str()),
        ("FINISHED", "STREAM_LOAD")
    );
    assert!(jobs.iter().any(|r| r[2] == "CANCELLED"), "{jobs:?}");
}

/// A body of several blocks (8 MiB each), every tablet flushed after each
/// block by a 64 KiB write buffer: each row arrives once, and bad rows in
/// different blocks are counted and logged in body order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_load_streams_in_blocks_and_flushes_many_segments() {
    let s = Server::start_with("stream-load-large", &["--write-buffer-size", "65536"]).await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.big (id BIGINT NOT NULL, v DECIMAL(10, 2), s VARCHAR(40)) \
         DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3",
    )
    .await
    .unwrap();
    let n: u64 = 400_000;
    let mut body = String::new();
    let mut cents = 0u64;
    for i in 0..n {
        if i == 10 || i == n - 10 {
            body.push_str(&format!("bad row {i},x\n"));
        }
        body.push_str(&format!("{i},{}.{:02},\"text, {i}\"\n", i % 1000, i % 100));
        cents += (i % 1000) * 100 + i % 100;
    }
    assert!(body.len() > 8 << 20, "more than one block");
    let file = write(&s.data, "big.csv", &body);
    let (_, r) = stream_load(
        &s.fe_url("big"),
        "root:",
        &file,
        &[
            "column_separator: ,",
            "enclose: \"",
            "max_filter_ratio: 0.001",
        ],
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberTotalRows"], n + 2, "{r}");
    assert_eq!(r["NumberLoadedRows"], n, "{r}");
    assert_eq!(r["NumberFilteredRows"], 2, "{r}");
    assert_eq!(r["LoadBytes"], body.len() as u64, "{r}");
    let (_, log) = curl(&[r["ErrorURL"].as_str().expect("ErrorURL")]);
    let first = log.find("bad row 10,").expect("first bad row logged");
    let last = log
        .find(&format!("bad row {},", n - 10))
        .expect("last bad row logged");
    assert!(first < last, "in body order: {log}");
    assert_eq!(
        rows(
            &mut conn,
            "SELECT COUNT(*), SUM(id), SUM(v), COUNT(DISTINCT s), MIN(s) FROM db.big"
        )
        .await,
        vec![row(&[
            &n.to_string(),
            &(n * (n - 1) / 2).to_string(),
            &format!("{}.{:02}", cents / 100, cents % 100),
            &n.to_string(),
            "text, 0",
        ])]
    );
    // A flush per block and tablet: more than one segment per tablet.
    let segments = walk(&s.server_dir())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count();
    assert!(segments > 3, "{segments} segments");
    // The coordinator holds every replica: it wrote them in process, not over RPC.
    let port = s.server.port("webserver_port");
    let writes = |via: &str| {
        metric(
            port,
            &format!("basalt_be_load_segment_writes_total{{via=\"{via}\"}}"),
        )
    };
    assert_eq!((writes("local") as usize, writes("rpc")), (segments, 0));

    // A UNIQUE table keeps each key's last row in the body, even when the
    // load's rows of one tablet land in several segments.
    conn.query_drop(
        "CREATE TABLE db.u (k INT NOT NULL, v INT) UNIQUE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 1",
    )
    .await
    .unwrap();
    let n: u64 = 1_200_000;
    let body: String = (0..n).map(|i| format!("{},{i}\n", i % 1000)).collect();
    assert!(body.len() > 8 << 20, "more than one block");
    let file = write(&s.data, "u.csv", &body);
    let (_, r) = stream_load(&s.fe_url("u"), "root:", &file, &["column_separator: ,"]);
    assert_eq!(r["Status"], "Success", "{r}");
    let newest: u64 = (0..1000).map(|k| n - 1000 + k).sum();
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*), SUM(v) FROM db.u").await,
        vec![row(&["1000", &newest.to_string()])]
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// `SET group_commit`: INSERT ... VALUES joins the table's group commit on a
/// backend, as Stream Load's header does; a labelled INSERT does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_values_with_the_group_commit_session_variable() {
    let s = Server::start("insert-group-commit").await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.g (id INT NOT NULL, v VARCHAR(8)) DUPLICATE KEY(id) \
         DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ('group_commit_interval_ms' = '1000')",
    )
    .await
    .unwrap();
    let err = conn
        .query_drop("SET group_commit = sometimes")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("1231"), "{err}");

    conn.query_drop("SET group_commit = async_mode")
        .await
        .unwrap();
    let mut labels = std::collections::BTreeSet::new();
    for i in 0..10 {
        conn.query_drop(format!("INSERT INTO db.g VALUES ({i}, 'a{i}')"))
            .await
            .unwrap();
        let info = conn.info().to_string();
        assert!(info.contains("'status':'PREPARE'"), "{info}");
        let label = info.split('\'').nth(3).unwrap().to_string();
        assert!(label.starts_with("group_commit_"), "{info}");
        labels.insert(label);
    }
    assert!(labels.len() < 10, "the inserts were batched: {labels:?}");
    // Visible once the groups commit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got = rows(&mut conn, "SELECT COUNT(*), SUM(id) FROM db.g").await;
        if got == vec![row(&["10", "45"])] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not visible: {got:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for label in &labels {
        let txn = show_transaction(&s, &format!("label = '{label}'")).await;
        assert!(txn.contains(&"VISIBLE".to_string()), "{txn:?}");
    }

    // sync_mode answers once the rows are visible.
    conn.query_drop("SET group_commit = SYNC_MODE")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO db.g VALUES (100, 's')")
        .await
        .unwrap();
    let info = conn.info().to_string();
    assert!(info.contains("'status':'VISIBLE'"), "{info}");
    let txn_id = info.split('\'').nth(11).unwrap();
    assert!(txn_id.parse::<u64>().is_ok(), "{info}");
    assert_eq!(
        rows(&mut conn, "SELECT v FROM db.g WHERE id = 100").await,
        vec![row(&["s"])]
    );
    // A labelled INSERT is a load of its own.
    conn.query_drop("INSERT INTO db.g WITH LABEL own VALUES (101, 'l')")
        .await
        .unwrap();
    assert!(conn.info().contains("'label':'own'"), "{}", conn.info());
}

/// A finished load's label stays taken for `streaming_label_keep_max_second`,
/// then the load is forgotten and its label can be used again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_is_free_again_after_its_retention() {
    let flags = ["--streaming-label-keep-max-second", "2"];
    let s = Server::start_with("label-retention", &flags).await;
    let file = write(&s.data, "r.csv", "1,a,1.00,2024-01-01\n");
    let headers = ["column_separator: ,", "label: kept"];
    let (_, r) = stream_load(&s.fe_url("t"), "root:", &file, &headers);
    assert_eq!(r["Status"], "Success", "{r}");
    let (_, r) = stream_load(&s.fe_url("t"), "root:", &file, &headers);
    assert_eq!(r["Status"], "Label Already Exists", "{r}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let (_, r) = stream_load(&s.fe_url("t"), "root:", &file, &headers);
        if r["Status"] == "Success" {
            break;
        }
        assert_eq!(r["Status"], "Label Already Exists", "{r}");
        assert!(std::time::Instant::now() < deadline, "label never freed");
    }
    let mut conn = s.server.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM db.t").await,
        vec![row(&["2"])]
    );
}

/// Labels follow Doris's rule, `^[-_A-Za-z0-9:]{1,128}$`, with its message,
/// on every path that takes one; nothing is loaded under a refused label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_follow_doris_rule() {
    let s = Server::start("labels").await;
    let file = write(&s.data, "a.csv", "1,ann,1.00,2024-01-02\n");
    let message = |label: &str| {
        format!("Label format error. regex: ^[-_A-Za-z0-9:]{{1,128}}$, label: {label}")
    };
    let long = "x".repeat(129);
    for label in ["../../etc/x", "a b", "semi;colon", long.as_str()] {
        let header = format!("label: {label}");
        let (code, r) = stream_load(
            &s.fe_url("t"),
            "root:",
            &file,
            &[&header, "column_separator: ,"],
        );
        assert_eq!(code, 200, "{r}");
        assert_eq!(r["Status"], "Fail", "{r}");
        let want = format!("[ANALYSIS_ERROR]{}", message(label));
        assert_eq!(r["Message"], want, "{r}");
    }
    // 2PC by label.
    let r = two_phase(&s, &["txn_operation: commit", "label: ../x"]);
    assert_eq!(r["status"], "ANALYSIS_ERROR", "{r}");
    assert_eq!(r["msg"], message("../x"), "{r}");
    // INSERT WITH LABEL.
    let mut conn = s.server.connect().await;
    match conn
        .query_drop("INSERT INTO db.t WITH LABEL `a/b` VALUES (2, 'bob', 2.00, '2024-01-03')")
        .await
    {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!((e.code, e.message), (1105, message("a/b")));
        }
        other => panic!("expected a refused label, got {other:?}"),
    }
    assert!(s.table().await.is_empty());
    // The longest label of every allowed character loads.
    let label = format!("{}-_:9", "Ab".repeat(62));
    assert_eq!(label.len(), 128);
    let header = format!("label: {label}");
    let (_, r) = stream_load(
        &s.fe_url("t"),
        "root:",
        &file,
        &[&header, "column_separator: ,"],
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(
        s.table().await,
        vec![row(&["1", "ann", "1.00", "2024-01-02"])]
    );
}
