//! Reading a tablet at a version: the published rowsets up to that version, as
//! one DataFusion Parquet scan so zone maps and page indexes skip what the
//! pushed-down predicate rules out.

use super::StorageEngine;
use super::{RowsetMeta, TabletMeta};
use basalt_common::rpc::{TabletId, Version};
use basalt_common::scan::{ReadMetrics, TabletReader, TabletScanRange};
use basalt_common::schema::TabletSchema;
use basalt_common::Error;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::array::RecordBatchOptions;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{ParquetAccessPlan, RowGroupAccess};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::ExecutionPlan;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug)]
pub struct EngineReader(pub Arc<StorageEngine>);

impl TabletReader for EngineReader {
    fn read(
        &self,
        range: &TabletScanRange,
        schema: &TabletSchema,
        projection: Option<&[usize]>,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        ctx: Arc<TaskContext>,
        metrics: &ReadMetrics,
    ) -> Result<SendableRecordBatchStream> {
        let view = self.0.read_view(range.tablet_id, range.version)?;
        let dir = self.0.tablet_dir(range.tablet_id);
        let (rowsets, pins) = (view.rowsets, view.pins);
        let merged = super::merge::needed(schema);
        // Files in version order, grouped by the delete predicates newer than
        // them and by whether the bitmap indexes answered the whole predicate.
        let mut groups: Vec<Group> = Vec::new();
        let mut selective = false;
        for (rowset, deletes) in super::delete::applicable(&rowsets) {
            for (i, seg) in rowset.segments.iter().enumerate() {
                let path = dir.join(seg);
                let size = std::fs::metadata(&path)?.len();
                let file = PartitionedFile::new(path.to_string_lossy().to_string(), size);
                // Rows to skip before decoding: deleted ones, and those the
                // bitmap indexes rule out.
                let mut skip = RoaringBitmap::new();
                if schema.merge_on_write {
                    skip = self.0.deleted_rows(
                        range.tablet_id,
                        rowset.rowset_id,
                        i as u32,
                        range.version,
                    );
                    metrics.rows_deleted.add(skip.len() as usize);
                }
                let indexed = predicate
                    .as_ref()
                    .filter(|_| !merged && !schema.indexes.is_empty());
                // The footer (read once) sizes the row groups of a selection.
                let footer = match indexed.is_some() || !skip.is_empty() {
                    true => Some(read_footer(&path)?),
                    false => None,
                };
                let mut answered = None;
                if let (Some(p), Some(footer)) = (indexed, &footer) {
                    let total = footer.file_metadata().num_rows() as u32;
                    if let Some(s) = super::bitmap_index::select(&path, schema, p, total)? {
                        let mut ruled_out = RoaringBitmap::new();
                        ruled_out.insert_range(0..total);
                        ruled_out -= s.rows;
                        ruled_out -= &skip;
                        metrics.rows_bitmap_index.add(ruled_out.len() as usize);
                        skip |= ruled_out;
                        answered = s.exact.then(|| u64::from(total) - skip.len());
                    }
                }
                // The row selection, built only if the segment is read.
                let skip = footer.filter(|_| !skip.is_empty()).map(|f| (f, skip));
                selective |= skip.is_some();
                let file = (file, skip);
                metrics.segments.add(1);
                match groups.last_mut() {
                    Some(g) if g.deletes == deletes && g.answered == answered.is_some() => {
                        g.files.push(file);
                        g.rows += answered.unwrap_or(0);
                    }
                    _ => groups.push(Group {
                        files: vec![file],
                        deletes: deletes.clone(),
                        answered: answered.is_some(),
                        rows: answered.unwrap_or(0),
                    }),
                }
            }
        }
        let table_schema = schema.arrow_schema();
        let out_schema = match projection {
            Some(p) => Arc::new(table_schema.project(p)?),
            None => Arc::clone(&table_schema),
        };
        let mut streams = Vec::with_capacity(groups.len());
        for group in groups {
            let keep = match group.deletes.is_empty() {
                true => None,
                false => Some(super::delete::keep(schema, &group.deletes)?),
            };
            // The FE counts on the scan applying the simple conjuncts of its
            // predicate (it reports them as exact, so nothing filters above);
            // where the indexes answered them all, no row needs a look.
            let evaluate = match (merged, group.answered) {
                (false, false) => predicate.as_ref().and_then(basalt_common::scan::exact_part),
                _ => None,
            };
            if group.answered && keep.is_none() && projection.is_some_and(<[usize]>::is_empty) {
                // Only the count is wanted, and the indexes know it.
                let batch = RecordBatch::try_new_with_options(
                    Arc::clone(&out_schema),
                    vec![],
                    &RecordBatchOptions::new().with_row_count(Some(group.rows as usize)),
                )?;
                streams.push(Box::pin(RecordBatchStreamAdapter::new(
                    Arc::clone(&out_schema),
                    futures::stream::iter([Ok(batch)]),
                )) as SendableRecordBatchStream);
                continue;
            }
            let mut source =
                ParquetSource::new(Arc::clone(&table_schema)).with_enable_page_index(true);
            // A predicate on a value column must see merged rows, not the raw ones.
            if let Some(p) = predicate.clone().filter(|_| !merged) {
                source = source.with_predicate(p);
            }
            // What to read: every column for a merge or delete predicates,
            // else the projection and the columns the predicate needs.
            let read: Option<Vec<usize>> = match (merged || keep.is_some(), projection) {
                (true, _) | (false, None) => None,
                (false, Some(p)) => {
                    let mut cols = p.to_vec();
                    if let Some(e) = &evaluate {
                        cols.extend(collect_columns(e).iter().map(Column::index));
                    }
                    cols.sort_unstable();
                    cols.dedup();
                    Some(cols)
                }
            };
            let files = group.files.into_iter().map(|(file, skip)| match skip {
                Some((footer, skip)) => file.with_extension(skip_rows(&footer, &skip)),
                None => file,
            });
            let config =
                FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
                    .with_file_group(FileGroup::new(files.collect()))
                    .with_projection_indices(read.clone())?
                    // A LIMIT may otherwise replace a row selection by whole row groups.
                    .with_preserve_order(selective)
                    .build();
            let exec = DataSourceExec::from_data_source(config);
            let rows = exec.execute(0, Arc::clone(&ctx))?;
            // Once the scan ends, its pruning counts join the profile.
            let m = metrics.clone();
            let tail = futures::stream::once(async move {
                if let Some(set) = exec.metrics() {
                    m.add_parquet(&set);
                }
                None
            })
            .filter_map(futures::future::ready);
            let rows: SendableRecordBatchStream = Box::pin(RecordBatchStreamAdapter::new(
                rows.schema(),
                rows.chain(tail),
            ));
            if keep.is_none() && (merged || (evaluate.is_none() && read.as_deref() == projection)) {
                streams.push(rows);
                continue;
            }
            // The predicate's columns are numbered in the table; the batch
            // holds the `read` ones.
            let position = |c: usize| {
                read.as_ref()
                    .map_or(Some(c), |r| r.iter().position(|x| *x == c))
            };
            let evaluate = evaluate.map(|e| renumber(e, &position)).transpose()?;
            // A merge needs every column; it projects after merging.
            let output: Option<Vec<usize>> = match projection.filter(|_| !merged) {
                Some(p) => Some(
                    p.iter()
                        .map(|c| position(*c))
                        .collect::<Option<_>>()
                        .ok_or_else(|| DataFusionError::Internal("projection not read".into()))?,
                ),
                None => None,
            };
            let kept = rows.map(move |batch| {
                let mut batch = batch?;
                if let Some(keep) = &keep {
                    batch = super::delete::apply(keep, &batch)?;
                }
                if let Some(e) = &evaluate {
                    let mask = e.evaluate(&batch)?.into_array(batch.num_rows())?;
                    batch = filter_record_batch(&batch, mask.as_boolean())?;
                }
                Ok(match &output {
                    Some(p) => batch.project(p)?,
                    None => batch,
                })
            });
            let kept_schema = match merged {
                true => Arc::clone(&table_schema),
                false => Arc::clone(&out_schema),
            };
            streams.push(Box::pin(RecordBatchStreamAdapter::new(kept_schema, kept)));
        }
        let rows = futures::stream::iter(streams).flatten();
        if !merged {
            let rows = rows.inspect(move |_| {
                let _held = &pins;
            });
            return Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, rows)));
        }
        let (schema, projection) = (schema.clone(), projection.map(|p| p.to_vec()));
        let merge = async move {
            let batches: Vec<RecordBatch> = rows.try_collect().await?;
            drop(pins);
            let batch = super::merge::merge(&schema, batches).await?;
            let batch = super::merge::without_deleted(&schema, batch)?;
            let batch = match predicate {
                Some(p) => {
                    let keep = p.evaluate(&batch)?.into_array(batch.num_rows())?;
                    filter_record_batch(&batch, keep.as_boolean())?
                }
                None => batch,
            };
            Ok(match projection {
                Some(p) => batch.project(&p)?,
                None => batch,
            })
        };
        let stream = futures::stream::once(merge);
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, stream)))
    }
}

