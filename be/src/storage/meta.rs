//! Tablet metadata, kept in the BE's own redb store. A record is written only
//! after the segment files it names are fsynced and renamed into place.

use basalt_common::rpc::{TabletId, TxnId, Version};
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

const TABLETS: TableDefinition<u64, &[u8]> = TableDefinition::new("tablets");
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TabletMeta {
    pub tablet_id: TabletId,
    pub schema: TabletSchema,
    pub rowsets: Vec<RowsetMeta>,
    /// Every version up to this one is published on this replica.
    pub visible_version: Version,
}

impl TabletMeta {
    pub fn published(&self) -> impl Iterator<Item = &RowsetMeta> {
        self.rowsets.iter().filter(|r| r.version.is_some())
    }

    /// The highest version up to which every version is present (1 is the
    /// empty tablet); a replica that missed a load stops here until cloned.
    pub fn contiguous_version(&self) -> Version {
        let mut versions: Vec<Version> = self.published().filter_map(|r| r.version).collect();
        versions.sort_unstable();
        let mut v = 1;
        for next in versions {
            if next == v + 1 {
                v = next;
            } else if next > v + 1 {
                break;
            }
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RowsetMeta {
    pub rowset_id: u64,
    pub txn_id: TxnId,
    /// `None` while the load is not yet published.
    pub version: Option<Version>,
    /// Segment file names inside the tablet's directory.
    pub segments: Vec<String>,
    pub num_rows: u64,
    pub data_size: u64,
}

#[derive(Serialize, Deserialize)]
struct Record {
    v: u32,
    tablet: TabletMeta,
}

pub struct MetaStore {
    db: Database,
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("tablet meta store: {e}"))
}

impl MetaStore {
    pub fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(TABLETS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    pub fn load_all(&self) -> Result<HashMap<TabletId, TabletMeta>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TABLETS).map_err(db_err)?;
        let mut out = HashMap::new();
        for item in table.iter().map_err(db_err)? {
            let (_, bytes) = item.map_err(db_err)?;
            let rec: Record = serde_json::from_slice(bytes.value())?;
            if rec.v > FORMAT_VERSION {
                return Err(db_err(format!(
                    "record format {} is newer than this build",
                    rec.v
                )));
            }
            out.insert(rec.tablet.tablet_id, rec.tablet);
        }
        Ok(out)
    }

    /// Writes the given tablets in one durable transaction.
    pub fn put(&self, tablets: &[TabletMeta]) -> Result<()> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(TABLETS).map_err(db_err)?;
            for t in tablets {
                let bytes = serde_json::to_vec(&Record {
                    v: FORMAT_VERSION,
                    tablet: t.clone(),
                })?;
                table
                    .insert(t.tablet_id, bytes.as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    pub fn delete(&self, tablet_id: TabletId) -> Result<()> {
        let txn = self.db.begin_write().map_err(db_err)?;
        txn.open_table(TABLETS)
            .map_err(db_err)?
            .remove(tablet_id)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }
}
