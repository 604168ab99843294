//! Doris's JSON for Stream Load: one object, an array of objects
//! (`strip_outer_array`), or one document per line (`read_json_by_line`);
//! `json_root` picks the part holding the rows and `jsonpaths` says where each
//! column's value is. Values become text and go through the same conversion
//! as CSV; a document that does not parse rejects its rows.
//!
//! Documents are read as serde_json `RawValue`s, opened one level at a time
//! along the path to a value, so a number keeps the exact text it was written
//! in: serde_json's `Value` holds numbers as u64, i64 or f64, which rounds a
//! DECIMAL(27, 9) or a LARGEINT (its `arbitrary_precision` feature would change
//! how every crate in the build reads JSON numbers).

use super::csv::Rejects;
use super::options::LoadOptions;
use datafusion::arrow::array::StringArray;
use serde_json::value::RawValue;
use std::collections::HashMap;

type Raw<'a> = &'a RawValue;

/// A value's JSON text, without the whitespace around it.
fn json<'a>(v: Raw<'a>) -> &'a str {
    v.get().trim()
}

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

/// The members of a JSON object, or `None` for another value.
fn members(v: Raw<'_>) -> Option<HashMap<String, Raw<'_>>> {
    json(v)
        .starts_with('{')
        .then(|| serde_json::from_str(json(v)).ok())
        .flatten()
}

fn select<'a>(mut v: Raw<'a>, path: &[Step]) -> Option<Raw<'a>> {
    for step in path {
        v = match step {
            Step::Key(k) => members(v)?.remove(k)?,
            Step::Index(i) => {
                let items: Vec<Raw<'a>> = match json(v).starts_with('[') {
                    true => serde_json::from_str(json(v)).ok()?,
                    false => return None,
                };
                *items.get(*i)?
            }
        };
    }
    Some(v)
}

/// A JSON value as the text a column is converted from; NULL stays NULL. A
/// number is its text as written; an object or array its JSON.
fn text(v: Raw<'_>) -> Option<String> {
    match json(v).as_bytes().first() {
        Some(b'n') => None,
        Some(b't') => Some("1".into()),
        Some(b'f') => Some("0".into()),
        Some(b'"') => serde_json::from_str(json(v)).ok(),
        _ => Some(json(v).to_string()),
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
        let value: Raw<'_> = match serde_json::from_slice(doc) {
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
        let Some(value) = root.as_ref().map_or(Some(value), |r| select(value, r)) else {
            total += 1;
            let doc = json(value);
            rejects.add(|| format!("Reason: JSON Root not found. src line [{doc}]; "));
            continue;
        };
        let array = json(value).starts_with('[');
        let rows: Vec<Raw<'_>> = match (array, opts.strip_outer_array) {
            (true, true) => serde_json::from_str(json(value)).map_err(|e| e.to_string())?,
            (true, false) => return Err(
                "[DATA_QUALITY_ERROR]JSON data is array-object, `strip_outer_array` must be TRUE."
                    .into(),
            ),
            (false, false) if json(value).starts_with('{') => vec![value],
            _ => {
                total += 1;
                let other = json(value);
                rejects.add(|| {
                    format!("Reason: JSON data is not an object as expected. src line [{other}]; ")
                });
                continue;
            }
        };
        for row in rows {
            total += 1;
            let Some(mut object) = members(row) else {
                let row = json(row);
                rejects.add(|| format!("Reason: JSON data is not an object. src line [{row}]; "));
                continue;
            };
            for (i, col) in columns.iter_mut().enumerate() {
                let v = match &paths {
                    Some(p) => select(row, &p[i]),
                    None => object.remove(&sources[i]).or_else(|| {
                        object
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(&sources[i]))
                            .map(|(_, v)| *v)
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
        let v: Raw<'_> =
            serde_json::from_str(r#"{"a": {"b": [10, {"c": "x"}]}, "k y": 1}"#).unwrap();
        let get = |p: &str| select(v, &parse_path(p).unwrap()).and_then(text);
        assert_eq!(get("$.a.b[0]").as_deref(), Some("10"));
        assert_eq!(get("$.a.b[1].c").as_deref(), Some("x"));
        assert_eq!(get("$[\"k y\"]").as_deref(), Some("1"));
        assert_eq!(get("$.missing"), None);
        assert!(parse_path("a.b").is_err());
    }

    #[test]
    fn numbers_keep_the_text_they_were_written_in() {
        let v: Raw<'_> = serde_json::from_str(
            r#"{"d": 123456789012345678.123456789, "l": -170141183460469231731687303715884105728, "s": "a\"b", "n": null, "t": true}"#,
        )
        .unwrap();
        let get = |k: &str| select(v, &[Step::Key(k.into())]).and_then(text);
        assert_eq!(get("d").as_deref(), Some("123456789012345678.123456789"));
        assert_eq!(
            get("l").as_deref(),
            Some("-170141183460469231731687303715884105728")
        );
        assert_eq!(get("s").as_deref(), Some("a\"b"));
        assert_eq!(get("n"), None);
        assert_eq!(get("t").as_deref(), Some("1"));
    }
}
