//! Doris's arithmetic, applied to the logical plan before DataFusion's type
//! coercion, which keeps an operation in its operands' type (`BIGINT + BIGINT`
//! wraps) and fails on a zero divisor:
//! - integer `+ - *` compute in the next wider integer type, BIGINT and
//!   LARGEINT in LARGEINT, which is checked: past its range an error, never a
//!   wrapped value. An integer literal counts as the smallest type holding it
//!   (`tinyint_col + 1` is a SMALLINT, as in Doris); `-x` is `0 - x`;
//! - `/` of two integers is a DOUBLE, and `/` and `%` by zero are NULL
//!   (`DIV` is `int_div`, see `sql/rewrite.rs`);
//! - SUM of integers is accumulated exactly (in DECIMAL(38, 0)) and given back
//!   in its Doris type, BIGINT (LARGEINT for a LARGEINT column), failing
//!   past that type's range instead of wrapping;
//! - SUM and AVG of a DECIMAL take Doris's precision and scale. (A DECIMAL
//!   quotient already has Doris's: arrow scales the dividend to s1 + 4 and
//!   divides, truncating, as Doris's documentation describes.)

use basalt_common::types::{largeint_checked, LARGEINT_ARROW, LARGEINT_WIDE};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{
    cast, lit, Aggregate, BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator, Projection,
};
use std::sync::Arc;

pub fn doris_arithmetic(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        // LIMIT and OFFSET take BIGINT literals only.
        if matches!(node, LogicalPlan::Limit(_)) {
            return Ok(Transformed::no(node));
        }
        let schema = merge_schema(&node.inputs());
        let names = NamePreserver::new(&node);
        node.map_expressions(|e| {
            let name = names.save(&e);
            Ok(e.transform_up(|e| rewrite(e, &schema))?
                .update_data(|e| name.restore(e)))
        })?
        // A child's column types may have changed, and with them this node's.
        .map_data(|n| n.recompute_schema())?
        .transform_data(|n| aggregate_types(n).map(Transformed::yes))
    })
    .map(|t| t.data)
}

/// An integer operand's width in bytes (16 for LARGEINT); a literal's is the
/// smallest that holds it.
fn width(e: &Expr, schema: &DFSchema) -> Option<u8> {
    if let Expr::Literal(ScalarValue::Int64(Some(v)), _) = e {
        return Some(match *v {
            v if i8::try_from(v).is_ok() => 1,
            v if i16::try_from(v).is_ok() => 2,
            v if i32::try_from(v).is_ok() => 4,
            _ => 8,
        });
    }
    // A checked LARGEINT step below is known without asking DataFusion, whose
    // type of a function call names its whole subtree at every level: asked
    // at each step of a 2,000-term chain, that was cubic.
    if matches!(e, Expr::ScalarFunction(f) if f.func.name() == "largeint_checked") {
        return Some(16);
    }
    match e.get_type(schema).ok()? {
        DataType::Int8 => Some(1),
        DataType::Int16 | DataType::UInt8 => Some(2),
        DataType::Int32 | DataType::UInt16 => Some(4),
        DataType::Int64 | DataType::UInt32 => Some(8),
        DataType::UInt64 => Some(16),
        t if t == LARGEINT_ARROW => Some(16),
        _ => None,
    }
}

fn binary(left: Expr, op: Operator, right: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
}

/// An exact integer result (any Decimal256 of scale 0) as a checked LARGEINT.
fn to_largeint(e: Expr) -> Expr {
    Arc::new(largeint_checked()).call(vec![cast(e, LARGEINT_WIDE)])
}

/// An operand of LARGEINT arithmetic as an exact Decimal256. A checked result
/// of the step below is taken unchecked, so a chain (`a + b + c ...`) is
/// checked once, at its top: each step then adds one level to the plan, not
/// four (a fragment's plan travels to the BEs, whose decoder limits depth).
fn exact(e: Expr) -> Expr {
    match e {
        Expr::ScalarFunction(f) if f.func.name() == "largeint_checked" => match f.args.as_slice() {
            [Expr::Cast(c)] if c.field.data_type() == &LARGEINT_WIDE => c.expr.as_ref().clone(),
            _ => cast(Expr::ScalarFunction(f), LARGEINT_ARROW),
        },
        e => cast(e, LARGEINT_ARROW),
    }
}

