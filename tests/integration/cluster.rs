//! A real cluster (1 FE + 3 or 4 BEs, every table with 3 replicas): ALTER SYSTEM,
//! the cluster's SHOW output, a BE killed and repaired, decommission, and
//! balancing onto a new BE, with query results checked throughout.

use basalt_tests::cluster::{wait_until, Cluster, FAST_SCHEDULER};
use basalt_tests::{error_code, rows};
use mysql_async::prelude::Queryable;

const TABLE: &str = "CREATE TABLE db.sales (
    dt DATE NOT NULL, id INT NOT NULL, qty INT
) DUPLICATE KEY(dt, id)
PARTITION BY RANGE(dt) (
    PARTITION p1 VALUES LESS THAN ('2024-02-01'),
    PARTITION p2 VALUES LESS THAN ('2024-03-01'),
    PARTITION p3 VALUES LESS THAN ('2024-04-01')
)
DISTRIBUTED BY HASH(id) BUCKETS 4
PROPERTIES (\"replication_num\" = \"3\")";

/// Loads `n` rows with ids `first..first+n` spread over the three partitions.
async fn load(conn: &mut mysql_async::Conn, first: i64, n: i64) {
    let values: Vec<String> = (first..first + n)
        .map(|i| format!("('2024-0{}-1{}', {i}, {})", i % 3 + 1, i % 9, i % 7))
        .collect();
    conn.query_drop(format!("INSERT INTO db.sales VALUES {}", values.join(",")))
        .await
        .expect("insert");
}

/// Row count, sum of ids and distinct ids: any lost or doubled row changes them.
async fn summary(conn: &mut mysql_async::Conn) -> Vec<String> {
    rows(
        conn,
        "SELECT COUNT(*), SUM(id), COUNT(DISTINCT id) FROM db.sales",
    )
    .await
    .remove(0)
}

fn expected(n: i64) -> Vec<String> {
    vec![n.to_string(), (n * (n - 1) / 2).to_string(), n.to_string()]
}

/// Every tablet has exactly 3 replicas, all OK, none on `excluded` backends.
async fn fully_replicated(conn: &mut mysql_async::Conn, excluded: &[String]) -> bool {
    let status = rows(conn, "ADMIN SHOW REPLICA STATUS FROM db.sales").await;
    let mut per_tablet = std::collections::BTreeMap::<String, usize>::new();
    for r in &status {
        if r[12] != "OK" || excluded.contains(&r[2]) {
            return false;
        }
        *per_tablet.entry(r[0].clone()).or_default() += 1;
    }
    per_tablet.len() == 12 && per_tablet.values().all(|n| *n == 3)
}

/// A cluster of `n` BEs with `db.sales` holding `rows` loaded rows.
async fn sales_cluster(
    tag: &str,
    n: usize,
    fe_flags: &[&str],
    rows: i64,
) -> (Cluster, mysql_async::Conn) {
    let cluster = Cluster::start(tag, n, fe_flags).await;
    let mut conn = cluster.fe.connect().await;
    conn.query_drop("CREATE DATABASE db").await.unwrap();
    conn.query_drop(TABLE).await.unwrap();
    load(&mut conn, 0, rows).await;
    (cluster, conn)
}

fn tablet_num(backends: &[Vec<String>], id: &str) -> Option<usize> {
    backends
        .iter()
        .find(|b| b[0] == id)
        .map(|b| b[10].parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alter_system_placement_and_cluster_show() {
    let cluster = Cluster::start("cluster-admin", 3, &[]).await;
    let mut conn = cluster.fe.connect().await;
    conn.query_drop("CREATE DATABASE db").await.unwrap();

    // Four replicas cannot be placed on three backends: Doris's error.
    let err = conn
        .query_drop("CREATE TABLE db.four (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1 PROPERTIES (\"replication_num\" = \"4\")")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Failed to find enough backend"),
        "{err}"
    );
    // No replication_num: Doris's default of three.
    conn.query_drop("CREATE TABLE db.dflt (a INT) DISTRIBUTED BY HASH(a) BUCKETS 2")
        .await
        .unwrap();
    assert_eq!(rows(&mut conn, "SHOW TABLETS FROM db.dflt").await.len(), 6);

    conn.query_drop(TABLE).await.unwrap();
    load(&mut conn, 0, 300).await;
    assert_eq!(summary(&mut conn).await, expected(300));

    // Every tablet has its 3 replicas on 3 distinct backends, all at the same version.
    let tablets = rows(&mut conn, "SHOW TABLETS FROM db.sales").await;
    assert_eq!(tablets.len(), 3 * 4 * 3, "{tablets:?}");
    assert_eq!(tablets[0].len(), 23);
    let mut by_tablet = std::collections::BTreeMap::<&str, Vec<&str>>::new();
    for t in &tablets {
        by_tablet.entry(&t[0]).or_default().push(&t[2]);
        assert_eq!(t[4], "2", "replica version: {t:?}");
        assert_eq!(t[11], "NORMAL");
    }
    for (tablet, mut bes) in by_tablet {
        bes.sort();
        bes.dedup();
        assert_eq!(
            bes.len(),
            3,
            "tablet {tablet} replicas on distinct backends"
        );
    }

    // SHOW BACKENDS: Doris's 24 columns, every backend alive and holding 14 replicas.
    let backends = cluster.backends(&mut conn).await;
    assert_eq!(backends.len(), 3);
    for b in &backends {
        assert_eq!(b.len(), 24);
        assert_eq!(b[8], "true", "Alive");
        assert_eq!(b[9], "false", "SystemDecommissioned");
        assert_eq!(b[10], "14", "TabletNum: 6 + 36 replicas over 3 backends");
        assert!(
            b[14].ends_with("GB") || b[14].ends_with("TB"),
            "TotalCapacity {}",
            b[14]
        );
        assert!(b[21].contains("lastSuccessReportTabletsTime"), "{}", b[21]);
    }
    for path in ["/backends", "/frontends", "/dbs", "/statistic"] {
        assert!(
            !rows(&mut conn, &format!("SHOW PROC '{path}'"))
                .await
                .is_empty(),
            "{path}"
        );
    }
    assert_eq!(rows(&mut conn, "SHOW PROC '/backends'").await.len(), 3);
    let dbs = rows(&mut conn, "SHOW PROC '/dbs'").await;
    let db_id = &dbs.iter().find(|r| r[1] == "db").unwrap()[0];
    let tables = rows(&mut conn, &format!("SHOW PROC '/dbs/{db_id}'")).await;
    let sales = tables.iter().find(|r| r[1] == "sales").unwrap();
    assert_eq!(
        (sales[4].as_str(), sales[8].as_str()),
        ("3", "36"),
        "{sales:?}"
    );
    let stats = rows(&mut conn, "SHOW PROC '/statistic'").await;
    let total = stats.last().unwrap();
    assert_eq!(&total[5..7], &["14".to_string(), "42".into()], "{total:?}");
    let health = rows(&mut conn, "SHOW PROC '/cluster_health/tablet_health'").await;
    let total = health.last().unwrap();
    assert_eq!(
        (total[2].as_str(), total[3].as_str()),
        ("14", "14"),
        "{total:?}"
    );
    let status = rows(
        &mut conn,
        "ADMIN SHOW REPLICA STATUS FROM db.sales WHERE status = 'OK'",
    )
    .await;
    assert_eq!(status.len(), 36);
    let dist = rows(&mut conn, "ADMIN SHOW REPLICA DISTRIBUTION FROM db.sales").await;
    assert_eq!(dist.len(), 3);
    assert!(dist.iter().all(|r| r[1] == "12"), "{dist:?}");
    assert_eq!(error_code(&mut conn, "SHOW PROC '/nope'").await, 1105);

    // DROP BACKEND is refused with Doris's hint; unknown backends are named.
    let be0 = cluster.backend_id(0).await;
    let err = conn
        .query_drop(format!("ALTER SYSTEM DROP BACKEND \"{be0}\""))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("use DROPP instead of DROP"),
        "{err}"
    );
    let err = conn
        .query_drop("ALTER SYSTEM DECOMMISSION BACKEND \"127.0.0.1:1\"")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Backend does not exist"), "{err}");
    // Decommissioning would leave too few backends for 3 replicas.
    assert_eq!(
        error_code(
            &mut conn,
            &format!("ALTER SYSTEM DECOMMISSION BACKEND \"{be0}\"")
        )
        .await,
        1105
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_backend_is_repaired_and_its_return_leaves_no_duplicates() {
    let (mut cluster, mut conn) = sales_cluster("cluster-kill", 4, FAST_SCHEDULER, 400).await;
    assert_eq!(summary(&mut conn).await, expected(400));

    let victim = cluster.backend_id(1).await;
    cluster.bes[1].kill9();
    cluster.wait_alive(&victim, false, 15).await;
    // Queries see every row; loads still commit on the two live replicas.
    assert_eq!(summary(&mut conn).await, expected(400));
    load(&mut conn, 400, 100).await;
    assert_eq!(summary(&mut conn).await, expected(500));

    // After the repair delay every tablet has 3 healthy replicas on the 3 live backends.
    wait_until(60, "re-replication away from the dead backend", || async {
        let mut c = cluster.fe.connect().await;
        fully_replicated(&mut c, std::slice::from_ref(&victim)).await
    })
    .await;
    assert_eq!(summary(&mut conn).await, expected(500));

    // The dead backend returns: no row is doubled or lost, and the tablets it
    // still holds that the catalog no longer places there are dropped.
    cluster.bes[1].start();
    cluster.wait_alive(&victim, true, 30).await;
    let data = cluster.dir.path().join("be1").join("data");
    wait_until(
        60,
        "the returned backend to drop its redundant tablets",
        || async {
            let mut c = cluster.fe.connect().await;
            let b = cluster.backends(&mut c).await;
            let placed = tablet_num(&b, &victim).unwrap_or(0);
            let on_disk = std::fs::read_dir(&data).map(|d| d.count()).unwrap_or(0);
            on_disk == placed && fully_replicated(&mut c, &[]).await
        },
    )
    .await;
    assert_eq!(summary(&mut conn).await, expected(500));
    load(&mut conn, 500, 50).await;
    assert_eq!(summary(&mut conn).await, expected(550));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decommission_drains_the_backend_then_drops_it() {
    let (cluster, mut conn) = sales_cluster("cluster-decom", 4, FAST_SCHEDULER, 300).await;

    let leaving = cluster.backend_id(2).await;
    conn.query_drop(format!("ALTER SYSTEM DECOMMISSION BACKEND \"{leaving}\""))
        .await
        .unwrap();
    let b = cluster.backends(&mut conn).await;
    assert!(b.iter().any(|r| r[0] == leaving && r[9] == "true"), "{b:?}");
    // CANCEL and DECOMMISSION again, by host:port this time.
    conn.query_drop(format!(
        "ALTER SYSTEM CANCEL DECOMMISSION BACKEND \"{leaving}\""
    ))
    .await
    .unwrap();
    let b = cluster.backends(&mut conn).await;
    assert!(
        b.iter().any(|r| r[0] == leaving && r[9] == "false"),
        "{b:?}"
    );
    let addr = format!(
        "127.0.0.1:{}",
        cluster.bes[2].port("heartbeat_service_port")
    );
    conn.query_drop(format!("ALTER SYSTEM DECOMMISSION BACKEND \"{addr}\""))
        .await
        .unwrap();

    wait_until(
        60,
        "the decommissioned backend to drain and be dropped",
        || async {
            let mut c = cluster.fe.connect().await;
            // Data stays intact while replicas move.
            assert_eq!(summary(&mut c).await, expected(300));
            let b = cluster.backends(&mut c).await;
            b.len() == 3 && !b.iter().any(|r| r[0] == leaving)
        },
    )
    .await;
    assert!(fully_replicated(&mut conn, std::slice::from_ref(&leaving)).await);
    load(&mut conn, 300, 30).await;
    assert_eq!(summary(&mut conn).await, expected(330));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_backend_receives_replicas_by_balancing() {
    let (mut cluster, mut conn) = sales_cluster("cluster-balance", 3, FAST_SCHEDULER, 300).await;

    let k = cluster.add_be().await;
    let newcomer = cluster.backend_id(k).await;
    wait_until(60, "replicas to balance onto the new backend", || async {
        let mut c = cluster.fe.connect().await;
        assert_eq!(summary(&mut c).await, expected(300));
        let b = cluster.backends(&mut c).await;
        let counts: Vec<usize> = b.iter().map(|r| r[10].parse().unwrap()).collect();
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        tablet_num(&b, &newcomer).unwrap_or(0) > 0 && max - min <= 1
    })
    .await;
    wait_until(30, "every tablet to settle at 3 replicas", || async {
        let mut c = cluster.fe.connect().await;
        fully_replicated(&mut c, &[]).await
    })
    .await;
    assert_eq!(summary(&mut conn).await, expected(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_aggregations_run_on_the_backends() {
    let (_cluster, mut conn) = sales_cluster("cluster-mpp", 3, FAST_SCHEDULER, 300).await;
    conn.query_drop(
        "CREATE TABLE db.dim (id INT, name VARCHAR(10)) DISTRIBUTED BY HASH(id) BUCKETS 3",
    )
    .await
    .unwrap();
    conn.query_drop(
        "INSERT INTO db.dim VALUES (1, 'one'), (2, 'two'), (7, 'seven'), (1000, 'none')",
    )
    .await
    .unwrap();
    // Row counts reach the planner with the next tablet reports.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    let q = "SELECT d.name, COUNT(*), SUM(s.qty) FROM db.sales s JOIN db.dim d ON s.id = d.id GROUP BY d.name";
    let plan = rows(&mut conn, &format!("EXPLAIN {q}")).await;
    let physical = &plan.iter().find(|r| r[0] == "physical_plan").unwrap()[1];
    // The small side is broadcast to the backends that scan the big one; the
    // partial aggregates are shuffled to the backends for the final one.
    assert!(physical.contains("NetworkBroadcastExec"), "{physical}");
    assert!(physical.contains("NetworkShuffleExec"), "{physical}");
    assert!(
        physical.contains("backends=[http://127.0.0.1:"),
        "{physical}"
    );
    let mut got = rows(&mut conn, q).await;
    got.sort();
    let qty = |i: i64| (i % 7).to_string();
    assert_eq!(
        got,
        vec![
            vec!["one".to_string(), "1".into(), qty(1)],
            vec!["seven".to_string(), "1".into(), qty(7)],
            vec!["two".to_string(), "1".into(), qty(2)],
        ]
    );
    // The broadcast join's build side becomes a runtime filter at the probe
    // scan: the profile counts the rows it dropped there (297 of 300).
    let profile = rows(
        &mut conn,
        "EXPLAIN ANALYZE SELECT COUNT(*) FROM db.sales s JOIN db.dim d ON s.id = d.id",
    )
    .await;
    let profile = &profile[0][1];
    assert!(
        profile.contains("runtime_filter=DynamicFilter"),
        "{profile}"
    );
    assert!(
        profile.contains("rows_filtered_by_runtime_filter=297"),
        "{profile}"
    );
    // Joins that must see every build row stay correct.
    let left = rows(
        &mut conn,
        "SELECT COUNT(*), COUNT(s.id) FROM db.dim d LEFT JOIN db.sales s ON s.id = d.id",
    )
    .await;
    assert_eq!(left, vec![vec!["4".to_string(), "3".into()]]);
    let semi = rows(
        &mut conn,
        "SELECT COUNT(*) FROM db.sales s WHERE s.id IN (SELECT id FROM db.dim)",
    )
    .await;
    assert_eq!(semi, vec![vec!["3".to_string()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_missed_loads_is_caught_up_by_cloning() {
    // A long repair delay: the dead backend's replicas are waited for, not replaced.
    let (mut cluster, mut conn) = sales_cluster(
        "cluster-catchup",
        3,
        &[
            "--tablet-checker-interval-ms",
            "300",
            "--tablet-report-interval-second",
            "1",
            "--tablet-repair-delay-factor-second",
            "600",
        ],
        100,
    )
    .await;
    // A bitmap index: the segments a clone copies get theirs built on arrival.
    conn.query_drop("CREATE INDEX iq ON db.sales (qty) USING BITMAP")
        .await
        .unwrap();
    let victim = cluster.backend_id(2).await;
    cluster.bes[2].kill9();
    cluster.wait_alive(&victim, false, 15).await;
    // Two loads commit on the two live replicas of every tablet.
    load(&mut conn, 100, 100).await;
    load(&mut conn, 200, 100).await;
    let behind = rows(
        &mut conn,
        &format!("ADMIN SHOW REPLICA STATUS FROM db.sales WHERE BackendId = {victim}"),
    )
    .await;
    assert_eq!(behind.len(), 12);
    assert!(
        behind.iter().all(|r| r[12] == "DEAD" && r[4] != "-1"),
        "{behind:?}"
    );

    cluster.bes[2].start();
    wait_until(60, "the returned replicas to catch up", || async {
        let mut c = cluster.fe.connect().await;
        fully_replicated(&mut c, &[]).await
    })
    .await;
    // Caught up in place: still on the same three backends, at the partitions' versions.
    let status = rows(&mut conn, "ADMIN SHOW REPLICA STATUS FROM db.sales").await;
    assert_eq!(status.iter().filter(|r| r[2] == victim).count(), 12);
    assert!(
        status.iter().all(|r| r[3] == r[6] && r[4] == "-1"),
        "{status:?}"
    );
    // The caught-up replicas answer queries alone: stop the other two.
    cluster.bes[0].kill9();
    cluster.bes[1].kill9();
    wait_until(15, "only the caught-up backend to be alive", || async {
        let mut c = cluster.fe.connect().await;
        let b = cluster.backends(&mut c).await;
        b.iter().filter(|r| r[8] == "true").count() == 1
    })
    .await;
    assert_eq!(summary(&mut conn).await, expected(300));
    let sql = "SELECT COUNT(*) FROM db.sales WHERE qty = 3";
    let p = crate::read_profile::profile(&mut conn, sql).await;
    let skipped = crate::read_profile::counter(&p, "rows_skipped_by_bitmap_index");
    assert_eq!(skipped, 300 - 43, "{p}");
    assert_eq!(rows(&mut conn, sql).await, vec![vec!["43".to_string()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colocated_tables_join_bucket_by_bucket_without_an_exchange() {
    let cluster = Cluster::start("cluster-colocate", 3, &[]).await;
    let mut conn = cluster.fe.connect().await;
    conn.query_drop("CREATE DATABASE db").await.unwrap();
    for (name, extra) in [("orders", "amount INT"), ("lines", "qty INT")] {
        conn.query_drop(format!(
            "CREATE TABLE db.{name} (dt DATE NOT NULL, okey INT NOT NULL, {extra}) DUPLICATE KEY(dt, okey) \
             PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN ('2024-03-01')) \
             DISTRIBUTED BY HASH(okey) BUCKETS 5 PROPERTIES ('replication_num' = '2', 'colocate_with' = 'ol')"
        ))
        .await
        .unwrap();
    }
    // The group's rules: same buckets, same replicas, hash distribution.
    let err = conn
        .query_drop("CREATE TABLE db.bad (okey INT) DISTRIBUTED BY HASH(okey) BUCKETS 4 PROPERTIES ('replication_num' = '2', 'colocate_with' = 'ol')")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("same bucket num: 5"), "{err}");
    let values = |f: &dyn Fn(i64) -> String| (0..200).map(f).collect::<Vec<_>>().join(",");
    conn.query_drop(format!(
        "INSERT INTO db.orders VALUES {}",
        values(&|i| format!("('2024-0{}-05', {i}, {})", i % 2 + 1, i * 10))
    ))
    .await
    .unwrap();
    conn.query_drop(format!(
        "INSERT INTO db.lines VALUES {}",
        values(&|i| format!("('2024-0{}-07', {}, {})", (i + 1) % 2 + 1, i % 120, i % 5))
    ))
    .await
    .unwrap();

    let q = "SELECT COUNT(*), SUM(o.amount * l.qty) FROM db.orders o JOIN db.lines l ON o.okey = l.okey";
    let plan = rows(&mut conn, &format!("EXPLAIN {q}")).await;
    let physical = &plan.iter().find(|r| r[0] == "physical_plan").unwrap()[1];
    // Both scans feed the join directly in one fragment: no shuffle, no broadcast.
    assert!(
        physical.contains("HashJoinExec: mode=Partitioned"),
        "{physical}"
    );
    assert!(!physical.contains("NetworkShuffleExec"), "{physical}");
    assert!(!physical.contains("NetworkBroadcastExec"), "{physical}");
    // The same join computed another way (a key the planner cannot match to buckets).
    let colocated = rows(&mut conn, q).await;
    let shuffled = rows(
        &mut conn,
        "SELECT COUNT(*), SUM(o.amount * l.qty) FROM db.orders o JOIN db.lines l ON o.okey = l.okey + 0",
    )
    .await;
    assert_eq!(colocated, shuffled);
    // Every line (okey 0..119) finds its order (okey 0..199).
    assert_eq!(colocated[0][0], "200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_on_the_probe_tables_distribution_key_shuffles_only_the_build_side() {
    // No tablet reports reach the planner, so table sizes are unknown and
    // DataFusion plans a partitioned (shuffle) join rather than a broadcast.
    let cluster = Cluster::start(
        "cluster-bucket-shuffle",
        3,
        &["--tablet-report-interval-second", "3600"],
    )
    .await;
    let mut conn = cluster.fe.connect().await;
    conn.query_drop("CREATE DATABASE db").await.unwrap();
    conn.query_drop(
        "CREATE TABLE db.facts (dt DATE NOT NULL, id INT NOT NULL, v INT) DUPLICATE KEY(dt, id) \
         PARTITION BY RANGE(dt) (PARTITION p1 VALUES LESS THAN ('2024-02-01'), PARTITION p2 VALUES LESS THAN ('2024-03-01')) \
         DISTRIBUTED BY HASH(id) BUCKETS 6 PROPERTIES ('replication_num' = '3')",
    )
    .await
    .unwrap();
    // Distributed by another column: not colocated with facts.
    conn.query_drop(
        "CREATE TABLE db.dim (name VARCHAR(10), id INT) DISTRIBUTED BY HASH(name) BUCKETS 4 \
         PROPERTIES ('replication_num' = '3')",
    )
    .await
    .unwrap();
    // Every id 0..149 twice in facts (v = id and id + 150); dim holds ids 100..249.
    let facts: Vec<String> = (0..300)
        .map(|i| format!("('2024-0{}-05', {}, {i})", i % 2 + 1, i % 150))
        .collect();
    conn.query_drop(format!("INSERT INTO db.facts VALUES {}", facts.join(",")))
        .await
        .unwrap();
    let dim: Vec<String> = (100..250).map(|i| format!("('n{i}', {i})")).collect();
    conn.query_drop(format!("INSERT INTO db.dim VALUES {}", dim.join(",")))
        .await
        .unwrap();

    let inner = "SELECT COUNT(*), SUM(f.v) FROM db.dim d JOIN db.facts f ON d.id = f.id";
    let plan = rows(&mut conn, &format!("EXPLAIN {inner}")).await;
    let physical = &plan.iter().find(|r| r[0] == "physical_plan").unwrap()[1];
    // dim is routed by facts' bucket hash; facts is read in place, bucket by bucket.
    assert!(physical.contains("bucket_shuffle_route"), "{physical}");
    assert_eq!(
        physical.matches("NetworkShuffleExec").count(),
        1,
        "{physical}"
    );
    assert!(!physical.contains("NetworkBroadcastExec"), "{physical}");
    let sum: i64 = (100..150).map(|k| 2 * k + 150).sum();
    assert_eq!(
        rows(&mut conn, inner).await,
        vec![vec!["100".to_string(), sum.to_string()]]
    );

    // The build side's unmatched rows (ids 150..249) come out once each.
    let left =
        "SELECT COUNT(*), COUNT(f.v), SUM(d.id) FROM db.dim d LEFT JOIN db.facts f ON d.id = f.id";
    let plan = rows(&mut conn, &format!("EXPLAIN {left}")).await;
    let physical = &plan.iter().find(|r| r[0] == "physical_plan").unwrap()[1];
    assert!(physical.contains("bucket_shuffle_route"), "{physical}");
    let ids: i64 = (100..150).map(|k| 2 * k).sum::<i64>() + (150..250).sum::<i64>();
    assert_eq!(
        rows(&mut conn, left).await,
        vec![vec!["200".to_string(), "100".to_string(), ids.to_string()]]
    );
    // The same joins computed another way (a key the planner cannot match to buckets).
    let other = rows(
        &mut conn,
        "SELECT COUNT(*), COUNT(f.v), SUM(d.id) FROM db.dim d LEFT JOIN db.facts f ON d.id = f.id + 0",
    )
    .await;
    assert_eq!(rows(&mut conn, left).await, other);
}
