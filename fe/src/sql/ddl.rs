//! DDL: databases, tables, partitions, backends. Tablets are created on their
//! backends before the edit log records the table, so a logged table always
//! has its storage.

use super::ast::{self, CreateTable, Distribution, PartitionClause, Statement};
use crate::planner::{resolve_db_name, resolve_table_name};
use crate::session::{QueryResult, Session};
use crate::Frontend;
use basalt_catalog::*;
use basalt_common::now_ms;
use basalt_common::rpc::ControlRequest;
use basalt_common::schema::{
    AggType, Column, IndexDef, KeysType, TabletSchema, DELETE_SIGN, SEQUENCE_COL,
};
use basalt_common::types::DorisType;
use basalt_common::{Error, ErrorKind, Result};
use std::collections::BTreeMap;
use std::sync::Arc;

mod partitions;

pub async fn execute(session: &mut Session, stmt: Statement) -> Result<QueryResult> {
    let fe = Arc::clone(&session.fe);
    match stmt {
        Statement::CreateDatabase {
            name,
            if_not_exists,
        } => {
            if resolve_db_name(&fe.catalog.read(), &name).is_some() {
                if if_not_exists {
                    return Ok(QueryResult::ok());
                }
                return Err(Error::new(
                    ErrorKind::DatabaseExists,
                    format!("Can't create database '{name}'; database exists"),
                ));
            }
            let id = fe.catalog.alloc_ids(1);
            fe.catalog.log(EditLogEntry::CreateDatabase { id, name })?;
        }
        Statement::DropDatabase { name, if_exists } => {
            let Some(db) = resolve_db_name(&fe.catalog.read(), &name) else {
                if if_exists {
                    return Ok(QueryResult::ok());
                }
                return Err(Error::new(
                    ErrorKind::UnknownDatabase,
                    format!("Can't drop database '{name}'; database doesn't exist"),
                ));
            };
            let tablets: Vec<(u64, u64)> = {
                let state = fe.catalog.read();
                state
                    .db(&db)?
                    .tables
                    .values()
                    .flat_map(table_replicas)
                    .collect()
            };
            fe.catalog
                .log(EditLogEntry::DropDatabase { name: db.clone() })?;
            if session.db.as_deref() == Some(db.as_str()) {
                session.db = None;
            }
            drop_tablets(&fe, tablets).await;
        }
        Statement::CreateTable(ct) => create_table(session, *ct).await?,
        Statement::DropTable { name, if_exists } => {
            let (db, table) = match resolve(session, &name) {
                Ok(x) => x,
                Err(e) if if_exists && e.kind == ErrorKind::UnknownTable => {
                    return Ok(QueryResult::ok())
                }
                Err(e) => return Err(e),
            };
            let tablets = table_replicas(fe.catalog.read().table(&db, &table)?);
            fe.catalog.log(EditLogEntry::DropTable { db, table })?;
            drop_tablets(&fe, tablets).await;
        }
        Statement::TruncateTable { name, partitions } => {
            let (db, table) = resolve(session, &name)?;
            let t = fe.catalog.read().table(&db, &table)?.clone();
            // A load still writing or publishing names the tablets TRUNCATE replaces.
            let running = fe
                .catalog
                .read()
                .db(&db)?
                .transactions
                .values()
                .any(|x| x.table_id == t.id && x.is_running());
            if running {
                return Err(Error::invalid(format!(
                    "Table {table} has running load transactions; TRUNCATE it when they finish"
                )));
            }
            for p in &partitions {
                if t.partition(p).is_none() {
                    return Err(Error::invalid(format!(
                        "Unknown partition '{p}' in table '{table}'"
                    )));
                }
            }
            let chosen: Vec<&Partition> = t
                .partitions
                .iter()
                .filter(|p| partitions.is_empty() || partitions.contains(&p.name))
                .collect();
            let old: Vec<(u64, u64)> = chosen.iter().flat_map(|p| partition_replicas(p)).collect();
            let mut fresh = Vec::new();
            for p in chosen {
                let mut np = crate::cluster::placement::new_partition(
                    &fe,
                    &t,
                    p.name.clone(),
                    p.range.clone(),
                    p.list_values.clone(),
                )?;
                np.id = p.id;
                fresh.push(np);
            }
            let _creating = create_tablets(&fe, &t.schema, &fresh).await?;
            fe.catalog.log(EditLogEntry::ReplacePartitions {
                db,
                table,
                partitions: fresh,
            })?;
            drop_tablets(&fe, old).await;
        }
        Statement::AddPartitions { table, partitions } => {
            let (db, table) = resolve(session, &table)?;
            let t = fe.catalog.read().table(&db, &table)?.clone();
            let new = partitions::build(&fe, &t, &partitions, true)?;
            let _creating = create_tablets(&fe, &t.schema, &new).await?;
            fe.catalog.log(EditLogEntry::AddPartitions {
                db,
                table,
                partitions: new,
            })?;
        }
        Statement::DropPartition {
            table,
            partition,
            if_exists,
        } => {
            let (db, table) = resolve(session, &table)?;
            let t = fe.catalog.read().table(&db, &table)?.clone();
            let Some(p) = t.partition(&partition) else {
                if if_exists {
                    return Ok(QueryResult::ok());
                }
                return Err(Error::invalid(format!(
                    "Error in list of partitions to {table}: partition {partition} does not exist"
                )));
            };
            let tablets = partition_replicas(p);
            fe.catalog.log(EditLogEntry::DropPartition {
                db,
                table,
                partition,
            })?;
            drop_tablets(&fe, tablets).await;
        }
        Statement::AlterSystem(op) => crate::cluster::alter_system(session, op).await?,
        other => return Err(Error::internal(format!("not a DDL statement: {other:?}"))),
    }
    Ok(QueryResult::ok())
}

