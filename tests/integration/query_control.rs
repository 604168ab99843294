//! Query control: SHOW PROCESSLIST, KILL QUERY / KILL, query_timeout,
//! exec_mem_limit, and a query that lost its backend succeeding on retry.

use basalt_tests::cluster::Cluster;
use basalt_tests::{error_code, rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::time::Duration;

/// A cross join big enough to run for minutes.
const SLOW: &str = "SELECT COUNT(*) FROM qc.t a, qc.t b, qc.t c, qc.t d";

/// `qc.t`: 2,000 rows in 6 buckets with 3 replicas (standalone forces one).
async fn setup(conn: &mut mysql_async::Conn) {
    conn.query_drop("CREATE DATABASE qc").await.unwrap();
    conn.query_drop("CREATE TABLE qc.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 6 PROPERTIES (\"replication_num\" = \"3\")")
        .await
        .unwrap();
    let values: Vec<String> = (0..2000).map(|i| format!("({i}, 'value-{i}')")).collect();
    conn.query_drop(format!("INSERT INTO qc.t VALUES {}", values.join(",")))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processlist_kill_timeout_and_memory_limit() {
    let dir = TempDir::new("qc");
    let server = Process::standalone(dir.path());
    let mut admin = server.connect().await;
    setup(&mut admin).await;

    // A query running on another connection shows in the process list, and KILL QUERY stops it.
    let mut victim = server.connect().await;
    let victim_id = victim.id();
    let running = tokio::spawn(async move {
        let r = victim.query_drop(SLOW).await;
        (victim, r)
    });
    let mut seen = false;
    for _ in 0..50 {
        let list = rows(&mut admin, "SHOW FULL PROCESSLIST").await;
        assert_eq!(list[0].len(), 12, "Doris's columns");
        let me = list.iter().find(|r| r[0] == "Yes").unwrap();
        assert_eq!(me[11], "SHOW FULL PROCESSLIST");
        if list
            .iter()
            .any(|r| r[1] == victim_id.to_string() && r[7] == "Query" && r[11] == SLOW)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the running query is listed");
    admin
        .query_drop(format!("KILL QUERY {victim_id}"))
        .await
        .unwrap();
    let (mut victim, result) = tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the killed query returns")
        .unwrap();
    let err = result.expect_err("a killed query fails");
    assert!(err.to_string().contains("cancel query by user"), "{err}");
    // The connection survives KILL QUERY.
    assert_eq!(
        rows(&mut victim, "SELECT 1").await,
        vec![vec!["1".to_string()]]
    );

    // KILL closes the connection.
    admin.query_drop(format!("KILL {victim_id}")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        victim.query_drop("SELECT 1").await.is_err(),
        "killed connection is closed"
    );
    assert_eq!(error_code(&mut admin, "KILL 999999").await, 1094);

    // query_timeout stops a query with a clear error.
    admin.query_drop("SET query_timeout = 1").await.unwrap();
    let started = std::time::Instant::now();
    let err = admin.query_drop(SLOW).await.unwrap_err();
    assert!(err.to_string().contains("timeout"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    admin.query_drop("SET query_timeout = 900").await.unwrap();

    // exec_mem_limit: a query that needs more memory fails and names the limit.
    admin
        .query_drop("SET exec_mem_limit = 65536")
        .await
        .unwrap();
    let err = admin
        .query_drop("SELECT a.v, b.v FROM qc.t a JOIN qc.t b ON a.k = b.k ORDER BY a.v")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("MEM_LIMIT_EXCEEDED"), "{err}");
    assert!(err.to_string().contains("exec_mem_limit"), "{err}");
    admin
        .query_drop("SET exec_mem_limit = 2147483648")
        .await
        .unwrap();
    assert_eq!(
        rows(
            &mut admin,
            "SELECT COUNT(*) FROM qc.t a JOIN qc.t b ON a.k = b.k"
        )
        .await,
        vec![vec!["2000".to_string()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_lost_its_backend_succeeds_when_retried() {
    let mut cluster = Cluster::start("qc-retry", 3, &[]).await;
    let mut conn = cluster.fe.connect().await;
    setup(&mut conn).await;
    let full = vec![vec!["2000".to_string(), "1999000".into()]];
    const Q: &str = "SELECT COUNT(*), SUM(k) FROM qc.t";
    assert_eq!(rows(&mut conn, Q).await, full);

    // Every backend reads some tablets; one dies without warning.
    cluster.bes[0].kill9();
    match conn.query_iter(Q).await {
        Ok(mut r) => {
            let got: Vec<mysql_async::Row> = r.collect().await.unwrap_or_default();
            if !got.is_empty() {
                let row: Vec<String> = basalt_tests::slt::row_strings(&got[0]);
                assert_eq!(vec![row], full, "a query that succeeds is complete");
            }
        }
        Err(e) => assert!(e.to_string().contains("backend"), "clear error: {e}"),
    }
    // The retry reads replicas on the live backends.
    assert_eq!(rows(&mut conn, Q).await, full);
}
