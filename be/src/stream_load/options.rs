//! Stream Load's request headers, with Doris's names and defaults.

use axum::http::HeaderMap;

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub label: Option<String>,
    pub format: Format,
    pub column_separator: Vec<u8>,
    pub line_delimiter: Vec<u8>,
    pub enclose: Option<u8>,
    pub escape: Option<u8>,
    pub trim_double_quotes: bool,
    pub skip_lines: usize,
    /// The `columns` header: the file's columns in order, and derived ones.
    pub columns: Option<Vec<super::columns::Mapping>>,
    pub where_clause: Option<String>,
    pub max_filter_ratio: f64,
    pub strict_mode: bool,
    pub compress_type: Option<Compression>,
    pub two_phase_commit: bool,
    /// Echoed as the answer's Comment.
    pub comment: String,
    /// The body's length, when the client said it.
    pub content_length: Option<u64>,
    /// `timezone` (or `time_zone`): the zone of time functions in `columns`.
    pub timezone: Option<String>,
    /// The `partitions` header: rows of other partitions are filtered.
    pub partitions: Option<Vec<String>>,
    /// `group_commit`: `Some(true)` for sync_mode, `Some(false)` for async_mode.
    pub group_commit: Option<bool>,
    pub timeout_second: Option<u64>,
    pub strip_outer_array: bool,
    pub read_json_by_line: bool,
    pub jsonpaths: Option<String>,
    pub json_root: Option<String>,
    /// `merge_type` with its `delete` condition (UNIQUE tables).
    pub merge_type: MergeType,
    /// `function_column.sequence_col`: the file column feeding the sequence column.
    pub sequence_col: Option<String>,
    /// `partial_columns: true`: a partial update of the columns the load names.
    pub partial_columns: bool,
}

/// How a load's rows apply to a UNIQUE table: upserted, deleted, or each by
/// the `delete` condition.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeType {
    Append,
    Delete,
    Merge { delete: String },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compression {
    Gz,
    Lz4,
    Zstd,
    Bz2,
    Deflate,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Csv,
    CsvWithNames,
    CsvWithNamesAndTypes,
    Json,
}

impl LoadOptions {
    /// Header lines that name (and type) the columns rather than hold data.
    pub fn header_lines(&self) -> usize {
        match self.format {
            Format::Csv | Format::Json => 0,
            Format::CsvWithNames => 1,
            Format::CsvWithNamesAndTypes => 2,
        }
    }

