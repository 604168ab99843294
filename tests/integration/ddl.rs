//! SHOW output with ids in it, checked in Rust: SHOW CREATE TABLE round-trips,
//! SHOW PARTITIONS / SHOW TABLETS, and EXPLAIN showing pruned partitions and tablets.

use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;

const CREATE: &str = r#"CREATE TABLE rt.events (
    dt DATE NOT NULL COMMENT "event day",
    user_id BIGINT NOT NULL,
    kind VARCHAR(16) DEFAULT "click",
    amount DECIMAL(12, 3) SUM DEFAULT "0",
    last_seen DATETIME REPLACE
) AGGREGATE KEY(dt, user_id, kind)
COMMENT "events by day"
PARTITION BY RANGE(dt) (
    PARTITION p0 VALUES LESS THAN ("2024-01-01"),
    PARTITION p1 VALUES [("2024-01-01"), ("2024-02-01")),
    PARTITION p2 VALUES [("2024-02-01"), (MAXVALUE))
)
DISTRIBUTED BY HASH(user_id) BUCKETS 4
PROPERTIES ("replication_num" = "1")"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_create_table_recreates_the_same_table() {
    let dir = TempDir::new("showcreate");
    let server = Process::standalone(dir.path());
    let mut conn = server.connect().await;
    conn.query_drop("CREATE DATABASE rt").await.unwrap();
    conn.query_drop(CREATE).await.unwrap();
    let first = rows(&mut conn, "SHOW CREATE TABLE rt.events").await[0][1].clone();
    assert!(
        first.contains("AGGREGATE KEY(`dt`, `user_id`, `kind`)"),
        "{first}"
    );
    assert!(
        first.contains("`amount` decimal(12,3) SUM NULL DEFAULT \"0\""),
        "{first}"
    );
    assert!(
        first.contains("DISTRIBUTED BY HASH(`user_id`) BUCKETS 4"),
        "{first}"
    );
    conn.query_drop("DROP TABLE rt.events").await.unwrap();
    conn.query_drop("USE rt").await.unwrap();
    conn.query_drop(first.as_str()).await.unwrap();
    let second = rows(&mut conn, "SHOW CREATE TABLE events").await[0][1].clone();
    assert_eq!(first, second);

    // LIST partitions and RANDOM distribution round-trip too.
    conn.query_drop(
        "CREATE TABLE l (city VARCHAR(10) NOT NULL, n INT) DUPLICATE KEY(city) \
         PARTITION BY LIST(city) (PARTITION a VALUES IN (\"x\", \"y\"), PARTITION b VALUES IN (\"z\")) \
         DISTRIBUTED BY RANDOM BUCKETS 2",
    )
    .await
    .unwrap();
    let list = rows(&mut conn, "SHOW CREATE TABLE l").await[0][1].clone();
    conn.query_drop("DROP TABLE l").await.unwrap();
    conn.query_drop(list.as_str()).await.unwrap();
    assert_eq!(rows(&mut conn, "SHOW CREATE TABLE l").await[0][1], list);
}

/// The physical-plan text of `EXPLAIN <sql>`.
async fn physical_plan(conn: &mut mysql_async::Conn, explain: &str) -> String {
    let plan = rows(conn, explain).await;
    plan.into_iter()
        .find(|r| r[0] == "physical_plan")
        .expect("physical plan")
        .swap_remove(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_tablets_and_pruning() {
    let dir = TempDir::new("prune");
    let server = Process::standalone(dir.path());
    let mut conn = server.connect().await;
    conn.query_drop("CREATE DATABASE rt").await.unwrap();
    conn.query_drop(CREATE).await.unwrap();
    conn.query_drop("USE rt").await.unwrap();
    conn.query_drop(
        "INSERT INTO events (dt, user_id, amount) VALUES ('2023-12-31', 1, 1.5), ('2024-01-15', 2, 2.5), ('2024-03-01', 3, 3.5)",
    )
    .await
    .unwrap();

    let parts = rows(&mut conn, "SHOW PARTITIONS FROM events").await;
    let names: Vec<&str> = parts.iter().map(|p| p[1].as_str()).collect();
    assert_eq!(names, ["p0", "p1", "p2"]);
    assert!(
        parts.iter().all(|p| p[2] == "2"),
        "each partition got one load: {parts:?}"
    );
    assert_eq!(parts[1][6], "[(2024-01-01), (2024-02-01))");
    assert_eq!(parts[0][8], "4", "Buckets");

    let tablets = rows(&mut conn, "SHOW TABLETS FROM events").await;
    assert_eq!(tablets.len(), 12, "3 partitions x 4 buckets x 1 replica");
    let p1 = rows(&mut conn, "SHOW TABLETS FROM events PARTITION (p1)").await;
    let p1_tablets: Vec<&str> = p1.iter().map(|t| t[0].as_str()).collect();
    assert_eq!(p1_tablets.len(), 4);

    // Partition pruning by the range column, bucket pruning by the hash column.
    let physical = &physical_plan(
        &mut conn,
        "EXPLAIN SELECT * FROM events WHERE dt = '2024-01-15' AND user_id = 2",
    )
    .await;
    assert!(physical.contains("partitions=[p1]"), "{physical}");
    let scanned: Vec<&str> = physical
        .split("tablets=[")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    assert_eq!(scanned.len(), 1, "one bucket of p1: {physical}");
    assert!(
        p1_tablets.contains(&scanned[0]),
        "{scanned:?} not in {p1_tablets:?}"
    );
    assert!(
        physical.contains("NetworkCoalesceExec"),
        "the scan runs on the backend: {physical}"
    );
    assert_eq!(
        rows(
            &mut conn,
            "SELECT user_id, amount FROM events WHERE dt = '2024-01-15' AND user_id = 2"
        )
        .await,
        vec![vec!["2".to_string(), "2.500".into()]]
    );

    let physical = &physical_plan(
        &mut conn,
        "EXPLAIN SELECT COUNT(*) FROM events WHERE dt >= '2024-02-01'",
    )
    .await;
    assert!(physical.contains("partitions=[p2]"), "{physical}");
}
