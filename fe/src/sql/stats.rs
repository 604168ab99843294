//! Column statistics, as Doris collects and shows them: `ANALYZE TABLE` /
//! `ANALYZE DATABASE`, `SHOW COLUMN STATS` and `DROP STATS`. The planner
//! reads them (`planner::provider`) to estimate joins and filters.
//!
//! Collection is one query over the table through the ordinary query path:
//! per column a HyperLogLog distinct count, the null count, the range and
//! the size of the values.

use super::ast::{AnalyzeTarget, ObjectName, Statement};
use super::ddl::resolve;
use super::show::Out;
use crate::rows::{i, opt, s, text_cols, typed_cols};
use crate::session::{QueryResult, Session};
use basalt_catalog::{ColumnStats, EditLogEntry};
use basalt_common::schema::Column;
use basalt_common::types::DorisType;
use basalt_common::{now_ms, Error, Result};
use datafusion::common::ScalarValue;

pub async fn execute(session: &mut Session, stmt: Statement) -> Result<QueryResult> {
    match stmt {
        Statement::Analyze { target, sync } => {
            let (db, tables) = match target {
                AnalyzeTarget::Table(table, columns) => {
                    let (db, name) = resolve(session, &table)?;
                    (db, vec![(name, columns)])
                }
                AnalyzeTarget::Database(db) => {
                    let db = session.db_or_current(Some(&db))?;
                    let state = session.fe.catalog.read();
                    let names = state.db(&db)?.tables.keys().cloned();
                    (db.clone(), names.map(|n| (n, Vec::new())).collect())
                }
            };
            let mut analyzed = Vec::new();
            for (table, columns) in tables {
                analyzed.extend(analyze(session, &db, &table, &columns).await?);
            }
            if sync {
                return Ok(QueryResult::ok());
            }
            // Doris answers an asynchronous ANALYZE with its job; here the
            // job has already run when the answer comes.
            let job = session.fe.catalog.alloc_ids(1);
            let cols = typed_cols(&["Job_Id", "Catalog_Name", "DB_Name", "Columns"], &[0]);
            let row = vec![
                i(job as i64),
                s("internal"),
                s(db),
                s(format!("[{}]", analyzed.join(","))),
            ];
            let (schema, batch) = crate::rows::build(&cols, vec![row])?;
            Ok(QueryResult::Rows {
                schema,
                batches: vec![batch],
            })
        }
        Statement::DropStats { table, columns } => {
            let (db, name) = resolve(session, &table)?;
            let t = session.fe.catalog.read().table(&db, &name)?.clone();
            let mut stats = t.column_stats.clone();
            match columns.is_empty() {
                true => stats.clear(),
                false => {
                    for c in &columns {
                        stats.remove(&t.visible_column(c)?.name);
                    }
                }
            }
            session.fe.catalog.log(EditLogEntry::SetColumnStats {
                db,
                table: name,
                stats,
            })?;
            Ok(QueryResult::ok())
        }
        _ => Err(Error::internal("not a statistics statement")),
    }
}

/// Collects the statistics of `columns` (all visible ones if empty) of
/// `db.table` and records them; returns the names of the columns collected.
async fn analyze(
    session: &Session,
    db: &str,
    table: &str,
    columns: &[String],
) -> Result<Vec<String>> {
    let t = session.fe.catalog.read().table(db, table)?.clone();
    let cols: Vec<Column> = match columns.is_empty() {
        true => t
            .schema
            .columns
            .iter()
            .filter(|c| !c.is_hidden())
            .cloned()
            .collect(),
        false => columns
            .iter()
            .map(|c| t.visible_column(c).cloned())
            .collect::<Result<_>>()?,
    };
    let mut select = vec!["COUNT(*)".to_string()];
    for c in &cols {
        select.extend(stat_exprs(c));
    }
    let sql = format!("SELECT {} FROM `{db}`.`{table}`", select.join(", "));
    let row = single_row(session, &sql).await?;
    let mut values = row.into_iter();
    let count = as_u64(values.next());
    let mut stats = t.column_stats.clone();
    let now = now_ms();
    for c in &cols {
        let non_null = as_u64(values.next());
        let (ndv, min, max) = match c.data_type.has_order() {
            true => {
                let ndv = as_u64(values.next());
                (ndv, as_text(values.next()), as_text(values.next()))
            }
            false => (0, None, None),
        };
        let data_size = match (c.data_type.fixed_width(), c.data_type.has_order()) {
            (Some(w), _) => non_null * w as u64,
            (None, true) => as_u64(values.next()),
            // Sketches: no size is collected.
            (None, false) => 0,
        };
        stats.insert(
            c.name.clone(),
            ColumnStats {
                count,
                ndv,
                num_null: count.saturating_sub(non_null),
                data_size,
                min,
                max,
                updated_time: now,
            },
        );
    }
    session.fe.catalog.log(EditLogEntry::SetColumnStats {
        db: db.to_string(),
        table: table.to_string(),
        stats,
    })?;
    Ok(cols.into_iter().map(|c| c.name).collect())
}

