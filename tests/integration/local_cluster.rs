//! `deploy/local-cluster.sh` starts a working cluster, reports it, and stops it.

use basalt_tests::{bin_dir, TempDir};
use std::process::Command;

fn script(dir: &TempDir, args: &[&str]) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("deploy/local-cluster.sh"))
        .args(args)
        .env("BASALT_CLUSTER_DIR", dir.path())
        .env("BASALT_BIN_DIR", bin_dir())
        .output()
        .expect("run local-cluster.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "local-cluster.sh {args:?}: {text}");
    text
}

#[test]
fn local_cluster_script_starts_reports_and_stops() {
    let dir = TempDir::new("localcluster");
    let started = script(&dir, &["start", "2"]);
    assert!(started.contains("FE and 2 BEs running"), "{started}");
    let status = script(&dir, &["status"]);
    assert_eq!(status.matches("running").count(), 3, "{status}");
    // SHOW BACKENDS lists both, alive.
    assert_eq!(status.matches("\ttrue").count(), 2, "{status}");
    let port = std::fs::read_to_string(dir.path().join("query_port")).unwrap();
    let out = Command::new("mysql")
        .args(["-h", "127.0.0.1", "-P", port.trim(), "-u", "root", "-N", "-e"])
        .arg("CREATE DATABASE d; CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES ('replication_num' = '2'); INSERT INTO d.t VALUES (1), (2), (3); SELECT SUM(k) FROM d.t")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6");
    assert!(script(&dir, &["stop"]).contains("stopped"));
    assert!(!dir.path().join("fe/pid").exists());
}
