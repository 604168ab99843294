//! Doris's CSV for Stream Load: rows split by `line_delimiter`, fields by
//! `column_separator` (both may be several bytes, which the csv and arrow-csv
//! crates cannot do, hence this splitter), `\N` as NULL, optional `enclose`
//! and `escape` bytes and `trim_double_quotes`. Every value is then converted
//! to its column's type; a row that cannot be is filtered with its reason.

use super::options::LoadOptions;
use basalt_common::schema::{TabletSchema, SEQUENCE_COL};
use basalt_common::types::DorisType;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, StringArray, StringBuilder,
};
use datafusion::arrow::compute::kernels::cast_utils::parse_decimal;
use datafusion::arrow::compute::{cast_with_options, filter, CastOptions};
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::arrow::record_batch::RecordBatch;
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

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

/// Cuts a CSV body into data lines as it arrives: split by `line_delimiter`
/// (not inside an enclosed field), after `skip_lines` (and a header line or
/// two for `csv_with_names[_and_types]`); empty lines are no rows, as in
/// Doris. The caller keeps the bytes from [`Self::rest`] on and drops the
/// lines' bytes when it hands them on.
pub struct LineSplitter {
    delim: Vec<u8>,
    enclose: Option<u8>,
    escape: Option<u8>,
    /// Where the incomplete last line begins.
    start: usize,
    /// Where scanning resumes.
    pos: usize,
    inside: bool,
    /// Lines still to skip.
    skip: usize,
}

impl LineSplitter {
    pub fn new(opts: &LoadOptions) -> Self {
        Self {
            delim: opts.line_delimiter.clone(),
            enclose: opts.enclose,
            escape: opts.escape.filter(|e| Some(*e) != opts.enclose),
            start: 0,
            pos: 0,
            inside: false,
            skip: opts.skip_lines + opts.header_lines(),
        }
    }

    /// Where the bytes not yet split into lines begin.
    pub fn rest(&self) -> usize {
        self.start
    }

    /// The caller dropped the first `n` bytes (at most [`Self::rest`]).
    pub fn dropped(&mut self, n: usize) {
        self.start -= n;
        self.pos -= n;
    }

    /// Appends the lines `buf` completes since the last call; at `eof` what
    /// remains is the last line.
    pub fn split(&mut self, buf: &[u8], eof: bool, out: &mut Vec<Range<usize>>) {
        let d = self.delim.len();
        match self.enclose {
            None => {
                let finder = memchr::memmem::Finder::new(&self.delim).into_owned();
                let from = self.pos;
                for at in finder.find_iter(&buf[from..]) {
                    let end = from + at;
                    self.line(buf, end, out);
                    self.start = end + d;
                }
                // A delimiter may straddle the end: look at its first bytes again.
                self.pos = buf.len().saturating_sub(d - 1).max(self.start);
            }
            Some(q) => self.split_enclosed(buf, q, eof, out),
        }
        if eof && self.start < buf.len() {
            self.line(buf, buf.len(), out);
            self.start = buf.len();
            self.pos = buf.len();
        }
    }

    /// Each enclose byte `q` turns "inside" on or off (a doubled one, RFC
    /// 4180's literal quote, twice); the escape byte takes the next byte
    /// literally. Jumps between the bytes that matter.
    fn split_enclosed(&mut self, buf: &[u8], q: u8, eof: bool, out: &mut Vec<Range<usize>>) {
        let first = self.delim[0];
        let mut i = self.pos;
        while i < buf.len() {
            let next = match self.escape {
                Some(e) => memchr::memchr3(q, e, first, &buf[i..]),
                None => memchr::memchr2(q, first, &buf[i..]),
            };
            let Some(offset) = next else {
                i = buf.len();
                break;
            };
            i += offset;
            let b = buf[i];
            if b == q {
                self.inside = !self.inside;
                i += 1;
            } else if Some(b) == self.escape && self.inside {
                // The escape byte counts only inside an enclosed field, as in `fields`.
                if i + 1 >= buf.len() && !eof {
                    break; // the escaped byte has not arrived
                }
                i += 2;
            } else if self.inside {
                i += 1;
            } else if buf.len() - i < self.delim.len() && !eof {
                break; // too few bytes left to tell whether a delimiter starts here
            } else if buf[i..].starts_with(&self.delim) {
                self.line(buf, i, out);
                i += self.delim.len();
                self.start = i;
            } else {
                i += 1;
            }
        }
        self.pos = i.min(buf.len());
    }

