//! Bitmap indexes: `INDEX name (column) USING BITMAP` in CREATE TABLE,
//! `CREATE INDEX` / `ALTER TABLE ADD INDEX`, `DROP INDEX` / `ALTER TABLE DROP
//! INDEX`, with Doris's checks. A change reaches every replica (which builds
//! the index for the segments it holds) before the catalog records it.

use super::ast::Statement;
use super::ddl::resolve;
use crate::session::{QueryResult, Session};
use crate::Frontend;
use basalt_catalog::{EditLogEntry, OlapTable};
use basalt_common::rpc::ControlRequest;
use basalt_common::schema::{Column, IndexDef, KeysType};
use basalt_common::types::DorisType;
use basalt_common::{Error, Result};
use std::sync::Arc;

/// Checks `index` against the table's columns and its other indexes.
pub fn check(
    keys_type: KeysType,
    merge_on_write: bool,
    columns: &[Column],
    others: &[IndexDef],
    index: &IndexDef,
) -> Result<()> {
    let c = columns
        .iter()
        .find(|c| c.name == index.column && !c.is_hidden())
        .ok_or_else(|| {
            Error::invalid(format!(
                "Column does not exist in table. invalid column: {}",
                index.column
            ))
        })?;
    if matches!(c.data_type, DorisType::Float | DorisType::Double) {
        return Err(Error::invalid(format!(
            "BITMAP index for columns ({}) of type {} is not supported",
            c.name, c.data_type
        )));
    }
    // A value column of a merging table has no row to index before the merge.
    let merged =
        keys_type == KeysType::AggKeys || (keys_type == KeysType::UniqueKeys && !merge_on_write);
    if merged && !c.is_key {
        return Err(Error::invalid(format!(
            "BITMAP index only used in columns of DUP_KEYS/UNIQUE_KEYS MOW table or key columns of all table. invalid index: {}",
            index.name
        )));
    }
    if others
        .iter()
        .any(|o| o.name.eq_ignore_ascii_case(&index.name))
    {
        return Err(Error::invalid(format!(
            "index `{}` already exist.",
            index.name
        )));
    }
    if others.iter().any(|o| o.column == index.column) {
        return Err(Error::invalid(format!(
            "index for columns ({}) of type BITMAP already exist.",
            index.column
        )));
    }
    Ok(())
}

pub async fn execute(session: &mut Session, stmt: Statement) -> Result<QueryResult> {
    let fe = Arc::clone(&session.fe);
    let (table, change) = match stmt {
        Statement::CreateIndex {
            table,
            index,
            if_not_exists,
        } => (table, Ok((index, if_not_exists))),
        Statement::DropIndex {
            table,
            name,
            if_exists,
        } => (table, Err((name, if_exists))),
        _ => return Err(Error::internal("not an index statement")),
    };
    let (db, name) = resolve(session, &table)?;
    let t = fe.catalog.read().table(&db, &name)?.clone();
    let mut indexes = t.schema.indexes.clone();
    match change {
        Ok((index, if_not_exists)) => {
            if if_not_exists
                && indexes
                    .iter()
                    .any(|i| i.name.eq_ignore_ascii_case(&index.name))
            {
                return Ok(QueryResult::ok());
            }
            let s = &t.schema;
            check(s.keys_type, s.merge_on_write, &s.columns, &indexes, &index)?;
            indexes.push(index);
        }
        Err((index, if_exists)) => {
            let before = indexes.len();
            indexes.retain(|i| !i.name.eq_ignore_ascii_case(&index));
            if indexes.len() == before {
                if if_exists {
                    return Ok(QueryResult::ok());
                }
                return Err(Error::invalid(format!(
                    "index {index} does not exist in table {name}"
                )));
            }
        }
    }
    push(&fe, &t, &indexes).await?;
    fe.catalog.log(EditLogEntry::SetIndexes {
        db,
        table: name,
        indexes,
    })?;
    Ok(QueryResult::ok())
}

/// Sends the new indexes to every replica on a live backend.
async fn push(fe: &Arc<Frontend>, t: &OlapTable, indexes: &[IndexDef]) -> Result<()> {
    let mut schema = t.schema.clone();
    schema.indexes = indexes.to_vec();
    let addrs = fe.backend_addrs();
    let mut calls = Vec::new();
    for p in &t.partitions {
        for tablet in &p.index.tablets {
            for r in tablet
                .replicas
                .iter()
                .filter(|r| fe.backends.is_alive(r.backend_id))
            {
                let Some(addr) = addrs.get(&r.backend_id).cloned() else {
                    continue;
                };
                let request = ControlRequest::AlterIndexes {
                    tablet_id: tablet.id,
                    schema: schema.clone(),
                };
                calls.push(async move { fe.backends.rpc.call(&addr, &request).await });
            }
        }
    }
    for result in futures::future::join_all(calls).await {
        result?;
    }
    Ok(())
}
