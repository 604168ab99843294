//! Merge-on-write for UNIQUE tables (Doris's default): when a load's rowset
//! is published, the rows it replaces in earlier rowsets are marked in
//! per-segment roaring delete bitmaps, tagged with the version that deleted
//! them, so a read at version v skips the rows deleted up to v and needs no
//! key merge. A row with the delete sign deletes its key and is itself
//! marked; with a sequence column, a row whose sequence value is smaller than
//! the key's current row loses and is marked instead.
//!
//! Finding a key's current row uses a per-tablet index kept in memory and
//! rebuilt by replaying the tablet's rowsets (after a restart or a compaction).
//! Replaying applies the same rules in the same order, so it arrives at the
//! same index the loads built.

use super::meta::BitmapChange;
use super::{RowsetMeta, StorageEngine, TabletMeta};
use basalt_common::rpc::{TabletId, Version};
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::interleave;
use datafusion::arrow::datatypes::Int8Type;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Each segment's deleted rows, by the version that deleted them.
pub type DeleteBitmap = HashMap<(u64, u32), Vec<(Version, RoaringBitmap)>>;

/// The rows of segment `seg` of `rowset` deleted as of `version`.
pub fn deleted(bitmap: &DeleteBitmap, rowset: u64, seg: u32, version: Version) -> RoaringBitmap {
    let mut out = RoaringBitmap::new();
    for (v, b) in bitmap.get(&(rowset, seg)).into_iter().flatten() {
        if *v <= version {
            out |= b;
        }
    }
    out
}

/// Where a key's current row is, and its sequence value (row-encoded, so
/// byte order is value order).
struct Entry {
    rowset: u64,
    segment: u32,
    row: u32,
    seq: Option<Box<[u8]>>,
    /// The row carries the delete sign: the key is deleted.
    deleted: bool,
}

/// A tablet's keys at `version`.
#[derive(Default)]
pub struct KeyIndex {
    version: Version,
    keys: HashMap<Box<[u8]>, Entry>,
}

/// The key, sequence and delete-sign columns of one segment.
struct SegmentKeys {
    keys: Rows,
    seq: Option<Rows>,
    sign: Option<Vec<bool>>,
    rows: usize,
}

fn read_keys(path: &Path, schema: &TabletSchema) -> Result<SegmentKeys> {
    let nkeys = schema.num_key_columns();
    let mut wanted: Vec<usize> = (0..nkeys).collect();
    wanted.extend(schema.sequence());
    wanted.extend(schema.delete_sign());
    let err =
        |e: &dyn std::fmt::Display| Error::internal(format!("reading {}: {e}", path.display()));
    let batches = super::writer::read_segment(path, schema, Some(&wanted))?;
    let arrow = schema.arrow_schema();
    let field = |i: usize| SortField::new(arrow.field(i).data_type().clone());
    let keys = RowConverter::new((0..nkeys).map(field).collect()).map_err(|e| err(&e))?;
    let seq = schema
        .sequence()
        .map(|i| RowConverter::new(vec![field(i)]))
        .transpose()
        .map_err(|e| err(&e))?;
    let mut out = SegmentKeys {
        keys: keys.empty_rows(0, 0),
        seq: seq.as_ref().map(|c| c.empty_rows(0, 0)),
        sign: schema.delete_sign().map(|_| Vec::new()),
        rows: 0,
    };
    // Projected columns keep schema order.
    wanted.sort_unstable();
    let at = |i: Option<usize>| i.and_then(|i| wanted.iter().position(|w| *w == i));
    let (seq_at, sign_at) = (at(schema.sequence()), at(schema.delete_sign()));
    for b in &batches {
        keys.append(&mut out.keys, &b.columns()[..nkeys])
            .map_err(|e| err(&e))?;
        if let (Some(c), Some(rows), Some(i)) = (&seq, &mut out.seq, seq_at) {
            c.append(rows, &b.columns()[i..i + 1])
                .map_err(|e| err(&e))?;
        }
        if let (Some(sign), Some(i)) = (&mut out.sign, sign_at) {
            let col = b.column(i).as_primitive::<Int8Type>();
            sign.extend((0..col.len()).map(|i| col.is_valid(i) && col.value(i) == 1));
        }
        out.rows += b.num_rows();
    }
    Ok(out)
}

