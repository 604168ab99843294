//! Restart, SIGTERM and kill -9: committed data survives, uncommitted data never shows.

use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::time::Duration;

async fn setup(conn: &mut mysql_async::Conn) {
    conn.query_drop("CREATE DATABASE dur").await.unwrap();
    conn.query_drop(
        "CREATE TABLE dur.t (k INT NOT NULL, v VARCHAR(10)) DUPLICATE KEY(k) \
         PARTITION BY RANGE(k) (PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN (MAXVALUE)) \
         DISTRIBUTED BY HASH(k) BUCKETS 3",
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_restart_keeps_catalog_and_data() {
    let dir = TempDir::new("restart");
    let mut server = Process::standalone(dir.path());
    let mut conn = server.connect().await;
    setup(&mut conn).await;
    conn.query_drop("INSERT INTO dur.t VALUES (1, 'a'), (150, 'b'), (2, 'c')")
        .await
        .unwrap();
    drop(conn);
    server.stop();
    server.start();
    let mut conn = server.connect().await;
    assert_eq!(
        rows(&mut conn, "SHOW TABLES FROM dur").await,
        vec![vec!["t".to_string()]]
    );
    assert_eq!(
        rows(&mut conn, "SELECT k, v FROM dur.t ORDER BY k").await,
        vec![
            vec!["1".to_string(), "a".into()],
            vec!["2".into(), "c".into()],
            vec!["150".into(), "b".into()]
        ]
    );
    // Versions continue after the restart: a new load is visible next to the old ones.
    conn.query_drop("INSERT INTO dur.t VALUES (3, 'd')")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM dur.t").await,
        vec![vec!["4".to_string()]]
    );
    let parts = rows(&mut conn, "SHOW PARTITIONS FROM dur.t").await;
    assert_eq!(parts[0][1], "p0");
    assert_eq!(
        parts[0][2], "3",
        "p0 saw two loads after creation: {parts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_right_after_insert_ok_keeps_the_insert() {
    let dir = TempDir::new("kill9");
    let mut server = Process::standalone(dir.path());
    let mut conn = server.connect().await;
    setup(&mut conn).await;
    for i in 0..5 {
        conn.query_drop(format!(
            "INSERT INTO dur.t VALUES ({i}, 'x{i}'), ({}, 'y')",
            200 + i
        ))
        .await
        .unwrap();
    }
    // No clean shutdown: the process dies the moment the last OK arrived.
    server.kill9();
    drop(conn);
    server.start();
    let mut conn = server.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*), SUM(k) FROM dur.t").await,
        vec![vec!["10".to_string(), "1020".into()]]
    );
    // The label of a committed load is remembered across the crash.
    conn.query_drop("INSERT INTO dur.t WITH LABEL l1 VALUES (7, 'z')")
        .await
        .unwrap();
    server.kill9();
    server.start();
    let mut conn = server.connect().await;
    let err =
        basalt_tests::error_code(&mut conn, "INSERT INTO dur.t WITH LABEL l1 VALUES (7, 'z')")
            .await;
    assert_eq!(err, 1105);
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM dur.t WHERE k = 7").await,
        vec![vec!["1".to_string()]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_a_load_leaves_nothing_half_visible() {
    const ROWS: u64 = 3_000_000;
    let dir = TempDir::new("midload");
    let mut server = Process::standalone(dir.path());
    let mut conn = server.connect().await;
    conn.query_drop("CREATE DATABASE m").await.unwrap();
    conn.query_drop("CREATE TABLE m.t (k BIGINT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 4")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO m.t VALUES (-1, 'before')")
        .await
        .unwrap();
    let url = server.mysql_url();
    let load = tokio::spawn(async move {
        let mut c = mysql_async::Conn::from_url(url).await.unwrap();
        c.query_drop(format!(
            "INSERT INTO m.t SELECT value, CONCAT('v', value) FROM range({ROWS})"
        ))
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill9();
    let _ = load.await;
    server.start();
    let mut conn = server.connect().await;
    let count: u64 = rows(&mut conn, "SELECT COUNT(*) FROM m.t").await[0][0]
        .parse()
        .unwrap();
    assert!(
        count == 1 || count == ROWS + 1,
        "a load is all or nothing, saw {count} rows"
    );
    // The table takes new loads after the crash.
    conn.query_drop("INSERT INTO m.t VALUES (-2, 'after')")
        .await
        .unwrap();
    let after: u64 = rows(&mut conn, "SELECT COUNT(*) FROM m.t").await[0][0]
        .parse()
        .unwrap();
    assert_eq!(after, count + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_data_dir_works_and_survives_restart() {
    let dir = TempDir::new("relative");
    // The later --data-dir wins: a path relative to the working directory, as in the README.
    let mut server = Process::standalone_with(dir.path(), &["--data-dir", "basalt-data"]);
    let mut conn = server.connect().await;
    setup(&mut conn).await;
    conn.query_drop("INSERT INTO dur.t VALUES (1, 'a')")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT v FROM dur.t").await,
        vec![vec!["a".to_string()]]
    );
    drop(conn);
    server.stop();
    assert!(
        dir.path().join("basalt-data/be").is_dir() && dir.path().join("basalt-data/fe").is_dir()
    );
    server.start();
    let mut conn = server.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT v FROM dur.t").await,
        vec![vec!["a".to_string()]]
    );
}
