//! Doris's JSON for Stream Load: one object, an array of objects
//! (`strip_outer_array`), or one document per line (`read_json_by_line`);
//! `json_root` picks the part holding the rows and `jsonpaths` says where each
//! column's value is. Values become text and go through the same conversion
//! as CSV; a document that does not parse rejects its rows.

use super::csv::Rejects;
use super::options::LoadOptions;
use datafusion::arrow::array::StringArray;
use serde_json::Value;

/// One step of a JSON path: a key or an array index.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses `$.a.b`, `$.a[0]` and `$["a"]` paths.
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("[INVALID_ARGUMENT]invalid json path: {path}");
    let rest = path.trim().strip_prefix('$').ok_or_else(bad)?;
    let mut steps = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    key.push(n);
                    chars.next();
                }
                if key.is_empty() {
                    return Err(bad());
                }
                steps.push(Step::Key(key));
            }
            '[' => {
                let inner: String = chars.by_ref().take_while(|c| *c != ']').collect();
                let inner = inner.trim();
                match inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    Some(key) => steps.push(Step::Key(key.to_string())),
                    None => steps.push(Step::Index(inner.parse().map_err(|_| bad())?)),
                }
            }
            _ => return Err(bad()),
        }
    }
    Ok(steps)
}

fn select<'a>(mut v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    for step in path {
        v = match step {
            Step::Key(k) => v.get(k)?,
            Step::Index(i) => v.get(*i)?,
        };
    }
    Some(v)
}

/// A JSON value as the text a column is converted from; NULL stays NULL.
/// (Numbers keep the text serde_json gives them, so `num_as_string` needs no
/// separate path.)
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        other => Some(other.to_string()),
    }
}

/// The text columns (one per source column) and the number of rows read.
pub fn parse(
    body: &[u8],
    sources: &[String],
    opts: &LoadOptions,
    rejects: &mut Rejects,
) -> Result<(Vec<StringArray>, u64), String> {
    let root = match &opts.json_root {
        Some(p) => Some(parse_path(p)?),
        None => None,
    };
    let paths: Option<Vec<Vec<Step>>> = match &opts.jsonpaths {
        Some(text) => {
            let list: Vec<String> = serde_json::from_str(text).map_err(|e| {
                format!("[INVALID_ARGUMENT]jsonpaths is not a JSON array of strings: {e}")
            })?;
            if list.len() != sources.len() {
                return Err(format!(
                    "[INVALID_ARGUMENT]jsonpaths has {} paths for {} columns",
                    list.len(),
                    sources.len()
                ));
            }
            Some(
                list.iter()
                    .map(|p| parse_path(p))
                    .collect::<Result<_, _>>()?,
            )
        }
        None => None,
    };
    let documents: Vec<&[u8]> = if opts.read_json_by_line {
        body.split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .collect()
    } else {
        vec![body]
    };
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); sources.len()];
    let mut total = 0u64;
    for doc in documents {
        let value: Value = match serde_json::from_slice(doc) {
            Ok(v) => v,
            Err(e) => {
                total += 1;
                rejects.add(|| {
                    format!(
                        "Reason: Parse json data for JsonDoc failed. error info: {e}. src line [{}]; ",
                        String::from_utf8_lossy(doc)
                    )
                });
                continue;
            }
        };
        let Some(value) = root.as_ref().map_or(Some(&value), |r| select(&value, r)) else {
            total += 1;
            rejects.add(|| format!("Reason: JSON Root not found. src line [{value}]; "));
            continue;
        };
        let rows: Vec<&Value> = match value {
            Value::Array(items) if opts.strip_outer_array => items.iter().collect(),
            Value::Array(_) => return Err(
                "[DATA_QUALITY_ERROR]JSON data is array-object, `strip_outer_array` must be TRUE."
                    .into(),
            ),
            Value::Object(_) if !opts.strip_outer_array => vec![value],
            other => {
                total += 1;
                rejects.add(|| {
                    format!("Reason: JSON data is not an object as expected. src line [{other}]; ")
                });
                continue;
            }
        };
        for row in rows {
            total += 1;
            if !row.is_object() {
                rejects.add(|| format!("Reason: JSON data is not an object. src line [{row}]; "));
                continue;
            }
            for (i, col) in columns.iter_mut().enumerate() {
                let v = match &paths {
                    Some(p) => select(row, &p[i]),
                    None => row.get(&sources[i]).or_else(|| {
                        row.as_object()?
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&sources[i]))
                            .map(|(_, v)| v)
                    }),
                };
                col.push(v.and_then(text));
            }
        }
    }
    Ok((columns.into_iter().map(StringArray::from).collect(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let v: Value = serde_json::json!({"a": {"b": [10, {"c": "x"}]}, "k y": 1});
        let get = |p: &str| select(&v, &parse_path(p).unwrap()).cloned();
        assert_eq!(get("$.a.b[0]"), Some(serde_json::json!(10)));
        assert_eq!(get("$.a.b[1].c"), Some(serde_json::json!("x")));
        assert_eq!(get("$[\"k y\"]"), Some(serde_json::json!(1)));
        assert_eq!(get("$.missing"), None);
        assert!(parse_path("a.b").is_err());
    }
}