impl KeyIndex {
    /// Follows a compaction that merged `inputs` into segment 0 of rowset
    /// `out` (`path`; none when nothing was left): entries of the inputs
    /// point into it. A delete the merge dropped (a base compaction) leaves
    /// the index, as a replay would leave it out. False when a live key is
    /// not found there; the index must then be rebuilt.
    pub fn remap(
        &mut self,
        inputs: &[u64],
        out: u64,
        path: Option<&Path>,
        schema: &TabletSchema,
    ) -> Result<bool> {
        let (live, deletes) = match path {
            Some(p) => positions(p, schema)?,
            None => Default::default(),
        };
        let mut lost = false;
        self.keys.retain(|key, e| {
            if !inputs.contains(&e.rowset) {
                return true;
            }
            let at = if e.deleted {
                deletes.get(key)
            } else {
                live.get(key)
            };
            match at {
                Some(row) => {
                    (e.rowset, e.segment, e.row) = (out, 0, *row);
                    true
                }
                None => {
                    lost |= !e.deleted;
                    false
                }
            }
        });
        Ok(!lost)
    }

    /// Applies `rowset`'s rows (in load order) to the index; returns the rows
    /// they delete, by segment.
    fn apply(
        &mut self,
        dir: &Path,
        schema: &TabletSchema,
        rowset: &RowsetMeta,
    ) -> Result<HashMap<(u64, u32), RoaringBitmap>> {
        let mut marks: HashMap<(u64, u32), RoaringBitmap> = HashMap::new();
        let mut mark = |rowset: u64, seg: u32, row: u32| {
            marks.entry((rowset, seg)).or_default().insert(row);
        };
        for (s, name) in rowset.segments.iter().enumerate() {
            let s = s as u32;
            let seg = read_keys(&dir.join(name), schema)?;
            for row in 0..seg.rows {
                let key = seg.keys.row(row);
                let seq = seg
                    .seq
                    .as_ref()
                    .map(|r| Box::<[u8]>::from(r.row(row).as_ref()));
                let r = row as u32;
                if let Some(old) = self.keys.get(key.as_ref()) {
                    if seq.is_some() && seq < old.seq {
                        mark(rowset.rowset_id, s, r);
                        continue;
                    }
                    mark(old.rowset, old.segment, old.row);
                }
                let deleted = seg.sign.as_ref().is_some_and(|sign| sign[row]);
                if deleted {
                    // A delete stays in the index (its sequence value still
                    // counts) but its row is never read.
                    mark(rowset.rowset_id, s, r);
                }
                let entry = Entry {
                    rowset: rowset.rowset_id,
                    segment: s,
                    row: r,
                    seq,
                    deleted,
                };
                self.keys.insert(key.as_ref().into(), entry);
            }
        }
        Ok(marks)
    }
}

impl StorageEngine {
    /// Computes the delete bitmaps of a merge-on-write tablet's published
    /// rowsets up to its contiguous version, and makes that version visible.
    /// Serialised per tablet with other publishes, compactions and clones.
    pub(super) fn mow_catch_up(&self, tablet_id: TabletId) -> Result<()> {
        let lock = self.mow_lock(tablet_id);
        let mut index = lock.lock().unwrap_or_else(|e| e.into_inner());
        let result = self.catch_up_locked(tablet_id, &mut index);
        if result.is_err() {
            // A rowset may be half applied: rebuild from the rowsets next time.
            *index = None;
        }
        result
    }

