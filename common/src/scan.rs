//! The scan fragment the FE plans and a BE executes: `OlapScanExec` reads a set of
//! tablets, each at the version the FE chose, on the BE that holds them.
//!
//! It lives in `common` because both sides handle it: the FE builds and encodes
//! it, the BE decodes and runs it against its storage through [`TabletReader`].

use crate::rpc::{TabletId, Version};
use crate::schema::TabletSchema;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::cast::as_boolean_array;
use datafusion::common::ScalarValue;
use datafusion::common::{internal_err, DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{
    BinaryExpr, CastExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, Literal, NotExpr,
    TryCastExpr,
};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_expr_common::physical_expr::{
    is_dynamic_physical_expr, snapshot_physical_expr,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown,
};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricValue, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use datafusion_proto::physical_plan::from_proto::parse_physical_expr;
use datafusion_proto::physical_plan::to_proto::serialize_physical_expr;
use datafusion_proto::physical_plan::{DefaultPhysicalExtensionCodec, PhysicalExtensionCodec};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// One tablet to read: which replica (by its BE's worker URL) and at which version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabletScanRange {
    pub tablet_id: TabletId,
    pub version: Version,
    /// The replica's row count as last reported (an estimate for planning).
    #[serde(default)]
    pub num_rows: u64,
    /// The tablet's bucket in its partition.
    #[serde(default)]
    pub bucket: u32,
    pub backend_id: u64,
    /// The datafusion-distributed worker address of that BE (`http://host:brpc_port`).
    pub worker_url: String,
}

/// A hash-distributed table's bucketing, for joins that need no shuffle of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketDistribution {
    /// `db.group` for a table created with `"colocate_with"`.
    pub colocate_group: Option<String>,
    pub buckets: u32,
    /// The `DISTRIBUTED BY HASH` columns.
    pub columns: Vec<String>,
}

/// How a BE reads one tablet; the BE puts an implementation into the worker's
/// session config as a [`TabletReaderExt`].
pub trait TabletReader: Send + Sync + fmt::Debug {
    fn read(
        &self,
        range: &TabletScanRange,
        schema: &TabletSchema,
        projection: Option<&[usize]>,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        ctx: Arc<TaskContext>,
        metrics: &ReadMetrics,
    ) -> Result<SendableRecordBatchStream>;
}

/// What reading tablets skipped, by mechanism: the scan's profile, shown
/// by EXPLAIN ANALYZE.
#[derive(Debug, Clone)]
pub struct ReadMetrics {
    pub segments: Count,
    /// Rows merge-on-write delete bitmaps removed before decoding.
    pub rows_deleted: Count,
    /// Row groups skipped by their zone maps (min/max statistics).
    pub row_groups_zone_map: Count,
    /// Row groups skipped by bloom filters (`bloom_filter_columns`).
    pub row_groups_bloom_filter: Count,
    /// Rows of pages skipped by page zone maps (the page index).
    pub rows_page_zone_map: Count,
    /// Rows bitmap indexes ruled out before decoding.
    pub rows_bitmap_index: Count,
}

impl ReadMetrics {
    pub fn new(set: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        let count = |name: &'static str| MetricBuilder::new(set).counter(name, partition);
        Self {
            segments: count("segments_read"),
            rows_deleted: count("rows_skipped_by_delete_bitmap"),
            row_groups_zone_map: count("row_groups_skipped_by_zone_map"),
            row_groups_bloom_filter: count("row_groups_skipped_by_bloom_filter"),
            rows_page_zone_map: count("rows_skipped_by_page_zone_map"),
            rows_bitmap_index: count("rows_skipped_by_bitmap_index"),
        }
    }

    /// Adds what a Parquet scan's own metrics say it pruned.
    pub fn add_parquet(&self, scan: &MetricsSet) {
        let pruned = |name: &str| match scan.sum_by_name(name) {
            Some(MetricValue::PruningMetrics {
                pruning_metrics, ..
            }) => pruning_metrics.pruned(),
            _ => 0,
        };
        self.row_groups_zone_map
            .add(pruned("row_groups_pruned_statistics"));
        self.row_groups_bloom_filter
            .add(pruned("row_groups_pruned_bloom_filter"));
        self.rows_page_zone_map
            .add(pruned("page_index_rows_pruned"));
    }
}