    pub fn from_headers(h: &HeaderMap) -> Result<Self, String> {
        let get = |name: &str| {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let flag = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let delete = get("delete").filter(|d| !d.trim().is_empty());
        let merge_type =
            match get("merge_type").map(|m| m.to_ascii_uppercase()).as_deref() {
                None | Some("APPEND") if delete.is_none() => MergeType::Append,
                Some("DELETE") if delete.is_none() => MergeType::Delete,
                Some("MERGE") => MergeType::Merge {
                    delete: delete.ok_or(
                        "[INVALID_ARGUMENT]Excepted DELETE ON clause when merge type is MERGE.",
                    )?,
                },
                Some("APPEND" | "DELETE") | None => return Err(
                    "[INVALID_ARGUMENT]not support DELETE ON clause when merge type is not MERGE."
                        .into(),
                ),
                Some(other) => {
                    return Err(format!(
                        "[INVALID_ARGUMENT]unknown merge type {other}: APPEND, DELETE or MERGE"
                    ))
                }
            };
        let format = match get("format").map(|f| f.to_ascii_lowercase()).as_deref() {
            None | Some("csv") => Format::Csv,
            Some("csv_with_names") => Format::CsvWithNames,
            Some("csv_with_names_and_types") => Format::CsvWithNamesAndTypes,
            Some("json") => Format::Json,
            Some(other) => {
                return Err(format!(
                    "[NOT_IMPLEMENTED_ERROR]format {other} is not supported yet"
                ))
            }
        };
        let byte = |name: &str| -> Result<Option<u8>, String> {
            match get(name).map(|v| unescape(&v)) {
                None => Ok(None),
                Some(b) if b.len() == 1 => Ok(Some(b[0])),
                Some(_) => Err(format!(
                    "[INVALID_ARGUMENT]{name} must be a single character"
                )),
            }
        };
        let column_separator = get("column_separator").map_or(vec![b'\t'], |v| unescape(&v));
        let line_delimiter = get("line_delimiter").map_or(vec![b'\n'], |v| unescape(&v));
        if column_separator.is_empty() || line_delimiter.is_empty() {
            return Err(
                "[INVALID_ARGUMENT]column_separator and line_delimiter cannot be empty".into(),
            );
        }
        let max_filter_ratio = match get("max_filter_ratio") {
            None => 0.0,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("[INVALID_ARGUMENT]invalid max_filter_ratio: {v}"))?,
        };
        let skip_lines = match get("skip_lines") {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| format!("[INVALID_ARGUMENT]invalid skip_lines: {v}"))?,
        };
        let columns = match get("columns").filter(|c| !c.trim().is_empty()) {
            None => None,
            Some(v) => Some(super::columns::parse(&v)?),
        };
        let compress_type = match get("compress_type")
            .map(|c| c.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("plain") => None,
            Some("gz") | Some("gzip") => Some(Compression::Gz),
            Some("lz4") | Some("lz4frame") => Some(Compression::Lz4),
            Some("zstd") => Some(Compression::Zstd),
            Some("bz2") | Some("bzip2") => Some(Compression::Bz2),
            Some("deflate") => Some(Compression::Deflate),
            Some(other) => return Err(format!("[INVALID_ARGUMENT]unknown compress_type {other}")),
        };
        let timeout_second = match get("timeout") {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("[INVALID_ARGUMENT]Invalid timeout format, {v}"))?,
            ),
        };
        let group_commit =
            match get("group_commit")
                .map(|g| g.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("off_mode") => None,
                Some("sync_mode") => Some(true),
                Some("async_mode") => Some(false),
                Some(_) => return Err(
                    "[INVALID_ARGUMENT]group_commit can only be [async_mode, sync_mode, off_mode]"
                        .into(),
                ),
            };
        if get("temporary_partitions").is_some() {
            return Err("[NOT_IMPLEMENTED_ERROR]temporary partitions are not supported yet".into());
        }
        let partitions = get("partitions").filter(|p| !p.trim().is_empty()).map(|p| {
            p.split(',')
                .map(|n| n.trim().trim_matches('`').to_string())
                .collect::<Vec<_>>()
        });
        // Accepted and checked; a load's memory is bounded by its body today.
        if let Some(v) = get("exec_mem_limit") {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("[INVALID_ARGUMENT]Invalid mem limit format, {v}"))?;
        }
        Ok(Self {
            content_length: get("content-length").and_then(|v| v.trim().parse().ok()),
            comment: get("comment").unwrap_or_default(),
            timezone: get("timezone")
                .or_else(|| get("time_zone"))
                .filter(|t| !t.trim().is_empty()),
            partitions,
            group_commit,
            timeout_second,
            compress_type,
            // Doris compares this header case-sensitively.
            two_phase_commit: get("two_phase_commit").is_some_and(|v| v == "true"),
            strip_outer_array: flag("strip_outer_array"),
            read_json_by_line: flag("read_json_by_line"),
            jsonpaths: get("jsonpaths").filter(|p| !p.trim().is_empty()),
            json_root: get("json_root").filter(|p| !p.trim().is_empty()),
            merge_type,
            sequence_col: get("function_column.sequence_col").filter(|c| !c.trim().is_empty()),
            partial_columns: flag("partial_columns"),
            label: get("label").filter(|l| !l.is_empty()),
            format,
            column_separator,
            line_delimiter,
            enclose: byte("enclose")?,
            escape: byte("escape")?,
            trim_double_quotes: flag("trim_double_quotes"),
            skip_lines,
            columns,
            where_clause: get("where").filter(|w| !w.trim().is_empty()),
            max_filter_ratio,
            strict_mode: flag("strict_mode"),
        })
    }
}

/// Doris's separator syntax: `\xHH` bytes (`\x01`), `\t`, `\n`, `\r`, `\\`.
fn unescape(v: &str) -> Vec<u8> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // An escape: the byte it stands for and how many bytes it takes.
        let escaped = match b.get(i + 1).filter(|_| b[i] == b'\\') {
            Some(b'x' | b'X') => b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .map(|byte| (byte, 4)),
            Some(b't') => Some((b'\t', 2)),
            Some(b'n') => Some((b'\n', 2)),
            Some(b'r') => Some((b'\r', 2)),
            Some(b'\\') => Some((b'\\', 2)),
            _ => None,
        };
        let (byte, len) = escaped.unwrap_or((b[i], 1));
        out.push(byte);
        i += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn separators_in_doris_syntax() {
        assert_eq!(unescape("\\x01"), vec![1]);
        assert_eq!(unescape("\\x01\\x02"), vec![1, 2]);
        assert_eq!(unescape("||"), b"||".to_vec());
        assert_eq!(unescape("\\t"), b"\t".to_vec());
        assert_eq!(unescape("\\r\\n"), b"\r\n".to_vec());
        assert_eq!(unescape("a\\"), b"a\\".to_vec());
    }
}
