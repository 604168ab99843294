//! Persistence of the edit log and the catalog image in redb.
//!
//! Every record carries a format version, so later releases can read older
//! records. An image (a snapshot of the whole state) is written every
//! [`IMAGE_EVERY`] entries and bounds how much log a restart replays.

use crate::edit_log::EditLogEntry;
use crate::model::CatalogState;
use basalt_common::{Error, Result};
use redb::{Database, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const IMAGE_EVERY: u64 = 10_000;
const FORMAT_VERSION: u32 = 1;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("edit_log");
const IMAGE: TableDefinition<&str, &[u8]> = TableDefinition::new("image");

#[derive(Serialize, Deserialize)]
struct Record<T> {
    v: u32,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize, Deserialize)]
struct Image {
    last_log_id: u64,
    state: CatalogState,
}

pub struct EditLogStore {
    db: Database,
    next_log_id: u64,
    image_log_id: u64,
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("metadata store: {e}"))
}

impl EditLogStore {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(LOG).map_err(db_err)?;
        txn.open_table(IMAGE).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self {
            db,
            next_log_id: 1,
            image_log_id: 0,
        })
    }

    /// The state in the image and the log entries written after it.
    pub fn load(&mut self) -> Result<(CatalogState, Vec<EditLogEntry>)> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let image_table = txn.open_table(IMAGE).map_err(db_err)?;
        let (state, last) = match image_table.get("catalog").map_err(db_err)? {
            Some(bytes) => {
                let rec: Record<Image> = serde_json::from_slice(bytes.value())?;
                check_version(rec.v)?;
                (rec.body.state, rec.body.last_log_id)
            }
            None => (CatalogState::default(), 0),
        };
        let log = txn.open_table(LOG).map_err(db_err)?;
        let mut entries = Vec::new();
        let mut max_id = last;
        for item in log.range(last + 1..).map_err(db_err)? {
            let (id, bytes) = item.map_err(db_err)?;
            let rec: Record<EditLogEntry> = serde_json::from_slice(bytes.value())?;
            check_version(rec.v)?;
            entries.push(rec.body);
            max_id = id.value();
        }
        self.next_log_id = max_id + 1;
        self.image_log_id = last;
        Ok((state, entries))
    }

    /// Appends one entry durably (redb fsyncs on commit).
    pub fn append(&mut self, entry: &EditLogEntry) -> Result<()> {
        let bytes = serde_json::to_vec(&Record {
            v: FORMAT_VERSION,
            body: entry,
        })?;
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(LOG)
            .map_err(db_err)?
            .insert(self.next_log_id, bytes.as_slice())
            .map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        self.next_log_id += 1;
        Ok(())
    }

    pub fn entries_since_image(&self) -> u64 {
        self.next_log_id - 1 - self.image_log_id
    }

    /// Writes `state` (which includes every appended entry) as the image and drops
    /// the log entries it covers, in one redb transaction.
    pub fn write_image(&mut self, state: &CatalogState) -> Result<()> {
        let last = self.next_log_id - 1;
        let image = Record {
            v: FORMAT_VERSION,
            body: Image {
                last_log_id: last,
                state: state.clone(),
            },
        };
        let bytes = serde_json::to_vec(&image)?;
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(IMAGE)
            .map_err(db_err)?
            .insert("catalog", bytes.as_slice())
            .map_err(db_err)?;
        txn.open_table(LOG)
            .map_err(db_err)?
            .retain(|id, _| id > last)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        self.image_log_id = last;
        Ok(())
    }
}

fn check_version(v: u32) -> Result<()> {
    if v > FORMAT_VERSION {
        return Err(Error::internal(format!(
            "metadata record has format version {v}, newer than this build ({FORMAT_VERSION})"
        )));
    }
    Ok(())
}
