//! Stream Load under faults: `kill -9` after a Success, a coordinating backend
//! killed mid-load and the load retried under its label, and loads on a
//! cluster with one backend down. Rows must appear exactly once.

use crate::stream_load::{curl, stream_load, write};
use basalt_tests::cluster::Cluster;
use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::Value;

const TABLE: &str = "CREATE TABLE db.t (id INT NOT NULL, v VARCHAR(16)) DUPLICATE KEY(id) \
     DISTRIBUTED BY HASH(id) BUCKETS 4 PROPERTIES ('replication_num' = '3')";

fn csv(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("{i},v{i}\n")).collect()
}

async fn count(conn: &mut mysql_async::Conn) -> Vec<String> {
    rows(conn, "SELECT COUNT(*), COUNT(DISTINCT id) FROM db.t")
        .await
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_load_survives_kill9() {
    let dir = TempDir::new("stream-load-kill9");
    let mut server = Process::standalone(&dir.path().join("data"));
    let mut conn = server.connect().await;
    conn.query_drop("CREATE DATABASE db").await.unwrap();
    conn.query_drop(TABLE.replace("'3'", "'1'")).await.unwrap();
    drop(conn);
    let file = write(dir.path(), "a.csv", &csv(0, 1000));
    let url = format!(
        "http://127.0.0.1:{}/api/db/t/_stream_load",
        server.port("http_port")
    );
    let (_, r) = stream_load(
        &url,
        "root:",
        &file,
        &["column_separator: ,", "label: durable"],
    );
    assert_eq!(r["Status"], "Success", "{r}");
    server.kill9();
    server.start();
    let mut conn = server.connect().await;
    assert_eq!(count(&mut conn).await, vec!["1000", "1000"]);
    // The label is remembered across the restart too.
    let url = format!(
        "http://127.0.0.1:{}/api/db/t/_stream_load",
        server.port("http_port")
    );
    let (_, r) = stream_load(
        &url,
        "root:",
        &file,
        &["column_separator: ,", "label: durable"],
    );
    assert_eq!(r["Status"], "Label Already Exists", "{r}");
    assert_eq!(count(&mut conn).await, vec!["1000", "1000"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_whose_backend_dies_is_retried_under_its_label_exactly_once() {
    let mut cluster = Cluster::start("stream-load-coordinator-dies", 3, &[]).await;
    let mut conn = cluster.fe.connect().await;
    conn.query_drop("CREATE DATABASE db").await.unwrap();
    conn.query_drop(TABLE).await.unwrap();
    let dir = TempDir::new("stream-load-coordinator-files");
    let file = write(dir.path(), "big.csv", &csv(0, 20_000));
    let victim = cluster.backend_id(0).await;

    // Straight at BE 0, slowly: it begins the transaction, then dies mid-body.
    let be_url = format!(
        "http://127.0.0.1:{}/api/db/t/_stream_load",
        cluster.bes[0].port("webserver_port")
    );
    let path = file.display().to_string();
    let upload = std::thread::spawn(move || {
        curl(&[
            "--limit-rate",
            "20k",
            "-u",
            "root:",
            "-H",
            "label: retried",
            "-H",
            "column_separator: ,",
            "-T",
            &path,
            &be_url,
        ])
    });
    let mut first = String::new();
    for _ in 0..150 {
        let found: Result<Vec<mysql_async::Row>, _> = conn
            .query("SHOW TRANSACTION FROM db WHERE label = 'retried'")
            .await;
        if let Some(row) = found.ok().and_then(|r| r.into_iter().next()) {
            assert_eq!(row.get::<String, _>(3).unwrap(), "PREPARE");
            first = row.get::<String, _>(0).unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(!first.is_empty(), "the load never began");
    cluster.bes[0].kill9();
    let _ = upload.join();

    // Through the FE: the label is held until the FE sees the coordinator dead
    // and aborts its transaction; then the retry loads every row once.
    let fe_url = format!(
        "http://127.0.0.1:{}/api/db/t/_stream_load",
        cluster.fe.port("http_port")
    );
    let mut last = Value::Null;
    for _ in 0..60 {
        let (_, r) = stream_load(
            &fe_url,
            "root:",
            &file,
            &["column_separator: ,", "label: retried"],
        );
        if r["Status"] == "Success" {
            last = r;
            break;
        }
        assert_eq!(r["Status"], "Label Already Exists", "{r}");
        assert_eq!(r["ExistingJobStatus"], "RUNNING", "{r}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(last["Status"], "Success", "never loaded: {last}");
    assert_eq!(last["NumberLoadedRows"], 20_000);
    assert_eq!(count(&mut conn).await, vec!["20000", "20000"]);
    // The first attempt is on record as aborted because its backend died.
    let aborted = rows(
        &mut conn,
        &format!("SHOW TRANSACTION FROM db WHERE id = {first}"),
    )
    .await;
    assert_eq!(aborted[0][3], "ABORTED", "{aborted:?}");
    assert!(aborted[0][10].contains("is down"), "{aborted:?}");
    cluster.wait_alive(&victim, false, 30).await;

    // One backend down of three: loads still commit on the majority.
    let more = write(dir.path(), "more.csv", &csv(20_000, 500));
    let (_, r) = stream_load(&fe_url, "root:", &more, &["column_separator: ,"]);
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(count(&mut conn).await, vec!["20500", "20500"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_group_commit_rows_survive_kill9_before_their_flush() {
    let dir = TempDir::new("stream-load-wal");
    let mut server = Process::standalone(&dir.path().join("data"));
    let mut conn = server.connect().await;
    conn.query_drop("CREATE DATABASE db").await.unwrap();
    // A long interval: the process dies before the group is flushed.
    conn.query_drop(
        "CREATE TABLE db.t (id INT NOT NULL, v VARCHAR(16)) DUPLICATE KEY(id) \
         DISTRIBUTED BY HASH(id) BUCKETS 2 PROPERTIES ('group_commit_interval_ms' = '60000')",
    )
    .await
    .unwrap();
    drop(conn);
    let url = format!(
        "http://127.0.0.1:{}/api/db/t/_stream_load",
        server.port("http_port")
    );
    for k in 0..3 {
        let file = write(dir.path(), &format!("{k}.csv"), &csv(k * 100, 100));
        let (_, r) = stream_load(
            &url,
            "root:",
            &file,
            &["column_separator: ,", "group_commit: async_mode"],
        );
        assert_eq!(r["Status"], "Success", "{r}");
        assert_eq!(r["GroupCommit"], true, "{r}");
    }
    server.kill9();
    server.start();
    // The write-ahead log is replayed and committed, once.
    let mut conn = server.connect().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let got = count(&mut conn).await;
        if got == vec!["300", "300"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{got:?}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(count(&mut conn).await, vec!["300", "300"]);
}
