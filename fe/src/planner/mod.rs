//! Query planning on DataFusion: the catalog as DataFusion sees it, the OLAP
//! table scan, and the rule that sends scan fragments to the backends.

pub mod arithmetic;
pub mod distribute;
pub mod functions;
pub mod information_schema;
pub mod provider;

use crate::session::Session;
use crate::variables::{SessionVars, UserVars};
use crate::Frontend;
use async_trait::async_trait;
use basalt_catalog::CatalogState;
use datafusion::catalog::{CatalogProvider, CatalogProviderList, SchemaProvider, TableProvider};
use datafusion::common::Result as DfResult;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::variable::VarType;
use datafusion_distributed::DistributedExt;
use std::sync::Arc;

pub const INTERNAL_CATALOG: &str = "internal";
pub const INFORMATION_SCHEMA: &str = "information_schema";
/// The default schema DataFusion resolves unqualified names in when no database is in use.
const NO_DATABASE: &str = "__no_database__";

/// Finds a database by exact name, then ignoring case (unquoted names arrive lowercased).
pub fn resolve_db_name(state: &CatalogState, name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case(INFORMATION_SCHEMA) {
        return Some(INFORMATION_SCHEMA.into());
    }
    if state.databases.contains_key(name) {
        return Some(name.to_string());
    }
    state
        .databases
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

/// Finds a table by exact name, then ignoring case.
pub fn resolve_table_name(state: &CatalogState, db: &str, name: &str) -> Option<String> {
    let tables = &state.databases.get(db)?.tables;
    if tables.contains_key(name) {
        return Some(name.to_string());
    }
    tables
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

/// A DataFusion context for one statement of `session`.
pub fn context(session: &Session) -> SessionContext {
    let fe = &session.fe;
    let target_partitions = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(
            INTERNAL_CATALOG,
            session.db.as_deref().unwrap_or(NO_DATABASE),
        )
        .with_information_schema(false)
        .with_target_partitions(target_partitions)
        .set_str("datafusion.sql_parser.dialect", "MySQL")
        // A decimal literal is a DECIMAL of its own precision and scale, as
        // Doris types it (`0.1 + 0.2` is exactly 0.3), never a DOUBLE.
        .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
        // MySQL and Doris sort NULL first in ascending order.
        .set_str("datafusion.sql_parser.default_null_ordering", "nulls_min");
    // exec_mem_limit bounds the query on the FE and each of its fragments on the BEs.
    let limit = match session.vars.get("exec_mem_limit") {
        Some(crate::variables::VarValue::Int(n)) if *n > 0 => *n as usize,
        _ => 2 << 30,
    };
    let runtime = basalt_common::limited_runtime(limit);
    let mut headers = tonic::codegen::http::HeaderMap::new();
    headers.insert(basalt_common::EXEC_MEM_LIMIT_HEADER, limit.into());
    let mut config = config;
    if let Err(e) = config.set_distributed_passthrough_headers(headers) {
        tracing::warn!("exec_mem_limit does not reach the backends: {e}");
    }
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_catalog_list(Arc::new(Catalogs {
            fe: Arc::clone(fe),
            hidden: session.var_flag("show_hidden_columns"),
        }));
    let state = distribute::with_distribution(builder, Arc::clone(fe)).build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_variable(VarType::System, Arc::new(SessionVars(session.vars.clone())));
    ctx.register_variable(
        VarType::UserDefined,
        Arc::new(UserVars(session.user_vars.clone())),
    );
    functions::register(&ctx, session);
    ctx.register_udtf(
        crate::sql::parser::time_travel::VERSION_AS_OF,
        Arc::new(VersionAsOf {
            fe: Arc::clone(fe),
            db: session.db.clone(),
        }),
    );
    ctx
}

/// `t FOR VERSION AS OF n` (see `sql::parser::time_travel`): the table `t`
/// as it was at version `n`.
#[derive(Debug)]
struct VersionAsOf {
    fe: Arc<Frontend>,
    db: Option<String>,
}

impl datafusion::catalog::TableFunctionImpl for VersionAsOf {
    fn call_with_args(
        &self,
        args: datafusion::catalog::TableFunctionArgs,
    ) -> DfResult<Arc<dyn TableProvider>> {
        use datafusion::common::{plan_err, ScalarValue};
        use datafusion::logical_expr::Expr;
        let (name, version) = match args.exprs() {
            [Expr::Literal(ScalarValue::Utf8(Some(name)), _), Expr::Literal(v, _)] => (
                name.clone(),
                v.cast_to(&datafusion::arrow::datatypes::DataType::Int64)?,
            ),
            _ => return plan_err!("FOR VERSION AS OF takes a table and a version number"),
        };
        let ScalarValue::Int64(Some(version)) = version else {
            return plan_err!("FOR VERSION AS OF takes a version number");
        };
        let (db, table) = match name.split_once('.') {
            Some((db, t)) => (db.to_string(), t.to_string()),
            None => match &self.db {
                Some(db) => (db.clone(), name.clone()),
                None => {
                    return Err(basalt_common::Error::new(
                        basalt_common::ErrorKind::NoDatabaseSelected,
                        "No database selected",
                    )
                    .into())
                }
            },
        };
        let state = self.fe.catalog.read();
        let db = resolve_db_name(&state, &db).unwrap_or(db);
        let table = resolve_table_name(&state, &db, &table).unwrap_or(table);
        let t = state.table(&db, &table)?.clone();
        drop(state);
        let provider = provider::OlapTableProvider::new(Arc::clone(&self.fe), db, t, false);
        Ok(Arc::new(provider.at_version(version.max(0) as u64)?))
    }
}

/// A query's execution error in Doris's terms: the memory limit names
/// `exec_mem_limit`; a backend that failed mid-query is named, and a retry
/// will read another replica (the caller re-checks liveness first).
pub fn query_error(
    session: &Session,
    e: datafusion::error::DataFusionError,
) -> basalt_common::Error {
    use basalt_common::{Error, ErrorKind};
    if let datafusion::error::DataFusionError::ResourcesExhausted(msg) = e.find_root() {
        let limit = session
            .vars
            .get("exec_mem_limit")
            .map(|v| v.to_text())
            .unwrap_or_default();
        return Error::invalid(format!(
            "[MEM_LIMIT_EXCEEDED] query memory limit exceeded, limit {limit} bytes: {msg}; can `set exec_mem_limit=8G` to change limit"
        ));
    }
    let err = basalt_common::Error::from(e);
    if err.message.contains("Resources exhausted") {
        // A BE fragment hit exec_mem_limit; its error arrives as text.
        return Error::invalid(format!(
            "[MEM_LIMIT_EXCEEDED] a fragment exceeded exec_mem_limit: {}; can `set exec_mem_limit=8G` to change limit",
            err.message
        ));
    }
    // datafusion-distributed reports a lost worker as a transport error in text form.
    const LOST: [&str; 6] = [
        "transport error",
        "Connection refused",
        "error trying to connect",
        "connection reset",
        "Broken pipe",
        "status: Unavailable",
    ];
    if LOST.iter().any(|m| err.message.contains(m)) {
        return Error::new(
            ErrorKind::Backend,
            format!(
                "a backend failed during the query; run it again to read other replicas: {}",
                err.message
            ),
        );
    }
    err
}

#[derive(Debug)]
/// `hidden`: tables show their hidden columns (`show_hidden_columns`).
struct Catalogs {
    fe: Arc<Frontend>,
    hidden: bool,
}

impl CatalogProviderList for Catalogs {
    fn register_catalog(
        &self,
        _: String,
        _: Arc<dyn CatalogProvider>,
    ) -> Option<Arc<dyn CatalogProvider>> {
        None
    }
    fn catalog_names(&self) -> Vec<String> {
        vec![INTERNAL_CATALOG.into()]
    }
    fn catalog(&self, name: &str) -> Option<Arc<dyn CatalogProvider>> {
        (name == INTERNAL_CATALOG).then(|| {
            Arc::new(InternalCatalog {
                fe: Arc::clone(&self.fe),
                hidden: self.hidden,
            }) as _
        })
    }
}

/// Doris's `internal` catalog: one schema per database, plus information_schema.
#[derive(Debug)]
struct InternalCatalog {
    fe: Arc<Frontend>,
    hidden: bool,
}

impl CatalogProvider for InternalCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.fe.catalog.read().databases.keys().cloned().collect();
        names.push(INFORMATION_SCHEMA.into());
        names
    }
    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let db = resolve_db_name(&self.fe.catalog.read(), name)?;
        if db == INFORMATION_SCHEMA {
            return Some(Arc::new(information_schema::InformationSchema(Arc::clone(
                &self.fe,
            ))));
        }
        Some(Arc::new(DatabaseSchema {
            fe: Arc::clone(&self.fe),
            db,
            hidden: self.hidden,
        }))
    }
}

#[derive(Debug)]
struct DatabaseSchema {
    fe: Arc<Frontend>,
    db: String,
    hidden: bool,
}

#[async_trait]
impl SchemaProvider for DatabaseSchema {
    fn table_names(&self) -> Vec<String> {
        let state = self.fe.catalog.read();
        state
            .databases
            .get(&self.db)
            .map(|d| d.tables.keys().cloned().collect())
            .unwrap_or_default()
    }
    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let state = self.fe.catalog.read();
        let Some(name) = resolve_table_name(&state, &self.db, name) else {
            return Ok(None);
        };
        let table = state.table(&self.db, &name)?.clone();
        drop(state);
        Ok(Some(Arc::new(provider::OlapTableProvider::new(
            Arc::clone(&self.fe),
            self.db.clone(),
            table,
            self.hidden,
        ))))
    }
    fn table_exist(&self, name: &str) -> bool {
        resolve_table_name(&self.fe.catalog.read(), &self.db, name).is_some()
    }
}
