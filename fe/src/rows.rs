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

/// Columns named `names`; those at the `ints` positions are Int64, the rest Utf8.
pub fn typed_cols(names: &[&'static str], ints: &[usize]) -> Vec<Col> {
    names
        .iter()
        .enumerate()
        .map(|(n, c)| {
            (
                *c,
                if ints.contains(&n) {
                    DataType::Int64
                } else {
                    DataType::Utf8
                },
            )
        })
        .collect()
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

/// MySQL's LIKE for SHOW: `%` any run, `_` one character, `\` escapes,
/// case-insensitive. Iterative with one backtrack point, so any pattern runs
/// in O(pattern x value) without recursion.
pub fn like(pattern: &str, value: &str) -> bool {
    // (literal?, char): `%` and `_` are wildcards unless escaped.
    let mut p: Vec<(bool, char)> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => p.push((true, chars.next().unwrap_or('\\'))),
            c => p.push((false, c)),
        }
    }
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some((false, '%')) => {
                star = Some((pi, vi));
                pi += 1;
            }
            Some((lit, c)) if (!lit && *c == '_') || c.eq_ignore_ascii_case(&v[vi]) => {
                pi += 1;
                vi += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    pi = sp + 1;
                    vi = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|(lit, c)| !lit && *c == '%')
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_matches_mysql() {
        assert!(super::like("char%", "character_set_client"));
        assert!(super::like("t_", "T1"));
        assert!(!super::like("t_", "t12"));
        assert!(super::like("a\\_b", "a_b") && !super::like("a\\_b", "axb"));
        assert!(super::like("%a%b%", "xxaxxbxx") && !super::like("%a%b%", "xxbxxaxx"));
        let hostile = format!("{}!", "%".repeat(100_000));
        assert!(!super::like(&hostile, &"x".repeat(1000)));
    }
}
