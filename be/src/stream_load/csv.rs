//! Doris's CSV for Stream Load: rows split by `line_delimiter`, fields by
//! `column_separator` (both may be several bytes, which the csv and arrow-csv
//! crates cannot do, hence this splitter), `\N` as NULL, optional `enclose`
//! and `escape` bytes and `trim_double_quotes`. Every value is then converted
//! to its column's type; a row that cannot be is filtered with its reason.

use super::options::LoadOptions;
use basalt_common::schema::TabletSchema;
use basalt_common::types::DorisType;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, StringArray, StringBuilder,
};
use datafusion::arrow::compute::{cast_with_options, filter, CastOptions};
use datafusion::arrow::record_batch::RecordBatch;
use std::borrow::Cow;

/// Rows a load refused, with the reason for each.
#[derive(Default)]
pub struct Rejects {
    pub count: u64,
    /// The first rows' reasons, for the error log.
    pub lines: Vec<String>,
}

/// How many rejected rows the error log describes (Doris's limit).
const MAX_LOGGED: usize = 50;

impl Rejects {
    /// Another part's rejects, after this part's.
    pub fn merge(&mut self, other: Rejects) {
        self.count += other.count - other.lines.len().min(MAX_LOGGED) as u64;
        for line in other.lines.into_iter().take(MAX_LOGGED) {
            self.add(|| line);
        }
    }

    pub fn add(&mut self, reason: impl FnOnce() -> String) {
        self.count += 1;
        match self.lines.len() {
            n if n < MAX_LOGGED => self.lines.push(reason()),
            MAX_LOGGED => self.lines.push(format!(
                "TOO MUCH ERROR! already reach {MAX_LOGGED}. show no more next error."
            )),
            _ => {}
        }
    }
}

/// The body's data lines: split by the delimiter (not inside an enclosed
/// field), after `skip_lines` (and a header line or two for
/// `csv_with_names[_and_types]`); empty lines are no rows, as in Doris.
pub fn lines<'a>(body: &'a [u8], opts: &LoadOptions) -> Vec<&'a [u8]> {
    let delim = opts.line_delimiter.as_slice();
    let mut out = Vec::new();
    match opts.enclose.filter(|q| memchr::memchr(*q, body).is_some()) {
        Some(q) => split_enclosed(body, delim, q, opts.escape, &mut out),
        None => {
            let mut start = 0;
            for at in memchr::memmem::find_iter(body, delim) {
                out.push(&body[start..at]);
                start = at + delim.len();
            }
            if start < body.len() {
                out.push(&body[start..]);
            }
        }
    }
    out.retain(|l: &&[u8]| !l.is_empty() && *l != b"\r");
    let skip = opts.skip_lines + opts.header_lines();
    out.into_iter().skip(skip).collect()
}

/// Splits at delimiters outside enclosed fields. Each enclose byte `q` turns
/// "inside" on or off (a doubled one, RFC 4180's literal quote, twice); the
/// escape byte takes the next byte literally. Jumps between the bytes that matter.
fn split_enclosed<'a>(
    body: &'a [u8],
    delim: &[u8],
    q: u8,
    escape: Option<u8>,
    out: &mut Vec<&'a [u8]>,
) {
    let first = delim[0];
    let (mut start, mut i, mut inside) = (0, 0, false);
    while i < body.len() {
        let next = match escape.filter(|e| *e != q) {
            Some(e) => memchr::memchr3(q, e, first, &body[i..]),
            None => memchr::memchr2(q, first, &body[i..]),
        };
        let Some(offset) = next else { break };
        i += offset;
        let b = body[i];
        if b == q {
            inside = !inside;
            i += 1;
        } else if Some(b) == escape {
            i += 2;
        } else if !inside && body[i..].starts_with(delim) {
            out.push(&body[start..i]);
            i += delim.len();
            start = i;
        } else {
            i += 1;
        }
    }
    if start < body.len() {
        out.push(&body[start..]);
    }
}

/// The fields of one line. Fields borrow from the body unless an escape or a
/// doubled enclose inside an enclosed field makes them differ from it.
pub fn fields<'a>(line: &'a [u8], opts: &LoadOptions) -> Vec<Cow<'a, [u8]>> {
    let sep = opts.column_separator.as_slice();
    let finder = memchr::memmem::Finder::new(sep);
    let mut out: Vec<Cow<[u8]>> = Vec::new();
    let mut i = 0;
    loop {
        let rest = &line[i..];
        let field = match opts.enclose {
            // An enclosed field: a separator inside it is data.
            Some(q) if rest.first() == Some(&q) => {
                let (field, used) = enclosed(&rest[1..], q, opts.escape);
                i += 1 + used;
                field
            }
            _ => {
                let end = finder.find(rest).unwrap_or(rest.len());
                i += end;
                Cow::Borrowed(&rest[..end])
            }
        };
        out.push(field);
        // Past the field: the next separator (bytes before it are dropped).
        match finder.find(&line[i..]) {
            Some(at) => i += at + sep.len(),
            None => return out,
        }
    }
}

