//! A property test of exact numbers on every load path: random values of
//! every numeric type, boundaries included (0, ±1, each type's min and max,
//! the largest scale, values that round at the scale), go in by INSERT
//! VALUES (bare and quoted), INSERT ... SELECT, Stream Load CSV and JSON and
//! group commit, and each reads back equal to the value computed here with
//! i128 (DECIMAL rounded half up, away from zero, to the column's scale;
//! DOUBLE as the nearest f64). The seed comes from `BASALT_PROPERTY_SEED`
//! (printed, so a failure can be replayed).

use crate::stream_load::{stream_load, write};
use basalt_tests::cluster::Cluster;
use basalt_tests::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use rand::rngs::StdRng;
use rand::Rng;
use std::path::Path;

const ROWS: usize = 40;

#[derive(Clone, Copy)]
enum Kind {
    Int(i128, i128),
    Decimal(u32, u32),
    Double,
}

const COLUMNS: [(&str, &str, Kind); 11] = [
    ("t", "TINYINT", Kind::Int(i8::MIN as i128, i8::MAX as i128)),
    (
        "s",
        "SMALLINT",
        Kind::Int(i16::MIN as i128, i16::MAX as i128),
    ),
    ("i", "INT", Kind::Int(i32::MIN as i128, i32::MAX as i128)),
    ("b", "BIGINT", Kind::Int(i64::MIN as i128, i64::MAX as i128)),
    ("l", "LARGEINT", Kind::Int(i128::MIN, i128::MAX)),
    ("d1", "DECIMAL(9, 2)", Kind::Decimal(9, 2)),
    ("d2", "DECIMAL(18, 6)", Kind::Decimal(18, 6)),
    ("d3", "DECIMAL(27, 9)", Kind::Decimal(27, 9)),
    ("d4", "DECIMAL(38, 10)", Kind::Decimal(38, 10)),
    ("d5", "DECIMAL(38, 0)", Kind::Decimal(38, 0)),
    ("f", "DOUBLE", Kind::Double),
];

/// A value's text as loaded, and the text it must read back as.
fn value(rng: &mut StdRng, kind: Kind) -> (String, String) {
    match kind {
        Kind::Int(min, max) => {
            let v = match rng.random_range(0..10) {
                0 => min,
                1 => max,
                2 => 0,
                3 => 1,
                4 => -1,
                _ if max == i128::MAX => rng.random::<i128>(),
                _ => rng.random_range(min..=max),
            };
            (v.to_string(), v.to_string())
        }
        Kind::Decimal(p, s) => decimal(rng, p, s),
        Kind::Double => {
            let text = match rng.random_range(0..8) {
                0 => "0".to_string(),
                1 => "1.7976931348623157e308".to_string(),
                2 => "-2.2250738585072014e-308".to_string(),
                _ => format!(
                    "{}{}.{}e{}",
                    if rng.random() { "-" } else { "" },
                    rng.random_range(0..1_000_000_000u64),
                    rng.random_range(0..1_000_000u64),
                    rng.random_range(-20..20)
                ),
            };
            let exact: f64 = text.parse().expect("a double");
            (text, exact.to_string())
        }
    }
}

/// A DECIMAL(p, s) value: its text (up to 3 digits past the scale) and the
/// value rounded half up to the scale, as Doris stores it.
fn decimal(rng: &mut StdRng, p: u32, s: u32) -> (String, String) {
    let int_digits = p - s;
    let nines = |n: u32| "9".repeat(n as usize);
    let (negative, int, frac) = match rng.random_range(0..10) {
        // The largest and smallest values, the smallest step.
        0 => (rng.random(), nines(int_digits), nines(s)),
        1 => (
            rng.random(),
            String::new(),
            format!("{}1", "0".repeat(s.saturating_sub(1) as usize)),
        ),
        2 => (false, "0".to_string(), String::new()),
        _ => {
            // Digits past the scale round, so the integer part leaves room
            // for the carry.
            let extra = rng.random_range(0..=3u32);
            let room = if extra > 0 {
                int_digits.saturating_sub(1)
            } else {
                int_digits
            };
            let k = rng.random_range(0..=room);
            let digits = |rng: &mut StdRng, n: u32| -> String {
                (0..n)
                    .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                    .collect()
            };
            let mut frac = digits(rng, s + extra);
            // Now and then exactly half a step past the scale.
            if extra > 0 && rng.random_range(0..3) == 0 {
                frac.truncate(s as usize);
                frac.push('5');
            }
            (rng.random(), digits(rng, k), frac)
        }
    };
    // No leading zeros: JSON does not allow them.
    let int = match int.trim_start_matches('0') {
        "" => "0".to_string(),
        digits => digits.to_string(),
    };
    let text = match frac.is_empty() {
        true => int.clone(),
        false => format!("{int}.{frac}"),
    };
    let text = if negative { format!("-{text}") } else { text };
    // Rounded half up on the magnitude, in i128 (38 digits fit).
    let kept: String = frac
        .chars()
        .chain(std::iter::repeat('0'))
        .take(s as usize)
        .collect();
    let mut scaled: i128 = format!("{int}{kept}").parse().expect("digits");
    if frac.as_bytes().get(s as usize).is_some_and(|d| *d >= b'5') {
        scaled += 1;
    }
    let magnitude = scaled.to_string();
    let magnitude = match s {
        0 => magnitude,
        s => {
            let padded = format!("{:0>width$}", magnitude, width = s as usize + 1);
            let (i, f) = padded.split_at(padded.len() - s as usize);
            format!("{i}.{f}")
        }
    };
    let expected = if negative && scaled != 0 {
        format!("-{magnitude}")
    } else {
        magnitude
    };
    (text, expected)
}