/// Segments read alike: one Parquet scan.
struct Group<'a> {
    /// Each file, with its footer and the rows to skip where any are.
    files: Vec<(PartitionedFile, Option<(ParquetMetaData, RoaringBitmap)>)>,
    /// The delete predicates newer than these segments.
    deletes: Vec<&'a str>,
    /// The bitmap indexes answered the whole predicate for every one.
    answered: bool,
    /// Their rows the indexes selected, when answered.
    rows: u64,
}

/// `e` with each column renumbered by `position` (table index -> batch index).
fn renumber(
    e: Arc<dyn PhysicalExpr>,
    position: &dyn Fn(usize) -> Option<usize>,
) -> Result<Arc<dyn PhysicalExpr>> {
    e.transform(|node| match node.downcast_ref::<Column>() {
        Some(c) => {
            let at = position(c.index()).ok_or_else(|| {
                DataFusionError::Internal(format!("column {} not read", c.name()))
            })?;
            Ok(Transformed::yes(Arc::new(Column::new(c.name(), at)) as _))
        }
        None => Ok(Transformed::no(node)),
    })
    .map(|t| t.data)
}

/// A segment file's footer (its row groups and their sizes).
fn read_footer(path: &std::path::Path) -> Result<ParquetMetaData> {
    let file = std::fs::File::open(path)?;
    Ok(ParquetMetaDataReader::new().parse_and_finish(&file)?)
}

