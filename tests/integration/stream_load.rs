//! Stream Load through the real `curl` client: through the FE's redirect and
//! directly at a BE, Doris's headers and answers, labels, bad rows and their
//! error log, and the data a query then sees.

use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// curl with these arguments: the last response's HTTP status and body.
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A counter from a BE's `/metrics`, by its full name with labels.
pub fn metric(webserver_port: u16, key: &str) -> u64 {
    let (_, metrics) = curl(&[&format!("http://127.0.0.1:{webserver_port}/metrics")]);
    let prefix = format!("{key} ");
    let line = metrics.lines().find(|l| l.starts_with(&prefix));
    let line = line.unwrap_or_else(|| panic!("no {key} in {metrics}"));
    line[prefix.len()..].trim().parse().unwrap()
}

/// A Stream Load of `data` with extra `-H` headers; the answer as JSON.
pub fn stream_load(url: &str, user: &str, data: &Path, headers: &[&str]) -> (u16, Value) {
    let mut args = vec!["--location-trusted", "-u", user, "-T"];
    let file = data.display().to_string();
    args.push(&file);
    for h in headers {
        args.push("-H");
        args.push(h);
    }
    args.push(url);
    let (code, body) = curl(&args);
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (code, json)
}

pub fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

pub struct Server {
    _dir: TempDir,
    pub data: std::path::PathBuf,
    pub server: Process,
}

impl Server {
    pub async fn start(tag: &str) -> Server {
        Self::start_with(tag, &[]).await
    }

    pub async fn start_with(tag: &str, flags: &[&str]) -> Server {
        let dir = TempDir::new(tag);
        let server = Process::standalone_with(&dir.path().join("data"), flags);
        let data = dir.path().join("files");
        std::fs::create_dir_all(&data).unwrap();
        let mut conn = server.connect().await;
        conn.query_drop("CREATE DATABASE db").await.unwrap();
        conn.query_drop(
            "CREATE TABLE db.t (id INT NOT NULL, name VARCHAR(8), amount DECIMAL(10, 2), dt DATE) \
             DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3",
        )
        .await
        .unwrap();
        Server {
            _dir: dir,
            data,
            server,
        }
    }

    /// The server's own data directory.
    pub fn server_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    pub fn fe_url(&self, table: &str) -> String {
        format!(
            "http://127.0.0.1:{}/api/db/{table}/_stream_load",
            self.server.port("http_port")
        )
    }

    pub fn be_url(&self, table: &str) -> String {
        format!(
            "http://127.0.0.1:{}/api/db/{table}/_stream_load",
            self.server.port("webserver_port")
        )
    }

    pub async fn table(&self) -> Vec<Vec<String>> {
        let mut conn = self.server.connect().await;
        rows(
            &mut conn,
            "SELECT id, name, amount, dt FROM db.t ORDER BY id",
        )
        .await
    }
}