/// The database and real table name a statement refers to.
pub fn resolve(session: &Session, name: &ast::ObjectName) -> Result<(String, String)> {
    let db = session.db_or_current(name.db.as_ref())?;
    let state = session.fe.catalog.read();
    if resolve_db_name(&state, &db).is_none() {
        return Err(unknown_db(&db));
    }
    let table = resolve_table_name(&state, &db, &name.name)
        .ok_or_else(|| unknown_table(&db, &name.name))?;
    Ok((db, table))
}

async fn create_table(session: &mut Session, ct: CreateTable) -> Result<()> {
    let fe = Arc::clone(&session.fe);
    let db = session.db_or_current(ct.name.db.as_ref())?;
    if resolve_db_name(&fe.catalog.read(), &db).is_none() {
        return Err(unknown_db(&db));
    }
    if resolve_table_name(&fe.catalog.read(), &db, &ct.name.name).is_some() {
        if ct.if_not_exists {
            return Ok(());
        }
        return Err(Error::new(
            ErrorKind::TableExists,
            format!("Table '{}' already exists", ct.name.name),
        ));
    }
    let table = build_table(&fe, &ct)?;
    check_colocation(&fe.catalog.read(), &db, &table)?;
    let _creating = create_tablets(&fe, &table.schema, &table.partitions).await?;
    fe.catalog.log(EditLogEntry::CreateTable {
        db,
        table: Box::new(table),
    })
}

