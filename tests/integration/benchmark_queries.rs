//! The benchmark queries of `benchmarks/suite.py` through the MySQL wire, on
//! standalone and on 1 FE + 3 BEs: the 22 TPC-H queries at scale factor 0.01
//! and the 13 SSB queries with their 13 over `lineorder_flat` at 0.1. Every answer must equal DuckDB's on the same
//! generated data; the suite fails the run otherwise.

use std::path::PathBuf;
use std::process::Command;

fn suite(suite: &str, sf: &str, queries: usize, extra: &[&str]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var("BASALT_PYTHON").unwrap_or_else(|_| "python3".into());
    let data = basalt_tests::TempDir::new("suite-data");
    let out = Command::new(python)
        .arg(root.join("benchmarks/suite.py"))
        .args([
            "--suite",
            suite,
            "--sf",
            sf,
            "--runs",
            "1",
            "--check",
            "--buckets",
            "4",
        ])
        .arg("--bin-dir")
        .arg(basalt_tests::bin_dir())
        .arg("--data-dir")
        .arg(data.path())
        .args(extra)
        .output()
        .expect("run benchmarks/suite.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "suite.py {suite} {extra:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!("DuckDB check: {queries} of {queries} {suite} queries match");
    assert!(stdout.contains(&all), "{stdout}");
    // No query may pass by answering nothing, but SSB's q3.4 (one month, two
    // cities on both sides) selects rows only from about scale factor 1.
    let empty: Vec<&str> = stdout
        .lines()
        .filter(|l| l.ends_with(", 0 rows") && !l.contains("q3.4:"))
        .collect();
    assert!(empty.is_empty(), "{empty:?}\n{stdout}");
}

#[test]
fn tpch_answers_match_duckdb_on_standalone() {
    suite("tpch", "0.01", 22, &[]);
}

#[test]
fn tpch_answers_match_duckdb_on_three_backends() {
    suite("tpch", "0.01", 22, &["--backends", "3"]);
}

#[test]
fn ssb_answers_match_duckdb_on_standalone() {
    suite("ssb", "0.1", 26, &[]);
}

#[test]
fn ssb_answers_match_duckdb_on_three_backends() {
    suite("ssb", "0.1", 26, &["--backends", "3"]);
}
