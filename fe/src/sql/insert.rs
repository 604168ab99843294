//! INSERT INTO ... VALUES / SELECT: the rows are shaped to the table (casts,
//! defaults, Doris's strict checks) and written by one load transaction.

use super::ast::Insert;
use super::ddl::resolve;
use crate::session::{QueryResult, Session};
use basalt_catalog::OlapTable;
use basalt_common::schema::{mark_partial, SEQUENCE_COL};
use basalt_common::{Error, ErrorKind, Result};
use datafusion::arrow::array::{new_null_array, Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::{cast_with_options, concat_batches, CastOptions};
use datafusion::arrow::record_batch::RecordBatch;
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
    let source = super::query(session, sql::Statement::Query(insert.source)).await?;
    let QueryResult::Rows { schema, batches } = source else {
        return Err(Error::internal("INSERT source returned no rows"));
    };
    let rows = concat_batches(&schema, &batches).map_err(|e| Error::internal(e.to_string()))?;
    let batch = shape_rows(&table, &insert.columns, rows)?;
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

/// Casts the source rows to the table's columns, filling unnamed columns with
/// their defaults, and enforces NOT NULL and string lengths (Doris's strict insert).
pub(crate) fn shape_rows(
    table: &OlapTable,
    names: &[String],
    rows: RecordBatch,
) -> Result<RecordBatch> {
    let columns = &table.schema.columns;
    let targets: Vec<usize> = if names.is_empty() {
        (0..table.schema.num_visible_columns()).collect()
    } else {
        names
            .iter()
            .map(|n| {
                columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(n))
                    .ok_or_else(|| basalt_catalog::unknown_column(&table.name, n))
            })
            .collect::<Result<_>>()?
    };
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
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    let sequence = table
        .schema
        .sequence_col
        .as_deref()
        .and_then(|c| table.schema.index_of(c));
    for (idx, col) in columns.iter().enumerate() {
        let ty = col.data_type.to_arrow();
        let array = match targets.iter().position(|t| *t == idx) {
            Some(src) => cast_with_options(rows.column(src), &ty, &strict).map_err(|e| {
                Error::invalid(format!(
                    "Insert has filtered data in strict mode: column {}: {e}",
                    col.name
                ))
            })?,
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
                    cast_with_options(&StringArray::from(vec![now; n]), &ty, &strict)
                        .map_err(|e| Error::internal(e.to_string()))?
                }
                Some(d) => cast_with_options(&StringArray::from(vec![d; n]), &ty, &strict)
                    .map_err(|e| Error::invalid(format!("bad default of {}: {e}", col.name)))?,
            },
        };
        if !col.nullable && array.null_count() > 0 {
            return Err(Error::invalid(format!(
                "Insert has filtered data in strict mode: null value for not null column {}",
                col.name
            )));
        }
        if let basalt_common::types::DorisType::Char { len }
        | basalt_common::types::DorisType::Varchar { len } = col.data_type
        {
            let strings = array.as_string::<i32>();
            if let Some(v) = strings.iter().flatten().find(|v| v.len() > len as usize) {
                return Err(Error::invalid(format!(
                    "Insert has filtered data in strict mode: the length of input string '{}' is too long than schema. column {}, length {len}",
                    v.chars().take(32).collect::<String>(),
                    col.name
                )));
            }
        }
        arrays.push(array);
    }
    RecordBatch::try_new(table.schema.arrow_schema(), arrays)
        .map_err(|e| Error::internal(e.to_string()))
}
