//! Routing for Doris's bucket-shuffle join: the build side's rows are sent to
//! the backend (and partition) that scans the probe table's bucket with the
//! same key, so the probe table never moves.
//!
//! datafusion-distributed shuffles only through a `RepartitionExec` with hash
//! partitioning, which sends a row to partition `hash(exprs) % n` with
//! DataFusion's fixed repartition hash; it has no way to plug in another
//! partitioner. So the one expression hashed there is a call of the function
//! [`BucketShuffleRoute`], which evaluates to a *tag*: for each row, a value
//! chosen so that DataFusion's hash of it lands on the partition serving the
//! row's Doris bucket. A unit test pins this to `RepartitionExec`'s behaviour.
//! It is a scalar function (not a custom expression) because the plan codec
//! chain resolves functions by name on the backend, and custom expressions not at all.

use crate::hash::buckets_of;
use datafusion::arrow::array::{ArrayRef, Int64Array};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::hash_utils::create_hashes;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::lit;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;
use std::sync::Arc;

/// The function's name; backends register it (see [`udf`]).
pub const NAME: &str = "bucket_shuffle_route";

/// `bucket_shuffle_route(buckets, partitions, targets, key...)`: the
/// tag of each row's partition, where the row's bucket (of `buckets`, by
/// Doris's bucket hash of the keys) is served by partition `targets[bucket]`
/// (a comma-separated list) of `partitions`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BucketShuffleRoute {
    signature: Signature,
}

pub fn udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(BucketShuffleRoute {
        signature: Signature::variadic_any(Volatility::Immutable),
    }))
}

/// The routing expression over `keys` (expressions of the input `schema`).
pub fn route(
    keys: Vec<Arc<dyn PhysicalExpr>>,
    buckets: u32,
    targets: &[usize],
    partitions: usize,
    schema: &Schema,
) -> Result<Arc<dyn PhysicalExpr>> {
    let targets: Vec<String> = targets.iter().map(usize::to_string).collect();
    let mut args = vec![
        lit(i64::from(buckets)),
        lit(partitions as i64),
        lit(targets.join(",")),
    ];
    args.extend(keys);
    Ok(Arc::new(ScalarFunctionExpr::try_new(
        udf(),
        args,
        schema,
        Arc::new(ConfigOptions::default()),
    )?))
}

/// For every partition of `n`, the smallest non-negative Int64 that DataFusion's
/// repartition hash sends there.
fn tags_for(n: usize) -> Result<Vec<i64>> {
    let mut tags: Vec<Option<i64>> = vec![None; n];
    let mut start = 0i64;
    while tags.iter().any(Option::is_none) {
        let batch = 64 * n as i64;
        let candidates: ArrayRef = Arc::new(Int64Array::from_iter_values(start..start + batch));
        let mut hashes = vec![0u64; batch as usize];
        create_hashes(
            &[candidates],
            REPARTITION_RANDOM_STATE.random_state(),
            &mut hashes,
        )?;
        for (i, h) in hashes.iter().enumerate() {
            let slot = &mut tags[(h % n as u64) as usize];
            if slot.is_none() {
                *slot = Some(start + i as i64);
            }
        }
        start += batch;
    }
    Ok(tags.into_iter().flatten().collect())
}

fn scalar_i64(v: &ColumnarValue) -> Option<i64> {
    match v {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v))) => Some(*v),
        _ => None,
    }
}

impl ScalarUDFImpl for BucketShuffleRoute {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (Some(buckets), Some(partitions), Some(ColumnarValue::Scalar(targets))) = (
            args.args.first().and_then(scalar_i64),
            args.args.get(1).and_then(scalar_i64),
            args.args.get(2),
        ) else {
            return exec_err!("{NAME}: bad routing arguments");
        };
        let (Ok(buckets), Ok(partitions)) = (u32::try_from(buckets), usize::try_from(partitions))
        else {
            return exec_err!("{NAME}: bad routing arguments");
        };
        let targets: Vec<usize> = match targets {
            ScalarValue::Utf8(Some(t)) => t.split(',').filter_map(|t| t.parse().ok()).collect(),
            _ => Vec::new(),
        };
        if partitions == 0
            || targets.len() != buckets as usize
            || targets.iter().any(|t| *t >= partitions)
        {
            return exec_err!("{NAME}: bad routing arguments");
        }
        let keys = args.args[3..]
            .iter()
            .map(|k| k.to_array(args.number_rows))
            .collect::<Result<Vec<_>>>()?;
        let tags = tags_for(partitions)?;
        let rows =
            buckets_of(&keys, buckets).map_err(datafusion::error::DataFusionError::Execution)?;
        let out = rows.into_iter().map(|b| tags[targets[b as usize]]);
        Ok(ColumnarValue::Array(Arc::new(
            Int64Array::from_iter_values(out),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::Field;
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_plan::repartition::RepartitionExec;
    use datafusion::physical_plan::{collect_partitioned, Partitioning};
    use datafusion::prelude::SessionContext;

    /// The tags only work while `RepartitionExec` sends a row to `hash % n`
    /// with `REPARTITION_RANDOM_STATE`: this fails if DataFusion changes that.
    #[tokio::test]
    async fn rows_reach_their_buckets_partition() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int32, true)]));
        let keys: Vec<Option<i32>> = (0..500).map(|i| (i % 97 != 0).then_some(i)).collect();
        let column: ArrayRef = Arc::new(Int32Array::from(keys));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::clone(&column)]).unwrap();
        let (buckets, partitions) = (7u32, 6usize);
        // Buckets spread unevenly, one partition left empty.
        let targets = [0, 3, 3, 1, 5, 0, 2];
        let key: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        let expr = route(vec![key], buckets, &targets, partitions, &schema).unwrap();
        let input = MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None).unwrap();
        let repartition =
            RepartitionExec::try_new(input, Partitioning::Hash(vec![expr], partitions)).unwrap();
        let out = collect_partitioned(Arc::new(repartition), SessionContext::new().task_ctx())
            .await
            .unwrap();
        let mut seen = 0;
        for (p, batches) in out.iter().enumerate() {
            for b in batches {
                let got = buckets_of(&[Arc::clone(b.column(0))], buckets).unwrap();
                assert!(got.iter().all(|bucket| targets[*bucket as usize] == p));
                seen += b.num_rows();
            }
        }
        assert_eq!(seen, 500);
        assert!(out[4].iter().all(|b| b.num_rows() == 0));
        assert!(out[0].iter().map(|b| b.num_rows()).sum::<usize>() > 0);
    }
}
