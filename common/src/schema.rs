//! Column and tablet schema, shared by the FE's catalog and the BE's tablets.

use crate::types::DorisType;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Doris's keys types; `DUP_KEYS` etc. are the names SHOW PROC and DESC use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeysType {
    DupKeys,
    AggKeys,
    UniqueKeys,
}

impl KeysType {
    /// The clause keyword in CREATE TABLE: `DUPLICATE KEY(...)`.
    pub fn sql_keyword(&self) -> &'static str {
        match self {
            KeysType::DupKeys => "DUPLICATE",
            KeysType::AggKeys => "AGGREGATE",
            KeysType::UniqueKeys => "UNIQUE",
        }
    }
}

impl fmt::Display for KeysType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeysType::DupKeys => "DUP_KEYS",
            KeysType::AggKeys => "AGG_KEYS",
            KeysType::UniqueKeys => "UNIQUE_KEYS",
        })
    }
}

/// Aggregation of a value column in an AGGREGATE KEY table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggType {
    Sum,
    Min,
    Max,
    Replace,
    ReplaceIfNotNull,
    HllUnion,
    BitmapUnion,
}

impl AggType {
    pub fn parse(word: &str) -> Option<AggType> {
        Some(match word.to_ascii_uppercase().as_str() {
            "SUM" => AggType::Sum,
            "MIN" => AggType::Min,
            "MAX" => AggType::Max,
            "REPLACE" => AggType::Replace,
            "REPLACE_IF_NOT_NULL" => AggType::ReplaceIfNotNull,
            "HLL_UNION" => AggType::HllUnion,
            "BITMAP_UNION" => AggType::BitmapUnion,
            _ => return None,
        })
    }
}

impl fmt::Display for AggType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AggType::Sum => "SUM",
            AggType::Min => "MIN",
            AggType::Max => "MAX",
            AggType::Replace => "REPLACE",
            AggType::ReplaceIfNotNull => "REPLACE_IF_NOT_NULL",
            AggType::HllUnion => "HLL_UNION",
            AggType::BitmapUnion => "BITMAP_UNION",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data_type: DorisType,
    pub nullable: bool,
    pub is_key: bool,
    #[serde(default)]
    pub agg_type: Option<AggType>,
    /// The default as the user wrote it (a literal, or `CURRENT_TIMESTAMP`).
    #[serde(default)]
    pub default_value: Option<String>,
    #[serde(default)]
    pub comment: String,
}

/// Doris's hidden columns of UNIQUE tables, stored after the user's columns:
/// the delete sign (1 deletes the key) and the sequence value (the row with
/// the larger one wins, whatever the load order).
pub const DELETE_SIGN: &str = "__DORIS_DELETE_SIGN__";
pub const SEQUENCE_COL: &str = "__DORIS_SEQUENCE_COL__";

/// Schema metadata of a partial update's rows (merge-on-write UNIQUE
/// tables): the indices of the columns the load gives. The other columns of
/// a key that exists are taken from its current row when the load is
/// published; the rows travel to every replica with the mark on them.
const PARTIAL_COLUMNS: &str = "basalt.partial_columns";

/// `batch` marked as a partial update of the columns `given`.
pub fn mark_partial(batch: &RecordBatch, given: &[usize]) -> RecordBatch {
    let list = given
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut metadata = batch.schema().metadata().clone();
    metadata.insert(PARTIAL_COLUMNS.into(), list);
    let schema = Arc::new(batch.schema().as_ref().clone().with_metadata(metadata));
    batch.clone().with_schema(schema).expect("same fields")
}

/// The columns a partial update's rows give, if they are one.
pub fn partial_columns(schema: &Schema) -> Option<Vec<usize>> {
    let list = schema.metadata().get(PARTIAL_COLUMNS)?;
    Some(list.split(',').filter_map(|i| i.parse().ok()).collect())
}

impl Column {
    pub fn arrow_field(&self) -> Field {
        Field::new(&self.name, self.data_type.to_arrow(), self.nullable)
    }

    pub fn is_hidden(&self) -> bool {
        self.name
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("__DORIS_"))
    }
}

/// What a BE needs to know to store and read a tablet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TabletSchema {
    pub keys_type: KeysType,
    /// Key columns come first, in key order; hidden columns come last.
    pub columns: Vec<Column>,
    /// UNIQUE tables: replaced rows are marked in delete bitmaps as they are
    /// loaded (merge-on-write) rather than merged away at read.
    #[serde(default)]
    pub merge_on_write: bool,
    /// The user column that feeds the sequence column
    /// (`function_column.sequence_col`), when the table names one.
    #[serde(default)]
    pub sequence_col: Option<String>,
    /// How many of the newest versions compaction leaves as they are, so
    /// `FOR VERSION AS OF` can read them (the `retained_versions` property).
    #[serde(default)]
    pub retained_versions: u64,
    /// Columns whose segments carry Parquet bloom filters (the
    /// `bloom_filter_columns` property), for `=` and `IN` to skip row groups.
    #[serde(default)]
    pub bloom_filter_columns: Vec<String>,
    /// Bitmap indexes (`INDEX name (column) USING BITMAP`).
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
}

/// A bitmap index of one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    pub column: String,
    #[serde(default)]
    pub comment: String,
}

impl TabletSchema {
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(Column::arrow_field)
                .collect::<Vec<_>>(),
        ))
    }

    pub fn num_key_columns(&self) -> usize {
        self.columns.iter().take_while(|c| c.is_key).count()
    }

    /// The columns users see (`SELECT *`, `DESC`, an INSERT without a column list).
    pub fn num_visible_columns(&self) -> usize {
        self.columns.iter().take_while(|c| !c.is_hidden()).count()
    }

    pub fn visible_arrow_schema(&self) -> SchemaRef {
        Arc::new(
            self.arrow_schema()
                .project(&(0..self.num_visible_columns()).collect::<Vec<_>>())
                .expect("a prefix of the schema"),
        )
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Equal but perhaps for the bitmap indexes.
    pub fn eq_except_indexes(&self, other: &TabletSchema) -> bool {
        let mut same = other.clone();
        same.indexes = self.indexes.clone();
        same == *self
    }

    /// Where the delete sign is (UNIQUE tables).
    pub fn delete_sign(&self) -> Option<usize> {
        self.index_of(DELETE_SIGN)
    }

    /// Where the sequence value is (UNIQUE tables with a sequence column).
    pub fn sequence(&self) -> Option<usize> {
        self.index_of(SEQUENCE_COL)
    }
}