/// The operators of the predicates the BE's scan applies exactly, which the
/// FE therefore reports to DataFusion as exact (`provider::applied_by_scan`
/// over logical filters, `exact_part` over the physical predicate):
/// comparisons and AND / OR.
pub fn applies_operator(op: &datafusion::logical_expr::Operator) -> bool {
    use datafusion::logical_expr::Operator::*;
    matches!(op, Eq | NotEq | Lt | LtEq | Gt | GtEq | And | Or)
}

/// The conjuncts of a predicate the scan applies exactly, and the FE reports
/// to DataFusion as exact (`provider::applied_by_scan` picks the same
/// shapes): comparisons, AND / OR / NOT, IN lists, IS [NOT] NULL and casts
/// over columns and literals. Anything else (a volatile function, say) is
/// left to the filter above the scan. The BE evaluates this part itself; the
/// FE narrows the scan's statistics by it alone, since the filter above
/// narrows them by the rest.
pub fn exact_part(predicate: &Arc<dyn PhysicalExpr>) -> Option<Arc<dyn PhysicalExpr>> {
    datafusion::physical_expr::split_conjunction(predicate)
        .into_iter()
        .filter(|c| simple(c))
        .cloned()
        .reduce(|a, b| {
            Arc::new(BinaryExpr::new(
                a,
                datafusion::logical_expr::Operator::And,
                b,
            ))
        })
}

fn simple(e: &Arc<dyn PhysicalExpr>) -> bool {
    let shape = e.is::<Column>()
        || e.is::<Literal>()
        || e.is::<NotExpr>()
        || e.is::<IsNullExpr>()
        || e.is::<IsNotNullExpr>()
        || e.is::<InListExpr>()
        || e.is::<CastExpr>()
        || e.is::<TryCastExpr>()
        || e.downcast_ref::<BinaryExpr>()
            .is_some_and(|b| applies_operator(b.op()));
    shape && e.children().into_iter().all(simple)
}

/// Session-config extension carrying the BE's reader to `OlapScanExec::execute`.
#[derive(Debug)]
pub struct TabletReaderExt(pub Arc<dyn TabletReader>);

