//! Writing segments: rows sorted by the key columns into one Parquet file with
//! page-level statistics (zone maps), fsynced and renamed into place.

use super::meta::TabletMeta;
use crate::metrics;
use basalt_common::rpc::TabletId;
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use datafusion::arrow::compute::{cast, concat_batches, interleave_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

pub struct SegmentInfo {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Rows per row group: small enough that zone maps skip usefully.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// The rows of `batches` in key order (stable: equal keys keep their load
/// order), gathered into one batch with one copy. Sorting the keys' Arrow row
/// format compares plain bytes, much faster than comparing column by column
/// as `lexsort_to_indices` does; rows already in order are only concatenated.
fn sorted(schema: SchemaRef, batches: &[RecordBatch], keys: usize) -> Result<RecordBatch> {
    let internal = |e: datafusion::arrow::error::ArrowError| Error::internal(e.to_string());
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if keys == 0 || rows < 2 {
        return concat_batches(&schema, batches).map_err(internal);
    }
    let fields = batches[0].columns()[..keys]
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields).map_err(internal)?;
    let mut keyed = converter.empty_rows(rows, rows * 16);
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(rows);
    for (b, batch) in batches.iter().enumerate() {
        converter
            .append(&mut keyed, &batch.columns()[..keys])
            .map_err(internal)?;
        order.extend((0..batch.num_rows()).map(|r| (b, r)));
    }
    let in_order = (1..rows).all(|i| keyed.row(i - 1) <= keyed.row(i));
    if in_order {
        return concat_batches(&schema, batches).map_err(internal);
    }
    let mut idx: Vec<u32> = (0..rows as u32).collect();
    idx.sort_by(|a, b| keyed.row(*a as usize).cmp(&keyed.row(*b as usize)));
    let order: Vec<(usize, usize)> = idx.iter().map(|i| order[*i as usize]).collect();
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    interleave_record_batch(&refs, &order).map_err(internal)
}

/// Writes `batches` as one segment named after `file_id`, sorted by the key
/// columns. `None` when there are no rows.
pub fn write_segment(
    dir: &Path,
    file_id: u64,
    schema: &TabletSchema,
    batches: &[RecordBatch],
) -> Result<Option<SegmentInfo>> {
    let arrow_schema = schema.arrow_schema();
    for b in batches {
        if b.schema().fields() != arrow_schema.fields() {
            return Err(Error::invalid(format!(
                "rows do not match the tablet schema: expected {:?}, got {:?}",
                arrow_schema
                    .fields()
                    .iter()
                    .map(|f| f.data_type())
                    .collect::<Vec<_>>(),
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.data_type())
                    .collect::<Vec<_>>()
            )));
        }
    }
    let batches: Vec<RecordBatch> = batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .cloned()
        .collect();
    if batches.is_empty() {
        return Ok(None);
    }
    let sort = std::time::Instant::now();
    let sorted = sorted(arrow_schema.clone(), &batches, schema.num_key_columns())?;
    drop(batches);
    metrics::add_elapsed(&metrics::SEGMENT_SORT_NS, sort);
    let encode = std::time::Instant::now();
    let name = format!("{file_id}_0.parquet");
    let tmp = dir.join(format!("{name}.tmp"));
    let mut props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for c in &schema.bloom_filter_columns {
        let path = ColumnPath::from(c.as_str());
        // Doris's default false positive rate (bloom_filter_fpp).
        props = props
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path, 0.05);
    }
    let props = props.build();
    let file = File::create(&tmp)?;
    let mut writer = ArrowWriter::try_new(file, arrow_schema, Some(props))
        .map_err(|e| Error::internal(format!("parquet writer: {e}")))?;
    writer
        .write(&sorted)
        .map_err(|e| Error::internal(format!("parquet write: {e}")))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::internal(format!("parquet close: {e}")))?;
    metrics::add_elapsed(&metrics::SEGMENT_ENCODE_NS, encode);
    let fsync = std::time::Instant::now();
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    std::fs::rename(&tmp, dir.join(&name))?;
    File::open(dir)?.sync_all()?;
    metrics::add_elapsed(&metrics::SEGMENT_FSYNC_NS, fsync);
    super::bitmap_index::write_all(&dir.join(&name), schema, &sorted)?;
    metrics::SEGMENT_ROWS.fetch_add(
        sorted.num_rows() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    Ok(Some(SegmentInfo {
        file: name,
        rows: sorted.num_rows() as u64,
        bytes,
    }))
}

/// The rows of a segment file outside DataFusion (compaction, merge-on-write
/// bookkeeping, index builds): every column, or only `columns` (which come
/// back in schema order), as the tablet schema types them. A segment written
/// before a type's Arrow form changed (LARGEINT was Decimal128(38, 0)) is
/// cast, as DataFusion's scan casts it for queries.
pub fn read_segment(
    path: &Path,
    schema: &TabletSchema,
    columns: Option<&[usize]>,
) -> Result<Vec<RecordBatch>> {
    let err =
        |e: &dyn std::fmt::Display| Error::internal(format!("reading {}: {e}", path.display()));
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)
        .map_err(|e| err(&e))?
        .with_batch_size(ROW_GROUP_ROWS);
    let table = schema.arrow_schema();
    let mut wanted: Vec<usize> = (0..table.fields().len()).collect();
    if let Some(columns) = columns {
        let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
        builder = builder.with_projection(mask);
        wanted = columns.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
    }
    let target = Arc::new(table.project(&wanted).map_err(|e| err(&e))?);
    let reader = builder.build().map_err(|e| err(&e))?;
    reader
        .map(|batch| {
            let batch = batch.map_err(|e| err(&e))?;
            if batch.schema().fields() == target.fields() {
                return Ok(batch);
            }
            let columns = batch
                .columns()
                .iter()
                .zip(target.fields())
                .map(|(c, f)| cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| err(&e))?;
            RecordBatch::try_new(Arc::clone(&target), columns).map_err(|e| err(&e))
        })
        .collect()
}

/// Deletes files that no tablet meta names: leftovers of writes cut short by a crash,
/// and directories of dropped tablets.
pub fn remove_orphans(data_dir: &Path, tablets: &HashMap<TabletId, TabletMeta>) -> Result<()> {
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let Some(tablet) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<TabletId>().ok())
        else {
            continue;
        };
        let Some(meta) = tablets.get(&tablet) else {
            std::fs::remove_dir_all(entry.path())?;
            continue;
        };
        let named: HashSet<&str> = meta
            .rowsets
            .iter()
            .flat_map(|r| r.segments.iter().map(String::as_str))
            .collect();
        // A segment's bitmap indexes are `<segment>.<index>.bitmap`.
        let kept = |n: &str| {
            named.contains(n)
                || n.strip_suffix(".bitmap")
                    .and_then(|n| n.rsplit_once('.'))
                    .is_some_and(|(segment, _)| named.contains(segment))
        };
        for f in std::fs::read_dir(entry.path())? {
            let f = f?;
            let keep = f.file_name().to_str().is_some_and(kept);
            if !keep {
                std::fs::remove_file(f.path())?;
            }
        }
    }
    Ok(())
}
