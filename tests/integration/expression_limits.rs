//! Long and deep expressions, as BI tools and generated SQL write them: answered
//! as DuckDB answers them up to Doris's limits (`expr_children_limit` 10,000,
//! `expr_depth_limit` 3,000), refused past them with Doris's error, and never
//! taking the server down.
//!
//! How Doris counts (its Nereids planner, which Basalt follows): a leaf (a
//! column or a literal) has width 1 and depth 1; any other node the sum of its
//! children's widths and one more than their greatest depth. AND and OR are
//! n-ary and parentheses are no node. So an OR chain of n equalities has width
//! 2n (5,000 terms is the most), `id IN (...)` with n values width n + 1
//! (9,999 values is the most), and a sum of n terms depth n.

use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::io::Write;
use std::process::{Command, Stdio};

const ROWS: usize = 10_000;

fn join(n: usize, term: impl Fn(usize) -> String, sep: &str) -> String {
    (0..n).map(term).collect::<Vec<_>>().join(sep)
}

/// `abs(abs(...(inner)...))`, `n` calls deep.
fn nest(n: usize, inner: &str) -> String {
    format!("{}{inner}{}", "abs(".repeat(n), ")".repeat(n))
}

/// Each query's rows as DuckDB answers it over the same table `t`.
fn duckdb(queries: &[String]) -> Vec<Vec<Vec<String>>> {
    let python = std::env::var("BASALT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = format!(
        "import duckdb, json, sys\n\
         c = duckdb.connect()\n\
         c.execute('SET max_expression_depth TO 10000')\n\
         c.execute('CREATE TABLE t AS SELECT range::INTEGER AS id, (range * 3)::BIGINT AS v FROM range({ROWS})')\n\
         out = [[[str(x) for x in r] for r in c.execute(q).fetchall()] for q in json.load(sys.stdin)]\n\
         print(json.dumps(out))\n"
    );
    let mut child = Command::new(python)
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with duckdb (BASALT_PYTHON)");
    let input = serde_json::to_vec(queries).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "duckdb failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn error(conn: &mut mysql_async::Conn, sql: &str) -> (u16, String) {
    match conn.query_drop(sql).await {
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// The queries at the limits, on `db.t` (id 0..ROWS, v = 3 id) and `db.control`.
pub async fn answers_and_refusals(conn: &mut mysql_async::Conn, db: &str) {
    let t = format!("{db}.t");
    let at_limit = [
        format!(
            "SELECT COUNT(*), SUM(v) FROM {t} WHERE id IN ({})",
            join(9_999, |i| (i * 7 % ROWS).to_string(), ", ")
        ),
        format!(
            "SELECT COUNT(*), SUM(v) FROM {t} WHERE {}",
            join(5_000, |i| format!("id = {}", i * 2), " OR ")
        ),
        format!(
            "SELECT COUNT(*), SUM(v) FROM {t} WHERE {}",
            join(2_000, |i| format!("id <> {}", i * 3), " AND ")
        ),
        format!(
            "SELECT SUM({}) FROM {t}",
            join(
                2_000,
                |i| if i % 2 == 0 { "id".into() } else { "v".into() },
                " + "
            )
        ),
        format!(
            "SELECT LENGTH({}) FROM {t} WHERE id = 7",
            join(2_000, |_| "'ab'".into(), " || ")
        ),
        // Nested calls, in an aggregate, a filter and a sorted projection: on
        // 3 BEs each crosses the wire in pieces.
        format!("SELECT SUM({}) FROM {t}", nest(300, "id - 5000")),
        format!(
            "SELECT COUNT(*) FROM {t} WHERE {} < 100",
            nest(300, "id - 5000")
        ),
        format!(
            "SELECT {} AS x FROM {t} ORDER BY x DESC LIMIT 3",
            nest(300, "id - 5000")
        ),
    ];
    let expected = duckdb(
        &at_limit
            .iter()
            .map(|q| q.replace(&t, "t"))
            .collect::<Vec<_>>(),
    );
    for (sql, want) in at_limit.iter().zip(expected) {
        assert_eq!(rows(conn, sql).await, want, "{}...", &sql[..80]);
    }

    let too_wide = "Exceeded the maximum children of an expression tree (10000).";
    let too_deep = "Exceeded the maximum depth of an expression tree (3000).";
    let past_limit = [
        (
            format!(
                "SELECT COUNT(*) FROM {t} WHERE {}",
                join(5_001, |i| format!("id = {i}"), " OR ")
            ),
            too_wide,
        ),
        (
            format!(
                "SELECT COUNT(*) FROM {t} WHERE id IN ({})",
                join(10_000, |i| i.to_string(), ", ")
            ),
            too_wide,
        ),
        (
            format!("SELECT {} FROM {t}", join(3_001, |_| "id".into(), " + ")),
            too_deep,
        ),
        (
            format!(
                "SELECT {}id{} FROM {t}",
                "abs(".repeat(3_000),
                ")".repeat(3_000)
            ),
            too_deep,
        ),
        // Deeper than the parser goes: refused by the parser, with the same error.
        (
            format!(
                "SELECT {}id{} FROM {t}",
                "abs(".repeat(50_000),
                ")".repeat(50_000)
            ),
            too_deep,
        ),
        // A 1.2 MB chain: refused from its tokens, before it becomes a tree.
        (format!("SELECT {}1", "1 + ".repeat(300_000)), too_wide),
    ];
    for (sql, message) in &past_limit {
        assert_eq!(
            error(conn, sql).await,
            (1105, message.to_string()),
            "{}...",
            &sql[..60]
        );
    }

    // Just under a depth limit, and just past it. (DataFusion types a call by
    // naming its whole subtree at each level, so planning a nest is cubic: at
    // the default 3,000 it would take most of an hour on a debug build.)
    conn.query_drop(r#"ADMIN SET FRONTEND CONFIG ("expr_depth_limit" = "300")"#)
        .await
        .unwrap();
    assert_eq!(
        rows(conn, &format!("SELECT SUM({}) FROM {t}", nest(298, "id"))).await,
        rows(conn, &format!("SELECT SUM(id) FROM {t}")).await
    );
    assert_eq!(
        error(conn, &format!("SELECT SUM({}) FROM {t}", nest(299, "id"))).await,
        (
            1105,
            "Exceeded the maximum depth of an expression tree (300).".into()
        )
    );
    conn.query_drop(r#"ADMIN SET FRONTEND CONFIG ("expr_depth_limit" = "3000")"#)
        .await
        .unwrap();

    // The limits are FE config, changed while the FE runs.
    assert_eq!(
        rows(conn, "ADMIN SHOW FRONTEND CONFIG LIKE 'expr%'").await,
        vec![
            vec![
                "expr_children_limit",
                "10000",
                "int",
                "true",
                "false",
                "(empty)"
            ],
            vec![
                "expr_depth_limit",
                "3000",
                "int",
                "true",
                "false",
                "(empty)"
            ],
        ]
    );
    conn.query_drop(r#"ADMIN SET FRONTEND CONFIG ("expr_children_limit" = "100")"#)
        .await
        .unwrap();
    let fifty = format!(
        "SELECT COUNT(*) FROM {t} WHERE {}",
        join(50, |i| format!("id = {i}"), " OR ")
    );
    assert_eq!(rows(conn, &fifty).await, vec![vec!["50"]]);
    let fifty_one = format!(
        "SELECT COUNT(*) FROM {t} WHERE {}",
        join(51, |i| format!("id = {i}"), " OR ")
    );
    assert_eq!(
        error(conn, &fifty_one).await,
        (
            1105,
            "Exceeded the maximum children of an expression tree (100).".into()
        )
    );
    conn.query_drop(r#"ADMIN SET FRONTEND CONFIG ("expr_children_limit" = "10000")"#)
        .await
        .unwrap();
    assert_eq!(rows(conn, &fifty_one).await, vec![vec!["51"]]);
    assert_eq!(
        error(conn, r#"ADMIN SET FRONTEND CONFIG ("query_port" = "1")"#).await,
        (1105, "Config 'query_port' is not mutable".into())
    );
    assert_eq!(
        error(conn, r#"ADMIN SET FRONTEND CONFIG ("no_such_key" = "1")"#).await,
        (1105, "Config 'no_such_key' does not exist".into())
    );

    // Still serving, with the control table unchanged.
    assert_eq!(
        rows(conn, &format!("SELECT COUNT(*), SUM(k) FROM {db}.control")).await,
        vec![vec!["3", "6"]]
    );
}

pub async fn load(conn: &mut mysql_async::Conn, db: &str, replicas: usize) {
    let props = format!("PROPERTIES ('replication_num' = '{replicas}')");
    conn.query_drop(format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    conn.query_drop(format!(
        "CREATE TABLE {db}.t (id INT, v BIGINT) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3 {props}"
    ))
    .await
    .unwrap();
    conn.query_drop(format!(
        "INSERT INTO {db}.t VALUES {}",
        join(ROWS, |i| format!("({i}, {})", i * 3), ", ")
    ))
    .await
    .unwrap();
    conn.query_drop(format!(
        "CREATE TABLE {db}.control (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 {props}"
    ))
    .await
    .unwrap();
    conn.query_drop(format!("INSERT INTO {db}.control VALUES (1), (2), (3)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn expressions_at_the_limits_on_standalone() {
    let dir = TempDir::new("expr-limits");
    let server = Process::standalone(dir.path());
    let mut conn = server.connect().await;
    load(&mut conn, "el", 1).await;
    answers_and_refusals(&mut conn, "el").await;
}

#[tokio::test]
async fn expressions_at_the_limits_on_three_backends() {
    let cluster = basalt_tests::cluster::Cluster::start("expr-limits-3be", 3, &[]).await;
    let mut conn = cluster.fe.connect().await;
    load(&mut conn, "el", 3).await;
    answers_and_refusals(&mut conn, "el").await;
}
