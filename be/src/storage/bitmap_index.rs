//! Bitmap indexes (`INDEX i (c) USING BITMAP`): for each segment and indexed
//! column, the rows of every distinct value as a roaring bitmap, kept in a
//! file beside the segment (`<segment>.<index>.bitmap`, Arrow IPC: the value,
//! the bitmap). A read turns `c = v`, `c IN (...)` and `c IS [NOT] NULL`
//! conjuncts into the rows to decode, before any column is decoded. A
//! segment without the file (written before the index, or cloned) is read
//! without it.

use super::TabletMeta;
use basalt_common::rpc::TabletId;
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt32Type};
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{
    BinaryExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, Literal,
};
use datafusion::physical_expr::PhysicalExpr;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("bitmap index: {e}"))
}

/// The index file of `index` for the segment at `segment`.
pub fn path(segment: &Path, index: &str) -> PathBuf {
    let mut name = segment.as_os_str().to_owned();
    name.push(format!(".{index}.bitmap"));
    PathBuf::from(name)
}

/// Writes the index files of every bitmap index of `schema` for a segment's
/// rows (fsynced; the caller renames nothing, as a missing file only means
/// the index is not used).
pub fn write_all(segment: &Path, schema: &TabletSchema, rows: &RecordBatch) -> Result<()> {
    for index in &schema.indexes {
        let Some(col) = schema.index_of(&index.column) else {
            continue;
        };
        write(&path(segment, &index.name), rows.column(col))?;
    }
    Ok(())
}

/// Bitmaps per batch of an index file, by size: a lookup decodes one batch,
/// so a predicate on one value reads about this much, not the whole index.
const BATCH_BYTES: usize = 64 * 1024;

/// The format version, in the file's schema metadata. Version 1 (no
/// metadata) was one batch of every value and its bitmap.
const VERSION: &str = "2";

/// One index file: each distinct value of `column` and its rows, in value
/// order. Batch 0 is the directory (every value and the batch holding its
/// bitmap, with empty bitmaps); the bitmaps follow in batches of about
/// [`BATCH_BYTES`], so a read seeks to the batches of the values it needs.
pub fn write(file: &Path, column: &ArrayRef) -> Result<()> {
    let converter =
        RowConverter::new(vec![SortField::new(column.data_type().clone())]).map_err(err)?;
    let keys = converter
        .convert_columns(&[Arc::clone(column)])
        .map_err(err)?;
    let mut groups: HashMap<&[u8], (u32, RoaringBitmap)> = HashMap::new();
    for row in 0..column.len() {
        let entry = groups
            .entry(keys.row(row).data())
            .or_insert_with(|| (row as u32, RoaringBitmap::new()));
        entry.1.insert(row as u32);
    }
    let mut groups: Vec<(&[u8], (u32, RoaringBitmap))> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|(key, _)| *key);
    let first: UInt32Array = groups.iter().map(|(_, (r, _))| Some(*r)).collect();
    let values = take(column.as_ref(), &first, None).map_err(err)?;
    let bitmaps: Vec<Vec<u8>> = groups
        .iter()
        .map(|(_, (_, b))| super::mow::encode(b))
        .collect::<Result<_>>()?;
    // Cut the values into batches of about BATCH_BYTES of bitmaps.
    let mut cuts = vec![0];
    let mut bytes = 0;
    for (i, b) in bitmaps.iter().enumerate() {
        if bytes > 0 && bytes + b.len() > BATCH_BYTES {
            cuts.push(i);
            bytes = 0;
        }
        bytes += b.len();
    }
    cuts.push(bitmaps.len());
    let batch_of: UInt32Array = (0..bitmaps.len())
        .map(|i| Some(cuts.partition_point(|&c| c <= i) as u32))
        .collect();
    let metadata = HashMap::from([("version".to_string(), VERSION.to_string())]);
    let schema = Arc::new(Schema::new_with_metadata(
        vec![
            Field::new("value", column.data_type().clone(), true),
            Field::new("batch", DataType::UInt32, false),
            Field::new("rows", DataType::Binary, false),
        ],
        metadata,
    ));
    let empty = BinaryArray::from_iter_values(std::iter::repeat_n(b"", bitmaps.len()));
    let directory = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![values.clone(), Arc::new(batch_of.clone()), Arc::new(empty)],
    )
    .map_err(err)?;
    let tmp = file.with_extension("tmp");
    let out = std::fs::File::create(&tmp)?;
    let mut writer = FileWriter::try_new(out, &schema).map_err(err)?;
    writer.write(&directory).map_err(err)?;
    for w in cuts.windows(2) {
        let (from, len) = (w[0], w[1] - w[0]);
        let rows = BinaryArray::from_iter_values(bitmaps[from..w[1]].iter());
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                values.slice(from, len),
                Arc::new(batch_of.slice(from, len)),
                Arc::new(rows),
            ],
        )
        .map_err(err)?;
        writer.write(&batch).map_err(err)?;
    }
    let out = writer.into_inner().map_err(err)?;
    out.sync_all()?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

