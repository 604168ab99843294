//! Deep expressions cross to the backends in pieces.
//!
//! A BE decodes the fragment it is sent with prost, which stops at 100 nested
//! messages, and an expression level takes two of them: a nest of about 45
//! function calls failed to decode, where Doris allows 3,000 levels. (A chain
//! of one operator, `a + b + c ...`, is flat on the wire already.) So on the
//! FE, after distribution, a projection, filter or aggregation with an
//! expression deeper than [`PIECE_DEPTH`] is marked with a [`DeepExprExec`],
//! and the codec sends it as a flat list of pieces: projections that compute
//! the expression [`PIECE_DEPTH`] levels at a time into extra columns, then the
//! node itself over them. Each piece is decoded by its own prost call, within
//! its limit; the BE refuses more pieces than the FE ever sends.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{internal_err, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{BinaryExpr, Column};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode, PhysicalGroupBy};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, PlanProperties,
};
use datafusion_proto::physical_plan::{AsExecutionPlan, DefaultPhysicalExtensionCodec};
use datafusion_proto::protobuf::PhysicalPlanNode;
use prost::Message;
use std::fmt;
use std::sync::Arc;

/// The most expression levels one piece holds: 32 nested messages, which
/// leaves prost's other 68 to the plan above it.
pub const PIECE_DEPTH: usize = 16;

/// The most pieces a BE accepts for one node: what the deepest expression the
/// FE's parser lets through is cut into.
const MAX_PIECES: usize = crate::MAX_EXPR_DEPTH / (PIECE_DEPTH - 1) + 2;

/// What starts a [`DeepExprExec`] on the wire (the scan's encoding is JSON).
pub const MAGIC: &[u8] = b"basalt-pieces\n";

/// An expression's height as it nests on the wire: a chain of one binary
/// operator is one level, since DataFusion's codec lists its operands flat.
pub fn height(e: &Arc<dyn PhysicalExpr>) -> usize {
    1 + operands(e).iter().map(height).max().unwrap_or(0)
}

/// The children as the wire nests them: a left-deep chain of one operator
/// gives all its operands.
fn operands(e: &Arc<dyn PhysicalExpr>) -> Vec<Arc<dyn PhysicalExpr>> {
    let Some(top) = e.downcast_ref::<BinaryExpr>() else {
        return e.children().into_iter().cloned().collect();
    };
    let mut out = vec![Arc::clone(top.right())];
    let mut link = top;
    while let Some(next) = link
        .left()
        .downcast_ref::<BinaryExpr>()
        .filter(|b| b.op() == top.op())
    {
        out.push(Arc::clone(next.right()));
        link = next;
    }
    out.push(Arc::clone(link.left()));
    out.reverse();
    out
}

/// `e` with new operands (as [`operands`] lists them).
fn with_operands(
    e: &Arc<dyn PhysicalExpr>,
    new: Vec<Arc<dyn PhysicalExpr>>,
) -> Result<Arc<dyn PhysicalExpr>> {
    match e.downcast_ref::<BinaryExpr>() {
        Some(top) => {
            let mut it = new.into_iter();
            let Some(mut acc) = it.next() else {
                return internal_err!("a binary expression without operands");
            };
            for right in it {
                acc = Arc::new(BinaryExpr::new(acc, *top.op(), right));
            }
            Ok(acc)
        }
        None => Arc::clone(e).with_new_children(new),
    }
}

/// Replaces each lowest subtree [`PIECE_DEPTH`] high with a column numbered
/// from `next` on, pushing the subtree to `out`; the piece computes them from
/// its input, so nothing above a cut is cut in the same pass. Returns the
/// expression, its height, and whether it was cut. (A subtree in a CASE
/// branch is then computed for every row; Doris's functions give NULL, not an
/// error, where the branch would not be taken.)
fn cut(
    e: &Arc<dyn PhysicalExpr>,
    next: usize,
    out: &mut Vec<Arc<dyn PhysicalExpr>>,
) -> Result<(Arc<dyn PhysicalExpr>, usize, bool)> {
    let children = operands(e);
    if children.is_empty() {
        return Ok((Arc::clone(e), 1, false));
    }
    let (mut high, mut below) = (0, false);
    let mut new = Vec::with_capacity(children.len());
    for c in &children {
        let (c, h, was_cut) = cut(c, next, out)?;
        high = high.max(h);
        below |= was_cut;
        new.push(c);
    }
    let e = with_operands(e, new)?;
    if below || high + 1 < PIECE_DEPTH {
        return Ok((e, high + 1, below));
    }
    let index = next + out.len();
    out.push(e);
    let column = Arc::new(Column::new(&format!("__piece_{index}"), index));
    Ok((column, 1, true))
}

