//! Sends scan fragments to the backends with datafusion-distributed.
//!
//! A physical optimizer rule cuts the plan above every "backend-local" subtree
//! (an `OlapScanExec` with the filters, projections, limits and partial
//! aggregations over it) with a `NetworkCoalesceExec`. datafusion-distributed
//! then asks our handlers to split each scan into one task per group of tablets
//! of one BE, and to route every task to that BE's worker: locality is not optional.

use crate::Frontend;
use basalt_common::bucket_shuffle;
use basalt_common::deep_expr::DeepExprExec;
use basalt_common::scan::{BucketDistribution, OlapScanCodec, OlapScanExec};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::JoinType;
use datafusion::common::Result;
use datafusion::config::ConfigOptions;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{
    Distribution, ExecutionPlan, ExecutionPlanProperties, Partitioning,
};
use datafusion_distributed::{
    BroadcastExec, DistributedExt, DistributedLeafExec, NetworkBroadcastExec, NetworkCoalesceExec,
    NetworkShuffleExec, RouteTasksEvent, RouteTasksEventResponse, ScaleUpLeafNodeEvent,
    ScaleUpLeafNodeEventResponse, SessionStateBuilderExt, WorkerResolver,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

/// Adds Basalt's distribution to a session: the rule, the codec, the handlers.
pub fn with_distribution(builder: SessionStateBuilder, fe: Arc<Frontend>) -> SessionStateBuilder {
    let mut builder = builder
        .with_physical_optimizer_rule(Arc::new(PushFragmentsToBackends(Arc::clone(&fe))))
        .with_distributed_worker_resolver(BackendWorkers(fe))
        .with_distributed_planner()
        .with_distributed_user_codec(OlapScanCodec)
        .with_distributed_scale_up_leaf_node_handler(split_scan)
        .with_distributed_route_tasks_handler(route_to_tablets);
    match builder.query_planner().take() {
        Some(distributed) => builder.with_query_planner(Arc::new(DeepExpressions(distributed))),
        None => builder,
    }
}

/// Marks the nodes of the distributed plan whose expressions travel to the
/// BEs in pieces (`basalt_common::deep_expr`). It runs after distribution,
/// whose rules look for the nodes it wraps.
#[derive(Debug)]
struct DeepExpressions(Arc<dyn QueryPlanner + Send + Sync>);

#[async_trait::async_trait]
impl QueryPlanner for DeepExpressions {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        state: &SessionState,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DeepExprExec::mark(self.0.create_physical_plan(plan, state).await?)
    }
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

struct PushFragmentsToBackends(Arc<Frontend>);

impl std::fmt::Debug for PushFragmentsToBackends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushFragmentsToBackends")
    }
}

impl PhysicalOptimizerRule for PushFragmentsToBackends {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = cut(plan, self.0.alive_backends().max(2))?;
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

/// Where a subtree of the physical plan runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Placed {
    /// Next to its tablets: one task per group of tablets of one backend.
    Local(usize),
    /// On any backends, reading only network exchanges (a shuffle or broadcast join,
    /// a final aggregation): this many tasks.
    Worker(usize),
    /// On the FE.
    Coordinator,
}

impl Placed {
    fn tasks(self) -> Option<usize> {
        match self {
            Placed::Local(t) | Placed::Worker(t) => Some(t),
            Placed::Coordinator => None,
        }
    }
}

/// Cuts the plan into fragments bottom-up: scans with their filters,
/// projections and partial aggregations stay next to the tablets; hash
/// repartitions become shuffles between backends, the build side of a
/// broadcast-safe hash join is broadcast to the probe side's backends, and
/// what reads only exchanges runs on `workers` backends. The rest runs on the
/// FE, reading the fragments below it through a coalescing exchange.
fn cut(plan: Arc<dyn ExecutionPlan>, workers: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let (plan, placed) = place(plan, workers)?;
    Ok(match placed.tasks() {
        Some(tasks) => coalesce(plan, tasks)?,
        None => plan,
    })
}

