//! Every `.slt` file under `tests/slt/`, over the MySQL wire, against a real
//! standalone server and against a 1 FE + 3 BE cluster where every table has
//! three replicas: the results must be the same.

use basalt_tests::cluster::Cluster;
use basalt_tests::slt::MySqlDb;
use basalt_tests::{Process, TempDir};
use std::path::PathBuf;

fn slt_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/slt exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "expected the .slt suite, found {files:?}");
    files
}

/// Runs every file (or those whose name contains `SLT_ONLY`) and reports every
/// failing file, not only the first.
async fn run_all(url: String) {
    let only = std::env::var("SLT_ONLY").unwrap_or_default();
    let mut failures = Vec::new();
    for file in slt_files() {
        if !file.to_string_lossy().contains(&only) {
            continue;
        }
        let url = url.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let url = url.clone();
            async move {
                Ok(MySqlDb {
                    conn: mysql_async::Conn::from_url(url).await?,
                })
            }
        });
        if let Err(e) = runner.run_file_async(&file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_standalone() {
    let dir = TempDir::new("slt");
    let server = Process::standalone(dir.path());
    run_all(server.mysql_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_on_three_backends_with_three_replicas() {
    let cluster = Cluster::start(
        "slt-cluster",
        3,
        &["--force-olap-table-replication-num", "3"],
    )
    .await;
    run_all(cluster.fe.mysql_url()).await;
}
