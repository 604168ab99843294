//! Writing segments: rows sorted by the key columns into one Parquet file with
//! page-level statistics (zone maps), fsynced and renamed into place.

use super::meta::TabletMeta;
use crate::metrics;
use basalt_common::rpc::TabletId;
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use datafusion::arrow::array::UInt32Array;
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

pub struct SegmentInfo {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Rows per row group: small enough that zone maps skip usefully.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// The order of the rows by the key columns (stable: equal keys keep their
/// load order), or `None` when they already are in it. Sorting the keys'
/// Arrow row format compares plain bytes, much faster than comparing column
/// by column as `lexsort_to_indices` does.
fn sort_indices(batch: &RecordBatch, keys: usize) -> Result<Option<UInt32Array>> {
    if keys == 0 || batch.num_rows() < 2 {
        return Ok(None);
    }
    let internal = |e: datafusion::arrow::error::ArrowError| Error::internal(e.to_string());
    let fields = batch.columns()[..keys]
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields).map_err(internal)?;
    let rows = converter
        .convert_columns(&batch.columns()[..keys])
        .map_err(internal)?;
    let in_order = (1..rows.num_rows()).all(|i| rows.row(i - 1) <= rows.row(i));
    if in_order {
        return Ok(None);
    }
    let mut idx: Vec<u32> = (0..batch.num_rows() as u32).collect();
    idx.sort_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)));
    Ok(Some(UInt32Array::from(idx)))
}

pub fn write_segment(
    dir: &Path,
    rowset_id: u64,
    schema: &TabletSchema,
    batches: &[RecordBatch],
) -> Result<Vec<SegmentInfo>> {
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
    let all = concat_batches(&arrow_schema, batches).map_err(|e| Error::internal(e.to_string()))?;
    if all.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let sort = std::time::Instant::now();
    let sorted = match sort_indices(&all, schema.num_key_columns())? {
        Some(idx) => take_record_batch(&all, &idx).map_err(|e| Error::internal(e.to_string()))?,
        None => all,
    };
    metrics::add_elapsed(&metrics::SEGMENT_SORT_NS, sort);
    let encode = std::time::Instant::now();
    let name = format!("{rowset_id}_0.parquet");
    let tmp = dir.join(format!("{name}.tmp"));
    let props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
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
    metrics::SEGMENT_ROWS.fetch_add(
        sorted.num_rows() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    Ok(vec![SegmentInfo {
        file: name,
        rows: sorted.num_rows() as u64,
        bytes,
    }])
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
        for f in std::fs::read_dir(entry.path())? {
            let f = f?;
            let keep = f.file_name().to_str().is_some_and(|n| named.contains(n));
            if !keep {
                std::fs::remove_file(f.path())?;
            }
        }
    }
    Ok(())
}