fn place(plan: Arc<dyn ExecutionPlan>, workers: usize) -> Result<(Arc<dyn ExecutionPlan>, Placed)> {
    if let Some(scan) = plan.downcast_ref::<OlapScanExec>() {
        // At least two tasks: datafusion-distributed runs a one-task stage on the coordinator.
        return Ok((
            Arc::clone(&plan),
            Placed::Local(scan.workers().len().max(2)),
        ));
    }
    let children: Vec<(Arc<dyn ExecutionPlan>, Placed)> = plan
        .children()
        .into_iter()
        .map(|c| place(Arc::clone(c), workers))
        .collect::<Result<_>>()?;
    if children.is_empty() {
        return Ok((plan, Placed::Coordinator));
    }
    let rebuild = |plan: &Arc<dyn ExecutionPlan>, children: &[(Arc<dyn ExecutionPlan>, Placed)]| {
        Arc::clone(plan).with_new_children(children.iter().map(|(c, _)| Arc::clone(c)).collect())
    };
    if let [(_, child)] = children.as_slice() {
        if *child != Placed::Coordinator && stays_with_input(&plan) {
            return Ok((rebuild(&plan, &children)?, *child));
        }
        if let (Some(tasks), Some(r)) = (child.tasks(), plan.downcast_ref::<RepartitionExec>()) {
            if matches!(r.partitioning(), Partitioning::Hash(..)) {
                let shuffle = NetworkShuffleExec::try_new(rebuild(&plan, &children)?, tasks)?;
                return Ok((Arc::new(shuffle), Placed::Worker(workers)));
            }
        }
        if let (Placed::Worker(w), Some(agg)) = (child, plan.downcast_ref::<AggregateExec>()) {
            // Its input is already hash-partitioned by the group keys.
            if matches!(
                agg.mode(),
                AggregateMode::FinalPartitioned | AggregateMode::SinglePartitioned
            ) {
                return Ok((rebuild(&plan, &children)?, Placed::Worker(*w)));
            }
        }
    }
    if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
        if let Some(placed) = colocate_join(join)? {
            return Ok(placed);
        }
        if let Some(placed) = bucket_shuffle_join(join, workers)? {
            return Ok(placed);
        }
        if let Some(placed) = join_on_backends(&plan, join, &children, workers)? {
            return Ok(placed);
        }
        if let Some(placed) = shuffle_both_sides(&plan, join, &children, workers)? {
            return Ok(placed);
        }
    }
    // Runs on the FE: every child that runs on backends comes back through an
    // exchange, which yields a partition per task. A parent that needs one
    // partition (a cross join's left side) gets them merged. A partitioned
    // hash join whose sides were placed differently would see their
    // partitions misaligned (each exchange yields tasks x partitions), so its
    // inputs are hashed again on the FE, alike. (Other hash-partitioned
    // consumers, such as a final aggregation, read disjoint keys per exchange
    // partition and need nothing.)
    let shield = hides_fetch(&plan);
    let required = plan.required_input_distribution();
    let partitions = plan.output_partitioning().partition_count().max(1);
    let exchanged =
        plan.is::<HashJoinExec>() && children.iter().any(|(_, placed)| placed.tasks().is_some());
    let children = children
        .into_iter()
        .enumerate()
        .map(|(i, (c, placed))| {
            let mut child = match placed.tasks() {
                Some(tasks) => {
                    let mut exchange = coalesce(c, tasks)?;
                    if shield {
                        exchange = identity(exchange)?;
                    }
                    exchange
                }
                None => c,
            };
            match required.get(i) {
                Some(Distribution::SinglePartition)
                    if child.output_partitioning().partition_count() > 1 =>
                {
                    child = Arc::new(CoalescePartitionsExec::new(child));
                }
                Some(Distribution::HashPartitioned(keys)) if exchanged => {
                    let hash = Partitioning::Hash(keys.clone(), partitions);
                    child = Arc::new(RepartitionExec::try_new(child, hash)?);
                }
                _ => {}
            }
            Ok((child, Placed::Coordinator))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((rebuild(&plan, &children)?, Placed::Coordinator))
}

/// A partitioned join whose sides both run on backends but were placed
/// differently (one next to its tablets, one on workers after a shuffle):
/// both sides are shuffled again on the join keys, so the join runs on the
/// workers rather than pulling both sides to the FE.
fn shuffle_both_sides(
    plan: &Arc<dyn ExecutionPlan>,
    join: &HashJoinExec,
    children: &[(Arc<dyn ExecutionPlan>, Placed)],
    workers: usize,
) -> Result<Option<(Arc<dyn ExecutionPlan>, Placed)>> {
    if *join.partition_mode() != PartitionMode::Partitioned {
        return Ok(None);
    }
    let partitions = plan.output_partitioning().partition_count().max(1);
    let mut sides = Vec::with_capacity(2);
    for ((child, placed), required) in children.iter().zip(plan.required_input_distribution()) {
        let (Some(tasks), Distribution::HashPartitioned(keys)) = (placed.tasks(), required) else {
            return Ok(None);
        };
        let hash =
            RepartitionExec::try_new(Arc::clone(child), Partitioning::Hash(keys, partitions))?;
        sides.push(Arc::new(NetworkShuffleExec::try_new(Arc::new(hash), tasks)?) as _);
    }
    Ok(Some((
        Arc::clone(plan).with_new_children(sides)?,
        Placed::Worker(workers),
    )))
}

/// The fragment `plan` of `tasks` tasks, read back through a coalescing
/// exchange. datafusion-distributed 3.0 drops a `RepartitionExec` at the
/// head of a coalesced fragment, so a round-robin one there (which only
/// spreads batches, pointless before a network merge) is left out here,
/// keeping the partition count the exchange reports true.
fn coalesce(plan: Arc<dyn ExecutionPlan>, tasks: usize) -> Result<Arc<dyn ExecutionPlan>> {
    let plan = match plan.downcast_ref::<RepartitionExec>() {
        Some(r) if matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)) => {
            Arc::clone(r.input())
        }
        _ => plan,
    };
    Ok(Arc::new(NetworkCoalesceExec::try_new(plan, tasks, 1)?))
}

