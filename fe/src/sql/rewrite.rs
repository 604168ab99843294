//! MySQL and Doris spellings that DataFusion does not know, rewritten on the
//! AST before planning: `IFNULL`, `IF`, `YEAR(...)`, `DATE_ADD`, `DATE_FORMAT`, ...
//! Rewriting keeps these as plain SQL over DataFusion's own functions instead of
//! re-implementing them as UDFs.

use datafusion::sql::sqlparser::ast::{
    self as sql, BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, ObjectName, SelectItem, SetExpr, TimezoneInfo, Value,
};
use std::ops::ControlFlow;

/// The names MySQL gives unaliased result columns: the expression as written.
/// `None` for a column the query does not spell out (`*`).
pub fn column_names(stmt: &sql::Statement) -> Option<Vec<String>> {
    let sql::Statement::Query(q) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(id.value.clone()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(ids)) => {
                ids.last().map(|i| i.value.clone())
            }
            SelectItem::UnnamedExpr(e) => Some(e.to_string()),
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        })
        .collect()
}

pub fn rewrite(stmt: &mut sql::Statement) {
    let _ = sql::visit_expressions_mut(stmt, |e| {
        exponent_literal(e);
        rewrite_expr(e);
        ControlFlow::<()>::Continue(())
    });
    alias_repeated_columns(stmt);
}

/// A decimal literal is a DECIMAL of its own digits (the planner's
/// `parse_float_as_decimal`), but one with an exponent is a DOUBLE, as Doris
/// types it: DataFusion would give `1e3` a negative scale, or fail on `1e300`.
fn exponent_literal(e: &mut Expr) {
    if let Expr::Value(v) = e {
        if let Value::Number(n, _) = &v.value {
            if n.contains(['e', 'E']) {
                *e = cast(string(n), DataType::Double(sql::ExactNumberInfo::None));
            }
        }
    }
}

/// MySQL allows a SELECT list to repeat an expression (`SELECT 30, 1.5, 30`,
/// common in INSERT ... SELECT); DataFusion needs unique names. A repeat gets
/// an alias of its own; clients still see the names of [`column_names`],
/// taken before the rewrite.
fn alias_repeated_columns(stmt: &mut sql::Statement) {
    let sql::Statement::Query(q) = stmt else {
        return;
    };
    let SetExpr::Select(select) = q.body.as_mut() else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for (i, item) in select.projection.iter_mut().enumerate() {
        let SelectItem::UnnamedExpr(e) = item else {
            continue;
        };
        if seen.insert(e.to_string())
            || matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        {
            continue;
        }
        *item = SelectItem::ExprWithAlias {
            expr: e.clone(),
            alias: Ident::new(format!("__column_{i}")),
        };
    }
}

fn func(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(sql::Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(sql::FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn string(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.into()))
}

fn cast(e: Expr, data_type: DataType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(e),
        data_type,
        array: false,
        format: None,
    }
}

/// A string literal used as a date becomes a DATETIME, as in MySQL.
fn as_datetime(e: Expr) -> Expr {
    match e {
        Expr::Value(ref v)
            if matches!(
                v.value,
                Value::SingleQuotedString(_) | Value::DoubleQuotedString(_)
            ) =>
        {
            cast(e, DataType::Timestamp(None, TimezoneInfo::None))
        }
        other => other,
    }
}

fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::Nested(Box::new(Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }))
}

/// `INTERVAL n DAY` for a bare number of days.
fn days(e: Expr) -> Expr {
    match e {
        Expr::Interval(_) => e,
        other => Expr::Interval(sql::Interval {
            value: Box::new(other),
            leading_field: Some(sql::DateTimeField::Day),
            leading_precision: None,
            last_field: None,
            fractional_seconds_precision: None,
        }),
    }
}

/// MySQL's DATE_FORMAT specifiers in chrono's spelling.
fn chrono_format(mysql: &str) -> String {
    let mut out = String::new();
    let mut chars = mysql.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = match chars.next() {
            Some('i') => "%M",
            Some('s') | Some('S') => "%S",
            Some('c') => "%-m",
            Some('e') => "%-d",
            Some('h') => "%I",
            Some('f') => "%6f",
            Some('W') => "%A",
            Some('M') => "%B",
            Some('T') => "%H:%M:%S",
            Some('k') => "%-H",
            Some('l') => "%-I",
            Some('r') => "%I:%M:%S %p",
            Some(other) => {
                out.push('%');
                out.push(other);
                continue;
            }
            None => "%",
        };
        out.push_str(spec);
    }
    out
}

