//! `information_schema` in MySQL's column layout, built from the catalog on each read.

use crate::rows::{build, i, s, NULL_INT, NULL_STR};
use crate::Frontend;
use async_trait::async_trait;
use basalt_catalog::CatalogState;
use basalt_common::types::DorisType;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::MemTable;
use std::sync::Arc;

const TABLES: &[&str] = &[
    "schemata",
    "tables",
    "columns",
    "views",
    "statistics",
    "engines",
    "character_sets",
    "collations",
];

#[derive(Debug)]
pub struct InformationSchema(pub Arc<Frontend>);

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_uppercase()).collect()
    }
    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let state = self.0.catalog.read();
        let Some((cols, rows)) = contents(&state, &name.to_ascii_lowercase()) else {
            return Ok(None);
        };
        drop(state);
        let (schema, batch) = build(&cols, rows)?;
        Ok(Some(Arc::new(MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?)))
    }
    fn table_exist(&self, name: &str) -> bool {
        TABLES.contains(&name.to_ascii_lowercase().as_str())
    }
}

/// Column names are lowercase because unquoted identifiers reach DataFusion
/// lowercased; a query that names `TABLE_NAME` still gets that header back.
fn cols(spec: &[(&'static str, bool)]) -> Vec<(String, DataType)> {
    spec.iter()
        .map(|(n, int)| {
            (
                n.to_ascii_lowercase(),
                if *int {
                    DataType::Int64
                } else {
                    DataType::Utf8
                },
            )
        })
        .collect()
}

type Rows = Vec<Vec<ScalarValue>>;

/// (name, description, default collation, max length)
pub const CHARSETS: &[(&str, &str, &str, i64)] = &[
    ("utf8mb4", "UTF-8 Unicode", "utf8mb4_0900_bin", 4),
    ("utf8mb3", "UTF-8 Unicode", "utf8mb3_general_ci", 3),
    ("utf8", "UTF-8 Unicode", "utf8_general_ci", 3),
    ("binary", "Binary pseudo charset", "binary", 1),
];

/// (collation, charset, id, is default)
const COLLATIONS: &[(&str, &str, i64, bool)] = &[
    ("utf8mb4_0900_bin", "utf8mb4", 309, true),
    ("utf8mb4_general_ci", "utf8mb4", 45, false),
    ("utf8mb4_bin", "utf8mb4", 46, false),
    ("utf8mb3_general_ci", "utf8mb3", 33, true),
    ("utf8_general_ci", "utf8", 33, true),
    ("binary", "binary", 63, true),
];

/// (engine, support, comment, transactions)
const ENGINES: &[(&str, &str, &str, &str)] = &[(
    "Olap",
    "DEFAULT",
    "Basalt's columnar storage engine (Doris OLAP tables)",
    "YES",
)];

/// Rows of SHOW COLLATION and information_schema.COLLATIONS (same columns).
pub fn collation_rows() -> Rows {
    COLLATIONS
        .iter()
        .map(|(n, c, id, d)| {
            vec![
                s(*n),
                s(*c),
                i(*id),
                s(if *d { "Yes" } else { "" }),
                s("Yes"),
                i(1),
            ]
        })
        .collect()
}

/// Rows of SHOW ENGINES and information_schema.ENGINES (same columns).
pub fn engine_rows() -> Rows {
    ENGINES
        .iter()
        .map(|(e, sup, c, t)| vec![s(*e), s(*sup), s(*c), s(*t), s("NO"), s("NO")])
        .collect()
}

/// MySQL's DATA_TYPE word for a Doris type.
pub fn data_type_word(t: &DorisType) -> &'static str {
    match t {
        DorisType::Boolean => "tinyint",
        DorisType::TinyInt => "tinyint",
        DorisType::SmallInt => "smallint",
        DorisType::Int => "int",
        DorisType::BigInt => "bigint",
        DorisType::LargeInt => "bigint unsigned",
        DorisType::Float => "float",
        DorisType::Double => "double",
        DorisType::Decimal { .. } => "decimal",
        DorisType::Date => "date",
        DorisType::DateTime { .. } => "datetime",
        DorisType::Char { .. } => "char",
        DorisType::Varchar { .. } => "varchar",
        DorisType::String => "text",
        DorisType::Bitmap => "bitmap",
        DorisType::Hll => "hll",
    }
}

fn contents(state: &CatalogState, table: &str) -> Option<(Vec<(String, DataType)>, Rows)> {
    let dbs = || state.databases.values();
    Some(match table {
        "schemata" => (
            cols(&[
                ("CATALOG_NAME", false),
                ("SCHEMA_NAME", false),
                ("DEFAULT_CHARACTER_SET_NAME", false),
                ("DEFAULT_COLLATION_NAME", false),
                ("SQL_PATH", false),
            ]),
            std::iter::once("information_schema".to_string())
                .chain(dbs().map(|d| d.name.clone()))
                .map(|n| {
                    vec![
                        s("def"),
                        s(n),
                        s("utf8mb4"),
                        s("utf8mb4_0900_bin"),
                        NULL_STR,
                    ]
                })
                .collect(),
        ),
        "tables" => (
            cols(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("TABLE_TYPE", false),
                ("ENGINE", false),
                ("VERSION", true),
                ("ROW_FORMAT", false),
                ("TABLE_ROWS", true),
                ("AVG_ROW_LENGTH", true),
                ("DATA_LENGTH", true),
                ("MAX_DATA_LENGTH", true),
                ("INDEX_LENGTH", true),
                ("DATA_FREE", true),
                ("AUTO_INCREMENT", true),
                ("CREATE_TIME", false),
                ("UPDATE_TIME", false),
                ("CHECK_TIME", false),
                ("TABLE_COLLATION", false),
                ("CHECKSUM", true),
                ("CREATE_OPTIONS", false),
                ("TABLE_COMMENT", false),
            ]),
            dbs()
                .flat_map(|d| d.tables.values().map(move |t| (d, t)))
                .map(|(d, t)| {
                    vec![
                        s("def"),
                        s(&d.name),
                        s(&t.name),
                        s("BASE TABLE"),
                        s("Doris"),
                        i(10),
                        s("Dynamic"),
                        NULL_INT,
                        NULL_INT,
                        NULL_INT,
                        NULL_INT,
                        NULL_INT,
                        NULL_INT,
                        NULL_INT,
                        s(crate::sql::show::format_time(t.create_time)),
                        NULL_STR,
                        NULL_STR,
                        s("utf8mb4_0900_bin"),
                        NULL_INT,
                        s(""),
                        s(&t.comment),
                    ]
                })
                .collect(),
        ),
        "columns" => (
            cols(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("COLUMN_NAME", false),
                ("ORDINAL_POSITION", true),
                ("COLUMN_DEFAULT", false),
                ("IS_NULLABLE", false),
                ("DATA_TYPE", false),
                ("CHARACTER_MAXIMUM_LENGTH", true),
                ("CHARACTER_OCTET_LENGTH", true),
                ("NUMERIC_PRECISION", true),
                ("NUMERIC_SCALE", true),
                ("DATETIME_PRECISION", true),
                ("CHARACTER_SET_NAME", false),
                ("COLLATION_NAME", false),
                ("COLUMN_TYPE", false),
                ("COLUMN_KEY", false),
                ("EXTRA", false),
                ("PRIVILEGES", false),
                ("COLUMN_COMMENT", false),
            ]),
            dbs()
                .flat_map(|d| d.tables.values().map(move |t| (d, t)))
                .flat_map(|(d, t)| {
                    t.schema
                        .columns
                        .iter()
                        .filter(|c| !c.is_hidden())
                        .enumerate()
                        .map(move |(n, c)| (d, t, n, c))
                })
                .map(|(d, t, n, c)| {
                    let (chars, prec, scale, dt_prec) = match c.data_type {
                        DorisType::Char { len } | DorisType::Varchar { len } => {
                            (i(len), NULL_INT, NULL_INT, NULL_INT)
                        }
                        DorisType::String => (i(2_147_483_643i64), NULL_INT, NULL_INT, NULL_INT),
                        DorisType::Decimal { precision, scale } => {
                            (NULL_INT, i(precision), i(scale), NULL_INT)
                        }
                        DorisType::DateTime { scale } => (NULL_INT, NULL_INT, NULL_INT, i(scale)),
                        _ => (NULL_INT, NULL_INT, NULL_INT, NULL_INT),
                    };
                    let textual = matches!(
                        c.data_type,
                        DorisType::Char { .. } | DorisType::Varchar { .. } | DorisType::String
                    );
                    vec![
                        s("def"),
                        s(&d.name),
                        s(&t.name),
                        s(&c.name),
                        i(n as i64 + 1),
                        crate::rows::opt(c.default_value.clone()),
                        s(if c.nullable { "YES" } else { "NO" }),
                        s(data_type_word(&c.data_type)),
                        chars.clone(),
                        chars,
                        prec,
                        scale,
                        dt_prec,
                        if textual { s("utf8mb4") } else { NULL_STR },
                        if textual {
                            s("utf8mb4_0900_bin")
                        } else {
                            NULL_STR
                        },
                        s(c.data_type.to_string()),
                        s(if c.is_key { key_word(t) } else { "" }),
                        s(""),
                        s("SELECT"),
                        s(&c.comment),
                    ]
                })
                .collect(),
        ),
        "views" => (
            cols(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("VIEW_DEFINITION", false),
                ("CHECK_OPTION", false),
                ("IS_UPDATABLE", false),
                ("DEFINER", false),
                ("SECURITY_TYPE", false),
                ("CHARACTER_SET_CLIENT", false),
                ("COLLATION_CONNECTION", false),
            ]),
            vec![],
        ),
        "statistics" => (
            cols(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("NON_UNIQUE", true),
                ("INDEX_SCHEMA", false),
                ("INDEX_NAME", false),
                ("SEQ_IN_INDEX", true),
                ("COLUMN_NAME", false),
                ("COLLATION", false),
                ("CARDINALITY", true),
                ("SUB_PART", true),
                ("PACKED", false),
                ("NULLABLE", false),
                ("INDEX_TYPE", false),
                ("COMMENT", false),
                ("INDEX_COMMENT", false),
            ]),
            vec![],
        ),
        "engines" => (
            cols(&[
                ("ENGINE", false),
                ("SUPPORT", false),
                ("COMMENT", false),
                ("TRANSACTIONS", false),
                ("XA", false),
                ("SAVEPOINTS", false),
            ]),
            engine_rows(),
        ),
        "character_sets" => (
            cols(&[
                ("CHARACTER_SET_NAME", false),
                ("DEFAULT_COLLATE_NAME", false),
                ("DESCRIPTION", false),
                ("MAXLEN", true),
            ]),
            CHARSETS
                .iter()
                .map(|(n, d, c, m)| vec![s(*n), s(*c), s(*d), i(*m)])
                .collect(),
        ),
        "collations" => (
            cols(&[
                ("COLLATION_NAME", false),
                ("CHARACTER_SET_NAME", false),
                ("ID", true),
                ("IS_DEFAULT", false),
                ("IS_COMPILED", false),
                ("SORTLEN", true),
            ]),
            collation_rows(),
        ),
        _ => return None,
    })
}

/// COLUMN_KEY of a key column, by keys type.
pub fn key_word(t: &basalt_catalog::OlapTable) -> &'static str {
    match t.schema.keys_type {
        basalt_common::schema::KeysType::DupKeys => "DUP",
        basalt_common::schema::KeysType::AggKeys => "AGG",
        basalt_common::schema::KeysType::UniqueKeys => "UNI",
    }
}

impl InformationSchema {
    pub fn table_names_sorted(&self) -> Vec<String> {
        let mut names = self.table_names();
        names.sort();
        names
    }
}
