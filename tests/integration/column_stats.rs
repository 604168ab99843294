//! Column statistics: what `ANALYZE TABLE` collects and `SHOW COLUMN STATS`
//! shows, their survival of `kill -9`, and the planner using them to build a
//! join's hash table on its small side, broadcast next to the big side's tablets.

use basalt_tests::{error_code, rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::collections::HashMap;

/// `SHOW COLUMN STATS` as column name -> (header -> value).
async fn column_stats(
    conn: &mut mysql_async::Conn,
    table: &str,
) -> HashMap<String, HashMap<String, String>> {
    let result: Vec<mysql_async::Row> = conn
        .query(format!("SHOW COLUMN STATS {table}"))
        .await
        .unwrap();
    result
        .iter()
        .map(|row| {
            let names = row.columns_ref().iter().map(|c| c.name_str().to_string());
            let fields: HashMap<String, String> =
                names.zip(basalt_tests::slt::row_strings(row)).collect();
            (fields["column_name"].clone(), fields)
        })
        .collect()
}

/// The `on` pairs of the plan's hash joins (`(left_col, right_col)`; the
/// left side is the one whose hash table is built).
fn join_keys(plan: &str) -> Vec<(String, String)> {
    plan.match_indices("HashJoinExec")
        .filter_map(|(i, _)| {
            let rest = &plan[i..];
            let on = &rest[rest.find("on=[(")? + 5..];
            let pair = &on[..on.find(')')?];
            let (l, r) = pair.split_once(", ")?;
            let name = |c: &str| c.split('@').next().unwrap_or(c).to_string();
            Some((name(l), name(r)))
        })
        .collect()
}

/// Waits until the tablet reports count every row of the three tables: the
/// planner's row counts come from them.
async fn wait_reported(conn: &mut mysql_async::Conn) {
    for (table, expected) in [("db.f", 100_000), ("db.a", 100), ("db.b", 10_000)] {
        let sql = format!("SHOW TABLETS FROM {table}");
        let mut reported = 0;
        for _ in 0..100 {
            let tablets = rows(conn, &sql).await;
            reported = tablets.iter().map(|t| t[10].parse::<u64>().unwrap()).sum();
            if reported == expected {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(reported, expected, "{table}: rows in the tablet reports");
    }
}

async fn plan(conn: &mut mysql_async::Conn, sql: &str) -> String {
    let lines = rows(conn, &format!("EXPLAIN {sql}")).await;
    lines.into_iter().flatten().collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_collects_statistics_that_survive_kill9_and_choose_the_build_side() {
    let dir = TempDir::new("column-stats");
    let mut server =
        Process::standalone_with(dir.path(), &["--tablet-report-interval-second", "1"]);
    let mut conn = server.connect().await;
    for sql in [
        "CREATE DATABASE db",
        // 100,000 facts; a dimension keyed by fa with 100 rows, one keyed by
        // fb with 10,000 rows of which a filter keeps 10.
        "CREATE TABLE db.f (id BIGINT NOT NULL, fa INT, fb INT, s VARCHAR(16), dt DATE, \
         amount DECIMAL(10, 2)) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3",
        "CREATE TABLE db.a (ak INT NOT NULL, an VARCHAR(8)) DUPLICATE KEY(ak) \
         DISTRIBUTED BY HASH(ak) BUCKETS 1",
        "CREATE TABLE db.b (bk INT NOT NULL, cat VARCHAR(8)) DUPLICATE KEY(bk) \
         DISTRIBUTED BY HASH(bk) BUCKETS 1",
        "INSERT INTO db.f SELECT value, CAST(value % 100 AS INT), CAST(value % 10000 AS INT), \
         CASE WHEN value % 10 = 0 THEN NULL ELSE CONCAT('s', CAST(value % 100 AS VARCHAR)) END, \
         CAST(CONCAT('2024-0', CAST(value % 9 + 1 AS VARCHAR), '-15') AS DATE), \
         CAST(value % 5000 AS DECIMAL(10, 2)) / 100 FROM range(0, 100000)",
        "INSERT INTO db.a SELECT CAST(value AS INT), CONCAT('a', CAST(value AS VARCHAR)) \
         FROM range(0, 100)",
        "INSERT INTO db.b SELECT CAST(value AS INT), CONCAT('c', CAST(value % 1000 AS VARCHAR)) \
         FROM range(0, 10000)",
    ] {
        conn.query_drop(sql).await.unwrap();
    }
    wait_reported(&mut conn).await;
    let star = "SELECT an, COUNT(*) FROM db.f JOIN db.a ON fa = ak JOIN db.b ON fb = bk \
                WHERE cat = 'c7' GROUP BY an ORDER BY an";
    let answer = rows(&mut conn, star).await;
    assert!(!answer.is_empty());

    // Without distinct counts the planner takes the first join's output for
    // a's 100 rows (it divides by the larger side's row count), so that join
    // (100,000 rows) builds the hash table of the second, against b's 10,000
    // rows filtered to a default fifth.
    let before = join_keys(&plan(&mut conn, star).await);
    assert!(before.contains(&("ak".into(), "fa".into())), "{before:?}");
    assert!(before.contains(&("fb".into(), "bk".into())), "{before:?}");

    conn.query_drop("ANALYZE TABLE db.f WITH SYNC")
        .await
        .unwrap();
    let stats = column_stats(&mut conn, "db.f").await;
    assert_eq!(stats.len(), 6, "{stats:?}");
    let id = &stats["id"];
    assert_eq!(id["count"], "100000.0");
    assert_eq!(id["num_null"], "0.0");
    assert_eq!((id["min"].as_str(), id["max"].as_str()), ("0", "99999"));
    assert_eq!(id["data_size"], "800000.0"); // 8 bytes a BIGINT
    let ndv: f64 = id["ndv"].parse().unwrap();
    assert!((97_000.0..=103_000.0).contains(&ndv), "HLL estimate {ndv}");
    let s = &stats["s"];
    assert_eq!(s["num_null"], "10000.0");
    let ndv: f64 = s["ndv"].parse().unwrap();
    assert!((88.0..=92.0).contains(&ndv), "{ndv}"); // s1..s99 but not s0, s10, ...
    assert_eq!((s["min"].as_str(), s["max"].as_str()), ("s1", "s99"));
    // 90,000 strings of 2 or 3 bytes: 9 of every 90 have one digit.
    assert_eq!(s["data_size"], "261000.0");
    assert_eq!(s["avg_size_byte"], "2.9");
    let dt = &stats["dt"];
    assert_eq!(
        (dt["min"].as_str(), dt["max"].as_str()),
        ("2024-01-15", "2024-09-15")
    );
    assert_eq!(dt["ndv"], "9.0");
    let amount = &stats["amount"];
    assert_eq!(
        (amount["min"].as_str(), amount["max"].as_str()),
        ("0.00", "49.99")
    );
    assert_eq!(stats["fa"]["method"], "FULL");
    assert_eq!(stats["fa"]["index_name"], "f");

    // Without WITH SYNC, Doris answers with the job (here already done).
    let job = rows(&mut conn, "ANALYZE TABLE db.a").await;
    assert_eq!(job.len(), 1, "{job:?}");
    assert_eq!(job[0][1..], ["internal", "db", "[ak,an]"]);
    assert_eq!(column_stats(&mut conn, "db.a").await["an"]["max"], "a99");

    // With them, the 10 rows of b build the second join's table.
    conn.query_drop("ANALYZE DATABASE db WITH SYNC")
        .await
        .unwrap();
    let after = plan(&mut conn, star).await;
    let keys = join_keys(&after);
    assert!(keys.contains(&("bk".into(), "fb".into())), "{keys:?}");
    // Both dimensions (one tablet each) are broadcast to the fragments that
    // scan f, so the joins run next to f's tablets, not on the FE.
    assert_eq!(after.matches("NetworkBroadcastExec").count(), 2, "{after}");
    assert_eq!(rows(&mut conn, star).await, answer);

    // Only the columns named are dropped, and SHOW can name columns.
    conn.query_drop("DROP STATS db.f (s, dt)").await.unwrap();
    let stats = column_stats(&mut conn, "db.f (id, s)").await;
    assert_eq!(stats.keys().collect::<Vec<_>>(), vec!["id"]);
    assert_eq!(
        error_code(&mut conn, "SHOW COLUMN STATS db.f (zz)").await,
        1054
    );

    // The statistics are in the edit log: kill -9 keeps them.
    drop(conn);
    server.kill9();
    server.start();
    let mut conn = server.connect().await;
    let stats = column_stats(&mut conn, "db.f").await;
    assert_eq!(stats.len(), 4, "{stats:?}");
    assert_eq!(stats["id"]["max"], "99999");
    assert_eq!(column_stats(&mut conn, "db.b").await.len(), 2);
    wait_reported(&mut conn).await;
    let again = join_keys(&plan(&mut conn, star).await);
    assert!(again.contains(&("bk".into(), "fb".into())), "{again:?}");
}