/// A node whose expressions must travel in pieces: it runs as the node it
/// wraps; only the codec treats it differently.
#[derive(Debug)]
pub struct DeepExprExec {
    node: Arc<dyn ExecutionPlan>,
}

/// The expressions of a node that can be cut into pieces, or None.
fn expressions(node: &Arc<dyn ExecutionPlan>) -> Option<Vec<Arc<dyn PhysicalExpr>>> {
    if let Some(p) = node.downcast_ref::<ProjectionExec>() {
        return Some(p.expr().iter().map(|p| Arc::clone(&p.expr)).collect());
    }
    if let Some(f) = node.downcast_ref::<FilterExec>() {
        return Some(vec![Arc::clone(f.predicate())]);
    }
    let a = node.downcast_ref::<AggregateExec>()?;
    if !matches!(
        a.mode(),
        AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
    ) {
        return None;
    }
    let mut out: Vec<_> = a
        .group_expr()
        .expr()
        .iter()
        .map(|(e, _)| Arc::clone(e))
        .collect();
    for f in a.aggr_expr() {
        out.extend(f.expressions());
    }
    Some(out)
}

/// The node again, with `exprs` (in [`expressions`]'s order) over `input`.
fn rebuild(
    node: &Arc<dyn ExecutionPlan>,
    mut exprs: Vec<Arc<dyn PhysicalExpr>>,
    input: Arc<dyn ExecutionPlan>,
    input_width: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(p) = node.downcast_ref::<ProjectionExec>() {
        let named = exprs
            .into_iter()
            .zip(p.expr())
            .map(|(expr, old)| ProjectionExpr {
                expr,
                alias: old.alias.clone(),
            });
        return Ok(Arc::new(ProjectionExec::try_new(named, input)?));
    }
    if let Some(f) = node.downcast_ref::<FilterExec>() {
        // The filter's output keeps the columns it had, not the pieces.
        let projection = match f.projection() {
            Some(p) => p.iter().copied().collect(),
            None => (0..input_width).collect(),
        };
        let Some(predicate) = exprs.pop() else {
            return internal_err!("a filter without its predicate");
        };
        let filter = FilterExecBuilder::new(predicate, input)
            .apply_projection(Some(projection))?
            .with_default_selectivity(f.default_selectivity())
            .with_batch_size(f.batch_size())
            .with_fetch(f.fetch())
            .build()?;
        return Ok(Arc::new(filter));
    }
    let Some(a) = node.downcast_ref::<AggregateExec>() else {
        return internal_err!("{} is not cut into pieces", node.name());
    };
    let group = a.group_expr();
    let rest = exprs.split_off(group.expr().len());
    let group_by = PhysicalGroupBy::new(
        exprs
            .into_iter()
            .zip(group.expr())
            .map(|(e, (_, name))| (e, name.clone()))
            .collect(),
        group.null_expr().to_vec(),
        group.groups().to_vec(),
        group.has_grouping_set(),
    );
    let mut rest = rest.into_iter();
    let mut aggr = Vec::with_capacity(a.aggr_expr().len());
    for f in a.aggr_expr() {
        let args: Vec<_> = rest.by_ref().take(f.expressions().len()).collect();
        let order_by = f.order_bys().iter().map(|s| Arc::clone(&s.expr)).collect();
        let Some(f) = f.with_new_expressions(args, order_by) else {
            return internal_err!("aggregate {} cannot take new arguments", f.name());
        };
        aggr.push(Arc::new(f));
    }
    let schema = input.schema();
    let out = AggregateExec::try_new(
        *a.mode(),
        group_by,
        aggr,
        a.filter_expr().to_vec(),
        input,
        schema,
    )?
    .with_limit_options(a.limit_options());
    Ok(Arc::new(out))
}

/// A stand-in for a piece's input: only its schema travels.
fn placeholder(schema: &SchemaRef) -> Arc<dyn ExecutionPlan> {
    Arc::new(EmptyExec::new(Arc::clone(schema)))
}

