//! Configuration with Doris's key names. A key is read, in increasing priority,
//! from its default, the TOML file named by `--config FILE`, the environment
//! (`BASALT_QUERY_PORT`), and the command line (`--query-port 9031`).
//!
//! All sources merge into one table that each role's struct deserializes from,
//! so the standalone binary reads the FE's and the BE's keys from the same table.

use crate::{Error, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FeConfig {
    pub bind_host: String,
    pub query_port: u16,
    pub http_port: u16,
    pub edit_log_port: u16,
    pub meta_dir: PathBuf,
    /// Seconds between two heartbeats to each backend.
    pub heartbeat_interval_second: u64,
    /// Missed heartbeats in a row after which a backend is reported dead.
    pub max_backend_heartbeat_failure_tolerance_count: u32,
    /// Largest MySQL packet accepted from a client, in bytes.
    pub max_allowed_packet: usize,
    /// When above 0, every new OLAP table gets this many replicas, whatever it asks for.
    pub force_olap_table_replication_num: usize,
    /// Seconds a backend must stay dead before its replicas are re-created elsewhere.
    pub tablet_repair_delay_factor_second: u64,
    /// Milliseconds between two rounds of the tablet scheduler.
    pub tablet_checker_interval_ms: u64,
    /// Seconds between two tablet reports the FE asks of each backend.
    pub tablet_report_interval_second: u64,
    /// How the FE hands a Stream Load to a backend: `redirect` (a 307, as Doris
    /// does) or `proxy` (the FE forwards the body itself, for clients that cannot
    /// follow a redirect). A request's `redirect-policy` header overrides it.
    pub streamload_redirect_policy: String,
    /// A Stream Load without a `timeout` header is aborted after this long.
    pub stream_load_default_timeout_second: u64,
    /// A two-phase load not committed or aborted within this long is aborted.
    pub stream_load_default_precommit_timeout_second: u64,
    /// How long a finished load's label stays taken (Doris's name and default
    /// for INSERT and Stream Load labels).
    pub streaming_label_keep_max_second: u64,
    /// Most leaves one expression may have (Doris's name and default).
    pub expr_children_limit: usize,
    /// Deepest one expression may nest (Doris's name and default).
    pub expr_depth_limit: usize,
    pub ready_file: Option<PathBuf>,
}

impl Default for FeConfig {
    fn default() -> Self {
        Self {
            bind_host: "0.0.0.0".into(),
            query_port: 9030,
            http_port: 8030,
            edit_log_port: 9010,
            meta_dir: "./doris-meta".into(),
            heartbeat_interval_second: 2,
            max_backend_heartbeat_failure_tolerance_count: 1,
            max_allowed_packet: 64 << 20,
            force_olap_table_replication_num: 0,
            tablet_repair_delay_factor_second: 60,
            tablet_checker_interval_ms: 1000,
            tablet_report_interval_second: 10,
            streamload_redirect_policy: "redirect".into(),
            stream_load_default_timeout_second: 259_200,
            stream_load_default_precommit_timeout_second: 3600,
            streaming_label_keep_max_second: 43_200,
            expr_children_limit: 10_000,
            expr_depth_limit: 3_000,
            ready_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BeConfig {
    pub bind_host: String,
    pub webserver_port: u16,
    pub heartbeat_service_port: u16,
    pub brpc_port: u16,
    pub storage_root_path: PathBuf,
    /// The largest Stream Load body, in MB (Doris's name and default).
    pub streaming_load_max_mb: u64,
    /// The largest JSON body read as one document (not `read_json_by_line`),
    /// in MB (Doris's name and default).
    pub streaming_load_json_max_mb: u64,
    /// A load flushes a tablet's buffered rows as a segment at this many bytes
    /// (Doris's name; its default is 200 MB, Basalt's smaller default starts
    /// writing sooner and keeps a load's memory lower).
    pub write_buffer_size: u64,
    /// Compaction (Doris's names and defaults, except where noted).
    pub disable_auto_compaction: bool,
    /// How often tablets are checked for compaction work (Doris checks every
    /// 10 ms; Basalt's check walks every tablet, so less often).
    pub generate_compaction_tasks_interval_ms: u64,
    pub cumulative_compaction_min_deltas: usize,
    pub cumulative_compaction_max_deltas: usize,
    pub base_compaction_min_rowset_num: usize,
    pub compaction_promotion_size_mbytes: u64,
    /// Loads into a tablet with this many rowsets wait for compaction.
    pub max_tablet_version_num: usize,
    pub tablet_rowset_stale_sweep_time_sec: u64,
    pub ready_file: Option<PathBuf>,
}

impl Default for BeConfig {
    fn default() -> Self {
        Self {
            bind_host: "0.0.0.0".into(),
            webserver_port: 8040,
            heartbeat_service_port: 9050,
            brpc_port: 8060,
            storage_root_path: "./storage".into(),
            streaming_load_max_mb: 10_240,
            streaming_load_json_max_mb: 100,
            write_buffer_size: crate::tablet_writer::DEFAULT_WRITE_BUFFER_SIZE,
            disable_auto_compaction: false,
            generate_compaction_tasks_interval_ms: 200,
            cumulative_compaction_min_deltas: 5,
            cumulative_compaction_max_deltas: 1000,
            base_compaction_min_rowset_num: 5,
            compaction_promotion_size_mbytes: 1024,
            max_tablet_version_num: 2000,
            tablet_rowset_stale_sweep_time_sec: 1800,
            ready_file: None,
        }
    }
}

/// The merged key/value table from every source.
#[derive(Debug, Clone, Default)]
pub struct ConfigTable {
    table: toml::Table,
    /// Keys set in the file or on the command line, checked by [`ConfigTable::check_known`].
    explicit: Vec<String>,
}

impl ConfigTable {
    /// Reads the config file named by `--config`, the `BASALT_*` environment and
    /// the other flags of `args` (without the program name).
    pub fn load(args: &[String]) -> Result<Self> {
        let flags = parse_flags(args)?;
        let mut table = toml::Table::new();
        if let Some((_, file)) = flags.iter().find(|(k, _)| k == "config") {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error::invalid(format!("cannot read config file {file}: {e}")))?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| Error::invalid(format!("bad config file {file}: {e}")))?;
        }
        let mut explicit: Vec<String> = table.keys().cloned().collect();
        for (name, value) in std::env::vars() {
            if let Some(key) = name.strip_prefix("BASALT_") {
                table.insert(key.to_ascii_lowercase(), scalar(&value));
            }
        }
        for (key, value) in flags.into_iter().filter(|(k, _)| k != "config") {
            explicit.push(key.clone());
            table.insert(key, scalar(&value));
        }
        Ok(Self { table, explicit })
    }

    pub fn get<T: DeserializeOwned>(&self) -> Result<T> {
        toml::Value::Table(self.table.clone())
            .try_into()
            .map_err(|e| Error::invalid(format!("bad configuration: {e}")))
    }

    /// Fails on a key set in the file or on the command line that none of the
    /// given configurations knows, so a typo does not silently fall back to a default.
    /// Environment variables are not checked: the environment may hold unrelated `BASALT_*`.
    pub fn check_known(&self, known: &[toml::Table]) -> Result<()> {
        for key in &self.explicit {
            if !known.iter().any(|t| t.contains_key(key)) && !extra_key(key) {
                return Err(Error::invalid(format!("unknown configuration key '{key}'")));
            }
        }
        Ok(())
    }

    pub fn insert_default(&mut self, key: &str, value: toml::Value) {
        self.table.entry(key.to_string()).or_insert(value);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }
}

/// Keys that no struct holds but a binary reads directly.
fn extra_key(key: &str) -> bool {
    matches!(key, "data_dir")
}

/// Every key a configuration struct has, for [`ConfigTable::check_known`].
pub fn keys_of<T: Serialize + Default>() -> toml::Table {
    let mut table = toml::Table::try_from(T::default()).unwrap_or_default();
    // Optional keys are skipped when they serialize to nothing; record them all.
    table.insert("ready_file".into(), toml::Value::String(String::new()));
    table
}

/// `--query-port 9031` and `--query-port=9031` become `("query_port", "9031")`.
fn parse_flags(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(Error::invalid(format!("unexpected argument '{arg}'")));
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let value = it
                    .next()
                    .ok_or_else(|| Error::invalid(format!("flag --{flag} needs a value")))?;
                (flag.to_string(), value.clone())
            }
        };
        out.push((name.replace('-', "_"), value));
    }
    Ok(out)
}

