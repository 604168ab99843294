//! Building small result sets (SHOW output, information_schema tables) row by row.

use basalt_common::{Error, Result};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use std::sync::Arc;

pub fn s(v: impl Into<String>) -> ScalarValue {
    ScalarValue::Utf8(Some(v.into()))
}

pub fn opt(v: Option<impl Into<String>>) -> ScalarValue {
    ScalarValue::Utf8(v.map(Into::into))
}

pub fn i(v: impl Into<i64>) -> ScalarValue {
    ScalarValue::Int64(Some(v.into()))
}

pub const NULL_STR: ScalarValue = ScalarValue::Utf8(None);
pub const NULL_INT: ScalarValue = ScalarValue::Int64(None);

/// A column of a built result: its name and type (Utf8 or Int64).
pub type Col = (&'static str, DataType);

pub fn text_cols(names: &[&'static str]) -> Vec<Col> {
    names.iter().map(|n| (*n, DataType::Utf8)).collect()
}

pub fn build<N: AsRef<str>>(
    columns: &[(N, DataType)],
    rows: Vec<Vec<ScalarValue>>,
) -> Result<(SchemaRef, RecordBatch)> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, t)| Field::new(n.as_ref(), t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let mut arrays = Vec::with_capacity(columns.len());
    for (idx, (_, ty)) in columns.iter().enumerate() {
        let values = rows
            .iter()
            .map(|r| r.get(idx).cloned().unwrap_or(ScalarValue::Null));
        let values: Vec<ScalarValue> = values
            .map(|v| {
                if v.is_null() {
                    ScalarValue::try_from(ty).unwrap_or(v)
                } else {
                    v
                }
            })
            .collect();
        let array = if values.is_empty() {
            datafusion::arrow::array::new_empty_array(ty)
        } else {
            ScalarValue::iter_to_array(values).map_err(|e| Error::internal(e.to_string()))?
        };
        arrays.push(array);
    }
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays)
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok((schema, batch))
}

/// MySQL's LIKE for SHOW: `%` any run, `_` one character, case-insensitive.
pub fn like(pattern: &str, value: &str) -> bool {
    fn go(p: &[char], v: &[char]) -> bool {
        match p.split_first() {
            None => v.is_empty(),
            Some(('%', rest)) => (0..=v.len()).any(|i| go(rest, &v[i..])),
            Some(('_', rest)) => !v.is_empty() && go(rest, &v[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                !v.is_empty() && v[0].eq_ignore_ascii_case(&rest[0]) && go(&rest[1..], &v[1..])
            }
            Some((c, rest)) => !v.is_empty() && v[0].eq_ignore_ascii_case(c) && go(rest, &v[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    go(&p, &v)
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_matches_mysql() {
        assert!(super::like("char%", "character_set_client"));
        assert!(super::like("t_", "T1"));
        assert!(!super::like("t_", "t12"));
        assert!(super::like("a\\_b", "a_b") && !super::like("a\\_b", "axb"));
    }
}
