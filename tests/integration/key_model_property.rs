//! A property test of the key models: random loads, upserts, partial
//! updates, deletes and updates on AGGREGATE, UNIQUE (merge-on-write,
//! merge-on-read, with a sequence column) and DUPLICATE tables, while
//! compaction runs all the time and a reader queries throughout, with a
//! kill -9 now and then. After every step each table equals an in-memory
//! model of Doris's semantics. The seed comes from `BASALT_PROPERTY_SEED`
//! (printed, so a failure can be replayed).

use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const KEYS: i64 = 12;
const STEPS: usize = 300;

/// AGGREGATE: s SUM, mx MAX, mn MIN, r REPLACE, rn REPLACE_IF_NOT_NULL.
#[derive(Clone, Debug, PartialEq)]
struct AggRow {
    s: i64,
    mx: i64,
    mn: i64,
    r: Option<i64>,
    rn: Option<i64>,
}

/// The model: what each table must hold.
#[derive(Default)]
struct Model {
    agg: BTreeMap<i64, AggRow>,
    /// UNIQUE (a, b): the merge-on-write table, and the merge-on-read one.
    mow: BTreeMap<i64, (Option<i64>, Option<i64>)>,
    mor: BTreeMap<i64, (Option<i64>, Option<i64>)>,
    /// UNIQUE with a sequence column: key -> (v, ts, deleted).
    seq: BTreeMap<i64, (i64, i64, bool)>,
    /// DUPLICATE: every row.
    dup: Vec<(i64, i64)>,
}

fn opt(v: Option<i64>) -> String {
    v.map_or("NULL".into(), |v| v.to_string())
}

impl Model {
    fn expected(&self, table: &str) -> Vec<Vec<String>> {
        match table {
            "agg" => self
                .agg
                .iter()
                .map(|(k, r)| {
                    vec![
                        k.to_string(),
                        r.s.to_string(),
                        r.mx.to_string(),
                        r.mn.to_string(),
                        opt(r.r),
                        opt(r.rn),
                    ]
                })
                .collect(),
            "mow" | "mor" => if table == "mow" { &self.mow } else { &self.mor }
                .iter()
                .map(|(k, (a, b))| vec![k.to_string(), opt(*a), opt(*b)])
                .collect(),
            "seq" => self
                .seq
                .iter()
                .filter(|(_, (_, _, deleted))| !deleted)
                .map(|(k, (v, ts, _))| vec![k.to_string(), v.to_string(), ts.to_string()])
                .collect(),
            _ => {
                let mut d = self.dup.clone();
                d.sort();
                d.iter()
                    .map(|(k, v)| vec![k.to_string(), v.to_string()])
                    .collect()
            }
        }
    }
}

fn query(table: &str) -> String {
    match table {
        "agg" => "SELECT k, s, mx, mn, r, rn FROM p.agg ORDER BY k".into(),
        "seq" => "SELECT k, v, ts FROM p.seq ORDER BY k".into(),
        "dup" => "SELECT k, v FROM p.dup ORDER BY k, v".into(),
        t => format!("SELECT k, a, b FROM p.{t} ORDER BY k"),
    }
}

