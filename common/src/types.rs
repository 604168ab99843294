//! Doris's column types and their one mapping to Arrow.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal256Array};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Decimal256Type, TimeUnit};
use datafusion::arrow::error::ArrowError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Doris's largest DECIMAL precision (DECIMALV3).
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// LARGEINT's Arrow type. Arrow has no 128-bit integer, and DECIMAL(38, 0)
/// stops at 10^38 - 1, short of LARGEINT's -2^127 .. 2^127 - 1. A 39-digit
/// Decimal256 holds the whole range, computes exactly (a SUM widens to 49
/// digits), and is the one Arrow type Basalt gives this precision and scale,
/// so a result of it is a LARGEINT. Values are held to the 128-bit range
/// where they enter ([`DorisType::convert`]). Segments written before, with
/// LARGEINT as Decimal128(38, 0), are cast to it when read.
pub const LARGEINT_ARROW: DataType = DataType::Decimal256(39, 0);

/// A LARGEINT column (in [`LARGEINT_ARROW`]) with every value outside
/// -2^127 .. 2^127 - 1 made NULL, so that loads count it as not converted.
fn largeint_in_range(array: ArrayRef) -> ArrayRef {
    let Some(values) = array.as_primitive_opt::<Decimal256Type>() else {
        return array;
    };
    if values.iter().flatten().all(|v| v.to_i128().is_some()) {
        return array;
    }
    let kept: Decimal256Array = values
        .iter()
        .map(|v| v.filter(|v| v.to_i128().is_some()))
        .collect();
    Arc::new(kept.with_data_type(LARGEINT_ARROW))
}

/// The wide Decimal256 an exact integer result is computed in before
/// [`largeint_checked`] narrows it to LARGEINT.
pub const LARGEINT_WIDE: DataType = DataType::Decimal256(76, 0);