/// Tables of one colocation group (per database) must agree on what makes
/// their buckets line up: hash distribution, bucket count, replicas, and the
/// distribution columns' types. Doris's messages.
fn check_colocation(state: &CatalogState, db: &str, table: &OlapTable) -> Result<()> {
    let Some(group) = table.colocate_group() else {
        return Ok(());
    };
    let types = |t: &OlapTable| -> Option<Vec<DorisType>> {
        match &t.distribution {
            DistributionInfo::Hash { columns, .. } => columns
                .iter()
                .map(|c| t.column(c).map(|c| c.data_type))
                .collect(),
            DistributionInfo::Random { .. } => None,
        }
    };
    let Some(mine) = types(table) else {
        return Err(Error::invalid("Colocate table must use hash distribution"));
    };
    let other = state
        .db(db)?
        .tables
        .values()
        .find(|t| t.colocate_group() == Some(group));
    let Some(other) = other else { return Ok(()) };
    let buckets = other.distribution.buckets();
    if table.distribution.buckets() != buckets {
        return Err(Error::invalid(format!(
            "Colocate tables must have same bucket num: {buckets}"
        )));
    }
    if table.replication_num() != other.replication_num() {
        return Err(Error::invalid(format!(
            "Colocate tables must have same replication num: {}",
            other.replication_num()
        )));
    }
    let theirs = types(other).unwrap_or_default();
    if mine.len() != theirs.len() {
        return Err(Error::invalid(format!(
            "Colocate tables distribution columns size must be same : {}",
            theirs.len()
        )));
    }
    if mine != theirs {
        return Err(Error::invalid(format!(
            "Colocate tables distribution columns must have the same data type: {}",
            theirs
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// A UNIQUE table's merge mode (`enable_unique_key_merge_on_write`, true by
/// default as in Doris 2.1) and its hidden columns: the delete sign, and the
/// sequence column when `function_column.sequence_col` names a user column
/// (whose type it takes) or `function_column.sequence_type` gives a type.
fn unique_key_columns(
    keys_type: KeysType,
    columns: &mut Vec<Column>,
    properties: &mut BTreeMap<String, String>,
) -> Result<(bool, Option<String>)> {
    let sequence_col = properties.get("function_column.sequence_col").cloned();
    let sequence_type = properties.get("function_column.sequence_type").cloned();
    if keys_type != KeysType::UniqueKeys {
        if sequence_col.is_some() || sequence_type.is_some() {
            return Err(Error::invalid("Sequence column only support UNIQUE_KEYS"));
        }
        return Ok((false, None));
    }
    let mow = properties
        .entry("enable_unique_key_merge_on_write".into())
        .or_insert_with(|| "true".into());
    let merge_on_write = match mow.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(Error::invalid(format!(
                "enable_unique_key_merge_on_write should be true or false, not {other}"
            )))
        }
    };
    let hidden = |name: &str, data_type, default: Option<&str>| Column {
        name: name.to_string(),
        data_type,
        nullable: default.is_none(),
        is_key: false,
        agg_type: Some(AggType::Replace),
        default_value: default.map(str::to_string),
        comment: String::new(),
    };
    let sequence = match (&sequence_col, &sequence_type) {
        (Some(name), _) => {
            let name = name.to_ascii_lowercase();
            let c = columns.iter().find(|c| c.name == name).ok_or_else(|| {
                Error::invalid(format!("Sequence column '{name}' does not exist"))
            })?;
            if c.is_key {
                return Err(Error::invalid("Sequence column can not be a key column"));
            }
            Some((Some(name), c.data_type))
        }
        (None, Some(ty)) => Some((None, crate::sql::parser::parse_type(ty)?)),
        (None, None) => None,
    };
    if let Some((_, ty)) = &sequence {
        if !matches!(
            ty,
            DorisType::TinyInt
                | DorisType::SmallInt
                | DorisType::Int
                | DorisType::BigInt
                | DorisType::LargeInt
                | DorisType::Date
                | DorisType::DateTime { .. }
        ) {
            return Err(Error::invalid(
                "Sequence type only support integer types and date types",
            ));
        }
    }
    columns.push(hidden(DELETE_SIGN, DorisType::TinyInt, Some("0")));
    if let Some((_, ty)) = &sequence {
        columns.push(hidden(SEQUENCE_COL, *ty, None));
    }
    Ok((merge_on_write, sequence.and_then(|(name, _)| name)))
}

/// The `bloom_filter_columns` property, checked as Doris does.
fn bloom_filter_columns(
    keys_type: KeysType,
    columns: &[Column],
    properties: &BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let Some(list) = properties.get("bloom_filter_columns") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in list
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
    {
        let c = columns.iter().find(|c| c.name == name).ok_or_else(|| {
            Error::invalid(format!(
                "Bloom filter column does not exist in table. invalid column: {name}"
            ))
        })?;
        if matches!(
            c.data_type,
            DorisType::TinyInt | DorisType::Float | DorisType::Double | DorisType::Boolean
        ) {
            return Err(Error::invalid(format!(
                "{} is not supported in bloom filter index. invalid column: {name}",
                c.data_type
            )));
        }
        let replace = matches!(
            c.agg_type,
            Some(AggType::Replace | AggType::ReplaceIfNotNull)
        );
        if keys_type == KeysType::AggKeys && !c.is_key && !replace {
            return Err(Error::invalid(format!(
                "Bloom filter index should only be used in columns of UNIQUE_KEYS/DUP_KEYS table or key columns of AGG_KEYS table. invalid column: {name}"
            )));
        }
        if out.contains(&name) {
            return Err(Error::invalid(format!(
                "Reduplicated bloom filter column: {name}"
            )));
        }
        out.push(name);
    }
    Ok(out)
}

/// Validates a CREATE TABLE and builds its metadata, with Doris's defaults.
fn build_table(fe: &Arc<Frontend>, ct: &CreateTable) -> Result<OlapTable> {
    let mut columns = ct.columns.clone();
    // Column names are case-insensitive in Doris; Basalt stores them lowercase.
    for c in &mut columns {
        c.name = c.name.to_ascii_lowercase();
    }
    for (i, c) in columns.iter().enumerate() {
        if c.is_hidden() {
            return Err(Error::invalid(format!(
                "Incorrect column name '{}'. Column name cannot start with '__DORIS_'",
                c.name
            )));
        }
        if columns[..i].iter().any(|o| o.name == c.name) {
            return Err(Error::new(
                ErrorKind::DuplicateColumn,
                format!("Duplicate column name '{}'", c.name),
            ));
        }
    }
    let mut keys: Vec<String> = ct
        .key_columns
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    if keys.is_empty() {
        if ct.keys_type != KeysType::DupKeys {
            return Err(Error::invalid(
                "AGGREGATE and UNIQUE tables need a KEY clause",
            ));
        }
        // Doris's default sort key: up to three leading columns, ending at the first string.
        for c in &columns {
            if keys.len() == 3 || !c.data_type.can_be_key() {
                break;
            }
            keys.push(c.name.clone());
            if matches!(c.data_type, DorisType::Varchar { .. } | DorisType::String) {
                break;
            }
        }
    }
    for (i, k) in keys.iter().enumerate() {
        match columns.get(i) {
            Some(c) if &c.name == k => {}
            _ => {
                return Err(Error::invalid(format!(
                    "Key columns should be a ordered prefix of the schema. KeyColumns[{i}] (starts from zero) is {k}, but corresponding column is {} in the previous columns declaration.",
                    columns.get(i).map_or("<none>", |c| c.name.as_str())
                )))
            }
        }
    }
    for (i, c) in columns.iter_mut().enumerate() {
        c.is_key = i < keys.len();
        if c.is_key && !c.data_type.can_be_key() {
            return Err(Error::invalid(format!(
                "Float or double can not used as a key, use decimal instead: {}",
                c.name
            )));
        }
        match (ct.keys_type, c.is_key, c.agg_type) {
            (KeysType::AggKeys, false, None) => {
                return Err(Error::invalid(format!(
                    "The column {} of AGGREGATE table must have an aggregation type",
                    c.name
                )))
            }
            (_, true, Some(_)) => {
                return Err(Error::invalid(format!(
                    "Key column {} can not set aggregation type",
                    c.name
                )))
            }
            (KeysType::DupKeys | KeysType::UniqueKeys, false, Some(_)) => {
                return Err(Error::invalid(format!(
                    "The column {} of {} table can not set aggregation type",
                    c.name,
                    ct.keys_type.sql_keyword()
                )))
            }
            _ => {}
        }
        let fits = match (c.agg_type, c.data_type) {
            (Some(AggType::BitmapUnion), t) => t == DorisType::Bitmap,
            (Some(AggType::HllUnion), t) => t == DorisType::Hll,
            (Some(AggType::Sum | AggType::Min | AggType::Max), t) => {
                !matches!(t, DorisType::Bitmap | DorisType::Hll)
            }
            _ => true,
        };
        if let (false, Some(agg)) = (fits, c.agg_type) {
            return Err(Error::invalid(format!(
                "Aggregate type {agg} is not compatible with primitive type {}",
                c.data_type
            )));
        }
        if let Some(d) = &c.default_value {
            check_default(c, d)?;
        }
    }
    let find = |name: &str| {
        columns
            .iter()
            .find(|c| c.name == name.to_ascii_lowercase())
            .cloned()
    };
    let distribution = match &ct.distribution {
        Some(Distribution::Hash {
            columns: cols,
            buckets,
        }) => {
            let mut out = Vec::new();
            for col in cols {
                let c = find(col).ok_or_else(|| {
                    Error::invalid(format!("Distribution column[{col}] is not found"))
                })?;
                if ct.keys_type != KeysType::DupKeys && !c.is_key {
                    return Err(Error::invalid(format!(
                        "Distribution column[{col}] is not key column"
                    )));
                }
                if matches!(c.data_type, DorisType::Float | DorisType::Double) {
                    return Err(Error::invalid(format!(
                        "Distribution column[{col}] can not be float or double"
                    )));
                }
                out.push(c.name);
            }
            DistributionInfo::Hash {
                columns: out,
                buckets: buckets.unwrap_or(1),
            }
        }
        Some(Distribution::Random { buckets }) => {
            if ct.keys_type == KeysType::UniqueKeys {
                return Err(Error::invalid(
                    "Random distribution for unique key table is unsupported",
                ));
            }
            // Equal keys would land in different tablets, and keys are only
            // merged within a tablet so far.
            if ct.keys_type == KeysType::AggKeys {
                return Err(Error::not_supported(
                    "Random distribution for aggregate key table is not supported yet",
                ));
            }
            DistributionInfo::Random {
                buckets: buckets.unwrap_or(1),
            }
        }
        None if ct.keys_type == KeysType::DupKeys => DistributionInfo::Random { buckets: 1 },
        None => DistributionInfo::Hash {
            columns: keys.clone(),
            buckets: 1,
        },
    };
    let mut properties: BTreeMap<String, String> = ct.properties.iter().cloned().collect();
    if fe.config.force_olap_table_replication_num > 0 {
        properties.insert(
            "replication_num".into(),
            fe.config.force_olap_table_replication_num.to_string(),
        );
    }
    // Doris's default: three replicas.
    let replication = properties
        .entry("replication_num".into())
        .or_insert_with(|| "3".into());
    match replication.parse::<usize>() {
        Ok(n) if (1..=32).contains(&n) => {}
        _ => {
            return Err(Error::invalid(format!(
                "Invalid replication_num: {replication}"
            )))
        }
    }
    let (merge_on_write, sequence_col) =
        unique_key_columns(ct.keys_type, &mut columns, &mut properties)?;
    // Basalt's own: versions kept readable by FOR VERSION AS OF.
    let retained_versions = match properties.get("retained_versions") {
        None => 0,
        // Compaction bounds versions (max_tablet_version_num, 2000 by
        // default); retained ones count against that bound.
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "retained_versions must be a whole number up to 1000, not {v}"
                ))
            })?,
    };
    let bloom_filter_columns = bloom_filter_columns(ct.keys_type, &columns, &properties)?;
    let mut indexes: Vec<IndexDef> = Vec::new();
    for index in &ct.indexes {
        super::index::check(ct.keys_type, merge_on_write, &columns, &indexes, index)?;
        indexes.push(index.clone());
    }
    let (partition_info, descs) = match &ct.partition {
        None => (PartitionInfo::Unpartitioned, vec![]),
        Some(PartitionClause::Range {
            columns: cols,
            partitions,
        }) => (
            PartitionInfo::Range {
                columns: partition_columns(&columns, cols)?,
            },
            partitions.clone(),
        ),
        Some(PartitionClause::List {
            columns: cols,
            partitions,
        }) => (
            PartitionInfo::List {
                columns: partition_columns(&columns, cols)?,
            },
            partitions.clone(),
        ),
    };
    let mut table = OlapTable {
        id: fe.catalog.alloc_ids(1),
        name: ct.name.name.clone(),
        schema: TabletSchema {
            keys_type: ct.keys_type,
            columns,
            merge_on_write,
            sequence_col,
            retained_versions,
            bloom_filter_columns,
            indexes,
        },
        partition_info,
        distribution,
        properties,
        comment: ct.comment.clone(),
        partitions: Vec::new(),
        create_time: now_ms(),
        column_stats: Default::default(),
    };
    table.partitions = if matches!(table.partition_info, PartitionInfo::Unpartitioned) {
        vec![crate::cluster::placement::new_partition(
            fe,
            &table,
            table.name.clone(),
            None,
            Vec::new(),
        )?]
    } else {
        partitions::build(fe, &table, &descs, false)?
    };
    Ok(table)
}

