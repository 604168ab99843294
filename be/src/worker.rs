//! The datafusion-distributed worker on `brpc_port`: it decodes the plan
//! fragments the FE sends and runs them here, next to the tablets.

use crate::storage::{EngineReader, StorageEngine};
use basalt_common::scan::{OlapScanCodec, OlapScanExec, TabletReaderExt};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::{
    DistributedExt, Worker, WorkerPlanRewriteEvent, WorkerPlanRewriteEventResponse,
    WorkerQueryContext,
};
use std::collections::HashMap;
use std::sync::Arc;

pub fn worker(engine: Arc<StorageEngine>) -> Worker {
    Worker::from_session_builder(move |ctx: WorkerQueryContext| {
        let engine = Arc::clone(&engine);
        async move {
            // Keep the prepared config: it carries the task's identity.
            let mut builder = ctx.builder;
            // The query's exec_mem_limit bounds this fragment.
            let limit = ctx
                .headers
                .get(basalt_common::EXEC_MEM_LIMIT_HEADER)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
            if let Some(limit) = limit {
                builder = builder.with_runtime_env(basalt_common::limited_runtime(limit));
            }
            let config = builder.config().get_or_insert_default();
            config.set_extension(Arc::new(TabletReaderExt(Arc::new(EngineReader(engine)))));
            config.set_distributed_user_codec(OlapScanCodec);
            let builder =
                builder.with_distributed_worker_plan_rewrite_handler(relink_runtime_filters);
            let mut state = builder.build();
            // Fragments call it by name to route a bucket-shuffle join's build side.
            state.register_udf(basalt_common::bucket_shuffle::udf())?;
            for f in basalt_common::doris_udfs() {
                state.register_udf(Arc::new(f))?;
            }
            for f in basalt_common::doris_udafs() {
                state.register_udaf(Arc::new(f))?;
            }
            Ok(state)
        }
    })
}

/// A fragment arrives decoded with the join's runtime filter and the scan's
/// copy of it as two separate objects (the plan codec does not share them), so
/// the join would fill a filter nobody reads. This reconnects each scan's copy
/// to its join's filter by expression id, for joins whose build side is whole
/// in this fragment (CollectLeft: a broadcast join); a partitioned join's
/// filter depends on in-process hash partitioning and is left alone.
fn relink_runtime_filters(ev: WorkerPlanRewriteEvent) -> Result<WorkerPlanRewriteEventResponse> {
    let mut joins: HashMap<u64, Arc<dyn PhysicalExpr>> = HashMap::new();
    ev.plan.apply(|node| {
        if let Some(join) = node.downcast_ref::<HashJoinExec>() {
            if *join.partition_mode() == PartitionMode::CollectLeft {
                if let Some(filter) = join.dynamic_filter_expr() {
                    let filter = Arc::clone(filter) as Arc<dyn PhysicalExpr>;
                    if let Some(id) = filter.expression_id() {
                        joins.insert(id, filter);
                    }
                }
            }
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    })?;
    if joins.is_empty() {
        return Ok(WorkerPlanRewriteEventResponse::new(ev.plan));
    }
    let plan = Arc::clone(&ev.plan).transform_up(|node| {
        let Some(scan) = node.downcast_ref::<OlapScanExec>() else {
            return Ok(Transformed::no(node));
        };
        let mut scan = scan.clone();
        let mut changed = false;
        for filter in &mut scan.runtime_filters {
            let linked = Arc::clone(filter).transform_up(|expr| {
                let Some(shared) = expr.expression_id().and_then(|id| joins.get(&id)) else {
                    return Ok(Transformed::no(expr));
                };
                // The join's filter, seen through this scan's column mapping.
                let children = expr.children().into_iter().cloned().collect();
                Ok(Transformed::yes(
                    Arc::clone(shared).with_new_children(children)?,
                ))
            })?;
            changed |= linked.transformed;
            *filter = linked.data;
        }
        Ok(if changed {
            Transformed::yes(Arc::new(scan) as Arc<dyn ExecutionPlan>)
        } else {
            Transformed::no(node)
        })
    })?;
    Ok(WorkerPlanRewriteEventResponse::new(plan.data))
}
