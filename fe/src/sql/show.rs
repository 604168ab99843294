//! SHOW statements, with Doris's columns.

use super::ast::{Filter, Show};
use super::ddl::resolve;
use crate::planner::information_schema::{
    collation_rows, data_type_word, engine_rows, key_word, CHARSETS,
};
use crate::rows::{build, i, like, opt, s, text_cols, typed_cols, Col, NULL_STR};
use crate::session::{QueryResult, Session};
use basalt_catalog::partition::KeyValue;
use basalt_catalog::{DistributionInfo, OlapTable, PartitionInfo};
use basalt_common::{Error, Result};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;

mod cluster;
mod create_table;
mod load;
pub use create_table::show_create_table;

/// A SHOW result before filtering: columns, rows, and its LIKE / WHERE filter.
pub type Out = (Vec<Col>, Vec<Vec<ScalarValue>>, Filter);

pub async fn execute(session: &mut Session, show: Show) -> Result<QueryResult> {
    // A header that depends on the statement (`Tables_in_<db>`) replaces the first column's name.
    let mut first_header: Option<String> = None;
    let (cols, rows, filter): Out = match show {
        Show::Databases { filter } => {
            let state = session.fe.catalog.read();
            let mut names: Vec<String> = state.databases.keys().cloned().collect();
            names.push("information_schema".into());
            names.sort();
            (
                text_cols(&["Database"]),
                names.into_iter().map(|n| vec![s(n)]).collect(),
                filter,
            )
        }
        Show::Tables { full, db, filter } => {
            let db = session.db_or_current(db.as_ref())?;
            let state = session.fe.catalog.read();
            let names: Vec<String> = if db == "information_schema" {
                crate::planner::information_schema::InformationSchema(session.fe.clone())
                    .table_names_sorted()
            } else {
                state.db(&db)?.tables.keys().cloned().collect()
            };
            first_header = Some(format!("Tables_in_{db}"));
            let mut cols = text_cols(&["Tables_in"]);
            if full {
                cols.push(("Table_type", DataType::Utf8));
            }
            let rows = names
                .into_iter()
                .map(|n| {
                    if full {
                        vec![s(n), s("BASE TABLE")]
                    } else {
                        vec![s(n)]
                    }
                })
                .collect();
            (cols, rows, filter)
        }
        Show::Columns {
            full,
            table,
            filter,
        } => {
            let (db, name) = resolve(session, &table)?;
            let t = session.fe.catalog.read().table(&db, &name)?.clone();
            let hidden = session.var_flag("show_hidden_columns");
            let rows = t
                .schema
                .columns
                .iter()
                .filter(|c| hidden || !c.is_hidden())
                .map(|c| {
                    let ty = s(c.data_type.to_string().to_uppercase());
                    let null = s(if c.nullable { "YES" } else { "NO" });
                    let key = s(if c.is_key { "true" } else { "false" });
                    let default = opt(c.default_value.clone());
                    let extra = s(c.agg_type.map(|a| a.to_string()).unwrap_or_default());
                    if full {
                        let textual = data_type_word(&c.data_type).contains("char")
                            || data_type_word(&c.data_type) == "text";
                        vec![
                            s(&c.name),
                            ty,
                            if textual {
                                s("utf8mb4_0900_bin")
                            } else {
                                NULL_STR
                            },
                            null,
                            s(if c.is_key { key_word(&t) } else { "" }),
                            default,
                            extra,
                            s("select,insert,update,references"),
                            s(&c.comment),
                        ]
                    } else {
                        vec![s(&c.name), ty, null, key, default, extra]
                    }
                })
                .collect();
            let cols = if full {
                text_cols(&[
                    "Field",
                    "Type",
                    "Collation",
                    "Null",
                    "Key",
                    "Default",
                    "Extra",
                    "Privileges",
                    "Comment",
                ])
            } else {
                text_cols(&["Field", "Type", "Null", "Key", "Default", "Extra"])
            };
            (cols, rows, filter)
        }
        Show::CreateTable { table } => {
            let (db, name) = resolve(session, &table)?;
            let t = session.fe.catalog.read().table(&db, &name)?.clone();
            (
                text_cols(&["Table", "Create Table"]),
                vec![vec![s(&t.name), s(show_create_table(&t))]],
                Filter::None,
            )
        }
        Show::CreateDatabase { name } => {
            let state = session.fe.catalog.read();
            let db = crate::planner::resolve_db_name(&state, &name)
                .ok_or_else(|| basalt_catalog::unknown_db(&name))?;
            (
                text_cols(&["Database", "Create Database"]),
                vec![vec![s(&db), s(format!("CREATE DATABASE `{db}`"))]],
                Filter::None,
            )
        }
        Show::Partitions { table } => {
            let (db, name) = resolve(session, &table)?;
            let t = session.fe.catalog.read().table(&db, &name)?.clone();
            partitions(&t)
        }
        Show::Tablets { table, partitions } => {
            let (db, name) = resolve(session, &table)?;
            let mut t = session.fe.catalog.read().table(&db, &name)?.clone();
            if let Some(p) = partitions.iter().find(|p| t.partition(p).is_none()) {
                return Err(Error::invalid(format!(
                    "Partition {p} does not exist in table {name}"
                )));
            }
            if !partitions.is_empty() {
                t.partitions.retain(|p| partitions.contains(&p.name));
            }
            cluster::tablets(&session.fe, &t)
        }
        Show::ReplicaStatus { table, filter } => {
            let (db, name) = resolve(session, &table)?;
            let t = session.fe.catalog.read().table(&db, &name)?.clone();
            cluster::replica_status(&session.fe, &t, filter)
        }
        Show::ReplicaDistribution { table } => {
            let (db, name) = resolve(session, &table)?;
            let t = session.fe.catalog.read().table(&db, &name)?.clone();
            cluster::replica_distribution(&session.fe, &t)
        }
        Show::Proc { path } => cluster::proc(session, &path)?,
        Show::Variables { filter, .. } => {
            let rows = session
                .vars
                .iter()
                .map(|(k, v)| vec![s(k), s(v.to_text())])
                .collect();
            (text_cols(&["Variable_name", "Value"]), rows, filter)
        }
        Show::Warnings | Show::Errors => {
            let rows = session
                .warnings
                .iter()
                .map(|(l, c, m)| vec![s(l), i(i64::from(*c)), s(m)])
                .collect();
            (
                vec![
                    ("Level", DataType::Utf8),
                    ("Code", DataType::Int64),
                    ("Message", DataType::Utf8),
                ],
                rows,
                Filter::None,
            )
        }
        Show::Collation { filter } => {
            let rows = collation_rows();
            let cols = vec![
                ("Collation", DataType::Utf8),
                ("Charset", DataType::Utf8),
                ("Id", DataType::Int64),
                ("Default", DataType::Utf8),
                ("Compiled", DataType::Utf8),
                ("Sortlen", DataType::Int64),
            ];
            (cols, rows, filter)
        }
        Show::Charset { filter } => {
            let rows = CHARSETS
                .iter()
                .map(|(n, d, c, m)| vec![s(*n), s(*d), s(*c), i(*m)])
                .collect();
            let cols = vec![
                ("Charset", DataType::Utf8),
                ("Description", DataType::Utf8),
                ("Default collation", DataType::Utf8),
                ("Maxlen", DataType::Int64),
            ];
            (cols, rows, filter)
        }
        Show::Engines => {
            let rows = engine_rows();
            (
                text_cols(&[
                    "Engine",
                    "Support",
                    "Comment",
                    "Transactions",
                    "XA",
                    "Savepoints",
                ]),
                rows,
                Filter::None,
            )
        }
        Show::Backends => cluster::backends(&session.fe),
        Show::Frontends => cluster::frontends(&session.fe),
        Show::TableStatus { db, filter } => {
            let db = session.db_or_current(db.as_ref())?;
            let state = session.fe.catalog.read();
            let rows = state
                .db(&db)?
                .tables
                .values()
                .map(|t| {
                    vec![
                        s(&t.name),
                        s("Doris"),
                        i(10i64),
                        s("Dynamic"),
                        i(0i64),
                        i(0i64),
                        i(0i64),
                        NULL_STR,
                        i(0i64),
                        NULL_STR,
                        NULL_STR,
                        s(format_time(t.create_time)),
                        NULL_STR,
                        NULL_STR,
                        s("utf8mb4_0900_bin"),
                        NULL_STR,
                        s(""),
                        s(&t.comment),
                    ]
                })
                .collect();
            let names = [
                "Name",
                "Engine",
                "Version",
                "Row_format",
                "Rows",
                "Avg_row_length",
                "Data_length",
                "Max_data_length",
                "Index_length",
                "Data_free",
                "Auto_increment",
                "Create_time",
                "Update_time",
                "Check_time",
                "Collation",
                "Checksum",
                "Create_options",
                "Comment",
            ];
            let cols = typed_cols(&names, &[2, 4, 5, 6, 8]);
            (cols, rows, filter)
        }
        Show::ColumnStats { table, columns } => super::stats::show(session, &table, &columns)?,
        Show::Index { table } => {
            let (db, name) = resolve(session, &table)?;
            let t = session.fe.catalog.read().table(&db, &name)?.clone();
            let rows = t
                .schema
                .indexes
                .iter()
                .map(|i| {
                    vec![
                        s(name.clone()),
                        s(""),
                        s(i.name.clone()),
                        s(""),
                        s(i.column.clone()),
                        s(""),
                        s(""),
                        s(""),
                        s(""),
                        s(""),
                        s("BITMAP"),
                        s(i.comment.clone()),
                        s(""),
                    ]
                })
                .collect();
            let cols = text_cols(&[
                "Table",
                "Non_unique",
                "Key_name",
                "Seq_in_index",
                "Column_name",
                "Collation",
                "Cardinality",
                "Sub_part",
                "Packed",
                "Null",
                "Index_type",
                "Comment",
                "Properties",
            ]);
            (cols, rows, Filter::None)
        }
        Show::ProcessList { full } => cluster::processlist(session, full),
        Show::FrontendConfig { filter } => crate::config::show(session, filter)?,
        Show::Transaction { db, filter } => load::transaction(session, db, &filter)?,
        Show::StreamLoad { db, filter } => load::stream_loads(session, db, filter)?,
        Show::Load { db, filter } => load::loads(session, db, filter)?,
    };
    let rows = match &filter {
        Filter::Like(p) => rows
            .into_iter()
            .filter(|r| matches!(r.first(), Some(ScalarValue::Utf8(Some(v))) if like(p, v)))
            .collect(),
        _ => rows,
    };
    let (mut schema, mut batch) = build(&cols, rows)?;
    if let Some(name) = first_header {
        let mut fields: Vec<_> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[0] = fields[0].clone().with_name(name);
        schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        batch = datafusion::arrow::record_batch::RecordBatch::try_new(
            schema.clone(),
            batch.columns().to_vec(),
        )
        .map_err(|e| Error::internal(e.to_string()))?;
    }
    match filter {
        Filter::Where(expr) => where_filter(schema, batch, *expr).await,
        _ => Ok(QueryResult::Rows {
            schema,
            batches: vec![batch],
        }),
    }
}

