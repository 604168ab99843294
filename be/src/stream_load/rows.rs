//! A Stream Load body to rows of the table: decompressed, parsed (CSV split
//! over the cores in line-aligned chunks; JSON whole), mapped by `columns`,
//! converted to the table's types, filtered by `where`, and given partitions.
//! Rows that cannot be loaded are rejected with their reasons.

use super::columns::{self, Mapping};
use super::csv::{self, Rejects};
use super::json;
use super::options::{Compression, Format, LoadOptions};
use basalt_common::sink::TabletSink;
use datafusion::arrow::array::{AsArray, BooleanArray, StringArray};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::prelude::SessionContext;

/// The loadable rows, each with its partition (an index into the sink's).
pub struct Parsed {
    pub batch: RecordBatch,
    pub partition_of: Vec<Option<usize>>,
    pub rejects: Rejects,
    /// Rows read from the body.
    pub total: u64,
    /// Rows `where` dropped.
    pub unselected: u64,
}

/// Chunks below this many lines are not worth a thread of their own.
const MIN_CHUNK_LINES: usize = 64 * 1024;

/// `max_bytes` bounds the body after decompression too.
pub fn to_rows(
    bytes: bytes::Bytes,
    sink: &TabletSink,
    opts: &LoadOptions,
    max_bytes: u64,
) -> Result<Parsed, String> {
    let bytes = decompress(bytes, opts.compress_type, max_bytes)?;
    let (sources, derived) = mappings(sink, opts)?;
    if opts.format == Format::Json {
        let mut rejects = Rejects::default();
        let (text, total) = json::parse(&bytes, &sources, opts, &mut rejects)?;
        let mut parsed = shape(sink, opts, sources, &derived, text, rejects)?;
        parsed.total = total;
        return Ok(parsed);
    }
    let lines = csv::lines(&bytes, opts);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = lines.len().div_ceil(threads).max(MIN_CHUNK_LINES);
    let parts: Vec<Result<Parsed, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = lines
            .chunks(chunk)
            .map(|part| {
                let (sources, derived) = (sources.clone(), &derived);
                scope.spawn(move || {
                    let mut rejects = Rejects::default();
                    let text = csv::parse(part, sources.len(), opts, &mut rejects);
                    let mut parsed = shape(sink, opts, sources, derived, text, rejects)?;
                    parsed.total = part.len() as u64;
                    Ok(parsed)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("[INTERNAL_ERROR]a parser failed".into()))
            })
            .collect()
    });
    let mut merged = Parsed {
        batch: RecordBatch::new_empty(sink.schema.arrow_schema()),
        partition_of: Vec::new(),
        rejects: Rejects::default(),
        total: 0,
        unselected: 0,
    };
    let mut batches = Vec::new();
    for part in parts {
        let part = part?;
        merged.partition_of.extend(part.partition_of);
        merged.rejects.merge(part.rejects);
        merged.total += part.total;
        merged.unselected += part.unselected;
        batches.push(part.batch);
    }
    if !batches.is_empty() {
        merged.batch =
            concat_batches(&sink.schema.arrow_schema(), &batches).map_err(|e| e.to_string())?;
    }
    Ok(merged)
}

/// Derived columns: (name, expression).
type Derived = Vec<(String, String)>;

/// The file's columns in order, and the derived ones.
fn mappings(sink: &TabletSink, opts: &LoadOptions) -> Result<(Vec<String>, Derived), String> {
    let Some(mappings) = &opts.columns else {
        let all = sink.schema.columns.iter().map(|c| c.name.clone()).collect();
        return Ok((all, Vec::new()));
    };
    let mut sources = Vec::new();
    let mut derived = Vec::new();
    for m in mappings {
        match m {
            Mapping::Source(name) => sources.push(name.clone()),
            Mapping::Derived { name, expr } => derived.push((name.clone(), expr.clone())),
        }
    }
    let known = |n: &String| {
        sink.schema
            .columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(n))
    };
    if let Some((unknown, _)) = derived.iter().find(|(n, _)| !known(n)) {
        return Err(format!(
            "[ANALYSIS_ERROR]Unknown column '{unknown}' in table '{}'",
            sink.table
        ));
    }
    Ok((sources, derived))
}