/// A Parquet access plan that reads every row of the file but `deleted`
/// (delete bitmaps, rows bitmap indexes ruled out) as a row selection,
/// applied before any column is decoded.
fn skip_rows(meta: &ParquetMetaData, deleted: &RoaringBitmap) -> ParquetAccessPlan {
    let mut groups = Vec::with_capacity(meta.num_row_groups());
    let mut start = 0u64;
    for rg in meta.row_groups() {
        let end = start + rg.num_rows() as u64;
        let gone = deleted.range_cardinality(start as u32..end as u32);
        groups.push(if gone == 0 {
            RowGroupAccess::Scan
        } else if gone == end - start {
            RowGroupAccess::Skip
        } else {
            RowGroupAccess::Selection(selection(deleted, start as u32, end as u32, gone))
        });
        start = end;
    }
    ParquetAccessPlan::new(groups)
}

/// The rows of `start..end` but `deleted` (of which `gone` fall in the
/// range) as runs of selected and skipped rows, walking whichever rows are
/// fewer: an index that keeps 1% of the rows walks that 1%, not the 99%.
fn selection(deleted: &RoaringBitmap, start: u32, end: u32, gone: u64) -> RowSelection {
    let mut range = RoaringBitmap::new();
    range.insert_range(start..end);
    let walk_kept = gone * 2 > u64::from(end - start);
    let marked = match walk_kept {
        true => range - deleted,
        false => range & deleted,
    };
    // A run of walked rows, or of the rows between them.
    let on = |row_count| RowSelector {
        row_count,
        skip: !walk_kept,
    };
    let off = |row_count| RowSelector {
        row_count,
        skip: walk_kept,
    };
    let mut selectors = Vec::new();
    let mut at = start;
    let mut values = marked.iter().peekable();
    while let Some(first) = values.next() {
        let mut last = first;
        while values.peek() == Some(&(last + 1)) {
            last += 1;
            values.next();
        }
        if first > at {
            selectors.push(off((first - at) as usize));
        }
        selectors.push(on((last - first + 1) as usize));
        at = last + 1;
    }
    if end > at {
        selectors.push(off((end - at) as usize));
    }
    RowSelection::from(selectors)
}

