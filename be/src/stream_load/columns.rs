//! The `columns` header: `k1,k2,tmp,v=tmp*10,dt=to_date(ts)` names the file's
//! columns in order and derives more with expressions over them. Expressions
//! run on DataFusion; a file column they use is typed by what its values parse
//! as (integer, float, datetime, else text), as Doris casts loosely here.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::common::DFSchema;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum Mapping {
    /// A column of the file, in file order.
    Source(String),
    /// A column computed from the file's columns.
    Derived { name: String, expr: String },
}

/// Splits the header at commas outside parentheses and quotes.
pub fn parse(header: &str) -> Result<Vec<Mapping>, String> {
    let mut items = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in header.char_indices() {
        match (c, quote) {
            ('\'' | '"', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            ('(', None) => depth += 1,
            (')', None) => depth -= 1,
            (',', None) if depth == 0 => {
                items.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&header[start..]);
    items
        .into_iter()
        .map(|item| match item.split_once('=') {
            Some((name, expr)) if !name.trim().is_empty() && !expr.trim().is_empty() => {
                Ok(Mapping::Derived {
                    name: name.trim().to_lowercase(),
                    expr: expr.trim().to_string(),
                })
            }
            Some(_) => Err(format!("[INVALID_ARGUMENT]bad column mapping: {item}")),
            None if item.trim().is_empty() => {
                Err("[INVALID_ARGUMENT]empty column name in columns".to_string())
            }
            None => Ok(Mapping::Source(item.trim().to_lowercase())),
        })
        .collect()
}

/// The narrowest of integer, float and datetime that every value parses as.
fn infer(text: &StringArray) -> Result<ArrayRef, String> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    for ty in [
        DataType::Int64,
        DataType::Float64,
        DataType::Timestamp(TimeUnit::Microsecond, None),
    ] {
        if let Ok(a) = cast_with_options(text, &ty, &strict) {
            return Ok(a);
        }
    }
    Ok(Arc::new(text.clone()))
}

/// Evaluates the derived columns over the file's columns; returns each as text,
/// named, to be converted like any file column.
pub fn derive(
    sources: &[String],
    text: &[StringArray],
    derived: &[(String, String)],
    timezone: Option<&str>,
) -> Result<Vec<(String, StringArray)>, String> {
    if derived.is_empty() {
        return Ok(Vec::new());
    }
    let typed: Vec<ArrayRef> = text.iter().map(infer).collect::<Result<_, _>>()?;
    let schema = Schema::new(
        sources
            .iter()
            .zip(&typed)
            .map(|(n, a)| Field::new(n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    let rows = text.first().map_or(0, Array::len);
    let batch = RecordBatch::try_new_with_options(
        Arc::new(schema.clone()),
        typed,
        &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| e.to_string())?;
    let mut config = datafusion::prelude::SessionConfig::new();
    if let Some(tz) = timezone {
        config = config.set_str("datafusion.execution.time_zone", tz);
    }
    let ctx = SessionContext::new_with_config(config);
    for f in basalt_common::doris_udfs() {
        ctx.register_udf(f);
    }
    let df_schema = DFSchema::try_from(schema).map_err(|e| e.to_string())?;
    derived
        .iter()
        .map(|(name, sql)| {
            let bad = |e: datafusion::error::DataFusionError| {
                format!("[ANALYSIS_ERROR]column mapping {name}={sql}: {e}")
            };
            let expr = ctx.parse_sql_expr(sql, &df_schema).map_err(bad)?;
            let physical = ctx.create_physical_expr(expr, &df_schema).map_err(bad)?;
            let value = physical
                .evaluate(&batch)
                .and_then(|v| v.into_array(rows))
                .map_err(bad)?;
            // A bitmap travels as its text (`1,2,3`) and an HLL as its
            // base64, as BITMAP and HLL columns read them.
            if value.data_type() == &DataType::Binary {
                let text = basalt_common::bitmap::to_text(&value).map_err(bad)?;
                return Ok((name.clone(), text));
            }
            if value.data_type() == &basalt_common::hll::ARROW_TYPE {
                let text = basalt_common::hll::to_base64(&value).map_err(bad)?;
                return Ok((name.clone(), text));
            }
            let as_text = cast_with_options(&value, &DataType::Utf8, &CastOptions::default())
                .map_err(|e| bad(e.into()))?;
            Ok((name.clone(), as_text.as_string::<i32>().clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_split_outside_parentheses() {
        let m = parse("k1, k2,tmp,v=tmp*10,s=concat(a, ',', b)").unwrap();
        assert_eq!(m[0], Mapping::Source("k1".into()));
        assert_eq!(m[2], Mapping::Source("tmp".into()));
        assert_eq!(
            m[3],
            Mapping::Derived {
                name: "v".into(),
                expr: "tmp*10".into()
            }
        );
        assert_eq!(
            m[4],
            Mapping::Derived {
                name: "s".into(),
                expr: "concat(a, ',', b)".into()
            }
        );
        assert!(parse("a,,b").is_err());
    }

    #[test]
    fn expressions_see_typed_file_columns() {
        let sources = vec!["tmp".to_string(), "ts".to_string()];
        let text = vec![
            StringArray::from(vec!["2", "5"]),
            StringArray::from(vec!["2024-01-02 10:00:00", "2024-03-04 00:00:00"]),
        ];
        let out = derive(
            &sources,
            &text,
            &[
                ("v".into(), "tmp * 10".into()),
                ("dt".into(), "to_date(ts)".into()),
            ],
            None,
        )
        .unwrap();
        assert_eq!(out[0].1, StringArray::from(vec!["20", "50"]));
        assert_eq!(
            out[1].1,
            StringArray::from(vec!["2024-01-02", "2024-03-04"])
        );
    }
}