fn rewrite_expr(e: &mut Expr) {
    // `a DIV b` (Doris takes both sides as BIGINT): `int_div`, in common::doris_udfs.
    if let Expr::BinaryOp {
        left,
        op: BinaryOperator::MyIntegerDivide,
        right,
    } = e
    {
        let big = |x: &mut Box<Expr>| {
            cast(
                std::mem::replace(x.as_mut(), Expr::value(Value::Null)),
                DataType::BigInt(None),
            )
        };
        *e = func("int_div", vec![big(left), big(right)]);
        return;
    }
    // `CEIL(x)` and `FLOOR(x)` parse as expressions of their own, not calls.
    let name = match e {
        Expr::Ceil { .. } => "ceil",
        Expr::Floor { .. } => "floor",
        _ => "",
    };
    if let Expr::Ceil { expr, field } | Expr::Floor { expr, field } = e {
        if matches!(
            field,
            sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime)
        ) {
            let x = std::mem::replace(expr.as_mut(), Expr::value(Value::Null));
            *e = cast(func(name, vec![x]), DataType::BigInt(None));
        }
        return;
    }
    let Expr::Function(f) = e else { return };
    if f.over.is_some() {
        return;
    }
    let name = f.name.to_string().to_ascii_lowercase();
    let FunctionArguments::List(list) = &f.args else {
        if matches!(name.as_str(), "curdate" | "current_date") {
            *e = func("current_date", vec![]);
        }
        return;
    };
    let args: Vec<Expr> = list
        .args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Some(x.clone()),
            _ => None,
        })
        .collect();
    if args.len() != list.args.len() {
        return;
    }
    let part = |p: &str, x: Expr| func("date_part", vec![string(p), as_datetime(x)]);
    let new = match (name.as_str(), args.as_slice()) {
        ("ifnull" | "nvl", [a, b]) => func("coalesce", vec![a.clone(), b.clone()]),
        ("if", [c, a, b]) => Expr::Case {
            case_token: sql::helpers::attached_token::AttachedToken::empty(),
            end_token: sql::helpers::attached_token::AttachedToken::empty(),
            operand: None,
            conditions: vec![sql::CaseWhen {
                condition: c.clone(),
                result: a.clone(),
            }],
            else_result: Some(Box::new(b.clone())),
        },
        ("year" | "month" | "day" | "hour" | "minute" | "second" | "quarter" | "week", [x]) => {
            part(&name, x.clone())
        }
        ("dayofmonth", [x]) => part("day", x.clone()),
        ("dayofyear", [x]) => part("doy", x.clone()),
        ("dayofweek", [x]) => binary(
            part("dow", x.clone()),
            BinaryOperator::Plus,
            Expr::value(Value::Number("1".into(), false)),
        ),
        ("date_add" | "adddate" | "days_add", [d, n]) => binary(
            as_datetime(d.clone()),
            BinaryOperator::Plus,
            days(n.clone()),
        ),
        ("date_sub" | "subdate" | "days_sub", [d, n]) => binary(
            as_datetime(d.clone()),
            BinaryOperator::Minus,
            days(n.clone()),
        ),
        ("datediff", [a, b]) => {
            let unix = |x: &Expr| {
                func(
                    "to_unixtime",
                    vec![cast(as_datetime(x.clone()), DataType::Date)],
                )
            };
            binary(
                binary(unix(a), BinaryOperator::Minus, unix(b)),
                BinaryOperator::Divide,
                Expr::value(Value::Number("86400".into(), false)),
            )
        }
        ("date_format", [d, Expr::Value(v)]) => match &v.value {
            Value::SingleQuotedString(fmt) | Value::DoubleQuotedString(fmt) => func(
                "to_char",
                vec![as_datetime(d.clone()), string(&chrono_format(fmt))],
            ),
            _ => return,
        },
        ("curdate", []) => func("current_date", vec![]),
        ("unix_timestamp", []) => func("to_unixtime", vec![func("now", vec![])]),
        ("unix_timestamp", [x]) => func("to_unixtime", vec![as_datetime(x.clone())]),
        ("lcase", [x]) => func("lower", vec![x.clone()]),
        ("ucase", [x]) => func("upper", vec![x.clone()]),
        ("instr", [s, sub]) => func("strpos", vec![s.clone(), sub.clone()]),
        ("locate", [sub, s]) => func("strpos", vec![s.clone(), sub.clone()]),
        ("mid", _) => func("substr", args.clone()),
        ("truncate", [x, d]) => func("trunc", vec![x.clone(), d.clone()]),
        // Doris's CEIL and FLOOR return BIGINT.
        ("ceil" | "ceiling", [x]) => cast(func("ceil", vec![x.clone()]), DataType::BigInt(None)),
        ("floor", [x]) => cast(func("floor", vec![x.clone()]), DataType::BigInt(None)),
        ("pow", _) => func("power", args.clone()),
        ("rand", []) => func("random", vec![]),
        // MySQL's LENGTH counts bytes.
        ("length", [x]) => func("octet_length", vec![x.clone()]),
        _ => return,
    };
    *e = new;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_date_format_maps_to_chrono() {
        assert_eq!(chrono_format("%Y-%m-%d %H:%i:%s"), "%Y-%m-%d %H:%M:%S");
    }

    fn rewritten(sql: &str) -> String {
        use datafusion::sql::sqlparser::{dialect::MySqlDialect, parser::Parser};
        let mut stmt = Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0);
        rewrite(&mut stmt);
        stmt.to_string()
    }

    #[test]
    fn exponent_literals_are_doubles_and_repeats_get_aliases() {
        assert_eq!(
            rewritten("SELECT 1.5e3, 2.5, 30, 30, a, a, CEIL(2.5), 7 DIV b FROM t"),
            "SELECT CAST('1.5e3' AS DOUBLE), 2.5, 30, 30 AS __column_3, a, a, \
             CAST(ceil(2.5) AS BIGINT), int_div(CAST(7 AS BIGINT), CAST(b AS BIGINT)) FROM t"
        );
    }
}