    fn line(&mut self, buf: &[u8], end: usize, out: &mut Vec<Range<usize>>) {
        let line = &buf[self.start..end];
        if line.is_empty() || line == b"\r" {
            return;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        out.push(self.start..end);
    }
}

/// Finds the column separator: `memchr` for a single byte (most files),
/// which is much cheaper per call than a substring search.
pub struct Separator {
    finder: memchr::memmem::Finder<'static>,
    byte: Option<u8>,
    len: usize,
}

impl Separator {
    pub fn new(sep: &[u8]) -> Self {
        Self {
            finder: memchr::memmem::Finder::new(sep).into_owned(),
            byte: (sep.len() == 1).then(|| sep[0]),
            len: sep.len(),
        }
    }

    fn find(&self, s: &[u8]) -> Option<usize> {
        match self.byte {
            Some(b) => memchr::memchr(b, s),
            None => self.finder.find(s),
        }
    }
}

/// The fields of one line. Fields borrow from the body unless an escape or a
/// doubled enclose inside an enclosed field makes them differ from it.
fn fields<'a>(line: &'a [u8], opts: &LoadOptions, sep: &Separator, out: &mut Vec<Cow<'a, [u8]>>) {
    out.clear();
    let mut i = 0;
    loop {
        let rest = &line[i..];
        match opts.enclose {
            // An enclosed field: a separator inside it is data; bytes between
            // its closing byte and the next separator are dropped.
            Some(q) if rest.first() == Some(&q) => {
                let escape = opts.escape.filter(|e| *e != q);
                let (field, used) = enclosed(&rest[1..], q, escape);
                out.push(field);
                i += 1 + used;
                match sep.find(&line[i..]) {
                    Some(at) => i += at + sep.len,
                    None => return,
                }
            }
            _ => match sep.find(rest) {
                Some(end) => {
                    out.push(Cow::Borrowed(&rest[..end]));
                    i += end + sep.len;
                }
                None => {
                    out.push(Cow::Borrowed(rest));
                    return;
                }
            },
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

/// Parses the data lines (of one block of `body`) into text columns, one per
/// source column; rows with the wrong number of fields or invalid UTF-8 are
/// rejected.
pub fn parse(
    body: &[u8],
    lines: &[&[u8]],
    sources: usize,
    opts: &LoadOptions,
    rejects: &mut Rejects,
) -> Vec<StringArray> {
    let sep = Separator::new(&opts.column_separator);
    // A valid UTF-8 block cut at valid UTF-8 separators, with ASCII enclose
    // and escape bytes removed, leaves valid fields: one check for the block.
    let ascii = |b: Option<u8>| b.is_none_or(|b| b.is_ascii());
    let text = (ascii(opts.enclose)
        && ascii(opts.escape)
        && std::str::from_utf8(&opts.column_separator).is_ok()
        && std::str::from_utf8(&opts.line_delimiter).is_ok())
    .then(|| std::str::from_utf8(body).ok())
    .flatten();
    let trim = opts.trim_double_quotes;
    let mut columns = builders(lines, sources, opts, &sep);
    let mut fields = Vec::with_capacity(sources);
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        self::fields(line, opts, &sep, &mut fields);
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
        let utf8 = |f: &[u8]| str_of(f, body, text).is_some();
        if !fields.iter().filter_map(|f| field(f, trim)).all(utf8) {
            rejects.add(|| "Reason: Unable to display. src line [Unable to display]; ".into());
            continue;
        }
        for (col, f) in columns.iter_mut().zip(&fields) {
            col.append_option(field(f, trim).and_then(|f| str_of(f, body, text)));
        }
    }
    columns.iter_mut().map(|b| b.finish()).collect()
}

/// Builders sized by the first lines' fields, so the values are not copied
/// again and again as they grow.
fn builders(
    lines: &[&[u8]],
    sources: usize,
    opts: &LoadOptions,
    sep: &Separator,
) -> Vec<StringBuilder> {
    let sample = &lines[..lines.len().min(64)];
    let mut bytes = vec![0usize; sources];
    let mut fields = Vec::new();
    for line in sample {
        self::fields(line, opts, sep, &mut fields);
        for (n, f) in bytes.iter_mut().zip(&fields) {
            *n += f.len();
        }
    }
    let scale = lines.len() as f64 / sample.len().max(1) as f64 * 1.2;
    bytes
        .into_iter()
        .map(|n| StringBuilder::with_capacity(lines.len(), (n as f64 * scale) as usize + 64))
        .collect()
}

/// A field's bytes after `trim_double_quotes`; `None` for `\\N` (NULL).
fn field(f: &[u8], trim_double_quotes: bool) -> Option<&[u8]> {
    let f = if trim_double_quotes {
        trim_quotes(f)
    } else {
        f
    };
    (f != b"\\N").then_some(f)
}

/// A field's text. Fields taken straight from a block known to be UTF-8
/// (`text`) need no check of their own.
fn str_of<'a>(f: &'a [u8], body: &[u8], text: Option<&'a str>) -> Option<&'a str> {
    let at = (f.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    match (text, at.checked_add(f.len())) {
        (Some(text), Some(end)) if end <= body.len() => text.get(at..end),
        _ => std::str::from_utf8(f).ok(),
    }
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
        // The sequence column follows `function_column.sequence_col`.
        let sequence = schema
            .sequence_col
            .as_deref()
            .filter(|_| col.name == SEQUENCE_COL);
        if let (None, Some(from)) = (src, sequence.and_then(|c| schema.index_of(c))) {
            arrays.push(Arc::clone(&arrays[from]));
            continue;
        }
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
        let out = match ty {
            _ if col.data_type == DorisType::Bitmap => basalt_common::bitmap::from_text(&input),
            _ if col.data_type == DorisType::Hll => basalt_common::hll::from_base64(&input),
            DataType::Decimal128(precision, scale) => to_decimal(&input, precision, scale, &safe)?,
            _ => col.data_type.convert(&input).map_err(|e| e.to_string())?,
        };
        let too_long = match col.data_type {
            DorisType::Char { len } | DorisType::Varchar { len } => Some(len as usize),
            _ => None,
        };
        // Most columns need no look at each row: every value converted, no
        // NULL where none may be, no string too long.
        let unconverted = strict && out.null_count() > input.null_count();
        let null_in_not_null = !col.nullable && out.null_count() > 0;
        let any_too_long = too_long.is_some_and(|len| {
            input
                .offsets()
                .windows(2)
                .any(|w| (w[1] - w[0]) as usize > len)
        });
        if !unconverted && !null_in_not_null && !any_too_long {
            arrays.push(out);
            continue;
        }
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

/// Text to DECIMAL: NULL where a value does not convert. Values with no more
/// decimals than the scale take arrow's plain parser; the rest (to be
/// rounded, or with spaces or exponents) arrow's cast, which rounds as Doris
/// does but formats a string per value, several times slower.
fn to_decimal(
    input: &StringArray,
    precision: u8,
    scale: i8,
    safe: &CastOptions,
) -> Result<ArrayRef, String> {
    let ty = DataType::Decimal128(precision, scale);
    // The length bound keeps arrow's digit counter (a u8) from wrapping.
    let plain = |s: &str| {
        let decimals = s.find('.').map_or(0, |dot| s.len() - dot - 1);
        !s.is_empty()
            && s.len() <= precision as usize + 2
            && decimals <= scale.max(0) as usize
            && s.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+'))
    };
    let values: Decimal128Array = input
        .iter()
        .map(|v| match v {
            None => Ok(None),
            Some(s) if plain(s) => Ok(parse_decimal::<Decimal128Type>(s, precision, scale).ok()),
            Some(s) => {
                let one = cast_with_options(&StringArray::from(vec![s]), &ty, safe)
                    .map_err(|e| e.to_string())?;
                let one = one.as_primitive::<Decimal128Type>();
                Ok(one.is_valid(0).then(|| one.value(0)))
            }
        })
        .collect::<Result<_, String>>()?;
    let values = values
        .with_precision_and_scale(precision, scale)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(values))
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
        let mut out = Vec::new();
        fields(
            line.as_bytes(),
            &opts,
            &Separator::new(&opts.column_separator),
            &mut out,
        );
        out.iter()
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

    /// The lines of `body`, fed to the splitter whole and byte by byte.
    fn lines(body: &[u8], headers: &[(&'static str, &str)]) -> Vec<String> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, v.parse().unwrap());
        }
        let opts = LoadOptions::from_headers(&h).unwrap();
        let text = |buf: &[u8], lines: Vec<Range<usize>>| -> Vec<String> {
            lines
                .into_iter()
                .map(|r| String::from_utf8_lossy(&buf[r]).to_string())
                .collect()
        };
        let mut whole = Vec::new();
        LineSplitter::new(&opts).split(body, true, &mut whole);
        let whole = text(body, whole);
        // Byte by byte, dropping each batch of complete lines as a caller does.
        let (mut splitter, mut buf, mut got) = (LineSplitter::new(&opts), Vec::new(), Vec::new());
        for (i, b) in body.iter().enumerate() {
            buf.push(*b);
            let mut out = Vec::new();
            splitter.split(&buf, i + 1 == body.len(), &mut out);
            got.extend(text(&buf, out));
            let n = splitter.rest();
            buf.drain(..n);
            splitter.dropped(n);
        }
        assert_eq!(whole, got, "split whole and byte by byte");
        whole
    }

    #[test]
    fn line_delimiters_inside_enclosed_fields_are_data() {
        let csv = [("column_separator", ","), ("enclose", "\"")];
        let body = b"1,\"two\nlines\"\n2,\"say \"\"hi\"\"\"\n\n3,plain\n";
        assert_eq!(
            lines(body, &csv),
            ["1,\"two\nlines\"", "2,\"say \"\"hi\"\"\"", "3,plain"]
        );
        let escaped = [
            ("enclose", "'"),
            ("escape", "\\"),
            ("line_delimiter", "\\r\\n"),
        ];
        assert_eq!(
            lines(b"'a\\'\r\nb'\r\nc\r\n\r\nd", &escaped),
            ["'a\\'\r\nb'", "c", "d"]
        );
        // Outside an enclosed field the escape byte is data.
        assert_eq!(
            lines(b"C:\\dir\\\n'x\\''\ny", &escaped[..2]),
            ["C:\\dir\\", "'x\\''", "y"]
        );
        let plain = [("line_delimiter", "||"), ("skip_lines", "1")];
        assert_eq!(lines(b"h||a||||b|c||", &plain), ["a", "b|c"]);
    }

    #[test]
    fn decimals_parse_plainly_round_past_the_scale_and_never_wrap() {
        let long = format!("1{}", "0".repeat(300));
        let input = StringArray::from(vec![
            Some("12.5"),
            Some("-.5"),
            Some("+7"),
            Some("12.345"),
            Some(long.as_str()),
            Some("x"),
            None,
        ]);
        let safe = CastOptions {
            safe: true,
            ..Default::default()
        };
        let out = to_decimal(&input, 10, 2, &safe).unwrap();
        let out = out.as_primitive::<Decimal128Type>();
        let got: Vec<Option<i128>> = out.iter().collect();
        assert_eq!(
            got,
            [
                Some(1250),
                Some(-50),
                Some(700),
                Some(1235),
                None,
                None,
                None
            ]
        );
    }
}
