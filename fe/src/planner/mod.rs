//! Query planning on DataFusion: the catalog as DataFusion sees it, the OLAP
//! table scan, and the rule that sends scan fragments to the backends.

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
        // MySQL and Doris sort NULL first in ascending order.
        .set_str("datafusion.sql_parser.default_null_ordering", "nulls_min");
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_catalog_list(Arc::new(Catalogs(Arc::clone(fe))));
    let state = distribute::with_distribution(builder, Arc::clone(fe)).build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_variable(VarType::System, Arc::new(SessionVars(session.vars.clone())));
    ctx.register_variable(
        VarType::UserDefined,
        Arc::new(UserVars(session.user_vars.clone())),
    );
    functions::register(&ctx, session);
    ctx
}

#[derive(Debug)]
struct Catalogs(Arc<Frontend>);

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
        (name == INTERNAL_CATALOG).then(|| Arc::new(InternalCatalog(Arc::clone(&self.0))) as _)
    }
}

/// Doris's `internal` catalog: one schema per database, plus information_schema.
#[derive(Debug)]
struct InternalCatalog(Arc<Frontend>);

impl CatalogProvider for InternalCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.catalog.read().databases.keys().cloned().collect();
        names.push(INFORMATION_SCHEMA.into());
        names
    }
    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let db = resolve_db_name(&self.0.catalog.read(), name)?;
        if db == INFORMATION_SCHEMA {
            return Some(Arc::new(information_schema::InformationSchema(Arc::clone(
                &self.0,
            ))));
        }
        Some(Arc::new(DatabaseSchema {
            fe: Arc::clone(&self.0),
            db,
        }))
    }
}

#[derive(Debug)]
struct DatabaseSchema {
    fe: Arc<Frontend>,
    db: String,
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
        ))))
    }
    fn table_exist(&self, name: &str) -> bool {
        resolve_table_name(&self.fe.catalog.read(), &self.db, name).is_some()
    }
}