fn partition_columns(
    columns: &[basalt_common::schema::Column],
    names: &[String],
) -> Result<Vec<String>> {
    names
        .iter()
        .map(|n| {
            let c = columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(n))
                .ok_or_else(|| Error::invalid(format!("partition column {n} does not exist")))?;
            if !c.is_key {
                return Err(Error::invalid(format!(
                    "The partition column could not be aggregated column: {n}"
                )));
            }
            Ok(c.name.clone())
        })
        .collect()
}

/// A default must be a value of the column's type.
fn check_default(c: &basalt_common::schema::Column, d: &str) -> Result<()> {
    use datafusion::arrow::array::{Array, StringArray};
    if d == "NULL" {
        if !c.nullable {
            return Err(Error::invalid(format!(
                "Can not set null default value to non nullable column: {}",
                c.name
            )));
        }
        return Ok(());
    }
    if d == "CURRENT_TIMESTAMP" {
        return match c.data_type {
            DorisType::DateTime { .. } | DorisType::Date => Ok(()),
            _ => Err(Error::invalid(format!(
                "Column {} of type {} can not default to CURRENT_TIMESTAMP",
                c.name, c.data_type
            ))),
        };
    }
    let arr = StringArray::from(vec![d]);
    let opts = datafusion::arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    match datafusion::arrow::compute::cast_with_options(&arr, &c.data_type.to_arrow(), &opts) {
        Ok(v) if v.null_count() == 0 => Ok(()),
        _ => Err(Error::invalid(format!(
            "Invalid default value for '{}': {d}",
            c.name
        ))),
    }
}