/// Text columns to rows of the table: derived columns, conversion, `where`,
/// partitions (and the `partitions` header).
fn shape(
    sink: &TabletSink,
    opts: &LoadOptions,
    mut sources: Vec<String>,
    derived: &[(String, String)],
    mut text: Vec<StringArray>,
    mut rejects: Rejects,
) -> Result<Parsed, String> {
    // A derived column replaces a file column of the same name.
    for (name, values) in columns::derive(&sources, &text, derived, opts.timezone.as_deref())? {
        match sources.iter().position(|s| *s == name) {
            Some(i) => text[i] = values,
            None => {
                sources.push(name);
                text.push(values);
            }
        }
    }
    let batch = csv::convert(&sink.schema, &sources, text, opts.strict_mode, &mut rejects)?;
    let mut unselected = 0;
    let batch = match &opts.where_clause {
        Some(clause) => {
            let keep = where_filter(&batch, clause)?;
            unselected = (keep.len() - keep.true_count()) as u64;
            filter_record_batch(&batch, &keep).map_err(|e| e.to_string())?
        }
        None => batch,
    };
    let mut partition_of = sink.partition_of_rows(&batch).map_err(|e| e.message)?;
    // The `partitions` header: rows of other partitions have none to go to.
    if let Some(names) = &opts.partitions {
        let allowed = names
            .iter()
            .map(|n| {
                sink.partitions
                    .iter()
                    .position(|p| p.name == *n)
                    .ok_or_else(|| {
                        format!(
                            "[ANALYSIS_ERROR]Unknown partition '{n}' in table '{}'",
                            sink.table
                        )
                    })
            })
            .collect::<Result<Vec<usize>, String>>()?;
        for p in &mut partition_of {
            if p.is_some_and(|i| !allowed.contains(&i)) {
                *p = None;
            }
        }
    }
    let batch = if partition_of.iter().any(Option::is_none) {
        let keep: Vec<bool> = partition_of.iter().map(Option::is_some).collect();
        for row in (0..batch.num_rows()).filter(|r| !keep[*r]) {
            rejects.add(|| {
                format!(
                    "Reason: no partition for this tuple. tuple={}. src line []; ",
                    csv::row_text(batch.columns(), row)
                )
            });
        }
        partition_of.retain(Option::is_some);
        filter_record_batch(&batch, &BooleanArray::from(keep)).map_err(|e| e.to_string())?
    } else {
        batch
    };
    Ok(Parsed {
        batch,
        partition_of,
        rejects,
        total: 0,
        unselected,
    })
}

/// The body as sent, before `compress_type`.
fn decompress(
    bytes: bytes::Bytes,
    kind: Option<Compression>,
    max_bytes: u64,
) -> Result<bytes::Bytes, String> {
    use std::io::Read;
    let Some(kind) = kind else {
        return Ok(bytes);
    };
    let reader: Box<dyn Read + '_> = match kind {
        Compression::Gz => Box::new(flate2::read::MultiGzDecoder::new(&bytes[..])),
        Compression::Deflate => Box::new(flate2::read::ZlibDecoder::new(&bytes[..])),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(&bytes[..])),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(&bytes[..])
                .map_err(|e| format!("[INTERNAL_ERROR]decompressing the zstd body failed: {e}"))?,
        ),
        Compression::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(&bytes[..])),
    };
    // A small body must not expand past the body limit.
    let mut out = Vec::with_capacity((bytes.len() as u64 * 4).min(max_bytes) as usize);
    reader
        .take(max_bytes + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("[INTERNAL_ERROR]decompressing the {kind:?} body failed: {e}"))?;
    if out.len() as u64 > max_bytes {
        return Err(format!(
            "[EXCEEDED_LIMIT]the decompressed body exceeds the limit of {max_bytes} bytes set by BE's conf streaming_load_max_mb"
        ));
    }
    Ok(out.into())
}

/// The rows a `where` header keeps (false and NULL drop a row).
fn where_filter(batch: &RecordBatch, clause: &str) -> Result<BooleanArray, String> {
    let bad =
        |e: datafusion::error::DataFusionError| format!("[ANALYSIS_ERROR]where {clause}: {e}");
    let ctx = SessionContext::new();
    let schema = DFSchema::try_from(batch.schema().as_ref().clone()).map_err(bad)?;
    let expr = ctx.parse_sql_expr(clause, &schema).map_err(bad)?;
    let predicate = ctx.create_physical_expr(expr, &schema).map_err(bad)?;
    let value = predicate
        .evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .map_err(bad)?;
    let Some(keep) = value.as_boolean_opt() else {
        return Err(format!("[ANALYSIS_ERROR]where {clause} is not a condition"));
    };
    // NULL counts as false.
    Ok(keep.iter().map(|v| Some(v == Some(true))).collect())
}
