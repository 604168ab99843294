//! `basalt-fe` and `basalt-be` as separate processes, attached with ALTER SYSTEM ADD BACKEND.

use basalt_tests::{error_code, rows, Process, TempDir};
use mysql_async::prelude::Queryable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fe_and_be_processes_attach_store_and_query() {
    let dir = TempDir::new("twoproc");
    let mut fe = Process::fe(&dir.path().join("fe"));
    let be = Process::be(&dir.path().join("be"));
    let mut conn = fe.connect().await;

    // No backend yet: a table cannot be placed.
    conn.query_drop("CREATE DATABASE c").await.unwrap();
    let code = error_code(
        &mut conn,
        "CREATE TABLE c.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2",
    )
    .await;
    assert_eq!(code, 1105);

    let hb = be.port("heartbeat_service_port");
    conn.query_drop(format!("ALTER SYSTEM ADD BACKEND \"127.0.0.1:{hb}\""))
        .await
        .unwrap();
    let backends = rows(&mut conn, "SHOW BACKENDS").await;
    assert_eq!(backends.len(), 1);
    assert_eq!(backends[0][2], hb.to_string(), "HeartbeatPort");
    assert_eq!(backends[0][5], be.port("brpc_port").to_string(), "BrpcPort");
    assert_eq!(backends[0][8], "true", "Alive");
    // Adding it twice is refused.
    assert_eq!(
        error_code(
            &mut conn,
            &format!("ALTER SYSTEM ADD BACKEND \"127.0.0.1:{hb}\"")
        )
        .await,
        1105
    );

    conn.query_drop("CREATE TABLE c.t (k INT, v DECIMAL(10,2)) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"1\")")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO c.t VALUES (1, 1.10), (2, 2.20), (3, 3.30)")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT SUM(v), MAX(k) FROM c.t").await,
        vec![vec!["6.60".to_string(), "3".into()]]
    );
    let tablets = rows(&mut conn, "SHOW TABLETS FROM c.t").await;
    assert_eq!(tablets.len(), 2);
    assert!(
        tablets
            .iter()
            .all(|t| t[2] == backends[0][0] && t[4] == "2"),
        "{tablets:?}"
    );

    // The FE dies without warning; on restart its catalog and the BE's data are all there.
    fe.kill9();
    drop(conn);
    fe.start();
    let mut conn = fe.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM c.t").await,
        vec![vec!["3".to_string()]]
    );
    conn.query_drop("INSERT INTO c.t VALUES (4, 4.40)")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM c.t").await,
        vec![vec!["4".to_string()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_an_unreachable_backend_fails_clearly() {
    let dir = TempDir::new("badbe");
    let fe = Process::fe(dir.path());
    let mut conn = fe.connect().await;
    // Port 1 on loopback has no listener.
    let err = conn
        .query_drop("ALTER SYSTEM ADD BACKEND \"127.0.0.1:1\"")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("did not answer the heartbeat"), "{msg}");
    assert!(rows(&mut conn, "SHOW BACKENDS").await.is_empty());
}
