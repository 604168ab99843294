//! Doris's BITMAP: a set of unsigned 64-bit integers, stored and passed as a
//! serialized roaring treemap (Arrow Binary), and its functions as DataFusion
//! UDFs and UDAFs. The FE and every BE worker register the same ones, so a
//! plan fragment calls them by name wherever it runs.

use crate::scalar;
use datafusion::arrow::array::Scalar;
use datafusion::arrow::array::{
    ArrayRef, AsArray, BinaryArray, BooleanArray, Int64Array, StringArray,
};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    create_udaf, create_udf, Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarUDF,
    Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use roaring::RoaringTreemap;
use std::sync::Arc;

pub fn encode(set: &RoaringTreemap) -> Vec<u8> {
    let mut out = Vec::with_capacity(set.serialized_size());
    set.serialize_into(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

pub fn decode(bytes: &[u8]) -> Result<RoaringTreemap> {
    RoaringTreemap::deserialize_from(bytes)
        .map_err(|e| DataFusionError::Execution(format!("not a bitmap: {e}")))
}

/// Bitmaps from their text, Doris's comma-separated values (`1,2,3`); NULL
/// for text that is not such a list. How Stream Load reads a BITMAP column.
pub fn from_text(text: &StringArray) -> ArrayRef {
    binary(text.iter().map(|s| {
        let s = s?.trim();
        if s.is_empty() {
            return Some(RoaringTreemap::new());
        }
        s.split(',')
            .map(|x| x.trim().parse::<u64>().ok())
            .collect::<Option<RoaringTreemap>>()
    }))
}

/// The text of bitmaps (`1,2,3`).
pub fn to_text(a: &ArrayRef) -> Result<StringArray> {
    Ok(bitmaps(a)?
        .into_iter()
        .map(|b| {
            b.map(|b| {
                b.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        })
        .collect())
}

fn bitmaps(a: &ArrayRef) -> Result<Vec<Option<RoaringTreemap>>> {
    a.as_binary::<i32>()
        .iter()
        .map(|v| v.map(decode).transpose())
        .collect()
}

fn binary(sets: impl Iterator<Item = Option<RoaringTreemap>>) -> ArrayRef {
    Arc::new(sets.map(|s| s.map(|s| encode(&s))).collect::<BinaryArray>())
}

/// A bitmap per row into an integer, by `f`.
fn to_int(name: &str, f: fn(Option<RoaringTreemap>) -> Option<i64>) -> ScalarUDF {
    scalar(name, vec![DataType::Binary], DataType::Int64, move |a| {
        let out: Int64Array = bitmaps(&a[0])?.into_iter().map(f).collect();
        Ok(Arc::new(out))
    })
}

/// Two bitmaps per row into one, by `op`.
fn binary_op(name: &str, op: fn(RoaringTreemap, RoaringTreemap) -> RoaringTreemap) -> ScalarUDF {
    scalar(
        name,
        vec![DataType::Binary, DataType::Binary],
        DataType::Binary,
        move |a| {
            let (l, r) = (bitmaps(&a[0])?, bitmaps(&a[1])?);
            Ok(binary(l.into_iter().zip(r).map(|(l, r)| Some(op(l?, r?)))))
        },
    )
}

/// Doris's scalar bitmap functions.
pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        scalar("to_bitmap", vec![DataType::Int64], DataType::Binary, |a| {
            let v = a[0].as_primitive::<Int64Type>();
            // A negative value is not an unsigned integer: NULL, as in Doris.
            Ok(binary(v.iter().map(|v| {
                v.filter(|v| *v >= 0)
                    .map(|v| RoaringTreemap::from_iter([v as u64]))
            })))
        }),
        scalar(
            "bitmap_from_string",
            vec![DataType::Utf8],
            DataType::Binary,
            |a| Ok(from_text(a[0].as_string::<i32>())),
        ),
        scalar(
            "bitmap_to_string",
            vec![DataType::Binary],
            DataType::Utf8,
            |a| Ok(Arc::new(to_text(&a[0])?)),
        ),
        // Doris's murmur3 (x86, 32-bit) of the value's text, with its seed;
        // NULL hashes to an empty bitmap.
        scalar("bitmap_hash", vec![DataType::Utf8], DataType::Binary, |a| {
            let text = a[0].as_string::<i32>();
            Ok(binary(text.iter().map(|s| {
                let mut set = RoaringTreemap::new();
                if let Some(s) = s {
                    let h = murmur3::murmur3_32(&mut std::io::Cursor::new(s.as_bytes()), 104_729)
                        .expect("reading from memory cannot fail");
                    set.insert(u64::from(h));
                }
                Some(set)
            })))
        }),
        to_int("bitmap_count", |b| Some(b.map_or(0, |b| b.len() as i64))),
        create_udf(
            "bitmap_empty",
            vec![],
            DataType::Binary,
            Volatility::Immutable,
            Arc::new(|_: &[ColumnarValue]| {
                Ok(ColumnarValue::Scalar(ScalarValue::Binary(Some(encode(
                    &RoaringTreemap::new(),
                )))))
            }),
        ),
        scalar(
            "bitmap_contains",
            vec![DataType::Binary, DataType::Int64],
            DataType::Boolean,
            |a| {
                let (b, v) = (bitmaps(&a[0])?, a[1].as_primitive::<Int64Type>());
                let out: BooleanArray = b
                    .into_iter()
                    .zip(v.iter())
                    .map(|(b, v)| Some(b?.contains(u64::try_from(v?).ok()?)))
                    .collect();
                Ok(Arc::new(out))
            },
        ),
        scalar(
            "bitmap_has_any",
            vec![DataType::Binary, DataType::Binary],
            DataType::Boolean,
            |a| {
                let (l, r) = (bitmaps(&a[0])?, bitmaps(&a[1])?);
                let out: BooleanArray = l
                    .into_iter()
                    .zip(r)
                    .map(|(l, r)| Some(!l?.is_disjoint(&r?)))
                    .collect();
                Ok(Arc::new(out))
            },
        ),
        to_int("bitmap_min", |b| b?.min().map(|v| v as i64)),
        to_int("bitmap_max", |b| b?.max().map(|v| v as i64)),
        binary_op("bitmap_and", |l, r| l & r),
        binary_op("bitmap_or", |l, r| l | r),
        binary_op("bitmap_xor", |l, r| l ^ r),
        // Doris's bitmap_not(a, b): the values of a that b lacks.
        binary_op("bitmap_not", |l, r| l - r),
    ]
}

/// The union of a group's bitmaps; `count` answers its size instead.
#[derive(Debug, Default)]
struct Union {
    set: RoaringTreemap,
    count: bool,
}

impl Accumulator for Union {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for b in values[0].as_binary::<i32>().iter().flatten() {
            self.set |= decode(b)?;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(encode(&self.set)))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(match self.count {
            true => ScalarValue::Int64(Some(self.set.len() as i64)),
            false => ScalarValue::Binary(Some(encode(&self.set))),
        })
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.set.serialized_size()
    }
}

fn union(name: &str, count: bool) -> AggregateUDF {
    let output = if count {
        DataType::Int64
    } else {
        DataType::Binary
    };
    create_udaf(
        name,
        vec![DataType::Binary],
        Arc::new(output),
        Volatility::Immutable,
        Arc::new(move |_| {
            Ok(Box::new(Union {
                set: RoaringTreemap::new(),
                count,
            }))
        }),
        Arc::new(vec![DataType::Binary]),
    )
}

/// `bitmap_union`: the BITMAP_UNION aggregation, also used to merge
/// AGGREGATE tables' BITMAP columns.
pub fn bitmap_union() -> AggregateUDF {
    union("bitmap_union", false)
}

/// `bitmap_union_count`: the size of a group's union.
pub fn bitmap_union_count() -> AggregateUDF {
    union("bitmap_union_count", true)
}

/// `intersect_count(bitmap, column, v1, v2, ...)`: the size of the
/// intersection, over the filter values, of the union of the bitmaps of the
/// rows whose `column` equals each value. The values are literals; the
/// partial state is one union per value.
#[derive(Debug, PartialEq, Eq, Hash)]
struct IntersectCount {
    signature: Signature,
}

impl AggregateUDFImpl for IntersectCount {
    fn name(&self) -> &str {
        "intersect_count"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok((2..args.input_fields.len())
            .map(|i| {
                Arc::new(Field::new(
                    format!("{}[{i}]", args.name),
                    DataType::Binary,
                    true,
                ))
            })
            .collect())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let values = args
            .exprs
            .get(2..)
            .filter(|v| !v.is_empty() && args.exprs[0].data_type(args.schema).ok() == Some(DataType::Binary))
            .ok_or_else(|| {
                DataFusionError::Plan(
                    "intersect_count(bitmap, column, value, ...) needs a bitmap and at least one value".into(),
                )
            })?
            .iter()
            .map(|e| {
                e.downcast_ref::<Literal>()
                    .map(|l| l.value().clone())
                    .ok_or_else(|| {
                        DataFusionError::Plan("intersect_count's filter values must be constants".into())
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let sets = vec![RoaringTreemap::new(); values.len()];
        Ok(Box::new(Intersect { values, sets }))
    }
}

#[derive(Debug)]
struct Intersect {
    values: Vec<ScalarValue>,
    sets: Vec<RoaringTreemap>,
}

impl Accumulator for Intersect {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (bitmaps, column) = (values[0].as_binary::<i32>(), &values[1]);
        for (value, set) in self.values.iter().zip(&mut self.sets) {
            let Ok(value) = value.cast_to(column.data_type()) else {
                continue;
            };
            let equal = eq(column, &Scalar::new(value.to_array()?))?;
            for (b, hit) in bitmaps.iter().zip(equal.iter()) {
                if let (Some(b), Some(true)) = (b, hit) {
                    *set |= decode(b)?;
                }
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for (state, set) in states.iter().zip(&mut self.sets) {
            for b in state.as_binary::<i32>().iter().flatten() {
                *set |= decode(b)?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .sets
            .iter()
            .map(|s| ScalarValue::Binary(Some(encode(s))))
            .collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut sets = self.sets.iter();
        let first = sets.next().cloned().unwrap_or_default();
        let all = sets.fold(first, |acc, s| acc & s);
        Ok(ScalarValue::Int64(Some(all.len() as i64)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sets.iter().map(|s| s.serialized_size()).sum::<usize>()
    }
}

/// Doris's bitmap aggregate functions.
pub fn udafs() -> Vec<AggregateUDF> {
    vec![
        bitmap_union(),
        bitmap_union_count(),
        AggregateUDF::new_from_impl(IntersectCount {
            signature: Signature::variadic_any(Volatility::Immutable),
        }),
    ]
}
