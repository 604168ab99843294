//! What the planner is told of a scan's output: the tablets' reported row
//! counts, the columns' `ANALYZE` statistics, and the scan's own filters.
//!
//! The scan applies the filters it reports exact itself (no `FilterExec`
//! stands above them), so its statistics must include their selectivity;
//! the others are left to the filter above, which estimates them.
//! DataFusion's estimate of a filter is `FilterExec`'s (interval analysis
//! over min/max, a default selectivity otherwise, one distinct value for
//! `col = literal`); it is reached here by asking a `FilterExec` over a leaf
//! that only knows the input's statistics, rather than writing a second
//! estimator.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::{internal_err, ColumnStatistics, Result, Statistics};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use std::fmt;
use std::sync::Arc;

/// The statistics of `rows` rows of a table with these column statistics
/// (over `schema`, the table's full schema; `None`: unknown), after
/// `predicate`.
pub fn scan_statistics(
    schema: &SchemaRef,
    rows: Option<usize>,
    columns: Option<&[ColumnStatistics]>,
    predicate: Option<&Arc<dyn PhysicalExpr>>,
) -> Result<Statistics> {
    let mut stats = Statistics::new_unknown(schema);
    let Some(rows) = rows else {
        return Ok(stats);
    };
    stats.num_rows = Precision::Inexact(rows);
    if let Some(columns) = columns.filter(|c| c.len() == schema.fields().len()) {
        stats.column_statistics = columns
            .iter()
            .map(|c| {
                let mut c = c.clone().to_inexact();
                // Collected on more (or fewer) rows than there are now.
                if let Some(&n) = c.distinct_count.get_value() {
                    c.distinct_count = Precision::Inexact(n.min(rows));
                }
                if let Some(&n) = c.null_count.get_value() {
                    c.null_count = Precision::Inexact(n.min(rows));
                }
                c
            })
            .collect();
    }
    // Only what the scan applies itself: the filter above it narrows the
    // statistics by the rest.
    let Some(predicate) = predicate.and_then(crate::scan::exact_part) else {
        return Ok(stats);
    };
    let leaf = Arc::new(Known::new(Arc::clone(schema), stats));
    let filter = FilterExec::try_new(predicate, leaf)?;
    Ok(filter.partition_statistics(None)?.as_ref().clone())
}

/// A plan leaf that only reports statistics; it is never executed.
#[derive(Debug)]
struct Known {
    stats: Arc<Statistics>,
    properties: Arc<PlanProperties>,
}

impl Known {
    fn new(schema: SchemaRef, stats: Statistics) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            stats: Arc::new(stats),
            properties,
        }
    }
}

impl DisplayAs for Known {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Known")
    }
}

impl ExecutionPlan for Known {
    fn name(&self) -> &'static str {
        "Known"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn partition_statistics(&self, _partition: Option<usize>) -> Result<Arc<Statistics>> {
        Ok(Arc::clone(&self.stats))
    }

    fn execute(&self, _: usize, _: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        internal_err!("statistics only")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{col, lit, BinaryExpr, LikeExpr};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int32, false)]))
    }

    fn range(min: i32, max: i32, ndv: usize) -> ColumnStatistics {
        ColumnStatistics {
            min_value: Precision::Exact(ScalarValue::Int32(Some(min))),
            max_value: Precision::Exact(ScalarValue::Int32(Some(max))),
            distinct_count: Precision::Exact(ndv),
            null_count: Precision::Exact(0),
            ..ColumnStatistics::new_unknown()
        }
    }

    #[test]
    fn range_predicate_scales_rows() {
        let s = schema();
        let pred: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            col("k", &s).unwrap(),
            Operator::Lt,
            lit(ScalarValue::Int32(Some(250))),
        ));
        let cols = [range(0, 999, 1000)];
        let out = scan_statistics(&s, Some(10_000), Some(&cols), Some(&pred)).unwrap();
        let rows = *out.num_rows.get_value().unwrap();
        assert!((2000..3000).contains(&rows), "{rows}");
        // No predicate: the reported rows, distinct counts capped by them.
        let out = scan_statistics(&s, Some(500), Some(&cols), None).unwrap();
        assert_eq!(out.num_rows, Precision::Inexact(500));
        assert_eq!(
            out.column_statistics[0].distinct_count,
            Precision::Inexact(500)
        );
    }

    #[test]
    fn only_the_filters_the_scan_applies_narrow_it() {
        // A LIKE stays in a FilterExec above the scan, which estimates it:
        // narrowing here too would count it twice.
        let s = Arc::new(Schema::new(vec![Field::new("c", DataType::Utf8, false)]));
        let like: Arc<dyn PhysicalExpr> = Arc::new(LikeExpr::new(
            true,
            false,
            col("c", &s).unwrap(),
            lit(ScalarValue::Utf8(Some("%x%".into()))),
        ));
        let out = scan_statistics(&s, Some(1000), None, Some(&like)).unwrap();
        assert_eq!(out.num_rows, Precision::Inexact(1000));
    }

    #[test]
    fn unknown_rows_stay_unknown() {
        let out = scan_statistics(&schema(), None, None, None).unwrap();
        assert_eq!(out.num_rows, Precision::Absent);
    }
}
