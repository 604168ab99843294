//! DELETE, UPDATE and INSERT OVERWRITE. On a UNIQUE table, DELETE and
//! UPDATE are loads, as in Doris: the rows the statement selects come back
//! with the delete sign set (DELETE) or with new values (UPDATE), and the
//! key model does the rest. DELETE on DUPLICATE and AGGREGATE tables records
//! a delete predicate in every tablet of the partitions, as a load's rowset.
//! INSERT OVERWRITE writes fresh partitions and swaps them in one catalog step.

use super::ast::{Delete, Update};
use super::ddl::resolve;
use super::insert::shape_rows;
use crate::session::{QueryResult, Session};
use crate::variables::VarValue;
use crate::Frontend;
use basalt_catalog::{EditLogEntry, OlapTable, Partition};
use basalt_common::rpc::{ControlRequest, ControlResponse, PublishTablet};
use basalt_common::schema::{KeysType, DELETE_SIGN, SEQUENCE_COL};
use basalt_common::sink::ReplicaResults;
use basalt_common::tablet_writer::{TabletWriter, DEFAULT_WRITE_BUFFER_SIZE};
use basalt_common::types::DorisType;
use basalt_common::{Error, Result};
use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{self as sql, BinaryOperator, Expr, UnaryOperator};
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn delete(session: &mut Session, d: Delete) -> Result<QueryResult> {
    let fe = Arc::clone(&session.fe);
    let (db, name) = resolve(session, &d.table)?;
    let table = fe.catalog.read().table(&db, &name)?.clone();
    let partitions = chosen(&table, &d.partitions)?;
    if table.schema.keys_type == KeysType::UniqueKeys {
        let q = d.alias.clone().unwrap_or_else(|| name.clone());
        let mut columns = carried(&table);
        let mut projection: Vec<String> = columns.iter().map(|c| format!("`{q}`.`{c}`")).collect();
        projection.push("1".into());
        columns.push(DELETE_SIGN.into());
        let from = from_clause(&db, &name, d.alias.as_deref(), &d.using);
        let sql = format!(
            "SELECT {} FROM {from} WHERE {}",
            projection.join(", "),
            d.selection
        );
        return load_selected(session, &db, &table, &partitions, &columns, &sql, "delete").await;
    }
    if !d.using.is_empty() {
        return Err(Error::invalid(
            "delete command on with using clause only supports unique key model",
        ));
    }
    let predicate = delete_predicate(&table, &d.selection)?;
    let label = format!("delete_{:016x}", rand::random::<u64>());
    let (txn_id, status) =
        write_delete_predicate(&fe, &db, &table, &partitions, &label, predicate).await?;
    Ok(QueryResult::Ok {
        affected_rows: 0,
        info: format!("{{'label':'{label}', 'status':'{status}', 'txnId':'{txn_id}'}}"),
    })
}

pub async fn update(session: &mut Session, u: Update) -> Result<QueryResult> {
    let fe = Arc::clone(&session.fe);
    let (db, name) = resolve(session, &u.table)?;
    let table = fe.catalog.read().table(&db, &name)?.clone();
    if table.schema.keys_type != KeysType::UniqueKeys {
        return Err(Error::invalid("Only unique table could be updated."));
    }
    let mut assigned: BTreeMap<String, &Expr> = BTreeMap::new();
    for (column, value) in &u.assignments {
        let c = table.visible_column(column)?;
        if c.is_key {
            return Err(Error::invalid(
                "Only value columns of unique table could be updated",
            ));
        }
        assigned.insert(c.name.clone(), value);
    }
    let q = u.alias.clone().unwrap_or_else(|| name.clone());
    let columns = carried(&table);
    let projection: Vec<String> = columns
        .iter()
        .map(|c| match assigned.get(c) {
            Some(e) => format!("({e})"),
            None => format!("`{q}`.`{c}`"),
        })
        .collect();
    let from = from_clause(&db, &name, u.alias.as_deref(), &u.from);
    let filter = u
        .selection
        .map(|s| format!(" WHERE {s}"))
        .unwrap_or_default();
    let sql = format!("SELECT {} FROM {from}{filter}", projection.join(", "));
    let all = table
        .partitions
        .iter()
        .map(|p| p.name.clone())
        .collect::<Vec<_>>();
    load_selected(session, &db, &table, &all, &columns, &sql, "update").await
}

