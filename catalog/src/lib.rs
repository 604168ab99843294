//! The FE's metadata: a state machine ([`CatalogState`]) driven by a typed edit
//! log ([`EditLogEntry`]) that is persisted in redb ([`store::EditLogStore`]) and
//! replayed on restart. Every change goes through [`Catalog::log`], so replay
//! (and later Raft replication) rebuilds exactly the state the leader had.

pub mod edit_log;
pub mod model;
/// Partition keys moved to `basalt_common` so backends can route loaded rows too.
pub use basalt_common::partition;
pub mod store;

pub use edit_log::EditLogEntry;
pub use model::*;

use basalt_common::{Error, Result};
use std::path::Path;
use std::sync::{Mutex, RwLock, RwLockReadGuard};

pub struct Catalog {
    state: RwLock<CatalogState>,
    store: Mutex<store::EditLogStore>,
}

impl Catalog {
    /// Opens (or creates) the catalog in `meta_dir`, replaying the image and the log.
    pub fn open(meta_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(meta_dir)?;
        let mut store = store::EditLogStore::open(&meta_dir.join("catalog.redb"))?;
        let (mut state, entries) = store.load()?;
        let replayed = entries.len();
        for entry in entries {
            // A failed entry failed the same way when it was first applied: skip it.
            let _ = state.apply(&entry);
        }
        tracing::info!(replayed, "catalog loaded");
        Ok(Self {
            state: RwLock::new(state),
            store: Mutex::new(store),
        })
    }

    pub fn read(&self) -> RwLockReadGuard<'_, CatalogState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Persists `entry`, then applies it. Writers are serialised, so the log order is
    /// the apply order; an entry whose apply fails is a no-op now and on replay.
    pub fn log(&self, entry: EditLogEntry) -> Result<()> {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        // Validate before persisting where the check is cheap, so the log stays clean.
        state.check(&entry)?;
        store.append(&entry)?;
        state.apply(&entry)?;
        // The entry is durable and applied: an image that fails to write is
        // retried later and must not report the change as failed.
        if store.entries_since_image() >= store::IMAGE_EVERY {
            if let Err(e) = store.write_image(&state) {
                tracing::warn!("writing the catalog image failed, will retry: {e}");
            }
        }
        Ok(())
    }

    /// Hands out `n` fresh ids for objects about to be logged.
    pub fn alloc_ids(&self, n: u64) -> u64 {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let first = state.next_id;
        state.next_id += n;
        first
    }
}

/// Resolves `db`, or fails with Doris's unknown-database error.
pub fn unknown_db(name: &str) -> Error {
    Error::new(
        basalt_common::ErrorKind::UnknownDatabase,
        format!("Unknown database '{name}'"),
    )
}

pub fn unknown_column(table: &str, column: &str) -> Error {
    Error::new(
        basalt_common::ErrorKind::UnknownColumn,
        format!("Unknown column '{column}' in '{table}'"),
    )
}

pub fn unknown_table(db: &str, table: &str) -> Error {
    Error::new(
        basalt_common::ErrorKind::UnknownTable,
        format!("Table '{db}.{table}' doesn't exist"),
    )
}
