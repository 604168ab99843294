//! Partition keys: typed, ordered values of the partition columns, for RANGE
//! bounds, LIST values, routing rows to partitions and pruning partitions.

use crate::types::DorisType;
use crate::{Error, Result};
use chrono::{NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Decimal256Type, Int16Type, Int32Type, Int64Type,
    Int8Type, TimestampMicrosecondType,
};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One column's value in a partition key. Dates and datetimes compare as days
/// and microseconds since the epoch; `Min`/`Max` are the open ends of ranges.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyValue {
    Min,
    /// Stored as a string: the edit log's tagged JSON cannot buffer an i128.
    Int(#[serde(with = "i128_text")] i128),
    Text(String),
    Max,
}

impl KeyValue {
    /// The partition key value of one cell, in the catalog's canonical form.
    pub fn of_cell(array: &ArrayRef, row: usize) -> KeyValue {
        if array.is_null(row) {
            return KeyValue::Min;
        }
        match array.data_type() {
            DataType::Int8 => KeyValue::Int(array.as_primitive::<Int8Type>().value(row).into()),
            DataType::Int16 => KeyValue::Int(array.as_primitive::<Int16Type>().value(row).into()),
            DataType::Int32 => KeyValue::Int(array.as_primitive::<Int32Type>().value(row).into()),
            DataType::Int64 => KeyValue::Int(array.as_primitive::<Int64Type>().value(row).into()),
            DataType::Decimal128(_, _) => {
                KeyValue::Int(array.as_primitive::<Decimal128Type>().value(row))
            }
            // LARGEINT: stored values are in i128's range (see DorisType::convert).
            DataType::Decimal256(_, _) => array
                .as_primitive::<Decimal256Type>()
                .value(row)
                .to_i128()
                .map_or(KeyValue::Max, KeyValue::Int),
            DataType::Date32 => KeyValue::Int(array.as_primitive::<Date32Type>().value(row).into()),
            DataType::Timestamp(_, _) => KeyValue::Int(
                array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row)
                    .into(),
            ),
            DataType::Boolean => KeyValue::Int(array.as_boolean().value(row).into()),
            DataType::Utf8 => KeyValue::Text(array.as_string::<i32>().value(row).to_string()),
            _ => KeyValue::Min,
        }
    }
}

mod i128_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &i128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A tuple of key values, with the text each was written as (for SHOW output).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartitionKey {
    pub values: Vec<KeyValue>,
    pub text: Vec<String>,
}

impl PartialEq for PartitionKey {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}
impl Eq for PartitionKey {}
impl PartialOrd for PartitionKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PartitionKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.values.cmp(&other.values)
    }
}

impl PartitionKey {
    pub fn min(n: usize) -> Self {
        Self {
            values: vec![KeyValue::Min; n],
            text: vec![String::new(); n],
        }
    }
    pub fn max(n: usize) -> Self {
        Self {
            values: vec![KeyValue::Max; n],
            text: vec!["MAXVALUE".into(); n],
        }
    }

    pub fn is_max(&self) -> bool {
        self.values.iter().all(|v| *v == KeyValue::Max)
    }

    /// Parses the literals of `VALUES LESS THAN ("2024-01-01")` for the given column
    /// types; fewer literals than columns pad with MIN (Doris's rule for a prefix).
    pub fn parse(literals: &[String], types: &[DorisType]) -> Result<Self> {
        if literals.len() > types.len() {
            return Err(Error::invalid(format!(
                "partition value has {} items but there are {} partition columns",
                literals.len(),
                types.len()
            )));
        }
        let mut values = Vec::with_capacity(types.len());
        let mut text = Vec::with_capacity(types.len());
        for (i, ty) in types.iter().enumerate() {
            match literals.get(i) {
                Some(lit) if lit.eq_ignore_ascii_case("MAXVALUE") => {
                    values.push(KeyValue::Max);
                    text.push("MAXVALUE".into());
                }
                Some(lit) => {
                    let (v, t) = parse_value(lit, ty)?;
                    values.push(v);
                    text.push(t);
                }
                None => {
                    values.push(KeyValue::Min);
                    text.push(String::new());
                }
            }
        }
        Ok(Self { values, text })
    }

