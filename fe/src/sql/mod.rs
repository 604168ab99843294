//! Statement execution: dispatch to DDL, SHOW, INSERT, or a DataFusion query.

pub mod ast;
pub mod ddl;
pub mod dml;
pub mod index;
pub mod insert;
pub mod parser;
pub mod rewrite;
pub mod show;
pub mod stats;

use crate::session::{QueryResult, Session};
use crate::variables::VarValue;
use ast::Statement;
use basalt_common::{Error, ErrorKind, Result};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast as sql;

pub async fn execute(session: &mut Session, stmt: Statement) -> Result<QueryResult> {
    match stmt {
        Statement::Query(q) => query(session, *q).await,
        Statement::Use { db } => {
            session.use_db(&db)?;
            Ok(QueryResult::ok())
        }
        Statement::Set { assignments } => {
            for (name, expr) in assignments {
                let value = eval_constant(session, expr).await?;
                session.set_var(&name, value)?;
            }
            Ok(QueryResult::ok())
        }
        Statement::TransactionNoop => Ok(QueryResult::ok()),
        Statement::AdminSetFrontendConfig(settings) => {
            crate::config::set(session, &settings)?;
            Ok(QueryResult::ok())
        }
        Statement::Kill { id, query_only } => kill(session, id, query_only),
        Statement::Show(show) => show::execute(session, *show).await,
        Statement::Insert(insert) => insert::execute(session, *insert).await,
        Statement::Delete(d) => dml::delete(session, *d).await,
        Statement::Update(u) => dml::update(session, *u).await,
        stmt @ (Statement::CreateIndex { .. } | Statement::DropIndex { .. }) => {
            index::execute(session, stmt).await
        }
        stmt @ (Statement::Analyze { .. } | Statement::DropStats { .. }) => {
            stats::execute(session, stmt).await
        }
        other => ddl::execute(session, other).await,
    }
}

