//! The protocol-neutral session: the MySQL layer (and later HTTP) translate wire
//! formats and call [`Session::execute`]; statements are executed here.

use crate::sql::ast::Statement;
use crate::variables::{self, VarValue};
use crate::Frontend;
use basalt_common::{Error, ErrorKind, Result};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one statement returns.
#[derive(Debug)]
pub enum QueryResult {
    Ok {
        affected_rows: u64,
        info: String,
    },
    Rows {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
}

impl QueryResult {
    pub fn ok() -> Self {
        QueryResult::Ok {
            affected_rows: 0,
            info: String::new(),
        }
    }
}

pub struct Session {
    pub fe: Arc<Frontend>,
    pub connection_id: u32,
    pub user: String,
    pub client_host: String,
    pub db: Option<String>,
    pub vars: BTreeMap<String, VarValue>,
    pub user_vars: BTreeMap<String, VarValue>,
    /// (level, code, message) of the last statement, for SHOW WARNINGS.
    pub warnings: Vec<(String, u16, String)>,
    /// Shared with SHOW PROCESSLIST and KILL.
    pub control: Arc<crate::connections::ConnectionControl>,
}

impl Session {
    pub fn new(fe: Arc<Frontend>, connection_id: u32, user: String, client_host: String) -> Self {
        let vars = initial_vars(&fe);
        let control = Arc::new(crate::connections::ConnectionControl::new(
            connection_id,
            user.clone(),
            client_host.clone(),
        ));
        Self {
            fe,
            control,
            connection_id,
            user,
            client_host,
            db: None,
            vars,
            user_vars: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Back to a fresh session's state, keeping the login (COM_RESET_CONNECTION).
    pub fn reset(&mut self) {
        self.vars = initial_vars(&self.fe);
        self.user_vars.clear();
        self.warnings.clear();
    }

    /// `'root'@'127.0.0.1'` as USER() shows it.
    pub fn user_identity(&self) -> String {
        format!("'{}'@'{}'", self.user, self.client_host)
    }

    pub fn use_db(&mut self, db: &str) -> Result<()> {
        let state = self.fe.catalog.read();
        let name = crate::planner::resolve_db_name(&state, db)
            .ok_or_else(|| basalt_catalog::unknown_db(db))?;
        drop(state);
        self.db = Some(name);
        Ok(())
    }

    /// The database a statement means: the one it names, or the current one (1046 otherwise).
    pub fn db_or_current(&self, db: Option<&String>) -> Result<String> {
        match db.or(self.db.as_ref()) {
            Some(d) => {
                let state = self.fe.catalog.read();
                Ok(crate::planner::resolve_db_name(&state, d).unwrap_or_else(|| d.clone()))
            }
            None => Err(Error::new(
                ErrorKind::NoDatabaseSelected,
                "No database selected",
            )),
        }
    }

    /// Parses `sql` under the FE's current expression limits.
    pub fn parse(&self, sql: &str) -> Result<Vec<Statement>> {
        crate::sql::parser::parse(sql, self.fe.mutable_config.expr_limits())
    }

    /// Runs every statement in `sql`; stops at the first error, which is the last item.
    pub async fn execute(&mut self, sql: &str) -> Vec<Result<QueryResult>> {
        let statements = match self.parse(sql) {
            Ok(s) => s,
            Err(e) => {
                self.warnings = vec![warning_of(&e)];
                return vec![Err(e)];
            }
        };
        let mut out = Vec::with_capacity(statements.len());
        for stmt in statements {
            let r = self.execute_statement(stmt).await;
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }

    pub async fn execute_statement(&mut self, stmt: Statement) -> Result<QueryResult> {
        let is_show_warnings =
            matches!(&stmt, Statement::Show(s) if matches!(**s, crate::sql::ast::Show::Warnings));
        if !is_show_warnings {
            self.warnings.clear();
        }
        let result = crate::sql::execute(self, stmt).await;
        if let Err(e) = &result {
            self.warnings = vec![warning_of(e)];
        }
        result
    }

    pub fn set_var(&mut self, raw_name: &str, value: VarValue) -> Result<()> {
        let name = raw_name.to_ascii_lowercase();
        if let Some(user) = name.strip_prefix('@').filter(|n| !n.starts_with('@')) {
            self.user_vars.insert(user.to_string(), value);
            return Ok(());
        }
        let name = name.trim_start_matches('@');
        let name = ["session.", "global.", "local."]
            .iter()
            .find_map(|p| name.strip_prefix(p))
            .unwrap_or(name);
        if !self.vars.contains_key(name) {
            return Err(Error::new(
                ErrorKind::UnknownVariable,
                format!("Unknown system variable '{name}'"),
            ));
        }
        let value = match (name, value) {
            ("group_commit", VarValue::Str(mode)) => {
                let mode = mode.to_ascii_lowercase();
                if !["off_mode", "sync_mode", "async_mode"].contains(&mode.as_str()) {
                    return Err(Error::new(
                        ErrorKind::WrongValueForVariable,
                        format!("Variable 'group_commit' can't be set to the value of '{mode}'"),
                    ));
                }
                VarValue::Str(mode)
            }
            (_, value) => value,
        };
        self.vars.insert(name.to_string(), value);
        Ok(())
    }

    /// A boolean variable: set by `1`, `true` or `on`.
    pub fn var_flag(&self, name: &str) -> bool {
        matches!(
            self.var_text(name).to_ascii_lowercase().as_str(),
            "1" | "true" | "on"
        )
    }

    /// A variable's text (`""` for an unknown one).
    pub fn var_text(&self, name: &str) -> String {
        self.vars
            .get(name)
            .map(VarValue::to_text)
            .unwrap_or_default()
    }
}

/// A fresh session's variables: the defaults plus what the server's config fixes.
fn initial_vars(fe: &Frontend) -> BTreeMap<String, VarValue> {
    let mut vars = variables::defaults();
    // Clients size their packets by this; it is the server's real limit.
    vars.insert(
        "max_allowed_packet".into(),
        VarValue::Int(fe.config.max_allowed_packet as i64),
    );
    vars
}

/// SHOW WARNINGS' row for a failed statement.
fn warning_of(e: &Error) -> (String, u16, String) {
    (
        "Error".into(),
        crate::mysql::error_code(e.kind),
        e.message.clone(),
    )
}
