//! Cluster administration statements: ALTER SYSTEM, SHOW PROC, ADMIN SHOW
//! REPLICA, KILL, ANALYZE.

use super::DorisParser;
use crate::sql::ast::*;
use basalt_common::{Error, Result};
use datafusion::sql::sqlparser::tokenizer::Token;

impl DorisParser<'_> {
    /// After `ALTER SYSTEM`.
    pub(super) fn alter_system(&mut self) -> Result<Statement> {
        let op = if self.words(&["ADD", "BACKEND"]) {
            AlterSystem::AddBackends(self.backend_list()?)
        } else if self.words(&["DROP", "BACKEND"]) {
            AlterSystem::DropBackends {
                backends: self.backend_list()?,
                force: false,
            }
        } else if self.words(&["DROPP", "BACKEND"]) {
            AlterSystem::DropBackends {
                backends: self.backend_list()?,
                force: true,
            }
        } else if self.words(&["DECOMMISSION", "BACKEND"]) {
            AlterSystem::Decommission(self.backend_list()?)
        } else if self.words(&["CANCEL", "DECOMMISSION", "BACKEND"]) {
            AlterSystem::CancelDecommission(self.backend_list()?)
        } else {
            return Err(self
                .error("expected ADD, DROP, DROPP, DECOMMISSION or CANCEL DECOMMISSION BACKEND"));
        };
        Ok(Statement::AlterSystem(op))
    }

    /// `"host:port"[, ...]` or backend ids, quoted or not.
    fn backend_list(&mut self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        loop {
            match self.p.next_token().token {
                Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => out.push(s),
                Token::Number(n, _) => out.push(n),
                _ => {
                    self.p.prev_token();
                    return Err(self.error("expected \"host:port\" or a backend id"));
                }
            }
            if !self.p.consume_token(&Token::Comma) {
                return Ok(out);
            }
        }
    }

    /// After `ADMIN`: `SHOW REPLICA STATUS|DISTRIBUTION FROM t [WHERE ...]`,
    /// `SHOW FRONTEND CONFIG [LIKE ...]`, `SET [ALL] FRONTEND[S] CONFIG (...)`.
    pub(super) fn admin(&mut self) -> Result<Statement> {
        if self.word("SET") {
            let _ = self.words(&["ALL", "FRONTENDS"]) || self.word("FRONTEND");
            self.expect_word("CONFIG")?;
            return Ok(Statement::AdminSetFrontendConfig(self.properties()?));
        }
        self.expect_word("SHOW")?;
        if self.words(&["FRONTEND", "CONFIG"]) {
            let filter = self.filter()?;
            return Ok(Statement::Show(Box::new(Show::FrontendConfig { filter })));
        }
        self.expect_word("REPLICA")?;
        let show = if self.word("STATUS") {
            self.expect_word("FROM")?;
            Show::ReplicaStatus {
                table: self.object_name()?,
                filter: self.filter()?,
            }
        } else if self.word("DISTRIBUTION") {
            self.expect_word("FROM")?;
            Show::ReplicaDistribution {
                table: self.object_name()?,
            }
        } else {
            return Err(self.error("expected STATUS or DISTRIBUTION"));
        };
        Ok(Statement::Show(Box::new(show)))
    }

    /// After `ANALYZE`: `TABLE t [(c, ...)]` or `DATABASE db`, then `[WITH SYNC]`.
    pub(super) fn analyze(&mut self) -> Result<Statement> {
        let target = if self.word("TABLE") {
            let table = self.object_name()?;
            AnalyzeTarget::Table(table, self.optional_ident_list()?)
        } else if self.word("DATABASE") {
            AnalyzeTarget::Database(self.ident()?)
        } else {
            return Err(self.error("expected TABLE or DATABASE"));
        };
        let mut sync = false;
        while self.word("WITH") {
            if self.word("SYNC") {
                sync = true;
            } else if self.word("SAMPLE") {
                // Collection reads every row; sampling is not built.
                return Err(Error::not_supported(
                    "ANALYZE WITH SAMPLE is not supported: statistics are collected in full",
                ));
            } else {
                return Err(self.error("expected SYNC"));
            }
        }
        Ok(Statement::Analyze { target, sync })
    }

    /// After `KILL`: `[CONNECTION | QUERY] id`.
    pub(super) fn kill(&mut self) -> Result<Statement> {
        let query_only = self.word("QUERY");
        if !query_only {
            self.word("CONNECTION");
        }
        let id = self.number()?;
        let id = u32::try_from(id).map_err(|_| self.error("expected a connection id"))?;
        Ok(Statement::Kill { id, query_only })
    }
}