fn rewrite(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    // DataFusion negates integers wrapping (`-(-2^63)` is -2^63): `0 - x`
    // widens instead.
    let e = match e {
        Expr::Negative(x) if width(&x, schema).is_some() => binary(lit(0i8), Operator::Minus, *x),
        e => e,
    };
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return Ok(Transformed::no(e));
    };
    let widths = width(&left, schema).zip(width(&right, schema));
    let new = match (op, widths) {
        (Operator::Plus | Operator::Minus | Operator::Multiply, Some((l, r))) => {
            match (l.max(r) * 2).min(16) {
                16 => to_largeint(binary(exact(*left), op, exact(*right))),
                w => {
                    let ty = match w {
                        2 => DataType::Int16,
                        4 => DataType::Int32,
                        _ => DataType::Int64,
                    };
                    binary(cast(*left, ty.clone()), op, cast(*right, ty))
                }
            }
        }
        (Operator::Divide, Some(_)) => binary(
            cast(*left, DataType::Float64),
            op,
            nonzero(cast(*right, DataType::Float64)),
        ),
        (Operator::Divide | Operator::Modulo, _) => binary(*left, op, nonzero(*right)),
        _ => {
            return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
                left,
                op,
                right,
            })))
        }
    };
    Ok(Transformed::yes(new))
}

/// A divisor that is NULL where it is zero, so the quotient is NULL, as in Doris.
fn nonzero(divisor: Expr) -> Expr {
    match &divisor {
        Expr::Literal(v, _) if !is_zero(v) => divisor,
        _ => datafusion::functions::core::expr_fn::nullif(divisor, lit(0i8)),
    }
}

fn is_zero(v: &ScalarValue) -> bool {
    v.is_null() || v == &ScalarValue::new_zero(&v.data_type()).unwrap_or(ScalarValue::Null)
}

/// Aggregates in Doris's result types. SUM of an integer column is exact: the
/// Aggregate sums it as DECIMAL(38, 0) (LARGEINT as DataFusion's wider
/// Decimal256), and a Projection above gives it back as BIGINT (LARGEINT),
/// with a checked cast, under the same name. SUM and AVG of a DECIMAL are
/// cast there to Doris's precision and scale (rounded half up).
fn aggregate_types(node: LogicalPlan) -> Result<LogicalPlan> {
    let LogicalPlan::Aggregate(agg) = &node else {
        return Ok(node);
    };
    let input = agg.input.schema();
    let mut back: Vec<Option<DataType>> = Vec::with_capacity(agg.aggr_expr.len());
    let mut aggr_expr = Vec::with_capacity(agg.aggr_expr.len());
    for e in &agg.aggr_expr {
        let inner = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        let widened = match inner {
            Expr::AggregateFunction(f) if f.params.args.len() == 1 => {
                let arg = &f.params.args[0];
                match (f.func.name(), width(arg, input), arg.get_type(input).ok()) {
                    ("sum", Some(w), _) => {
                        let (sum_as, result) = match w {
                            16 => (LARGEINT_ARROW, LARGEINT_ARROW),
                            _ => (DataType::Decimal128(38, 0), DataType::Int64),
                        };
                        let mut f = f.clone();
                        f.params.args = vec![cast(arg.clone(), sum_as)];
                        Some((
                            Expr::AggregateFunction(f).alias(e.schema_name().to_string()),
                            result,
                        ))
                    }
                    // Doris: SUM(DECIMAL(p, s)) is DECIMAL(38, s), AVG is
                    // DECIMAL(38, max(s, 4)) (docs: sql-data-types/numeric/DECIMAL).
                    ("sum", None, Some(DataType::Decimal128(_, s))) => {
                        Some((e.clone(), DataType::Decimal128(38, s)))
                    }
                    ("avg", None, Some(DataType::Decimal128(_, s))) => {
                        Some((e.clone(), DataType::Decimal128(38, s.max(4))))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        back.push(widened.as_ref().map(|(_, t)| t.clone()));
        aggr_expr.push(widened.map_or_else(|| e.clone(), |(e, _)| e));
    }
    if back.iter().all(Option::is_none) {
        return Ok(node);
    }
    let summed = Aggregate::try_new(Arc::clone(&agg.input), agg.group_expr.clone(), aggr_expr)?;
    let first = summed.schema.fields().len() - back.len();
    let exprs = summed
        .schema
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let column = Expr::Column(Column::from((qualifier, field)));
            match back.get(i.wrapping_sub(first)).cloned().flatten() {
                None => column,
                Some(t) if t == LARGEINT_ARROW => {
                    to_largeint(column).alias_qualified(qualifier.cloned(), field.name())
                }
                Some(t) => cast(column, t).alias_qualified(qualifier.cloned(), field.name()),
            }
        })
        .collect();
    Ok(LogicalPlan::Projection(Projection::try_new(
        exprs,
        Arc::new(LogicalPlan::Aggregate(summed)),
    )?))
}
