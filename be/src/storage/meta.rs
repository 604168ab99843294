//! Tablet metadata, kept in the BE's own redb store. A record is written only
//! after the segment files it names are fsynced and renamed into place.

use basalt_common::rpc::{TabletId, TxnId, Version};
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// A tablet's meta without its rowsets, which are records of their own, so
/// a change writes only the rowsets it changed (a tablet keeps many stale
/// rowsets until they are swept).
const TABLETS: TableDefinition<u64, &[u8]> = TableDefinition::new("tablets");
/// (tablet, rowset) -> the rowset's meta.
const ROWSETS: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("rowsets");
/// Merge-on-write delete bitmaps, written once each:
/// (tablet, rowset, segment, version) -> a serialized roaring bitmap.
const DELETE_BITMAPS: TableDefinition<(u64, u64, u32, u64), &[u8]> =
    TableDefinition::new("delete_bitmaps");

/// One delete bitmap: the rows of a segment that `version` deleted.
pub type BitmapKey = (TabletId, u64, u32, Version);

/// Delete bitmaps a meta update adds and removes.
#[derive(Default)]
pub struct BitmapChange {
    pub add: Vec<(BitmapKey, Vec<u8>)>,
    /// Every bitmap of these (tablet, rowset)s.
    pub drop_rowsets: Vec<(TabletId, u64)>,
    /// Every bitmap of the tablet tagged with this version or a later one.
    pub drop_from: Option<(TabletId, Version)>,
}
/// 2: rowsets in their own records (1 had them inside the tablet's).
const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TabletMeta {
    pub tablet_id: TabletId,
    pub schema: TabletSchema,
    pub rowsets: Vec<RowsetMeta>,
    /// Every version up to this one is published on this replica (and, for
    /// merge-on-write, has its delete bitmaps).
    pub visible_version: Version,
    /// Merge-on-write: the version up to which delete bitmaps are computed.
    #[serde(default = "first_version")]
    pub mow_version: Version,
}

fn first_version() -> Version {
    1
}

impl TabletMeta {
    /// Published rowsets, including stale ones a compaction replaced.
    pub fn published(&self) -> impl Iterator<Item = &RowsetMeta> {
        self.rowsets.iter().filter(|r| r.version.is_some())
    }

    /// The published rowsets that make up the tablet now: not replaced by a compaction.
    pub fn current(&self) -> impl Iterator<Item = &RowsetMeta> {
        self.published().filter(|r| r.stale_since_ms.is_none())
    }

    /// Moves the visible version to the contiguous one (for merge-on-write,
    /// no further than the delete bitmaps are computed).
    pub fn refresh_visible(&mut self) {
        let contiguous = self.contiguous_version();
        self.visible_version = if self.schema.merge_on_write {
            contiguous.min(self.mow_version)
        } else {
            contiguous
        };
    }

    /// The highest version up to which every version is present (1 is the
    /// empty tablet); a replica that missed a load stops here until cloned.
    pub fn contiguous_version(&self) -> Version {
        let mut ranges: Vec<(Version, Version)> =
            self.current().filter_map(RowsetMeta::versions).collect();
        ranges.sort_unstable();
        let mut v = 1;
        for (start, end) in ranges {
            if start == v + 1 {
                v = end;
            } else if start > v + 1 {
                break;
            }
        }
        v
    }

    /// Whether some published rowset (current or stale) holds `version`.
    pub fn covers(&self, version: Version) -> bool {
        self.published()
            .filter_map(RowsetMeta::versions)
            .any(|(s, e)| s <= version && version <= e)
    }

    /// The rowsets that together hold versions 2..=`version` exactly, oldest
    /// first, or `None` when compaction merged that version into a larger rowset
    /// and the rowsets it replaced are gone. Compaction merges whole adjacent
    /// rowsets, so any two ranges are nested or disjoint; taking at each step
    /// the widest rowset that does not pass `version` therefore never strands
    /// the walk, and reads the fewest rowsets.
    pub fn path(&self, version: Version) -> Option<Vec<&RowsetMeta>> {
        let mut out = Vec::new();
        let mut next = 2;
        while next <= version {
            let step = self
                .published()
                .filter(|r| r.versions().is_some_and(|(s, e)| s == next && e <= version))
                .max_by_key(|r| (r.version, r.stale_since_ms.is_none()))?;
            next = step.version? + 1;
            out.push(step);
        }
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowsetMeta {
    pub rowset_id: u64,
    pub txn_id: TxnId,
    /// The last version the rowset holds; `None` while the load is not yet published.
    pub version: Option<Version>,
    /// The first version it holds: its own for a load, the first input's for
    /// a compaction's output.
    #[serde(default)]
    pub start_version: Version,
    /// Segment file names inside the tablet's directory.
    pub segments: Vec<String>,
    pub num_rows: u64,
    pub data_size: u64,
    /// A partial update's rowset (merge-on-write): the columns its rows give;
    /// publishing fills in the others from each key's current row.
    #[serde(default)]
    pub partial_columns: Option<Vec<usize>>,
    /// A `DELETE FROM`'s rowset: rows of older versions matching this
    /// predicate (SQL over the tablet's columns) are gone.
    #[serde(default)]
    pub delete_predicate: Option<String>,
    /// Set when a compaction replaced this rowset: it stays readable (for
    /// queries at older versions and those already reading it) until swept.
    #[serde(default)]
    pub stale_since_ms: Option<i64>,
}

impl RowsetMeta {
    /// A pending rowset of `txn_id` (or of a compaction or clone, with txn 0).
    pub fn new(rowset_id: u64, txn_id: TxnId) -> Self {
        Self {
            rowset_id,
            txn_id,
            version: None,
            start_version: 0,
            segments: Vec::new(),
            num_rows: 0,
            data_size: 0,
            partial_columns: None,
            delete_predicate: None,
            stale_since_ms: None,
        }
    }

    /// `(first, last)` version held, once published.
    pub fn versions(&self) -> Option<(Version, Version)> {
        // Records from before compaction existed have no start: a load's own version.
        self.version.map(|v| match self.start_version {
            0 => (v, v),
            start => (start, v),
        })
    }

    pub fn is_pending(&self, txn_id: TxnId) -> bool {
        self.txn_id == txn_id && self.version.is_none()
    }
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
        txn.open_table(ROWSETS).map_err(db_err)?;
        txn.open_table(DELETE_BITMAPS).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self { db })
    }