/// Loads the same random rows by every path and checks every value.
async fn every_path_reads_back_exactly(mysql: &str, http_port: u16, files: &Path) {
    let (seed, mut rng) = basalt_tests::property_rng();
    let rows_in: Vec<Vec<(String, String)>> = (0..ROWS)
        .map(|_| {
            COLUMNS
                .iter()
                .map(|(_, _, k)| value(&mut rng, *k))
                .collect()
        })
        .collect();
    let mut conn = mysql_async::Conn::from_url(mysql).await.unwrap();
    let columns: Vec<String> = COLUMNS.iter().map(|(n, t, _)| format!("{n} {t}")).collect();
    conn.query_drop("CREATE DATABASE db").await.unwrap();
    conn.query_drop(format!(
        "CREATE TABLE db.n (id INT NOT NULL, {}) DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3",
        columns.join(", ")
    ))
    .await
    .unwrap();
    let values = |first: usize, quote: bool| -> String {
        let row = |(r, vals): (usize, &Vec<(String, String)>)| {
            let vals: Vec<String> = vals
                .iter()
                .map(|(text, _)| match quote {
                    true => format!("'{text}'"),
                    false => text.clone(),
                })
                .collect();
            format!("({}, {})", first + r, vals.join(", "))
        };
        let all: Vec<String> = rows_in.iter().enumerate().map(row).collect();
        all.join(", ")
    };
    // Path 1: bare numbers; 2: quoted; 3: INSERT ... SELECT of path 1.
    conn.query_drop(format!("INSERT INTO db.n VALUES {}", values(1000, false)))
        .await
        .unwrap();
    conn.query_drop(format!("INSERT INTO db.n VALUES {}", values(2000, true)))
        .await
        .unwrap();
    let names: Vec<&str> = COLUMNS.iter().map(|(n, _, _)| *n).collect();
    conn.query_drop(format!(
        "INSERT INTO db.n SELECT id + 2000, {} FROM db.n WHERE id < 2000",
        names.join(", ")
    ))
    .await
    .unwrap();
    // Path 4: Stream Load CSV; 5: JSON with bare numbers.
    let url = format!("http://127.0.0.1:{http_port}/api/db/n/_stream_load");
    let csv: Vec<String> = rows_in
        .iter()
        .enumerate()
        .map(|(r, vals)| {
            let v: Vec<&str> = vals.iter().map(|(t, _)| t.as_str()).collect();
            format!("{},{}", 4000 + r, v.join(","))
        })
        .collect();
    let file = write(files, "n.csv", &(csv.join("\n") + "\n"));
    let (code, r) = stream_load(&url, "root:", &file, &["column_separator: ,"]);
    assert_eq!(
        (code, r["NumberLoadedRows"].as_u64()),
        (200, Some(ROWS as u64)),
        "{r}"
    );
    let json: Vec<String> = rows_in
        .iter()
        .enumerate()
        .map(|(r, vals)| {
            let fields: Vec<String> = names
                .iter()
                .zip(vals)
                .map(|(n, (t, _))| format!("\"{n}\": {t}"))
                .collect();
            format!("{{\"id\": {}, {}}}", 5000 + r, fields.join(", "))
        })
        .collect();
    let file = write(files, "n.json", &format!("[{}]", json.join(",\n")));
    let (code, r) = stream_load(
        &url,
        "root:",
        &file,
        &["format: json", "strip_outer_array: true"],
    );
    assert_eq!(
        (code, r["NumberLoadedRows"].as_u64()),
        (200, Some(ROWS as u64)),
        "{r}"
    );
    // Path 6: group commit.
    conn.query_drop("SET group_commit = sync_mode")
        .await
        .unwrap();
    conn.query_drop(format!("INSERT INTO db.n VALUES {}", values(6000, false)))
        .await
        .unwrap();
    let got = rows(
        &mut conn,
        &format!("SELECT id, {} FROM db.n ORDER BY id", names.join(", ")),
    )
    .await;
    assert_eq!(got.len(), 6 * ROWS, "every path loads every row");
    for row in got {
        let id: usize = row[0].parse().unwrap();
        let want = &rows_in[id % 1000];
        for (c, ((name, _, kind), (text, expected))) in COLUMNS.iter().zip(want).enumerate() {
            let value = &row[c + 1];
            let same = match kind {
                Kind::Double => value.parse::<f64>().ok() == expected.parse::<f64>().ok(),
                _ => value == expected,
            };
            assert!(
                same,
                "path {} row {}: {name} loaded as {text} reads {value}, expected {expected}; seed {seed}",
                id / 1000,
                id % 1000
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_exact_on_every_load_path_on_standalone() {
    let dir = TempDir::new("exact-numbers");
    let server = Process::standalone(&dir.path().join("data"));
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    every_path_reads_back_exactly(&server.mysql_url(), server.port("http_port"), &files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_are_exact_on_every_load_path_on_three_backends() {
    let cluster = Cluster::start(
        "exact-numbers-cluster",
        3,
        &["--force-olap-table-replication-num", "3"],
    )
    .await;
    let files = TempDir::new("exact-numbers-files");
    every_path_reads_back_exactly(
        &cluster.fe.mysql_url(),
        cluster.fe.port("http_port"),
        files.path(),
    )
    .await;
}
