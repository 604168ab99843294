//! Compaction: merging a tablet's adjacent rowsets into one, applying the key
//! model, so reads open few files and versions stay bounded. As in Doris,
//! small recent rowsets (deltas) are merged by *cumulative* compaction, and
//! the larger ones before them, with the first rowset, by *base* compaction.
//! Replaced rowsets turn stale: still readable by queries at older versions
//! and by reads already under way, and swept once none uses them and
//! `tablet_rowset_stale_sweep_time_sec` has passed.

use super::meta::BitmapChange;
use super::{merge, writer, RowsetMeta, StorageEngine, TabletMeta};
use crate::{blocking, metrics};
use basalt_common::config::BeConfig;
use basalt_common::rpc::{TabletId, Version};
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::Int8Type;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The BE settings that drive compaction (Doris's names, in `BeConfig`).
#[derive(Debug, Clone)]
pub struct CompactionConfig {
    pub disable_auto_compaction: bool,
    pub interval: Duration,
    pub cumulative_min_deltas: usize,
    pub cumulative_max_deltas: usize,
    pub base_min_rowsets: usize,
    /// A rowset this large is no longer a delta.
    pub promotion_size: u64,
    /// Loads into a tablet with this many rowsets wait for compaction.
    pub max_versions: usize,
    /// How long a load waits for that before failing as Doris does (-235).
    pub max_wait: Duration,
    pub stale_sweep: Duration,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self::from_be(&BeConfig::default())
    }
}

