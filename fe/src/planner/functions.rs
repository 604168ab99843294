//! MySQL's session functions (DATABASE(), USER(), ...) for one statement.

use crate::session::Session;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    create_udf, Aggregate, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Registers functions whose value is fixed for the statement.
pub fn register(ctx: &SessionContext, session: &Session) {
    let constants: Vec<(&str, ScalarValue)> = vec![
        ("database", ScalarValue::Utf8(session.db.clone())),
        ("schema", ScalarValue::Utf8(session.db.clone())),
        ("user", ScalarValue::Utf8(Some(session.user_identity()))),
        (
            "current_user",
            ScalarValue::Utf8(Some(session.user_identity())),
        ),
        (
            "session_user",
            ScalarValue::Utf8(Some(session.user_identity())),
        ),
        (
            "connection_id",
            ScalarValue::Int64(Some(session.connection_id.into())),
        ),
        (
            "version",
            ScalarValue::Utf8(Some(basalt_common::MYSQL_SERVER_VERSION.into())),
        ),
        ("last_insert_id", ScalarValue::Int64(Some(0))),
    ];
    for f in basalt_common::doris_udfs() {
        ctx.register_udf(f);
    }
    for f in basalt_common::doris_udafs() {
        ctx.register_udaf(f);
    }
    for (name, value) in constants {
        let ty: DataType = value.data_type();
        let udf = create_udf(
            name,
            vec![],
            ty,
            Volatility::Stable,
            Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
        );
        ctx.register_udf(udf);
    }
}

/// `COUNT(DISTINCT c)` of a BITMAP column counts the distinct values in its
/// bitmaps (`bitmap_union_count`), and of an HLL column estimates them
/// (`hll_union_agg`), not distinct sketches, as Doris answers it. BITMAP is
/// the only column type stored as Arrow Binary, HLL the only LargeBinary.
pub fn sketch_count_distinct(plan: LogicalPlan) -> DfResult<LogicalPlan> {
    plan.transform_up(|node| {
        let LogicalPlan::Aggregate(agg) = &node else {
            return Ok(Transformed::no(node));
        };
        let schema = agg.input.schema();
        let mut changed = false;
        let mut aggr_expr = Vec::with_capacity(agg.aggr_expr.len());
        for e in &agg.aggr_expr {
            let (inner, alias) = match e {
                Expr::Alias(a) => (a.expr.as_ref(), Some(a.name.clone())),
                other => (other, None),
            };
            let rewritten = match inner {
                Expr::AggregateFunction(f)
                    if f.func.name() == "count"
                        && f.params.distinct
                        && f.params.args.len() == 1 =>
                {
                    let count = match f.params.args[0].get_type(schema.as_ref())? {
                        DataType::Binary => Some(basalt_common::bitmap::bitmap_union_count()),
                        DataType::LargeBinary => Some(basalt_common::hll::hll_union_agg()),
                        _ => None,
                    };
                    count.map(|count| {
                        let call = Arc::new(count).call(f.params.args.clone());
                        call.alias(alias.unwrap_or_else(|| e.schema_name().to_string()))
                    })
                }
                _ => None,
            };
            changed |= rewritten.is_some();
            aggr_expr.push(rewritten.unwrap_or_else(|| e.clone()));
        }
        if !changed {
            return Ok(Transformed::no(node));
        }
        let rebuilt =
            Aggregate::try_new(Arc::clone(&agg.input), agg.group_expr.clone(), aggr_expr)?;
        Ok(Transformed::yes(LogicalPlan::Aggregate(rebuilt)))
    })
    .map(|t| t.data)
}