#[derive(Debug, Clone)]
pub struct OlapScanExec {
    pub table: String,
    pub schema: TabletSchema,
    pub projection: Option<Vec<usize>>,
    /// Conjunction of the pushed-down filters over the full table schema; the BE
    /// uses it to skip row groups and pages (the FE still applies the filters).
    pub predicate: Option<Arc<dyn PhysicalExpr>>,
    pub ranges: Vec<TabletScanRange>,
    /// Set on the parts of a split scan: the worker that must run this part.
    pub worker: Option<String>,
    /// The partitions left after pruning, for EXPLAIN.
    pub partition_names: Vec<String>,
    /// Set for a hash-distributed table: its bucket count, distribution columns
    /// and colocation group, so the planner can join it without moving it.
    pub distribution: Option<BucketDistribution>,
    /// Set by a colocate or bucket-shuffle join: for each backend (worker URL)
    /// the buckets it serves, in partition order. Partition `p` of a task reads
    /// bucket `layout[url][p]`; the other side of the join delivers that bucket's rows there.
    pub bucket_layout: Option<BTreeMap<String, Vec<u32>>>,
    /// Runtime filters from hash joins above (dynamic filters over this scan's
    /// output): rows they reject are dropped here, before the join sees them.
    pub runtime_filters: Vec<Arc<dyn PhysicalExpr>>,
    /// The columns' `ANALYZE` statistics over the full table schema, for the
    /// FE's planning only (not sent to the BEs).
    pub column_stats: Option<Arc<[datafusion::common::ColumnStatistics]>>,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl OlapScanExec {
    pub fn new(
        table: String,
        schema: TabletSchema,
        projection: Option<Vec<usize>>,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        ranges: Vec<TabletScanRange>,
        partitions: usize,
    ) -> Result<Self> {
        let full = schema.arrow_schema();
        let out: SchemaRef = match &projection {
            Some(p) => Arc::new(full.project(p)?),
            None => full,
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(out),
            Partitioning::UnknownPartitioning(partitions.max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self {
            table,
            schema,
            projection,
            predicate,
            ranges,
            worker: None,
            partition_names: Vec::new(),
            runtime_filters: Vec::new(),
            distribution: None,
            bucket_layout: None,
            column_stats: None,
            metrics: ExecutionPlanMetricsSet::new(),
            properties,
        })
    }

    fn partitions(&self) -> usize {
        self.properties.output_partitioning().partition_count()
    }

    /// This scan as one side of a colocate join: partitions are buckets, laid
    /// out per backend as `layout` says (shared with the other side).
    pub fn with_bucket_layout(&self, layout: BTreeMap<String, Vec<u32>>) -> Result<Self> {
        let partitions = layout.values().map(Vec::len).max().unwrap_or(1);
        let mut scan = self.with_ranges(self.ranges.clone(), partitions)?;
        scan.bucket_layout = Some(layout);
        Ok(scan)
    }

    /// The same scan over other ranges and partition count (a new plan node:
    /// properties and metrics are its own).
    fn with_ranges(&self, ranges: Vec<TabletScanRange>, partitions: usize) -> Result<Self> {
        let mut scan = OlapScanExec::new(
            self.table.clone(),
            self.schema.clone(),
            self.projection.clone(),
            self.predicate.clone(),
            ranges,
            partitions,
        )?;
        scan.worker = self.worker.clone();
        scan.partition_names = self.partition_names.clone();
        scan.runtime_filters = self.runtime_filters.clone();
        scan.distribution = self.distribution.clone();
        scan.bucket_layout = self.bucket_layout.clone();
        scan.column_stats = self.column_stats.clone();
        Ok(scan)
    }

    /// The distinct worker URLs of the BEs this scan reads from, sorted.
    pub fn workers(&self) -> Vec<&str> {
        if let Some(layout) = &self.bucket_layout {
            return layout.keys().map(String::as_str).collect();
        }
        let mut urls: Vec<&str> = self.ranges.iter().map(|r| r.worker_url.as_str()).collect();
        urls.sort_unstable();
        urls.dedup();
        urls
    }

    /// Splits the ranges into `tasks` scans, each reading tablets of one BE only,
    /// so every task can run next to its data. All parts keep the same partition
    /// count (datafusion-distributed requires it); a part may be empty.
    pub fn split_by_backend(&self, tasks: usize) -> Result<Vec<OlapScanExec>> {
        let urls = self.workers();
        if urls.is_empty() {
            return internal_err!("a scan with no tablets cannot be distributed");
        }
        let tasks = tasks.max(urls.len());
        let mut parts: Vec<Vec<TabletScanRange>> = vec![Vec::new(); tasks];
        // Task t serves urls[t % urls.len()]; that URL's tablets go round-robin over its tasks.
        for (u, url) in urls.iter().enumerate() {
            let own: Vec<usize> = (0..tasks).filter(|t| t % urls.len() == u).collect();
            let mine = self.ranges.iter().filter(|r| r.worker_url == *url);
            for (i, r) in mine.enumerate() {
                // Both sides of a colocate join must put a bucket in the same task.
                let slot = if self.bucket_layout.is_some() {
                    0
                } else {
                    i % own.len()
                };
                parts[own[slot]].push(r.clone());
            }
        }
        let task_urls: Vec<&str> = (0..tasks).map(|t| urls[t % urls.len()]).collect();
        parts
            .into_iter()
            .zip(task_urls)
            .map(|(ranges, url)| {
                let mut part = self.with_ranges(ranges, self.partitions())?;
                part.worker = Some(url.to_string());
                Ok(part)
            })
            .collect()
    }

    /// The worker this scan must run on: the BE of its tablets.
    pub fn worker_url(&self) -> Option<String> {
        self.worker
            .clone()
            .or_else(|| self.ranges.first().map(|r| r.worker_url.clone()))
    }
}

impl DisplayAs for OlapScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let tablets: Vec<String> = self
            .ranges
            .iter()
            .map(|r| r.tablet_id.to_string())
            .collect();
        write!(
            f,
            "OlapScanExec: table={}, partitions=[{}], tablets=[{}]",
            self.table,
            self.partition_names.join(","),
            tablets.join(",")
        )?;
        if let Some(v) = self.ranges.first().map(|r| r.version) {
            write!(f, ", version={v}")?;
        }
        match &self.worker {
            Some(w) => write!(f, ", backend={w}")?,
            // Before the split: which backend reads which tablets.
            None => {
                let per_backend: Vec<String> = self
                    .workers()
                    .iter()
                    .map(|w| {
                        let tablets: Vec<String> = self
                            .ranges
                            .iter()
                            .filter(|r| r.worker_url == *w)
                            .map(|r| r.tablet_id.to_string())
                            .collect();
                        format!("{w}({})", tablets.join(","))
                    })
                    .collect();
                write!(f, ", backends=[{}]", per_backend.join(" "))?;
            }
        }
        if let Some(p) = &self.predicate {
            write!(f, ", predicate={p}")?;
        }
        for r in &self.runtime_filters {
            write!(f, ", runtime_filter={r}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for OlapScanExec {
    fn name(&self) -> &'static str {
        "OlapScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    /// Takes the dynamic filters of joins (and top-N sorts) above as runtime
    /// filters. The parents keep filtering themselves: this only drops rows early.
    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &datafusion::config::ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let filters: Vec<Arc<dyn PhysicalExpr>> = child_pushdown_result
            .parent_filters
            .iter()
            .map(|f| Arc::clone(&f.filter))
            .collect();
        let no = vec![PushedDown::No; filters.len()];
        let dynamic: Vec<_> = filters
            .into_iter()
            .filter(is_dynamic_physical_expr)
            .collect();
        if dynamic.is_empty() {
            return Ok(FilterPushdownPropagation::with_parent_pushdown_result(no));
        }
        let mut scan = self.clone();
        scan.runtime_filters.extend(dynamic);
        Ok(FilterPushdownPropagation::with_parent_pushdown_result(no)
            .with_updated_node(Arc::new(scan)))
    }

    /// Row counts from the tablet reports, the columns' `ANALYZE` statistics
    /// and the scan's own filters let the planner pick build sides and
    /// broadcast joins.
    fn partition_statistics(
        &self,
        partition: Option<usize>,
    ) -> Result<Arc<datafusion::common::Statistics>> {
        let rows: u64 = self
            .ranges
            .iter()
            .enumerate()
            .filter(|(i, _)| partition.is_none_or(|p| i % self.partitions() == p))
            .map(|(_, r)| r.num_rows)
            .sum();
        // No report yet: unknown, not "empty" (which would broadcast anything).
        let reported = self.ranges.iter().any(|r| r.num_rows > 0);
        let stats = crate::statistics::scan_statistics(
            &self.schema.arrow_schema(),
            reported.then_some(rows as usize),
            self.column_stats.as_deref(),
            self.predicate.as_ref(),
        )?;
        Ok(Arc::new(stats.project(self.projection.as_ref())))
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    /// Partition `p` reads every `partitions`-th tablet, one after another.
    fn execute(
        &self,
        partition: usize,
        ctx: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(reader) = ctx.session_config().get_extension::<TabletReaderExt>() else {
            return internal_err!("OlapScanExec of {} must run on a backend", self.table);
        };
        let n = self.partitions();
        let mine: Vec<TabletScanRange> = match (&self.bucket_layout, &self.worker) {
            // A colocate join: this partition is one bucket, the same on both sides.
            (Some(layout), Some(url)) => {
                let bucket = layout.get(url).and_then(|b| b.get(partition));
                self.ranges
                    .iter()
                    .filter(|r| Some(&r.bucket) == bucket)
                    .cloned()
                    .collect()
            }
            _ => self
                .ranges
                .iter()
                .enumerate()
                .filter(|(i, _)| i % n == partition)
                .map(|(_, r)| r.clone())
                .collect(),
        };
        let (schema, projection, predicate) = (
            self.schema.clone(),
            self.projection.clone(),
            self.predicate.clone(),
        );
        let read_metrics = ReadMetrics::new(&self.metrics, partition);
        let streams = futures::stream::iter(mine).map(move |range| {
            reader.0.read(
                &range,
                &schema,
                projection.as_deref(),
                predicate.clone(),
                Arc::clone(&ctx),
                &read_metrics,
            )
        });
        let filters = self.runtime_filters.clone();
        let filtered =
            MetricBuilder::new(&self.metrics).counter("rows_filtered_by_runtime_filter", partition);
        let output = MetricBuilder::new(&self.metrics).output_rows(partition);
        let batches = streams.try_flatten().and_then(move |batch| {
            let result = apply_runtime_filters(&filters, batch).map(|(batch, dropped)| {
                filtered.add(dropped);
                output.add(batch.num_rows());
                batch
            });
            futures::future::ready(result)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }
}

/// Keeps the rows every runtime filter accepts; returns them and how many were dropped.
/// A filter whose build side has not finished is `true` and costs nothing.
fn apply_runtime_filters(
    filters: &[Arc<dyn PhysicalExpr>],
    mut batch: RecordBatch,
) -> Result<(RecordBatch, usize)> {
    let before = batch.num_rows();
    for f in filters {
        let current = snapshot_physical_expr(Arc::clone(f))?;
        let always = current
            .downcast_ref::<Literal>()
            .is_some_and(|l| l.value() == &ScalarValue::Boolean(Some(true)));
        if always || batch.num_rows() == 0 {
            continue;
        }
        let mask = current.evaluate(&batch)?.into_array(batch.num_rows())?;
        batch = filter_record_batch(&batch, as_boolean_array(&mask)?)?;
    }
    let after = batch.num_rows();
    Ok((batch, before - after))
}

/// Wire form of an `OlapScanExec`.
#[derive(Serialize, Deserialize)]
struct OlapScanProto {
    table: String,
    schema: TabletSchema,
    projection: Option<Vec<usize>>,
    predicate: Option<Vec<u8>>,
    ranges: Vec<TabletScanRange>,
    worker: Option<String>,
    partition_names: Vec<String>,
    partitions: usize,
    #[serde(default)]
    runtime_filters: Vec<Vec<u8>>,
    #[serde(default)]
    distribution: Option<BucketDistribution>,
    #[serde(default)]
    bucket_layout: Option<BTreeMap<String, Vec<u32>>>,
}

/// Encodes and decodes `OlapScanExec` (and `DeepExprExec`'s pieces) for
/// datafusion-distributed; registered on the FE and every BE.
#[derive(Debug, Default)]
pub struct OlapScanCodec;

impl PhysicalExtensionCodec for OlapScanCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(pieces) = buf.strip_prefix(crate::deep_expr::MAGIC) {
            let [input] = inputs else {
                return internal_err!("a node in pieces takes one input");
            };
            return crate::deep_expr::DeepExprExec::decode(pieces, input, ctx);
        }
        let p: OlapScanProto =
            serde_json::from_slice(buf).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let predicate = match &p.predicate {
            None => None,
            Some(bytes) => {
                let node = datafusion_proto::protobuf::PhysicalExprNode::decode(bytes.as_slice())
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                let full = p.schema.arrow_schema();
                Some(parse_physical_expr(
                    &node,
                    ctx,
                    &full,
                    &DefaultPhysicalExtensionCodec {},
                )?)
            }
        };
        let mut scan = OlapScanExec::new(
            p.table,
            p.schema,
            p.projection,
            predicate,
            p.ranges,
            p.partitions,
        )?;
        scan.worker = p.worker;
        scan.partition_names = p.partition_names;
        scan.distribution = p.distribution;
        scan.bucket_layout = p.bucket_layout;
        let output = scan.schema();
        scan.runtime_filters = p
            .runtime_filters
            .iter()
            .map(|bytes| {
                let node = datafusion_proto::protobuf::PhysicalExprNode::decode(bytes.as_slice())
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                parse_physical_expr(&node, ctx, &output, &DefaultPhysicalExtensionCodec {})
            })
            .collect::<Result<_>>()?;
        Ok(Arc::new(scan))
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(deep) = node.downcast_ref::<crate::deep_expr::DeepExprExec>() {
            return deep.encode(buf);
        }
        let Some(scan) = node.downcast_ref::<OlapScanExec>() else {
            return internal_err!("OlapScanCodec cannot encode {}", node.name());
        };
        let predicate = match &scan.predicate {
            None => None,
            Some(p) => {
                Some(serialize_physical_expr(p, &DefaultPhysicalExtensionCodec {})?.encode_to_vec())
            }
        };
        let proto = OlapScanProto {
            table: scan.table.clone(),
            schema: scan.schema.clone(),
            projection: scan.projection.clone(),
            predicate,
            ranges: scan.ranges.clone(),
            worker: scan.worker.clone(),
            partition_names: scan.partition_names.clone(),
            partitions: scan.partitions(),
            distribution: scan.distribution.clone(),
            bucket_layout: scan.bucket_layout.clone(),
            // A runtime filter only saves work: one too deep for the wire
            // (a TopK's bound on a deep sort key) is left behind.
            runtime_filters: scan
                .runtime_filters
                .iter()
                .filter(|f| crate::deep_expr::height(f) <= crate::deep_expr::PIECE_DEPTH)
                .map(|f| {
                    Ok(
                        serialize_physical_expr(f, &DefaultPhysicalExtensionCodec {})?
                            .encode_to_vec(),
                    )
                })
                .collect::<Result<_>>()?,
        };
        serde_json::to_writer(buf, &proto).map_err(|e| DataFusionError::External(Box::new(e)))
    }
}
