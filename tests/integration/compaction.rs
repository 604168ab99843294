//! Compaction on a real server: many small loads into each key model, with
//! queries running throughout. Versions stay bounded (loads wait rather than
//! fail), every query sees one consistent version, and results stay exact,
//! also after a kill -9.

use crate::stream_load::metric;
use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const LOADS: i64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_loads_are_compacted_and_reads_stay_consistent() {
    let dir = TempDir::new("compaction");
    let flags = [
        "--cumulative-compaction-min-deltas",
        "3",
        "--base-compaction-min-rowset-num",
        "3",
        "--max-tablet-version-num",
        "8",
        "--generate-compaction-tasks-interval-ms",
        "20",
        "--tablet-rowset-stale-sweep-time-sec",
        "1",
    ];
    let mut server = Process::standalone_with(dir.path(), &flags);
    let mut conn = server.connect().await;
    for sql in [
        "CREATE DATABASE c",
        "CREATE TABLE c.dup (k INT, v BIGINT) DUPLICATE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 1",
        "CREATE TABLE c.agg (k INT, s BIGINT SUM, m BIGINT MAX, r BIGINT REPLACE, \
         b BITMAP BITMAP_UNION, h HLL HLL_UNION) \
         AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1",
        "CREATE TABLE c.uniq (k INT, v BIGINT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 \
         PROPERTIES (\"enable_unique_key_merge_on_write\" = \"false\")",
        "CREATE TABLE c.mow (k INT, v BIGINT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1",
    ] {
        conn.query_drop(sql).await.unwrap();
    }

    // Load i (1-based) adds one DUPLICATE row of value i, so a read of any one
    // version that holds n loads sees count n and sum n(n+1)/2; a read that
    // mixed a compacted rowset with the ones it replaced would not.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, url) = (Arc::clone(&stop), server.mysql_url());
        tokio::spawn(async move {
            let mut conn = mysql_async::Conn::from_url(url).await.unwrap();
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let r: Vec<(i64, Option<i64>)> = conn
                    .query("SELECT COUNT(*), SUM(v) FROM c.dup")
                    .await
                    .unwrap();
                let (n, sum) = r[0];
                assert_eq!(sum.unwrap_or(0), n * (n + 1) / 2, "a torn read: {r:?}");
                reads += 1;
            }
            reads
        })
    };
    for i in 1..=LOADS {
        let k = i % 4;
        conn.query_drop(format!(
            "INSERT INTO c.dup VALUES ({k}, {i}); \
             INSERT INTO c.agg VALUES ({k}, {i}, {i}, {i}, to_bitmap({i}), hll_hash({i})); \
             INSERT INTO c.uniq VALUES ({k}, {i}); \
             INSERT INTO c.mow VALUES ({k}, {i})"
        ))
        .await
        .unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.await.unwrap() > 0);

    check(&mut conn, false).await;

    // Deletes, then more loads: compaction merges across the delete.
    for t in ["dup", "agg", "uniq", "mow"] {
        conn.query_drop(format!("DELETE FROM c.{t} WHERE k = 0"))
            .await
            .unwrap();
    }
    for _ in 0..12 {
        conn.query_drop(
            "INSERT INTO c.dup VALUES (5, 1); \
             INSERT INTO c.agg VALUES (5, 1, 1, 1, to_bitmap(1), hll_hash(1)); \
             INSERT INTO c.uniq VALUES (5, 1); INSERT INTO c.mow VALUES (5, 1)",
        )
        .await
        .unwrap();
    }
    check(&mut conn, true).await;

    // Each tablet got 40 versions; compaction kept far fewer rowsets.
    for t in ["dup", "agg", "uniq", "mow"] {
        let tablets = rows(&mut conn, &format!("SHOW TABLETS FROM c.{t}")).await;
        let count: u64 = tablets[0][15].parse().unwrap();
        assert!((1..8).contains(&count), "{t}: VersionCount {count}");
        assert_eq!(tablets[0][4], (LOADS + 1 + 13).to_string(), "{t}: Version");
    }
    let port = server.port("webserver_port");
    let cumulative = metric(
        port,
        "basalt_be_compaction_deltas_total{type=\"cumulative\"}",
    );
    assert!(
        cumulative >= 3 * 3,
        "{cumulative} rowsets merged by cumulative compaction"
    );

    drop(conn);
    server.kill9();
    server.start();
    let mut conn = server.connect().await;
    check(&mut conn, true).await;
}