/// An open index file: its directory read, its bitmaps read on demand.
struct Index {
    reader: FileReader<std::fs::File>,
    converter: RowConverter,
    data_type: DataType,
    /// Value (as row bytes) -> the batch holding its bitmap; `None` in a
    /// version 1 file, whose single batch holds everything.
    directory: Option<HashMap<Box<[u8]>, usize>>,
    /// The batch holding the NULL value's rows, if any row is NULL.
    null_batch: Option<usize>,
}

fn open(file: &Path) -> Result<Option<Index>> {
    let Ok(f) = std::fs::File::open(file) else {
        return Ok(None);
    };
    let reader = FileReader::try_new(f, None).map_err(err)?;
    let schema = reader.schema();
    let data_type = schema.field(0).data_type().clone();
    let converter = RowConverter::new(vec![SortField::new(data_type.clone())]).map_err(err)?;
    let mut index = Index {
        reader,
        converter,
        data_type,
        directory: None,
        null_batch: None,
    };
    if schema.metadata().get("version").map(String::as_str) == Some(VERSION) {
        let batch = index.reader.next().transpose().map_err(err)?;
        let batch = batch.ok_or_else(|| err("no directory"))?;
        let keys = index
            .converter
            .convert_columns(&[Arc::clone(batch.column(0))])
            .map_err(err)?;
        let batches = batch.column(1).as_primitive::<UInt32Type>();
        let mut directory = HashMap::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let b = batches.value(i) as usize;
            match batch.column(0).is_null(i) {
                true => index.null_batch = Some(b),
                false => _ = directory.insert(keys.row(i).data().into(), b),
            }
        }
        index.directory = Some(directory);
    }
    Ok(Some(index))
}

impl Index {
    /// The rows of the values (row bytes; `None` for NULL) found in batch `b`.
    fn rows_in(&mut self, b: usize, wanted: &[Option<&[u8]>]) -> Result<RoaringBitmap> {
        self.reader.set_index(b).map_err(err)?;
        let batch = self.reader.next().transpose().map_err(err)?;
        let batch = batch.ok_or_else(|| err(format!("no batch {b}")))?;
        let values = batch.column(0);
        let keys = self
            .converter
            .convert_columns(&[Arc::clone(values)])
            .map_err(err)?;
        let bitmaps = batch.column(batch.num_columns() - 1).as_binary::<i32>();
        let mut out = RoaringBitmap::new();
        for i in 0..batch.num_rows() {
            let key = (!values.is_null(i)).then(|| keys.row(i).data());
            if wanted.contains(&key) {
                out |= super::mow::decode(bitmaps.value(i))?;
            }
        }
        Ok(out)
    }

    /// The rows holding any of `values`, reading only the batches that hold
    /// them; `None` when a value is not of the column's type (the planner
    /// casts literals to it, so a comparison in another type is left to
    /// evaluation rather than answered by a lossy cast).
    fn matching(
        &mut self,
        values: &[&datafusion::common::ScalarValue],
    ) -> Result<Option<RoaringBitmap>> {
        let mut keys = Vec::new();
        for v in values {
            if v.data_type() != self.data_type {
                return Ok(None);
            }
            if !v.is_null() {
                let array = v.to_array().map_err(err)?;
                keys.push(self.converter.convert_columns(&[array]).map_err(err)?);
            }
        }
        let keys: Vec<&[u8]> = keys.iter().map(|k| k.row(0).data()).collect();
        self.rows_of(keys.into_iter().map(Some).collect()).map(Some)
    }

    /// The rows whose value is NULL.
    fn nulls(&mut self) -> Result<RoaringBitmap> {
        self.rows_of(vec![None])
    }

    fn rows_of(&mut self, wanted: Vec<Option<&[u8]>>) -> Result<RoaringBitmap> {
        let Some(directory) = &self.directory else {
            return self.rows_in(0, &wanted);
        };
        let mut batches: Vec<usize> = wanted
            .iter()
            .filter_map(|k| match k {
                Some(k) => directory.get(*k).copied(),
                None => self.null_batch,
            })
            .collect();
        batches.sort_unstable();
        batches.dedup();
        let mut out = RoaringBitmap::new();
        for b in batches {
            out |= self.rows_in(b, &wanted)?;
        }
        Ok(out)
    }
}

/// The rows of a segment that the bitmap indexes select for a predicate.
pub struct Selected {
    pub rows: RoaringBitmap,
    /// Every conjunct was answered by an index: the rows are exactly those
    /// the predicate holds for, and it need not be evaluated on them.
    pub exact: bool,
}

