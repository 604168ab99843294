//! The BE's storage engine: tablets made of versioned rowsets of Parquet segments.

mod bitmap_index;
mod compaction;
mod delete;
mod merge;
mod meta;
mod mow;
mod reader;
mod writer;

pub use compaction::{run_compaction, CompactionConfig};
use meta::BitmapChange;
pub use meta::{RowsetMeta, TabletMeta};

use basalt_common::rpc::{PublishTablet, RowsetFiles, TabletId, TabletInfo, TxnId, Version};
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub struct StorageEngine {
    root: PathBuf,
    meta: meta::MetaStore,
    /// In-memory copy of every tablet's meta; the store is the durable truth.
    /// Shared, so reading a tablet's meta copies nothing (a tablet may keep
    /// thousands of stale rowsets until they are swept).
    tablets: RwLock<HashMap<TabletId, Arc<TabletMeta>>>,
    /// Serialises meta changes so each is one read-modify-write of the store.
    write_lock: Mutex<()>,
    next_rowset_id: AtomicU64,
    config: CompactionConfig,
    /// How many running reads use each rowset: a stale rowset is swept only
    /// once none does.
    pins: Mutex<Pins>,
    /// Merge-on-write tablets' delete bitmaps (the store holds them durably).
    bitmaps: RwLock<HashMap<TabletId, mow::DeleteBitmap>>,
    /// Per merge-on-write tablet: its key index, locked while a publish or a
    /// compaction changes which rows are live.
    mow_locks: Mutex<HashMap<TabletId, Arc<Mutex<Option<mow::KeyIndex>>>>>,
    /// Tablets a clone is copying into: not compacted meanwhile.
    cloning: Mutex<std::collections::HashSet<TabletId>>,
}

/// A clone in progress; see `StorageEngine::start_clone`.
pub struct CloneGuard {
    engine: Arc<StorageEngine>,
    tablet_id: TabletId,
}

impl Drop for CloneGuard {
    fn drop(&mut self) {
        let mut cloning = self
            .engine
            .cloning
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cloning.remove(&self.tablet_id);
    }
}

impl std::fmt::Debug for StorageEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageEngine")
            .field("root", &self.root)
            .finish()
    }
}

impl StorageEngine {
    pub fn open(root: &Path, config: CompactionConfig) -> Result<Self> {
        std::fs::create_dir_all(root.join("data"))?;
        // Absolute, because segment files are read through DataFusion's local object store.
        let root = &std::fs::canonicalize(root)?;
        let meta = meta::MetaStore::open(&root.join("tablet_meta.redb"))?;
        let tablets = meta.load_all()?;
        // Segment files are named after ids too (`{id}_{n}.parquet`, a fresh
        // id per flush), so new ids start past both.
        let segment_id = |s: &String| s.split('_').next().and_then(|n| n.parse::<u64>().ok());
        let max_rowset = tablets
            .values()
            .flat_map(|t| &t.rowsets)
            .flat_map(|r| {
                std::iter::once(r.rowset_id).chain(r.segments.iter().filter_map(segment_id))
            })
            .max()
            .unwrap_or(0);
        // Remove files of writes that never reached the meta store (a crash mid-write).
        writer::remove_orphans(&root.join("data"), &tablets)?;
        let mut bitmaps: HashMap<TabletId, mow::DeleteBitmap> = HashMap::new();
        for ((tablet, rowset, seg, version), bytes) in meta.load_bitmaps()? {
            let entry = bitmaps.entry(tablet).or_default().entry((rowset, seg));
            entry.or_default().push((version, mow::decode(&bytes)?));
        }
        tracing::info!(tablets = tablets.len(), "storage engine opened");
        let engine = Self {
            root: root.to_path_buf(),
            meta,
            tablets: RwLock::new(tablets.into_iter().map(|(k, t)| (k, Arc::new(t))).collect()),
            write_lock: Mutex::new(()),
            next_rowset_id: AtomicU64::new(max_rowset + 1),
            config,
            pins: Mutex::new(Pins::default()),
            bitmaps: RwLock::new(bitmaps),
            mow_locks: Mutex::new(HashMap::new()),
            cloning: Mutex::new(Default::default()),
        };
        // Bitmaps a crash kept from being computed after a publish.
        let ids: Vec<TabletId> = engine
            .tablets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        for id in ids {
            // One tablet that cannot catch up stays behind; the others open.
            if let Err(e) = engine.mow_catch_up(id) {
                tracing::error!(tablet = id, "delete bitmaps not computed: {e}");
            }
        }
        Ok(engine)
    }

