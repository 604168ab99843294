//! The OLAP table as a DataFusion table: `scan` prunes partitions and buckets,
//! picks a replica of every remaining tablet at the partition's visible version,
//! and returns an `OlapScanExec` for the backends to run.

use crate::Frontend;
use async_trait::async_trait;
use basalt_catalog::partition::{parse_value, KeyValue};
use basalt_catalog::{DistributionInfo, OlapTable, Partition, PartitionInfo};
use basalt_common::rpc::Version;
use basalt_common::scan::{BucketDistribution, OlapScanExec, TabletScanRange};
use basalt_common::types::DorisType;
use basalt_common::Error;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session as DfSession;
use datafusion::catalog::TableProvider;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column as DfColumn, ColumnStatistics, DFSchema, Result, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{
    utils::conjunction, Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown,
};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

#[derive(Debug)]
pub struct OlapTableProvider {
    fe: Arc<Frontend>,
    db: String,
    table: OlapTable,
    schema: SchemaRef,
    /// `FOR VERSION AS OF`: read each partition at this version (or its
    /// visible one, if older) instead of the visible one.
    version: Option<Version>,
}

impl OlapTableProvider {
    /// `hidden`: the hidden columns (the delete sign, the sequence column)
    /// are queryable too, as with Doris's `show_hidden_columns`.
    pub fn new(fe: Arc<Frontend>, db: String, table: OlapTable, hidden: bool) -> Self {
        let schema = match hidden {
            true => table.schema.arrow_schema(),
            false => table.schema.visible_arrow_schema(),
        };
        Self {
            fe,
            db,
            table,
            schema,
            version: None,
        }
    }

    /// The table as of `version`, which must be visible already.
    pub fn at_version(mut self, version: Version) -> Result<Self> {
        let newest = self
            .table
            .partitions
            .iter()
            .map(|p| p.visible_version)
            .max()
            .unwrap_or(1);
        if version < 1 || version > newest {
            return Err(Error::invalid(format!(
                "Version {version} of table {} is not visible: its versions are 1 to {newest}",
                self.table.name
            ))
            .into());
        }
        self.version = Some(version);
        Ok(self)
    }
}

