//! INSERT INTO ... VALUES / SELECT: the rows are shaped to the table (casts,
//! defaults, Doris's strict checks) and written by one load transaction.

use super::ast::Insert;
use super::ddl::resolve;
use crate::session::{QueryResult, Session};
use basalt_catalog::OlapTable;
use basalt_common::schema::{mark_partial, SEQUENCE_COL};
use basalt_common::types::DorisType;
use basalt_common::{Error, ErrorKind, Result};
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, StringArray,
};
use datafusion::arrow::compute::{cast_with_options, concat_batches, filter, CastOptions};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::sql::sqlparser::ast as sql;
use std::sync::Arc;

pub async fn execute(session: &mut Session, insert: Insert) -> Result<QueryResult> {
    let fe = Arc::clone(&session.fe);
    let (db, table_name) = resolve(session, &insert.table)?;
    let table = fe.catalog.read().table(&db, &table_name)?.clone();
    // Doris group-commits INSERT ... VALUES without a label; other INSERTs
    // run as loads of their own.
    let group_commit = match session.var_text("group_commit").as_str() {
        "sync_mode" => Some(true),
        "async_mode" => Some(false),
        _ => None,
    }
    .filter(|_| insert.label.is_none() && matches!(*insert.source.body, sql::SetExpr::Values(_)))
    .filter(|_| !session.var_flag("enable_unique_key_partial_update"));
    let mut source = insert.source;
    if let sql::SetExpr::Values(values) = source.body.as_mut() {
        numbers_as_text(&table, &target_columns(&table, &insert.columns)?, values);
    }
    let source = super::query(session, sql::Statement::Query(source)).await?;
    let QueryResult::Rows { schema, batches } = source else {
        return Err(Error::internal("INSERT source returned no rows"));
    };
    let rows = concat_batches(&schema, &batches).map_err(|e| Error::internal(e.to_string()))?;
    let batch = shape_rows(session, &table, &insert.columns, rows)?;
    let batch = match partial_update(session, &table, &insert.columns)? {
        Some(given) => mark_partial(&batch, &given),
        None => batch,
    };
    if insert.overwrite {
        return super::dml::overwrite(&fe, &db, &table, &insert.partitions, batch).await;
    }
    if !insert.partitions.is_empty() {
        // Every row must fall in the named partitions.
        let mut only = table.clone();
        only.partitions
            .retain(|p| insert.partitions.contains(&p.name));
        if only.partitions.len() != insert.partitions.len() {
            return Err(Error::invalid(format!(
                "Unknown partition in {:?} of table '{}'",
                insert.partitions, table.name
            )));
        }
        crate::load::partitioned(&fe, &only, &batch)?;
    }
    let label = insert
        .label
        .unwrap_or_else(|| format!("insert_{:016x}", rand::random::<u64>()));
    if batch.num_rows() == 0 {
        return Ok(QueryResult::Ok {
            affected_rows: 0,
            info: String::new(),
        });
    }
    if let Some(sync) = group_commit {
        let (label, txn_id) = crate::load::group_commit(&fe, &db, &table, &batch, sync).await?;
        // As Doris answers: PREPARE until the group commits.
        let status = if sync { "VISIBLE" } else { "PREPARE" };
        let txn_id = txn_id.map(|t| t.to_string()).unwrap_or_default();
        return Ok(QueryResult::Ok {
            affected_rows: batch.num_rows() as u64,
            info: format!("{{'label':'{label}', 'status':'{status}', 'txnId':'{txn_id}'}}"),
        });
    }
    let (txn_id, status) = crate::load::load(&fe, &db, &table, &label, batch.clone()).await?;
    Ok(QueryResult::Ok {
        affected_rows: batch.num_rows() as u64,
        info: format!("{{'label':'{label}', 'status':'{status}', 'txnId':'{txn_id}'}}"),
    })
}

/// With `enable_unique_key_partial_update` and a column list, an INSERT into
/// a UNIQUE table updates only the listed columns: which those are.
fn partial_update(
    session: &Session,
    table: &OlapTable,
    names: &[String],
) -> Result<Option<Vec<usize>>> {
    if !session.var_flag("enable_unique_key_partial_update")
        || names.is_empty()
        || table.schema.keys_type != basalt_common::schema::KeysType::UniqueKeys
    {
        return Ok(None);
    }
    if !table.schema.merge_on_write {
        return Err(Error::invalid(
            "Partial update is only allowed on unique table with merge-on-write enabled.",
        ));
    }
    let mut given: Vec<usize> = names
        .iter()
        .filter_map(|n| table.schema.index_of(n))
        .collect();
    given.sort_unstable();
    if let Some(k) = (0..table.schema.num_key_columns()).find(|k| !given.contains(k)) {
        return Err(Error::invalid(format!(
            "Partial update should include all key columns, missing: {}",
            table.schema.columns[k].name
        )));
    }
    Ok(Some(given))
}

