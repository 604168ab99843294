//! Test harness: starts real `basalt`, `basalt-fe` and `basalt-be` processes on
//! 127.0.0.1 with every port 0, reads the bound ports from `--ready-file`, and
//! talks to them with a real MySQL driver (mysql_async).

pub mod cluster;
pub mod slt;

use mysql_async::prelude::Queryable;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "basalt-test-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One running Basalt process.
pub struct Process {
    child: Option<Child>,
    pub ports: serde_json::Value,
    binary: String,
    args: Vec<String>,
    /// The working directory, so relative paths in flags land in the test's directory.
    dir: PathBuf,
    ready: PathBuf,
    /// A restart binds the ports of the first start (a BE is known by its address).
    keep_ports: bool,
}

const PORT_FLAGS_FE: &[&str] = &[
    "--query-port",
    "0",
    "--http-port",
    "0",
    "--edit-log-port",
    "0",
];
const PORT_FLAGS_BE: &[&str] = &[
    "--webserver-port",
    "0",
    "--heartbeat-service-port",
    "0",
    "--brpc-port",
    "0",
];

impl Process {
    /// Standalone `basalt` on `data_dir`.
    pub fn standalone(data_dir: &Path) -> Process {
        Self::standalone_with(data_dir, &[])
    }

    /// Standalone `basalt` with extra flags.
    pub fn standalone_with(data_dir: &Path, extra: &[&str]) -> Process {
        let mut args = vec!["--data-dir".to_string(), data_dir.display().to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(
            PORT_FLAGS_FE
                .iter()
                .chain(PORT_FLAGS_BE)
                .map(|s| s.to_string()),
        );
        Self::spawn("basalt", args, data_dir)
    }

    pub fn fe(meta_dir: &Path) -> Process {
        Self::fe_with(meta_dir, &[])
    }

    /// `basalt-fe` with extra flags.
    pub fn fe_with(meta_dir: &Path, extra: &[&str]) -> Process {
        let mut args = vec![
            "--meta-dir".to_string(),
            meta_dir.display().to_string(),
            "--bind-host".into(),
            "127.0.0.1".into(),
            "--heartbeat-interval-second".into(),
            "1".into(),
            // One slow heartbeat on a loaded 2-core CI machine must not kill a backend.
            "--max-backend-heartbeat-failure-tolerance-count".into(),
            "2".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(PORT_FLAGS_FE.iter().map(|s| s.to_string()));
        Self::spawn("basalt-fe", args, meta_dir)
    }

    pub fn be(storage: &Path) -> Process {
        let mut args = vec![
            "--storage-root-path".to_string(),
            storage.display().to_string(),
            "--bind-host".into(),
            "127.0.0.1".into(),
        ];
        args.extend(PORT_FLAGS_BE.iter().map(|s| s.to_string()));
        let mut p = Self::spawn("basalt-be", args, storage);
        p.keep_ports = true;
        p
    }

    fn spawn(binary: &str, mut args: Vec<String>, dir: &Path) -> Process {
        std::fs::create_dir_all(dir).expect("create process dir");
        let ready = dir.join(format!("{binary}.ready.json"));
        args.push("--ready-file".into());
        args.push(ready.display().to_string());
        let mut p = Process {
            child: None,
            ports: serde_json::Value::Null,
            binary: binary.into(),
            args,
            dir: dir.to_path_buf(),
            ready,
            keep_ports: false,
        };
        p.start();
        p
    }

    /// (Re)starts the process with the same arguments and waits until it is ready.
    pub fn start(&mut self) {
        if self.keep_ports && !self.ports.is_null() {
            for k in 0..self.args.len().saturating_sub(1) {
                let name = self.args[k].trim_start_matches("--").replace('-', "_");
                if self.args[k + 1] == "0" {
                    if let Some(port) = self.ports[name.as_str()].as_u64() {
                        self.args[k + 1] = port.to_string();
                    }
                }
            }
        }
        // A restart binds its old ports, which a short-lived outgoing connection
        // may hold for a moment: try again for a while.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return,
                Err(log) if log.contains("Address already in use") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(log) => panic!("{} exited before it was ready:\n{log}", self.binary),
            }
        }
    }

    /// Starts the process once; the log if it exits before it is ready.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let _ = std::fs::remove_file(&self.ready);
        let log = std::fs::File::create(self.ready.with_extension("log")).expect("log file");
        let child = Command::new(bin_dir().join(&self.binary))
            .args(&self.args)
            .current_dir(&self.dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(&self.ready) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    self.ports = v;
                    return Ok(());
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                let log =
                    std::fs::read_to_string(self.ready.with_extension("log")).unwrap_or_default();
                return Err(format!("exit {status}: {log}"));
            }
            assert!(
                Instant::now() < deadline,
                "{} did not become ready",
                self.binary
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no port {name} in {}", self.ports)) as u16
    }

    pub fn mysql_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port("query_port"))
    }

    pub async fn connect(&self) -> mysql_async::Conn {
        mysql_async::Conn::from_url(self.mysql_url())
            .await
            .expect("connect over MySQL")
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(
                        status.success(),
                        "{} exited with {status} after SIGTERM",
                        self.binary
                    );
                    return;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("{} did not stop after SIGTERM", self.binary);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `sql` and returns every row as strings (`NULL` for nulls).
pub async fn rows(conn: &mut mysql_async::Conn, sql: &str) -> Vec<Vec<String>> {
    let rows: Vec<mysql_async::Row> = conn
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("query failed: {sql}: {e}"));
    rows.into_iter().map(|r| slt::row_strings(&r)).collect()
}

/// The MySQL error code of a failing statement.
pub async fn error_code(conn: &mut mysql_async::Conn, sql: &str) -> u16 {
    match conn.query_drop(sql).await {
        Err(mysql_async::Error::Server(e)) => e.code,
        other => panic!("expected a server error from {sql}, got {other:?}"),
    }
}

/// A property test's seed, from `BASALT_PROPERTY_SEED` or at random, and its
/// random source; the seed is printed, so a failure can be replayed.
pub fn property_rng() -> (u64, rand::rngs::StdRng) {
    use rand::SeedableRng;
    let seed: u64 = std::env::var("BASALT_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("BASALT_PROPERTY_SEED={seed}");
    (seed, rand::rngs::StdRng::seed_from_u64(seed))
}
