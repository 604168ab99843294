//! `DELETE FROM` on DUPLICATE and AGGREGATE tablets, as Doris does it: a
//! rowset with no rows whose predicate removes the matching rows of every
//! older version. A read or a compaction keeps a row of a rowset only where
//! no newer delete predicate of the chain is true for it; a base compaction
//! applies them all and drops them. The predicate is SQL over the tablet's
//! columns (the FE checked its shape) and is evaluated by DataFusion.

use super::RowsetMeta;
use basalt_common::schema::TabletSchema;
use basalt_common::{Error, Result};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// The expression that keeps a row none of `predicates` deletes (a NULL
/// outcome deletes nothing).
pub fn keep(schema: &TabletSchema, predicates: &[&str]) -> Result<Arc<dyn PhysicalExpr>> {
    let any = predicates
        .iter()
        .map(|p| format!("({p})"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let sql = format!("({any}) IS NOT TRUE");
    let df_schema = DFSchema::try_from(schema.arrow_schema().as_ref().clone())
        .map_err(|e| Error::internal(e.to_string()))?;
    let ctx = SessionContext::new();
    let bad = |e: datafusion::error::DataFusionError| {
        Error::invalid(format!("bad delete predicate {sql}: {e}"))
    };
    let expr = ctx.parse_sql_expr(&sql, &df_schema).map_err(bad)?;
    ctx.create_physical_expr(expr, &df_schema).map_err(bad)
}

/// Checks that a predicate parses over the tablet's columns.
pub fn check(schema: &TabletSchema, predicate: &str) -> Result<()> {
    keep(schema, &[predicate]).map(|_| ())
}

/// The rows of `batch` that `keep` keeps.
pub fn apply(keep: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<RecordBatch> {
    let err = |e: &dyn std::fmt::Display| Error::internal(format!("delete predicate: {e}"));
    let mask = keep
        .evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .map_err(|e| err(&e))?;
    filter_record_batch(batch, mask.as_boolean()).map_err(|e| err(&e))
}

/// The data rowsets of a chain (oldest first), each with the delete
/// predicates of the newer rowsets of the chain.
pub fn applicable(chain: &[RowsetMeta]) -> Vec<(&RowsetMeta, Vec<&str>)> {
    chain
        .iter()
        .enumerate()
        .filter(|(_, r)| r.delete_predicate.is_none())
        .map(|(i, r)| {
            let newer = chain[i + 1..]
                .iter()
                .filter_map(|d| d.delete_predicate.as_deref())
                .collect();
            (r, newer)
        })
        .collect()
}