/// MySQL's code for a value changed to fit its column (`Data truncated`).
const DATA_TRUNCATED: u16 = 1265;

/// The table columns an INSERT's values go to, in order.
fn target_columns(table: &OlapTable, names: &[String]) -> Result<Vec<usize>> {
    if names.is_empty() {
        return Ok((0..table.schema.num_visible_columns()).collect());
    }
    names
        .iter()
        .map(|n| {
            table
                .schema
                .index_of(n)
                .ok_or_else(|| basalt_catalog::unknown_column(&table.name, n))
        })
        .collect()
}

/// A number written in VALUES for a DECIMAL, LARGEINT, FLOAT or DOUBLE column,
/// or beside a quoted value in its column, arrives as the text the user
/// typed, and [`shape_rows`] converts that text to the column's type as Stream
/// Load converts a CSV field: exactly, rounded half up to the column's scale.
/// Planned as a literal, the number would be unified with the other rows'
/// values first (a DOUBLE, for `1.5` beside a quoted decimal) and lose digits.
fn numbers_as_text(table: &OlapTable, targets: &[usize], values: &mut sql::Values) {
    let quoted = |j: usize| {
        values.rows.iter().any(|row| {
            matches!(row.get(j), Some(sql::Expr::Value(v))
                if matches!(v.value, sql::Value::SingleQuotedString(_) | sql::Value::DoubleQuotedString(_)))
        })
    };
    let as_text: Vec<bool> = targets
        .iter()
        .enumerate()
        .map(|(j, t)| {
            matches!(
                table.schema.columns[*t].data_type,
                DorisType::Decimal { .. }
                    | DorisType::LargeInt
                    | DorisType::Float
                    | DorisType::Double
            ) || quoted(j)
        })
        .collect();
    for row in &mut values.rows {
        for (value, _) in row.iter_mut().zip(&as_text).filter(|(_, t)| **t) {
            if let Some(text) = number_text(value) {
                *value = sql::Expr::value(sql::Value::SingleQuotedString(text));
            }
        }
    }
}

/// The text of a numeric literal, signed or not.
fn number_text(e: &sql::Expr) -> Option<String> {
    match e {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::Number(n, _) => Some(n.clone()),
            _ => None,
        },
        sql::Expr::UnaryOp { op, expr } => {
            let sign = match op {
                sql::UnaryOperator::Minus => "-",
                sql::UnaryOperator::Plus => "",
                _ => return None,
            };
            number_text(expr)
                .filter(|n| !n.starts_with('-'))
                .map(|n| format!("{sign}{n}"))
        }
        _ => None,
    }
}

/// Casts the source rows to the table's columns, filling unnamed columns with
/// their defaults, and enforces NOT NULL and string lengths, as the session's
/// `enable_insert_strict` has it:
/// - strict: a value that does not convert to its column (not a number, out
///   of range), a NULL for a NOT NULL column or a string too long fails the
///   statement;
/// - not strict: a value that does not convert is NULL, and a row that then
///   breaks NOT NULL or a length is left out. Each such row is one of the
///   statement's warnings (SHOW WARNINGS).
pub(crate) fn shape_rows(
    session: &mut Session,
    table: &OlapTable,
    names: &[String],
    rows: RecordBatch,
) -> Result<RecordBatch> {
    let strict = session.var_flag("enable_insert_strict");
    let (batch, warnings) = shape(table, names, rows, strict)?;
    session.warnings.extend(
        warnings
            .into_iter()
            .map(|w| ("Warning".into(), DATA_TRUNCATED, w)),
    );
    Ok(batch)
}

