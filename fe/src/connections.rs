//! The FE's live MySQL connections, for SHOW PROCESSLIST and KILL: what each
//! is doing, and the signals that cancel its query or close it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// What a connection is doing, as SHOW PROCESSLIST shows it.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub db: Option<String>,
    /// "Sleep" between statements, "Query" while one runs.
    pub command: &'static str,
    /// When the current command (or the idle period) started.
    pub since_ms: i64,
    pub query_id: String,
    pub info: String,
}

/// One connection's entry; the connection and KILL share it.
pub struct ConnectionControl {
    pub id: u32,
    pub user: String,
    pub host: String,
    pub login_ms: i64,
    pub activity: Mutex<Activity>,
    /// KILL QUERY: the running query stops with an error. The flag keeps a
    /// KILL that arrives while the statement is still being planned.
    pub cancel_query: Notify,
    pub cancelled: AtomicBool,
    /// KILL [CONNECTION]: the connection closes.
    pub kill: Notify,
    pub killed: AtomicBool,
}

impl ConnectionControl {
    pub fn set(&self, f: impl FnOnce(&mut Activity)) {
        f(&mut self.activity.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn activity(&self) -> Activity {
        self.activity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct Connections(Mutex<BTreeMap<u32, Arc<ConnectionControl>>>);

/// Removes the connection from the registry when the connection ends.
pub struct Registration<'a> {
    registry: &'a Connections,
    pub control: Arc<ConnectionControl>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.control.id);
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Arc<ConnectionControl>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(&self, control: Arc<ConnectionControl>) -> Registration<'_> {
        self.lock().insert(control.id, Arc::clone(&control));
        Registration {
            registry: self,
            control,
        }
    }

    pub fn all(&self) -> Vec<Arc<ConnectionControl>> {
        self.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u32) -> Option<Arc<ConnectionControl>> {
        self.lock().get(&id).cloned()
    }
}

impl ConnectionControl {
    pub fn new(id: u32, user: String, host: String) -> Self {
        let now = basalt_common::now_ms();
        Self {
            id,
            user,
            host,
            login_ms: now,
            activity: Mutex::new(Activity {
                command: "Sleep",
                since_ms: now,
                ..Default::default()
            }),
            cancel_query: Notify::new(),
            cancelled: AtomicBool::new(false),
            kill: Notify::new(),
            killed: AtomicBool::new(false),
        }
    }

    /// KILL QUERY: the running (or about to run) query fails.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
        self.cancel_query.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// KILL: cancels the query and closes the connection.
    pub fn kill_connection(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.cancel();
        self.kill.notify_waiters();
        self.kill.notify_one();
    }
}