/// The exact contents after all loads (and, with `deleted`, after key 0's
/// delete and twelve loads of key 5).
async fn check(conn: &mut mysql_async::Conn, deleted: bool) {
    let loads: Vec<i64> = (1..=LOADS).filter(|i| !deleted || i % 4 != 0).collect();
    let extra = if deleted { 12 } else { 0 };
    assert_eq!(
        rows(conn, "SELECT COUNT(*), SUM(v) FROM c.dup").await,
        vec![vec![
            (loads.len() as i64 + extra).to_string(),
            (loads.iter().sum::<i64>() + extra).to_string()
        ]]
    );
    // Key k got the loads i with i % 4 == k; the last of them is the largest.
    let mut agg = Vec::new();
    let mut uniq = Vec::new();
    for k in 0..4 {
        let is: Vec<i64> = loads.iter().copied().filter(|i| i % 4 == k).collect();
        let Some(last) = is.iter().max().map(|l| l.to_string()) else {
            continue;
        };
        let s: i64 = is.iter().sum();
        // The bitmap and the sketch (exact below 160 values) hold every load's i.
        let mut sorted = is.clone();
        sorted.sort_unstable();
        let text: Vec<String> = sorted.iter().map(i64::to_string).collect();
        agg.push(vec![
            k.to_string(),
            s.to_string(),
            last.clone(),
            last.clone(),
            text.join(","),
            is.len().to_string(),
        ]);
        uniq.push(vec![k.to_string(), last]);
    }
    if deleted {
        agg.push(["5", "12", "1", "1", "1", "1"].map(String::from).to_vec());
        uniq.push(vec!["5".into(), "1".into()]);
    }
    let sql = "SELECT k, s, m, r, bitmap_to_string(b), hll_cardinality(h) FROM c.agg ORDER BY k";
    assert_eq!(rows(conn, sql).await, agg);
    assert_eq!(rows(conn, "SELECT * FROM c.uniq ORDER BY k").await, uniq);
    assert_eq!(rows(conn, "SELECT * FROM c.mow ORDER BY k").await, uniq);
}

/// Compaction leaves the newest `retained_versions` of a table readable with
/// FOR VERSION AS OF; an older version of a table without them is gone,
/// with a clear error. On merge-on-write, the rows a retained version
/// replaced keep their marks when the older rowsets are merged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_reads_retained_versions_after_compaction() {
    let dir = TempDir::new("time-travel");
    let flags = [
        "--cumulative-compaction-min-deltas",
        "3",
        "--generate-compaction-tasks-interval-ms",
        "20",
        "--tablet-rowset-stale-sweep-time-sec",
        "0",
    ];
    let server = Process::standalone_with(dir.path(), &flags);
    let mut conn = server.connect().await;
    for sql in [
        "CREATE DATABASE tt",
        "CREATE TABLE tt.keep (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 \
         PROPERTIES (\"retained_versions\" = \"4\")",
        "CREATE TABLE tt.gone (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1",
        "CREATE TABLE tt.mow (k INT NOT NULL, v INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 \
         PROPERTIES (\"retained_versions\" = \"4\")",
    ] {
        conn.query_drop(sql).await.unwrap();
    }
    // Load i is version i + 1; the MoW table's key (i % 2) gets value i.
    for i in 1..=12 {
        conn.query_drop(format!(
            "INSERT INTO tt.keep VALUES ({i}, {i}); INSERT INTO tt.gone VALUES ({i}, {i}); \
             INSERT INTO tt.mow VALUES ({}, {i})",
            i % 2
        ))
        .await
        .unwrap();
    }
    let count = |t: &str| format!("SHOW TABLETS FROM tt.{t}");
    basalt_tests::cluster::wait_until(30, "compaction of the old versions", || {
        let url = server.mysql_url();
        let (gone, keep, mow) = (count("gone"), count("keep"), count("mow"));
        async move {
            let mut c = mysql_async::Conn::from_url(url).await.unwrap();
            let g: u64 = rows(&mut c, &gone).await[0][15].parse().unwrap();
            let k: u64 = rows(&mut c, &keep).await[0][15].parse().unwrap();
            let m: u64 = rows(&mut c, &mow).await[0][15].parse().unwrap();
            g <= 2 && k <= 6 && m <= 6
        }
    })
    .await;
    // Versions 10 to 13 are the retained ones.
    for (version, n) in [(10, 9), (11, 10), (13, 12)] {
        assert_eq!(
            rows(
                &mut conn,
                &format!("SELECT COUNT(*) FROM tt.keep FOR VERSION AS OF {version}")
            )
            .await,
            vec![vec![n.to_string()]]
        );
    }
    // Key 0 got the even loads, key 1 the odd ones: at version v the last load is v - 1.
    for version in [10u64, 11, 12, 13] {
        let last = version as i64 - 1;
        let (even, odd) = if last % 2 == 0 {
            (last, last - 1)
        } else {
            (last - 1, last)
        };
        assert_eq!(
            rows(
                &mut conn,
                &format!("SELECT * FROM tt.mow FOR VERSION AS OF {version} ORDER BY k")
            )
            .await,
            vec![
                vec!["0".to_string(), even.to_string()],
                vec!["1".into(), odd.to_string()]
            ],
            "version {version}"
        );
    }
    let err = conn
        .query_drop("SELECT COUNT(*) FROM tt.gone FOR VERSION AS OF 5")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no longer held"), "{err}");
}