impl DeepExprExec {
    /// Marks every node of `plan` whose expressions are too deep for one piece.
    pub fn mark(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let deep = node.children().len() == 1
                && expressions(&node).is_some_and(|es| es.iter().any(|e| height(e) > PIECE_DEPTH));
            Ok(match deep {
                true => Transformed::yes(Arc::new(DeepExprExec { node }) as Arc<dyn ExecutionPlan>),
                false => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    /// The pieces, bottom first, each over a placeholder of its input.
    fn pieces(&self) -> Result<Vec<Arc<dyn ExecutionPlan>>> {
        let children = self.node.children();
        let (Some(mut exprs), [input]) = (expressions(&self.node), children.as_slice()) else {
            return internal_err!("{} is not cut into pieces", self.node.name());
        };
        let original = input.schema();
        let mut schema = Arc::clone(&original);
        let mut out = Vec::new();
        while exprs.iter().any(|e| height(e) > PIECE_DEPTH) {
            let width = schema.fields().len();
            let mut cuts = Vec::new();
            exprs = exprs
                .iter()
                .map(|e| cut(e, width, &mut cuts).map(|(e, ..)| e))
                .collect::<Result<_>>()?;
            let passed = schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| ProjectionExpr {
                    expr: Arc::new(Column::new(f.name(), i)),
                    alias: f.name().clone(),
                });
            let computed = cuts
                .into_iter()
                .enumerate()
                .map(|(j, expr)| ProjectionExpr {
                    expr,
                    alias: format!("__piece_{}", width + j),
                });
            let piece = ProjectionExec::try_new(passed.chain(computed), placeholder(&schema))?;
            schema = piece.schema();
            out.push(Arc::new(piece) as Arc<dyn ExecutionPlan>);
        }
        out.push(rebuild(
            &self.node,
            exprs,
            placeholder(&schema),
            original.fields().len(),
        )?);
        Ok(out)
    }

    /// The wire form: [`MAGIC`], then each piece's length and protobuf.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(MAGIC);
        for piece in self.pieces()? {
            let bytes =
                PhysicalPlanNode::try_from_physical_plan(piece, &DefaultPhysicalExtensionCodec {})?
                    .encode_to_vec();
            buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            buf.extend_from_slice(&bytes);
        }
        Ok(())
    }

    /// Decodes the pieces of `buf` (after [`MAGIC`]) and stacks them on
    /// `input`. The BE's check of what it is sent: no more pieces than the FE
    /// makes, and each within prost's nesting limit.
    pub fn decode(
        mut buf: &[u8],
        input: &Arc<dyn ExecutionPlan>,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut pieces = Vec::new();
        while !buf.is_empty() {
            if pieces.len() == MAX_PIECES {
                return internal_err!("a fragment's node comes in more than {MAX_PIECES} pieces");
            }
            let Some((len, rest)) = buf.split_first_chunk::<8>() else {
                return internal_err!("a truncated piece of a fragment");
            };
            let len = usize::try_from(u64::from_le_bytes(*len)).unwrap_or(usize::MAX);
            if rest.len() < len {
                return internal_err!("a truncated piece of a fragment");
            }
            let (piece, rest) = rest.split_at(len);
            pieces.push(piece);
            buf = rest;
        }
        let mut plan = Arc::clone(input);
        for bytes in pieces {
            let piece = PhysicalPlanNode::try_decode(bytes)?
                .try_into_physical_plan(ctx, &DefaultPhysicalExtensionCodec {})?;
            plan = piece.with_new_children(vec![plan])?;
        }
        Ok(plan)
    }
}

impl DisplayAs for DeepExprExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.node.fmt_as(t, f)
    }
}

