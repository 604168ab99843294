//! The TPC-H queries of `benchmarks/suite.py` at scale factor 0.01 through
//! the MySQL wire, on standalone and on 1 FE + 3 BEs: every answer must equal
//! DuckDB's on the same generated data (the suite fails the run otherwise).

use std::path::PathBuf;
use std::process::Command;

fn suite(extra: &[&str]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var("BASALT_PYTHON").unwrap_or_else(|_| "python3".into());
    let data = basalt_tests::TempDir::new("suite-data");
    let out = Command::new(python)
        .arg(root.join("benchmarks/suite.py"))
        .args(["--sf", "0.01", "--runs", "1", "--check", "--buckets", "4"])
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
        "suite.py {extra:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("DuckDB check: 22 of 22 queries match"),
        "{stdout}"
    );
}

#[test]
fn tpch_answers_match_duckdb_on_standalone() {
    suite(&[]);
}

#[test]
fn tpch_answers_match_duckdb_on_three_backends() {
    suite(&["--backends", "3"]);
}