#[async_trait]
impl TableProvider for OlapTableProvider {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters are used for pruning and zone maps. The scan applies simple filters itself (the BE evaluates them, or its
    /// bitmap indexes answer them), so no filter above re-reads their
    /// columns: a `COUNT(*)` an index answers decodes nothing.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match applied_by_scan(f) {
                true => TableProviderFilterPushDown::Exact,
                false => TableProviderFilterPushDown::Inexact,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filters: Vec<Expr> = filters.iter().map(unqualify).collect::<Result<_>>()?;
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        let partitions: Vec<&Partition> = self
            .table
            .partitions
            .iter()
            .filter(|p| partition_may_match(&self.table, p, &filters))
            .collect();
        let buckets = selected_buckets(&self.table, &filters);
        let distribution = match &self.table.distribution {
            DistributionInfo::Hash { columns, buckets } => Some(BucketDistribution {
                colocate_group: self
                    .table
                    .colocate_group()
                    .map(|g| format!("{}.{g}", self.db)),
                buckets: *buckets,
                columns: columns.clone(),
            }),
            DistributionInfo::Random { .. } => None,
        };
        let mut ranges = Vec::new();
        let mut names = Vec::new();
        {
            let catalog = self.fe.catalog.read();
            for p in partitions {
                names.push(p.name.clone());
                let version = self
                    .version
                    .map_or(p.visible_version, |v| v.min(p.visible_version));
                // Version 1 is the empty partition: nothing to read.
                if version <= 1 {
                    continue;
                }
                for (bucket, tablet) in p.index.tablets.iter().enumerate() {
                    if buckets
                        .as_ref()
                        .is_some_and(|b| !b.contains(&(bucket as u32)))
                    {
                        continue;
                    }
                    // A complete replica on a live backend, preferring backends
                    // with no recent failure; tablets spread over the choices.
                    let healthy: Vec<_> = tablet
                        .replicas
                        .iter()
                        .filter(|r| r.is_complete(version))
                        .filter(|r| catalog.backends.contains_key(&r.backend_id))
                        .map(|r| (r, self.fe.backends.status(r.backend_id)))
                        .filter(|(_, st)| st.alive)
                        .collect();
                    let best = healthy.iter().map(|(_, st)| st.failures).min();
                    let choices: Vec<_> = healthy
                        .iter()
                        .filter(|(_, st)| Some(st.failures) == best)
                        .map(|(r, _)| *r)
                        .collect();
                    // Hash-distributed tables choose by bucket among replicas in
                    // backend order, so a bucket's tablets in every partition (and
                    // bucket b of every table of a colocation group) are read on one
                    // backend, as colocate and bucket-shuffle joins need. (One bucket
                    // would put every tablet on one backend: those spread by tablet.)
                    let mut choices = choices;
                    let by_bucket = distribution
                        .as_ref()
                        .is_some_and(|d| d.buckets > 1 || d.colocate_group.is_some());
                    let pick = if by_bucket {
                        choices.sort_by_key(|r| r.backend_id);
                        bucket
                    } else {
                        tablet.id as usize
                    };
                    let replica = choices.get(pick % choices.len().max(1)).ok_or_else(|| {
                        Error::backend(format!(
                            "no alive replica of tablet {} at version {}",
                            tablet.id, version
                        ))
                    })?;
                    let backend = catalog.backends.get(&replica.backend_id).ok_or_else(|| {
                        Error::internal(format!(
                            "backend {} is not in the catalog",
                            replica.backend_id
                        ))
                    })?;
                    let num_rows = self
                        .fe
                        .backends
                        .reported(replica.backend_id, tablet.id)
                        .map_or(0, |r| r.num_rows);
                    ranges.push(TabletScanRange {
                        tablet_id: tablet.id,
                        version,
                        num_rows,
                        bucket: bucket as u32,
                        backend_id: backend.id,
                        worker_url: backend.worker_url(),
                    });
                }
            }
        }
        if ranges.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let predicate = match conjunction(filters.into_iter().filter(travels_whole)) {
            Some(expr) => {
                let df_schema = DFSchema::try_from(self.schema.as_ref().clone())?;
                Some(state.create_physical_expr(expr, &df_schema)?)
            }
            None => None,
        };
        let target = state.config().target_partitions();
        let parallel = ranges.len().min(target).max(1);
        let mut scan = OlapScanExec::new(
            format!("{}.{}", self.db, self.table.name),
            self.table.schema.clone(),
            Some(
                projection
                    .cloned()
                    .unwrap_or_else(|| (0..self.schema.fields().len()).collect()),
            ),
            predicate,
            ranges,
            parallel,
        )?;
        scan.partition_names = names;
        scan.distribution = distribution;
        scan.column_stats = column_statistics(&self.table);
        Ok(Arc::new(scan))
    }
}

/// The table's `ANALYZE` statistics as DataFusion's, over its full schema;
/// `None` before the first `ANALYZE`.
fn column_statistics(table: &OlapTable) -> Option<Arc<[ColumnStatistics]>> {
    if table.column_stats.is_empty() {
        return None;
    }
    let stats = table.schema.columns.iter().map(|c| {
        let Some(st) = table.column_stats.get(&c.name) else {
            return ColumnStatistics::new_unknown();
        };
        let ty = c.data_type.to_arrow();
        let bound = |v: &Option<String>| {
            v.as_ref()
                .and_then(|v| ScalarValue::try_from_string(v.clone(), &ty).ok())
                .map_or(Precision::Absent, Precision::Inexact)
        };
        ColumnStatistics {
            null_count: Precision::Inexact(st.num_null as usize),
            distinct_count: Precision::Inexact(st.ndv as usize),
            min_value: bound(&st.min),
            max_value: bound(&st.max),
            byte_size: Precision::Inexact(st.data_size as usize),
            ..ColumnStatistics::new_unknown()
        }
    });
    Some(stats.collect())
}

/// A filter the BE's scan applies exactly: one that travels inside the scan,
/// of a shape the scan evaluates.
fn applied_by_scan(e: &Expr) -> bool {
    travels_whole(e) && scan_evaluates(e)
}

