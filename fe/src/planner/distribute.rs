//! Sends scan fragments to the backends with datafusion-distributed.
//!
//! A physical optimizer rule cuts the plan above every "backend-local" subtree
//! (an `OlapScanExec` with the filters, projections, limits and partial
//! aggregations over it) with a `NetworkCoalesceExec`. datafusion-distributed
//! then asks our handlers to split each scan into one task per group of tablets
//! of one BE, and to route every task to that BE's worker: locality is not optional.

use crate::Frontend;
use basalt_common::scan::{OlapScanCodec, OlapScanExec};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::config::ConfigOptions;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};
use datafusion_distributed::{
    DistributedExt, DistributedLeafExec, NetworkCoalesceExec, RouteTasksEvent,
    RouteTasksEventResponse, ScaleUpLeafNodeEvent, ScaleUpLeafNodeEventResponse,
    SessionStateBuilderExt, WorkerResolver,
};
use std::sync::Arc;
use url::Url;

/// Adds Basalt's distribution to a session: the rule, the codec, the handlers.
pub fn with_distribution(builder: SessionStateBuilder, fe: Arc<Frontend>) -> SessionStateBuilder {
    builder
        .with_physical_optimizer_rule(Arc::new(PushFragmentsToBackends))
        .with_distributed_worker_resolver(BackendWorkers(fe))
        .with_distributed_planner()
        .with_distributed_user_codec(OlapScanCodec)
        .with_distributed_scale_up_leaf_node_handler(split_scan)
        .with_distributed_route_tasks_handler(route_to_tablets)
}

/// The worker URLs of alive backends (used only for stages that read no tablets).
#[derive(Debug)]
struct BackendWorkers(Arc<Frontend>);

impl WorkerResolver for BackendWorkers {
    fn get_urls(&self) -> Result<Vec<Url>, datafusion::error::DataFusionError> {
        let state = self.0.catalog.read();
        Ok(state
            .backends
            .values()
            .filter(|b| self.0.backends.is_alive(b.id))
            .filter_map(|b| Url::parse(&b.worker_url()).ok())
            .collect())
    }
}

#[derive(Debug)]
struct PushFragmentsToBackends;

impl PhysicalOptimizerRule for PushFragmentsToBackends {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = cut(plan)?;
        // The coordinator's root must produce one partition.
        if plan.output_partitioning().partition_count() > 1 {
            return Ok(Arc::new(CoalescePartitionsExec::new(plan)));
        }
        Ok(plan)
    }

    fn name(&self) -> &str {
        "push_fragments_to_backends"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn cut(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(tasks) = backend_tasks(&plan) {
        return Ok(Arc::new(NetworkCoalesceExec::try_new(plan, tasks, 1)?));
    }
    let children: Vec<Arc<dyn ExecutionPlan>> = plan
        .children()
        .into_iter()
        .map(|c| cut(Arc::clone(c)))
        .collect::<Result<_>>()?;
    if children.is_empty() {
        return Ok(plan);
    }
    plan.with_new_children(children)
}

/// If `plan` can run entirely on the backends, the number of tasks to run it as.
/// At least two: datafusion-distributed runs a one-task stage on the coordinator.
fn backend_tasks(plan: &Arc<dyn ExecutionPlan>) -> Option<usize> {
    if let Some(scan) = plan.downcast_ref::<OlapScanExec>() {
        return Some(scan.workers().len().max(2));
    }
    let local = plan.is::<FilterExec>()
        || plan.is::<ProjectionExec>()
        || plan.is::<LocalLimitExec>()
        || plan
            .downcast_ref::<AggregateExec>()
            .is_some_and(|a| *a.mode() == AggregateMode::Partial)
        || plan
            .downcast_ref::<RepartitionExec>()
            .is_some_and(|r| matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)));
    match plan.children().as_slice() {
        [child] if local => backend_tasks(child),
        _ => None,
    }
}

/// Splits a scan into per-BE parts, one per task.
fn split_scan(ev: ScaleUpLeafNodeEvent) -> Option<Result<ScaleUpLeafNodeEventResponse>> {
    let scan = ev.plan.downcast_ref::<OlapScanExec>()?;
    let result = scan.split_by_backend(ev.task_count).and_then(|parts| {
        let parts = parts
            .into_iter()
            .map(|p| Arc::new(p) as Arc<dyn ExecutionPlan>);
        let leaf = DistributedLeafExec::try_new(Arc::clone(ev.plan), parts)?;
        Ok(ScaleUpLeafNodeEventResponse::new(Arc::new(leaf)))
    });
    Some(result)
}

/// Routes every task of a stage that reads tablets to the BE holding them.
fn route_to_tablets(ev: RouteTasksEvent) -> Option<Result<RouteTasksEventResponse>> {
    let mut urls: Option<Vec<Url>> = None;
    let found = ev.plan.apply(|node| {
        if let Some(leaf) = node.downcast_ref::<DistributedLeafExec>() {
            if leaf.original().is::<OlapScanExec>() {
                urls = leaf
                    .variants()
                    .iter()
                    .map(|v| {
                        v.downcast_ref::<OlapScanExec>()?
                            .worker_url()
                            .and_then(|u| Url::parse(&u).ok())
                    })
                    .collect();
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    if let Err(e) = found {
        return Some(Err(e));
    }
    let urls = urls?;
    (urls.len() == ev.task_count).then(|| Ok(RouteTasksEventResponse::new(urls)))
}