/// An enclosed field's text (after the opening byte `q`) and how many bytes
/// it took with its closing `q`. `escape` makes the next byte literal, and a
/// doubled `q` stands for one, as in RFC 4180.
fn enclosed(s: &[u8], q: u8, escape: Option<u8>) -> (Cow<'_, [u8]>, usize) {
    let mut owned: Option<Vec<u8>> = None;
    let mut j = 0;
    while j < s.len() {
        let b = s[j];
        let literal = if Some(b) == escape && j + 1 < s.len() {
            Some(s[j + 1])
        } else if b == q && s.get(j + 1) == Some(&q) {
            Some(q)
        } else if b == q {
            let text = owned.map_or(Cow::Borrowed(&s[..j]), Cow::Owned);
            return (text, j + 1);
        } else {
            None
        };
        match literal {
            Some(c) => {
                owned.get_or_insert_with(|| s[..j].to_vec()).push(c);
                j += 2;
            }
            None => {
                if let Some(o) = owned.as_mut() {
                    o.push(b);
                }
                j += 1;
            }
        }
    }
    // Not closed: the rest of the line.
    (owned.map_or(Cow::Borrowed(s), Cow::Owned), s.len())
}

/// Parses the data lines into text columns, one per source column; rows with
/// the wrong number of fields or invalid UTF-8 are rejected.
pub fn parse(
    lines: &[&[u8]],
    sources: usize,
    opts: &LoadOptions,
    rejects: &mut Rejects,
) -> Vec<StringArray> {
    // Builders take the field bytes straight from the body: no string per cell.
    let mut columns: Vec<StringBuilder> = (0..sources)
        .map(|_| StringBuilder::with_capacity(lines.len(), lines.len() * 8))
        .collect();
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let fields = fields(line, opts);
        if fields.len() != sources {
            rejects.add(|| {
                let (more, less) = ("more", "less");
                format!(
                    "Reason: actual column number in csv file is {} than schema column number.actual number: {}, column separator: [{}], line delimiter: [{}], schema column number: {sources}; . src line [{}]; ",
                    if fields.len() > sources { more } else { less },
                    fields.len(),
                    String::from_utf8_lossy(&opts.column_separator),
                    String::from_utf8_lossy(&opts.line_delimiter),
                    String::from_utf8_lossy(line)
                )
            });
            continue;
        }
        let field = |f| text_field(f, opts.trim_double_quotes);
        if fields.iter().any(|f| field(f).is_none()) {
            rejects.add(|| "Reason: Unable to display. src line [Unable to display]; ".into());
            continue;
        }
        for (col, f) in columns.iter_mut().zip(&fields) {
            col.append_option(field(f).flatten());
        }
    }
    columns.iter_mut().map(|b| b.finish()).collect()
}

/// A field's text: `None` when it is not UTF-8, `Some(None)` for `\\N` (NULL).
fn text_field(f: &[u8], trim_double_quotes: bool) -> Option<Option<&str>> {
    let f = if trim_double_quotes {
        trim_quotes(f)
    } else {
        f
    };
    if f == b"\\N" {
        return Some(None);
    }
    std::str::from_utf8(f).ok().map(Some)
}

fn trim_quotes(f: &[u8]) -> &[u8] {
    match f {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    }
}

