//! Key models at read time. An AGGREGATE tablet's rows with equal keys are
//! merged by each value column's aggregation (SUM, MIN, MAX, REPLACE,
//! REPLACE_IF_NOT_NULL); a UNIQUE tablet keeps each key's newest row (Doris's
//! merge-on-read). "Newest" is the order rows were loaded in: rowsets by
//! version, then segments, then rows, numbered here as `__seq`. The merge is
//! a DataFusion aggregation over the tablet's rows, not a hand-written one.

use basalt_common::schema::{AggType, KeysType, TabletSchema};
use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, UInt64Array};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Int8Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::functions_aggregate::first_last::last_value_udaf;
use datafusion::logical_expr::expr::NullTreatment;
use datafusion::logical_expr::{cast, col, ExprFunctionExt};
use datafusion::prelude::{Expr, SessionContext};
use std::sync::Arc;

const SEQ: &str = "__seq";

/// Whether reading the tablet needs the merge: AGGREGATE, and UNIQUE
/// merge-on-read (merge-on-write tablets have delete bitmaps instead).
pub fn needed(schema: &TabletSchema) -> bool {
    match schema.keys_type {
        KeysType::DupKeys => false,
        KeysType::AggKeys => true,
        KeysType::UniqueKeys => !schema.merge_on_write,
    }
}

/// A merged UNIQUE tablet's rows without the keys whose newest row carries
/// the delete sign.
pub fn without_deleted(schema: &TabletSchema, batch: RecordBatch) -> Result<RecordBatch> {
    let Some(sign) = schema.delete_sign() else {
        return Ok(batch);
    };
    let sign = batch.column(sign).as_primitive::<Int8Type>();
    let keep: BooleanArray = sign.iter().map(|s| Some(s != Some(1))).collect();
    Ok(filter_record_batch(&batch, &keep)?)
}

/// Merges `batches` (all of a tablet's rows, oldest first) into one row per
/// key, shaped like the table.
pub async fn merge(schema: &TabletSchema, batches: Vec<RecordBatch>) -> Result<RecordBatch> {
    let table = schema.arrow_schema();
    let mut fields: Vec<Field> = table.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(SEQ, DataType::UInt64, false));
    let with_seq = Arc::new(Schema::new(fields));
    let mut next = 0u64;
    let mut numbered = Vec::with_capacity(batches.len());
    for b in batches.into_iter().filter(|b| b.num_rows() > 0) {
        let n = b.num_rows() as u64;
        let mut columns: Vec<ArrayRef> = b.columns().to_vec();
        columns.push(Arc::new(UInt64Array::from_iter_values(next..next + n)));
        next += n;
        numbered.push(RecordBatch::try_new(Arc::clone(&with_seq), columns)?);
    }
    if numbered.is_empty() {
        return Ok(RecordBatch::new_empty(table));
    }
    // Newest by the sequence column first, where the table has one, then by load order.
    let mut order = Vec::new();
    if let Some(s) = schema.sequence() {
        order.push(col(quoted(&schema.columns[s].name)).sort(true, true));
    }
    order.push(col(SEQ).sort(true, false));
    let newest = |c: &str, ignore_nulls: bool| -> Result<Expr> {
        let call = last_value_udaf()
            .call(vec![col(quoted(c))])
            .order_by(order.clone());
        let call = if ignore_nulls {
            call.null_treatment(NullTreatment::IgnoreNulls)
        } else {
            call
        };
        call.build()
    };
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for c in &schema.columns {
        let name = quoted(&c.name);
        if c.is_key {
            keys.push(col(name));
            continue;
        }
        let merged = match (schema.keys_type, c.agg_type) {
            (KeysType::AggKeys, Some(AggType::Sum)) => sum(col(name)),
            (KeysType::AggKeys, Some(AggType::Min)) => min(col(name)),
            (KeysType::AggKeys, Some(AggType::Max)) => max(col(name)),
            (KeysType::AggKeys, Some(AggType::ReplaceIfNotNull)) => newest(&c.name, true)?,
            (KeysType::AggKeys, Some(AggType::BitmapUnion)) => {
                basalt_common::bitmap::bitmap_union().call(vec![col(name)])
            }
            (KeysType::AggKeys, Some(AggType::HllUnion)) => {
                basalt_common::hll::hll_union().call(vec![col(name)])
            }
            // REPLACE, and every value column of a UNIQUE table.
            _ => newest(&c.name, false)?,
        };
        values.push(cast(merged, c.data_type.to_arrow()).alias(&c.name));
    }
    let ctx = SessionContext::new();
    // Keys lead the schema (Doris's rule), so the output is in table order.
    let df = ctx.read_batches(numbered)?.aggregate(keys, values)?;
    let merged = df.collect().await?;
    let merged: Vec<RecordBatch> = merged
        .into_iter()
        .map(|b| RecordBatch::try_new(Arc::clone(&table), b.columns().to_vec()))
        .collect::<std::result::Result<_, _>>()?;
    Ok(concat_batches(&table, &merged)?)
}

/// A column name as DataFusion's `col` reads it: quoted, so case and dots are kept.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