/// datafusion-distributed 3.0 pushes any parent's `fetch` into the fragment
/// below an exchange as a plain row limit. That is right for limits and merges
/// of sorted streams, wrong for anything else with a fetch (a top-N sort, a
/// limited aggregation): the fragment would return its first rows, not the top ones.
fn hides_fetch(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.fetch().is_some()
        && !(plan.is::<GlobalLimitExec>()
            || plan.is::<LocalLimitExec>()
            || plan.is::<CoalescePartitionsExec>()
            || plan.is::<SortPreservingMergeExec>())
}

/// A pass-through projection: keeps a parent's fetch away from the exchange below.
fn identity(input: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = input.schema();
    let columns: Vec<(Arc<dyn PhysicalExpr>, String)> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| (Arc::new(Column::new(f.name(), i)) as _, f.name().clone()))
        .collect();
    Ok(Arc::new(ProjectionExec::try_new(columns, input)?))
}

/// Operators that run wherever their single input runs.
fn stays_with_input(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.is::<FilterExec>()
        || plan.is::<ProjectionExec>()
        || plan.is::<LocalLimitExec>()
        || plan
            .downcast_ref::<AggregateExec>()
            .is_some_and(|a| *a.mode() == AggregateMode::Partial)
        || plan
            .downcast_ref::<RepartitionExec>()
            .is_some_and(|r| matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)))
        // A per-partition sort (a top-N) runs next to its input; the FE merges.
        || plan
            .downcast_ref::<SortExec>()
            .is_some_and(|s| s.preserve_partitioning())
}

/// A join side that reads one table: the subtree without the exchange
/// DataFusion put above it, and the scan at its bottom.
fn table_side(plan: &Arc<dyn ExecutionPlan>) -> Option<(Arc<dyn ExecutionPlan>, &OlapScanExec)> {
    let mut node = plan;
    while node.is::<RepartitionExec>() || node.is::<CoalescePartitionsExec>() {
        node = node.children()[0];
    }
    let top = Arc::clone(node);
    while node.is::<FilterExec>() {
        node = node.children()[0];
    }
    Some((top, node.downcast_ref::<OlapScanExec>()?))
}