    pub fn load_all(&self) -> Result<HashMap<TabletId, TabletMeta>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(TABLETS).map_err(db_err)?;
        let mut out = HashMap::new();
        let mut old_format = Vec::new();
        for item in table.iter().map_err(db_err)? {
            let (_, bytes) = item.map_err(db_err)?;
            let rec: Record = serde_json::from_slice(bytes.value())?;
            if rec.v > FORMAT_VERSION {
                return Err(db_err(format!(
                    "record format {} is newer than this build",
                    rec.v
                )));
            }
            if rec.v < 2 {
                old_format.push(rec.tablet.tablet_id);
            }
            out.insert(rec.tablet.tablet_id, rec.tablet);
        }
        let rowsets = txn.open_table(ROWSETS).map_err(db_err)?;
        for item in rowsets.iter().map_err(db_err)? {
            let (key, bytes) = item.map_err(db_err)?;
            let (tablet, _) = key.value();
            let rowset: RowsetMeta = serde_json::from_slice(bytes.value())?;
            if let Some(t) = out.get_mut(&tablet) {
                t.rowsets.push(rowset);
            }
        }
        drop((rowsets, table, txn));
        // Records of the first format hold their rowsets inline: rewrite them.
        let migrate: Vec<(Option<&TabletMeta>, &TabletMeta)> = old_format
            .iter()
            .filter_map(|id| out.get(id))
            .map(|t| (None, t))
            .collect();
        if !migrate.is_empty() {
            self.put(&migrate, &BitmapChange::default())?;
        }
        Ok(out)
    }

    /// Every delete bitmap, as stored.
    pub fn load_bitmaps(&self) -> Result<Vec<(BitmapKey, Vec<u8>)>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(DELETE_BITMAPS).map_err(db_err)?;
        let mut out = Vec::new();
        for item in table.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Writes the given tablets (each with what the store held before, if
    /// known: only rowsets that changed are written) and the bitmap change in
    /// one durable transaction.
    pub fn put(
        &self,
        tablets: &[(Option<&TabletMeta>, &TabletMeta)],
        bitmaps: &BitmapChange,
    ) -> Result<()> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(DELETE_BITMAPS).map_err(db_err)?;
            for (tablet, rowset) in &bitmaps.drop_rowsets {
                let range = (*tablet, *rowset, 0, 0)..=(*tablet, *rowset, u32::MAX, u64::MAX);
                table.retain_in(range, |_, _| false).map_err(db_err)?;
            }
            if let Some((tablet, from)) = bitmaps.drop_from {
                let range = (tablet, 0, 0, 0)..=(tablet, u64::MAX, u32::MAX, u64::MAX);
                table
                    .retain_in(range, |(_, _, _, v), _| v < from)
                    .map_err(db_err)?;
            }
            for (k, v) in &bitmaps.add {
                table.insert(*k, v.as_slice()).map_err(db_err)?;
            }
        }
        {
            let mut table = txn.open_table(TABLETS).map_err(db_err)?;
            let mut rowsets = txn.open_table(ROWSETS).map_err(db_err)?;
            for (old, t) in tablets {
                let header = TabletMeta {
                    rowsets: Vec::new(),
                    ..(*t).clone()
                };
                let bytes = serde_json::to_vec(&Record {
                    v: FORMAT_VERSION,
                    tablet: header,
                })?;
                table
                    .insert(t.tablet_id, bytes.as_slice())
                    .map_err(db_err)?;
                let before: HashMap<u64, &RowsetMeta> = old
                    .iter()
                    .flat_map(|o| &o.rowsets)
                    .map(|r| (r.rowset_id, r))
                    .collect();
                for r in &t.rowsets {
                    if before.get(&r.rowset_id) != Some(&r) {
                        let bytes = serde_json::to_vec(r)?;
                        rowsets
                            .insert((t.tablet_id, r.rowset_id), bytes.as_slice())
                            .map_err(db_err)?;
                    }
                }
                let now: std::collections::HashSet<u64> =
                    t.rowsets.iter().map(|r| r.rowset_id).collect();
                for gone in old.iter().flat_map(|o| &o.rowsets) {
                    if !now.contains(&gone.rowset_id) {
                        rowsets
                            .remove((t.tablet_id, gone.rowset_id))
                            .map_err(db_err)?;
                    }
                }
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
        txn.open_table(ROWSETS)
            .map_err(db_err)?
            .retain_in((tablet_id, 0)..=(tablet_id, u64::MAX), |_, _| false)
            .map_err(db_err)?;
        let range = (tablet_id, 0, 0, 0)..=(tablet_id, u64::MAX, u32::MAX, u64::MAX);
        txn.open_table(DELETE_BITMAPS)
            .map_err(db_err)?
            .retain_in(range, |_, _| false)
            .map_err(db_err)?;
        txn.commit().map_err(db_err)
    }
}