/// The columns a DELETE or UPDATE carries over from the selected rows: the
/// visible ones, and a sequence column of its own type (one that follows a
/// user column is filled from it).
fn carried(table: &OlapTable) -> Vec<String> {
    let s = &table.schema;
    let mut columns: Vec<String> = s.columns[..s.num_visible_columns()]
        .iter()
        .map(|c| c.name.clone())
        .collect();
    if s.sequence().is_some() && s.sequence_col.is_none() {
        columns.push(SEQUENCE_COL.into());
    }
    columns
}

fn from_clause(db: &str, name: &str, alias: Option<&str>, more: &[sql::TableWithJoins]) -> String {
    let mut from = format!("`{db}`.`{name}`");
    if let Some(a) = alias {
        from.push_str(&format!(" AS `{a}`"));
    }
    for t in more {
        from.push_str(&format!(", {t}"));
    }
    from
}

/// The partitions a statement names (all when none), checked.
fn chosen(table: &OlapTable, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(table.partitions.iter().map(|p| p.name.clone()).collect());
    }
    for n in names {
        if table.partition(n).is_none() {
            return Err(Error::invalid(format!(
                "Unknown partition '{n}' in table '{}'",
                table.name
            )));
        }
    }
    Ok(names.to_vec())
}

/// Runs `sql` with the hidden columns in view, and loads its rows (as
/// `columns`) into the table, keeping those of `partitions`.
async fn load_selected(
    session: &mut Session,
    db: &str,
    table: &OlapTable,
    partitions: &[String],
    columns: &[String],
    sql: &str,
    what: &str,
) -> Result<QueryResult> {
    let stmt = match session.parse(sql)?.pop() {
        Some(super::ast::Statement::Query(q)) => *q,
        _ => return Err(Error::internal(format!("not a query: {sql}"))),
    };
    let before = session
        .vars
        .insert("show_hidden_columns".into(), VarValue::Int(1));
    let selected = super::query(session, stmt).await;
    match before {
        Some(v) => session.vars.insert("show_hidden_columns".into(), v),
        None => session.vars.remove("show_hidden_columns"),
    };
    let QueryResult::Rows { schema, batches } = selected? else {
        return Err(Error::internal("the selection returned no rows"));
    };
    let rows = concat_batches(&schema, &batches).map_err(|e| Error::internal(e.to_string()))?;
    let batch = shape_rows(session, table, columns, rows)?;
    // Rows of other partitions stay as they are.
    let fe = Arc::clone(&session.fe);
    let mut only = table.clone();
    only.partitions.retain(|p| partitions.contains(&p.name));
    let of = crate::load::sink(&fe, &only).partition_of_rows(&batch)?;
    let keep: BooleanArray = of.iter().map(|p| Some(p.is_some())).collect();
    let batch = filter_record_batch(&batch, &keep).map_err(|e| Error::internal(e.to_string()))?;
    if batch.num_rows() == 0 {
        return Ok(QueryResult::Ok {
            affected_rows: 0,
            info: String::new(),
        });
    }
    let label = format!("{what}_{:016x}", rand::random::<u64>());
    let (txn_id, status) = crate::load::load(&fe, db, table, &label, batch.clone()).await?;
    Ok(QueryResult::Ok {
        affected_rows: batch.num_rows() as u64,
        info: format!("{{'label':'{label}', 'status':'{status}', 'txnId':'{txn_id}'}}"),
    })
}

/// A DELETE's WHERE as a delete predicate, with Doris's rules: conjuncts of
/// `column op value`, `column [NOT] IN (values)` and `column IS [NOT] NULL`;
/// on an AGGREGATE table only key columns; no FLOAT or DOUBLE columns.
fn delete_predicate(table: &OlapTable, expr: &Expr) -> Result<String> {
    let mut conjuncts = Vec::new();
    split_and(expr, &mut conjuncts);
    let parts: Vec<String> = conjuncts
        .into_iter()
        .map(|e| conjunct(table, e))
        .collect::<Result<_>>()?;
    Ok(parts.join(" AND "))
}

fn split_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner) => split_and(inner, out),
        other => out.push(other),
    }
}