/// `SHOW ... WHERE expr`: the rows go through DataFusion as a one-off table.
/// Column names match in any case, as in MySQL: the table has them lowercased
/// and the result gets the original names back.
async fn where_filter(
    schema: datafusion::arrow::datatypes::SchemaRef,
    batch: datafusion::arrow::record_batch::RecordBatch,
    expr: datafusion::sql::sqlparser::ast::Expr,
) -> Result<QueryResult> {
    use datafusion::arrow::datatypes::Schema;
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    let lower = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_name(f.name().to_ascii_lowercase()))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(Arc::clone(&lower), batch.columns().to_vec())
        .map_err(|e| Error::internal(e.to_string()))?;
    let ctx = datafusion::prelude::SessionContext::new();
    let table = datafusion::datasource::MemTable::try_new(lower, vec![vec![batch]])?;
    ctx.register_table("show_result", Arc::new(table))?;
    let df = ctx
        .sql(&format!("SELECT * FROM show_result WHERE {expr}"))
        .await?;
    let batches = df
        .collect()
        .await?
        .into_iter()
        .map(|b| RecordBatch::try_new(Arc::clone(&schema), b.columns().to_vec()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::internal(e.to_string()))?;
    Ok(QueryResult::Rows { schema, batches })
}

pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

fn partitions(t: &OlapTable) -> (Vec<Col>, Vec<Vec<ScalarValue>>, Filter) {
    let key = t.partition_info.columns().join(", ");
    let (dist_key, buckets) = match &t.distribution {
        DistributionInfo::Hash { columns, buckets } => (columns.join(", "), *buckets),
        DistributionInfo::Random { buckets } => ("RANDOM".to_string(), *buckets),
    };
    let rows = t
        .partitions
        .iter()
        .map(|p| {
            let range = match (&t.partition_info, &p.range) {
                (PartitionInfo::Range { .. }, Some((l, u))) => {
                    let lo: Vec<String> = l
                        .values
                        .iter()
                        .zip(&l.text)
                        .map(|(v, x)| {
                            if *v == KeyValue::Min {
                                "MIN".into()
                            } else {
                                x.clone()
                            }
                        })
                        .collect();
                    format!("[({}), ({}))", lo.join(", "), u.text.join(", "))
                }
                (PartitionInfo::List { .. }, _) => {
                    let vals: Vec<String> = p.list_values.iter().map(|k| k.to_sql()).collect();
                    format!("[{}]", vals.join(", "))
                }
                _ => String::new(),
            };
            vec![
                i(p.id as i64),
                s(&p.name),
                i(p.visible_version as i64),
                s(format_time(p.visible_version_time)),
                s("NORMAL"),
                s(&key),
                s(range),
                s(&dist_key),
                i(i64::from(buckets)),
                i(t.replication_num() as i64),
                s("HDD"),
                s("9999-12-31 23:59:59"),
                s(""),
                s("NULL"),
                s("0.000 "),
                s("false"),
                s(format!("tag.location.default: {}", t.replication_num())),
                s("true"),
                i((p.next_version - 1) as i64),
            ]
        })
        .collect();
    let names = [
        "PartitionId",
        "PartitionName",
        "VisibleVersion",
        "VisibleVersionTime",
        "State",
        "PartitionKey",
        "Range",
        "DistributionKey",
        "Buckets",
        "ReplicationNum",
        "StorageMedium",
        "CooldownTime",
        "RemoteStoragePolicy",
        "LastConsistencyCheckTime",
        "DataSize",
        "IsInMemory",
        "ReplicaAllocation",
        "IsMutable",
        "CommittedVersion",
    ];
    let cols = typed_cols(&names, &[0, 2, 8, 9, 18]);
    (cols, rows, Filter::None)
}
