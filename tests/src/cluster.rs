//! A real cluster on 127.0.0.1: one `basalt-fe` and N `basalt-be` processes,
//! each in its own directory with ports read from its `--ready-file`, the BEs
//! attached with `ALTER SYSTEM ADD BACKEND`.

use crate::{rows, Process, TempDir};
use mysql_async::prelude::Queryable;
use std::time::{Duration, Instant};

/// Scheduler timings short enough for tests: heartbeats every second, a dead
/// backend repaired after 3 s, a scheduler round every 300 ms.
pub const FAST_SCHEDULER: &[&str] = &[
    "--tablet-checker-interval-ms",
    "300",
    "--tablet-report-interval-second",
    "1",
    "--tablet-repair-delay-factor-second",
    "3",
];

pub struct Cluster {
    pub fe: Process,
    pub bes: Vec<Process>,
    pub dir: TempDir,
}

impl Cluster {
    /// Starts the FE with `fe_flags` and `n` BEs, and attaches the BEs.
    pub async fn start(tag: &str, n: usize, fe_flags: &[&str]) -> Cluster {
        let dir = TempDir::new(tag);
        let fe = Process::fe_with(&dir.path().join("fe"), fe_flags);
        let mut cluster = Cluster {
            fe,
            bes: Vec::new(),
            dir,
        };
        for _ in 0..n {
            cluster.add_be().await;
        }
        cluster
    }

    /// Starts one more BE and adds it to the cluster; returns its index.
    pub async fn add_be(&mut self) -> usize {
        let k = self.bes.len();
        let be = Process::be(&self.dir.path().join(format!("be{k}")));
        let mut conn = self.fe.connect().await;
        conn.query_drop(format!(
            "ALTER SYSTEM ADD BACKEND \"127.0.0.1:{}\"",
            be.port("heartbeat_service_port")
        ))
        .await
        .expect("ALTER SYSTEM ADD BACKEND");
        self.bes.push(be);
        k
    }

    /// The backend id of BE `k` (by its heartbeat port).
    pub async fn backend_id(&self, k: usize) -> String {
        let port = self.bes[k].port("heartbeat_service_port").to_string();
        let mut conn = self.fe.connect().await;
        self.backends(&mut conn)
            .await
            .into_iter()
            .find(|r| r[2] == port)
            .map(|r| r[0].clone())
            .expect("backend listed in SHOW BACKENDS")
    }

    /// Waits until SHOW BACKENDS shows backend `id` with Alive = `alive`.
    pub async fn wait_alive(&self, id: &str, alive: bool, secs: u64) {
        let what = format!("backend {id} to show Alive = {alive}");
        wait_until(secs, &what, || async {
            let mut c = self.fe.connect().await;
            let b = self.backends(&mut c).await;
            b.iter().any(|r| r[0] == id && r[8] == alive.to_string())
        })
        .await;
    }

    /// SHOW BACKENDS rows.
    pub async fn backends(&self, conn: &mut mysql_async::Conn) -> Vec<Vec<String>> {
        rows(conn, "SHOW BACKENDS").await
    }
}

/// Polls `check` until it returns true, or panics with `what` after `secs`.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