    /// The lock (and key index) of a merge-on-write tablet.
    fn mow_lock(&self, tablet_id: TabletId) -> Arc<Mutex<Option<mow::KeyIndex>>> {
        let mut locks = self.mow_locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(locks.entry(tablet_id).or_default())
    }

    /// A segment's delete bitmaps, by the version that deleted the rows.
    fn bitmap_entries(
        &self,
        tablet_id: TabletId,
        rowset: u64,
        segment: u32,
    ) -> Vec<(Version, roaring::RoaringBitmap)> {
        let bitmaps = self.bitmaps.read().unwrap_or_else(|e| e.into_inner());
        bitmaps
            .get(&tablet_id)
            .and_then(|b| b.get(&(rowset, segment)))
            .cloned()
            .unwrap_or_default()
    }

    /// The rows of a segment deleted as of `version` (merge-on-write).
    pub fn deleted_rows(
        &self,
        tablet_id: TabletId,
        rowset: u64,
        segment: u32,
        version: Version,
    ) -> roaring::RoaringBitmap {
        let bitmaps = self.bitmaps.read().unwrap_or_else(|e| e.into_inner());
        match bitmaps.get(&tablet_id) {
            Some(b) => mow::deleted(b, rowset, segment, version),
            None => roaring::RoaringBitmap::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn tablet_dir(&self, tablet_id: TabletId) -> PathBuf {
        self.root.join("data").join(tablet_id.to_string())
    }

    pub fn tablet(&self, tablet_id: TabletId) -> Result<Arc<TabletMeta>> {
        self.tablets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tablet_id)
            .cloned()
            .ok_or_else(|| Error::backend(format!("tablet {tablet_id} not found on this backend")))
    }

    pub fn tablet_count(&self) -> u64 {
        self.tablets.read().unwrap_or_else(|e| e.into_inner()).len() as u64
    }

    pub fn data_size(&self) -> u64 {
        let tablets = self.tablets.read().unwrap_or_else(|e| e.into_inner());
        tablets
            .values()
            .flat_map(|t| &t.rowsets)
            .map(|r| r.data_size)
            .sum()
    }

    /// Applies `change` to the tablets it names and persists them atomically.
    fn update(
        &self,
        ids: &[TabletId],
        change: impl FnMut(&mut TabletMeta) -> Result<()>,
    ) -> Result<()> {
        self.update_with(ids, &BitmapChange::default(), change)
    }

    /// `update`, also changing delete bitmaps, in the same durable write.
    fn update_with(
        &self,
        ids: &[TabletId],
        bitmaps: &BitmapChange,
        mut change: impl FnMut(&mut TabletMeta) -> Result<()>,
    ) -> Result<()> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut olds = Vec::with_capacity(ids.len());
        let mut changed = Vec::with_capacity(ids.len());
        for id in ids {
            let old = self.tablet(*id)?;
            let mut t = TabletMeta::clone(&old);
            change(&mut t)?;
            olds.push(old);
            changed.push(t);
        }
        if ids.is_empty() {
            return Ok(());
        }
        let pairs: Vec<_> = olds
            .iter()
            .map(|o| Some(o.as_ref()))
            .zip(&changed)
            .collect();
        self.meta.put(&pairs, bitmaps)?;
        {
            let mut memory = self.bitmaps.write().unwrap_or_else(|e| e.into_inner());
            for (tablet, rowset) in &bitmaps.drop_rowsets {
                if let Some(b) = memory.get_mut(tablet) {
                    b.retain(|(r, _), _| r != rowset);
                }
            }
            if let Some((tablet, from)) = bitmaps.drop_from {
                for tags in memory.entry(tablet).or_default().values_mut() {
                    tags.retain(|(v, _)| *v < from);
                }
            }
            for ((tablet, rowset, seg, version), bytes) in &bitmaps.add {
                let entry = memory.entry(*tablet).or_default().entry((*rowset, *seg));
                entry.or_default().push((*version, mow::decode(bytes)?));
            }
        }
        let mut tablets = self.tablets.write().unwrap_or_else(|e| e.into_inner());
        for t in changed {
            tablets.insert(t.tablet_id, Arc::new(t));
        }
        Ok(())
    }