/// The aggregates that collect one column's statistics, in the order
/// `analyze` reads them: the non-null count; for a type with an order the
/// distinct count, minimum and maximum; for a variable-width type the total
/// length (a fixed width's is its count times the width).
fn stat_exprs(c: &Column) -> Vec<String> {
    let col = format!("`{}`", c.name.replace('`', "``"));
    let mut out = vec![format!("COUNT({col})")];
    if !c.data_type.has_order() {
        return out;
    }
    // approx_distinct hashes integers, dates and strings; other types go as text.
    let hashed = match c.data_type {
        DorisType::Boolean
        | DorisType::Float
        | DorisType::Double
        | DorisType::Decimal { .. }
        | DorisType::LargeInt => format!("CAST({col} AS VARCHAR)"),
        _ => col.clone(),
    };
    out.push(format!("approx_distinct({hashed})"));
    out.push(format!("CAST(MIN({col}) AS VARCHAR)"));
    out.push(format!("CAST(MAX({col}) AS VARCHAR)"));
    if c.data_type.fixed_width().is_none() {
        out.push(format!("SUM(octet_length({col}))"));
    }
    out
}

async fn single_row(session: &Session, sql: &str) -> Result<Vec<ScalarValue>> {
    let Some(Statement::Query(q)) = session.parse(sql)?.into_iter().next() else {
        return Err(Error::internal("statistics query did not parse"));
    };
    let QueryResult::Rows { batches, .. } = super::query(session, *q).await? else {
        return Err(Error::internal("statistics query returned no rows"));
    };
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| Error::internal("statistics query returned no rows"))?;
    batch
        .columns()
        .iter()
        .map(|a| Ok(ScalarValue::try_from_array(a, 0)?))
        .collect()
}

fn as_u64(v: Option<ScalarValue>) -> u64 {
    match v {
        Some(v) if !v.is_null() => v.to_string().parse().unwrap_or(0),
        _ => 0,
    }
}

fn as_text(v: Option<ScalarValue>) -> Option<String> {
    match v {
        Some(ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s)) => s,
        _ => None,
    }
}

/// `SHOW COLUMN STATS t [(c, ...)]`: Doris's columns, one row per column
/// with statistics.
pub fn show(session: &Session, table: &ObjectName, columns: &[String]) -> Result<Out> {
    let (db, name) = resolve(session, table)?;
    let t = session.fe.catalog.read().table(&db, &name)?.clone();
    for c in columns {
        t.visible_column(c)?;
    }
    let cols = text_cols(&[
        "column_name",
        "index_name",
        "count",
        "ndv",
        "num_null",
        "data_size",
        "avg_size_byte",
        "min",
        "max",
        "method",
        "type",
        "trigger",
        "query_times",
        "updated_time",
    ]);
    // Doris shows the counts as doubles.
    let num = |v: f64| s(format!("{v:.1}"));
    let rows = t
        .schema
        .columns
        .iter()
        .filter(|c| columns.is_empty() || columns.iter().any(|n| n.eq_ignore_ascii_case(&c.name)))
        .filter_map(|c| Some((c, t.column_stats.get(&c.name)?)))
        .map(|(c, st)| {
            let non_null = st.count.saturating_sub(st.num_null).max(1);
            vec![
                s(c.name.clone()),
                s(name.clone()),
                num(st.count as f64),
                num(st.ndv as f64),
                num(st.num_null as f64),
                num(st.data_size as f64),
                num(st.data_size as f64 / non_null as f64),
                opt(st.min.clone()),
                opt(st.max.clone()),
                s("FULL"),
                s("FUNDAMENTALS"),
                s("MANUAL"),
                s("0"),
                s(super::show::format_time(st.updated_time)),
            ]
        })
        .collect();
    Ok((cols, rows, super::ast::Filter::None))
}