/// Converts text columns (named by `source_names`) to the table's columns.
/// A column absent from the source gets its default or NULL. A value that does
/// not convert is NULL, or rejects its row in strict mode; NULL in a NOT NULL
/// column and strings longer than the column reject the row.
pub fn convert(
    schema: &TabletSchema,
    source_names: &[String],
    text: Vec<StringArray>,
    strict: bool,
    rejects: &mut Rejects,
) -> Result<RecordBatch, String> {
    let rows = text.first().map_or(0, Array::len);
    let mut keep = vec![true; rows];
    let mut reasons: Vec<Option<String>> = vec![None; rows];
    let safe = CastOptions {
        safe: true,
        ..Default::default()
    };
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.columns.len());
    for col in &schema.columns {
        let ty = col.data_type.to_arrow();
        let src = source_names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(&col.name));
        let input: StringArray = match (src, col.default_value.as_deref()) {
            (Some(i), _) => text[i].clone(),
            (None, None | Some("NULL")) => StringArray::new_null(rows),
            (None, Some("CURRENT_TIMESTAMP")) => {
                let now = chrono::Utc::now()
                    .naive_utc()
                    .format("%Y-%m-%d %H:%M:%S%.6f");
                StringArray::from(vec![now.to_string(); rows])
            }
            (None, Some(d)) => StringArray::from(vec![d; rows]),
        };
        let out = cast_with_options(&input, &ty, &safe).map_err(|e| e.to_string())?;
        let too_long = match col.data_type {
            DorisType::Char { len } | DorisType::Varchar { len } => Some(len as usize),
            _ => None,
        };
        for row in 0..rows {
            if !keep[row] {
                continue;
            }
            let why = if input.is_valid(row) && out.is_null(row) && strict {
                Some(format!(
                    "column({}) value is incorrect while strict mode is true, src value is {}",
                    col.name,
                    input.value(row)
                ))
            } else if out.is_null(row) && !col.nullable {
                Some(format!(
                    "column({}) values is null while columns is not nullable",
                    col.name
                ))
            } else if let Some(len) =
                too_long.filter(|len| input.is_valid(row) && input.value(row).len() > *len)
            {
                let v = input.value(row);
                let prefix = String::from_utf8_lossy(&v.as_bytes()[..v.len().min(32)]).into_owned();
                Some(format!(
                    "column_name[{}], the length of input is too long than schema. first 32 bytes of input str: [{prefix}] schema length: {len}; actual length: {}; ",
                    col.name,
                    v.len()
                ))
            } else {
                None
            };
            if let Some(why) = why {
                keep[row] = false;
                reasons[row] = Some(why);
            }
        }
        arrays.push(out);
    }
    for (row, why) in reasons.iter().enumerate() {
        if let Some(why) = why {
            let line: Vec<&str> = text
                .iter()
                .map(|c| if c.is_valid(row) { c.value(row) } else { "\\N" })
                .collect();
            rejects.add(|| format!("Reason: {why}. src line [{}]; ", line.join(",")));
        }
    }
    // Filter before building the batch: a rejected row may hold NULL in a NOT NULL column.
    let keep = BooleanArray::from(keep);
    let arrays = arrays
        .iter()
        .map(|a| filter(a, &keep))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    RecordBatch::try_new(schema.arrow_schema(), arrays).map_err(|e| e.to_string())
}

/// The text of one row's source columns, for the error log.
pub fn row_text(columns: &[ArrayRef], row: usize) -> String {
    columns
        .iter()
        .map(|c| match c.as_string_opt::<i32>() {
            Some(s) if s.is_valid(row) => s.value(row).to_string(),
            _ => {
                datafusion::arrow::util::display::array_value_to_string(c, row).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn split(line: &str, headers: &[(&'static str, &str)]) -> Vec<String> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        let opts = LoadOptions::from_headers(&h).unwrap();
        fields(line.as_bytes(), &opts)
            .iter()
            .map(|f| String::from_utf8_lossy(f).to_string())
            .collect()
    }

    #[test]
    fn enclosed_fields_keep_separators_and_unescape() {
        let csv = [("column_separator", ","), ("enclose", "\"")];
        assert_eq!(split("1,\"a,b\",c", &csv), ["1", "a,b", "c"]);
        assert_eq!(split("\"say \"\"hi\"\"\",2", &csv), ["say \"hi\"", "2"]);
        assert_eq!(split(",,", &csv), ["", "", ""]);
        assert_eq!(split("\"open,end", &csv), ["open,end"]);
        let escaped = [
            ("column_separator", "||"),
            ("enclose", "'"),
            ("escape", "\\"),
        ];
        assert_eq!(split("'it\\'s'||x", &escaped), ["it's", "x"]);
        assert_eq!(split("a||b", &[("column_separator", "||")]), ["a", "b"]);
        assert_eq!(split("1,\"a\nb\"", &csv), ["1", "a\nb"]);
    }

    #[test]
    fn line_delimiters_inside_enclosed_fields_are_data() {
        let mut h = HeaderMap::new();
        h.insert("column_separator", ",".parse().unwrap());
        h.insert("enclose", "\"".parse().unwrap());
        let opts = LoadOptions::from_headers(&h).unwrap();
        let body = b"1,\"two\nlines\"\n2,\"say \"\"hi\"\"\"\n\n3,plain\n";
        let got: Vec<&[u8]> = lines(body, &opts);
        assert_eq!(
            got,
            vec![
                &b"1,\"two\nlines\""[..],
                &b"2,\"say \"\"hi\"\"\""[..],
                &b"3,plain"[..]
            ]
        );
    }
}
