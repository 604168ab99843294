//! Reading a tablet at a version: the published rowsets up to that version, as
//! one DataFusion Parquet scan so zone maps and page indexes skip what the
//! pushed-down predicate rules out.

use super::StorageEngine;
use basalt_common::scan::{TabletReader, TabletScanRange};
use basalt_common::schema::TabletSchema;
use basalt_common::Error;
use datafusion::common::Result;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::ExecutionPlan;
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
        let mut files = Vec::new();
        for rowset in &tablet.rowsets {
            if rowset.version.is_some_and(|v| v <= range.version) {
                for seg in &rowset.segments {
                    let path = dir.join(seg);
                    let size = std::fs::metadata(&path)?.len();
                    files.push(PartitionedFile::new(
                        path.to_string_lossy().to_string(),
                        size,
                    ));
                }
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
        let mut source = ParquetSource::new(table_schema).with_enable_page_index(true);
        if let Some(p) = predicate {
            source = source.with_predicate(p);
        }
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
                .with_file_group(FileGroup::new(files))
                .with_projection_indices(projection.map(|p| p.to_vec()))?
                .build();
        DataSourceExec::from_data_source(config).execute(0, ctx)
    }
}