    /// Idempotent: creating an existing tablet with the same schema succeeds.
    pub fn create_tablet(&self, tablet_id: TabletId, schema: TabletSchema) -> Result<()> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = self
            .tablets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tablet_id)
        {
            // A replica that missed an index change still matches (it reads
            // without the indexes it lacks).
            return if t.schema.eq_except_indexes(&schema) {
                Ok(())
            } else {
                Err(Error::backend(format!(
                    "tablet {tablet_id} exists with another schema"
                )))
            };
        }
        std::fs::create_dir_all(self.tablet_dir(tablet_id))?;
        let t = TabletMeta {
            tablet_id,
            schema,
            rowsets: Vec::new(),
            visible_version: 1,
            mow_version: 1,
        };
        self.meta.put(&[(None, &t)], &BitmapChange::default())?;
        self.tablets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tablet_id, Arc::new(t));
        Ok(())
    }

    pub fn drop_tablet(&self, tablet_id: TabletId) -> Result<()> {
        let _guard = self.write_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.meta.delete(tablet_id)?;
        self.tablets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tablet_id);
        self.bitmaps
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tablet_id);
        let dir = self.tablet_dir(tablet_id);
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        Ok(())
    }

    /// Writes `batches` as a segment of the pending rowset of `txn_id`: the
    /// segment is durable and named in the meta before this returns, but
    /// invisible until published. A load writes a tablet's rows in several
    /// calls (one per flush), each adding a segment to the same rowset.
    pub fn write_rowset(
        &self,
        txn_id: TxnId,
        tablet_id: TabletId,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let tablet = self.wait_for_versions(tablet_id)?;
        let file_id = self.new_rowset_id();
        let dir = self.tablet_dir(tablet_id);
        let segment = writer::write_segment(&dir, file_id, &tablet.schema, batches)?;
        self.update(&[tablet_id], |t| {
            let rowset = match t.rowsets.iter().position(|r| r.is_pending(txn_id)) {
                Some(i) => &mut t.rowsets[i],
                None => {
                    t.rowsets.push(RowsetMeta::new(file_id, txn_id));
                    t.rowsets.last_mut().expect("just pushed")
                }
            };
            let partial = batches
                .first()
                .and_then(|b| basalt_common::schema::partial_columns(&b.schema()));
            if partial.is_some() {
                rowset.partial_columns = partial;
            }
            if let Some(s) = &segment {
                rowset.segments.push(s.file.clone());
                rowset.num_rows += s.rows;
                rowset.data_size += s.bytes;
            }
            Ok(())
        })
    }

    /// Records a `DELETE FROM`'s predicate as the pending rowset of `txn_id`.
    pub fn write_delete_predicate(
        &self,
        txn_id: TxnId,
        tablet_id: TabletId,
        predicate: String,
    ) -> Result<()> {
        let t = self.wait_for_versions(tablet_id)?;
        delete::check(&t.schema, &predicate)?;
        let id = self.new_rowset_id();
        self.update(&[tablet_id], |t| {
            if !t.rowsets.iter().any(|r| r.is_pending(txn_id)) {
                let mut r = RowsetMeta::new(id, txn_id);
                r.delete_predicate = Some(predicate.clone());
                t.rowsets.push(r);
            }
            Ok(())
        })
    }

    /// Makes the rowsets of `txn_id` visible at the given versions. A tablet the
    /// load sent no rows to gets an empty rowset, so its versions stay contiguous.
    /// Publishing again is a no-op, so the FE may retry after a lost reply.
    /// Returns the tablets that could not be published (missing, or without the
    /// rows the FE expects); the others are published regardless.
    pub fn publish(&self, txn_id: TxnId, tablets: &[PublishTablet]) -> Result<Vec<TabletId>> {
        let mut failed = Vec::new();
        let mut ready = HashMap::new();
        for p in tablets {
            let Ok(t) = self.tablet(p.tablet_id) else {
                failed.push(p.tablet_id);
                continue;
            };
            let done = t.covers(p.version);
            let pending = t.rowsets.iter().any(|r| r.is_pending(txn_id));
            if !done && p.has_rows && !pending {
                failed.push(p.tablet_id);
            } else if !done {
                ready.insert(p.tablet_id, p.version);
            }
        }
        let ids: Vec<TabletId> = ready.keys().copied().collect();
        self.update(&ids, |t| {
            let version = ready[&t.tablet_id];
            // Checked again under the lock: a clone may have brought this version meanwhile.
            if t.covers(version) {
                return Ok(());
            }
            if !t.rowsets.iter().any(|r| r.is_pending(txn_id)) {
                t.rowsets
                    .push(RowsetMeta::new(self.new_rowset_id(), txn_id));
            }
            for r in t.rowsets.iter_mut().filter(|r| r.is_pending(txn_id)) {
                r.version = Some(version);
                r.start_version = version;
            }
            t.refresh_visible();
            Ok(())
        })?;
        // Also the tablets published before: a retry finishes what a failed
        // bitmap computation left.
        for p in tablets.iter().filter(|p| !failed.contains(&p.tablet_id)) {
            self.mow_catch_up(p.tablet_id)?;
        }
        Ok(failed)
    }

    /// What this backend holds, for the FE's tablet report.
    pub fn report(&self) -> Vec<TabletInfo> {
        let tablets = self.tablets.read().unwrap_or_else(|e| e.into_inner());
        tablets
            .values()
            .map(|t| TabletInfo {
                tablet_id: t.tablet_id,
                version: t.visible_version,
                num_rows: t.current().map(|r| r.num_rows).sum(),
                data_size: t.current().map(|r| r.data_size).sum(),
                version_count: t.current().count() as u64,
            })
            .collect()
    }

    /// The published rowsets that hold a tablet's versions up to `version`,
    /// for a cloning replica.
    pub fn rowset_files(&self, tablet_id: TabletId, version: Version) -> Result<Vec<RowsetFiles>> {
        let t = self.tablet(tablet_id)?;
        let path = t.path(version).ok_or_else(|| {
            Error::backend(format!(
                "tablet {tablet_id} no longer holds the rowsets of version {version}"
            ))
        })?;
        Ok(path
            .into_iter()
            .filter_map(|r| Some((r, r.versions()?)))
            .map(|(r, (start_version, version))| RowsetFiles {
                delete_predicate: r.delete_predicate.clone(),
                start_version,
                version,
                segments: r.segments.clone(),
                num_rows: r.num_rows,
                data_size: r.data_size,
            })
            .collect())
    }

    /// A fresh rowset id, for files a clone is about to write.
    pub fn new_rowset_id(&self) -> u64 {
        self.next_rowset_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Marks a clone of the tablet in progress until the guard drops.
    pub fn start_clone(self: &Arc<Self>, tablet_id: TabletId) -> CloneGuard {
        self.cloning
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tablet_id);
        CloneGuard {
            engine: Arc::clone(self),
            tablet_id,
        }
    }

    fn cloning(&self, tablet_id: TabletId) -> bool {
        self.cloning
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&tablet_id)
    }

    /// Records the rowsets whose files a clone has written (fsynced, renamed)
    /// into the tablet's directory, in one step. The tablet's own rowsets
    /// that overlap their versions turn stale. A merge-on-write tablet
    /// recomputes its delete bitmaps from the first copied version on.
    /// Returns the replica's visible version afterwards.
    pub fn add_cloned_rowsets(
        &self,
        tablet_id: TabletId,
        copied: Vec<(u64, RowsetFiles, Vec<String>)>,
    ) -> Result<Version> {
        let Some(first) = copied.iter().map(|(_, f, _)| f.start_version).min() else {
            return Ok(self.tablet(tablet_id)?.visible_version);
        };
        let lock = self.mow_lock(tablet_id);
        let mut index = lock.lock().unwrap_or_else(|e| e.into_inner());
        let mow = self.tablet(tablet_id)?.schema.merge_on_write;
        let change = BitmapChange {
            drop_from: mow.then_some((tablet_id, first)),
            ..Default::default()
        };
        let ranges: Vec<(Version, Version)> = copied
            .iter()
            .map(|(_, f, _)| (f.start_version, f.version))
            .collect();
        self.update_with(&[tablet_id], &change, |t| {
            let now = basalt_common::now_ms();
            for r in t.rowsets.iter_mut().filter(|r| r.stale_since_ms.is_none()) {
                let overlaps = r
                    .versions()
                    .is_some_and(|(s, e)| ranges.iter().any(|(a, b)| s <= *b && *a <= e));
                if overlaps {
                    r.stale_since_ms = Some(now);
                }
            }
            for (rowset_id, files, segments) in &copied {
                let mut r = RowsetMeta::new(*rowset_id, 0);
                r.version = Some(files.version);
                r.start_version = files.start_version;
                r.segments = segments.clone();
                r.num_rows = files.num_rows;
                r.data_size = files.data_size;
                r.delete_predicate = files.delete_predicate.clone();
                t.rowsets.push(r);
            }
            if mow {
                t.mow_version = t.mow_version.min(first - 1);
            }
            t.refresh_visible();
            Ok(())
        })?;
        *index = None;
        drop(index);
        self.mow_catch_up(tablet_id)?;
        // Clones copy segments only; their bitmap indexes are built here (a
        // segment without one is still read, only without the index).
        let t = self.tablet(tablet_id)?;
        if let Err(e) = self.build_indexes(&t, &t.schema) {
            tracing::warn!(tablet_id, "building bitmap indexes of cloned segments: {e}");
        }
        Ok(t.visible_version)
    }

    /// The path of a file a tablet's meta names, or an error for any other name.
    pub fn tablet_file(&self, tablet_id: TabletId, file: &str) -> Result<PathBuf> {
        let t = self.tablet(tablet_id)?;
        if !t
            .rowsets
            .iter()
            .any(|r| r.segments.iter().any(|s| s == file))
        {
            return Err(Error::backend(format!(
                "tablet {tablet_id} has no file {file}"
            )));
        }
        Ok(self.tablet_dir(tablet_id).join(file))
    }

    /// Drops the unpublished rowsets of `txn_id` on every tablet.
    pub fn abort(&self, txn_id: TxnId) -> Result<()> {
        let ids: Vec<TabletId> = {
            let tablets = self.tablets.read().unwrap_or_else(|e| e.into_inner());
            tablets
                .values()
                .filter(|t| t.rowsets.iter().any(|r| r.is_pending(txn_id)))
                .map(|t| t.tablet_id)
                .collect()
        };
        let mut doomed = Vec::new();
        self.update(&ids, |t| {
            t.rowsets.retain(|r| {
                let drop = r.is_pending(txn_id);
                if drop {
                    doomed.extend(
                        r.segments
                            .iter()
                            .map(|s| self.tablet_dir(t.tablet_id).join(s)),
                    );
                }
                !drop
            });
            Ok(())
        })?;
        for f in doomed {
            let _ = std::fs::remove_file(f);
        }
        Ok(())
    }
}

