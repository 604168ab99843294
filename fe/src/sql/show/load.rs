//! `SHOW TRANSACTION [FROM db] WHERE id = n | label = 'l'`: one load
//! transaction with Doris's columns.

use super::{format_time, Out};
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