/// The rows of a segment (of `total` rows) that the predicate's indexable
/// conjuncts allow, or `None` when no conjunct can use an index.
pub fn select(
    segment: &Path,
    schema: &TabletSchema,
    predicate: &Arc<dyn PhysicalExpr>,
    total: u32,
) -> Result<Option<Selected>> {
    let conjuncts = datafusion::physical_expr::split_conjunction(predicate);
    let mut selected: Option<RoaringBitmap> = None;
    let mut exact = true;
    let mut opened: HashMap<usize, Option<Index>> = HashMap::new();
    for c in conjuncts {
        let Some((column, test)) = indexable(c) else {
            exact = false;
            continue;
        };
        let Some(index) = schema
            .indexes
            .iter()
            .find(|i| schema.index_of(&i.column) == Some(column))
        else {
            exact = false;
            continue;
        };
        let idx = match opened.entry(column) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(open(&path(segment, &index.name))?)
            }
        };
        let Some(idx) = idx.as_mut() else {
            exact = false;
            continue;
        };
        let rows = match test {
            Test::In(values) => match idx.matching(&values)? {
                Some(rows) => rows,
                None => {
                    exact = false;
                    continue;
                }
            },
            Test::IsNull => idx.nulls()?,
            Test::IsNotNull => {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..total);
                all - idx.nulls()?
            }
        };
        selected = Some(match selected {
            Some(s) => s & rows,
            None => rows,
        });
    }
    Ok(selected.map(|rows| Selected { rows, exact }))
}

enum Test<'a> {
    In(Vec<&'a datafusion::common::ScalarValue>),
    IsNull,
    IsNotNull,
}

fn column_of(e: &Arc<dyn PhysicalExpr>) -> Option<usize> {
    e.downcast_ref::<Column>().map(Column::index)
}

fn literal_of(e: &Arc<dyn PhysicalExpr>) -> Option<&datafusion::common::ScalarValue> {
    e.downcast_ref::<Literal>().map(Literal::value)
}

/// `column = literal`, `column IN (literals)`, `column IS [NOT] NULL`.
fn indexable(e: &Arc<dyn PhysicalExpr>) -> Option<(usize, Test<'_>)> {
    if let Some(b) = e.downcast_ref::<BinaryExpr>() {
        if *b.op() != Operator::Eq {
            return None;
        }
        return match (column_of(b.left()), literal_of(b.right())) {
            (Some(c), Some(v)) => Some((c, Test::In(vec![v]))),
            _ => match (literal_of(b.left()), column_of(b.right())) {
                (Some(v), Some(c)) => Some((c, Test::In(vec![v]))),
                _ => None,
            },
        };
    }
    if let Some(i) = e.downcast_ref::<InListExpr>() {
        if i.negated() {
            return None;
        }
        let values: Option<Vec<_>> = i.list().iter().map(literal_of).collect();
        return Some((column_of(i.expr())?, Test::In(values?)));
    }
    if let Some(n) = e.downcast_ref::<IsNullExpr>() {
        return Some((column_of(n.arg())?, Test::IsNull));
    }
    if let Some(n) = e.downcast_ref::<IsNotNullExpr>() {
        return Some((column_of(n.arg())?, Test::IsNotNull));
    }
    None
}

impl super::StorageEngine {
    /// Takes the schema's bitmap indexes: builds the files of new ones for
    /// every segment the tablet holds, and removes those of dropped ones.
    pub fn alter_indexes(&self, tablet_id: TabletId, schema: TabletSchema) -> Result<()> {
        let t = self.tablet(tablet_id)?;
        if !t.schema.eq_except_indexes(&schema) {
            return Err(Error::backend(format!(
                "tablet {tablet_id}: only the indexes of its schema may change"
            )));
        }
        let dir = self.tablet_dir(tablet_id);
        let segments: Vec<std::path::PathBuf> = t
            .rowsets
            .iter()
            .flat_map(|r| r.segments.iter().map(|s| dir.join(s)))
            .collect();
        self.build_indexes(&t, &schema)?;
        self.update(&[tablet_id], |t| {
            t.schema.indexes = schema.indexes.clone();
            Ok(())
        })?;
        for index in t
            .schema
            .indexes
            .iter()
            .filter(|i| !schema.indexes.contains(i))
        {
            for seg in &segments {
                let _ = std::fs::remove_file(path(seg, &index.name));
            }
        }
        Ok(())
    }

    /// Writes the bitmap index files of `schema` that `t`'s segments lack
    /// (after an index is added, or for segments a clone copied).
    pub(super) fn build_indexes(&self, t: &TabletMeta, schema: &TabletSchema) -> Result<()> {
        let dir = self.tablet_dir(t.tablet_id);
        for seg in t
            .rowsets
            .iter()
            .flat_map(|r| r.segments.iter().map(|s| dir.join(s)))
        {
            for index in &schema.indexes {
                let file = path(&seg, &index.name);
                let Some(col) = schema.index_of(&index.column).filter(|_| !file.exists()) else {
                    continue;
                };
                write(&file, &super::compaction::read_column(&seg, schema, col)?)?;
            }
        }
        Ok(())
    }
}