/// Plans and runs a query with DataFusion, collecting its rows.
pub async fn query(session: &Session, mut stmt: sql::Statement) -> Result<QueryResult> {
    let names = rewrite::column_names(&stmt);
    rewrite::rewrite(&mut stmt);
    let ctx = crate::planner::context(session);
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(stmt)))
        .await
        .map_err(|e| map_plan_error(session, e))?;
    let plan = crate::planner::functions::sketch_count_distinct(plan)
        .and_then(crate::planner::arithmetic::doris_arithmetic)
        .map_err(|e| map_plan_error(session, e))?;
    let df = ctx
        .execute_logical_plan(plan)
        .await
        .map_err(|e| map_plan_error(session, e))?;
    let mut schema = df.schema().inner().clone();
    // MySQL names an unaliased column after the expression as written.
    if let Some(names) = names.filter(|n| n.len() == schema.fields().len()) {
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .zip(names)
            .map(|(f, n)| f.as_ref().clone().with_name(n))
            .collect();
        schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    }
    let timeout = match session.vars.get("query_timeout") {
        Some(VarValue::Int(s)) if *s > 0 => std::time::Duration::from_secs(*s as u64),
        _ => std::time::Duration::from_secs(900),
    };
    // The query runs on the query pool; this task stays free to notice KILL and
    // the timeout, and aborting the handle drops the query's streams.
    let cancelled = session.control.cancel_query.notified();
    tokio::pin!(cancelled);
    cancelled.as_mut().enable();
    if session.control.is_cancelled() {
        return Err(Error::invalid("cancel query by user"));
    }
    let mut running = session.fe.query_runtime.spawn(df.collect());
    let batches = tokio::select! {
        r = tokio::time::timeout(timeout, &mut running) => match r {
            Ok(joined) => joined
                .map_err(|e| Error::internal(format!("query task failed: {e}")))?
                .map_err(|e| crate::planner::query_error(session, e)),
            Err(_) => {
                running.abort();
                return Err(Error::invalid(format!(
                    "query is timeout, killed by timeout checker (query_timeout = {} s)",
                    timeout.as_secs()
                )));
            }
        },
        _ = &mut cancelled => {
            running.abort();
            return Err(Error::invalid("cancel query by user"));
        }
    };
    let batches = match batches {
        Ok(b) => b,
        Err(e) => {
            // Learn now which backend died, so a retry reads another replica.
            if e.kind == ErrorKind::Backend {
                crate::backend::heartbeat_all(&session.fe).await;
            }
            return Err(e);
        }
    };
    let batches = batches
        .into_iter()
        .map(|b| {
            datafusion::arrow::record_batch::RecordBatch::try_new(
                std::sync::Arc::clone(&schema),
                b.columns().to_vec(),
            )
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(QueryResult::Rows { schema, batches })
}

/// `KILL [CONNECTION] id` closes a connection; `KILL QUERY id` stops its statement.
/// Root may kill any connection, other users only their own.
fn kill(session: &Session, id: u32, query_only: bool) -> Result<QueryResult> {
    let target =
        session.fe.connections.get(id).ok_or_else(|| {
            Error::new(ErrorKind::UnknownThread, format!("Unknown thread id: {id}"))
        })?;
    if target.user != session.user && session.user != "root" {
        return Err(Error::new(
            ErrorKind::KillDenied,
            format!("You are not owner of thread {id}"),
        ));
    }
    if query_only {
        target.cancel();
    } else {
        target.kill_connection();
    }
    Ok(QueryResult::ok())
}

/// DataFusion's "table not found" becomes 1146, or 1049 when the database is missing.
fn map_plan_error(session: &Session, e: datafusion::error::DataFusionError) -> Error {
    let err = Error::from(e);
    if err.kind == ErrorKind::InvalidInput {
        if let Some(rest) = err.message.strip_prefix("table '") {
            if let Some(name) = rest.split('\'').next() {
                let name = name.strip_prefix("internal.").unwrap_or(name);
                if name.starts_with("__no_database__.") {
                    return Error::new(ErrorKind::NoDatabaseSelected, "No database selected");
                }
                if let Some((db, _)) = name.split_once('.') {
                    if crate::planner::resolve_db_name(&session.fe.catalog.read(), db).is_none() {
                        return basalt_catalog::unknown_db(db);
                    }
                }
                return Error::new(
                    ErrorKind::UnknownTable,
                    format!("Table '{name}' doesn't exist"),
                );
            }
        }
    }
    err
}

/// Evaluates the value of a SET (a literal or a constant expression).
async fn eval_constant(session: &Session, expr: sql::Expr) -> Result<VarValue> {
    // `SET autocommit = ON` and `SET x = DEFAULT` use bare words.
    if let sql::Expr::Identifier(id) = &expr {
        return Ok(match id.value.to_ascii_uppercase().as_str() {
            "ON" | "TRUE" => VarValue::Int(1),
            "OFF" | "FALSE" => VarValue::Int(0),
            _ => VarValue::Str(id.value.clone()),
        });
    }
    let select = format!("SELECT {expr}");
    let stmts = session.parse(&select)?;
    let Some(Statement::Query(q)) = stmts.into_iter().next() else {
        return Err(Error::invalid("bad SET value"));
    };
    let QueryResult::Rows { batches, .. } = query(session, *q).await? else {
        return Err(Error::invalid("bad SET value"));
    };
    let col = batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .map(|b| b.column(0).clone());
    let Some(col) = col else {
        return Err(Error::invalid("bad SET value"));
    };
    let v = datafusion::common::ScalarValue::try_from_array(&col, 0)?;
    Ok(match v {
        datafusion::common::ScalarValue::Int64(Some(i)) => VarValue::Int(i),
        datafusion::common::ScalarValue::Boolean(Some(b)) => VarValue::Int(b.into()),
        other if other.data_type().is_integer() => {
            VarValue::Int(other.to_string().parse().unwrap_or_default())
        }
        other if other.is_null() => VarValue::Str(String::new()),
        other => VarValue::Str(other.to_string()),
    })
}