/// Creates every replica of the partitions' tablets on its backend. The guard
/// keeps tablet reports from taking them for leftovers until the catalog has them.
pub(crate) async fn create_tablets<'a>(
    fe: &'a Arc<Frontend>,
    schema: &TabletSchema,
    partitions: &[Partition],
) -> Result<crate::cluster::CreatingGuard<'a>> {
    let replicas: Vec<(u64, u64)> = partitions.iter().flat_map(partition_replicas).collect();
    let guard = fe
        .creating
        .hold(&replicas.iter().map(|(b, t)| (*t, *b)).collect::<Vec<_>>());
    let addrs = fe.backend_addrs();
    let calls = replicas.iter().map(|(backend, tablet_id)| {
        let addr = addrs.get(backend).cloned();
        let req = ControlRequest::CreateTablet {
            tablet_id: *tablet_id,
            schema: schema.clone(),
        };
        async move {
            let addr = addr.ok_or_else(|| Error::internal("replica on unknown backend"))?;
            fe.backends.rpc.call(&addr, &req).await
        }
    });
    futures::future::try_join_all(calls).await?;
    Ok(guard)
}

pub(crate) fn partition_replicas(p: &Partition) -> Vec<(u64, u64)> {
    p.index
        .tablets
        .iter()
        .flat_map(|t| t.replicas.iter().map(move |r| (r.backend_id, t.id)))
        .collect()
}

fn table_replicas(t: &OlapTable) -> Vec<(u64, u64)> {
    t.partitions.iter().flat_map(partition_replicas).collect()
}

/// Best effort: a backend that misses a drop keeps an orphan tablet, which is harmless.
pub(crate) async fn drop_tablets(fe: &Arc<Frontend>, replicas: Vec<(u64, u64)>) {
    let addrs = fe.backend_addrs();
    for (backend, tablet_id) in replicas {
        if let Some(addr) = addrs.get(&backend) {
            if let Err(e) = fe
                .backends
                .rpc
                .call(addr, &ControlRequest::DropTablet { tablet_id })
                .await
            {
                tracing::warn!("dropping tablet {tablet_id} on backend {backend}: {e}");
            }
        }
    }
}