const TABLES: [&str; 5] = ["agg", "mow", "mor", "seq", "dup"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_operations_match_the_model_through_compaction_and_kill9() {
    let (seed, mut rng) = basalt_tests::property_rng();
    let dir = TempDir::new("property");
    let flags = [
        "--cumulative-compaction-min-deltas",
        "2",
        "--base-compaction-min-rowset-num",
        "2",
        "--max-tablet-version-num",
        "12",
        "--generate-compaction-tasks-interval-ms",
        "10",
        "--tablet-rowset-stale-sweep-time-sec",
        "1",
    ];
    let mut server = Process::standalone_with(dir.path(), &flags);
    let mut conn = server.connect().await;
    for sql in [
        "CREATE DATABASE p",
        "CREATE TABLE p.agg (k INT NOT NULL, s BIGINT SUM, mx INT MAX, mn INT MIN, \
         r INT REPLACE, rn INT REPLACE_IF_NOT_NULL) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
        "CREATE TABLE p.mow (k INT NOT NULL, a INT, b INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
        "CREATE TABLE p.mor (k INT NOT NULL, a INT, b INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 \
         PROPERTIES (\"enable_unique_key_merge_on_write\" = \"false\")",
        "CREATE TABLE p.seq (k INT NOT NULL, v INT, ts INT) UNIQUE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 \
         PROPERTIES (\"function_column.sequence_col\" = \"ts\")",
        "CREATE TABLE p.dup (k INT NOT NULL, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2",
    ] {
        conn.query_drop(sql).await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut model = Model::default();
    let mut reader = spawn_reader(server.mysql_url(), Arc::clone(&stop));
    for step in 0..STEPS {
        let op = rng.random_range(0..100);
        let what = apply(&mut rng, &mut model, &mut conn, op).await;
        for t in TABLES {
            let got = rows(&mut conn, &query(t)).await;
            assert_eq!(
                got,
                model.expected(t),
                "{t} after step {step} ({what}); seed {seed}"
            );
        }
        // Now and then the server dies while compaction is at work, and
        // while a merge-on-write load is on its way: after the restart the
        // load is there whole or not at all.
        if step % 60 == 59 {
            stop.store(true, Ordering::Relaxed);
            reader.await.unwrap();
            let marker = 1000 + step as i64;
            let url = server.mysql_url();
            let load = tokio::spawn(async move {
                // The kill may come before the connection does.
                let mut c = mysql_async::Conn::from_url(url).await?;
                let values: Vec<String> =
                    (0..50).map(|i| format!("({marker}, {i}, {i})")).collect();
                c.query_drop(format!(
                    "INSERT INTO p.mow WITH LABEL marker_{marker} VALUES {}",
                    values.join(", ")
                ))
                .await
            });
            let pause = rng.random_range(0..40);
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            drop(conn);
            server.kill9();
            let acknowledged = load.await.unwrap().is_ok();
            server.start();
            conn = server.connect().await;
            // A load committed before the kill becomes visible once the FE
            // publishes it again; one that was not is aborted.
            let status = status_of(&mut conn, &format!("marker_{marker}")).await;
            assert!(!acknowledged || status == "VISIBLE", "{status}");
            if status == "VISIBLE" {
                model.mow.insert(marker, (Some(49), Some(49)));
            }
            for t in TABLES {
                let got = rows(&mut conn, &query(t)).await;
                assert_eq!(
                    got,
                    model.expected(t),
                    "{t} after kill -9 at step {step}; seed {seed}"
                );
            }
            stop.store(false, Ordering::Relaxed);
            reader = spawn_reader(server.mysql_url(), Arc::clone(&stop));
        }
    }
    stop.store(true, Ordering::Relaxed);
    reader.await.unwrap();
}

/// A load's final status (VISIBLE or ABORTED; NONE if it never began),
/// waiting while it is still on its way.
async fn status_of(conn: &mut mysql_async::Conn, label: &str) -> String {
    for _ in 0..100 {
        let sql = format!("SHOW TRANSACTION FROM p WHERE label = '{label}'");
        // A label that never began is unknown: Doris answers an error.
        let found: Result<Vec<mysql_async::Row>, _> = conn.query(&sql).await;
        let status = match found {
            Err(e) if e.to_string().contains("does not exist") => "NONE".to_string(),
            Err(e) => panic!("{sql}: {e}"),
            Ok(r) => r
                .first()
                .and_then(|r| r.get::<String, _>(3))
                .unwrap_or_else(|| "NONE".into()),
        };
        if status != "PREPARE" && status != "COMMITTED" {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("load {label} never finished");
}

/// Queries every table in a loop; each read must succeed.
fn spawn_reader(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut conn = mysql_async::Conn::from_url(url).await.unwrap();
        while !stop.load(Ordering::Relaxed) {
            for t in TABLES {
                let r: Result<Vec<mysql_async::Row>, _> = conn.query(query(t)).await;
                r.unwrap_or_else(|e| panic!("reading {t}: {e}"));
            }
        }
    })
}

/// One random operation, applied to the server and to the model; its text.
async fn apply(rng: &mut StdRng, m: &mut Model, conn: &mut mysql_async::Conn, op: i32) -> String {
    let key = |rng: &mut StdRng| rng.random_range(0..KEYS);
    let val = |rng: &mut StdRng| rng.random_range(-50..50i64);
    let maybe = |rng: &mut StdRng| rng.random_bool(0.8).then(|| rng.random_range(-50..50i64));
    let sql = match op {
        // A load into every table.
        0..=44 => {
            let n = rng.random_range(1..6);
            let mut agg = Vec::new();
            let mut uniq = Vec::new();
            let mut seq = Vec::new();
            let mut dup = Vec::new();
            for _ in 0..n {
                let k = key(rng);
                let (v, r, rn) = (val(rng), maybe(rng), maybe(rng));
                agg.push(format!("({k}, {v}, {v}, {v}, {}, {})", opt(r), opt(rn)));
                let e = m.agg.entry(k).or_insert(AggRow {
                    s: 0,
                    mx: v,
                    mn: v,
                    r: None,
                    rn: None,
                });
                e.s += v;
                e.mx = e.mx.max(v);
                e.mn = e.mn.min(v);
                e.r = r;
                if rn.is_some() {
                    e.rn = rn;
                }
                let (a, b) = (maybe(rng), maybe(rng));
                uniq.push(format!("({k}, {}, {})", opt(a), opt(b)));
                m.mow.insert(k, (a, b));
                m.mor.insert(k, (a, b));
                let ts = rng.random_range(0..20);
                seq.push(format!("({k}, {v}, {ts})"));
                match m.seq.get(&k) {
                    Some((_, old, _)) if ts < *old => {}
                    _ => {
                        m.seq.insert(k, (v, ts, false));
                    }
                }
                dup.push(format!("({k}, {v})"));
                m.dup.push((k, v));
            }
            format!(
                "INSERT INTO p.agg VALUES {}; INSERT INTO p.mow VALUES {u}; \
                 INSERT INTO p.mor VALUES {u}; INSERT INTO p.seq VALUES {}; INSERT INTO p.dup VALUES {}",
                agg.join(", "),
                seq.join(", "),
                dup.join(", "),
                u = uniq.join(", "),
            )
        }
        // DELETE by key range everywhere.
        45..=59 => {
            let (lo, hi) = {
                let a = key(rng);
                let b = key(rng);
                (a.min(b), a.max(b))
            };
            m.agg.retain(|k, _| !(lo..=hi).contains(k));
            m.mow.retain(|k, _| !(lo..=hi).contains(k));
            m.mor.retain(|k, _| !(lo..=hi).contains(k));
            for (k, row) in m.seq.iter_mut() {
                // A delete takes the row's own sequence value.
                if (lo..=hi).contains(k) {
                    row.2 = true;
                }
            }
            m.dup.retain(|(k, _)| !(lo..=hi).contains(k));
            let w = format!("k >= {lo} AND k <= {hi}");
            TABLES
                .iter()
                .map(|t| format!("DELETE FROM p.{t} WHERE {w}"))
                .collect::<Vec<_>>()
                .join("; ")
        }
        // DELETE of a value on DUPLICATE.
        60..=64 => {
            let v = val(rng);
            m.dup.retain(|(_, x)| *x < v);
            format!("DELETE FROM p.dup WHERE v >= {v}")
        }
        // UPDATE on the UNIQUE tables.
        65..=79 => {
            let hi = key(rng);
            let d = val(rng);
            for (k, (a, _)) in m.mow.iter_mut().chain(m.mor.iter_mut()) {
                if *k <= hi {
                    *a = a.map(|a| a + d);
                }
            }
            format!(
                "UPDATE p.mow SET a = a + ({d}) WHERE k <= {hi}; UPDATE p.mor SET a = a + ({d}) WHERE k <= {hi}"
            )
        }
        // A partial update of b on merge-on-write (the others load it whole).
        80..=89 => {
            let k = key(rng);
            let b = maybe(rng);
            let a = m.mow.get(&k).and_then(|(a, _)| *a);
            m.mow.insert(k, (a, b));
            m.mor.insert(k, (a, b));
            format!(
                "SET enable_unique_key_partial_update = true; INSERT INTO p.mow (k, b) VALUES ({k}, {b}); \
                 SET enable_unique_key_partial_update = false; INSERT INTO p.mor VALUES ({k}, {a}, {b})",
                b = opt(b),
                a = opt(a)
            )
        }
        // A sequence value below the current one loses, a delete with a high one wins.
        _ => {
            let k = key(rng);
            let ts = rng.random_range(0..40);
            let v = val(rng);
            let deleting = rng.random_bool(0.3);
            match m.seq.get(&k) {
                Some((_, old, _)) if ts < *old => {}
                _ => {
                    m.seq.insert(k, (v, ts, deleting));
                }
            }
            format!(
                "INSERT INTO p.seq (k, v, ts, __DORIS_DELETE_SIGN__) VALUES ({k}, {v}, {ts}, {})",
                deleting as i32
            )
        }
    };
    conn.query_drop(&sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    sql
}