/// Doris's colocate join: two tables of one colocation group joined on their
/// distribution columns. Bucket b of both tables sits on the same backends, so
/// each backend joins its buckets locally, bucket by bucket, with no exchange.
/// Applies only when the replicas chosen for every bucket agree on a backend.
fn colocate_join(join: &HashJoinExec) -> Result<Option<(Arc<dyn ExecutionPlan>, Placed)>> {
    let (Some((left, lscan)), Some((right, rscan))) =
        (table_side(join.left()), table_side(join.right()))
    else {
        return Ok(None);
    };
    let (Some(ld), Some(rd)) = (&lscan.distribution, &rscan.distribution) else {
        return Ok(None);
    };
    if join.null_aware
        || ld.colocate_group.is_none()
        || ld.colocate_group != rd.colocate_group
        || ld.buckets != rd.buckets
    {
        return Ok(None);
    }
    let (lkeys, rkeys): (Vec<_>, Vec<_>) = join.on().iter().cloned().unzip();
    let (Some(lpos), Some(rpos)) = (key_positions(ld, &lkeys), key_positions(rd, &rkeys)) else {
        return Ok(None);
    };
    // The i-th distribution column of one table meets the i-th of the other.
    if lpos != rpos {
        return Ok(None);
    }
    let Some(layout) = bucket_layout(&[lscan, rscan]) else {
        return Ok(None);
    };
    let tasks = layout.len().max(2);
    let joined = join
        .builder()
        .with_partition_mode(PartitionMode::Partitioned)
        .with_new_children(vec![
            with_layout(left, &layout)?,
            with_layout(right, &layout)?,
        ])?
        .reset_state()
        .build_exec()?;
    Ok(Some((joined, Placed::Local(tasks))))
}

/// Doris's bucket-shuffle join, for a join that would shuffle both sides when
/// its probe side is a table joined on (at least) its distribution columns:
/// the probe table stays where its buckets are, and only the build side is
/// shuffled, by the probe table's bucket hash, to the backend and partition
/// that serve each bucket.
fn bucket_shuffle_join(
    join: &HashJoinExec,
    workers: usize,
) -> Result<Option<(Arc<dyn ExecutionPlan>, Placed)>> {
    if join.null_aware || *join.partition_mode() != PartitionMode::Partitioned {
        return Ok(None);
    }
    let Some((probe, scan)) = table_side(join.right()) else {
        return Ok(None);
    };
    let Some(dist) = &scan.distribution else {
        return Ok(None);
    };
    let (build_keys, probe_keys): (Vec<_>, Vec<_>) = join.on().iter().cloned().unzip();
    let Some(positions) = key_positions(dist, &probe_keys) else {
        return Ok(None);
    };
    // Without the hash repartition DataFusion put under the build side.
    let build = match join.left().downcast_ref::<RepartitionExec>() {
        Some(r) if matches!(r.partitioning(), Partitioning::Hash(..)) => Arc::clone(r.input()),
        _ => Arc::clone(join.left()),
    };
    // A bucket depends on the value's type: the build keys must have the probe's.
    let (build_schema, probe_schema) = (build.schema(), probe.schema());
    for p in &positions {
        if build_keys[*p].data_type(&build_schema)? != probe_keys[*p].data_type(&probe_schema)? {
            return Ok(None);
        }
    }
    let Some(layout) = bucket_layout(&[scan]) else {
        return Ok(None);
    };
    let (build, build_at) = place(build, workers)?;
    let Some(build_tasks) = build_at.tasks() else {
        return Ok(None);
    };
    // Task t (of the probe's backends, in layout order) serves its buckets in
    // partitions t * per_task + slot; buckets no task reads go anywhere.
    let per_task = layout.values().map(Vec::len).max().unwrap_or(1);
    let tasks = layout.len().max(2);
    let mut targets = vec![0; dist.buckets as usize];
    for (t, buckets) in layout.values().enumerate() {
        for (slot, b) in buckets.iter().enumerate() {
            if let Some(target) = targets.get_mut(*b as usize) {
                *target = t * per_task + slot;
            }
        }
    }
    let keys = positions
        .iter()
        .map(|p| Arc::clone(&build_keys[*p]))
        .collect();
    let route = bucket_shuffle::route(
        keys,
        dist.buckets,
        &targets,
        per_task * tasks,
        &build_schema,
    )?;
    let repartition = RepartitionExec::try_new(build, Partitioning::Hash(vec![route], per_task))?;
    let shuffle = NetworkShuffleExec::try_new(Arc::new(repartition), build_tasks)?;
    let joined = join
        .builder()
        .with_new_children(vec![Arc::new(shuffle), with_layout(probe, &layout)?])?
        .reset_state()
        .build_exec()?;
    Ok(Some((joined, Placed::Local(tasks))))
}

