//! The FE's config while it runs: `ADMIN SET FRONTEND CONFIG` changes the keys
//! Doris marks mutable, `ADMIN SHOW FRONTEND CONFIG` lists every key.

use crate::rows::{s, text_cols};
use crate::session::Session;
use crate::sql::ast::Filter;
use crate::sql::parser::ExprLimits;
use crate::sql::show::Out;
use basalt_common::config::FeConfig;
use basalt_common::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The keys that change without a restart, read where they are used.
pub struct MutableConfig {
    expr_children_limit: AtomicUsize,
    expr_depth_limit: AtomicUsize,
}

impl MutableConfig {
    pub fn new(config: &FeConfig) -> Self {
        Self {
            expr_children_limit: config.expr_children_limit.into(),
            expr_depth_limit: config.expr_depth_limit.into(),
        }
    }

    pub fn expr_limits(&self) -> ExprLimits {
        ExprLimits {
            children: self.expr_children_limit.load(Ordering::Relaxed),
            depth: self.expr_depth_limit.load(Ordering::Relaxed),
        }
    }

    fn key(&self, key: &str) -> Option<&AtomicUsize> {
        match key {
            "expr_children_limit" => Some(&self.expr_children_limit),
            "expr_depth_limit" => Some(&self.expr_depth_limit),
            _ => None,
        }
    }
}

/// Doris asks for the ADMIN privilege; only root has it for now.
fn check_admin(session: &Session) -> Result<()> {
    if session.user == "root" {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::SpecificAccessDenied,
        "Access denied; you need (at least one of) the (ADMIN) privilege(s) for this operation",
    ))
}

/// `ADMIN SET FRONTEND CONFIG ("key" = "value", ...)`, with Doris's messages.
pub fn set(session: &Session, settings: &[(String, String)]) -> Result<()> {
    check_admin(session)?;
    let fe = &session.fe;
    for (key, value) in settings {
        let Some(slot) = fe.mutable_config.key(key) else {
            return Err(Error::invalid(if keys(&fe.config)?.contains_key(key) {
                format!("Config '{key}' is not mutable")
            } else {
                format!("Config '{key}' does not exist")
            }));
        };
        let n: usize = value
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Failed to set config '{key}'. err: '{value}' is not a positive integer"
                ))
            })?;
        slot.store(n, Ordering::Relaxed);
    }
    Ok(())
}

/// Every key with its value at startup, by name.
fn keys(config: &FeConfig) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        _ => Err(Error::internal("the FE config is not a table of keys")),
    }
}

/// `ADMIN SHOW FRONTEND CONFIG [LIKE 'pattern']`: Doris's columns, one row per key.
pub fn show(session: &Session, filter: Filter) -> Result<Out> {
    check_admin(session)?;
    let fe = &session.fe;
    let rows = keys(&fe.config)?
        .into_iter()
        .map(|(key, value)| {
            let live = fe.mutable_config.key(&key);
            let (text, ty) = match (live, value) {
                (Some(n), _) => (n.load(Ordering::Relaxed).to_string(), "int"),
                (None, serde_json::Value::String(v)) => (v, "String"),
                (None, serde_json::Value::Number(v)) => (v.to_string(), "long"),
                (None, serde_json::Value::Bool(v)) => (v.to_string(), "boolean"),
                (None, serde_json::Value::Null) => (String::new(), "String"),
                (None, v) => (v.to_string(), "String"),
            };
            vec![
                s(key),
                s(text),
                s(ty),
                s(live.is_some().to_string()),
                s("false"),
                s(""),
            ]
        })
        .collect();
    let cols = text_cols(&["Key", "Value", "Type", "IsMutable", "MasterOnly", "Comment"]);
    Ok((cols, rows, filter))
}