    fn catch_up_locked(&self, tablet_id: TabletId, index: &mut Option<KeyIndex>) -> Result<()> {
        let t = self.tablet(tablet_id)?;
        let target = t.contiguous_version();
        if !t.schema.merge_on_write || t.mow_version >= target {
            return Ok(());
        }
        let path = t.path(target).ok_or_else(|| {
            Error::internal(format!(
                "tablet {tablet_id}: no rowsets for version {target}"
            ))
        })?;
        // The first rowset without bitmaps; the index must stand just before it.
        let first = path
            .iter()
            .position(|r| r.version.is_some_and(|v| v > t.mow_version))
            .unwrap_or(path.len());
        let before = path[..first].last().and_then(|r| r.version).unwrap_or(1);
        let dir = self.tablet_dir(tablet_id);
        if index.as_ref().is_none_or(|i| i.version != before) {
            *index = Some(self.replay(&t, &path[..first])?);
        }
        let idx = index.as_mut().expect("just built");
        let mut change = BitmapChange::default();
        // Partial updates, completed into new segment files.
        let mut completed: Vec<(RowsetMeta, Vec<String>)> = Vec::new();
        let result = (|| {
            for rowset in &path[first..] {
                let version = rowset.version.unwrap_or_default();
                let rowset = match rowset.partial_columns {
                    Some(_) => {
                        let done = self.complete_partial(&t, rowset, idx)?;
                        completed.push((done.clone(), rowset.segments.clone()));
                        done
                    }
                    None => (*rowset).clone(),
                };
                for ((rs, seg), bitmap) in idx.apply(&dir, &t.schema, &rowset)? {
                    change
                        .add
                        .push(((tablet_id, rs, seg, version), encode(&bitmap)?));
                }
                idx.version = version;
            }
            self.update_with(&[tablet_id], &change, |t| {
                for (done, _) in &completed {
                    if let Some(r) = t.rowsets.iter_mut().find(|r| r.rowset_id == done.rowset_id) {
                        r.segments = done.segments.clone();
                        r.data_size = done.data_size;
                        r.partial_columns = None;
                    }
                }
                t.mow_version = target;
                t.refresh_visible();
                Ok(())
            })
        })();
        // The files the meta no longer names (or never came to name).
        for (done, before) in &completed {
            let gone = if result.is_ok() {
                before
            } else {
                &done.segments
            };
            for f in gone {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
        result
    }

    /// Completes a partial update's segments: a row whose key exists takes
    /// the columns the load did not give from the key's current row; a new
    /// key keeps the defaults it was loaded with. Returns the rowset naming
    /// the completed segments, written as new files.
    fn complete_partial(
        &self,
        t: &TabletMeta,
        rowset: &RowsetMeta,
        idx: &KeyIndex,
    ) -> Result<RowsetMeta> {
        let given = rowset.partial_columns.clone().unwrap_or_default();
        let dir = self.tablet_dir(t.tablet_id);
        let arrow = t.schema.arrow_schema();
        let nkeys = t.schema.num_key_columns();
        let err = |e: &dyn std::fmt::Display| Error::internal(format!("partial update: {e}"));
        let converter = RowConverter::new(
            (0..nkeys)
                .map(|i| SortField::new(arrow.field(i).data_type().clone()))
                .collect(),
        )
        .map_err(|e| err(&e))?;
        // The segments that current rows come from, read once each.
        let mut olds: Vec<RecordBatch> = Vec::new();
        let mut loaded: HashMap<(u64, u32), usize> = HashMap::new();
        let mut out = rowset.clone();
        out.segments.clear();
        out.partial_columns = None;
        out.data_size = 0;
        for name in &rowset.segments {
            let batch = read_segment(&dir.join(name), &t.schema)?;
            let keys = converter
                .convert_columns(&batch.columns()[..nkeys])
                .map_err(|e| err(&e))?;
            // Per row: (0, its own row) or (k, the row of the k-th old segment).
            let mut picks: Vec<(usize, usize)> = Vec::with_capacity(batch.num_rows());
            for row in 0..batch.num_rows() {
                let Some(e) = idx.keys.get(keys.row(row).as_ref()).filter(|e| !e.deleted) else {
                    picks.push((0, row));
                    continue;
                };
                let source = match loaded.get(&(e.rowset, e.segment)) {
                    Some(s) => *s,
                    None => {
                        let file = t
                            .rowsets
                            .iter()
                            .find(|r| r.rowset_id == e.rowset)
                            .and_then(|r| r.segments.get(e.segment as usize))
                            .ok_or_else(|| err(&format!("rowset {} is gone", e.rowset)))?;
                        olds.push(read_segment(&dir.join(file), &t.schema)?);
                        loaded.insert((e.rowset, e.segment), olds.len());
                        olds.len()
                    }
                };
                picks.push((source, e.row as usize));
            }
            let own: Vec<(usize, usize)> = (0..batch.num_rows()).map(|r| (0, r)).collect();
            let mut columns = Vec::with_capacity(arrow.fields().len());
            for i in 0..arrow.fields().len() {
                let from_load = given.contains(&i) || Some(i) == t.schema.delete_sign();
                let mut from: Vec<&dyn Array> = vec![batch.column(i).as_ref()];
                from.extend(olds.iter().map(|b| b.column(i).as_ref()));
                let rows = if from_load { &own } else { &picks };
                columns.push(interleave(&from, rows).map_err(|e| err(&e))?);
            }
            let filled = RecordBatch::try_new(Arc::clone(&arrow), columns).map_err(|e| err(&e))?;
            let id = self.new_rowset_id();
            if let Some(seg) = super::writer::write_segment(&dir, id, &t.schema, &[filled])? {
                out.segments.push(seg.file);
                out.data_size += seg.bytes;
            }
        }
        Ok(out)
    }

    /// Builds the key index by replaying `rowsets` (a chain from version 2).
    fn replay(&self, t: &TabletMeta, rowsets: &[&RowsetMeta]) -> Result<KeyIndex> {
        let dir = self.tablet_dir(t.tablet_id);
        let mut index = KeyIndex::default();
        for r in rowsets {
            index.apply(&dir, &t.schema, r)?;
            index.version = r.version.unwrap_or(1);
        }
        Ok(index)
    }
}

/// Every row of a segment, as one batch.
fn read_segment(path: &Path, schema: &TabletSchema) -> Result<RecordBatch> {
    let batches = super::writer::read_segment(path, schema, None)?;
    datafusion::arrow::compute::concat_batches(&schema.arrow_schema(), &batches)
        .map_err(|e| Error::internal(format!("reading {}: {e}", path.display())))
}

/// The keys (row-encoded) of the given rows of a segment.
pub fn keys_of(path: &Path, schema: &TabletSchema, rows: &RoaringBitmap) -> Result<Vec<Box<[u8]>>> {
    let seg = read_keys(path, schema)?;
    Ok(rows
        .iter()
        .filter(|r| (*r as usize) < seg.rows)
        .map(|r| Box::from(seg.keys.row(r as usize).as_ref()))
        .collect())
}

/// Where each key's row is in a segment: the rows without the delete sign,
/// and those with it.
pub fn positions(path: &Path, schema: &TabletSchema) -> Result<(Positions, Positions)> {
    let seg = read_keys(path, schema)?;
    let (mut live, mut deletes) = (HashMap::new(), HashMap::new());
    for r in 0..seg.rows {
        let key = Box::from(seg.keys.row(r).as_ref());
        match seg.sign.as_ref().is_some_and(|s| s[r]) {
            true => deletes.insert(key, r as u32),
            false => live.insert(key, r as u32),
        };
    }
    Ok((live, deletes))
}

/// Row positions by key (row-encoded).
pub type Positions = HashMap<Box<[u8]>, u32>;

/// The rows of a segment that carry the delete sign.
pub fn deletes(path: &Path, schema: &TabletSchema) -> Result<RoaringBitmap> {
    let seg = read_keys(path, schema)?;
    let signs = seg.sign.unwrap_or_default();
    Ok((0..signs.len() as u32)
        .filter(|i| signs[*i as usize])
        .collect())
}

pub fn encode(bitmap: &RoaringBitmap) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(bitmap.serialized_size());
    bitmap
        .serialize_into(&mut bytes)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(bytes)
}

/// Decodes a stored bitmap.
pub fn decode(bytes: &[u8]) -> Result<RoaringBitmap> {
    RoaringBitmap::deserialize_from(bytes)
        .map_err(|e| Error::internal(format!("delete bitmap: {e}")))
}