impl ExecutionPlan for DeepExprExec {
    fn name(&self) -> &str {
        self.node.name()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.node.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.node.children()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(DeepExprExec {
            node: Arc::clone(&self.node).with_new_children(children)?,
        }))
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        self.node.required_input_distribution()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.node.maintains_input_order()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.node.benefits_from_input_partitioning()
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.node.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.node.execute(partition, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;
    use datafusion_proto::protobuf::{physical_plan_node::PhysicalPlanType, ProjectionExecNode};

    /// Rows as text, without the header (a plan's top may rename columns).
    fn text(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> Vec<String> {
        let table = datafusion::arrow::util::pretty::pretty_format_batches(batches).unwrap();
        let table = table.to_string();
        let rows = table.lines().skip(3).filter(|l| l.starts_with('|'));
        rows.map(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join(","))
            .collect()
    }

    /// The one node `mark` wrapped, with the plan's results for comparison.
    async fn marked(sql: &str) -> (Arc<dyn ExecutionPlan>, Vec<String>, Arc<TaskContext>) {
        let config = datafusion::prelude::SessionConfig::new()
            .set_usize("datafusion.sql_parser.recursion_limit", 200);
        let ctx = SessionContext::new_with_config(config);
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let task = ctx.task_ctx();
        let want = text(&collect(Arc::clone(&plan), Arc::clone(&task)).await.unwrap());
        let plan = DeepExprExec::mark(plan).unwrap();
        let mut deep = None;
        plan.apply(|n| {
            if n.downcast_ref::<DeepExprExec>().is_some() {
                deep = Some(Arc::clone(n));
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
        .unwrap();
        let deep = deep.unwrap_or_else(|| {
            panic!(
                "nothing marked in {}",
                displayable(plan.as_ref()).indent(true)
            )
        });
        (deep, want, task)
    }

    async fn round_trip(sql: &str) {
        let (deep, want, task) = marked(sql).await;
        let mut buf = Vec::new();
        deep.downcast_ref::<DeepExprExec>()
            .unwrap()
            .encode(&mut buf)
            .unwrap();
        let pieces = buf.strip_prefix(MAGIC).unwrap();
        let input = Arc::clone(deep.children()[0]);
        let decoded = DeepExprExec::decode(pieces, &input, &task).unwrap();
        assert_eq!(text(&collect(decoded, task).await.unwrap()), want);
    }

    fn nest(n: usize) -> String {
        format!("{}a{}", "abs(".repeat(n), ")".repeat(n))
    }

    #[tokio::test]
    async fn deep_projections_filters_and_aggregates_cross_in_pieces() {
        let t = "(VALUES (1, 2), (-3, 4), (5, -6)) t(a, b)";
        round_trip(&format!("SELECT {}, b FROM {t}", nest(60))).await;
        round_trip(&format!("SELECT b FROM {t} WHERE {} > 2", nest(60))).await;
        round_trip(&format!("SELECT b, SUM({}) FROM {t} GROUP BY b", nest(60))).await;
    }

    #[tokio::test]
    async fn a_backend_refuses_what_no_frontend_sends() {
        let (deep, _, task) = marked(&format!("SELECT {} FROM (VALUES (1)) t(a)", nest(40))).await;
        let input = Arc::clone(deep.children()[0]);
        // More pieces than any expression the FE lets through is cut into.
        let mut buf = Vec::new();
        for _ in 0..=MAX_PIECES {
            buf.extend_from_slice(&0u64.to_le_bytes());
        }
        let e = DeepExprExec::decode(&buf, &input, &task).unwrap_err();
        assert!(e.to_string().contains("pieces"), "{e}");
        // A truncated piece.
        assert!(DeepExprExec::decode(&[9, 0, 0, 0, 0, 0, 0, 0, 1], &input, &task).is_err());
        // A piece nested 5,000 plan nodes deep is an error from prost's
        // limit, not a stack overflow. (Built and encoded on a big stack.)
        let bytes = std::thread::Builder::new()
            .stack_size(crate::THREAD_STACK_SIZE)
            .spawn(|| {
                let mut node = PhysicalPlanNode::default();
                for _ in 0..5_000 {
                    node = PhysicalPlanNode {
                        physical_plan_type: Some(PhysicalPlanType::Projection(Box::new(
                            ProjectionExecNode {
                                input: Some(Box::new(node)),
                                ..Default::default()
                            },
                        ))),
                    };
                }
                let bytes = node.encode_to_vec();
                drop(node);
                bytes
            })
            .unwrap()
            .join()
            .unwrap();
        let mut buf = (bytes.len() as u64).to_le_bytes().to_vec();
        buf.extend_from_slice(&bytes);
        let e = DeepExprExec::decode(&buf, &input, &task).unwrap_err();
        assert!(e.to_string().contains("decode"), "{e}");
    }
}
