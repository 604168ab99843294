//! Bucket hashing for `DISTRIBUTED BY HASH(cols)`.
//!
//! Written here rather than taken from DataFusion's hash utilities because a
//! row's bucket is persisted (it decides which tablet holds the row, and bucket
//! pruning relies on it), so the function must never change across library
//! upgrades. FNV-1a over a canonical encoding of each value is stable and cheap.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    i256, DataType, Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit, TimestampMicrosecondType,
};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The bucket (0..buckets) of every row, hashing the given distribution columns.
/// Fails on a column type that cannot be a distribution column.
pub fn buckets_of(columns: &[ArrayRef], buckets: u32) -> Result<Vec<u32>, String> {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut hashes = vec![FNV_OFFSET; rows];
    for col in columns {
        hash_column(col, &mut hashes)?;
    }
    let n = u64::from(buckets.max(1));
    Ok(hashes.into_iter().map(|h| (h % n) as u32).collect())
}

fn hash_column(col: &ArrayRef, hashes: &mut [u64]) -> Result<(), String> {
    macro_rules! each {
        ($arr:expr, $bytes:expr) => {{
            let arr = $arr;
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = if arr.is_null(i) {
                    fnv(*h, &[0xff])
                } else {
                    #[allow(clippy::redundant_closure_call)]
                    fnv(fnv(*h, &[0x01]), &($bytes)(arr.value(i)))
                };
            }
        }};
    }
    // Integers of every width hash as i64 so a literal of another width finds the same bucket.
    match col.data_type() {
        DataType::Boolean => each!(col.as_boolean(), |v: bool| (v as i64).to_le_bytes()),
        DataType::Int8 => each!(col.as_primitive::<Int8Type>(), |v: i8| (v as i64)
            .to_le_bytes()),
        DataType::Int16 => each!(col.as_primitive::<Int16Type>(), |v: i16| (v as i64)
            .to_le_bytes()),
        DataType::Int32 => each!(col.as_primitive::<Int32Type>(), |v: i32| (v as i64)
            .to_le_bytes()),
        DataType::Int64 => each!(col.as_primitive::<Int64Type>(), |v: i64| v.to_le_bytes()),
        DataType::Float32 => each!(col.as_primitive::<Float32Type>(), |v: f32| (v as f64)
            .to_le_bytes()),
        DataType::Float64 => each!(col.as_primitive::<Float64Type>(), |v: f64| v.to_le_bytes()),
        DataType::Decimal128(_, _) => each!(col.as_primitive::<Decimal128Type>(), |v: i128| v
            .to_le_bytes()),
        // LARGEINT hashes as the i128 it is, as when it was a Decimal128, so
        // rows loaded since find the buckets of the rows loaded before. (A
        // value past i128, which no stored row holds, hashes as its low bits.)
        DataType::Decimal256(_, _) => each!(col.as_primitive::<Decimal256Type>(), |v: i256| v
            .as_i128()
            .to_le_bytes()),
        DataType::Date32 => each!(col.as_primitive::<Date32Type>(), |v: i32| (v as i64)
            .to_le_bytes()),
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            each!(col.as_primitive::<TimestampMicrosecondType>(), |v: i64| v
                .to_le_bytes())
        }
        DataType::Utf8 => {
            let arr = col.as_string::<i32>();
            for (i, h) in hashes.iter_mut().enumerate() {
                *h = if arr.is_null(i) {
                    fnv(*h, &[0xff])
                } else {
                    fnv(fnv(*h, &[0x01]), arr.value(i).as_bytes())
                };
            }
        }
        other => return Err(format!("type {other} cannot be a distribution column")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn widths_agree_and_values_spread() {
        let a: ArrayRef = Arc::new(Int32Array::from((0..1000).collect::<Vec<i32>>()));
        let b: ArrayRef = Arc::new(Int64Array::from((0..1000).collect::<Vec<i64>>()));
        let ba = buckets_of(&[a], 8).unwrap();
        assert_eq!(ba, buckets_of(&[b], 8).unwrap());
        for bucket in 0..8 {
            assert!(ba.iter().filter(|x| **x == bucket).count() > 60);
        }
    }

    #[test]
    fn stable_values() {
        // A row's bucket is persisted: these values must never change.
        let s: ArrayRef = Arc::new(StringArray::from(vec!["doris", "basalt", ""]));
        let i: ArrayRef = Arc::new(Int64Array::from(vec![0i64, 1, -1]));
        assert_eq!(buckets_of(&[s], 1000).unwrap(), vec![189, 445, 244]);
        assert_eq!(buckets_of(&[i], 1000).unwrap(), vec![476, 885, 604]);
    }

    #[test]
    fn largeint_keeps_the_buckets_it_had_as_decimal128() {
        use datafusion::arrow::array::{Decimal128Array, Decimal256Array};
        let values = [0i128, -1, 10i128.pow(38) - 1, i128::MIN + 1];
        let old: ArrayRef = Arc::new(
            Decimal128Array::from(values.to_vec())
                .with_precision_and_scale(38, 0)
                .unwrap(),
        );
        let new: ArrayRef = Arc::new(
            Decimal256Array::from(
                values
                    .iter()
                    .map(|v| i256::from_i128(*v))
                    .collect::<Vec<_>>(),
            )
            .with_data_type(crate::types::LARGEINT_ARROW),
        );
        assert_eq!(
            buckets_of(&[old], 1000).unwrap(),
            buckets_of(&[new], 1000).unwrap()
        );
    }
}
