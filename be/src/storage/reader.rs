//! Reading a tablet at a version: the published rowsets up to that version, as
//! one DataFusion Parquet scan so zone maps and page indexes skip what the
//! pushed-down predicate rules out.

use super::StorageEngine;
use basalt_common::scan::{TabletReader, TabletScanRange};
use basalt_common::schema::TabletSchema;
use basalt_common::Error;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::ExecutionPlan;
use futures::{StreamExt, TryStreamExt};
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
    ) -> Result<SendableRecordBatchStream> {
        let tablet = self.0.tablet(range.tablet_id)?;
        if tablet.visible_version < range.version {
            return Err(Error::backend(format!(
                "tablet {} on this backend has version {}, the query needs {}",
                range.tablet_id, tablet.visible_version, range.version
            ))
            .into());
        }
        let dir = self.0.tablet_dir(range.tablet_id);
        let rowsets = tablet.path(range.version).ok_or_else(|| {
            Error::backend(format!(
                "version {} of tablet {} is no longer held: compaction merged it",
                range.version, range.tablet_id
            ))
        })?;
        // Compaction may replace these rowsets meanwhile; they stay until released.
        let pins = self.0.pin(rowsets.iter().map(|r| r.rowset_id).collect());
        let mut files = Vec::new();
        for rowset in rowsets {
            for seg in &rowset.segments {
                let path = dir.join(seg);
                let size = std::fs::metadata(&path)?.len();
                files.push(PartitionedFile::new(
                    path.to_string_lossy().to_string(),
                    size,
                ));
            }
        }
        let table_schema = schema.arrow_schema();
        let out_schema = match projection {
            Some(p) => Arc::new(table_schema.project(p)?),
            None => Arc::clone(&table_schema),
        };
        if files.is_empty() {
            let empty = futures::stream::empty();
            return Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, empty)));
        }
        let merged = super::merge::needed(schema);
        let mut source = ParquetSource::new(Arc::clone(&table_schema)).with_enable_page_index(true);
        // A predicate on a value column must see merged rows, not the raw ones.
        if let Some(p) = predicate.clone().filter(|_| !merged) {
            source = source.with_predicate(p);
        }
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
                .with_file_group(FileGroup::new(files))
                .with_projection_indices(projection.filter(|_| !merged).map(|p| p.to_vec()))?
                .build();
        let rows = DataSourceExec::from_data_source(config).execute(0, ctx)?;
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
