//! Real clients: a Rust driver (text and binary protocol), the mysql CLI, Python
//! pymysql, and JDBC (MariaDB Connector/J) with plain and server-side prepared statements.

use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::path::PathBuf;
use std::process::Command;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_driver_text_and_binary_protocol() {
    let dir = TempDir::new("rustdrv");
    let server = Process::standalone(dir.path());
    let mut conn = server.connect().await;
    conn.query_drop("CREATE DATABASE r").await.unwrap();
    conn.query_drop("USE r").await.unwrap();
    conn.query_drop("CREATE TABLE t (id INT, price DECIMAL(10,2), at DATETIME, name VARCHAR(10)) DISTRIBUTED BY HASH(id) BUCKETS 2").await.unwrap();
    let insert = conn
        .prep("INSERT INTO t VALUES (?, ?, ?, ?)")
        .await
        .unwrap();
    conn.exec_drop(&insert, (1, "9.99", "2024-01-02 03:04:05", "it's"))
        .await
        .unwrap();
    conn.exec_drop(
        &insert,
        (
            2,
            "0.01",
            mysql_async::Value::NULL,
            mysql_async::Value::NULL,
        ),
    )
    .await
    .unwrap();
    assert_eq!(conn.affected_rows(), 1);

    // Binary protocol: typed values and column metadata.
    let result: Vec<(i32, String, mysql_async::Value, Option<String>)> = conn
        .exec(
            "SELECT id, price, at, name FROM t WHERE id >= ? ORDER BY id",
            (1,),
        )
        .await
        .unwrap();
    assert_eq!(
        result[0],
        (
            1,
            "9.99".into(),
            mysql_async::Value::Date(2024, 1, 2, 3, 4, 5, 0),
            Some("it's".into())
        )
    );
    assert_eq!(
        result[1],
        (2, "0.01".into(), mysql_async::Value::NULL, None)
    );
    let q = conn
        .exec_iter("SELECT price FROM t WHERE id = ?", (1,))
        .await
        .unwrap();
    let col = q.columns().unwrap()[0].clone();
    assert_eq!(
        col.column_type(),
        mysql_async::consts::ColumnType::MYSQL_TYPE_NEWDECIMAL
    );
    assert_eq!(col.decimals(), 2);
    q.drop_result().await.unwrap();

    // COM_FIELD_LIST-free paths: COM_PING, COM_INIT_DB, COM_RESET_CONNECTION.
    conn.ping().await.unwrap();
    conn.query_drop("SET @x = 5").await.unwrap();
    conn.reset().await.unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT @x").await,
        vec![vec!["NULL".to_string()]]
    );

    // A 17 MiB query (split into several packets) and a 17 MiB row coming back.
    let big = "x".repeat(17 << 20);
    let len: Vec<i64> = conn.query(format!("SELECT LENGTH('{big}')")).await.unwrap();
    assert_eq!(len, vec![17 << 20]);
    let echoed: Vec<String> = conn.query(format!("SELECT '{big}'")).await.unwrap();
    assert_eq!(echoed[0].len(), 17 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_are_refused() {
    let dir = TempDir::new("auth");
    let server = Process::standalone(dir.path());
    let port = server.port("query_port");
    for url in [
        format!("mysql://root:secret@127.0.0.1:{port}"),
        format!("mysql://nobody@127.0.0.1:{port}"),
    ] {
        match mysql_async::Conn::from_url(url.as_str()).await {
            Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1045, "{url}: {e}"),
            other => panic!("{url}: expected access denied, got {other:?}"),
        }
    }
    match mysql_async::Conn::from_url(format!("mysql://root@127.0.0.1:{port}/no_such_db")).await {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1049),
        other => panic!("expected unknown database, got {other:?}"),
    }
    // Every connection has its own id.
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    assert_ne!(
        rows(&mut a, "SELECT CONNECTION_ID()").await,
        rows(&mut b, "SELECT CONNECTION_ID()").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_command_line_client() {
    let dir = TempDir::new("cli");
    let server = Process::standalone(dir.path());
    let port = server.port("query_port").to_string();
    let sql = "CREATE DATABASE cli; USE cli; \
               CREATE TABLE t (k INT, v VARCHAR(8)) DISTRIBUTED BY HASH(k) BUCKETS 2; \
               INSERT INTO t VALUES (1, 'one'), (2, NULL); \
               SELECT k, v FROM t ORDER BY k; SELECT DATABASE();";
    let out = run(Command::new("mysql").args([
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "-u",
        "root",
        "--batch",
        "-e",
        sql,
    ]));
    assert_eq!(out, "k\tv\n1\tone\n2\tNULL\nDATABASE()\ncli\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_pymysql() {
    let dir = TempDir::new("pymysql");
    let server = Process::standalone(dir.path());
    let python = std::env::var("BASALT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = clients_dir().join("pymysql_smoke.py");
    let out = run(Command::new(python)
        .arg(script)
        .arg(server.port("query_port").to_string()));
    assert_eq!(
        out,
        "inserted 2\n\
         rows ((1, \"a'b\", Decimal('1.50')), (2, None, Decimal('20.25')))\n\
         decimal price 2\n\
         exact True [True, True] ['Decimal', 'str']\n\
         comment Basalt 0.1.0 (Doris compatible)\n\
         error 1146\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_mariadb_connector() {
    let dir = TempDir::new("jdbc");
    let server = Process::standalone(dir.path());
    let jar = std::env::var("BASALT_JDBC_JAR")
        .unwrap_or_else(|_| "/usr/share/java/mariadb-java-client.jar".into());
    let out = run(Command::new("java")
        .args(["-cp", &jar])
        .arg(clients_dir().join("JdbcSmoke.java"))
        .arg(server.port("query_port").to_string()));
    assert_eq!(
        out,
        "false inserted 1\nfalse row 7 12.34 2024-05-06\nfalse scale 2 precision 10\n\
         false exact 123456789012345678.123456789 170141183460469231731687303715884105727\n\
         false exact -0.000000001 -170141183460469231731687303715884105728\n\
         true inserted 1\ntrue row 7 12.34 2024-05-06\ntrue scale 2 precision 10\n\
         true exact 123456789012345678.123456789 170141183460469231731687303715884105727\n\
         true exact -0.000000001 -170141183460469231731687303715884105728\n"
    );
}