fn conjunct(table: &OlapTable, e: &Expr) -> Result<String> {
    let unsupported = || {
        Error::invalid(format!(
            "Where clause only supports compound predicate, binary predicate, is_null predicate or in predicate. But we meet {e}"
        ))
    };
    match e {
        Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Eq => "=",
                BinaryOperator::NotEq => "!=",
                BinaryOperator::Gt => ">",
                BinaryOperator::Lt => "<",
                BinaryOperator::GtEq => ">=",
                BinaryOperator::LtEq => "<=",
                _ => return Err(unsupported()),
            };
            let column = column(table, left, e)?;
            let value = literal(right).ok_or_else(|| {
                Error::invalid(format!(
                    "Right expr of binary predicate should be value, predicate: {e}"
                ))
            })?;
            Ok(format!("{column} {op} {value}"))
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let column = column(table, expr, e)?;
            let values: Vec<String> = list
                .iter()
                .map(|v| {
                    literal(v).ok_or_else(|| {
                        Error::invalid(format!(
                            "Child of in predicate should be value, but get {v}"
                        ))
                    })
                })
                .collect::<Result<_>>()?;
            let not = if *negated { "NOT " } else { "" };
            Ok(format!("{column} {not}IN ({})", values.join(", ")))
        }
        Expr::IsNull(inner) => Ok(format!("{} IS NULL", column(table, inner, e)?)),
        Expr::IsNotNull(inner) => Ok(format!("{} IS NOT NULL", column(table, inner, e)?)),
        _ => Err(unsupported()),
    }
}

/// A column of the table, quoted for the backend's SQL.
fn column(table: &OlapTable, e: &Expr, predicate: &Expr) -> Result<String> {
    let name = match e {
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        _ => {
            return Err(Error::invalid(format!(
                "Left expr of binary predicate should be column name, predicate: {predicate}"
            )))
        }
    };
    let c = table.visible_column(&name)?;
    if matches!(c.data_type, DorisType::Float | DorisType::Double) {
        return Err(Error::invalid(format!(
            "Column[{}] type is float or double.",
            c.name
        )));
    }
    if table.schema.keys_type == KeysType::AggKeys && !c.is_key {
        return Err(Error::invalid(format!(
            "delete predicate on value column only supports Unique table with merge-on-write enabled and Duplicate table, but Table[{}] is an Aggregate table.",
            table.name
        )));
    }
    Ok(format!("\"{}\"", c.name.replace('"', "\"\"")))
}

/// A literal as the backend's SQL writes it, or `None` for anything else.
fn literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            sql::Value::Number(n, _) => Some(n.clone()),
            sql::Value::SingleQuotedString(s) | sql::Value::DoubleQuotedString(s) => {
                Some(format!("'{}'", s.replace('\'', "''")))
            }
            sql::Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => literal(expr)
            .filter(|n| !n.starts_with('\''))
            .map(|n| format!("-{n}")),
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

/// The delete predicate as a load: a rowset on every replica of every
/// tablet of the partitions, committed and published like rows.
async fn write_delete_predicate(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    partitions: &[String],
    label: &str,
    predicate: String,
) -> Result<(u64, basalt_catalog::TxnStatus)> {
    let source = crate::load::LoadSource::statement();
    let txn_id = crate::load::begin(fe, db, table, label, source)?;
    let addrs = fe.backend_addrs();
    let mut written = Vec::new();
    let mut calls = Vec::new();
    for p in table
        .partitions
        .iter()
        .filter(|p| partitions.contains(&p.name))
    {
        for tablet in &p.index.tablets {
            written.push((p.id, tablet.id));
            for r in &tablet.replicas {
                let (addr, predicate) = (addrs.get(&r.backend_id).cloned(), predicate.clone());
                let (tablet_id, backend) = (tablet.id, r.backend_id);
                calls.push(async move {
                    let request = ControlRequest::WriteDeletePredicate {
                        txn_id,
                        tablet_id,
                        predicate,
                    };
                    let result = match addr {
                        Some(addr) => fe.backends.rpc.call(&addr, &request).await.map(|_| ()),
                        None => Err(Error::backend(format!("backend {backend} is unknown"))),
                    };
                    ((tablet_id, backend), result)
                });
            }
        }
    }
    let results: ReplicaResults = futures::future::join_all(calls).await;
    let result = crate::load::commit(fe, db, table, txn_id, &written, &results).await;
    let status = crate::load::finish(fe, db, txn_id, result).await?;
    Ok((txn_id, status))
}

