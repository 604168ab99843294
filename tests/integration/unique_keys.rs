//! UNIQUE tables through real clients: Stream Load's merge types and sequence
//! header, and merge-on-write under compaction, concurrent reads and kill -9.

use crate::stream_load::{row, stream_load, write, Server};
use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_load_merge_types_and_the_sequence_header() {
    let s = Server::start("unique-load").await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.u (k INT NOT NULL, v VARCHAR(8), flag INT) UNIQUE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 2",
    )
    .await
    .unwrap();
    let load = |name: &str, body: &str, headers: &[&str]| {
        let file = write(&s.data, name, body);
        let mut h = vec!["column_separator: ,"];
        h.extend_from_slice(headers);
        stream_load(&s.fe_url("u"), "root:", &file, &h).1
    };
    let ok = |r: serde_json::Value| assert_eq!(r["Status"], "Success", "{r}");
    ok(load("a.csv", "1,a,0\n2,b,0\n3,c,0\n4,d,0\n", &[]));
    ok(load("b.csv", "1,x,0\n", &["merge_type: DELETE"]));
    ok(load(
        "c.csv",
        "2,x,1\n3,c2,0\n5,e,0\n",
        &["merge_type: MERGE", "delete: flag=1"],
    ));
    assert_eq!(
        rows(&mut conn, "SELECT * FROM db.u ORDER BY k").await,
        vec![
            row(&["3", "c2", "0"]),
            row(&["4", "d", "0"]),
            row(&["5", "e", "0"])
        ]
    );
    let r = load("d.csv", "4,x,1\n", &["merge_type: MERGE"]);
    assert_eq!(r["Status"], "Fail");
    assert!(
        r["Message"].as_str().unwrap().contains("DELETE ON clause"),
        "{r}"
    );
    let file = write(&s.data, "e.csv", "9,x,1.00,2024-01-01\n");
    let (_, r) = stream_load(
        &s.fe_url("t"),
        "root:",
        &file,
        &["column_separator: ,", "merge_type: DELETE"],
    );
    assert_eq!(r["Status"], "Fail");
    assert!(
        r["Message"]
            .as_str()
            .unwrap()
            .contains("only supported in unique tables"),
        "{r}"
    );

    // A partial update: the columns the load names, the others kept.
    ok(load(
        "p.csv",
        "3,9\n6,1\n",
        &["partial_columns: true", "columns: k,flag"],
    ));
    assert_eq!(
        rows(&mut conn, "SELECT * FROM db.u ORDER BY k").await,
        vec![
            row(&["3", "c2", "9"]),
            row(&["4", "d", "0"]),
            row(&["5", "e", "0"]),
            row(&["6", "NULL", "1"])
        ]
    );
    let r = load("q.csv", "7\n", &["partial_columns: true", "columns: flag"]);
    assert!(
        r["Message"].as_str().unwrap().contains("all key columns"),
        "{r}"
    );

    // A sequence column of its own type: each load names the column feeding it.
    conn.query_drop(
        "CREATE TABLE db.s (k INT NOT NULL, v VARCHAR(8), ts INT) UNIQUE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"function_column.sequence_type\" = \"int\")",
    )
    .await
    .unwrap();
    let load_s = |name: &str, body: &str, headers: &[&str]| {
        let file = write(&s.data, name, body);
        let mut h = vec!["column_separator: ,"];
        h.extend_from_slice(headers);
        stream_load(&s.fe_url("s"), "root:", &file, &h).1
    };
    let r = load_s("s0.csv", "1,new,20\n", &[]);
    assert_eq!(r["Status"], "Fail");
    assert!(
        r["Message"]
            .as_str()
            .unwrap()
            .contains("need to specify the sequence column"),
        "{r}"
    );
    let seq = "function_column.sequence_col: ts";
    ok(load_s("s1.csv", "1,new,20\n2,two,5\n", &[seq]));
    ok(load_s("s2.csv", "1,old,10\n2,later,6\n", &[seq]));
    ok(load_s(
        "s3.csv",
        "1,gone,30\n",
        &[seq, "merge_type: DELETE"],
    ));
    assert_eq!(
        rows(&mut conn, "SELECT * FROM db.s ORDER BY k").await,
        vec![row(&["2", "later", "6"])]
    );
}

/// Every load upserts the same six keys with its own number, so a read of
/// any one version sees six rows that agree; a read that missed a delete
/// bitmap (or used one of another version) would not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_on_write_under_compaction_reads_and_kill9() {
    let dir = TempDir::new("mow-compaction");
    let flags = [
        "--cumulative-compaction-min-deltas",
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
    conn.query_drop("CREATE DATABASE m").await.unwrap();
    conn.query_drop(
        "CREATE TABLE m.t (k INT NOT NULL, v INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1",
    )
    .await
    .unwrap();
    let upsert = |i: i64| {
        let values: Vec<String> = (0..6).map(|k| format!("({k}, {i})")).collect();
        format!("INSERT INTO m.t VALUES {}", values.join(", "))
    };
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, url) = (Arc::clone(&stop), server.mysql_url());
        tokio::spawn(async move {
            let mut conn = mysql_async::Conn::from_url(url).await.unwrap();
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let r: Vec<(i64, Option<i64>, Option<i64>)> = conn
                    .query("SELECT COUNT(*), MIN(v), MAX(v) FROM m.t")
                    .await
                    .unwrap();
                let (n, lo, hi) = r[0];
                assert!(n == 0 || (n == 6 && lo == hi), "a torn read: {r:?}");
                reads += 1;
            }
            reads
        })
    };
    for i in 1..=30 {
        conn.query_drop(upsert(i)).await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.await.unwrap() > 0);
    let expect = |v: i64| {
        (0..6)
            .map(|k| vec![k.to_string(), v.to_string()])
            .collect::<Vec<_>>()
    };
    assert_eq!(
        rows(&mut conn, "SELECT * FROM m.t ORDER BY k").await,
        expect(30)
    );
    let tablets = rows(&mut conn, "SHOW TABLETS FROM m.t").await;
    let count: u64 = tablets[0][15].parse().unwrap();
    assert!(count < 8, "VersionCount {count}");

    // The bitmaps are durable, and the key index is rebuilt after a restart.
    drop(conn);
    server.kill9();
    server.start();
    let mut conn = server.connect().await;
    assert_eq!(
        rows(&mut conn, "SELECT * FROM m.t ORDER BY k").await,
        expect(30)
    );
    conn.query_drop(upsert(31)).await.unwrap();
    conn.query_drop("INSERT INTO m.t (k, v, __DORIS_DELETE_SIGN__) VALUES (5, 0, 1)")
        .await
        .unwrap();
    let mut after = expect(31);
    after.pop();
    assert_eq!(rows(&mut conn, "SELECT * FROM m.t ORDER BY k").await, after);
}