/// A flag or environment value is an integer or a boolean when it reads as one.
fn scalar(value: &str) -> toml::Value {
    if let Ok(i) = value.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let Ok(b) = value.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(value.to_string())
    }
}

/// Writes `ports` as JSON to `path` atomically: readers see all of it or nothing.
pub fn write_ready_file(path: &Path, ports: &serde_json::Value) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(ports)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_override_defaults() {
        let t = ConfigTable::load(&args("--query-port 9031 --meta-dir=/x")).unwrap();
        let fe: FeConfig = t.get().unwrap();
        assert_eq!(fe.query_port, 9031);
        assert_eq!(fe.meta_dir, PathBuf::from("/x"));
        assert_eq!(fe.http_port, 8030);
    }

    #[test]
    fn environment_sets_a_key_and_flags_win() {
        std::env::set_var("BASALT_EDIT_LOG_PORT", "7010");
        let fe: FeConfig = ConfigTable::load(&[]).unwrap().get().unwrap();
        assert_eq!(fe.edit_log_port, 7010);
        let fe: FeConfig = ConfigTable::load(&args("--edit-log-port 7011"))
            .unwrap()
            .get()
            .unwrap();
        assert_eq!(fe.edit_log_port, 7011);
        std::env::remove_var("BASALT_EDIT_LOG_PORT");
    }

    #[test]
    fn unknown_flag_is_rejected() {
        let a = args("--query-prot 1");
        let t = ConfigTable::load(&a).unwrap();
        let err = t.check_known(&[keys_of::<FeConfig>()]).unwrap_err();
        assert!(err.message.contains("query_prot"), "{err}");
    }

    #[test]
    fn file_is_read_and_flags_win() {
        let dir = std::env::temp_dir().join(format!("basalt-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("fe.toml");
        std::fs::write(&file, "query_port = 7000\nhttp_port = 7001\n").unwrap();
        let a = args(&format!("--config {} --http-port 7002", file.display()));
        let fe: FeConfig = ConfigTable::load(&a).unwrap().get().unwrap();
        assert_eq!((fe.query_port, fe.http_port), (7000, 7002));
    }
}