/// INSERT OVERWRITE: the rows go to fresh partitions (new tablets, published
/// at their first version), which then replace the named ones (or all) in one
/// catalog entry; the old tablets are dropped. A failure before the swap
/// leaves the table as it was.
pub async fn overwrite(
    fe: &Arc<Frontend>,
    db: &str,
    table: &OlapTable,
    names: &[String],
    batch: RecordBatch,
) -> Result<QueryResult> {
    let names = chosen(table, names)?;
    let old: Vec<&Partition> = table
        .partitions
        .iter()
        .filter(|p| names.contains(&p.name))
        .collect();
    let mut fresh = Vec::with_capacity(old.len());
    for p in &old {
        fresh.push(crate::cluster::placement::new_partition(
            fe,
            table,
            p.name.clone(),
            p.range.clone(),
            p.list_values.clone(),
        )?);
    }
    let creating = super::ddl::create_tablets(fe, &table.schema, &fresh).await?;
    let mut staged = table.clone();
    staged.partitions = fresh.clone();
    let fresh_replicas: Vec<(u64, u64)> = fresh
        .iter()
        .flat_map(super::ddl::partition_replicas)
        .collect();
    let written = write_and_publish(fe, &staged, batch.clone()).await;
    drop(creating);
    if let Err(e) = written {
        super::ddl::drop_tablets(fe, fresh_replicas).await;
        return Err(e);
    }
    let now = basalt_common::now_ms();
    for p in &mut fresh {
        (p.visible_version, p.next_version, p.visible_version_time) = (2, 3, now);
        for t in &mut p.index.tablets {
            for r in &mut t.replicas {
                r.version = 2;
            }
        }
    }
    fe.catalog.log(EditLogEntry::ReplacePartitions {
        db: db.to_string(),
        table: table.name.clone(),
        partitions: fresh,
    })?;
    let replaced = old
        .into_iter()
        .flat_map(super::ddl::partition_replicas)
        .collect();
    super::ddl::drop_tablets(fe, replaced).await;
    Ok(QueryResult::Ok {
        affected_rows: batch.num_rows() as u64,
        info: String::new(),
    })
}

/// Writes `batch` into the (fresh) partitions of `staged` and publishes it
/// as their version 2 on every replica.
async fn write_and_publish(
    fe: &Arc<Frontend>,
    staged: &OlapTable,
    batch: RecordBatch,
) -> Result<()> {
    let (sink, partition_of) = crate::load::partitioned(fe, staged, &batch)?;
    // An id of its own marks the rows on the backends until they are published.
    let txn_id = fe.catalog.alloc_ids(1);
    let client = fe.backends.rpc.clone();
    let mut writer = TabletWriter::new(
        Arc::new(sink),
        client,
        txn_id,
        None,
        DEFAULT_WRITE_BUFFER_SIZE,
    );
    writer.add(&batch, &partition_of).await?;
    let (written, results) = writer.finish().await;
    if let Some((_, Err(e))) = results.iter().find(|(_, r)| r.is_err()) {
        return Err(e.clone());
    }
    let has_rows: std::collections::BTreeSet<u64> = written.iter().map(|(_, t)| *t).collect();
    let mut per_backend: BTreeMap<u64, Vec<PublishTablet>> = BTreeMap::new();
    for p in &staged.partitions {
        for t in &p.index.tablets {
            for r in &t.replicas {
                per_backend
                    .entry(r.backend_id)
                    .or_default()
                    .push(PublishTablet {
                        tablet_id: t.id,
                        version: 2,
                        has_rows: has_rows.contains(&t.id),
                    });
            }
        }
    }
    let addrs = fe.backend_addrs();
    for (backend, tablets) in per_backend {
        let addr = addrs
            .get(&backend)
            .ok_or_else(|| Error::backend(format!("backend {backend} is unknown")))?;
        let reply = fe
            .backends
            .rpc
            .call(addr, &ControlRequest::PublishVersion { txn_id, tablets })
            .await?;
        match reply {
            ControlResponse::Published { failed } if failed.is_empty() => {}
            other => {
                return Err(Error::backend(format!(
                    "publishing the overwrite on backend {backend}: {other:?}"
                )))
            }
        }
    }
    Ok(())
}