    /// `("2024-01-01", "x")` as SHOW CREATE TABLE writes a key back.
    pub fn to_sql(&self) -> String {
        let items: Vec<String> = self
            .values
            .iter()
            .zip(&self.text)
            .filter(|(v, _)| **v != KeyValue::Min)
            .map(|(v, t)| {
                if *v == KeyValue::Max {
                    "MAXVALUE".into()
                } else {
                    format!("\"{t}\"")
                }
            })
            .collect();
        format!("({})", items.join(", "))
    }
}

/// Canonical value and text of one literal for a partition column of type `ty`.
pub fn parse_value(lit: &str, ty: &DorisType) -> Result<(KeyValue, String)> {
    let bad = || Error::invalid(format!("invalid partition value '{lit}' for type {ty}"));
    // Strings are kept exactly (rows are routed by their exact value); others may carry spaces.
    let lit = if matches!(
        ty,
        DorisType::Char { .. } | DorisType::Varchar { .. } | DorisType::String
    ) {
        lit
    } else {
        lit.trim()
    };
    Ok(match ty {
        DorisType::TinyInt
        | DorisType::SmallInt
        | DorisType::Int
        | DorisType::BigInt
        | DorisType::LargeInt => {
            let v: i128 = lit.parse().map_err(|_| bad())?;
            let (lo, hi): (i128, i128) = match ty {
                DorisType::TinyInt => (i8::MIN.into(), i8::MAX.into()),
                DorisType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
                DorisType::Int => (i32::MIN.into(), i32::MAX.into()),
                DorisType::BigInt => (i64::MIN.into(), i64::MAX.into()),
                _ => (i128::MIN, i128::MAX),
            };
            if v < lo || v > hi {
                return Err(bad());
            }
            (KeyValue::Int(v), v.to_string())
        }
        DorisType::Boolean => {
            let v = match lit.to_ascii_lowercase().as_str() {
                "true" | "1" => 1,
                "false" | "0" => 0,
                _ => return Err(bad()),
            };
            (KeyValue::Int(v), lit.to_string())
        }
        DorisType::Date => {
            let d = parse_date(lit).ok_or_else(bad)?;
            (
                KeyValue::Int(days(d).into()),
                d.format("%Y-%m-%d").to_string(),
            )
        }
        DorisType::DateTime { .. } => {
            let dt = parse_datetime(lit).ok_or_else(bad)?;
            (
                KeyValue::Int(dt.and_utc().timestamp_micros().into()),
                dt.format("%Y-%m-%d %H:%M:%S").to_string(),
            )
        }
        DorisType::Char { .. } | DorisType::Varchar { .. } | DorisType::String => {
            (KeyValue::Text(lit.to_string()), lit.to_string())
        }
        _ => {
            return Err(Error::invalid(format!(
                "type {ty} cannot be a partition column"
            )));
        }
    })
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
        .ok()
}

pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .ok()
        .or_else(|| parse_date(s).and_then(|d| d.and_hms_opt(0, 0, 0)))
}

/// Days since 1970-01-01, as Arrow's Date32 stores a date.
pub fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_order_and_prefixes_pad() {
        let t = [DorisType::Date];
        let a = PartitionKey::parse(&["2024-01-01".into()], &t).unwrap();
        let b = PartitionKey::parse(&["2024-02-01".into()], &t).unwrap();
        assert!(a < b && b < PartitionKey::max(1));
        assert_eq!(a.to_sql(), "(\"2024-01-01\")");
        assert!(PartitionKey::parse(&["2024-13-01".into()], &t).is_err());
    }

    #[test]
    fn keys_survive_the_edit_log_encoding() {
        let k = PartitionKey::parse(
            &["170141183460469231731687303715884105727".into()],
            &[DorisType::LargeInt],
        )
        .unwrap();
        // Internally tagged enums (like EditLogEntry) buffer their fields before decoding.
        #[derive(serde::Deserialize)]
        #[serde(tag = "op")]
        enum Tagged {
            X { key: PartitionKey },
        }
        let text = serde_json::json!({"op": "X", "key": k}).to_string();
        let Tagged::X { key } = serde_json::from_str(&text).unwrap();
        assert_eq!(key, k);
    }

    #[test]
    fn int_range_is_checked() {
        assert!(parse_value("300", &DorisType::TinyInt).is_err());
        assert_eq!(
            parse_value("-5", &DorisType::Int).unwrap().0,
            KeyValue::Int(-5)
        );
    }
}