#[derive(Default)]
pub(super) struct Pins {
    count: HashMap<u64, usize>,
    /// Files of swept rowsets a read still used, deleted when it ends.
    zombies: HashMap<u64, Vec<PathBuf>>,
}

/// Rowsets a read is using; dropping it releases them.
pub struct RowsetPins {
    engine: std::sync::Arc<StorageEngine>,
    ids: Vec<u64>,
}

impl Drop for RowsetPins {
    fn drop(&mut self) {
        let mut pins = self.engine.pins.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.ids {
            if let Some(n) = pins.count.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    pins.count.remove(id);
                    for f in pins.zombies.remove(id).unwrap_or_default() {
                        let _ = std::fs::remove_file(f);
                    }
                }
            }
        }
    }
}

/// What a read of a tablet at a version uses: its rowsets, pinned.
pub struct ReadView {
    pub tablet: Arc<TabletMeta>,
    pub rowsets: Vec<RowsetMeta>,
    pub pins: RowsetPins,
}

impl StorageEngine {
    /// Marks `ids` as in use by a read until the returned guard drops.
    pub fn pin(self: &std::sync::Arc<Self>, ids: Vec<u64>) -> RowsetPins {
        let mut pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        for id in &ids {
            *pins.count.entry(*id).or_default() += 1;
        }
        RowsetPins {
            engine: std::sync::Arc::clone(self),
            ids,
        }
    }

    /// The rowsets that hold `version` of a tablet, pinned in the same step
    /// as they are looked up, so a sweep either sees the pin or removed them first.
    pub fn read_view(
        self: &Arc<Self>,
        tablet_id: TabletId,
        version: Version,
    ) -> basalt_common::Result<ReadView> {
        let tablets = self.tablets.read().unwrap_or_else(|e| e.into_inner());
        let tablet = tablets.get(&tablet_id).cloned().ok_or_else(|| {
            Error::backend(format!("tablet {tablet_id} not found on this backend"))
        })?;
        if tablet.visible_version < version {
            return Err(Error::backend(format!(
                "tablet {tablet_id} on this backend has version {}, the query needs {version}",
                tablet.visible_version
            )));
        }
        let rowsets: Vec<RowsetMeta> = tablet
            .path(version)
            .ok_or_else(|| {
                Error::backend(format!(
                    "version {version} of tablet {tablet_id} is no longer held: compaction merged it"
                ))
            })?
            .into_iter()
            .cloned()
            .collect();
        let pins = self.pin(rowsets.iter().map(|r| r.rowset_id).collect());
        drop(tablets);
        Ok(ReadView {
            tablet,
            rowsets,
            pins,
        })
    }