/// For each distribution column, the position of the join key that is that
/// column; `None` unless every distribution column is a join key.
fn key_positions(dist: &BucketDistribution, keys: &[Arc<dyn PhysicalExpr>]) -> Option<Vec<usize>> {
    dist.columns
        .iter()
        .map(|column| {
            keys.iter().position(|k| {
                k.downcast_ref::<Column>()
                    .is_some_and(|c| c.name() == column.as_str())
            })
        })
        .collect()
}

/// For each backend the buckets it serves, when every bucket's tablets in
/// these scans are read on one backend.
fn bucket_layout(scans: &[&OlapScanExec]) -> Option<BTreeMap<String, Vec<u32>>> {
    let mut where_is: BTreeMap<u32, &str> = BTreeMap::new();
    for r in scans.iter().flat_map(|s| &s.ranges) {
        if *where_is.entry(r.bucket).or_insert(&r.worker_url) != r.worker_url {
            return None;
        }
    }
    let mut layout: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (bucket, url) in where_is {
        layout.entry(url.to_string()).or_default().push(bucket);
    }
    Some(layout)
}

/// A join side whose scan reads its buckets as `layout` says.
fn with_layout(
    side: Arc<dyn ExecutionPlan>,
    layout: &BTreeMap<String, Vec<u32>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    side.transform_up(|node| match node.downcast_ref::<OlapScanExec>() {
        Some(scan) => Ok(Transformed::yes(
            Arc::new(scan.with_bucket_layout(layout.clone())?) as Arc<dyn ExecutionPlan>,
        )),
        None => Ok(Transformed::no(node)),
    })
    .map(|t| t.data)
}

/// A hash join on the backends: partitioned over two shuffles, or with its
/// build side broadcast to the backends of its probe side's scan.
fn join_on_backends(
    plan: &Arc<dyn ExecutionPlan>,
    join: &HashJoinExec,
    children: &[(Arc<dyn ExecutionPlan>, Placed)],
    workers: usize,
) -> Result<Option<(Arc<dyn ExecutionPlan>, Placed)>> {
    let [(build, build_at), (probe, probe_at)] = children else {
        return Ok(None);
    };
    let node = |children: Vec<Arc<dyn ExecutionPlan>>| -> Result<Arc<dyn ExecutionPlan>> {
        Arc::clone(plan).with_new_children(children)
    };
    match (join.partition_mode(), build_at, probe_at) {
        (PartitionMode::Partitioned, Placed::Worker(a), Placed::Worker(b)) if a == b => Ok(Some((
            node(vec![Arc::clone(build), Arc::clone(probe)])?,
            Placed::Worker(*a),
        ))),
        // Only joins that never emit unmatched build rows may see a copy of the build side per task.
        (PartitionMode::CollectLeft, _, Placed::Local(tasks))
            if !join.null_aware
                && matches!(
                    join.join_type(),
                    JoinType::Inner
                        | JoinType::Right
                        | JoinType::RightSemi
                        | JoinType::RightAnti
                        | JoinType::RightMark
                ) =>
        {
            // The build side is broadcast from where it runs. One that arrives
            // through a coalesce was placed on the FE (behind an exchange):
            // what is under the coalesce is placed afresh. One already of a
            // single partition (a one-tablet table) runs on the backends as it is.
            let (input, input_at) = match (
                build_at.tasks(),
                join.left().downcast_ref::<CoalescePartitionsExec>(),
            ) {
                (Some(_), _) => (Arc::clone(build), *build_at),
                (None, Some(c)) => place(Arc::clone(c.input()), workers)?,
                (None, None) => return Ok(None),
            };
            let Some(build_tasks) = input_at.tasks() else {
                return Ok(None);
            };
            let broadcast =
                NetworkBroadcastExec::try_new(Arc::new(BroadcastExec::new(input, 1)), build_tasks)?;
            let build = Arc::new(CoalescePartitionsExec::new(Arc::new(broadcast)));
            Ok(Some((
                node(vec![build, Arc::clone(probe)])?,
                Placed::Local(*tasks),
            )))
        }
        _ => Ok(None),
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