impl CompactionConfig {
    pub fn from_be(cfg: &BeConfig) -> Self {
        Self {
            disable_auto_compaction: cfg.disable_auto_compaction,
            interval: Duration::from_millis(cfg.generate_compaction_tasks_interval_ms),
            cumulative_min_deltas: cfg.cumulative_compaction_min_deltas.max(2),
            cumulative_max_deltas: cfg.cumulative_compaction_max_deltas.max(2),
            base_min_rowsets: cfg.base_compaction_min_rowset_num.max(2),
            promotion_size: cfg.compaction_promotion_size_mbytes << 20,
            max_versions: cfg.max_tablet_version_num.max(4),
            max_wait: Duration::from_secs(60),
            stale_sweep: Duration::from_secs(cfg.tablet_rowset_stale_sweep_time_sec),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Base,
    Cumulative,
}

impl Kind {
    fn metric(self) -> usize {
        match self {
            Kind::Base => 0,
            Kind::Cumulative => 1,
        }
    }
}

/// What to merge in `t`, if anything: ids of adjacent current rowsets.
pub fn pick(t: &TabletMeta, cfg: &CompactionConfig) -> Option<(Kind, Vec<u64>)> {
    // The newest `retained_versions` stay as they are, for time travel.
    let limit = t.visible_version.saturating_sub(t.schema.retained_versions);
    let mut rowsets: Vec<&RowsetMeta> = t
        .current()
        .filter(|r| r.version.is_some_and(|v| v <= limit))
        .collect();
    rowsets.sort_by_key(|r| r.versions());
    if rowsets.len() < 2 {
        return None;
    }
    let ids = |rs: &[&RowsetMeta]| rs.iter().map(|r| r.rowset_id).collect::<Vec<_>>();
    // Deltas: the small rowsets after the last large one (never the first rowset).
    // A delete predicate applies to every older row: only a base compaction
    // (which has them all) may merge it away, so deltas start after it.
    let first_delta = rowsets[1..]
        .iter()
        .rposition(|r| r.data_size >= cfg.promotion_size || r.delete_predicate.is_some())
        .map_or(1, |i| i + 2);
    let deltas = &rowsets[first_delta..];
    if deltas.len() >= cfg.cumulative_min_deltas {
        let n = deltas.len().min(cfg.cumulative_max_deltas);
        return Some((Kind::Cumulative, ids(&deltas[..n])));
    }
    // Base compaction when the large rowsets pile up, or whenever the tablet
    // nears its version bound (so loads held back there always move again).
    let bases = &rowsets[..first_delta];
    if bases.len() >= cfg.base_min_rowsets || rowsets.len() * 2 >= cfg.max_versions {
        return Some((Kind::Base, ids(&rowsets)));
    }
    None
}

impl StorageEngine {
    /// Merges the adjacent rowsets `inputs` of a tablet into one rowset
    /// holding their versions, then makes them stale.
    pub async fn compact(
        self: &Arc<Self>,
        tablet_id: TabletId,
        kind: Kind,
        inputs: Vec<u64>,
    ) -> Result<()> {
        let tablet = self.tablet(tablet_id)?;
        let mut rowsets: Vec<RowsetMeta> = tablet
            .current()
            .filter(|r| inputs.contains(&r.rowset_id))
            .cloned()
            .collect();
        rowsets.sort_by_key(|r| r.versions());
        let Some(first) = rowsets.first() else {
            return Ok(());
        };
        let start = first.versions().map_or(0, |(s, _)| s);
        let _pins = self.pin(inputs.clone());
        let started = Instant::now();
        let dir = self.tablet_dir(tablet_id);
        let schema = tablet.schema.clone();
        if schema.merge_on_write {
            // Publishes of this tablet wait meanwhile. Rows deleted by the
            // inputs' versions are dropped; a row a later version deleted is
            // kept, and its mark carried over to where it lands.
            let engine = Arc::clone(self);
            return blocking(move || {
                let lock = engine.mow_lock(tablet_id);
                let mut index = lock.lock().unwrap_or_else(|e| e.into_inner());
                let end = rowsets.last().and_then(|r| r.version).unwrap_or_default();
                // Deletes (rows with the delete sign) are kept, still marked,
                // until a base compaction: an older row of their key may
                // live on in a replica that clones only the newer rowsets.
                let sign = schema.delete_sign().filter(|_| start > 2);
                let mut batches = Vec::new();
                let mut carried = Vec::new();
                for r in &rowsets {
                    for (i, seg) in r.segments.iter().enumerate() {
                        let path = dir.join(seg);
                        let deleted = engine.deleted_rows(tablet_id, r.rowset_id, i as u32, end);
                        batches.extend(live_rows(&path, &schema, &deleted, sign)?);
                        for (version, rows) in
                            engine.bitmap_entries(tablet_id, r.rowset_id, i as u32)
                        {
                            if version > end {
                                let keys = super::mow::keys_of(&path, &schema, &rows)?;
                                carried.extend(keys.into_iter().map(|k| (version, k)));
                            }
                        }
                    }
                }
                let merged =
                    engine.commit_compaction(tablet_id, kind, &rowsets, batches, carried)?;
                // Rows moved: the index follows them (or is rebuilt when next needed).
                if let (Some(idx), Some(m)) = (index.as_mut(), merged) {
                    if !idx.remap(&m.inputs, m.rowset, m.segment.as_deref(), &schema)? {
                        *index = None;
                    }
                }
                Ok(())
            })
            .await
            .inspect(|_| {
                tracing::debug!(
                    tablet_id,
                    ms = started.elapsed().as_millis() as u64,
                    "compacted"
                )
            });
        }
        let (chain, read_schema) = (rowsets.clone(), schema.clone());
        let batches = blocking(move || {
            let mut out = Vec::new();
            for (r, deletes) in super::delete::applicable(&chain) {
                let mut rows = Vec::new();
                for s in &r.segments {
                    rows.extend(writer::read_segment(&dir.join(s), &read_schema, None)?);
                }
                if deletes.is_empty() {
                    out.extend(rows);
                    continue;
                }
                let keep = super::delete::keep(&read_schema, &deletes)?;
                for b in rows {
                    out.push(super::delete::apply(&keep, &b)?);
                }
            }
            Ok(out)
        })
        .await?;
        let batches = if merge::needed(&schema) {
            vec![merge::merge(&schema, batches).await?]
        } else {
            batches
        };
        let engine = Arc::clone(self);
        blocking(move || engine.commit_compaction(tablet_id, kind, &rowsets, batches, Vec::new()))
            .await?;
        tracing::debug!(
            tablet_id,
            ?kind,
            ms = started.elapsed().as_millis() as u64,
            "compacted"
        );
        Ok(())
    }

    /// Writes the merged rows of `inputs` as one rowset holding their
    /// versions, and makes the inputs stale. `carried`: merge-on-write marks
    /// of later versions on input rows, by the row's key.
    fn commit_compaction(
        &self,
        tablet_id: TabletId,
        kind: Kind,
        inputs: &[RowsetMeta],
        batches: Vec<RecordBatch>,
        carried: Vec<(Version, Box<[u8]>)>,
    ) -> Result<Option<Merged>> {
        let (Some(first), Some(last)) = (inputs.first(), inputs.last()) else {
            return Ok(None);
        };
        let dir = self.tablet_dir(tablet_id);
        let id = self.new_rowset_id();
        let schema = self.tablet(tablet_id)?.schema.clone();
        let segment = writer::write_segment(&dir, id, &schema, &batches)?;
        let mut output = RowsetMeta::new(id, 0);
        output.start_version = first.versions().map_or(0, |(s, _)| s);
        output.version = last.version;
        if let Some(s) = &segment {
            output.segments.push(s.file.clone());
            output.num_rows = s.rows;
            output.data_size = s.bytes;
        }
        let ids: Vec<u64> = inputs.iter().map(|r| r.rowset_id).collect();
        let mut change = BitmapChange::default();
        if let (true, Some(s), Some(end)) = (schema.merge_on_write, &segment, last.version) {
            // The deletes kept are marked again, in the new rowset, and so
            // are the rows later versions deleted.
            let out = dir.join(&s.file);
            let mut marks: BTreeMap<Version, roaring::RoaringBitmap> = BTreeMap::new();
            let deletes = super::mow::deletes(&out, &schema)?;
            if !deletes.is_empty() {
                marks.insert(end, deletes);
            }
            if !carried.is_empty() {
                let (at, _) = super::mow::positions(&out, &schema)?;
                for (version, key) in &carried {
                    let row = at.get(key).ok_or_else(|| {
                        Error::internal("a row deleted later is missing from the compaction")
                    })?;
                    marks.entry(*version).or_default().insert(*row);
                }
            }
            for (version, bitmap) in marks {
                let key = (tablet_id, id, 0, version);
                change.add.push((key, super::mow::encode(&bitmap)?));
            }
        }
        let committed = self.update_with(&[tablet_id], &change, |t| {
            // A clone may be replacing these rowsets.
            if self.cloning(t.tablet_id) {
                return Err(Error::backend(
                    "tablet is being cloned; compaction retried later",
                ));
            }
            let now = basalt_common::now_ms();
            let live = t.current().filter(|r| ids.contains(&r.rowset_id)).count();
            if live != ids.len() {
                return Err(Error::backend("compaction inputs changed; retried later"));
            }
            for r in t.rowsets.iter_mut().filter(|r| ids.contains(&r.rowset_id)) {
                r.stale_since_ms = Some(now);
            }
            t.rowsets.push(output.clone());
            Ok(())
        });
        if let Err(e) = committed {
            if let Some(s) = segment {
                let _ = std::fs::remove_file(dir.join(s.file));
            }
            return Err(e);
        }
        let bytes: u64 = inputs.iter().map(|r| r.data_size).sum();
        metrics::COMPACTION_DELTAS[kind.metric()].fetch_add(inputs.len() as u64, Ordering::Relaxed);
        metrics::COMPACTION_BYTES[kind.metric()].fetch_add(bytes, Ordering::Relaxed);
        Ok(Some(Merged {
            inputs: ids,
            rowset: id,
            segment: segment.map(|s| dir.join(s.file)),
        }))
    }

    /// Removes stale rowsets past their sweep time; the files of one a read
    /// still uses go when that read ends.
    pub fn sweep_stale(&self) -> Result<()> {
        let cutoff =
            basalt_common::now_ms().saturating_sub(self.config.stale_sweep.as_millis() as i64);
        let doomed: Vec<(TabletId, u64)> = {
            let tablets = self.tablets.read().unwrap_or_else(|e| e.into_inner());
            tablets
                .values()
                .flat_map(|t| t.rowsets.iter().map(|r| (t.tablet_id, r)))
                .filter(|(_, r)| r.stale_since_ms.is_some_and(|s| s <= cutoff))
                .map(|(t, r)| (t, r.rowset_id))
                .collect()
        };
        if doomed.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<TabletId> = doomed.iter().map(|(t, _)| *t).collect();
        ids.dedup();
        let mut files: Vec<(u64, Vec<std::path::PathBuf>)> = Vec::new();
        let change = BitmapChange {
            drop_rowsets: doomed.clone(),
            ..Default::default()
        };
        self.update_with(&ids, &change, |t| {
            let dir = self.tablet_dir(t.tablet_id);
            t.rowsets.retain(|r| {
                let sweep = doomed.contains(&(t.tablet_id, r.rowset_id));
                if sweep {
                    files.push((
                        r.rowset_id,
                        r.segments.iter().map(|s| dir.join(s)).collect(),
                    ));
                }
                !sweep
            });
            Ok(())
        })?;
        for (id, f) in files {
            self.bury(id, f);
        }
        Ok(())
    }

    /// Back-pressure: a load into a tablet at its version bound waits for
    /// compaction to merge rowsets instead of failing; only after
    /// `max_wait` does it fail, with Doris's message.
    pub(super) fn wait_for_versions(&self, tablet_id: TabletId) -> Result<Arc<TabletMeta>> {
        let deadline = Instant::now() + self.config.max_wait;
        loop {
            let t = self.tablet(tablet_id)?;
            let count = t.current().count();
            if count < self.config.max_versions {
                return Ok(t);
            }
            if Instant::now() >= deadline {
                return Err(Error::backend(format!(
                    "failed to init rowset builder. version count: {count}, exceed limit: {}, \
                     tablet: {tablet_id}. Please reduce the frequency of loading data or adjust \
                     the max_tablet_version_num in be.conf to a larger value.",
                    self.config.max_versions
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A compaction's output: which rowsets it merged, into which, and its file.
struct Merged {
    inputs: Vec<u64>,
    rowset: u64,
    segment: Option<std::path::PathBuf>,
}

/// The rows of a segment file that `deleted` does not name, and those with
/// the delete sign (at column `sign`) when given.
fn live_rows(
    file: &std::path::Path,
    schema: &TabletSchema,
    deleted: &roaring::RoaringBitmap,
    sign: Option<usize>,
) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut offset = 0u32;
    for batch in writer::read_segment(file, schema, None)? {
        let n = batch.num_rows() as u32;
        let signs = sign.map(|s| batch.column(s).as_primitive::<Int8Type>().clone());
        let keep: datafusion::arrow::array::BooleanArray = (0..n as usize)
            .map(|i| {
                let delete = signs
                    .as_ref()
                    .is_some_and(|s| s.is_valid(i) && s.value(i) == 1);
                Some(delete || !deleted.contains(offset + i as u32))
            })
            .collect();
        offset += n;
        out.push(
            datafusion::arrow::compute::filter_record_batch(&batch, &keep)
                .map_err(|e| Error::internal(e.to_string()))?,
        );
    }
    Ok(out)
}

/// One column of a segment file, whole.
pub(super) fn read_column(
    file: &std::path::Path,
    schema: &TabletSchema,
    column: usize,
) -> Result<ArrayRef> {
    let batches = writer::read_segment(file, schema, Some(&[column]))?;
    let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(0).as_ref()).collect();
    datafusion::arrow::compute::concat(&arrays)
        .map_err(|e| Error::internal(format!("reading {}: {e}", file.display())))
}

/// The background loop: every `generate_compaction_tasks_interval_ms`, the
/// tablets with the most rowsets are compacted first, then stale rowsets swept.
pub async fn run_compaction(engine: Arc<StorageEngine>, mut shutdown: watch::Receiver<bool>) {
    let cfg = engine.config.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(cfg.interval) => {}
            _ = shutdown.changed() => return,
        }
        if !cfg.disable_auto_compaction {
            let mut picks: Vec<(usize, TabletId, Kind, Vec<u64>)> = {
                let tablets = engine.tablets.read().unwrap_or_else(|e| e.into_inner());
                tablets
                    .values()
                    .filter(|t| !engine.cloning(t.tablet_id))
                    .filter_map(|t| {
                        let (kind, ids) = pick(t, &cfg)?;
                        Some((t.current().count(), t.tablet_id, kind, ids))
                    })
                    .collect()
            };
            picks.sort_by_key(|p| std::cmp::Reverse(p.0));
            for (_, tablet, kind, ids) in picks {
                if let Err(e) = engine.compact(tablet, kind, ids).await {
                    tracing::warn!(tablet, "compaction failed: {e}");
                }
            }
        }
        let sweeper = Arc::clone(&engine);
        if let Err(e) = blocking(move || sweeper.sweep_stale()).await {
            tracing::warn!("sweeping stale rowsets failed: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::tests::{batch, schema};
    use basalt_common::rpc::PublishTablet;

    #[tokio::test]
    async fn compacted_versions_stay_readable_until_swept() {
        let dir = std::env::temp_dir().join(format!("basalt-compact-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = CompactionConfig {
            cumulative_min_deltas: 3,
            stale_sweep: Duration::ZERO,
            ..Default::default()
        };
        let engine = Arc::new(StorageEngine::open(&dir, cfg.clone()).unwrap());
        engine.create_tablet(1, schema()).unwrap();
        for v in 2..=6u64 {
            engine.write_rowset(v, 1, &[batch(&[v as i32])]).unwrap();
            let p = [PublishTablet {
                tablet_id: 1,
                version: v,
                has_rows: true,
            }];
            engine.publish(v, &p).unwrap();
        }
        let t = engine.tablet(1).unwrap();
        let (kind, ids) = pick(&t, &cfg).unwrap();
        assert_eq!(kind, Kind::Cumulative);
        assert_eq!(ids.len(), 4, "every rowset after the first");
        engine.compact(1, kind, ids).await.unwrap();
        let t = engine.tablet(1).unwrap();
        assert_eq!(t.current().count(), 2);
        assert_eq!(t.visible_version, 6);
        let latest = t.path(6).unwrap();
        assert_eq!(latest.iter().map(|r| r.num_rows).sum::<u64>(), 5);
        assert_eq!(latest.len(), 2, "the compacted rowset replaces four");
        // Version 4 is inside the merged range: only the stale rowsets hold it.
        assert_eq!(t.path(4).unwrap().len(), 3);
        let pin = engine.pin(t.path(4).unwrap().iter().map(|r| r.rowset_id).collect());
        let files = || std::fs::read_dir(engine.tablet_dir(1)).unwrap().count();
        engine.sweep_stale().unwrap();
        let t = engine.tablet(1).unwrap();
        assert!(t.path(4).is_none(), "swept");
        assert_eq!(files(), 4, "the stale files a read uses stay");
        drop(pin);
        assert_eq!(files(), 2, "deleted when the read ends");
        assert_eq!(t.path(6).unwrap().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