    /// Deletes a swept rowset's files now, or when the last read using it ends.
    pub(super) fn bury(&self, id: u64, files: Vec<PathBuf>) {
        let mut pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        if pins.count.contains_key(&id) {
            pins.zombies.insert(id, files);
        } else {
            for f in files {
                let _ = std::fs::remove_file(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows a selection of `0..n` keeps.
    fn kept(s: &RowSelection) -> Vec<u32> {
        let (mut at, mut out) = (0u32, Vec::new());
        for sel in s.iter() {
            if !sel.skip {
                out.extend(at..at + sel.row_count as u32);
            }
            at += sel.row_count as u32;
        }
        out
    }

    /// Segments written while LARGEINT was a Decimal128(38, 0) read as
    /// LARGEINT's Arrow type, outside DataFusion and through its scan (with a
    /// predicate on the column).
    #[tokio::test]
    async fn largeint_segments_written_as_decimal128_are_read_as_largeint() {
        use basalt_common::rpc::PublishTablet;
        use basalt_common::types::{DorisType, LARGEINT_ARROW};
        use datafusion::arrow::array::{Decimal128Array, Int32Array};
        use datafusion::arrow::datatypes::Decimal256Type;
        use datafusion::physical_expr::expressions::{binary, lit};
        use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
        let dir = std::env::temp_dir().join(format!("basalt-largeint-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut old = super::super::tests::schema();
        old.columns[1].data_type = DorisType::Decimal {
            precision: 38,
            scale: 0,
        };
        let mut new = old.clone();
        new.columns[1].data_type = DorisType::LargeInt;
        let values = [-(10i128.pow(38) - 1), 0, 10i128.pow(38) - 1];
        let rows = RecordBatch::try_new(
            old.arrow_schema(),
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3])),
                Arc::new(
                    Decimal128Array::from(values.to_vec())
                        .with_precision_and_scale(38, 0)
                        .unwrap(),
                ),
            ],
        )
        .unwrap();
        let engine =
            Arc::new(StorageEngine::open(&dir, super::super::CompactionConfig::default()).unwrap());
        engine.create_tablet(1, old).unwrap();
        engine.write_rowset(5, 1, &[rows]).unwrap();
        let published = PublishTablet {
            tablet_id: 1,
            version: 2,
            has_rows: true,
        };
        engine.publish(5, &[published]).unwrap();
        let want = |batches: &[RecordBatch]| {
            let got: Vec<i128> = batches
                .iter()
                .flat_map(|b| {
                    assert_eq!(b.column(1).data_type(), &LARGEINT_ARROW);
                    let v = b.column(1).as_primitive::<Decimal256Type>().clone();
                    (0..v.len()).map(move |i| v.value(i).to_i128().unwrap())
                })
                .collect();
            got
        };
        let t = engine.tablet(1).unwrap();
        let file = engine.tablet_dir(1).join(&t.rowsets[0].segments[0]);
        let read = super::super::writer::read_segment(&file, &new, None).unwrap();
        assert_eq!(want(&read), values);
        let range = TabletScanRange {
            tablet_id: 1,
            version: 2,
            num_rows: 3,
            bucket: 0,
            backend_id: 0,
            worker_url: String::new(),
        };
        let table = new.arrow_schema();
        let v = Arc::new(Column::new("v", 1)) as Arc<dyn PhysicalExpr>;
        let zero = lit(datafusion::common::ScalarValue::Decimal256(
            Some(datafusion::arrow::datatypes::i256::ZERO),
            39,
            0,
        ));
        let positive = binary(v, datafusion::logical_expr::Operator::Gt, zero, &table).unwrap();
        let metrics = ReadMetrics::new(&ExecutionPlanMetricsSet::new(), 0);
        let stream = EngineReader(Arc::clone(&engine))
            .read(
                &range,
                &new,
                None,
                Some(positive),
                Arc::new(TaskContext::default()),
                &metrics,
            )
            .unwrap();
        let scanned: Vec<RecordBatch> = stream.try_collect().await.unwrap();
        let scanned = want(&scanned);
        assert!(
            scanned.contains(&values[2]) && scanned.len() <= 3,
            "{scanned:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn selections_keep_exactly_the_rows_not_deleted() {
        // Few deleted (walks them) and few kept (walks those), with runs at
        // both ends and in the middle, in a range that starts past zero.
        let few: RoaringBitmap = [100, 101, 102, 150, 199].into_iter().collect();
        let mut most = RoaringBitmap::new();
        most.insert_range(100..200);
        most -= &few;
        for deleted in [few, most] {
            let gone = deleted.range_cardinality(100..200);
            let s = selection(&deleted, 100, 200, gone);
            let want: Vec<u32> = (0..100).filter(|r| !deleted.contains(r + 100)).collect();
            assert_eq!(kept(&s), want);
            assert_eq!(s.iter().map(|s| s.row_count).sum::<usize>(), 100);
        }
    }
}