/// Whether a filter is shallow enough to travel inside a scan (whose predicate
/// is not cut into pieces, see `basalt_common::deep_expr`), with room for the
/// casts that physical planning adds. A deeper one is applied above the scan.
fn travels_whole(e: &Expr) -> bool {
    fn depth(e: &Expr) -> usize {
        let mut operands: Vec<&Expr> = Vec::new();
        match e {
            // A chain of one operator is flat on the wire.
            Expr::BinaryExpr(top) => {
                let mut link = top;
                operands.push(&top.right);
                while let Expr::BinaryExpr(next) = link.left.as_ref() {
                    if next.op != top.op {
                        break;
                    }
                    operands.push(&next.right);
                    link = next;
                }
                operands.push(&link.left);
            }
            _ => {
                let _ = e.apply_children(|c| {
                    operands.push(c);
                    Ok(TreeNodeRecursion::Continue)
                });
            }
        }
        1 + operands.into_iter().map(depth).max().unwrap_or(0)
    }
    depth(e) <= basalt_common::deep_expr::PIECE_DEPTH / 2
}

/// The shapes the BE's scan evaluates itself (`scan::exact_part` picks the
/// same ones from the physical predicate): comparisons, AND / OR / NOT, IN
/// lists, IS [NOT] NULL, BETWEEN and casts over columns and literals.
fn scan_evaluates(e: &Expr) -> bool {
    match e {
        Expr::Column(_) | Expr::Literal(..) => true,
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            basalt_common::scan::applies_operator(op)
                && scan_evaluates(left)
                && scan_evaluates(right)
        }
        Expr::Not(e) | Expr::IsNull(e) | Expr::IsNotNull(e) => scan_evaluates(e),
        Expr::InList(i) => scan_evaluates(&i.expr) && i.list.iter().all(scan_evaluates),
        Expr::Between(b) => {
            scan_evaluates(&b.expr) && scan_evaluates(&b.low) && scan_evaluates(&b.high)
        }
        Expr::Cast(c) => scan_evaluates(&c.expr),
        Expr::TryCast(c) => scan_evaluates(&c.expr),
        _ => false,
    }
}

/// Column references without their table qualifier, to resolve against the table alone.
fn unqualify(e: &Expr) -> Result<Expr> {
    e.clone()
        .transform(|e| match e {
            Expr::Column(c) if c.relation.is_some() => Ok(Transformed::yes(Expr::Column(
                DfColumn::new_unqualified(c.name),
            ))),
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
}

/// A literal compared with column `name`: `col op lit` or `lit op col` (flipped).
fn column_literal<'a>(e: &'a Expr, name: &str) -> Option<(Operator, &'a ScalarValue)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) if c.name == name => Some((*op, v)),
        (Expr::Literal(v, _), Expr::Column(c)) if c.name == name => Some((op.swap()?, v)),
        _ => None,
    }
}

/// The partition key value of a literal, in the column's type.
fn key_of(v: &ScalarValue, table: &OlapTable, column: &str) -> Option<KeyValue> {
    if v.is_null() {
        return None;
    }
    let ty = table.column(column)?.data_type;
    let text = match v {
        ScalarValue::Date32(Some(d)) => return Some(KeyValue::Int((*d).into())),
        ScalarValue::TimestampMicrosecond(Some(t), None) => {
            return Some(KeyValue::Int((*t).into()))
        }
        // Strings compare exactly as rows were routed: no trimming or parsing.
        ScalarValue::Utf8(Some(t))
        | ScalarValue::LargeUtf8(Some(t))
        | ScalarValue::Utf8View(Some(t))
            if matches!(
                ty,
                DorisType::Char { .. } | DorisType::Varchar { .. } | DorisType::String
            ) =>
        {
            return Some(KeyValue::Text(t.clone()))
        }
        other => other.to_string(),
    };
    parse_value(&text, &ty).ok().map(|(k, _)| k)
}