use reader::Pins;
pub use reader::{EngineReader, ReadView, RowsetPins};

impl basalt_common::tablet_writer::LocalRowsets for StorageEngine {
    fn write_rowset(
        &self,
        txn_id: TxnId,
        tablet_id: TabletId,
        batches: &[RecordBatch],
    ) -> Result<()> {
        crate::metrics::LOCAL_SEGMENT_WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        StorageEngine::write_rowset(self, txn_id, tablet_id, batches)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use basalt_common::schema::{Column, KeysType};
    use basalt_common::types::DorisType;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use std::sync::Arc;

    pub(crate) fn schema() -> TabletSchema {
        let col = |name: &str, data_type, is_key| Column {
            name: name.into(),
            data_type,
            nullable: true,
            is_key,
            agg_type: None,
            default_value: None,
            comment: String::new(),
        };
        TabletSchema {
            keys_type: KeysType::DupKeys,
            columns: vec![
                col("k", DorisType::Int, true),
                col("v", DorisType::String, false),
            ],
            merge_on_write: false,
            sequence_col: None,
            retained_versions: 0,
            bloom_filter_columns: Vec::new(),
            indexes: Vec::new(),
        }
    }

    pub(crate) fn batch(keys: &[i32]) -> RecordBatch {
        let v: Vec<String> = keys.iter().map(|k| format!("v{k}")).collect();
        RecordBatch::try_new(
            schema().arrow_schema(),
            vec![
                Arc::new(Int32Array::from(keys.to_vec())),
                Arc::new(StringArray::from(v)),
            ],
        )
        .unwrap()
    }

    fn visible_rows(engine: &StorageEngine, tablet: TabletId, version: Version) -> u64 {
        let t = engine.tablet(tablet).unwrap();
        t.rowsets
            .iter()
            .filter(|r| r.version.is_some_and(|v| v <= version))
            .map(|r| r.num_rows)
            .sum()
    }

    #[test]
    fn pending_until_published_and_durable_across_reopen() {
        let dir = std::env::temp_dir().join(format!("basalt-engine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let engine = StorageEngine::open(&dir, CompactionConfig::default()).unwrap();
            engine.create_tablet(7, schema()).unwrap();
            engine.write_rowset(100, 7, &[batch(&[3, 1, 2])]).unwrap();
            assert_eq!(visible_rows(&engine, 7, 2), 0, "not visible before publish");
            let publish = [PublishTablet {
                tablet_id: 7,
                version: 2,
                has_rows: true,
            }];
            engine.publish(100, &publish).unwrap();
            engine.publish(100, &publish).unwrap(); // idempotent
            engine.write_rowset(101, 7, &[batch(&[9])]).unwrap();
            engine.write_rowset(101, 7, &[batch(&[8, 7])]).unwrap();
            // A stray file from a write cut short by a crash.
            std::fs::write(engine.tablet_dir(7).join("999_0.parquet.tmp"), b"partial").unwrap();
        }
        let engine = StorageEngine::open(&dir, CompactionConfig::default()).unwrap();
        let t = engine.tablet(7).unwrap();
        assert_eq!(t.visible_version, 2);
        assert_eq!(visible_rows(&engine, 7, 2), 3);
        let pending: Vec<_> = t.rowsets.iter().filter(|r| r.txn_id == 101).collect();
        assert_eq!(pending.len(), 1, "one rowset per load and tablet");
        assert_eq!(pending[0].segments.len(), 2, "a segment per write");
        assert_eq!(pending[0].num_rows, 3);
        assert!(pending[0].version.is_none(), "pending rowset kept");
        assert!(
            !engine.tablet_dir(7).join("999_0.parquet.tmp").exists(),
            "orphan removed"
        );
        engine.abort(101).unwrap();
        let t = engine.tablet(7).unwrap();
        assert_eq!(t.rowsets.len(), 1);
        let files = std::fs::read_dir(engine.tablet_dir(7)).unwrap().count();
        assert_eq!(files, 1, "the aborted segment is deleted");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
