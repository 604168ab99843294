//! Session variables: the ones MySQL drivers and BI tools read on connect, and
//! Doris's own. `@@name` in queries reads them through DataFusion's variable hook.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::var_provider::VarProvider;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    Int(i64),
    Str(String),
}

impl VarValue {
    pub fn to_text(&self) -> String {
        match self {
            VarValue::Int(i) => i.to_string(),
            VarValue::Str(s) => s.clone(),
        }
    }
}

/// Defaults for every known variable; a SET of an unknown name is refused (MySQL 1193).
pub fn defaults() -> BTreeMap<String, VarValue> {
    use VarValue::{Int, Str};
    let s = |v: &str| Str(v.to_string());
    [
        ("auto_increment_increment", Int(1)),
        ("autocommit", Int(1)),
        ("character_set_client", s("utf8mb4")),
        ("character_set_connection", s("utf8mb4")),
        ("character_set_database", s("utf8mb4")),
        ("character_set_results", s("utf8mb4")),
        ("character_set_server", s("utf8mb4")),
        ("collation_connection", s("utf8mb4_0900_bin")),
        ("collation_database", s("utf8mb4_0900_bin")),
        ("collation_server", s("utf8mb4_0900_bin")),
        ("enable_insert_strict", Int(1)),
        ("exec_mem_limit", Int(2 << 30)),
        ("init_connect", s("")),
        ("interactive_timeout", Int(3600)),
        ("language", s("/palo/share/english/")),
        ("license", s("Apache License, Version 2.0")),
        ("lower_case_table_names", Int(0)),
        ("max_allowed_packet", Int(16 << 20)),
        ("net_buffer_length", Int(16384)),
        ("net_write_timeout", Int(600)),
        ("performance_schema", Int(0)),
        ("query_cache_size", Int(1 << 20)),
        ("query_cache_type", s("OFF")),
        ("query_timeout", Int(900)),
        ("sql_auto_is_null", Int(0)),
        ("sql_mode", s("ONLY_FULL_GROUP_BY")),
        ("sql_select_limit", Int(i64::MAX)),
        ("system_time_zone", s("UTC")),
        ("time_zone", s("UTC")),
        ("transaction_isolation", s("REPEATABLE-READ")),
        ("transaction_read_only", Int(0)),
        ("tx_isolation", s("REPEATABLE-READ")),
        ("tx_read_only", Int(0)),
        ("version", s(basalt_common::MYSQL_SERVER_VERSION)),
        ("version_comment", Str(basalt_common::version_comment())),
        ("wait_timeout", Int(28800)),
        ("socket", s("")),
        ("hostname", s("localhost")),
        ("have_ssl", s("DISABLED")),
        ("have_openssl", s("DISABLED")),
        ("protocol_version", Int(10)),
        ("version_compile_os", s("Linux")),
        ("version_compile_machine", s(std::env::consts::ARCH)),
        ("read_only", Int(0)),
        ("default_storage_engine", s("olap")),
        ("div_precision_increment", Int(4)),
        ("group_concat_max_len", Int(1024)),
        // INSERT ... VALUES joins a backend's group commit (Doris's modes).
        ("group_commit", s("off_mode")),
        ("max_execution_time", Int(0)),
        ("net_read_timeout", Int(60)),
        ("sql_safe_updates", Int(0)),
        ("explicit_defaults_for_timestamp", Int(1)),
        // Doris's: queries and DESC see the hidden columns of UNIQUE tables.
        ("show_hidden_columns", Int(0)),
        // Doris's: an INSERT with a column list into a merge-on-write UNIQUE
        // table updates only those columns.
        ("enable_unique_key_partial_update", Int(0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A snapshot of one session's variables for the planner.
#[derive(Debug)]
pub struct SessionVars(pub BTreeMap<String, VarValue>);

impl SessionVars {
    /// `@@session.x`, `@@global.x` and `@@x` all name `x`.
    fn lookup(&self, names: &[String]) -> Option<&VarValue> {
        let name = names.last()?.trim_start_matches('@').to_ascii_lowercase();
        self.0.get(&name)
    }
}

impl VarProvider for SessionVars {
    fn get_value(&self, names: Vec<String>) -> Result<ScalarValue> {
        match self.lookup(&names) {
            Some(VarValue::Int(i)) => Ok(ScalarValue::Int64(Some(*i))),
            Some(VarValue::Str(s)) => Ok(ScalarValue::Utf8(Some(s.clone()))),
            None => datafusion::common::plan_err!("Unknown system variable '{}'", names.join(".")),
        }
    }

    fn get_type(&self, names: &[String]) -> Option<DataType> {
        match self.lookup(names) {
            Some(VarValue::Int(_)) => Some(DataType::Int64),
            Some(VarValue::Str(_)) => Some(DataType::Utf8),
            None => None,
        }
    }
}

/// User variables (`@x`): unset ones read as NULL, as in MySQL.
#[derive(Debug)]
pub struct UserVars(pub BTreeMap<String, VarValue>);

impl VarProvider for UserVars {
    fn get_value(&self, names: Vec<String>) -> Result<ScalarValue> {
        let name = names.join(".").trim_start_matches('@').to_ascii_lowercase();
        Ok(match self.0.get(&name) {
            Some(VarValue::Int(i)) => ScalarValue::Int64(Some(*i)),
            Some(VarValue::Str(s)) => ScalarValue::Utf8(Some(s.clone())),
            None => ScalarValue::Utf8(None),
        })
    }

    fn get_type(&self, names: &[String]) -> Option<DataType> {
        let name = names.join(".").trim_start_matches('@').to_ascii_lowercase();
        Some(match self.0.get(&name) {
            Some(VarValue::Int(_)) => DataType::Int64,
            _ => DataType::Utf8,
        })
    }
}