/// Whether partition `p` may hold rows passing every filter (single-column keys;
/// anything not understood keeps the partition).
fn partition_may_match(table: &OlapTable, p: &Partition, filters: &[Expr]) -> bool {
    let cols = table.partition_info.columns();
    let [col] = cols else { return true };
    filters.iter().all(|f| {
        let values: Vec<(Operator, KeyValue)> = match f {
            Expr::InList(list)
                if !list.negated
                    && matches!(list.expr.as_ref(), Expr::Column(c) if &c.name == col) =>
            {
                let keys: Option<Vec<KeyValue>> = list
                    .list
                    .iter()
                    .map(|e| match e {
                        Expr::Literal(v, _) => key_of(v, table, col),
                        _ => None,
                    })
                    .collect();
                match keys {
                    Some(keys) => return keys.iter().any(|k| holds(table, p, Operator::Eq, k)),
                    None => return true,
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) => match (expr.as_ref(), low.as_ref(), high.as_ref()) {
                (Expr::Column(c), Expr::Literal(lo, _), Expr::Literal(hi, _)) if &c.name == col => {
                    match (key_of(lo, table, col), key_of(hi, table, col)) {
                        (Some(lo), Some(hi)) => vec![(Operator::GtEq, lo), (Operator::LtEq, hi)],
                        _ => return true,
                    }
                }
                _ => return true,
            },
            other => match column_literal(other, col)
                .and_then(|(op, v)| Some((op, key_of(v, table, col)?)))
            {
                Some(pair) => vec![pair],
                None => return true,
            },
        };
        values.iter().all(|(op, k)| holds(table, p, *op, k))
    })
}

/// Whether some key in partition `p` can satisfy `key op k`.
fn holds(table: &OlapTable, p: &Partition, op: Operator, k: &KeyValue) -> bool {
    match &table.partition_info {
        PartitionInfo::Range { .. } => {
            let Some((lower, upper)) = &p.range else {
                return true;
            };
            let (lo, hi) = (&lower.values[0], &upper.values[0]);
            match op {
                Operator::Eq => lo <= k && k < hi,
                Operator::Lt => lo < k,
                Operator::LtEq => lo <= k,
                Operator::Gt => k < hi,
                Operator::GtEq => k < hi,
                _ => true,
            }
        }
        PartitionInfo::List { .. } => {
            let vals = p.list_values.iter().map(|v| &v.values[0]);
            match op {
                Operator::Eq => vals.into_iter().any(|v| v == k),
                Operator::Lt => vals.into_iter().any(|v| v < k),
                Operator::LtEq => vals.into_iter().any(|v| v <= k),
                Operator::Gt => vals.into_iter().any(|v| v > k),
                Operator::GtEq => vals.into_iter().any(|v| v >= k),
                _ => true,
            }
        }
        PartitionInfo::Unpartitioned => true,
    }
}

/// The buckets holding rows that pass the filters, when every distribution
/// column is fixed by `=` or `IN`; `None` means all buckets.
fn selected_buckets(table: &OlapTable, filters: &[Expr]) -> Option<Vec<u32>> {
    let DistributionInfo::Hash { columns, buckets } = &table.distribution else {
        return None;
    };
    // Candidate literal values of each distribution column.
    let mut per_column: Vec<Vec<ScalarValue>> = Vec::new();
    for col in columns {
        let values = filters.iter().find_map(|f| match f {
            Expr::InList(l)
                if !l.negated && matches!(l.expr.as_ref(), Expr::Column(c) if &c.name == col) =>
            {
                l.list
                    .iter()
                    .map(|e| match e {
                        Expr::Literal(v, _) if !v.is_null() => Some(v.clone()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            }
            other => match column_literal(other, col) {
                Some((Operator::Eq, v)) if !v.is_null() => Some(vec![v.clone()]),
                _ => None,
            },
        })?;
        per_column.push(values);
    }
    // Every combination of the candidates (bounded: IN lists are short).
    let mut combos: Vec<Vec<ScalarValue>> = vec![Vec::new()];
    for values in &per_column {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values
                    .iter()
                    .map(move |v| [c.clone(), vec![v.clone()]].concat())
            })
            .collect();
        if combos.len() > 1024 {
            return None;
        }
    }
    let mut out = Vec::new();
    for combo in combos {
        let arrays: Option<Vec<ArrayRef>> = columns
            .iter()
            .zip(&combo)
            .map(|(col, v)| {
                let ty = table.column(col)?.data_type.to_arrow();
                let arr = v.to_array().ok()?;
                datafusion::arrow::compute::cast(&arr, &ty).ok()
            })
            .collect();
        let bucket = basalt_common::hash::buckets_of(&arrays?, *buckets).ok()?;
        out.extend(bucket);
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}
