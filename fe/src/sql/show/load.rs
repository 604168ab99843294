//! The loads, with Doris's columns: `SHOW TRANSACTION [FROM db] WHERE id = n |
//! label = 'l'` (one transaction), `SHOW LOAD` (every load job of a database,
//! from its transactions) and `SHOW STREAM LOAD` (recent Stream Loads' outcomes).

use super::{format_time, Filter, Out};
use crate::rows::{s, text_cols};
use crate::session::Session;
use basalt_catalog::{Transaction, TxnStatus};
use basalt_common::{Error, Result};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Value};

enum Which {
    Id(u64),
    Label(String),
}

fn which(expr: &Expr) -> Option<Which> {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = expr
    else {
        return None;
    };
    let Expr::Identifier(name) = left.as_ref() else {
        return None;
    };
    let Expr::Value(v) = right.as_ref() else {
        return None;
    };
    match (name.value.to_lowercase().as_str(), &v.value) {
        ("id", Value::Number(n, _)) => n.parse().ok().map(Which::Id),
        ("label", Value::SingleQuotedString(l) | Value::DoubleQuotedString(l)) => {
            Some(Which::Label(l.clone()))
        }
        _ => None,
    }
}

pub fn transaction(session: &Session, db: Option<String>, filter: &Expr) -> Result<Out> {
    let db = session.db_or_current(db.as_ref())?;
    let which = which(filter).ok_or_else(|| {
        Error::invalid("Where clause should looks like one of them: id = 123 or label = 'label'")
    })?;
    let state = session.fe.catalog.read();
    let d = state.db(&db)?;
    let txn: &Transaction = match &which {
        Which::Id(id) => d
            .transactions
            .get(id)
            .ok_or_else(|| Error::invalid(format!("transaction with id {id} does not exist")))?,
        Which::Label(l) => d
            .labels
            .get(l)
            .and_then(|id| d.transactions.get(id))
            .ok_or_else(|| Error::invalid(format!("transaction with label {l} does not exist")))?,
    };
    let time = |ms: i64| {
        if ms > 0 {
            format_time(ms)
        } else {
            "NULL".into()
        }
    };
    let error_replicas = {
        let published: std::collections::BTreeSet<_> = txn.replicas.iter().map(|r| r.0).collect();
        txn.tablets
            .iter()
            .filter(|t| !published.contains(t))
            .count()
    };
    let row = vec![
        s(txn.id.to_string()),
        s(&txn.label),
        s(&txn.coordinator),
        s(txn.status.to_string()),
        s(&txn.source_type),
        s(time(txn.create_time)),
        s(time(txn.precommit_time)),
        s(time(txn.commit_time)),
        // Publishing ends when the load is visible.
        s(if txn.status == TxnStatus::Visible {
            time(txn.finish_time)
        } else {
            "NULL".into()
        }),
        s(time(txn.finish_time)),
        s(&txn.reason),
        s(error_replicas.to_string()),
        s("-1"),
        s(txn.timeout_ms.to_string()),
        s(""),
    ];
    let cols = text_cols(&[
        "TransactionId",
        "Label",
        "Coordinator",
        "TransactionStatus",
        "LoadJobSourceType",
        "PrepareTime",
        "PreCommitTime",
        "CommitTime",
        "PublishTime",
        "FinishTime",
        "Reason",
        "ErrorReplicasCount",
        "ListenerId",
        "TimeoutMs",
        "ErrMsg",
    ]);
    Ok((cols, vec![row], super::Filter::None))
}

/// `SHOW STREAM LOAD [FROM db]`: the recent Stream Loads' outcomes, newest last.
pub fn stream_loads(session: &Session, db: Option<String>, filter: Filter) -> Result<Out> {
    let db = session.db_or_current(db.as_ref())?;
    let time = |ms: i64| format!("{}.{:03}", format_time(ms), ms.rem_euclid(1000));
    let records = session
        .fe
        .stream_loads
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let rows = records
        .iter()
        .filter(|r| r.db == db)
        .map(|r| {
            vec![
                s(&r.label),
                s(&r.db),
                s(&r.table),
                s(&r.client_ip),
                s(&r.status),
                s(&r.message),
                s(&r.url),
                s(r.total_rows.to_string()),
                s(r.loaded_rows.to_string()),
                s(r.filtered_rows.to_string()),
                s(r.unselected_rows.to_string()),
                s(r.load_bytes.to_string()),
                s(time(r.start_time)),
                s(time(r.finish_time)),
                s(&r.user),
                s(&r.comment),
            ]
        })
        .collect();
    let cols = text_cols(&[
        "Label",
        "Db",
        "Table",
        "ClientIp",
        "Status",
        "Message",
        "Url",
        "TotalRows",
        "LoadedRows",
        "FilteredRows",
        "UnselectedRows",
        "LoadBytes",
        "StartTime",
        "FinishTime",
        "User",
        "Comment",
    ]);
    Ok((cols, rows, filter))
}

/// `SHOW LOAD [FROM db]`: every load of the database as a job, from its transaction.
pub fn loads(session: &Session, db: Option<String>, filter: Filter) -> Result<Out> {
    let db = session.db_or_current(db.as_ref())?;
    let state = session.fe.catalog.read();
    let d = state.db(&db)?;
    let time = |ms: i64| {
        if ms > 0 {
            format_time(ms)
        } else {
            "NULL".into()
        }
    };
    let rows = d
        .transactions
        .values()
        .map(|t| {
            let (state, progress) = match t.status {
                TxnStatus::Prepare | TxnStatus::Precommitted => ("LOADING", "0.00% (0/1)"),
                TxnStatus::Committed => ("COMMITTED", "100.00% (1/1)"),
                TxnStatus::Visible => ("FINISHED", "100.00% (1/1)"),
                TxnStatus::Aborted => ("CANCELLED", "0.00% (0/1)"),
            };
            let kind = if t.source_type == "INSERT_STREAMING" {
                "INSERT"
            } else {
                "STREAM_LOAD"
            };
            vec![
                s(t.id.to_string()),
                s(&t.label),
                s(state),
                s(progress),
                s(kind),
                s("NULL"),
                s(format!("timeout(s):{}", t.timeout_ms / 1000)),
                s(if t.status == TxnStatus::Aborted {
                    format!("type:LOAD_RUN_FAIL; msg:{}", t.reason)
                } else {
                    "NULL".into()
                }),
                s(time(t.create_time)),
                s(time(t.create_time)),
                s(time(t.create_time)),
                s(time(t.create_time)),
                s(time(t.finish_time)),
                s(""),
                s(""),
                s(t.id.to_string()),
                s("{}"),
                s(""),
                s(""),
            ]
        })
        .collect();
    let cols = text_cols(&[
        "JobId",
        "Label",
        "State",
        "Progress",
        "Type",
        "EtlInfo",
        "TaskInfo",
        "ErrorMsg",
        "CreateTime",
        "EtlStartTime",
        "EtlFinishTime",
        "LoadStartTime",
        "LoadFinishTime",
        "URL",
        "JobDetails",
        "TransactionId",
        "ErrorTablets",
        "User",
        "Comment",
    ]);
    Ok((cols, rows, filter))
}