/// `largeint_checked(x)`: an exact integer result (in [`LARGEINT_WIDE`]) as
/// a LARGEINT, or an error past LARGEINT's range, where Doris's 128-bit
/// arithmetic would wrap. Registered with Doris's functions, so that backend
/// fragments find it.
pub fn largeint_checked() -> datafusion::logical_expr::ScalarUDF {
    crate::scalar(
        "largeint_checked",
        vec![LARGEINT_WIDE],
        LARGEINT_ARROW,
        |a| {
            let values = a[0].as_primitive::<Decimal256Type>();
            if let Some(v) = values.iter().flatten().find(|v| v.to_i128().is_none()) {
                return datafusion::common::exec_err!(
                    "Arithmetic overflow: {v} is out of LARGEINT's range"
                );
            }
            Ok(Arc::new(values.clone().with_data_type(LARGEINT_ARROW)))
        },
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DorisType {
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    LargeInt,
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Date,
    DateTime {
        scale: u8,
    },
    Char {
        len: u32,
    },
    Varchar {
        len: u32,
    },
    String,
    /// A set of unsigned 64-bit integers: a serialized roaring bitmap.
    Bitmap,
    /// A HyperLogLog sketch of distinct values, in Doris's serialized form.
    Hll,
}

impl DorisType {
    /// The Arrow type a column of this type is stored and computed as.
    pub fn to_arrow(&self) -> DataType {
        match *self {
            DorisType::Boolean => DataType::Boolean,
            DorisType::TinyInt => DataType::Int8,
            DorisType::SmallInt => DataType::Int16,
            DorisType::Int => DataType::Int32,
            DorisType::BigInt => DataType::Int64,
            DorisType::LargeInt => LARGEINT_ARROW,
            DorisType::Float => DataType::Float32,
            DorisType::Double => DataType::Float64,
            DorisType::Decimal { precision, scale } => DataType::Decimal128(precision, scale as i8),
            DorisType::Date => DataType::Date32,
            DorisType::DateTime { .. } => DataType::Timestamp(TimeUnit::Microsecond, None),
            DorisType::Char { .. } | DorisType::Varchar { .. } | DorisType::String => {
                DataType::Utf8
            }
            DorisType::Bitmap => DataType::Binary,
            DorisType::Hll => crate::hll::ARROW_TYPE,
        }
    }

    /// Values converted to a column of this type, as INSERT and Stream Load
    /// take them: a value that does not convert (not a number, out of range,
    /// past LARGEINT's 128 bits) is NULL, for the caller to count or refuse.
    pub fn convert(&self, values: &dyn Array) -> Result<ArrayRef, ArrowError> {
        let out = cast_with_options(values, &self.to_arrow(), &CastOptions::default())?;
        Ok(match self {
            DorisType::LargeInt => largeint_in_range(out),
            _ => out,
        })
    }

    /// The Doris type of a computed Arrow value, for result metadata and CREATE TABLE AS.
    pub fn from_arrow(dt: &DataType) -> Option<DorisType> {
        Some(match dt {
            DataType::Boolean => DorisType::Boolean,
            DataType::Int8 => DorisType::TinyInt,
            DataType::Int16 | DataType::UInt8 => DorisType::SmallInt,
            DataType::Int32 | DataType::UInt16 => DorisType::Int,
            DataType::Int64 | DataType::UInt32 => DorisType::BigInt,
            DataType::UInt64 => DorisType::LargeInt,
            t if *t == LARGEINT_ARROW => DorisType::LargeInt,
            DataType::Float16 | DataType::Float32 => DorisType::Float,
            DataType::Float64 => DorisType::Double,
            DataType::Decimal32(p, s)
            | DataType::Decimal64(p, s)
            | DataType::Decimal128(p, s)
            | DataType::Decimal256(p, s) => DorisType::Decimal {
                precision: (*p).min(MAX_DECIMAL_PRECISION),
                scale: (*s).max(0) as u8,
            },
            DataType::Date32 | DataType::Date64 => DorisType::Date,
            DataType::Timestamp(unit, _) => DorisType::DateTime {
                scale: match unit {
                    TimeUnit::Second => 0,
                    TimeUnit::Millisecond => 3,
                    _ => 6,
                },
            },
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DorisType::String,
            DataType::Binary => DorisType::Bitmap,
            DataType::LargeBinary => DorisType::Hll,
            _ => return None,
        })
    }

    /// Validates the parameters a user wrote, with Doris's limits.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            DorisType::Decimal { precision, scale } => {
                if precision == 0 || precision > MAX_DECIMAL_PRECISION {
                    return Err(format!(
                        "DECIMAL precision must be between 1 and {MAX_DECIMAL_PRECISION}, got {precision}"
                    ));
                }
                if scale > precision {
                    return Err(format!(
                        "DECIMAL scale {scale} must not exceed precision {precision}"
                    ));
                }
            }
            DorisType::DateTime { scale } if scale > 6 => {
                return Err(format!(
                    "DATETIME scale must be between 0 and 6, got {scale}"
                ));
            }
            DorisType::Char { len } if len == 0 || len > 255 => {
                return Err(format!("CHAR length must be between 1 and 255, got {len}"));
            }
            DorisType::Varchar { len } if len == 0 || len > 65533 => {
                return Err(format!(
                    "VARCHAR length must be between 1 and 65533, got {len}"
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether values of this type may be key columns (Doris forbids FLOAT/DOUBLE keys).
    pub fn can_be_key(&self) -> bool {
        !matches!(
            self,
            DorisType::Float | DorisType::Double | DorisType::Bitmap | DorisType::Hll
        )
    }

    /// Whether values compare and hash as values (not BITMAP and HLL
    /// sketches), so a column has a range and a distinct count.
    pub fn has_order(&self) -> bool {
        !matches!(self, DorisType::Bitmap | DorisType::Hll)
    }

    /// Bytes per value of a fixed-width type (Doris's sizes); `None` for
    /// strings and sketches.
    pub fn fixed_width(&self) -> Option<usize> {
        match *self {
            DorisType::Boolean | DorisType::TinyInt => Some(1),
            DorisType::SmallInt => Some(2),
            DorisType::Int | DorisType::Float | DorisType::Date => Some(4),
            DorisType::BigInt | DorisType::Double | DorisType::DateTime { .. } => Some(8),
            DorisType::Decimal { precision, .. } => Some(match precision {
                0..=9 => 4,
                10..=18 => 8,
                _ => 16,
            }),
            DorisType::LargeInt => Some(16),
            DorisType::Char { .. } | DorisType::Varchar { .. } | DorisType::String => None,
            DorisType::Bitmap | DorisType::Hll => None,
        }
    }

    /// Display length in characters, as MySQL column definitions report it.
    pub fn display_len(&self) -> u32 {
        match *self {
            DorisType::Boolean => 1,
            DorisType::TinyInt => 4,
            DorisType::SmallInt => 6,
            DorisType::Int => 11,
            DorisType::BigInt => 20,
            DorisType::LargeInt => 40,
            DorisType::Float => 12,
            DorisType::Double => 22,
            DorisType::Decimal { precision, scale } => precision as u32 + u32::from(scale > 0) + 1,
            DorisType::Date => 10,
            DorisType::DateTime { scale } => 19 + if scale > 0 { scale as u32 + 1 } else { 0 },
            DorisType::Char { len } | DorisType::Varchar { len } => len,
            DorisType::String => 2_147_483_643,
            DorisType::Bitmap | DorisType::Hll => 0,
        }
    }
}

impl fmt::Display for DorisType {
    /// The spelling SHOW CREATE TABLE and DESC use, which CREATE TABLE reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DorisType::Boolean => f.write_str("boolean"),
            DorisType::TinyInt => f.write_str("tinyint"),
            DorisType::SmallInt => f.write_str("smallint"),
            DorisType::Int => f.write_str("int"),
            DorisType::BigInt => f.write_str("bigint"),
            DorisType::LargeInt => f.write_str("largeint"),
            DorisType::Float => f.write_str("float"),
            DorisType::Double => f.write_str("double"),
            DorisType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            DorisType::Date => f.write_str("date"),
            DorisType::DateTime { scale: 0 } => f.write_str("datetime"),
            DorisType::DateTime { scale } => write!(f, "datetime({scale})"),
            DorisType::Char { len } => write!(f, "char({len})"),
            DorisType::Varchar { len } => write!(f, "varchar({len})"),
            DorisType::String => f.write_str("text"),
            DorisType::Bitmap => f.write_str("bitmap"),
            DorisType::Hll => f.write_str("hll"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_round_trip_keeps_decimal_scale() {
        let t = DorisType::Decimal {
            precision: 10,
            scale: 2,
        };
        assert_eq!(t.to_arrow(), DataType::Decimal128(10, 2));
        assert_eq!(DorisType::from_arrow(&t.to_arrow()), Some(t));
    }

    #[test]
    fn largeint_holds_the_whole_128_bit_range() {
        use datafusion::arrow::array::StringArray;
        assert_eq!(DorisType::LargeInt.to_arrow(), LARGEINT_ARROW);
        assert_eq!(
            DorisType::from_arrow(&LARGEINT_ARROW),
            Some(DorisType::LargeInt)
        );
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("170141183460469231731687303715884105727"),
            Some("-170141183460469231731687303715884105728"),
            Some("170141183460469231731687303715884105728"),
            Some("-170141183460469231731687303715884105729"),
            None,
        ]));
        let values = DorisType::LargeInt.convert(&text).unwrap();
        let values = values.as_primitive::<Decimal256Type>();
        assert_eq!(values.value(0).to_i128(), Some(i128::MAX));
        assert_eq!(values.value(1).to_i128(), Some(i128::MIN));
        assert!(values.is_null(2) && values.is_null(3) && values.is_null(4));
        assert_eq!(values.data_type(), &LARGEINT_ARROW);
    }

    #[test]
    fn limits_are_checked() {
        assert!(DorisType::Decimal {
            precision: 39,
            scale: 0
        }
        .validate()
        .is_err());
        assert!(DorisType::Decimal {
            precision: 5,
            scale: 6
        }
        .validate()
        .is_err());
        assert!(DorisType::DateTime { scale: 7 }.validate().is_err());
        assert!(DorisType::Varchar { len: 10 }.validate().is_ok());
    }
}