pub fn row(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_the_fe_and_at_the_be_with_labels() {
    let s = Server::start("stream-load-basic").await;
    let file = write(
        &s.data,
        "a.csv",
        "1,ann,10.50,2024-01-02\n2,bob,\\N,2024-02-03\n",
    );
    let (code, r) = stream_load(
        &s.fe_url("t"),
        "root:",
        &file,
        &["label: first", "column_separator: ,"],
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["Label"], "first");
    assert_eq!(r["Message"], "OK");
    assert_eq!(r["NumberTotalRows"], 2);
    assert_eq!(r["NumberLoadedRows"], 2);
    assert_eq!(r["NumberFilteredRows"], 0);
    assert_eq!(r["TwoPhaseCommit"], "false");
    assert!(r["TxnId"].as_i64().unwrap() > 0);
    assert_eq!(r["LoadBytes"], std::fs::metadata(&file).unwrap().len());
    for field in [
        "Comment",
        "NumberUnselectedRows",
        "LoadTimeMs",
        "BeginTxnTimeMs",
        "StreamLoadPutTimeMs",
        "ReadDataTimeMs",
        "WriteDataTimeMs",
        "CommitAndPublishTimeMs",
    ] {
        assert!(r.get(field).is_some(), "{field} missing: {r}");
    }
    assert!(r.get("ErrorURL").is_none(), "{r}");
    assert_eq!(
        s.table().await,
        vec![
            row(&["1", "ann", "10.50", "2024-01-02"]),
            row(&["2", "bob", "NULL", "2024-02-03"])
        ]
    );

    // The same label again never loads twice.
    let (_, again) = stream_load(
        &s.fe_url("t"),
        "root:",
        &file,
        &["label: first", "column_separator: ,"],
    );
    assert_eq!(again["Status"], "Label Already Exists", "{again}");
    assert_eq!(again["ExistingJobStatus"], "FINISHED", "{again}");
    assert_eq!(s.table().await.len(), 2);

    // Directly at the backend, tab-separated (the default), with no label.
    let tabs = write(&s.data, "b.tsv", "3\tcid\t1.25\t2024-03-04\n");
    let (code, r) = stream_load(&s.be_url("t"), "root:", &tabs, &[]);
    assert_eq!((code, &r["Status"]), (200, &Value::from("Success")), "{r}");
    assert!(!r["Label"].as_str().unwrap().is_empty(), "{r}");
    assert_eq!(s.table().await.len(), 3);

    // The FE answers 307 with the credentials in the Location.
    let (code, _) = curl(&[
        "-o",
        "/dev/null",
        "-u",
        "root:",
        "-T",
        &tabs.display().to_string(),
        &s.fe_url("t"),
    ]);
    assert_eq!(code, 307);

    // Wrong or missing credentials: 401 with the same JSON shape, at both.
    for url in [s.fe_url("t"), s.be_url("t")] {
        let (code, r) = stream_load(&url, "root:wrong", &tabs, &[]);
        assert_eq!(code, 401, "{r}");
        assert_eq!(r["Status"], "Fail");
        assert!(
            r["Message"].as_str().unwrap().contains("Access denied"),
            "{r}"
        );
    }
    let (code, body) = curl(&["-T", &tabs.display().to_string(), &s.be_url("t")]);
    assert_eq!(code, 401, "{body}");

    // An unknown table fails before any redirect, in the same shape.
    let (code, r) = stream_load(&s.fe_url("nope"), "root:", &tabs, &[]);
    assert_eq!((code, &r["Status"]), (200, &Value::from("Fail")), "{r}");
    assert_eq!(s.table().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_headers_shape_the_rows() {
    let s = Server::start("stream-load-csv").await;
    let load = |name: &str, text: &str, headers: &[&str]| {
        let file = write(&s.data, name, text);
        let (code, r) = stream_load(&s.fe_url("t"), "root:", &file, headers);
        assert_eq!((code, &r["Status"]), (200, &Value::from("Success")), "{r}");
        r
    };
    // A multi-character separator, CRLF lines and a header line skipped.
    load(
        "a.csv",
        "id||name||amount||dt\r\n1||a||1.00||2024-01-01\r\n",
        &[
            "column_separator: ||",
            "line_delimiter: \\r\\n",
            "skip_lines: 1",
        ],
    );
    // A hex separator, csv_with_names, columns in another order, one absent.
    load(
        "b.csv",
        "name\x01id\nb\x012\n",
        &[
            "column_separator: \\x01",
            "format: csv_with_names",
            "columns: name,id",
        ],
    );
    // Enclosed fields holding the separator, and trimmed double quotes.
    load(
        "c.csv",
        "3,'x,y',3.50,2024-03-03\n",
        &["column_separator: ,", "enclose: '"],
    );
    load(
        "d.csv",
        "\"4\",\"q\",\"4.00\",\"2024-04-04\"\n",
        &["column_separator: ,", "trim_double_quotes: true"],
    );
    // `where` drops rows as unselected.
    let r = load(
        "e.csv",
        "5,keep,5.00,2024-05-05\n\n6,drop,6.00,2024-06-06\n",
        &["column_separator: ,", "where: name = 'keep'"],
    );
    // The blank line is no row; the dropped row is unselected.
    assert_eq!(r["NumberTotalRows"], 2, "{r}");
    assert_eq!(r["NumberUnselectedRows"], 1, "{r}");
    assert_eq!(r["NumberLoadedRows"], 1, "{r}");
    assert_eq!(
        s.table().await,
        vec![
            row(&["1", "a", "1.00", "2024-01-01"]),
            row(&["2", "b", "NULL", "NULL"]),
            row(&["3", "x,y", "3.50", "2024-03-03"]),
            row(&["4", "q", "4.00", "2024-04-04"]),
            row(&["5", "keep", "5.00", "2024-05-05"]),
        ]
    );

    // Headers not built yet answer a clear failure and load nothing.
    let file = write(&s.data, "f.csv", "7,z,1,2024-01-01\n");
    let (_, r) = stream_load(
        &s.fe_url("t"),
        "root:",
        &file,
        &["column_separator: ,", "format: orc"],
    );
    assert_eq!(r["Status"], "Fail", "{r}");
    assert!(
        r["Message"].as_str().unwrap().contains("not supported"),
        "{r}"
    );
    assert_eq!(s.table().await.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_counted_described_and_bounded_by_max_filter_ratio() {
    let s = Server::start("stream-load-bad-rows").await;
    // 10 rows, 2 bad: a missing column and NULL in the NOT NULL id; one more
    // with a bad number is NULL outside strict mode and rejected in it.
    let mut text = String::new();
    for i in 0..7 {
        text.push_str(&format!("{i},n{i},1.00,2024-01-01\n"));
    }
    text.push_str("7,short\n");
    text.push_str("\\N,nullid,1.00,2024-01-01\n");
    text.push_str("9,badnum,abc,2024-01-01\n");
    let file = write(&s.data, "bad.csv", &text);
    let load = |headers: &[&str]| {
        let mut all = vec!["column_separator: ,"];
        all.extend_from_slice(headers);
        stream_load(&s.fe_url("t"), "root:", &file, &all).1
    };

    // The default ratio is 0: any bad row fails the load, and nothing is loaded.
    let r = load(&[]);
    assert_eq!(r["Status"], "Fail", "{r}");
    assert!(
        r["Message"]
            .as_str()
            .unwrap()
            .contains("too many filtered rows"),
        "{r}"
    );
    assert_eq!(r["NumberTotalRows"], 10);
    assert_eq!(r["NumberFilteredRows"], 2);
    assert_eq!(r["NumberLoadedRows"], 0);
    let url = r["ErrorURL"].as_str().expect("ErrorURL").to_string();
    let (code, log) = curl(&[&url]);
    assert_eq!(code, 200);
    assert!(
        log.contains("actual column number in csv file is less than schema column number"),
        "{log}"
    );
    assert!(log.contains("7,short"), "{log}");
    assert!(log.contains("is not nullable"), "{log}");
    assert!(s.table().await.is_empty());

    // Strict mode also rejects the value that does not convert: 3 of 10 bad.
    // Just under the bad fraction fails, just over it loads the good rows.
    let r = load(&["strict_mode: true", "max_filter_ratio: 0.29"]);
    assert_eq!(r["Status"], "Fail", "{r}");
    assert_eq!(r["NumberFilteredRows"], 3);
    let (_, log) = curl(&[r["ErrorURL"].as_str().unwrap()]);
    assert!(log.contains("strict mode"), "{log}");
    assert!(s.table().await.is_empty());
    let r = load(&["strict_mode: true", "max_filter_ratio: 0.31"]);
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberLoadedRows"], 7);
    assert_eq!(r["NumberFilteredRows"], 3);
    assert!(r["ErrorURL"].as_str().is_some(), "{r}");
    assert_eq!(s.table().await.len(), 7);

    // Outside strict mode the bad number is NULL: 2 of 10 bad.
    let r = load(&["max_filter_ratio: 0.2", "label: loose"]);
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberLoadedRows"], 8);
    let got = s.table().await;
    assert_eq!(got.len(), 15);
    assert!(got.contains(&row(&["9", "badnum", "NULL", "2024-01-01"])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_compressed_bodies_and_column_expressions() {
    let s = Server::start("stream-load-json").await;
    let load = |name: &str, text: &str, headers: &[&str]| {
        let file = write(&s.data, name, text);
        let (code, r) = stream_load(&s.fe_url("t"), "root:", &file, headers);
        assert_eq!((code, &r["Status"]), (200, &Value::from("Success")), "{r}");
        r
    };
    // One object; an array of objects; one object per line.
    load(
        "a.json",
        r#"{"id": 1, "name": "one", "amount": 1.5, "dt": "2024-01-01"}"#,
        &["format: json"],
    );
    load(
        "b.json",
        r#"[{"id": 2, "name": "two"}, {"ID": 3, "amount": "3.25", "dt": null}]"#,
        &["format: json", "strip_outer_array: true"],
    );
    let r = load(
        "c.json",
        "{\"id\": 4, \"name\": \"four\"}\n{\"id\": 5, \"name\": \"five\"}\n",
        &["format: json", "read_json_by_line: true"],
    );
    assert_eq!(r["NumberLoadedRows"], 2, "{r}");
    // json_root and jsonpaths pick nested values.
    load(
        "d.json",
        r#"{"data": {"rows": [{"k": {"v": 6}, "who": ["x", "six"]}]}}"#,
        &[
            "format: json",
            "strip_outer_array: true",
            "json_root: $.data.rows",
            r#"jsonpaths: ["$.k.v", "$.who[1]"]"#,
            "columns: id, name",
        ],
    );
    // Derived columns: the file's tmp and ts become amount and dt.
    load(
        "e.csv",
        "7,seven,3,2024-07-08 10:11:12\n",
        &[
            "column_separator: ,",
            "columns: id, name, tmp, ts, amount = tmp * 10, dt = to_date(ts)",
        ],
    );
    // Compressed bodies, made by the real tools.
    for (i, (tool, kind)) in [
        ("gzip", "gz"),
        ("lz4", "lz4"),
        ("zstd", "zstd"),
        ("bzip2", "bz2"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = 8 + i;
        let plain = write(
            &s.data,
            &format!("{kind}.csv"),
            &format!("{id},{kind},1.00,2024-02-{id:02}\n"),
        );
        let out = Command::new(tool)
            .arg("-c")
            .arg(&plain)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(out.status.success(), "{tool} failed");
        let packed = s.data.join(format!("body.{kind}"));
        std::fs::write(&packed, &out.stdout).unwrap();
        let (code, r) = stream_load(
            &s.fe_url("t"),
            "root:",
            &packed,
            &["column_separator: ,", &format!("compress_type: {kind}")],
        );
        assert_eq!(
            (code, &r["Status"]),
            (200, &Value::from("Success")),
            "{kind}: {r}"
        );
    }
    assert_eq!(
        s.table().await,
        vec![
            row(&["1", "one", "1.50", "2024-01-01"]),
            row(&["2", "two", "NULL", "NULL"]),
            row(&["3", "NULL", "3.25", "NULL"]),
            row(&["4", "four", "NULL", "NULL"]),
            row(&["5", "five", "NULL", "NULL"]),
            row(&["6", "six", "NULL", "NULL"]),
            row(&["7", "seven", "30.00", "2024-07-08"]),
            row(&["8", "gz", "1.00", "2024-02-08"]),
            row(&["9", "lz4", "1.00", "2024-02-09"]),
            row(&["10", "zstd", "1.00", "2024-02-10"]),
            row(&["11", "bz2", "1.00", "2024-02-11"]),
        ]
    );
    // An array without strip_outer_array is refused, as in Doris.
    let file = write(&s.data, "f.json", r#"[{"id": 12}]"#);
    let (_, r) = stream_load(&s.fe_url("t"), "root:", &file, &["format: json"]);
    assert_eq!(r["Status"], "Fail", "{r}");
    assert!(
        r["Message"].as_str().unwrap().contains("strip_outer_array"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_through_the_redirect_and_the_proxy() {
    let s = Server::start("stream-load-python").await;
    let file = write(
        &s.data,
        "p.csv",
        "1,py,1.00,2024-01-01\n2,py,2.00,2024-01-02\n",
    );
    let python = std::env::var("BASALT_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join("stream_load_requests.py");
    let out = Command::new(python)
        .arg(script)
        .arg(s.server.port("http_port").to_string())
        .arg(&file)
        .output()
        .expect("run python");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    let redirected: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(redirected["Status"], "Success", "{redirected}");
    assert_eq!(redirected["Label"], "py_redirect");
    // Proxy mode: the FE itself answers 200 with the backend's result.
    let (code, proxied) = lines.next().unwrap().split_once(' ').unwrap();
    assert_eq!(code, "200");
    let proxied: Value = serde_json::from_str(proxied).unwrap();
    assert_eq!(proxied["Status"], "Success", "{proxied}");
    assert_eq!(proxied["NumberLoadedRows"], 2);
    assert_eq!(s.table().await.len(), 4);
}

/// DECIMAL(27, 9) and LARGEINT load exactly from CSV and from JSON numbers
/// (not read through f64), rounded half up to the column's scale; in strict
/// mode a LARGEINT past its range is a filtered row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_numbers_through_csv_and_json() {
    let s = Server::start("stream-load-exact").await;
    let mut conn = s.server.connect().await;
    conn.query_drop(
        "CREATE TABLE db.n (id INT NOT NULL, d DECIMAL(27, 9), l LARGEINT) \
         DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 2",
    )
    .await
    .unwrap();
    let csv = write(
        &s.data,
        "n.csv",
        "1,123456789012345678.123456789,170141183460469231731687303715884105727\n\
         2,-123456789012345678.123456789,-170141183460469231731687303715884105728\n\
         3,0.0000000015,170141183460469231731687303715884105728\n",
    );
    let (code, r) = stream_load(
        &s.fe_url("n"),
        "root:",
        &csv,
        &[
            "column_separator: ,",
            "strict_mode: true",
            "max_filter_ratio: 0.5",
        ],
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        (
            r["NumberLoadedRows"].as_u64(),
            r["NumberFilteredRows"].as_u64()
        ),
        (Some(2), Some(1)),
        "{r}"
    );
    let json = write(
        &s.data,
        "n.json",
        r#"[{"id": 11, "d": 123456789012345678.123456789, "l": 170141183460469231731687303715884105727},
            {"id": 12, "d": -0.0000000005, "l": -170141183460469231731687303715884105728},
            {"id": 13, "d": "99999999999999999.999999999", "l": "-1"}]"#,
    );
    let (code, r) = stream_load(
        &s.fe_url("n"),
        "root:",
        &json,
        &["format: json", "strip_outer_array: true"],
    );
    assert_eq!((code, &r["Status"]), (200, &Value::from("Success")), "{r}");
    let got = rows(&mut conn, "SELECT id, d, l FROM db.n ORDER BY id").await;
    let want = [
        [
            "1",
            "123456789012345678.123456789",
            "170141183460469231731687303715884105727",
        ],
        [
            "2",
            "-123456789012345678.123456789",
            "-170141183460469231731687303715884105728",
        ],
        [
            "11",
            "123456789012345678.123456789",
            "170141183460469231731687303715884105727",
        ],
        [
            "12",
            "-0.000000001",
            "-170141183460469231731687303715884105728",
        ],
        ["13", "99999999999999999.999999999", "-1"],
    ];
    assert_eq!(got, want.map(|r| row(&r)).to_vec());
}

/// A JSON document over `streaming_load_json_max_mb` (1 MB here) is refused
/// with Doris's message, before the whole of it is read; the same rows as
/// JSON lines load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_documents_over_the_json_limit_are_refused() {
    let s = Server::start_with("json-max", &["--streaming-load-json-max-mb", "1"]).await;
    let rows: Vec<String> = (0..25_000)
        .map(|i| {
            format!(
                r#"{{"id": {i}, "name": "n{}", "amount": 1.50, "dt": "2024-01-02"}}"#,
                i % 10
            )
        })
        .collect();
    let array = write(&s.data, "array.json", &format!("[{}]", rows.join(",")));
    let size = std::fs::metadata(&array).unwrap().len();
    assert!(size > 1 << 20);
    let (_, r) = stream_load(
        &s.fe_url("t"),
        "root:",
        &array,
        &["format: json", "strip_outer_array: true"],
    );
    assert_eq!(r["Status"], "Fail", "{r}");
    let message = r["Message"].as_str().unwrap();
    assert!(
        message
            == format!("[DATA_QUALITY_ERROR]The size of this batch exceed the max size [1048576]  of json type data  data [ {size} ]. Split the file, or use 'read_json_by_line'"),
        "{r}"
    );
    assert!(s.table().await.is_empty());
    let lines = write(&s.data, "lines.json", &rows.join("\n"));
    let (_, r) = stream_load(
        &s.fe_url("t"),
        "root:",
        &lines,
        &["format: json", "read_json_by_line: true"],
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberLoadedRows"], 25_000, "{r}");
}