/// [`shape_rows`] in a given mode: the rows, and the warning of each row
/// changed or left out.
fn shape(
    table: &OlapTable,
    names: &[String],
    rows: RecordBatch,
    strict: bool,
) -> Result<(RecordBatch, Vec<String>)> {
    let columns = &table.schema.columns;
    let targets = target_columns(table, names)?;
    let sequence_given = table.schema.sequence_col.is_some()
        || targets.iter().any(|t| columns[*t].name == SEQUENCE_COL);
    if table.schema.sequence().is_some() && !sequence_given {
        return Err(Error::invalid(format!(
            "Table {} has sequence column, need to specify the sequence column",
            table.name
        )));
    }
    if targets.len() != rows.num_columns() {
        return Err(Error::new(
            ErrorKind::ColumnCountMismatch,
            "Column count doesn't match value count",
        ));
    }
    let n = rows.num_rows();
    let exact = CastOptions {
        safe: false,
        ..Default::default()
    };
    // Why each row breaks its columns; the first reason is the one told.
    let mut broken: Vec<Option<String>> = vec![None; n];
    let mut keep = vec![true; n];
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let sequence = table
        .schema
        .sequence_col
        .as_deref()
        .and_then(|c| table.schema.index_of(c));
    for (idx, col) in columns.iter().enumerate() {
        let ty = col.data_type.to_arrow();
        let array = match targets.iter().position(|t| *t == idx) {
            Some(src) => {
                let from = rows.column(src);
                // Unconvertible values become NULL here and are found below.
                let to = col.data_type.convert(from).map_err(|e| {
                    Error::invalid(format!(
                        "Insert has filtered data in strict mode: column {}: {e}",
                        col.name
                    ))
                })?;
                // Logical nulls: a NullArray (a column of bare NULLs) has no null buffer.
                if to.null_count() > from.logical_null_count() {
                    let given = from.logical_nulls();
                    let given = |r: usize| given.as_ref().is_none_or(|n| n.is_valid(r));
                    for row in (0..n).filter(|r| given(*r) && to.is_null(*r)) {
                        let reason = format!(
                            "column {}: '{}' is not a valid {} (out of range or not a number)",
                            col.name,
                            array_value_to_string(from, row).unwrap_or_default(),
                            col.data_type
                        );
                        if strict {
                            return Err(filtered(&reason));
                        }
                        broken[row].get_or_insert(reason);
                    }
                }
                to
            }
            // The sequence column follows `function_column.sequence_col`.
            None if col.name == SEQUENCE_COL && sequence.is_some() => {
                Arc::clone(&arrays[sequence.unwrap_or_default()])
            }
            None => match col.default_value.as_deref() {
                None | Some("NULL") if col.nullable => new_null_array(&ty, n),
                None | Some("NULL") => {
                    return Err(Error::invalid(format!(
                        "Column has no default value, column={}",
                        col.name
                    )))
                }
                Some("CURRENT_TIMESTAMP") => {
                    let now = chrono::Utc::now()
                        .naive_utc()
                        .format("%Y-%m-%d %H:%M:%S%.6f")
                        .to_string();
                    cast_with_options(&StringArray::from(vec![now; n]), &ty, &exact)
                        .map_err(|e| Error::internal(e.to_string()))?
                }
                Some(d) => cast_with_options(&StringArray::from(vec![d; n]), &ty, &exact)
                    .map_err(|e| Error::invalid(format!("bad default of {}: {e}", col.name)))?,
            },
        };
        if !col.nullable && array.null_count() > 0 {
            for row in (0..n).filter(|r| array.is_null(*r)) {
                let reason = format!("null value for not null column {}", col.name);
                if strict {
                    return Err(filtered(&reason));
                }
                keep[row] = false;
                broken[row].get_or_insert(reason);
            }
        }
        if let DorisType::Char { len } | DorisType::Varchar { len } = col.data_type {
            let strings = array.as_string::<i32>();
            for (row, v) in strings.iter().enumerate() {
                let Some(v) = v.filter(|v| v.len() > len as usize) else {
                    continue;
                };
                let reason = format!(
                    "the length of input string '{}' is too long than schema. column {}, length {len}",
                    v.chars().take(32).collect::<String>(),
                    col.name
                );
                if strict {
                    return Err(filtered(&reason));
                }
                keep[row] = false;
                broken[row].get_or_insert(reason);
            }
        }
        arrays.push(array);
    }
    // Left-out rows go before the batch is made: its schema allows no NULL
    // where they have one.
    if keep.iter().any(|k| !k) {
        let keep = BooleanArray::from(keep);
        arrays = arrays
            .iter()
            .map(|a| filter(a, &keep))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::internal(e.to_string()))?;
    }
    let batch = RecordBatch::try_new(table.schema.arrow_schema(), arrays)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok((batch, broken.into_iter().flatten().collect()))
}

/// Doris's error for a row that strict mode filters.
fn filtered(reason: &str) -> Error {
    Error::invalid(format!("Insert has filtered data in strict mode: {reason}"))
}
