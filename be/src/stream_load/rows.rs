//! A block of a Stream Load body to rows of the table: parsed (CSV lines of
//! a block; JSON whole), mapped by `columns`, converted to the table's types,
//! filtered by `where`, and given partitions. Rows that cannot be loaded are
//! rejected with their reasons. Blocks are parsed on several threads at once.

use super::body::Block;
use super::columns::{self, Mapping};
use super::csv::{self, Rejects};
use super::json;
use super::options::{LoadOptions, MergeType};
use basalt_common::schema::{mark_partial, DELETE_SIGN, SEQUENCE_COL};
use basalt_common::sink::TabletSink;
use basalt_common::types::DorisType;
use datafusion::arrow::array::{AsArray, BooleanArray, StringArray};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::prelude::SessionContext;

/// The loadable rows of a block, each with its partition (an index into the sink's).
pub struct Parsed {
    pub batch: RecordBatch,
    pub partition_of: Vec<Option<usize>>,
    pub rejects: Rejects,
    /// Rows read from the block.
    pub total: u64,
    /// Rows `where` dropped.
    pub unselected: u64,
}

/// Where the values of the table's columns come from: the file's columns in
/// order, and the derived ones (name, expression).
#[derive(Clone)]
pub struct Sources {
    pub file: Vec<String>,
    pub derived: Derived,
    /// A partial update: the table columns the load gives.
    pub partial: Option<Vec<usize>>,
}

pub fn parse(
    block: Block,
    sink: &TabletSink,
    opts: &LoadOptions,
    sources: &Sources,
) -> Result<Parsed, String> {
    let start = std::time::Instant::now();
    let mut rejects = Rejects::default();
    let (text, total) = match &block {
        Block::Json(bytes) => json::parse(bytes, &sources.file, opts, &mut rejects)?,
        Block::Csv { bytes, lines } => {
            let lines: Vec<&[u8]> = lines.iter().map(|r| &bytes[r.clone()]).collect();
            let text = csv::parse(bytes, &lines, sources.file.len(), opts, &mut rejects);
            (text, lines.len() as u64)
        }
    };
    drop(block);
    let mut parsed = shape(sink, opts, sources, text, rejects)?;
    parsed.total = total;
    crate::metrics::add_elapsed(&crate::metrics::STREAM_LOAD_READ_NS, start);
    Ok(parsed)
}

/// Derived columns: (name, expression).
type Derived = Vec<(String, String)>;

/// Where the table's columns come from, by the `columns` header.
pub fn sources(sink: &TabletSink, opts: &LoadOptions) -> Result<Sources, String> {
    let mut sources = Vec::new();
    let mut derived = Vec::new();
    match &opts.columns {
        None => {
            let visible = &sink.schema.columns[..sink.schema.num_visible_columns()];
            sources = visible.iter().map(|c| c.name.clone()).collect();
        }
        Some(mappings) => {
            for m in mappings {
                match m {
                    Mapping::Source(name) => sources.push(name.clone()),
                    Mapping::Derived { name, expr } => derived.push((name.clone(), expr.clone())),
                }
            }
        }
    }
    // Doris turns the merge type and the sequence header into mappings of
    // the hidden columns, and so does Basalt.
    let unique = sink.schema.delete_sign().is_some();
    let sign = match &opts.merge_type {
        MergeType::Append => None,
        _ if !unique => {
            return Err(
                "[ANALYSIS_ERROR]load by MERGE or DELETE is only supported in unique tables."
                    .into(),
            )
        }
        MergeType::Delete => Some("1".to_string()),
        MergeType::Merge { delete } => Some(format!("CASE WHEN ({delete}) THEN 1 ELSE 0 END")),
    };
    if let Some(sign) = sign {
        derived.push((DELETE_SIGN.to_lowercase(), sign));
    }
    if let Some(col) = &opts.sequence_col {
        if sink.schema.sequence().is_none() {
            return Err(format!(
                "[ANALYSIS_ERROR]There is no sequence column in the table {}.",
                sink.table
            ));
        }
        let col = col.trim().to_lowercase().replace('"', "\"\"");
        derived.push((SEQUENCE_COL.to_lowercase(), format!("\"{col}\"")));
    }
    let fed = |n: &str| {
        sources.iter().any(|s| s.eq_ignore_ascii_case(n))
            || derived.iter().any(|(d, _)| d.eq_ignore_ascii_case(n))
    };
    if sink.schema.sequence().is_some() && sink.schema.sequence_col.is_none() && !fed(SEQUENCE_COL)
    {
        return Err(format!(
            "[ANALYSIS_ERROR]Table {} has sequence column, need to specify the sequence column",
            sink.table
        ));
    }
    let known = |n: &String| sink.schema.index_of(n).is_some();
    if let Some((unknown, _)) = derived.iter().find(|(n, _)| !known(n)) {
        return Err(format!(
            "[ANALYSIS_ERROR]Unknown column '{unknown}' in table '{}'",
            sink.table
        ));
    }
    // An HLL column is made by a function (Doris's rule): its file text is no sketch.
    let hll = |n: &String| {
        sink.schema
            .index_of(n)
            .is_some_and(|i| sink.schema.columns[i].data_type == DorisType::Hll)
    };
    if let Some(name) = sources.iter().find(|n| hll(n)) {
        return Err(format!(
            "[ANALYSIS_ERROR]HLL column must use hll_hash function, like {name}=hll_hash(xxx) or {name}=hll_empty()"
        ));
    }
    let partial = match opts.partial_columns {
        false => None,
        true => Some(partial_columns(sink, &sources, &derived)?),
    };
    Ok(Sources {
        file: sources,
        derived,
        partial,
    })
}

/// The columns a partial update gives (Doris's rules: merge-on-write UNIQUE
/// tables, every key column given).
fn partial_columns(
    sink: &TabletSink,
    sources: &[String],
    derived: &Derived,
) -> Result<Vec<usize>, String> {
    let schema = &sink.schema;
    if !schema.merge_on_write {
        return Err("[ANALYSIS_ERROR]Partial update is only allowed on unique table with merge-on-write enabled.".into());
    }
    let mut given: Vec<usize> = sources
        .iter()
        .chain(derived.iter().map(|(n, _)| n))
        .filter_map(|n| schema.index_of(n))
        .collect();
    given.sort_unstable();
    given.dedup();
    if let Some(k) = (0..schema.num_key_columns()).find(|k| !given.contains(k)) {
        return Err(format!(
            "[ANALYSIS_ERROR]Partial update should include all key columns, missing: {}",
            schema.columns[k].name
        ));
    }
    Ok(given)
}

/// Text columns to rows of the table: derived columns, conversion, `where`,
/// partitions (and the `partitions` header).
fn shape(
    sink: &TabletSink,
    opts: &LoadOptions,
    sources: &Sources,
    mut text: Vec<StringArray>,
    mut rejects: Rejects,
) -> Result<Parsed, String> {
    let mut names = sources.file.clone();
    let derived = &sources.derived;
    // A derived column replaces a file column of the same name.
    for (name, values) in columns::derive(&names, &text, derived, opts.timezone.as_deref())? {
        match names.iter().position(|s| *s == name) {
            Some(i) => text[i] = values,
            None => {
                names.push(name);
                text.push(values);
            }
        }
    }
    let batch = csv::convert(&sink.schema, &names, text, opts.strict_mode, &mut rejects)?;
    let batch = match &sources.partial {
        Some(given) => mark_partial(&batch, given),
        None => batch,
    };
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
